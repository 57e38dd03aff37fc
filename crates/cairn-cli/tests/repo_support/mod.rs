//! Shared helpers of the repository maintenance tests: the `cairn` binary with a
//! catalog of its own, repositories on the three backends (a local directory,
//! moto's S3 server, Azurite), generated corpora, and a direct view of the
//! stored objects (through `cairn-repo`'s backend) to compare with what the
//! CLI reports.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use base64::Engine as _;
use cairn_repo::Credentials;
use cairn_repo::backend::Backend;

/// Azurite's well-known development account and key (public, documented by Microsoft).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The `cairn` binary with its own data directory and repository password.
#[derive(Clone)]
pub struct Cli {
    pub home: PathBuf,
    pub password: String,
}

impl Cli {
    pub fn new(home: PathBuf, password: &str) -> Cli {
        Cli {
            home,
            password: password.to_string(),
        }
    }

    /// A command with no storage credentials from the test's environment: the
    /// ones sealed in the catalog at `create` must be enough.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
        c.arg("--data-dir")
            .arg(&self.home)
            .args(args)
            .env("CAIRN_REPO_PASSWORD", &self.password);
        for k in [
            "CAIRN_REPO_NEW_PASSWORD",
            "CAIRN_LOG",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AZURE_STORAGE_ACCOUNT_NAME",
            "AZURE_STORAGE_ACCOUNT_KEY",
        ] {
            c.env_remove(k);
        }
        c
    }

    /// Run; stdout if it succeeded, else panic with everything it said.
    pub fn ok(&self, args: &[&str]) -> String {
        ok(&mut self.cmd(args))
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run cairn")
    }

    /// `repo stats --json`.
    pub fn stats(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["repo", "stats", name, "--json"])).unwrap()
    }

    /// `repo put-dir` of `dir` (one item at a time, so the pack layout follows
    /// the sorted file order); returns the new restore point id.
    pub fn put_dir(&self, name: &str, dir: &Path) -> String {
        let out = self.ok(&[
            "repo",
            "put-dir",
            name,
            dir.to_str().unwrap(),
            "--concurrency",
            "1",
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["restore_point"].as_str().unwrap().to_string()
    }

    /// `repo get-dir` of a restore point (latest if `None`) into a fresh
    /// directory; returns what was restored, by path relative to the object.
    pub fn get_dir(
        &self,
        name: &str,
        restore_point: Option<&str>,
        dest: &Path,
    ) -> BTreeMap<String, Vec<u8>> {
        let _ = std::fs::remove_dir_all(dest);
        let mut args = vec!["repo", "get-dir", name, dest.to_str().unwrap()];
        if let Some(rp) = restore_point {
            args.extend(["--restore-point", rp]);
        }
        self.ok(&args);
        read_tree(&dest.join("files"))
    }
}

pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run cairn");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Where a test repository lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Local,
    S3,
    Azure,
}

/// A repository location plus the storage credentials `repo create` needs.
pub struct Target {
    pub location: String,
    pub env: Vec<(&'static str, String)>,
    pub creds: Credentials,
}

impl Target {
    /// `Store::Local` always; S3 and Azure only when `scripts/services start`
    /// pointed the environment at moto / Azurite (else `None`, with a notice).
    pub fn new(store: Store, tmp: &Path) -> Option<Target> {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        match store {
            Store::Local => Some(Target {
                location: tmp.join("repo").to_str().unwrap().to_string(),
                env: Vec::new(),
                creds: Credentials::default(),
            }),
            Store::S3 => {
                let Ok(endpoint) = std::env::var("CAIRN_TEST_S3_ENDPOINT") else {
                    eprintln!(
                        "NOTICE: CAIRN_TEST_S3_ENDPOINT is unset; skipping the S3 test (run `eval \"$(scripts/services start)\"` first; scripts/test does)"
                    );
                    return None;
                };
                let bucket = format!("maint-{suffix}");
                create_bucket(&endpoint, &bucket);
                Some(Target {
                    location: format!(
                        "s3://{bucket}/cairn?endpoint={endpoint}&region=us-east-1&path_style=true&allow_http=true"
                    ),
                    env: vec![
                        ("AWS_ACCESS_KEY_ID", "testing".into()),
                        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
                    ],
                    creds: Credentials {
                        aws_access_key_id: Some("testing".into()),
                        aws_secret_access_key: Some("testing".into()),
                        ..Credentials::default()
                    },
                })
            }
            Store::Azure => {
                let Ok(endpoint) = std::env::var("CAIRN_TEST_AZURE_ENDPOINT") else {
                    eprintln!(
                        "NOTICE: CAIRN_TEST_AZURE_ENDPOINT is unset; skipping the Azure test (run `eval \"$(scripts/services start)\"` first; scripts/test does)"
                    );
                    return None;
                };
                let container = format!("maint-{suffix}");
                create_container(&endpoint, &container);
                Some(Target {
                    location: format!(
                        "az://{container}/cairn?account={AZURITE_ACCOUNT}&endpoint={endpoint}"
                    ),
                    env: vec![("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY.into())],
                    creds: Credentials {
                        azure_account_key: Some(AZURITE_KEY.into()),
                        ..Credentials::default()
                    },
                })
            }
        }
    }

    /// `repo create NAME` here, with cheap key derivation and 1 MiB packs; the
    /// credentials are given once, through the environment, and sealed.
    pub fn create(&self, cli: &Cli, name: &str) {
        let mut c = cli.cmd(&[
            "repo",
            "create",
            name,
            "--kdf-memory-mib",
            "1",
            "--pack-size-mib",
            "1",
            "--location",
            &self.location,
        ]);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        ok(&mut c);
    }

    /// The storage itself, bypassing the CLI.
    pub fn backend(&self) -> Arc<dyn Backend> {
        cairn_repo::Location::parse(&self.location)
            .unwrap()
            .backend(&self.creds)
            .unwrap()
    }

    /// Objects under `prefix` with their sizes, as the storage lists them.
    pub fn objects(&self, prefix: &str) -> BTreeMap<String, u64> {
        let backend = self.backend();
        block_on(async move { backend.list(prefix).await })
            .unwrap()
            .into_iter()
            .map(|o| (o.name, o.size))
            .collect()
    }

    pub fn get(&self, name: &str) -> Vec<u8> {
        let backend = self.backend();
        block_on(async move { backend.get(name).await })
            .unwrap()
            .to_vec()
    }

    pub fn put(&self, name: &str, data: Vec<u8>) {
        let backend = self.backend();
        block_on(async move { backend.put(name, data.into()).await }).unwrap();
    }
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// One plain HTTP/1.1 request to a loopback test server; the status line and body.
fn http(endpoint: &str, request: &str) -> String {
    let rest = endpoint.trim_start_matches("http://");
    let host = rest.split('/').next().unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.write_all(request.replace("{host}", host).as_bytes())
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp
}

/// PUT a bucket on moto (it accepts unsigned requests).
pub fn create_bucket(endpoint: &str, bucket: &str) {
    let resp = http(
        endpoint,
        &format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: {{host}}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "create bucket: {resp}");
}

/// Create Container on Azurite, signed with the development account's Shared Key
/// (the storage backend does not create containers).
pub fn create_container(endpoint: &str, container: &str) {
    let url = url::Url::parse(&format!("{endpoint}/{container}?restype=container")).unwrap();
    let date = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    let version = "2021-08-06";
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURITE_ACCOUNT}{}\nrestype:container",
        url.path()
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(AZURITE_KEY)
        .unwrap();
    let hkey = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let sig = aws_lc_rs::hmac::sign(&hkey, string_to_sign.as_bytes());
    let auth = format!(
        "SharedKey {AZURITE_ACCOUNT}:{}",
        base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
    );
    let resp = http(
        endpoint,
        &format!(
            "PUT {}?restype=container HTTP/1.1\r\nHost: {{host}}\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: {auth}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            url.path()
        ),
    );
    assert!(resp.starts_with("HTTP/1.1 201"), "create container: {resp}");
}

/// Deterministic incompressible bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
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

/// Compressible text whose every line is unique (numbered and seeded), so no
/// chunk of it repeats inside or across files: stored sizes stay predictable.
pub fn text(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 100);
    let mut line = 0u64;
    while out.len() < len {
        out.extend_from_slice(
            format!(
                "{seed:08}-{line:06}: the quarterly budget review is attached, please comment by Friday\r\n"
            )
            .as_bytes(),
        );
        line += 1;
    }
    out.truncate(len);
    out
}

/// A directory tree as relative path → content.
pub type Tree = BTreeMap<String, Vec<u8>>;

/// Write `tree` under `dir`, removing files no longer in it.
pub fn write_tree(dir: &Path, tree: &Tree) {
    let _ = std::fs::remove_dir_all(dir);
    for (rel, data) in tree {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

pub fn read_tree(dir: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = Tree::new();
    walk(dir, dir, &mut out);
    out
}

/// Byte-for-byte equality, naming the first difference (not dumping megabytes).
pub fn assert_same(what: &str, expected: &Tree, got: &Tree) {
    let (a, b): (Vec<_>, Vec<_>) = (expected.keys().collect(), got.keys().collect());
    assert_eq!(a, b, "{what}: different file sets");
    for (k, v) in expected {
        assert!(got[k] == *v, "{what}: {k} differs");
    }
}

/// The figure before `label` in a line like "3 packs (3 read), 120 blobs, …".
pub fn figure(text: &str, label: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            let i = l.find(label)?;
            l[..i]
                .split([' ', '(', ',', ';'])
                .rfind(|w| !w.is_empty())?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no figure for {label:?} in:\n{text}"))
}
