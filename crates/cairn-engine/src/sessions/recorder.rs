//! Turns a runner's progress events into the session's catalog record: live counters
//! (written at most once a second, and at each finished object), per-object results,
//! and warnings with the item they concern.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use cairn_catalog::Catalog;
use cairn_catalog::sessions::{self as table, SessionCounters, SessionMessage, SessionObject};

use super::{SessionError, now, status};
use crate::backup::{ObjectId, ObjectResult, Outcome, ProgressEvent, SessionOutcome};

/// Live totals of a running session, for progress displays.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live {
    pub counters: SessionCounters,
    pub elapsed: Duration,
}

const FLUSH_EVERY: Duration = Duration::from_secs(1);

pub(super) struct Recorder {
    catalog: Catalog,
    session: String,
    live: Live,
    last_flush: Option<Instant>,
    /// (object name, message) already recorded, so an object's final result does not
    /// repeat the warnings sent while it ran.
    seen: HashSet<(String, String)>,
    /// Objects finished at least once (the runner reports each retry's result too).
    finished: HashSet<ObjectId>,
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Warning => "warning",
        Outcome::Failed => "failed",
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn object_row(r: &ObjectResult) -> SessionObject {
    SessionObject {
        object_id: r.object.id.clone(),
        kind: r.object.kind.clone(),
        name: r.object.name.clone(),
        outcome: outcome_name(r.outcome).into(),
        items: r.items,
        new_versions: r.new_versions,
        deletions: r.deletions,
        bytes_read: r.bytes_read,
        bytes_stored: r.bytes_stored,
        restore_point: r.restore_point.clone(),
    }
}

impl Recorder {
    pub(super) fn new(catalog: Catalog, session: String) -> Self {
        Self {
            catalog,
            session,
            live: Live::default(),
            last_flush: None,
            seen: HashSet::new(),
            finished: HashSet::new(),
        }
    }

    pub(super) fn live(&self) -> &Live {
        &self.live
    }

    async fn message(
        &mut self,
        severity: &str,
        object: Option<&str>,
        item: Option<&str>,
        message: &str,
    ) -> Result<(), SessionError> {
        self.seen
            .insert((object.unwrap_or_default().to_owned(), message.to_owned()));
        table::add_message(
            &self.catalog,
            &self.session,
            &SessionMessage {
                at: now(),
                severity: severity.into(),
                object: object.map(str::to_owned),
                item: item.map(str::to_owned),
                message: message.to_owned(),
            },
        )
        .await?;
        Ok(())
    }

    async fn record_object(&mut self, r: &ObjectResult) -> Result<(), SessionError> {
        table::put_object(&self.catalog, &self.session, &object_row(r)).await?;
        let severity = if r.outcome == Outcome::Failed {
            "error"
        } else {
            "warning"
        };
        for m in &r.messages {
            let already = self
                .seen
                .iter()
                .any(|(o, s)| o == &r.object.name && (m == s || m.contains(s.as_str())));
            if !already {
                self.message(severity, Some(&r.object.name), None, m)
                    .await?;
            }
        }
        Ok(())
    }

    pub(super) async fn event(
        &mut self,
        event: &ProgressEvent,
        elapsed: Duration,
    ) -> Result<(), SessionError> {
        self.live.elapsed = elapsed;
        let c = &mut self.live.counters;
        c.duration_ms = millis(elapsed);
        let mut flush_now = false;
        match event {
            ProgressEvent::Discovered { objects } => {
                c.objects_total = *objects as u64;
                flush_now = true;
            }
            ProgressEvent::ObjectStarted { .. } => {}
            ProgressEvent::Items {
                items,
                bytes_read,
                bytes_stored,
                ..
            } => {
                c.items += items;
                c.bytes_read += bytes_read;
                c.bytes_stored += bytes_stored;
            }
            ProgressEvent::Throttled { retry_after, .. } => {
                c.throttled_ms += millis(*retry_after);
                c.throttled_requests += 1;
            }
            ProgressEvent::Warning {
                object,
                item,
                message,
            } => {
                let name = object.name.clone();
                self.message("warning", Some(&name), item.as_deref(), message)
                    .await?;
            }
            ProgressEvent::ObjectFinished { result } => {
                self.finished.insert(result.object.clone());
                self.live.counters.objects_done = self.finished.len() as u64;
                self.record_object(result).await?;
                flush_now = true;
            }
        }
        if flush_now || self.last_flush.is_none_or(|t| t.elapsed() >= FLUSH_EVERY) {
            table::update_counters(&self.catalog, &self.session, &self.live.counters, &now())
                .await?;
            self.last_flush = Some(Instant::now());
        }
        Ok(())
    }

    /// Records the runner's outcome: its totals replace the live estimates.
    pub(super) async fn finish(&mut self, o: &SessionOutcome) -> Result<(), SessionError> {
        for r in &o.objects {
            self.record_object(r).await?;
        }
        // Session-level problems of a session that still succeeded overall (e.g. a
        // selected mailbox that no longer exists) are warnings.
        let severity = if o.outcome == Outcome::Failed {
            "error"
        } else {
            "warning"
        };
        for e in &o.errors {
            self.message(severity, None, None, e).await?;
        }
        let c = &mut self.live.counters;
        c.objects_total = c.objects_total.max(o.objects.len() as u64);
        c.objects_done = o.objects.len() as u64;
        c.items = o.items;
        c.bytes_read = o.bytes_read;
        c.bytes_stored = o.bytes_stored;
        c.duration_ms = millis(o.duration);
        c.throttled_ms = millis(o.throttled);
        c.target_wait_ms = millis(o.target_wait);
        c.requests = o.requests;
        c.throttled_requests = o.throttled_requests;
        let st = if o.stopped {
            status::STOPPED
        } else {
            match o.outcome {
                Outcome::Success => status::SUCCESS,
                Outcome::Warning => status::WARNING,
                Outcome::Failed => status::FAILED,
            }
        };
        table::finish(
            &self.catalog,
            &self.session,
            st,
            &self.live.counters,
            &now(),
        )
        .await?;
        Ok(())
    }

    /// Records a run that failed as a whole.
    pub(super) async fn fail(
        &mut self,
        error: &str,
        elapsed: Duration,
    ) -> Result<(), SessionError> {
        self.message("error", None, None, error).await?;
        self.live.counters.duration_ms = millis(elapsed);
        table::finish(
            &self.catalog,
            &self.session,
            status::FAILED,
            &self.live.counters,
            &now(),
        )
        .await?;
        Ok(())
    }
}
