//! mbox files: a streaming reader for the mboxrd and mboxo dialects, and an mboxrd writer.
//!
//! A message starts at a line beginning with `From ` that opens the file or follows an
//! empty line; the empty line before it belongs to the format, not the message, and is
//! removed. Body lines that begin with `From ` were quoted by the writer: mboxrd quotes
//! `>*From ` by one more `>`, mboxo only `From `. The reader undoes one level of quoting
//! on `>From ` lines; for mboxrd also on `>>…>From ` lines. Everything else — including
//! CRLF or LF line ends — is returned byte for byte. Reading is line by line through a
//! buffer, so only the current message is in memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::{ImportedMessage, metadata};
use crate::encode::civil_from_days;
use crate::error::{Error, Result};

/// Quoting dialect of an mbox file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// `>*From ` lines were quoted (reversible). The default, and what [`MboxWriter`] writes.
    #[default]
    Mboxrd,
    /// Only `From ` lines were quoted (so `>From ` in the original is ambiguous).
    Mboxo,
}

/// Open an mbox file (mboxrd quoting; see [`Mbox::dialect`]).
pub fn mbox(path: impl AsRef<Path>) -> Result<Mbox> {
    let path = path.as_ref().to_path_buf();
    let file = File::open(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    Ok(Mbox {
        reader: BufReader::with_capacity(256 << 10, file),
        path,
        dialect: Dialect::Mboxrd,
        pos: 0,
        pending_from: None,
        started: false,
        done: false,
        line: Vec::new(),
    })
}

/// Streaming iterator over the messages of an mbox file.
#[derive(Debug)]
pub struct Mbox {
    reader: BufReader<File>,
    path: PathBuf,
    dialect: Dialect,
    /// Offset of the next unread byte.
    pos: u64,
    /// Offset of the "From " line that opens the next message, once seen.
    pending_from: Option<u64>,
    started: bool,
    done: bool,
    line: Vec<u8>,
}

impl Mbox {
    /// Read with `dialect`'s un-quoting rule.
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Read one line into `self.line`; false at end of file.
    fn read_line(&mut self) -> std::io::Result<bool> {
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line)?;
        self.pos += n as u64;
        Ok(n > 0)
    }

    fn unquote(&self, line: &[u8]) -> usize {
        // Number of bytes to drop from the start of `line` (0 or 1).
        let quotes = line.iter().take_while(|b| **b == b'>').count();
        let quoted_from = quotes > 0 && line.get(quotes..).is_some_and(|r| r.starts_with(b"From "));
        match self.dialect {
            Dialect::Mboxrd if quoted_from => 1,
            Dialect::Mboxo if quoted_from && quotes == 1 => 1,
            _ => 0,
        }
    }

    fn next_entry(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        let io = |path: &PathBuf, source| Error::Io {
            path: path.clone(),
            source,
        };
        if !self.started {
            self.started = true;
            let start = self.pos;
            if !self.read_line().map_err(|e| io(&self.path, e))? {
                return Ok(None);
            }
            if !self.line.starts_with(b"From ") {
                return Err(Error::NotMbox {
                    path: self.path.clone(),
                });
            }
            self.pending_from = Some(start);
        }
        let Some(offset) = self.pending_from.take() else {
            return Ok(None);
        };
        let mut raw = Vec::new();
        let mut prev_blank = false;
        loop {
            let line_start = self.pos;
            if !self.read_line().map_err(|e| io(&self.path, e))? {
                break;
            }
            if prev_blank && self.line.starts_with(b"From ") {
                self.pending_from = Some(line_start);
                break;
            }
            prev_blank = self.line == b"\n" || self.line == b"\r\n";
            let skip = self.unquote(&self.line);
            raw.extend_from_slice(self.line.get(skip..).unwrap_or_default());
        }
        // Drop the separator's empty line (the writer added it after the message).
        if raw.ends_with(b"\r\n\r\n") || raw == b"\r\n" {
            raw.truncate(raw.len() - 2);
        } else if raw.ends_with(b"\n\n") || raw == b"\n" {
            raw.truncate(raw.len() - 1);
        }
        Ok(Some((offset, raw)))
    }
}

impl Iterator for Mbox {
    type Item = Result<ImportedMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some((offset, raw))) => Some(metadata(&self.path, offset, raw)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                // A read error or a non-mbox file ends the iteration after reporting it.
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Writes messages in mboxrd format: a `From ` line, the message with `>*From ` lines
/// quoted, and an empty line. Messages that do not end with a line break get one (the
/// only change a round trip can make).
#[derive(Debug)]
pub struct MboxWriter<W: Write> {
    out: W,
}

impl<W: Write> MboxWriter<W> {
    /// A writer appending to `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }

    /// Append one message; `sender` and `date` (Unix seconds) fill the `From ` line.
    pub fn write_message(&mut self, sender: &str, date: i64, raw: &[u8]) -> std::io::Result<()> {
        let sender = if sender.is_empty() || sender.contains(char::is_whitespace) {
            "MAILER-DAEMON"
        } else {
            sender
        };
        writeln!(self.out, "From {sender} {}", asctime(date))?;
        let crlf = raw.windows(2).any(|w| w == b"\r\n");
        for line in raw.split_inclusive(|b| *b == b'\n') {
            let quotes = line.iter().take_while(|b| **b == b'>').count();
            if line.get(quotes..).is_some_and(|r| r.starts_with(b"From ")) {
                self.out.write_all(b">")?;
            }
            self.out.write_all(line)?;
        }
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        if !raw.ends_with(b"\n") {
            self.out.write_all(eol)?;
        }
        self.out.write_all(eol)
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// `Mon Jan  5 08:00:00 2026`, the date format of the `From ` line.
fn asctime(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = t.div_euclid(86_400);
    let s = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1).rem_euclid(12) as usize],
        d,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asctime_format() {
        assert_eq!(
            asctime(crate::spec::DEFAULT_START),
            "Mon Jan  5 08:00:00 2026"
        );
    }
}
