//! The write path's speed-ups keep the format and its guarantees: key slots with
//! several Argon2id lanes (and slots written before, with one), incompressible
//! content stored raw, and streamed content chunked exactly like content in memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use cairn_repo::backend::{Backend, LocalBackend};
use cairn_repo::{CreateOptions, Error, KdfParams, Repository};
use common::*;

fn key_slot_files(root: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root.join("keys")).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        out.push(serde_json::from_slice(&data).unwrap());
    }
    out
}

#[test]
fn default_kdf_is_rfc_9106s_second_recommendation() {
    // RFC 9106 §4: Argon2id, t = 3, p = 4, m = 64 MiB. Never below.
    let d = KdfParams::default();
    assert!(d.memory_kib >= 64 * 1024, "{d:?}");
    assert!(d.iterations >= 3, "{d:?}");
    assert_eq!(d.parallelism, 4, "{d:?}");
}

#[tokio::test]
async fn key_slots_with_four_lanes_and_with_one_open_the_same_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(&root));
    // Four lanes (like the default) at a test-sized memory cost.
    let four = KdfParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 4,
    };
    let opts = CreateOptions {
        kdf: four,
        ..options("four lanes")
    };
    let repo = Repository::create(backend.clone(), opts).await.unwrap();
    let slots = key_slot_files(&root);
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0]["parallelism"], 4);
    assert_eq!(slots[0]["memory_kib"], 1024);

    // A second slot with one lane, as every slot had before.
    repo.add_key(b"one lane", "old style", KdfParams::insecure_for_tests())
        .await
        .unwrap();
    let mut lanes: Vec<u64> = key_slot_files(&root)
        .iter()
        .map(|s| s["parallelism"].as_u64().unwrap())
        .collect();
    lanes.sort();
    assert_eq!(lanes, [1, 4]);

    let repo = Arc::new(repo);
    let rp = commit_one_item(&repo, message(3, 40_000)).await;

    for password in [&b"four lanes"[..], b"one lane"] {
        let r = Repository::open(backend.clone(), Some(password))
            .await
            .unwrap();
        let item = r.find_item(&rp, "user-1", "a").await.unwrap().unwrap();
        assert_eq!(r.read_item(&item.item).await.unwrap(), message(3, 40_000));
    }
    let err = Repository::open(backend.clone(), Some(b"four lanes!"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongPassword), "{err}");
}

/// Copy a directory tree (fixtures are never modified in place).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn a_repository_written_before_the_kdf_change_opens_and_restores() {
    // `config` and the key slot were written by `cairn repo create
    // --kdf-memory-mib 1` before four-lane slots (argon2 0.5, one lane); the
    // data by `cairn repo put-dir` of `source/`.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    copy_tree(&fixture("repo-one-lane/repo"), &root);
    let slots = key_slot_files(&root);
    assert_eq!(slots[0]["parallelism"], 1);
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(&root));
    let err = Repository::open(backend.clone(), Some(b"correct horse"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongPassword), "{err}");
    let repo = Repository::open(backend, Some(b"correct horse battery staple"))
        .await
        .unwrap();
    let rps = repo.restore_points().await.unwrap();
    assert_eq!(rps.len(), 1);
    let source = fixture("repo-one-lane/source");
    let mut names = Vec::new();
    for o in &rps[0].objects {
        for li in repo.list_items(&rps[0], &o.object.id).await.unwrap() {
            let want = std::fs::read(source.join(&li.item.id)).unwrap();
            let got = repo.read_item(&li.item).await.unwrap();
            assert!(got == want, "{} differs", li.item.id);
            names.push(li.item.id.clone());
        }
    }
    names.sort();
    assert_eq!(names, ["notes.txt", "photo.jpg"]);
    let report = repo
        .check(&cairn_repo::CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// Text with incompressible stretches (an attachment in the middle).
fn mixed_content(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut seed = 0;
    while out.len() < len {
        out.extend_from_slice(&message(seed, 700_000));
        out.extend_from_slice(&random_bytes(seed + 100, 900_000));
        seed += 1;
    }
    out.truncate(len);
    out
}

#[tokio::test]
async fn streamed_content_is_chunked_like_content_in_memory_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let repo = create(local(&dir)).await;
    let content = mixed_content(6 << 20);

    let s = repo.start_session(session_opts()).await.unwrap();
    let w = s.object(mailbox(1)).await.unwrap();
    let whole = w
        .put_item(
            "docs",
            "whole.bin",
            serde_json::json!({}),
            Bytes::from(content.clone()),
        )
        .await
        .unwrap();
    let raw_after_whole = s.stats().new_bytes_raw.load(Ordering::Relaxed);
    // Odd read sizes: chunk boundaries must not depend on them.
    let pieces: Vec<std::io::Result<Bytes>> = content
        .chunks(123_457)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let streamed = w
        .put_item_stream(
            "docs",
            "streamed.bin",
            serde_json::json!({}),
            futures::stream::iter(pieces),
        )
        .await
        .unwrap();
    assert!(whole.chunks.len() > 8, "{} chunks", whole.chunks.len());
    assert_eq!(streamed.chunks, whole.chunks);
    assert_eq!(streamed.version, whole.version);
    assert_eq!(
        s.stats().new_bytes_raw.load(Ordering::Relaxed),
        raw_after_whole,
        "the same content streamed stored new data"
    );
    // Incompressible stretches were stored raw, text compressed: what was
    // uploaded lies between the random part and the whole.
    let rp = s.commit().await.unwrap();
    let uploaded = s_uploaded(&dir);
    assert!(uploaded > 3 << 20 && uploaded < 5 << 20, "{uploaded} bytes");

    let repo = reopen(local(&dir)).await;
    for name in ["whole.bin", "streamed.bin"] {
        let item = repo.find_item(&rp, "user-1", name).await.unwrap().unwrap();
        let mut out = Vec::new();
        repo.read_item_to(&item.item, &mut out).await.unwrap();
        assert!(out == content, "{name} differs");
    }
}

/// Bytes of all pack files.
fn s_uploaded(dir: &tempfile::TempDir) -> u64 {
    fn walk(p: &Path, total: &mut u64) {
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), total);
            } else {
                *total += e.metadata().unwrap().len();
            }
        }
    }
    let mut total = 0;
    walk(&dir.path().join("repo/data"), &mut total);
    total
}
