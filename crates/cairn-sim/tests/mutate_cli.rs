//! `cairn-sim serve` with corpus flags and `cairn-sim mutate` against it: generated users
//! get their mailboxes, and mutations reach the running simulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cairn-sim");

/// Stops the server this test started even when an assertion fails.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mutate(dir: &std::path::Path, body: &str) -> (bool, Value, String) {
    let out = Command::new(BIN)
        .args(["mutate", "--state-dir"])
        .arg(dir)
        .arg(body)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    (
        out.status.success(),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn generated_mailboxes_and_mutations_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server(
        Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--mailboxes",
                "3",
                "--messages-per-mailbox",
                "7",
                "--attachments",
                "heavy",
                "--mailbox-budget",
                "600/60s",
                "--state-dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    let mut out = BufReader::new(server.0.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    // Keep reading: a closed pipe would end the server at its next line of output.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    assert!(first.starts_with("listening 127.0.0.1:"), "{first}");
    let users = cairn_mailgen::CorpusSpec::generated_mailboxes(3, "contoso.com", 1);
    let upn = &users[2].address;
    let (ok, list, err) = mutate(
        dir.path(),
        &format!(r#"{{"op":"list_messages","tenant":"contoso","mailbox":"{upn}"}}"#),
    );
    assert!(ok, "{err}");
    assert_eq!(list.as_array().unwrap().len(), 7, "{list}");
    let id = list[0]["id"].as_str().unwrap();
    let (ok, moved, err) = mutate(
        dir.path(),
        &format!(
            r#"{{"op":"move_message","tenant":"contoso","mailbox":"{upn}","id":"{id}","folder":"junkemail"}}"#
        ),
    );
    assert!(ok, "{err}");
    assert_eq!(moved["id"], id);
    let (_, list, _) = mutate(
        dir.path(),
        &format!(r#"{{"op":"list_messages","tenant":"contoso","mailbox":"{upn}"}}"#),
    );
    let (_, folders, _) = mutate(
        dir.path(),
        &format!(r#"{{"op":"list_folders","tenant":"contoso","mailbox":"{upn}"}}"#),
    );
    let junk = folders
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["wellKnownName"] == "junkemail")
        .unwrap();
    let m = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap();
    assert_eq!(m["parentFolderId"], junk["id"]);
    // The budget flag is live and can be changed at run time.
    let (ok, t, _) = mutate(dir.path(), r#"{"op":"get_throttling"}"#);
    assert!(ok);
    assert_eq!(t["mailbox_budget"], 600);
    assert_eq!(t["budget_window_secs"], 60);
    // Errors say what is wrong.
    let (ok, _, err) = mutate(
        dir.path(),
        r#"{"op":"list_messages","tenant":"contoso","mailbox":"nobody@contoso.com"}"#,
    );
    assert!(!ok);
    assert!(err.contains("nobody@contoso.com"), "{err}");
}
