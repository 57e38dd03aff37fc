//! Recurring series of the calendar as Exchange keeps them: one series master (an event
//! with `recurrence`) plus its exceptions (occurrences changed on their own) and
//! cancelled occurrences. Occurrences are not stored: they are expanded from the
//! master's pattern when a `calendarView` or `instances` asks for a window, each with
//! `type` `occurrence` or `exception`, `seriesMasterId` and `originalStart`, as
//! Microsoft documents (resources/event.md, api/user-list-calendarview.md,
//! api/event-list-instances.md).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::Date;

use super::mailbox::{Entry, Kind, Mailbox, StoreError, change_key, item_id};
use super::recurrence::{Recurrence, format_date, parse_date};

/// Exceptions and cancellations of a series master.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Series {
    /// Changed occurrences by original date (`YYYY-MM-DD`, the master's time zone).
    pub exceptions: BTreeMap<String, Exception>,
    /// Cancelled occurrences: original date → change sequence number.
    pub cancelled: BTreeMap<String, u64>,
    /// Change sequence number of the last exception or cancellation.
    pub seq: u64,
    /// Bumped by every exception or cancellation (part of the master's changeKey:
    /// Exchange changes the master when one of its occurrences changes).
    pub version: u32,
}

/// One changed occurrence.
#[derive(Debug, Clone, Serialize)]
pub struct Exception {
    /// Properties that differ from the master (Graph JSON).
    pub patch: Value,
    /// Version (changeKey input).
    pub version: u32,
    /// Change sequence number.
    pub seq: u64,
}

/// One occurrence or exception of a series, expanded.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Graph id.
    pub id: String,
    /// Original date.
    pub date: String,
    /// Change sequence number (the master's, or the exception's).
    pub seq: u64,
    /// Start/end Unix seconds.
    pub window: (i64, i64),
    /// Graph JSON.
    pub json: Value,
}

/// Last date any series is expanded to.
fn horizon() -> Date {
    parse_date("2100-12-31").unwrap_or(Date::MAX)
}

/// A `dateTimeTimeZone`'s `dateTime` read as a naive wall time, Unix-like seconds.
fn wall_time(v: &Value, key: &str) -> Option<i64> {
    let s = v.get(key)?.get("dateTime")?.as_str()?;
    let s = s.split('.').next()?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, fmt)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// Graph's `dateTime` form (seven fractional digits) of a wall time.
fn graph_wall(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].0000000"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// `start` and `end` of an event's JSON moved by `secs` (same time zones).
pub fn shifted(json: &Value, secs: i64) -> Value {
    let mut out = json!({});
    for k in ["start", "end"] {
        if let Some(t) = wall_time(json, k) {
            out[k] = json!({"dateTime": graph_wall(t + secs), "timeZone": json[k]["timeZone"]});
        }
    }
    out
}

/// Whether an entry is a series master.
pub fn is_master(e: &Entry) -> bool {
    e.json.get("recurrence").is_some_and(|r| !r.is_null())
}

/// The id of the occurrence of `master` on `date`.
pub fn occurrence_id(m: &Mailbox, master: &str, date: &str) -> String {
    item_id(m.guid, &format!("occurrence/{master}/{date}"))
}

impl Mailbox {
    /// Every pattern date of a master, cancelled ones included, with (wall-time offset
    /// from UTC, time of day, duration) in seconds.
    fn pattern(&self, e: &Entry) -> Option<(Vec<Date>, i64, i64, i64)> {
        let (utc_start, utc_end) = e.window?;
        let wall = wall_time(&e.json, "start")?;
        let first = Date::from_julian_day((wall.div_euclid(86_400) + 2_440_588) as i32).ok()?;
        let rec = Recurrence::parse(e.json.get("recurrence")?, first).ok()?;
        Some((
            rec.dates(horizon()),
            wall - utc_start,
            wall.rem_euclid(86_400),
            utc_end - utc_start,
        ))
    }

    /// The occurrences and exceptions of a series master (cancelled ones left out).
    pub fn instances(&self, e: &Entry) -> Vec<Instance> {
        let Some((dates, offset, tod, duration)) = self.pattern(e) else {
            return Vec::new();
        };
        let mut base = e.json.clone();
        if let Some(obj) = base.as_object_mut() {
            obj.remove("recurrence");
        }
        let zone = e.json["start"]["timeZone"].clone();
        let end_zone = e.json["end"]["timeZone"].clone();
        let mut out = Vec::with_capacity(dates.len());
        for d in dates {
            let date = format_date(d);
            if e.series.cancelled.contains_key(&date) {
                continue;
            }
            let day = i64::from(d.to_julian_day()) - 2_440_588;
            let start_wall = day * 86_400 + tod;
            let original = start_wall - offset;
            let id = occurrence_id(self, &e.id, &date);
            let mut json = base.clone();
            let mut window = (original, original + duration);
            let (kind, seq, version) = match e.series.exceptions.get(&date) {
                Some(x) => {
                    if let (Some(obj), Some(p)) = (json.as_object_mut(), x.patch.as_object()) {
                        for (k, v) in p {
                            obj.insert(k.clone(), v.clone());
                        }
                    }
                    if let (Some(s), Some(en)) =
                        (wall_time(&json, "start"), wall_time(&json, "end"))
                    {
                        window = (s - offset, en - offset);
                    }
                    ("exception", x.seq.max(e.seq), e.version + x.version)
                }
                None => {
                    json["start"] = json!({"dateTime": graph_wall(start_wall), "timeZone": zone});
                    json["end"] = json!({"dateTime": graph_wall(start_wall + duration), "timeZone": end_zone});
                    ("occurrence", e.seq, e.version)
                }
            };
            let mut map = Map::new();
            let ck = change_key(&id, version);
            map.insert("@odata.etag".into(), json!(format!("W/\"{ck}\"")));
            map.insert("id".into(), json!(id));
            map.insert("changeKey".into(), json!(ck));
            map.insert("type".into(), json!(kind));
            map.insert("seriesMasterId".into(), json!(e.id));
            map.insert(
                "originalStart".into(),
                json!(super::message::graph_time(original)),
            );
            map.insert("originalStartTimeZone".into(), zone.clone());
            map.insert("recurrence".into(), Value::Null);
            if let Some(uid) = e.json.get("iCalUId").and_then(Value::as_str) {
                // Each occurrence has its own iCalUId (resources/event.md).
                map.insert(
                    "iCalUId".into(),
                    json!(format!("{uid}{}", date.replace('-', ""))),
                );
            }
            let t = super::message::graph_time(cairn_mailgen::DEFAULT_START + 60 * seq as i64);
            map.insert("createdDateTime".into(), json!(t));
            map.insert("lastModifiedDateTime".into(), json!(t));
            if let Some(obj) = json.as_object() {
                for (k, v) in obj {
                    map.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            out.push(Instance {
                id,
                date,
                seq,
                window,
                json: Value::Object(map),
            });
        }
        out
    }

    /// What `calendarView` shows over `start`..`end`: single instances, occurrences and
    /// exceptions that overlap it (series masters themselves are not shown).
    pub fn calendar_view(&self, start: i64, end: i64) -> Vec<(u64, String, Value)> {
        let overlaps = |(s, en): (i64, i64)| s < end && en > start;
        let mut out = Vec::new();
        for e in self.events.values() {
            if is_master(e) {
                for i in self.instances(e) {
                    if overlaps(i.window) {
                        out.push((i.seq, i.id, i.json));
                    }
                }
            } else if e.window.is_none_or(overlaps) {
                out.push((e.seq, e.id.clone(), self.entry_json(e, Kind::Event)));
            }
        }
        out
    }

    /// The master and date of occurrence `id`, if it is one (cancelled ones included).
    pub fn find_occurrence(&self, id: &str) -> Option<(String, String)> {
        self.events.values().filter(|e| is_master(e)).find_map(|e| {
            let (dates, ..) = self.pattern(e)?;
            dates
                .into_iter()
                .map(format_date)
                .find_map(|d| (occurrence_id(self, &e.id, &d) == id).then(|| (e.id.clone(), d)))
        })
    }

    /// Any event by id: a single instance or master, or an occurrence or exception.
    pub fn event_json(&self, id: &str) -> Option<Value> {
        if let Some(e) = self.events.get(id) {
            return Some(self.entry_json(e, Kind::Event));
        }
        let (master, _) = self.find_occurrence(id)?;
        let e = self.events.get(&master)?;
        self.instances(e)
            .into_iter()
            .find(|i| i.id == id)
            .map(|i| i.json)
    }

    /// Ids of the occurrences and exceptions a master shows now.
    pub fn instance_ids(&self, id: &str) -> Vec<String> {
        self.events
            .get(id)
            .filter(|e| is_master(e))
            .map(|e| self.instances(e).into_iter().map(|i| i.id).collect())
            .unwrap_or_default()
    }

    /// Records that instances of a series are gone from the calendar view.
    pub(super) fn log_instances_gone(&mut self, ids: Vec<String>) {
        let calendar = self.calendar_id();
        for id in ids {
            self.log_removal(Kind::Event, &calendar, &id);
        }
    }

    /// Changes one occurrence (it becomes, or stays, an exception), as a PATCH of an
    /// occurrence does in Graph.
    pub(super) fn edit_occurrence(
        &mut self,
        master: &str,
        date: &str,
        patch: Value,
    ) -> Result<(), StoreError> {
        let seq = self.next_seq();
        let e = self
            .events
            .get_mut(master)
            .ok_or_else(|| StoreError::NoItem(master.into()))?;
        if e.series.cancelled.contains_key(date) {
            return Err(StoreError::NoItem(format!(
                "{master} on {date} (cancelled)"
            )));
        }
        let x = e.series.exceptions.entry(date.into()).or_insert(Exception {
            patch: json!({}),
            version: 0,
            seq,
        });
        if let (Some(base), Value::Object(p)) = (x.patch.as_object_mut(), patch) {
            for (k, v) in p {
                if !["id", "changeKey", "type", "seriesMasterId", "recurrence"]
                    .contains(&k.as_str())
                {
                    base.insert(k, v);
                }
            }
        }
        x.version += 1;
        x.seq = seq;
        e.series.version += 1;
        e.series.seq = seq;
        Ok(())
    }

    /// Cancels one occurrence, as a DELETE of an occurrence does in Graph: it leaves
    /// the calendar view, and the master records it.
    pub(super) fn cancel_occurrence(&mut self, master: &str, date: &str) -> Result<(), StoreError> {
        let id = occurrence_id(self, master, date);
        let seq = self.next_seq();
        let e = self
            .events
            .get_mut(master)
            .ok_or_else(|| StoreError::NoItem(master.into()))?;
        if e.series.cancelled.contains_key(date) {
            return Err(StoreError::NoItem(format!("{id} (already cancelled)")));
        }
        e.series.exceptions.remove(date);
        e.series.cancelled.insert(date.into(), seq);
        e.series.version += 1;
        e.series.seq = seq;
        self.log_instances_gone(vec![id]);
        Ok(())
    }

    /// The ids Graph's beta `cancelledOccurrences` / `exceptionOccurrences` name for a
    /// master (`OID.{master}.{date}` and the exceptions' ids).
    pub fn series_ids(&self, e: &Entry) -> (Vec<String>, Vec<String>) {
        let cancelled = e
            .series
            .cancelled
            .keys()
            .map(|d| format!("OID.{}.{d}", e.id))
            .collect();
        let exceptions = e
            .series
            .exceptions
            .keys()
            .map(|d| occurrence_id(self, &e.id, d))
            .collect();
        (cancelled, exceptions)
    }
}
