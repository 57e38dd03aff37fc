//! One bad item does not fail the job: a message deleted between the delta page that
//! listed it and the download of its MIME (404 ErrorItemNotFound mid-run) is a warning
//! naming the item; everything else is backed up, and the next session is clean.
//!
//! The deletion lands in the gap Exchange leaves too: the simulator adds latency after
//! serving each request, so once the first downloads of the page arrive together (the
//! only concurrent requests of this mailbox), the last message of the page is deleted
//! before its own download is sent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod backup_support;

use std::time::Duration;

use backup_support::*;
use cairn_engine::backup::{ObjectSelector, Outcome, ProgressEvent, RunOptions, Selection};
use cairn_sim::DataPlaneOptions;
use cairn_sim::admin::Mutation;

fn requests(env: &Env) -> u64 {
    env.mutate(Mutation::Counters)
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["requests"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_deleted_mid_run_is_a_warning() {
    let env = Env::start_with(DataPlaneOptions::default()).await;
    let user = mailbox_users(&env.tenant())[0];
    let t = env.target(user, false);
    // Only the Inbox holds mail: it is the first folder read, one page of 8+ messages.
    let inbox = env.tenant().mailboxes[&user]
        .primary
        .folder_id("inbox")
        .unwrap();
    for m in env.tenant().mailboxes[&user].primary.messages.values() {
        if m.parent_folder_id != inbox {
            env.mutate(Mutation::DeleteMessage {
                target: t.clone(),
                id: m.id.clone(),
                purge: true,
            });
        }
    }
    while env.tenant().mailboxes[&user].primary.messages.len() < 8 {
        env.mutate(Mutation::AddMessage {
            target: t.clone(),
            folder: "inbox".into(),
            mime: None,
        });
    }
    // The page lists messages in change order: the last one is downloaded last.
    let victim = env.tenant().mailboxes[&user]
        .primary
        .messages
        .values()
        .max_by_key(|m| (m.seq, m.id.clone()))
        .unwrap()
        .id
        .clone();
    let mut throttle = env.sim.throttling();
    throttle.latency_ms = 800;
    env.sim.set_throttling(throttle);

    let mut plan = env.plan("bad-item");
    plan.selection = Selection::Objects(vec![ObjectSelector::User(user.to_string())]);
    let options = RunOptions {
        page_size: 50,
        ..Env::options()
    };
    let deleter = async {
        let mut last = requests(&env);
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let now = requests(&env);
            if now >= last + 2 {
                // Several requests at once: the first downloads. Delete the last one.
                env.mutate(Mutation::DeleteMessage {
                    target: t.clone(),
                    id: victim.clone(),
                    purge: true,
                });
                return;
            }
            last = now;
        }
    };
    let (ran, ()) = tokio::join!(env.run_with(&plan, options), deleter);
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
    assert_mailbox_matches(&env, user, &[]).await;

    let mut throttle = env.sim.throttling();
    throttle.latency_ms = 0;
    env.sim.set_throttling(throttle);
    let next = env.run(&plan).await;
    assert_eq!(next.outcome.outcome, Outcome::Success, "{:?}", next.outcome);
    assert_mailbox_matches(&env, user, &[]).await;
}
