//! Throttling storms and transient faults lose nothing: with a tiny per-mailbox budget,
//! a concurrency limit below Cairn's and random 503s, every message still ends up in
//! the repository byte for byte, the session succeeds, and the 429s were counted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod backup_support;

use backup_support::*;
use cairn_engine::backup::{Outcome, ProgressEvent};
use cairn_sim::DataPlaneOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_and_faults_lose_nothing() {
    let mut plane = DataPlaneOptions::default();
    plane.mail.messages_per_mailbox = 12;
    // Fewer concurrent requests than Cairn sends (429 ApplicationThrottled), a budget
    // exhausted every few requests (429 with Retry-After), and 15 % transient faults.
    plane.throttle.mailbox_concurrency = Some(2);
    plane.throttle.mailbox_budget = Some(25);
    plane.throttle.budget_window_secs = 1;
    plane.throttle.fault_rate = 0.15;
    plane.throttle.fault_seed = 7;
    plane.throttle.fault_retry_after_secs = 0;
    let env = Env::start_with(plane).await;
    let plan = env.plan("storm");
    let ran = env.run(&plan).await;
    assert_eq!(ran.outcome.outcome, Outcome::Success, "{:?}", ran.outcome);
    assert!(ran.outcome.throttled_requests > 0, "the storm was felt");
    assert!(
        ran.events.iter().any(|e| matches!(
            e,
            ProgressEvent::Throttled {
                object: Some(_),
                ..
            }
        )),
        "throttling is reported while running, with the mailbox it concerns"
    );
    let users = mailbox_users(&env.tenant());
    let total: usize = users
        .iter()
        .map(|u| env.tenant().mailboxes[u].primary.messages.len())
        .sum();
    assert_eq!(ran.outcome.items as usize, total);
    for u in &users {
        assert_mailbox_matches(&env, *u, &[]).await;
    }
    // Exchange's concurrency limit was never exceeded by Cairn itself.
    let counters = env.mutate(cairn_sim::admin::Mutation::Counters);
    for (mailbox, c) in counters.as_object().unwrap() {
        let peak = c["peak_in_flight"]
            .as_u64()
            .expect("peak_in_flight counter");
        assert!(
            (1..=4).contains(&peak),
            "{mailbox}: {peak} requests in flight"
        );
    }
}
