//! The `repositories` table: backup repositories this installation writes to, by
//! name, with their location and (sealed) storage credentials. The repository
//! password is never stored; a repository's content is read from the repository.

use sqlx::Row as _;
use zeroize::Zeroizing;

use crate::{Catalog, CatalogError, Result};

const KIND: &str = "repository";

/// A repository as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryRecord {
    /// Unique name chosen by the user.
    pub name: String,
    /// Location URL, without secrets.
    pub location: String,
    /// The id in the repository's `config`.
    pub repository_id: String,
    pub encrypted: bool,
    /// Whether sealed storage credentials are stored.
    pub has_credentials: bool,
    /// RFC 3339.
    pub created_at: String,
}

fn context(name: &str) -> String {
    format!("repository/{name}/credentials")
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<RepositoryRecord> {
    let err = CatalogError::query("reading a repository");
    let get = |col: &str| -> Result<String> {
        row.try_get::<String, _>(col)
            .map_err(CatalogError::query("reading a repository"))
    };
    let encrypted: i64 = row.try_get("encrypted").map_err(err)?;
    let has: i64 = row
        .try_get("has_credentials")
        .map_err(CatalogError::query("reading a repository"))?;
    Ok(RepositoryRecord {
        name: get("name")?,
        location: get("location")?,
        repository_id: get("repository_id")?,
        encrypted: encrypted != 0,
        has_credentials: has != 0,
        created_at: get("created_at")?,
    })
}

macro_rules! select_repositories {
    () => {
        "SELECT name, location, repository_id, encrypted, \
         CASE WHEN credentials IS NULL THEN 0 ELSE 1 END AS has_credentials, created_at \
         FROM repositories"
    };
}

/// Stores a repository; `credentials_json` (if any) is sealed.
pub async fn insert(
    catalog: &Catalog,
    rec: &RepositoryRecord,
    credentials_json: Option<&[u8]>,
) -> Result<()> {
    if get(catalog, &rec.name).await?.is_some() {
        return Err(CatalogError::AlreadyExists {
            kind: KIND,
            name: rec.name.clone(),
        });
    }
    let sealed = match credentials_json {
        Some(c) => Some(catalog.vault().seal(&context(&rec.name), c)?),
        None => None,
    };
    sqlx::query(
        "INSERT INTO repositories (name, location, repository_id, encrypted, credentials, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&rec.name)
    .bind(&rec.location)
    .bind(&rec.repository_id)
    .bind(i64::from(rec.encrypted))
    .bind(sealed)
    .bind(&rec.created_at)
    .execute(catalog.pool())
    .await
    .map_err(CatalogError::query("adding a repository"))?;
    Ok(())
}

pub async fn get(catalog: &Catalog, name: &str) -> Result<Option<RepositoryRecord>> {
    let row = sqlx::query(concat!(select_repositories!(), " WHERE name = $1"))
        .bind(name)
        .fetch_optional(catalog.pool())
        .await
        .map_err(CatalogError::query("reading a repository"))?;
    row.as_ref().map(from_row).transpose()
}

pub async fn require(catalog: &Catalog, name: &str) -> Result<RepositoryRecord> {
    get(catalog, name)
        .await?
        .ok_or_else(|| CatalogError::NotFound {
            kind: KIND,
            name: name.to_owned(),
        })
}

pub async fn list(catalog: &Catalog) -> Result<Vec<RepositoryRecord>> {
    let rows = sqlx::query(concat!(select_repositories!(), " ORDER BY name"))
        .fetch_all(catalog.pool())
        .await
        .map_err(CatalogError::query("listing repositories"))?;
    rows.iter().map(from_row).collect()
}

/// The unsealed credentials JSON, if stored.
pub async fn credentials(catalog: &Catalog, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let row = sqlx::query("SELECT credentials FROM repositories WHERE name = $1")
        .bind(name)
        .fetch_optional(catalog.pool())
        .await
        .map_err(CatalogError::query("reading a repository's credentials"))?
        .ok_or_else(|| CatalogError::NotFound {
            kind: KIND,
            name: name.to_owned(),
        })?;
    let sealed: Option<Vec<u8>> = row
        .try_get("credentials")
        .map_err(CatalogError::query("reading a repository's credentials"))?;
    match sealed {
        Some(s) => Ok(Some(catalog.vault().unseal(&context(name), &s)?)),
        None => Ok(None),
    }
}

pub async fn remove(catalog: &Catalog, name: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM repositories WHERE name = $1")
        .bind(name)
        .execute(catalog.pool())
        .await
        .map_err(CatalogError::query("removing a repository"))?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            kind: KIND,
            name: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> RepositoryRecord {
        RepositoryRecord {
            name: name.into(),
            location: "s3://bucket/prefix?region=eu-west-1".into(),
            repository_id: "5d0c7f0e-3c3a-4d35-9a51-2f7b7d3e1a10".into(),
            encrypted: true,
            has_credentials: true,
            created_at: "2026-11-29T12:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn insert_get_list_credentials_remove() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).await.unwrap();
        let creds = br#"{"aws_access_key_id":"AKIA","aws_secret_access_key":"s3cr3t"}"#;
        insert(&catalog, &sample("main"), Some(creds))
            .await
            .unwrap();
        let mut plain = sample("plain");
        plain.has_credentials = false;
        insert(&catalog, &plain, None).await.unwrap();
        assert!(matches!(
            insert(&catalog, &sample("main"), None).await,
            Err(CatalogError::AlreadyExists { .. })
        ));
        assert_eq!(require(&catalog, "main").await.unwrap(), sample("main"));
        assert_eq!(list(&catalog).await.unwrap(), vec![sample("main"), plain]);
        assert_eq!(
            credentials(&catalog, "main")
                .await
                .unwrap()
                .unwrap()
                .as_slice(),
            creds
        );
        assert!(credentials(&catalog, "plain").await.unwrap().is_none());
        // The secret is not stored in clear (database and its write-ahead log).
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let raw = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!raw.windows(6).any(|w| w == b"s3cr3t"));
        }
        remove(&catalog, "main").await.unwrap();
        assert!(get(&catalog, "main").await.unwrap().is_none());
        assert!(remove(&catalog, "main").await.is_err());
    }
}
