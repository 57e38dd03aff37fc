//! One suite every backend passes: local directory always, S3 against moto's
//! server and Azure Blob against Azurite (both on loopback, started by
//! `scripts/test`). Then a whole repository round trip on each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use cairn_repo::backend::Backend;
use common::*;

async fn primitives(b: Arc<dyn Backend>) {
    // Missing objects: a clear not-found naming the object.
    let err = b.get("data/aa/missing").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("data/aa/missing"));
    assert!(b.list("data/").await.unwrap().is_empty());

    // put / get / overwrite.
    b.put("data/aa/one", Bytes::from_static(b"first"))
        .await
        .unwrap();
    assert_eq!(
        b.get("data/aa/one").await.unwrap(),
        Bytes::from_static(b"first")
    );
    b.put("data/aa/one", Bytes::from_static(b"second version"))
        .await
        .unwrap();
    assert_eq!(
        b.get("data/aa/one").await.unwrap(),
        Bytes::from_static(b"second version")
    );

    // get_range, including the last byte and out-of-range requests.
    assert_eq!(
        b.get_range("data/aa/one", 0..6).await.unwrap(),
        Bytes::from_static(b"second")
    );
    assert_eq!(
        b.get_range("data/aa/one", 7..14).await.unwrap(),
        Bytes::from_static(b"version")
    );
    assert!(b.get_range("data/aa/one", 10..100).await.is_err());

    // put_if_absent: creates once, then refuses without changing the object.
    assert!(
        b.put_if_absent("locks/l1", Bytes::from_static(b"mine"))
            .await
            .unwrap()
    );
    assert!(
        !b.put_if_absent("locks/l1", Bytes::from_static(b"theirs"))
            .await
            .unwrap()
    );
    assert_eq!(
        b.get("locks/l1").await.unwrap(),
        Bytes::from_static(b"mine")
    );

    // list: recursive, by prefix, with sizes, sorted.
    b.put("data/bb/two", Bytes::from(vec![7u8; 1000]))
        .await
        .unwrap();
    b.put("index/i1", Bytes::from_static(b"x")).await.unwrap();
    let listed = b.list("data/").await.unwrap();
    let names: Vec<_> = listed.iter().map(|o| (o.name.as_str(), o.size)).collect();
    assert_eq!(names, vec![("data/aa/one", 14), ("data/bb/two", 1000)]);
    assert_eq!(b.list("index/").await.unwrap().len(), 1);
    assert_eq!(b.list("locks/").await.unwrap().len(), 1);

    // A large object round-trips byte for byte.
    let big = Bytes::from(random_bytes(1, 5 << 20));
    b.put("data/cc/big", big.clone()).await.unwrap();
    assert_eq!(b.get("data/cc/big").await.unwrap(), big);
    assert_eq!(
        b.get_range("data/cc/big", 4_000_000..4_000_100)
            .await
            .unwrap(),
        big.slice(4_000_000..4_000_100)
    );

    // delete, and deleting again is fine.
    b.delete("data/aa/one").await.unwrap();
    b.delete("data/aa/one").await.unwrap();
    assert!(b.get("data/aa/one").await.unwrap_err().is_not_found());
    b.delete("locks/l1").await.unwrap();
    assert!(
        b.put_if_absent("locks/l1", Bytes::from_static(b"again"))
            .await
            .unwrap()
    );

    // Concurrent put_if_absent on one name: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            b.put_if_absent("locks/race", Bytes::from(format!("writer {i}")))
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one conditional create must win");
}

async fn repository_round_trip(b: Arc<dyn Backend>) {
    let repo = create(b.clone()).await;
    let session = repo.start_session(session_opts()).await.unwrap();
    let mbx = session.object(mailbox(1)).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..40u64 {
        let content = message(i, 10_000 + (i as usize) * 2_000);
        mbx.put_item(
            "inbox",
            &format!("m{i:03}"),
            serde_json::json!({"n": i}),
            content.clone(),
        )
        .await
        .unwrap();
        expected.push((format!("m{i:03}"), content));
    }
    let big = Bytes::from(random_bytes(9, 3 << 20));
    mbx.put_item("files", "big.bin", serde_json::json!({}), big.clone())
        .await
        .unwrap();
    let rp = session.commit().await.unwrap();

    // Read back through a fresh handle: only what is in the storage counts.
    let repo = reopen(b).await;
    let rp = repo.restore_point(rp.id).await.unwrap();
    let items = repo.list_items(&rp, "user-1").await.unwrap();
    assert_eq!(items.len(), 41);
    for (id, content) in &expected {
        let found = repo
            .find_item(&rp, "user-1", id)
            .await
            .unwrap()
            .expect("item listed");
        assert_eq!(&repo.read_item(&found.item).await.unwrap(), content);
    }
    let found = repo
        .find_item(&rp, "user-1", "big.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(repo.read_item(&found.item).await.unwrap(), big);
    let report = repo
        .check(&cairn_repo::CheckOptions {
            read_data: true,
            sample_percent: None,
        })
        .await
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn local_backend_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    primitives(local(&dir)).await;
    let dir2 = tempfile::tempdir().unwrap();
    repository_round_trip(local(&dir2)).await;
}

#[tokio::test]
async fn s3_backend_passes_the_suite() {
    let Some(b) = s3().await else { return };
    primitives(b).await;
    let Some(b) = s3().await else { return };
    repository_round_trip(b).await;
}

#[tokio::test]
async fn azure_backend_passes_the_suite() {
    let Some(b) = azure().await else { return };
    primitives(b).await;
    let Some(b) = azure().await else { return };
    repository_round_trip(b).await;
}
