//! Synthetic Microsoft 365 mailbox content, deterministic by seed, and import of real
//! mail (.eml directories, mbox files).
//!
//! # Generating
//!
//! ```
//! use cairn_mailgen::{CorpusSpec, Generator};
//!
//! let generator = Generator::new(CorpusSpec::small().with_seed(7));
//! for message in generator.mailbox(0).take(3) {
//!     let meta = &message.meta;
//!     println!("{} {} ({} bytes)", meta.folder, meta.subject, message.mime.len());
//! }
//! // Random access: message 30 without generating 0..29.
//! let m = generator.message(1, 30).expect("mailbox 1 exists");
//! assert!(m.mime.starts_with(b"Received:") || m.mime.starts_with(b"From:"));
//! // Metadata only (no MIME is built): what a folder listing needs.
//! assert_eq!(generator.message_meta(1, 30), Some(m.meta));
//! ```
//!
//! A [`CorpusSpec`] says who (mailboxes), how much (messages, events, contacts per
//! mailbox) and what mix (attachments, very large messages, non-ASCII, invitations, odd
//! structures). [`Generator`] produces [`GeneratedMessage`]s — Exchange metadata (folder,
//! read state, importance, flag, categories, thread) plus the complete RFC 5322 bytes —
//! and Graph-shaped [`Event`]s and [`Contact`]s.
//!
//! # Determinism contract
//!
//! The same `CorpusSpec` (seed included) and the same version of this crate give
//! byte-identical output on every machine and every run:
//!
//! - every item is computed from ChaCha8 streams keyed by (seed, stream tag, mailbox,
//!   index) — never from the clock, the host name, addresses of objects, `HashMap`
//!   iteration or thread ids;
//! - only ChaCha8's raw output is used: integer ranges and probabilities are sampled by
//!   this crate's own code, so changes to `rand`'s distributions cannot shift the corpus;
//! - Date headers, Message-IDs and MIME boundaries are derived from the seed (mail-builder
//!   would otherwise use the clock and the host name, so we always supply them).
//!
//! "The same version" includes the locked versions of mail-builder (whose encoders write
//! part of the bytes) and rand_chacha. Changing the crate's generation code may change the
//! corpus; a golden-digest test pins one corpus so that this is never accidental.
//!
//! Every message depends only on (spec, mailbox, index), and [`Generator`] is `Send +
//! Sync`, so generation parallelises trivially (one mailbox or index range per thread).
//!
//! # Streaming and random access
//!
//! Nothing is stored: [`Generator::mailbox`] yields one message at a time, and
//! [`Generator::message`] builds message *N* directly (its thread ancestors' subjects and
//! Message-IDs come from a cheap separate stream). [`Generator::message_meta`] returns the
//! same metadata without building any MIME, for listings. A simulator can therefore keep
//! only (mailbox, index) per item and regenerate content on demand. Shared attachments
//! (same name, same bytes in many mailboxes) are regenerated from (seed, pool index) too;
//! [`Generator::shared_attachment`] exposes them.
//!
//! # What a corpus contains
//!
//! - Folders: the well-known ones (Inbox, Sent Items, Drafts, Deleted Items, Archive,
//!   Junk Email) and nested user folders, some non-ASCII ([`Generator::folders`]).
//! - Threads: replies carry `RE:`/`AW:` subjects, In-Reply-To and References pointing at
//!   earlier messages of the same mailbox; Outlook-style Thread-Topic and Thread-Index.
//! - Structures ([`Shape`]): text/plain; multipart/alternative; multipart/related with
//!   `cid:` inline images; multipart/mixed with attachments (PDF, Office, PNG, JPEG, CSV,
//!   text, ZIP byte patterns, 2 KiB to several MiB, some from the shared pool); meeting
//!   requests (text/calendar; method=REQUEST plus invite.ics); forwarded message/rfc822;
//!   five-level nesting; empty bodies and attachment-only messages; format=flowed;
//!   ISO-8859-1 quoted-printable; forced base64; long folded headers; hundreds of
//!   recipients; very large messages (≥ [`CorpusSpec::large_message_size`]).
//! - Encodings: RFC 2047 encoded-words (B and Q, ours and mail-builder's) in Subject and
//!   display names (German, French, Japanese, Arabic, emoji); RFC 2231 filenames with
//!   continuations; 7bit, 8bit, quoted-printable and base64 bodies.
//! - Compressibility like real mail: text is built from a repetitive vocabulary, images
//!   and Office containers are random bytes, PDFs mix both.
//!
//! # Importing real mail
//!
//! [`import::eml_dir`] and [`import::mbox`] read real mail into [`import::ImportedMessage`]s
//! with the bytes kept exactly; see the module for the mbox dialects handled.

mod blobs;
pub mod calendar;
mod compose;
pub mod contacts;
mod encode;
mod envelope;
mod error;
mod generator;
mod headers;
mod ics;
pub mod import;
mod message;
mod parts;
mod people;
mod plan;
mod rng;
mod spec;
mod text;

pub use blobs::BlobKind;
pub use calendar::Event;
pub use contacts::Contact;
pub use error::{Error, Result};
pub use generator::{Generator, MailboxIter};
pub use message::{
    AttachmentInfo, FlagStatus, GeneratedMessage, Importance, MessageMeta, Shape, WellKnownFolder,
    fnv1a64,
};
pub use people::Person;
pub use spec::{
    AttachmentMix, AttachmentRates, CorpusSpec, DEFAULT_START, MAX_ATTACHMENT_SIZE, MailboxSpec,
};
