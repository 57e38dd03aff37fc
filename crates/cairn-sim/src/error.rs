//! Errors of the simulator library: scenario problems and start-up failures.

use std::path::PathBuf;

/// Why the simulator could not load its scenario or start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario file could not be read.
    #[error("cannot read scenario file {path}: {source}")]
    ReadScenario {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The scenario is not valid TOML or does not match the format.
    #[error("scenario is not valid: {0}; see docs/simulator.md for the format")]
    ParseScenario(#[from] toml::de::Error),
    /// The scenario is well-formed but inconsistent.
    #[error("scenario tenant '{tenant}': {problem}")]
    InvalidScenario {
        /// Tenant name.
        tenant: String,
        /// What is wrong and what to change.
        problem: String,
    },
    /// A file in the state directory could not be written or read.
    #[error("state directory file {path}: {source}")]
    StateFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Certificate or key generation failed.
    #[error("certificate generation failed for {what}: {detail}")]
    Certificate {
        /// Which certificate.
        what: String,
        /// The underlying error.
        detail: String,
    },
    /// TLS configuration failed.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}; choose another --listen address")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}
