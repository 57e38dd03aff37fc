//! The client over real HTTPS against the tenant simulator: name resolution and trust
//! overridden, Microsoft's real URLs kept; token cache; `@odata.nextLink` paging; typed
//! errors from Entra, Graph and the Exchange admin API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::sync::Arc;

use cairn_m365::exchange::{InScope, ROLE_MAIL_READWRITE, ScopeType};
use cairn_m365::graph::User;
use cairn_m365::{
    Authenticator, Credential, ExchangeClient, GraphClient, Network, Region, Resource,
    SignInFailure,
};
use cairn_sim::{Scenario, SimOptions, Simulator};

const CONTOSO: &str = "8f6c5a34-0c7e-4c41-9a3e-1c2b3d4e5f60";
const FABRIKAM: &str = "2b1d7e90-5f3a-4e8b-b6c4-7a9d0e1f2a3b";
const FABRIKAM_APP: &str = "5e0c9a1b-7d3f-4a2e-8c6b-1f0e9d8c7b6a";

fn admin(network: &Network, upn: &str, password: &str) -> Arc<Authenticator> {
    Arc::new(Authenticator::new(
        network.http_client().unwrap(),
        Region::Worldwide,
        "contoso.onmicrosoft.com",
        Credential::Password {
            username: upn.into(),
            password: password.to_owned().into(),
        },
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_cache_paging_and_errors() {
    let state = tempfile::tempdir().unwrap();
    let sim = Simulator::start(
        Scenario::default(),
        SimOptions {
            state_dir: state.path().to_owned(),
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let network = Network::production()
        .with_connect(sim.addr())
        .with_extra_ca_file(sim.ca_path())
        .unwrap();

    // Without the simulator's CA the TLS handshake is refused: the override is only
    // name resolution, trust stays strict.
    let untrusted = Network::production().with_connect(sim.addr());
    let auth = admin(
        &untrusted,
        "admin@contoso.onmicrosoft.com",
        "Contoso-Admin-2026!",
    );
    let err = auth.token(Resource::Graph).await.unwrap_err();
    assert!(matches!(err, cairn_m365::Error::Transport { .. }), "{err}");

    // Token cache: one token per resource until it expires or is forgotten.
    let auth = admin(
        &network,
        "admin@contoso.onmicrosoft.com",
        "Contoso-Admin-2026!",
    );
    let first = auth.token(Resource::Graph).await.unwrap();
    let again = auth.token(Resource::Graph).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(first.claims.tid.as_deref(), Some(CONTOSO));
    let exchange = auth.token(Resource::Exchange).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &exchange));
    assert_eq!(
        exchange.claims.aud.as_deref(),
        Some("https://outlook.office365.com")
    );
    auth.forget_tokens().await;
    assert!(!Arc::ptr_eq(
        &first,
        &auth.token(Resource::Graph).await.unwrap()
    ));

    // Paging: $top=2 pages, followed through @odata.nextLink, give the same users.
    let graph = GraphClient::new(auth.clone());
    let all: Vec<User> = graph.users().await.unwrap();
    let paged: Vec<User> = graph.list(&graph.url("/users?$top=2")).await.unwrap();
    assert!(all.len() > 2);
    assert_eq!(
        paged.iter().map(|u| &u.id).collect::<Vec<_>>(),
        all.iter().map(|u| &u.id).collect::<Vec<_>>()
    );
    let org = graph.organization().await.unwrap();
    assert_eq!(org.id, CONTOSO);
    assert_eq!(org.initial_domain(), Some("contoso.onmicrosoft.com"));

    // Entra errors are typed by code.
    let wrong = admin(&network, "admin@contoso.onmicrosoft.com", "wrong");
    let err = wrong.token(Resource::Graph).await.unwrap_err();
    assert_eq!(err.sign_in().unwrap().kind(), SignInFailure::WrongPassword);
    let mfa = admin(&network, "mfa.admin@contoso.com", "Contoso-Mfa-2026!");
    let err = mfa.token(Resource::Graph).await.unwrap_err();
    assert_eq!(err.sign_in().unwrap().kind(), SignInFailure::MfaRequired);

    // Graph errors are typed: a helpdesk user may not register applications.
    let helpdesk = GraphClient::new(admin(
        &network,
        "helpdesk@contoso.com",
        "Contoso-Helpdesk-2026!",
    ));
    let err = helpdesk
        .create_application("x", serde_json::json!([]))
        .await
        .unwrap_err();
    let service = err.service().unwrap();
    assert_eq!(service.code, "Authorization_RequestDenied");
    assert!(service.is_access_denied() && !err.is_temporary());

    // Exchange admin API: rows typed, unknown fields kept.
    let exo = ExchangeClient::new(auth.clone(), CONTOSO);
    let mailboxes = exo.mailboxes().await.unwrap();
    let alice = mailboxes
        .iter()
        .find(|m| m.primary_smtp_address == "alice@contoso.com")
        .unwrap();
    assert_eq!(alice.recipient_type_details, "UserMailbox");
    assert!(alice.row.0.len() > 4);
    // A role for an application Exchange does not know is refused with a typed error.
    let err = exo
        .new_role_assignment(
            "0d0e0f00-1111-4222-8333-444455556666",
            ROLE_MAIL_READWRITE,
            None,
        )
        .await
        .unwrap_err();
    assert!(err.service().is_some(), "{err}");

    // RBAC for Applications in fabrikam: a role scoped by a management scope.
    let fabrikam = Arc::new(Authenticator::new(
        network.http_client().unwrap(),
        Region::Worldwide,
        "fabrikam.com",
        Credential::Password {
            username: "admin@fabrikam.com".into(),
            password: String::from("Fabrikam-Admin-2026!").into(),
        },
    ));
    let exo = ExchangeClient::new(fabrikam, FABRIKAM);
    let scope = exo
        .management_scope("Sales mailboxes")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        scope.recipient_filter.as_deref(),
        Some("Department -eq 'Sales'")
    );
    let sp = exo
        .find_service_principal(FABRIKAM_APP)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sp.app_id, FABRIKAM_APP);
    let roles = exo.role_assignments_of(FABRIKAM_APP).await.unwrap();
    let mail = roles
        .iter()
        .find(|r| r.role == ROLE_MAIL_READWRITE)
        .unwrap();
    assert_eq!(
        mail.custom_resource_scope.as_deref(),
        Some("Sales mailboxes")
    );
    let rows = exo.test_authorization(FABRIKAM_APP, None).await.unwrap();
    let row = rows
        .iter()
        .find(|r| r.role_name == ROLE_MAIL_READWRITE)
        .unwrap();
    assert_eq!(row.scope_type, ScopeType::CustomRecipientScope);
    let dan = exo
        .test_authorization(FABRIKAM_APP, Some("dan@fabrikam.com"))
        .await
        .unwrap();
    assert!(
        dan.iter()
            .any(|r| r.role_name == ROLE_MAIL_READWRITE && r.in_scope == InScope::No)
    );
    let ann = exo
        .test_authorization(FABRIKAM_APP, Some("ann@fabrikam.com"))
        .await
        .unwrap();
    assert!(
        ann.iter()
            .any(|r| r.role_name == ROLE_MAIL_READWRITE && r.in_scope == InScope::Yes)
    );
    exo.remove_role_assignment(&mail.name).await.unwrap();
    let rows = exo.test_authorization(FABRIKAM_APP, None).await.unwrap();
    assert!(!rows.iter().any(|r| r.role_name == ROLE_MAIL_READWRITE));

    sim.shutdown().await;
}
