//! iCalendar (RFC 5545) serialisation of an [`Event`]: the text/calendar body of
//! meeting requests and the invite.ics attachment.

use crate::calendar::Event;
use crate::encode::ical_datetime;

/// The `;CN="…"` parameter, or nothing for a nameless address. DQUOTE cannot be
/// escaped inside a quoted parameter value (RFC 5545 §3.2), so it becomes an apostrophe.
fn cn(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(";CN=\"{}\"", name.replace('"', "'"))
    }
}

/// iCalendar TEXT escaping (RFC 5545 §3.3.11).
fn ics_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Fold a content line at 75 octets without splitting a UTF-8 sequence (RFC 5545 §3.1).
fn fold(line: &str, out: &mut String) {
    let mut len = 0;
    for c in line.chars() {
        if len + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += c.len_utf8();
    }
    out.push_str("\r\n");
}

impl Event {
    /// The event as a VCALENDAR with one VEVENT, for `method` (`REQUEST`, `CANCEL`, …).
    pub fn to_ics(&self, method: &str, dtstamp: i64) -> String {
        let mut lines = vec![
            "BEGIN:VCALENDAR".to_string(),
            format!("METHOD:{method}"),
            "PRODID:-//Cairn//cairn-mailgen//EN".into(),
            "VERSION:2.0".into(),
            "BEGIN:VEVENT".into(),
            format!("UID:{}", self.ical_uid),
            format!("DTSTAMP:{}", ical_datetime(dtstamp)),
        ];
        if self.is_all_day {
            lines.push(format!(
                "DTSTART;VALUE=DATE:{}",
                &ical_datetime(self.start_utc)[..8]
            ));
            lines.push(format!(
                "DTEND;VALUE=DATE:{}",
                &ical_datetime(self.end_utc)[..8]
            ));
        } else {
            lines.push(format!("DTSTART:{}", ical_datetime(self.start_utc)));
            lines.push(format!("DTEND:{}", ical_datetime(self.end_utc)));
        }
        lines.push(format!(
            "SUMMARY;LANGUAGE=en-US:{}",
            ics_text(&self.subject)
        ));
        if !self.location.display_name.is_empty() {
            lines.push(format!(
                "LOCATION:{}",
                ics_text(&self.location.display_name)
            ));
        }
        let o = &self.organizer.email_address;
        lines.push(format!("ORGANIZER{}:mailto:{}", cn(&o.name), o.address));
        for a in &self.attendees {
            let role = if a.kind == "optional" {
                "OPT-PARTICIPANT"
            } else {
                "REQ-PARTICIPANT"
            };
            lines.push(format!(
                "ATTENDEE;ROLE={role};PARTSTAT=NEEDS-ACTION;RSVP=TRUE{}:mailto:{}",
                cn(&a.email_address.name),
                a.email_address.address
            ));
        }
        if let Some(r) = &self.recurrence {
            let freq = match r.pattern.kind.as_str() {
                "daily" => "DAILY",
                "weekly" => "WEEKLY",
                _ => "MONTHLY",
            };
            let limit = if r.range.kind == "numbered" {
                format!(";COUNT={}", r.range.number_of_occurrences)
            } else {
                format!(";UNTIL={}T235959Z", r.range.end_date.replace('-', ""))
            };
            lines.push(format!(
                "RRULE:FREQ={freq};INTERVAL={}{limit}",
                r.pattern.interval
            ));
        }
        lines.push(format!(
            "CLASS:{}",
            if self.sensitivity == "private" {
                "PRIVATE"
            } else {
                "PUBLIC"
            }
        ));
        lines.push("SEQUENCE:0".into());
        lines.push("STATUS:CONFIRMED".into());
        lines.push(format!(
            "TRANSP:{}",
            if self.show_as == "free" {
                "TRANSPARENT"
            } else {
                "OPAQUE"
            }
        ));
        if self.is_reminder_on {
            lines.extend([
                "BEGIN:VALARM".to_string(),
                "ACTION:DISPLAY".into(),
                "DESCRIPTION:REMINDER".into(),
                format!(
                    "TRIGGER;RELATED=START:-PT{}M",
                    self.reminder_minutes_before_start
                ),
                "END:VALARM".into(),
            ]);
        }
        lines.push("END:VEVENT".into());
        lines.push("END:VCALENDAR".into());
        let mut out = String::new();
        for l in &lines {
            fold(l, &mut out);
        }
        out
    }
}
