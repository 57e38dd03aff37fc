//! Job sessions: one run of a job, recorded in the catalog from start to finish.
//!
//! [`start`] records the session as `Running` with the pid of this process, runs the
//! backup ([`Runner`], normally [`EngineRunner`] = `backup::run`), turns its
//! [`ProgressEvent`]s into live counters, per-object results and messages in the
//! catalog, and records the outcome. A session left `Running` by a process that died
//! (kill -9, power loss) is marked `Interrupted` by [`reap_stale`] — called before every
//! start — and the next run resumes from the repository's checkpoint. [`stop`] asks
//! the process running a job's session to stop (SIGTERM: checkpoint, then `Stopped`).

pub mod process;
mod recorder;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use cairn_catalog::sessions::{self as table, SessionMessage, SessionRecord};
use cairn_catalog::{Catalog, CatalogError};
use tokio::sync::{mpsc, watch};
use zeroize::Zeroizing;

use crate::backup::{BackupPlan, ProgressEvent, SessionOutcome};
use crate::jobs::{self, JobError};

pub use recorder::Live;

/// Final statuses, as Veeam names them, plus `Running`, `Stopped` and `Interrupted`.
pub mod status {
    pub const RUNNING: &str = "Running";
    pub const SUCCESS: &str = "Success";
    pub const WARNING: &str = "Warning";
    pub const FAILED: &str = "Failed";
    pub const STOPPED: &str = "Stopped";
    pub const INTERRUPTED: &str = "Interrupted";
}

/// Why a session could not be run or recorded.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// One session per job at a time.
    #[error(
        "job {job:?} is already running (session {session}, process {pid}); wait for it (cairn job start {job} --wait) or stop it (cairn job stop {job})"
    )]
    AlreadyRunning {
        job: String,
        session: String,
        pid: u32,
    },
    /// The repository is encrypted and no password is available.
    #[error(
        "repository {repository:?} is encrypted and no password is available for this run: keep it for unattended runs (cairn job create/edit … --store-password) or give it with --password-stdin / CAIRN_REPO_PASSWORD"
    )]
    NoPassword { repository: String },
}

/// Asks a running session to stop: the sender side of the runner's stop signal.
pub type StopSender = watch::Sender<bool>;
/// A runner's stop signal: becomes `true` when the session must checkpoint and end.
pub type StopSignal = watch::Receiver<bool>;

/// A boxed backup run.
// Not `Send`: the runner's future is awaited in place (the compiler cannot prove
// `backup::run`'s stream combinators `Send` for every lifetime).
pub type RunFuture = Pin<Box<dyn Future<Output = Result<SessionOutcome, String>>>>;

/// Runs a backup plan (the seam between session bookkeeping and the backup runner).
pub trait Runner: Send + Sync {
    fn run(
        &self,
        plan: BackupPlan,
        password: Option<Zeroizing<Vec<u8>>>,
        progress: mpsc::Sender<ProgressEvent>,
        stop: StopSignal,
    ) -> RunFuture;
}

/// The real runner: `backup::run` against Microsoft 365 (or the simulator).
pub struct EngineRunner {
    pub catalog: Catalog,
    pub network: cairn_m365::Network,
}

impl Runner for EngineRunner {
    fn run(
        &self,
        plan: BackupPlan,
        password: Option<Zeroizing<Vec<u8>>>,
        progress: mpsc::Sender<ProgressEvent>,
        stop: StopSignal,
    ) -> RunFuture {
        let catalog = self.catalog.clone();
        let network = self.network.clone();
        Box::pin(async move {
            let ctx = crate::backup::RunContext {
                catalog,
                network,
                repository_password: password,
                progress,
                cancel: stop,
                options: crate::backup::RunOptions::default(),
            };
            Ok(crate::backup::run(&plan, ctx).await)
        })
    }
}

/// How a session ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub session: SessionRecord,
    /// `None` when the runner failed before producing an outcome (the error is recorded).
    pub outcome: Option<SessionOutcome>,
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Marks sessions left `Running` by a process that no longer exists as `Interrupted`;
/// returns them.
pub async fn reap_stale(catalog: &Catalog) -> Result<Vec<SessionRecord>, SessionError> {
    let mut reaped = Vec::new();
    for s in table::running(catalog).await? {
        let started = chrono::DateTime::parse_from_rfc3339(&s.started_at)
            .map(std::time::SystemTime::from)
            .unwrap_or_else(|_| std::time::SystemTime::now());
        let alive = s
            .pid
            .is_some_and(|p| p != std::process::id() && process::runs_session(p, started));
        if alive {
            continue;
        }
        let at = now();
        table::add_message(
            catalog,
            &s.id,
            &SessionMessage {
                at: at.clone(),
                severity: "error".into(),
                object: None,
                item: None,
                message: format!(
                    "the process running this session ({}) ended without finishing it; the next run resumes from the repository's checkpoint",
                    s.pid.map_or("pid unknown".into(), |p| format!("pid {p}"))
                ),
            },
        )
        .await?;
        table::finish(catalog, &s.id, status::INTERRUPTED, &s.counters, &at).await?;
        reaped.push(table::get(catalog, &s.id).await?.unwrap_or(s));
    }
    Ok(reaped)
}

/// The session of a job that is running now in a live process, if any.
pub async fn running_session(
    catalog: &Catalog,
    job: &str,
) -> Result<Option<SessionRecord>, SessionError> {
    reap_stale(catalog).await?;
    Ok(table::running(catalog)
        .await?
        .into_iter()
        .find(|s| s.job == job))
}

/// The password for a run: the one kept in the catalog, else the one given; `None` for
/// unencrypted repositories.
pub async fn password_for(
    catalog: &Catalog,
    repository: &str,
    given: Option<Zeroizing<Vec<u8>>>,
) -> Result<Option<Zeroizing<Vec<u8>>>, SessionError> {
    let rec = cairn_catalog::repositories::require(catalog, repository).await?;
    if !rec.encrypted {
        return Ok(None);
    }
    if let Some(kept) = cairn_catalog::jobs::repository_password(catalog, repository).await? {
        return Ok(Some(kept));
    }
    given.map(Some).ok_or_else(|| SessionError::NoPassword {
        repository: repository.to_owned(),
    })
}

/// Runs a job now in this process and records it. `on_progress` sees every event with
/// the live totals (for a progress bar or log lines).
pub async fn start(
    catalog: &Catalog,
    runner: &dyn Runner,
    job_name: &str,
    password: Option<Zeroizing<Vec<u8>>>,
    stop: StopSignal,
    on_progress: &mut (dyn FnMut(&ProgressEvent, &Live) + Send),
) -> Result<Finished, SessionError> {
    let job = jobs::require(catalog, job_name).await?;
    if let Some(s) = running_session(catalog, job_name).await? {
        return Err(SessionError::AlreadyRunning {
            job: job_name.to_owned(),
            session: s.id,
            pid: s.pid.unwrap_or(0),
        });
    }
    let at = now();
    let record = SessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        job: job.name.clone(),
        status: status::RUNNING.into(),
        started_at: at.clone(),
        ended_at: None,
        updated_at: at,
        pid: Some(std::process::id()),
        counters: Default::default(),
    };
    if !table::insert_if_idle(catalog, &record).await? {
        // Another process started the job between the check above and now.
        let other = table::running(catalog)
            .await?
            .into_iter()
            .find(|s| s.job == job.name);
        return Err(SessionError::AlreadyRunning {
            job: job.name.clone(),
            session: other.as_ref().map_or_else(String::new, |s| s.id.clone()),
            pid: other.and_then(|s| s.pid).unwrap_or(0),
        });
    }
    let (tx, mut rx) = mpsc::channel(256);
    let run = runner.run(job.plan(), password, tx, stop);
    let mut recorder = recorder::Recorder::new(catalog.clone(), record.id.clone());
    let started = std::time::Instant::now();
    tokio::pin!(run);
    let result = loop {
        tokio::select! {
            biased;
            event = rx.recv() => match event {
                Some(event) => {
                    recorder.event(&event, started.elapsed()).await?;
                    on_progress(&event, recorder.live());
                }
                // The runner dropped its sender: wait for its result.
                None => break (&mut run).await,
            },
            result = &mut run => {
                // Drain what the runner sent before returning.
                while let Ok(event) = rx.try_recv() {
                    recorder.event(&event, started.elapsed()).await?;
                    on_progress(&event, recorder.live());
                }
                break result;
            }
        }
    };
    let outcome = match result {
        Ok(outcome) => {
            recorder.finish(&outcome).await?;
            Some(outcome)
        }
        Err(err) => {
            recorder.fail(&err, started.elapsed()).await?;
            None
        }
    };
    let session = table::get(catalog, &record.id)
        .await?
        .ok_or_else(|| CatalogError::NotFound {
            kind: "session",
            name: record.id.clone(),
        })?;
    Ok(Finished { session, outcome })
}

/// Asks the process running a job's session to stop. Returns the session, or `None`
/// if the job is not running.
pub async fn stop(catalog: &Catalog, job: &str) -> Result<Option<SessionRecord>, SessionError> {
    jobs::require(catalog, job).await?;
    let Some(s) = running_session(catalog, job).await? else {
        return Ok(None);
    };
    if let Some(pid) = s.pid {
        let sent = process::terminate(pid).map_err(|e| {
            SessionError::Job(JobError::Invalid(format!(
                "cannot signal the process running job {job:?} (pid {pid}): {e}"
            )))
        })?;
        if !sent {
            reap_stale(catalog).await?;
        }
    }
    Ok(Some(s))
}

/// Waits until a session is no longer `Running` (polling the catalog; a session whose
/// process died is marked `Interrupted`).
pub async fn wait(
    catalog: &Catalog,
    id: &str,
    poll: Duration,
) -> Result<SessionRecord, SessionError> {
    loop {
        reap_stale(catalog).await?;
        let s = table::get(catalog, id)
            .await?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "session",
                name: id.to_owned(),
            })?;
        if s.status != status::RUNNING {
            return Ok(s);
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests;
