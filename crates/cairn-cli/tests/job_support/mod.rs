//! Shared harness of the `job_*` end-to-end tests: the tenant simulator runs in the test
//! process (cairn-sim library), the real `cairn` binary runs as a child process with its
//! own data directory, reaching the simulator through `CAIRN_M365_CONNECT` and
//! `CAIRN_M365_CA_FILE`; passwords go on stdin. The organization is added and the
//! repository created with `cairn org add` / `cairn repo create`, like a user would.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use cairn_catalog::Catalog;
use cairn_catalog::sessions::{self as table, SessionRecord};
use cairn_repo::{Credentials, Location, Repository};
use cairn_sim::{Scenario, SimHandle, SimOptions, Simulator, TenantState};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

pub const ADMIN: &str = "admin@contoso.onmicrosoft.com";
pub const REPO_PASSWORD: &str = "job tests: correct horse";
/// Processing options the run tests add to their jobs: none, so every part of each
/// mailbox (mail, archive, calendar, contacts) goes through the job machinery.
pub const PROCESSING: &[&str] = &[];

/// A running simulator and a Cairn data directory.
pub struct Env {
    pub sim: SimHandle,
    pub home: TempDir,
    _state: TempDir,
}

/// What a `cairn` run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Env {
    pub async fn start() -> Env {
        let state = tempfile::tempdir().unwrap();
        let sim = Simulator::start(
            Scenario::default(),
            SimOptions {
                state_dir: state.path().to_owned(),
                ..SimOptions::default()
            },
        )
        .await
        .unwrap();
        Env {
            sim,
            home: tempfile::tempdir().unwrap(),
            _state: state,
        }
    }

    /// With the organization `contoso` added and an encrypted repository `main`.
    pub async fn with_org_and_repo() -> Env {
        let env = Env::start().await;
        let org = env
            .cairn(
                &[
                    "org",
                    "add",
                    "contoso",
                    "--user",
                    ADMIN,
                    "--password-stdin",
                    "--services",
                    "exchange",
                ],
                &format!("{}\n", admin_password()),
            )
            .await;
        assert_eq!(org.code, 0, "org add: {org:?}");
        let repo = env
            .cairn(
                &[
                    "repo",
                    "create",
                    "main",
                    "--password-stdin",
                    "--kdf-memory-mib",
                    "1",
                ],
                &format!("{REPO_PASSWORD}\n"),
            )
            .await;
        assert_eq!(repo.code, 0, "repo create: {repo:?}");
        env
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.args(args)
            .env("CAIRN_HOME", self.home.path())
            .env("CAIRN_M365_CONNECT", self.sim.addr().to_string())
            .env("CAIRN_M365_CA_FILE", self.sim.ca_path())
            .env_remove("CAIRN_LOG")
            .env_remove("CAIRN_REPO_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs `cairn args…` with `stdin` and waits for it.
    pub async fn cairn(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self.command(args).spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!(
            "$ cairn {}\n{}{}(exit {})",
            args.join(" "),
            run.stdout,
            run.stderr,
            run.code
        );
        run
    }

    pub async fn catalog(&self) -> Catalog {
        Catalog::open(self.home.path()).await.unwrap()
    }

    /// The job's sessions, newest first.
    pub async fn sessions(&self, job: &str) -> Vec<SessionRecord> {
        let catalog = self.catalog().await;
        let list = table::list_for_job(&catalog, job).await.unwrap();
        catalog.close().await;
        list
    }

    pub fn tenant(&self) -> TenantState {
        self.sim.tenant_state("contoso").unwrap()
    }

    pub async fn repository(&self) -> Repository {
        let location = Location::Local(self.home.path().join("repositories").join("main"));
        Repository::open_location(
            &location,
            &Credentials::default(),
            Some(REPO_PASSWORD.as_bytes()),
        )
        .await
        .unwrap()
    }
}

pub fn admin_password() -> String {
    Scenario::default()
        .tenants
        .iter()
        .find(|t| t.name == "contoso")
        .and_then(|t| t.users.iter().find(|u| u.upn.eq_ignore_ascii_case(ADMIN)))
        .and_then(|u| u.password.clone())
        .expect("the default scenario's contoso admin has a password")
}

/// Every message of every mailbox (primary and archive) the simulator holds:
/// (object id, kind) → message id → MIME.
pub fn simulator_messages(
    t: &TenantState,
) -> BTreeMap<(String, String), BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for (user, store) in &t.mailboxes {
        for (kind, archive) in [("mailbox", false), ("archive", true)] {
            let Some(mailbox) = store.get(archive) else {
                continue;
            };
            let messages = mailbox
                .messages
                .values()
                .map(|m| (m.id.clone(), mailbox.mime(&m.id).expect("simulator MIME")))
                .collect::<BTreeMap<_, _>>();
            out.insert((user.to_string(), kind.to_string()), messages);
        }
    }
    out
}

/// Asserts that the repository's latest restore point of every object holds each of
/// the simulator's messages, byte for byte.
pub async fn assert_nothing_lost(env: &Env) {
    let repo = env.repository().await;
    let want = simulator_messages(&env.tenant());
    let rps = repo.restore_points().await.unwrap();
    let rp = rps.last().expect("a restore point");
    let mut compared = 0;
    let with_archives = !PROCESSING.contains(&"--no-archive");
    for ((object, kind), messages) in &want {
        if kind == "archive" && !with_archives {
            continue;
        }
        let object_key = if kind == "archive" {
            format!("{object}/archive")
        } else {
            object.clone()
        };
        let listed = repo.list_items(rp, &object_key).await.unwrap_or_default();
        let got: BTreeMap<String, Vec<u8>> = {
            let mut got = BTreeMap::new();
            for l in listed {
                // A primary mailbox also holds events and contacts; an archive only
                // messages (stored as exported, with their own metadata).
                if kind == "mailbox" && l.item.metadata["kind"] != "message" {
                    continue;
                }
                let content = repo.read_item(&l.item).await.unwrap();
                got.insert(l.item.id.clone(), content.to_vec());
            }
            got
        };
        for (id, mime) in messages {
            let stored = got.get(id).unwrap_or_else(|| {
                panic!("message {id} of {object} ({kind}) is not in the repository")
            });
            assert!(stored == mime, "MIME of {id} of {object} differs");
            compared += 1;
        }
    }
    assert!(compared > 0, "the simulator holds no messages to compare");
}

/// `repo check --read-data` passes.
pub async fn assert_repository_consistent(env: &Env) {
    let check = env
        .cairn(
            &["repo", "check", "main", "--read-data", "--password-stdin"],
            &format!("{REPO_PASSWORD}\n"),
        )
        .await;
    assert_eq!(check.code, 0, "repo check: {check:?}");
    assert!(check.stdout.contains("no errors found"), "{}", check.stdout);
}

pub fn data_dir(env: &Env) -> &Path {
    env.home.path()
}
