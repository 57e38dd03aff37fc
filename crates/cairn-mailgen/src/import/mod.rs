//! Import of real mail: every `*.eml` under a directory, or the messages of an mbox file.
//!
//! Imported bytes are never altered (beyond what the mbox format itself requires: the
//! separator line is removed and mboxrd's `>From ` quoting is undone). Metadata comes from
//! mail-parser. Errors name the file and the byte offset of the entry.

mod eml;
mod mbox;

pub use eml::{EmlDir, eml_dir};
pub use mbox::{Dialect, Mbox, MboxWriter, mbox};

use mail_parser::MessageParser;

/// A message read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedMessage {
    /// Where it came from: the .eml file, or the mbox file.
    pub source: std::path::PathBuf,
    /// Byte offset of the message in `source` (of the "From " line for mbox entries).
    pub offset: u64,
    /// The message bytes, exactly as stored (mbox: after un-escaping).
    pub raw: Vec<u8>,
    /// Subject, decoded.
    pub subject: Option<String>,
    /// Date header as Unix seconds UTC.
    pub date: Option<i64>,
    /// First From address.
    pub from: Option<String>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
}

/// Parse metadata; a `BadEntry` error (naming file and offset) when the bytes are not a
/// message at all. The bytes themselves are kept untouched either way.
pub(crate) fn metadata(
    source: &std::path::Path,
    offset: u64,
    raw: Vec<u8>,
) -> Result<ImportedMessage, crate::Error> {
    let bad = |reason: &str| crate::Error::BadEntry {
        path: source.to_path_buf(),
        offset,
        reason: reason.to_string(),
    };
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(bad("empty message"));
    }
    let parsed = MessageParser::default()
        .parse_headers(&raw)
        .ok_or_else(|| bad("not an RFC 5322 message (no header could be parsed)"))?;
    if parsed.headers().is_empty() {
        return Err(bad("not an RFC 5322 message (no header fields)"));
    }
    let subject = parsed.subject().map(str::to_string);
    let date = parsed.date().map(|d| d.to_timestamp());
    let from = parsed
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string);
    let message_id = parsed.message_id().map(str::to_string);
    Ok(ImportedMessage {
        source: source.to_path_buf(),
        offset,
        raw,
        subject,
        date,
        from,
        message_id,
    })
}
