//! `cairn job create|edit|list|show|remove|enable|disable` with the real binary:
//! definitions stored and shown, edits changing only what is given, requests refused
//! with a message saying what to do, and the repository password kept only when asked
//! and only if it opens the repository.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod job_support;

use cairn_engine::backup::{ExcludedFolder, ObjectSelector, Selection};
use cairn_engine::jobs::{self, Schedule};
use job_support::{Env, REPO_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_edit_list_show_enable_disable_remove() {
    let env = Env::with_org_and_repo().await;
    let empty = env.cairn(&["job", "list"], "").await;
    assert_eq!(empty.code, 0);
    assert!(empty.stdout.contains("No jobs"), "{}", empty.stdout);

    let created = env
        .cairn(
            &[
                "job",
                "create",
                "nightly",
                "--org",
                "contoso",
                "--repo",
                "main",
                "--user",
                "alice@contoso.com,bob@contoso.com",
                "--group",
                "sales@contoso.com",
                "--shared-mailbox",
                "info@contoso.com",
                "--no-archive",
                "--exclude-folder",
                "deleted-items,junk-email",
                "--exclude-folder",
                "drafts",
                "--daily",
                "22:00",
                "--days",
                "mon,tue",
                "--retries",
                "5",
                "--retry-wait",
                "10m",
            ],
            "",
        )
        .await;
    assert_eq!(created.code, 0, "{created:?}");
    assert!(created.stdout.contains("daily at 22:00 (mon,tue)"));
    assert!(
        created.stdout.contains(" 22:00 (local time"),
        "the next run is shown: {}",
        created.stdout
    );

    // What the catalog holds is what was asked.
    let catalog = env.catalog().await;
    let job = jobs::require(&catalog, "nightly").await.unwrap();
    assert_eq!(job.organization, "contoso");
    assert_eq!(job.repository, "main");
    assert!(job.enabled);
    assert_eq!(
        job.spec.selection,
        Selection::Objects(vec![
            ObjectSelector::User("alice@contoso.com".into()),
            ObjectSelector::User("bob@contoso.com".into()),
            ObjectSelector::Group("sales@contoso.com".into()),
            ObjectSelector::SharedMailbox("info@contoso.com".into()),
        ])
    );
    assert!(!job.spec.processing.archive && job.spec.processing.mail);
    assert_eq!(
        job.spec.exclusions.folders,
        [
            ExcludedFolder::DeletedItems,
            ExcludedFolder::JunkEmail,
            ExcludedFolder::Drafts
        ]
        .into()
    );
    assert_eq!(job.spec.retry.count, 5);
    assert_eq!(job.spec.retry.wait.as_secs(), 600);
    // The plan a session runs carries the same.
    let plan = job.plan();
    assert_eq!(plan.job, "nightly");
    assert_eq!(plan.exclusions, job.spec.exclusions);

    // Edit: only what is given changes.
    let edited = env
        .cairn(
            &[
                "job",
                "edit",
                "nightly",
                "--every",
                "4h",
                "--allowed-hours",
                "20-06",
                "--archive",
                "--exclude-user",
                "ceo@contoso.com",
            ],
            "",
        )
        .await;
    assert_eq!(edited.code, 0, "{edited:?}");
    let job2 = jobs::require(&catalog, "nightly").await.unwrap();
    assert_eq!(job2.spec.selection, job.spec.selection);
    assert!(job2.spec.processing.archive);
    assert_eq!(
        job2.spec.schedule,
        Schedule::Periodic {
            minutes: 240,
            allowed: Some(jobs::AllowedHours { from: 20, to: 6 })
        }
    );
    assert_eq!(
        job2.spec.exclusions.objects,
        vec![ObjectSelector::User("ceo@contoso.com".into())]
    );
    assert_eq!(job2.spec.exclusions.folders, job.spec.exclusions.folders);

    let whole = env
        .cairn(
            &[
                "job",
                "create",
                "all",
                "--org",
                "contoso",
                "--repo",
                "main",
                "--all",
                "--disabled",
            ],
            "",
        )
        .await;
    assert_eq!(whole.code, 0, "{whole:?}");

    let list = env.cairn(&["job", "list"], "").await;
    assert_eq!(list.code, 0);
    let rows: Vec<Vec<&str>> = list
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{}", list.stdout);
    assert_eq!(&rows[0][..4], ["all", "contoso", "main", "disabled"]);
    assert_eq!(&rows[1][..4], ["nightly", "contoso", "main", "enabled"]);
    assert!(list.stdout.contains("every 4h, allowed hours 20-06"));

    let enable = env.cairn(&["job", "enable", "all"], "").await;
    assert_eq!(enable.code, 0);
    let disable = env.cairn(&["job", "disable", "nightly"], "").await;
    assert_eq!(disable.code, 0);
    assert!(jobs::require(&catalog, "all").await.unwrap().enabled);
    assert!(!jobs::require(&catalog, "nightly").await.unwrap().enabled);

    let show = env.cairn(&["job", "show", "nightly"], "").await;
    assert_eq!(show.code, 0);
    for expected in [
        "user alice@contoso.com",
        "group sales@contoso.com",
        "shared mailbox info@contoso.com",
        "excludes:       ceo@contoso.com",
        "deleted-items, drafts, junk-email",
        "state:          disabled",
        "retries:        5",
    ] {
        assert!(
            show.stdout.contains(expected),
            "{expected:?} in {}",
            show.stdout
        );
    }

    let removed = env.cairn(&["job", "remove", "nightly"], "").await;
    assert_eq!(removed.code, 0);
    assert!(jobs::get(&catalog, "nightly").await.unwrap().is_none());
    let again = env.cairn(&["job", "remove", "nightly"], "").await;
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("not found"), "{}", again.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_are_refused_with_what_to_do() {
    let env = Env::with_org_and_repo().await;
    let base = ["job", "create", "j", "--org", "contoso", "--repo", "main"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--all", "--org", "nope"],
            "unknown organization \"nope\"",
        ),
        (
            vec!["--all", "--repo", "nope"],
            "unknown repository \"nope\"",
        ),
        (vec![], "--all for the whole organization"),
        (vec!["--all", "--user", "a@contoso.com"], "do not also name"),
        (vec!["--all", "--daily", "25:00"], "HH:MM"),
        (
            vec!["--all", "--daily", "22:00", "--days", "mon,funday"],
            "funday",
        ),
        (
            vec!["--all", "--daily", "22:00", "--every", "4h"],
            "choose one schedule",
        ),
        (vec!["--all", "--every", "4d"], "bad interval"),
        (
            vec!["--all", "--every", "4h", "--days", "mon"],
            "--days applies",
        ),
        (
            vec!["--all", "--allowed-hours", "20-06"],
            "--allowed-hours needs --every",
        ),
        (
            vec!["--all", "--exclude-folder", "inbox"],
            "unknown folder \"inbox\"",
        ),
        (
            vec![
                "--all",
                "--no-mail",
                "--no-archive",
                "--no-calendar",
                "--no-contacts",
            ],
            "process nothing",
        ),
    ];
    for (extra, expected) in cases {
        // Later flags win in clap for single-valued options: put the case's last.
        let mut args: Vec<&str> = base.to_vec();
        if extra.contains(&"--org") || extra.contains(&"--repo") {
            args = vec!["job", "create", "j"];
            if !extra.contains(&"--org") {
                args.extend(["--org", "contoso"]);
            }
            if !extra.contains(&"--repo") {
                args.extend(["--repo", "main"]);
            }
        }
        args.extend(extra.iter().copied());
        let run = env.cairn(&args, "").await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected {expected:?} in {}",
            run.stderr
        );
    }
    let bad_name = env
        .cairn(
            &[
                "job", "create", "bad name", "--org", "contoso", "--repo", "main", "--all",
            ],
            "",
        )
        .await;
    assert_eq!(bad_name.code, 2);
    assert!(bad_name.stderr.contains("bad job name"));
    // Nothing was stored by the refused requests.
    let catalog = env.catalog().await;
    assert!(jobs::list(&catalog).await.unwrap().is_empty());

    let ok = env
        .cairn(
            &[
                "job", "create", "j", "--org", "contoso", "--repo", "main", "--all",
            ],
            "",
        )
        .await;
    assert_eq!(ok.code, 0);
    let dup = env
        .cairn(
            &[
                "job", "create", "j", "--org", "contoso", "--repo", "main", "--all",
            ],
            "",
        )
        .await;
    assert_eq!(dup.code, 2);
    assert!(dup.stderr.contains("already exists"), "{}", dup.stderr);
    let unknown = env.cairn(&["job", "show", "nope"], "").await;
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("\"nope\" not found"),
        "{}",
        unknown.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_password_is_kept_only_when_asked_and_correct() {
    let env = Env::with_org_and_repo().await;
    let catalog = env.catalog().await;
    let create = [
        "job", "create", "j", "--org", "contoso", "--repo", "main", "--all",
    ];
    let plain = env.cairn(&create, "").await;
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(
        cairn_catalog::jobs::repository_password(&catalog, "main")
            .await
            .unwrap()
            .is_none()
    );
    // A wrong password is refused and not kept.
    let wrong = env
        .cairn(
            &["job", "edit", "j", "--store-password", "--password-stdin"],
            "not the password\n",
        )
        .await;
    assert_eq!(wrong.code, 2, "{wrong:?}");
    assert!(
        wrong.stderr.contains("does not open repository main"),
        "{}",
        wrong.stderr
    );
    // Nor does a create with a wrong password leave a job behind.
    let refused = env
        .cairn(
            &[
                "job",
                "create",
                "k",
                "--org",
                "contoso",
                "--repo",
                "main",
                "--all",
                "--store-password",
                "--password-stdin",
            ],
            "not the password\n",
        )
        .await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        cairn_engine::jobs::get(&catalog, "k")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        cairn_catalog::jobs::repository_password(&catalog, "main")
            .await
            .unwrap()
            .is_none()
    );
    let right = env
        .cairn(
            &["job", "edit", "j", "--store-password", "--password-stdin"],
            &format!("{REPO_PASSWORD}\n"),
        )
        .await;
    assert_eq!(right.code, 0, "{right:?}");
    assert_eq!(
        cairn_catalog::jobs::repository_password(&catalog, "main")
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        REPO_PASSWORD.as_bytes()
    );
    // Sealed: not in the clear anywhere in the data directory's database files.
    for entry in std::fs::read_dir(env.home.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let raw = std::fs::read(&path).unwrap();
            assert!(
                !raw.windows(REPO_PASSWORD.len())
                    .any(|w| w == REPO_PASSWORD.as_bytes()),
                "password in clear in {}",
                path.display()
            );
        }
    }
    let forget = env
        .cairn(&["job", "edit", "j", "--forget-password"], "")
        .await;
    assert_eq!(forget.code, 0);
    assert!(
        cairn_catalog::jobs::repository_password(&catalog, "main")
            .await
            .unwrap()
            .is_none()
    );

    // Without a kept password a run needs one given, and says how.
    let none = env.cairn(&["job", "start", "j"], "").await;
    assert_eq!(none.code, 2, "{none:?}");
    assert!(none.stderr.contains("--store-password"), "{}", none.stderr);
    let wrong = env
        .cairn(&["job", "start", "j", "--password-stdin"], "not it\n")
        .await;
    assert_eq!(wrong.code, 2, "{wrong:?}");
    let given = env
        .cairn(
            &["job", "start", "j", "--password-stdin"],
            &format!("{REPO_PASSWORD}\n"),
        )
        .await;
    assert_eq!(given.code, 0, "{given:?}");
}
