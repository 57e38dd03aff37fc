//! What to generate: the corpus specification and its presets.
//!
//! A [`CorpusSpec`] plus its seed fully determines the corpus. Every field has a sensible
//! default; the presets ([`CorpusSpec::small`], [`CorpusSpec::demo`],
//! [`CorpusSpec::benchmark`]) are starting points to adjust with struct-update syntax.

use serde::{Deserialize, Serialize};

/// 2026-01-05T08:00:00Z, a Monday: the default first received time.
pub const DEFAULT_START: i64 = 1_767_600_000;

/// Largest attachment or very large message the generator builds (1 GiB): anything
/// bigger is almost certainly a typo, and would exhaust memory rather than test anything.
pub const MAX_ATTACHMENT_SIZE: u64 = 1 << 30;

/// Latest start time accepted (the year 9000), so that dates stay four-digit years.
const MAX_START: i64 = 221_845_392_000;

/// Longest mean interval between messages (a year).
const MAX_INTERVAL: u64 = 366 * 86_400;

/// One mailbox of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxSpec {
    /// SMTP address, e.g. `alice@contoso.com`.
    pub address: String,
    /// Display name, e.g. `Alice Wilber`. May be non-ASCII.
    pub display_name: String,
}

impl MailboxSpec {
    /// A mailbox with the given address and display name.
    pub fn new(address: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            display_name: display_name.into(),
        }
    }

    /// The domain part of the address (`contoso.com` when there is no `@`).
    pub fn domain(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("contoso.com")
    }
}

/// How often messages carry attachments, and how big these are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum AttachmentMix {
    /// No attachments at all (inline images and invitations still occur).
    None,
    /// About 15 % of messages have one or two attachments, mostly small.
    Light,
    /// About 35 % of messages have one to four attachments, with more large ones.
    Heavy,
    /// Explicit rates.
    Custom(AttachmentRates),
}

/// Explicit attachment rates (what [`AttachmentMix::Light`] and `Heavy` expand to).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AttachmentRates {
    /// Probability that a message has at least one file attachment.
    pub message_rate: f64,
    /// Upper bound of attachments on one message (at least 1 when `message_rate` > 0).
    pub max_per_message: u32,
    /// Probability that an attachment comes from the shared pool (same bytes everywhere).
    pub shared_rate: f64,
    /// Relative weights of the size classes small (2–64 KiB), medium (64 KiB–1 MiB) and
    /// large (1 MiB–`max_size`).
    pub size_weights: [u32; 3],
    /// Largest ordinary attachment, in bytes (very large messages are separate).
    pub max_size: u64,
}

impl AttachmentMix {
    /// The explicit rates this mix stands for.
    pub fn rates(&self) -> AttachmentRates {
        match *self {
            AttachmentMix::None => AttachmentRates {
                message_rate: 0.0,
                max_per_message: 0,
                shared_rate: 0.0,
                size_weights: [1, 0, 0],
                max_size: 0,
            },
            AttachmentMix::Light => AttachmentRates {
                message_rate: 0.15,
                max_per_message: 2,
                shared_rate: 0.3,
                size_weights: [70, 25, 5],
                max_size: 4 << 20,
            },
            AttachmentMix::Heavy => AttachmentRates {
                message_rate: 0.35,
                max_per_message: 4,
                shared_rate: 0.35,
                size_weights: [65, 30, 5],
                max_size: 6 << 20,
            },
            AttachmentMix::Custom(r) => r,
        }
    }
}

/// The whole corpus: who, how much, what mix. Same spec (seed included) → same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusSpec {
    /// The seed everything derives from.
    pub seed: u64,
    /// The organization's mailboxes, in a fixed order (the index is part of the identity of
    /// every generated item).
    pub mailboxes: Vec<MailboxSpec>,
    /// Messages generated per mailbox.
    pub messages_per_mailbox: u64,
    /// Calendar events generated per mailbox.
    pub events_per_mailbox: u64,
    /// Contacts generated per mailbox.
    pub contacts_per_mailbox: u64,
    /// File attachments.
    pub attachment_mix: AttachmentMix,
    /// Probability of a very large message (one huge attachment).
    pub large_message_rate: f64,
    /// Minimum size in bytes of a very large message (decoded attachment size; the MIME
    /// message is about 4/3 of it).
    pub large_message_size: u64,
    /// Number of distinct shared attachments (identical bytes reused across mailboxes).
    pub shared_attachment_pool_size: u32,
    /// Probability that a message has non-ASCII (RFC 2047 / RFC 2231) headers.
    pub non_ascii_rate: f64,
    /// Probability of a calendar invitation (text/calendar; method=REQUEST).
    pub invitation_rate: f64,
    /// Probability of an odd but valid structure (forwarded message/rfc822, deep nesting,
    /// empty body, long folded headers, many recipients, format=flowed, ISO-8859-1).
    pub odd_rate: f64,
    /// Probability that a message is a reply to an earlier one of the same mailbox.
    pub reply_rate: f64,
    /// Received time of message 0, Unix seconds (UTC).
    pub start: i64,
    /// Average seconds between two consecutive messages of a mailbox.
    pub mean_interval_secs: u64,
}

impl Default for CorpusSpec {
    fn default() -> Self {
        Self {
            seed: 1,
            mailboxes: Self::contoso_mailboxes(),
            messages_per_mailbox: 200,
            events_per_mailbox: 40,
            contacts_per_mailbox: 30,
            attachment_mix: AttachmentMix::Light,
            large_message_rate: 0.0,
            large_message_size: 30 << 20,
            shared_attachment_pool_size: 16,
            non_ascii_rate: 0.2,
            invitation_rate: 0.04,
            odd_rate: 0.08,
            reply_rate: 0.3,
            start: DEFAULT_START,
            mean_interval_secs: 3 * 3600,
        }
    }
}

impl CorpusSpec {
    /// A few dozen messages per mailbox of the simulator's contoso tenant, no large
    /// messages: quick enough for unit tests.
    pub fn small() -> Self {
        Self {
            messages_per_mailbox: 40,
            events_per_mailbox: 10,
            contacts_per_mailbox: 10,
            shared_attachment_pool_size: 6,
            ..Self::default()
        }
    }

    /// The demo: a few hundred messages per mailbox with every kind of structure and an
    /// occasional very large message.
    pub fn demo() -> Self {
        Self {
            messages_per_mailbox: 300,
            large_message_rate: 0.002,
            attachment_mix: AttachmentMix::Light,
            ..Self::default()
        }
    }

    /// Benchmark scale: `mailboxes` generated users at `domain` with 2,000 messages each
    /// and heavy attachments.
    pub fn benchmark(mailboxes: usize, domain: &str) -> Self {
        Self {
            mailboxes: Self::generated_mailboxes(mailboxes, domain, 1),
            messages_per_mailbox: 2_000,
            attachment_mix: AttachmentMix::Heavy,
            large_message_rate: 0.0005,
            shared_attachment_pool_size: 64,
            ..Self::default()
        }
    }

    /// The user mailboxes of the simulator's default contoso scenario.
    pub fn contoso_mailboxes() -> Vec<MailboxSpec> {
        vec![
            MailboxSpec::new("alice@contoso.com", "Alice Wilber"),
            MailboxSpec::new("bob@contoso.com", "Bob Kelly"),
            MailboxSpec::new("carol@contoso.com", "Carol Müller"),
        ]
    }

    /// `count` mailboxes with deterministic multilingual names at `domain`.
    pub fn generated_mailboxes(count: usize, domain: &str, seed: u64) -> Vec<MailboxSpec> {
        crate::people::generated_mailboxes(count, domain, seed)
    }

    /// Replace the mailboxes by `count` generated ones at `domain` (builder style).
    pub fn with_mailbox_count(mut self, count: usize, domain: &str) -> Self {
        self.mailboxes = Self::generated_mailboxes(count, domain, self.seed);
        self
    }

    /// This spec with times and sizes clamped to what the generator supports: `start` in
    /// 1970..9000, `mean_interval_secs` in 1 s..1 year, `large_message_size` at most
    /// [`MAX_ATTACHMENT_SIZE`]. [`crate::Generator::new`] applies it.
    pub fn sanitized(mut self) -> Self {
        self.start = self.start.clamp(0, MAX_START);
        self.mean_interval_secs = self.mean_interval_secs.clamp(1, MAX_INTERVAL);
        self.large_message_size = self.large_message_size.min(MAX_ATTACHMENT_SIZE);
        self
    }

    /// Set the seed (builder style).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}
