//! Import: .eml directories and mbox files, round trips through the mbox writer.

use std::io::Write;

use cairn_mailgen::import::{self, Dialect, MboxWriter};
use cairn_mailgen::{CorpusSpec, Error, GeneratedMessage, Generator};

fn some_messages(n: usize) -> Vec<GeneratedMessage> {
    let g = Generator::new(CorpusSpec {
        odd_rate: 0.3,
        ..CorpusSpec::small().with_seed(21)
    });
    g.mailbox(0).take(n).collect()
}

/// A message whose body has lines that mbox must quote, at several quoting depths, and
/// LF line ends (mbox files from Unix tools).
const TRICKY: &[u8] = b"From: Quoter <q@example.org>\nSubject: quoting\nMessage-ID: <q1@example.org>\nDate: Mon, 5 Jan 2026 08:00:00 +0000\n\nFrom the start of a line.\n>From already quoted.\n>>From twice.\nFrom\n\nFrom after an empty line\n";

#[test]
fn mbox_round_trip_keeps_bytes() {
    let mut messages = some_messages(25);
    // Make sure at least one generated body line starts with "From ".
    let mut with_from = messages[0].clone();
    let at = with_from
        .mime
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end")
        + 4;
    with_from.mime.splice(
        at..at,
        b"From here on, lines may look like separators.\r\n\r\nFrom me too.\r\n"
            .iter()
            .copied(),
    );
    messages.push(with_from);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("corpus.mbox");
    let mut w = MboxWriter::new(std::io::BufWriter::new(
        std::fs::File::create(&path).expect("create"),
    ));
    for m in &messages {
        w.write_message(&m.meta.from.address, m.meta.received, &m.mime)
            .expect("write");
    }
    w.write_message("q@example.org", 0, TRICKY).expect("write");
    w.into_inner().flush().expect("flush");

    let imported: Vec<_> = import::mbox(&path)
        .expect("open")
        .collect::<Result<_, _>>()
        .expect("import");
    assert_eq!(imported.len(), messages.len() + 1);
    for (m, i) in messages.iter().zip(&imported) {
        assert_eq!(i.raw, m.mime, "message {}", m.meta.index);
        assert_eq!(i.subject.as_deref(), Some(m.meta.subject.as_str()));
        assert_eq!(
            i.message_id.as_ref().map(|id| format!("<{id}>")),
            Some(m.meta.internet_message_id.clone())
        );
        assert_eq!(i.from.as_deref(), Some(m.meta.from.address.as_str()));
        assert_eq!(i.date, Some(m.meta.sent));
    }
    let last = imported.last().expect("tricky");
    assert_eq!(last.raw, TRICKY);
    // Offsets point at the "From " lines.
    let bytes = std::fs::read(&path).expect("read");
    for i in &imported {
        assert!(bytes[i.offset as usize..].starts_with(b"From "));
    }
}

#[test]
fn mboxo_unquotes_only_one_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("o.mbox");
    let content = b"From a@b Mon Jan  5 08:00:00 2026\nSubject: x\nFrom: a@b\n\n>From one\n>>From two\n\nFrom a@b Mon Jan  5 08:00:00 2026\r\nSubject: y\r\nFrom: a@b\r\n\r\nbody\r\n\r\n";
    std::fs::write(&path, content).expect("write");
    let o: Vec<_> = import::mbox(&path)
        .expect("open")
        .dialect(Dialect::Mboxo)
        .collect::<Result<_, _>>()
        .expect("import");
    assert_eq!(o.len(), 2);
    assert_eq!(o[0].raw, b"Subject: x\nFrom: a@b\n\nFrom one\n>>From two\n");
    assert_eq!(o[1].raw, b"Subject: y\r\nFrom: a@b\r\n\r\nbody\r\n");
    let rd: Vec<_> = import::mbox(&path)
        .expect("open")
        .collect::<Result<_, _>>()
        .expect("import");
    assert_eq!(rd[0].raw, b"Subject: x\nFrom: a@b\n\nFrom one\n>From two\n");
}

#[test]
fn mbox_errors_name_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_mbox = dir.path().join("plain.txt");
    std::fs::write(&not_mbox, b"hello\n").expect("write");
    let mut it = import::mbox(&not_mbox).expect("open");
    assert!(matches!(it.next(), Some(Err(Error::NotMbox { .. }))));
    assert!(it.next().is_none());

    // An empty entry between two good ones: reported with its offset, then reading goes on.
    let path = dir.path().join("bad.mbox");
    let good = b"From a@b Mon Jan  5 08:00:00 2026\nSubject: ok\nFrom: a@b\n\nbody\n\n";
    let mut content = good.to_vec();
    let bad_at = content.len();
    content.extend_from_slice(b"From a@b Mon Jan  5 08:00:00 2026\n\n\n");
    content.extend_from_slice(good);
    std::fs::write(&path, &content).expect("write");
    let results: Vec<_> = import::mbox(&path).expect("open").collect();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    match &results[1] {
        Err(
            e @ Error::BadEntry {
                offset, path: p, ..
            },
        ) => {
            assert_eq!(*offset, bad_at as u64);
            assert_eq!(p, &path);
            assert!(
                e.to_string().contains(&format!("byte offset {bad_at}")),
                "{e}"
            );
        }
        other => panic!("expected BadEntry, got {other:?}"),
    }
    assert!(matches!(
        import::mbox(dir.path().join("missing")),
        Err(Error::Io { .. })
    ));
    let empty = dir.path().join("empty.mbox");
    std::fs::write(&empty, b"").expect("write");
    assert_eq!(import::mbox(&empty).expect("open").count(), 0);
}

#[test]
fn eml_dir_imports_sorted_and_exact() {
    let messages = some_messages(12);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("sub/deeper")).expect("mkdir");
    let mut expected = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let rel = match i % 3 {
            0 => format!("{i:02}.eml"),
            1 => format!("sub/{i:02}.EML"),
            _ => format!("sub/deeper/{i:02}.eml"),
        };
        let path = dir.path().join(&rel);
        std::fs::write(&path, &m.mime).expect("write");
        expected.push((path, m));
    }
    std::fs::write(dir.path().join("notes.txt"), b"not mail").expect("write");
    expected.sort_by(|a, b| a.0.cmp(&b.0));

    let it = import::eml_dir(dir.path()).expect("list");
    assert_eq!(it.remaining(), messages.len());
    let imported: Vec<_> = it.collect::<Result<_, _>>().expect("import");
    for ((path, m), i) in expected.iter().zip(&imported) {
        assert_eq!(&i.source, path);
        assert_eq!(i.raw, m.mime);
        assert_eq!(i.subject.as_deref(), Some(m.meta.subject.as_str()));
    }

    std::fs::write(dir.path().join("zz-empty.eml"), b"").expect("write");
    let last = import::eml_dir(dir.path())
        .expect("list")
        .last()
        .expect("entries");
    match last {
        Err(e @ Error::BadEntry { .. }) => assert!(e.to_string().contains("zz-empty.eml"), "{e}"),
        other => panic!("expected BadEntry, got {other:?}"),
    }
    assert!(matches!(
        import::eml_dir(dir.path().join("nope")),
        Err(Error::Io { .. })
    ));
}

/// Garbage never panics the importers: each entry is a message or an error.
#[test]
fn garbage_input_is_reported_not_panicked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for case in 0..40 {
        let mut bytes = b"From x@y Mon Jan  5 08:00:00 2026\n".to_vec();
        for _ in 0..(case * 97 % 3000) {
            // xorshift: cheap deterministic noise with plenty of newlines and "From ".
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 16 {
                0 => bytes.extend_from_slice(b"\nFrom "),
                1 => bytes.extend_from_slice(b"\n\n"),
                2 => bytes.extend_from_slice(b">From "),
                3 => bytes.push(b'\r'),
                _ => bytes.push((x >> 8) as u8),
            }
        }
        let path = dir.path().join(format!("{case}.mbox"));
        std::fs::write(&path, &bytes).expect("write");
        // Errors are fine (and expected); panics are not.
        for m in import::mbox(&path).expect("open").flatten() {
            assert!(!m.raw.is_empty());
        }
        std::fs::write(dir.path().join(format!("{case}.eml")), &bytes[5..]).expect("write");
    }
    assert_eq!(import::eml_dir(dir.path()).expect("list").count(), 40);
}
