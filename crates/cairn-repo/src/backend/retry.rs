//! Retry wrapper: transient storage failures (timeouts, 5xx, throttling) are
//! retried with exponential back-off; permanent ones surface at once.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use super::{Backend, BackendError, BackendResult, ObjectInfo};

#[derive(Debug)]
pub struct Retry {
    inner: Arc<dyn Backend>,
    attempts: u32,
    first_delay: Duration,
}

impl Retry {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        Retry {
            inner,
            attempts: 5,
            first_delay: Duration::from_millis(200),
        }
    }

    async fn run<T, F>(&self, mut op: F) -> BackendResult<T>
    where
        F: FnMut() -> BoxFuture<'static, BackendResult<T>>,
    {
        let mut delay = self.first_delay;
        let mut attempt = 1;
        loop {
            match op().await {
                Err(err) if err.is_transient() && attempt < self.attempts => {
                    tracing::warn!(error = %err, attempt, "transient storage error, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl Backend for Retry {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>> {
        let prefix = prefix.to_string();
        Box::pin(self.run(move || {
            let (inner, prefix) = (self.inner.clone(), prefix.clone());
            Box::pin(async move { inner.list(&prefix).await })
        }))
    }
    fn incomplete<'a>(
        &'a self,
        prefix: &'a str,
        older_than: Duration,
    ) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>> {
        let prefix = prefix.to_string();
        Box::pin(self.run(move || {
            let (inner, prefix) = (self.inner.clone(), prefix.clone());
            Box::pin(async move { inner.incomplete(&prefix, older_than).await })
        }))
    }
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<Bytes>> {
        let name = name.to_string();
        Box::pin(self.run(move || {
            let (inner, name) = (self.inner.clone(), name.clone());
            Box::pin(async move { inner.get(&name).await })
        }))
    }
    fn get_range<'a>(
        &'a self,
        name: &'a str,
        range: Range<u64>,
    ) -> BoxFuture<'a, BackendResult<Bytes>> {
        let name = name.to_string();
        Box::pin(self.run(move || {
            let (inner, name, range) = (self.inner.clone(), name.clone(), range.clone());
            Box::pin(async move { inner.get_range(&name, range).await })
        }))
    }
    fn put<'a>(&'a self, name: &'a str, data: Bytes) -> BoxFuture<'a, BackendResult<()>> {
        let name = name.to_string();
        Box::pin(self.run(move || {
            let (inner, name, data) = (self.inner.clone(), name.clone(), data.clone());
            Box::pin(async move { inner.put(&name, data).await })
        }))
    }
    fn put_if_absent<'a>(
        &'a self,
        name: &'a str,
        data: Bytes,
    ) -> BoxFuture<'a, BackendResult<bool>> {
        // Not retried blindly: a lost response to a successful create would turn
        // into "already exists" on retry. Callers of put_if_absent handle that.
        self.inner.put_if_absent(name, data)
    }
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<()>> {
        let name = name.to_string();
        Box::pin(self.run(move || {
            let (inner, name) = (self.inner.clone(), name.clone());
            Box::pin(async move { inner.delete(&name).await })
        }))
    }
}

impl From<BackendError> for std::io::Error {
    fn from(err: BackendError) -> Self {
        std::io::Error::other(err)
    }
}
