//! Command-line pieces of the `cairn-sim` binary that belong to the data plane: the
//! corpus and throttling flags of `serve`, and the client side of `mutate`.

use std::path::{Path, PathBuf};

use crate::plane::DataPlaneOptions;
use crate::state::corpus::MailOptions;
use crate::throttle::ThrottleConfig;

/// Data-plane flags of `cairn-sim serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct DataPlaneArgs {
    /// Extra licensed users with mailboxes added to the first tenant (or --mailbox-tenant).
    #[arg(long, default_value_t = 0)]
    pub mailboxes: usize,
    /// Tenant (name) the --mailboxes users join.
    #[arg(long)]
    pub mailbox_tenant: Option<String>,
    /// Generated messages in every mailbox.
    #[arg(long, default_value_t = 30)]
    pub messages_per_mailbox: u64,
    /// Calendar events in every mailbox.
    #[arg(long, default_value_t = 6)]
    pub events_per_mailbox: u64,
    /// Contacts in every mailbox.
    #[arg(long, default_value_t = 5)]
    pub contacts_per_mailbox: u64,
    /// Messages in every in-place archive.
    #[arg(long, default_value_t = 10)]
    pub archive_messages: u64,
    /// Attachment mix: none, light or heavy.
    #[arg(long, default_value = "light")]
    pub attachments: String,
    /// Probability of a very large message (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub large_rate: f64,
    /// Seed of the generated content.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Request budget per app per mailbox, e.g. 600/60s (Exchange: 10000/10m). Off if absent.
    #[arg(long)]
    pub mailbox_budget: Option<String>,
    /// Requests in flight per app per mailbox (Exchange: 4). Off if absent.
    #[arg(long)]
    pub mailbox_concurrency: Option<u32>,
    /// Exchange's real limits (10000/10m, 4 in flight), unless the flags above say otherwise.
    #[arg(long)]
    pub exchange_limits: bool,
    /// Probability of a transient fault (500, 503 + Retry-After, 504, reset) per request.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Seed of the fault sequence.
    #[arg(long, default_value_t = 1)]
    pub fault_seed: u64,
    /// Added latency per mailbox request, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Random extra latency up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Extra latency per MB of answer, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms_per_mb: u64,
    /// Delta tokens older than this many seconds answer SyncStateNotFound.
    #[arg(long)]
    pub token_max_age: Option<u64>,
}

impl DataPlaneArgs {
    /// The options these flags say; an error names the bad flag.
    pub fn options(&self) -> Result<DataPlaneOptions, String> {
        let attachments = match self.attachments.as_str() {
            "none" => cairn_mailgen::AttachmentMix::None,
            "light" => cairn_mailgen::AttachmentMix::Light,
            "heavy" => cairn_mailgen::AttachmentMix::Heavy,
            other => {
                return Err(format!("--attachments {other}: say none, light or heavy"));
            }
        };
        if !(0.0..=1.0).contains(&self.large_rate) || !(0.0..=1.0).contains(&self.fault_rate) {
            return Err("--large-rate and --fault-rate are probabilities between 0 and 1".into());
        }
        let mut throttle = if self.exchange_limits {
            ThrottleConfig::exchange()
        } else {
            ThrottleConfig::default()
        };
        if let Some(b) = &self.mailbox_budget {
            let (n, secs) =
                ThrottleConfig::parse_budget(b).map_err(|e| format!("--mailbox-budget: {e}"))?;
            throttle.mailbox_budget = Some(n);
            throttle.budget_window_secs = secs;
        }
        if let Some(c) = self.mailbox_concurrency {
            throttle.mailbox_concurrency = Some(c.max(1));
        }
        throttle.fault_rate = self.fault_rate;
        throttle.fault_seed = self.fault_seed;
        throttle.latency_ms = self.latency_ms;
        throttle.jitter_ms = self.jitter_ms;
        throttle.latency_ms_per_mb = self.latency_ms_per_mb;
        Ok(DataPlaneOptions {
            mail: MailOptions {
                seed: self.seed,
                messages_per_mailbox: self.messages_per_mailbox,
                events_per_mailbox: self.events_per_mailbox,
                contacts_per_mailbox: self.contacts_per_mailbox,
                attachments,
                large_message_rate: self.large_rate,
                archive_messages: self.archive_messages,
                generated_users: self.mailboxes,
                generated_tenant: self.mailbox_tenant.clone(),
            },
            throttle,
            token_max_age_secs: self.token_max_age,
        })
    }
}

/// Why `cairn-sim mutate` failed.
#[derive(Debug, thiserror::Error)]
pub enum MutateError {
    /// A state file is missing.
    #[error("cannot read {path}: {source} (is a simulator running with --state-dir {dir}?)")]
    StateFile {
        /// File.
        path: PathBuf,
        /// Its directory.
        dir: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The request failed.
    #[error("the simulator at {endpoint} did not answer: {source}")]
    Request {
        /// Where.
        endpoint: String,
        /// Cause.
        source: reqwest::Error,
    },
    /// The simulator refused.
    #[error("the simulator refused ({status}): {body}")]
    Refused {
        /// Status.
        status: u16,
        /// Its answer.
        body: String,
    },
}

fn read(dir: &Path, name: &str) -> Result<String, MutateError> {
    let path = dir.join(name);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|source| MutateError::StateFile {
            path,
            dir: dir.display().to_string(),
            source,
        })
}

/// Sends one mutation (JSON text) to the simulator whose state directory is `dir`
/// (its `endpoint`, `ca.pem` and `admin-token`), or to `endpoint` when given.
pub async fn mutate(
    dir: &Path,
    endpoint: Option<&str>,
    body: &str,
) -> Result<serde_json::Value, MutateError> {
    let endpoint = match endpoint {
        Some(e) => e.to_string(),
        None => read(dir, "endpoint")?,
    };
    let token = read(dir, crate::admin::TOKEN_FILE)?;
    let ca = read(dir, "ca.pem")?;
    let port = endpoint.rsplit(':').next().unwrap_or("8443");
    let url = format!("https://localhost:{port}/_sim/mutate");
    let fail = |source| MutateError::Request {
        endpoint: endpoint.clone(),
        source,
    };
    let addr: std::net::SocketAddr = endpoint
        .parse()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 8443)));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).map_err(fail)?)
        .resolve("localhost", addr)
        .build()
        .map_err(fail)?;
    let r = client
        .post(&url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(fail)?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(fail)?;
    if status != 200 {
        return Err(MutateError::Refused { status, body: text });
    }
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}
