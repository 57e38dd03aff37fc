//! Mutations and reads of the mutation API, as one serde-tagged enum so that the HTTP
//! API, `cairn-sim mutate` and [`crate::SimHandle::mutate`] share one code path.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::server::Sim;
use crate::state::mailbox::{Kind, StoreError};
use crate::state::{Mailbox, TenantState};
use crate::throttle::ThrottleConfig;

/// Which mailbox: tenant (name, id or domain), user (UPN or id), archive or primary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Tenant name, id or domain.
    pub tenant: String,
    /// User UPN or id.
    pub mailbox: String,
    /// The in-place archive instead of the primary mailbox.
    #[serde(default)]
    pub archive: bool,
}

/// One operation of the mutation API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    /// Folders of a mailbox (all, Recoverable Items included).
    ListFolders(Target),
    /// Messages of a mailbox: id, folder, changeKey, isRead, subject.
    ListMessages(Target),
    /// A message's MIME (base64 in `mime`).
    GetMime {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Message id.
        id: String,
    },
    /// Adds a message: `mime` (base64) or, without it, a generated one.
    AddMessage {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Folder id or well-known name.
        folder: String,
        /// Base64 MIME.
        #[serde(default)]
        mime: Option<String>,
    },
    /// Edits a message (new subject → new MIME and changeKey).
    EditMessage {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Message id.
        id: String,
        /// New subject (default: the old one with " (edited)").
        #[serde(default)]
        subject: Option<String>,
    },
    /// Sets the read flag.
    MarkRead {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Message id.
        id: String,
        /// Read or unread.
        read: bool,
    },
    /// Moves a message.
    MoveMessage {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Message id.
        id: String,
        /// Destination folder id or well-known name.
        folder: String,
    },
    /// Deletes a message (into Recoverable Items\Deletions, or for good with `purge`).
    DeleteMessage {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Message id.
        id: String,
        /// Remove for good.
        #[serde(default)]
        purge: bool,
    },
    /// Makes a message's MIME unreadable (`$value` answers 404 ErrorItemNotFound, and
    /// in an archive `exportItems` answers that item with ErrorItemNotFound) while it
    /// stays listed, or readable again: a deterministic "bad item".
    SetUnreadable {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Message id.
        id: String,
        /// Unreadable (default) or readable again.
        #[serde(default = "yes")]
        unreadable: bool,
    },
    /// Creates a folder.
    AddFolder {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Parent id or well-known name (`msgfolderroot` = top level).
        parent: String,
        /// Display name.
        name: String,
        /// Hidden folder.
        #[serde(default)]
        hidden: bool,
    },
    /// Renames and/or moves a folder.
    UpdateFolder {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Folder id.
        id: String,
        /// New display name.
        #[serde(default)]
        name: Option<String>,
        /// New parent.
        #[serde(default)]
        parent: Option<String>,
    },
    /// Deletes a folder with its subfolders and messages.
    DeleteFolder {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Folder id.
        id: String,
    },
    /// Adds an event (Graph event JSON).
    AddEvent {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Graph event JSON.
        event: Value,
    },
    /// Merges properties into an event.
    EditEvent {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Event id.
        id: String,
        /// Properties to set.
        patch: Value,
    },
    /// Deletes an event.
    DeleteEvent {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Event id.
        id: String,
    },
    /// Adds a contact (Graph contact JSON) to a contact folder (default Contacts).
    AddContact {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Contact folder id, or `contacts`.
        #[serde(default)]
        folder: Option<String>,
        /// Graph contact JSON.
        contact: Value,
    },
    /// Merges properties into a contact.
    EditContact {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Contact id.
        id: String,
        /// Properties to set.
        patch: Value,
    },
    /// Deletes a contact.
    DeleteContact {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Contact id.
        id: String,
    },
    /// Creates a contact folder (under the default Contacts folder, or `parent`).
    AddContactFolder {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Parent contact folder id (default: the Contacts folder).
        #[serde(default)]
        parent: Option<String>,
        /// Display name.
        name: String,
    },
    /// Deletes a contact folder with its subfolders and contacts.
    DeleteContactFolder {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Contact folder id.
        id: String,
    },
    /// Lists events and contacts (id, changeKey, subject/displayName).
    ListEntries(Target),
    /// Makes every delta token of the mailbox answer SyncStateNotFound.
    ExpireTokens(Target),
    /// Imports a directory of .eml files or an mbox file into a folder.
    Import {
        /// Mailbox.
        #[serde(flatten)]
        target: Target,
        /// Folder id or well-known name.
        folder: String,
        /// Path of a directory (.eml files) or an mbox file, on the simulator's host.
        path: String,
    },
    /// Current throttling and fault settings.
    GetThrottling,
    /// New throttling and fault settings (the whole set).
    SetThrottling(ThrottleConfig),
    /// Delta token lifetime in seconds (null = unlimited).
    SetTokenMaxAge {
        /// Seconds.
        secs: Option<u64>,
    },
    /// Counters per mailbox (user id).
    Counters,
    /// Resets counters and budget windows.
    ResetCounters,
}

/// Why a mutation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Unknown tenant.
    #[error("no tenant '{0}' (give its name, id or a verified domain)")]
    NoTenant(String),
    /// Unknown user or no mailbox.
    #[error("no mailbox '{0}' in that tenant (give the UPN or user id of a mailbox user)")]
    NoMailbox(String),
    /// No archive.
    #[error("'{0}' has no in-place archive")]
    NoArchive(String),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad input.
    #[error("{0}")]
    Bad(String),
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn tenant_mut<'s>(
    state: &'s mut crate::state::SimState,
    key: &str,
) -> Result<&'s mut TenantState, AdminError> {
    let id = state
        .tenant(key)
        .map(|t| t.id)
        .ok_or_else(|| AdminError::NoTenant(key.into()))?;
    state
        .tenant_mut(id)
        .ok_or_else(|| AdminError::NoTenant(key.into()))
}

fn with_mailbox<R>(
    sim: &Sim,
    t: &Target,
    f: impl FnOnce(&mut Mailbox) -> Result<R, AdminError>,
) -> Result<R, AdminError> {
    let mut state = sim.write();
    let tenant = tenant_mut(&mut state, &t.tenant)?;
    let uid = tenant
        .user(&t.mailbox)
        .map(|u| u.id)
        .ok_or_else(|| AdminError::NoMailbox(t.mailbox.clone()))?;
    let store = tenant
        .mailboxes
        .get_mut(&uid)
        .ok_or_else(|| AdminError::NoMailbox(t.mailbox.clone()))?;
    let m = store
        .get_mut(t.archive)
        .ok_or_else(|| AdminError::NoArchive(t.mailbox.clone()))?;
    f(m)
}

fn b64(text: &str) -> Result<Vec<u8>, AdminError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| AdminError::Bad(format!("mime is not valid base64: {e}")))
}

/// Applies one mutation (or read); the answer is JSON.
pub fn apply(sim: &Sim, m: Mutation) -> Result<Value, AdminError> {
    let now = now();
    match m {
        Mutation::ListFolders(t) => with_mailbox(sim, &t, |m| {
            Ok(json!(m.folders.iter().map(|f| json!({
                "id": f.id, "displayName": f.display_name, "parentFolderId": f.parent_folder_id,
                "wellKnownName": f.well_known_name, "isHidden": f.is_hidden,
                "inIpmSubtree": f.visible_tree,
            })).collect::<Vec<_>>()))
        }),
        Mutation::ListMessages(t) => with_mailbox(sim, &t, |m| {
            Ok(json!(
                m.messages
                    .values()
                    .map(|x| {
                        let p = m.props(x);
                        json!({
                            "id": x.id, "parentFolderId": x.parent_folder_id,
                            "changeKey": crate::state::mailbox::change_key(&x.id, x.version),
                            "isRead": x.is_read, "subject": p.subject,
                        })
                    })
                    .collect::<Vec<_>>()
            ))
        }),
        Mutation::GetMime { target, id } => with_mailbox(sim, &target, |m| {
            let mime = m.mime(&id).ok_or(StoreError::NoItem(id))?;
            Ok(json!({"mime": base64::engine::general_purpose::STANDARD.encode(mime)}))
        }),
        Mutation::AddMessage {
            target,
            folder,
            mime,
        } => {
            let bytes = mime.as_deref().map(b64).transpose()?;
            with_mailbox(sim, &target, |m| {
                Ok(json!({"id": m.add_message(&folder, bytes, now)?}))
            })
        }
        Mutation::EditMessage {
            target,
            id,
            subject,
        } => with_mailbox(sim, &target, |m| {
            let subject = match subject {
                Some(s) => s,
                None => {
                    let x = m.messages.get(&id).ok_or(StoreError::NoItem(id.clone()))?;
                    format!("{} (edited)", m.props(x).subject)
                }
            };
            m.edit_message(&id, Some(&subject), now)?;
            Ok(json!({"id": id}))
        }),
        Mutation::MarkRead { target, id, read } => with_mailbox(sim, &target, |m| {
            m.set_read(&id, read, now)?;
            Ok(json!({"id": id}))
        }),
        Mutation::MoveMessage { target, id, folder } => with_mailbox(sim, &target, |m| {
            m.move_message(&id, &folder, now)?;
            Ok(json!({"id": id}))
        }),
        Mutation::DeleteMessage { target, id, purge } => with_mailbox(sim, &target, |m| {
            m.delete_message(&id, purge, now)?;
            Ok(json!({"id": id}))
        }),
        Mutation::SetUnreadable {
            target,
            id,
            unreadable,
        } => with_mailbox(sim, &target, |m| {
            if !m.messages.contains_key(&id) {
                return Err(StoreError::NoItem(id.clone()).into());
            }
            if unreadable {
                m.unreadable.insert(id.clone());
            } else {
                m.unreadable.remove(&id);
            }
            Ok(json!({"id": id, "unreadable": unreadable}))
        }),
        Mutation::AddFolder {
            target,
            parent,
            name,
            hidden,
        } => with_mailbox(sim, &target, |m| {
            Ok(json!({"id": m.create_folder(&parent, &name, hidden)?}))
        }),
        Mutation::UpdateFolder {
            target,
            id,
            name,
            parent,
        } => with_mailbox(sim, &target, |m| {
            m.update_folder(&id, name.as_deref(), parent.as_deref())?;
            Ok(json!({"id": id}))
        }),
        Mutation::DeleteFolder { target, id } => with_mailbox(sim, &target, |m| {
            m.delete_folder(&id)?;
            Ok(json!({"id": id}))
        }),
        Mutation::AddEvent { target, event } => with_mailbox(sim, &target, |m| {
            Ok(json!({"id": m.add_entry(Kind::Event, None, event)?}))
        }),
        Mutation::EditEvent { target, id, patch } => with_mailbox(sim, &target, |m| {
            m.edit_entry(Kind::Event, &id, patch)?;
            Ok(json!({"id": id}))
        }),
        Mutation::DeleteEvent { target, id } => with_mailbox(sim, &target, |m| {
            m.delete_entry(Kind::Event, &id)?;
            Ok(json!({"id": id}))
        }),
        Mutation::AddContact {
            target,
            folder,
            contact,
        } => with_mailbox(sim, &target, |m| {
            Ok(json!({"id": m.add_entry(Kind::Contact, folder.as_deref(), contact)?}))
        }),
        Mutation::EditContact { target, id, patch } => with_mailbox(sim, &target, |m| {
            m.edit_entry(Kind::Contact, &id, patch)?;
            Ok(json!({"id": id}))
        }),
        Mutation::DeleteContact { target, id } => with_mailbox(sim, &target, |m| {
            m.delete_entry(Kind::Contact, &id)?;
            Ok(json!({"id": id}))
        }),
        Mutation::AddContactFolder {
            target,
            parent,
            name,
        } => with_mailbox(sim, &target, |m| {
            Ok(json!({"id": m.create_contact_folder(parent.as_deref(), &name)?}))
        }),
        Mutation::DeleteContactFolder { target, id } => with_mailbox(sim, &target, |m| {
            m.delete_contact_folder(&id)?;
            Ok(json!({"id": id}))
        }),
        Mutation::ListEntries(t) => with_mailbox(sim, &t, |m| {
            let list = |kind: Kind, map: &std::collections::BTreeMap<String, crate::state::mailbox::Entry>| {
                map.values()
                    .map(|e| {
                        let j = m.entry_json(e, kind);
                        json!({"id": e.id, "changeKey": j["changeKey"], "subject": j.get("subject"), "displayName": j.get("displayName"), "parentFolderId": e.folder})
                    })
                    .collect::<Vec<_>>()
            };
            Ok(
                json!({"events": list(Kind::Event, &m.events), "contacts": list(Kind::Contact, &m.contacts)}),
            )
        }),
        Mutation::ExpireTokens(t) => with_mailbox(sim, &t, |m| {
            m.expire_tokens();
            Ok(json!({"tokenEpoch": m.token_epoch}))
        }),
        Mutation::Import {
            target,
            folder,
            path,
        } => {
            // Read the files before taking the state lock.
            let messages = read_import(std::path::Path::new(&path))?;
            with_mailbox(sim, &target, |m| {
                let mut ids = Vec::new();
                for (raw, date) in messages {
                    ids.push(m.add_message(&folder, Some(raw), date.unwrap_or(now))?);
                }
                Ok(json!({"imported": ids.len(), "ids": ids}))
            })
        }
        Mutation::GetThrottling => Ok(json!(sim.plane.throttle.config())),
        Mutation::SetThrottling(c) => {
            sim.plane.throttle.set_config(c);
            Ok(json!(sim.plane.throttle.config()))
        }
        Mutation::SetTokenMaxAge { secs } => {
            sim.plane.set_token_max_age(secs);
            Ok(json!({"secs": secs}))
        }
        Mutation::Counters => Ok(json!(sim.plane.throttle.counters())),
        Mutation::ResetCounters => {
            sim.plane.throttle.reset();
            Ok(json!({}))
        }
    }
}

/// A message read for import: its bytes and its Date header (Unix seconds).
type Imported = (Vec<u8>, Option<i64>);

/// Messages of a directory of .eml files or of an mbox file.
fn read_import(path: &std::path::Path) -> Result<Vec<Imported>, AdminError> {
    let bad = |e: cairn_mailgen::Error| AdminError::Bad(format!("import {}: {e}", path.display()));
    let mut out = Vec::new();
    if path.is_dir() {
        for m in cairn_mailgen::import::eml_dir(path).map_err(bad)? {
            let m = m.map_err(bad)?;
            out.push((m.raw, m.date));
        }
    } else {
        for m in cairn_mailgen::import::mbox(path).map_err(bad)? {
            let m = m.map_err(bad)?;
            out.push((m.raw, m.date));
        }
    }
    Ok(out)
}

fn yes() -> bool {
    true
}
