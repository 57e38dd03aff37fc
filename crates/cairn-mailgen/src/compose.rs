//! Message bodies by shape: which parts, nested how. Each shape function returns the
//! top-level `MimePart`; `parts::Body` records attachments as they are added.

use mail_builder::mime::MimePart;

use crate::blobs::{self, BlobKind};
use crate::encode::latin1;
use crate::message::Shape;
use crate::parts::{Body, Cte, html, plain, text_raw};
use crate::people::Person;
use crate::spec::{AttachmentRates, CorpusSpec};
use crate::text::{self, Lang};

/// What a body needs to know about its message.
pub(crate) struct BodyInput<'a> {
    pub spec: &'a CorpusSpec,
    pub rates: AttachmentRates,
    pub lang: Lang,
    pub from: &'a Person,
    pub to: &'a [Person],
    /// File attachments wanted (Mixed and Large shapes).
    pub attachments: u32,
    /// Invitations attach invite.ics; empty bodies are attachment-only.
    pub variant: bool,
    /// Quoted header of the message replied to, if this is a reply.
    pub quote: Option<String>,
    /// Calendar event for invitations.
    pub event: Option<crate::calendar::Event>,
    pub sent: i64,
}

impl BodyInput<'_> {
    fn to_name(&self) -> &str {
        self.to.first().map(|p| p.name.as_str()).unwrap_or("")
    }
}

/// The body text: greeting, paragraphs, signature, and the quoted original for replies.
fn body_text(b: &mut Body, inp: &BodyInput<'_>, lang: Lang) -> String {
    let mut t = text::plain_body(&mut b.s, lang, inp.to_name(), &inp.from.name);
    if b.s.chance(0.05) {
        // A line that an mbox writer must escape.
        t.push_str("\nFrom the desk of the project office: please keep this thread short.\n");
    }
    if let Some(q) = &inp.quote {
        t.push_str("\n________________________________\n");
        t.push_str(q);
        t.push('\n');
        for p in text::paragraphs(&mut b.s, lang, 300) {
            for line in text::wrap(&p, 70).lines() {
                t.push_str("> ");
                t.push_str(line);
                t.push('\n');
            }
        }
    }
    t
}

fn alternative(b: &mut Body, text: String, lang: Lang) -> MimePart<'static> {
    let h = text::html_body(&text, lang, &[]);
    b.multipart("alternative", vec![plain(text), html(h)])
}

/// alternative(plain, related(html, images…)) — Outlook's shape for a signature logo.
fn related(b: &mut Body, text: String, lang: Lang) -> MimePart<'static> {
    let n = b.s.range(1, 3) as u32;
    let mut images = Vec::new();
    let mut cids = Vec::new();
    for i in 1..=n {
        let png = b.s.chance(0.6);
        let size = b.s.range(1_500, 25_000) as usize;
        let kind = if png { BlobKind::Png } else { BlobKind::Jpeg };
        let data = blobs::content(&mut b.s, kind, size);
        let (part, cid) = b.inline_image(i, data, png);
        images.push(part);
        cids.push(cid);
    }
    let h = text::html_body(&text, lang, &cids);
    let mut rel = vec![html(h)];
    rel.extend(images);
    let rel = b.related(rel);
    b.multipart("alternative", vec![plain(text), rel])
}

/// A body without file attachments: plain, alternative or related, at random.
fn core(b: &mut Body, inp: &BodyInput<'_>) -> MimePart<'static> {
    let text = body_text(b, inp, inp.lang);
    match b.s.weighted(&[35, 45, 20]) {
        0 => plain(text),
        1 => alternative(b, text, inp.lang),
        _ => related(b, text, inp.lang),
    }
}

fn file_attachments(b: &mut Body, inp: &BodyInput<'_>, n: u32) -> Vec<MimePart<'static>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let pool = inp.spec.shared_attachment_pool_size;
        let blob = if pool > 0 && b.s.chance(inp.rates.shared_rate) {
            blobs::shared(inp.spec.seed, b.s.below(u64::from(pool)) as u32)
        } else {
            let kind = BlobKind::random(&mut b.s);
            let size = blobs::size(&mut b.s, inp.rates.size_weights, inp.rates.max_size);
            let foreign = inp.lang != Lang::English || b.s.chance(0.1);
            let filename = blobs::filename(&mut b.s, kind, foreign);
            blobs::Blob {
                kind,
                filename,
                data: blobs::content(&mut b.s, kind, size),
                shared: None,
            }
        };
        out.push(b.attachment(blob));
    }
    out
}

fn small_attachment(b: &mut Body) -> MimePart<'static> {
    let kind = BlobKind::random(&mut b.s);
    let size = b.s.range(2_000, 40_000) as usize;
    let filename = blobs::filename(&mut b.s, kind, false);
    let data = blobs::content(&mut b.s, kind, size);
    b.attachment(blobs::Blob {
        kind,
        filename,
        data,
        shared: None,
    })
}

/// Re-wrap text as format=flowed (RFC 3676). The input was wrapped at 72 columns, so a
/// line shorter than 60 ends a paragraph (greetings, signatures, last lines); the others
/// are rejoined and re-wrapped at 66 with soft breaks (a trailing space). Quoted lines
/// stay as they are; lines starting with a space or "From " are space-stuffed.
fn flowed(text: &str) -> String {
    let mut out = String::new();
    let mut para = String::new();
    let flush = |para: &mut String, out: &mut String| {
        if para.is_empty() {
            return;
        }
        let wrapped = text::wrap(para, 66);
        let lines: Vec<&str> = wrapped.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with(' ') || line.starts_with("From ") {
                out.push(' ');
            }
            out.push_str(line.trim_end());
            if i + 1 < lines.len() {
                out.push(' ');
            }
            out.push_str("\r\n");
        }
        para.clear();
    };
    for line in text.split('\n') {
        if line.starts_with('>') || line.trim().is_empty() {
            flush(&mut para, &mut out);
            out.push_str(line.trim_end());
            out.push_str("\r\n");
            continue;
        }
        if !para.is_empty() {
            para.push(' ');
        }
        para.push_str(line.trim_end());
        if line.chars().count() < 60 {
            flush(&mut para, &mut out);
        }
    }
    flush(&mut para, &mut out);
    out
}

/// The body of `shape`. `inner` composes an attached message for Forwarded.
pub(crate) fn body(
    b: &mut Body,
    inp: &BodyInput<'_>,
    shape: Shape,
    inner: &mut dyn FnMut() -> (String, Vec<u8>),
) -> MimePart<'static> {
    match shape {
        Shape::PlainText | Shape::ManyRecipients => plain(body_text(b, inp, inp.lang)),
        Shape::Alternative | Shape::LongHeaders => {
            let t = body_text(b, inp, inp.lang);
            alternative(b, t, inp.lang)
        }
        Shape::Related => {
            let t = body_text(b, inp, inp.lang);
            related(b, t, inp.lang)
        }
        Shape::Mixed => {
            let mut parts = vec![core(b, inp)];
            parts.extend(file_attachments(b, inp, inp.attachments.max(1)));
            b.multipart("mixed", parts)
        }
        Shape::Large => {
            let mut parts = vec![core(b, inp)];
            let kind = [BlobKind::Zip, BlobKind::Pdf, BlobKind::Pptx, BlobKind::Png][b.s.index(4)];
            let size = inp.spec.large_message_size + b.s.below(256 << 10);
            let size = usize::try_from(size).unwrap_or(usize::MAX >> 1);
            let filename = blobs::filename(&mut b.s, kind, false);
            let data = blobs::content(&mut b.s, kind, size);
            parts.push(b.attachment(blobs::Blob {
                kind,
                filename,
                data,
                shared: None,
            }));
            parts.extend(file_attachments(b, inp, inp.attachments));
            b.multipart("mixed", parts)
        }
        Shape::Invitation => invitation(b, inp),
        Shape::Forwarded => {
            let note = format!(
                "FYI – see the forwarded message below.\n\n{}\n",
                inp.from.name
            );
            let (subject, bytes) = inner();
            let mut name: String = subject
                .chars()
                .filter(|c| !"/\\:*?\"<>|".contains(*c))
                .collect();
            name.push_str(".eml");
            let msg = b.attached_message(&name, bytes);
            b.multipart("mixed", vec![plain(note), msg])
        }
        Shape::DeepNesting => {
            let t = body_text(b, inp, inp.lang);
            let rel = related(b, t, inp.lang);
            let first = small_attachment(b);
            let inner_mixed = b.multipart("mixed", vec![rel, first]);
            let second = small_attachment(b);
            let deepest = b.multipart("mixed", vec![second]);
            let footer = plain("--\nThis message has been scanned for viruses.\n".into());
            let tail = b.multipart("mixed", vec![footer, deepest]);
            b.multipart("mixed", vec![inner_mixed, tail])
        }
        Shape::EmptyBody => {
            if !inp.variant {
                plain(String::new())
            } else {
                // Only an attachment, no text part at all (scanner output, "send to").
                let a = small_attachment(b);
                b.multipart("mixed", vec![a])
            }
        }
        Shape::Flowed => {
            let t = flowed(&body_text(b, inp, inp.lang));
            let cte = if t.is_ascii() {
                Cte::SevenBit
            } else {
                Cte::EightBit
            };
            text_raw(
                "plain",
                "; charset=utf-8; format=flowed; delsp=no",
                cte,
                t.as_bytes(),
            )
        }
        Shape::Latin1 => {
            // A language with characters beyond ASCII, so that the charset matters.
            let lang = match inp.lang {
                Lang::German | Lang::French => inp.lang,
                _ if b.s.chance(0.5) => Lang::French,
                _ => Lang::German,
            };
            // Names in other scripts become '?', as a legacy client's conversion would.
            let t: String = body_text(b, inp, lang)
                .chars()
                .map(|c| if u32::from(c) <= 0xFF { c } else { '?' })
                .collect();
            match latin1(&t) {
                Some(bytes) => text_raw(
                    "plain",
                    "; charset=iso-8859-1",
                    Cte::QuotedPrintable,
                    &bytes,
                ),
                None => plain(t),
            }
        }
        Shape::Base64Body => {
            let t = body_text(b, inp, inp.lang);
            let h = text::html_body(&t, inp.lang, &[]);
            let p = text_raw("plain", "; charset=utf-8", Cte::Base64, t.as_bytes());
            let h = text_raw("html", "; charset=utf-8", Cte::Base64, h.as_bytes());
            b.multipart("alternative", vec![p, h])
        }
    }
}

/// Outlook's meeting request: alternative(plain, html, text/calendar) and, half the
/// time, the same VCALENDAR attached as invite.ics.
fn invitation(b: &mut Body, inp: &BodyInput<'_>) -> MimePart<'static> {
    let ics = inp
        .event
        .as_ref()
        .map(|e| e.to_ics("REQUEST", inp.sent))
        .unwrap_or_default();
    let t = body_text(b, inp, inp.lang);
    let h = text::html_body(&t, inp.lang, &[]);
    let cte = if b.s.chance(0.5) {
        Cte::Base64
    } else {
        Cte::EightBit
    };
    let cal = text_raw(
        "calendar",
        "; charset=utf-8; method=REQUEST",
        cte,
        ics.as_bytes(),
    );
    let alt = b.multipart("alternative", vec![plain(t), html(h), cal]);
    if !inp.variant {
        return alt;
    }
    let file = b.file(
        "invite.ics".into(),
        "application/ics",
        ics.into_bytes(),
        None,
        true,
    );
    b.multipart("mixed", vec![alt, file])
}
