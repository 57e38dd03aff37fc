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
use crate::manifest::{ItemEntry, ListingPage, ObjectRef, PageRef};
use crate::repository::Repository;
use crate::session::Session;

pub(crate) struct FolderWork {
    pub(crate) name: String,
    pub(crate) parent: Option<String>,
    pub(crate) base: Vec<PageRef>,
    pub(crate) items: Option<BTreeMap<String, ItemEntry>>,
    /// Bytes of the base listing (valid while `items` is not loaded).
    pub(crate) base_bytes: u64,
    pub(crate) dirty: bool,
}

pub(crate) struct ObjectWork {
    pub(crate) object: ObjectRef,
    pub(crate) state: serde_json::Value,
    pub(crate) folders: BTreeMap<String, FolderWork>,
}

/// Writer for one protected object in a session; clone it into tasks.
#[derive(Clone)]
pub struct ObjectWriter {
    pub(crate) session: Session,
    pub(crate) work: Arc<tokio::sync::Mutex<ObjectWork>>,
}

impl ObjectWriter {
    async fn folder_items<'a>(
        repo: &Repository,
        w: &'a mut ObjectWork,
        folder: &str,
    ) -> Result<&'a mut BTreeMap<String, ItemEntry>> {
        let f = w
            .folders
            .entry(folder.to_string())
            .or_insert_with(|| FolderWork {
                name: folder.to_string(),
                parent: None,
                base: Vec::new(),
                items: Some(BTreeMap::new()),
                base_bytes: 0,
                dirty: true,
            });
        if f.items.is_none() {
            let mut m = BTreeMap::new();
            for p in &f.base {
                let page: ListingPage = repo.load_tree(&p.blob).await?;
                for i in page.items {
                    m.insert(i.id.clone(), i);
                }
            }
            f.items = Some(m);
        }
        f.dirty = true;
        f.items
            .as_mut()
            .ok_or_else(|| Error::Task("folder listing vanished".into()))
    }

    /// The object's opaque state as of the base restore point or checkpoint
    /// (e.g. per-folder delta tokens), `null` for a new object.
    pub async fn state(&self) -> serde_json::Value {
        self.work.lock().await.state.clone()
    }

    /// Replace the object's opaque state; stored with the restore point.
    pub async fn set_state(&self, state: serde_json::Value) {
        self.work.lock().await.state = state;
    }

    /// Create or rename a folder.
    pub async fn set_folder(&self, id: &str, name: &str, parent: Option<&str>) -> Result<()> {
        let mut w = self.work.lock().await;
        let f = w
            .folders
            .entry(id.to_string())
            .or_insert_with(|| FolderWork {
                name: name.to_string(),
                parent: None,
                base: Vec::new(),
                items: Some(BTreeMap::new()),
                base_bytes: 0,
                dirty: true,
            });
        f.name = name.to_string();
        f.parent = parent.map(str::to_string);
        Ok(())
    }

    /// Remove a folder and its items from this restore point on.
    pub async fn remove_folder(&self, id: &str) {
        self.work.lock().await.folders.remove(id);
    }

    /// Folder ids currently known for this object.
    pub async fn folders(&self) -> Vec<String> {
        self.work.lock().await.folders.keys().cloned().collect()
    }

    async fn record(&self, folder: &str, entry: ItemEntry) -> Result<()> {
        let repo = self.session.inner.repo.clone();
        let mut w = self.work.lock().await;
        let items = Self::folder_items(&repo, &mut w, folder).await?;
        items.insert(entry.id.clone(), entry);
        Ok(())
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
        let repo = self.session.inner.repo.clone();
        let mut w = self.work.lock().await;
        let items = Self::folder_items(&repo, &mut w, folder).await?;
        let item = items.get_mut(item_id).ok_or_else(|| Error::NotFound {
            what: format!("item {item_id} in folder {folder}"),
        })?;
        item.metadata = metadata;
        Ok(())
    }

    /// The item `item_id` of `folder` as currently recorded (base restore point or
    /// checkpoint plus this session's changes), if any.
    pub async fn item(&self, folder: &str, item_id: &str) -> Result<Option<ItemEntry>> {
        let repo = self.session.inner.repo.clone();
        let mut w = self.work.lock().await;
        if !w.folders.contains_key(folder) {
            return Ok(None);
        }
        let items = Self::folder_items(&repo, &mut w, folder).await?;
        Ok(items.get(item_id).cloned())
    }

    /// Ids of the items currently recorded in `folder`.
    pub async fn item_ids(&self, folder: &str) -> Result<Vec<String>> {
        let repo = self.session.inner.repo.clone();
        let mut w = self.work.lock().await;
        if !w.folders.contains_key(folder) {
            return Ok(Vec::new());
        }
        let items = Self::folder_items(&repo, &mut w, folder).await?;
        Ok(items.keys().cloned().collect())
    }

    /// The folder (other than `except`) currently holding `item_id`, if any: how a
    /// move between folders is recognized.
    pub async fn locate(&self, item_id: &str, except: &str) -> Result<Option<String>> {
        let repo = self.session.inner.repo.clone();
        let w = self.work.lock().await;
        let ids: Vec<String> = w.folders.keys().filter(|f| *f != except).cloned().collect();
        for folder in ids {
            let f = w
                .folders
                .get(&folder)
                .ok_or_else(|| Error::Task("folder vanished".into()))?;
            let hit = match &f.items {
                Some(items) => items.contains_key(item_id),
                None => {
                    // Read the listing without marking the folder changed.
                    let mut found = false;
                    for p in &f.base {
                        let page: ListingPage = repo.load_tree(&p.blob).await?;
                        if page.items.iter().any(|i| i.id == item_id) {
                            found = true;
                            break;
                        }
                    }
                    found
                }
            };
            if hit {
                return Ok(Some(folder));
            }
        }
        Ok(None)
    }

    /// Remove an item from this restore point on (older ones keep it).
    pub async fn delete_item(&self, folder: &str, item_id: &str) -> Result<bool> {
        let repo = self.session.inner.repo.clone();
        let mut w = self.work.lock().await;
        let items = Self::folder_items(&repo, &mut w, folder).await?;
        Ok(items.remove(item_id).is_some())
    }

    /// Move an item between folders without re-sending its content.
    pub async fn move_item(
        &self,
        from: &str,
        to: &str,
        item_id: &str,
        new_id: Option<&str>,
    ) -> Result<()> {
        let repo = self.session.inner.repo.clone();
        let mut w = self.work.lock().await;
        let mut item = Self::folder_items(&repo, &mut w, from)
            .await?
            .remove(item_id)
            .ok_or_else(|| Error::NotFound {
                what: format!("item {item_id} in folder {from}"),
            })?;
        if let Some(n) = new_id {
            item.id = n.to_string();
        }
        Self::folder_items(&repo, &mut w, to)
            .await?
            .insert(item.id.clone(), item);
        Ok(())
    }
}
