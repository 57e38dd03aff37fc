//! The `cairn-sim` binary: prints the built-in scenario verbatim, and `serve` on port 0
//! announces the real port first, writes `endpoint` and `ca.pem`, and answers over HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cairn-sim");

/// Stops the server this test started even when an assertion fails.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn scenario_default_prints_the_built_in_scenario() {
    let out = Command::new(BIN)
        .args(["scenario", "--default"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        cairn_sim::scenario::DEFAULT_SCENARIO_TOML
    );
    let out = Command::new(BIN).args(["scenario"]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn a_bad_scenario_file_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[[tenant]]\nname = \"x\"\ncloud = \"mars\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(&path)
        .arg("--state-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("mars") && err.contains("bad.toml"), "{err}");
}

#[tokio::test]
async fn serve_announces_its_port_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr: std::net::SocketAddr = first
        .strip_prefix("listening ")
        .expect(&first)
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 0);
    let second = lines.next().unwrap().unwrap();
    assert_eq!(
        second,
        format!("ca {}", dir.path().join("ca.pem").display())
    );
    let endpoint = std::fs::read_to_string(dir.path().join("endpoint")).unwrap();
    assert_eq!(endpoint.trim(), addr.to_string());
    assert!(dir.path().join("fabrikam-cairn-backup.pem").exists());
    assert!(dir.path().join("northwind-cairn-backup.pem").exists());

    let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("login.microsoftonline.us", addr)
        .build()
        .unwrap();
    let m: serde_json::Value = http
        .get("https://login.microsoftonline.us/tailspin.onmicrosoft.us/v2.0/.well-known/openid-configuration")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        m["token_endpoint"],
        "https://login.microsoftonline.us/4d5e6f70-8192-4a3b-8c4d-5e6f708192a3/oauth2/v2.0/token"
    );
    assert_eq!(m["msgraph_host"], "graph.microsoft.us");
}
