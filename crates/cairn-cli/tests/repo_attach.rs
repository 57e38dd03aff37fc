//! Self-describing repositories: a repository written by one installation is
//! attached to a fresh catalog and everything in it is listed and restored.
//! Also: bad passwords and damage through the CLI, and a repository on S3
//! (moto's server) with credentials sealed in the catalog.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn cairn(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.arg("--data-dir").arg(home);
    c.env_remove("CAIRN_REPO_PASSWORD");
    c
}

fn with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
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

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn corpus(dir: &Path) {
    for f in 0..3 {
        let d = dir.join(format!("f{f}"));
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..30 {
            let text = format!(
                "Subject: message {f}-{i}\r\n\r\n{}",
                "lorem ipsum dolor sit amet ".repeat(200 + i * 37)
            );
            std::fs::write(d.join(format!("m{i}.eml")), text).unwrap();
        }
    }
    std::fs::write(
        dir.join("big.bin"),
        (0..3_000_000u32)
            .map(|x| (x.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn same_tree(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(fa.len(), fb.len());
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.strip_prefix(a).unwrap(), y.strip_prefix(b).unwrap());
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{x:?}"
        );
    }
}

#[test]
fn attach_to_a_fresh_catalog_lists_and_restores_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let (home_a, home_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let src = tmp.path().join("corpus");
    corpus(&src);
    let repo_path = tmp.path().join("shared-repo");
    let pw = "s3cret pass\n";
    ok(with_stdin(
        cairn(&home_a)
            .args([
                "repo",
                "create",
                "main",
                "--password-stdin",
                "--kdf-memory-mib",
                "1",
                "--location",
            ])
            .arg(&repo_path),
        pw,
    ));
    ok(with_stdin(
        cairn(&home_a)
            .args(["repo", "put-dir", "main", "--password-stdin"])
            .arg(&src),
        pw,
    ));
    std::fs::write(src.join("f0/m0.eml"), b"changed content").unwrap();
    ok(with_stdin(
        cairn(&home_a)
            .args(["repo", "put-dir", "main", "--password-stdin"])
            .arg(&src),
        pw,
    ));

    // A new installation: empty catalog, only the repository location and password.
    let out = with_stdin(
        cairn(&home_b)
            .args(["repo", "attach", "restored", "--password-stdin"])
            .arg(&repo_path),
        "wrong\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong password"));
    let text = ok(with_stdin(
        cairn(&home_b)
            .args(["repo", "attach", "restored", "--password-stdin"])
            .arg(&repo_path),
        pw,
    ));
    assert!(
        text.contains("1 organizations, 1 protected objects, 2 restore points"),
        "{text}"
    );
    let list = ok(cairn(&home_b).args(["repo", "list"]).output().unwrap());
    assert!(list.contains("restored"), "{list}");
    let show = ok(with_stdin(
        cairn(&home_b).args(["repo", "show", "restored", "--password-stdin"]),
        pw,
    ));
    assert!(
        show.contains("91 items") && show.contains("2 restore points"),
        "{show}"
    );
    let dest = tmp.path().join("out");
    ok(with_stdin(
        cairn(&home_b)
            .args(["repo", "get-dir", "restored", "--password-stdin"])
            .arg(&dest),
        pw,
    ));
    same_tree(&src, &dest.join("files"));

    // The older restore point still has the old content.
    let first = show
        .lines()
        .find(|l| l.starts_with("restore point:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap()
        .to_string();
    let old = tmp.path().join("old");
    ok(with_stdin(
        cairn(&home_b)
            .args([
                "repo",
                "get-dir",
                "restored",
                "--password-stdin",
                "--restore-point",
                &first,
            ])
            .arg(&old),
        pw,
    ));
    assert!(
        std::fs::read_to_string(old.join("files/f0/m0.eml"))
            .unwrap()
            .starts_with("Subject: message 0-0")
    );

    // Damage a pack: check exits 1 and names the damaged items.
    let data = repo_path.join("data");
    let sub = std::fs::read_dir(&data)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let pack = std::fs::read_dir(&sub)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut b = std::fs::read(&pack).unwrap();
    b[100] ^= 0x55;
    std::fs::write(&pack, b).unwrap();
    let out = with_stdin(
        cairn(&home_b).args(["repo", "verify", "restored", "--password-stdin"]),
        pw,
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&pack.file_name().unwrap().to_string_lossy().to_string()),
        "{text}"
    );
    assert!(text.contains("items cannot be restored"), "{text}");
}

/// PUT a bucket on moto (it accepts unsigned requests) with a bare HTTP/1.1 request.
fn create_bucket(endpoint: &str, bucket: &str) {
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    std::io::Read::read_to_string(&mut s, &mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

#[test]
fn s3_repository_with_sealed_credentials() {
    let Ok(endpoint) = std::env::var("CAIRN_TEST_S3_ENDPOINT") else {
        eprintln!(
            "NOTICE: CAIRN_TEST_S3_ENDPOINT is unset; skipping the S3 CLI test (scripts/test sets it)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let bucket = format!("cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    create_bucket(&endpoint, &bucket);
    let src = tmp.path().join("corpus");
    corpus(&src);
    let location = format!(
        "s3://{bucket}/cairn?endpoint={endpoint}&region=us-east-1&path_style=true&allow_http=true"
    );
    ok(cairn(&home)
        .args([
            "repo",
            "create",
            "cloud",
            "--kdf-memory-mib",
            "1",
            "--location",
            &location,
        ])
        .env("CAIRN_REPO_PASSWORD", "pw")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "very-secret-key")
        .output()
        .unwrap());
    // The secret is sealed in the catalog, not stored in clear.
    for e in std::fs::read_dir(&home).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let raw = std::fs::read(&p).unwrap();
            assert!(!raw.windows(15).any(|w| w == b"very-secret-key"), "{p:?}");
        }
    }
    // Later commands get the credentials from the catalog.
    let put = |c: &mut Command| {
        ok(c.env("CAIRN_REPO_PASSWORD", "pw")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output()
            .unwrap())
    };
    put(cairn(&home).args(["repo", "put-dir", "cloud"]).arg(&src));
    let check = put(cairn(&home).args(["repo", "check", "cloud", "--read-data"]));
    assert!(check.contains("no errors found"), "{check}");
    let dest = tmp.path().join("out");
    put(cairn(&home).args(["repo", "get-dir", "cloud"]).arg(&dest));
    same_tree(&src, &dest.join("files"));
}
