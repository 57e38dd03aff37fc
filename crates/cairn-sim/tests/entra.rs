//! Entra ID over real HTTPS: metadata, JWKS-verifiable tokens, every AADSTS branch,
//! certificate assertions and cloud boundaries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::*;
use serde_json::Value;

const LOGIN: &str = "login.microsoftonline.com";

fn assert_aadsts(status: u16, body: &Value, want_status: u16, error: &str, code: u64) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0].as_u64(), Some(code), "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[field].is_string(), "{field} missing in {body}");
    }
}

async fn password(sim: &Sim, tenant: &str, user: &str, pw: &str) -> (u16, Value) {
    sim.token_form(
        LOGIN,
        tenant,
        &[
            ("grant_type", "password"),
            ("client_id", GRAPH_CLI),
            ("username", user),
            ("password", pw),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await
}

#[tokio::test]
async fn metadata_links_use_the_host_as_sent() {
    let sim = start().await;
    let (s, m) = sim
        .get(
            &sim.url(LOGIN, "/contoso.com/v2.0/.well-known/openid-configuration"),
            "",
        )
        .await;
    assert_eq!(s, 200);
    let tid = "8f6c5a34-0c7e-4c41-9a3e-1c2b3d4e5f60";
    assert_eq!(
        m["token_endpoint"],
        format!("https://{LOGIN}/{tid}/oauth2/v2.0/token")
    );
    assert_eq!(m["issuer"], format!("https://{LOGIN}/{tid}/v2.0"));
    assert_eq!(m["msgraph_host"], "graph.microsoft.com");
    // With the port in the URL, the links carry it back.
    let port = sim.port;
    let (_, m) = sim
        .get(
            &format!("https://{LOGIN}:{port}/{tid}/v2.0/.well-known/openid-configuration"),
            "",
        )
        .await;
    assert_eq!(
        m["token_endpoint"],
        format!("https://{LOGIN}:{port}/{tid}/oauth2/v2.0/token")
    );
    // HTTP/2 is negotiated; localhost answers as the worldwide cloud.
    let r = sim
        .http
        .get(sim.url(LOGIN, "/common/discovery/v2.0/keys"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let local = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(sim.handle.ca_pem().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let m: Value = local
        .get(format!(
            "https://localhost:{port}/contoso.com/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        m["token_endpoint"],
        format!("https://localhost:{port}/{tid}/oauth2/v2.0/token")
    );
    let (_, v1) = sim
        .get(
            &sim.url(LOGIN, &format!("/{tid}/.well-known/openid-configuration")),
            "",
        )
        .await;
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{tid}/"));
    let (s, e) = sim
        .get(
            &sim.url(
                LOGIN,
                "/nowhere.example/v2.0/.well-known/openid-configuration",
            ),
            "",
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(e["error_codes"][0], 90002);
}

#[tokio::test]
async fn password_token_is_verifiable_with_the_jwks_key_and_carries_the_claims() {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    let sim = start().await;
    let (s, body) = password(
        &sim,
        "contoso.onmicrosoft.com",
        "admin@contoso.onmicrosoft.com",
        "Contoso-Admin-2026!",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(
        body["scope"]
            .as_str()
            .unwrap()
            .contains("https://graph.microsoft.com/User.Read.All")
    );
    let token = body["access_token"].as_str().unwrap();

    let (_, jwks) = sim
        .get(&sim.url(LOGIN, "/common/discovery/v2.0/keys"), "")
        .await;
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid published in JWKS");
    let n = b64.decode(key["n"].as_str().unwrap()).unwrap();
    let e = b64.decode(key["e"].as_str().unwrap()).unwrap();
    let sig = b64.decode(parts[2]).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
        .expect("signature verifies with the JWKS key");
    // A flipped payload byte does not verify.
    let mut tampered = input.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, &tampered, &sig)
            .is_err()
    );

    let c = claims(token);
    let state = sim.handle.tenant_state("contoso").unwrap();
    let admin = state.user("admin@contoso.onmicrosoft.com").unwrap();
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["iss"], format!("https://sts.windows.net/{}/", state.id));
    assert_eq!(c["tid"], state.id.to_string());
    assert_eq!(c["oid"], admin.id.to_string());
    assert_eq!(c["upn"], "admin@contoso.onmicrosoft.com");
    assert_eq!(c["unique_name"], "admin@contoso.onmicrosoft.com");
    assert_eq!(c["appid"], GRAPH_CLI);
    assert_eq!(c["appidacr"], "0");
    assert!(
        c["wids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "62e90394-69f5-4237-9190-012177145e10")
    );
    assert!(
        c["scp"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "Application.ReadWrite.All")
    );
    assert!(c["roles"].is_null());
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 3599);
}

#[tokio::test]
async fn every_sign_in_failure_answers_its_aadsts_code() {
    let sim = start().await;
    let t = "contoso.com";
    let (s, b) = password(&sim, t, "admin@contoso.onmicrosoft.com", "nope").await;
    assert_aadsts(s, &b, 400, "invalid_grant", 50126);
    let (s, b) = password(&sim, t, "ghost@contoso.com", "x").await;
    assert_aadsts(s, &b, 400, "invalid_grant", 50034);
    let (s, b) = password(&sim, t, "locked@contoso.com", "Contoso-Locked-2026!").await;
    assert_aadsts(s, &b, 400, "invalid_grant", 50053);
    let (s, b) = password(&sim, t, "disabled@contoso.com", "Contoso-Disabled-2026!").await;
    assert_aadsts(s, &b, 400, "invalid_grant", 50057);
    let (s, b) = password(&sim, t, "mfa.admin@contoso.com", "Contoso-Mfa-2026!").await;
    assert_aadsts(s, &b, 400, "invalid_grant", 50076);
    assert_eq!(b["suberror"], "basic_action");
    let (s, b) = password(&sim, "nowhere.example", "a@nowhere.example", "x").await;
    assert_aadsts(s, &b, 400, "invalid_request", 90002);
    // A worldwide tenant asked of the US Government authority.
    let (s, b) = sim
        .token_form(
            "login.microsoftonline.us",
            t,
            &[
                ("grant_type", "password"),
                ("client_id", GRAPH_CLI),
                ("username", "admin@contoso.onmicrosoft.com"),
                ("password", "Contoso-Admin-2026!"),
                ("scope", "https://graph.microsoft.us/.default"),
            ],
        )
        .await;
    assert_aadsts(s, &b, 400, "invalid_request", 90038);
    // Unknown application.
    let (s, b) = sim
        .token_form(
            LOGIN,
            t,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "11111111-2222-3333-4444-555555555555"),
                ("client_secret", "x"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_aadsts(s, &b, 400, "unauthorized_client", 700016);
}

fn secret_scenario() -> cairn_sim::Scenario {
    cairn_sim::Scenario::from_toml_str(
        r#"
[[tenant]]
name = "testco"
cloud = "worldwide"
id = "0b0e0000-0000-4000-8000-000000000001"
domains = ["testco.onmicrosoft.com"]
[[tenant.user]]
upn = "admin@testco.onmicrosoft.com"
password = "Testco-Admin-1!"
roles = ["Global Administrator"]
[[tenant.user]]
upn = "expired@testco.onmicrosoft.com"
password = "Old-Password-1!"
password_expired = true
[[tenant.app]]
name = "Secret App"
app_id = "0b0e0000-0000-4000-8000-0000000000a1"
secrets = ["s3cret-value"]
graph_permissions = ["User.Read.All", "Mail.Read"]
[[tenant.app]]
name = "Unconsented"
app_id = "0b0e0000-0000-4000-8000-0000000000a2"
secrets = ["other-secret"]
"#,
    )
    .unwrap()
}

#[tokio::test]
async fn client_secret_grant_roles_and_secret_errors() {
    let sim = start_with(secret_scenario()).await;
    let t = "testco.onmicrosoft.com";
    let app = "0b0e0000-0000-4000-8000-0000000000a1";
    let form = |secret: &'static str, client: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ]
    };
    let (s, b) = sim.token_form(LOGIN, t, &form("s3cret-value", app)).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["access_token"].as_str().unwrap());
    assert_eq!(
        c["roles"],
        serde_json::json!(["Mail.Read", "User.Read.All"])
    );
    assert_eq!(c["appidacr"], "1");
    assert_eq!(c["idtyp"], "app");
    assert!(c["scp"].is_null());
    let (s, b) = password(&sim, t, "expired@testco.onmicrosoft.com", "Old-Password-1!").await;
    assert_aadsts(s, &b, 400, "invalid_grant", 50055);
    let (s, b) = sim.token_form(LOGIN, t, &form("wrong", app)).await;
    assert_aadsts(s, &b, 401, "invalid_client", 7000215);
    let (s, b) = sim
        .token_form(
            LOGIN,
            t,
            &form("other-secret", "0b0e0000-0000-4000-8000-0000000000a2"),
        )
        .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 65001);
    // Client credentials need /.default.
    let (s, b) = sim
        .token_form(
            LOGIN,
            t,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", app),
                ("client_secret", "s3cret-value"),
                ("scope", "User.Read.All"),
            ],
        )
        .await;
    assert_aadsts(s, &b, 400, "invalid_scope", 1002012);
    // v1 endpoint with resource=.
    let r = sim
        .http
        .post(sim.url(LOGIN, &format!("/{t}/oauth2/token")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", app),
            ("client_secret", "s3cret-value"),
            ("resource", "https://graph.microsoft.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["resource"], "https://graph.microsoft.com");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["aud"],
        "https://graph.microsoft.com"
    );
}

#[tokio::test]
async fn certificate_assertions_are_verified() {
    let sim = start().await;
    let pem = sim
        .handle
        .app_credential_pem("fabrikam", FABRIKAM_APP)
        .expect("generated credential");
    assert!(pem.contains("BEGIN CERTIFICATE") && pem.contains("BEGIN PRIVATE KEY"));
    let t = "fabrikam.com";
    let aud = format!("https://{LOGIN}/{t}/oauth2/v2.0/token");
    let grant = |assertion: String| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", FABRIKAM_APP.to_string()),
            ("scope", "https://graph.microsoft.com/.default".to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", assertion),
        ]
    };
    async fn send(sim: &Sim, form: Vec<(&str, String)>) -> (u16, Value) {
        let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        sim.token_form(LOGIN, "fabrikam.com", &f).await
    }
    for alg in ["RS256", "PS256"] {
        let (s, b) = send(&sim, grant(assertion(&pem, FABRIKAM_APP, &aud, alg, 0))).await;
        assert_eq!(s, 200, "{alg}: {b}");
        let c = claims(b["access_token"].as_str().unwrap());
        assert_eq!(c["appidacr"], "2");
        assert_eq!(
            c["roles"],
            serde_json::json!([
                "Files.ReadWrite.All",
                "Group.Read.All",
                "Mail.ReadWrite",
                "Sites.Read.All",
                "User.Read.All"
            ])
        );
    }
    // Same thumbprint, signed by another key: signature check fails.
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let other_key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&other.serialize_der()).unwrap();
    let cert = cairn_sim::pki::RsaCredential::from_pem(&pem).unwrap();
    let forged = sign_assertion(
        &other_key,
        &cert.cert_der,
        FABRIKAM_APP,
        &aud,
        "RS256",
        0,
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
    );
    let (s, b) = send(&sim, grant(forged)).await;
    assert_aadsts(s, &b, 401, "invalid_client", 700027);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("signature validation")
    );
    // A certificate the app does not have.
    let stranger = rcgen::CertificateParams::new(vec![])
        .unwrap()
        .self_signed(&other)
        .unwrap();
    let unknown = sign_assertion(
        &other_key,
        stranger.der(),
        FABRIKAM_APP,
        &aud,
        "RS256",
        0,
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
    );
    let (s, b) = send(&sim, grant(unknown)).await;
    assert_aadsts(s, &b, 401, "invalid_client", 700027);
    // Expired assertion, wrong audience.
    let (s, b) = send(
        &sim,
        grant(assertion(&pem, FABRIKAM_APP, &aud, "RS256", -7200)),
    )
    .await;
    assert_aadsts(s, &b, 401, "invalid_client", 700024);
    let (s, b) = send(
        &sim,
        grant(assertion(
            &pem,
            FABRIKAM_APP,
            "https://example.com/token",
            "RS256",
            0,
        )),
    )
    .await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["error"], "invalid_client");
    // iss must be the client id.
    let (s, b) = send(
        &sim,
        grant(assertion(&pem, NORTHWIND_APP, &aud, "RS256", 0)),
    )
    .await;
    assert_aadsts(s, &b, 401, "invalid_client", 700021);
}

#[tokio::test]
async fn each_cloud_issues_tokens_for_its_own_resources() {
    let sim = start().await;
    let cases = [
        (
            "login.microsoftonline.us",
            "tailspin.onmicrosoft.us",
            "Tailspin-Admin-2026!",
            "https://graph.microsoft.us",
        ),
        (
            "login.microsoftonline.us",
            "wingtip.onmicrosoft.us",
            "Wingtip-Admin-2026!",
            "https://dod-graph.microsoft.us",
        ),
        (
            "login.chinacloudapi.cn",
            "adatum.partner.onmschina.cn",
            "Adatum-Admin-2026!",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
        (
            "login.partner.microsoftonline.cn",
            "adatum.partner.onmschina.cn",
            "Adatum-Admin-2026!",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
        (
            "login.microsoftonline.de",
            "litware.onmicrosoft.de",
            "Litware-Admin-2026!",
            "https://graph.microsoft.de",
        ),
    ];
    for (login, domain, pw, graph) in cases {
        let user = format!("admin@{domain}");
        let scope = format!("{graph}/.default");
        let (s, b) = sim
            .token_form(
                login,
                domain,
                &[
                    ("grant_type", "password"),
                    ("client_id", GRAPH_CLI),
                    ("username", &user),
                    ("password", pw),
                    ("scope", &scope),
                ],
            )
            .await;
        assert_eq!(s, 200, "{login} {domain}: {b}");
        let token = b["access_token"].as_str().unwrap();
        assert_eq!(claims(token)["aud"], graph);
        // The token works on that cloud's Graph host and nowhere else.
        let host = graph.trim_start_matches("https://");
        let (s, me) = sim.get(&sim.url(host, "/v1.0/me"), token).await;
        assert_eq!(s, 200, "{me}");
        assert_eq!(me["userPrincipalName"], user);
        let (s, e) = sim
            .get(&sim.url("graph.microsoft.com", "/v1.0/me"), token)
            .await;
        assert_eq!(s, 401);
        assert_eq!(e["error"]["code"], "InvalidAuthenticationToken");
        // Another cloud's Graph is not a resource of this tenant.
        let (s, b) = sim
            .token_form(
                login,
                domain,
                &[
                    ("grant_type", "password"),
                    ("client_id", GRAPH_CLI),
                    ("username", &user),
                    ("password", pw),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        assert_aadsts(s, &b, 400, "invalid_resource", 500011);
    }
    // China's tenant on the worldwide authority.
    let (s, b) = password(
        &sim,
        "adatum.partner.onmschina.cn",
        "admin@adatum.partner.onmschina.cn",
        "Adatum-Admin-2026!",
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_request", 90038);
}

#[tokio::test]
async fn refresh_tokens_and_id_tokens_for_public_clients() {
    let sim = start().await;
    let (s, b) = sim
        .token_form(
            LOGIN,
            "contoso.com",
            &[
                ("grant_type", "password"),
                ("client_id", EXO_CLI),
                ("username", "exadmin@contoso.com"),
                ("password", "Contoso-ExAdmin-2026!"),
                (
                    "scope",
                    "https://outlook.office365.com/.default offline_access openid profile",
                ),
                ("client_info", "1"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["aud"],
        "https://outlook.office365.com"
    );
    assert_eq!(
        claims(b["id_token"].as_str().unwrap())["preferred_username"],
        "exadmin@contoso.com"
    );
    assert!(b["client_info"].is_string());
    let rt = b["refresh_token"].as_str().unwrap();
    let (s, b2) = sim
        .token_form(
            LOGIN,
            "contoso.com",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", EXO_CLI),
                ("refresh_token", rt),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{b2}");
    assert_eq!(
        claims(b2["access_token"].as_str().unwrap())["upn"],
        "exadmin@contoso.com"
    );
    let (s, b3) = sim
        .token_form(
            LOGIN,
            "contoso.com",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", EXO_CLI),
                ("refresh_token", "0.Abogus"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(s, 400, "{b3}");
    assert_eq!(b3["error"], "invalid_grant");
}
