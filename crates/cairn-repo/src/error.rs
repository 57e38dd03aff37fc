//! The crate's error type: every failure names the object it concerns and, where
//! there is one, what the operator can do about it.

use crate::backend::BackendError;

/// Errors of repository operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Backend(#[from] BackendError),

    #[error(
        "no repository at {location}: the file `config` is missing (create one with `cairn repo create`)"
    )]
    NotARepository { location: String },

    #[error("a repository already exists at {location}")]
    AlreadyExists { location: String },

    #[error(
        "repository format version {found} is not supported by this Cairn (it reads versions up to {supported}); upgrade Cairn"
    )]
    UnsupportedVersion { found: u32, supported: u32 },

    #[error("wrong password: no key slot of the repository opens with it")]
    WrongPassword,

    #[error("this repository is encrypted and needs a password")]
    PasswordRequired,

    #[error("{object} is damaged: {reason}")]
    Corrupt { object: String, reason: String },

    #[error("blob {blob} is not in any index (its pack may be missing); run `cairn repo check`")]
    BlobNotFound { blob: String },

    #[error(
        "the repository is locked by {holder}; wait for it to finish, or if it crashed, break the stale lock with `cairn repo unlock`"
    )]
    Locked { holder: String },

    #[error("invalid location `{location}`: {reason}")]
    InvalidLocation { location: String, reason: String },

    #[error("{what} not found in the repository")]
    NotFound { what: String },

    #[error("invalid argument: {0}")]
    Invalid(String),

    #[error("key derivation failed: {0}")]
    Kdf(String),

    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("content stream of item {item} failed: {source}")]
    Content {
        item: String,
        #[source]
        source: std::io::Error,
    },

    #[error("internal task failed: {0}")]
    Task(String),
}

impl Error {
    pub(crate) fn corrupt(object: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            object: object.into(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
