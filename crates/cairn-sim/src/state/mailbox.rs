//! Mailbox stores: one per mailbox-enabled user, a primary mailbox and an optional
//! in-place archive, each a folder tree with messages, plus the primary mailbox's
//! calendar and contacts. Every change takes the next number of the mailbox's change
//! sequence, and removals are logged, so delta queries can answer "what changed since
//! token T" for any folder without keeping snapshots.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::message::{Content, Message};
use crate::catalog;

/// Well-known folders of a new primary mailbox under the root: (well-known name, display
/// name, hidden).
pub const WELL_KNOWN_FOLDERS: &[(&str, &str, bool)] = &[
    ("inbox", "Inbox", false),
    ("drafts", "Drafts", false),
    ("sentitems", "Sent Items", false),
    ("deleteditems", "Deleted Items", false),
    ("junkemail", "Junk Email", false),
    ("archive", "Archive", false),
    ("outbox", "Outbox", false),
    ("conversationhistory", "Conversation History", false),
    ("syncissues", "Sync Issues", false),
    ("clutter", "Clutter", true),
];

/// Children of Sync Issues (well-known name, display name).
const SYNC_ISSUES_CHILDREN: &[(&str, &str)] = &[
    ("conflicts", "Conflicts"),
    ("localfailures", "Local Failures"),
    ("serverfailures", "Server Failures"),
];

/// Folders of the Recoverable Items tree: outside the IPM subtree (`msgfolderroot`), so
/// `mailFolders` never lists them, but Graph reaches them by well-known name.
const RECOVERABLE_FOLDERS: &[(&str, &str)] = &[
    ("recoverableitemsroot", "Recoverable Items"),
    ("recoverableitemsdeletions", "Deletions"),
    ("recoverableitemspurges", "Purges"),
    ("recoverableitemsversions", "Versions"),
];

/// A user's mail: primary mailbox and archive.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxStore {
    /// Primary mailbox.
    pub primary: Mailbox,
    /// In-place archive, when enabled.
    pub archive: Option<Mailbox>,
}

/// What a delta query tracks, and what a removal was removed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// Mail folders (hierarchy).
    Folder,
    /// Messages of a mail folder.
    Message,
    /// Calendar events.
    Event,
    /// Contacts of a contact folder.
    Contact,
}

/// An item that left a container (deleted, or moved elsewhere) at `seq`.
#[derive(Debug, Clone, Serialize)]
pub struct Removal {
    /// Change sequence number.
    pub seq: u64,
    /// What it was.
    pub kind: Kind,
    /// The folder it left (empty for folders and events).
    pub container: String,
    /// Its id.
    pub id: String,
}

/// A calendar event or a contact: Graph JSON plus change tracking.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Graph id.
    pub id: String,
    /// Contact folder id (contacts) or calendar id (events).
    pub folder: String,
    /// Graph JSON without id/changeKey/parentFolderId.
    pub json: Value,
    /// Version (changeKey input).
    pub version: u32,
    /// Change sequence number of the last change.
    pub seq: u64,
    /// Start/end Unix seconds (events; for calendarView windows).
    pub window: Option<(i64, i64)>,
    /// Exceptions and cancelled occurrences (series masters; empty otherwise).
    pub series: super::series::Series,
}

/// A message's MIME, not yet built.
#[derive(Debug, Clone)]
pub enum MimeSource {
    /// Kept bytes.
    Stored(Arc<super::message::StoredMessage>),
    /// Message `index` of a corpus mailbox.
    Generated(CorpusRef, u64),
}

impl MimeSource {
    /// The bytes (generating them if needed).
    pub fn build(&self) -> Option<Vec<u8>> {
        match self {
            MimeSource::Stored(s) => Some(s.mime.clone()),
            MimeSource::Generated(c, index) => c.generator.message(c.index, *index).map(|g| g.mime),
        }
    }
}

/// Where generated content comes from: the tenant's corpus and this mailbox's index in it.
#[derive(Debug, Clone)]
pub struct CorpusRef {
    /// The generator (shared by the tenant's mailboxes).
    pub generator: Arc<cairn_mailgen::Generator>,
    /// Index of this mailbox in the corpus.
    pub index: usize,
}

/// One mailbox (primary or archive).
#[derive(Debug, Clone, Serialize)]
pub struct Mailbox {
    /// Exchange mailbox GUID.
    pub guid: Uuid,
    /// Id of the root folder (`msgfolderroot`, parent of the top-level folders).
    pub root_id: String,
    /// Mail folders, parents before children.
    pub folders: Vec<MailFolder>,
    /// Messages by id.
    #[serde(skip)]
    pub messages: BTreeMap<String, Message>,
    /// Calendar events by id (primary mailbox).
    #[serde(skip)]
    pub events: BTreeMap<String, Entry>,
    /// Contact folders; the first is the default Contacts folder.
    pub contact_folders: Vec<MailFolder>,
    /// Contacts by id.
    #[serde(skip)]
    pub contacts: BTreeMap<String, Entry>,
    /// Removals, oldest first.
    #[serde(skip)]
    pub removals: Vec<Removal>,
    /// Last change sequence number used.
    pub seq: u64,
    /// Delta tokens issued before this epoch are expired.
    pub token_epoch: u32,
    /// Counter for ids of created objects.
    pub created: u64,
    /// Generated content.
    #[serde(skip)]
    pub corpus: Option<CorpusRef>,
    /// Messages still listed (folder lists, delta) whose MIME cannot be read: `$value`
    /// answers 404 ErrorItemNotFound, as Exchange does for an item that vanished or
    /// is damaged between listing and download. Set through the mutation API.
    #[serde(skip)]
    pub unreadable: BTreeSet<String>,
}

/// A mail (or contact) folder.
#[derive(Debug, Clone, Serialize)]
pub struct MailFolder {
    /// Graph id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Parent folder id.
    pub parent_folder_id: String,
    /// Well-known name (inbox, drafts, …), if any.
    pub well_known_name: Option<String>,
    /// Hidden folder.
    pub is_hidden: bool,
    /// Change sequence number of the last change.
    pub seq: u64,
    /// Inside the IPM subtree (listed by `mailFolders`); false for Recoverable Items.
    pub visible_tree: bool,
}

/// An opaque, deterministic Graph-style id ("AAMk…") for an object of a mailbox.
pub fn item_id(mailbox: Uuid, name: &str) -> String {
    let derived = Uuid::new_v5(
        &catalog::ID_NAMESPACE,
        format!("{mailbox}/{name}").as_bytes(),
    );
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&[0x00, 0x03, 0x24]);
    bytes.extend_from_slice(mailbox.as_bytes());
    bytes.extend_from_slice(derived.as_bytes());
    // Graph ids are URL-safe base64 with padding.
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// Exchange-style change key of version `version` of item `id`.
pub fn change_key(id: &str, version: u32) -> String {
    let h = cairn_mailgen::fnv1a64(id.as_bytes());
    let mut bytes = vec![0x09, 0, 0, 0, 0x16, 0, 0, 0];
    bytes.extend_from_slice(&h.to_le_bytes());
    bytes.extend_from_slice(&version.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Why a mutation of a mailbox was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No such folder.
    #[error("folder '{0}' does not exist in this mailbox (give its id or well-known name)")]
    NoFolder(String),
    /// No such item.
    #[error("item '{0}' does not exist in this mailbox")]
    NoItem(String),
    /// Refused.
    #[error("{0}")]
    Refused(String),
}

impl Mailbox {
    /// A new mailbox with the well-known folders (an archive has fewer).
    pub fn new(guid: Uuid, archive: bool) -> Mailbox {
        let root_id = item_id(guid, "msgfolderroot");
        let mut m = Mailbox {
            guid,
            root_id: root_id.clone(),
            folders: Vec::new(),
            messages: BTreeMap::new(),
            events: BTreeMap::new(),
            contact_folders: Vec::new(),
            contacts: BTreeMap::new(),
            removals: Vec::new(),
            seq: 0,
            token_epoch: 0,
            created: 0,
            corpus: None,
            unreadable: BTreeSet::new(),
        };
        let top: Vec<(&str, &str, bool)> = if archive {
            vec![("deleteditems", "Deleted Items", false)]
        } else {
            WELL_KNOWN_FOLDERS.to_vec()
        };
        for (wk, name, hidden) in top {
            m.push_folder(wk, name, &root_id, Some(wk), hidden, true);
        }
        if !archive {
            let parent = item_id(guid, "syncissues");
            for (wk, name) in SYNC_ISSUES_CHILDREN {
                m.push_folder(wk, name, &parent, Some(wk), false, true);
            }
        }
        let rec_root = item_id(guid, "recoverableitemsroot");
        let outside = item_id(guid, "root");
        for (wk, name) in RECOVERABLE_FOLDERS {
            let parent = if *wk == "recoverableitemsroot" {
                &outside
            } else {
                &rec_root
            };
            m.push_folder(wk, name, parent, Some(wk), false, false);
        }
        if !archive {
            let contacts = item_id(guid, "contacts");
            m.contact_folders.push(MailFolder {
                id: contacts,
                display_name: "Contacts".into(),
                parent_folder_id: item_id(guid, "contactsroot"),
                well_known_name: Some("contacts".into()),
                is_hidden: false,
                seq: 0,
                visible_tree: true,
            });
        }
        m
    }

    fn push_folder(
        &mut self,
        key: &str,
        name: &str,
        parent: &str,
        wk: Option<&str>,
        hidden: bool,
        visible: bool,
    ) -> String {
        let id = item_id(self.guid, key);
        self.folders.push(MailFolder {
            id: id.clone(),
            display_name: name.into(),
            parent_folder_id: parent.into(),
            well_known_name: wk.map(String::from),
            is_hidden: hidden,
            seq: 0,
            visible_tree: visible,
        });
        id
    }

    /// The next change sequence number.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A new, never used object name (for ids of created objects).
    pub fn next_name(&mut self, kind: &str) -> String {
        self.created += 1;
        format!("{kind}/created/{}", self.created)
    }

    /// A folder by id or well-known name (`msgfolderroot` is the root).
    pub fn folder(&self, key: &str) -> Option<&MailFolder> {
        self.folders.iter().find(|f| {
            f.id == key
                || f.well_known_name
                    .as_deref()
                    .is_some_and(|w| w.eq_ignore_ascii_case(key))
        })
    }

    /// The id of the folder `key` names, the root included.
    pub fn folder_id(&self, key: &str) -> Option<String> {
        if key == self.root_id || key.eq_ignore_ascii_case("msgfolderroot") {
            return Some(self.root_id.clone());
        }
        self.folder(key).map(|f| f.id.clone())
    }

    /// A folder by its display-name path (`Inbox/Projects/2026`) from the root.
    pub fn folder_by_path(&self, path: &str) -> Option<&MailFolder> {
        let mut parent = self.root_id.clone();
        let mut found = None;
        for seg in path.split('/') {
            let f = self
                .folders
                .iter()
                .find(|f| f.parent_folder_id == parent && f.display_name == seg)?;
            parent = f.id.clone();
            found = Some(f);
        }
        found
    }

    /// Direct children of a folder.
    pub fn children(&self, folder_id: &str) -> impl Iterator<Item = &MailFolder> {
        self.folders
            .iter()
            .filter(move |f| f.parent_folder_id == folder_id)
    }

    /// Folders of the IPM subtree (what `mailFolders` and its delta show).
    pub fn visible_folders(&self) -> impl Iterator<Item = &MailFolder> {
        self.folders.iter().filter(|f| f.visible_tree)
    }

    /// The messages of one folder (not of its subfolders).
    pub fn messages_in<'a>(&'a self, folder_id: &'a str) -> impl Iterator<Item = &'a Message> {
        self.messages
            .values()
            .filter(move |m| m.parent_folder_id == folder_id)
    }

    /// (total, unread) item counts of a folder.
    pub fn counts(&self, folder_id: &str) -> (usize, usize) {
        let (mut total, mut unread) = (0, 0);
        for m in self.messages_in(folder_id) {
            total += 1;
            if !m.is_read {
                unread += 1;
            }
        }
        (total, unread)
    }

    /// A message's MIME bytes.
    pub fn mime(&self, id: &str) -> Option<Vec<u8>> {
        self.mime_source(id)?.build()
    }

    /// Where a message's MIME comes from, cheap to take out of the state lock so that
    /// building it does not hold the lock.
    pub fn mime_source(&self, id: &str) -> Option<MimeSource> {
        let m = self.messages.get(id)?;
        Some(match &m.content {
            Content::Stored(s) => MimeSource::Stored(s.clone()),
            Content::Generated { index } => {
                let c = self.corpus.as_ref()?;
                MimeSource::Generated(c.clone(), *index)
            }
        })
    }

    /// Creates a folder under `parent` (id, well-known name or root).
    pub fn create_folder(
        &mut self,
        parent: &str,
        name: &str,
        hidden: bool,
    ) -> Result<String, StoreError> {
        let parent = self
            .folder_id(parent)
            .ok_or_else(|| StoreError::NoFolder(parent.into()))?;
        if self
            .children(&parent)
            .any(|f| f.display_name.eq_ignore_ascii_case(name))
        {
            return Err(StoreError::Refused(format!(
                "a folder named '{name}' already exists there (ErrorFolderExists)"
            )));
        }
        let key = self.next_name("folder");
        let id = self.push_folder(&key, name, &parent, None, hidden, true);
        let seq = self.next_seq();
        if let Some(f) = self.folders.iter_mut().find(|f| f.id == id) {
            f.seq = seq;
        }
        Ok(id)
    }

    /// Renames and/or moves a folder.
    pub fn update_folder(
        &mut self,
        key: &str,
        name: Option<&str>,
        parent: Option<&str>,
    ) -> Result<(), StoreError> {
        let id = self
            .folder(key)
            .map(|f| f.id.clone())
            .ok_or_else(|| StoreError::NoFolder(key.into()))?;
        let parent = match parent {
            Some(p) => {
                let p = self
                    .folder_id(p)
                    .ok_or_else(|| StoreError::NoFolder(p.into()))?;
                if p == id || self.is_descendant(&p, &id) {
                    return Err(StoreError::Refused(
                        "a folder cannot move into itself or one of its subfolders".into(),
                    ));
                }
                Some(p)
            }
            None => None,
        };
        let seq = self.next_seq();
        if let Some(f) = self.folders.iter_mut().find(|f| f.id == id) {
            if let Some(n) = name {
                f.display_name = n.into();
            }
            if let Some(p) = parent {
                f.parent_folder_id = p;
            }
            f.seq = seq;
        }
        Ok(())
    }

    fn is_descendant(&self, folder: &str, ancestor: &str) -> bool {
        let mut at = folder.to_string();
        for _ in 0..self.folders.len() + 1 {
            let Some(f) = self.folders.iter().find(|f| f.id == at) else {
                return false;
            };
            if f.parent_folder_id == ancestor {
                return true;
            }
            at = f.parent_folder_id.clone();
        }
        false
    }

    /// Deletes a folder, its subfolders and their messages (well-known folders refuse).
    pub fn delete_folder(&mut self, key: &str) -> Result<(), StoreError> {
        let f = self
            .folder(key)
            .ok_or_else(|| StoreError::NoFolder(key.into()))?;
        if f.well_known_name.is_some() {
            return Err(StoreError::Refused(format!(
                "'{}' is a well-known folder and cannot be deleted",
                f.display_name
            )));
        }
        let id = f.id.clone();
        let doomed: Vec<String> = self
            .folders
            .iter()
            .filter(|x| x.id == id || self.is_descendant(&x.id, &id))
            .map(|x| x.id.clone())
            .collect();
        let items: Vec<(String, String)> = self
            .messages
            .values()
            .filter(|m| doomed.contains(&m.parent_folder_id))
            .map(|m| (m.id.clone(), m.parent_folder_id.clone()))
            .collect();
        for (mid, folder) in items {
            self.messages.remove(&mid);
            let seq = self.next_seq();
            self.removals.push(Removal {
                seq,
                kind: Kind::Message,
                container: folder,
                id: mid,
            });
        }
        for fid in doomed {
            self.folders.retain(|x| x.id != fid);
            let seq = self.next_seq();
            self.removals.push(Removal {
                seq,
                kind: Kind::Folder,
                container: String::new(),
                id: fid,
            });
        }
        Ok(())
    }

    /// Expires every delta token issued so far.
    pub fn expire_tokens(&mut self) {
        self.token_epoch += 1;
    }

    /// Records that item `id` of `kind` left `container`.
    pub fn log_removal(&mut self, kind: Kind, container: &str, id: &str) {
        let seq = self.next_seq();
        self.removals.push(Removal {
            seq,
            kind,
            container: container.into(),
            id: id.into(),
        });
    }
}

impl MailboxStore {
    /// A new store for a user; `archive` adds the in-place archive.
    pub fn new(tenant: Uuid, user: Uuid, archive: bool) -> MailboxStore {
        let primary = catalog::derived_id(&tenant, "mailbox", &user.to_string());
        let archive_guid = catalog::derived_id(&tenant, "archive", &user.to_string());
        MailboxStore {
            primary: Mailbox::new(primary, false),
            archive: archive.then(|| Mailbox::new(archive_guid, true)),
        }
    }

    /// The primary mailbox or the archive.
    pub fn get(&self, archive: bool) -> Option<&Mailbox> {
        if archive {
            self.archive.as_ref()
        } else {
            Some(&self.primary)
        }
    }

    /// The primary mailbox or the archive, mutable.
    pub fn get_mut(&mut self, archive: bool) -> Option<&mut Mailbox> {
        if archive {
            self.archive.as_mut()
        } else {
            Some(&mut self.primary)
        }
    }
}
