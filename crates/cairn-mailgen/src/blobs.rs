//! Attachment contents: byte patterns that look like the real formats (PDF, Office ZIP
//! containers, PNG, JPEG, CSV, plain text) and — more importantly for a backup benchmark —
//! compress like them: text-heavy formats are mostly compressible, images and Office
//! containers mostly random (already-compressed) bytes.
//!
//! A pool of shared attachments (same name, same bytes) stands for the handbook or logo
//! that lands in every mailbox; its items depend only on the seed and the pool index.

use crate::rng::{Stream, tag};
use crate::text::{Lang, paragraphs};

/// The format family of an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BlobKind {
    /// `application/pdf`: text streams mixed with image streams.
    Pdf,
    /// Word document (ZIP container).
    Docx,
    /// Excel workbook (ZIP container).
    Xlsx,
    /// PowerPoint deck (ZIP container).
    Pptx,
    /// PNG image (incompressible).
    Png,
    /// JPEG image (incompressible).
    Jpeg,
    /// CSV export (very compressible).
    Csv,
    /// Plain text / logs (very compressible).
    Txt,
    /// ZIP archive (incompressible).
    Zip,
}

impl BlobKind {
    const ALL: [BlobKind; 9] = [
        BlobKind::Pdf,
        BlobKind::Docx,
        BlobKind::Xlsx,
        BlobKind::Pptx,
        BlobKind::Png,
        BlobKind::Jpeg,
        BlobKind::Csv,
        BlobKind::Txt,
        BlobKind::Zip,
    ];
    /// How often each kind is attached, in the order of `ALL`.
    const WEIGHTS: [u32; 9] = [30, 18, 12, 6, 12, 10, 5, 4, 3];

    /// The MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            BlobKind::Pdf => "application/pdf",
            BlobKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            BlobKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            BlobKind::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            BlobKind::Png => "image/png",
            BlobKind::Jpeg => "image/jpeg",
            BlobKind::Csv => "text/csv",
            BlobKind::Txt => "text/plain",
            BlobKind::Zip => "application/zip",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            BlobKind::Pdf => "pdf",
            BlobKind::Docx => "docx",
            BlobKind::Xlsx => "xlsx",
            BlobKind::Pptx => "pptx",
            BlobKind::Png => "png",
            BlobKind::Jpeg => "jpg",
            BlobKind::Csv => "csv",
            BlobKind::Txt => "txt",
            BlobKind::Zip => "zip",
        }
    }

    pub(crate) fn random(s: &mut Stream) -> Self {
        Self::ALL
            .get(s.weighted(&Self::WEIGHTS))
            .copied()
            .unwrap_or(BlobKind::Pdf)
    }
}

/// One attachment's name, type and bytes.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub kind: BlobKind,
    pub filename: String,
    pub data: Vec<u8>,
    /// Index in the shared pool, if it comes from there.
    pub shared: Option<u32>,
}

const STEMS: &[&str] = &[
    "Report",
    "Q3 numbers",
    "Proposal_v2",
    "minutes-2026-03-14",
    "Statement of Work",
    "scan0042",
    "IMG_20260412_101530",
    "screenshot",
    "export",
    "Invoice 2026-0413",
    "Contract (signed)",
    "Budget forecast",
];

/// Non-ASCII stems: these force RFC 2047 or RFC 2231 filename encodings.
const FOREIGN_STEMS: &[&str] = &[
    "Präsentation Q3 Übersicht",
    "rapport préliminaire – révisé",
    "議事録_2026年4月",
    "تقرير المبيعات",
    "Budget 2026 🚀",
    "Überweisungsbeleg Nr. 17",
];

const SHARED_NAMES: &[(&str, BlobKind)] = &[
    ("Employee Handbook 2026", BlobKind::Pdf),
    ("Contoso logo", BlobKind::Png),
    ("Brand guidelines", BlobKind::Pdf),
    ("Price list Q3", BlobKind::Xlsx),
    ("Information Security Policy", BlobKind::Docx),
    ("All-hands deck", BlobKind::Pptx),
    ("Org chart", BlobKind::Pdf),
    ("Holiday schedule", BlobKind::Xlsx),
    ("Expense policy", BlobKind::Docx),
    ("Office map", BlobKind::Jpeg),
];

/// A filename for `kind`, non-ASCII when `foreign`.
pub(crate) fn filename(s: &mut Stream, kind: BlobKind, foreign: bool) -> String {
    let stem = if foreign {
        s.pick(FOREIGN_STEMS)
    } else {
        s.pick(STEMS)
    };
    format!("{stem}.{}", kind.extension())
}

/// Bytes of `kind`, exactly `size` long (formats' framing is kept when it fits).
pub(crate) fn content(s: &mut Stream, kind: BlobKind, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 64);
    match kind {
        BlobKind::Pdf => pdf(s, size, &mut out),
        BlobKind::Docx | BlobKind::Xlsx | BlobKind::Pptx | BlobKind::Zip => {
            zip(s, kind, size, &mut out)
        }
        BlobKind::Png => {
            out.extend_from_slice(
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x04\0\0\0\x03\0\x08\x06\0\0\0",
            );
            random_fill(s, &mut out, size.saturating_sub(12));
            out.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
        }
        BlobKind::Jpeg => {
            out.extend_from_slice(b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\x01\0H\0H\0\0");
            random_fill(s, &mut out, size.saturating_sub(2));
            out.extend_from_slice(b"\xff\xd9");
        }
        BlobKind::Csv => {
            out.extend_from_slice(b"date,region,product,units,revenue\r\n");
            while out.len() < size {
                let line = format!(
                    "2026-{:02}-{:02},{},{},{},{}.{:02}\r\n",
                    s.range(1, 12),
                    s.range(1, 28),
                    s.pick(&["EMEA", "APAC", "NA", "LATAM"]),
                    s.pick(&["Widget", "Gadget", "Sprocket", "Gizmo", "Doohickey"]),
                    s.below(500),
                    s.below(100_000),
                    s.below(100)
                );
                out.extend_from_slice(line.as_bytes());
            }
        }
        BlobKind::Txt => text_fill(s, &mut out, size),
    }
    out.truncate(size);
    out
}

fn random_fill(s: &mut Stream, out: &mut Vec<u8>, upto: usize) {
    if out.len() < upto {
        let start = out.len();
        out.resize(upto, 0);
        if let Some(tail) = out.get_mut(start..) {
            s.fill(tail);
        }
    }
}

/// Compressible text: a handful of generated paragraphs reused in random order, the way
/// real documents repeat their vocabulary.
fn text_fill(s: &mut Stream, out: &mut Vec<u8>, upto: usize) {
    let paras = paragraphs(s, Lang::English, 6_000);
    if paras.is_empty() {
        return;
    }
    while out.len() < upto {
        let p = paras
            .get(s.index(paras.len()))
            .map(String::as_str)
            .unwrap_or("");
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(b"\n\n");
    }
}

fn pdf(s: &mut Stream, size: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
    let trailer =
        b"\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 >>\nstartxref\n0\n%%EOF\n";
    let body_end = size.saturating_sub(trailer.len());
    let mut obj = 1;
    // Each object costs < 96 bytes of framing besides its stream.
    while out.len() + 96 < body_end {
        let remaining = body_end - out.len() - 96;
        let chunk = remaining.min(s.range(2_000, 64_000) as usize);
        out.extend_from_slice(format!("{obj} 0 obj\n<< /Length {chunk} >>\nstream\n").as_bytes());
        let target = out.len() + chunk;
        if s.below(10) < 4 {
            // A page's text content stream: compressible.
            let mut text = Vec::new();
            text_fill(s, &mut text, chunk);
            out.extend_from_slice(text.get(..chunk).unwrap_or(&text));
        } else {
            // An embedded image (already compressed): random.
            random_fill(s, out, target);
        }
        out.extend_from_slice(b"\nendstream\nendobj\n");
        obj += 1;
    }
    if out.len() < body_end {
        // Whitespace between objects is legal PDF.
        out.resize(body_end, b'\n');
    }
    out.extend_from_slice(trailer);
}

fn zip(s: &mut Stream, kind: BlobKind, size: usize, out: &mut Vec<u8>) {
    let members: &[&str] = match kind {
        BlobKind::Docx => &[
            "[Content_Types].xml",
            "word/document.xml",
            "word/styles.xml",
            "word/media/image1.png",
        ],
        BlobKind::Xlsx => &[
            "[Content_Types].xml",
            "xl/workbook.xml",
            "xl/worksheets/sheet1.xml",
            "xl/sharedStrings.xml",
        ],
        BlobKind::Pptx => &[
            "[Content_Types].xml",
            "ppt/presentation.xml",
            "ppt/slides/slide1.xml",
            "ppt/media/image1.jpeg",
        ],
        _ => &["data/part1.bin", "data/part2.bin", "readme.txt"],
    };
    let mut directory = Vec::new();
    let per = (size.saturating_sub(200 + members.len() * 100) / members.len().max(1)).max(1);
    for name in members {
        let header_at = out.len() as u32;
        out.extend_from_slice(b"PK\x03\x04\x14\0\0\0\x08\0");
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(b"\0\0");
        out.extend_from_slice(name.as_bytes());
        // Deflated member data is, to a compressor, random.
        let target = out.len() + per;
        random_fill(s, out, target);
        directory.extend_from_slice(b"PK\x01\x02\x14\0\x14\0\0\0\x08\0");
        directory.extend_from_slice(&[0u8; 16]);
        directory.extend_from_slice(&(name.len() as u16).to_le_bytes());
        directory.extend_from_slice(&[0u8; 12]);
        directory.extend_from_slice(&header_at.to_le_bytes());
        directory.extend_from_slice(name.as_bytes());
    }
    out.extend_from_slice(&directory);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&[0u8; 14]);
    if out.len() < size {
        // Pad inside what a reader would treat as the archive comment.
        out.resize(size, b' ');
    }
}

/// Size in bytes for a new attachment given the size-class weights and the maximum.
pub(crate) fn size(s: &mut Stream, weights: [u32; 3], max: u64) -> usize {
    let max = max.max(2_048);
    let (lo, hi) = match s.weighted(&weights) {
        0 => (2_048, 64 << 10),
        1 => (64 << 10, 1 << 20),
        _ => (1 << 20, max),
    };
    s.range(lo.min(max), hi.min(max)) as usize
}

/// Shared pool item `k`: same bytes wherever (and however often) it is attached.
pub(crate) fn shared(seed: u64, k: u32) -> Blob {
    let mut s = Stream::new(seed, &[tag::SHARED, u64::from(k)]);
    let (stem, kind) = SHARED_NAMES
        .get(k as usize % SHARED_NAMES.len())
        .copied()
        .unwrap_or(("Shared", BlobKind::Pdf));
    let generation = k as usize / SHARED_NAMES.len();
    let filename = if generation == 0 {
        format!("{stem}.{}", kind.extension())
    } else {
        format!("{stem} ({generation}).{}", kind.extension())
    };
    let size = match k % 4 {
        0 => s.range(20 << 10, 200 << 10),
        1 | 2 => s.range(200 << 10, 1 << 20),
        _ => s.range(1 << 20, 3 << 20),
    } as usize;
    let mut body = Stream::new(seed, &[tag::SHARED, u64::from(k), 1]);
    Blob {
        kind,
        filename,
        data: content(&mut body, kind, size),
        shared: Some(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sizes_and_magic() {
        let mut s = Stream::new(5, &[]);
        for kind in BlobKind::ALL {
            for size in [10usize, 3_000, 100_000] {
                let b = content(&mut s, kind, size);
                assert_eq!(b.len(), size, "{kind:?}");
            }
        }
        assert!(content(&mut s, BlobKind::Pdf, 5_000).starts_with(b"%PDF-1.7"));
        assert!(content(&mut s, BlobKind::Pdf, 5_000).ends_with(b"%%EOF\n"));
        assert!(content(&mut s, BlobKind::Png, 5_000).starts_with(b"\x89PNG"));
        assert!(content(&mut s, BlobKind::Docx, 5_000).starts_with(b"PK\x03\x04"));
    }

    #[test]
    fn shared_items_are_stable() {
        let a = shared(9, 3);
        let b = shared(9, 3);
        assert_eq!(a.data, b.data);
        assert_eq!(a.filename, b.filename);
        assert_ne!(shared(9, 4).data, a.data);
    }
}
