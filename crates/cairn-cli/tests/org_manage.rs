//! Listing, showing and removing organizations; requests refused before anything is
//! done (services, deployment type, duplicate names, unknown organizations).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod org_support;

use org_support::{Env, NORTHWIND_APP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_show_remove() {
    let env = Env::start().await;
    let empty = env.cairn(&["org", "list"], "").await;
    assert_eq!(empty.code, 0);
    assert!(empty.stdout.contains("No organizations"));

    let contoso = env
        .add_admin(
            "contoso",
            "admin@contoso.onmicrosoft.com",
            &["--services", "exchange,sharepoint"],
        )
        .await;
    assert_eq!(contoso.code, 0, "{contoso:?}");
    let pem = env.app_pem_file("northwind", NORTHWIND_APP);
    let northwind = env
        .cairn(
            &[
                "org",
                "add",
                "northwind",
                "--tenant",
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
    assert_eq!(northwind.code, 0, "{northwind:?}");

    let list = env.cairn(&["org", "list"], "").await;
    assert_eq!(list.code, 0);
    let rows: Vec<Vec<&str>> = list
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{}", list.stdout);
    assert_eq!(
        &rows[0][..3],
        ["contoso", "worldwide", "exchange,sharepoint"]
    );
    assert_eq!(&rows[1][..3], ["northwind", "worldwide", "exchange"]);
    // The status column is the last check's overall status, as `add` printed it.
    assert_eq!(Some(rows[0][3]), contoso.result());
    assert_eq!(Some(rows[1][3]), northwind.result());

    let stored = env.stored("contoso").await.unwrap();
    let show = env.cairn(&["org", "show", "contoso"], "").await;
    assert_eq!(show.code, 0);
    for expected in [
        "8f6c5a34-0c7e-4c41-9a3e-1c2b3d4e5f60".to_owned(),
        "contoso.onmicrosoft.com".to_owned(),
        "admin-password".to_owned(),
        stored.application_id.clone(),
        cairn_m365::cert::thumbprint_of_pem(&stored.certificate_pem).unwrap(),
    ] {
        assert!(
            show.stdout.contains(&expected),
            "show lacks {expected}:\n{}",
            show.stdout
        );
    }
    show.assert_step("Mailbox access role (re-check)", "Success", &[]);

    let removed = env.cairn(&["org", "remove", "contoso"], "").await;
    assert_eq!(removed.code, 0);
    assert!(
        removed.stdout.contains(&stored.application_id),
        "tells which application stays in the tenant"
    );
    assert!(env.stored("contoso").await.is_none());
    let list = env.cairn(&["org", "list"], "").await;
    assert!(!list.stdout.contains("contoso") && list.stdout.contains("northwind"));

    for args in [
        ["org", "remove", "contoso"],
        ["org", "show", "contoso"],
        ["org", "check", "contoso"],
    ] {
        let run = env.cairn(&args, "").await;
        assert_eq!(run.code, 2, "{args:?}");
        assert!(
            run.stderr.contains("\"contoso\" not found"),
            "{}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_change_nothing() {
    let env = Env::start().await;
    let before = serde_json::to_value(env.tenant("contoso")).unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--services", "teams"],
            "use --services exchange,sharepoint,teams",
        ),
        (
            &["--services", "exchange,sharepoint,teams-posts"],
            "teams-posts needs teams",
        ),
        (
            &[
                "--region",
                "china",
                "--services",
                "exchange,sharepoint,teams",
            ],
            "not offered in the china region",
        ),
        (
            &[
                "--region",
                "usgov-dod",
                "--services",
                "exchange,sharepoint,teams,teams-posts",
            ],
            "remove teams-posts",
        ),
        (&["--services", "exchange,fax"], "unknown service \"fax\""),
        (
            &["--deployment", "on-premises"],
            "on-premises deployments are not supported yet",
        ),
        (
            &["--deployment", "hybrid"],
            "hybrid deployments are not supported yet",
        ),
    ];
    for (extra, message) in cases {
        let run = env
            .add_admin("contoso", "admin@contoso.onmicrosoft.com", extra)
            .await;
        assert_eq!(run.code, 2, "{extra:?}");
        assert!(run.stderr.contains(message), "{extra:?}: {}", run.stderr);
    }
    let run = env
        .add_admin(
            "contoso",
            "admin@contoso.onmicrosoft.com",
            &["--region", "mars"],
        )
        .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("usgov-gcchigh"));
    assert_eq!(serde_json::to_value(env.tenant("contoso")).unwrap(), before);
    assert!(env.stored("contoso").await.is_none());

    // A name is added once.
    let first = env
        .add_admin(
            "contoso",
            "admin@contoso.onmicrosoft.com",
            &["--services", "exchange"],
        )
        .await;
    assert_eq!(first.code, 0, "{first:?}");
    let second = env
        .add_admin(
            "contoso",
            "exadmin@contoso.com",
            &["--services", "exchange"],
        )
        .await;
    assert_eq!(second.code, 2);
    assert!(second.stderr.contains("already exists"));
}
