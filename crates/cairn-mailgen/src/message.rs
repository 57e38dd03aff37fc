//! The generated message and its Exchange-side metadata (what Graph's `message` resource
//! shows next to the MIME: folder, read state, importance, flag, categories, thread).

use serde::{Deserialize, Serialize};

use crate::encode::graph_datetime;
use crate::people::Person;

/// Exchange's well-known mail folders the generator files messages into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WellKnownFolder {
    /// `inbox`
    Inbox,
    /// `sentitems`
    SentItems,
    /// `drafts`
    Drafts,
    /// `deleteditems`
    DeletedItems,
    /// `archive`
    Archive,
    /// `junkemail`
    JunkEmail,
}

impl WellKnownFolder {
    /// Every well-known folder, in Outlook's display order.
    pub const ALL: [WellKnownFolder; 6] = [
        WellKnownFolder::Inbox,
        WellKnownFolder::Drafts,
        WellKnownFolder::SentItems,
        WellKnownFolder::DeletedItems,
        WellKnownFolder::Archive,
        WellKnownFolder::JunkEmail,
    ];

    /// Display name in an English mailbox ("Sent Items").
    pub fn display_name(self) -> &'static str {
        match self {
            WellKnownFolder::Inbox => "Inbox",
            WellKnownFolder::SentItems => "Sent Items",
            WellKnownFolder::Drafts => "Drafts",
            WellKnownFolder::DeletedItems => "Deleted Items",
            WellKnownFolder::Archive => "Archive",
            WellKnownFolder::JunkEmail => "Junk Email",
        }
    }

    /// Graph's well-known folder name (`/me/mailFolders/sentitems`).
    pub fn graph_name(self) -> &'static str {
        match self {
            WellKnownFolder::Inbox => "inbox",
            WellKnownFolder::SentItems => "sentitems",
            WellKnownFolder::Drafts => "drafts",
            WellKnownFolder::DeletedItems => "deleteditems",
            WellKnownFolder::Archive => "archive",
            WellKnownFolder::JunkEmail => "junkemail",
        }
    }

    /// The folder whose display name is `name`, if it is a well-known one.
    pub fn from_display_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.display_name() == name)
    }
}

/// Graph `importance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Importance {
    /// `low`
    Low,
    /// `normal`
    Normal,
    /// `high`
    High,
}

/// Graph `flag.flagStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FlagStatus {
    /// `notFlagged`
    NotFlagged,
    /// `flagged`
    Flagged,
    /// `complete`
    Complete,
}

/// The MIME structure a message was generated with (for tests and statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Shape {
    /// A single text/plain part.
    PlainText,
    /// multipart/alternative (plain + HTML).
    Alternative,
    /// multipart/related: HTML with `cid:` inline images (inside an alternative).
    Related,
    /// multipart/mixed with file attachments.
    Mixed,
    /// Meeting request: text/calendar; method=REQUEST in an alternative, plus invite.ics.
    Invitation,
    /// A forwarded message attached as message/rfc822.
    Forwarded,
    /// Multiparts nested five or more levels deep.
    DeepNesting,
    /// No body text at all.
    EmptyBody,
    /// text/plain; format=flowed.
    Flowed,
    /// ISO-8859-1 body (quoted-printable).
    Latin1,
    /// UTF-8 body forced to base64.
    Base64Body,
    /// Long folded headers (long References, long X- headers, long subject).
    LongHeaders,
    /// Hundreds of recipients.
    ManyRecipients,
    /// One very large attachment (≥ the configured large-message size).
    Large,
}

/// One attachment (or inline image, or attached message) of a generated message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    /// Filename as the receiving client shows it (decoded).
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// FNV-1a 64 of the decoded bytes (cheap identity check for tests and dedup stats).
    pub digest: u64,
    /// Inline (`Content-Disposition: inline`, referenced by `cid:`).
    pub inline: bool,
    /// Content-ID without angle brackets, for inline parts.
    pub content_id: Option<String>,
    /// Index in the shared attachment pool, if the bytes come from there.
    pub shared: Option<u32>,
}

/// What Exchange shows about a message besides its MIME: the Graph `message` resource's
/// properties. Available without building the message ([`crate::Generator::message_meta`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    /// Index of the mailbox in the spec.
    pub mailbox: usize,
    /// Index of the message in its mailbox.
    pub index: u64,
    /// Folder path, `/`-separated, starting with a well-known folder's display name or a
    /// top-level user folder (e.g. `Inbox`, `Projects/2026/Q3`).
    pub folder: String,
    /// Received time, Unix seconds UTC.
    pub received: i64,
    /// Sent time (the Date header), Unix seconds UTC.
    pub sent: i64,
    /// Graph `isRead`.
    pub is_read: bool,
    /// Graph `isDraft`.
    pub is_draft: bool,
    /// Graph `importance`.
    pub importance: Importance,
    /// Graph `flag.flagStatus`.
    pub flag: FlagStatus,
    /// Graph `categories`.
    pub categories: Vec<String>,
    /// The Message-ID header, with angle brackets (Graph `internetMessageId`).
    pub internet_message_id: String,
    /// In-Reply-To (replies only).
    pub in_reply_to: Option<String>,
    /// The References header's ids, oldest first.
    pub references: Vec<String>,
    /// Index (in the same mailbox) of the message that started the thread (its own index
    /// for a thread starter): a stable conversation key.
    pub thread_root: u64,
    /// The subject line (decoded).
    pub subject: String,
    /// From.
    pub from: Person,
    /// To.
    pub to: Vec<Person>,
    /// Cc.
    pub cc: Vec<Person>,
    /// The MIME structure used.
    pub shape: Shape,
    /// Graph `hasAttachments`: a non-inline attachment exists.
    pub has_attachments: bool,
}

impl MessageMeta {
    /// Received time as Graph writes it (`2026-01-05T08:00:00Z`).
    pub fn received_date_time(&self) -> String {
        let mut s = graph_datetime(self.received);
        s.truncate(19);
        s.push('Z');
        s
    }

    /// Sent time as Graph writes it.
    pub fn sent_date_time(&self) -> String {
        let mut s = graph_datetime(self.sent);
        s.truncate(19);
        s.push('Z');
        s
    }

    /// The folder path split into its segments.
    pub fn folder_segments(&self) -> impl Iterator<Item = &str> {
        self.folder.split('/')
    }

    /// The well-known folder at the root of the path, if any.
    pub fn well_known_folder(&self) -> Option<WellKnownFolder> {
        WellKnownFolder::from_display_name(self.folder_segments().next().unwrap_or(""))
    }
}

/// A generated message: its metadata and its full RFC 5322 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedMessage {
    /// Exchange-side properties.
    pub meta: MessageMeta,
    /// Attachments, inline images and attached messages, in MIME order.
    pub attachments: Vec<AttachmentInfo>,
    /// The complete message, CRLF line ends.
    pub mime: Vec<u8>,
}

/// FNV-1a 64: tiny, dependency-free and stable, good enough to tell attachments apart.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
