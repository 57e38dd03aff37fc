//! Reading a repository: organizations, protected objects, restore points,
//! items as of a restore point, item content and history. Everything comes
//! from the repository alone (manifests and trees), so a new installation can
//! attach an existing repository and list and restore all of it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::format::RESTORE_POINTS_DIR;
use crate::index::IndexFile;
use crate::manifest::{
    FolderEntry, ItemEntry, ListingPage, ObjectEntry, ObjectRef, ObjectTree, OrganizationRef,
    RestorePoint,
};
use crate::repository::Repository;

/// A protected object and its restore points.
#[derive(Debug, Clone)]
pub struct ProtectedObject {
    pub organization: OrganizationRef,
    pub object: ObjectRef,
    /// Restore point ids, oldest first.
    pub restore_points: Vec<uuid::Uuid>,
    pub latest_items: u64,
    pub latest_bytes: u64,
}

/// An item listed as of a restore point.
#[derive(Debug, Clone)]
pub struct ListedItem {
    pub folder: String,
    pub item: ItemEntry,
}

/// One version of an item: the restore points that hold the same content.
#[derive(Debug, Clone)]
pub struct ItemVersion {
    pub item: ItemEntry,
    pub folder: String,
    /// Restore points holding this version, oldest first.
    pub restore_points: Vec<(uuid::Uuid, String)>,
}

impl Repository {
    pub(crate) fn note_index_file(&self, name: &str, file: &IndexFile) -> Result<()> {
        {
            let mut idx = self.index_write()?;
            for p in &file.packs {
                idx.add_pack(p);
            }
        }
        self.mark_index_loaded(name)
    }

    /// All restore points, oldest first. Manifests are immutable, so they are
    /// read once and cached.
    pub async fn restore_points(&self) -> Result<Vec<Arc<RestorePoint>>> {
        let names = self.backend.list(RESTORE_POINTS_DIR).await?;
        let mut out = Vec::with_capacity(names.len());
        for obj in names {
            let cached = self
                .restore_points
                .lock()
                .map_err(|_| Error::Task("restore point cache poisoned".into()))?
                .get(&obj.name)
                .cloned();
            let rp = match cached {
                Some(rp) => rp,
                None => {
                    let data = self.backend.get(&obj.name).await?;
                    let rp: Arc<RestorePoint> = Arc::new(self.codec.decode_file(&data, &obj.name)?);
                    self.restore_points
                        .lock()
                        .map_err(|_| Error::Task("restore point cache poisoned".into()))?
                        .insert(obj.name.clone(), rp.clone());
                    rp
                }
            };
            out.push(rp);
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    pub async fn restore_point(&self, id: uuid::Uuid) -> Result<Arc<RestorePoint>> {
        self.restore_points()
            .await?
            .into_iter()
            .find(|rp| rp.id == id)
            .ok_or_else(|| Error::NotFound {
                what: format!("restore point {id}"),
            })
    }

    /// Organizations with at least one restore point.
    pub async fn organizations(&self) -> Result<Vec<OrganizationRef>> {
        let mut orgs: BTreeMap<String, OrganizationRef> = BTreeMap::new();
        for rp in self.restore_points().await? {
            orgs.insert(rp.organization.id.clone(), rp.organization.clone());
        }
        Ok(orgs.into_values().collect())
    }

    /// Protected objects of an organization (all organizations with `None`).
    pub async fn protected_objects(
        &self,
        organization: Option<&str>,
    ) -> Result<Vec<ProtectedObject>> {
        let mut map: BTreeMap<(String, String), ProtectedObject> = BTreeMap::new();
        for rp in self.restore_points().await? {
            if organization.is_some_and(|o| o != rp.organization.id) {
                continue;
            }
            for o in &rp.objects {
                let p = map
                    .entry((rp.organization.id.clone(), o.object.id.clone()))
                    .or_insert_with(|| ProtectedObject {
                        organization: rp.organization.clone(),
                        object: o.object.clone(),
                        restore_points: Vec::new(),
                        latest_items: 0,
                        latest_bytes: 0,
                    });
                p.object = o.object.clone();
                p.restore_points.push(rp.id);
                p.latest_items = o.items;
                p.latest_bytes = o.bytes;
            }
        }
        Ok(map.into_values().collect())
    }

    /// The latest entry of an object in the organization's restore points.
    pub async fn latest_object_entry(
        &self,
        organization: &str,
        object: &str,
    ) -> Result<Option<ObjectEntry>> {
        Ok(self
            .restore_points()
            .await?
            .iter()
            .rev()
            .filter(|rp| rp.organization.id == organization)
            .find_map(|rp| rp.object(object).cloned()))
    }

    fn entry_in<'a>(rp: &'a RestorePoint, object: &str) -> Result<&'a ObjectEntry> {
        rp.object(object).ok_or_else(|| Error::NotFound {
            what: format!("object {object} in restore point {}", rp.id),
        })
    }

    /// Folders of an object as of a restore point.
    pub async fn folders(&self, rp: &RestorePoint, object: &str) -> Result<Vec<FolderEntry>> {
        let tree: ObjectTree = self.load_tree(&Self::entry_in(rp, object)?.tree).await?;
        Ok(tree.folders)
    }

    /// Items of one folder.
    pub async fn folder_items(&self, folder: &FolderEntry) -> Result<Vec<ItemEntry>> {
        let mut out = Vec::with_capacity(folder.items as usize);
        for p in &folder.pages {
            let page: ListingPage = self.load_tree(&p.blob).await?;
            out.extend(page.items);
        }
        Ok(out)
    }

    /// Every item of an object as of a restore point.
    pub async fn list_items(&self, rp: &RestorePoint, object: &str) -> Result<Vec<ListedItem>> {
        let mut out = Vec::new();
        for f in self.folders(rp, object).await? {
            for item in self.folder_items(&f).await? {
                out.push(ListedItem {
                    folder: f.id.clone(),
                    item,
                });
            }
        }
        Ok(out)
    }

    /// One item by id as of a restore point (reads one listing page per folder).
    pub async fn find_item(
        &self,
        rp: &RestorePoint,
        object: &str,
        item_id: &str,
    ) -> Result<Option<ListedItem>> {
        for f in self.folders(rp, object).await? {
            // Pages are sorted by first item id: the candidate is the last page
            // whose first id is <= item_id.
            let idx = f.pages.partition_point(|p| p.first.as_str() <= item_id);
            if idx == 0 {
                continue;
            }
            let page: ListingPage = self.load_tree(&f.pages[idx - 1].blob).await?;
            if let Some(item) = page.items.into_iter().find(|i| i.id == item_id) {
                return Ok(Some(ListedItem {
                    folder: f.id.clone(),
                    item,
                }));
            }
        }
        Ok(None)
    }

    /// An item's content, in memory.
    pub async fn read_item(&self, item: &ItemEntry) -> Result<Bytes> {
        let mut out = Vec::with_capacity(item.size as usize);
        for c in &item.chunks {
            out.extend_from_slice(&self.load_blob(c).await?);
        }
        if out.len() as u64 != item.size {
            return Err(Error::corrupt(
                format!("item {}", item.id),
                format!("content is {} bytes, expected {}", out.len(), item.size),
            ));
        }
        Ok(Bytes::from(out))
    }

    /// An item's content, streamed chunk by chunk (bounded memory).
    pub async fn read_item_to<W: AsyncWrite + Unpin>(
        &self,
        item: &ItemEntry,
        out: &mut W,
    ) -> Result<u64> {
        let mut n = 0u64;
        for c in &item.chunks {
            let data = self.load_blob(c).await?;
            out.write_all(&data).await.map_err(|source| Error::Io {
                path: format!("restore target of item {}", item.id),
                source,
            })?;
            n += data.len() as u64;
        }
        Ok(n)
    }

    /// Versions of an item across the organization's restore points, oldest
    /// first. A metadata-only change (read flag) is not a new version.
    pub async fn item_history(
        &self,
        organization: &str,
        object: &str,
        item_id: &str,
    ) -> Result<Vec<ItemVersion>> {
        let mut versions: Vec<ItemVersion> = Vec::new();
        for rp in self.restore_points().await? {
            if rp.organization.id != organization || rp.object(object).is_none() {
                continue;
            }
            let Some(found) = self.find_item(&rp, object, item_id).await? else {
                continue;
            };
            match versions.last_mut() {
                Some(v) if v.item.version == found.item.version => {
                    v.restore_points.push((rp.id, rp.created.clone()));
                }
                _ => versions.push(ItemVersion {
                    item: found.item,
                    folder: found.folder,
                    restore_points: vec![(rp.id, rp.created.clone())],
                }),
            }
        }
        Ok(versions)
    }
}
