//! The RFC 5322 header block. Addresses and unstructured text go through mail-builder's
//! encoders most of the time; for some non-ASCII messages we write the encoded-words
//! ourselves (Q or B encoding, split per 36 bytes) so that the corpus contains more than
//! one encoder's habits.

use std::borrow::Cow;

use mail_builder::headers::Header as _;
use mail_builder::headers::address::Address;
use mail_builder::headers::text::Text;

use crate::encode::encoded_words;
use crate::people::Person;
use crate::rng::Stream;

/// How non-ASCII header text gets encoded in one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderStyle {
    /// mail-builder's encoders.
    Builder,
    /// Our own B-encoded words.
    OwnB,
    /// Our own Q-encoded words.
    OwnQ,
}

impl HeaderStyle {
    pub(crate) fn random(s: &mut Stream) -> Self {
        match s.below(4) {
            0 => HeaderStyle::OwnB,
            1 => HeaderStyle::OwnQ,
            _ => HeaderStyle::Builder,
        }
    }
}

/// Writes header fields into a message buffer.
pub(crate) struct Headers<'a> {
    out: &'a mut Vec<u8>,
    style: HeaderStyle,
}

impl<'a> Headers<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>, style: HeaderStyle) -> Self {
        Self { out, style }
    }

    /// A field whose value is already folded and encoded.
    pub(crate) fn raw(&mut self, name: &str, value: &str) {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// An unstructured field (Subject, Thread-Topic).
    pub(crate) fn text(&mut self, name: &str, value: &str) {
        match self.style {
            HeaderStyle::Builder => {
                self.name(name);
                // Writing to a Vec cannot fail.
                let _ = Text::new(value).write_header(&mut *self.out, name.len() + 2);
            }
            HeaderStyle::OwnB | HeaderStyle::OwnQ => {
                let v = encoded_words(value, self.style == HeaderStyle::OwnQ);
                self.raw(name, &v);
            }
        }
    }

    /// An address-list field (From, To, Cc).
    pub(crate) fn addresses(&mut self, name: &str, people: &[Person]) {
        if people.is_empty() {
            return;
        }
        // mail-builder puts encoded-words inside quoted strings, which RFC 2047 §5 forbids:
        // non-ASCII display names always go through our encoder.
        let style = match self.style {
            HeaderStyle::Builder if people.iter().any(|p| !p.name.is_ascii()) => HeaderStyle::OwnB,
            other => other,
        };
        match style {
            HeaderStyle::Builder => {
                let list: Vec<Address<'_>> = people
                    .iter()
                    .map(|p| {
                        let display =
                            (!p.name.is_empty()).then_some(Cow::Borrowed(p.name.as_str()));
                        Address::new_address(display, p.address.as_str())
                    })
                    .collect();
                let value = if list.len() == 1 {
                    list.into_iter()
                        .next()
                        .unwrap_or_else(|| Address::new_list(Vec::new()))
                } else {
                    Address::new_list(list)
                };
                self.name(name);
                // Writing to a Vec cannot fail.
                let _ = value.write_header(&mut *self.out, name.len() + 2);
            }
            HeaderStyle::OwnB | HeaderStyle::OwnQ => {
                let q = style == HeaderStyle::OwnQ;
                let items: Vec<String> = people
                    .iter()
                    .map(|p| {
                        if p.name.is_empty() {
                            p.address.clone()
                        } else if p.name.is_ascii() {
                            let n = p.name.replace('\\', "\\\\").replace('"', "\\\"");
                            format!("\"{n}\" <{}>", p.address)
                        } else {
                            format!("{} <{}>", encoded_words(&p.name, q), p.address)
                        }
                    })
                    .collect();
                self.raw(name, &items.join(",\r\n "));
            }
        }
    }

    /// A list of message ids, one per line (References).
    pub(crate) fn ids(&mut self, name: &str, ids: &[String]) {
        if !ids.is_empty() {
            self.raw(name, &ids.join("\r\n "));
        }
    }

    fn name(&mut self, name: &str) {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
    }
}

/// Fold a long list of words into continuation lines of at most ~76 characters.
pub(crate) fn fold_words<'w>(first: usize, words: impl Iterator<Item = &'w str>) -> String {
    let mut out = String::new();
    let mut line = first;
    for w in words {
        if !out.is_empty() {
            if line + 1 + w.len() > 76 {
                out.push_str("\r\n ");
                line = 1;
            } else {
                out.push(' ');
                line += 1;
            }
        }
        out.push_str(w);
        line += w.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_words_stay_short() {
        let words: Vec<String> = (0..100).map(|i| format!("token{i}")).collect();
        let f = fold_words(10, words.iter().map(String::as_str));
        assert!(f.split("\r\n").all(|l| l.len() <= 76));
        assert_eq!(
            f.replace("\r\n", "")
                .split(' ')
                .filter(|w| !w.is_empty())
                .count(),
            100
        );
    }
}
