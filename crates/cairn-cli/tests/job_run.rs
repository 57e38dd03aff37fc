//! `cairn job start` end to end against the simulator: sessions recorded with their
//! per-object results, exit statuses, an incremental run after changes, `session show`,
//! one session per job at a time (`--wait`), `job stop`, and a `job start` killed with
//! SIGKILL then started again (the session is marked Interrupted, the next run
//! resumes, the repository checks clean, and every message is in it byte for byte).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod job_support;

use std::time::Duration;

use cairn_catalog::sessions as table;
use cairn_sim::ThrottleConfig;
use cairn_sim::admin::{Mutation, target};
use job_support::{Env, REPO_PASSWORD, assert_nothing_lost, assert_repository_consistent};

async fn create_job(env: &Env, name: &str, extra: &[&str]) {
    let mut args = vec![
        "job",
        "create",
        name,
        "--org",
        "contoso",
        "--repo",
        "main",
        "--retries",
        "0",
        "--store-password",
        "--password-stdin",
    ];
    args.extend_from_slice(job_support::PROCESSING);
    args.extend_from_slice(extra);
    let run = env.cairn(&args, &format!("{REPO_PASSWORD}\n")).await;
    assert_eq!(run.code, 0, "{run:?}");
}

/// Polls (without timing assertions: the bound only keeps a broken run from hanging
/// the suite) until `ready` holds for the job's newest session.
async fn wait_for_session(
    env: &Env,
    job: &str,
    what: &str,
    ready: impl Fn(&table::SessionRecord) -> bool,
) -> table::SessionRecord {
    for _ in 0..1200 {
        if let Some(s) = env.sessions(job).await.into_iter().next()
            && ready(&s)
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {job}: never {what}");
}

fn slow(env: &Env, latency_ms: u64) {
    env.sim.set_throttling(ThrottleConfig {
        latency_ms,
        ..ThrottleConfig::default()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_recorded_and_incremental_runs_read_only_changes() {
    let env = Env::with_org_and_repo().await;
    create_job(&env, "all", &["--all"]).await;

    let first = env.cairn(&["job", "start", "all"], "").await;
    assert_eq!(first.code, 0, "{first:?}");
    // Not a terminal: plain log lines.
    assert!(first.stdout.contains("discovered "), "{}", first.stdout);
    assert!(first.stdout.contains("Session "), "{}", first.stdout);

    let sessions = env.sessions("all").await;
    assert_eq!(sessions.len(), 1);
    let s1 = &sessions[0];
    assert_eq!(s1.status, "Success");
    assert!(s1.ended_at.is_some() && s1.pid.is_none());
    assert!(s1.counters.objects_total > 0);
    assert_eq!(s1.counters.objects_done, s1.counters.objects_total);
    assert!(s1.counters.items > 0 && s1.counters.bytes_read > 0);
    assert!(s1.counters.requests > 0);
    let catalog = env.catalog().await;
    let objects = table::objects(&catalog, &s1.id).await.unwrap();
    assert_eq!(objects.len() as u64, s1.counters.objects_total);
    assert!(
        objects.iter().all(|o| o.outcome == "success"),
        "{objects:?}"
    );
    assert!(objects.iter().all(|o| o.restore_point.is_some()));
    assert_eq!(
        objects.iter().map(|o| o.items).sum::<u64>(),
        s1.counters.items
    );
    assert_nothing_lost(&env).await;

    // Change the tenant: a new message, an edit, a move, a delete.
    let inbox = target("contoso", "alice@contoso.com", false);
    env.sim
        .mutate(Mutation::AddMessage {
            target: inbox.clone(),
            folder: "inbox".into(),
            mime: None,
        })
        .unwrap();
    let messages = env
        .sim
        .messages("contoso", "alice@contoso.com", false)
        .unwrap();
    assert!(messages.len() >= 3, "alice has messages to change");
    env.sim
        .mutate(Mutation::EditMessage {
            target: inbox.clone(),
            id: messages[0].id.clone(),
            subject: Some("edited by job_run".into()),
        })
        .unwrap();
    env.sim
        .mutate(Mutation::MoveMessage {
            target: inbox.clone(),
            id: messages[1].id.clone(),
            folder: "archive".into(),
        })
        .unwrap();
    env.sim
        .mutate(Mutation::DeleteMessage {
            target: inbox.clone(),
            id: messages[2].id.clone(),
            purge: true,
        })
        .unwrap();

    let second = env.cairn(&["job", "start", "all"], "").await;
    assert_eq!(second.code, 0, "{second:?}");
    let sessions = env.sessions("all").await;
    assert_eq!(sessions.len(), 2);
    let s2 = &sessions[0];
    assert_eq!(s2.status, "Success");
    assert!(
        s2.counters.items < s1.counters.items / 2,
        "the incremental run read {} items, the full one {}",
        s2.counters.items,
        s1.counters.items
    );
    let objects = table::objects(&catalog, &s2.id).await.unwrap();
    let alice = objects
        .iter()
        .find(|o| o.name == "alice@contoso.com" && o.kind == "mailbox")
        .expect("alice's mailbox in the session");
    assert!(alice.new_versions >= 2, "{alice:?}");
    assert!(alice.deletions >= 1, "{alice:?}");
    assert_nothing_lost(&env).await;
    assert_repository_consistent(&env).await;

    // The history, and one session in detail by an id prefix.
    let list = env.cairn(&["job", "sessions", "all"], "").await;
    assert_eq!(list.code, 0);
    assert_eq!(list.stdout.lines().count(), 3, "{}", list.stdout);
    let show = env.cairn(&["session", "show", &s2.id[..8]], "").await;
    assert_eq!(show.code, 0, "{show:?}");
    for expected in ["alice@contoso.com", "Success", "slowed by", "items/s"] {
        assert!(
            show.stdout.contains(expected),
            "{expected:?} in {}",
            show.stdout
        );
    }
    let job = env.cairn(&["job", "show", "all"], "").await;
    assert!(job.stdout.contains(&s2.id), "{}", job.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warning_and_failed_sessions_exit_1_and_2() {
    let env = Env::with_org_and_repo().await;
    // A selected mailbox that does not exist: the session warns, naming it.
    create_job(&env, "ghost", &["--user", "nobody@contoso.com"]).await;
    let run = env.cairn(&["job", "start", "ghost"], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    let s = &env.sessions("ghost").await[0];
    assert_eq!(s.status, "Warning");
    let catalog = env.catalog().await;
    let messages = table::messages(&catalog, &s.id).await.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.severity == "warning" && m.message.contains("nobody@contoso.com")),
        "{messages:?}"
    );
    let show = env.cairn(&["session", "show", &s.id], "").await;
    assert_eq!(show.code, 1);
    assert!(
        show.stdout.contains("nobody@contoso.com"),
        "{}",
        show.stdout
    );

    // The repository is gone: the session fails and says so.
    create_job(&env, "all", &["--all"]).await;
    let repo_dir = env.home.path().join("repositories").join("main");
    std::fs::rename(&repo_dir, env.home.path().join("moved-away")).unwrap();
    let failed = env.cairn(&["job", "start", "all"], "").await;
    assert_eq!(failed.code, 2, "{failed:?}");
    let s = &env.sessions("all").await[0];
    assert_eq!(s.status, "Failed");
    let messages = table::messages(&catalog, &s.id).await.unwrap();
    assert!(
        messages.iter().any(|m| m.severity == "error"),
        "{messages:?}"
    );
    assert!(failed.stdout.contains("Failed"), "{}", failed.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_per_job_wait_and_stop() {
    let env = Env::with_org_and_repo().await;
    create_job(&env, "all", &["--all"]).await;
    slow(&env, 150);
    let mut running = env.command(&["job", "start", "all"]).spawn().unwrap();
    let s = wait_for_session(&env, "all", "started", |s| s.status == "Running").await;

    // A second start is refused, naming the session; with --wait it waits for it.
    let refused = env.cairn(&["job", "start", "all"], "").await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("already running"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains(&s.id), "{}", refused.stderr);
    let waiter = env
        .command(&["job", "start", "all", "--wait"])
        .spawn()
        .unwrap();

    let stop = env.cairn(&["job", "stop", "all", "--wait"], "").await;
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.stdout.contains("Stopped"), "{}", stop.stdout);
    let status = running.wait().await.unwrap();
    assert_eq!(status.code(), Some(2), "a stopped session exits 2");
    let waited = waiter.wait_with_output().await.unwrap();
    let waited_out = String::from_utf8_lossy(&waited.stdout);
    assert!(waited_out.contains("waiting for it"), "{waited_out}");
    assert_eq!(waited.status.code(), Some(2), "{waited_out}");
    let stopped = &env.sessions("all").await[0];
    assert_eq!(stopped.id, s.id);
    assert_eq!(stopped.status, "Stopped");

    // The next run finishes the job; nothing is lost.
    slow(&env, 0);
    let next = env.cairn(&["job", "start", "all"], "").await;
    assert_eq!(next.code, 0, "{next:?}");
    assert_nothing_lost(&env).await;
    assert_repository_consistent(&env).await;
    let stop_idle = env.cairn(&["job", "stop", "all"], "").await;
    assert_eq!(stop_idle.code, 0);
    assert!(stop_idle.stdout.contains("not running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_job_start_is_interrupted_and_the_next_run_resumes() {
    let env = Env::with_org_and_repo().await;
    create_job(&env, "all", &["--all"]).await;
    slow(&env, 600);
    let mut child = env.command(&["job", "start", "all"]).spawn().unwrap();
    // Kill it once the repository holds its checkpoint (something to resume).
    let checkpoints = env.home.path().join("repositories/main/sessions");
    let mut checkpointed = false;
    for _ in 0..1200 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the session ended ({status}) before it could be killed; make the simulator slower"
            );
        }
        if std::fs::read_dir(&checkpoints).is_ok_and(|mut d| d.next().is_some()) {
            checkpointed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(checkpointed, "the session never checkpointed");
    let s = env.sessions("all").await.remove(0);
    child.start_kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().await.unwrap();
    assert_eq!(env.sessions("all").await[0].status, "Running");

    // Any look at the job notices the dead process.
    let list = env.cairn(&["job", "sessions", "all"], "").await;
    assert!(list.stdout.contains("Interrupted"), "{}", list.stdout);
    let catalog = env.catalog().await;
    let messages = table::messages(&catalog, &s.id).await.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.message.contains("ended without finishing")),
        "{messages:?}"
    );

    slow(&env, 0);
    let repo = env.repository().await;
    assert_eq!(
        repo.incomplete_sessions().await.unwrap().len(),
        1,
        "the killed run left a checkpoint"
    );
    let again = env.cairn(&["job", "start", "all"], "").await;
    assert_eq!(again.code, 0, "{again:?}");
    let sessions = env.sessions("all").await;
    assert_eq!(sessions[0].status, "Success");
    assert_eq!(sessions[1].status, "Interrupted");
    let repo = env.repository().await;
    assert!(repo.incomplete_sessions().await.unwrap().is_empty());
    assert_repository_consistent(&env).await;
    assert_nothing_lost(&env).await;
}
