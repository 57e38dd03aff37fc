//! Throttling and faults the way Exchange Online applies them to Graph's Outlook APIs:
//! per app per mailbox a request budget over a sliding window (10,000 per 10 minutes in
//! Exchange; scaled down and configurable here) and at most 4 requests in flight (429
//! `ApplicationThrottled` "MailboxConcurrency"); throttled requests count toward the budget.
//! Plus what a real network adds: injected latency and random transient faults (500, 503
//! with Retry-After, 504, connection reset) from a seeded RNG. Everything is off by
//! default, configurable at start and at run time; counters per mailbox say what happened.

mod layer;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use layer::throttle_layer;

/// Throttling and fault settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Requests per app per mailbox per window; None = no budget.
    pub mailbox_budget: Option<u32>,
    /// The budget's window, seconds.
    pub budget_window_secs: u64,
    /// Requests in flight per app per mailbox; None = unlimited. Exchange: 4.
    pub mailbox_concurrency: Option<u32>,
    /// Probability of a transient fault per request (0 = never).
    pub fault_rate: f64,
    /// Seed of the fault RNG (same seed + same request order = same faults).
    pub fault_seed: u64,
    /// Retry-After of injected 503s, seconds.
    pub fault_retry_after_secs: u64,
    /// Added to every mailbox request, milliseconds.
    pub latency_ms: u64,
    /// Random extra up to this many milliseconds.
    pub jitter_ms: u64,
    /// Milliseconds per MB of response body.
    pub latency_ms_per_mb: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            mailbox_budget: None,
            budget_window_secs: 600,
            mailbox_concurrency: None,
            fault_rate: 0.0,
            fault_seed: 1,
            fault_retry_after_secs: 1,
            latency_ms: 0,
            jitter_ms: 0,
            latency_ms_per_mb: 0,
        }
    }
}

impl ThrottleConfig {
    /// Exchange Online's limits: 10,000 requests per 10 minutes and 4 concurrent requests
    /// per app per mailbox.
    pub fn exchange() -> Self {
        ThrottleConfig {
            mailbox_budget: Some(10_000),
            budget_window_secs: 600,
            mailbox_concurrency: Some(4),
            ..ThrottleConfig::default()
        }
    }

    /// Parses a budget like `600/60s`, `10000/10m` into (requests, window seconds).
    pub fn parse_budget(text: &str) -> Result<(u32, u64), String> {
        let bad = || format!("budget '{text}' is not REQUESTS/WINDOW, e.g. 600/60s or 10000/10m");
        let (n, w) = text.split_once('/').ok_or_else(bad)?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        let w = w.trim();
        let (num, unit) = w.split_at(w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len()));
        let num: u64 = if num.is_empty() {
            1
        } else {
            num.parse().map_err(|_| bad())?
        };
        let secs = match unit {
            "" | "s" => num,
            "m" => num * 60,
            "h" => num * 3600,
            _ => return Err(bad()),
        };
        if n == 0 || secs == 0 {
            return Err(bad());
        }
        Ok((n, secs))
    }
}

/// What happened to one mailbox's requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxCounters {
    /// Requests received (throttled and faulted ones included).
    pub requests: u64,
    /// 429 ApplicationThrottled (concurrency).
    pub throttled_concurrency: u64,
    /// 429 TooManyRequests (budget).
    pub throttled_budget: u64,
    /// Injected faults.
    pub faults: u64,
    /// Highest number of requests in flight seen.
    pub peak_in_flight: u32,
}

#[derive(Default)]
struct Lane {
    in_flight: u32,
    window: VecDeque<Instant>,
}

/// Live throttling state.
pub struct Throttle {
    config: Mutex<ThrottleConfig>,
    lanes: Mutex<HashMap<(String, String), Lane>>,
    counters: Mutex<BTreeMap<String, MailboxCounters>>,
    rng: Mutex<ChaCha8Rng>,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Serve it (then release the slot).
    Serve,
    /// 429 ApplicationThrottled.
    Concurrency,
    /// 429 TooManyRequests, retry after this many seconds.
    Budget(u64),
    /// Injected fault.
    Fault(Fault),
}

/// Transient faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 InternalServerError.
    Internal,
    /// 503 with Retry-After.
    Unavailable,
    /// 504 GatewayTimeout.
    GatewayTimeout,
    /// The connection drops mid-answer.
    Reset,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Throttle {
    /// With these settings.
    pub fn new(config: ThrottleConfig) -> Throttle {
        Throttle {
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.fault_seed)),
            config: Mutex::new(config),
            lanes: Mutex::new(HashMap::new()),
            counters: Mutex::new(BTreeMap::new()),
        }
    }

    /// Current settings.
    pub fn config(&self) -> ThrottleConfig {
        lock(&self.config).clone()
    }

    /// New settings (the fault RNG restarts from the new seed).
    pub fn set_config(&self, config: ThrottleConfig) {
        *lock(&self.rng) = ChaCha8Rng::seed_from_u64(config.fault_seed);
        *lock(&self.config) = config;
    }

    /// Counters per mailbox (user id or mailbox id as requested).
    pub fn counters(&self) -> BTreeMap<String, MailboxCounters> {
        lock(&self.counters).clone()
    }

    /// Forgets counters and budget windows.
    pub fn reset(&self) {
        lock(&self.counters).clear();
        lock(&self.lanes).retain(|_, l| l.in_flight > 0);
        for l in lock(&self.lanes).values_mut() {
            l.window.clear();
        }
    }

    /// Decides about a request of `app` to `mailbox`; `Serve` takes a slot to `release`.
    pub fn admit(&self, app: &str, mailbox: &str) -> Verdict {
        let cfg = self.config();
        let now = Instant::now();
        let key = (app.to_string(), mailbox.to_string());
        let verdict = {
            let mut lanes = lock(&self.lanes);
            let lane = lanes.entry(key).or_default();
            let window = Duration::from_secs(cfg.budget_window_secs);
            while lane
                .window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                lane.window.pop_front();
            }
            // Every request counts, throttled ones too (as Exchange does).
            lane.window.push_back(now);
            let over_budget = cfg
                .mailbox_budget
                .is_some_and(|b| lane.window.len() > b as usize);
            if over_budget {
                let b = cfg.mailbox_budget.unwrap_or(0) as usize;
                // The request may pass once enough old ones left the window that fewer
                // than `b` remain: the entry at len - b must expire.
                let at = lane.window.len().saturating_sub(b);
                let frees = lane.window.get(at).copied().unwrap_or(now) + window;
                let secs = frees.saturating_duration_since(now).as_secs_f64().ceil() as u64;
                Verdict::Budget(secs.max(1))
            } else if cfg.mailbox_concurrency.is_some_and(|c| lane.in_flight >= c) {
                Verdict::Concurrency
            } else {
                let fault = cfg.fault_rate > 0.0 && {
                    let mut rng = lock(&self.rng);
                    rng.random::<f64>() < cfg.fault_rate
                };
                if fault {
                    let kind = match lock(&self.rng).random_range(0..4u8) {
                        0 => Fault::Internal,
                        1 => Fault::Unavailable,
                        2 => Fault::GatewayTimeout,
                        _ => Fault::Reset,
                    };
                    Verdict::Fault(kind)
                } else {
                    lane.in_flight += 1;
                    Verdict::Serve
                }
            }
        };
        let mut counters = lock(&self.counters);
        let c = counters.entry(mailbox.to_string()).or_default();
        c.requests += 1;
        match &verdict {
            Verdict::Serve => {
                let lanes = lock(&self.lanes);
                let inflight = lanes
                    .get(&(app.to_string(), mailbox.to_string()))
                    .map(|l| l.in_flight)
                    .unwrap_or(0);
                c.peak_in_flight = c.peak_in_flight.max(inflight);
            }
            Verdict::Concurrency => c.throttled_concurrency += 1,
            Verdict::Budget(_) => c.throttled_budget += 1,
            Verdict::Fault(_) => c.faults += 1,
        }
        verdict
    }

    /// Frees the slot a served request took.
    pub fn release(&self, app: &str, mailbox: &str) {
        if let Some(l) = lock(&self.lanes).get_mut(&(app.to_string(), mailbox.to_string())) {
            l.in_flight = l.in_flight.saturating_sub(1);
        }
    }

    /// Latency to add to an answer of `bytes` bytes.
    pub fn latency(&self, bytes: usize) -> Duration {
        let cfg = self.config();
        let jitter = if cfg.jitter_ms > 0 {
            rand::rng().random_range(0..=cfg.jitter_ms)
        } else {
            0
        };
        let per_mb = (bytes as u64).saturating_mul(cfg.latency_ms_per_mb) / (1 << 20);
        Duration::from_millis(cfg.latency_ms + jitter + per_mb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse() {
        assert_eq!(ThrottleConfig::parse_budget("600/60s"), Ok((600, 60)));
        assert_eq!(ThrottleConfig::parse_budget("10000/10m"), Ok((10000, 600)));
        assert_eq!(ThrottleConfig::parse_budget("5/s"), Ok((5, 1)));
        assert!(ThrottleConfig::parse_budget("5").is_err());
        assert!(ThrottleConfig::parse_budget("0/1s").is_err());
        assert!(ThrottleConfig::parse_budget("5/3d").is_err());
    }

    #[test]
    fn budget_counts_throttled_requests_and_says_when_to_come_back() {
        let t = Throttle::new(ThrottleConfig {
            mailbox_budget: Some(2),
            budget_window_secs: 30,
            ..ThrottleConfig::default()
        });
        assert_eq!(t.admit("a", "m"), Verdict::Serve);
        t.release("a", "m");
        assert_eq!(t.admit("a", "m"), Verdict::Serve);
        t.release("a", "m");
        let Verdict::Budget(s) = t.admit("a", "m") else {
            panic!("third request must be over budget");
        };
        assert!((29..=30).contains(&s), "{s}");
        // Another app has its own budget.
        assert_eq!(t.admit("b", "m"), Verdict::Serve);
        let c = t.counters();
        assert_eq!(c["m"].requests, 4);
        assert_eq!(c["m"].throttled_budget, 1);
    }

    #[test]
    fn concurrency_is_per_mailbox() {
        let t = Throttle::new(ThrottleConfig {
            mailbox_concurrency: Some(1),
            ..ThrottleConfig::default()
        });
        assert_eq!(t.admit("a", "m"), Verdict::Serve);
        assert_eq!(t.admit("a", "m"), Verdict::Concurrency);
        assert_eq!(t.admit("a", "n"), Verdict::Serve);
        t.release("a", "m");
        assert_eq!(t.admit("a", "m"), Verdict::Serve);
    }
}
