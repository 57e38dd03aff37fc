//! Backup jobs: what to protect in an organization, into which repository, when, and
//! how to retry — created, edited and listed here, stored in the catalog, turned into a
//! [`BackupPlan`](crate::backup::BackupPlan) when a session starts.
//!
//! - [`model`]: the definition and how create/edit requests are validated.
//! - [`schedule`]: when a job runs by itself.
//! - [`scheduler`]: which jobs are due at a given time (used by `cairn serve`).

pub mod model;
pub mod schedule;
pub mod scheduler;

use cairn_catalog::jobs::{self as table, JobRecord};
use cairn_catalog::{Catalog, CatalogError};

pub use model::{Job, JobChanges, JobSpec, validate_name};
pub use schedule::{AllowedHours, Day, Schedule};

/// Why a job operation failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The request is invalid: the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The catalog failed (includes job not found / already exists).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A stored definition no longer reads (written by a newer Cairn, or damaged).
    #[error("the definition of job {job:?} is damaged: {detail}; edit or re-create the job")]
    Damaged { job: String, detail: String },
}

impl JobError {
    /// The user's request was wrong (as opposed to the system failing).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            JobError::Invalid(_)
                | JobError::Catalog(
                    CatalogError::NotFound { .. } | CatalogError::AlreadyExists { .. }
                )
        )
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn from_record(r: JobRecord) -> Result<Job, JobError> {
    let spec = serde_json::from_str(&r.definition).map_err(|e| JobError::Damaged {
        job: r.name.clone(),
        detail: e.to_string(),
    })?;
    Ok(Job {
        name: r.name,
        organization: r.organization,
        repository: r.repository,
        enabled: r.enabled,
        spec,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

fn to_record(j: &Job) -> Result<JobRecord, JobError> {
    Ok(JobRecord {
        name: j.name.clone(),
        organization: j.organization.clone(),
        repository: j.repository.clone(),
        definition: serde_json::to_string(&j.spec).map_err(|e| JobError::Damaged {
            job: j.name.clone(),
            detail: e.to_string(),
        })?,
        enabled: j.enabled,
        created_at: j.created_at.clone(),
        updated_at: j.updated_at.clone(),
    })
}

/// Checks that the organization and repository a job names are configured.
async fn check_targets(
    catalog: &Catalog,
    organization: &str,
    repository: &str,
) -> Result<(), JobError> {
    if cairn_catalog::organizations::get(catalog, organization)
        .await?
        .is_none()
    {
        return Err(JobError::Invalid(format!(
            "unknown organization {organization:?}: add it first (cairn org add) or check `cairn org list`"
        )));
    }
    if cairn_catalog::repositories::get(catalog, repository)
        .await?
        .is_none()
    {
        return Err(JobError::Invalid(format!(
            "unknown repository {repository:?}: create or attach it first (cairn repo create / attach) or check `cairn repo list`"
        )));
    }
    Ok(())
}

/// Creates a job.
pub async fn create(catalog: &Catalog, name: &str, changes: &JobChanges) -> Result<Job, JobError> {
    validate_name(name)?;
    let organization = changes.organization.clone().ok_or_else(|| {
        JobError::Invalid("say which organization the job backs up: --org NAME".into())
    })?;
    let repository = changes.repository.clone().ok_or_else(|| {
        JobError::Invalid("say which repository the job writes to: --repo NAME".into())
    })?;
    if table::get(catalog, name).await?.is_some() {
        return Err(CatalogError::AlreadyExists {
            kind: "job",
            name: name.to_owned(),
        }
        .into());
    }
    check_targets(catalog, &organization, &repository).await?;
    let spec = changes.apply(None)?;
    let at = now();
    let job = Job {
        name: name.to_owned(),
        organization,
        repository,
        enabled: changes.enabled.unwrap_or(true),
        spec,
        created_at: at.clone(),
        updated_at: at,
    };
    table::insert(catalog, &to_record(&job)?).await?;
    Ok(job)
}

/// Changes a job.
pub async fn edit(catalog: &Catalog, name: &str, changes: &JobChanges) -> Result<Job, JobError> {
    let mut job = require(catalog, name).await?;
    if let Some(o) = &changes.organization {
        job.organization = o.clone();
    }
    if let Some(r) = &changes.repository {
        job.repository = r.clone();
    }
    check_targets(catalog, &job.organization, &job.repository).await?;
    job.spec = changes.apply(Some(&job.spec))?;
    if let Some(e) = changes.enabled {
        job.enabled = e;
    }
    job.updated_at = now();
    table::update(catalog, &to_record(&job)?).await?;
    Ok(job)
}

pub async fn get(catalog: &Catalog, name: &str) -> Result<Option<Job>, JobError> {
    table::get(catalog, name)
        .await?
        .map(from_record)
        .transpose()
}

pub async fn require(catalog: &Catalog, name: &str) -> Result<Job, JobError> {
    from_record(table::require(catalog, name).await?)
}

pub async fn list(catalog: &Catalog) -> Result<Vec<Job>, JobError> {
    table::list(catalog)
        .await?
        .into_iter()
        .map(from_record)
        .collect()
}

/// Enables or disables a job's schedule (a disabled job still runs when started by hand).
pub async fn set_enabled(catalog: &Catalog, name: &str, enabled: bool) -> Result<Job, JobError> {
    let mut job = require(catalog, name).await?;
    job.enabled = enabled;
    job.updated_at = now();
    table::update(catalog, &to_record(&job)?).await?;
    Ok(job)
}

/// Removes a job; its sessions remain as history and its restore points in the repository.
pub async fn remove(catalog: &Catalog, name: &str) -> Result<(), JobError> {
    table::remove(catalog, name).await?;
    Ok(())
}
