//! How Cairn reaches Microsoft. Production uses the system's name resolution and the
//! public web PKI roots. For the tenant simulator (or a test lab) exactly two things can
//! be overridden, never the URLs: every Microsoft host name can resolve to one socket
//! address, and one extra certificate authority can be trusted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::region::Region;

/// Environment variable: `HOST:PORT` every Microsoft host name resolves to.
pub const ENV_CONNECT: &str = "CAIRN_M365_CONNECT";
/// Environment variable: path of an extra trusted CA certificate (PEM).
pub const ENV_CA_FILE: &str = "CAIRN_M365_CA_FILE";

/// A network setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The connect override is not `IP:PORT`.
    #[error("{ENV_CONNECT}={given:?} is not an address: use IP:PORT, e.g. 127.0.0.1:8443")]
    BadConnect {
        /// What was given.
        given: String,
    },
    /// The CA file could not be read.
    #[error("cannot read the CA certificate {path}: {source}")]
    ReadCa {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error(
        "the CA file {what} holds no PEM certificate: give a file with a BEGIN CERTIFICATE block"
    )]
    BadCa {
        /// The file or a description of the source.
        what: String,
    },
    /// The TLS configuration or HTTP client could not be built.
    #[error("cannot set up HTTPS: {0}")]
    Tls(String),
}

/// How to reach Microsoft's services.
#[derive(Debug, Clone, Default)]
pub struct Network {
    connect: Option<SocketAddr>,
    extra_ca_pem: Option<Vec<u8>>,
}

impl Network {
    /// Production: system DNS and public roots.
    pub fn production() -> Self {
        Self::default()
    }

    /// Every Microsoft host name resolves to `addr`; the port of `addr` is used
    /// when the URL names none.
    pub fn with_connect(mut self, addr: SocketAddr) -> Self {
        self.connect = Some(addr);
        self
    }

    /// Trust one more certificate authority (PEM, one or more certificates).
    pub fn with_extra_ca_pem(mut self, pem: Vec<u8>) -> Self {
        self.extra_ca_pem = Some(pem);
        self
    }

    /// The address every Microsoft host resolves to, if overridden.
    pub fn connect(&self) -> Option<SocketAddr> {
        self.connect
    }

    /// Reads [`ENV_CONNECT`] and [`ENV_CA_FILE`]; unset or empty means production.
    pub fn from_env() -> Result<Self, NetworkError> {
        let mut network = Self::production();
        if let Some(value) = std::env::var_os(ENV_CONNECT).filter(|v| !v.is_empty()) {
            let text = value.to_string_lossy().into_owned();
            let addr = text
                .parse::<SocketAddr>()
                .map_err(|_| NetworkError::BadConnect {
                    given: text.clone(),
                })?;
            network = network.with_connect(addr);
        }
        if let Some(path) = std::env::var_os(ENV_CA_FILE).filter(|v| !v.is_empty()) {
            network = network.with_extra_ca_file(Path::new(&path))?;
        }
        Ok(network)
    }

    /// Trust the CA certificate(s) in a PEM file.
    pub fn with_extra_ca_file(self, path: &Path) -> Result<Self, NetworkError> {
        let pem = std::fs::read(path).map_err(|source| NetworkError::ReadCa {
            path: path.to_owned(),
            source,
        })?;
        Ok(self.with_extra_ca_pem(pem))
    }

    /// The HTTP client every Microsoft call goes through.
    pub fn http_client(&self) -> Result<reqwest::Client, NetworkError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(pem) = &self.extra_ca_pem {
            let mut added = 0;
            for block in pem::parse_many(pem).map_err(|_| NetworkError::BadCa {
                what: "given".into(),
            })? {
                if block.tag() != "CERTIFICATE" {
                    continue;
                }
                let der = rustls_pki_types::CertificateDer::from(block.contents().to_vec());
                roots
                    .add(der)
                    .map_err(|e| NetworkError::Tls(format!("extra CA rejected: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(NetworkError::BadCa {
                    what: "given".into(),
                });
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| NetworkError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(concat!("ISV|Cairn|Cairn/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(300))
            // Graph hands out pre-authenticated download URLs by redirect; follow them,
            // but never more than a few.
            .redirect(reqwest::redirect::Policy::limited(5));
        if let Some(addr) = self.connect {
            builder = builder.dns_resolver(Arc::new(MicrosoftHostsTo { addr }));
        }
        builder
            .build()
            .map_err(|e| NetworkError::Tls(e.to_string()))
    }
}

/// Whether `host` belongs to one of Microsoft's clouds (sign-in, Graph, Exchange,
/// SharePoint of any tenant).
pub fn is_microsoft_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    Region::ALL.iter().any(|region| {
        region.hosts().iter().any(|h| host == *h)
            || host.ends_with(&format!(".{}", region.sharepoint_suffix()))
    }) || host == "login.partner.microsoftonline.cn"
}

/// Resolves Microsoft's host names to one address; other names go to the system.
struct MicrosoftHostsTo {
    addr: SocketAddr,
}

impl Resolve for MicrosoftHostsTo {
    fn resolve(&self, name: Name) -> Resolving {
        if is_microsoft_host(name.as_str()) {
            let addrs: Addrs = Box::new(std::iter::once(self.addr));
            return Box::pin(std::future::ready(Ok(addrs)));
        }
        let host = format!("{}:0", name.as_str());
        Box::pin(async move {
            let addrs = tokio::net::lookup_host(host).await?;
            let addrs: Addrs = Box::new(addrs.collect::<Vec<_>>().into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_hosts_are_recognised() {
        assert!(is_microsoft_host("login.microsoftonline.com"));
        assert!(is_microsoft_host("contoso-my.sharepoint.com"));
        assert!(is_microsoft_host("dod-graph.microsoft.us"));
        assert!(!is_microsoft_host("example.com"));
        assert!(!is_microsoft_host("evilsharepoint.com"));
    }

    #[test]
    fn bad_ca_is_rejected_with_a_clear_error() {
        let network = Network::production().with_extra_ca_pem(b"not a pem".to_vec());
        let err = network.http_client().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("PEM")));
    }
}
