//! The MIME encoders the generator needs where it writes raw parts itself: base64 and
//! quoted-printable bodies, RFC 2047 encoded-words, RFC 2231 parameters and RFC 5322
//! dates. mail-builder covers the common cases; these cover what it cannot express
//! (ISO-8859-1 bodies, RFC 2231 filenames, header encodings chosen per message).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Base64 in 76-character CRLF-terminated lines (RFC 2045 §6.8).
pub(crate) fn base64_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 57 * 78 + 80);
    // 57 input bytes encode to exactly 76 output characters.
    for chunk in data.chunks(57) {
        let mut buf = [0u8; 76];
        let n = STANDARD.encode_slice(chunk, &mut buf).unwrap_or_default(); // invariant: 57 bytes always fit in 76
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Quoted-printable (RFC 2045 §6.7) of `data` whose line breaks are `\n` or `\r\n`;
/// output lines end in CRLF and never exceed 76 characters.
pub(crate) fn quoted_printable(data: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(data.len() * 11 / 10 + 16);
    let mut line = 0usize;
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if b == b'\r' && data.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
            line = 0;
            i += 1;
            continue;
        }
        let at_eol = matches!(data.get(i + 1), None | Some(b'\n') | Some(b'\r'));
        let literal = (b == b' ' || b == b'\t') && !at_eol || (33..=126).contains(&b) && b != b'=';
        let width = if literal { 1 } else { 3 };
        // Keep room for the soft break "=" at column 76.
        if line + width > 75 {
            out.extend_from_slice(b"=\r\n");
            line = 0;
        }
        if literal {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        line += width;
        i += 1;
    }
    out
}

/// `text` as RFC 2047 encoded-words (UTF-8, B or Q encoding), folded with CRLF SP
/// between words so that each line stays under 78 characters. ASCII text without
/// specials is returned as is.
pub(crate) fn encoded_words(text: &str, q: bool) -> String {
    if text.is_ascii() && !text.contains("=?") {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    // Encoded-words are at most 75 characters; 36 UTF-8 bytes keep B-words at 64.
    let budget = if q { 20 } else { 36 };
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > budget {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    let encoded: Vec<String> = words
        .iter()
        .map(|w| {
            if q {
                let mut e = String::from("=?UTF-8?Q?");
                for b in w.bytes() {
                    match b {
                        b' ' => e.push('_'),
                        b'a'..=b'z'
                        | b'A'..=b'Z'
                        | b'0'..=b'9'
                        | b'!'
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'/' => e.push(char::from(b)),
                        _ => e.push_str(&format!("={b:02X}")),
                    }
                }
                e.push_str("?=");
                e
            } else {
                format!("=?UTF-8?B?{}?=", STANDARD.encode(w.as_bytes()))
            }
        })
        .collect();
    encoded.join("\r\n ")
}

/// A MIME parameter `name=value`, preceded by "; " and a fold. Non-ASCII values use
/// RFC 2231 extended notation, split into numbered continuations when long.
pub(crate) fn param(name: &str, value: &str) -> String {
    if value.is_ascii() {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        return format!(";\r\n\t{name}=\"{escaped}\"");
    }
    // Percent-encode per character, so continuations can be cut between characters:
    // RFC 2231 allows cutting anywhere, but common readers (mail-parser among them)
    // decode each piece on its own and would garble a split UTF-8 sequence.
    let chars: Vec<String> = value
        .chars()
        .map(|c| {
            let mut buf = [0u8; 4];
            let mut e = String::new();
            for b in c.encode_utf8(&mut buf).bytes() {
                if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                    e.push(char::from(b));
                } else {
                    e.push_str(&format!("%{b:02X}"));
                }
            }
            e
        })
        .collect();
    let total: usize = chars.iter().map(String::len).sum();
    if total <= 50 {
        return format!(";\r\n\t{name}*=utf-8''{}", chars.concat());
    }
    let mut pieces = vec![String::new()];
    for c in chars {
        if pieces.last().is_some_and(|p| p.len() + c.len() > 45) {
            pieces.push(String::new());
        }
        if let Some(p) = pieces.last_mut() {
            p.push_str(&c);
        }
    }
    let mut out = String::new();
    for (n, piece) in pieces.iter().enumerate() {
        let charset = if n == 0 { "utf-8''" } else { "" };
        out.push_str(&format!(";\r\n\t{name}*{n}*={charset}{piece}"));
    }
    out
}

/// `text` in ISO-8859-1, if every character fits.
pub(crate) fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// RFC 5322 date-time of Unix time `t` seen from UTC offset `offset_min` minutes.
pub(crate) fn rfc5322_date(t: i64, offset_min: i32) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local = t + i64::from(offset_min) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let sign = if offset_min < 0 { '-' } else { '+' };
    let off = offset_min.unsigned_abs();
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} {}{:02}{:02}",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize % 12],
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        sign,
        off / 60,
        off % 60
    )
}

/// ISO 8601 / Graph `dateTime` without offset (`2026-01-05T08:00:00.0000000`), UTC.
pub(crate) fn graph_datetime(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.0000000",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// iCalendar UTC date-time (`20260105T080000Z`).
pub(crate) fn ical_datetime(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01, proleptic Gregorian.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Shift to an era starting on 0000-03-01 so leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0, 0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(crate::spec::DEFAULT_START, 60),
            "Mon, 5 Jan 2026 09:00:00 +0100"
        );
        assert_eq!(
            rfc5322_date(crate::spec::DEFAULT_START, -300),
            "Mon, 5 Jan 2026 03:00:00 -0500"
        );
        assert_eq!(graph_datetime(951_782_400), "2000-02-29T00:00:00.0000000");
        assert_eq!(
            ical_datetime(crate::spec::DEFAULT_START),
            "20260105T080000Z"
        );
    }

    #[test]
    fn qp_lines_are_short_and_soft_broken() {
        let text = "ä".repeat(100) + " \nend = 1 \n";
        let qp = quoted_printable(text.as_bytes());
        let s = String::from_utf8(qp).unwrap();
        assert!(s.lines().all(|l| l.len() <= 76), "{s}");
        assert!(s.contains("=20\r\n"));
        assert!(s.contains("end =3D 1=20"));
    }

    #[test]
    fn base64_wraps_at_76() {
        let b = base64_lines(&[7u8; 200]);
        let s = String::from_utf8(b).unwrap();
        assert!(s.split("\r\n").all(|l| l.len() <= 76));
    }

    #[test]
    fn rfc2231_continuations() {
        let p = param("filename", &"日本語のファイル名".repeat(3));
        assert!(p.contains("filename*0*=utf-8''%E6"));
        assert!(p.contains("filename*1*="));
        assert_eq!(param("name", "a\"b"), ";\r\n\tname=\"a\\\"b\"");
    }
}
