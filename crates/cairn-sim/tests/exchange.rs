//! Exchange Online admin API over real HTTPS: mailboxes, RBAC for Applications end to end
//! (service principal, scope, assignment, authorization test, Graph mailbox access), the
//! Organization Management check and OPATH errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const G: &str = "graph.microsoft.com";
const CONTOSO: &str = "8f6c5a34-0c7e-4c41-9a3e-1c2b3d4e5f60";

fn rows(body: &Value) -> &Vec<Value> {
    body["value"].as_array().unwrap()
}

#[tokio::test]
async fn get_mailbox_lists_mailboxes_with_types_and_archive() {
    let sim = start().await;
    let token = sim
        .exo_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;
    let (s, body) = sim
        .cmdlet(
            CONTOSO,
            &token,
            "Get-Mailbox",
            json!({"ResultSize": "Unlimited"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .contains("/adminapi/beta/")
    );
    let mut got: Vec<(String, String, String)> = rows(&body)
        .iter()
        .map(|r| {
            (
                r["UserPrincipalName"].as_str().unwrap().to_string(),
                r["RecipientTypeDetails"].as_str().unwrap().to_string(),
                r["ArchiveStatus"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let want = [
        ("alice@contoso.com", "UserMailbox", "Active"),
        ("bob@contoso.com", "UserMailbox", "None"),
        ("carol@contoso.com", "UserMailbox", "None"),
        ("info@contoso.com", "SharedMailbox", "None"),
        ("room-1@contoso.com", "RoomMailbox", "None"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    let (_, shared) = sim
        .cmdlet(
            "contoso.com",
            &token,
            "Get-Mailbox",
            json!({"RecipientTypeDetails": ["SharedMailbox"]}),
        )
        .await;
    assert_eq!(rows(&shared).len(), 1);
    assert_eq!(rows(&shared)[0]["Alias"], "info");
    let (_, sales) = sim
        .cmdlet(
            "contoso.com",
            &token,
            "Get-Mailbox",
            json!({"Filter": "Department -eq 'Sales'"}),
        )
        .await;
    assert_eq!(rows(&sales).len(), 2);
    let (s, e) = sim
        .cmdlet(
            "contoso.com",
            &token,
            "Get-Mailbox",
            json!({"Identity": "nobody"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ManagementObjectNotFoundException"),
        "{e}"
    );
    // A misspelt parameter is refused, as PowerShell binds parameters strictly.
    let (s, e) = sim
        .cmdlet(
            "contoso.com",
            &token,
            "Get-Mailbox",
            json!({"Identiti": "alice"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'Identiti'"),
        "{e}"
    );
}

#[tokio::test]
async fn cmdlet_output_pages_with_next_link() {
    let sim = start().await;
    let token = sim
        .exo_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;
    let body = json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}});
    let mut url = sim.url(
        "outlook.office365.com",
        &format!("/adminapi/beta/{CONTOSO}/InvokeCommand"),
    );
    let (mut names, mut pages) = (Vec::new(), 0);
    loop {
        let r = sim
            .http
            .post(&url)
            .bearer_auth(&token)
            .header("Prefer", "odata.maxpagesize=2")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        assert!(rows(&page).len() <= 2);
        names.extend(
            rows(&page)
                .iter()
                .map(|m| m["Alias"].as_str().unwrap().to_string()),
        );
        pages += 1;
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    names.sort();
    assert_eq!(names, ["alice", "bob", "carol", "info", "room-1"]);
}

#[tokio::test]
async fn rbac_for_applications_end_to_end() {
    let sim = start().await;
    // Set-up as an administrator does it: Graph registration + consent, then Exchange.
    let graph = sim
        .graph_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;
    let (app_id, sp_id, pem) = graph_register(&sim, &graph).await;
    let exo = sim
        .exo_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;

    let (s, b) = sim
        .app_token_cert(
            "contoso.com",
            &app_id,
            &pem,
            "https://graph.microsoft.com/.default",
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let app_token = b["access_token"].as_str().unwrap().to_string();
    let folders = |user: &str| sim.url(G, &format!("/v1.0/users/{user}/mailFolders"));
    // Consented in Entra, but no Exchange role yet: denied.
    let (s, _) = sim.get(&folders("alice@contoso.com"), &app_token).await;
    assert_eq!(s, 403);

    let (s, b) = sim
        .cmdlet(
            CONTOSO,
            &exo,
            "New-ServicePrincipal",
            json!({"AppId": app_id, "ObjectId": sp_id, "DisplayName": "Cairn Backup (test)"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let identity = rows(&b)[0]["Identity"].as_str().unwrap().to_string();
    let (s, b) = sim
        .cmdlet(
            CONTOSO,
            &exo,
            "New-ServicePrincipal",
            json!({"AppId": app_id, "ObjectId": sp_id}),
        )
        .await;
    assert_eq!(s, 400, "duplicate: {b}");
    let (_, b) = sim
        .cmdlet(
            CONTOSO,
            &exo,
            "Get-ServicePrincipal",
            json!({"Identity": app_id}),
        )
        .await;
    assert_eq!(rows(&b)[0]["ObjectId"], sp_id);

    let (s, b) = sim
        .cmdlet(CONTOSO, &exo, "New-ManagementScope", json!({"Name": "Sales only", "RecipientRestrictionFilter": "Department -eq 'Sales' -and RecipientTypeDetails -eq 'UserMailbox'"}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = sim
        .cmdlet(CONTOSO, &exo, "New-ManagementRoleAssignment", json!({"App": identity, "Role": "Application Mail.ReadWrite", "CustomResourceScope": "Sales only"}))
        .await;
    assert_eq!(s, 200, "{b}");
    let assignment = rows(&b)[0]["Name"].as_str().unwrap().to_string();
    assert_eq!(rows(&b)[0]["CustomResourceScope"], "Sales only");

    // Takes effect at once: Sales mailboxes yes, others no.
    for (user, want) in [
        ("alice@contoso.com", 200),
        ("carol@contoso.com", 200),
        ("bob@contoso.com", 403),
        ("info@contoso.com", 403),
    ] {
        let (s, body) = sim.get(&folders(user), &app_token).await;
        assert_eq!(s, want, "{user}: {body}");
    }
    let (_, t) = sim
        .cmdlet(
            CONTOSO,
            &exo,
            "Test-ServicePrincipalAuthorization",
            json!({"Identity": identity, "Resource": "alice@contoso.com"}),
        )
        .await;
    let row = &rows(&t)[0];
    assert_eq!(row["RoleName"], "Application Mail.ReadWrite");
    assert_eq!(row["GrantedPermissions"], "Mail.ReadWrite");
    assert_eq!(row["AllowedResourceScope"], "Sales only");
    assert_eq!(row["ScopeType"], "CustomRecipientScope");
    assert_eq!(row["InScope"], true);
    let (_, t) = sim
        .cmdlet(
            CONTOSO,
            &exo,
            "Test-ServicePrincipalAuthorization",
            json!({"Identity": identity, "Resource": "bob"}),
        )
        .await;
    assert_eq!(rows(&t)[0]["InScope"], false);
    let (_, t) = sim
        .cmdlet(
            CONTOSO,
            &exo,
            "Test-ServicePrincipalAuthorization",
            json!({"Identity": identity}),
        )
        .await;
    assert_eq!(rows(&t)[0]["InScope"], "Not Run");

    let (_, g) = sim
        .cmdlet(
            CONTOSO,
            &exo,
            "Get-ManagementRoleAssignment",
            json!({"RoleAssignee": identity}),
        )
        .await;
    assert_eq!(rows(&g).len(), 1);
    let state = sim.handle.tenant_state("contoso").unwrap();
    assert_eq!(state.exchange.role_assignments.len(), 1);
    assert_eq!(
        state.exchange.role_assignments[0]
            .custom_resource_scope
            .as_deref(),
        Some("Sales only")
    );

    // Organization-wide assignment reaches every mailbox; removing both takes access away.
    let (s, b) = sim
        .cmdlet(
            CONTOSO,
            &exo,
            "New-ManagementRoleAssignment",
            json!({"App": app_id, "Role": "Application Mail.Read"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let org_wide = rows(&b)[0]["Name"].as_str().unwrap().to_string();
    assert_eq!(rows(&b)[0]["RecipientWriteScope"], "Organization");
    let (s, _) = sim.get(&folders("bob@contoso.com"), &app_token).await;
    assert_eq!(s, 200);
    for name in [assignment, org_wide] {
        let (s, b) = sim
            .cmdlet(
                CONTOSO,
                &exo,
                "Remove-ManagementRoleAssignment",
                json!({"Identity": name, "Confirm": false}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, _) = sim.get(&folders("alice@contoso.com"), &app_token).await;
    assert_eq!(s, 403);
}

async fn graph_register(sim: &Sim, token: &str) -> (String, String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec![])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let (s, app) = sim
        .send_json(Method::POST, &sim.url(G, "/v1.0/applications"), token, &json!({"displayName": "Cairn Backup (test)", "keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify", "key": b64}]}))
        .await;
    assert_eq!(s, 201, "{app}");
    let app_id = app["appId"].as_str().unwrap().to_string();
    let (_, sp) = sim
        .send_json(
            Method::POST,
            &sim.url(G, "/v1.0/servicePrincipals"),
            token,
            &json!({"appId": app_id}),
        )
        .await;
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
    let graph = page["value"][0]["id"].as_str().unwrap().to_string();
    let (s, a) = sim
        .send_json(Method::POST, &sim.url(G, &format!("/v1.0/servicePrincipals/{graph}/appRoleAssignedTo")), token, &json!({"principalId": sp_id, "resourceId": graph, "appRoleId": "e2a3a72e-5f79-4c64-b1b1-878b674786c9"}))
        .await;
    assert_eq!(s, 201, "{a}");
    (
        app_id,
        sp_id,
        format!("{}{}", cert.pem(), key.serialize_pem()),
    )
}

#[tokio::test]
async fn role_assignment_changes_need_organization_management() {
    let sim = start().await;
    let exo = sim
        .exo_token(
            "contoso.com",
            "appadmin@contoso.com",
            "Contoso-AppAdmin-2026!",
        )
        .await;
    let (s, e) = sim
        .cmdlet(
            CONTOSO,
            &exo,
            "New-ManagementRoleAssignment",
            json!({"App": "anything", "Role": "Application Mail.ReadWrite"}),
        )
        .await;
    assert_eq!(s, 403, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("Organization Management"), "{msg}");
    assert!(msg.contains("appadmin@contoso.com"), "{msg}");
    // exadmin is in Organization Management.
    let exo = sim
        .exo_token(
            "contoso.com",
            "exadmin@contoso.com",
            "Contoso-ExAdmin-2026!",
        )
        .await;
    let (s, b) = sim
        .cmdlet(CONTOSO, &exo, "Enable-OrganizationCustomization", json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = sim
        .cmdlet(CONTOSO, &exo, "Enable-OrganizationCustomization", json!({}))
        .await;
    assert_eq!(s, 400, "{b}");
    // A Graph token is not an Exchange token.
    let graph = sim
        .graph_token(
            "contoso.com",
            "exadmin@contoso.com",
            "Contoso-ExAdmin-2026!",
        )
        .await;
    let (s, e) = sim.cmdlet(CONTOSO, &graph, "Get-Mailbox", json!({})).await;
    assert_eq!(s, 401, "{e}");
    // Another tenant's URL.
    let (s, _) = sim
        .cmdlet("fabrikam.com", &exo, "Get-Mailbox", json!({}))
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn management_scope_filters_are_validated_and_listed() {
    let sim = start().await;
    let exo = sim
        .exo_token("fabrikam.com", "admin@fabrikam.com", "Fabrikam-Admin-2026!")
        .await;
    let (_, b) = sim
        .cmdlet("fabrikam.com", &exo, "Get-ManagementScope", json!({}))
        .await;
    assert_eq!(rows(&b)[0]["Name"], "Sales mailboxes");
    assert_eq!(
        rows(&b)[0]["RecipientRestrictionFilter"],
        "Department -eq 'Sales'"
    );
    let (s, e) = sim
        .cmdlet(
            "fabrikam.com",
            &exo,
            "New-ManagementScope",
            json!({"Name": "bad", "RecipientRestrictionFilter": "Colour -eq 'red'"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("'Colour'"),
        "{e}"
    );
    let (s, e) = sim
        .cmdlet(
            "fabrikam.com",
            &exo,
            "New-ManagementScope",
            json!({"Name": "bad", "RecipientRestrictionFilter": "Department -eq"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid filter syntax"),
        "{e}"
    );
    let (s, b) = sim
        .cmdlet("fabrikam.com", &exo, "New-ManagementScope", json!({"Name": "Finance", "RecipientRestrictionFilter": "Department -eq 'Finance' -or CustomAttribute1 -eq 'backup'"}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, t) = sim
        .cmdlet(
            "fabrikam.com",
            &exo,
            "Test-ServicePrincipalAuthorization",
            json!({"Identity": FABRIKAM_APP, "Resource": "dan@fabrikam.com"}),
        )
        .await;
    assert_eq!(rows(&t)[0]["InScope"], false);
    let (s, e) = sim
        .cmdlet(
            "fabrikam.com",
            &exo,
            "Remove-ManagementScope",
            json!({"Identity": "Sales mailboxes"}),
        )
        .await;
    assert_eq!(s, 400, "in use: {e}");
    let (s, e) = sim
        .cmdlet("fabrikam.com", &exo, "Get-Nonsense", json!({}))
        .await;
    assert_eq!(s, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not recognized"),
        "{e}"
    );
}

#[tokio::test]
async fn app_only_exchange_needs_manage_as_app_and_a_role() {
    let sim = start().await;
    let pem = sim
        .handle
        .app_credential_pem("fabrikam", FABRIKAM_APP)
        .unwrap();
    let (s, b) = sim
        .app_token_cert(
            "fabrikam.com",
            FABRIKAM_APP,
            &pem,
            "https://outlook.office365.com/.default",
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let token = b["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["roles"], json!(["Exchange.ManageAsApp"]));
    // Exchange.ManageAsApp alone: read cmdlets (the check) work, changes do not.
    let (s, b) = sim
        .cmdlet("fabrikam.com", token, "Get-Mailbox", json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(rows(&b).len(), 5);
    let (s, b) = sim
        .cmdlet(
            "fabrikam.com",
            token,
            "Test-ServicePrincipalAuthorization",
            json!({"Identity": FABRIKAM_APP, "Resource": "eve@fabrikam.com"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(rows(&b)[0]["InScope"], false);
    let (s, e) = sim
        .cmdlet(
            "fabrikam.com",
            token,
            "New-ManagementScope",
            json!({"Name": "All", "RecipientRestrictionFilter": "Department -ne $null"}),
        )
        .await;
    assert_eq!(s, 403, "{e}");

    let scenario = cairn_sim::Scenario::from_toml_str(
        r#"
[[tenant]]
name = "ops"
cloud = "worldwide"
id = "0b0e0000-0000-4000-8000-000000000009"
domains = ["ops.onmicrosoft.com"]
[[tenant.user]]
upn = "m1@ops.onmicrosoft.com"
mailbox = "user"
[[tenant.app]]
name = "Ops"
app_id = "0b0e0000-0000-4000-8000-0000000000b1"
secrets = ["ops-secret"]
exchange_permissions = ["Exchange.ManageAsApp"]
roles = ["Exchange Administrator"]
[[tenant.app]]
name = "Graph only"
app_id = "0b0e0000-0000-4000-8000-0000000000b2"
secrets = ["graph-only"]
graph_permissions = ["User.Read.All"]
"#,
    )
    .unwrap();
    let sim = start_with(scenario).await;
    let (s, b) = sim
        .token_form(
            "login.microsoftonline.com",
            "ops.onmicrosoft.com",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "0b0e0000-0000-4000-8000-0000000000b1"),
                ("client_secret", "ops-secret"),
                ("scope", "https://outlook.office365.com/.default"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let ops = b["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        claims(&ops)["wids"][0],
        "29232cdf-9323-42fd-ade2-1d097af3e4de"
    );
    let (s, b) = sim
        .cmdlet("ops.onmicrosoft.com", &ops, "Get-Mailbox", json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(rows(&b)[0]["UserPrincipalName"], "m1@ops.onmicrosoft.com");
    // Its Exchange Administrator role lets it change configuration.
    let (s, b) = sim
        .cmdlet(
            "ops.onmicrosoft.com",
            &ops,
            "New-ManagementScope",
            json!({"Name": "All", "RecipientRestrictionFilter": "Department -ne $null"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // A Graph-only app gets an Exchange token without roles, and the admin API refuses it.
    let (s, b) = sim
        .token_form(
            "login.microsoftonline.com",
            "ops.onmicrosoft.com",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "0b0e0000-0000-4000-8000-0000000000b2"),
                ("client_secret", "graph-only"),
                ("scope", "https://outlook.office365.com/.default"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let token = b["access_token"].as_str().unwrap();
    assert!(claims(token).get("roles").is_none());
    let (s, e) = sim
        .cmdlet("ops.onmicrosoft.com", token, "Get-Mailbox", json!({}))
        .await;
    assert_eq!(s, 401, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Exchange.ManageAsApp")
    );
}
