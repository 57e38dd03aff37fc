//! Planning a message: everything except its body — thread, folder, people, dates,
//! flags and shape — from two cheap streams. [`Generator::message_meta`] stops here, which
//! is what lets a simulator list a mailbox without building any MIME.
//!
//! The *head* stream of (seed, mailbox, index) decides subject, language and thread
//! parent, so a reply can look up its ancestors' subjects and Message-IDs without
//! planning them; the *message* stream decides the rest.

use crate::encode::rfc5322_date;
use crate::generator::Generator;
use crate::headers::HeaderStyle;
use crate::message::{FlagStatus, Importance, MessageMeta, Shape, WellKnownFolder};
use crate::people::{self, Person};
use crate::rng::{Stream, derive, tag};
use crate::text::{self, Lang};

/// Latest received time (the year 9999); indexes beyond it all land there.
const MAX_RECEIVED: i64 = 253_402_300_000;

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

/// A planned message: its metadata and what the body and header block need.
pub(crate) struct Plan {
    pub meta: MessageMeta,
    pub lang: Lang,
    pub root_subject: String,
    pub n_attach: u32,
    pub variant: bool,
    pub style: HeaderStyle,
    pub offset: i32,
    pub outgoing: bool,
    pub quote: Option<String>,
    /// The message stream, positioned after planning (the header block draws from it).
    pub s: Stream,
}

impl Generator {
    pub(crate) fn user_folders(&self, m: usize) -> Vec<String> {
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
    pub(crate) fn other_user(&self, s: &mut Stream, m: usize) -> Person {
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

    /// Everything about message `idx` of mailbox `m` except its body.
    pub(crate) fn plan(&self, m: usize, idx: u64) -> Option<Plan> {
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
        let step = idx
            .saturating_mul(interval)
            .saturating_add(s.below(interval));
        // Capped far in the future so date formatting never overflows.
        let received = spec
            .start
            .saturating_add(i64::try_from(step).unwrap_or(i64::MAX))
            .min(MAX_RECEIVED);
        let sent = received.saturating_sub(s.range(2, 240) as i64);
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
        // Half of the invitations also attach invite.ics; half of the empty bodies are
        // attachment-only. Drawn here so that metadata knows about it without a body.
        let variant = s.chance(0.5);
        let has_attachments = match shape {
            Shape::Mixed | Shape::Large | Shape::Forwarded | Shape::DeepNesting => true,
            Shape::Invitation | Shape::EmptyBody => variant,
            _ => false,
        };
        let quote = is_reply.then(|| {
            format!(
                "From: {}\nSent: {}\nSubject: {}",
                self.anyone(&mut s, m).name,
                rfc5322_date(sent - 86_400, 0),
                root_subject
            )
        });
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
        Some(Plan {
            meta: MessageMeta {
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
                internet_message_id: head.message_id,
                in_reply_to,
                references,
                thread_root: root_idx,
                subject,
                from,
                to,
                cc,
                shape,
                has_attachments,
            },
            lang,
            root_subject,
            n_attach,
            variant,
            style,
            offset,
            outgoing,
            quote,
            s,
        })
    }
}
