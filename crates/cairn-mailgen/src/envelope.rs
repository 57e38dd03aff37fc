//! The top-level header block of a generated message, in the order Exchange Online
//! writes it: Received, From/To/Cc, Subject, Thread-*, Date, Message-ID, In-Reply-To,
//! References, Importance, Content-Language, X-MS-Has-Attach, MIME-Version.

use crate::encode::rfc5322_date;
use crate::headers::{HeaderStyle, Headers, fold_words};
use crate::message::Importance;
use crate::people::Person;
use crate::rng::{Stream, derive, tag};
use crate::text::Lang;

/// Everything the header block shows.
pub(crate) struct Envelope<'a> {
    pub seed: u64,
    pub style: HeaderStyle,
    /// Delivery time for received mail (None for sent items and drafts).
    pub received: Option<i64>,
    pub from: &'a Person,
    pub to: &'a [Person],
    pub cc: &'a [Person],
    pub subject: &'a str,
    pub thread_topic: &'a str,
    pub thread_index: String,
    pub sent: i64,
    /// UTC offset of the sender's Date header, minutes.
    pub offset: i32,
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    pub importance: Importance,
    pub lang: Lang,
    pub has_attach: bool,
    pub long_headers: bool,
}

impl Envelope<'_> {
    pub(crate) fn write(&self, s: &mut Stream, out: &mut Vec<u8>) {
        let mut h = Headers::new(out, self.style);
        if let Some(t) = self.received {
            h.raw("Received", &received_line(s, t));
        }
        h.addresses("From", std::slice::from_ref(self.from));
        h.addresses("To", self.to);
        h.addresses("Cc", self.cc);
        h.text("Subject", self.subject);
        h.text("Thread-Topic", self.thread_topic);
        h.raw("Thread-Index", &self.thread_index);
        h.raw("Date", &rfc5322_date(self.sent, self.offset));
        h.raw("Message-ID", self.message_id);
        if let Some(p) = self.in_reply_to {
            h.raw("In-Reply-To", p);
        }
        h.ids("References", self.references);
        if self.long_headers {
            let words: Vec<String> = (0..60u64)
                .map(|k| format!("tok{k:02}={:08x};", derive(self.seed, &[k]) as u32))
                .collect();
            h.raw(
                "X-Long-Header",
                &fold_words(15, words.iter().map(String::as_str)),
            );
        }
        match self.importance {
            Importance::High => {
                h.raw("Importance", "high");
                h.raw("X-Priority", "1");
            }
            Importance::Low => {
                h.raw("Importance", "low");
                h.raw("X-Priority", "5");
            }
            Importance::Normal => {}
        }
        h.raw("Content-Language", self.lang.tag());
        h.raw("X-MS-Has-Attach", if self.has_attach { "yes" } else { "" });
        h.raw("MIME-Version", "1.0");
    }
}

/// A Received line as Exchange Online stamps on delivery.
pub(crate) fn received_line(s: &mut Stream, t: i64) -> String {
    let a = s.range(1, 9);
    let b = s.range(1000, 9999);
    format!(
        "from AM{a}PR0{a}MB{b}.eurprd0{a}.prod.outlook.com\r\n ([fe80::{:x}:{:x}]) by AM{a}PR0{a}MB{}.eurprd0{a}.prod.outlook.com\r\n ([fe80::{:x}%{a}]) with mapi id 15.20.8{:03}.{:03}; {}",
        s.below(0xffff),
        s.below(0xffff),
        b + 1,
        s.below(0xffff),
        s.below(1000),
        s.below(1000),
        rfc5322_date(t, 0)
    )
}

/// Outlook's Thread-Index: base64 of 22 bytes for the root plus 5 per reply level.
pub(crate) fn thread_index(seed: u64, m: usize, root: u64, depth: usize) -> String {
    use base64::Engine as _;
    let mut bytes = Vec::with_capacity(22 + 5 * depth);
    let mut h = derive(seed, &[tag::HEADER, m as u64, root, 77]);
    while bytes.len() < 22 + 5 * depth.min(8) {
        h = crate::rng::splitmix(h);
        bytes.extend_from_slice(&h.to_le_bytes());
    }
    bytes.truncate(22 + 5 * depth.min(8));
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
