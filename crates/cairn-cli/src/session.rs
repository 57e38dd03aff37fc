//! `cairn session show ID`, and how sessions are displayed everywhere: the summary
//! (objects, items, MB, duration, rates, what slowed it down), per-object results,
//! warnings and errors with their items, and the live progress of `cairn job start`
//! (a progress bar on a terminal, plain log lines otherwise).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use cairn_catalog::Catalog;
use cairn_catalog::sessions::{self as table, SessionCounters, SessionRecord};
use cairn_engine::backup::{Outcome, ProgressEvent};
use cairn_engine::sessions::{self, Live, status};
use indicatif::{ProgressBar, ProgressStyle};

use crate::repo::human;

#[derive(Debug, clap::Subcommand)]
pub enum SessionCommand {
    /// Show a session: totals, what slowed it down, per-object results, warnings and
    /// errors with the items they concern. ID may be a unique prefix.
    Show { id: String },
}

pub async fn run(data_dir: &Path, cmd: SessionCommand) -> Result<ExitCode> {
    let catalog = Catalog::open(data_dir)
        .await
        .with_context(|| format!("cannot open the catalog in {}", data_dir.display()))?;
    match cmd {
        SessionCommand::Show { id } => {
            sessions::reap_stale(&catalog).await?;
            let s = table::find(&catalog, &id).await.with_context(|| {
                format!("no session {id:?}: list a job's sessions with `cairn job sessions JOB`")
            })?;
            print_details(&catalog, &s).await?;
            Ok(exit_for(&s.status))
        }
    }
}

/// Exit status for scripts: 0 success, 1 warning, 2 anything else (failed, stopped,
/// interrupted, still running).
pub fn exit_for(status: &str) -> ExitCode {
    match status {
        status::SUCCESS => ExitCode::SUCCESS,
        status::WARNING => ExitCode::from(1),
        _ => ExitCode::from(2),
    }
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// `1m 05s`, `3.2 s`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h {:02}m {:02}s", s / 3600, (s / 60) % 60, s % 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{:.1} s", secs(ms))
    }
}

fn rates(c: &SessionCounters) -> String {
    let t = secs(c.duration_ms).max(0.001);
    format!(
        "{:.0} items/s, {}/s",
        c.items as f64 / t,
        human((c.bytes_read as f64 / t) as u64)
    )
}

/// What slowed the session down: waiting on Microsoft's throttling vs on the repository.
pub fn bottleneck(c: &SessionCounters) -> String {
    let throttled = format!(
        "{} waiting on Microsoft throttling ({} of {} requests throttled)",
        duration(c.throttled_ms),
        c.throttled_requests,
        c.requests
    );
    let target = format!("{} waiting on the repository", duration(c.target_wait_ms));
    // Waits under a tenth of the session are not what slowed it down.
    let noticeable = c.duration_ms / 10;
    let verdict = if c.throttled_ms.max(c.target_wait_ms) <= noticeable {
        "neither source nor target noticeably"
    } else if c.throttled_ms >= c.target_wait_ms {
        "source (Microsoft throttling)"
    } else {
        "target (repository)"
    };
    format!("{verdict}: {throttled}; {target}")
}

/// The few lines every session display starts with.
pub fn print_summary(s: &SessionRecord) {
    let c = &s.counters;
    println!("Session {} of job {}: {}", s.id, s.job, s.status);
    println!(
        "  started {}{}",
        s.started_at,
        s.ended_at
            .as_ref()
            .map(|e| format!(", ended {e}"))
            .unwrap_or_else(|| s
                .pid
                .map(|p| format!(", running (pid {p})"))
                .unwrap_or_default())
    );
    println!(
        "  objects {}/{}, items {}, read {}, stored {}, duration {}",
        c.objects_done,
        c.objects_total,
        c.items,
        human(c.bytes_read),
        human(c.bytes_stored),
        duration(c.duration_ms)
    );
    println!("  rate: {}", rates(c));
    println!("  slowed by {}", bottleneck(c));
}

pub async fn print_details(catalog: &Catalog, s: &SessionRecord) -> Result<()> {
    print_summary(s);
    let objects = table::objects(catalog, &s.id).await?;
    if !objects.is_empty() {
        println!();
        println!(
            "{:<8} {:<40} {:<8} {:>8} {:>8} {:>8} {:>10}  RESTORE POINT",
            "RESULT", "OBJECT", "KIND", "ITEMS", "NEW", "DELETED", "READ"
        );
        for o in &objects {
            println!(
                "{:<8} {:<40} {:<8} {:>8} {:>8} {:>8} {:>10}  {}",
                o.outcome,
                o.name,
                o.kind,
                o.items,
                o.new_versions,
                o.deletions,
                human(o.bytes_read),
                o.restore_point.as_deref().unwrap_or("-")
            );
        }
    }
    let messages = table::messages(catalog, &s.id).await?;
    if !messages.is_empty() {
        println!();
        for m in &messages {
            let mut concerning = Vec::new();
            if let Some(o) = &m.object {
                concerning.push(o.clone());
            }
            if let Some(i) = &m.item {
                concerning.push(format!("item {i}"));
            }
            let concerning = if concerning.is_empty() {
                String::new()
            } else {
                format!(" [{}]", concerning.join(", "))
            };
            println!("{} {}{}: {}", m.at, m.severity, concerning, m.message);
        }
    }
    Ok(())
}

/// Shows a running session: a bar on a terminal, log lines otherwise.
pub struct ProgressView {
    bar: Option<ProgressBar>,
}

impl ProgressView {
    pub fn new(job: &str) -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:30}] {pos}/{len} objects  {msg}  ETA {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(job.to_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if bar.is_none() {
            println!("job {job}: session started");
        }
        Self { bar }
    }

    pub fn event(&self, event: &ProgressEvent, live: &Live) {
        let c = &live.counters;
        match &self.bar {
            Some(bar) => {
                bar.set_length(c.objects_total);
                bar.set_position(c.objects_done);
                let t = live.elapsed.as_secs_f64().max(0.001);
                bar.set_message(format!(
                    "{} items, {:.1} MB, {:.0} items/s, {:.1} MB/s",
                    c.items,
                    c.bytes_read as f64 / 1e6,
                    c.items as f64 / t,
                    c.bytes_read as f64 / 1e6 / t
                ));
                if let ProgressEvent::Warning {
                    object,
                    item,
                    message,
                } = event
                {
                    bar.println(format!(
                        "warning: {}{}: {message}",
                        object.name,
                        item.as_ref()
                            .map(|i| format!(" item {i}"))
                            .unwrap_or_default()
                    ));
                }
            }
            None => match event {
                ProgressEvent::Discovered { objects } => {
                    println!("discovered {objects} objects");
                }
                ProgressEvent::ObjectStarted { object } => {
                    println!("started {} {}", object.kind, object.name);
                }
                ProgressEvent::Warning {
                    object,
                    item,
                    message,
                } => println!(
                    "warning: {}{}: {message}",
                    object.name,
                    item.as_ref()
                        .map(|i| format!(" item {i}"))
                        .unwrap_or_default()
                ),
                ProgressEvent::ObjectFinished { result } => println!(
                    "[{}/{}] {} {}: {}, {} items, {} read; total {} items, {}",
                    c.objects_done,
                    c.objects_total,
                    result.object.kind,
                    result.object.name,
                    match result.outcome {
                        Outcome::Success => "success",
                        Outcome::Warning => "warning",
                        Outcome::Failed => "failed",
                    },
                    result.items,
                    human(result.bytes_read),
                    c.items,
                    human(c.bytes_read)
                ),
                ProgressEvent::Throttled { .. } | ProgressEvent::Items { .. } => {}
            },
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_slowed_a_session_down() {
        let c = |duration_ms, throttled_ms, target_wait_ms| SessionCounters {
            duration_ms,
            throttled_ms,
            target_wait_ms,
            requests: 100,
            throttled_requests: 7,
            ..Default::default()
        };
        assert!(bottleneck(&c(10_000, 4_000, 500)).starts_with("source (Microsoft throttling)"));
        assert!(bottleneck(&c(10_000, 500, 4_000)).starts_with("target (repository)"));
        assert!(bottleneck(&c(10_000, 200, 300)).starts_with("neither"));
        assert!(bottleneck(&c(10_000, 4_000, 0)).contains("7 of 100 requests throttled"));
        assert_eq!(duration(65_000), "1m 05s");
        assert_eq!(duration(3_723_000), "1h 02m 03s");
        assert_eq!(exit_for(status::SUCCESS), ExitCode::SUCCESS);
        assert_eq!(exit_for(status::WARNING), ExitCode::from(1));
        assert_eq!(exit_for(status::STOPPED), ExitCode::from(2));
    }
}
