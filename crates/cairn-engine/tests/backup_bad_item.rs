//! One bad item does not fail the job: a message that is listed by its folder's delta
//! but whose MIME cannot be read (404 ErrorItemNotFound — deleted or damaged between
//! the listing and the download) is a warning naming the item; everything else is
//! backed up byte for byte. The item is kept in the object's state and tried again by
//! the next sessions until it is stored (or gone, which ends it quietly).
//!
//! The simulator's `SetUnreadable` mutation makes the failure deterministic: the
//! message stays in the delta pages while its `$value` answers 404.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod backup_support;

use std::collections::BTreeMap;

use backup_support::*;
use cairn_engine::backup::state::ObjectState;
use cairn_engine::backup::{ObjectSelector, Outcome, ProgressEvent, Selection};
use cairn_sim::DataPlaneOptions;
use cairn_sim::admin::Mutation;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_item_is_a_warning_naming_it() {
    let env = Env::start_with(DataPlaneOptions::default()).await;
    let user = mailbox_users(&env.tenant())[0];
    let t = env.target(user, false);
    let inbox = env.tenant().mailboxes[&user]
        .primary
        .folder_id("inbox")
        .unwrap();
    let victim = env.tenant().mailboxes[&user]
        .primary
        .messages
        .values()
        .find(|m| m.parent_folder_id == inbox)
        .expect("the corpus puts mail in the Inbox")
        .id
        .clone();
    set_unreadable(&env, &t, &victim, true);

    let mut plan = env.plan("bad-item");
    plan.selection = Selection::Objects(vec![ObjectSelector::User(user.to_string())]);
    let ran = env.run(&plan).await;
    assert_eq!(ran.outcome.outcome, Outcome::Warning, "{:?}", ran.outcome);
    let object = &ran.outcome.objects[0];
    assert_eq!(object.outcome, Outcome::Warning);
    assert!(
        object
            .messages
            .iter()
            .any(|m| m.contains(&victim) && m.contains("ErrorItemNotFound")),
        "the warning names the item: {:?}",
        object.messages
    );
    assert!(ran.events.iter().any(|e| matches!(
        e,
        ProgressEvent::Warning { item: Some(item), .. } if item.contains(&victim)
    )));
    assert!(
        object.restore_point.is_some(),
        "the restore point was written"
    );

    // Everything but the bad item is in the repository, byte for byte.
    let mut want = simulator_messages(&env.tenant(), user, false, &[]);
    assert!(want.remove(&victim).is_some());
    let repo = env.repository().await;
    let got: BTreeMap<String, (String, Vec<u8>)> = repository_items(&repo, &user.to_string())
        .await
        .into_iter()
        .filter(|(_, (_, _, meta))| meta["kind"] == "message")
        .map(|(id, (folder, content, _))| (id, (folder, content)))
        .collect();
    assert_eq!(
        got, want,
        "every readable message, in its folder, byte for byte"
    );

    assert_eq!(failed_items(&env, user).await, vec![(victim.clone(), 1)]);

    // The item is then really gone: the next session drops it from the items to try
    // again, is clean and matches exactly.
    env.mutate(Mutation::DeleteMessage {
        target: t.clone(),
        id: victim.clone(),
        purge: true,
    });
    let next = env.run(&plan).await;
    assert_eq!(next.outcome.outcome, Outcome::Success, "{:?}", next.outcome);
    assert_mailbox_matches(&env, user, &[]).await;
    assert!(failed_items(&env, user).await.is_empty());
}

/// Makes `id` unreadable (or readable again) in the simulator (`SetUnreadable`).
fn set_unreadable(env: &Env, t: &cairn_sim::admin::Target, id: &str, unreadable: bool) {
    env.mutate(Mutation::SetUnreadable {
        target: t.clone(),
        id: id.to_owned(),
        unreadable,
    });
}

/// The items the latest restore point's state of `user`'s mailbox keeps to try again,
/// with their attempts.
async fn failed_items(env: &Env, user: uuid::Uuid) -> Vec<(String, u32)> {
    failed_items_of(env, &user.to_string()).await
}

/// The same for any protected object (e.g. `{user}/archive`), sorted by item id.
async fn failed_items_of(env: &Env, object: &str) -> Vec<(String, u32)> {
    let repo = env.repository().await;
    let rp = repo.restore_points().await.unwrap().pop().unwrap();
    let entry = rp.object(object).expect("the object");
    let state = ObjectState::from_json(entry.state.clone());
    state
        .failed_items
        .values()
        .flat_map(|items| items.iter().map(|(id, f)| (id.clone(), f.attempts)))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_item_is_tried_again_until_it_is_stored() {
    let env = Env::start_with(DataPlaneOptions::default()).await;
    let user = mailbox_users(&env.tenant())[1];
    let t = env.target(user, false);
    let victim = env.tenant().mailboxes[&user]
        .primary
        .messages
        .values()
        .next()
        .expect("the corpus gives every mailbox mail")
        .id
        .clone();
    set_unreadable(&env, &t, &victim, true);
    let mut plan = env.plan("bad-item-retry");
    plan.selection = Selection::Objects(vec![ObjectSelector::User(user.to_string())]);

    // Session 1: a warning; the item is kept to try again.
    let first = env.run(&plan).await;
    assert_eq!(
        first.outcome.outcome,
        Outcome::Warning,
        "{:?}",
        first.outcome
    );
    assert_eq!(failed_items(&env, user).await, vec![(victim.clone(), 1)]);

    // Session 2: nothing changed in the folder (its delta is empty), but the item is
    // tried again and still fails: a warning again, counting the attempts.
    let second = env.run(&plan).await;
    assert_eq!(
        second.outcome.outcome,
        Outcome::Warning,
        "{:?}",
        second.outcome
    );
    let messages = &second.outcome.objects[0].messages;
    assert!(
        messages
            .iter()
            .any(|m| m.contains(&victim) && m.contains("tried 2 times")),
        "{messages:?}"
    );
    assert_eq!(failed_items(&env, user).await, vec![(victim.clone(), 2)]);

    // Readable again: session 3 stores it, byte for byte, and the warning is gone.
    set_unreadable(&env, &t, &victim, false);
    let third = env.run(&plan).await;
    assert_eq!(
        third.outcome.outcome,
        Outcome::Success,
        "{:?}",
        third.outcome
    );
    assert!(third.outcome.objects[0].messages.is_empty());
    assert_eq!(third.outcome.items, 1, "only the item tried again was read");
    assert!(failed_items(&env, user).await.is_empty());
    assert_mailbox_matches(&env, user, &[]).await;
    let repo = env.repository().await;
    let stored = repository_items(&repo, &user.to_string()).await;
    let want = simulator_messages(&env.tenant(), user, false, &[]);
    assert_eq!(
        stored[&victim].1, want[&victim].1,
        "its MIME, byte for byte"
    );
}

/// An archive item `exportItems` cannot export is kept to try again like a message:
/// looked up by id in its folder, exported again, stored once readable, and forgotten
/// once gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unexportable_archive_item_is_tried_again_until_it_is_stored() {
    let env = Env::start_with(DataPlaneOptions::default()).await;
    let tenant = env.tenant();
    let user = *mailbox_users(&tenant)
        .iter()
        .find(|u| tenant.mailboxes[*u].archive.is_some())
        .expect("the scenario has an archive");
    let object = format!("{user}/archive");
    let t = env.target(user, true);
    let mut ids = tenant.mailboxes[&user]
        .archive
        .as_ref()
        .unwrap()
        .messages
        .keys()
        .cloned();
    let (victim, gone) = (ids.next().unwrap(), ids.next().unwrap());
    drop(tenant);
    for id in [&victim, &gone] {
        set_unreadable(&env, &t, id, true);
    }
    let mut plan = env.plan("bad-archive-item");
    plan.processing.archive = true;
    plan.selection = Selection::Objects(vec![ObjectSelector::User(user.to_string())]);

    // Session 1: both are warnings naming them, kept to try again.
    let first = env.run(&plan).await;
    assert_eq!(
        first.outcome.outcome,
        Outcome::Warning,
        "{:?}",
        first.outcome
    );
    let archive = first
        .outcome
        .objects
        .iter()
        .find(|o| o.messages.iter().any(|m| m.contains(&victim)))
        .expect("a warning names the archive item");
    assert!(
        archive
            .messages
            .iter()
            .any(|m| m.contains("ErrorItemNotFound"))
    );
    let kept = failed_items_of(&env, &object).await;
    let mut want = vec![(victim.clone(), 1), (gone.clone(), 1)];
    want.sort();
    assert_eq!(kept, want, "both are kept to try again");

    // Session 2: one is readable again and stored; the other is gone for good and
    // forgotten quietly.
    set_unreadable(&env, &t, &victim, false);
    env.mutate(Mutation::DeleteMessage {
        target: t.clone(),
        id: gone.clone(),
        purge: true,
    });
    let second = env.run(&plan).await;
    assert_eq!(
        second.outcome.outcome,
        Outcome::Success,
        "{:?}",
        second.outcome
    );
    assert!(failed_items_of(&env, &object).await.is_empty());
    let repo = env.repository().await;
    let stored = repository_items(&repo, &object).await;
    let want = simulator_messages(&env.tenant(), user, true, &[]);
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the archive's items, the gone one no more"
    );
    assert!(
        stored[&victim].1 == want[&victim].1,
        "the item tried again, byte for byte"
    );
}
