//! Folders larger than a session's in-memory bound for changes: the changes
//! spill to temporary files and pages are written by a streaming merge. Every
//! test sets a small bound so a few hundred items spill many times, then checks
//! what comes back against what went in, byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use cairn_repo::{CheckOptions, ObjectWriter, Repository, RestorePoint};
use common::*;

/// (folder, item id) → (content, metadata).
type Model = BTreeMap<(String, String), (Bytes, serde_json::Value)>;

fn id(folder: &str, n: u64) -> String {
    format!("AAMkAD-{folder}-{n:06}")
}

fn meta(n: u64, rev: u32) -> serde_json::Value {
    serde_json::json!({"subject": format!("item {n}"), "rev": rev, "isRead": n.is_multiple_of(2)})
}

async fn put(model: &mut Model, w: &ObjectWriter, folder: &str, item: &str, seed: u64, rev: u32) {
    let content = message(seed, 200 + (seed % 700) as usize);
    let entry = w
        .put_item(folder, item, meta(seed, rev), content.clone())
        .await
        .unwrap();
    assert_eq!(entry.size, content.len() as u64);
    model.insert(
        (folder.to_string(), item.to_string()),
        (content, meta(seed, rev)),
    );
}

/// The restore point lists exactly the model, every item's content and
/// metadata equal to what was put.
async fn assert_restore_point_is(
    repo: &Repository,
    rp: &RestorePoint,
    object: &str,
    model: &Model,
) {
    let listed = repo.list_items(rp, object).await.unwrap();
    let got: Vec<(String, String)> = listed
        .iter()
        .map(|l| (l.folder.clone(), l.item.id.clone()))
        .collect();
    let want: Vec<(String, String)> = model.keys().cloned().collect();
    let (mut got_sorted, mut want_sorted) = (got.clone(), want.clone());
    got_sorted.sort();
    want_sorted.sort();
    assert_eq!(got_sorted.len(), want_sorted.len(), "item count");
    assert_eq!(got_sorted, want_sorted);
    for l in &listed {
        let (content, metadata) = &model[&(l.folder.clone(), l.item.id.clone())];
        assert_eq!(&l.item.metadata, metadata, "metadata of {}", l.item.id);
        assert_eq!(
            &repo.read_item(&l.item).await.unwrap(),
            content,
            "content of {}",
            l.item.id
        );
    }
    // Per folder: pages sorted, counts and bytes agree with the items.
    for f in repo.folders(rp, object).await.unwrap() {
        let items = repo.folder_items(&f).await.unwrap();
        assert!(items.windows(2).all(|w| w[0].id < w[1].id), "sorted");
        assert_eq!(f.items, items.len() as u64);
        assert_eq!(f.bytes, items.iter().map(|i| i.size).sum::<u64>());
        let pages: u64 = f.pages.iter().map(|p| u64::from(p.count)).sum();
        assert_eq!(pages, f.items);
    }
}

fn folder_ids(model: &Model, folder: &str) -> Vec<String> {
    model
        .keys()
        .filter(|(f, _)| f == folder)
        .map(|(_, i)| i.clone())
        .collect()
}

fn full_check() -> CheckOptions {
    CheckOptions {
        read_data: true,
        sample_percent: None,
    }
}

#[tokio::test]
async fn a_folder_larger_than_the_bound_reads_back_item_by_item() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;
    let s = repo.start_session(session_opts()).await.unwrap();
    s.set_listing_memory_bound(64, 1 << 30).unwrap();
    let mbx = s.object(mailbox(1)).await.unwrap();
    mbx.set_folder("inbox", "Inbox", None).await.unwrap();
    let mut model = Model::new();
    // Written first, rewritten after many spills: the newest change must win.
    put(&mut model, &mbx, "inbox", &id("inbox", 500), 500, 1).await;
    // Four writers at once, 1,500 items: ~23 spills, runs merged on the way.
    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let mbx = mbx.clone();
        tasks.push(tokio::spawn(async move {
            let mut part = Model::new();
            for n in (t..1500).step_by(4) {
                put(&mut part, &mbx, "inbox", &id("inbox", n), n, 0).await;
            }
            part
        }));
    }
    for t in tasks {
        model.extend(t.await.unwrap());
    }
    // Id 500 was written twice; which write came last depends on the tasks.
    put(&mut model, &mbx, "inbox", &id("inbox", 500), 500, 7).await;
    // Deletions of spilled items, and one of an unknown id.
    for n in (0..1500).step_by(97) {
        assert!(mbx.delete_item("inbox", &id("inbox", n)).await.unwrap());
        model.remove(&("inbox".to_string(), id("inbox", n)));
    }
    assert!(!mbx.delete_item("inbox", "no-such-item").await.unwrap());

    // Lookups while everything is spilled.
    for n in [1u64, 96, 97, 500, 1499] {
        let got = mbx.item("inbox", &id("inbox", n)).await.unwrap();
        match model.get(&("inbox".to_string(), id("inbox", n))) {
            Some((content, metadata)) => {
                let got = got.unwrap();
                assert_eq!(&got.metadata, metadata);
                assert_eq!(got.size, content.len() as u64);
            }
            None => assert!(got.is_none(), "item {n} was deleted"),
        }
    }
    assert_eq!(
        mbx.item_ids("inbox").await.unwrap(),
        folder_ids(&model, "inbox")
    );

    let rp = s.commit().await.unwrap();
    let repo = reopen(backend).await;
    assert_restore_point_is(&repo, &rp, "user-1", &model).await;
    let folders = repo.folders(&rp, "user-1").await.unwrap();
    assert!(folders[0].pages.len() > 1, "several pages");
    let report = repo.check(&full_check()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn incremental_session_over_a_spilled_base_upserts_deletes_and_moves() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;

    // Base: three folders, all past the bound.
    let s = repo.start_session(session_opts()).await.unwrap();
    s.set_listing_memory_bound(50, 1 << 30).unwrap();
    let mbx = s.object(mailbox(1)).await.unwrap();
    let mut model = Model::new();
    for (folder, count, seed) in [
        ("inbox", 1200u64, 0u64),
        ("archive", 300, 10_000),
        ("sent", 700, 20_000),
    ] {
        for n in 0..count {
            put(&mut model, &mbx, folder, &id(folder, n), seed + n, 0).await;
        }
    }
    let rp1 = s.commit().await.unwrap();
    let base = model.clone();

    // Incremental: a smaller bound still, every kind of change.
    let s = repo.start_session(session_opts()).await.unwrap();
    s.set_listing_memory_bound(40, 1 << 30).unwrap();
    let mbx = s.object(mailbox(1)).await.unwrap();
    for n in (0..1200).step_by(12) {
        put(&mut model, &mbx, "inbox", &id("inbox", n), 50_000 + n, 1).await;
    }
    for n in (5..1200).step_by(15) {
        assert!(mbx.delete_item("inbox", &id("inbox", n)).await.unwrap());
        model.remove(&("inbox".to_string(), id("inbox", n)));
    }
    assert!(
        !mbx.delete_item("inbox", &id("inbox", 5)).await.unwrap(),
        "already deleted"
    );
    // Moves inbox → archive, some with a new id (as Exchange gives moved items).
    for n in (7..1200).step_by(23) {
        let old = id("inbox", n);
        if !model.contains_key(&("inbox".to_string(), old.clone())) {
            continue;
        }
        assert_eq!(
            mbx.locate(&old, "archive").await.unwrap().as_deref(),
            Some("inbox")
        );
        let new = if n % 2 == 0 {
            Some(format!("{old}-moved"))
        } else {
            None
        };
        mbx.move_item("inbox", "archive", &old, new.as_deref())
            .await
            .unwrap();
        let v = model.remove(&("inbox".to_string(), old.clone())).unwrap();
        let target = new.unwrap_or(old.clone());
        model.insert(("archive".to_string(), target.clone()), v);
        assert_eq!(
            mbx.locate(&target, "inbox").await.unwrap().as_deref(),
            Some("archive")
        );
        assert_eq!(mbx.locate(&old, "archive").await.unwrap(), None);
    }
    for n in (0..300).step_by(10) {
        let m = meta(n, 9);
        mbx.update_metadata("archive", &id("archive", n), m.clone())
            .await
            .unwrap();
        model
            .get_mut(&("archive".to_string(), id("archive", n)))
            .unwrap()
            .1 = m;
    }
    for n in 2000..2200 {
        put(&mut model, &mbx, "inbox", &id("inbox", n), 60_000 + n, 0).await;
    }
    // One change in "sent": most of its pages are untouched.
    put(&mut model, &mbx, "sent", &id("sent", 350), 70_000, 2).await;
    for folder in ["inbox", "archive", "sent"] {
        assert_eq!(
            mbx.item_ids(folder).await.unwrap(),
            folder_ids(&model, folder),
            "{folder}"
        );
    }
    let rp2 = s.commit().await.unwrap();

    let repo = reopen(backend.clone()).await;
    assert_restore_point_is(&repo, &rp2, "user-1", &model).await;
    assert_restore_point_is(&repo, &rp1, "user-1", &base).await;
    let pages = |rp: &RestorePoint| {
        let repo = repo.clone();
        let rp = rp.clone();
        async move {
            let mut out = BTreeMap::new();
            for f in repo.folders(&rp, "user-1").await.unwrap() {
                out.insert(f.id.clone(), f.pages.clone());
            }
            out
        }
    };
    let (p1, p2) = (pages(&rp1).await, pages(&rp2).await);
    let shared = p2["sent"].iter().filter(|p| p1["sent"].contains(p)).count();
    assert!(
        shared + 1 >= p2["sent"].len(),
        "only the changed page of `sent` is new"
    );

    // The same items written from scratch give the same pages, bytes and counts:
    // the incremental merge cut pages exactly as a full write does.
    let s = repo.start_session(session_opts()).await.unwrap();
    let rebuilt = s.object(mailbox(2)).await.unwrap();
    for ((folder, item), (content, metadata)) in &model {
        rebuilt
            .put_item(folder, item, metadata.clone(), content.clone())
            .await
            .unwrap();
    }
    let rp3 = s.commit().await.unwrap();
    let a = repo.folders(&rp2, "user-1").await.unwrap();
    let b = repo.folders(&rp3, "user-2").await.unwrap();
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(
            (&a.id, &a.pages, a.items, a.bytes),
            (&b.id, &b.pages, b.items, b.bytes)
        );
    }
    let report = repo.check(&full_check()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn checkpoint_and_resume_across_a_spill() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;
    let s = repo.start_session(session_opts()).await.unwrap();
    s.set_listing_memory_bound(30, 1 << 30).unwrap();
    let session_id = s.id();
    let mbx = s.object(mailbox(1)).await.unwrap();
    let mut model = Model::new();
    for n in 0..400 {
        put(&mut model, &mbx, "inbox", &id("inbox", n), n, 0).await;
    }
    s.checkpoint().await.unwrap();
    // Changes over the checkpointed base, spilled again, then a second checkpoint.
    for n in 400..700 {
        put(&mut model, &mbx, "inbox", &id("inbox", n), n, 0).await;
    }
    for n in (0..400).step_by(20) {
        assert!(mbx.delete_item("inbox", &id("inbox", n)).await.unwrap());
        model.remove(&("inbox".to_string(), id("inbox", n)));
    }
    mbx.set_state(serde_json::json!({"upto": 700})).await;
    s.checkpoint().await.unwrap();
    let checkpointed = model.clone();
    // Lost with the process: changes after the last checkpoint.
    for n in 700..800 {
        mbx.put_item("inbox", &id("inbox", n), meta(n, 0), message(n, 300))
            .await
            .unwrap();
    }
    s.abort().await.unwrap();
    drop(repo);

    let repo = reopen(backend.clone()).await;
    let s = repo.resume_session(session_id).await.unwrap();
    s.set_listing_memory_bound(30, 1 << 30).unwrap();
    let mbx = s.object(mailbox(1)).await.unwrap();
    assert_eq!(mbx.state().await, serde_json::json!({"upto": 700}));
    assert_eq!(
        mbx.item_ids("inbox").await.unwrap(),
        folder_ids(&checkpointed, "inbox")
    );
    assert!(
        mbx.item("inbox", &id("inbox", 750))
            .await
            .unwrap()
            .is_none()
    );
    assert!(mbx.item("inbox", &id("inbox", 20)).await.unwrap().is_none());
    let got = mbx.item("inbox", &id("inbox", 699)).await.unwrap().unwrap();
    assert_eq!(got.metadata, meta(699, 0));
    for n in 700..900 {
        put(&mut model, &mbx, "inbox", &id("inbox", n), n, 0).await;
    }
    let rp = s.commit().await.unwrap();
    assert!(repo.incomplete_sessions().await.unwrap().is_empty());
    assert_restore_point_is(&repo, &rp, "user-1", &model).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_race_with_writers_and_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;
    let s = repo.start_session(session_opts()).await.unwrap();
    s.set_listing_memory_bound(40, 1 << 30).unwrap();
    let mbx = s.object(mailbox(1)).await.unwrap();
    // Writers checkpoint as they go (as the engine does after every folder) and
    // look up what they wrote before: pages written by one checkpoint must be
    // readable whenever a lookup or the next checkpoint needs them.
    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let (s, mbx) = (s.clone(), mbx.clone());
        tasks.push(tokio::spawn(async move {
            let mut part = Model::new();
            for k in 0..200u64 {
                let n = k * 4 + t;
                put(&mut part, &mbx, "inbox", &id("inbox", n), n, 0).await;
                if k % 25 == 24 {
                    s.checkpoint().await.unwrap();
                }
                if k >= 10 {
                    let old = id("inbox", n - 40);
                    let got = mbx.item("inbox", &old).await.unwrap().unwrap();
                    assert_eq!(got.metadata, meta(n - 40, 0));
                    assert_eq!(
                        mbx.locate(&old, "sent").await.unwrap().as_deref(),
                        Some("inbox")
                    );
                }
            }
            part
        }));
    }
    let mut model = Model::new();
    for t in tasks {
        model.extend(t.await.unwrap());
    }
    assert_eq!(
        mbx.item_ids("inbox").await.unwrap(),
        folder_ids(&model, "inbox")
    );
    let rp = s.commit().await.unwrap();
    let repo = reopen(backend).await;
    assert_restore_point_is(&repo, &rp, "user-1", &model).await;
}
