//! `cairn serve` end to end: an enabled `--every 1m` job runs by itself, again and
//! again (the server's clock sped up 60×, so a minute passes each second), while a
//! disabled periodic job and a manual job never run; SIGTERM shuts the server down
//! cleanly. No timing assertions: the loops only bound a broken run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod job_support;

use std::time::Duration;

use job_support::{Env, REPO_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_due_jobs_and_shuts_down_on_sigterm() {
    let env = Env::with_org_and_repo().await;
    let common = ["--org", "contoso", "--repo", "main", "--retries", "0"];
    for (name, extra) in [
        (
            "periodic",
            vec![
                "--user",
                "bob@contoso.com",
                "--every",
                "1m",
                "--store-password",
                "--password-stdin",
            ],
        ),
        (
            "disabled",
            vec!["--user", "carol@contoso.com", "--every", "1m", "--disabled"],
        ),
        ("manual", vec!["--user", "carol@contoso.com"]),
    ] {
        let mut args = vec!["job", "create", name];
        args.extend(common);
        args.extend(job_support::PROCESSING);
        args.extend(extra);
        let run = env.cairn(&args, &format!("{REPO_PASSWORD}\n")).await;
        assert_eq!(run.code, 0, "{run:?}");
    }

    let serve = env
        .command(&["serve", "--tick", "1", "--time-scale", "60"])
        .spawn()
        .unwrap();
    let pid = serve.id().unwrap();
    let mut finished = Vec::new();
    for _ in 0..600 {
        finished = env
            .sessions("periodic")
            .await
            .into_iter()
            .filter(|s| s.status != "Running")
            .collect();
        if finished.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        finished.len() >= 2,
        "the periodic job did not run twice: {finished:?}"
    );
    assert!(
        finished.iter().all(|s| s.status == "Success"),
        "{finished:?}"
    );
    assert!(env.sessions("disabled").await.is_empty());
    assert!(env.sessions("manual").await.is_empty());

    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = serve.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("job periodic: due"), "{stdout}");
    assert!(stdout.contains("cairn serve: stopped"), "{stdout}");
    // Nothing is left running after a clean shutdown.
    let sessions = env.sessions("periodic").await;
    assert!(
        sessions.iter().all(|s| s.status != "Running"),
        "{sessions:?}"
    );
    let log = std::fs::read_to_string(env.home.path().join("logs/periodic.log")).unwrap();
    assert!(log.contains("Session "), "{log}");
}
