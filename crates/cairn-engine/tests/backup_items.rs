//! Calendar, contacts and the in-place archive, end to end: every event and contact
//! the simulator holds is in the repository (as its Graph JSON), every archive message
//! byte for byte (from the mailbox export API), and changes to each are picked up
//! incrementally.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod backup_support;

use std::collections::BTreeSet;

use backup_support::*;
use base64::Engine as _;
use cairn_engine::backup::{Outcome, Processing};
use cairn_sim::admin::Mutation;
use serde_json::json;

fn ids(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn repo_ids(env: &Env, object: &str, kind: &str) -> BTreeSet<String> {
    let repo = env.repository().await;
    repository_items(&repo, object)
        .await
        .into_iter()
        .filter(|(_, (_, _, meta))| meta["kind"] == kind)
        .map(|(id, _)| id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_contacts_and_archive() {
    let env = Env::start().await;
    let mut plan = env.plan("everything");
    plan.processing = Processing::default();
    let first = env.run(&plan).await;
    assert_eq!(
        first.outcome.outcome,
        Outcome::Success,
        "{:?}",
        first.outcome
    );

    let tenant = env.tenant();
    let users = mailbox_users(&tenant);
    let mut archives = 0;
    for u in &users {
        let entries = env.mutate(Mutation::ListEntries(env.target(*u, false)));
        assert_eq!(
            repo_ids(&env, &u.to_string(), "event").await,
            ids(&entries["events"]),
            "events of {u}"
        );
        assert_eq!(
            repo_ids(&env, &u.to_string(), "contact").await,
            ids(&entries["contacts"]),
            "contacts of {u}"
        );
        assert_mailbox_matches(&env, *u, &[]).await;
        if let Some(archive) = &tenant.mailboxes[u].archive {
            archives += 1;
            let repo = env.repository().await;
            let got = repository_items(&repo, &format!("{u}/archive")).await;
            assert_eq!(got.len(), archive.messages.len(), "archive of {u}");
            for id in archive.messages.keys() {
                assert!(
                    got[id].1 == archive.mime(id).unwrap(),
                    "archive item {id} differs"
                );
            }
        }
    }
    assert!(archives > 0, "the scenario has an archive");
    let events: usize = users
        .iter()
        .map(|u| tenant.mailboxes[u].primary.events.len())
        .sum();
    assert!(events > 0, "the scenario has events");

    // Change an event, a contact, the archive; the next session picks them up.
    let user = *users
        .iter()
        .find(|u| tenant.mailboxes[*u].archive.is_some())
        .unwrap();
    let t = env.target(user, false);
    let entries = env.mutate(Mutation::ListEntries(t.clone()));
    let event = entries["events"][0]["id"].as_str().unwrap().to_owned();
    let contact = entries["contacts"][0]["id"].as_str().unwrap().to_owned();
    env.mutate(Mutation::EditEvent {
        target: t.clone(),
        id: event.clone(),
        patch: json!({"subject": "moved to Thursday"}),
    });
    env.mutate(Mutation::DeleteContact {
        target: t.clone(),
        id: contact.clone(),
    });
    let archive_folder = tenant.mailboxes[&user]
        .archive
        .as_ref()
        .unwrap()
        .messages
        .values()
        .next()
        .unwrap()
        .parent_folder_id
        .clone();
    let added = env.mutate(Mutation::AddMessage {
        target: env.target(user, true),
        folder: archive_folder,
        mime: Some(
            base64::engine::general_purpose::STANDARD
                .encode("From: a@example.com\r\nSubject: archived later\r\n\r\nold news\r\n"),
        ),
    });
    let added = added["id"].as_str().unwrap().to_owned();
    let second = env.run(&plan).await;
    assert_eq!(
        second.outcome.outcome,
        Outcome::Success,
        "{:?}",
        second.outcome
    );
    assert_eq!(
        second.outcome.items, 2,
        "the edited event and the archived message"
    );

    let repo = env.repository().await;
    let items = repository_items(&repo, &user.to_string()).await;
    let stored: serde_json::Value = serde_json::from_slice(&items[event.as_str()].1).unwrap();
    assert_eq!(stored["subject"], "moved to Thursday");
    assert!(
        !items.contains_key(contact.as_str()),
        "the deleted contact is gone"
    );
    let archive = repository_items(&repo, &format!("{user}/archive")).await;
    let mime = env.tenant().mailboxes[&user]
        .archive
        .as_ref()
        .unwrap()
        .mime(&added)
        .unwrap();
    assert!(archive[added.as_str()].1 == mime);
}
