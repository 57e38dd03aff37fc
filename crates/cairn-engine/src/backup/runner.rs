//! Running a backup session: sign in, open the repository (resuming a killed session
//! of the same job if there is one), discover the objects, process many in parallel
//! under one throttle per organization, retry failed objects, commit one restore
//! point holding every object, and say how it went.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_catalog::Catalog;
use cairn_m365::mail::MailClient;
use cairn_m365::throttle::MailboxBudget;
use cairn_m365::{Network, Throttle, ThrottleConfig};
use cairn_repo::{ObjectRef, OrganizationRef, Repository, Session, SessionOptions};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use zeroize::Zeroizing;

use super::collection::{Collection, Counters, ObjectRun, Warnings};
use super::connect;
use super::discover::{self, KIND_ARCHIVE, Target};
use super::error::BackupError;
use super::mailbox;
use super::plan::{BackupPlan, ObjectId, ObjectResult, Outcome, ProgressEvent, SessionOutcome};
use super::state::ObjectState;

/// Tuning a session may be given (benchmarks, tests); defaults suit production.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Items per delta page (`Prefer: odata.maxpagesize`).
    pub page_size: usize,
    /// At most one checkpoint this often (zero: after every finished folder).
    pub checkpoint_every: Duration,
    /// Attempts of one request before a temporary failure is given up.
    pub max_attempts: usize,
    /// Resume a killed session of the same job if the repository has one.
    pub resume: bool,
    /// The request budget per mailbox to pace to (Exchange's published figure by
    /// default; a tenant that refuses earlier teaches a lower one); `None`: unknown,
    /// the pace only adapts to refusals.
    pub mailbox_budget: Option<MailboxBudget>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            page_size: cairn_m365::mail::DEFAULT_PAGE_SIZE,
            checkpoint_every: Duration::from_secs(5),
            max_attempts: 10,
            resume: true,
            mailbox_budget: Some(MailboxBudget::EXCHANGE),
        }
    }
}

/// What a session runs with besides its plan.
pub struct RunContext {
    pub catalog: Catalog,
    pub network: Network,
    /// The repository password (a secret: never part of the plan).
    pub repository_password: Option<Zeroizing<Vec<u8>>>,
    /// Progress events; a slow receiver slows the session down, a closed one is ignored.
    pub progress: mpsc::Sender<ProgressEvent>,
    /// Set to `true` to stop: the session checkpoints and can be resumed.
    pub cancel: watch::Receiver<bool>,
    pub options: RunOptions,
}

/// Coalesces checkpoint requests to at most one per interval.
struct Checkpointer {
    session: Session,
    every: Duration,
    last: tokio::sync::Mutex<Instant>,
}

impl Checkpointer {
    async fn folder_done(&self) -> Result<(), BackupError> {
        let mut last = self.last.lock().await;
        if last.elapsed() >= self.every {
            self.session.checkpoint().await?;
            *last = Instant::now();
        }
        Ok(())
    }
}

struct Shared<'a> {
    plan: &'a BackupPlan,
    client: MailClient,
    session: Session,
    checkpointer: Checkpointer,
    progress: mpsc::Sender<ProgressEvent>,
    cancel: watch::Receiver<bool>,
    target_wait: Mutex<Duration>,
    owners: Arc<Mutex<HashMap<String, ObjectId>>>,
}

fn failed_session(started: Instant, error: String, stopped: bool) -> SessionOutcome {
    SessionOutcome {
        outcome: Outcome::Failed,
        objects: Vec::new(),
        items: 0,
        bytes_read: 0,
        bytes_stored: 0,
        duration: started.elapsed(),
        throttled: Duration::ZERO,
        target_wait: Duration::ZERO,
        requests: 0,
        throttled_requests: 0,
        errors: vec![error],
        stopped,
    }
}

/// Runs one backup session of `plan`.
pub async fn run(plan: &BackupPlan, ctx: RunContext) -> SessionOutcome {
    let started = Instant::now();
    match run_inner(plan, &ctx, started).await {
        Ok(outcome) => outcome,
        Err(BackupError::Stopped) => failed_session(
            started,
            "stopped before any object was processed".into(),
            true,
        ),
        Err(e) => failed_session(started, e.to_string(), false),
    }
}

async fn open_session(
    repo: &Arc<Repository>,
    plan: &BackupPlan,
    org: OrganizationRef,
    resume: bool,
) -> Result<Session, BackupError> {
    if resume {
        let mut killed: Vec<_> = repo
            .incomplete_sessions()
            .await?
            .into_iter()
            .filter(|c| c.organization.id == org.id && c.job.as_deref() == Some(plan.job.as_str()))
            .collect();
        killed.sort_by(|a, b| a.checkpointed.cmp(&b.checkpointed));
        if let Some(cp) = killed.pop() {
            tracing::info!(session = %cp.session, "resuming the session that was interrupted");
            return Ok(repo.resume_session(cp.session).await?);
        }
    }
    Ok(repo
        .start_session(SessionOptions {
            organization: org,
            job: Some(plan.job.clone()),
        })
        .await?)
}

async fn run_inner(
    plan: &BackupPlan,
    ctx: &RunContext,
    started: Instant,
) -> Result<SessionOutcome, BackupError> {
    let org = connect::organization(&ctx.catalog, &ctx.network, &plan.organization).await?;
    let repo = connect::repository(
        &ctx.catalog,
        &plan.repository,
        ctx.repository_password.as_ref().map(|p| p.as_slice()),
    )
    .await?;
    let (targets, mut session_errors) = discover::targets(plan, &org.auth, &org.tenant_id).await?;
    let _ = ctx
        .progress
        .send(ProgressEvent::Discovered {
            objects: targets.len(),
        })
        .await;

    let session = open_session(
        &repo,
        plan,
        OrganizationRef {
            id: org.tenant_id.clone(),
            name: org.display_name.clone(),
        },
        ctx.options.resume,
    )
    .await?;
    let progress = ctx.progress.clone();
    // Throttle keys (user ids; archive mailbox ids) → the object they belong to, for
    // the objects in progress.
    let owners: Arc<Mutex<HashMap<String, ObjectId>>> = Arc::new(Mutex::new(HashMap::new()));
    let owners_seen = owners.clone();
    let observer: cairn_m365::throttle::ThrottleObserver =
        Arc::new(move |mailbox: &str, wait: Duration| {
            let object = owners_seen
                .lock()
                .ok()
                .and_then(|o| o.get(&mailbox.to_ascii_lowercase()).cloned());
            let _ = progress.try_send(ProgressEvent::Throttled {
                object,
                retry_after: wait,
            });
        });
    let per_mailbox = plan
        .concurrency
        .requests_per_mailbox
        .clamp(1, cairn_m365::throttle::EXCHANGE_MAX_CONCURRENCY);
    let throttle = Arc::new(
        Throttle::new(ThrottleConfig {
            requests_per_mailbox: per_mailbox,
            organization_requests: plan.concurrency.objects.max(1) * per_mailbox,
            max_attempts: ctx.options.max_attempts,
            budget: ctx.options.mailbox_budget,
            ..ThrottleConfig::default()
        })
        .with_observer(observer),
    );
    let client =
        MailClient::new(org.auth.clone(), throttle.clone()).with_page_size(ctx.options.page_size);
    let shared = Shared {
        plan,
        client,
        session: session.clone(),
        checkpointer: Checkpointer {
            session: session.clone(),
            every: ctx.options.checkpoint_every,
            last: tokio::sync::Mutex::new(Instant::now() - ctx.options.checkpoint_every),
        },
        progress: ctx.progress.clone(),
        cancel: ctx.cancel.clone(),
        target_wait: Mutex::new(Duration::ZERO),
        owners,
    };

    let mut results: BTreeMap<(String, String), ObjectResult> = BTreeMap::new();
    let mut pending: Vec<Target> = targets;
    let mut attempt = 0;
    loop {
        let round: Vec<ObjectResult> = futures::stream::iter(pending.iter())
            .map(|t| process_object(&shared, t))
            .buffer_unordered(plan.concurrency.objects.max(1))
            .collect()
            .await;
        for r in round {
            results.insert((r.object.id.clone(), r.object.kind.clone()), r);
        }
        let stopped = *ctx.cancel.borrow();
        pending.retain(|t| {
            results
                .get(&(t.object.id.clone(), t.object.kind.clone()))
                .is_some_and(|r| r.outcome == Outcome::Failed)
        });
        if pending.is_empty() || stopped || attempt >= plan.retry.count {
            break;
        }
        attempt += 1;
        tracing::info!(objects = pending.len(), attempt, "retrying failed objects");
        tokio::time::sleep(plan.retry.wait).await;
    }

    let stopped = *ctx.cancel.borrow();
    let repo_wait = Instant::now();
    let session = shared.session.clone();
    let stored_bytes_before_commit = session_stored(&session);
    let restore_point = if stopped {
        session.checkpoint().await?;
        session.clone().abort().await?;
        None
    } else {
        Some(session.clone().commit().await?)
    };
    let stored_bytes = session_stored(&session).max(stored_bytes_before_commit);
    *shared
        .target_wait
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) += repo_wait.elapsed();

    let mut objects: Vec<ObjectResult> = results.into_values().collect();
    if let Some(rp) = &restore_point {
        for o in &mut objects {
            o.restore_point = Some(rp.id.to_string());
        }
    }
    let stats = throttle.stats();
    let items = objects.iter().map(|o| o.items).sum();
    let bytes_read = objects.iter().map(|o| o.bytes_read).sum();
    let bytes_stored = stored_bytes;
    let worst = objects
        .iter()
        .map(|o| o.outcome)
        .max()
        .unwrap_or(Outcome::Success);
    let all_failed = !objects.is_empty() && objects.iter().all(|o| o.outcome == Outcome::Failed);
    let outcome = if all_failed {
        Outcome::Failed
    } else if worst != Outcome::Success || !session_errors.is_empty() || stopped {
        Outcome::Warning
    } else {
        Outcome::Success
    };
    if stopped {
        session_errors.push("stopped: the next session continues from the last checkpoint".into());
    }
    let target_wait = *shared
        .target_wait
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(SessionOutcome {
        outcome,
        objects,
        items,
        bytes_read,
        bytes_stored,
        duration: started.elapsed(),
        throttled: stats.waited(),
        target_wait,
        requests: stats.requests.load(std::sync::atomic::Ordering::Relaxed),
        throttled_requests: stats.throttled.load(std::sync::atomic::Ordering::Relaxed),
        errors: session_errors,
        stopped,
    })
}

/// Bytes the session actually added to the repository (packs written, after dedup,
/// compression and encryption).
fn session_stored(session: &Session) -> u64 {
    session
        .stats()
        .pack_bytes
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// Names the object a throttle key (mailbox) belongs to while the object is in progress.
fn own(shared: &Shared<'_>, mailbox: &str, object: Option<&ObjectId>) {
    let mut owners = shared
        .owners
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match object {
        Some(o) => owners.insert(mailbox.to_ascii_lowercase(), o.clone()),
        None => owners.remove(&mailbox.to_ascii_lowercase()),
    };
}

async fn process_object(shared: &Shared<'_>, target: &Target) -> ObjectResult {
    if target.object.kind != KIND_ARCHIVE {
        own(shared, &target.user, Some(&target.object));
    }
    let _ = shared
        .progress
        .send(ProgressEvent::ObjectStarted {
            object: target.object.clone(),
        })
        .await;
    let run = ObjectRun {
        client: &shared.client,
        writer: match shared
            .session
            .object(ObjectRef {
                id: target.repository_id(),
                kind: target.object.kind.clone(),
                name: target.object.name.clone(),
            })
            .await
        {
            Ok(w) => w,
            Err(e) => return finished(shared, target, None, Err(e.into())).await,
        },
        object: target.object.clone(),
        mailbox: target.user.clone(),
        had_base: false,
        parallel: shared.plan.concurrency.requests_per_mailbox.max(1),
        progress: &shared.progress,
        cancel: shared.cancel.clone(),
        counters: Counters::default(),
        warnings: Mutex::new(Warnings::default()),
        failed: Mutex::new(Default::default()),
        pending_removals: tokio::sync::Mutex::new(Default::default()),
    };
    let (run, result) = process_collections(shared, target, run).await;
    own(shared, &run.mailbox, None);
    own(shared, &target.user, None);
    finished(shared, target, Some(run), result).await
}

async fn process_collections<'a>(
    shared: &Shared<'_>,
    target: &Target,
    mut run: ObjectRun<'a>,
) -> (ObjectRun<'a>, Result<(), BackupError>) {
    let raw_state = run.writer.state().await;
    run.had_base = !raw_state.is_null();
    let mut state = ObjectState::from_json(raw_state);
    *run.pending_removals.lock().await = std::mem::take(&mut state.pending_removals);
    *run.failed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        std::mem::take(&mut state.failed_items);
    let collections: Result<Vec<Collection>, BackupError> = if target.object.kind == KIND_ARCHIVE {
        match mailbox::archive_collections(&shared.client, &target.user, &shared.plan.exclusions)
            .await
        {
            Ok(Some((mailbox_id, c))) => {
                own(shared, &mailbox_id, Some(&target.object));
                run.mailbox = mailbox_id;
                Ok(c)
            }
            Ok(None) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    } else {
        mailbox::mailbox_collections(
            &shared.client,
            &target.user,
            shared.plan.processing,
            &shared.plan.exclusions,
        )
        .await
    };
    let collections = match collections {
        Ok(c) => c,
        Err(e) => return (run, Err(e)),
    };
    // Folders gone from the mailbox (or now excluded) leave the restore point.
    let keys: std::collections::HashSet<&str> =
        collections.iter().map(|c| c.key.as_str()).collect();
    for old in run.writer.folders().await {
        if !keys.contains(old.as_str()) {
            run.writer.remove_folder(&old).await;
            state.collections.remove(&old);
        }
    }
    state.failed_items = run.failed_items();
    run.writer.set_state(state.to_json()).await;
    // Items earlier sessions could not read come first.
    match run.retry_failed(&collections).await {
        Ok(()) => {}
        Err(BackupError::Microsoft(e)) => {
            run.warn(None, format!("items to try again: {e}"));
        }
        Err(e) => return (run, Err(e)),
    }
    state.failed_items = run.failed_items();
    run.writer.set_state(state.to_json()).await;
    let mut first_error = None;
    for c in &collections {
        let previous = state.delta_link(&c.key).map(str::to_owned);
        match run.collection(c, previous.as_deref()).await {
            Ok(Some(delta)) => {
                state.collections.insert(
                    c.key.clone(),
                    super::state::CollectionState { delta_link: delta },
                );
            }
            Ok(None) => {}
            Err(BackupError::Stopped) => return (run, Err(BackupError::Stopped)),
            Err(e @ (BackupError::Repository(_) | BackupError::Microsoft(_)))
                if first_error.is_none() =>
            {
                // Temporary trouble that outlasted the retries, or a refused folder:
                // the other folders still go on; the object fails and is retried.
                run.warn(None, format!("folder {}: {e}", c.name));
                first_error = Some(e);
                continue;
            }
            Err(e) => return (run, Err(e)),
        }
        state.pending_removals = run.pending_removals.lock().await.clone();
        state.failed_items = run.failed_items();
        run.writer.set_state(state.to_json()).await;
        let wait = Instant::now();
        if let Err(e) = shared.checkpointer.folder_done().await {
            return (run, Err(e));
        }
        *shared
            .target_wait
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += wait.elapsed();
    }
    if let Err(e) = run.apply_removals().await {
        return (run, Err(e));
    }
    state.pending_removals.clear();
    state.failed_items = run.failed_items();
    run.writer.set_state(state.to_json()).await;
    (run, first_error.map_or(Ok(()), Err))
}

async fn finished(
    shared: &Shared<'_>,
    target: &Target,
    run: Option<ObjectRun<'_>>,
    result: Result<(), BackupError>,
) -> ObjectResult {
    use std::sync::atomic::Ordering::Relaxed;
    let mut messages = run
        .as_ref()
        .map(|r| {
            r.warnings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .messages()
        })
        .unwrap_or_default();
    let outcome = match &result {
        Ok(()) if messages.is_empty() => Outcome::Success,
        Ok(()) => Outcome::Warning,
        Err(BackupError::Stopped) => {
            messages.push("stopped".into());
            Outcome::Warning
        }
        Err(e) => {
            messages.push(format!("failed: {e}"));
            Outcome::Failed
        }
    };
    let c = run.as_ref().map(|r| &r.counters);
    let get =
        |f: fn(&Counters) -> &std::sync::atomic::AtomicU64| c.map_or(0, |c| f(c).load(Relaxed));
    let result = ObjectResult {
        object: target.object.clone(),
        outcome,
        items: get(|c| &c.items),
        new_versions: get(|c| &c.new_versions),
        deletions: get(|c| &c.deletions),
        bytes_read: get(|c| &c.bytes_read),
        bytes_stored: get(|c| &c.bytes_stored),
        messages,
        restore_point: None,
    };
    let _ = shared
        .progress
        .send(ProgressEvent::ObjectFinished {
            result: result.clone(),
        })
        .await;
    result
}
