//! `cairn serve`: the scheduler (a REST API comes later). Every tick it asks the
//! engine which enabled jobs are due and starts each as a child `cairn job start`
//! process — one session per job at a time, its output in `<data-dir>/logs/JOB.log` —
//! so that `cairn job stop` can signal that session alone. On SIGTERM or Ctrl-C it
//! starts nothing more, asks running sessions to stop (they checkpoint) and waits.

use std::collections::HashMap;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cairn_catalog::Catalog;
use cairn_catalog::sessions as session_table;
use cairn_engine::jobs::{self, scheduler};
use cairn_engine::sessions;
use chrono::{DateTime, Local, NaiveDateTime};
use tokio::process::{Child, Command};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// How often to look for due jobs, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    tick: u64,
    /// Test aid: the scheduler's clock runs this many times faster than real time
    /// (60 makes `--every 1m` come round each second).
    #[arg(long, default_value_t = 1, hide = true)]
    time_scale: u32,
}

/// The scheduler's clock: local wall time, optionally sped up from the server's start.
struct Clock {
    started_real: Instant,
    started_local: NaiveDateTime,
    scale: u32,
}

impl Clock {
    fn now(&self) -> NaiveDateTime {
        let elapsed = self.started_real.elapsed() * self.scale.max(1);
        self.started_local + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

fn local(rfc3339: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.with_timezone(&Local).naive_local())
}

pub async fn run(data_dir: &Path, args: ServeArgs) -> Result<ExitCode> {
    let catalog = Catalog::open(data_dir)
        .await
        .with_context(|| format!("cannot open the catalog in {}", data_dir.display()))?;
    let logs = data_dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let exe = std::env::current_exe().context("cannot find the cairn executable")?;
    let clock = Clock {
        started_real: Instant::now(),
        started_local: Local::now().naive_local(),
        scale: args.time_scale,
    };
    let since = clock.now();
    // Last starts on the scheduler's clock, for jobs this server started.
    let mut started_here: HashMap<String, NaiveDateTime> = HashMap::new();
    let mut children: HashMap<String, Child> = HashMap::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot handle SIGTERM")?;
    let tick = Duration::from_secs(args.tick.max(1));
    println!(
        "cairn serve: scheduler running (data directory {}, checking every {}s); stop with Ctrl-C or SIGTERM",
        data_dir.display(),
        tick.as_secs()
    );
    let mut announced: Option<(NaiveDateTime, String)> = None;
    loop {
        // Reap finished children.
        let mut ended = Vec::new();
        for (job, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                println!(
                    "job {job}: session ended (exit {})",
                    status.code().unwrap_or(-1)
                );
                ended.push(job.clone());
            }
        }
        for job in ended {
            children.remove(&job);
        }

        if let Err(err) = tick_once(
            &catalog,
            &clock,
            since,
            &exe,
            data_dir,
            &logs,
            &mut started_here,
            &mut children,
            &mut announced,
        )
        .await
        {
            eprintln!("scheduler: {err:#}");
        }

        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!(
        "cairn serve: shutting down; asking {} running sessions to stop",
        children.len()
    );
    for (job, child) in children.iter_mut() {
        if let Some(pid) = child.id() {
            let _ = sessions::process::terminate(pid);
        }
        match child.wait().await {
            Ok(status) => println!("job {job}: stopped (exit {})", status.code().unwrap_or(-1)),
            Err(err) => eprintln!("job {job}: {err}"),
        }
    }
    catalog.close().await;
    println!("cairn serve: stopped");
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)] // one tick's whole context; a struct would only rename it
async fn tick_once(
    catalog: &Catalog,
    clock: &Clock,
    since: NaiveDateTime,
    exe: &Path,
    data_dir: &Path,
    logs: &Path,
    started_here: &mut HashMap<String, NaiveDateTime>,
    children: &mut HashMap<String, Child>,
    announced: &mut Option<(NaiveDateTime, String)>,
) -> Result<()> {
    sessions::reap_stale(catalog).await?;
    let all = jobs::list(catalog).await?;
    let running = session_table::running(catalog).await?;
    let mut last_starts = Vec::with_capacity(all.len());
    for job in &all {
        let last = match started_here.get(&job.name) {
            Some(t) => Some(*t),
            None => session_table::latest(catalog, &job.name)
                .await?
                .as_ref()
                .and_then(|s| local(&s.started_at)),
        };
        last_starts.push(last);
    }
    let states: Vec<scheduler::JobState<'_>> = all
        .iter()
        .zip(&last_starts)
        .map(|(job, last)| scheduler::JobState {
            job,
            last_start: *last,
            running: children.contains_key(&job.name) || running.iter().any(|s| s.job == job.name),
        })
        .collect();
    let now = clock.now();
    for job in scheduler::due(now, since, &states) {
        let log_path = logs.join(format!("{}.log", job.name));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let err_log = log.try_clone()?;
        let child = Command::new(exe)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["job", "start", &job.name])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err_log))
            .spawn()
            .with_context(|| format!("cannot start job {}", job.name))?;
        println!(
            "job {}: due at {}, started (pid {}), log in {}",
            job.name,
            job.spec
                .schedule
                .next_run(started_here.get(&job.name).copied(), since)
                .map_or_else(
                    || now.to_string(),
                    |t| t.format("%Y-%m-%d %H:%M").to_string()
                ),
            child.id().unwrap_or(0),
            log_path.display()
        );
        started_here.insert(job.name.clone(), now);
        children.insert(job.name.clone(), child);
    }
    let next = scheduler::next_wakeup(since, &states);
    if next.is_some() && next != *announced {
        if let Some((t, name)) = &next {
            println!("next run: job {name} at {}", t.format("%Y-%m-%d %H:%M"));
        }
        *announced = next;
    }
    Ok(())
}
