//! A job's definition — what to protect, what to leave out, when to run, how to retry
//! — and how a request to create or edit one is applied and validated. A job becomes a
//! [`BackupPlan`] when a session starts.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::JobError;
use super::schedule::{AllowedHours, Day, Schedule};
use crate::backup::{
    BackupPlan, Concurrency, ExcludedFolder, Exclusions, ObjectSelector, Processing, RetryPolicy,
    Selection,
};

/// What is stored as the job's definition (JSON in the catalog).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobSpec {
    pub selection: Selection,
    #[serde(default)]
    pub processing: Processing,
    #[serde(default)]
    pub exclusions: Exclusions,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub retry: RetryPolicy,
    #[serde(default)]
    pub concurrency: Concurrency,
}

/// A job as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub name: String,
    pub organization: String,
    pub repository: String,
    pub enabled: bool,
    pub spec: JobSpec,
    pub created_at: String,
    pub updated_at: String,
}

impl Job {
    /// The plan a session of this job executes.
    pub fn plan(&self) -> BackupPlan {
        BackupPlan {
            organization: self.organization.clone(),
            repository: self.repository.clone(),
            job: self.name.clone(),
            selection: self.spec.selection.clone(),
            exclusions: self.spec.exclusions.clone(),
            processing: self.spec.processing,
            retry: self.spec.retry,
            concurrency: self.spec.concurrency,
        }
    }
}

/// A request to create a job or change one: `None` / empty leaves a setting as it is
/// (or at its default on create).
#[derive(Debug, Clone, Default)]
pub struct JobChanges {
    pub organization: Option<String>,
    pub repository: Option<String>,
    /// The whole organization.
    pub all: bool,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub shared_mailboxes: Vec<String>,
    /// `Some(false)` turns a part off, `Some(true)` back on.
    pub mail: Option<bool>,
    pub archive: Option<bool>,
    pub calendar: Option<bool>,
    pub contacts: Option<bool>,
    /// Replaces the excluded objects when given.
    pub exclude_users: Option<Vec<String>>,
    /// Replaces the excluded folders when given (comma-separated lists, `none` clears).
    pub exclude_folders: Option<Vec<String>>,
    /// `HH:MM`.
    pub daily: Option<String>,
    /// `mon,tue,…`.
    pub days: Option<String>,
    /// `30m`, `4h`.
    pub every: Option<String>,
    /// `20-06`.
    pub allowed_hours: Option<String>,
    /// Back to manual runs only.
    pub manual: bool,
    pub retries: Option<u32>,
    /// `10m`, `30s`.
    pub retry_wait: Option<String>,
    pub enabled: Option<bool>,
}

/// Checks a job name: it is used on command lines and in restore points.
pub fn validate_name(name: &str) -> Result<(), JobError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(JobError::Invalid(format!(
            "bad job name {name:?}: use 1-64 letters, digits, '-', '_' or '.', not starting with '-' or '.'"
        )))
    }
}

/// Parses a well-known folder to exclude (`deleted-items`, …).
pub fn parse_folder(s: &str) -> Result<ExcludedFolder, JobError> {
    let key = s.trim().to_ascii_lowercase().replace([' ', '_'], "-");
    serde_json::from_value(serde_json::Value::String(key)).map_err(|_| {
        JobError::Invalid(format!(
            "unknown folder {s:?} in --exclude-folder: use deleted-items, drafts, junk-email, outbox, sync-issues, recoverable-items, in-place-hold, litigation-hold (or none)"
        ))
    })
}

/// The kebab-case name of an excluded folder.
pub fn folder_name(f: ExcludedFolder) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Parses a wait: `30s`, `10m`, `1h`, or seconds.
pub fn parse_wait(s: &str) -> Result<Duration, JobError> {
    let bad = || {
        JobError::Invalid(format!(
            "bad retry wait {s:?}: use seconds, minutes or hours, e.g. 30s, 10m, 1h (at most 24h)"
        ))
    };
    let t = s.trim().to_ascii_lowercase();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t.as_str(), "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" | "sec" => n,
        "m" | "min" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if secs > 24 * 3600 {
        return Err(bad());
    }
    Ok(Duration::from_secs(secs))
}

fn selectors(kind: fn(String) -> ObjectSelector, names: &[String]) -> Vec<ObjectSelector> {
    names
        .iter()
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| kind(n.to_owned()))
        .collect()
}

impl JobChanges {
    /// Applies the changes to `spec` (the defaults on create), checking the result.
    pub fn apply(&self, spec: Option<&JobSpec>) -> Result<JobSpec, JobError> {
        let mut objects = selectors(ObjectSelector::User, &self.users);
        objects.extend(selectors(ObjectSelector::Group, &self.groups));
        objects.extend(selectors(
            ObjectSelector::SharedMailbox,
            &self.shared_mailboxes,
        ));
        let selection = match (self.all, objects.is_empty(), spec) {
            (true, false, _) => {
                return Err(JobError::Invalid(
                    "--all protects the whole organization: do not also name users, groups or shared mailboxes (use --exclude-user to leave some out)".into(),
                ));
            }
            (true, true, _) => Selection::Organization,
            (false, false, _) => {
                let mut objects = objects;
                objects.sort();
                objects.dedup();
                Selection::Objects(objects)
            }
            (false, true, Some(s)) => s.selection.clone(),
            (false, true, None) => {
                return Err(JobError::Invalid(
                    "say what the job protects: --all for the whole organization, or --user, --group, --shared-mailbox".into(),
                ));
            }
        };

        let base = spec.cloned();
        let mut processing = base.as_ref().map(|s| s.processing).unwrap_or_default();
        if let Some(v) = self.mail {
            processing.mail = v;
        }
        if let Some(v) = self.archive {
            processing.archive = v;
        }
        if let Some(v) = self.calendar {
            processing.calendar = v;
        }
        if let Some(v) = self.contacts {
            processing.contacts = v;
        }
        if !(processing.mail || processing.archive || processing.calendar || processing.contacts) {
            return Err(JobError::Invalid(
                "the job would process nothing: keep at least one of mail, archive, calendar, contacts".into(),
            ));
        }

        let mut exclusions = base
            .as_ref()
            .map(|s| s.exclusions.clone())
            .unwrap_or_default();
        if let Some(users) = &self.exclude_users {
            exclusions.objects = selectors(ObjectSelector::User, users);
            exclusions.objects.sort();
            exclusions.objects.dedup();
        }
        if let Some(folders) = &self.exclude_folders {
            let mut set = BTreeSet::new();
            for f in folders.iter().flat_map(|f| f.split(',')) {
                if f.trim().eq_ignore_ascii_case("none") || f.trim().is_empty() {
                    continue;
                }
                set.insert(parse_folder(f)?);
            }
            exclusions.folders = set;
        }
        if let Selection::Objects(chosen) = &selection
            && let Some(both) = exclusions.objects.iter().find(|x| chosen.contains(x))
        {
            let (ObjectSelector::User(name)
            | ObjectSelector::Group(name)
            | ObjectSelector::SharedMailbox(name)) = both;
            return Err(JobError::Invalid(format!(
                "{name} is both protected and excluded: drop one of --user / --exclude-user"
            )));
        }

        let schedule = self.schedule(base.as_ref().map(|s| &s.schedule))?;

        let mut retry = base.as_ref().map(|s| s.retry).unwrap_or_default();
        if let Some(count) = self.retries {
            if count > 100 {
                return Err(JobError::Invalid(format!(
                    "--retries {count} is too many: at most 100"
                )));
            }
            retry.count = count;
        }
        if let Some(wait) = &self.retry_wait {
            retry.wait = parse_wait(wait)?;
        }

        Ok(JobSpec {
            selection,
            processing,
            exclusions,
            schedule,
            retry,
            concurrency: base.map(|s| s.concurrency).unwrap_or_default(),
        })
    }

    fn schedule(&self, current: Option<&Schedule>) -> Result<Schedule, JobError> {
        use super::schedule::{parse_allowed_hours, parse_days, parse_interval, parse_time};
        let conflicting = [self.manual, self.daily.is_some(), self.every.is_some()]
            .iter()
            .filter(|x| **x)
            .count()
            > 1;
        if conflicting {
            return Err(JobError::Invalid(
                "choose one schedule: --daily HH:MM, --every INTERVAL or --manual".into(),
            ));
        }
        let days = self.days.as_deref().map(parse_days).transpose()?;
        let allowed = self
            .allowed_hours
            .as_deref()
            .map(parse_allowed_hours)
            .transpose()?;
        let schedule = if self.manual {
            Schedule::Manual
        } else if let Some(t) = &self.daily {
            let (hour, minute) = parse_time(t)?;
            Schedule::Daily {
                hour,
                minute,
                days: days.clone().unwrap_or_default(),
            }
        } else if let Some(e) = &self.every {
            // A new interval keeps the allowed hours unless new ones are given.
            let kept = match current {
                Some(Schedule::Periodic { allowed: old, .. }) => *old,
                _ => None,
            };
            Schedule::Periodic {
                minutes: parse_interval(e)?,
                allowed: allowed.or(kept),
            }
        } else {
            match current.cloned().unwrap_or_default() {
                Schedule::Daily {
                    hour,
                    minute,
                    days: old,
                } => Schedule::Daily {
                    hour,
                    minute,
                    days: days.clone().unwrap_or(old),
                },
                Schedule::Periodic {
                    minutes,
                    allowed: old,
                } => Schedule::Periodic {
                    minutes,
                    allowed: allowed.or(old),
                },
                Schedule::Manual => Schedule::Manual,
            }
        };
        match &schedule {
            Schedule::Daily { .. } if allowed.is_some() => Err(JobError::Invalid(
                "--allowed-hours applies to --every schedules; a daily job runs at its time".into(),
            )),
            Schedule::Periodic { .. } | Schedule::Manual if days.is_some() => {
                Err(JobError::Invalid(
                    "--days applies to --daily schedules (e.g. --daily 22:00 --days mon,fri)"
                        .into(),
                ))
            }
            Schedule::Manual if allowed.is_some() => Err(JobError::Invalid(
                "--allowed-hours needs --every INTERVAL".into(),
            )),
            _ => Ok(schedule),
        }
    }
}

/// Used by `job show`.
pub fn describe_days(days: &BTreeSet<Day>) -> String {
    days.iter().map(|d| d.name()).collect::<Vec<_>>().join(",")
}

/// Used by `job show`.
pub fn describe_allowed(a: &AllowedHours) -> String {
    format!("{:02}-{:02}", a.from, a.to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(c: JobChanges) -> Result<JobSpec, JobError> {
        c.apply(None)
    }

    #[test]
    fn create_whole_org_with_defaults() {
        let spec = create(JobChanges {
            all: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(spec.selection, Selection::Organization);
        assert_eq!(spec.processing, Processing::default());
        assert_eq!(spec.schedule, Schedule::Manual);
        assert_eq!(spec.retry, RetryPolicy::default());
    }

    #[test]
    fn chosen_objects_exclusions_schedule_retries() {
        let spec = create(JobChanges {
            users: vec!["adele@contoso.com,alex@contoso.com".into()],
            groups: vec!["sales@contoso.com".into()],
            shared_mailboxes: vec!["info@contoso.com".into()],
            archive: Some(false),
            exclude_folders: Some(vec!["deleted-items,Junk Email".into(), "drafts".into()]),
            daily: Some("22:00".into()),
            days: Some("mon,tue".into()),
            retries: Some(5),
            retry_wait: Some("10m".into()),
            ..Default::default()
        })
        .unwrap();
        let Selection::Objects(objects) = &spec.selection else {
            panic!("{:?}", spec.selection)
        };
        assert_eq!(objects.len(), 4);
        assert!(!spec.processing.archive && spec.processing.mail);
        assert_eq!(
            spec.exclusions.folders,
            [
                ExcludedFolder::DeletedItems,
                ExcludedFolder::JunkEmail,
                ExcludedFolder::Drafts
            ]
            .into()
        );
        assert_eq!(spec.schedule.describe(), "daily at 22:00 (mon,tue)");
        assert_eq!(spec.retry.count, 5);
        assert_eq!(spec.retry.wait, Duration::from_secs(600));
        // The definition survives the catalog's JSON.
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<JobSpec>(&json).unwrap(), spec);
    }

    #[test]
    fn edit_keeps_what_is_not_changed() {
        let spec = create(JobChanges {
            all: true,
            every: Some("4h".into()),
            allowed_hours: Some("20-06".into()),
            exclude_users: Some(vec!["ceo@contoso.com".into()]),
            ..Default::default()
        })
        .unwrap();
        let edited = JobChanges {
            mail: Some(false),
            allowed_hours: Some("22-05".into()),
            ..Default::default()
        }
        .apply(Some(&spec))
        .unwrap();
        assert_eq!(edited.selection, Selection::Organization);
        assert!(!edited.processing.mail);
        assert_eq!(edited.exclusions, spec.exclusions);
        assert_eq!(edited.schedule.describe(), "every 4h, allowed hours 22-05");
        let faster = JobChanges {
            every: Some("30m".into()),
            ..Default::default()
        }
        .apply(Some(&edited))
        .unwrap();
        assert_eq!(faster.schedule.describe(), "every 30m, allowed hours 22-05");
        let manual = JobChanges {
            manual: true,
            exclude_users: Some(vec![]),
            ..Default::default()
        }
        .apply(Some(&edited))
        .unwrap();
        assert_eq!(manual.schedule, Schedule::Manual);
        assert!(manual.exclusions.objects.is_empty());
    }

    #[test]
    fn invalid_requests_say_what_to_do() {
        let cases: Vec<(JobChanges, &str)> = vec![
            (JobChanges::default(), "--all"),
            (
                JobChanges {
                    all: true,
                    users: vec!["a@b.c".into()],
                    ..Default::default()
                },
                "do not also name",
            ),
            (
                JobChanges {
                    all: true,
                    mail: Some(false),
                    archive: Some(false),
                    calendar: Some(false),
                    contacts: Some(false),
                    ..Default::default()
                },
                "process nothing",
            ),
            (
                JobChanges {
                    all: true,
                    daily: Some("22:00".into()),
                    every: Some("4h".into()),
                    ..Default::default()
                },
                "choose one schedule",
            ),
            (
                JobChanges {
                    all: true,
                    daily: Some("24:30".into()),
                    ..Default::default()
                },
                "HH:MM",
            ),
            (
                JobChanges {
                    all: true,
                    daily: Some("22:00".into()),
                    days: Some("mon,xyz".into()),
                    ..Default::default()
                },
                "xyz",
            ),
            (
                JobChanges {
                    all: true,
                    every: Some("4h".into()),
                    days: Some("mon".into()),
                    ..Default::default()
                },
                "--days applies",
            ),
            (
                JobChanges {
                    all: true,
                    daily: Some("22:00".into()),
                    allowed_hours: Some("20-06".into()),
                    ..Default::default()
                },
                "--allowed-hours applies",
            ),
            (
                JobChanges {
                    all: true,
                    exclude_folders: Some(vec!["inbox".into()]),
                    ..Default::default()
                },
                "unknown folder",
            ),
            (
                JobChanges {
                    users: vec!["a@b.c".into()],
                    exclude_users: Some(vec!["a@b.c".into()]),
                    ..Default::default()
                },
                "both protected and excluded",
            ),
            (
                JobChanges {
                    all: true,
                    retry_wait: Some("2d".into()),
                    ..Default::default()
                },
                "retry wait",
            ),
        ];
        for (changes, expected) in cases {
            let err = create(changes.clone()).unwrap_err().to_string();
            assert!(err.contains(expected), "{changes:?}: {err}");
        }
    }

    #[test]
    fn names_and_folders() {
        for ok in ["nightly", "Exchange-All_2", "a.b"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "-x", ".x", "a b", "é", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        for f in [
            ExcludedFolder::DeletedItems,
            ExcludedFolder::LitigationHold,
            ExcludedFolder::SyncIssues,
        ] {
            assert_eq!(parse_folder(&folder_name(f)).unwrap(), f);
        }
        assert_eq!(parse_wait("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_wait("1h").unwrap(), Duration::from_secs(3600));
    }
}
