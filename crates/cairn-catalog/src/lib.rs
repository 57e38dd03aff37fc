//! Cairn's catalog: the configuration database.
//!
//! The catalog holds configuration (organizations, repositories, jobs) and a cache of
//! what the repositories contain. It is never the only copy of anything needed to
//! restore: a repository describes itself, and a lost catalog is rebuilt by attaching
//! the repositories again.
//!
//! The embedded default is SQLite in the data directory. The catalog goes through
//! sqlx's `Any` driver with portable SQL (TEXT / INTEGER / BLOB columns, `$n`
//! placeholders numbered in order of appearance), so that PostgreSQL can back it later
//! by changing the connection URL and enabling the driver.
//!
//! Secrets (certificate private keys, storage credentials) are stored sealed by the
//! [`Vault`], whose key lives beside the database in the data directory.

mod error;
pub mod jobs;
pub mod organizations;
pub mod repositories;
pub mod sessions;
pub mod vault;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

pub use error::{CatalogError, Result};
pub use vault::{Vault, VaultError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

const DATABASE_FILE: &str = "catalog.db";

/// An open catalog: the database pool and the vault sealing its secrets.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: AnyPool,
    vault: std::sync::Arc<Vault>,
    data_dir: PathBuf,
}

impl Catalog {
    /// Opens (creating if needed) the embedded SQLite catalog of a data directory and
    /// brings its schema up to date.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| CatalogError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            data_dir.join(DATABASE_FILE).display()
        );
        Self::connect(&url, data_dir).await
    }

    /// Opens the catalog at a database URL; `data_dir` holds the vault key.
    pub async fn connect(url: &str, data_dir: &Path) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let open_err = |source| CatalogError::Open {
            url: url.to_owned(),
            source,
        };
        let options = AnyConnectOptions::from_str(url).map_err(open_err)?;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name() == "SQLite" {
                        // WAL lets the scheduler and CLI read while a session writes.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(open_err)?;
        MIGRATOR.run(&pool).await?;
        let vault = Vault::open_or_create(data_dir)?;
        Ok(Self {
            pool,
            vault: std::sync::Arc::new(vault),
            data_dir: data_dir.to_owned(),
        })
    }

    /// The database pool, for the catalog's table modules.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The vault sealing this catalog's secrets.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The data directory this catalog belongs to.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_creates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).await.unwrap();
        sqlx::query("INSERT INTO catalog_meta (key, value) VALUES ($1, $2)")
            .bind("installation")
            .bind("test")
            .execute(catalog.pool())
            .await
            .unwrap();
        catalog.close().await;
        let again = Catalog::open(dir.path()).await.unwrap();
        let (value,): (String,) = sqlx::query_as("SELECT value FROM catalog_meta WHERE key = $1")
            .bind("installation")
            .fetch_one(again.pool())
            .await
            .unwrap();
        assert_eq!(value, "test");
        assert!(dir.path().join(DATABASE_FILE).exists());
    }

    #[tokio::test]
    async fn unusable_data_dir_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = Catalog::open(&file).await.unwrap_err();
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }
}
