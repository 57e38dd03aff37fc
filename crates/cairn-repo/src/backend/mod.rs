//! Storage backends: the six primitives the repository needs (list, get, get
//! range, put, put-if-absent, delete) over a flat namespace of `/`-separated
//! names, plus wrappers that add behaviour (retry, byte counting) to any backend.
//!
//! The repository never assumes more than these primitives, so every backend
//! passes one shared test suite (`tests/backend_suite.rs`).

mod local;
mod object;
mod retry;

use std::fmt::Debug;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

pub use local::LocalBackend;
pub use object::{AzureSettings, ObjectBackend, S3Settings, azure_backend, s3_backend};
pub use retry::Retry;

/// One object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Full name relative to the repository root, e.g. `data/ab/ab12…`.
    pub name: String,
    pub size: u64,
}

/// Failure of a backend primitive, naming the object.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{name} does not exist in the repository storage")]
    NotFound { name: String },
    #[error("{name}: storage error: {source}")]
    Storage {
        name: String,
        transient: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl BackendError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, BackendError::NotFound { .. })
    }
    fn is_transient(&self) -> bool {
        matches!(
            self,
            BackendError::Storage {
                transient: true,
                ..
            }
        )
    }
}

pub type BackendResult<T> = Result<T, BackendError>;

/// The storage primitives. Names are relative, `/`-separated, never start with `/`.
pub trait Backend: Send + Sync + Debug {
    /// Human-readable location, for messages (never contains secrets).
    fn describe(&self) -> String;
    /// Every object whose name starts with `prefix` (e.g. `index/`), recursively.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>>;
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<Bytes>>;
    fn get_range<'a>(
        &'a self,
        name: &'a str,
        range: Range<u64>,
    ) -> BoxFuture<'a, BackendResult<Bytes>>;
    /// Atomic write: readers see the old object or the whole new one, never a part.
    fn put<'a>(&'a self, name: &'a str, data: Bytes) -> BoxFuture<'a, BackendResult<()>>;
    /// Atomic create: returns `false` (and writes nothing) if `name` already exists.
    fn put_if_absent<'a>(
        &'a self,
        name: &'a str,
        data: Bytes,
    ) -> BoxFuture<'a, BackendResult<bool>>;
    /// Remove an object; removing a missing object is not an error.
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<()>>;
    /// Leftovers under `prefix`, at least `older_than` old, of writes a killed
    /// process never finished (the local backend's `.tmp-` files), which `list`
    /// hides and `delete` removes. Object stores write atomically and have none.
    fn incomplete<'a>(
        &'a self,
        prefix: &'a str,
        older_than: Duration,
    ) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>> {
        let _ = (prefix, older_than);
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Counts bytes and requests that go through a backend (used by `stats` of a
/// session and by tests that prove a rerun re-uses what was written).
#[derive(Debug)]
pub struct Metered {
    inner: Arc<dyn Backend>,
    pub bytes_written: AtomicU64,
    pub bytes_read: AtomicU64,
    pub puts: AtomicU64,
}

impl Metered {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        Metered {
            inner,
            bytes_written: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            puts: AtomicU64::new(0),
        }
    }
}

impl Backend for Metered {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>> {
        self.inner.list(prefix)
    }
    fn incomplete<'a>(
        &'a self,
        prefix: &'a str,
        older_than: Duration,
    ) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>> {
        self.inner.incomplete(prefix, older_than)
    }
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<Bytes>> {
        Box::pin(async move {
            let b = self.inner.get(name).await?;
            self.bytes_read.fetch_add(b.len() as u64, Ordering::Relaxed);
            Ok(b)
        })
    }
    fn get_range<'a>(
        &'a self,
        name: &'a str,
        range: Range<u64>,
    ) -> BoxFuture<'a, BackendResult<Bytes>> {
        Box::pin(async move {
            let b = self.inner.get_range(name, range).await?;
            self.bytes_read.fetch_add(b.len() as u64, Ordering::Relaxed);
            Ok(b)
        })
    }
    fn put<'a>(&'a self, name: &'a str, data: Bytes) -> BoxFuture<'a, BackendResult<()>> {
        self.bytes_written
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.inner.put(name, data)
    }
    fn put_if_absent<'a>(
        &'a self,
        name: &'a str,
        data: Bytes,
    ) -> BoxFuture<'a, BackendResult<bool>> {
        self.bytes_written
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.inner.put_if_absent(name, data)
    }
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<()>> {
        self.inner.delete(name)
    }
}
