//! Shared harness of the `org_*` end-to-end tests: the tenant simulator runs in the test
//! process (cairn-sim library), the real `cairn` binary runs as a child process with its
//! own data directory, reaching the simulator through `CAIRN_M365_CONNECT` and
//! `CAIRN_M365_CA_FILE`, with passwords on stdin.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use cairn_catalog::Catalog;
use cairn_catalog::organizations::{self as table, Organization};
use cairn_sim::{Scenario, SimHandle, SimOptions, Simulator, TenantState};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

/// A running simulator and an empty Cairn data directory.
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

impl Run {
    /// The output line of check step `name` (`  Success  Sign-in: …`).
    pub fn step(&self, name: &str) -> Option<&str> {
        let needle = format!(" {name}: ");
        self.stdout
            .lines()
            .find(|l| l.contains(&needle))
            .map(str::trim)
    }

    /// Asserts step `name` has `status` and its message contains every `words`.
    pub fn assert_step(&self, name: &str, status: &str, words: &[&str]) {
        let line = self
            .step(name)
            .unwrap_or_else(|| panic!("no step {name:?} in:\n{}", self.stdout));
        assert!(
            line.starts_with(status),
            "step {name} is not {status}: {line}"
        );
        for word in words {
            assert!(line.contains(word), "step {name} lacks {word:?}: {line}");
        }
    }

    /// The `Result:` line's status.
    pub fn result(&self) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Result: "))
            .map(str::trim)
    }
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

    pub fn state_dir(&self) -> &Path {
        self._state.path()
    }

    /// Runs `cairn args…` with `stdin` and waits for it.
    pub async fn cairn(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(args)
            .env("CAIRN_HOME", self.home.path())
            .env("CAIRN_M365_CONNECT", self.sim.addr().to_string())
            .env("CAIRN_M365_CA_FILE", self.sim.ca_path())
            .env_remove("CAIRN_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
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

    /// `cairn org add NAME --user UPN --password-stdin …` with the scenario's password.
    pub async fn add_admin(&self, name: &str, upn: &str, extra: &[&str]) -> Run {
        let mut args = vec!["org", "add", name, "--user", upn, "--password-stdin"];
        args.extend_from_slice(extra);
        self.cairn(&args, &format!("{}\n", password(upn))).await
    }

    pub async fn catalog(&self) -> Catalog {
        Catalog::open(self.home.path()).await.unwrap()
    }

    pub async fn stored(&self, name: &str) -> Option<Organization> {
        let catalog = self.catalog().await;
        let org = table::get(&catalog, name).await.unwrap();
        catalog.close().await;
        org
    }

    pub fn tenant(&self, name: &str) -> TenantState {
        self.sim.tenant_state(name).unwrap()
    }

    /// Writes a pre-registered application's certificate + key PEM to a file.
    pub fn app_pem_file(&self, tenant: &str, app_id: &str) -> PathBuf {
        let pem = self.sim.app_credential_pem(tenant, app_id).unwrap();
        let path = self.home.path().join(format!("{tenant}-app.pem"));
        std::fs::write(&path, pem).unwrap();
        path
    }

    /// An Exchange admin session as `upn` (the way an administrator fixes things with
    /// Exchange Online PowerShell), over the same simulator.
    pub fn admin_exchange(
        &self,
        region: cairn_m365::Region,
        tenant_id: &str,
        upn: &str,
    ) -> cairn_m365::ExchangeClient {
        let http = cairn_m365::Network::production()
            .with_connect(self.sim.addr())
            .with_extra_ca_pem(self.sim.ca_pem().as_bytes().to_vec())
            .http_client()
            .unwrap();
        let auth = cairn_m365::Authenticator::new(
            http,
            region,
            tenant_id.to_owned(),
            cairn_m365::Credential::Password {
                username: upn.to_owned(),
                password: password(upn).into(),
            },
        );
        cairn_m365::ExchangeClient::new(Arc::new(auth), tenant_id.to_owned())
    }
}

/// The scenario's password of a user (docs/simulator-default-scenario.md).
pub fn password(upn: &str) -> String {
    Scenario::default()
        .tenants
        .iter()
        .flat_map(|t| t.users.iter())
        .find(|u| u.upn.eq_ignore_ascii_case(upn))
        .and_then(|u| u.password.clone())
        .unwrap_or_else(|| panic!("no password for {upn} in the scenario"))
}

pub const FABRIKAM_APP: &str = "5e0c9a1b-7d3f-4a2e-8c6b-1f0e9d8c7b6a";
pub const NORTHWIND_APP: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
