//! Where a repository lives: a URL (`file:///…` or a path, `s3://bucket/prefix?…`,
//! `az://container/prefix?…`) plus credentials kept apart from it, so the URL
//! can be shown and stored in plain text while secrets are sealed.

use std::path::PathBuf;
use std::sync::Arc;

use crate::backend::{
    AzureSettings, Backend, LocalBackend, Retry, S3Settings, azure_backend, s3_backend,
};
use crate::error::{Error, Result};

/// A parsed repository location (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        region: Option<String>,
        path_style: bool,
        allow_http: bool,
    },
    Azure {
        container: String,
        prefix: String,
        account: Option<String>,
        endpoint: Option<String>,
    },
}

/// Secrets for cloud locations.
#[derive(Clone, Default)]
pub struct Credentials {
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    pub azure_account_name: Option<String>,
    pub azure_account_key: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("Credentials")
            .field("aws_access_key_id", &self.aws_access_key_id)
            .field(
                "aws_secret_access_key",
                &self.aws_secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("azure_account_name", &self.azure_account_name)
            .field(
                "azure_account_key",
                &self.azure_account_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_ACCOUNT_NAME /
    /// AZURE_STORAGE_ACCOUNT_KEY.
    pub fn from_env() -> Credentials {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Credentials {
            aws_access_key_id: var("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            azure_account_name: var("AZURE_STORAGE_ACCOUNT_NAME"),
            azure_account_key: var("AZURE_STORAGE_ACCOUNT_KEY"),
        }
    }

    /// Fill the fields missing here from `other`.
    pub fn or(self, other: Credentials) -> Credentials {
        Credentials {
            aws_access_key_id: self.aws_access_key_id.or(other.aws_access_key_id),
            aws_secret_access_key: self.aws_secret_access_key.or(other.aws_secret_access_key),
            azure_account_name: self.azure_account_name.or(other.azure_account_name),
            azure_account_key: self.azure_account_key.or(other.azure_account_key),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.aws_access_key_id.is_none()
            && self.aws_secret_access_key.is_none()
            && self.azure_account_name.is_none()
            && self.azure_account_key.is_none()
    }
}

fn invalid(location: &str, reason: impl Into<String>) -> Error {
    Error::InvalidLocation {
        location: location.to_string(),
        reason: reason.into(),
    }
}

fn truthy(v: &str) -> bool {
    matches!(v, "1" | "true" | "yes" | "on")
}

impl Location {
    pub fn parse(s: &str) -> Result<Location> {
        if !s.contains("://") {
            if s.is_empty() {
                return Err(invalid(s, "empty"));
            }
            return Ok(Location::Local(PathBuf::from(s)));
        }
        let url = url::Url::parse(s).map_err(|e| invalid(s, e.to_string()))?;
        let prefix = url.path().trim_matches('/').to_string();
        let mut q = std::collections::HashMap::new();
        for (k, v) in url.query_pairs() {
            q.insert(k.to_string(), v.to_string());
        }
        let known = |allowed: &[&str]| -> Result<()> {
            for k in q.keys() {
                if !allowed.contains(&k.as_str()) {
                    return Err(invalid(
                        s,
                        format!("unknown parameter `{k}` (known: {})", allowed.join(", ")),
                    ));
                }
            }
            Ok(())
        };
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|_| invalid(s, "not a local path"))?;
                Ok(Location::Local(path))
            }
            "s3" => {
                known(&["endpoint", "region", "path_style", "allow_http"])?;
                let bucket = url
                    .host_str()
                    .ok_or_else(|| invalid(s, "missing bucket: s3://BUCKET/prefix"))?;
                Ok(Location::S3 {
                    bucket: bucket.to_string(),
                    prefix,
                    endpoint: q.get("endpoint").cloned(),
                    region: q.get("region").cloned(),
                    path_style: q.get("path_style").is_some_and(|v| truthy(v)),
                    allow_http: q.get("allow_http").is_some_and(|v| truthy(v)),
                })
            }
            "az" | "azure" => {
                known(&["account", "endpoint"])?;
                let container = url
                    .host_str()
                    .ok_or_else(|| invalid(s, "missing container: az://CONTAINER/prefix"))?;
                Ok(Location::Azure {
                    container: container.to_string(),
                    prefix,
                    account: q.get("account").cloned(),
                    endpoint: q.get("endpoint").cloned(),
                })
            }
            other => Err(invalid(
                s,
                format!("unknown scheme `{other}` (use file, s3 or az)"),
            )),
        }
    }

    /// Canonical URL form.
    pub fn to_url(&self) -> String {
        match self {
            Location::Local(p) => match url::Url::from_file_path(p) {
                Ok(u) => u.to_string(),
                Err(()) => p.display().to_string(),
            },
            Location::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                path_style,
                allow_http,
            } => {
                let mut u = format!("s3://{bucket}/{prefix}");
                let mut params = url::form_urlencoded::Serializer::new(String::new());
                if let Some(e) = endpoint {
                    params.append_pair("endpoint", e);
                }
                if let Some(r) = region {
                    params.append_pair("region", r);
                }
                if *path_style {
                    params.append_pair("path_style", "true");
                }
                if *allow_http {
                    params.append_pair("allow_http", "true");
                }
                let p = params.finish();
                if !p.is_empty() {
                    u = format!("{u}?{p}");
                }
                u
            }
            Location::Azure {
                container,
                prefix,
                account,
                endpoint,
            } => {
                let mut u = format!("az://{container}/{prefix}");
                let mut params = url::form_urlencoded::Serializer::new(String::new());
                if let Some(a) = account {
                    params.append_pair("account", a);
                }
                if let Some(e) = endpoint {
                    params.append_pair("endpoint", e);
                }
                let p = params.finish();
                if !p.is_empty() {
                    u = format!("{u}?{p}");
                }
                u
            }
        }
    }

    /// The storage backend for this location, with retries.
    pub fn backend(&self, creds: &Credentials) -> Result<Arc<dyn Backend>> {
        let url = self.to_url();
        let inner: Arc<dyn Backend> = match self {
            Location::Local(p) => {
                if !p.is_absolute() {
                    return Err(invalid(&url, "a local path must be absolute"));
                }
                Arc::new(LocalBackend::new(p.clone()))
            }
            Location::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                path_style,
                allow_http,
            } => {
                let s = S3Settings {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    endpoint: endpoint.clone(),
                    region: region.clone(),
                    path_style: *path_style,
                    allow_http: *allow_http,
                    access_key_id: creds.aws_access_key_id.clone(),
                    secret_access_key: creds.aws_secret_access_key.clone(),
                };
                Arc::new(s3_backend(&s).map_err(|e| invalid(&url, e.to_string()))?)
            }
            Location::Azure {
                container,
                prefix,
                account,
                endpoint,
            } => {
                let account = account
                    .clone()
                    .or_else(|| creds.azure_account_name.clone())
                    .ok_or_else(|| invalid(&url, "no storage account: add ?account=NAME or set AZURE_STORAGE_ACCOUNT_NAME"))?;
                let s = AzureSettings {
                    container: container.clone(),
                    prefix: prefix.clone(),
                    account,
                    access_key: creds.azure_account_key.clone(),
                    endpoint: endpoint.clone(),
                };
                Arc::new(azure_backend(&s).map_err(|e| invalid(&url, e.to_string()))?)
            }
        };
        Ok(Arc::new(Retry::new(inner)))
    }
}
