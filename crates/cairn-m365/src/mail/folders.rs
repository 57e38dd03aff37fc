//! Mail folders: the whole tree of a mailbox (hidden folders included), and folders
//! looked up by their well-known name (`inbox`, `deleteditems`, …), which is how an
//! exclusion is matched whatever the folder's localized display name.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{MailClient, segment};
use crate::error::Result;

/// Graph's well-known mail folder names a backup cares about.
pub const WELL_KNOWN_FOLDERS: &[&str] = &[
    "inbox",
    "drafts",
    "sentitems",
    "deleteditems",
    "junkemail",
    "outbox",
    "archive",
    "syncissues",
    "conflicts",
    "localfailures",
    "serverfailures",
    "conversationhistory",
    "recoverableitemsdeletions",
    "msgfolderroot",
];

/// A mail folder (`mailFolder`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MailFolder {
    /// Folder id.
    pub id: String,
    /// Display name (localized for well-known folders).
    #[serde(default)]
    pub display_name: String,
    /// Parent folder id (the root's id for top-level folders).
    #[serde(default)]
    pub parent_folder_id: Option<String>,
    /// Number of child folders.
    #[serde(default)]
    pub child_folder_count: Option<u64>,
    /// Number of items.
    #[serde(default)]
    pub total_item_count: Option<u64>,
    /// Hidden folder.
    #[serde(default)]
    pub is_hidden: bool,
    /// Well-known name, when the service tells it (beta); else filled by Cairn from
    /// `/mailFolders/{wellKnownName}` lookups.
    #[serde(default)]
    pub well_known_name: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl MailClient {
    /// Every mail folder of `user`'s mailbox, hidden ones included, parents before
    /// children.
    pub async fn mail_folders(&self, user: &str) -> Result<Vec<MailFolder>> {
        let u = segment(user);
        let mut out: Vec<MailFolder> = self
            .list(
                user,
                &self.v1(&format!(
                    "/users/{u}/mailFolders?includeHiddenFolders=true&$top=100"
                )),
            )
            .await?;
        let mut at = 0;
        while at < out.len() {
            let folder = out[at].clone();
            at += 1;
            if folder.child_folder_count == Some(0) {
                continue;
            }
            let children: Vec<MailFolder> = self
                .list(
                    user,
                    &self.v1(&format!(
                        "/users/{u}/mailFolders/{}/childFolders?includeHiddenFolders=true&$top=100",
                        segment(&folder.id)
                    )),
                )
                .await?;
            out.extend(children);
        }
        Ok(out)
    }

    /// The folder with well-known name `name`, if the mailbox has it.
    pub async fn well_known_folder(&self, user: &str, name: &str) -> Result<Option<MailFolder>> {
        let url = self.v1(&format!("/users/{}/mailFolders/{name}", segment(user)));
        match self.get_json::<MailFolder>(user, &url, None).await {
            Ok(mut folder) => {
                folder.well_known_name = Some(name.to_owned());
                Ok(Some(folder))
            }
            Err(err) if err.service().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(err) => Err(err),
        }
    }
}
