//! Backup sessions: Microsoft 365 → repository.
//!
//! [`plan`] is the contract with jobs: a [`BackupPlan`] in, [`ProgressEvent`]s while
//! running, a [`SessionOutcome`] out.

pub mod plan;

pub use plan::{
    BackupPlan, Concurrency, ExcludedFolder, Exclusions, ObjectId, ObjectResult, ObjectSelector,
    Outcome, Processing, ProgressEvent, RetryPolicy, Selection, SessionOutcome,
};
