//! The generator: random access to any message, event or contact of any mailbox, and
//! streaming iterators over them.
//!
//! A message is computed from two independent streams: the *head* stream of
//! (seed, mailbox, index) decides subject, language and thread parent, and is cheap, so a
//! reply can look up its ancestors' subjects and Message-IDs without building them; the
//! *message* stream decides everything else (folder, people, flags, shape, body).

use crate::calendar::{self, Event};
use crate::compose::{self, BodyInput};
use crate::contacts::{self, Contact};
use crate::encode::rfc5322_date;
use crate::envelope::{Envelope, thread_index};
use crate::headers::{HeaderStyle, Headers};
use crate::message::{FlagStatus, GeneratedMessage, Importance, Shape, WellKnownFolder};
use crate::parts::Body;
use crate::people::{self, Person};
use crate::rng::{Stream, derive, tag};
use crate::spec::{AttachmentRates, CorpusSpec};
use crate::text::{self, Lang};

/// Longest reply chain followed back to its root (a longer one starts a new thread).
const MAX_THREAD_DEPTH: usize = 32;

/// UTC offsets (minutes) senders' Date headers are written in.
const OFFSETS: &[i32] = &[0, 60, 60, 120, -300, -480, 330, 540, -240];

const USER_FOLDERS: &[&str] = &[
    "Projects",
    "Projects/2026",
    "Projects/2026/Q3",
    "Projects/Falcon",
    "Customers",
    "Customers/Contoso Pharmaceuticals",
    "Customers/Fabrikam",
    "Receipts",
    "Inbox/Newsletters",
    "Inbox/Team Ünïcode ✓",
    "Archive/2025",
    "Kunden/Müller GmbH",
    "プロジェクト",
];

const CATEGORIES: &[&str] = &[
    "Red category",
    "Blue category",
    "Project Falcon",
    "Follow up",
    "Kategorie Grün",
];

/// The cheap part of a message: enough to build its descendants' thread headers.
struct Head {
    subject: String,
    lang: Lang,
    non_ascii: bool,
    message_id: String,
    parent: Option<u64>,
}

/// Deterministic corpus generator. Cheap to create and to clone; holds no content.
#[derive(Debug, Clone)]
pub struct Generator {
    spec: CorpusSpec,
    rates: AttachmentRates,
}

impl Generator {
    /// A generator for `spec`. Rates outside 0..=1 are clamped when used.
    pub fn new(spec: CorpusSpec) -> Self {
        let rates = spec.attachment_mix.rates();
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

    fn user_folders(&self, m: usize) -> Vec<String> {
        let mut s = Stream::new(self.spec.seed, &[tag::FOLDERS, m as u64]);
        let mut out = Vec::new();
        for f in USER_FOLDERS {
            // Keep a folder with 70 % probability, but never a child without its parent.
            let parent_kept = match f.rsplit_once('/') {
                Some((p, _)) => {
                    WellKnownFolder::from_display_name(p).is_some()
                        || out.iter().any(|o: &String| o == p)
                }
                None => true,
            };
            if s.chance(0.7) && parent_kept {
                out.push((*f).to_string());
            }
        }
        out
    }

    fn head(&self, m: usize, idx: u64) -> Head {
        let mut s = Stream::new(self.spec.seed, &[tag::HEADER, m as u64, idx]);
        let non_ascii = s.chance(self.spec.non_ascii_rate);
        let (subject, lang) = text::subject(&mut s, non_ascii);
        let parent =
            (idx > 0 && s.chance(self.spec.reply_rate)).then(|| idx - s.range(1, idx.min(25)));
        let domain = self
            .spec
            .mailboxes
            .get(m)
            .map(|b| b.domain())
            .unwrap_or("contoso.com");
        let message_id = format!(
            "<{:016X}.{m}.{idx}@{domain}>",
            derive(self.spec.seed, &[tag::HEADER, m as u64, idx])
        );
        Head {
            subject,
            lang,
            non_ascii,
            message_id,
            parent,
        }
    }

    /// Another mailbox of the organization than `m` (or `m` itself if it is alone).
    fn other_user(&self, s: &mut Stream, m: usize) -> Person {
        let n = self.spec.mailboxes.len();
        let pick = if n > 1 {
            (m + 1 + s.index(n - 1)) % n
        } else {
            m
        };
        self.spec
            .mailboxes
            .get(pick)
            .map(Person::from)
            .unwrap_or_else(|| self.colleague(s, m))
    }

    fn colleague(&self, s: &mut Stream, m: usize) -> Person {
        let domain = self
            .spec
            .mailboxes
            .get(m)
            .map(|b| b.domain())
            .unwrap_or("contoso.com");
        people::colleague(self.spec.seed, domain, s.below(64))
    }

    fn anyone(&self, s: &mut Stream, m: usize) -> Person {
        match s.weighted(&[55, 30, 15]) {
            0 => self.other_user(s, m),
            1 => people::external(self.spec.seed, s.below(256)),
            _ => self.colleague(s, m),
        }
    }

    fn recipients(
        &self,
        s: &mut Stream,
        m: usize,
        lo: u64,
        hi: u64,
        exclude: &[&Person],
    ) -> Vec<Person> {
        let n = s.range(lo, hi);
        let mut out: Vec<Person> = Vec::new();
        for _ in 0..n {
            let p = self.anyone(s, m);
            if !exclude.iter().any(|e| e.address == p.address)
                && !out.iter().any(|o| o.address == p.address)
            {
                out.push(p);
            }
        }
        out
    }

    /// Message `idx` of mailbox `m` (any index; `None` if `m` is out of range).
    pub fn message(&self, m: usize, idx: u64) -> Option<GeneratedMessage> {
        let owner = Person::from(self.spec.mailboxes.get(m)?);
        let spec = &self.spec;
        let head = self.head(m, idx);

        // The thread: follow parents to the root, collecting Message-IDs.
        let mut chain = Vec::new();
        let mut root_idx = idx;
        let mut root_subject = head.subject.clone();
        let mut lang = head.lang;
        let mut parent = head.parent;
        while let Some(p) = parent {
            if chain.len() >= MAX_THREAD_DEPTH {
                break;
            }
            let ph = self.head(m, p);
            chain.push(ph.message_id);
            root_idx = p;
            root_subject = ph.subject;
            lang = ph.lang;
            parent = ph.parent;
        }
        chain.reverse();
        let is_reply = !chain.is_empty();

        let mut s = Stream::new(spec.seed, &[tag::MESSAGE, m as u64, idx]);
        let mut folder = {
            let users = self.user_folders(m);
            match s.weighted(&[52, 15, 2, 5, 8, 3, if users.is_empty() { 0 } else { 15 }]) {
                0 => "Inbox".to_string(),
                1 => "Sent Items".to_string(),
                2 => "Drafts".to_string(),
                3 => "Deleted Items".to_string(),
                4 => "Archive".to_string(),
                5 => "Junk Email".to_string(),
                _ => users
                    .get(s.index(users.len()))
                    .cloned()
                    .unwrap_or_else(|| "Inbox".into()),
            }
        };
        let outgoing = folder == "Sent Items" || folder == "Drafts";
        let is_draft = folder == "Drafts";

        // Shape first: some shapes constrain people and headers.
        let large = s.chance(spec.large_message_rate);
        let n_attach = if s.chance(self.rates.message_rate) {
            s.range(1, u64::from(self.rates.max_per_message.max(1))) as u32
        } else {
            0
        };
        let shape = if large {
            Shape::Large
        } else if s.chance(spec.invitation_rate) {
            Shape::Invitation
        } else if s.chance(spec.odd_rate) {
            [
                Shape::Forwarded,
                Shape::DeepNesting,
                Shape::EmptyBody,
                Shape::Flowed,
                Shape::Latin1,
                Shape::Base64Body,
                Shape::LongHeaders,
                Shape::ManyRecipients,
            ][s.index(8)]
        } else if n_attach > 0 {
            Shape::Mixed
        } else {
            [Shape::PlainText, Shape::Alternative, Shape::Related][s.weighted(&[35, 45, 20])]
        };

        let (from, mut to, mut cc) = if outgoing {
            let to = self.recipients(&mut s, m, 1, 3, &[&owner]);
            let cc = if s.chance(0.4) {
                self.recipients(&mut s, m, 1, 3, &[&owner])
            } else {
                vec![]
            };
            (owner.clone(), to, cc)
        } else {
            let from = if folder == "Junk Email" {
                people::external(spec.seed, s.below(256))
            } else {
                self.anyone(&mut s, m)
            };
            let mut to = vec![owner.clone()];
            to.extend(self.recipients(&mut s, m, 0, 2, &[&owner, &from]));
            let cc = if s.chance(0.35) {
                self.recipients(&mut s, m, 1, 4, &[&owner, &from])
            } else {
                vec![]
            };
            (from, to, cc)
        };
        if shape == Shape::ManyRecipients {
            to.extend(self.recipients(&mut s, m, 100, 400, &[&owner, &from]));
            cc.extend(self.recipients(&mut s, m, 25, 100, &[&owner, &from]));
        }
        if to.is_empty() {
            to.push(self.colleague(&mut s, m));
        }

        // Dates: monotonic in idx (jitter below one interval), so replies follow parents.
        let interval = spec.mean_interval_secs.max(1);
        let received = spec.start + (idx.saturating_mul(interval) + s.below(interval)) as i64;
        let sent = received - s.range(2, 240) as i64;
        let offset = OFFSETS.get(s.index(OFFSETS.len())).copied().unwrap_or(0);

        let is_read = outgoing || s.chance(0.8);
        let importance = match s.weighted(&[5, 85, 10]) {
            0 => Importance::Low,
            1 => Importance::Normal,
            _ => Importance::High,
        };
        let flag = match s.weighted(&[90, 7, 3]) {
            0 => FlagStatus::NotFlagged,
            1 => FlagStatus::Flagged,
            _ => FlagStatus::Complete,
        };
        let mut categories = Vec::new();
        if s.chance(0.15) {
            categories.push(s.pick(CATEGORIES).to_string());
            if s.chance(0.3) {
                let c = s.pick(CATEGORIES).to_string();
                if !categories.contains(&c) {
                    categories.push(c);
                }
            }
        }
        let reply_prefix = match lang {
            Lang::German => "AW: ",
            Lang::French => "RE : ",
            _ => "RE: ",
        };
        let mut subject = if is_reply {
            format!("{reply_prefix}{root_subject}")
        } else {
            root_subject.clone()
        };
        if shape == Shape::LongHeaders {
            subject.push_str(" – ");
            subject.push_str(&text::paragraphs(&mut s, lang, 220).join(" "));
        }
        let style = if head.non_ascii {
            HeaderStyle::random(&mut s)
        } else {
            HeaderStyle::Builder
        };
        if is_draft && s.chance(0.5) {
            // Drafts are often unaddressed yet.
            cc.clear();
        }
        if folder.is_empty() {
            folder = "Inbox".into();
        }

        // The body, from its own stream so metadata draws never shift content.
        let mut body = Body::new(
            Stream::new(spec.seed, &[tag::MESSAGE, m as u64, idx, 1]),
            derive(spec.seed, &[tag::MESSAGE, m as u64, idx]),
        );
        let event = (shape == Shape::Invitation).then(|| {
            let mut e = calendar::event(spec, m, 1_000_000 + idx);
            e.subject = subject.clone();
            e.organizer.email_address = (&from).into();
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
        let quote = is_reply.then(|| {
            format!(
                "From: {}\nSent: {}\nSubject: {}",
                self.anyone(&mut s, m).name,
                rfc5322_date(sent - 86_400, 0),
                root_subject
            )
        });
        let inp = BodyInput {
            spec,
            rates: self.rates,
            lang,
            from: &from,
            to: &to,
            attachments: n_attach,
            quote,
            event,
            sent,
        };
        let mut inner = || self.forwarded_inner(m, idx, sent);
        let part = compose::body(&mut body, &inp, shape, &mut inner);

        let message_id = head.message_id;
        let in_reply_to = chain.last().cloned();
        let mut references = chain;
        if shape == Shape::LongHeaders {
            // A long References chain from a thread that began elsewhere.
            let mut older: Vec<String> = (0..s.range(15, 40))
                .map(|k| {
                    let h = derive(spec.seed, &[tag::HEADER, m as u64, idx, k]);
                    format!("<{h:016x}.{k}@lists.example.org>")
                })
                .collect();
            older.append(&mut references);
            references = older;
        }
        let mut mime = Vec::with_capacity(4096);
        let env = Envelope {
            seed: spec.seed,
            style,
            received: (!outgoing).then_some(received),
            from: &from,
            to: &to,
            cc: &cc,
            subject: &subject,
            thread_topic: &root_subject,
            thread_index: thread_index(spec.seed, m, root_idx, references.len()),
            sent,
            offset,
            message_id: &message_id,
            in_reply_to: in_reply_to.as_deref(),
            references: &references,
            importance,
            lang,
            has_attach: body.attachments.iter().any(|a| !a.inline),
            long_headers: shape == Shape::LongHeaders,
        };
        env.write(&mut s, &mut mime);
        // Writing to a Vec cannot fail.
        let _ = part.write_part(&mut mime);
        if !mime.ends_with(b"\r\n") {
            mime.extend_from_slice(b"\r\n");
        }

        Some(GeneratedMessage {
            mailbox: m,
            index: idx,
            folder,
            received,
            sent,
            is_read,
            is_draft,
            importance,
            flag,
            categories,
            internet_message_id: message_id,
            in_reply_to,
            references,
            thread_root: root_idx,
            subject,
            from,
            to,
            cc,
            shape,
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
