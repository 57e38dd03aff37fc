//! Session bookkeeping with a scripted runner standing in for Microsoft: what the
//! catalog records from the events and the outcome. The real runner is exercised end to
//! end by the CLI tests (crates/cairn-cli/tests/job_*.rs).

use std::time::Duration;

use cairn_catalog::organizations::{self, Organization};
use cairn_catalog::repositories::{self, RepositoryRecord};
use cairn_catalog::sessions as table;

use super::*;
use crate::backup::{ObjectId, ObjectResult, Outcome};
use crate::jobs::JobChanges;

struct Scripted {
    events: Vec<ProgressEvent>,
    result: Result<SessionOutcome, String>,
}

impl Runner for Scripted {
    fn run(
        &self,
        plan: BackupPlan,
        _password: Option<Zeroizing<Vec<u8>>>,
        progress: mpsc::Sender<ProgressEvent>,
        _stop: StopSignal,
    ) -> RunFuture {
        assert_eq!(plan.job, "nightly");
        let events = self.events.clone();
        let result = self.result.clone();
        Box::pin(async move {
            for e in events {
                progress.send(e).await.map_err(|e| e.to_string())?;
            }
            result
        })
    }
}

async fn catalog_with_job(dir: &std::path::Path) -> Catalog {
    let catalog = Catalog::open(dir).await.unwrap();
    organizations::insert(
        &catalog,
        &Organization {
            name: "contoso".into(),
            region: "worldwide".into(),
            deployment: "microsoft365".into(),
            services: vec!["exchange".into()],
            tenant_id: "t".into(),
            initial_domain: "contoso.onmicrosoft.com".into(),
            auth_kind: "app-certificate".into(),
            admin_upn: None,
            application_id: "a".into(),
            certificate_pem: "c".into(),
            created_at: "2026-11-29T12:00:00Z".into(),
            last_check: None,
        },
        b"key",
    )
    .await
    .unwrap();
    repositories::insert(
        &catalog,
        &RepositoryRecord {
            name: "main".into(),
            location: "file:///nowhere".into(),
            repository_id: "r".into(),
            encrypted: true,
            has_credentials: false,
            created_at: "2026-11-29T12:00:00Z".into(),
        },
        None,
    )
    .await
    .unwrap();
    jobs::create(
        &catalog,
        "nightly",
        &JobChanges {
            organization: Some("contoso".into()),
            repository: Some("main".into()),
            all: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    catalog
}

fn object(name: &str) -> ObjectId {
    ObjectId {
        id: format!("id-{name}"),
        kind: "mailbox".into(),
        name: name.into(),
    }
}

fn result(name: &str, outcome: Outcome, items: u64, messages: Vec<String>) -> ObjectResult {
    ObjectResult {
        object: object(name),
        outcome,
        items,
        new_versions: items,
        deletions: 0,
        bytes_read: items * 1000,
        bytes_stored: items * 400,
        messages,
        restore_point: Some(format!("rp-{name}")),
    }
}

#[tokio::test]
async fn events_and_outcome_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_with_job(dir.path()).await;
    let adele = result(
        "adele@contoso.com",
        Outcome::Warning,
        10,
        vec!["item AAMk1: corrupt MIME".into()],
    );
    let alex = result("alex@contoso.com", Outcome::Success, 5, vec![]);
    let runner = Scripted {
        events: vec![
            ProgressEvent::Discovered { objects: 2 },
            ProgressEvent::ObjectStarted {
                object: object("adele@contoso.com"),
            },
            ProgressEvent::Items {
                object: object("adele@contoso.com"),
                items: 10,
                bytes_read: 10_000,
                bytes_stored: 4000,
            },
            ProgressEvent::Throttled {
                object: Some(object("adele@contoso.com")),
                retry_after: Duration::from_secs(2),
            },
            ProgressEvent::Warning {
                object: object("adele@contoso.com"),
                item: Some("AAMk1".into()),
                message: "corrupt MIME".into(),
            },
            ProgressEvent::ObjectFinished {
                result: adele.clone(),
            },
            ProgressEvent::Items {
                object: object("alex@contoso.com"),
                items: 5,
                bytes_read: 5000,
                bytes_stored: 2000,
            },
            ProgressEvent::ObjectFinished {
                result: alex.clone(),
            },
        ],
        result: Ok(SessionOutcome {
            outcome: Outcome::Warning,
            objects: vec![adele, alex],
            items: 15,
            bytes_read: 15_000,
            bytes_stored: 6000,
            duration: Duration::from_secs(3),
            throttled: Duration::from_secs(2),
            target_wait: Duration::from_millis(250),
            requests: 30,
            throttled_requests: 1,
            errors: vec![],
            stopped: false,
        }),
    };
    let (_stop_tx, stop) = watch::channel(false);
    let mut seen = Vec::new();
    let finished = start(&catalog, &runner, "nightly", None, stop, &mut |e, live| {
        seen.push((e.clone(), live.counters.items));
    })
    .await
    .unwrap();
    assert_eq!(seen.len(), 8);
    assert_eq!(seen[2].1, 10);
    let s = finished.session;
    assert_eq!(s.status, status::WARNING);
    assert_eq!(s.pid, None);
    assert!(s.ended_at.is_some());
    assert_eq!(s.counters.items, 15);
    assert_eq!(s.counters.objects_done, 2);
    assert_eq!(s.counters.objects_total, 2);
    assert_eq!(s.counters.throttled_ms, 2000);
    assert_eq!(s.counters.target_wait_ms, 250);
    assert_eq!(s.counters.requests, 30);
    let objects = table::objects(&catalog, &s.id).await.unwrap();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0].name, "adele@contoso.com");
    assert_eq!(objects[0].outcome, "warning");
    assert_eq!(
        objects[0].restore_point.as_deref(),
        Some("rp-adele@contoso.com")
    );
    // The warning is recorded once, with its item, not again from the object's result.
    let messages = table::messages(&catalog, &s.id).await.unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].item.as_deref(), Some("AAMk1"));
    assert_eq!(messages[0].object.as_deref(), Some("adele@contoso.com"));
    assert_eq!(
        table::list_for_job(&catalog, "nightly")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn runner_failure_and_stop_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_with_job(dir.path()).await;
    let failing = Scripted {
        events: vec![ProgressEvent::Discovered { objects: 3 }],
        result: Err("cannot sign in to contoso: AADSTS7000215".into()),
    };
    let (_tx, stop) = watch::channel(false);
    let f = start(
        &catalog,
        &failing,
        "nightly",
        None,
        stop.clone(),
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(f.session.status, status::FAILED);
    assert!(f.outcome.is_none());
    let m = table::messages(&catalog, &f.session.id).await.unwrap();
    assert!(m[0].message.contains("AADSTS7000215"));

    let stopped = Scripted {
        events: vec![],
        result: Ok(SessionOutcome {
            outcome: Outcome::Success,
            objects: vec![],
            items: 0,
            bytes_read: 0,
            bytes_stored: 0,
            duration: Duration::ZERO,
            throttled: Duration::ZERO,
            target_wait: Duration::ZERO,
            requests: 0,
            throttled_requests: 0,
            errors: vec![],
            stopped: true,
        }),
    };
    let f = start(&catalog, &stopped, "nightly", None, stop, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(f.session.status, status::STOPPED);
}

#[tokio::test]
async fn a_session_of_a_dead_process_is_interrupted_and_a_live_one_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_with_job(dir.path()).await;
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let live = SessionRecord {
        id: "live".into(),
        job: "nightly".into(),
        status: status::RUNNING.into(),
        started_at: now(),
        updated_at: now(),
        pid: Some(child.id()),
        ..Default::default()
    };
    table::insert(&catalog, &live).await.unwrap();
    let (_tx, stop_rx) = watch::channel(false);
    let runner = Scripted {
        events: vec![],
        result: Err("not reached".into()),
    };
    let err = start(
        &catalog,
        &runner,
        "nightly",
        None,
        stop_rx.clone(),
        &mut |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SessionError::AlreadyRunning { .. }), "{err}");
    // `stop` signals the recorded process.
    assert_eq!(stop(&catalog, "nightly").await.unwrap().unwrap().id, "live");
    child.wait().unwrap();
    let reaped = reap_stale(&catalog).await.unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!(reaped[0].status, status::INTERRUPTED);
    let m = table::messages(&catalog, "live").await.unwrap();
    assert!(m[0].message.contains("resumes"), "{m:?}");
    assert!(stop(&catalog, "nightly").await.unwrap().is_none());
    let waited = wait(&catalog, "live", Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(waited.status, status::INTERRUPTED);
}

#[tokio::test]
async fn password_kept_or_given() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_with_job(dir.path()).await;
    let err = password_for(&catalog, "main", None).await.unwrap_err();
    assert!(err.to_string().contains("--store-password"), "{err}");
    let given = password_for(&catalog, "main", Some(Zeroizing::new(b"given".to_vec())))
        .await
        .unwrap();
    assert_eq!(given.unwrap().as_slice(), b"given");
    cairn_catalog::jobs::store_repository_password(&catalog, "main", b"kept", "now")
        .await
        .unwrap();
    let kept = password_for(&catalog, "main", Some(Zeroizing::new(b"given".to_vec())))
        .await
        .unwrap();
    assert_eq!(kept.unwrap().as_slice(), b"kept");
}

#[tokio::test]
async fn a_recorded_pid_now_used_by_a_younger_process_is_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_with_job(dir.path()).await;
    // A live process, but started long after the session was recorded (pid reuse after
    // a crash or reboot).
    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let long_ago = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    table::insert(
        &catalog,
        &SessionRecord {
            id: "old".into(),
            job: "nightly".into(),
            status: status::RUNNING.into(),
            started_at: long_ago.clone(),
            updated_at: long_ago,
            pid: Some(other.id()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let reaped = reap_stale(&catalog).await.unwrap();
    other.kill().unwrap();
    other.wait().unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!(reaped[0].status, status::INTERRUPTED);
}
