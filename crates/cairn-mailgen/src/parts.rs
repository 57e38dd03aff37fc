//! Building blocks of a message body: text, HTML, attachments, inline images and
//! multiparts, as mail-builder `MimePart`s. Parts mail-builder cannot express (RFC 2231
//! filenames, ISO-8859-1, forced base64, format=flowed, message/rfc822) are written here
//! as raw entities (headers + encoded body) and embedded with `MimePart::raw`.

use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;

use crate::blobs::{Blob, BlobKind};
use crate::encode::{base64_lines, param, quoted_printable};
use crate::message::{AttachmentInfo, fnv1a64};
use crate::rng::Stream;

/// Per-message body-building state: the random stream, the boundary counter and the
/// attachments recorded so far.
pub(crate) struct Body {
    pub s: Stream,
    boundary_key: u64,
    boundaries: u32,
    pub attachments: Vec<AttachmentInfo>,
}

impl Body {
    pub(crate) fn new(s: Stream, boundary_key: u64) -> Self {
        Self {
            s,
            boundary_key,
            boundaries: 0,
            attachments: Vec::new(),
        }
    }

    /// A boundary unique within the message (and, through the key, across the corpus, so
    /// an attached message never shares one with its container). Outlook's style; only
    /// `_`, digits and capitals: `_` cannot occur in base64, and our text never contains
    /// the `CAIRN` marker.
    fn boundary(&mut self) -> String {
        self.boundaries += 1;
        format!("_{:03}_CAIRN{:016X}_", self.boundaries, self.boundary_key)
    }

    pub(crate) fn multipart(
        &mut self,
        subtype: &str,
        parts: Vec<MimePart<'static>>,
    ) -> MimePart<'static> {
        let ct =
            ContentType::new(format!("multipart/{subtype}")).attribute("boundary", self.boundary());
        MimePart::new(ct, parts)
    }

    /// multipart/related with `type="text/html"`, as Outlook writes it.
    pub(crate) fn related(&mut self, parts: Vec<MimePart<'static>>) -> MimePart<'static> {
        let ct = ContentType::new("multipart/related")
            .attribute("type", "text/html")
            .attribute("boundary", self.boundary());
        MimePart::new(ct, parts)
    }

    /// A file attachment; the filename encoding (RFC 2047 via mail-builder, or RFC 2231
    /// written by hand) is chosen at random for non-ASCII names.
    pub(crate) fn attachment(&mut self, blob: Blob) -> MimePart<'static> {
        // mail-builder would send ASCII text as 7bit and keep bare LFs: hand-written
        // base64 keeps the bytes exact whatever they contain.
        let text_kind = matches!(blob.kind, BlobKind::Csv | BlobKind::Txt);
        let rfc2231 = !blob.filename.is_ascii() && self.s.chance(0.5);
        self.file(
            blob.filename,
            blob.kind.content_type(),
            blob.data,
            blob.shared,
            rfc2231 || text_kind,
        )
    }

    /// A file attachment from parts; `by_hand` writes the entity here (RFC 2231
    /// parameters, explicit base64) instead of through mail-builder.
    pub(crate) fn file(
        &mut self,
        filename: String,
        ct: &str,
        data: Vec<u8>,
        shared: Option<u32>,
        by_hand: bool,
    ) -> MimePart<'static> {
        self.attachments.push(AttachmentInfo {
            filename: filename.clone(),
            content_type: ct.to_string(),
            size: data.len() as u64,
            digest: fnv1a64(&data),
            inline: false,
            content_id: None,
            shared,
        });
        if by_hand {
            let size = if self.s.chance(0.5) {
                format!(";\r\n\tsize={}", data.len())
            } else {
                String::new()
            };
            let mut raw = format!(
                "Content-Type: {ct}{}\r\nContent-Disposition: attachment{}{size}\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                param("name", &filename),
                param("filename", &filename),
            )
            .into_bytes();
            raw.extend_from_slice(&base64_lines(&data));
            return raw_part(raw);
        }
        MimePart::new(
            ContentType::new(ct.to_string()).attribute("name", filename.clone()),
            data,
        )
        .attachment(filename)
    }

    /// An inline image referenced from HTML as `cid:<returned id>`.
    pub(crate) fn inline_image(
        &mut self,
        n: u32,
        data: Vec<u8>,
        png: bool,
    ) -> (MimePart<'static>, String) {
        let ext = if png { "png" } else { "jpg" };
        let ct = if png { "image/png" } else { "image/jpeg" };
        let name = format!("image{n:03}.{ext}");
        let cid = format!(
            "{name}@01DC{:08X}.{:08X}",
            self.s.u64() as u32,
            self.boundary_key as u32
        );
        self.attachments.push(AttachmentInfo {
            filename: name.clone(),
            content_type: ct.to_string(),
            size: data.len() as u64,
            digest: fnv1a64(&data),
            inline: true,
            content_id: Some(cid.clone()),
            shared: None,
        });
        let part = MimePart::new(ContentType::new(ct).attribute("name", name.clone()), data)
            .header(
                "Content-Disposition",
                ContentType::new("inline").attribute("filename", name),
            )
            .cid(cid.clone());
        (part, cid)
    }

    /// An attached message (message/rfc822; never transfer-encoded, per RFC 2046 §5.2.1).
    pub(crate) fn attached_message(
        &mut self,
        filename: &str,
        mut inner: Vec<u8>,
    ) -> MimePart<'static> {
        // The CRLF before the next delimiter belongs to the delimiter, so a reader sees
        // the attached message without its final line break: record exactly that.
        if inner.ends_with(b"\r\n") {
            inner.truncate(inner.len() - 2);
        }
        self.attachments.push(AttachmentInfo {
            filename: filename.to_string(),
            content_type: "message/rfc822".into(),
            size: inner.len() as u64,
            digest: fnv1a64(&inner),
            inline: false,
            content_id: None,
            shared: None,
        });
        let mut raw = format!(
            "Content-Type: message/rfc822\r\nContent-Disposition: attachment{}\r\n\r\n",
            param("filename", filename)
        )
        .into_bytes();
        raw.extend_from_slice(&inner);
        MimePart::raw(raw)
    }
}

/// A UTF-8 text/plain part; mail-builder picks 7bit, quoted-printable or base64.
pub(crate) fn plain(text: String) -> MimePart<'static> {
    MimePart::new("text/plain", text)
}

/// A UTF-8 text/html part.
pub(crate) fn html(text: String) -> MimePart<'static> {
    MimePart::new("text/html", text)
}

/// A text part with an explicit charset and transfer encoding, written by hand.
pub(crate) fn text_raw(subtype: &str, params: &str, cte: Cte, body: &[u8]) -> MimePart<'static> {
    let mut raw = format!(
        "Content-Type: text/{subtype}{params}\r\nContent-Transfer-Encoding: {}\r\n\r\n",
        cte.name()
    )
    .into_bytes();
    match cte {
        Cte::QuotedPrintable => raw.extend_from_slice(&quoted_printable(body)),
        Cte::Base64 => raw.extend_from_slice(&base64_lines(body)),
        Cte::SevenBit | Cte::EightBit => raw.extend_from_slice(body),
    }
    raw_part(raw)
}

/// Content-Transfer-Encoding of a hand-written part.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cte {
    SevenBit,
    EightBit,
    QuotedPrintable,
    Base64,
}

impl Cte {
    fn name(self) -> &'static str {
        match self {
            Cte::SevenBit => "7bit",
            Cte::EightBit => "8bit",
            Cte::QuotedPrintable => "quoted-printable",
            Cte::Base64 => "base64",
        }
    }
}

/// Embed a hand-written entity. The delimiter that follows supplies the CRLF that ends
/// the entity's last line, so a trailing one is dropped (it would add an empty line to
/// the decoded content).
fn raw_part(mut raw: Vec<u8>) -> MimePart<'static> {
    if raw.ends_with(b"\r\n") {
        raw.truncate(raw.len() - 2);
    }
    MimePart::raw(raw)
}
