//! Microsoft Graph over real HTTPS: application registration, credentials (addKey with
//! proof of possession, addPassword), admin consent with Graph's authorization, and
//! directory roles for service principals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::Method;
use serde_json::json;

const G: &str = "graph.microsoft.com";

#[tokio::test]
async fn graph_service_principal_exposes_real_app_role_ids() {
    let sim = start().await;
    let token = sim
        .graph_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;
    let (s, page) = sim
        .get(
            &sim.url(
                G,
                "/v1.0/servicePrincipals?$filter=appId eq '00000003-0000-0000-c000-000000000000'",
            ),
            &token,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let sp = &page["value"][0];
    let role = |v: &str| {
        sp["appRoles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == v)
            .unwrap()["id"]
            .clone()
    };
    assert_eq!(
        role("Mail.ReadWrite"),
        "e2a3a72e-5f79-4c64-b1b1-878b674786c9"
    );
    assert_eq!(
        role("User.Read.All"),
        "df021288-bdef-4463-88db-98f22de89214"
    );
    let (_, page) = sim
        .get(
            &sim.url(
                G,
                "/v1.0/servicePrincipals?$filter=appId eq '00000002-0000-0ff1-ce00-000000000000'",
            ),
            &token,
        )
        .await;
    let exo = &page["value"][0];
    assert_eq!(exo["appRoles"][0]["value"], "Exchange.ManageAsApp");
    assert_eq!(
        exo["appRoles"][0]["id"],
        "dc50a0fb-09a3-484d-be87-e023b12c6440"
    );
}

/// Registers an app with a certificate, creates its service principal and grants it
/// Graph permissions, as Cairn's set-up does; returns (appId, sp id, credential PEM).
pub async fn register_app(sim: &Sim, token: &str, perms: &[&str]) -> (String, String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec![])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let (s, app) = sim
        .send_json(
            Method::POST,
            &sim.url(G, "/v1.0/applications"),
            token,
            &json!({"displayName": "Cairn Backup (test)"}),
        )
        .await;
    assert_eq!(s, 201, "{app}");
    let (object_id, app_id) = (
        app["id"].as_str().unwrap().to_string(),
        app["appId"].as_str().unwrap().to_string(),
    );
    let (s, e) = sim
        .send_json(Method::PATCH, &sim.url(G, &format!("/v1.0/applications/{object_id}")), token, &json!({"keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify", "key": b64}]}))
        .await;
    assert_eq!(s, 204, "{e}");
    let (s, sp) = sim
        .send_json(
            Method::POST,
            &sim.url(G, "/v1.0/servicePrincipals"),
            token,
            &json!({"appId": app_id}),
        )
        .await;
    assert_eq!(s, 201, "{sp}");
    let sp_id = sp["id"].as_str().unwrap().to_string();
    let (_, page) = sim
        .get(
            &sim.url(
                G,
                "/v1.0/servicePrincipals?$filter=appId eq '00000003-0000-0000-c000-000000000000'",
            ),
            token,
        )
        .await;
    let graph = &page["value"][0];
    for p in perms {
        let role_id = graph["appRoles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == *p)
            .unwrap()["id"]
            .clone();
        let (s, a) = sim
            .send_json(
                Method::POST,
                &sim.url(
                    G,
                    &format!(
                        "/v1.0/servicePrincipals/{}/appRoleAssignedTo",
                        graph["id"].as_str().unwrap()
                    ),
                ),
                token,
                &json!({"principalId": sp_id, "resourceId": graph["id"], "appRoleId": role_id}),
            )
            .await;
        assert_eq!(s, 201, "{a}");
    }
    (
        app_id,
        sp_id,
        format!("{}{}", cert.pem(), key.serialize_pem()),
    )
}

#[tokio::test]
async fn app_registration_and_consent_follow_graph_authorization() {
    let sim = start().await;
    let helpdesk = sim
        .graph_token(
            "contoso.com",
            "helpdesk@contoso.com",
            "Contoso-Helpdesk-2026!",
        )
        .await;
    let (s, e) = sim
        .send_json(
            Method::POST,
            &sim.url(G, "/v1.0/applications"),
            &helpdesk,
            &json!({"displayName": "x"}),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(e["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(
        e["error"]["message"],
        "Insufficient privileges to complete the operation."
    );

    let appadmin = sim
        .graph_token(
            "contoso.com",
            "appadmin@contoso.com",
            "Contoso-AppAdmin-2026!",
        )
        .await;
    let (app_id, sp_id, pem) =
        register_app(&sim, &appadmin, &["Mail.ReadWrite", "User.Read.All"]).await;
    let state = sim.handle.tenant_state("contoso").unwrap();
    assert_eq!(
        state.granted_roles(&app_id, "00000003-0000-0000-c000-000000000000"),
        ["Mail.ReadWrite", "User.Read.All"]
    );
    assert_eq!(
        state
            .application_by_app_id(&app_id)
            .unwrap()
            .key_credentials
            .len(),
        1
    );
    let (_, found) = sim
        .get(
            &sim.url(
                G,
                &format!("/v1.0/applications?$filter=appId eq '{app_id}'"),
            ),
            &appadmin,
        )
        .await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        found["value"][0]["keyCredentials"][0]["type"],
        "AsymmetricX509Cert"
    );

    // Graph's alternate keys.
    let (s, a) = sim
        .get(
            &sim.url(G, &format!("/v1.0/applications(appId='{app_id}')")),
            &appadmin,
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["appId"], app_id);
    let (s, sp) = sim
        .get(
            &sim.url(G, &format!("/v1.0/servicePrincipals(appId='{app_id}')")),
            &appadmin,
        )
        .await;
    assert_eq!(s, 200, "{sp}");
    assert_eq!(sp["id"], sp_id);
    let (s, m) = sim
        .get(&sim.url(G, "/v1.0/directoryRoles(roleTemplateId='e8611ab8-c189-46e8-94e1-60213ab1f814')/members"), &appadmin)
        .await;
    assert_eq!(s, 200, "{m}");
    let pra: BTreeSet<&str> = m["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(
        pra,
        BTreeSet::from(["appadmin@contoso.com", "exadmin@contoso.com"])
    );

    // The new app signs in with its certificate and gets exactly the consented roles.
    let (s, b) = sim
        .app_token_cert(
            "contoso.com",
            &app_id,
            &pem,
            "https://graph.microsoft.com/.default",
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["access_token"].as_str().unwrap());
    assert_eq!(c["roles"], json!(["Mail.ReadWrite", "User.Read.All"]));
    assert_eq!(c["oid"], sp_id);
    let app_token = b["access_token"].as_str().unwrap();
    let (s, _) = sim.get(&sim.url(G, "/v1.0/users"), app_token).await;
    assert_eq!(s, 200);
    let (s, e) = sim.get(&sim.url(G, "/v1.0/groups"), app_token).await;
    assert_eq!(s, 403, "no Group.Read.All: {e}");

    // Consent needs Global Administrator or Privileged Role Administrator.
    let exadmin = sim
        .graph_token(
            "contoso.com",
            "exadmin@contoso.com",
            "Contoso-ExAdmin-2026!",
        )
        .await;
    let (_, page) = sim
        .get(
            &sim.url(
                G,
                "/v1.0/servicePrincipals?$filter=appId eq '00000003-0000-0000-c000-000000000000'",
            ),
            &exadmin,
        )
        .await;
    let graph = page["value"][0]["id"].as_str().unwrap().to_string();
    let (s, e) = sim
        .send_json(Method::POST, &sim.url(G, &format!("/v1.0/servicePrincipals/{graph}/appRoleAssignedTo")), &helpdesk, &json!({"principalId": sp_id, "resourceId": graph, "appRoleId": "5b567255-7703-4780-807c-7be8301ae99b"}))
        .await;
    assert_eq!(s, 403, "{e}");
    let (s, _) = sim
        .get(
            &sim.url(
                G,
                &format!("/v1.0/servicePrincipals/{graph}/appRoleAssignedTo"),
            ),
            &exadmin,
        )
        .await;
    assert_eq!(s, 200);
}

fn proof(key_pem: &str, object_id: &str) -> String {
    use cairn_sim::jwt::b64url;
    let cred = cairn_sim::pki::RsaCredential::from_pem(key_pem).unwrap();
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&cred.key_pkcs8).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header =
        json!({"alg": "RS256", "typ": "JWT", "x5t": b64url(&cairn_sim::pki::sha1(&cred.cert_der))});
    let claims = json!({"aud": "00000002-0000-0000-c000-000000000000", "iss": object_id, "nbf": now, "exp": now + 600});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", b64url(&sig))
}

#[tokio::test]
async fn add_key_needs_proof_and_add_password_returns_a_working_secret() {
    use base64::Engine;
    let sim = start().await;
    let admin = sim
        .graph_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;
    let (app_id, _, pem) = register_app(&sim, &admin, &["User.Read.All"]).await;
    let object_id = sim
        .handle
        .tenant_state("contoso")
        .unwrap()
        .application_by_app_id(&app_id)
        .unwrap()
        .id
        .to_string();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec![])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let new_pem = format!("{}{}", cert.pem(), key.serialize_pem());
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let url = sim.url(G, &format!("/v1.0/applications/{object_id}/addKey"));
    let body = |proof: String| json!({"keyCredential": {"type": "AsymmetricX509Cert", "usage": "Verify", "key": key_b64}, "passwordCredential": null, "proof": proof});
    // A proof signed by the new key itself is not proof of possession of an existing one.
    let (s, e) = sim
        .send_json(
            Method::POST,
            &url,
            &admin,
            &body(proof(&new_pem, &object_id)),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    let (s, k) = sim
        .send_json(Method::POST, &url, &admin, &body(proof(&pem, &object_id)))
        .await;
    assert_eq!(s, 200, "{k}");
    assert_eq!(
        k["customKeyIdentifier"],
        hex::encode_upper(cairn_sim::pki::sha1(cert.der()))
    );
    let state = sim.handle.tenant_state("contoso").unwrap();
    assert_eq!(
        state
            .application_by_app_id(&app_id)
            .unwrap()
            .key_credentials
            .len(),
        2
    );
    // Both certificates sign in.
    for p in [&pem, &new_pem] {
        let (s, b) = sim
            .app_token_cert(
                "contoso.com",
                &app_id,
                p,
                "https://graph.microsoft.com/.default",
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, secret) = sim
        .send_json(
            Method::POST,
            &sim.url(G, &format!("/v1.0/applications/{object_id}/addPassword")),
            &admin,
            &json!({"passwordCredential": {"displayName": "ci"}}),
        )
        .await;
    assert_eq!(s, 200, "{secret}");
    let text = secret["secretText"].as_str().unwrap();
    assert_eq!(secret["hint"].as_str().unwrap(), &text[..3]);
    let (s, b) = sim
        .token_form(
            "login.microsoftonline.com",
            "contoso.com",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &app_id),
                ("client_secret", text),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(claims(b["access_token"].as_str().unwrap())["appidacr"], "1");
    // GET never returns the secret.
    let (_, a) = sim
        .get(
            &sim.url(G, &format!("/v1.0/applications/{object_id}")),
            &admin,
        )
        .await;
    assert!(a["passwordCredentials"][0]["secretText"].is_null());
}

#[tokio::test]
async fn directory_roles_can_be_assigned_to_service_principals() {
    let sim = start().await;
    let admin = sim
        .graph_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;
    let (app_id, sp_id, _) = register_app(&sim, &admin, &["User.Read.All"]).await;
    const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    let url = sim.url(G, "/v1.0/roleManagement/directory/roleAssignments");
    let body =
        json!({"principalId": sp_id, "roleDefinitionId": GLOBAL_READER, "directoryScopeId": "/"});
    // Application Administrator may not assign directory roles.
    let helpdesk = sim
        .graph_token(
            "contoso.com",
            "helpdesk@contoso.com",
            "Contoso-Helpdesk-2026!",
        )
        .await;
    let (s, e) = sim.send_json(Method::POST, &url, &helpdesk, &body).await;
    assert_eq!(s, 403, "{e}");
    let (s, a) = sim.send_json(Method::POST, &url, &admin, &body).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["principalId"], sp_id);
    assert_eq!(a["roleDefinitionId"], GLOBAL_READER);
    let (s, e) = sim.send_json(Method::POST, &url, &admin, &body).await;
    assert_eq!(s, 400, "duplicate: {e}");
    let (_, list) = sim
        .get(&format!("{url}?$filter=principalId eq '{sp_id}'"), &admin)
        .await;
    let held: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["roleDefinitionId"].as_str().unwrap())
        .collect();
    assert_eq!(held, [GLOBAL_READER]);
    let (_, members) = sim
        .get(
            &sim.url(
                G,
                &format!("/v1.0/directoryRoles(roleTemplateId='{GLOBAL_READER}')/members"),
            ),
            &admin,
        )
        .await;
    assert_eq!(
        members["value"][0]["@odata.type"],
        "#microsoft.graph.servicePrincipal"
    );
    assert_eq!(members["value"][0]["appId"], app_id);
    let state = sim.handle.tenant_state("contoso").unwrap();
    assert!(
        state
            .sp_by_app_id(&app_id)
            .unwrap()
            .has_role("Global Reader")
    );
    // Unknown role template.
    let (s, _) = sim
        .send_json(Method::POST, &url, &admin, &json!({"principalId": sp_id, "roleDefinitionId": "00000000-0000-0000-0000-000000000000", "directoryScopeId": "/"}))
        .await;
    assert_eq!(s, 404);
}
