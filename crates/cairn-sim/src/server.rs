//! The HTTPS front: one listening port, TLS with the simulator's certificate, HTTP/1.1 and
//! HTTP/2, and routing by Host header to the Entra ID, Microsoft Graph or Exchange Online
//! application of the cloud that host belongs to.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use http::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::cloud::{Service, Site};
use crate::entra::token::RefreshGrant;
use crate::jwt::TokenSigner;
use crate::state::SimState;

/// Everything the handlers share.
pub struct Sim {
    /// Live state of every tenant.
    pub state: RwLock<SimState>,
    /// Token signing key.
    pub signer: TokenSigner,
    /// Issued refresh tokens.
    pub refresh_tokens: Mutex<HashMap<String, RefreshGrant>>,
    /// State directory (generated files).
    pub state_dir: PathBuf,
    /// Data-plane settings and throttling (see `crate::plane`).
    pub plane: crate::plane::Plane,
}

/// Handle to the shared simulator.
pub type Shared = Arc<Sim>;

impl Sim {
    /// Read access to the state; a poisoned lock (a handler panicked) still yields the data.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, SimState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the state.
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, SimState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where a request arrived: the host it named and what that host serves.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Host header (or :authority) as sent, port included.
    pub host: String,
    /// What the host serves.
    pub site: Site,
}

impl Origin {
    /// `https://` + the host as sent: the base of every link the simulator generates.
    pub fn base(&self) -> String {
        format!("https://{}", self.host)
    }

    /// The primary cloud of the host.
    pub fn cloud(&self) -> crate::cloud::Cloud {
        self.site
            .clouds
            .first()
            .copied()
            .unwrap_or(crate::cloud::Cloud::Worldwide)
    }
}

/// The three applications.
#[derive(Clone)]
pub struct Apps {
    login: Router,
    graph: Router,
    exchange: Router,
    admin: Router,
}

impl Apps {
    /// Builds the routers over the shared state.
    pub fn new(sim: Shared) -> Apps {
        Apps {
            login: crate::entra::router().with_state(sim.clone()),
            graph: crate::graph::router(sim.clone()).with_state(sim.clone()),
            exchange: crate::exchange::router().with_state(sim.clone()),
            admin: crate::admin::router().with_state(sim),
        }
    }

    async fn route(self, mut req: Request<hyper::body::Incoming>) -> Response {
        let host = req
            .uri()
            .authority()
            .map(|a| a.as_str().to_string())
            .or_else(|| {
                req.headers()
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(String::from)
            })
            .unwrap_or_default();
        let bare = strip_port(&host);
        let Some(site) = Site::of_host(bare) else {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                format!("cairn-sim does not serve host '{bare}'"),
            )
                .into_response();
        };
        // The simulator's own mutation API: loopback host names only, never Microsoft's.
        if site.service.is_none() && req.uri().path().starts_with("/_sim/") {
            req.extensions_mut().insert(Origin { host, site });
            return match self.admin.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
        }
        let service = site.service.unwrap_or_else(|| {
            let path = req.uri().path();
            if path.starts_with("/v1.0") || path.starts_with("/beta") {
                Service::Graph
            } else if path.starts_with("/adminapi") {
                Service::Exchange
            } else {
                Service::Login
            }
        });
        if service == Service::Graph
            && let Some(uri) = alternate_key_uri(req.uri())
        {
            *req.uri_mut() = uri;
        }
        req.extensions_mut().insert(Origin { host, site });
        let router = match service {
            Service::Login => self.login,
            Service::Graph => self.graph,
            Service::Exchange => self.exchange,
        };
        // A handler bug must not silently drop the connection: answer 500 and say so.
        match std::panic::AssertUnwindSafe(router.oneshot(req))
            .catch_unwind()
            .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(never)) => match never {},
            Err(_) => {
                tracing::error!("a cairn-sim handler panicked; this is a simulator bug");
                json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &serde_json::json!({"error": {"code": "InternalServerError", "message": "cairn-sim failed on this request (a simulator bug); see its log."}}),
                )
            }
        }
    }
}

/// Graph's alternate keys (`/applications(appId='…')`) become a path segment of their own
/// (`/applications/(appId='…')`) so the router's `{id}` captures them.
fn alternate_key_uri(uri: &http::Uri) -> Option<http::Uri> {
    let path = uri.path();
    let mut changed = false;
    let segments: Vec<String> = path
        .split('/')
        .map(|seg| {
            for collection in ["applications", "servicePrincipals", "directoryRoles"] {
                if let Some(rest) = seg.strip_prefix(collection)
                    && rest.starts_with('(')
                {
                    changed = true;
                    return format!("{collection}/{}", rest.replace("%27", "'"));
                }
            }
            seg.to_string()
        })
        .collect();
    if !changed {
        return None;
    }
    let mut pq = segments.join("/");
    if let Some(q) = uri.query() {
        pq.push('?');
        pq.push_str(q);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = pq.parse().ok();
    http::Uri::from_parts(parts).ok()
}

/// Host without a `:port` suffix (IPv6 literals keep their brackets).
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

/// Accepts connections until `stop` changes.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    apps: Apps,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let mut connections = JoinSet::new();
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let apps = apps.clone();
        connections.spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!("TLS handshake with {peer} failed: {e}");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |req| {
                let apps = apps.clone();
                async move { Ok::<_, Infallible>(apps.route(req).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!("connection from {peer} ended: {e}");
            }
        });
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
}

/// A JSON response with a status.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::strip_port;

    #[test]
    fn ports_are_ignored_for_routing() {
        assert_eq!(
            strip_port("graph.microsoft.com:8443"),
            "graph.microsoft.com"
        );
        assert_eq!(strip_port("graph.microsoft.com"), "graph.microsoft.com");
        assert_eq!(strip_port("[::1]:443"), "[::1]");
        assert_eq!(strip_port("[::1"), "[::1");
    }
}
