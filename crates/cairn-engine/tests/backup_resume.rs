//! A backup killed with SIGKILL mid-run continues where it was when started again:
//! the next session resumes the killed one from its last checkpoint, does not read
//! finished folders again, and the repository stays consistent (check passes, every
//! message matches the simulator's byte for byte).
//!
//! The killed process is this test binary itself, re-run with only the ignored
//! `backup_child` test selected: it runs `backup::run` against the parent's simulator
//! and catalog until the parent kills it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod backup_support;

use std::process::Stdio;
use std::time::Duration;

use backup_support::*;
use cairn_engine::backup::{Outcome, RunOptions};

const CHILD_HOME: &str = "CAIRN_TEST_CHILD_HOME";
const CHILD_CONNECT: &str = "CAIRN_TEST_CHILD_CONNECT";
const CHILD_CA: &str = "CAIRN_TEST_CHILD_CA";
const JOB: &str = "resume";

fn child_options() -> RunOptions {
    RunOptions {
        page_size: 5,
        checkpoint_every: Duration::ZERO,
        ..RunOptions::default()
    }
}

/// The process the parent kills (run only by `killed_backup_resumes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of killed_backup_resumes"]
async fn backup_child() {
    let home = std::env::var(CHILD_HOME).expect("run by killed_backup_resumes");
    let connect: std::net::SocketAddr = std::env::var(CHILD_CONNECT).unwrap().parse().unwrap();
    let ca = std::fs::read(std::env::var(CHILD_CA).unwrap()).unwrap();
    let env = ChildEnv::open(std::path::Path::new(&home), connect, ca).await;
    let outcome = env.run(JOB, child_options()).await;
    panic!("the child should have been killed, but finished: {outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_backup_resumes() {
    let env = Env::start_slow().await;
    let plan = env.plan(JOB);
    let sessions = env.repo_dir.path().join("repo").join("sessions");
    let ca = env.home.path().join("sim-ca.pem");
    std::fs::write(&ca, env.sim.ca_pem()).unwrap();
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "backup_child", "--nocapture"])
        .env(CHILD_HOME, env.home.path())
        .env(CHILD_CONNECT, env.sim.addr().to_string())
        .env(CHILD_CA, &ca)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Kill it once it has checkpointed a few folders.
    let mut checkpoints = 0;
    let mut last = None;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended before it was killed: {status}");
        }
        let modified = std::fs::read_dir(&sessions)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok()?.metadata().ok()?.modified().ok());
        if modified.is_some() && modified != last {
            last = modified;
            checkpoints += 1;
            if checkpoints >= 3 {
                break;
            }
        }
    }
    assert!(checkpoints >= 3, "the child never checkpointed");
    // SIGKILL: no chance to clean up.
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let repo = env.repository().await;
    let killed = repo.incomplete_sessions().await.unwrap();
    assert_eq!(killed.len(), 1, "the killed session left its checkpoint");
    let killed_session = killed[0].session;
    let done_before: u64 = killed[0].objects.iter().map(|o| o.items).sum();
    assert!(done_before > 0, "items were stored before the kill");

    let resumed = env.run_with(&plan, child_options()).await;
    assert_eq!(
        resumed.outcome.outcome,
        Outcome::Success,
        "{:?}",
        resumed.outcome.errors
    );
    let total: usize = mailbox_users(&env.tenant())
        .iter()
        .map(|u| env.tenant().mailboxes[u].primary.messages.len())
        .sum();
    assert!(
        (resumed.outcome.items as usize) < total,
        "the resumed session read {} items of {total}: finished folders were read again",
        resumed.outcome.items
    );

    let repo = env.repository().await;
    let rps = repo.restore_points().await.unwrap();
    assert_eq!(rps.len(), 1);
    assert_eq!(
        rps[0].session, killed_session,
        "the killed session was resumed"
    );
    assert!(repo.incomplete_sessions().await.unwrap().is_empty());
    let report = repo
        .check(&cairn_repo::CheckOptions {
            read_data: true,
            sample_percent: None,
        })
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for u in mailbox_users(&env.tenant()) {
        assert_mailbox_matches(&env, u, &[]).await;
    }
}
