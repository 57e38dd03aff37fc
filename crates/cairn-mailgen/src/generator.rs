//! The generator: random access to any message, event or contact of any mailbox, and
//! streaming iterators over them.
//!
//! A message is first planned (`plan.rs`: metadata from cheap streams), then its body is
//! built from a stream of its own — so metadata draws never shift content and vice versa —
//! and finally the header block is written in front of it.

use crate::calendar::{self, Event};
use crate::compose::{self, BodyInput};
use crate::contacts::{self, Contact};
use crate::encode::rfc5322_date;
use crate::envelope::{Envelope, thread_index};
use crate::headers::{HeaderStyle, Headers};
use crate::message::{GeneratedMessage, MessageMeta, Shape, WellKnownFolder};
use crate::parts::Body;
use crate::people;
use crate::plan::Plan;
use crate::rng::{Stream, derive, tag};
use crate::spec::{AttachmentRates, CorpusSpec, MAX_ATTACHMENT_SIZE};
use crate::text;

/// Deterministic corpus generator. Cheap to create and to clone; holds no content.
#[derive(Debug, Clone)]
pub struct Generator {
    pub(crate) spec: CorpusSpec,
    pub(crate) rates: AttachmentRates,
}

impl Generator {
    /// A generator for `spec`. Rates outside 0..=1 act as 0 or 1; times and sizes are
    /// clamped to sane ranges (see [`CorpusSpec::sanitized`]).
    pub fn new(spec: CorpusSpec) -> Self {
        let spec = spec.sanitized();
        let mut rates = spec.attachment_mix.rates();
        rates.max_size = rates.max_size.min(MAX_ATTACHMENT_SIZE);
        Self { spec, rates }
    }

    /// The specification.
    pub fn spec(&self) -> &CorpusSpec {
        &self.spec
    }

    /// Number of mailboxes.
    pub fn mailbox_count(&self) -> usize {
        self.spec.mailboxes.len()
    }

    /// The folders of mailbox `m` that hold generated mail: the well-known ones, then the
    /// user folders (every parent listed before its children), `/`-separated.
    pub fn folders(&self, m: usize) -> Vec<String> {
        let mut out: Vec<String> = WellKnownFolder::ALL
            .iter()
            .map(|f| f.display_name().to_string())
            .collect();
        out.extend(self.user_folders(m));
        out
    }

    /// Metadata of message `idx` of mailbox `m` — exactly what [`Generator::message`]
    /// reports, without building the body (so without its cost).
    pub fn message_meta(&self, m: usize, idx: u64) -> Option<MessageMeta> {
        self.plan(m, idx).map(|p| p.meta)
    }

    /// Message `idx` of mailbox `m` (any index; `None` if `m` is out of range).
    pub fn message(&self, m: usize, idx: u64) -> Option<GeneratedMessage> {
        let Plan {
            meta,
            lang,
            root_subject,
            n_attach,
            variant,
            style,
            offset,
            outgoing,
            quote,
            mut s,
        } = self.plan(m, idx)?;
        let spec = &self.spec;
        let (from, to, cc, subject, sent) =
            (&meta.from, &meta.to, &meta.cc, &meta.subject, meta.sent);
        // The body, from its own stream so metadata draws never shift content.
        let mut body = Body::new(
            Stream::new(spec.seed, &[tag::MESSAGE, m as u64, idx, 1]),
            derive(spec.seed, &[tag::MESSAGE, m as u64, idx]),
        );
        let event = (meta.shape == Shape::Invitation).then(|| {
            let mut e = calendar::invitation(spec, m, idx, sent);
            e.subject = subject.clone();
            e.organizer.email_address = from.into();
            e.attendees = to
                .iter()
                .chain(cc.iter())
                .map(|p| calendar::Attendee {
                    kind: "required".into(),
                    status: calendar::ResponseStatus {
                        response: "none".into(),
                        time: "0001-01-01T00:00:00Z".into(),
                    },
                    email_address: p.into(),
                })
                .collect();
            e
        });
        let inp = BodyInput {
            spec,
            rates: self.rates,
            lang,
            from,
            to,
            attachments: n_attach,
            variant,
            quote,
            event,
            sent,
        };
        let mut inner = || self.forwarded_inner(m, idx, sent);
        let part = compose::body(&mut body, &inp, meta.shape, &mut inner);

        let mut mime = Vec::with_capacity(4096);
        let env = Envelope {
            seed: spec.seed,
            style,
            received: (!outgoing).then_some(meta.received),
            from,
            to,
            cc,
            subject,
            thread_topic: &root_subject,
            thread_index: thread_index(spec.seed, m, meta.thread_root, meta.references.len()),
            sent,
            offset,
            message_id: &meta.internet_message_id,
            in_reply_to: meta.in_reply_to.as_deref(),
            references: &meta.references,
            importance: meta.importance,
            lang,
            has_attach: meta.has_attachments,
            long_headers: meta.shape == Shape::LongHeaders,
        };
        env.write(&mut s, &mut mime);
        // Writing to a Vec cannot fail.
        let _ = part.write_part(&mut mime);
        if !mime.ends_with(b"\r\n") {
            mime.extend_from_slice(b"\r\n");
        }
        Some(GeneratedMessage {
            meta,
            attachments: body.attachments,
            mime,
        })
    }

    /// The message attached to a Forwarded one: an external sender's simple message with
    /// perhaps one attachment. Returns (subject, bytes).
    fn forwarded_inner(&self, m: usize, idx: u64, sent: i64) -> (String, Vec<u8>) {
        let spec = &self.spec;
        let mut s = Stream::new(spec.seed, &[tag::MESSAGE, m as u64, idx, 2]);
        let from = people::external(spec.seed, s.below(256));
        let to = vec![self.other_user(&mut s, m)];
        let foreign = s.chance(0.3);
        let (subject, lang) = text::subject(&mut s, foreign);
        let shape = if s.chance(0.3) {
            Shape::Mixed
        } else {
            Shape::Alternative
        };
        let mut body = Body::new(
            Stream::new(spec.seed, &[tag::MESSAGE, m as u64, idx, 3]),
            derive(spec.seed, &[tag::MESSAGE, m as u64, idx, 3]),
        );
        let rates = AttachmentRates {
            shared_rate: 0.0,
            size_weights: [1, 0, 0],
            max_size: 64 << 10,
            ..self.rates
        };
        let inp = BodyInput {
            spec,
            rates,
            lang,
            from: &from,
            to: &to,
            attachments: 1,
            variant: false,
            quote: None,
            event: None,
            sent,
        };
        let mut never = || (String::new(), Vec::new());
        let part = compose::body(&mut body, &inp, shape, &mut never);
        let mut out = Vec::new();
        {
            let mut h = Headers::new(&mut out, HeaderStyle::random(&mut s));
            h.addresses("From", std::slice::from_ref(&from));
            h.addresses("To", &to);
            h.text("Subject", &subject);
            h.raw(
                "Date",
                &rfc5322_date(sent - s.range(3_600, 30 * 86_400) as i64, 0),
            );
            h.raw(
                "Message-ID",
                &format!(
                    "<{:016x}@{}>",
                    s.u64(),
                    from.address.rsplit('@').next().unwrap_or("example.org")
                ),
            );
            h.raw("MIME-Version", "1.0");
        }
        // Writing to a Vec cannot fail.
        let _ = part.write_part(&mut out);
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        (subject, out)
    }

    /// Messages `0..messages_per_mailbox` of mailbox `m`, generated one at a time.
    pub fn mailbox(&self, m: usize) -> MailboxIter<'_> {
        MailboxIter {
            generator: self,
            mailbox: m,
            next: 0,
            end: self.spec.messages_per_mailbox,
        }
    }

    /// Every message of every mailbox, mailbox by mailbox.
    pub fn all_messages(&self) -> impl Iterator<Item = GeneratedMessage> + '_ {
        (0..self.mailbox_count()).flat_map(|m| self.mailbox(m))
    }

    /// Item `k` of the shared attachment pool: (filename, MIME type, bytes) — the exact
    /// decoded bytes every message attaching it carries. `None` beyond the pool size.
    pub fn shared_attachment(&self, k: u32) -> Option<(String, &'static str, Vec<u8>)> {
        (k < self.spec.shared_attachment_pool_size).then(|| {
            let b = crate::blobs::shared(self.spec.seed, k);
            (b.filename, b.kind.content_type(), b.data)
        })
    }

    /// Calendar event `j` of mailbox `m`.
    pub fn event(&self, m: usize, j: u64) -> Option<Event> {
        (m < self.mailbox_count()).then(|| calendar::event(&self.spec, m, j))
    }

    /// The events of mailbox `m`.
    pub fn events(&self, m: usize) -> impl Iterator<Item = Event> + '_ {
        let n = if m < self.mailbox_count() {
            self.spec.events_per_mailbox
        } else {
            0
        };
        (0..n).map(move |j| calendar::event(&self.spec, m, j))
    }

    /// Contact `j` of mailbox `m`.
    pub fn contact(&self, m: usize, j: u64) -> Option<Contact> {
        (m < self.mailbox_count()).then(|| contacts::contact(&self.spec, m, j))
    }

    /// The contacts of mailbox `m`.
    pub fn contacts(&self, m: usize) -> impl Iterator<Item = Contact> + '_ {
        let n = if m < self.mailbox_count() {
            self.spec.contacts_per_mailbox
        } else {
            0
        };
        (0..n).map(move |j| contacts::contact(&self.spec, m, j))
    }
}

/// Streaming iterator over a mailbox's messages: one message in memory at a time.
#[derive(Debug, Clone)]
pub struct MailboxIter<'g> {
    generator: &'g Generator,
    mailbox: usize,
    next: u64,
    end: u64,
}

impl Iterator for MailboxIter<'_> {
    type Item = GeneratedMessage;

    fn next(&mut self) -> Option<GeneratedMessage> {
        if self.next >= self.end {
            return None;
        }
        let idx = self.next;
        self.next += 1;
        self.generator.message(self.mailbox, idx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.end - self.next).unwrap_or(usize::MAX);
        (n, Some(n))
    }

    fn nth(&mut self, n: usize) -> Option<GeneratedMessage> {
        // Random access makes skipping free.
        self.next = self.next.saturating_add(n as u64);
        self.next()
    }
}
