//! `cairn job …`: backup jobs — create, edit, list, show, remove, enable, disable —
//! and their sessions: start (in the foreground, with progress), stop, sessions.
//!
//! The repository password of an encrypted repository is kept sealed in the catalog
//! only when the user asks (`--store-password` on create/edit: the scheduler needs it
//! for unattended runs); otherwise `job start` takes it from `--password-stdin`,
//! `CAIRN_REPO_PASSWORD` or a prompt, never from an argument.
//!
//! Exit status of `job start`: 0 success, 1 warning (backed up, with warnings worth
//! reading), 2 failed, stopped, interrupted, or a usage error.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_catalog::Catalog;
use cairn_catalog::sessions as session_table;
use cairn_engine::backup::{ObjectSelector, Selection};
use cairn_engine::jobs::{self, Job, JobChanges, model};
use cairn_engine::sessions::{self, EngineRunner, SessionError};

use crate::session::{self as view, ProgressView, exit_for};

mod password;

use password::{keep_password, password_for_run, verified_password};

#[derive(Debug, Clone, clap::Args)]
pub struct JobOptions {
    /// Organization to back up (its catalog name).
    #[arg(long = "org", value_name = "NAME")]
    organization: Option<String>,
    /// Repository to write to (its catalog name).
    #[arg(long = "repo", value_name = "NAME")]
    repository: Option<String>,
    /// Protect the whole organization (every user, shared and room mailbox).
    #[arg(long)]
    all: bool,
    /// Protect a user's mailbox (UPN); repeatable or comma-separated.
    #[arg(long = "user", value_name = "UPN")]
    users: Vec<String>,
    /// Protect a group's members' mailboxes; repeatable.
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// Protect a shared mailbox; repeatable.
    #[arg(long = "shared-mailbox", value_name = "ADDRESS")]
    shared_mailboxes: Vec<String>,
    /// Skip mail (the primary mailbox's folders).
    #[arg(long, conflicts_with = "mail")]
    no_mail: bool,
    /// Skip in-place archive mailboxes.
    #[arg(long, conflicts_with = "archive")]
    no_archive: bool,
    /// Skip calendars.
    #[arg(long, conflicts_with = "calendar")]
    no_calendar: bool,
    /// Skip contacts.
    #[arg(long, conflicts_with = "contacts")]
    no_contacts: bool,
    /// (edit) Process mail again.
    #[arg(long)]
    mail: bool,
    /// (edit) Process archives again.
    #[arg(long)]
    archive: bool,
    /// (edit) Process calendars again.
    #[arg(long)]
    calendar: bool,
    /// (edit) Process contacts again.
    #[arg(long)]
    contacts: bool,
    /// Leave a user out; repeatable. Replaces the job's excluded users (give "" to clear).
    #[arg(long = "exclude-user", value_name = "UPN")]
    exclude_users: Vec<String>,
    /// Well-known folders to leave out: deleted-items, drafts, junk-email, outbox,
    /// sync-issues, recoverable-items, in-place-hold, litigation-hold (or none).
    #[arg(long = "exclude-folder", value_name = "FOLDERS")]
    exclude_folders: Vec<String>,
    /// Run daily at HH:MM (server local time).
    #[arg(long, value_name = "HH:MM")]
    daily: Option<String>,
    /// Days for --daily: mon,tue,… (or weekdays, weekends); default every day.
    #[arg(long, value_name = "DAYS")]
    days: Option<String>,
    /// Run every INTERVAL: 30m, 4h, 1h30m.
    #[arg(long, value_name = "INTERVAL")]
    every: Option<String>,
    /// Hours --every may start in: FROM-TO, e.g. 20-06.
    #[arg(long, value_name = "FROM-TO")]
    allowed_hours: Option<String>,
    /// No schedule: runs only when started.
    #[arg(long)]
    manual: bool,
    /// Retries of failed objects within a session.
    #[arg(long, value_name = "COUNT")]
    retries: Option<u32>,
    /// Wait between retries: 30s, 10m.
    #[arg(long, value_name = "WAIT")]
    retry_wait: Option<String>,
    /// Keep the repository password sealed in the catalog for unattended runs (the
    /// scheduler needs it). Read from --password-stdin, CAIRN_REPO_PASSWORD or a prompt.
    #[arg(long)]
    store_password: bool,
    /// Read the repository password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum JobCommand {
    /// Create a backup job.
    Create {
        name: String,
        #[command(flatten)]
        options: JobOptions,
        /// Create it disabled (its schedule does not run).
        #[arg(long)]
        disabled: bool,
    },
    /// Change a job: only the options given change.
    Edit {
        name: String,
        #[command(flatten)]
        options: JobOptions,
        /// Forget the repository password kept for unattended runs.
        #[arg(long, conflicts_with = "store_password")]
        forget_password: bool,
    },
    /// List jobs: schedule, state, last result, next run.
    List,
    /// Show a job's definition and its latest session.
    Show { name: String },
    /// Remove a job (its sessions stay as history, its restore points in the repository).
    Remove { name: String },
    /// Run a job now, in the foreground, showing progress.
    Start {
        name: String,
        /// If the job is already running elsewhere, wait for that session and exit with
        /// its outcome instead of failing.
        #[arg(long)]
        wait: bool,
        /// Read the repository password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop a job's running session (it checkpoints, then ends as Stopped).
    Stop {
        name: String,
        /// Wait until the session has ended.
        #[arg(long)]
        wait: bool,
    },
    /// Let the job's schedule run.
    Enable { name: String },
    /// Keep the job's schedule from running (it can still be started by hand).
    Disable { name: String },
    /// List a job's sessions, newest first.
    Sessions { name: String },
}

fn changes(o: &JobOptions) -> JobChanges {
    let flag = |on: bool, off: bool| {
        if off {
            Some(false)
        } else if on {
            Some(true)
        } else {
            None
        }
    };
    JobChanges {
        organization: o.organization.clone(),
        repository: o.repository.clone(),
        all: o.all,
        users: o.users.clone(),
        groups: o.groups.clone(),
        shared_mailboxes: o.shared_mailboxes.clone(),
        mail: flag(o.mail, o.no_mail),
        archive: flag(o.archive, o.no_archive),
        calendar: flag(o.calendar, o.no_calendar),
        contacts: flag(o.contacts, o.no_contacts),
        exclude_users: (!o.exclude_users.is_empty()).then(|| o.exclude_users.clone()),
        exclude_folders: (!o.exclude_folders.is_empty()).then(|| o.exclude_folders.clone()),
        daily: o.daily.clone(),
        days: o.days.clone(),
        every: o.every.clone(),
        allowed_hours: o.allowed_hours.clone(),
        manual: o.manual,
        retries: o.retries,
        retry_wait: o.retry_wait.clone(),
        enabled: None,
    }
}

/// Usage errors exit 2 with the message; so do system errors (through `report`).
fn usage(err: jobs::JobError) -> anyhow::Error {
    anyhow::Error::new(err)
}

pub async fn run(data_dir: &Path, cmd: JobCommand) -> Result<ExitCode> {
    let catalog = Catalog::open(data_dir)
        .await
        .with_context(|| format!("cannot open the catalog in {}", data_dir.display()))?;
    match cmd {
        JobCommand::Create {
            name,
            options,
            disabled,
        } => {
            let mut c = changes(&options);
            c.enabled = Some(!disabled);
            // Check the password before creating anything, so a typo leaves no job behind.
            let password = match (&options.repository, options.store_password) {
                (Some(repo), true)
                    if cairn_catalog::repositories::get(&catalog, repo)
                        .await?
                        .is_some() =>
                {
                    Some(verified_password(&catalog, repo, options.password_stdin).await?)
                }
                _ => None,
            };
            let job = jobs::create(&catalog, &name, &c).await.map_err(usage)?;
            if let Some(password) = password {
                keep_password(&catalog, &job.repository, password).await?;
            }
            println!("created job {}", job.name);
            print_job(&catalog, &job).await?;
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Edit {
            name,
            options,
            forget_password,
        } => {
            // Check the password before changing anything.
            let password = if options.store_password {
                let repository = match &options.repository {
                    Some(r) => r.clone(),
                    None => {
                        jobs::require(&catalog, &name)
                            .await
                            .map_err(usage)?
                            .repository
                    }
                };
                Some(verified_password(&catalog, &repository, options.password_stdin).await?)
            } else {
                None
            };
            let job = jobs::edit(&catalog, &name, &changes(&options))
                .await
                .map_err(usage)?;
            if let Some(password) = password {
                keep_password(&catalog, &job.repository, password).await?;
            }
            if forget_password
                && cairn_catalog::jobs::forget_repository_password(&catalog, &job.repository)
                    .await?
            {
                println!("forgot the password kept for repository {}", job.repository);
            }
            println!("changed job {}", job.name);
            print_job(&catalog, &job).await?;
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::List => {
            sessions::reap_stale(&catalog).await?;
            let list = jobs::list(&catalog).await?;
            if list.is_empty() {
                println!(
                    "No jobs (create one with `cairn job create NAME --org ORG --repo REPO --all`)."
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<20} {:<12} {:<12} {:<9} {:<12} {:<26} SCHEDULE",
                "NAME", "ORGANIZATION", "REPOSITORY", "STATE", "LAST RESULT", "LAST RUN"
            );
            for job in list {
                let last = session_table::latest(&catalog, &job.name).await?;
                println!(
                    "{:<20} {:<12} {:<12} {:<9} {:<12} {:<26} {}",
                    job.name,
                    job.organization,
                    job.repository,
                    if job.enabled { "enabled" } else { "disabled" },
                    last.as_ref().map_or("-", |s| s.status.as_str()),
                    last.as_ref().map_or("-", |s| s.started_at.as_str()),
                    job.spec.schedule.describe()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Show { name } => {
            sessions::reap_stale(&catalog).await?;
            let job = jobs::require(&catalog, &name).await.map_err(usage)?;
            print_job(&catalog, &job).await?;
            if let Some(last) = session_table::latest(&catalog, &name).await? {
                println!();
                view::print_summary(&last);
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Remove { name } => {
            if let Some(s) = sessions::running_session(&catalog, &name).await? {
                bail!(
                    "job {name} is running (session {}): stop it first (cairn job stop {name} --wait)",
                    s.id
                );
            }
            jobs::remove(&catalog, &name).await.map_err(usage)?;
            println!(
                "removed job {name} (its sessions stay as history; its restore points stay in the repository)"
            );
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Enable { name } => {
            jobs::set_enabled(&catalog, &name, true)
                .await
                .map_err(usage)?;
            println!("enabled job {name}");
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Disable { name } => {
            jobs::set_enabled(&catalog, &name, false)
                .await
                .map_err(usage)?;
            println!("disabled job {name}");
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Sessions { name } => {
            sessions::reap_stale(&catalog).await?;
            jobs::require(&catalog, &name).await.map_err(usage)?;
            let list = session_table::list_for_job(&catalog, &name).await?;
            if list.is_empty() {
                println!("No sessions of job {name} yet (cairn job start {name}).");
            } else {
                println!(
                    "{:<36} {:<11} {:<26} {:>9} {:>8} {:>10} {:>10}",
                    "SESSION", "STATUS", "STARTED", "OBJECTS", "ITEMS", "READ", "DURATION"
                );
            }
            for s in list {
                println!(
                    "{:<36} {:<11} {:<26} {:>9} {:>8} {:>10} {:>10}",
                    s.id,
                    s.status,
                    s.started_at,
                    format!("{}/{}", s.counters.objects_done, s.counters.objects_total),
                    s.counters.items,
                    crate::repo::human(s.counters.bytes_read),
                    view::duration(s.counters.duration_ms)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Start {
            name,
            wait,
            password_stdin,
        } => start(&catalog, &name, wait, password_stdin).await,
        JobCommand::Stop { name, wait } => {
            match sessions::stop(&catalog, &name)
                .await
                .map_err(anyhow::Error::new)?
            {
                None => {
                    println!("job {name} is not running");
                    Ok(ExitCode::SUCCESS)
                }
                Some(s) => {
                    println!(
                        "asked session {} (pid {}) to stop",
                        s.id,
                        s.pid.unwrap_or(0)
                    );
                    if wait {
                        let s = sessions::wait(&catalog, &s.id, Duration::from_millis(200)).await?;
                        println!("session {} ended: {}", s.id, s.status);
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}

/// Runs a job now and prints the result. Also used by `cairn demo` and `cairn serve`
/// (through a child process).
pub async fn start(
    catalog: &Catalog,
    name: &str,
    wait: bool,
    password_stdin: bool,
) -> Result<ExitCode> {
    start_with(catalog, name, wait, password_stdin, None).await
}

/// [`start`] with a given network (`cairn demo`'s in-process simulator) instead of the
/// one from the environment.
pub async fn start_with(
    catalog: &Catalog,
    name: &str,
    wait: bool,
    password_stdin: bool,
    network: Option<cairn_m365::Network>,
) -> Result<ExitCode> {
    let job = jobs::require(catalog, name).await.map_err(usage)?;
    if let Some(running) = sessions::running_session(catalog, name).await? {
        if !wait {
            return Err(SessionError::AlreadyRunning {
                job: name.to_owned(),
                session: running.id,
                pid: running.pid.unwrap_or(0),
            }
            .into());
        }
        println!(
            "job {name} is already running (session {}, pid {}); waiting for it",
            running.id,
            running.pid.unwrap_or(0)
        );
        let s = sessions::wait(catalog, &running.id, Duration::from_millis(500)).await?;
        view::print_details(catalog, &s).await?;
        return Ok(exit_for(&s.status));
    }
    let password = password_for_run(catalog, &job, password_stdin).await?;
    let network = match network {
        Some(n) => n,
        None => cairn_m365::Network::from_env()?,
    };
    let runner = EngineRunner {
        catalog: catalog.clone(),
        network,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // SIGTERM (`cairn job stop`, the scheduler shutting down) and Ctrl-C: ask the
    // runner to checkpoint and end; the session ends as Stopped.
    // Registered before the session is recorded, so a `stop` as soon as it shows as
    // Running is always handled (never the default action, which would kill us).
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot handle SIGTERM")?;
    let signals = tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        let _ = stop_tx.send(true);
    });
    let progress = ProgressView::new(name);
    let finished = sessions::start(catalog, &runner, name, password, stop_rx, &mut |e, live| {
        progress.event(e, live)
    })
    .await;
    progress.finish();
    signals.abort();
    let finished = finished?;
    println!();
    view::print_details(catalog, &finished.session).await?;
    Ok(exit_for(&finished.session.status))
}

async fn print_job(catalog: &Catalog, job: &Job) -> Result<()> {
    let s = &job.spec;
    println!("Job {}", job.name);
    println!("  organization:   {}", job.organization);
    println!("  repository:     {}", job.repository);
    let protects = match &s.selection {
        Selection::Organization => "the whole organization".to_string(),
        Selection::Objects(objects) => objects
            .iter()
            .map(|o| match o {
                ObjectSelector::User(u) => format!("user {u}"),
                ObjectSelector::Group(g) => format!("group {g}"),
                ObjectSelector::SharedMailbox(m) => format!("shared mailbox {m}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    println!("  protects:       {protects}");
    let p = s.processing;
    let parts: Vec<&str> = [
        (p.mail, "mail"),
        (p.archive, "archive"),
        (p.calendar, "calendar"),
        (p.contacts, "contacts"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| *n)
    .collect();
    println!("  processing:     {}", parts.join(", "));
    if !s.exclusions.objects.is_empty() {
        let names: Vec<String> = s
            .exclusions
            .objects
            .iter()
            .map(|o| match o {
                ObjectSelector::User(n)
                | ObjectSelector::Group(n)
                | ObjectSelector::SharedMailbox(n) => n.clone(),
            })
            .collect();
        println!("  excludes:       {}", names.join(", "));
    }
    if !s.exclusions.folders.is_empty() {
        let names: Vec<String> = s
            .exclusions
            .folders
            .iter()
            .map(|f| model::folder_name(*f))
            .collect();
        println!("  excluded folders: {}", names.join(", "));
    }
    println!("  schedule:       {}", s.schedule.describe());
    if job.enabled {
        let last = session_table::latest(catalog, &job.name)
            .await?
            .as_ref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s.started_at).ok())
            .map(|t| t.with_timezone(&chrono::Local).naive_local());
        let now = chrono::Local::now().naive_local();
        if let Some(next) = s.schedule.next_run(last, now) {
            println!(
                "  next run:       {} (local time, while `cairn serve` runs)",
                next.format("%Y-%m-%d %H:%M")
            );
        }
    }
    println!(
        "  state:          {}",
        if job.enabled { "enabled" } else { "disabled" }
    );
    println!(
        "  retries:        {} (wait {})",
        s.retry.count,
        view::duration(u64::try_from(s.retry.wait.as_millis()).unwrap_or(u64::MAX))
    );
    let encrypted = cairn_catalog::repositories::get(catalog, &job.repository)
        .await?
        .is_some_and(|r| r.encrypted);
    let kept = cairn_catalog::jobs::repository_password(catalog, &job.repository)
        .await?
        .is_some();
    println!(
        "  unattended:     {}",
        if !encrypted {
            "repository not encrypted: no password needed"
        } else if kept {
            "repository password kept sealed in the catalog"
        } else {
            "no repository password kept (scheduled runs need CAIRN_REPO_PASSWORD or --store-password)"
        }
    );
    Ok(())
}
