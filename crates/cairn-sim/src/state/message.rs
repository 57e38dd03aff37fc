//! Messages: generated ones are kept as (corpus, index) and rebuilt on demand, so a large
//! corpus does not sit in memory; added, edited and imported ones keep their bytes. Graph's
//! `message` JSON is computed from either.

use std::sync::Arc;

use serde_json::{Value, json};

use super::mailbox::{Kind, Mailbox, StoreError, change_key};

/// A message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Graph id (immutable: it survives moves, as with `Prefer: IdType="ImmutableId"`).
    pub id: String,
    /// Folder id.
    pub parent_folder_id: String,
    /// Read flag.
    pub is_read: bool,
    /// Version (changeKey input); every change bumps it.
    pub version: u32,
    /// Change sequence number of the last change.
    pub seq: u64,
    /// Created, Unix seconds.
    pub created: i64,
    /// Last modified, Unix seconds.
    pub modified: i64,
    /// Content.
    pub content: Content,
}

/// Where a message's MIME comes from.
#[derive(Debug, Clone)]
pub enum Content {
    /// Message `index` of the mailbox's corpus.
    Generated {
        /// Index in the corpus mailbox.
        index: u64,
    },
    /// Bytes kept in memory.
    Stored(Arc<StoredMessage>),
}

/// A message whose bytes the simulator keeps.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// Raw MIME.
    pub mime: Vec<u8>,
    /// Properties parsed from it.
    pub props: Props,
}

/// Graph properties of a message that come from its content.
#[derive(Debug, Clone, Default)]
pub struct Props {
    /// Subject.
    pub subject: String,
    /// From (name, address).
    pub from: Option<(String, String)>,
    /// To.
    pub to: Vec<(String, String)>,
    /// Cc.
    pub cc: Vec<(String, String)>,
    /// Received, Unix seconds.
    pub received: i64,
    /// Sent, Unix seconds.
    pub sent: i64,
    /// Message-ID with angle brackets.
    pub internet_message_id: String,
    /// low | normal | high.
    pub importance: String,
    /// notFlagged | flagged | complete.
    pub flag: String,
    /// Categories.
    pub categories: Vec<String>,
    /// A non-inline attachment exists.
    pub has_attachments: bool,
    /// Draft.
    pub is_draft: bool,
    /// Thread key.
    pub conversation: String,
    /// First characters of the text body.
    pub body_preview: String,
}

impl Props {
    /// Properties of a parsed MIME message (`received` when it has no Date).
    pub fn parse(mime: &[u8], received: i64) -> Props {
        let Some(msg) = mail_parser::MessageParser::default().parse(mime) else {
            return Props {
                received,
                sent: received,
                importance: "normal".into(),
                flag: "notFlagged".into(),
                ..Props::default()
            };
        };
        let addrs = |a: Option<&mail_parser::Address>| -> Vec<(String, String)> {
            a.map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x.name().unwrap_or_default().to_string(),
                            x.address().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
        };
        let sent = msg.date().map(|d| d.to_timestamp()).unwrap_or(received);
        let mid = msg
            .message_id()
            .map(|m| format!("<{m}>"))
            .unwrap_or_default();
        let root = msg
            .references()
            .as_text_list()
            .and_then(|l| l.first().map(|s| s.to_string()))
            .unwrap_or_else(|| mid.clone());
        let preview: String = msg
            .body_text(0)
            .map(|t| t.chars().take(255).collect())
            .unwrap_or_default();
        Props {
            subject: msg.subject().unwrap_or_default().to_string(),
            from: addrs(msg.from()).into_iter().next(),
            to: addrs(msg.to()),
            cc: addrs(msg.cc()),
            received,
            sent,
            internet_message_id: mid,
            importance: "normal".into(),
            flag: "notFlagged".into(),
            categories: Vec::new(),
            has_attachments: msg.attachment_count() > 0,
            is_draft: false,
            conversation: root,
            body_preview: preview,
        }
    }

    fn from_meta(m: &cairn_mailgen::MessageMeta) -> Props {
        let p = |p: &cairn_mailgen::Person| (p.name.clone(), p.address.clone());
        let word = |v: &dyn erased::Named| v.name();
        Props {
            subject: m.subject.clone(),
            from: Some(p(&m.from)),
            to: m.to.iter().map(p).collect(),
            cc: m.cc.iter().map(p).collect(),
            received: m.received,
            sent: m.sent,
            internet_message_id: m.internet_message_id.clone(),
            importance: word(&m.importance),
            flag: word(&m.flag),
            categories: m.categories.clone(),
            has_attachments: m.has_attachments,
            is_draft: m.is_draft,
            conversation: format!("{}/{}", m.mailbox, m.thread_root),
            body_preview: String::new(),
        }
    }
}

/// Graph's camelCase names of mailgen's enums.
mod erased {
    pub trait Named {
        fn name(&self) -> String;
    }
    impl Named for cairn_mailgen::Importance {
        fn name(&self) -> String {
            match self {
                cairn_mailgen::Importance::Low => "low",
                cairn_mailgen::Importance::Normal => "normal",
                cairn_mailgen::Importance::High => "high",
            }
            .into()
        }
    }
    impl Named for cairn_mailgen::FlagStatus {
        fn name(&self) -> String {
            match self {
                cairn_mailgen::FlagStatus::NotFlagged => "notFlagged",
                cairn_mailgen::FlagStatus::Flagged => "flagged",
                cairn_mailgen::FlagStatus::Complete => "complete",
            }
            .into()
        }
    }
}

/// RFC 3339 UTC seconds, as Graph writes them (`2026-01-05T08:00:00Z`).
pub fn graph_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

fn conversation_id(key: &str) -> String {
    use base64::Engine;
    let h = cairn_mailgen::fnv1a64(key.as_bytes());
    let mut b = vec![0, 0, 0x10];
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&(!h).to_be_bytes());
    base64::engine::general_purpose::URL_SAFE.encode(b)
}

impl Mailbox {
    /// Graph properties of a message.
    pub fn props(&self, m: &Message) -> Props {
        match &m.content {
            Content::Stored(s) => s.props.clone(),
            Content::Generated { index } => self
                .corpus
                .as_ref()
                .and_then(|c| c.generator.message_meta(c.index, *index))
                .map(|meta| Props::from_meta(&meta))
                .unwrap_or_default(),
        }
    }

    /// Graph `message` JSON (the default property set, without `body`).
    pub fn message_json(&self, m: &Message) -> Value {
        let p = self.props(m);
        let addr = |(n, a): &(String, String)| json!({"emailAddress": {"name": n, "address": a}});
        let from = p.from.as_ref().map(addr);
        json!({
            "@odata.etag": format!("W/\"{}\"", change_key(&m.id, m.version)),
            "id": m.id,
            "createdDateTime": graph_time(m.created),
            "lastModifiedDateTime": graph_time(m.modified),
            "changeKey": change_key(&m.id, m.version),
            "categories": p.categories,
            "receivedDateTime": graph_time(p.received),
            "sentDateTime": graph_time(p.sent),
            "hasAttachments": p.has_attachments,
            "internetMessageId": p.internet_message_id,
            "subject": p.subject,
            "bodyPreview": p.body_preview,
            "importance": p.importance,
            "parentFolderId": m.parent_folder_id,
            "conversationId": conversation_id(&p.conversation),
            "isDeliveryReceiptRequested": false,
            "isReadReceiptRequested": false,
            "isRead": m.is_read,
            "isDraft": p.is_draft,
            "webLink": format!("https://outlook.office365.com/owa/?ItemID={}&viewmodel=ReadMessageItem", m.id),
            "inferenceClassification": "focused",
            "sender": from,
            "from": from,
            "toRecipients": p.to.iter().map(addr).collect::<Vec<_>>(),
            "ccRecipients": p.cc.iter().map(addr).collect::<Vec<_>>(),
            "bccRecipients": [],
            "replyTo": [],
            "flag": {"flagStatus": p.flag},
        })
    }

    /// Adds a message to a folder; `mime` None generates one from the corpus.
    pub fn add_message(
        &mut self,
        folder: &str,
        mime: Option<Vec<u8>>,
        now: i64,
    ) -> Result<String, StoreError> {
        let fid = self
            .folder_id(folder)
            .ok_or_else(|| StoreError::NoFolder(folder.into()))?;
        let name = self.next_name("message");
        let id = super::mailbox::item_id(self.guid, &name);
        let content = match mime {
            Some(bytes) => Content::Stored(Arc::new(StoredMessage {
                props: Props::parse(&bytes, now),
                mime: bytes,
            })),
            None => {
                let c = self.corpus.as_ref().ok_or_else(|| {
                    StoreError::Refused(
                        "this mailbox has no generated corpus; give the MIME to add".into(),
                    )
                })?;
                // Beyond the corpus's own messages: same generator, fresh indexes.
                let index = c.generator.spec().messages_per_mailbox + 1_000_000 + self.created;
                Content::Generated { index }
            }
        };
        let seq = self.next_seq();
        self.messages.insert(
            id.clone(),
            Message {
                id: id.clone(),
                parent_folder_id: fid,
                is_read: false,
                version: 1,
                seq,
                created: now,
                modified: now,
                content,
            },
        );
        Ok(id)
    }

    fn message_mut(&mut self, id: &str) -> Result<&mut Message, StoreError> {
        self.messages
            .get_mut(id)
            .ok_or_else(|| StoreError::NoItem(id.into()))
    }

    /// Edits a message: a new subject (and a marker header) gives new MIME bytes and a
    /// new changeKey.
    pub fn edit_message(
        &mut self,
        id: &str,
        subject: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let old = self.mime(id).ok_or_else(|| StoreError::NoItem(id.into()))?;
        let version = self.message_mut(id)?.version + 1;
        let mime = rewrite_headers(&old, subject, version);
        let received = self.props(&self.messages[id]).received;
        let mut props = Props::parse(&mime, received);
        props.received = received;
        let seq = self.next_seq();
        let m = self.message_mut(id)?;
        m.content = Content::Stored(Arc::new(StoredMessage { mime, props }));
        m.version = version;
        m.seq = seq;
        m.modified = now;
        Ok(())
    }

    /// Sets the read flag (a new changeKey, same MIME).
    pub fn set_read(&mut self, id: &str, read: bool, now: i64) -> Result<(), StoreError> {
        let seq = self.next_seq();
        let m = self.message_mut(id)?;
        m.is_read = read;
        m.version += 1;
        m.seq = seq;
        m.modified = now;
        Ok(())
    }

    /// Moves a message to another folder (its id does not change).
    pub fn move_message(&mut self, id: &str, folder: &str, now: i64) -> Result<(), StoreError> {
        let fid = self
            .folder_id(folder)
            .ok_or_else(|| StoreError::NoFolder(folder.into()))?;
        let from = self.message_mut(id)?.parent_folder_id.clone();
        if from == fid {
            return Ok(());
        }
        self.log_removal(Kind::Message, &from, id);
        let seq = self.next_seq();
        let m = self.message_mut(id)?;
        m.parent_folder_id = fid;
        m.version += 1;
        m.seq = seq;
        m.modified = now;
        Ok(())
    }

    /// Deletes a message as Graph's DELETE does (into Recoverable Items\Deletions), or
    /// for good with `purge`.
    pub fn delete_message(&mut self, id: &str, purge: bool, now: i64) -> Result<(), StoreError> {
        let from = self.message_mut(id)?.parent_folder_id.clone();
        let deletions = self.folder_id("recoverableitemsdeletions");
        match deletions {
            Some(d) if !purge && d != from => self.move_message(id, &d, now),
            _ => {
                self.messages.remove(id);
                self.log_removal(Kind::Message, &from, id);
                Ok(())
            }
        }
    }
}

/// The message with its Subject replaced (when given) and an `X-Cairn-Sim-Revision`
/// header in front, so that every edit changes the bytes.
fn rewrite_headers(mime: &[u8], subject: Option<&str>, version: u32) -> Vec<u8> {
    let end = mime
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(mime.len());
    let (head, body) = mime.split_at(end);
    let mut out = format!("X-Cairn-Sim-Revision: {version}\r\n").into_bytes();
    let mut skipping = false;
    for line in head.split_inclusive(|b| *b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if continuation && skipping {
            continue;
        }
        skipping = false;
        let lower = line.to_ascii_lowercase();
        if lower.starts_with(b"x-cairn-sim-revision:") {
            skipping = true;
            continue;
        }
        if let Some(s) = subject
            && lower.starts_with(b"subject:")
        {
            out.extend_from_slice(b"Subject: ");
            out.extend_from_slice(encode_subject(s).as_bytes());
            out.extend_from_slice(b"\r\n");
            skipping = true;
            continue;
        }
        out.extend_from_slice(line);
    }
    if subject.is_some()
        && !head
            .to_ascii_lowercase()
            .windows(8)
            .any(|w| w == b"subject:")
    {
        out.extend_from_slice(
            format!(
                "Subject: {}\r\n",
                encode_subject(subject.unwrap_or_default())
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(body);
    out
}

/// A Subject value: ASCII as is, else an RFC 2047 B encoded-word.
fn encode_subject(s: &str) -> String {
    use base64::Engine;
    if s.is_ascii() {
        s.to_string()
    } else {
        format!(
            "=?utf-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewriting_replaces_the_subject_and_keeps_the_body() {
        let mime = b"From: a@b.c\r\nSubject: old\r\n folded\r\nTo: x@y.z\r\n\r\nbody\r\n";
        let out = rewrite_headers(mime, Some("new"), 2);
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(text.starts_with("X-Cairn-Sim-Revision: 2\r\n"));
        assert!(text.contains("Subject: new\r\nTo: x@y.z\r\n\r\nbody\r\n"));
        assert!(!text.contains("folded"));
        let again = rewrite_headers(text.as_bytes(), None, 3);
        let again = String::from_utf8(again).unwrap_or_default();
        assert_eq!(again.matches("X-Cairn-Sim-Revision").count(), 1);
        assert!(again.contains("Subject: new"));
    }
}
