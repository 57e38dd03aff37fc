//! Bad input: corrupted, truncated and missing objects give clear errors naming
//! the object (never a panic), and `check` reports every damaged item.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use cairn_repo::{CheckOptions, Repository};
use common::*;

fn packs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(root.join("data")).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

/// A repository with three mailboxes whose items are in separate packs.
async fn three_mailboxes(dir: &tempfile::TempDir) -> (cairn_repo::RestorePoint, Vec<PathBuf>) {
    let backend = local(dir);
    let repo = create(backend).await;
    let s = repo.start_session(session_opts()).await.unwrap();
    for m in 0..3u32 {
        let w = s.object(mailbox(m)).await.unwrap();
        for i in 0..5u64 {
            // Incompressible 300 KB items: a 1 MiB pack holds about three.
            w.put_item(
                "inbox",
                &format!("m{i}"),
                serde_json::json!({}),
                Bytes::from(random_bytes(u64::from(m) * 100 + i, 300_000)),
            )
            .await
            .unwrap();
        }
    }
    let rp = s.commit().await.unwrap();
    (rp, packs(&dir.path().join("repo")))
}

#[tokio::test]
async fn check_reports_every_damaged_item_and_reads_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (rp, data_packs) = three_mailboxes(&dir).await;
    assert!(data_packs.len() >= 4, "{} packs", data_packs.len());
    let repo = reopen(local(&dir)).await;
    let clean = repo
        .check(&CheckOptions {
            read_data: true,
            sample_percent: None,
        })
        .await
        .unwrap();
    assert!(clean.is_ok(), "{:?}", clean.problems);
    assert!(clean.damaged_items.is_empty());

    // Find which packs hold which items, then damage three of them differently.
    let mut victims = Vec::new();
    for p in &data_packs {
        let size = std::fs::metadata(p).unwrap().len();
        if size > 500_000 {
            victims.push(p.clone());
        }
    }
    assert!(victims.len() >= 3);
    // 1. a flipped byte in the middle of a blob
    let mut bytes = std::fs::read(&victims[0]).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&victims[0], &bytes).unwrap();
    // 2. truncated
    let bytes = std::fs::read(&victims[1]).unwrap();
    std::fs::write(&victims[1], &bytes[..bytes.len() / 2]).unwrap();
    // 3. missing
    std::fs::remove_file(&victims[2]).unwrap();

    let repo = reopen(local(&dir)).await;
    let report = repo
        .check(&CheckOptions {
            read_data: true,
            sample_percent: None,
        })
        .await
        .unwrap();
    assert!(!report.is_ok());
    let text: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    let joined = text.join("\n");
    let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().to_string();
    for v in &victims[..3] {
        assert!(
            joined.contains(&name(v)),
            "pack {} not reported in:\n{joined}",
            name(v)
        );
    }
    assert!(joined.contains("missing"), "{joined}");
    assert!(joined.contains("truncated"), "{joined}");
    // Each damaged pack loses at least one item; all of them are named.
    assert!(
        report.damaged_items.len() >= 3,
        "{:?}",
        report.damaged_items
    );

    // Without reading data, missing and truncated packs are still found.
    let quick = repo.check(&CheckOptions::default()).await.unwrap();
    let quick_text = quick
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        quick_text.contains(&name(&victims[1])) && quick_text.contains(&name(&victims[2])),
        "{quick_text}"
    );

    // Every damaged item fails to read with an error naming the pack or blob;
    // every undamaged item still reads back exactly.
    let mut failed = 0;
    for m in 0..3u32 {
        for i in 0..5u64 {
            let key = format!("user-{m}/inbox/m{i}");
            let it = repo
                .find_item(&rp, &format!("user-{m}"), &format!("m{i}"))
                .await
                .unwrap()
                .unwrap();
            match repo.read_item(&it.item).await {
                Ok(data) => {
                    assert!(
                        !report.damaged_items.contains(&key),
                        "{key} reported damaged but readable"
                    );
                    assert_eq!(
                        data.as_ref(),
                        random_bytes(u64::from(m) * 100 + i, 300_000).as_slice()
                    );
                }
                Err(e) => {
                    failed += 1;
                    assert!(
                        report.damaged_items.contains(&key),
                        "{key} unreadable but not reported: {e}"
                    );
                    let msg = e.to_string();
                    assert!(msg.contains("data/") || msg.contains("blob"), "{msg}");
                }
            }
        }
    }
    assert_eq!(failed, report.damaged_items.len());
}

#[tokio::test]
async fn damaged_metadata_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_rp, _) = three_mailboxes(&dir).await;
    let root = dir.path().join("repo");
    // A corrupted index file.
    let index = std::fs::read_dir(root.join("index"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&index).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&index, &bytes).unwrap();
    let err = Repository::open(local(&dir), Some(b"correct horse"))
        .await
        .unwrap_err();
    let index_name = index.file_name().unwrap().to_string_lossy().to_string();
    assert!(err.to_string().contains(&index_name), "{err}");
    assert!(err.to_string().contains("authentication failed"), "{err}");

    // A truncated restore point.
    std::fs::write(&index, {
        let mut b = bytes.clone();
        b[last] ^= 1;
        b
    })
    .unwrap();
    let rp = std::fs::read_dir(root.join("restorepoints"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let b = std::fs::read(&rp).unwrap();
    std::fs::write(&rp, &b[..10]).unwrap();
    let repo = Repository::open(local(&dir), Some(b"correct horse"))
        .await
        .unwrap();
    let err = repo.restore_points().await.unwrap_err();
    assert!(
        err.to_string()
            .contains(&rp.file_name().unwrap().to_string_lossy().to_string()),
        "{err}"
    );
    let report = repo.check(&CheckOptions::default()).await.unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.to_string().contains("restorepoints")),
        "{:?}",
        report.problems
    );

    // A damaged key slot: the message names it.
    let key = std::fs::read_dir(root.join("keys"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&key, b"{}").unwrap();
    let err = Repository::open(local(&dir), Some(b"correct horse"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("key"), "{err}");
}
