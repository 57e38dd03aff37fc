//! Locks (`locks/<id>`): writers hold shared locks, prune holds an exclusive one.
//! A lock is created with put-if-absent, then all locks are listed; on conflict
//! the new lock is removed again, so two racing lockers both back off rather than
//! both proceed. Holders refresh their lock every few minutes; a lock not
//! refreshed for `STALE_AFTER`, or whose process is gone on this host, is stale
//! and may be broken.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::format::{Codec, LOCKS_DIR, now_rfc3339};

pub const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    Shared,
    Exclusive,
}

/// Lock file contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    pub kind: LockKind,
    pub host: String,
    pub pid: u32,
    pub purpose: String,
    pub created: String,
    pub refreshed: String,
}

impl LockInfo {
    pub fn describe(&self) -> String {
        format!(
            "{:?} lock for {} by pid {} on {} (refreshed {})",
            self.kind, self.purpose, self.pid, self.host, self.refreshed
        )
    }

    /// Stale: not refreshed for `STALE_AFTER`, or its process is gone on this host.
    pub fn is_stale(&self) -> bool {
        let refreshed = time::OffsetDateTime::parse(
            &self.refreshed,
            &time::format_description::well_known::Rfc3339,
        );
        let old = match refreshed {
            Ok(t) => (time::OffsetDateTime::now_utc() - t) > STALE_AFTER,
            Err(_) => true,
        };
        old || (self.host == hostname() && !process_alive(self.pid))
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

fn process_alive(pid: u32) -> bool {
    // Linux: /proc/<pid> exists while the process exists (zombies included).
    // Elsewhere we cannot tell, so only the age makes a lock stale.
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// A held lock; refreshed in the background until released.
#[derive(Debug)]
pub struct LockGuard {
    backend: Arc<dyn Backend>,
    name: String,
    refresher: tokio::task::JoinHandle<()>,
}

impl LockGuard {
    pub async fn release(self) -> Result<()> {
        self.refresher.abort();
        self.backend.delete(&self.name).await?;
        Ok(())
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.refresher.abort();
        // Best effort if not released explicitly; a leftover lock becomes stale.
        let (backend, name) = (self.backend.clone(), self.name.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = backend.delete(&name).await;
            });
        }
    }
}

/// All locks with their contents; unreadable ones are reported as `Err`.
pub async fn list_locks(
    backend: &Arc<dyn Backend>,
    codec: &Codec,
) -> Result<Vec<(String, Result<LockInfo>)>> {
    let mut out = Vec::new();
    for obj in backend.list(LOCKS_DIR).await? {
        let info = match backend.get(&obj.name).await {
            Ok(data) => codec.decode_file::<LockInfo>(&data, &obj.name),
            Err(e) if e.is_not_found() => continue, // released meanwhile
            Err(e) => Err(e.into()),
        };
        out.push((obj.name, info));
    }
    Ok(out)
}

pub async fn acquire(
    backend: Arc<dyn Backend>,
    codec: &Codec,
    kind: LockKind,
    purpose: &str,
) -> Result<LockGuard> {
    let now = now_rfc3339();
    let info = LockInfo {
        kind,
        host: hostname(),
        pid: std::process::id(),
        purpose: purpose.to_string(),
        created: now.clone(),
        refreshed: now,
    };
    let name = format!("{LOCKS_DIR}{}", uuid::Uuid::new_v4().simple());
    let data = Bytes::from(codec.encode_file(&info)?);
    backend.put_if_absent(&name, data).await?;
    for (other, res) in list_locks(&backend, codec).await? {
        if other == name {
            continue;
        }
        let conflict = match &res {
            Ok(o) => {
                !o.is_stale() && (kind == LockKind::Exclusive || o.kind == LockKind::Exclusive)
            }
            // An unreadable lock could be anything: treat it as exclusive.
            Err(_) => true,
        };
        if conflict {
            backend.delete(&name).await?;
            let holder = match res {
                Ok(o) => format!("{} ({other})", o.describe()),
                Err(e) => format!("an unreadable lock {other} ({e})"),
            };
            return Err(Error::Locked { holder });
        }
    }
    let refresher = {
        let (backend, codec, name, mut info) = (backend.clone(), codec.clone(), name.clone(), info);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH_EVERY).await;
                info.refreshed = now_rfc3339();
                match codec.encode_file(&info) {
                    Ok(d) => {
                        if let Err(e) = backend.put(&name, Bytes::from(d)).await {
                            tracing::warn!(error = %e, "could not refresh the repository lock");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not encode the repository lock"),
                }
            }
        })
    };
    Ok(LockGuard {
        backend,
        name,
        refresher,
    })
}

/// Remove stale locks (or all locks with `all`); returns what was removed.
pub async fn break_locks(
    backend: &Arc<dyn Backend>,
    codec: &Codec,
    all: bool,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for (name, res) in list_locks(backend, codec).await? {
        let remove = all || res.as_ref().map(|i| i.is_stale()).unwrap_or(false);
        if remove {
            backend.delete(&name).await?;
            removed.push(match res {
                Ok(i) => format!("{name}: {}", i.describe()),
                Err(e) => format!("{name}: unreadable ({e})"),
            });
        }
    }
    Ok(removed)
}
