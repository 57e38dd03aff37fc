//! What a backup session is asked to do, what it reports while it runs, and what it
//! returns: the contract between jobs (configuration, scheduling, the catalog's session
//! records) and the backup runner (Microsoft → repository).
//!
//! A [`BackupPlan`] is derived from a job when the session starts; the runner sends
//! [`ProgressEvent`]s while it works and returns a [`SessionOutcome`].

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything a backup session needs to know, resolved from a job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupPlan {
    /// Catalog name of the organization to back up.
    pub organization: String,
    /// Catalog name of the target repository.
    pub repository: String,
    /// The job's name, recorded in the restore points.
    pub job: String,
    pub selection: Selection,
    pub exclusions: Exclusions,
    pub processing: Processing,
    pub retry: RetryPolicy,
    pub concurrency: Concurrency,
}

/// What to protect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "kind", content = "objects")]
pub enum Selection {
    /// Every mailbox of the organization (users, shared, rooms), discovered each run.
    Organization,
    /// Only these objects (a group stands for its members' mailboxes).
    Objects(Vec<ObjectSelector>),
}

/// One protected object as the administrator names it: a UPN / SMTP address or an id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum ObjectSelector {
    User(String),
    Group(String),
    SharedMailbox(String),
}

/// What to leave out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Exclusions {
    pub objects: Vec<ObjectSelector>,
    pub folders: BTreeSet<ExcludedFolder>,
}

/// Folders an administrator may exclude, by their well-known role (not their display
/// name, which is localized).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ExcludedFolder {
    DeletedItems,
    Drafts,
    JunkEmail,
    Outbox,
    SyncIssues,
    RecoverableItems,
    InPlaceHold,
    LitigationHold,
}

/// Which parts of each mailbox to process.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Processing {
    pub mail: bool,
    pub archive: bool,
    pub calendar: bool,
    pub contacts: bool,
}

impl Default for Processing {
    fn default() -> Self {
        Self {
            mail: true,
            archive: true,
            calendar: true,
            contacts: true,
        }
    }
}

/// Retries of objects that failed within a session.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct RetryPolicy {
    pub count: u32,
    #[serde(with = "secs")]
    pub wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            count: 3,
            wait: Duration::from_secs(10),
        }
    }
}

/// How hard to push Microsoft.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Concurrency {
    /// Mailboxes processed at once.
    pub objects: usize,
    /// Requests in flight per mailbox; Exchange allows at most 4.
    pub requests_per_mailbox: usize,
}

impl Default for Concurrency {
    fn default() -> Self {
        Self {
            objects: 16,
            requests_per_mailbox: 4,
        }
    }
}

/// Identity of a protected object in events and results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// Directory object id (Entra user id).
    pub id: String,
    /// `mailbox` or `archive` (later: `onedrive`, `site`, `team`).
    pub kind: String,
    /// What an administrator recognizes: the SMTP address.
    pub name: String,
}

/// Sent by the runner while it works; jobs turn these into progress bars, log lines and
/// the session record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum ProgressEvent {
    /// Discovery finished: this many objects will be processed.
    Discovered {
        objects: usize,
    },
    ObjectStarted {
        object: ObjectId,
    },
    /// Items written for an object since the last event (deltas, not totals).
    Items {
        object: ObjectId,
        items: u64,
        bytes_read: u64,
        bytes_stored: u64,
    },
    /// Microsoft asked us to wait.
    Throttled {
        object: Option<ObjectId>,
        #[serde(with = "secs")]
        retry_after: Duration,
    },
    /// A problem with one item that did not stop the object.
    Warning {
        object: ObjectId,
        item: Option<String>,
        message: String,
    },
    ObjectFinished {
        result: ObjectResult,
    },
}

/// Success / Warning / Failed, as Veeam reports sessions and objects.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Warning,
    Failed,
}

/// How one protected object fared.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectResult {
    pub object: ObjectId,
    pub outcome: Outcome,
    pub items: u64,
    /// Item versions written, deletions recorded.
    pub new_versions: u64,
    pub deletions: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    /// Warnings and errors with the item they concern.
    pub messages: Vec<String>,
    /// Restore point id in the repository, when one was written.
    pub restore_point: Option<String>,
}

/// What a finished (or stopped) session returns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionOutcome {
    pub outcome: Outcome,
    pub objects: Vec<ObjectResult>,
    pub items: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    #[serde(with = "secs")]
    pub duration: Duration,
    /// Time spent waiting on Microsoft's throttling vs. on the repository: what slowed
    /// the session down.
    #[serde(with = "secs")]
    pub throttled: Duration,
    #[serde(with = "secs")]
    pub target_wait: Duration,
    /// Requests sent to Microsoft, and how many were answered 429/503.
    pub requests: u64,
    pub throttled_requests: u64,
    /// Session-level errors (an object's own problems are in its result).
    pub errors: Vec<String>,
    /// True when the session was stopped before it finished.
    pub stopped: bool,
}

/// Durations serialize as fractional seconds.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}
