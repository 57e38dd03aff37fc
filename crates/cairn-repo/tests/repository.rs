//! The repository end to end on a real directory: round trips byte for byte,
//! dedup, incremental sessions and history, keys and passwords, format version,
//! concurrency, checkpoints and attaching from the storage alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use cairn_repo::{CheckOptions, Error, KdfParams, OrganizationRef, Repository, SessionOptions};
use common::*;

fn full_check() -> CheckOptions {
    CheckOptions {
        read_data: true,
        sample_percent: None,
    }
}

#[tokio::test]
async fn round_trip_and_dedup_across_items() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;
    let session = repo.start_session(session_opts()).await.unwrap();
    // One 1 MB attachment sent to 50 mailboxes, each with its own text around it.
    let attachment = random_bytes(42, 1_000_000);
    let mut expected = Vec::new();
    let mut tasks = Vec::new();
    for m in 0..50u32 {
        let mbx = session.object(mailbox(m)).await.unwrap();
        let mut body = message(u64::from(m), 20_000).to_vec();
        body.extend_from_slice(&attachment);
        let body = Bytes::from(body);
        expected.push((m, body.clone()));
        tasks.push(tokio::spawn(async move {
            mbx.put_item(
                "inbox",
                "shared-attachment",
                serde_json::json!({"m": m}),
                body,
            )
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = session.stats();
    let logical = stats.bytes.load(Ordering::Relaxed);
    let new_raw = stats.new_bytes_raw.load(Ordering::Relaxed);
    assert_eq!(logical, 50 * 1_020_000);
    // The attachment is stored about once (plus chunk boundaries near the text).
    // Unique per message: its text and the chunk that straddles into the
    // attachment (chunk boundaries depend on the repository's random seed).
    assert!(
        new_raw < 50 * 20_000 + 50 * 150_000 + 1_000_000,
        "new raw bytes {new_raw}"
    );
    assert!(
        new_raw < logical / 4,
        "dedup failed: {new_raw} of {logical}"
    );
    let rp = session.commit().await.unwrap();

    let repo = reopen(backend).await;
    for (m, body) in expected {
        let item = repo
            .find_item(&rp, &format!("user-{m}"), "shared-attachment")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(repo.read_item(&item.item).await.unwrap(), body);
        assert_eq!(item.item.metadata, serde_json::json!({"m": m}));
    }
    let report = repo.check(&full_check()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.items, 50);
    let stats = repo.stats().await.unwrap();
    assert!(stats.dedup_ratio > 4.0, "{stats:?}");
    assert!(
        stats.stored_bytes < stats.total_logical_bytes / 4,
        "{stats:?}"
    );
}

#[tokio::test]
async fn large_file_edited_in_the_middle_stores_only_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let repo = create(local(&dir)).await;
    let original = random_bytes(7, 8 << 20);
    let s1 = repo.start_session(session_opts()).await.unwrap();
    let drive = s1.object(mailbox(1)).await.unwrap();
    let stream = futures::stream::iter(
        original
            .chunks(100_000)
            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    drive
        .put_item_stream("docs", "plan.bin", serde_json::json!({}), stream)
        .await
        .unwrap();
    let first_raw = s1.stats().new_bytes_raw.load(Ordering::Relaxed);
    assert!(first_raw >= 8 << 20);
    s1.commit().await.unwrap();

    let mut edited = original.clone();
    edited.splice(
        4_000_000..4_000_100,
        b"EDITED IN THE MIDDLE".iter().copied(),
    );
    let s2 = repo.start_session(session_opts()).await.unwrap();
    let drive = s2.object(mailbox(1)).await.unwrap();
    let stream = futures::stream::iter(
        edited
            .chunks(77_777)
            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    drive
        .put_item_stream("docs", "plan.bin", serde_json::json!({}), stream)
        .await
        .unwrap();
    let second_raw = s2.stats().new_bytes_raw.load(Ordering::Relaxed);
    // Only the chunks around the edit are new (max chunk 512 KiB, plus listings).
    assert!(
        second_raw < 1_200_000,
        "an edit stored {second_raw} new bytes"
    );
    let rp2 = s2.commit().await.unwrap();

    let item = repo
        .find_item(&rp2, "user-1", "plan.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        repo.read_item(&item.item).await.unwrap().as_ref(),
        edited.as_slice()
    );
    let mut out = Vec::new();
    repo.read_item_to(&item.item, &mut out).await.unwrap();
    assert_eq!(out, edited);
    let history = repo
        .item_history("tenant-1", "user-1", "plan.bin")
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        repo.read_item(&history[0].item).await.unwrap().as_ref(),
        original.as_slice()
    );
}

#[tokio::test]
async fn incremental_sessions_history_moves_deletes_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;

    let s1 = repo.start_session(session_opts()).await.unwrap();
    let mbx = s1.object(mailbox(1)).await.unwrap();
    assert_eq!(mbx.state().await, serde_json::Value::Null);
    mbx.set_folder("inbox", "Inbox", None).await.unwrap();
    mbx.set_folder("archive", "Archive", None).await.unwrap();
    for i in 0..300u64 {
        mbx.put_item(
            "inbox",
            &format!("m{i:04}"),
            serde_json::json!({"isRead": false}),
            message(i, 12_000),
        )
        .await
        .unwrap();
    }
    mbx.set_state(serde_json::json!({"inbox": "delta-1"})).await;
    let rp1 = s1.commit().await.unwrap();

    // Session 2: only the changes, as a delta query would report them.
    let s2 = repo.start_session(session_opts()).await.unwrap();
    let mbx = s2.object(mailbox(1)).await.unwrap();
    assert_eq!(mbx.state().await, serde_json::json!({"inbox": "delta-1"}));
    mbx.update_metadata("inbox", "m0001", serde_json::json!({"isRead": true}))
        .await
        .unwrap();
    mbx.put_item(
        "inbox",
        "m0002",
        serde_json::json!({"isRead": false}),
        message(10_002, 15_000),
    )
    .await
    .unwrap();
    assert!(mbx.delete_item("inbox", "m0003").await.unwrap());
    mbx.move_item("inbox", "archive", "m0004", None)
        .await
        .unwrap();
    mbx.set_state(serde_json::json!({"inbox": "delta-2"})).await;
    let rp2 = s2.commit().await.unwrap();

    // Session 3 changes nothing in this object.
    let s3 = repo.start_session(session_opts()).await.unwrap();
    let mbx = s3.object(mailbox(1)).await.unwrap();
    assert_eq!(mbx.state().await, serde_json::json!({"inbox": "delta-2"}));
    let rp3 = s3.commit().await.unwrap();
    assert_eq!(
        rp3.objects[0].tree, rp2.objects[0].tree,
        "an unchanged object is stored once"
    );

    // Attach with a fresh handle: everything comes from the storage.
    let repo = reopen(backend).await;
    let rps = repo.restore_points().await.unwrap();
    assert_eq!(
        rps.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![rp1.id, rp2.id, rp3.id]
    );
    let items1 = repo.list_items(&rp1, "user-1").await.unwrap();
    let items2 = repo.list_items(&rp2, "user-1").await.unwrap();
    assert_eq!(items1.len(), 300);
    assert_eq!(items2.len(), 299);
    let moved = repo
        .find_item(&rp2, "user-1", "m0004")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.folder, "archive");
    assert_eq!(
        repo.read_item(&moved.item).await.unwrap(),
        message(4, 12_000)
    );
    assert!(
        repo.find_item(&rp2, "user-1", "m0003")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        repo.find_item(&rp1, "user-1", "m0003")
            .await
            .unwrap()
            .is_some()
    );
    for i in [0u64, 5, 150, 299] {
        let it = repo
            .find_item(&rp3, "user-1", &format!("m{i:04}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(repo.read_item(&it.item).await.unwrap(), message(i, 12_000));
    }

    // A read flag flip is not a new version; new content is.
    let h1 = repo
        .item_history("tenant-1", "user-1", "m0001")
        .await
        .unwrap();
    assert_eq!(h1.len(), 1);
    assert_eq!(h1[0].restore_points.len(), 3);
    assert_eq!(h1[0].item.metadata, serde_json::json!({"isRead": false}));
    let latest = repo
        .find_item(&rp3, "user-1", "m0001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.item.metadata, serde_json::json!({"isRead": true}));
    let h2 = repo
        .item_history("tenant-1", "user-1", "m0002")
        .await
        .unwrap();
    assert_eq!(h2.len(), 2);
    assert_eq!(
        repo.read_item(&h2[0].item).await.unwrap(),
        message(2, 12_000)
    );
    assert_eq!(
        repo.read_item(&h2[1].item).await.unwrap(),
        message(10_002, 15_000)
    );
    let h3 = repo
        .item_history("tenant-1", "user-1", "m0003")
        .await
        .unwrap();
    assert_eq!(h3.len(), 1);
    assert_eq!(h3[0].restore_points.len(), 1);

    let orgs = repo.organizations().await.unwrap();
    assert_eq!(orgs, vec![org()]);
    let objects = repo.protected_objects(Some("tenant-1")).await.unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].restore_points.len(), 3);
    assert_eq!(objects[0].latest_items, 299);
    let report = repo.check(&full_check()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn passwords_key_slots_and_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;
    let rp = commit_one_item(&repo, message(1, 30_000)).await;
    let data_files = |d: &tempfile::TempDir| {
        let mut v: Vec<_> = walk(&d.path().join("repo/data"));
        v.sort();
        v
    };
    let before = data_files(&dir);

    // Wrong password: a clear error, no panic.
    let err = Repository::open(backend.clone(), Some(b"wrong"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongPassword), "{err}");
    assert!(err.to_string().contains("wrong password"));
    let err = Repository::open(backend.clone(), None).await.unwrap_err();
    assert!(matches!(err, Error::PasswordRequired), "{err}");

    // A second key slot: both passwords open the repository.
    let second = repo
        .add_key(
            b"second password",
            "backup operator",
            KdfParams::insecure_for_tests(),
        )
        .await
        .unwrap();
    assert_eq!(repo.key_slots().await.unwrap().len(), 2);
    let via_second = Repository::open(backend.clone(), Some(b"second password"))
        .await
        .unwrap();
    let item = via_second
        .find_item(&rp, "user-1", "a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        via_second.read_item(&item.item).await.unwrap(),
        message(1, 30_000)
    );

    // Change the first password: the old one stops working, data is not rewritten.
    repo.change_password(b"new horse", KdfParams::insecure_for_tests())
        .await
        .unwrap();
    assert!(matches!(
        Repository::open(backend.clone(), Some(b"correct horse"))
            .await
            .unwrap_err(),
        Error::WrongPassword
    ));
    let via_new = Repository::open(backend.clone(), Some(b"new horse"))
        .await
        .unwrap();
    let item = via_new
        .find_item(&rp, "user-1", "a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        via_new.read_item(&item.item).await.unwrap(),
        message(1, 30_000)
    );
    assert_eq!(
        data_files(&dir),
        before,
        "a password change must not touch data"
    );

    // Remove the second slot; the last slot cannot be removed.
    via_new.remove_key(&second).await.unwrap();
    assert!(
        Repository::open(backend.clone(), Some(b"second password"))
            .await
            .is_err()
    );
    let only = via_new.key_slots().await.unwrap();
    assert_eq!(only.len(), 1);
    assert!(via_new.remove_key(&only[0].id).await.is_err());

    // Nothing readable in the storage: the content's words never appear in clear.
    for f in walk(&dir.path().join("repo")) {
        let raw = std::fs::read(&f).unwrap();
        assert!(
            !raw.windows(7).any(|w| w == b"meeting" || w == b"Contoso"),
            "{f:?} holds plaintext"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn unknown_format_version_and_not_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let err = Repository::open(backend.clone(), Some(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotARepository { .. }), "{err}");
    create(backend.clone()).await;
    let err = Repository::create(backend.clone(), options("p"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");

    let path = dir.path().join("repo/config");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    cfg["version"] = serde_json::json!(99);
    cfg["something_new"] = serde_json::json!({"x": 1});
    std::fs::write(&path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let err = Repository::open(backend.clone(), Some(b"correct horse"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsupportedVersion {
                found: 99,
                supported: 1
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("version 99"));

    std::fs::write(&path, b"{not json").unwrap();
    let err = Repository::open(backend, Some(b"correct horse"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("config"), "{err}");
}

#[tokio::test]
async fn concurrent_sessions_write_and_both_restore() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;
    // Two installations (two handles) writing at once, sharing some content.
    let other = reopen(backend.clone()).await;
    let shared = random_bytes(5, 300_000);
    let mut handles = Vec::new();
    for (n, r) in [(0u32, repo.clone()), (1u32, other.clone())] {
        let shared = shared.clone();
        handles.push(tokio::spawn(async move {
            let opts = SessionOptions {
                organization: OrganizationRef {
                    id: format!("tenant-{n}"),
                    name: format!("Org {n}"),
                },
                job: None,
            };
            let s = r.start_session(opts).await.unwrap();
            let mut tasks = Vec::new();
            for m in 0..4u32 {
                let w = s.object(mailbox(m)).await.unwrap();
                let shared = shared.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..30u64 {
                        let mut body = message(u64::from(n * 1000 + m * 100) + i, 20_000).to_vec();
                        if i % 10 == 0 {
                            body.extend_from_slice(&shared);
                        }
                        w.put_item(
                            "inbox",
                            &format!("i{i}"),
                            serde_json::json!({}),
                            Bytes::from(body),
                        )
                        .await
                        .unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            s.commit().await.unwrap()
        }));
    }
    let mut rps = Vec::new();
    for h in handles {
        rps.push(h.await.unwrap());
    }
    let repo = reopen(backend).await;
    assert_eq!(repo.organizations().await.unwrap().len(), 2);
    for (n, rp) in rps.iter().enumerate() {
        for m in 0..4u32 {
            for i in [0u64, 10, 29] {
                let it = repo
                    .find_item(rp, &format!("user-{m}"), &format!("i{i}"))
                    .await
                    .unwrap()
                    .unwrap();
                let mut body = message(n as u64 * 1000 + u64::from(m) * 100 + i, 20_000).to_vec();
                if i % 10 == 0 {
                    body.extend_from_slice(&shared);
                }
                assert_eq!(
                    repo.read_item(&it.item).await.unwrap().as_ref(),
                    body.as_slice()
                );
            }
        }
    }
    let report = repo.check(&full_check()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.items, 240);
}

#[tokio::test]
async fn checkpoint_then_resume_keeps_state_and_items() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;
    let s = repo.start_session(session_opts()).await.unwrap();
    let session_id = s.id();
    let mbx = s.object(mailbox(1)).await.unwrap();
    for i in 0..20u64 {
        mbx.put_item(
            "inbox",
            &format!("m{i}"),
            serde_json::json!({}),
            message(i, 50_000),
        )
        .await
        .unwrap();
    }
    mbx.set_state(serde_json::json!({"done": ["inbox"]})).await;
    s.checkpoint().await.unwrap();
    // The job dies here: no commit. (Dropping releases the lock best-effort.)
    s.abort().await.unwrap();
    drop(repo);

    let repo = reopen(backend.clone()).await;
    assert!(repo.restore_points().await.unwrap().is_empty());
    let pending = repo.incomplete_sessions().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].session, session_id);
    // The checkpoint keeps its data alive and checkable.
    let report = repo.check(&full_check()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);

    let s = repo.resume_session(session_id).await.unwrap();
    let mbx = s.object(mailbox(1)).await.unwrap();
    assert_eq!(mbx.state().await, serde_json::json!({"done": ["inbox"]}));
    // Re-sending what was checkpointed stores nothing new.
    mbx.put_item("inbox", "m0", serde_json::json!({}), message(0, 50_000))
        .await
        .unwrap();
    assert_eq!(s.stats().new_blobs.load(Ordering::Relaxed), 0);
    mbx.put_item("sent", "s1", serde_json::json!({}), message(99, 5_000))
        .await
        .unwrap();
    let rp = s.commit().await.unwrap();
    assert!(repo.incomplete_sessions().await.unwrap().is_empty());
    let items = repo.list_items(&rp, "user-1").await.unwrap();
    assert_eq!(items.len(), 21);
    let it = repo.find_item(&rp, "user-1", "m19").await.unwrap().unwrap();
    assert_eq!(repo.read_item(&it.item).await.unwrap(), message(19, 50_000));
}

#[tokio::test]
async fn unencrypted_only_when_asked_and_still_checkable() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let mut opts = cairn_repo::CreateOptions::unencrypted();
    opts.pack_size = 1 << 20;
    let repo = Arc::new(Repository::create(backend.clone(), opts).await.unwrap());
    assert!(!repo.config().encrypted());
    let rp = commit_one_item(&repo, message(3, 40_000)).await;
    let repo = Repository::open(backend, None).await.unwrap();
    let it = repo.find_item(&rp, "user-1", "a").await.unwrap().unwrap();
    assert_eq!(repo.read_item(&it.item).await.unwrap(), message(3, 40_000));
    assert!(repo.check(&full_check()).await.unwrap().is_ok());
}
