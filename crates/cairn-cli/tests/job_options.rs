//! What a job's options do to its sessions, end to end: excluded users and folders are
//! not backed up, and a session slowed by Microsoft (transient 503s with Retry-After,
//! a per-mailbox budget) records that it was throttled — and still loses nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod job_support;

use cairn_catalog::sessions as table;
use cairn_sim::ThrottleConfig;
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
        "--store-password",
        "--password-stdin",
    ];
    args.extend_from_slice(extra);
    let run = env.cairn(&args, &format!("{REPO_PASSWORD}\n")).await;
    assert_eq!(run.code, 0, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_users_and_folders_are_not_backed_up() {
    let env = Env::with_org_and_repo().await;
    create_job(
        &env,
        "most",
        &[
            "--all",
            "--exclude-user",
            "bob@contoso.com",
            "--exclude-folder",
            "deleted-items,junk-email",
            "--no-archive",
        ],
    )
    .await;
    // Make sure the excluded folders hold something to leave out.
    for folder in ["deleteditems", "junkemail"] {
        env.sim
            .mutate(cairn_sim::admin::Mutation::AddMessage {
                target: cairn_sim::admin::target("contoso", "alice@contoso.com", false),
                folder: folder.into(),
                mime: None,
            })
            .unwrap();
    }
    let run = env.cairn(&["job", "start", "most"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    let s = &env.sessions("most").await[0];
    let catalog = env.catalog().await;
    let objects = table::objects(&catalog, &s.id).await.unwrap();
    assert!(!objects.is_empty());
    assert!(
        objects.iter().all(|o| o.name != "bob@contoso.com"),
        "{objects:?}"
    );
    assert!(objects.iter().all(|o| o.kind != "archive"), "{objects:?}");
    assert!(objects.iter().any(|o| o.name == "alice@contoso.com"));

    // Alice's excluded folders are not in the repository; her inbox is.
    let repo = env.repository().await;
    let rp = repo.restore_points().await.unwrap().pop().unwrap();
    let alice = objects
        .iter()
        .find(|o| o.name == "alice@contoso.com")
        .unwrap();
    let folders_of = |wk: &str| -> Vec<String> {
        env.sim
            .mutate(cairn_sim::admin::Mutation::ListFolders(
                cairn_sim::admin::target("contoso", "alice@contoso.com", false),
            ))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["wellKnownName"] == wk)
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    let items = repo.list_items(&rp, &alice.object_id).await.unwrap();
    for wk in ["deleteditems", "junkemail"] {
        let excluded = folders_of(wk);
        assert!(!excluded.is_empty(), "alice has a {wk} folder");
        let held = env
            .sim
            .messages("contoso", "alice@contoso.com", false)
            .unwrap()
            .into_iter()
            .filter(|m| excluded.contains(&m.folder_id))
            .count();
        assert!(held > 0, "the simulator holds messages in {wk}");
        assert!(
            items.iter().all(|i| !excluded.contains(&i.folder)),
            "items of {wk} were backed up"
        );
    }
    let inbox = folders_of("inbox");
    assert!(items.iter().any(|i| inbox.contains(&i.folder)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_session_says_so_and_loses_nothing() {
    let env = Env::with_org_and_repo().await;
    create_job(&env, "all", &["--all"]).await;
    env.sim.set_throttling(ThrottleConfig {
        fault_rate: 0.15,
        fault_retry_after_secs: 1,
        mailbox_concurrency: Some(4),
        ..ThrottleConfig::default()
    });
    let run = env.cairn(&["job", "start", "all"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    env.sim.set_throttling(ThrottleConfig::default());
    let s = &env.sessions("all").await[0];
    assert_eq!(s.status, "Success");
    assert!(s.counters.throttled_requests > 0, "{s:?}");
    assert!(s.counters.throttled_ms > 0, "{s:?}");
    let show = env.cairn(&["session", "show", &s.id], "").await;
    assert!(
        show.stdout.contains(&format!(
            "{} of {} requests throttled",
            s.counters.throttled_requests, s.counters.requests
        )),
        "{}",
        show.stdout
    );
    assert_nothing_lost(&env).await;
    assert_repository_consistent(&env).await;
}
