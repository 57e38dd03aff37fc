//! One collection of an object — a mail folder, the calendar, a contact folder, an
//! archive folder — brought up to date from its delta: new and changed items written,
//! removals recorded, moves recognized, and the new delta link kept in the object's
//! state only once the whole round is stored (a killed or failed round starts again
//! from the previous link; content already stored is deduplicated).
//!
//! Decisions:
//! - An item whose `changeKey` matches what the repository holds is not downloaded
//!   (what a re-enumeration after an expired token mostly finds).
//! - Any other change downloads the content again; an item version is named by its
//!   content, so a read/unread flip (same MIME, new `changeKey`) updates the metadata
//!   and creates no new version.
//! - An id new to a folder but present in another is a move (Outlook ids are asked
//!   immutable): the entry moves without downloading.
//! - A permanent failure of one item (404 mid-run, unreadable content) is a warning
//!   naming the item, and the item joins the object's list of items to try again
//!   ([`super::retry`]); a temporary one that outlasts the retries is a warning too and
//!   keeps the old delta link, so the next session fetches the item again: a throttled
//!   or transient error never loses an item.
//! - Nothing here is kept per item beyond the folder being read: the ids seen in a
//!   full enumeration live as long as the folder's round; warnings are capped.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use cairn_m365::mail::{Change, DeltaOutcome, MailClient};
use cairn_repo::ObjectWriter;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::error::BackupError;
use super::plan::{ObjectId, ProgressEvent};
use super::state::FailedItems;
pub(crate) use super::warnings::Warnings;

/// How a collection's items are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// Messages: metadata from the delta, content = raw MIME (`$value`).
    Mime,
    /// Events, contacts: the JSON entity is the item.
    Json(&'static str),
    /// Archive items: content from the mailbox export API (FastTransfer data).
    Export,
}

impl Content {
    /// Whether an item whose content fails permanently is kept to be tried again
    /// ([`super::retry`]): messages and archive items, whose folder's delta moves
    /// on without them. Events and contacts come whole in their delta.
    pub(crate) fn retried(self) -> bool {
        matches!(self, Content::Mime | Content::Export)
    }
}

/// A collection to bring up to date.
#[derive(Debug, Clone)]
pub(crate) struct Collection {
    /// Folder id in the repository (and key of the object state).
    pub key: String,
    pub name: String,
    pub parent: Option<String>,
    /// Where a full enumeration starts.
    pub start_url: String,
    pub content: Content,
}

/// Counters of one object, shared by its concurrent downloads.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub items: AtomicU64,
    pub new_versions: AtomicU64,
    pub deletions: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_stored: AtomicU64,
}

/// What processing one object needs.
pub(crate) struct ObjectRun<'a> {
    pub client: &'a MailClient,
    pub writer: ObjectWriter,
    pub object: ObjectId,
    /// Throttle key and URL id: the user id, or the archive mailbox id.
    pub mailbox: String,
    /// The object had a restore point or checkpoint before (moves are looked for).
    pub had_base: bool,
    pub parallel: usize,
    pub progress: &'a mpsc::Sender<ProgressEvent>,
    pub cancel: watch::Receiver<bool>,
    pub counters: Counters,
    pub warnings: Mutex<Warnings>,
    /// Items that could not be read, kept in the object's state ([`super::retry`]).
    pub failed: Mutex<FailedItems>,
    /// Folder → ids reported gone, applied by [`ObjectRun::apply_removals`].
    pub pending_removals: tokio::sync::Mutex<BTreeMap<String, BTreeSet<String>>>,
}

/// Most restarts of one round after expired tokens before giving up on the folder.
const MAX_RESTARTS: u32 = 2;
/// Attempts to stream one item's content when the body breaks off mid-way.
const CONTENT_ATTEMPTS: u32 = 3;

#[derive(Debug)]
pub(crate) enum ItemResult {
    Done,
    /// Temporary trouble outlasted the retries: keep the old delta link.
    Retry(String),
    /// Permanent trouble with this item only.
    Warning(String),
}

/// What a failed content download means for the item: not found (deleted meanwhile,
/// or damaged) or unreadable (another permanent error) is a warning about this item
/// only, and the item is tried again next session; a temporary failure that outlasted
/// the retries means "read the folder's changes again next session".
fn classify(e: &cairn_m365::Error) -> ItemResult {
    if e.service().is_some_and(|s| s.is_not_found()) {
        ItemResult::Warning(format!("its content was not found ({e})"))
    } else if e.is_temporary() {
        ItemResult::Retry(e.to_string())
    } else {
        ItemResult::Warning(format!("cannot be read: {e}"))
    }
}

fn change_key(v: &Value) -> Option<&str> {
    v.get("changeKey").and_then(Value::as_str)
}

pub(crate) fn item_label(v: &Value) -> String {
    let id = v.get("id").and_then(Value::as_str).unwrap_or("?");
    let title = ["subject", "displayName"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str));
    match title {
        Some(t) => format!("{id} ({t:?})"),
        None => id.to_owned(),
    }
}

impl ObjectRun<'_> {
    pub fn warn(&self, item: Option<String>, message: String) {
        let text = match &item {
            Some(i) => format!("item {i}: {message}"),
            None => message.clone(),
        };
        tracing::warn!(object = %self.object.name, "{text}");
        self.warnings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(text);
        let _ = self.progress.try_send(ProgressEvent::Warning {
            object: self.object.clone(),
            item,
            message,
        });
    }

    pub(crate) fn stopped(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Brings `c` up to date; returns the delta link to keep, or `None` when the
    /// round must be done again next time (some item is still missing).
    pub async fn collection(
        &self,
        c: &Collection,
        previous: Option<&str>,
    ) -> Result<Option<String>, BackupError> {
        self.writer
            .set_folder(&c.key, &c.name, c.parent.as_deref())
            .await?;
        let mut url = previous.unwrap_or(&c.start_url).to_owned();
        let mut full = previous.is_none();
        let mut seen = self.seen_set(c, full).await?;
        let mut restarts = 0;
        let complete = AtomicBool::new(true);
        loop {
            if self.stopped() {
                return Err(BackupError::Stopped);
            }
            let page = match self.client.delta_page::<Value>(&self.mailbox, &url).await? {
                DeltaOutcome::Page(page) => page,
                DeltaOutcome::Expired { code } => {
                    restarts += 1;
                    if restarts > MAX_RESTARTS {
                        return Err(BackupError::Invalid(format!(
                            "folder {}: the delta token keeps expiring ({code})",
                            c.name
                        )));
                    }
                    tracing::info!(folder = %c.name, %code, full, "delta token expired: enumerating the folder again");
                    url = c.start_url.clone();
                    if !full {
                        full = true;
                        seen = self.seen_set(c, true).await?;
                    } else if let Some(s) = seen.as_mut() {
                        s.clear();
                    }
                    continue;
                }
            };
            let before = self.snapshot();
            let mut upserts = Vec::new();
            for change in page.changes {
                match change {
                    Change::Removed(r) => {
                        if let Some(s) = seen.as_mut() {
                            s.remove(&r.id);
                        }
                        self.forget_failure(&c.key, &r.id);
                        self.pending_removals
                            .lock()
                            .await
                            .entry(c.key.clone())
                            .or_default()
                            .insert(r.id);
                    }
                    Change::Upsert(v) => {
                        if let (Some(s), Some(id)) =
                            (seen.as_mut(), v.get("id").and_then(Value::as_str))
                        {
                            s.insert(id.to_owned());
                        }
                        upserts.push(v);
                    }
                }
            }
            self.upserts(c, upserts, &complete).await?;
            self.report(before).await;
            match (page.next_link, page.delta_link) {
                (Some(next), _) => url = next,
                (None, Some(delta)) => {
                    if let (true, Some(seen)) = (full, seen) {
                        self.drop_unseen(c, &seen).await?;
                    }
                    return Ok(complete.load(Ordering::Relaxed).then_some(delta));
                }
                (None, None) => {
                    return Err(BackupError::Microsoft(cairn_m365::Error::Decode {
                        url,
                        what: "a delta page with neither nextLink nor deltaLink".into(),
                    }));
                }
            }
        }
    }

    /// On a full enumeration of a folder that already holds items, the ids seen, so
    /// items gone meanwhile can be dropped at the end.
    async fn seen_set(
        &self,
        c: &Collection,
        full: bool,
    ) -> Result<Option<HashSet<String>>, BackupError> {
        if !full || self.writer.item_ids(&c.key).await?.is_empty() {
            return Ok(None);
        }
        Ok(Some(HashSet::new()))
    }

    async fn drop_unseen(&self, c: &Collection, seen: &HashSet<String>) -> Result<(), BackupError> {
        let gone: Vec<String> = self
            .writer
            .item_ids(&c.key)
            .await?
            .into_iter()
            .filter(|id| !seen.contains(id))
            .collect();
        if !gone.is_empty() {
            self.pending_removals
                .lock()
                .await
                .entry(c.key.clone())
                .or_default()
                .extend(gone);
        }
        Ok(())
    }

    /// Applies the removals reported while the object's folders were read: what did
    /// not reappear elsewhere (a move) is deleted from this restore point on.
    pub async fn apply_removals(&self) -> Result<(), BackupError> {
        let pending = std::mem::take(&mut *self.pending_removals.lock().await);
        for (folder, ids) in pending {
            for id in ids {
                if self.writer.delete_item(&folder, &id).await? {
                    self.counters.deletions.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    /// The folder an item was reported gone from in this session, if any (and takes it
    /// out of the pending removals: it moved).
    async fn moved_from(&self, id: &str, to: &str) -> Option<String> {
        let mut pending = self.pending_removals.lock().await;
        let from = pending
            .iter()
            .find(|(folder, ids)| folder.as_str() != to && ids.contains(id))
            .map(|(folder, _)| folder.clone())?;
        if let Some(ids) = pending.get_mut(&from) {
            ids.remove(id);
        }
        Some(from)
    }

    pub(crate) fn snapshot(&self) -> [u64; 3] {
        [
            self.counters.items.load(Ordering::Relaxed),
            self.counters.bytes_read.load(Ordering::Relaxed),
            self.counters.bytes_stored.load(Ordering::Relaxed),
        ]
    }

    pub(crate) async fn report(&self, before: [u64; 3]) {
        let now = self.snapshot();
        if now == before {
            return;
        }
        let _ = self
            .progress
            .send(ProgressEvent::Items {
                object: self.object.clone(),
                items: now[0] - before[0],
                bytes_read: now[1] - before[1],
                bytes_stored: now[2] - before[2],
            })
            .await;
    }

    async fn upserts(
        &self,
        c: &Collection,
        items: Vec<Value>,
        complete: &AtomicBool,
    ) -> Result<(), BackupError> {
        let mut to_fetch = Vec::new();
        for v in items {
            if !self.settle_without_content(c, &v).await? {
                to_fetch.push(v);
            }
        }
        let results: Vec<(Value, Result<ItemResult, BackupError>)> = match c.content {
            Content::Export => {
                let mut out = Vec::new();
                for batch in to_fetch.chunks(cairn_m365::mail::archive_batch()) {
                    out.extend(self.export_batch(c, batch).await?);
                }
                out
            }
            _ => {
                futures::stream::iter(to_fetch)
                    .map(|v| async move {
                        let r = self.fetch(c, &v).await;
                        (v, r)
                    })
                    .buffer_unordered(self.parallel.max(1))
                    .collect()
                    .await
            }
        };
        for (v, r) in results {
            let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
            match r? {
                ItemResult::Done => {
                    self.forget_failure(&c.key, id);
                }
                ItemResult::Warning(msg) if c.content.retried() => {
                    let attempts = self.record_failure(&c.key, id, &msg);
                    self.warn(
                        Some(item_label(&v)),
                        super::retry::failure_message(&msg, attempts),
                    );
                }
                ItemResult::Warning(msg) => self.warn(Some(item_label(&v)), msg),
                ItemResult::Retry(msg) => {
                    complete.store(false, Ordering::Relaxed);
                    self.warn(
                        Some(item_label(&v)),
                        format!("{msg}; it will be read again by the next session"),
                    );
                }
            }
        }
        Ok(())
    }

    pub(crate) fn metadata(c: &Collection, v: &Value) -> Value {
        let mut meta = match c.content {
            Content::Json(_) => {
                let mut m = serde_json::Map::new();
                for k in [
                    "id",
                    "changeKey",
                    "subject",
                    "displayName",
                    "lastModifiedDateTime",
                    "parentFolderId",
                ] {
                    if let Some(x) = v.get(k) {
                        m.insert(k.to_owned(), x.clone());
                    }
                }
                Value::Object(m)
            }
            _ => v.clone(),
        };
        if let Value::Object(m) = &mut meta {
            m.insert("folder".into(), json!(c.key));
            let kind = match c.content {
                Content::Mime => "message",
                Content::Json(kind) => kind,
                Content::Export => "archiveItem",
            };
            m.insert("kind".into(), json!(kind));
        }
        meta
    }

    /// Handles an upsert that needs no content (unchanged, or moved); `false` when the
    /// content must be read.
    async fn settle_without_content(&self, c: &Collection, v: &Value) -> Result<bool, BackupError> {
        let Some(id) = v.get("id").and_then(Value::as_str) else {
            self.warn(
                None,
                format!("folder {}: an entry without id was skipped", c.name),
            );
            return Ok(true);
        };
        let meta = Self::metadata(c, v);
        let existing = match self.writer.item(&c.key, id).await? {
            Some(e) => Some(e),
            None => {
                // A move: reported gone from another folder, or (that folder not read
                // yet) still recorded there.
                let from = match self.moved_from(id, &c.key).await {
                    Some(from) => Some(from),
                    None if self.had_base => self.writer.locate(id, &c.key).await?,
                    None => None,
                };
                match from {
                    Some(from) if self.writer.item(&from, id).await?.is_some() => {
                        self.writer.move_item(&from, &c.key, id, None).await?;
                        self.writer.item(&c.key, id).await?
                    }
                    _ => None,
                }
            }
        };
        if let Some(e) = existing
            && change_key(&meta).is_some()
            && change_key(&e.metadata) == change_key(&meta)
        {
            if e.metadata != meta {
                self.writer.update_metadata(&c.key, id, meta).await?;
            }
            return Ok(true);
        }
        Ok(false)
    }

    pub(crate) fn stored(&self, previous: Option<cairn_repo::Id>, entry: &cairn_repo::ItemEntry) {
        self.counters.items.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_read
            .fetch_add(entry.size, Ordering::Relaxed);
        if previous != Some(entry.version) {
            self.counters.new_versions.fetch_add(1, Ordering::Relaxed);
            self.counters
                .bytes_stored
                .fetch_add(entry.size, Ordering::Relaxed);
        }
    }

    pub(crate) async fn fetch(&self, c: &Collection, v: &Value) -> Result<ItemResult, BackupError> {
        let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
        match c.content {
            // Through the export API, as a batch of one (`upserts` sends whole batches).
            Content::Export => Ok(
                match self.export_batch(c, std::slice::from_ref(v)).await?.pop() {
                    Some((_, r)) => r?,
                    None => ItemResult::Warning("not in the export answer".into()),
                },
            ),
            Content::Json(_) => {
                let (meta, previous) = (Self::metadata(c, v), self.previous_version(c, id).await?);
                let body =
                    serde_json::to_vec(v).map_err(|e| BackupError::Invalid(e.to_string()))?;
                let entry = self
                    .writer
                    .put_item(&c.key, id, meta, Bytes::from(body))
                    .await?;
                self.stored(previous, &entry);
                Ok(ItemResult::Done)
            }
            Content::Mime => {
                let (meta, previous) = (Self::metadata(c, v), self.previous_version(c, id).await?);
                let mut last = String::new();
                for _ in 0..CONTENT_ATTEMPTS {
                    let stream = match self.client.message_mime(&self.mailbox, id).await {
                        Ok(s) => s,
                        Err(e) => return Ok(classify(&e)),
                    };
                    match self
                        .writer
                        .put_item_stream(&c.key, id, meta.clone(), stream)
                        .await
                    {
                        Ok(entry) => {
                            self.stored(previous, &entry);
                            return Ok(ItemResult::Done);
                        }
                        Err(cairn_repo::Error::Content { source, .. }) => {
                            last = format!("its content broke off: {source}");
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(ItemResult::Retry(last))
            }
        }
    }

    /// The version of the item as recorded so far (base or this session), for the
    /// counts of new versions.
    pub(crate) async fn previous_version(
        &self,
        c: &Collection,
        id: &str,
    ) -> Result<Option<cairn_repo::Id>, BackupError> {
        Ok(self.writer.item(&c.key, id).await?.map(|e| e.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: &str) -> cairn_m365::Error {
        cairn_m365::Error::Service {
            method: "GET".into(),
            url: "https://graph.microsoft.com/v1.0/users/u/messages/m/$value".into(),
            error: Box::new(cairn_m365::ServiceError::parse(
                cairn_m365::Service::Graph,
                status,
                None,
                format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#).as_bytes(),
            )),
        }
    }

    #[test]
    fn a_bad_item_is_a_warning_and_throttling_never_loses_it() {
        assert!(
            matches!(classify(&service(404, "ErrorItemNotFound")), ItemResult::Warning(m) if m.contains("not found"))
        );
        assert!(matches!(
            classify(&service(500, "ErrorCorruptData")),
            ItemResult::Retry(_)
        ));
        assert!(
            matches!(classify(&service(422, "ErrorCorruptData")), ItemResult::Warning(m) if m.contains("cannot be read"))
        );
        assert!(matches!(
            classify(&service(429, "ApplicationThrottled")),
            ItemResult::Retry(_)
        ));
        assert!(matches!(classify(&service(503, "")), ItemResult::Retry(_)));
    }

    #[test]
    fn labels_name_the_item() {
        assert_eq!(
            item_label(&json!({"id": "AAMk1", "subject": "hi"})),
            "AAMk1 (\"hi\")"
        );
        assert_eq!(item_label(&json!({"id": "AAMk2"})), "AAMk2");
    }
}
