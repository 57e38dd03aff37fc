//! Sign-in failures of authentication A, each with the message that says what to do,
//! and clouds: every region, the wrong region, the legacy germany region.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod org_support;

use org_support::Env;

async fn refused(env: &Env, upn: &str, password: Option<&str>, extra: &[&str]) -> org_support::Run {
    let run = match password {
        Some(pw) => {
            let mut args = vec!["org", "add", "contoso", "--user", upn, "--password-stdin"];
            args.extend_from_slice(extra);
            env.cairn(&args, &format!("{pw}\n")).await
        }
        None => env.add_admin("contoso", upn, extra).await,
    };
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.result(), Some("Failure"));
    assert!(run.stdout.contains("was not added"));
    assert!(env.stored("contoso").await.is_none());
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_suggests_authentication_b() {
    let env = Env::start().await;
    let run = refused(&env, "mfa.admin@contoso.com", None, &[]).await;
    run.assert_step(
        "Sign-in",
        "Failure",
        &[
            "multi-factor authentication",
            "authentication B",
            "--app-id",
            "--certificate",
            "AADSTS50076",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_locked_and_disabled_accounts() {
    let env = Env::start().await;
    let run = refused(
        &env,
        "admin@contoso.onmicrosoft.com",
        Some("not-the-password"),
        &[],
    )
    .await;
    run.assert_step(
        "Sign-in",
        "Failure",
        &["wrong user name or password", "AADSTS50126"],
    );
    // The wrong password is not echoed anywhere.
    assert!(!run.stdout.contains("not-the-password") && !run.stderr.contains("not-the-password"));

    let run = refused(&env, "locked@contoso.com", None, &[]).await;
    run.assert_step("Sign-in", "Failure", &["locked", "AADSTS50053"]);

    let run = refused(&env, "disabled@contoso.com", None, &[]).await;
    run.assert_step("Sign-in", "Failure", &["disabled", "AADSTS50057"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tenant_is_named() {
    let env = Env::start().await;
    let run = refused(
        &env,
        "admin@no-such-tenant.onmicrosoft.com",
        Some("whatever"),
        &[],
    )
    .await;
    run.assert_step(
        "Sign-in",
        "Failure",
        &["no tenant no-such-tenant.onmicrosoft.com", "AADSTS90002"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_region_names_the_right_one() {
    let env = Env::start().await;
    let run = refused(
        &env,
        "admin@contoso.onmicrosoft.com",
        None,
        &["--region", "usgov-gcchigh", "--services", "exchange"],
    )
    .await;
    run.assert_step(
        "Sign-in",
        "Failure",
        &[
            "not in the usgov-gcchigh cloud but in worldwide",
            "--region worldwide",
        ],
    );

    let run = refused(
        &env,
        "admin@tailspin.onmicrosoft.us",
        None,
        &["--region", "worldwide", "--services", "exchange"],
    )
    .await;
    run.assert_step(
        "Sign-in",
        "Failure",
        &["but in usgov-gcchigh", "--region usgov-gcchigh"],
    );

    // A tenant that moved out of Microsoft Cloud Deutschland, added as germany.
    let run = refused(
        &env,
        "admin@contoso.onmicrosoft.com",
        None,
        &["--region", "germany", "--services", "exchange"],
    )
    .await;
    assert!(
        run.stdout
            .contains("Warning: region germany: Microsoft Cloud Deutschland closed"),
        "{}",
        run.stdout
    );
    run.assert_step("Sign-in", "Failure", &["--region worldwide"]);
}

/// Adds the admin of a tenant in its own cloud; checks the sign-in went to that cloud.
async fn add_in_region(
    name: &str,
    upn: &str,
    region: &str,
    services: &str,
) -> (Env, org_support::Run) {
    let env = Env::start().await;
    let run = env
        .add_admin(name, upn, &["--region", region, "--services", services])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_step(
        "Sign-in",
        "Success",
        &[upn, &format!("in the {region} cloud")],
    );
    run.assert_step(
        "Mailbox access role (re-check)",
        "Success",
        &["all 2 mailboxes"],
    );
    assert_eq!(run.result(), Some("Success"));
    let org = env.stored(name).await.expect("saved");
    assert_eq!(org.region, region);
    let tenant = env.tenant(name);
    assert_eq!(org.tenant_id, tenant.id.to_string());
    assert!(
        tenant
            .applications
            .iter()
            .any(|a| a.app_id.to_string() == org.application_id)
    );
    (env, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn us_government_clouds() {
    let (_env, run) = add_in_region(
        "tailspin",
        "admin@tailspin.onmicrosoft.us",
        "usgov-gcchigh",
        "exchange,sharepoint,teams",
    )
    .await;
    run.assert_step(
        "Microsoft Graph connection",
        "Success",
        &["graph.microsoft.us", "Team.ReadBasic.All"],
    );
    let (_env, run) = add_in_region(
        "wingtip",
        "admin@wingtip.onmicrosoft.us",
        "usgov-dod",
        "exchange",
    )
    .await;
    run.assert_step(
        "Microsoft Graph connection",
        "Success",
        &["dod-graph.microsoft.us"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn china_cloud() {
    let (_env, run) = add_in_region(
        "adatum",
        "admin@adatum.partner.onmschina.cn",
        "china",
        "exchange,sharepoint",
    )
    .await;
    run.assert_step(
        "Microsoft Graph connection",
        "Success",
        &["microsoftgraph.chinacloudapi.cn"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn germany_is_accepted_with_a_warning() {
    let (_env, run) = add_in_region(
        "litware",
        "admin@litware.onmicrosoft.de",
        "germany",
        "exchange",
    )
    .await;
    assert!(run.stdout.contains(
        "Warning: region germany: Microsoft Cloud Deutschland closed on 29 October 2021"
    ));
    run.assert_step(
        "Microsoft Graph connection",
        "Success",
        &["graph.microsoft.de"],
    );
}
