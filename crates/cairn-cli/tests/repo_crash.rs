//! Crash safety with a real `kill -9`: the `cairn` binary writes a corpus into a
//! repository and is killed mid-way; the repository must pass `check`, and the
//! rerun must reuse what was already written and restore byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn cairn(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.arg("--data-dir")
        .arg(home)
        .env("CAIRN_REPO_PASSWORD", "test password");
    c
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run cairn");
    if !out.status.success() {
        panic!(
            "{:?} failed ({}):\n{}\n{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Deterministic incompressible bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn corpus(dir: &Path) -> u64 {
    let mut total = 0;
    for f in 0..20u64 {
        let d = dir.join(format!("folder{f:02}"));
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..100u64 {
            let data = noise(f * 1000 + i, 20_000 + ((i * 7919) % 60_000) as usize);
            total += data.len() as u64;
            std::fs::write(d.join(format!("item{i:03}.eml")), data).unwrap();
        }
    }
    total
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

/// Finished objects in a repository directory (not temporary files of writes in flight).
fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|r| {
            r.filter(|e| {
                e.as_ref()
                    .map(|e| !e.file_name().to_string_lossy().starts_with(".tmp-"))
                    .unwrap_or(false)
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn kill_9_mid_write_then_check_passes_and_rerun_reuses_data() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let src = tmp.path().join("corpus");
    let total = corpus(&src);
    run(cairn(&home).args([
        "repo",
        "create",
        "main",
        "--kdf-memory-mib",
        "1",
        "--pack-size-mib",
        "1",
    ]));
    let repo_dir = home.join("repositories/main");

    let mut child = cairn(&home)
        .args(["repo", "put-dir", "main"])
        .arg(&src)
        .args(["--concurrency", "2", "--checkpoint-every", "300"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some packs are indexed and a checkpoint exists, well before the end.
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the writer finished before it could be killed"
        );
        if count(&repo_dir.join("sessions")) >= 1 && count(&repo_dir.join("index")) >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(
        count(&repo_dir.join("restorepoints")),
        0,
        "killed before the restore point"
    );

    // The repository is consistent as left by the kill.
    let out = run(cairn(&home).args(["repo", "check", "main", "--read-data"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no errors found"), "{text}");

    // The rerun resumes the checkpoint and re-uses what was uploaded.
    let out = run(cairn(&home)
        .args(["repo", "put-dir", "main"])
        .arg(&src)
        .arg("--json"));
    let figures: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(figures["resumed"], true, "{figures}");
    assert_eq!(figures["bytes"].as_u64().unwrap(), total);
    let new = figures["new_bytes"].as_u64().unwrap();
    assert!(
        new < total * 9 / 10,
        "rerun stored {new} new bytes of {total}: nothing reused"
    );

    let out = run(cairn(&home).args(["repo", "check", "main", "--read-data"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no errors found"));

    // Everything restores byte for byte.
    let dest = tmp.path().join("restored");
    run(cairn(&home).args(["repo", "get-dir", "main"]).arg(&dest));
    let restored_root = dest.join("files");
    let a = files(&src);
    let b = files(&restored_root);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            x.strip_prefix(&src).unwrap(),
            y.strip_prefix(&restored_root).unwrap()
        );
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{x:?}"
        );
    }

    // The killed writer's lock is stale (its process is gone): prune is not blocked
    // and removes the packs the kill left unindexed.
    let out = run(cairn(&home).args(["repo", "prune", "main"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("freed"));
    let out = run(cairn(&home).args(["repo", "check", "main", "--read-data"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no errors found") && !text.contains("warning"),
        "{text}"
    );
}
