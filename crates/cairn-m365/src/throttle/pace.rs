//! The pace of one mailbox: when its next request may start.
//!
//! Exchange Online allows each app a budget of requests per mailbox over a sliding
//! window (10,000 per 10 minutes) and counts refused requests too. Spending that budget
//! evenly is what makes a backup fast; overrunning it costs a Retry-After pause of the
//! whole mailbox. So the pace is planned from what is known:
//! - a log of the requests this mailbox was sent within the window (every attempt, as
//!   Exchange counts them) and a limit a small margin below the budget: a request
//!   starts only while fewer than the limit were sent in the last window;
//! - the budget configured (Microsoft's published figure) or learned from the first
//!   429 that carries a Retry-After: the requests sent in the window before the refused
//!   one, and the window itself bounded by when Exchange says a request will pass again;
//! - Retry-After, honoured exactly, always;
//! - only when nothing is known of the budget (no budget configured) or the refusal
//!   says nothing about it (a 429 without Retry-After: too many in flight; a 503), the
//!   adaptive pace: halve after a refusal, creep back up on success.
//!
//! Everything here is plain arithmetic on instants given by the caller, so it is
//! tested without sleeping.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// What is known of Exchange's request budget per app per mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxBudget {
    /// Requests allowed per window; `None`: not known, learned from the first 429.
    pub requests: Option<u32>,
    /// The budget's window, or the longest a learned window may be.
    pub window: Duration,
}

impl MailboxBudget {
    /// Exchange Online's published limit: 10,000 requests per 10 minutes per app per
    /// mailbox. A tenant that refuses earlier teaches a lower figure.
    pub const EXCHANGE: MailboxBudget = MailboxBudget {
        requests: Some(10_000),
        window: Duration::from_secs(600),
    };
}

/// Share of the budget left unused: the server counts a request when it arrives, the
/// log when it leaves, and a few requests may cross in between.
const MARGIN_SHARE: f64 = 0.03;
/// Fewest requests of the budget left unused.
const MARGIN_MIN: u32 = 2;
/// Fewest requests of our own in the window for a refusal to teach the budget.
const MIN_LEARNED: usize = 8;
/// Longest log kept per mailbox (memory bound when nothing limits the pace).
const MAX_LOG: usize = 20_000;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 429 with Retry-After: the request budget is spent.
    Budget(Duration),
    /// 429 without Retry-After (too many requests in flight) or 503: say nothing
    /// about the budget; the adaptive pace applies.
    Other(Option<Duration>),
}

/// The pace of one mailbox.
#[derive(Debug)]
pub(crate) struct Pace {
    /// Requests per window believed allowed (configured or learned); `None`: unknown.
    budget: Option<u32>,
    /// The window the log covers.
    window: Duration,
    /// Whether the budget is planned at all (`false`: adaptive only).
    planned: bool,
    /// When each request sent within the window started, oldest first.
    log: VecDeque<Instant>,
    /// When the budget was last learned: refusals of requests sent before are the
    /// same burst and teach nothing new.
    learned_at: Option<Instant>,
    /// Nothing may start before this time (Retry-After).
    blocked_until: Instant,
    /// Adaptive pace, requests per second; `None`: not limited.
    rate: Option<f64>,
    next_at: Instant,
    /// Successful requests since the adaptive pace was last lowered.
    since_decrease: Instant,
    successes: u64,
    last_decrease: Option<Instant>,
    min_rate: f64,
    max_rate: f64,
}

impl Pace {
    pub(crate) fn new(budget: Option<MailboxBudget>, min_rate: f64, max_rate: f64) -> Pace {
        let now = Instant::now();
        Pace {
            budget: budget.and_then(|b| b.requests).map(|r| r.max(1)),
            window: budget.map_or(Duration::ZERO, |b| b.window),
            planned: budget.is_some(),
            log: VecDeque::new(),
            learned_at: None,
            blocked_until: now,
            rate: None,
            next_at: now,
            since_decrease: now,
            successes: 0,
            last_decrease: None,
            min_rate,
            max_rate,
        }
    }

    /// Requests the pace lets start per window: the budget less the margin.
    pub(crate) fn limit(&self) -> Option<u32> {
        self.budget.map(|b| {
            let margin = ((f64::from(b) * MARGIN_SHARE).ceil() as u32).max(MARGIN_MIN);
            b.saturating_sub(margin).max(1)
        })
    }

    /// The budget believed in force: requests per window.
    pub(crate) fn budget(&self) -> Option<(u32, Duration)> {
        self.budget.map(|b| (b, self.window))
    }

    /// The adaptive pace (requests per second), when one applies.
    pub(crate) fn rate(&self) -> Option<f64> {
        self.rate
    }

    fn trim(&mut self, now: Instant) {
        while self
            .log
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            self.log.pop_front();
        }
    }

    /// Whether a request may start at `now`: `Ok` records it as sent; `Err` says when
    /// to ask again.
    pub(crate) fn try_start(&mut self, now: Instant) -> Result<(), Instant> {
        let mut start = self.blocked_until;
        if self.rate.is_some() {
            start = start.max(self.next_at);
        }
        if self.planned {
            self.trim(now);
            if let Some(limit) = self.limit().map(|l| l as usize)
                && self.log.len() >= limit
            {
                // Once this one leaves the window, fewer than `limit` remain in it.
                start = start.max(self.log[self.log.len() - limit] + self.window);
            }
        }
        if start > now {
            return Err(start);
        }
        if let Some(rate) = self.rate {
            self.next_at = now + Duration::from_secs_f64(1.0 / rate);
        }
        if self.planned {
            self.log.push_back(now);
            if self.log.len() > MAX_LOG {
                self.log.pop_front();
            }
        }
        Ok(())
    }

    /// A successful answer: the adaptive pace creeps up (about one request per second
    /// more every second), and is lifted entirely above `max_rate`.
    pub(crate) fn succeeded(&mut self) {
        self.successes += 1;
        if let Some(rate) = self.rate {
            let raised = rate + 1.0 / rate.max(1.0);
            self.rate = (raised < self.max_rate).then_some(raised);
        }
    }

    /// A refused request, sent at `sent_at`, answered at `now`.
    pub(crate) fn refused(&mut self, now: Instant, sent_at: Instant, why: Refusal) {
        match why {
            Refusal::Budget(retry_after) => {
                self.blocked_until = self.blocked_until.max(now + retry_after);
                if self.planned {
                    self.learn(now, sent_at, retry_after);
                } else {
                    self.slow_down(now, Some(retry_after));
                }
            }
            Refusal::Other(retry_after) => {
                if let Some(wait) = retry_after {
                    self.blocked_until = self.blocked_until.max(now + wait);
                }
                self.slow_down(now, retry_after);
            }
        }
    }

    /// Learns the budget from a refusal: Exchange says a request passes again at
    /// `now + retry_after`, when the oldest request it still counts leaves its window.
    /// That request is at the earliest the oldest in the log, so the window is at most
    /// the time from it to then (a configured window longer than that was wrong); the
    /// budget is what was sent within that window before the refused request.
    fn learn(&mut self, now: Instant, sent_at: Instant, retry_after: Duration) {
        if self.learned_at.is_some_and(|at| sent_at <= at) {
            return;
        }
        let mut window = self.window;
        if let Some(oldest) = self.log.front().copied() {
            let span = (now + retry_after).saturating_duration_since(oldest);
            window = window.min(span.max(Duration::from_secs(1)));
        }
        let sent = self
            .log
            .iter()
            .filter(|t| **t < sent_at && sent_at.saturating_duration_since(**t) < window)
            .count();
        if sent < MIN_LEARNED {
            // Refused before we sent much: the budget was spent by someone else (an
            // earlier session of the same application); the count says nothing.
            self.slow_down(now, Some(retry_after));
            return;
        }
        self.learned_at = Some(now);
        self.window = window;
        self.budget = Some(u32::try_from(sent).unwrap_or(u32::MAX));
        tracing::debug!(budget = ?self.budget, ?window, "learned the mailbox's request budget");
    }

    /// The adaptive decrease: halve the pace from what was achieved, once per burst of
    /// refusals.
    fn slow_down(&mut self, now: Instant, retry_after: Option<Duration>) {
        let same_burst = self.last_decrease.is_some_and(|at| {
            now < at + retry_after.unwrap_or_default().max(Duration::from_secs(1))
        });
        if same_burst {
            return;
        }
        let elapsed = now
            .saturating_duration_since(self.since_decrease)
            .as_secs_f64()
            .max(1.0);
        let achieved = self.successes as f64 / elapsed;
        let base = self.rate.unwrap_or(achieved);
        self.rate = Some((base / 2.0).max(self.min_rate));
        self.since_decrease = now;
        self.successes = 0;
        self.last_decrease = Some(now);
    }

    /// Nothing in flight, nothing in the window, no wait pending: the pace can be
    /// forgotten (a mailbox seen again starts afresh, which costs at most one refusal).
    pub(crate) fn idle(&mut self, now: Instant) -> bool {
        self.trim(now);
        self.log.is_empty() && self.blocked_until <= now && self.rate.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exchange's rule as the simulator applies it: a sliding window of arrivals,
    /// refused requests counted too; a refusal says when a request passes again (whole
    /// seconds, rounded up).
    struct Server {
        budget: usize,
        window: Duration,
        arrivals: VecDeque<Instant>,
        served: Vec<Instant>,
        refused: usize,
    }

    impl Server {
        fn new(budget: usize, window: Duration) -> Server {
            Server {
                budget,
                window,
                arrivals: VecDeque::new(),
                served: Vec::new(),
                refused: 0,
            }
        }

        fn admit(&mut self, now: Instant) -> Result<(), Duration> {
            while self
                .arrivals
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
            {
                self.arrivals.pop_front();
            }
            self.arrivals.push_back(now);
            if self.arrivals.len() > self.budget {
                self.refused += 1;
                let frees = self.arrivals[self.arrivals.len() - self.budget] + self.window;
                let secs = frees.saturating_duration_since(now).as_secs_f64().ceil();
                return Err(Duration::from_secs_f64(secs.max(1.0)));
            }
            self.served.push(now);
            Ok(())
        }

        /// Most requests served within any one window.
        fn peak_per_window(&self) -> usize {
            let mut peak = 0;
            let mut from = 0;
            for (i, t) in self.served.iter().enumerate() {
                while t.saturating_duration_since(self.served[from]) >= self.window {
                    from += 1;
                }
                peak = peak.max(i + 1 - from);
            }
            peak
        }
    }

    /// Drives `requests` requests through a pace against `server`, 4 in flight, each
    /// answered after `latency` (the server counts it on arrival, half-way). Virtual
    /// time: nothing sleeps. Returns when the last one was served.
    fn drive(pace: &mut Pace, server: &mut Server, requests: usize, latency: Duration) -> Instant {
        let start = Instant::now();
        let mut now = start;
        let mut done = 0;
        // Slots: when each of the 4 in-flight lanes is free again.
        let mut lanes = [start; 4];
        let mut last = start;
        while done < requests {
            let lane = (0..4).min_by_key(|i| lanes[*i]).unwrap_or(0);
            now = now.max(lanes[lane]);
            match pace.try_start(now) {
                Err(at) => now = at,
                Ok(()) => {
                    let sent = now;
                    let answered = sent + latency;
                    lanes[lane] = answered;
                    match server.admit(sent + latency / 2) {
                        Ok(()) => {
                            pace.succeeded();
                            done += 1;
                            last = last.max(answered);
                        }
                        Err(retry_after) => {
                            pace.refused(answered, sent, Refusal::Budget(retry_after));
                            // The request itself waits as asked before it is tried again.
                            lanes[lane] = answered + retry_after;
                        }
                    }
                }
            }
        }
        let _ = now;
        last
    }

    fn share_of_budget(server: &Server, from: Instant, to: Instant, requests: usize) -> f64 {
        let allowed = server.budget as f64 / server.window.as_secs_f64()
            * to.saturating_duration_since(from).as_secs_f64();
        requests as f64 / allowed
    }

    #[test]
    fn a_configured_budget_is_never_overrun_and_nearly_spent() {
        let window = Duration::from_secs(6);
        let mut server = Server::new(100, window);
        let mut pace = Pace::new(
            Some(MailboxBudget {
                requests: Some(100),
                window,
            }),
            0.5,
            200.0,
        );
        let start = Instant::now();
        let end = drive(&mut pace, &mut server, 2_000, Duration::from_millis(20));
        assert_eq!(server.refused, 0, "no request beyond the budget was sent");
        assert!(server.peak_per_window() <= 100);
        let share = share_of_budget(&server, start, end, 2_000);
        assert!(share >= 0.9, "{share:.2} of the budget used");
    }

    #[test]
    fn an_unknown_count_is_learned_from_the_first_refusal() {
        let window = Duration::from_secs(6);
        let mut server = Server::new(100, window);
        let mut pace = Pace::new(
            Some(MailboxBudget {
                requests: None,
                window,
            }),
            0.5,
            200.0,
        );
        let start = Instant::now();
        let end = drive(&mut pace, &mut server, 2_000, Duration::from_millis(20));
        assert!(
            server.refused <= 4,
            "only the first burst is refused: {}",
            server.refused
        );
        assert_eq!(pace.budget(), Some((100, window)));
        let share = share_of_budget(&server, start, end, 2_000);
        assert!(share >= 0.9, "{share:.2} of the budget used");
    }

    #[test]
    fn a_configured_window_too_long_is_corrected_by_retry_after() {
        // Exchange's published 10 minutes assumed; the tenant counts 40 per 2 s.
        let mut server = Server::new(40, Duration::from_secs(2));
        let mut pace = Pace::new(Some(MailboxBudget::EXCHANGE), 0.5, 200.0);
        let start = Instant::now();
        let end = drive(&mut pace, &mut server, 1_000, Duration::from_millis(10));
        let (budget, window) = pace.budget().unwrap();
        assert!(window <= Duration::from_secs(3), "{window:?}");
        assert!((30..=40).contains(&budget), "{budget}");
        assert!(server.refused <= 8, "{} refused", server.refused);
        // The window is rounded up to Retry-After's whole seconds: a little is lost.
        let share = share_of_budget(&server, start, end, 1_000);
        assert!(share >= 0.6, "{share:.2} of the budget used");
    }

    #[test]
    fn refusals_of_one_burst_teach_once_and_retry_after_blocks() {
        let mut pace = Pace::new(
            Some(MailboxBudget {
                requests: None,
                window: Duration::from_secs(10),
            }),
            0.5,
            200.0,
        );
        let t0 = Instant::now();
        for i in 0..12 {
            pace.try_start(t0 + Duration::from_millis(i * 10)).unwrap();
        }
        let sent = [
            t0 + Duration::from_millis(100),
            t0 + Duration::from_millis(110),
        ];
        let now = t0 + Duration::from_millis(130);
        pace.refused(now, sent[0], Refusal::Budget(Duration::from_secs(10)));
        assert_eq!(pace.budget().map(|b| b.0), Some(10));
        // A request sent before that lesson, refused too: same burst.
        pace.refused(now, sent[1], Refusal::Budget(Duration::from_secs(10)));
        assert_eq!(pace.budget().map(|b| b.0), Some(10));
        assert!(
            pace.rate().is_none(),
            "no adaptive pace with a known budget"
        );

        // Retry-After holds the mailbox exactly that long, whatever else allows.
        let mut pace = Pace::new(Some(MailboxBudget::EXCHANGE), 0.5, 200.0);
        let t0 = Instant::now();
        pace.try_start(t0).unwrap();
        pace.refused(t0, t0, Refusal::Other(Some(Duration::from_secs(3))));
        assert_eq!(
            pace.try_start(t0 + Duration::from_secs(2)),
            Err(t0 + Duration::from_secs(3))
        );
        assert!(pace.try_start(t0 + Duration::from_secs(3)).is_ok());
    }

    #[test]
    fn without_a_budget_the_pace_adapts() {
        let mut pace = Pace::new(None, 0.5, 200.0);
        let t0 = Instant::now();
        pace.try_start(t0).unwrap();
        pace.refused(t0, t0, Refusal::Budget(Duration::from_secs(1)));
        let first = pace.rate().expect("a refusal starts pacing");
        pace.refused(t0, t0, Refusal::Other(None));
        assert_eq!(pace.rate(), Some(first), "one burst lowers the pace once");
        assert!(pace.budget().is_none());
    }
}
