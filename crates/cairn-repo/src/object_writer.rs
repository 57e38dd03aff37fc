//! Writing one protected object in a session: folders, items (content and
//! metadata), moves, deletions and the object's opaque state. Items not touched
//! are carried forward from the base restore point or checkpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::Stream;

use crate::error::{Error, Result};
use crate::id::Id;
use crate::listing::Listing;
use crate::manifest::{ItemEntry, ObjectEntry, ObjectRef};
use crate::session::Session;

pub(crate) struct FolderWork {
    pub(crate) name: String,
    pub(crate) parent: Option<String>,
    pub(crate) listing: Listing,
}

impl FolderWork {
    fn new(name: &str) -> FolderWork {
        FolderWork {
            name: name.to_string(),
            parent: None,
            listing: Listing::default(),
        }
    }
}

pub(crate) struct ObjectWork {
    pub(crate) object: ObjectRef,
    pub(crate) state: serde_json::Value,
    pub(crate) folders: BTreeMap<String, FolderWork>,
    /// The entry last written for the object, valid while `changed` is false:
    /// a finished object costs only this.
    pub(crate) entry: Option<ObjectEntry>,
    pub(crate) changed: bool,
}

impl ObjectWork {
    /// The folder, created (empty, named by its id) if unknown; marks the object changed.
    fn folder_mut(&mut self, folder: &str) -> &mut FolderWork {
        self.changed = true;
        self.folders
            .entry(folder.to_string())
            .or_insert_with(|| FolderWork::new(folder))
    }
}

/// Writer for one protected object in a session; clone it into tasks.
#[derive(Clone)]
pub struct ObjectWriter {
    pub(crate) session: Session,
    pub(crate) work: Arc<tokio::sync::Mutex<ObjectWork>>,
}

impl ObjectWriter {
    /// The object's opaque state as of the base restore point or checkpoint
    /// (e.g. per-folder delta tokens), `null` for a new object.
    pub async fn state(&self) -> serde_json::Value {
        self.work.lock().await.state.clone()
    }

    /// Replace the object's opaque state; stored with the restore point.
    pub async fn set_state(&self, state: serde_json::Value) {
        let mut w = self.work.lock().await;
        w.state = state;
        w.changed = true;
    }

    /// Create or rename a folder.
    pub async fn set_folder(&self, id: &str, name: &str, parent: Option<&str>) -> Result<()> {
        let mut w = self.work.lock().await;
        let f = w.folder_mut(id);
        f.name = name.to_string();
        f.parent = parent.map(str::to_string);
        Ok(())
    }

    /// Remove a folder and its items from this restore point on.
    pub async fn remove_folder(&self, id: &str) {
        let mut w = self.work.lock().await;
        w.folders.remove(id);
        w.changed = true;
    }

    /// Folder ids currently known for this object.
    pub async fn folders(&self) -> Vec<String> {
        self.work.lock().await.folders.keys().cloned().collect()
    }

    async fn record(&self, folder: &str, entry: ItemEntry) -> Result<()> {
        let bound = self.session.spill_bound()?;
        let mut w = self.work.lock().await;
        w.folder_mut(folder).listing.put(entry, bound)
    }

    fn entry(
        &self,
        item_id: &str,
        metadata: serde_json::Value,
        chunks: Vec<Id>,
        size: u64,
    ) -> ItemEntry {
        let mut concat = Vec::with_capacity(chunks.len() * 32);
        for c in &chunks {
            concat.extend_from_slice(&c.0);
        }
        let s = &self.session.inner.stats;
        s.items.fetch_add(1, Ordering::Relaxed);
        s.bytes.fetch_add(size, Ordering::Relaxed);
        ItemEntry {
            id: item_id.to_string(),
            version: self.session.inner.repo.codec.blob_id(&concat),
            size,
            chunks,
            metadata,
        }
    }

    /// Add or replace an item (content in memory).
    pub async fn put_item(
        &self,
        folder: &str,
        item_id: &str,
        metadata: serde_json::Value,
        content: Bytes,
    ) -> Result<ItemEntry> {
        let size = content.len() as u64;
        let chunks = self.session.store_bytes(content).await?;
        let entry = self.entry(item_id, metadata, chunks, size);
        self.record(folder, entry.clone()).await?;
        Ok(entry)
    }

    /// Add or replace an item whose content is streamed (large files).
    pub async fn put_item_stream<S>(
        &self,
        folder: &str,
        item_id: &str,
        metadata: serde_json::Value,
        content: S,
    ) -> Result<ItemEntry>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Unpin,
    {
        let (chunks, size) = self.session.store_stream(item_id, content).await?;
        let entry = self.entry(item_id, metadata, chunks, size);
        self.record(folder, entry.clone()).await?;
        Ok(entry)
    }

    /// Update only an item's metadata (e.g. read flag): same content, same version.
    pub async fn update_metadata(
        &self,
        folder: &str,
        item_id: &str,
        metadata: serde_json::Value,
    ) -> Result<()> {
        let (repo, cache) = (&self.session.inner.repo, &self.session.inner.pages);
        let bound = self.session.spill_bound()?;
        let mut w = self.work.lock().await;
        let f = w.folder_mut(folder);
        let mut item =
            f.listing
                .get(repo, cache, item_id)
                .await?
                .ok_or_else(|| Error::NotFound {
                    what: format!("item {item_id} in folder {folder}"),
                })?;
        item.metadata = metadata;
        f.listing.put(item, bound)
    }

    /// The item `item_id` of `folder` as currently recorded (base restore point or
    /// checkpoint plus this session's changes), if any.
    pub async fn item(&self, folder: &str, item_id: &str) -> Result<Option<ItemEntry>> {
        let (repo, cache) = (&self.session.inner.repo, &self.session.inner.pages);
        let w = self.work.lock().await;
        match w.folders.get(folder) {
            Some(f) => f.listing.get(repo, cache, item_id).await,
            None => Ok(None),
        }
    }

    /// Ids of the items currently recorded in `folder`, in order.
    pub async fn item_ids(&self, folder: &str) -> Result<Vec<String>> {
        let w = self.work.lock().await;
        match w.folders.get(folder) {
            Some(f) => f.listing.ids(&self.session.inner.repo).await,
            None => Ok(Vec::new()),
        }
    }

    /// The folder (other than `except`) currently holding `item_id`, if any: how a
    /// move between folders is recognized. One page probe per folder.
    pub async fn locate(&self, item_id: &str, except: &str) -> Result<Option<String>> {
        let (repo, cache) = (&self.session.inner.repo, &self.session.inner.pages);
        let w = self.work.lock().await;
        for (id, f) in w.folders.iter().filter(|(f, _)| f.as_str() != except) {
            if f.listing.get(repo, cache, item_id).await?.is_some() {
                return Ok(Some(id.clone()));
            }
        }
        Ok(None)
    }

    /// Remove an item from this restore point on (older ones keep it).
    pub async fn delete_item(&self, folder: &str, item_id: &str) -> Result<bool> {
        let (repo, cache) = (&self.session.inner.repo, &self.session.inner.pages);
        let bound = self.session.spill_bound()?;
        let mut w = self.work.lock().await;
        let f = w.folder_mut(folder);
        if f.listing.get(repo, cache, item_id).await?.is_none() {
            return Ok(false);
        }
        f.listing.delete(item_id, bound)?;
        Ok(true)
    }

    /// Move an item between folders without re-sending its content.
    pub async fn move_item(
        &self,
        from: &str,
        to: &str,
        item_id: &str,
        new_id: Option<&str>,
    ) -> Result<()> {
        let (repo, cache) = (&self.session.inner.repo, &self.session.inner.pages);
        let bound = self.session.spill_bound()?;
        let mut w = self.work.lock().await;
        let source = w.folder_mut(from);
        let mut item = source
            .listing
            .get(repo, cache, item_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: format!("item {item_id} in folder {from}"),
            })?;
        source.listing.delete(item_id, bound)?;
        if let Some(n) = new_id {
            item.id = n.to_string();
        }
        w.folder_mut(to).listing.put(item, bound)
    }
}
