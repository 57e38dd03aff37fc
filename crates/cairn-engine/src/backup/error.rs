//! Why a backup session could not run, or why one object failed.

use cairn_catalog::CatalogError;

/// A failure of the session or of one object.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The plan or stored configuration cannot be used: the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The network settings are unusable.
    #[error(transparent)]
    Network(#[from] cairn_m365::NetworkError),
    /// Microsoft 365 refused or failed (after retries, for temporary failures).
    #[error(transparent)]
    Microsoft(#[from] cairn_m365::Error),
    /// The repository failed.
    #[error("repository: {0}")]
    Repository(#[from] cairn_repo::Error),
    /// The session was stopped.
    #[error("stopped")]
    Stopped,
}
