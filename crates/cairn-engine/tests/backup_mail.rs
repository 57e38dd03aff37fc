//! End to end: full and incremental backups of the simulated organization over HTTPS,
//! every message compared byte for byte with the simulator's; adds, edits, moves,
//! deletes and a read flag flip between runs; expired delta tokens; exclusions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod backup_support;

use backup_support::*;
use base64::Engine as _;
use cairn_engine::backup::{ExcludedFolder, Outcome};
use cairn_sim::admin::Mutation;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn object(
    outcome: &cairn_engine::backup::SessionOutcome,
    user: uuid::Uuid,
) -> &cairn_engine::backup::ObjectResult {
    outcome
        .objects
        .iter()
        .find(|o| o.object.id == user.to_string() && o.object.kind == "mailbox")
        .expect("the mailbox was processed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_incremental_with_adds_edits_moves_deletes() {
    let env = Env::start().await;
    let plan = env.plan("mail");
    let first = env.run(&plan).await;
    assert_eq!(
        first.outcome.outcome,
        Outcome::Success,
        "{:?}",
        first.outcome
    );
    let users = mailbox_users(&env.tenant());
    assert!(users.len() >= 2, "the scenario has mailboxes");
    for u in &users {
        assert_mailbox_matches(&env, *u, &[]).await;
    }
    let total_messages: usize = users
        .iter()
        .map(|u| env.tenant().mailboxes[u].primary.messages.len())
        .sum();
    assert!(total_messages > 0);
    assert_eq!(
        first.outcome.items as usize, total_messages,
        "each message read once"
    );

    // Change one mailbox: add, edit, move, soft and hard delete, flip a read flag.
    let user = users[0];
    let t = env.target(user, false);
    let ids: Vec<String> = env.tenant().mailboxes[&user]
        .primary
        .messages
        .keys()
        .cloned()
        .collect();
    let (edited, moved, purged, soft, flipped) = (&ids[0], &ids[1], &ids[2], &ids[3], &ids[4]);
    let added = env.mutate(Mutation::AddMessage {
        target: t.clone(),
        folder: "inbox".into(),
        mime: Some(b64(
            "From: a@example.com\r\nTo: b@example.com\r\nSubject: added\r\nMessage-ID: <added@example.com>\r\n\r\nnew body\r\n",
        )),
    })["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.mutate(Mutation::EditMessage {
        target: t.clone(),
        id: edited.clone(),
        subject: Some("edited subject".into()),
    });
    env.mutate(Mutation::MoveMessage {
        target: t.clone(),
        id: moved.clone(),
        folder: "archive".into(),
    });
    env.mutate(Mutation::DeleteMessage {
        target: t.clone(),
        id: purged.clone(),
        purge: true,
    });
    env.mutate(Mutation::DeleteMessage {
        target: t.clone(),
        id: soft.clone(),
        purge: false,
    });
    let read = env.tenant().mailboxes[&user].primary.messages[flipped.as_str()].is_read;
    env.mutate(Mutation::MarkRead {
        target: t.clone(),
        id: flipped.clone(),
        read: !read,
    });

    let second = env.run(&plan).await;
    assert_eq!(
        second.outcome.outcome,
        Outcome::Success,
        "{:?}",
        second.outcome
    );
    for u in &users {
        assert_mailbox_matches(&env, *u, &[]).await;
    }
    // Only the changes were read (the added and edited messages, the read flip, at
    // most the moved ones again): never the whole mailbox.
    assert!(
        second.outcome.items <= 5,
        "incremental read {} items of {total_messages}",
        second.outcome.items
    );
    let changed = object(&second.outcome, user);
    assert_eq!(
        changed.deletions, 1,
        "the purged message is recorded as deleted"
    );
    assert_eq!(changed.new_versions, 2, "added + edited are new versions");

    let repo = env.repository().await;
    let tenant_id = env.tenant().id.to_string();
    let history = |id: String| {
        let repo = repo.clone();
        let tenant_id = tenant_id.clone();
        async move {
            repo.item_history(&tenant_id, &user.to_string(), &id)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        history(flipped.clone()).await.len(),
        1,
        "a read flip is no new version"
    );
    assert_eq!(
        history(edited.clone()).await.len(),
        2,
        "an edit is a new version"
    );
    let purged_history = history(purged.clone()).await;
    assert_eq!(
        purged_history.len(),
        1,
        "the purged item stays in the first restore point"
    );
    assert_eq!(purged_history[0].restore_points.len(), 1);
    assert_eq!(history(added).await.len(), 1);
    assert_eq!(
        history(moved.clone()).await.len(),
        1,
        "a move is no new version"
    );
    assert_eq!(
        history(soft.clone()).await.len(),
        1,
        "a soft delete is a move"
    );
    let m = &env.tenant().mailboxes[&user].primary;
    let items = repository_items(&repo, &user.to_string()).await;
    assert_eq!(items[moved.as_str()].0, m.folder_id("archive").unwrap());
    assert_eq!(
        items[soft.as_str()].0,
        m.folder_id("recoverableitemsdeletions").unwrap()
    );
    assert_eq!(
        items[flipped.as_str()].2["isRead"],
        !read,
        "the read flag is kept"
    );

    // A run with no change reads nothing.
    let third = env.run(&plan).await;
    assert_eq!(third.outcome.items, 0);
    assert_eq!(third.outcome.outcome, Outcome::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_reenumerate_without_duplicates() {
    let env = Env::start().await;
    let plan = env.plan("expiry");
    let first = env.run(&plan).await;
    assert_eq!(
        first.outcome.outcome,
        Outcome::Success,
        "{:?}",
        first.outcome
    );
    let users = mailbox_users(&env.tenant());
    let user = users[0];
    let t = env.target(user, false);
    let ids: Vec<String> = env.tenant().mailboxes[&user]
        .primary
        .messages
        .keys()
        .cloned()
        .collect();
    // A deletion while the tokens are expired must still be found.
    env.mutate(Mutation::DeleteMessage {
        target: t.clone(),
        id: ids[0].clone(),
        purge: true,
    });
    env.mutate(Mutation::ExpireTokens(t));
    let second = env.run(&plan).await;
    assert_eq!(
        second.outcome.outcome,
        Outcome::Success,
        "{:?}",
        second.outcome
    );
    assert_eq!(
        second.outcome.items, 0,
        "unchanged items are not read again"
    );
    let expired = object(&second.outcome, user);
    assert_eq!(expired.new_versions, 0);
    assert_eq!(expired.deletions, 1);
    for u in &users {
        assert_mailbox_matches(&env, *u, &[]).await;
    }
    let repo = env.repository().await;
    let history = repo
        .item_history(&env.tenant().id.to_string(), &user.to_string(), &ids[1])
        .await
        .unwrap();
    assert_eq!(
        history.len(),
        1,
        "re-enumeration stores no duplicate version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_folders_are_not_backed_up() {
    let env = Env::start().await;
    let users = mailbox_users(&env.tenant());
    let user = users[0];
    let t = env.target(user, false);
    for (folder, text) in [("deleteditems", "trash"), ("junkemail", "junk")] {
        env.mutate(Mutation::AddMessage {
            target: t.clone(),
            folder: folder.into(),
            mime: Some(b64(&format!("Subject: {text}\r\n\r\n{text}\r\n"))),
        });
    }
    let sub = env.mutate(Mutation::AddFolder {
        target: t.clone(),
        parent: "deleteditems".into(),
        name: "Old stuff".into(),
        hidden: false,
    })["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.mutate(Mutation::AddMessage {
        target: t.clone(),
        folder: sub.clone(),
        mime: Some(b64("Subject: nested trash\r\n\r\nx\r\n")),
    });
    let mut plan = env.plan("exclusions");
    plan.exclusions.folders.insert(ExcludedFolder::DeletedItems);
    plan.exclusions.folders.insert(ExcludedFolder::JunkEmail);
    plan.exclusions
        .folders
        .insert(ExcludedFolder::RecoverableItems);
    let ran = env.run(&plan).await;
    assert_eq!(ran.outcome.outcome, Outcome::Success, "{:?}", ran.outcome);
    let tenant = env.tenant();
    let m = &tenant.mailboxes[&user].primary;
    let mut skip: Vec<String> = ["deleteditems", "junkemail"]
        .iter()
        .map(|n| m.folder_id(n).unwrap())
        .collect();
    skip.push(sub);
    skip.extend(
        m.folders
            .iter()
            .filter(|f| !f.visible_tree)
            .map(|f| f.id.clone()),
    );
    assert_mailbox_matches(&env, user, &skip).await;
    let repo = env.repository().await;
    let folders: Vec<String> = repository_items(&repo, &user.to_string())
        .await
        .values()
        .map(|(f, _, _)| f.clone())
        .collect();
    assert!(folders.iter().all(|f| !skip.contains(f)));
}

/// A 30 MB+ message is streamed into the repository and comes back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_messages_are_stored_whole() {
    let mut plane = cairn_sim::DataPlaneOptions::default();
    plane.mail.messages_per_mailbox = 2;
    plane.mail.large_message_rate = 0.5;
    plane.mail.events_per_mailbox = 0;
    plane.mail.contacts_per_mailbox = 0;
    plane.mail.archive_messages = 0;
    let env = Env::start_with(plane).await;
    let t = env.tenant();
    let user = mailbox_users(&t)
        .into_iter()
        .find(|u| {
            let m = &t.mailboxes[u].primary;
            m.messages
                .keys()
                .any(|id| m.mime(id).unwrap().len() >= 30 << 20)
        })
        .expect("a mailbox with a large message");
    let mut plan = env.plan("large");
    plan.selection =
        cairn_engine::backup::Selection::Objects(vec![cairn_engine::backup::ObjectSelector::User(
            user.to_string(),
        )]);
    let ran = env.run(&plan).await;
    assert_eq!(ran.outcome.outcome, Outcome::Success, "{:?}", ran.outcome);
    assert!(ran.outcome.bytes_read >= 30 << 20);
    assert_mailbox_matches(&env, user, &[]).await;
}
