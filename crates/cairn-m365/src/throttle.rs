//! Throttling-aware request scheduling for the Outlook data plane (mail, calendar,
//! contacts), shaped after Exchange Online's limits: at most 4 concurrent requests per
//! app per mailbox, a request budget per app per mailbox (10,000 per 10 minutes), and
//! 429/503 answers carrying `Retry-After`.
//!
//! A [`Throttle`] is shared by everything one backup session sends to one organization:
//! - a per-mailbox gate: a semaphore of `requests_per_mailbox` (≤ 4) permits, and a
//!   pace ([`pace`]) that spends the mailbox's request budget evenly, a small margin
//!   below it (the budget configured, or learned from the first refusal), adaptive only
//!   when nothing is known of the budget;
//! - a shared organization budget: a semaphore bounding all requests in flight;
//! - `Retry-After` honoured exactly and never shortened: the whole mailbox waits, not
//!   just the request that was refused; without it, exponential backoff with jitter;
//! - counters: requests, throttled answers, time spent waiting.
//!
//! A throttled or transient failure is retried here; callers only see it once the
//! retries are used up, as a temporary [`Error`] (never as a missing item).

mod pace;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::{Error, Result};
pub use pace::MailboxBudget;
use pace::{Pace, Refusal};

/// Exchange Online's concurrency limit per app per mailbox.
pub const EXCHANGE_MAX_CONCURRENCY: usize = 4;

/// How the throttle behaves.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Requests in flight per mailbox (capped at [`EXCHANGE_MAX_CONCURRENCY`]).
    pub requests_per_mailbox: usize,
    /// Requests in flight for the whole organization.
    pub organization_requests: usize,
    /// Attempts of one request before a temporary failure is given up.
    pub max_attempts: usize,
    /// The request budget per mailbox the pace plans with; `None`: nothing is known,
    /// the pace only adapts to refusals.
    pub budget: Option<MailboxBudget>,
    /// Lowest pace per mailbox the adaptive rate goes down to (requests per second).
    pub min_rate: f64,
    /// Above this pace per mailbox the adaptive rate is lifted entirely.
    pub max_rate: f64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            requests_per_mailbox: EXCHANGE_MAX_CONCURRENCY,
            organization_requests: 64,
            max_attempts: 10,
            budget: Some(MailboxBudget::EXCHANGE),
            min_rate: 0.5,
            max_rate: 200.0,
        }
    }
}

/// Counters of a throttle (totals since it was made).
#[derive(Debug, Default)]
pub struct ThrottleStats {
    /// Requests sent (every attempt).
    pub requests: AtomicU64,
    /// Answers 429 or 503.
    pub throttled: AtomicU64,
    /// Other temporary failures retried (5xx, transport).
    pub transient: AtomicU64,
    /// Nanoseconds spent waiting because Microsoft asked (Retry-After, backoff, pace).
    pub waited_nanos: AtomicU64,
}

impl ThrottleStats {
    /// Time spent waiting on Microsoft's throttling.
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited_nanos.load(Ordering::Relaxed))
    }

    fn add_wait(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.waited_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Told when Microsoft throttles: which mailbox, how long it asked to wait.
pub type ThrottleObserver = Arc<dyn Fn(&str, Duration) + Send + Sync>;

/// Gate of one mailbox: its concurrency permits and its pace.
#[derive(Debug)]
struct MailboxGate {
    permits: Arc<Semaphore>,
    pace: Mutex<Pace>,
}

/// The gates of the mailboxes, and when idle ones are next swept out (so a session
/// over many mailboxes keeps only those it is working on).
struct Gates {
    map: HashMap<String, Arc<MailboxGate>>,
    sweep_at: usize,
}

/// Fewest gates before idle ones are swept.
const SWEEP_MIN: usize = 64;

/// The throttle of one organization; clone the `Arc` into every task.
pub struct Throttle {
    config: ThrottleConfig,
    organization: Arc<Semaphore>,
    gates: Mutex<Gates>,
    stats: ThrottleStats,
    observer: Option<ThrottleObserver>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish()
    }
}

/// Permission to have one request in flight for a mailbox; hold it while the answer's
/// body is read.
#[derive(Debug)]
pub struct RequestPermit {
    _mailbox: OwnedSemaphorePermit,
    _organization: OwnedSemaphorePermit,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these short critical sections leaves plain numbers behind,
    // still usable: recover the guard.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a refusal says about the budget: a 429 with Retry-After means the budget is
/// spent; one without (too many in flight: `ApplicationThrottled` MailboxConcurrency)
/// and 503s do not.
fn refusal(status: u16, message: &str, retry_after: Option<Duration>) -> Refusal {
    match retry_after {
        Some(wait) if status == 429 && !message.contains("MailboxConcurrency") => {
            Refusal::Budget(wait)
        }
        _ => Refusal::Other(retry_after),
    }
}

impl Throttle {
    /// A throttle with `config`.
    pub fn new(config: ThrottleConfig) -> Self {
        let config = ThrottleConfig {
            requests_per_mailbox: config
                .requests_per_mailbox
                .clamp(1, EXCHANGE_MAX_CONCURRENCY),
            organization_requests: config.organization_requests.max(1),
            max_attempts: config.max_attempts.max(1),
            ..config
        };
        Self {
            organization: Arc::new(Semaphore::new(config.organization_requests)),
            gates: Mutex::new(Gates {
                map: HashMap::new(),
                sweep_at: SWEEP_MIN,
            }),
            stats: ThrottleStats::default(),
            observer: None,
            config,
        }
    }

    /// Calls `observer` on every 429/503 answer.
    pub fn with_observer(mut self, observer: ThrottleObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The counters.
    pub fn stats(&self) -> &ThrottleStats {
        &self.stats
    }

    /// The configuration in force.
    pub fn config(&self) -> ThrottleConfig {
        self.config
    }

    /// The current adaptive pace of `mailbox` (requests per second; `None` = not
    /// adaptively paced).
    pub fn rate(&self, mailbox: &str) -> Option<f64> {
        lock(&self.gate(mailbox).pace).rate()
    }

    /// The budget `mailbox` is paced to (requests per window), configured or learned.
    pub fn budget(&self, mailbox: &str) -> Option<(u32, Duration)> {
        lock(&self.gate(mailbox).pace).budget()
    }

    /// Gates kept (mailboxes being worked on, or whose window still holds requests).
    pub fn mailboxes(&self) -> usize {
        lock(&self.gates).map.len()
    }

    fn gate(&self, mailbox: &str) -> Arc<MailboxGate> {
        let key = mailbox.to_ascii_lowercase();
        let mut gates = lock(&self.gates);
        if let Some(g) = gates.map.get(&key) {
            return g.clone();
        }
        if gates.map.len() >= gates.sweep_at {
            // Gates nobody holds whose pace has nothing left to remember.
            let now = Instant::now();
            gates
                .map
                .retain(|_, g| Arc::strong_count(g) > 1 || !lock(&g.pace).idle(now));
            gates.sweep_at = (gates.map.len() * 2).max(SWEEP_MIN);
        }
        let gate = Arc::new(MailboxGate {
            permits: Arc::new(Semaphore::new(self.config.requests_per_mailbox)),
            pace: Mutex::new(Pace::new(
                self.config.budget,
                self.config.min_rate,
                self.config.max_rate,
            )),
        });
        gates.map.insert(key, gate.clone());
        gate
    }

    /// Waits for a slot for `mailbox`: its concurrency, the organization's, its pace and
    /// any Retry-After in force.
    pub async fn acquire(&self, mailbox: &str) -> Result<RequestPermit> {
        self.acquire_at(&self.gate(mailbox), mailbox)
            .await
            .map(|(p, _)| p)
    }

    /// [`Self::acquire`], also saying when the request was let go (counted as sent).
    async fn acquire_at(
        &self,
        gate: &MailboxGate,
        mailbox: &str,
    ) -> Result<(RequestPermit, Instant)> {
        let closed = |_| Error::Decode {
            url: mailbox.to_owned(),
            what: "the request scheduler was shut down".into(),
        };
        let mailbox_permit = gate.permits.clone().acquire_owned().await.map_err(closed)?;
        // The organization's slot first: the pace counts a request as sent when it
        // lets it go, so nothing may hold it back after that.
        let org_permit = self
            .organization
            .clone()
            .acquire_owned()
            .await
            .map_err(closed)?;
        let sent_at = loop {
            let now = Instant::now();
            let ready = lock(&gate.pace).try_start(now);
            match ready {
                Ok(()) => break now,
                Err(at) => {
                    let d = at.saturating_duration_since(now);
                    self.stats.add_wait(d);
                    tokio::time::sleep_until(at).await;
                }
            }
        };
        Ok((
            RequestPermit {
                _mailbox: mailbox_permit,
                _organization: org_permit,
            },
            sent_at,
        ))
    }

    /// Runs `attempt` for `mailbox` under the throttle, retrying throttled and transient
    /// failures: Retry-After exactly when given, else exponential backoff with jitter.
    /// `attempt` gets the permit and must move it into its future (and keep it while
    /// the answer is read): dropping it early frees the slot too soon.
    pub async fn run<T, F, Fut>(&self, mailbox: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut(RequestPermit) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(60))
            .with_max_times(self.config.max_attempts)
            .with_jitter()
            .build();
        let gate = self.gate(mailbox);
        let mut attempts = 0;
        loop {
            let (permit, sent_at) = self.acquire_at(&gate, mailbox).await?;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            attempts += 1;
            match attempt(permit).await {
                Ok(v) => {
                    lock(&gate.pace).succeeded();
                    return Ok(v);
                }
                Err(err) if err.is_temporary() && attempts < self.config.max_attempts => {
                    let service = err.service();
                    let retry_after = service.and_then(|s| s.retry_after);
                    if let Some(s) = service.filter(|s| matches!(s.status, 429 | 503)) {
                        self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                        let why = refusal(s.status, &s.message, retry_after);
                        lock(&gate.pace).refused(Instant::now(), sent_at, why);
                        if let Some(observer) = &self.observer {
                            observer(mailbox, retry_after.unwrap_or_default());
                        }
                    } else {
                        self.stats.transient.fetch_add(1, Ordering::Relaxed);
                    }
                    let wait = match retry_after {
                        // The mailbox gate already blocks until then; waiting here too
                        // keeps this task from spinning on the gate.
                        Some(wait) => wait,
                        None => backoff.next().unwrap_or(Duration::from_secs(60)),
                    };
                    tracing::debug!(%err, ?wait, mailbox, "temporary failure, retrying");
                    self.stats.add_wait(wait);
                    tokio::time::sleep(wait).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Service, ServiceError};
    use std::sync::atomic::AtomicUsize;

    fn throttled_error(secs: Option<u64>) -> Error {
        Error::Service {
            method: "GET".into(),
            url: "u".into(),
            error: Box::new(ServiceError::parse(
                Service::Graph,
                429,
                secs.map(Duration::from_secs),
                br#"{"error":{"code":"ApplicationThrottled","message":"Application is over its MailboxConcurrency limit."}}"#,
            )),
        }
    }

    #[tokio::test]
    async fn at_most_four_in_flight_per_mailbox() {
        let throttle = Arc::new(Throttle::new(ThrottleConfig {
            requests_per_mailbox: 16,
            ..ThrottleConfig::default()
        }));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (t, f, p) = (throttle.clone(), in_flight.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                t.run("a@contoso.com", |permit| {
                    let (f, p) = (f.clone(), p.clone());
                    async move {
                        let _permit = permit;
                        let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                        p.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        f.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, Error>(())
                    }
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), EXCHANGE_MAX_CONCURRENCY);
        assert_eq!(throttle.stats().requests.load(Ordering::SeqCst), 20);
    }

    #[tokio::test]
    async fn retry_after_is_honoured_and_pace_adapts() {
        let throttle = Throttle::new(ThrottleConfig::default());
        let calls = AtomicUsize::new(0);
        let seen = Mutex::new(Vec::new());
        let started = Instant::now();
        let value = throttle
            .run("b@contoso.com", |_p| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                lock(&seen).push(started.elapsed());
                async move {
                    if n == 0 {
                        Err(throttled_error(Some(1)))
                    } else {
                        Ok(7)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(value, 7);
        let seen = lock(&seen).clone();
        assert!(
            seen[1] >= Duration::from_secs(1),
            "retried before Retry-After: {seen:?}"
        );
        assert_eq!(throttle.stats().throttled.load(Ordering::SeqCst), 1);
        // Refused at once: the budget was spent before; nothing to learn, so adapt.
        assert!(
            throttle.rate("b@contoso.com").is_some(),
            "a 429 with no history starts pacing"
        );
        // Another mailbox is not slowed down.
        assert!(throttle.rate("c@contoso.com").is_none());
    }

    #[test]
    fn refusals_are_told_apart() {
        let wait = Some(Duration::from_secs(3));
        assert_eq!(
            refusal(429, "over its request limit", wait),
            Refusal::Budget(Duration::from_secs(3))
        );
        assert_eq!(
            refusal(
                429,
                "Application is over its MailboxConcurrency limit.",
                None
            ),
            Refusal::Other(None)
        );
        assert_eq!(refusal(503, "busy", wait), Refusal::Other(wait));
    }

    #[tokio::test]
    async fn idle_gates_are_swept() {
        let throttle = Throttle::new(ThrottleConfig {
            budget: None,
            ..ThrottleConfig::default()
        });
        for i in 0..(SWEEP_MIN * 3) {
            throttle
                .run(&format!("u{i}@contoso.com"), |_p| async {
                    Ok::<_, Error>(())
                })
                .await
                .unwrap();
        }
        assert!(
            throttle.mailboxes() <= SWEEP_MIN,
            "{}",
            throttle.mailboxes()
        );
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried_and_retries_end() {
        let throttle = Throttle::new(ThrottleConfig {
            max_attempts: 2,
            ..ThrottleConfig::default()
        });
        let calls = AtomicUsize::new(0);
        let err = throttle
            .run("d@contoso.com", |_p| {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    Err::<(), _>(Error::Decode {
                        url: "u".into(),
                        what: "bad".into(),
                    })
                }
            })
            .await
            .unwrap_err();
        assert!(!err.is_temporary());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let calls = AtomicUsize::new(0);
        let err = throttle
            .run("d@contoso.com", |_p| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(throttled_error(Some(0))) }
            })
            .await
            .unwrap_err();
        assert!(
            err.is_temporary(),
            "given up, still temporary: not a lost item"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
