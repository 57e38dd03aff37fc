//! Errors of this crate. Generation itself is infallible (all inputs are validated into
//! sane ranges); only import touches the outside world and can fail.

use std::path::PathBuf;

/// Everything that can go wrong while importing real mail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file or directory failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An entry exists but is not a usable message (empty, not MIME at all, …).
    #[error("{path} at byte offset {offset}: {reason}")]
    BadEntry {
        /// The file holding the entry.
        path: PathBuf,
        /// Byte offset of the entry inside that file (0 for a single .eml file).
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// An mbox file does not start with a "From " separator line.
    #[error("{path} is not an mbox file: the first line is not a \"From \" separator")]
    NotMbox {
        /// The offending file.
        path: PathBuf,
    },
}

/// Result alias used by the import functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;
