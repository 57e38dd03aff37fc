//! Prune keeps everything referenced, frees the rest, and is safe against a
//! crash at any step; locks keep prune and writers apart and stale locks can
//! be broken.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use cairn_repo::{CheckOptions, Error, LockInfo, LockKind, PruneOptions, Repository, RestorePoint};
use common::*;

const FULL: CheckOptions = CheckOptions {
    read_data: true,
    sample_percent: None,
};

/// Three sessions; the second deletes half the items of the first.
async fn history(repo: &Arc<Repository>) -> Vec<RestorePoint> {
    let mut rps = Vec::new();
    for round in 0..3u64 {
        let s = repo.start_session(session_opts()).await.unwrap();
        let w = s.object(mailbox(1)).await.unwrap();
        for i in 0..12u64 {
            if round == 1 && i % 2 == 0 {
                w.delete_item("inbox", &format!("m{i}")).await.unwrap();
            } else if round == 0 || i >= 10 {
                w.put_item(
                    "inbox",
                    &format!("m{i}"),
                    serde_json::json!({}),
                    Bytes::from(random_bytes(round * 100 + i, 200_000)),
                )
                .await
                .unwrap();
            }
        }
        rps.push(s.commit().await.unwrap());
    }
    rps
}

async fn assert_restorable(repo: &Repository, rps: &[RestorePoint]) {
    for rp in rps {
        for li in repo.list_items(rp, "user-1").await.unwrap() {
            let data = repo.read_item(&li.item).await.unwrap();
            assert_eq!(data.len() as u64, li.item.size);
        }
    }
}

fn delete_restore_point(dir: &tempfile::TempDir, rp: &RestorePoint) {
    std::fs::remove_file(dir.path().join(format!("repo/restorepoints/{}", rp.id))).unwrap();
}

#[tokio::test]
async fn prune_frees_unreferenced_data_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let repo = create(local(&dir)).await;
    let rps = history(&repo).await;
    // Expected content of the kept restore points, read before pruning.
    let mut expected = Vec::new();
    for rp in &rps[1..] {
        for li in repo.list_items(rp, "user-1").await.unwrap() {
            expected.push((
                rp.clone(),
                li.item.id.clone(),
                repo.read_item(&li.item).await.unwrap(),
            ));
        }
    }
    let before = repo.stats().await.unwrap();
    // Forget the oldest restore point: the deleted items' data becomes garbage.
    delete_restore_point(&dir, &rps[0]);
    let repo = reopen(local(&dir)).await;
    let dry = repo
        .prune(&PruneOptions {
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(dry.bytes_freed > 0);
    assert_eq!(
        repo.stats().await.unwrap().stored_bytes,
        before.stored_bytes,
        "dry run changed nothing"
    );
    let report = repo.prune(&PruneOptions::default()).await.unwrap();
    assert!(
        report.packs_deleted + report.packs_repacked > 0,
        "{report:?}"
    );
    let after = repo.stats().await.unwrap();
    // m0,m2,..,m8 of round 0 (5 × 200 KB, incompressible) are gone.
    assert!(
        after.stored_bytes + 900_000 < before.stored_bytes,
        "{before:?} -> {after:?}"
    );

    let repo = reopen(local(&dir)).await;
    let check = repo.check(&FULL).await.unwrap();
    assert!(check.is_ok(), "{:?}", check.problems);
    assert!(check.warnings.is_empty(), "{:?}", check.warnings);
    for (rp, id, data) in expected {
        let it = repo.find_item(&rp, "user-1", &id).await.unwrap().unwrap();
        assert_eq!(repo.read_item(&it.item).await.unwrap(), data, "{id}");
    }
}

#[tokio::test]
async fn a_crash_at_any_prune_step_leaves_a_checkable_repository() {
    for step in 1..=3u8 {
        let dir = tempfile::tempdir().unwrap();
        let repo = create(local(&dir)).await;
        let rps = history(&repo).await;
        delete_restore_point(&dir, &rps[0]);
        let repo = reopen(local(&dir)).await;
        // Stop after the step, as a killed process would.
        repo.prune(&PruneOptions {
            stop_after_step: Some(step),
            ..Default::default()
        })
        .await
        .unwrap();
        let repo = reopen(local(&dir)).await;
        let check = repo.check(&FULL).await.unwrap();
        assert!(check.is_ok(), "after step {step}: {:?}", check.problems);
        assert_restorable(&repo, &rps[1..]).await;
        // The next prune finishes the job.
        repo.prune(&PruneOptions::default()).await.unwrap();
        let repo = reopen(local(&dir)).await;
        let check = repo.check(&FULL).await.unwrap();
        assert!(
            check.is_ok() && check.warnings.is_empty(),
            "step {step}: {:?} {:?}",
            check.problems,
            check.warnings
        );
        assert_restorable(&repo, &rps[1..]).await;
    }
}

#[tokio::test]
async fn locks_exclude_prune_from_writers_and_stale_locks_can_be_broken() {
    let dir = tempfile::tempdir().unwrap();
    let backend = local(&dir);
    let repo = create(backend.clone()).await;
    let session = repo.start_session(session_opts()).await.unwrap();
    // A writer is active: prune must refuse.
    let err = repo.prune(&PruneOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("backup session"), "{err}");
    // A second writer is fine.
    let s2 = repo.start_session(session_opts()).await.unwrap();
    s2.abort().await.unwrap();
    session.commit().await.unwrap();
    repo.prune(&PruneOptions::default()).await.unwrap();

    // A lock left by a dead process on this host is stale and can be broken;
    // a live one is not.
    let codec = repo.codec();
    let dead = LockInfo {
        kind: LockKind::Exclusive,
        host: cairn_repo_hostname(),
        pid: 999_999_999,
        purpose: "prune".into(),
        created: "2026-01-01T00:00:00Z".into(),
        refreshed: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    };
    backend
        .put("locks/dead", Bytes::from(codec.encode_file(&dead).unwrap()))
        .await
        .unwrap();
    let live = LockInfo {
        kind: LockKind::Shared,
        pid: std::process::id(),
        ..dead.clone()
    };
    backend
        .put("locks/live", Bytes::from(codec.encode_file(&live).unwrap()))
        .await
        .unwrap();
    // The stale exclusive lock does not block writers…
    let s3 = repo.start_session(session_opts()).await.unwrap();
    s3.abort().await.unwrap();
    // …but the live shared lock blocks prune.
    assert!(matches!(
        repo.prune(&PruneOptions::default()).await.unwrap_err(),
        Error::Locked { .. }
    ));
    let broken = repo.break_locks(false).await.unwrap();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].starts_with("locks/dead"));
    assert_eq!(repo.locks().await.unwrap().len(), 1);
    backend.delete("locks/live").await.unwrap();
    repo.prune(&PruneOptions::default()).await.unwrap();
}

fn cairn_repo_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}
