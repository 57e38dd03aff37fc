//! When a job runs by itself: daily at a time on chosen days, or every N minutes/hours
//! within allowed hours, or never (manual). Pure functions of a clock value so the
//! scheduler is tested with fixed times; the wall clock is the server's local time.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

use super::JobError;

/// A job's schedule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Schedule {
    /// Runs only when started by hand.
    #[default]
    Manual,
    /// At `hour:minute` on `days` (every day when empty).
    Daily {
        hour: u32,
        minute: u32,
        days: BTreeSet<Day>,
    },
    /// Every `minutes`, only within `allowed` hours when set.
    Periodic {
        minutes: u32,
        allowed: Option<AllowedHours>,
    },
}

/// A day of the week (serialized `mon` … `sun`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    const ALL: [(Day, &'static str); 7] = [
        (Day::Mon, "mon"),
        (Day::Tue, "tue"),
        (Day::Wed, "wed"),
        (Day::Thu, "thu"),
        (Day::Fri, "fri"),
        (Day::Sat, "sat"),
        (Day::Sun, "sun"),
    ];

    fn weekday(self) -> Weekday {
        match self {
            Day::Mon => Weekday::Mon,
            Day::Tue => Weekday::Tue,
            Day::Wed => Weekday::Wed,
            Day::Thu => Weekday::Thu,
            Day::Fri => Weekday::Fri,
            Day::Sat => Weekday::Sat,
            Day::Sun => Weekday::Sun,
        }
    }

    pub fn name(self) -> &'static str {
        Day::ALL
            .iter()
            .find(|(d, _)| *d == self)
            .map_or("?", |(_, n)| n)
    }
}

/// Hours of the day a periodic job may start in: `from`..`to` (hours 0–23, `to`
/// exclusive, wrapping past midnight when `from > to`, e.g. 20-06).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct AllowedHours {
    pub from: u32,
    pub to: u32,
}

impl AllowedHours {
    pub fn contains(&self, hour: u32) -> bool {
        if self.from < self.to {
            (self.from..self.to).contains(&hour)
        } else {
            hour >= self.from || hour < self.to
        }
    }
}

/// Parses `HH:MM` (24-hour).
pub fn parse_time(s: &str) -> Result<(u32, u32), JobError> {
    let bad = || {
        JobError::Invalid(format!(
            "bad time {s:?}: give the time of day as HH:MM (24-hour), e.g. 22:00"
        ))
    };
    let t = NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| bad())?;
    Ok((t.hour(), t.minute()))
}

/// Parses `mon,tue,…` (also `daily`/`all`, `weekdays`, `weekends`).
pub fn parse_days(s: &str) -> Result<BTreeSet<Day>, JobError> {
    let mut days = BTreeSet::new();
    for part in s.split(',').map(|p| p.trim().to_ascii_lowercase()) {
        match part.as_str() {
            "daily" | "all" | "everyday" => days.extend(Day::ALL.iter().map(|(d, _)| *d)),
            "weekdays" => days.extend(Day::ALL[..5].iter().map(|(d, _)| *d)),
            "weekends" => days.extend(Day::ALL[5..].iter().map(|(d, _)| *d)),
            p => {
                let day = Day::ALL
                    .iter()
                    .find(|(_, n)| *n == p || (full_day_name(p) && p.starts_with(n)))
                    .map(|(d, _)| *d)
                    .ok_or_else(|| {
                        JobError::Invalid(format!(
                            "bad day {p:?} in --days: use mon,tue,wed,thu,fri,sat,sun (or weekdays, weekends, daily)"
                        ))
                    })?;
                days.insert(day);
            }
        }
    }
    Ok(days)
}

fn full_day_name(p: &str) -> bool {
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .contains(&p)
}

/// Parses an interval: `30m`, `4h`, `90` (minutes), `1h30m`.
pub fn parse_interval(s: &str) -> Result<u32, JobError> {
    let bad = || {
        JobError::Invalid(format!(
            "bad interval {s:?}: use minutes or hours, e.g. 30m, 4h, 1h30m (at least 1m, at most 24h)"
        ))
    };
    let s = s.trim().to_ascii_lowercase();
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
        } else {
            let n: u64 = number.parse().map_err(|_| bad())?;
            number.clear();
            total += match c {
                'h' => n.checked_mul(60).ok_or_else(bad)?,
                'm' => n,
                _ => return Err(bad()),
            };
        }
    }
    if !number.is_empty() {
        total += number.parse::<u64>().map_err(|_| bad())?;
    }
    if total == 0 || total > 24 * 60 {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

/// Parses `20-06` or `20:00-06:00` (whole hours).
pub fn parse_allowed_hours(s: &str) -> Result<AllowedHours, JobError> {
    let bad = || {
        JobError::Invalid(format!(
            "bad allowed hours {s:?}: give FROM-TO in whole hours 0-24, e.g. 20-06 (8 pm to 6 am)"
        ))
    };
    let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
    let hour = |x: &str| -> Result<u32, JobError> {
        let x = x.trim();
        let x = x.strip_suffix(":00").unwrap_or(x);
        let h: u32 = x.parse().map_err(|_| bad())?;
        if h > 24 {
            return Err(bad());
        }
        Ok(h % 24)
    };
    let (from, to) = (hour(a)?, hour(b)?);
    if from == to {
        return Err(JobError::Invalid(format!(
            "allowed hours {s:?} start and end at the same hour: leave --allowed-hours out to allow every hour"
        )));
    }
    Ok(AllowedHours { from, to })
}

impl Schedule {
    /// When the job should next start, strictly after `last` if it ran before, else at
    /// or after `since` (when the schedule took effect). `None` for manual jobs.
    pub fn next_run(
        &self,
        last: Option<NaiveDateTime>,
        since: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        match self {
            Schedule::Manual => None,
            Schedule::Daily { hour, minute, days } => {
                let after = last.map_or(since, |l| l.max(since));
                let at = NaiveTime::from_hms_opt(*hour, *minute, 0)?;
                // The first matching day within the next 8 days (a week and today).
                (0..8).find_map(|offset| {
                    let date = after.date() + Duration::days(offset);
                    let candidate = date.and_time(at);
                    let day_ok =
                        days.is_empty() || days.iter().any(|d| d.weekday() == date.weekday());
                    let later = if last.is_some() {
                        candidate > after
                    } else {
                        candidate >= after
                    };
                    (day_ok && later).then_some(candidate)
                })
            }
            Schedule::Periodic { minutes, allowed } => {
                let due = match last {
                    Some(l) => (l + Duration::minutes(i64::from(*minutes))).max(since),
                    None => since,
                };
                Some(match allowed {
                    Some(window) => next_allowed(due, window),
                    None => due,
                })
            }
        }
    }

    /// One line for `job list` / `job show`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Manual => "manual".into(),
            Schedule::Daily { hour, minute, days } => {
                let on = if days.is_empty() || days.len() == 7 {
                    "every day".to_string()
                } else {
                    days.iter().map(|d| d.name()).collect::<Vec<_>>().join(",")
                };
                format!("daily at {hour:02}:{minute:02} ({on})")
            }
            Schedule::Periodic { minutes, allowed } => {
                let every = if minutes % 60 == 0 {
                    format!("{}h", minutes / 60)
                } else {
                    format!("{minutes}m")
                };
                match allowed {
                    Some(w) => format!("every {every}, allowed hours {:02}-{:02}", w.from, w.to),
                    None => format!("every {every}"),
                }
            }
        }
    }
}

/// `t` if its hour is allowed, else the start of the next allowed hour.
fn next_allowed(t: NaiveDateTime, window: &AllowedHours) -> NaiveDateTime {
    if window.contains(t.hour()) {
        return t;
    }
    let start = t.date().and_hms_opt(t.hour(), 0, 0).unwrap_or(t);
    (1..=24)
        .map(|h| start + Duration::hours(h))
        .find(|c| window.contains(c.hour()))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
        // November 2026: the 30th is a Monday.
        NaiveDate::from_ymd_opt(2026, 11, d)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_time("22:00").unwrap(), (22, 0));
        assert_eq!(parse_time("7:05").unwrap(), (7, 5));
        for bad in ["25:00", "22", "22:60", "ten"] {
            assert!(parse_time(bad).unwrap_err().to_string().contains("HH:MM"));
        }
        assert_eq!(
            parse_days("mon,Tue,friday").unwrap(),
            [Day::Mon, Day::Tue, Day::Fri].into()
        );
        assert_eq!(parse_days("weekends").unwrap(), [Day::Sat, Day::Sun].into());
        assert!(
            parse_days("mon,funday")
                .unwrap_err()
                .to_string()
                .contains("funday")
        );
        assert!(parse_days("mo").is_err());
        assert_eq!(parse_interval("4h").unwrap(), 240);
        assert_eq!(parse_interval("1h30m").unwrap(), 90);
        assert_eq!(parse_interval("15").unwrap(), 15);
        for bad in ["0m", "25h", "4d", "h", ""] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_allowed_hours("20-06").unwrap(),
            AllowedHours { from: 20, to: 6 }
        );
        assert_eq!(
            parse_allowed_hours("08:00-18:00").unwrap(),
            AllowedHours { from: 8, to: 18 }
        );
        assert!(parse_allowed_hours("8-8").is_err());
        assert!(parse_allowed_hours("8-30").is_err());
        assert!(parse_allowed_hours("night").is_err());
    }

    #[test]
    fn allowed_hours_wrap_past_midnight() {
        let w = AllowedHours { from: 20, to: 6 };
        assert!(w.contains(20) && w.contains(23) && w.contains(0) && w.contains(5));
        assert!(!w.contains(6) && !w.contains(12) && !w.contains(19));
        let day = AllowedHours { from: 8, to: 18 };
        assert!(day.contains(8) && day.contains(17) && !day.contains(18) && !day.contains(2));
    }

    #[test]
    fn daily_next_run() {
        let s = Schedule::Daily {
            hour: 22,
            minute: 0,
            days: [Day::Mon, Day::Wed].into(),
        };
        // Sunday the 29th at 13:00, never ran: Monday 22:00.
        assert_eq!(s.next_run(None, at(29, 13, 0)), Some(at(30, 22, 0)));
        // Ran Monday 22:00: next Wednesday (Dec 2).
        let wed = NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_opt(22, 0, 0)
            .unwrap();
        assert_eq!(s.next_run(Some(at(30, 22, 0)), at(29, 13, 0)), Some(wed));
        // Every day, schedule created at exactly the time: runs now.
        let every = Schedule::Daily {
            hour: 13,
            minute: 0,
            days: BTreeSet::new(),
        };
        assert_eq!(every.next_run(None, at(29, 13, 0)), Some(at(29, 13, 0)));
        assert_eq!(
            every.next_run(Some(at(29, 13, 0)), at(29, 12, 0)),
            Some(at(30, 13, 0))
        );
        assert_eq!(Schedule::Manual.next_run(None, at(29, 13, 0)), None);
    }

    #[test]
    fn periodic_next_run_respects_allowed_hours() {
        let s = Schedule::Periodic {
            minutes: 240,
            allowed: None,
        };
        assert_eq!(s.next_run(None, at(29, 13, 0)), Some(at(29, 13, 0)));
        assert_eq!(
            s.next_run(Some(at(29, 13, 0)), at(29, 12, 0)),
            Some(at(29, 17, 0))
        );
        // A missed run (server was down) is due as soon as the server is back.
        assert_eq!(
            s.next_run(Some(at(28, 1, 0)), at(29, 13, 0)),
            Some(at(29, 13, 0))
        );
        let night = Schedule::Periodic {
            minutes: 60,
            allowed: Some(AllowedHours { from: 20, to: 6 }),
        };
        assert_eq!(night.next_run(None, at(29, 13, 10)), Some(at(29, 20, 0)));
        assert_eq!(
            night.next_run(Some(at(29, 23, 30)), at(29, 13, 0)),
            Some(at(30, 0, 30))
        );
        assert_eq!(
            night.next_run(Some(at(30, 5, 30)), at(29, 13, 0)),
            Some(at(30, 20, 0))
        );
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            Schedule::Daily {
                hour: 22,
                minute: 5,
                days: [Day::Mon, Day::Tue].into()
            }
            .describe(),
            "daily at 22:05 (mon,tue)"
        );
        assert_eq!(
            Schedule::Periodic {
                minutes: 240,
                allowed: Some(AllowedHours { from: 20, to: 6 })
            }
            .describe(),
            "every 4h, allowed hours 20-06"
        );
    }
}
