//! Cloud backends through `object_store`: S3-compatible storage and Azure Blob.
//! Both give atomic whole-object writes; put-if-absent maps to a conditional
//! write (`If-None-Match: *`, `PutMode::Create`).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::{Backend, BackendError, BackendResult, ObjectInfo};

/// A backend over any `object_store` store, under a prefix.
#[derive(Debug)]
pub struct ObjectBackend {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    description: String,
}

impl ObjectBackend {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, description: String) -> Self {
        let prefix = prefix.trim_matches('/').to_string();
        ObjectBackend {
            store,
            prefix,
            description,
        }
    }

    fn path(&self, name: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(name)
        } else {
            StorePath::from(format!("{}/{}", self.prefix, name))
        }
    }

    fn relative(&self, path: &StorePath) -> String {
        let s = path.as_ref();
        if self.prefix.is_empty() {
            s.to_string()
        } else {
            s.strip_prefix(&self.prefix)
                .unwrap_or(s)
                .trim_start_matches('/')
                .to_string()
        }
    }
}

fn map_err(name: &str, err: object_store::Error) -> BackendError {
    match err {
        object_store::Error::NotFound { .. } => BackendError::NotFound {
            name: name.to_string(),
        },
        other => {
            let transient = matches!(other, object_store::Error::Generic { .. });
            BackendError::Storage {
                name: name.to_string(),
                transient,
                source: Box::new(other),
            }
        }
    }
}

impl Backend for ObjectBackend {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>> {
        Box::pin(async move {
            // object_store lists by path segments; list the directory part, filter the rest.
            let dir = match prefix.rfind('/') {
                Some(i) => &prefix[..i],
                None => "",
            };
            let base = if dir.is_empty() {
                if self.prefix.is_empty() {
                    None
                } else {
                    Some(StorePath::from(self.prefix.as_str()))
                }
            } else {
                Some(self.path(dir))
            };
            let metas: Vec<_> = self
                .store
                .list(base.as_ref())
                .try_collect()
                .await
                .map_err(|e| map_err(prefix, e))?;
            let mut out: Vec<ObjectInfo> = metas
                .into_iter()
                .map(|m| ObjectInfo {
                    name: self.relative(&m.location),
                    size: m.size,
                })
                .filter(|o| o.name.starts_with(prefix))
                .collect();
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
    }

    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<Bytes>> {
        Box::pin(async move {
            let res = self
                .store
                .get(&self.path(name))
                .await
                .map_err(|e| map_err(name, e))?;
            res.bytes().await.map_err(|e| map_err(name, e))
        })
    }

    fn get_range<'a>(
        &'a self,
        name: &'a str,
        range: Range<u64>,
    ) -> BoxFuture<'a, BackendResult<Bytes>> {
        Box::pin(async move {
            let want = range.end - range.start;
            let b = self
                .store
                .get_range(&self.path(name), range)
                .await
                .map_err(|e| map_err(name, e))?;
            if b.len() as u64 != want {
                return Err(BackendError::Storage {
                    name: name.to_string(),
                    transient: false,
                    source: format!("short read: wanted {want} bytes, got {}", b.len()).into(),
                });
            }
            Ok(b)
        })
    }

    fn put<'a>(&'a self, name: &'a str, data: Bytes) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            self.store
                .put(&self.path(name), PutPayload::from(data))
                .await
                .map_err(|e| map_err(name, e))?;
            Ok(())
        })
    }

    fn put_if_absent<'a>(
        &'a self,
        name: &'a str,
        data: Bytes,
    ) -> BoxFuture<'a, BackendResult<bool>> {
        Box::pin(async move {
            let opts = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            match self
                .store
                .put_opts(&self.path(name), PutPayload::from(data), opts)
                .await
            {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => Ok(false),
                Err(e) => Err(map_err(name, e)),
            }
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            match self.store.delete(&self.path(name)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(map_err(name, e)),
            }
        })
    }
}

/// Settings of an S3-compatible location.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub bucket: String,
    pub prefix: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: bool,
    pub allow_http: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// Build an S3 backend.
pub fn s3_backend(s: &S3Settings) -> Result<ObjectBackend, object_store::Error> {
    let mut b = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&s.bucket)
        .with_region(s.region.clone().unwrap_or_else(|| "us-east-1".into()))
        .with_virtual_hosted_style_request(!s.path_style)
        .with_allow_http(s.allow_http);
    if let Some(ep) = &s.endpoint {
        b = b.with_endpoint(ep);
    }
    if let Some(k) = &s.access_key_id {
        b = b.with_access_key_id(k);
    }
    if let Some(k) = &s.secret_access_key {
        b = b.with_secret_access_key(k);
    }
    let store = b.build()?;
    let desc = format!("s3://{}/{}", s.bucket, s.prefix.trim_matches('/'));
    Ok(ObjectBackend::new(Arc::new(store), &s.prefix, desc))
}

/// Settings of an Azure Blob location.
#[derive(Debug, Clone, Default)]
pub struct AzureSettings {
    pub container: String,
    pub prefix: String,
    pub account: String,
    pub access_key: Option<String>,
    /// Custom endpoint (Azurite: `http://127.0.0.1:10000/devstoreaccount1`).
    pub endpoint: Option<String>,
}

/// Build an Azure Blob backend.
pub fn azure_backend(s: &AzureSettings) -> Result<ObjectBackend, object_store::Error> {
    let mut b = object_store::azure::MicrosoftAzureBuilder::new()
        .with_account(&s.account)
        .with_container_name(&s.container);
    if let Some(k) = &s.access_key {
        b = b.with_access_key(k);
    }
    if let Some(ep) = &s.endpoint {
        b = b
            .with_endpoint(ep.clone())
            .with_allow_http(ep.starts_with("http://"));
    }
    let store = b.build()?;
    let desc = format!("az://{}/{}", s.container, s.prefix.trim_matches('/'));
    Ok(ObjectBackend::new(Arc::new(store), &s.prefix, desc))
}
