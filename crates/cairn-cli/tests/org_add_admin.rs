//! Authentication A end to end: an administrator's user name and password, Cairn
//! registers and consents its backup application, grants mailbox access (or not).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod org_support;

use std::collections::BTreeSet;

use cairn_sim::TenantState;
use org_support::{Env, password};

const CONTOSO_ID: &str = "8f6c5a34-0c7e-4c41-9a3e-1c2b3d4e5f60";

/// Application permissions the simulator records as consented for `app_id`.
fn consented(t: &TenantState, app_id: &str) -> BTreeSet<String> {
    let sp = t
        .service_principals
        .iter()
        .find(|s| s.app_id.to_string() == app_id)
        .expect("service principal of the backup app");
    t.app_role_assignments
        .iter()
        .filter(|a| a.principal_id == sp.id)
        .filter_map(|a| {
            t.service_principals
                .iter()
                .find(|r| r.id == a.resource_id)
                .and_then(|r| r.app_roles.iter().find(|role| role.id == a.app_role_id))
                .map(|role| role.value.clone())
        })
        .collect()
}

fn mail_assignments(t: &TenantState, app_id: &str) -> Vec<(String, Option<String>)> {
    t.exchange
        .role_assignments
        .iter()
        .filter(|a| a.app_id.to_string() == app_id)
        .map(|a| (a.role.clone(), a.custom_resource_scope.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_on_warns_assigns_the_role_and_rechecks_to_success() {
    let env = Env::start().await;
    let run = env
        .add_admin(
            "contoso",
            "admin@contoso.onmicrosoft.com",
            &["--region", "worldwide", "--services", "exchange,sharepoint"],
        )
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_step(
        "Sign-in",
        "Success",
        &["admin@contoso.onmicrosoft.com", CONTOSO_ID],
    );
    run.assert_step(
        "Backup application",
        "Success",
        &["Cairn Backup (contoso)", "User.Read.All"],
    );
    run.assert_step(
        "Exchange service principal",
        "Success",
        &["New-ServicePrincipal"],
    );
    run.assert_step("Application sign-in", "Success", &["certificate"]);
    run.assert_step("Microsoft Graph connection", "Success", &["User.Read.All"]);
    run.assert_step(
        "Mailbox access role",
        "Warning",
        &[
            "no mailbox access role",
            "Cairn assigns",
            "Application Mail.ReadWrite",
        ],
    );
    run.assert_step(
        "Mailbox access role (re-check)",
        "Success",
        &["organization-wide", "all 5 mailboxes"],
    );
    run.assert_step(
        "Exchange Online PowerShell connection",
        "Success",
        &["5 mailboxes"],
    );
    assert_eq!(run.result(), Some("Success"));
    run.assert_step("SharePoint and OneDrive access", "Success", &[]);

    // The catalog holds the organization and its check; the certificate is the one the
    // simulator now trusts for the application.
    let org = env.stored("contoso").await.expect("saved");
    assert_eq!(org.tenant_id, CONTOSO_ID);
    assert_eq!(org.initial_domain, "contoso.onmicrosoft.com");
    assert_eq!(org.region, "worldwide");
    assert_eq!(org.services, ["exchange", "sharepoint"]);
    assert_eq!(org.auth_kind, "admin-password");
    assert_eq!(
        org.admin_upn.as_deref(),
        Some("admin@contoso.onmicrosoft.com")
    );
    let check: serde_json::Value =
        serde_json::from_str(org.last_check.as_deref().unwrap()).unwrap();
    assert_eq!(
        check["steps"].as_array().unwrap().len(),
        run.stdout.lines().filter(|l| l.starts_with("  ")).count()
    );

    let tenant = env.tenant("contoso");
    let app = tenant
        .applications
        .iter()
        .find(|a| a.app_id.to_string() == org.application_id)
        .expect("application registered in the tenant");
    assert_eq!(app.display_name, "Cairn Backup (contoso)");
    let thumbprint = cairn_m365::cert::thumbprint_of_pem(&org.certificate_pem).unwrap();
    let sim_thumbprints: Vec<String> = app
        .key_credentials
        .iter()
        .map(|k| k.sha1.iter().map(|b| format!("{b:02X}")).collect())
        .collect();
    assert_eq!(sim_thumbprints, [thumbprint]);
    let expected: BTreeSet<String> = [
        "User.Read.All",
        "Group.Read.All",
        "Sites.ReadWrite.All",
        "Files.ReadWrite.All",
        "Exchange.ManageAsApp",
    ]
    .map(String::from)
    .into();
    assert_eq!(consented(&tenant, &org.application_id), expected);
    let mut assigned = mail_assignments(&tenant, &org.application_id);
    assigned.sort();
    assert_eq!(
        assigned,
        [
            ("Application Calendars.ReadWrite".to_owned(), None),
            ("Application Contacts.ReadWrite".to_owned(), None),
            ("Application Mail.ReadWrite".to_owned(), None),
        ]
    );

    // Neither the password nor the private key is stored in clear.
    let db = std::fs::read(env.home.path().join("catalog.db")).unwrap();
    let has = |needle: &[u8]| db.windows(needle.len()).any(|w| w == needle);
    assert!(!has(password("admin@contoso.onmicrosoft.com").as_bytes()));
    assert!(!has(b"PRIVATE KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_off_fails_and_check_succeeds_after_the_admin_assigns_the_role() {
    let env = Env::start().await;
    let run = env
        .add_admin(
            "contoso",
            "admin@contoso.onmicrosoft.com",
            &["--services", "exchange", "--no-grant"],
        )
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_step(
        "Mailbox access role",
        "Failure",
        &["grant is off", "mailbox processing will not be possible"],
    );
    assert_eq!(run.result(), Some("Failure"));
    assert!(run.step("Mailbox access role (re-check)").is_none());
    let org = env
        .stored("contoso")
        .await
        .expect("saved so that it can be re-checked");
    assert!(mail_assignments(&env.tenant("contoso"), &org.application_id).is_empty());

    // Still no role: the re-check fails the same way.
    let again = env.cairn(&["org", "check", "contoso"], "").await;
    assert_eq!(again.code, 1);
    again.assert_step(
        "Mailbox access role",
        "Failure",
        &["New-ManagementRoleAssignment"],
    );

    // The administrator assigns the role organization-wide (Exchange Online PowerShell).
    let exchange = env.admin_exchange(
        cairn_m365::Region::Worldwide,
        CONTOSO_ID,
        "admin@contoso.onmicrosoft.com",
    );
    exchange
        .new_role_assignment(&org.application_id, "Application Mail.ReadWrite", None)
        .await
        .unwrap();
    let fixed = env.cairn(&["org", "check", "contoso"], "").await;
    assert_eq!(fixed.code, 0, "{fixed:?}");
    fixed.assert_step("Mailbox access role", "Success", &["all 5 mailboxes"]);
    let stored = env.stored("contoso").await.unwrap();
    let check: serde_json::Value =
        serde_json::from_str(stored.last_check.as_deref().unwrap()).unwrap();
    assert_ne!(check["status"], "failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_name_formats() {
    let env = Env::start().await;
    let before = env.tenant("contoso").applications.len();
    // Neither DOMAIN\user nor a bare name: refused before any sign-in, naming the formats.
    for bad in ["CONTOSO\\exadmin", "exadmin", "exadmin@contoso"] {
        let run = env
            .cairn(
                &["org", "add", "contoso", "--user", bad, "--password-stdin"],
                "x\n",
            )
            .await;
        assert_eq!(run.code, 2, "{bad}");
        assert!(
            run.stderr
                .contains("user@domain.com or user@domain.onmicrosoft.com"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(env.tenant("contoso").applications.len(), before);
    assert!(env.stored("contoso").await.is_none());

    // user@domain.com (a non-global Exchange + application administrator) works.
    let run = env
        .add_admin(
            "contoso",
            "exadmin@contoso.com",
            &["--services", "exchange"],
        )
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_step("Sign-in", "Success", &["exadmin@contoso.com"]);
    run.assert_step("Mailbox access role (re-check)", "Success", &[]);
    assert_eq!(env.tenant("contoso").applications.len(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_without_organization_management_gets_a_failure_naming_it() {
    let env = Env::start().await;
    let run = env
        .add_admin(
            "contoso",
            "appadmin@contoso.com",
            &["--services", "exchange"],
        )
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    // The application could be registered and consented (Application + Privileged Role
    // Administrator), but Exchange refuses the role work.
    run.assert_step("Backup application", "Success", &[]);
    let failures: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("Failure"))
        .collect();
    assert!(!failures.is_empty());
    assert!(
        failures
            .iter()
            .all(|l| l.contains("Organization Management")),
        "{failures:?}"
    );
    run.assert_step(
        "Mailbox access role (assignment)",
        "Failure",
        &["appadmin@contoso.com", "Organization Management"],
    );
    let org = env
        .stored("contoso")
        .await
        .expect("saved for a later re-check");
    assert!(mail_assignments(&env.tenant("contoso"), &org.application_id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpdesk_may_not_register_the_application() {
    let env = Env::start().await;
    let before = env.tenant("contoso").applications.len();
    let run = env
        .add_admin(
            "contoso",
            "helpdesk@contoso.com",
            &["--services", "exchange"],
        )
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_step("Sign-in", "Success", &[]);
    run.assert_step(
        "Backup application",
        "Failure",
        &[
            "may not register applications",
            "Authorization_RequestDenied",
            "authentication B",
        ],
    );
    assert!(run.stdout.contains("was not added"));
    assert!(env.stored("contoso").await.is_none());
    assert_eq!(env.tenant("contoso").applications.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reusing_an_application_adds_a_certificate_and_keeps_the_old_one() {
    let env = Env::start().await;
    let admin = "admin@contoso.onmicrosoft.com";
    let first = env
        .add_admin("contoso", admin, &["--services", "exchange"])
        .await;
    assert_eq!(first.code, 0, "{first:?}");
    let app_id = env.stored("contoso").await.unwrap().application_id;
    let apps = env.tenant("contoso").applications.len();

    let second = env
        .add_admin(
            "contoso-again",
            admin,
            &["--services", "exchange", "--app-id", &app_id],
        )
        .await;
    assert_eq!(second.code, 0, "{second:?}");
    second.assert_step("Backup application", "Success", &["reused", &app_id]);
    // The role assigned by the first add is found: nothing to grant.
    second.assert_step("Mailbox access role", "Success", &["all 5 mailboxes"]);
    assert!(second.step("Mailbox access role (re-check)").is_none());

    let tenant = env.tenant("contoso");
    assert_eq!(tenant.applications.len(), apps, "no second application");
    let app = tenant
        .applications
        .iter()
        .find(|a| a.app_id.to_string() == app_id)
        .unwrap();
    let mut in_tenant: Vec<String> = app
        .key_credentials
        .iter()
        .map(|k| k.sha1.iter().map(|b| format!("{b:02X}")).collect())
        .collect();
    let mut stored: Vec<String> = Vec::new();
    for name in ["contoso", "contoso-again"] {
        let org = env.stored(name).await.unwrap();
        assert_eq!(org.application_id, app_id);
        stored.push(cairn_m365::cert::thumbprint_of_pem(&org.certificate_pem).unwrap());
    }
    in_tenant.sort();
    stored.sort();
    assert_eq!(in_tenant, stored);

    // Both organizations still sign in with their own certificate.
    let check = env.cairn(&["org", "check", "contoso"], "").await;
    assert_eq!(check.code, 0, "{check:?}");
    check.assert_step("Application sign-in", "Success", &[]);

    // An application that does not exist is named.
    let missing = env
        .add_admin(
            "contoso-3",
            admin,
            &["--app-id", "0d0e0f00-1111-4222-8333-444455556666"],
        )
        .await;
    assert_eq!(missing.code, 1);
    missing.assert_step(
        "Backup application",
        "Failure",
        &["no application 0d0e0f00-1111-4222-8333-444455556666"],
    );
}
