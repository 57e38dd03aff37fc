//! Errors of the catalog.
//!
//! Policy: every error names what it concerns (the data directory, the table, the
//! organization) and, where the user can act, what to do. Database errors keep their
//! source for the log; the message says which operation failed.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the catalog at {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot upgrade the catalog schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("catalog query failed while {doing}: {source}")]
    Query {
        doing: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("{kind} {name:?} already exists")]
    AlreadyExists { kind: &'static str, name: String },
    #[error("{kind} {name:?} not found")]
    NotFound { kind: &'static str, name: String },
    #[error("catalog data is damaged ({what}): {detail}")]
    Corrupt { what: String, detail: String },
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}

impl CatalogError {
    /// Wrap a database error with what the catalog was doing.
    pub fn query(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { doing, source }
    }
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
