//! Microsoft Graph over real HTTPS: paging, filters, app registration and consent with
//! Graph's authorization, and mailbox access decided by Exchange RBAC scopes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

const G: &str = "graph.microsoft.com";

#[tokio::test]
async fn users_page_with_top_and_next_link_returns_every_user_once() {
    let sim = start().await;
    let token = sim
        .graph_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;
    let mut url = sim.url(G, "/v1.0/users?$top=3&$select=id,userPrincipalName,department,assignedLicenses,accountEnabled");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (s, page) = sim.get(&url, &token).await;
        assert_eq!(s, 200, "{page}");
        assert!(
            page["@odata.context"]
                .as_str()
                .unwrap()
                .starts_with("https://graph.microsoft.com/v1.0/$metadata#users(")
        );
        let items = page["value"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().cloned());
        pages += 1;
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let state = sim.handle.tenant_state("contoso").unwrap();
    assert_eq!(pages, state.users.len().div_ceil(3));
    let got: BTreeSet<String> = seen
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = state.users.iter().map(|u| u.upn.clone()).collect();
    assert_eq!(got, want);
    assert_eq!(seen.len(), want.len());
    let alice = seen
        .iter()
        .find(|u| u["userPrincipalName"] == "alice@contoso.com")
        .unwrap();
    assert_eq!(alice["department"], "Sales");
    assert_eq!(alice["assignedLicenses"].as_array().unwrap().len(), 1);
    let disabled = seen
        .iter()
        .find(|u| u["userPrincipalName"] == "disabled@contoso.com")
        .unwrap();
    assert_eq!(disabled["accountEnabled"], false);
    // Without $select: the default property set only.
    let (_, page) = sim
        .get(&sim.url(G, "/v1.0/users/alice@contoso.com"), &token)
        .await;
    assert_eq!(page["mail"], "alice@contoso.com");
    assert!(page.get("department").is_none());
}

#[tokio::test]
async fn licensed_users_need_eventual_consistency_and_count() {
    let sim = start().await;
    let token = sim
        .graph_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;
    let url = sim.url(
        G,
        "/v1.0/users?$filter=assignedLicenses/$count ne 0&$count=true&$select=userPrincipalName",
    );
    let (s, e) = sim.get(&url, &token).await;
    assert_eq!(s, 400);
    assert_eq!(e["error"]["code"], "Request_UnsupportedQuery");
    let r = sim
        .http
        .get(&url)
        .bearer_auth(&token)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    let upns: BTreeSet<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(
        upns,
        BTreeSet::from(["alice@contoso.com", "bob@contoso.com", "carol@contoso.com"])
    );
    assert_eq!(page["@odata.count"], 3);
}

#[tokio::test]
async fn directory_reads_organization_groups_roles() {
    let sim = start().await;
    let token = sim
        .graph_token(
            "contoso.com",
            "helpdesk@contoso.com",
            "Contoso-Helpdesk-2026!",
        )
        .await;
    let (s, org) = sim.get(&sim.url(G, "/v1.0/organization"), &token).await;
    assert_eq!(s, 200, "{org}");
    assert_eq!(
        org["value"][0]["id"],
        "8f6c5a34-0c7e-4c41-9a3e-1c2b3d4e5f60"
    );
    let (_, domains) = sim.get(&sim.url(G, "/v1.0/domains"), &token).await;
    let names: Vec<&str> = domains["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["contoso.onmicrosoft.com", "contoso.com"]);
    let (_, groups) = sim
        .get(
            &sim.url(G, "/v1.0/groups?$filter=groupTypes/any(c:c eq 'Unified')"),
            &token,
        )
        .await;
    let groups = groups["value"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["displayName"], "All Company");
    let gid = groups[0]["id"].as_str().unwrap();
    let (_, members) = sim
        .get(&sim.url(G, &format!("/v1.0/groups/{gid}/members")), &token)
        .await;
    let m: BTreeSet<&str> = members["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(
        m,
        BTreeSet::from(["alice@contoso.com", "bob@contoso.com", "carol@contoso.com"])
    );
    let (_, roles) = sim.get(&sim.url(G, "/v1.0/directoryRoles"), &token).await;
    let ga = roles["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["displayName"] == "Global Administrator")
        .unwrap();
    let (_, gam) = sim
        .get(
            &sim.url(
                G,
                &format!(
                    "/v1.0/directoryRoles/{}/members",
                    ga["id"].as_str().unwrap()
                ),
            ),
            &token,
        )
        .await;
    let m: BTreeSet<&str> = gam["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(
        m,
        BTreeSet::from(["admin@contoso.onmicrosoft.com", "mfa.admin@contoso.com"])
    );
    let (s, e) = sim
        .get(&sim.url(G, "/v1.0/users/nobody@contoso.com"), &token)
        .await;
    assert_eq!(s, 404);
    assert_eq!(e["error"]["code"], "Request_ResourceNotFound");
}

#[tokio::test]
async fn mailbox_access_follows_exchange_role_assignment_scopes() {
    let sim = start().await;
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
    let token = b["access_token"].as_str().unwrap();
    for (user, allowed) in [
        ("ann", true),
        ("ben", true),
        ("cathy", true),
        ("dan", false),
        ("eve", false),
    ] {
        let (s, body) = sim
            .get(
                &sim.url(G, &format!("/v1.0/users/{user}@fabrikam.com/mailFolders")),
                token,
            )
            .await;
        if allowed {
            assert_eq!(s, 200, "{user}: {body}");
            let names: Vec<&str> = body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["displayName"].as_str().unwrap())
                .collect();
            // The well-known folders come first (the corpus adds user folders after).
            assert_eq!(
                names[..7],
                [
                    "Inbox",
                    "Drafts",
                    "Sent Items",
                    "Deleted Items",
                    "Junk Email",
                    "Archive",
                    "Outbox"
                ]
            );
            let inbox = &body["value"][0];
            for k in [
                "id",
                "parentFolderId",
                "childFolderCount",
                "unreadItemCount",
                "totalItemCount",
            ] {
                assert!(!inbox[k].is_null(), "{k}");
            }
            let (s, f) = sim
                .get(
                    &sim.url(
                        G,
                        &format!("/v1.0/users/{user}@fabrikam.com/mailFolders/inbox"),
                    ),
                    token,
                )
                .await;
            assert_eq!(s, 200);
            assert_eq!(f["id"], inbox["id"]);
        } else {
            assert_eq!(s, 403, "{user}: {body}");
            assert_eq!(body["error"]["code"], "ErrorAccessDenied");
            assert_eq!(
                body["error"]["message"],
                "Access is denied. Check credentials and try again."
            );
        }
    }
    // Organization-wide assignment: every mailbox.
    let pem = sim
        .handle
        .app_credential_pem("northwind", NORTHWIND_APP)
        .unwrap();
    let (_, b) = sim
        .app_token_cert(
            "northwind.onmicrosoft.com",
            NORTHWIND_APP,
            &pem,
            "https://graph.microsoft.com/.default",
        )
        .await;
    let token = b["access_token"].as_str().unwrap();
    for user in ["nora", "nick"] {
        let (s, _) = sim
            .get(
                &sim.url(
                    G,
                    &format!("/v1.0/users/{user}@northwind.onmicrosoft.com/messages"),
                ),
                token,
            )
            .await;
        assert_eq!(s, 200);
    }
    // A user without a mailbox.
    let (s, body) = sim
        .get(
            &sim.url(G, "/v1.0/users/admin@northwind.onmicrosoft.com/mailFolders"),
            token,
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(body["error"]["code"], "MailboxNotEnabledForRESTAPI");
    // Delegated: own mailbox only.
    let t = sim
        .graph_token(
            "contoso.com",
            "admin@contoso.onmicrosoft.com",
            "Contoso-Admin-2026!",
        )
        .await;
    let (s, body) = sim
        .get(&sim.url(G, "/v1.0/users/alice@contoso.com/mailFolders"), &t)
        .await;
    assert_eq!(s, 403, "{body}");
}

#[tokio::test]
async fn nested_groups_expand_through_transitive_members() {
    let sim = start().await;
    let token = sim
        .graph_token(
            "contoso.com",
            "helpdesk@contoso.com",
            "Contoso-Helpdesk-2026!",
        )
        .await;
    let (_, groups) = sim
        .get(
            &sim.url(G, "/v1.0/groups?$filter=displayName eq 'Managers'"),
            &token,
        )
        .await;
    let gid = groups["value"][0]["id"].as_str().unwrap().to_string();
    // (type, name) of every object a members URL answers, following nextLinks.
    let names = |path: String| {
        let sim = &sim;
        let token = token.clone();
        async move {
            let mut out = BTreeSet::new();
            let mut next = Some(sim.url(G, &path));
            while let Some(url) = next.take() {
                let (s, b) = sim.get(&url, &token).await;
                assert_eq!(s, 200, "{url}: {b}");
                for o in b["value"].as_array().unwrap() {
                    let name = o["userPrincipalName"]
                        .as_str()
                        .or(o["displayName"].as_str());
                    out.insert((
                        o["@odata.type"].as_str().unwrap().to_string(),
                        name.unwrap().to_string(),
                    ));
                }
                next = b["@odata.nextLink"].as_str().map(String::from);
            }
            out
        }
    };
    let user = |n: &str| ("#microsoft.graph.user".to_string(), n.to_string());
    let group = |n: &str| ("#microsoft.graph.group".to_string(), n.to_string());
    // Direct members: a user and a group.
    assert_eq!(
        names(format!("/v1.0/groups/{gid}/members")).await,
        BTreeSet::from([user("bob@contoso.com"), group("Customer Facing")])
    );
    // Transitive: the nested group's members, and its own nested group's, each once.
    let all = BTreeSet::from([
        user("bob@contoso.com"),
        user("info@contoso.com"),
        user("alice@contoso.com"),
        user("carol@contoso.com"),
        group("Customer Facing"),
        group("Sales"),
    ]);
    assert_eq!(
        names(format!("/v1.0/groups/{gid}/transitiveMembers")).await,
        all
    );
    // Paging does not lose or repeat anyone.
    assert_eq!(
        names(format!("/v1.0/groups/{gid}/transitiveMembers?$top=2")).await,
        all
    );
    // The cast keeps the users only.
    let users: BTreeSet<_> = all
        .iter()
        .filter(|(t, _)| t.ends_with("user"))
        .cloned()
        .collect();
    assert_eq!(
        names(format!(
            "/v1.0/groups/{gid}/transitiveMembers/microsoft.graph.user"
        ))
        .await,
        users
    );
    let (s, _) = sim
        .get(
            &sim.url(
                G,
                &format!("/v1.0/groups/{gid}/transitiveMembers/microsoft.graph.device"),
            ),
            &token,
        )
        .await;
    assert_eq!(s, 400);
    // A scenario naming a member that is neither a user nor a group is refused.
    let mut bad = cairn_sim::Scenario::default();
    bad.tenants[0].groups[0].members.push("Nobody".into());
    let err = cairn_sim::Scenario::from_toml_str(&toml::to_string(&bad).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Nobody") && err.contains("group"), "{err}");
}
