//! Calendar events: Graph `event` resources (serialised exactly in Graph's JSON shape)
//! and their iCalendar form for meeting-request mail (text/calendar; method=REQUEST).
//!
//! Time zones are fixed standard offsets (no daylight saving rules): the point is that
//! `dateTime`/`timeZone` pairs differ between events, not calendrical exactness.

use serde::Serialize;

use crate::encode::{civil_from_days, graph_datetime};
use crate::people::Person;
use crate::rng::{Stream, derive, tag};
use crate::spec::CorpusSpec;

/// Graph `dateTimeTimeZone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeTimeZone {
    /// Local wall time in `time_zone`, `2026-01-05T09:00:00.0000000`.
    pub date_time: String,
    /// Windows time zone name, e.g. `W. Europe Standard Time`.
    pub time_zone: String,
}

/// Graph `itemBody`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemBody {
    /// `text` or `html`.
    pub content_type: String,
    /// The body.
    pub content: String,
}

/// Graph `emailAddress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailAddress {
    /// Display name.
    pub name: String,
    /// SMTP address.
    pub address: String,
}

impl From<&Person> for EmailAddress {
    fn from(p: &Person) -> Self {
        Self {
            name: p.name.clone(),
            address: p.address.clone(),
        }
    }
}

/// Graph `recipient` (organizer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// The address.
    pub email_address: EmailAddress,
}

/// Graph `responseStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseStatus {
    /// `none`, `accepted`, `tentativelyAccepted`, `declined`, `notResponded`, `organizer`.
    pub response: String,
    /// When the response was given (`0001-01-01T00:00:00Z` for none).
    pub time: String,
}

/// Graph `attendee`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    /// `required`, `optional` or `resource`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Response.
    pub status: ResponseStatus,
    /// The attendee.
    pub email_address: EmailAddress,
}

/// Graph `location`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Display name.
    pub display_name: String,
}

/// Graph `recurrencePattern`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecurrencePattern {
    /// `daily`, `weekly`, `absoluteMonthly`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Every `interval` days/weeks/months.
    pub interval: u32,
    /// For weekly patterns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days_of_week: Vec<String>,
    /// For absoluteMonthly patterns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day_of_month: Option<u32>,
    /// `sunday` as in Graph's default.
    pub first_day_of_week: String,
}

/// Graph `recurrenceRange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecurrenceRange {
    /// `endDate` or `numbered`.
    #[serde(rename = "type")]
    pub kind: String,
    /// First date, `2026-01-05`.
    pub start_date: String,
    /// Last date (endDate ranges), else `0001-01-01` as Graph returns it.
    pub end_date: String,
    /// Occurrences (numbered ranges), else 0.
    pub number_of_occurrences: u32,
    /// Time zone of the dates.
    pub recurrence_time_zone: String,
}

/// Graph `patternedRecurrence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recurrence {
    /// The pattern.
    pub pattern: RecurrencePattern,
    /// The range.
    pub range: RecurrenceRange,
}

/// A Graph `event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Globally unique, stable (also the iCalendar UID).
    #[serde(rename = "iCalUId")]
    pub ical_uid: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: ItemBody,
    /// Start.
    pub start: DateTimeTimeZone,
    /// End.
    pub end: DateTimeTimeZone,
    /// All-day event (start and end at midnight).
    pub is_all_day: bool,
    /// Location.
    pub location: Location,
    /// Attendees.
    pub attendees: Vec<Attendee>,
    /// Organizer.
    pub organizer: Recipient,
    /// Recurrence, for series masters.
    pub recurrence: Option<Recurrence>,
    /// Categories.
    pub categories: Vec<String>,
    /// `low`, `normal`, `high`.
    pub importance: String,
    /// `free`, `tentative`, `busy`, `oof`, `workingElsewhere`.
    pub show_as: String,
    /// `normal`, `private`, ….
    pub sensitivity: String,
    /// Has a Teams link.
    pub is_online_meeting: bool,
    /// Reminder on.
    pub is_reminder_on: bool,
    /// Reminder lead time.
    pub reminder_minutes_before_start: u32,
    /// Start, Unix seconds UTC (not part of Graph's shape).
    #[serde(skip)]
    pub start_utc: i64,
    /// End, Unix seconds UTC (not part of Graph's shape).
    #[serde(skip)]
    pub end_utc: i64,
}

const ZONES: &[(&str, i64)] = &[
    ("UTC", 0),
    ("W. Europe Standard Time", 60),
    ("GMT Standard Time", 0),
    ("Eastern Standard Time", -300),
    ("Pacific Standard Time", -480),
    ("Tokyo Standard Time", 540),
    ("India Standard Time", 330),
];

const EVENT_SUBJECTS: &[&str] = &[
    "Weekly team sync",
    "1:1",
    "Sprint planning",
    "Customer call – Fabrikam",
    "Quarterly business review",
    "Lunch & learn: Exchange Online",
    "Interview: Senior Engineer",
    "Budget workshop",
    "Offsite planning",
    "Jour fixe Vertrieb (Größenplanung)",
    "Réunion mensuelle",
    "定例会議",
    "Dentist",
];

const LOCATIONS: &[&str] = &[
    "Microsoft Teams Meeting",
    "Conference Room 4/1",
    "Room-1",
    "Café Zürich",
    "Building 92, Room 1402",
    "",
];

const CATEGORIES: &[&str] = &[
    "Blue category",
    "Red category",
    "Project Falcon",
    "Kategorie Grün",
];

/// Event `j` of mailbox `m`.
pub(crate) fn event(spec: &CorpusSpec, m: usize, j: u64) -> Event {
    let span_days = (spec
        .messages_per_mailbox
        .max(1)
        .saturating_mul(spec.mean_interval_secs)
        / 86_400)
        .clamp(30, 365 * 1000);
    let per = spec.events_per_mailbox.max(1);
    // Events spread over the mail's time span; indexes beyond the count keep going.
    let offset_days =
        (u128::from(j) * u128::from(span_days) / u128::from(per)).min(3_000_000) as i64;
    let day = spec.start.div_euclid(86_400) + offset_days;
    build(spec, m, &[tag::EVENTS, m as u64, j], day)
}

/// The event a meeting request sent at `sent` (message `idx` of mailbox `m`) proposes:
/// a few days later.
pub(crate) fn invitation(spec: &CorpusSpec, m: usize, idx: u64, sent: i64) -> Event {
    build(
        spec,
        m,
        &[tag::EVENTS, m as u64, idx, 1],
        sent.div_euclid(86_400) + 2,
    )
}

/// An event on or up to two days after `day` (days since 1970), drawn from `path`.
fn build(spec: &CorpusSpec, m: usize, path: &[u64], day: i64) -> Event {
    let mut s = Stream::new(spec.seed, path);
    let owner: Person = spec
        .mailboxes
        .get(m)
        .map(Person::from)
        .unwrap_or_else(|| Person::new("", "user@contoso.com"));
    let day = day + s.below(3) as i64;
    let (zone, offset_min) = ZONES
        .get(s.index(ZONES.len()))
        .copied()
        .unwrap_or(("UTC", 0));
    let all_day = s.chance(0.1);
    let (start_utc, end_utc, zone, offset_min) = if all_day {
        (
            day * 86_400,
            (day + 1 + s.below(2) as i64) * 86_400,
            "UTC",
            0,
        )
    } else {
        // Working hours in the event's own zone.
        let local_start = day * 86_400 + (8 * 3600 + s.below(18) as i64 * 1800);
        let dur = [1800, 3600, 3600, 5400, 7200][s.index(5)];
        let start = local_start - offset_min * 60;
        (start, start + dur, zone, offset_min)
    };
    let organizer_is_owner = s.chance(0.6);
    let organizer = if organizer_is_owner {
        owner.clone()
    } else {
        spec.mailboxes
            .get(s.index(spec.mailboxes.len()))
            .map(Person::from)
            .unwrap_or_else(|| owner.clone())
    };
    let mut attendees = Vec::new();
    for k in 0..s.below(6) {
        let p = if s.chance(0.6) {
            spec.mailboxes
                .get(s.index(spec.mailboxes.len()))
                .map(Person::from)
                .unwrap_or_else(|| owner.clone())
        } else {
            crate::people::external(spec.seed, s.below(256) + k)
        };
        if p.address == organizer.address
            || attendees
                .iter()
                .any(|a: &Attendee| a.email_address.address == p.address)
        {
            continue;
        }
        attendees.push(Attendee {
            kind: if s.chance(0.8) {
                "required"
            } else {
                "optional"
            }
            .into(),
            status: ResponseStatus {
                response: s
                    .pick(&["none", "accepted", "tentativelyAccepted", "declined"])
                    .into(),
                time: "0001-01-01T00:00:00Z".into(),
            },
            email_address: (&p).into(),
        });
    }
    let recurrence = s
        .chance(0.15)
        .then(|| recurrence(&mut s, start_utc + offset_min * 60, zone));
    let subject = s.pick(EVENT_SUBJECTS).to_string();
    let location = s.pick(LOCATIONS).to_string();
    let online = location.contains("Teams");
    let body = format!(
        "<html><body><p>{}</p>{}</body></html>",
        crate::text::wrap(&subject, 80),
        if online {
            "<p>Join the meeting now: https://teams.microsoft.com/l/meetup-join/19%3ameeting</p>"
        } else {
            ""
        }
    );
    let mut categories = Vec::new();
    if s.chance(0.25) {
        categories.push(s.pick(CATEGORIES).to_string());
    }
    Event {
        // Outlook's GlobalObjectId prefix, then a per-event hash.
        ical_uid: format!(
            "040000008200E00074C5B7101A82E008{:016X}{:016X}",
            derive(spec.seed, path),
            day
        ),
        subject,
        body: ItemBody {
            content_type: "html".into(),
            content: body,
        },
        start: DateTimeTimeZone {
            date_time: graph_datetime(start_utc + offset_min * 60),
            time_zone: zone.into(),
        },
        end: DateTimeTimeZone {
            date_time: graph_datetime(end_utc + offset_min * 60),
            time_zone: zone.into(),
        },
        is_all_day: all_day,
        location: Location {
            display_name: location,
        },
        attendees,
        organizer: Recipient {
            email_address: (&organizer).into(),
        },
        recurrence,
        categories,
        importance: s
            .pick(&["normal", "normal", "normal", "high", "low"])
            .into(),
        show_as: s
            .pick(&[
                "busy",
                "busy",
                "busy",
                "tentative",
                "free",
                "oof",
                "workingElsewhere",
            ])
            .into(),
        sensitivity: s.pick(&["normal", "normal", "normal", "private"]).into(),
        is_online_meeting: online,
        is_reminder_on: !all_day,
        reminder_minutes_before_start: if all_day { 1080 } else { 15 },
        start_utc,
        end_utc,
    }
}

fn date_only(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

fn recurrence(s: &mut Stream, local_start: i64, zone: &str) -> Recurrence {
    const DOW: [&str; 7] = [
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
    ];
    let day = local_start.div_euclid(86_400);
    let weekday = DOW[day.rem_euclid(7) as usize].to_string();
    let (kind, days_of_week, day_of_month) = match s.below(3) {
        0 => ("daily", vec![], None),
        1 => ("weekly", vec![weekday], None),
        _ => (
            "absoluteMonthly",
            vec![],
            Some(civil_from_days(day).2 as u32),
        ),
    };
    let numbered = s.chance(0.5);
    Recurrence {
        pattern: RecurrencePattern {
            kind: kind.into(),
            interval: [1, 1, 2][s.index(3)],
            days_of_week,
            day_of_month,
            first_day_of_week: "sunday".into(),
        },
        range: RecurrenceRange {
            kind: if numbered { "numbered" } else { "endDate" }.into(),
            start_date: date_only(local_start),
            end_date: if numbered {
                "0001-01-01".into()
            } else {
                date_only(local_start + 180 * 86_400)
            },
            number_of_occurrences: if numbered { s.range(3, 20) as u32 } else { 0 },
            recurrence_time_zone: zone.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_in_graph_shape() {
        let spec = CorpusSpec::small();
        let e = event(&spec, 0, 3);
        let v = serde_json::to_value(&e).unwrap();
        assert!(v["start"]["dateTime"].is_string());
        assert!(v["start"]["timeZone"].is_string());
        assert!(v["organizer"]["emailAddress"]["address"].is_string());
        assert!(v.get("isAllDay").is_some());
        assert!(v.get("iCalUId").is_some());
        assert!(v.get("start_utc").is_none());
        assert_eq!(e, event(&spec, 0, 3));
        let ics = e.to_ics("REQUEST", spec.start);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\n"));
        assert!(ics.lines().all(|l| l.len() <= 75));
        assert!(ics.contains("BEGIN:VEVENT") && ics.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn some_events_recur_and_some_are_all_day() {
        let spec = CorpusSpec::small();
        let evs: Vec<_> = (0..200).map(|j| event(&spec, 1, j)).collect();
        assert!(evs.iter().any(|e| e.recurrence.is_some()));
        assert!(evs.iter().any(|e| e.is_all_day));
        assert!(evs.iter().all(|e| e.end_utc > e.start_utc));
    }
}
