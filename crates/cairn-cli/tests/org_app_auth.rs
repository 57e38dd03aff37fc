//! Authentication B end to end: an application the administrator registered, with its
//! certificate (PEM or PFX); app-only, nothing granted. Fabrikam's application has
//! scoped ("partial") mailbox access, northwind's organization-wide access.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod org_support;

use org_support::{Env, FABRIKAM_APP, NORTHWIND_APP};

const FABRIKAM_ID: &str = "2b1d7e90-5f3a-4e8b-b6c4-7a9d0e1f2a3b";

async fn add_app(
    env: &Env,
    name: &str,
    tenant: &str,
    app: &str,
    cert: &std::path::Path,
    stdin: &str,
    extra: &[&str],
) -> org_support::Run {
    let cert = cert.to_str().unwrap();
    let mut args = vec![
        "org",
        "add",
        name,
        "--tenant",
        tenant,
        "--app-id",
        app,
        "--certificate",
        cert,
    ];
    args.extend_from_slice(extra);
    env.cairn(&args, stdin).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fabrikam_partial_access_names_the_mailboxes_outside_then_full_after_fix() {
    let env = Env::start().await;
    let pem = env.app_pem_file("fabrikam", FABRIKAM_APP);
    let before = serde_json::to_value(env.tenant("fabrikam")).unwrap();
    let run = add_app(
        &env,
        "fabrikam",
        "fabrikam.onmicrosoft.com",
        FABRIKAM_APP,
        &pem,
        "",
        &["--services", "exchange,sharepoint"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.step("Sign-in").is_none(),
        "no admin sign-in in authentication B"
    );
    run.assert_step(
        "Application sign-in",
        "Success",
        &[FABRIKAM_APP, FABRIKAM_ID],
    );
    run.assert_step("Microsoft Graph connection", "Success", &["User.Read.All"]);
    run.assert_step(
        "Mailbox access role",
        "Warning",
        &[
            "partial access",
            "\"Application Mail.ReadWrite\" is limited to Sales mailboxes",
            "2 of 5 mailboxes are outside",
            "dan@fabrikam.com, eve@fabrikam.com",
        ],
    );
    run.assert_step("SharePoint and OneDrive access", "Success", &["read-only"]);
    assert_eq!(run.result(), Some("Warning"));
    // App-only: nothing was granted or registered in the tenant.
    assert_eq!(
        serde_json::to_value(env.tenant("fabrikam")).unwrap(),
        before
    );

    let org = env.stored("fabrikam").await.expect("saved");
    assert_eq!(org.auth_kind, "app-certificate");
    assert_eq!(org.admin_upn, None);
    assert_eq!(org.application_id, FABRIKAM_APP);
    assert_eq!(org.tenant_id, FABRIKAM_ID);
    let pem_text = std::fs::read_to_string(&pem).unwrap();
    assert_eq!(
        cairn_m365::cert::thumbprint_of_pem(&org.certificate_pem),
        cairn_m365::cert::thumbprint_of_pem(&pem_text)
    );

    // The administrator grants organization-wide; the re-check turns to full access.
    let exchange = env.admin_exchange(
        cairn_m365::Region::Worldwide,
        FABRIKAM_ID,
        "admin@fabrikam.com",
    );
    exchange
        .new_role_assignment(FABRIKAM_APP, "Application Mail.ReadWrite", None)
        .await
        .unwrap();
    let fixed = env.cairn(&["org", "check", "fabrikam"], "").await;
    assert_eq!(fixed.code, 0, "{fixed:?}");
    fixed.assert_step("Mailbox access role", "Success", &["all 5 mailboxes"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn northwind_application_has_full_access() {
    let env = Env::start().await;
    let pem = env.app_pem_file("northwind", NORTHWIND_APP);
    // NAME as the tenant's domain: no --tenant needed.
    let run = env
        .cairn(
            &[
                "org",
                "add",
                "northwind.onmicrosoft.com",
                "--app-id",
                NORTHWIND_APP,
                "--certificate",
                pem.to_str().unwrap(),
                "--services",
                "exchange",
            ],
            "",
        )
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_step("Application sign-in", "Success", &[NORTHWIND_APP]);
    run.assert_step("Mailbox access role", "Success", &["all 2 mailboxes"]);
    assert!(
        !run.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("Failure"))
    );
    assert!(env.stored("northwind.onmicrosoft.com").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pfx_certificate_with_password_on_stdin() {
    let env = Env::start().await;
    let pem_text = env
        .sim
        .app_credential_pem("northwind", NORTHWIND_APP)
        .unwrap();
    let blocks = pem::parse_many(&pem_text).unwrap();
    let cert = blocks.iter().find(|b| b.tag() == "CERTIFICATE").unwrap();
    let key = blocks.iter().find(|b| b.tag() == "PRIVATE KEY").unwrap();
    let mut store = p12_keystore::KeyStore::new();
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![1u8],
        p12_keystore::PrivateKey::from_der(key.contents()).unwrap(),
        vec![p12_keystore::Certificate::from_der(cert.contents()).unwrap()],
    );
    store.add_entry("cairn", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let pfx = env.home.path().join("northwind.pfx");
    std::fs::write(&pfx, store.writer("pfx-secret").write().unwrap()).unwrap();

    let wrong = add_app(
        &env,
        "northwind",
        "northwind.onmicrosoft.com",
        NORTHWIND_APP,
        &pfx,
        "nope\n",
        &["--certificate-password-stdin", "--services", "exchange"],
    )
    .await;
    assert_eq!(wrong.code, 2, "{wrong:?}");
    assert!(wrong.stderr.contains("PFX"), "{}", wrong.stderr);

    let run = add_app(
        &env,
        "northwind",
        "northwind.onmicrosoft.com",
        NORTHWIND_APP,
        &pfx,
        "pfx-secret\n",
        &["--certificate-password-stdin", "--services", "exchange"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_step("Mailbox access role", "Success", &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_certificate_or_application_is_explained() {
    let env = Env::start().await;
    let fabrikam_pem = env.app_pem_file("fabrikam", FABRIKAM_APP);
    // Fabrikam's certificate is not one of northwind's application credentials.
    let run = add_app(
        &env,
        "northwind",
        "northwind.onmicrosoft.com",
        NORTHWIND_APP,
        &fabrikam_pem,
        "",
        &["--services", "exchange"],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_step(
        "Application sign-in",
        "Failure",
        &["not one of application", "AADSTS700027"],
    );
    assert!(env.stored("northwind").await.is_none());

    // An application that does not exist in the tenant.
    let run = add_app(
        &env,
        "northwind",
        "northwind.onmicrosoft.com",
        "0d0e0f00-1111-4222-8333-444455556666",
        &fabrikam_pem,
        "",
        &["--services", "exchange"],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_step(
        "Application sign-in",
        "Failure",
        &[
            "no application 0d0e0f00-1111-4222-8333-444455556666",
            "AADSTS700016",
        ],
    );

    // Authentication B needs a tenant when NAME is not a domain.
    let run = env
        .cairn(
            &[
                "org",
                "add",
                "northwind",
                "--app-id",
                NORTHWIND_APP,
                "--certificate",
                fabrikam_pem.to_str().unwrap(),
            ],
            "",
        )
        .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--tenant"));
}
