//! `cairn demo` backs up the demo organization: on a fresh data directory it creates the
//! repository and the job, runs a full then an incremental session, prints both; run
//! again on the same directory it reuses them. The repository checks clean.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::process::Command;

use cairn_catalog::Catalog;
use cairn_catalog::sessions as table;

fn cairn(home: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args)
        .env("CAIRN_HOME", home)
        .env_remove("CAIRN_M365_CONNECT")
        .env_remove("CAIRN_M365_CA_FILE")
        .env_remove("CAIRN_REPO_PASSWORD");
    let out = match stdin {
        Some(input) => {
            use std::io::Write as _;
            let mut child = cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        }
        None => cmd.output().unwrap(),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "$ cairn {}\n{stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), stdout)
}

async fn sessions(home: &std::path::Path) -> Vec<table::SessionRecord> {
    let catalog = Catalog::open(home).await.unwrap();
    let list = table::list_for_job(&catalog, "demo").await.unwrap();
    catalog.close().await;
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_backs_up_then_runs_an_incremental() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout) = cairn(home.path(), &["demo"], None);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("Created repository demo in"), "{stdout}");
    assert!(stdout.contains("Created job demo"), "{stdout}");
    assert!(stdout.contains("an incremental backup"), "{stdout}");
    let list = sessions(home.path()).await;
    assert_eq!(list.len(), 2);
    let (incremental, full) = (&list[0], &list[1]);
    assert_eq!(full.status, "Success");
    assert_eq!(incremental.status, "Success");
    assert!(full.counters.items > 0 && full.counters.objects_total > 0);
    assert!(
        incremental.counters.items < full.counters.items,
        "incremental {} vs full {} items",
        incremental.counters.items,
        full.counters.items
    );
    // Both sessions were printed.
    assert!(stdout.contains(&full.id) && stdout.contains(&incremental.id));

    // The repository is readable with the printed demo password and checks clean.
    let (code, check) = cairn(
        home.path(),
        &["repo", "check", "demo", "--password-stdin"],
        Some("cairn-demo\n"),
    );
    assert_eq!(code, 0, "{check}");

    // Again on the same data directory: repository and job are reused.
    let (code, stdout) = cairn(home.path(), &["demo"], None);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("Reusing repository demo"), "{stdout}");
    assert_eq!(sessions(home.path()).await.len(), 4);
}
