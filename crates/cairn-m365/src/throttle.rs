//! Throttling-aware request scheduling for the Outlook data plane (mail, calendar,
//! contacts), shaped after Exchange Online's limits: at most 4 concurrent requests per
//! app per mailbox, a request budget per app per mailbox (10,000 per 10 minutes), and
//! 429/503 answers carrying `Retry-After`.
//!
//! A [`Throttle`] is shared by everything one backup session sends to one organization:
//! - a per-mailbox gate: a semaphore of `requests_per_mailbox` (≤ 4) permits, and a pace
//!   that adapts (AIMD: halve the rate on a 429, creep back up on success) so that
//!   throttling costs little;
//! - a shared organization budget: a semaphore bounding all requests in flight;
//! - `Retry-After` honoured exactly and never shortened: the whole mailbox waits, not
//!   just the request that was refused; without it, exponential backoff with jitter;
//! - counters: requests, throttled answers, time spent waiting.
//!
//! A throttled or transient failure is retried here; callers only see it once the
//! retries are used up, as a temporary [`Error`] (never as a missing item).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

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

/// The adaptive pace of one mailbox.
#[derive(Debug)]
struct Pace {
    /// `None`: no pacing (until the first 429).
    rate: Option<f64>,
    /// The next request may start at this time.
    next_at: Instant,
    /// Nothing may start before this time (Retry-After).
    blocked_until: Instant,
    /// Successful requests since the last 429, for the additive increase.
    window_start: Instant,
    window_requests: u64,
    /// When the pace was last lowered: the other requests of the same burst, refused
    /// together, lower it only once.
    last_decrease: Option<Instant>,
}

/// Gate of one mailbox: its concurrency permits and its pace.
#[derive(Debug)]
struct MailboxGate {
    permits: Arc<Semaphore>,
    pace: Mutex<Pace>,
}

/// The throttle of one organization; clone the `Arc` into every task.
pub struct Throttle {
    config: ThrottleConfig,
    organization: Arc<Semaphore>,
    mailboxes: Mutex<HashMap<String, Arc<MailboxGate>>>,
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
            mailboxes: Mutex::new(HashMap::new()),
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

    /// The current adaptive pace of `mailbox` (requests per second; `None` = unpaced).
    pub fn rate(&self, mailbox: &str) -> Option<f64> {
        lock(&self.gate(mailbox).pace).rate
    }

    fn gate(&self, mailbox: &str) -> Arc<MailboxGate> {
        let mut map = lock(&self.mailboxes);
        map.entry(mailbox.to_ascii_lowercase())
            .or_insert_with(|| {
                let now = Instant::now();
                Arc::new(MailboxGate {
                    permits: Arc::new(Semaphore::new(self.config.requests_per_mailbox)),
                    pace: Mutex::new(Pace {
                        rate: None,
                        next_at: now,
                        blocked_until: now,
                        window_start: now,
                        window_requests: 0,
                        last_decrease: None,
                    }),
                })
            })
            .clone()
    }

    /// Waits for a slot for `mailbox`: its concurrency, the organization's, its pace and
    /// any Retry-After in force.
    pub async fn acquire(&self, mailbox: &str) -> Result<RequestPermit> {
        let gate = self.gate(mailbox);
        let closed = |_| Error::Decode {
            url: mailbox.to_owned(),
            what: "the request scheduler was shut down".into(),
        };
        let mailbox_permit = gate.permits.clone().acquire_owned().await.map_err(closed)?;
        loop {
            let wait = {
                let mut pace = lock(&gate.pace);
                let now = Instant::now();
                let start = pace.next_at.max(pace.blocked_until);
                if start <= now {
                    if let Some(rate) = pace.rate {
                        pace.next_at = now + Duration::from_secs_f64(1.0 / rate);
                    }
                    None
                } else {
                    Some(start - now)
                }
            };
            match wait {
                None => break,
                Some(d) => {
                    self.stats.add_wait(d);
                    tokio::time::sleep(d).await;
                }
            }
        }
        let org_permit = self
            .organization
            .clone()
            .acquire_owned()
            .await
            .map_err(closed)?;
        Ok(RequestPermit {
            _mailbox: mailbox_permit,
            _organization: org_permit,
        })
    }

    /// Records a successful answer: the pace creeps up (additive increase, about one
    /// request per second more every second without throttling).
    fn succeeded(&self, mailbox: &str) {
        let gate = self.gate(mailbox);
        let mut pace = lock(&gate.pace);
        pace.window_requests += 1;
        if let Some(rate) = pace.rate {
            let step = 1.0 / rate.max(1.0);
            let raised = rate + step;
            pace.rate = if raised >= self.config.max_rate {
                None
            } else {
                Some(raised)
            };
        }
    }

    /// Records a 429/503: the whole mailbox waits `retry_after` (exactly), and the pace
    /// halves from what was achieved (multiplicative decrease).
    fn throttled(&self, mailbox: &str, retry_after: Option<Duration>) {
        let gate = self.gate(mailbox);
        let mut pace = lock(&gate.pace);
        let now = Instant::now();
        let same_burst = pace.last_decrease.is_some_and(|at| {
            now < at + retry_after.unwrap_or_default().max(Duration::from_secs(1))
        });
        if !same_burst {
            let elapsed = now.duration_since(pace.window_start).as_secs_f64().max(1.0);
            let achieved = pace.window_requests as f64 / elapsed;
            let base = pace.rate.unwrap_or(achieved);
            pace.rate = Some((base / 2.0).max(self.config.min_rate));
            pace.window_start = now;
            pace.window_requests = 0;
            pace.last_decrease = Some(now);
        }
        if let Some(wait) = retry_after {
            pace.blocked_until = pace.blocked_until.max(now + wait);
        }
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
        let mut attempts = 0;
        loop {
            let permit = self.acquire(mailbox).await?;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            attempts += 1;
            match attempt(permit).await {
                Ok(v) => {
                    self.succeeded(mailbox);
                    return Ok(v);
                }
                Err(err) if err.is_temporary() && attempts < self.config.max_attempts => {
                    let service = err.service();
                    let retry_after = service.and_then(|s| s.retry_after);
                    let is_throttle = service.is_some_and(|s| matches!(s.status, 429 | 503));
                    if is_throttle {
                        self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                        self.throttled(mailbox, retry_after);
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
        assert!(
            throttle.rate("b@contoso.com").is_some(),
            "a 429 starts pacing"
        );
        // Another mailbox is not slowed down.
        assert!(throttle.rate("c@contoso.com").is_none());
    }

    #[test]
    fn a_burst_of_refusals_lowers_the_pace_once() {
        let throttle = Throttle::new(ThrottleConfig::default());
        throttle.throttled("e@contoso.com", Some(Duration::from_secs(2)));
        let first = throttle.rate("e@contoso.com").unwrap();
        // The other requests in flight come back refused too.
        throttle.throttled("e@contoso.com", Some(Duration::from_secs(2)));
        throttle.throttled("e@contoso.com", None);
        assert_eq!(throttle.rate("e@contoso.com"), Some(first));
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
