//! cairn-sim: a local stand-in for Microsoft 365 (Entra ID, Microsoft Graph, Exchange
//! Online admin API) answering on the real host names of every cloud over HTTPS, so that
//! Cairn's tests, `cairn demo` and Microsoft's own SDKs run against it unchanged except
//! for name resolution and the trust root. See docs/simulator.md.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod cloud;
pub mod entra;
mod error;
pub mod exchange;
pub mod graph;
pub mod jwt;
pub mod pki;
pub mod plane;
pub mod scenario;
pub mod server;
pub mod state;
pub mod throttle;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use cloud::Cloud;
pub use error::SimError;
pub use plane::DataPlaneOptions;
pub use scenario::Scenario;
pub use state::TenantState;
pub use state::corpus::MailOptions;
pub use throttle::{MailboxCounters, ThrottleConfig};

/// Where the simulator listens and keeps its generated files.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Listening address (default 127.0.0.1:0 = any free port).
    pub listen: SocketAddr,
    /// State directory: `ca.pem`, generated app credentials, `endpoint`.
    pub state_dir: PathBuf,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: std::env::temp_dir().join("cairn-sim"),
        }
    }
}

/// Entry point.
pub struct Simulator;

/// A running simulator.
pub struct SimHandle {
    addr: SocketAddr,
    ca_pem: String,
    ca_path: PathBuf,
    credentials: HashMap<(Uuid, Uuid), String>,
    sim: server::Shared,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Simulator {
    /// Builds the tenants, certificates and keys, binds the port and starts serving, with
    /// the default data plane (a small mail corpus per mailbox, no throttling).
    pub async fn start(scenario: Scenario, opts: SimOptions) -> Result<SimHandle, SimError> {
        Simulator::start_with(scenario, opts, DataPlaneOptions::default()).await
    }

    /// [`Simulator::start`] with data-plane options (corpus size, generated users,
    /// throttling and faults, delta token lifetime).
    pub async fn start_with(
        mut scenario: Scenario,
        opts: SimOptions,
        plane: DataPlaneOptions,
    ) -> Result<SimHandle, SimError> {
        state::corpus::add_generated_users(&mut scenario, &plane.mail);
        let dir = &opts.state_dir;
        std::fs::create_dir_all(dir).map_err(|source| SimError::StateFile {
            path: dir.clone(),
            source,
        })?;
        let ca = pki::Authority::load_or_create(dir)?;
        let tls = ca.server_config(&cloud::Cloud::all_hosts())?;
        let signing = pki::RsaCredential::load_or_generate(
            &dir.join("token-signing.pem"),
            "Cairn simulator token signing",
            true,
        )?;
        let signer = jwt::TokenSigner::new(&signing)?;
        let mut tenants = Vec::new();
        let mut credentials = HashMap::new();
        for spec in &scenario.tenants {
            let (mut t, creds) = state::build_tenant(spec, dir)?;
            state::corpus::populate(&mut t, &plane.mail);
            for (app_id, cred) in creds {
                credentials.insert((t.id, app_id), cred.pem);
            }
            tenants.push(t);
        }
        let sim = Arc::new(server::Sim {
            state: RwLock::new(state::SimState { tenants }),
            signer,
            refresh_tokens: Mutex::new(HashMap::new()),
            state_dir: dir.clone(),
            plane: plane::Plane::new(&plane, admin::load_or_create_token(dir)?),
        });
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: opts.listen,
            source,
        })?;
        let endpoint_path = dir.join("endpoint");
        std::fs::write(&endpoint_path, format!("{addr}\n")).map_err(|source| {
            SimError::StateFile {
                path: endpoint_path,
                source,
            }
        })?;
        let (stop, stop_rx) = watch::channel(false);
        let apps = server::Apps::new(sim.clone());
        let task = tokio::spawn(server::serve(listener, tls, apps, stop_rx));
        Ok(SimHandle {
            addr,
            ca_pem: ca.pem,
            ca_path: ca.path,
            credentials,
            sim,
            stop,
            task,
        })
    }
}

impl SimHandle {
    /// The bound address (clients resolve every Microsoft host name to it).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// CA certificate PEM to trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// `<state_dir>/ca.pem`.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// Certificate + PKCS#8 key PEM of a pre-registered app (tenant by name, id or domain).
    pub fn app_credential_pem(&self, tenant: &str, app_id: &str) -> Option<String> {
        let t = self.sim.read().tenant(tenant)?.id;
        let app = Uuid::parse_str(app_id).ok()?;
        self.credentials.get(&(t, app)).cloned()
    }

    /// A snapshot of a tenant's state (by name, id or domain), for assertions.
    pub fn tenant_state(&self, tenant: &str) -> Option<TenantState> {
        self.sim.read().tenant(tenant).cloned()
    }

    /// Stops listening and drops open connections.
    pub async fn shutdown(self) {
        // The receiver lives in the server task; if it already ended there is nothing to stop.
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
