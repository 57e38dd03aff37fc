//! The dates of a recurring series, from Graph's `patternedRecurrence` (`pattern` +
//! `range`), as Exchange expands them for `calendarView` and `instances`: `daily`,
//! `weekly` (days of week, weeks counted from `firstDayOfWeek`), `absoluteMonthly`,
//! `relativeMonthly`, `absoluteYearly`, `relativeYearly`; ranges `endDate` (inclusive),
//! `numbered` (cancelled occurrences still count, as in Outlook) and `noEnd`.
//! Microsoft's pages: resources/patternedrecurrence.md, recurrencepattern.md,
//! recurrencerange.md.

use serde_json::Value;
use time::{Date, Month, Weekday};

/// Most occurrences one series expands to (a `noEnd` series over a wide window).
pub const MAX_OCCURRENCES: usize = 1000;

/// Why a recurrence cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("recurrence: {0}")]
pub struct RecurrenceError(pub String);

fn err(what: impl Into<String>) -> RecurrenceError {
    RecurrenceError(what.into())
}

/// A `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.get(..10)?, fmt).ok()
}

/// `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "sunday" => Weekday::Sunday,
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        _ => return None,
    })
}

fn month_len(d: Date) -> u8 {
    d.month().length(d.year())
}

fn months_between(a: Date, b: Date) -> i64 {
    (i64::from(b.year()) - i64::from(a.year())) * 12 + i64::from(u8::from(b.month()))
        - i64::from(u8::from(a.month()))
}

/// Whether `d` is the `index`th (`first` … `fourth`, `last`) of its weekday in its month.
fn nth_in_month(d: Date, index: &str) -> bool {
    let day = d.day();
    match index {
        "last" => day + 7 > month_len(d),
        "second" => (8..=14).contains(&day),
        "third" => (15..=21).contains(&day),
        "fourth" => (22..=28).contains(&day),
        _ => day <= 7,
    }
}

/// A parsed `patternedRecurrence`.
#[derive(Debug, Clone)]
pub struct Recurrence {
    kind: String,
    interval: i64,
    days: Vec<Weekday>,
    day_of_month: u8,
    month: Option<Month>,
    index: String,
    first_day: Weekday,
    start: Date,
    end: Option<Date>,
    count: Option<usize>,
}

impl Recurrence {
    /// Reads Graph's JSON; `first` is the series' start date (used when the pattern
    /// leaves the weekday or day of month out).
    pub fn parse(v: &Value, first: Date) -> Result<Recurrence, RecurrenceError> {
        let p = v.get("pattern").ok_or_else(|| err("no pattern"))?;
        let r = v.get("range").ok_or_else(|| err("no range"))?;
        let text = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let kind = text(p, "type");
        if ![
            "daily",
            "weekly",
            "absoluteMonthly",
            "relativeMonthly",
            "absoluteYearly",
            "relativeYearly",
        ]
        .contains(&kind.as_str())
        {
            return Err(err(format!("unknown pattern type '{kind}'")));
        }
        let interval = p.get("interval").and_then(Value::as_i64).unwrap_or(1);
        if interval < 1 {
            return Err(err("interval must be 1 or more"));
        }
        let mut days: Vec<Weekday> = p
            .get("daysOfWeek")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().and_then(weekday))
                    .collect()
            })
            .unwrap_or_default();
        if days.is_empty() {
            days.push(first.weekday());
        }
        let day_of_month = p
            .get("dayOfMonth")
            .and_then(Value::as_u64)
            .filter(|d| (1..=31).contains(d))
            .map_or(first.day(), |d| d as u8);
        let month = p
            .get("month")
            .and_then(Value::as_u64)
            .and_then(|m| Month::try_from(m as u8).ok())
            .or(Some(first.month()));
        let start = parse_date(&text(r, "startDate")).unwrap_or(first);
        let range_kind = text(r, "type");
        let end = match range_kind.as_str() {
            "endDate" => Some(
                parse_date(&text(r, "endDate"))
                    .ok_or_else(|| err("an endDate range needs an endDate"))?,
            ),
            _ => None,
        };
        let count = match range_kind.as_str() {
            "numbered" => Some(
                r.get("numberOfOccurrences")
                    .and_then(Value::as_u64)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err("a numbered range needs numberOfOccurrences > 0"))?
                    as usize,
            ),
            _ => None,
        };
        Ok(Recurrence {
            kind,
            interval,
            days,
            day_of_month,
            month,
            index: p
                .get("index")
                .and_then(Value::as_str)
                .unwrap_or("first")
                .to_string(),
            first_day: p
                .get("firstDayOfWeek")
                .and_then(Value::as_str)
                .and_then(weekday)
                .unwrap_or(Weekday::Sunday),
            start,
            end,
            count,
        })
    }

    fn week_start(&self, d: Date) -> Date {
        let back = (d.weekday().number_days_from_sunday() + 7
            - self.first_day.number_days_from_sunday())
            % 7;
        d - time::Duration::days(i64::from(back))
    }

    fn matches(&self, d: Date) -> bool {
        let months = months_between(self.start, d);
        match self.kind.as_str() {
            "daily" => (d - self.start).whole_days() % self.interval == 0,
            "weekly" => {
                let weeks = (self.week_start(d) - self.week_start(self.start)).whole_days() / 7;
                self.days.contains(&d.weekday()) && weeks % self.interval == 0
            }
            "absoluteMonthly" => d.day() == self.day_of_month && months % self.interval == 0,
            "relativeMonthly" => {
                self.days.contains(&d.weekday())
                    && nth_in_month(d, &self.index)
                    && months % self.interval == 0
            }
            "absoluteYearly" => {
                Some(d.month()) == self.month
                    && d.day() == self.day_of_month
                    && (months / 12) % self.interval == 0
            }
            "relativeYearly" => {
                Some(d.month()) == self.month
                    && self.days.contains(&d.weekday())
                    && nth_in_month(d, &self.index)
                    && (months / 12) % self.interval == 0
            }
            _ => false,
        }
    }

    /// The series' dates from its start up to `until` (inclusive), at most
    /// [`MAX_OCCURRENCES`].
    pub fn dates(&self, until: Date) -> Vec<Date> {
        let last = self.end.map_or(until, |e| e.min(until));
        let mut out = Vec::new();
        let mut d = self.start;
        let mut counted = 0;
        while d <= last && out.len() < MAX_OCCURRENCES {
            if self.matches(d) {
                counted += 1;
                if self.count.is_some_and(|n| counted > n) {
                    break;
                }
                out.push(d);
            }
            match d.next_day() {
                Some(n) => d = n,
                None => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dates(rec: Value, until: &str) -> Vec<String> {
        let first = parse_date(rec["range"]["startDate"].as_str().unwrap()).unwrap();
        Recurrence::parse(&rec, first)
            .unwrap()
            .dates(parse_date(until).unwrap())
            .into_iter()
            .map(format_date)
            .collect()
    }

    #[test]
    fn weekly_on_two_days_every_other_week_until_an_end_date() {
        // Microsoft's example: every other week on Monday and Thursday.
        let got = dates(
            json!({"pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "sunday"},
                   "range": {"type": "endDate", "startDate": "2026-01-05", "endDate": "2026-02-05"}}),
            "2100-01-01",
        );
        assert_eq!(
            got,
            [
                "2026-01-05",
                "2026-01-08",
                "2026-01-19",
                "2026-01-22",
                "2026-02-02",
                "2026-02-05"
            ]
        );
    }

    #[test]
    fn daily_numbered_and_monthly_patterns() {
        let got = dates(
            json!({"pattern": {"type": "daily", "interval": 3},
                   "range": {"type": "numbered", "startDate": "2026-01-30", "numberOfOccurrences": 4}}),
            "2100-01-01",
        );
        assert_eq!(
            got,
            ["2026-01-30", "2026-02-02", "2026-02-05", "2026-02-08"]
        );
        let got = dates(
            json!({"pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
                   "range": {"type": "endDate", "startDate": "2026-01-01", "endDate": "2026-05-31"}}),
            "2100-01-01",
        );
        // Months without a 31st have no occurrence.
        assert_eq!(got, ["2026-01-31", "2026-03-31", "2026-05-31"]);
        let got = dates(
            json!({"pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
                   "range": {"type": "numbered", "startDate": "2026-01-01", "numberOfOccurrences": 3}}),
            "2100-01-01",
        );
        assert_eq!(got, ["2026-01-30", "2026-02-27", "2026-03-27"]);
        let got = dates(
            json!({"pattern": {"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 14},
                   "range": {"type": "noEnd", "startDate": "2026-01-01"}}),
            "2028-12-31",
        );
        assert_eq!(got, ["2026-02-14", "2027-02-14", "2028-02-14"]);
    }

    #[test]
    fn no_end_is_bounded() {
        let got = dates(
            json!({"pattern": {"type": "daily", "interval": 1},
                   "range": {"type": "noEnd", "startDate": "1990-01-01"}}),
            "2100-01-01",
        );
        assert_eq!(got.len(), MAX_OCCURRENCES);
    }

    #[test]
    fn bad_recurrences_are_refused() {
        let first = parse_date("2026-01-01").unwrap();
        assert!(
            Recurrence::parse(&json!({"pattern": {"type": "hourly"}, "range": {}}), first).is_err()
        );
        assert!(
            Recurrence::parse(
                &json!({"pattern": {"type": "daily"}, "range": {"type": "endDate", "startDate": "2026-01-01"}}),
                first
            )
            .is_err()
        );
    }
}
