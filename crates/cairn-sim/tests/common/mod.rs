//! Shared helpers of the simulator's integration tests: start a simulator, make a reqwest
//! client that resolves Microsoft's host names to it and trusts its CA, get tokens.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use cairn_sim::{Scenario, SimHandle, SimOptions, Simulator};
use serde_json::Value;

pub const GRAPH_CLI: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
pub const EXO_CLI: &str = "fb78d390-0c51-40cd-8e17-fdbfab77341b";
pub const FABRIKAM_APP: &str = "5e0c9a1b-7d3f-4a2e-8c6b-1f0e9d8c7b6a";
pub const NORTHWIND_APP: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";

/// A running simulator and a client pointed at it.
pub struct Sim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
    pub port: u16,
    _dir: tempfile::TempDir,
}

pub async fn start_with(scenario: Scenario) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let handle = Simulator::start(
        scenario,
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: dir.path().to_path_buf(),
        },
    )
    .await
    .unwrap();
    let addr = handle.addr();
    let mut b = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(handle.ca_pem().as_bytes()).unwrap());
    for host in cairn_sim::Cloud::all_hosts() {
        b = b.resolve(host, addr);
    }
    Sim {
        http: b.build().unwrap(),
        port: addr.port(),
        handle,
        _dir: dir,
    }
}

pub async fn start() -> Sim {
    start_with(Scenario::default()).await
}

impl Sim {
    /// `https://host` (production URL, no port: the resolve override carries it).
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}{path}")
    }

    pub async fn token_form(
        &self,
        host: &str,
        tenant: &str,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(host, &format!("/{tenant}/oauth2/v2.0/token")))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Password grant with a first-party client; panics unless it succeeds.
    pub async fn user_token(
        &self,
        tenant: &str,
        user: &str,
        password: &str,
        client: &str,
        scope: &str,
    ) -> String {
        let (status, body) = self
            .token_form(
                "login.microsoftonline.com",
                tenant,
                &[
                    ("grant_type", "password"),
                    ("client_id", client),
                    ("username", user),
                    ("password", password),
                    ("scope", scope),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn graph_token(&self, tenant: &str, user: &str, password: &str) -> String {
        self.user_token(
            tenant,
            user,
            password,
            GRAPH_CLI,
            "https://graph.microsoft.com/.default",
        )
        .await
    }

    pub async fn exo_token(&self, tenant: &str, user: &str, password: &str) -> String {
        self.user_token(
            tenant,
            user,
            password,
            EXO_CLI,
            "https://outlook.office365.com/.default",
        )
        .await
    }

    /// App-only token with a certificate assertion made from a PEM (cert + key).
    pub async fn app_token_cert(
        &self,
        tenant: &str,
        app_id: &str,
        pem: &str,
        scope: &str,
    ) -> (u16, Value) {
        let aud = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token");
        let assertion = assertion(pem, app_id, &aud, "RS256", 0);
        self.token_form(
            "login.microsoftonline.com",
            tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", app_id),
                ("scope", scope),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ],
        )
        .await
    }

    pub async fn get(&self, url: &str, token: &str) -> (u16, Value) {
        let r = self.http.get(url).bearer_auth(token).send().await.unwrap();
        let s = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        url: &str,
        token: &str,
        body: &Value,
    ) -> (u16, Value) {
        let r = self
            .http
            .request(method, url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Runs an Exchange cmdlet.
    pub async fn cmdlet(
        &self,
        tenant: &str,
        token: &str,
        name: &str,
        params: Value,
    ) -> (u16, Value) {
        self.send_json(
            reqwest::Method::POST,
            &self.url(
                "outlook.office365.com",
                &format!("/adminapi/beta/{tenant}/InvokeCommand"),
            ),
            token,
            &serde_json::json!({"CmdletInput": {"CmdletName": name, "Parameters": params}}),
        )
        .await
    }
}

/// Decodes a JWT's claims without checking it.
pub fn claims(token: &str) -> Value {
    cairn_sim::jwt::Jwt::decode(token).unwrap().claims
}

/// A client assertion signed with the PEM's key; `alg` RS256 (x5t) or PS256 (x5t#S256).
pub fn assertion(pem: &str, app_id: &str, aud: &str, alg: &str, exp_offset: i64) -> String {
    use aws_lc_rs::signature::{self, RsaKeyPair};
    let cred = cairn_sim::pki::RsaCredential::from_pem(pem).unwrap();
    let key = RsaKeyPair::from_pkcs8(&cred.key_pkcs8).unwrap();
    sign_assertion(
        &key,
        &cred.cert_der,
        app_id,
        aud,
        alg,
        exp_offset,
        if alg == "RS256" {
            &signature::RSA_PKCS1_SHA256
        } else {
            &signature::RSA_PSS_SHA256
        },
    )
}

pub fn sign_assertion(
    key: &aws_lc_rs::signature::RsaKeyPair,
    cert_der: &[u8],
    app_id: &str,
    aud: &str,
    alg: &str,
    exp_offset: i64,
    padding: &'static dyn aws_lc_rs::signature::RsaEncoding,
) -> String {
    use cairn_sim::jwt::b64url;
    let header = if alg == "RS256" {
        serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": b64url(&cairn_sim::pki::sha1(cert_der))})
    } else {
        serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": b64url(&cairn_sim::pki::sha256(cert_der))})
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "aud": aud, "iss": app_id, "sub": app_id, "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now + exp_offset, "iat": now + exp_offset, "exp": now + exp_offset + 600,
    });
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        padding,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", b64url(&sig))
}

/// An app-only Graph token of fabrikam's pre-registered app (certificate).
pub async fn app_token(sim: &Sim) -> String {
    let pem = sim
        .handle
        .app_credential_pem("fabrikam.com", FABRIKAM_APP)
        .unwrap();
    let (s, b) = sim
        .app_token_cert(
            "fabrikam.com",
            FABRIKAM_APP,
            &pem,
            "https://graph.microsoft.com/.default",
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["access_token"].as_str().unwrap().to_string()
}

/// GET with a Prefer header; (status, headers, body).
pub async fn get_pref(
    sim: &Sim,
    url: &str,
    token: &str,
    prefer: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut r = sim.http.get(url).bearer_auth(token);
    if let Some(p) = prefer {
        r = r.header("Prefer", p);
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    let h = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        s,
        h,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Follows a delta round to its end, checking Graph's paging contract on every page:
/// (items by id, removed ids, deltaLink, pages).
pub async fn delta_round(
    sim: &Sim,
    start: &str,
    token: &str,
    page: usize,
) -> (BTreeMap<String, Value>, BTreeSet<String>, String, usize) {
    let prefer = format!("odata.maxpagesize={page}");
    let mut url = start.to_string();
    let (mut items, mut removed, mut pages) = (BTreeMap::new(), BTreeSet::new(), 0);
    loop {
        let (s, h, b) = get_pref(sim, &url, token, Some(&prefer)).await;
        assert_eq!(s, 200, "{url}: {b}");
        assert_eq!(h["preference-applied"], prefer.as_str());
        pages += 1;
        let value = b["value"].as_array().unwrap();
        assert!(value.len() <= page);
        for v in value {
            let id = v["id"].as_str().unwrap().to_string();
            if v.get("@removed").is_some() {
                assert_eq!(v["@removed"]["reason"], "deleted");
                removed.insert(id);
            } else {
                items.insert(id, v.clone());
            }
        }
        if let Some(next) = b["@odata.nextLink"].as_str() {
            assert!(next.contains("$skiptoken="), "{next}");
            url = next.to_string();
        } else {
            let delta = b["@odata.deltaLink"].as_str().unwrap().to_string();
            assert!(delta.contains("$deltatoken="), "{delta}");
            return (items, removed, delta, pages);
        }
    }
}

/// Follows a delta round with pages of 4: (items by id, removed ids, deltaLink).
pub async fn round(
    sim: &Sim,
    start: &str,
    token: &str,
) -> (BTreeMap<String, Value>, BTreeSet<String>, String) {
    let (items, removed, link, _) = delta_round(sim, start, token, 4).await;
    (items, removed, link)
}
