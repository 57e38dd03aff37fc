//! The `jobs` table: backup jobs by name, with their definition (selection, schedule,
//! …) as JSON owned by the engine, and the `repository_passwords` table: repository
//! passwords the user agreed to keep sealed for unattended runs.

use sqlx::Row as _;
use zeroize::Zeroizing;

use crate::{Catalog, CatalogError, Result};

const KIND: &str = "job";

/// A job as stored. `definition` is the engine's JSON; the catalog does not read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub name: String,
    pub organization: String,
    pub repository: String,
    pub definition: String,
    pub enabled: bool,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<JobRecord> {
    let get = |col: &str| -> Result<String> {
        row.try_get::<String, _>(col)
            .map_err(CatalogError::query("reading a job"))
    };
    let enabled: i64 = row
        .try_get("enabled")
        .map_err(CatalogError::query("reading a job"))?;
    Ok(JobRecord {
        name: get("name")?,
        organization: get("organization")?,
        repository: get("repository")?,
        definition: get("definition")?,
        enabled: enabled != 0,
        created_at: get("created_at")?,
        updated_at: get("updated_at")?,
    })
}

macro_rules! select_jobs {
    () => {
        "SELECT name, organization, repository, definition, enabled, created_at, updated_at FROM jobs"
    };
}

/// Stores a new job.
pub async fn insert(catalog: &Catalog, job: &JobRecord) -> Result<()> {
    if get(catalog, &job.name).await?.is_some() {
        return Err(CatalogError::AlreadyExists {
            kind: KIND,
            name: job.name.clone(),
        });
    }
    sqlx::query(
        "INSERT INTO jobs (name, organization, repository, definition, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&job.name)
    .bind(&job.organization)
    .bind(&job.repository)
    .bind(&job.definition)
    .bind(i64::from(job.enabled))
    .bind(&job.created_at)
    .bind(&job.updated_at)
    .execute(catalog.pool())
    .await
    .map_err(CatalogError::query("adding a job"))?;
    Ok(())
}

/// Replaces a job's organization, repository, definition, enabled flag and update time.
pub async fn update(catalog: &Catalog, job: &JobRecord) -> Result<()> {
    let done = sqlx::query(
        "UPDATE jobs SET organization = $1, repository = $2, definition = $3, enabled = $4, \
         updated_at = $5 WHERE name = $6",
    )
    .bind(&job.organization)
    .bind(&job.repository)
    .bind(&job.definition)
    .bind(i64::from(job.enabled))
    .bind(&job.updated_at)
    .bind(&job.name)
    .execute(catalog.pool())
    .await
    .map_err(CatalogError::query("updating a job"))?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            kind: KIND,
            name: job.name.clone(),
        });
    }
    Ok(())
}

pub async fn get(catalog: &Catalog, name: &str) -> Result<Option<JobRecord>> {
    let row = sqlx::query(concat!(select_jobs!(), " WHERE name = $1"))
        .bind(name)
        .fetch_optional(catalog.pool())
        .await
        .map_err(CatalogError::query("reading a job"))?;
    row.as_ref().map(from_row).transpose()
}

pub async fn require(catalog: &Catalog, name: &str) -> Result<JobRecord> {
    get(catalog, name)
        .await?
        .ok_or_else(|| CatalogError::NotFound {
            kind: KIND,
            name: name.to_owned(),
        })
}

pub async fn list(catalog: &Catalog) -> Result<Vec<JobRecord>> {
    let rows = sqlx::query(concat!(select_jobs!(), " ORDER BY name"))
        .fetch_all(catalog.pool())
        .await
        .map_err(CatalogError::query("listing jobs"))?;
    rows.iter().map(from_row).collect()
}

/// Removes a job; its sessions stay as history.
pub async fn remove(catalog: &Catalog, name: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM jobs WHERE name = $1")
        .bind(name)
        .execute(catalog.pool())
        .await
        .map_err(CatalogError::query("removing a job"))?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            kind: KIND,
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn password_context(repository: &str) -> String {
    format!("repository/{repository}/password")
}

/// Keeps a repository's password sealed for unattended runs (replacing any earlier one).
pub async fn store_repository_password(
    catalog: &Catalog,
    repository: &str,
    password: &[u8],
    stored_at: &str,
) -> Result<()> {
    let sealed = catalog
        .vault()
        .seal(&password_context(repository), password)?;
    sqlx::query("DELETE FROM repository_passwords WHERE repository = $1")
        .bind(repository)
        .execute(catalog.pool())
        .await
        .map_err(CatalogError::query("replacing a repository password"))?;
    sqlx::query(
        "INSERT INTO repository_passwords (repository, password, stored_at) VALUES ($1, $2, $3)",
    )
    .bind(repository)
    .bind(sealed)
    .bind(stored_at)
    .execute(catalog.pool())
    .await
    .map_err(CatalogError::query("storing a repository password"))?;
    Ok(())
}

/// The kept password of a repository, unsealed, if the user agreed to keep one.
pub async fn repository_password(
    catalog: &Catalog,
    repository: &str,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let row = sqlx::query("SELECT password FROM repository_passwords WHERE repository = $1")
        .bind(repository)
        .fetch_optional(catalog.pool())
        .await
        .map_err(CatalogError::query("reading a repository password"))?;
    let Some(row) = row else { return Ok(None) };
    let sealed: Vec<u8> = row
        .try_get("password")
        .map_err(CatalogError::query("reading a repository password"))?;
    Ok(Some(
        catalog
            .vault()
            .unseal(&password_context(repository), &sealed)?,
    ))
}

/// Forgets a kept repository password; true if one was kept.
pub async fn forget_repository_password(catalog: &Catalog, repository: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM repository_passwords WHERE repository = $1")
        .bind(repository)
        .execute(catalog.pool())
        .await
        .map_err(CatalogError::query("forgetting a repository password"))?;
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repositories::{self, RepositoryRecord};

    fn sample(name: &str) -> JobRecord {
        JobRecord {
            name: name.into(),
            organization: "contoso".into(),
            repository: "main".into(),
            definition: r#"{"selection":{"kind":"organization"}}"#.into(),
            enabled: true,
            created_at: "2026-11-29T12:00:00Z".into(),
            updated_at: "2026-11-29T12:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn insert_update_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).await.unwrap();
        insert(&catalog, &sample("nightly")).await.unwrap();
        insert(&catalog, &sample("archive")).await.unwrap();
        assert!(matches!(
            insert(&catalog, &sample("nightly")).await,
            Err(CatalogError::AlreadyExists { .. })
        ));
        let mut edited = sample("nightly");
        edited.enabled = false;
        edited.definition = "{}".into();
        edited.updated_at = "2026-11-29T13:00:00Z".into();
        update(&catalog, &edited).await.unwrap();
        assert_eq!(require(&catalog, "nightly").await.unwrap(), edited);
        let names: Vec<_> = list(&catalog)
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.name)
            .collect();
        assert_eq!(names, ["archive", "nightly"]);
        remove(&catalog, "nightly").await.unwrap();
        assert!(get(&catalog, "nightly").await.unwrap().is_none());
        assert!(matches!(
            remove(&catalog, "nightly").await,
            Err(CatalogError::NotFound { .. })
        ));
        assert!(matches!(
            update(&catalog, &edited).await,
            Err(CatalogError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn repository_password_is_sealed_and_follows_the_repository() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).await.unwrap();
        repositories::insert(
            &catalog,
            &RepositoryRecord {
                name: "main".into(),
                location: "file:///tmp/x".into(),
                repository_id: "id".into(),
                encrypted: true,
                has_credentials: false,
                created_at: "2026-11-29T12:00:00Z".into(),
            },
            None,
        )
        .await
        .unwrap();
        assert!(
            repository_password(&catalog, "main")
                .await
                .unwrap()
                .is_none()
        );
        store_repository_password(&catalog, "main", b"hunter2-secret", "now")
            .await
            .unwrap();
        store_repository_password(&catalog, "main", b"correct-horse", "later")
            .await
            .unwrap();
        assert_eq!(
            repository_password(&catalog, "main")
                .await
                .unwrap()
                .unwrap()
                .as_slice(),
            b"correct-horse"
        );
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let raw = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!raw.windows(13).any(|w| w == b"correct-horse"));
        }
        repositories::remove(&catalog, "main").await.unwrap();
        assert!(
            repository_password(&catalog, "main")
                .await
                .unwrap()
                .is_none()
        );
        assert!(!forget_repository_password(&catalog, "main").await.unwrap());
    }
}
