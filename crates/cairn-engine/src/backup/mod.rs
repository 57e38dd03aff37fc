//! Backup sessions: Microsoft 365 → repository.
//!
//! [`plan`] is the contract with jobs: a [`BackupPlan`] in, [`ProgressEvent`]s while
//! running, a [`SessionOutcome`] out. [`run`] is the runner: incremental forever by
//! per-folder delta links kept in each restore point's object state ([`state`]),
//! many mailboxes in parallel under one throttle per organization, checkpoints after
//! finished folders so a killed session resumes where it was.

mod collection;
mod connect;
mod discover;
mod error;
mod export;
mod mailbox;
pub mod plan;
mod retry;
mod runner;
pub mod state;
mod warnings;

pub use discover::{KIND_ARCHIVE, KIND_MAILBOX};
pub use error::BackupError;
pub use mailbox::{CALENDAR_KEY, CONTACTS_PREFIX};
pub use plan::{
    BackupPlan, Concurrency, ExcludedFolder, Exclusions, ObjectId, ObjectResult, ObjectSelector,
    Outcome, Processing, ProgressEvent, RetryPolicy, Selection, SessionOutcome,
};
pub use runner::{RunContext, RunOptions, run};
