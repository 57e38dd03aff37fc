//! Generation: determinism, parse-ability, shared attachments, size distribution.

use std::collections::BTreeMap;

use cairn_mailgen::{
    AttachmentMix, AttachmentRates, CorpusSpec, GeneratedMessage, Generator, Shape, fnv1a64,
};
use mail_parser::{MessageParser, MimeHeaders};

/// Small attachments only, lots of odd structures: fast in debug builds, wide coverage.
fn varied(seed: u64) -> CorpusSpec {
    CorpusSpec {
        messages_per_mailbox: 100,
        attachment_mix: AttachmentMix::Custom(AttachmentRates {
            message_rate: 0.4,
            max_per_message: 3,
            shared_rate: 0.1,
            size_weights: [85, 15, 0],
            max_size: 200_000,
        }),
        shared_attachment_pool_size: 3, // pool items 0..3 are all under 1 MiB
        odd_rate: 0.5,
        invitation_rate: 0.1,
        non_ascii_rate: 0.4,
        ..CorpusSpec::small().with_seed(seed)
    }
}

/// Parse `m` and check what a reader sees against what was generated.
fn check_parses(m: &GeneratedMessage) {
    let ctx = format!(
        "seed message {}/{} shape {:?}",
        m.meta.mailbox, m.meta.index, m.meta.shape
    );
    let parsed = MessageParser::default()
        .parse(&m.mime)
        .unwrap_or_else(|| panic!("{ctx}: does not parse"));
    assert_eq!(
        parsed.subject(),
        Some(m.meta.subject.as_str()),
        "{ctx}: subject"
    );
    let from = parsed.from().and_then(|a| a.first()).expect("From");
    assert_eq!(
        from.address(),
        Some(m.meta.from.address.as_str()),
        "{ctx}: from address"
    );
    if !m.meta.from.name.is_empty() {
        assert_eq!(
            from.name(),
            Some(m.meta.from.name.as_str()),
            "{ctx}: from name"
        );
    }
    let to = parsed.to().map(|a| a.iter().count()).unwrap_or(0);
    assert_eq!(to, m.meta.to.len(), "{ctx}: to count");
    assert_eq!(
        parsed.message_id().map(|id| format!("<{id}>")),
        Some(m.meta.internet_message_id.clone()),
        "{ctx}: message id"
    );
    if m.meta.shape != Shape::EmptyBody {
        let text = parsed
            .body_text(0)
            .or_else(|| parsed.body_html(0))
            .unwrap_or_default();
        assert!(!text.trim().is_empty(), "{ctx}: no body text");
    }
    assert_eq!(
        m.meta.has_attachments,
        m.attachments.iter().any(|a| !a.inline),
        "{ctx}: hasAttachments"
    );
    // Named parts a reader lists as attachments, against the generator's record.
    let named: Vec<(String, Vec<u8>)> = parsed
        .attachments()
        .filter_map(|a| {
            a.attachment_name()
                .map(|n| (n.to_string(), a.contents().to_vec()))
        })
        .collect();
    assert_eq!(
        named.len(),
        m.attachments.len(),
        "{ctx}: attachment count; parser saw {:?}, generated {:?}",
        named.iter().map(|n| &n.0).collect::<Vec<_>>(),
        m.attachments
            .iter()
            .map(|a| &a.filename)
            .collect::<Vec<_>>()
    );
    for (a, (name, bytes)) in m.attachments.iter().zip(&named) {
        assert_eq!(&a.filename, name, "{ctx}: attachment name");
        assert_eq!(a.size, bytes.len() as u64, "{ctx}: size of {name}");
        assert_eq!(a.digest, fnv1a64(bytes), "{ctx}: bytes of {name}");
    }
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let a = Generator::new(varied(11));
    let b = Generator::new(varied(11));
    let c = Generator::new(varied(12));
    let mut differ = 0;
    for (x, (y, z)) in a.mailbox(1).zip(b.mailbox(1).zip(c.mailbox(1))).take(60) {
        assert_eq!(x, y);
        if x.mime != z.mime {
            differ += 1;
        }
    }
    assert_eq!(differ, 60);
}

#[test]
fn random_access_equals_streaming() {
    let g = Generator::new(varied(3));
    let streamed: Vec<_> = g.mailbox(2).take(40).collect();
    for i in [39u64, 0, 17, 5] {
        assert_eq!(g.message(2, i).as_ref(), streamed.get(i as usize));
    }
    assert_eq!(g.mailbox(2).nth(17).as_ref(), streamed.get(17));
    assert!(g.message(99, 0).is_none());
}

#[test]
fn thousands_of_seeds_parse_and_round_trip() {
    let mut shapes = BTreeMap::new();
    for seed in 0..2_000u64 {
        let g = Generator::new(varied(seed));
        let m = g.message((seed % 3) as usize, seed % 100).expect("mailbox");
        check_parses(&m);
        *shapes.entry(format!("{:?}", m.meta.shape)).or_insert(0) += 1;
    }
    // Every shape except Large (rate 0 here) shows up.
    assert_eq!(shapes.len(), 13, "{shapes:?}");
}

#[test]
fn default_presets_parse() {
    let g = Generator::new(CorpusSpec::small());
    let mut n = 0;
    for m in g.all_messages() {
        check_parses(&m);
        n += 1;
    }
    assert_eq!(n, 3 * 40);
}

#[test]
fn replies_reference_earlier_messages_of_the_thread() {
    let g = Generator::new(varied(5));
    let mut replies = 0;
    for m in g.mailbox(0) {
        if let Some(parent) = &m.meta.in_reply_to {
            replies += 1;
            assert_eq!(m.meta.references.last(), Some(parent));
            assert!(m.meta.thread_root < m.meta.index);
            let root = g.message(0, m.meta.thread_root).expect("root");
            assert!(m.meta.references.contains(&root.meta.internet_message_id));
            assert!(root.meta.received < m.meta.received);
            let parsed = MessageParser::default().parse(&m.mime).expect("parses");
            assert_eq!(
                parsed.in_reply_to().as_text(),
                parent.strip_prefix('<').and_then(|p| p.strip_suffix('>'))
            );
        }
    }
    assert!(replies > 10, "{replies}");
}

#[test]
fn shared_attachments_are_identical_across_mailboxes() {
    let spec = CorpusSpec {
        messages_per_mailbox: 120,
        attachment_mix: AttachmentMix::Custom(AttachmentRates {
            message_rate: 0.5,
            max_per_message: 2,
            shared_rate: 0.8,
            size_weights: [1, 0, 0],
            max_size: 50_000,
        }),
        shared_attachment_pool_size: 3,
        odd_rate: 0.0,
        ..CorpusSpec::small()
    };
    let g = Generator::new(spec);
    // pool index -> (mailboxes seen, decoded bytes)
    let mut seen: BTreeMap<u32, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for m in g.all_messages() {
        let parsed = MessageParser::default().parse(&m.mime).expect("parses");
        let named: Vec<_> = parsed
            .attachments()
            .filter(|a| a.attachment_name().is_some())
            .collect();
        for (info, part) in m.attachments.iter().zip(named) {
            let Some(k) = info.shared else { continue };
            let entry = seen
                .entry(k)
                .or_insert_with(|| (Vec::new(), part.contents().to_vec()));
            assert_eq!(
                entry.1,
                part.contents(),
                "shared item {k} differs in mailbox {}",
                m.meta.mailbox
            );
            entry.0.push(m.meta.mailbox);
        }
    }
    assert_eq!(seen.len(), 3);
    for (k, (_, bytes)) in &seen {
        let (_, _, pool) = g.shared_attachment(*k).expect("pool item");
        assert_eq!(&pool, bytes);
    }
    assert!(g.shared_attachment(3).is_none());
    for (k, (boxes, _)) in &seen {
        let mut distinct = boxes.clone();
        distinct.dedup();
        assert!(distinct.len() >= 2, "item {k} only in {distinct:?}");
    }
}

#[test]
fn attachment_rate_and_sizes_follow_the_spec() {
    let spec = CorpusSpec {
        messages_per_mailbox: 400,
        attachment_mix: AttachmentMix::Custom(AttachmentRates {
            message_rate: 0.3,
            max_per_message: 1,
            shared_rate: 0.0,
            size_weights: [80, 20, 0],
            max_size: 1 << 20,
        }),
        odd_rate: 0.0,
        invitation_rate: 0.0,
        ..CorpusSpec::small()
    };
    let g = Generator::new(spec);
    let (mut with, mut small, mut medium, mut total) = (0, 0, 0, 0);
    for m in g.mailbox(0) {
        total += 1;
        let files: Vec<_> = m.attachments.iter().filter(|a| !a.inline).collect();
        if !files.is_empty() {
            with += 1;
            assert_eq!(m.meta.shape, Shape::Mixed);
        }
        for a in files {
            assert!((2_048..=1 << 20).contains(&a.size), "{}", a.size);
            if a.size <= 64 << 10 {
                small += 1;
            } else {
                medium += 1;
            }
        }
    }
    let rate = f64::from(with) / f64::from(total);
    assert!((0.22..0.38).contains(&rate), "attachment rate {rate}");
    let small_share = f64::from(small) / f64::from(small + medium);
    assert!(
        (0.65..0.93).contains(&small_share),
        "small share {small_share}"
    );
}

#[test]
fn no_attachments_mix_means_no_files() {
    let spec = CorpusSpec {
        attachment_mix: AttachmentMix::None,
        odd_rate: 0.0,
        invitation_rate: 0.0,
        ..CorpusSpec::small()
    };
    let g = Generator::new(spec);
    assert!(g.all_messages().all(|m| !m.meta.has_attachments));
}

#[test]
fn large_messages_reach_the_configured_size() {
    let size = 30 << 20;
    let spec = CorpusSpec {
        messages_per_mailbox: 1,
        large_message_rate: 1.0,
        large_message_size: size,
        ..CorpusSpec::small()
    };
    let g = Generator::new(spec);
    let m = g.message(0, 0).expect("message");
    assert_eq!(m.meta.shape, Shape::Large);
    assert!(m.mime.len() as u64 >= size, "{}", m.mime.len());
    assert!(m.attachments.iter().any(|a| a.size >= size));
    check_parses(&m);
}

#[test]
fn folders_and_metadata_are_plausible() {
    let g = Generator::new(CorpusSpec {
        messages_per_mailbox: 300,
        ..CorpusSpec::small()
    });
    let folders = g.folders(0);
    assert!(folders.iter().any(|f| f == "Inbox") && folders.iter().any(|f| f == "Sent Items"));
    let mut seen = BTreeMap::new();
    let mut last = i64::MIN;
    for m in g.mailbox(0) {
        assert!(
            folders.contains(&m.meta.folder),
            "{} not in {folders:?}",
            m.meta.folder
        );
        *seen.entry(m.meta.folder.clone()).or_insert(0) += 1;
        assert!(m.meta.received > last);
        last = m.meta.received;
        if m.meta.folder == "Sent Items" {
            assert_eq!(m.meta.from.address, "alice@contoso.com");
        }
        assert!(m.meta.received_date_time().ends_with('Z'));
    }
    assert!(seen.len() >= 6, "{seen:?}");
    assert!(
        seen.keys().any(|f| f.contains('/')),
        "nested folders: {seen:?}"
    );
}

#[test]
fn events_and_contacts_are_deterministic() {
    let a = Generator::new(CorpusSpec::small());
    let b = Generator::new(CorpusSpec::small());
    assert_eq!(
        a.events(1).collect::<Vec<_>>(),
        b.events(1).collect::<Vec<_>>()
    );
    assert_eq!(
        a.contacts(2).collect::<Vec<_>>(),
        b.contacts(2).collect::<Vec<_>>()
    );
    assert_eq!(a.events(0).count(), 10);
    let json = serde_json::to_string(&a.event(0, 1).expect("event")).expect("json");
    assert!(json.contains("\"dateTime\"") && json.contains("\"timeZone\""));
}

#[test]
fn metadata_without_body_matches_the_message() {
    let g = Generator::new(varied(8));
    for m in g.mailbox(1) {
        assert_eq!(g.message_meta(1, m.meta.index).as_ref(), Some(&m.meta));
    }
}

/// Pins the corpus of one seed: if this fails, generation changed and every corpus with
/// it. Update the constant only on purpose (and say so in the change log).
#[test]
fn golden_corpus_digest() {
    let g = Generator::new(CorpusSpec::small().with_seed(2026));
    let mut all = Vec::new();
    for m in g.mailbox(0).take(25) {
        all.extend_from_slice(&fnv1a64(&m.mime).to_le_bytes());
        all.extend_from_slice(m.meta.folder.as_bytes());
    }
    let digest = fnv1a64(&all);
    assert_eq!(digest, GOLDEN, "corpus changed: {digest:#018x}");
}

const GOLDEN: u64 = 0x8817_fd2d_4a11_80c4;

/// The encodings and structures the corpus promises do occur, and decode.
#[test]
fn corpus_covers_the_promised_encodings() {
    let g = Generator::new(varied(99));
    let find = |needle: &[u8]| {
        g.all_messages()
            .find(|m| m.mime.windows(needle.len()).any(|w| w == needle))
            .unwrap_or_else(|| panic!("no message contains {:?}", String::from_utf8_lossy(needle)))
    };
    find(b"=?UTF-8?B?");
    find(b"=?UTF-8?Q?");
    find(b"=?utf-8?B?"); // mail-builder's encoder
    find(b"filename*0*=utf-8''");
    find(b"format=flowed");
    find(b"Content-Type: message/rfc822");
    find(b"method=REQUEST");
    find(b"BEGIN:VEVENT");
    find(b"Content-Transfer-Encoding: quoted-printable");
    find(b"Content-Transfer-Encoding: base64");
    let latin = find(b"charset=iso-8859-1");
    let parsed = MessageParser::default().parse(&latin.mime).expect("parses");
    let body = parsed.body_text(0).expect("text");
    assert!(body.chars().any(|c| "äöüßéèàçÄÖÜ".contains(c)), "{body}");
    let cid = find(b"cid:");
    assert!(
        cid.attachments
            .iter()
            .any(|a| a.inline && a.content_id.is_some())
    );
}

/// Absurd specs are clamped, not obeyed into a panic or an allocation failure.
#[test]
fn extreme_specs_do_not_panic() {
    let spec = CorpusSpec {
        start: i64::MAX,
        mean_interval_secs: u64::MAX,
        large_message_size: u64::MAX,
        large_message_rate: f64::NAN,
        reply_rate: 7.0,
        odd_rate: -1.0,
        messages_per_mailbox: u64::MAX,
        events_per_mailbox: u64::MAX,
        ..CorpusSpec::small()
    };
    let g = Generator::new(spec);
    for idx in [0, 1, u64::MAX - 1, u64::MAX] {
        let m = g.message(0, idx).expect("message");
        check_parses(&m);
        let _ = g.event(0, idx).expect("event");
        let _ = g.contact(0, idx).expect("contact");
    }
    let empty = Generator::new(CorpusSpec {
        mailboxes: vec![],
        ..CorpusSpec::small()
    });
    assert!(empty.message(0, 0).is_none());
    assert_eq!(empty.all_messages().count(), 0);
}

#[test]
fn generator_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Generator>();
    let g = std::sync::Arc::new(Generator::new(varied(4)));
    let handles: Vec<_> = (0..2)
        .map(|m| {
            let g = g.clone();
            std::thread::spawn(move || {
                g.mailbox(m)
                    .take(10)
                    .map(|x| fnv1a64(&x.mime))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (m, h) in handles.into_iter().enumerate() {
        let got = h.join().expect("thread");
        let want: Vec<_> = g.mailbox(m).take(10).map(|x| fnv1a64(&x.mime)).collect();
        assert_eq!(got, want);
    }
}
