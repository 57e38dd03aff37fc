//! Throttling storms and transient faults lose nothing: with a tiny per-mailbox budget,
//! a concurrency limit below Cairn's and random 503s, every message still ends up in
//! the repository byte for byte, the session succeeds, and the 429s were counted. And
//! the pace keeps to a mailbox's budget, known or learned: the simulator's counters
//! show (almost) no request sent beyond it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod backup_support;

use std::time::Duration;

use backup_support::*;
use cairn_engine::backup::{Outcome, ProgressEvent, RunOptions};
use cairn_m365::throttle::MailboxBudget;
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

/// Requests refused for being over the budget, per mailbox, as the simulator counted
/// them; and the total of those mailboxes' requests.
fn budget_refusals(env: &Env) -> (Vec<u64>, u64) {
    let counters = env.mutate(cairn_sim::admin::Mutation::Counters);
    let per_mailbox: Vec<&serde_json::Value> = counters.as_object().unwrap().values().collect();
    (
        per_mailbox
            .iter()
            .map(|c| c["throttled_budget"].as_u64().expect("throttled_budget"))
            .collect(),
        per_mailbox
            .iter()
            .map(|c| c["requests"].as_u64().expect("requests"))
            .sum(),
    )
}

const BUDGET: u32 = 40;
const WINDOW: u64 = 4;

fn budgeted_plane() -> DataPlaneOptions {
    let mut plane = DataPlaneOptions::default();
    // A window long enough that even a slow machine reaches the budget.
    plane.mail.messages_per_mailbox = 90;
    plane.throttle.mailbox_budget = Some(BUDGET);
    plane.throttle.budget_window_secs = WINDOW;
    plane.throttle.mailbox_concurrency = Some(4);
    plane
}

/// Told the budget, Cairn paces each mailbox under it: (almost) no request is sent
/// beyond it — a few may cross while the simulator counts arrivals and Cairn departures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_budget_is_kept() {
    let env = Env::start_with(budgeted_plane()).await;
    let mut plan = env.plan("paced");
    plan.concurrency.objects = 8;
    let options = RunOptions {
        mailbox_budget: Some(MailboxBudget {
            requests: Some(BUDGET),
            window: Duration::from_secs(WINDOW),
        }),
        ..Env::options()
    };
    let ran = env.run_with(&plan, options).await;
    assert_eq!(ran.outcome.outcome, Outcome::Success, "{:?}", ran.outcome);
    let (refused, requests) = budget_refusals(&env);
    eprintln!("refused per mailbox: {refused:?} of {requests} requests");
    assert!(
        refused.len() > 1 && requests > u64::from(BUDGET) * refused.len() as u64 / 2,
        "enough requests to need pacing"
    );
    let total: u64 = refused.iter().sum();
    assert!(
        total <= refused.len() as u64,
        "{total} requests beyond the budget over {} mailboxes ({requests} requests)",
        refused.len()
    );
    for u in mailbox_users(&env.tenant()) {
        assert_mailbox_matches(&env, u, &[]).await;
    }
}

/// Told only the window, Cairn learns each mailbox's budget from its first refusal:
/// after that first burst nothing more is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_budget_is_learned_from_the_first_refusal() {
    let env = Env::start_with(budgeted_plane()).await;
    let mut plan = env.plan("learning");
    plan.concurrency.objects = 8;
    let options = RunOptions {
        mailbox_budget: Some(MailboxBudget {
            requests: None,
            window: Duration::from_secs(WINDOW),
        }),
        ..Env::options()
    };
    let ran = env.run_with(&plan, options).await;
    assert_eq!(ran.outcome.outcome, Outcome::Success, "{:?}", ran.outcome);
    let (refused, requests) = budget_refusals(&env);
    eprintln!("refused per mailbox: {refused:?} of {requests} requests");
    assert!(
        refused.iter().any(|r| *r > 0),
        "the budget was reached: {refused:?}"
    );
    // The first burst: the refused request and those in flight with it (4 at most),
    // plus a few crossing later.
    assert!(
        refused.iter().all(|r| *r <= 8),
        "refused per mailbox: {refused:?} ({requests} requests)"
    );
    assert_eq!(
        ran.outcome.throttled_requests,
        refused.iter().sum::<u64>(),
        "every refusal was counted by the session"
    );
    for u in mailbox_users(&env.tenant()) {
        assert_mailbox_matches(&env, u, &[]).await;
    }
}
