//! `cairn demo` on a fresh data directory, and again on the same one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::process::Command;

fn demo(home: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["demo"])
        .env("CAIRN_HOME", home)
        .env_remove("CAIRN_M365_CONNECT")
        .env_remove("CAIRN_M365_CA_FILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), stdout)
}

#[test]
fn demo_adds_and_checks_contoso_in_a_fresh_data_dir() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout) = demo(home.path());
    assert_eq!(code, 0);
    assert!(stdout.contains("Success  Sign-in: signed in as admin@contoso.onmicrosoft.com"));
    assert!(stdout.contains("Mailbox access role (re-check): \"Application Mail.ReadWrite\" is assigned organization-wide"));
    assert!(stdout.contains("Result: Success"));
    let row = stdout
        .lines()
        .find(|l| l.starts_with("contoso "))
        .expect("the organizations list");
    assert!(row.contains("worldwide") && row.contains("exchange,sharepoint"));
    assert!(home.path().join("catalog.db").exists());
    assert!(home.path().join("simulator").join("ca.pem").exists());

    // Again on the same data directory: the earlier demo organization is replaced.
    let (code, stdout) = demo(home.path());
    assert_eq!(code, 0);
    assert!(stdout.contains("Replacing the organization contoso left by an earlier demo"));
}
