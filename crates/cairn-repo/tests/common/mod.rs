//! Shared helpers of the repository tests: backends on real servers (moto's S3
//! server, Azurite), test repositories and generated content.
#![allow(dead_code)]

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use cairn_repo::backend::{
    AzureSettings, Backend, LocalBackend, Retry, S3Settings, azure_backend, s3_backend,
};
use cairn_repo::{
    ChunkerParams, CreateOptions, KdfParams, ObjectRef, OrganizationRef, Repository, RestorePoint,
    SessionOptions,
};

/// Azurite's well-known development account key (public, documented by Microsoft).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

pub fn local(dir: &tempfile::TempDir) -> Arc<dyn Backend> {
    Arc::new(Retry::new(Arc::new(LocalBackend::new(
        dir.path().join("repo"),
    ))))
}

/// A fresh bucket on moto's S3 server, or `None` (with a notice) if the
/// environment does not point at one.
pub async fn s3() -> Option<Arc<dyn Backend>> {
    let Ok(endpoint) = std::env::var("CAIRN_TEST_S3_ENDPOINT") else {
        eprintln!(
            "NOTICE: CAIRN_TEST_S3_ENDPOINT is unset; skipping the S3 backend (scripts/test sets it)"
        );
        return None;
    };
    let bucket = unique("cairn-");
    // moto accepts unsigned bucket creation.
    let resp = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("create bucket on moto");
    assert!(
        resp.status().is_success(),
        "create bucket: {}",
        resp.status()
    );
    let s = S3Settings {
        bucket,
        prefix: "repo".into(),
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        path_style: true,
        allow_http: true,
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
    };
    Some(Arc::new(Retry::new(Arc::new(
        s3_backend(&s).expect("s3 backend"),
    ))))
}

/// A fresh container on Azurite, or `None` (with a notice).
pub async fn azure() -> Option<Arc<dyn Backend>> {
    let Ok(endpoint) = std::env::var("CAIRN_TEST_AZURE_ENDPOINT") else {
        eprintln!(
            "NOTICE: CAIRN_TEST_AZURE_ENDPOINT is unset; skipping the Azure backend (scripts/test sets it)"
        );
        return None;
    };
    let container = unique("cairn-");
    create_container(&endpoint, &container).await;
    let s = AzureSettings {
        container,
        prefix: "repo".into(),
        account: AZURITE_ACCOUNT.into(),
        access_key: Some(AZURITE_KEY.into()),
        endpoint: Some(endpoint),
    };
    Some(Arc::new(Retry::new(Arc::new(
        azure_backend(&s).expect("azure backend"),
    ))))
}

/// Create Container with a Shared Key signature (object_store does not create
/// containers).
pub async fn create_container(endpoint: &str, container: &str) {
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
    let resp = reqwest::Client::new()
        .put(url)
        .header("x-ms-date", date)
        .header("x-ms-version", version)
        .header("Authorization", auth)
        .header("Content-Length", "0")
        .send()
        .await
        .expect("create container on Azurite");
    let status = resp.status();
    assert!(
        status.is_success(),
        "create container: {status} {}",
        resp.text().await.unwrap_or_default()
    );
}

pub fn options(password: &str) -> CreateOptions {
    CreateOptions {
        password: Some(password.as_bytes().to_vec()),
        kdf: KdfParams::insecure_for_tests(),
        chunker: ChunkerParams::default(),
        pack_size: 1 << 20,
    }
}

pub async fn create(backend: Arc<dyn Backend>) -> Arc<Repository> {
    Arc::new(
        Repository::create(backend, options("correct horse"))
            .await
            .expect("create"),
    )
}

pub async fn reopen(backend: Arc<dyn Backend>) -> Arc<Repository> {
    Arc::new(
        Repository::open(backend, Some(b"correct horse"))
            .await
            .expect("open"),
    )
}

pub fn org() -> OrganizationRef {
    OrganizationRef {
        id: "tenant-1".into(),
        name: "Contoso".into(),
    }
}

pub fn mailbox(n: u32) -> ObjectRef {
    ObjectRef {
        id: format!("user-{n}"),
        kind: "mailbox".into(),
        name: format!("user{n}@contoso.com"),
    }
}

/// One session that stores `content` as item `a` of user-1's inbox, committed.
pub async fn commit_one_item(repo: &Arc<Repository>, content: Bytes) -> RestorePoint {
    let s = repo.start_session(session_opts()).await.unwrap();
    s.object(mailbox(1))
        .await
        .unwrap()
        .put_item("inbox", "a", serde_json::json!({}), content)
        .await
        .unwrap();
    s.commit().await.unwrap()
}

pub fn session_opts() -> SessionOptions {
    SessionOptions {
        organization: org(),
        job: Some("test job".into()),
    }
}

/// Deterministic pseudo-random bytes (xorshift), incompressible.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
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

/// Text-like, compressible message content.
pub fn message(seed: u64, len: usize) -> Bytes {
    const WORDS: &[&str] = &[
        "meeting", "budget", "quarter", "please", "review", "attached", "thanks", "regards",
        "project", "deadline", "customer", "the", "and", "for", "with", "update", "report",
    ];
    let mut out = format!("Message-ID: <{seed}@contoso.com>\r\nSubject: item {seed}\r\n\r\n");
    let mut x = seed.wrapping_add(1).wrapping_mul(0x2545_F491_4F6C_DD1D);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
        out.push(if x.is_multiple_of(11) { '\n' } else { ' ' });
    }
    out.truncate(len);
    Bytes::from(out)
}
