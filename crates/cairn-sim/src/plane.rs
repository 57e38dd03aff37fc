//! Data-plane settings of a running simulator: how much mail the mailboxes hold, how
//! long delta tokens live, throttling and faults, and the token of the mutation API.
//! Chosen at start ([`DataPlaneOptions`]) and partly changeable at run time.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::state::corpus::MailOptions;
use crate::throttle::{Throttle, ThrottleConfig};

/// Data-plane options given at start.
#[derive(Debug, Clone, Default)]
pub struct DataPlaneOptions {
    /// Mail content (corpus size, generated users).
    pub mail: MailOptions,
    /// Throttling and faults (off by default).
    pub throttle: ThrottleConfig,
    /// Delta tokens older than this many seconds answer SyncStateNotFound; None = never.
    pub token_max_age_secs: Option<u64>,
}

/// Live data-plane settings.
pub struct Plane {
    /// Throttling, faults, counters.
    pub throttle: Throttle,
    /// 0 = tokens never expire by age.
    token_max_age: AtomicU64,
    /// Bearer token of the mutation API (also in `<state dir>/admin-token`).
    pub admin_token: String,
    /// What the mailboxes were filled with.
    pub mail: MailOptions,
}

impl Plane {
    /// From the start options.
    pub fn new(opts: &DataPlaneOptions, admin_token: String) -> Plane {
        Plane {
            throttle: Throttle::new(opts.throttle.clone()),
            token_max_age: AtomicU64::new(opts.token_max_age_secs.unwrap_or(0)),
            admin_token,
            mail: opts.mail.clone(),
        }
    }

    /// Maximum age of delta tokens, seconds.
    pub fn token_max_age(&self) -> Option<u64> {
        match self.token_max_age.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    /// Sets the maximum age of delta tokens (None = never expire by age).
    pub fn set_token_max_age(&self, secs: Option<u64>) {
        self.token_max_age
            .store(secs.unwrap_or(0), Ordering::Relaxed);
    }
}
