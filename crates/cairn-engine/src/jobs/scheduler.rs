//! Which jobs are due: the scheduler's decision, a pure function of the clock and the
//! jobs' last runs, so `cairn serve` is tested with fixed times and the server loop
//! only has to start what this returns.

use chrono::NaiveDateTime;

use super::Job;

/// What the scheduler knows about one job at a tick.
#[derive(Debug, Clone)]
pub struct JobState<'a> {
    pub job: &'a Job,
    /// When its latest session started (server local time), if it ever ran.
    pub last_start: Option<NaiveDateTime>,
    /// A session of it is running now.
    pub running: bool,
}

/// The enabled, scheduled jobs that should start at `now`: their next run time (after
/// their last start, or from `since` — when the server started — if they never ran)
/// has come, and no session of theirs is running (one session per job at a time).
pub fn due<'a>(now: NaiveDateTime, since: NaiveDateTime, jobs: &[JobState<'a>]) -> Vec<&'a Job> {
    jobs.iter()
        .filter(|s| s.job.enabled && !s.running)
        .filter(|s| {
            s.job
                .spec
                .schedule
                .next_run(s.last_start, since)
                .is_some_and(|next| next <= now)
        })
        .map(|s| s.job)
        .collect()
}

/// The earliest next run among enabled jobs (for the server's log line).
pub fn next_wakeup(since: NaiveDateTime, jobs: &[JobState<'_>]) -> Option<(NaiveDateTime, String)> {
    jobs.iter()
        .filter(|s| s.job.enabled)
        .filter_map(|s| {
            s.job
                .spec
                .schedule
                .next_run(s.last_start, since)
                .map(|t| (t, s.job.name.clone()))
        })
        .min()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::backup::Selection;
    use crate::jobs::{AllowedHours, JobSpec, Schedule};

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 29)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn job(name: &str, schedule: Schedule, enabled: bool) -> Job {
        Job {
            name: name.into(),
            organization: "contoso".into(),
            repository: "main".into(),
            enabled,
            spec: JobSpec {
                selection: Selection::Organization,
                processing: Default::default(),
                exclusions: Default::default(),
                schedule,
                retry: Default::default(),
                concurrency: Default::default(),
            },
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn due_jobs_at_a_fixed_clock() {
        let every = job(
            "every-minute",
            Schedule::Periodic {
                minutes: 1,
                allowed: None,
            },
            true,
        );
        let nightly = job(
            "nightly",
            Schedule::Daily {
                hour: 22,
                minute: 0,
                days: Default::default(),
            },
            true,
        );
        let disabled = job(
            "disabled",
            Schedule::Periodic {
                minutes: 1,
                allowed: None,
            },
            false,
        );
        let manual = job("manual", Schedule::Manual, true);
        let night_only = job(
            "night-only",
            Schedule::Periodic {
                minutes: 30,
                allowed: Some(AllowedHours { from: 20, to: 6 }),
            },
            true,
        );
        let since = at(13, 0);
        let state = |j, last, running| JobState {
            job: j,
            last_start: last,
            running,
        };
        let names = |v: Vec<&Job>| v.iter().map(|j| j.name.clone()).collect::<Vec<_>>();

        // Server start: the periodic job runs at once; the daily one waits for 22:00.
        let jobs = [
            state(&every, None, false),
            state(&nightly, None, false),
            state(&disabled, None, false),
            state(&manual, None, false),
            state(&night_only, None, false),
        ];
        assert_eq!(names(due(at(13, 0), since, &jobs)), ["every-minute"]);
        assert_eq!(
            next_wakeup(since, &jobs[1..]),
            Some((at(20, 0), "night-only".into()))
        );

        // Ran at 13:00: not again before 13:01, and not while running.
        let jobs = [state(&every, Some(at(13, 0)), false)];
        assert!(due(at(13, 0), since, &jobs).is_empty());
        assert_eq!(names(due(at(13, 1), since, &jobs)), ["every-minute"]);
        let jobs = [state(&every, Some(at(13, 0)), true)];
        assert!(due(at(13, 5), since, &jobs).is_empty());

        // 22:00: the daily job and (allowed hours) the night job.
        let jobs = [
            state(&nightly, None, false),
            state(&night_only, None, false),
        ];
        assert_eq!(
            names(due(at(22, 0), since, &jobs)),
            ["nightly", "night-only"]
        );
        // Having run at 22:00, the daily job is not due again that day.
        let jobs = [state(&nightly, Some(at(22, 0)), false)];
        assert!(due(at(23, 59), since, &jobs).is_empty());
    }
}
