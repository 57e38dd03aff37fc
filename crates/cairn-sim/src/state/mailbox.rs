//! Mailbox stores: one per mailbox-enabled user, a primary mailbox and an optional
//! in-place archive, each a folder tree with messages. Shaped so the mail data plane
//! (messages, delta, MIME) can be added without changing it.

use base64::Engine;
use serde::Serialize;
use uuid::Uuid;

use crate::catalog;

/// Well-known folders of a new mailbox: (Graph well-known name, display name).
pub const WELL_KNOWN_FOLDERS: &[(&str, &str)] = &[
    ("inbox", "Inbox"),
    ("drafts", "Drafts"),
    ("sentitems", "Sent Items"),
    ("deleteditems", "Deleted Items"),
    ("junkemail", "Junk Email"),
    ("archive", "Archive"),
    ("outbox", "Outbox"),
];

/// A user's mail: primary mailbox and archive.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxStore {
    /// Primary mailbox.
    pub primary: Mailbox,
    /// In-place archive, when enabled.
    pub archive: Option<Mailbox>,
}

/// One mailbox (primary or archive).
#[derive(Debug, Clone, Serialize)]
pub struct Mailbox {
    /// Exchange mailbox GUID.
    pub guid: Uuid,
    /// Id of the root folder (parent of the top-level folders).
    pub root_id: String,
    /// Folders, in creation order.
    pub folders: Vec<MailFolder>,
    /// Messages.
    pub messages: Vec<Message>,
}

/// A mail folder.
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
}

/// A message (the data plane fills these in later).
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// Graph id.
    pub id: String,
    /// Folder id.
    pub parent_folder_id: String,
    /// Subject.
    pub subject: String,
    /// Read flag.
    pub is_read: bool,
    /// Received time.
    pub received_date_time: String,
    /// Raw MIME.
    #[serde(skip)]
    pub mime: Vec<u8>,
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

impl Mailbox {
    /// A new mailbox with the well-known folders.
    pub fn new(guid: Uuid, archive: bool) -> Mailbox {
        let root_id = item_id(guid, "msgfolderroot");
        let folders = if archive {
            vec![MailFolder {
                id: item_id(guid, "deleteditems"),
                display_name: "Deleted Items".into(),
                parent_folder_id: root_id.clone(),
                well_known_name: Some("deleteditems".into()),
                is_hidden: false,
            }]
        } else {
            WELL_KNOWN_FOLDERS
                .iter()
                .map(|(wk, name)| MailFolder {
                    id: item_id(guid, wk),
                    display_name: (*name).into(),
                    parent_folder_id: root_id.clone(),
                    well_known_name: Some((*wk).into()),
                    is_hidden: false,
                })
                .collect()
        };
        Mailbox {
            guid,
            root_id,
            folders,
            messages: Vec::new(),
        }
    }

    /// A folder by id or well-known name.
    pub fn folder(&self, key: &str) -> Option<&MailFolder> {
        self.folders.iter().find(|f| {
            f.id == key
                || f.well_known_name
                    .as_deref()
                    .is_some_and(|w| w.eq_ignore_ascii_case(key))
        })
    }

    /// Direct children of a folder.
    pub fn children(&self, folder_id: &str) -> impl Iterator<Item = &MailFolder> {
        self.folders
            .iter()
            .filter(move |f| f.parent_folder_id == folder_id)
    }

    /// (total, unread) item counts of a folder.
    pub fn counts(&self, folder_id: &str) -> (usize, usize) {
        let items = self
            .messages
            .iter()
            .filter(|m| m.parent_folder_id == folder_id);
        let (mut total, mut unread) = (0, 0);
        for m in items {
            total += 1;
            if !m.is_read {
                unread += 1;
            }
        }
        (total, unread)
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
}
