//! Restore points and the trees under them. A restore point (`restorepoints/<id>`)
//! is an immutable manifest of one session: for each protected object, its opaque
//! state (delta tokens…) and the id of its object tree blob. An object tree lists
//! folders; a folder lists items in pages (tree blobs) cut at content-defined
//! boundaries of the item ids, so an unchanged folder or page is stored once
//! across all restore points.

use serde::{Deserialize, Serialize};

use crate::id::Id;

/// The Microsoft 365 organization a restore point belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrganizationRef {
    /// Stable id (the tenant id).
    pub id: String,
    pub name: String,
}

/// A protected object: a mailbox, an archive mailbox, a OneDrive, a site…
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Stable id within the organization (e.g. the mailbox's user id).
    pub id: String,
    /// `mailbox`, `archive`, `onedrive`, `site`… chosen by the engine.
    pub kind: String,
    /// Display name (e.g. the SMTP address).
    pub name: String,
}

/// `restorepoints/<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestorePoint {
    pub version: u32,
    pub id: uuid::Uuid,
    pub session: uuid::Uuid,
    pub organization: OrganizationRef,
    #[serde(default)]
    pub job: Option<String>,
    pub started: String,
    pub created: String,
    pub objects: Vec<ObjectEntry>,
}

impl RestorePoint {
    pub fn object(&self, id: &str) -> Option<&ObjectEntry> {
        self.objects.iter().find(|o| o.object.id == id)
    }
}

/// One protected object in a restore point or checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectEntry {
    #[serde(flatten)]
    pub object: ObjectRef,
    /// Opaque state of the backup engine (per-folder delta tokens…).
    pub state: serde_json::Value,
    /// Object tree blob.
    pub tree: Id,
    pub items: u64,
    pub bytes: u64,
}

/// Tree blob: the folders of an object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectTree {
    pub folders: Vec<FolderEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FolderEntry {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    pub pages: Vec<PageRef>,
    pub items: u64,
    pub bytes: u64,
}

/// A page of a folder listing: its blob and the first item id in it (pages are
/// sorted by item id, so one item is found by binary search).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    pub blob: Id,
    pub first: String,
    pub count: u32,
}

/// Tree blob: a page of items, sorted by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListingPage {
    pub items: Vec<ItemEntry>,
}

/// One item as of a restore point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemEntry {
    pub id: String,
    /// Content id: keyed hash of the content's chunk ids. Equal content, equal
    /// version; metadata-only changes (read flag) keep the version.
    pub version: Id,
    pub size: u64,
    pub chunks: Vec<Id>,
    pub metadata: serde_json::Value,
}

/// `sessions/<session id>`: the state of an unfinished session, so a killed job
/// resumes where it checkpointed. Blobs it references are kept by prune.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub session: uuid::Uuid,
    pub organization: OrganizationRef,
    #[serde(default)]
    pub job: Option<String>,
    pub started: String,
    pub checkpointed: String,
    pub objects: Vec<ObjectEntry>,
}
