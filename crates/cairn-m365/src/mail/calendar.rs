//! The calendar as a backup must keep it: series masters with their recurrence, their
//! exceptions and cancelled occurrences, and single instances — not the occurrences a
//! calendar view expands, which a restore would turn into unrelated single events.
//!
//! Graph v1.0 tracks events only through `calendarView/delta`, which answers single
//! instances, occurrences and exceptions but never the series master
//! (api/event-delta.md; concepts/delta-query-events.md). Beta's `events/delta` answers
//! single instances and series masters, each with only `id`, `type`, `start` and `end`,
//! and asks the client to `GET /events/{id}` for the rest (api/event-delta.md, beta).
//! So a calendar round is beta `events/delta`, and every item of its pages is replaced
//! by the whole event before the page is handed on: a master gets its exceptions (full
//! events) under `exceptionOccurrences` and the ids of its cancelled occurrences under
//! `cancelledOccurrences`, from beta's properties of those names.

use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::{MailClient, segment};
use crate::error::Result;

/// Events fetched at once while a page is completed (the throttle still caps what a
/// mailbox sees).
const FETCH_PARALLEL: usize = 4;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SeriesIds {
    #[serde(default)]
    cancelled_occurrences: Vec<String>,
    #[serde(default)]
    exception_occurrences: Vec<String>,
}

/// The user segment of a beta `…/users/{user}/events/delta` URL (a start URL, nextLink
/// or deltaLink of a calendar round).
pub(crate) fn events_delta_user(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let segments: Vec<&str> = url.path_segments()?.collect();
    match segments.as_slice() {
        ["beta", "users", user, "events", delta] if delta.starts_with("delta") => {
            Some((*user).to_owned())
        }
        _ => None,
    }
}

impl MailClient {
    /// Start URL of a calendar round for backup: beta `events/delta` of the user's
    /// mailbox (single instances and series masters, whatever their dates), only
    /// events starting on or after `start` (ISO 8601). `_end` is unused: a master's
    /// occurrences may run past any end; kept so callers need not change.
    pub fn calendar_delta_url(&self, user: &str, start: &str, _end: &str) -> String {
        self.beta(&format!(
            "/users/{}/events/delta?startDateTime={start}",
            segment(user)
        ))
    }

    /// One whole event (v1.0), or `None` when it is gone.
    pub async fn event(&self, user: &str, id: &str) -> Result<Option<Value>> {
        self.fetch_event(user, &segment(user), id).await
    }

    /// An event as a backup keeps it: the whole event, and for a series master its
    /// exceptions (whole events, `exceptionOccurrences`) and the ids of its cancelled
    /// occurrences (`cancelledOccurrences`). `None` when it is gone meanwhile (the next
    /// round reports the removal).
    pub async fn event_for_backup(&self, user: &str, id: &str) -> Result<Option<Value>> {
        self.series_event(user, &segment(user), id).await
    }

    /// `key`: the throttle's mailbox key; `user`: the URL path segment.
    async fn fetch_event(&self, key: &str, user: &str, id: &str) -> Result<Option<Value>> {
        let url = self.v1(&format!("/users/{user}/events/{}", segment(id)));
        match self.get_json::<Value>(key, &url, None).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.service().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn series_event(&self, key: &str, user: &str, id: &str) -> Result<Option<Value>> {
        let Some(mut event) = self.fetch_event(key, user, id).await? else {
            return Ok(None);
        };
        if event.get("type").and_then(Value::as_str) != Some("seriesMaster") {
            return Ok(Some(event));
        }
        let url = self.beta(&format!(
            "/users/{user}/events/{}?$select=cancelledOccurrences,exceptionOccurrences",
            segment(id)
        ));
        let ids: SeriesIds = match self.get_json(key, &url, None).await {
            Ok(ids) => ids,
            Err(e) if e.service().is_some_and(|s| s.is_not_found()) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut exceptions = Vec::with_capacity(ids.exception_occurrences.len());
        for x in &ids.exception_occurrences {
            if let Some(v) = self.fetch_event(key, user, x).await? {
                exceptions.push(v);
            }
        }
        event["exceptionOccurrences"] = Value::Array(exceptions);
        event["cancelledOccurrences"] = serde_json::json!(ids.cancelled_occurrences);
        Ok(Some(event))
    }

    /// Replaces the items of an `events/delta` page (`raw`, Graph's JSON) by whole
    /// events; items gone meanwhile are left out.
    pub(crate) async fn complete_events_page(
        &self,
        key: &str,
        user: &str,
        raw: &mut Value,
    ) -> Result<()> {
        let Some(items) = raw.get_mut("value").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        let taken = std::mem::take(items);
        let done: Vec<Option<Value>> = futures::stream::iter(taken)
            .map(|item| async move {
                if item.get("@removed").is_some() {
                    return Ok(Some(item));
                }
                match item.get("id").and_then(Value::as_str) {
                    Some(id) => self.series_event(key, user, id).await,
                    None => Ok(Some(item)),
                }
            })
            .buffered(FETCH_PARALLEL)
            .try_collect()
            .await?;
        *items = done.into_iter().flatten().collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_calendar_rounds() {
        for url in [
            "https://graph.microsoft.com/beta/users/u%40x.com/events/delta?startDateTime=1970-01-01T00:00:00Z",
            "https://graph.microsoft.us/beta/users/abc/events/delta?$skiptoken=T",
            "https://graph.microsoft.com/beta/users/abc/events/delta()?$deltatoken=T",
        ] {
            assert!(events_delta_user(url).is_some(), "{url}");
        }
        assert_eq!(
            events_delta_user("https://graph.microsoft.com/beta/users/u%40x.com/events/delta")
                .as_deref(),
            Some("u%40x.com")
        );
        for url in [
            "https://graph.microsoft.com/v1.0/users/abc/calendarView/delta?$skiptoken=T",
            "https://graph.microsoft.com/v1.0/users/abc/mailFolders/f/messages/delta",
            "https://graph.microsoft.com/beta/users/abc/events/e1",
        ] {
            assert!(events_delta_user(url).is_none(), "{url}");
        }
    }
}
