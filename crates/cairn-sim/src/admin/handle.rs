//! Library access to the mutation API and to mailbox content, for tests and benchmarks
//! running the simulator in-process.

use std::collections::BTreeMap;

use serde_json::Value;

use super::mutation::{self, AdminError, Mutation, Target};
use crate::SimHandle;
use crate::throttle::{MailboxCounters, ThrottleConfig};

/// A message as the simulator holds it (for comparing with what a backup stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// Graph id.
    pub id: String,
    /// Folder id.
    pub folder_id: String,
    /// Current change key.
    pub change_key: String,
    /// Read flag.
    pub is_read: bool,
}

impl SimHandle {
    /// Applies a mutation (or read) of the mutation API.
    pub fn mutate(&self, m: Mutation) -> Result<Value, AdminError> {
        mutation::apply(&self.sim, m)
    }

    /// The bearer token of the mutation API.
    pub fn admin_token(&self) -> &str {
        &self.sim.plane.admin_token
    }

    /// Messages of a mailbox (primary, or archive with `archive`), by id.
    pub fn messages(
        &self,
        tenant: &str,
        mailbox: &str,
        archive: bool,
    ) -> Result<Vec<StoredItem>, AdminError> {
        let v = self.mutate(Mutation::ListMessages(target(tenant, mailbox, archive)))?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .map(|x| StoredItem {
                        id: s(&x["id"]),
                        folder_id: s(&x["parentFolderId"]),
                        change_key: s(&x["changeKey"]),
                        is_read: x["isRead"].as_bool().unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The MIME bytes of a message.
    pub fn message_mime(
        &self,
        tenant: &str,
        mailbox: &str,
        archive: bool,
        id: &str,
    ) -> Result<Vec<u8>, AdminError> {
        let state = self.sim.read();
        let t = state
            .tenant(tenant)
            .ok_or_else(|| AdminError::NoTenant(tenant.into()))?;
        let m = t
            .user(mailbox)
            .and_then(|u| t.mailboxes.get(&u.id))
            .ok_or_else(|| AdminError::NoMailbox(mailbox.into()))?
            .get(archive)
            .ok_or_else(|| AdminError::NoArchive(mailbox.into()))?;
        m.mime(id)
            .ok_or_else(|| AdminError::Store(crate::state::mailbox::StoreError::NoItem(id.into())))
    }

    /// Mail folders of a mailbox as JSON rows (id, displayName, parentFolderId,
    /// wellKnownName, isHidden, inIpmSubtree).
    pub fn folders(
        &self,
        tenant: &str,
        mailbox: &str,
        archive: bool,
    ) -> Result<Vec<Value>, AdminError> {
        let v = self.mutate(Mutation::ListFolders(target(tenant, mailbox, archive)))?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Throttling and fault settings now.
    pub fn throttling(&self) -> ThrottleConfig {
        self.sim.plane.throttle.config()
    }

    /// Changes throttling and fault settings.
    pub fn set_throttling(&self, config: ThrottleConfig) {
        self.sim.plane.throttle.set_config(config);
    }

    /// Request counters per mailbox (keyed by the owner's user id).
    pub fn counters(&self) -> BTreeMap<String, MailboxCounters> {
        self.sim.plane.throttle.counters()
    }
}

/// A [`Target`].
pub fn target(tenant: &str, mailbox: &str, archive: bool) -> Target {
    Target {
        tenant: tenant.into(),
        mailbox: mailbox.into(),
        archive,
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}
