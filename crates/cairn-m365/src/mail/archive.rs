//! The in-place archive, which v1.0 mail APIs cannot reach: the (beta, worldwide-only)
//! mailbox import/export API. `/users/{id}/settings/exchange` names the archive
//! mailbox; its folders and per-folder item deltas come from
//! `/admin/exchange/mailboxes/{id}/folders`, and content from `exportItems` (≤ 20
//! items a request, full-fidelity FastTransfer data, base64).

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{MailClient, segment};
use crate::error::{Error, Result};

/// At most this many items per `exportItems` request.
pub const EXPORT_BATCH: usize = 20;

/// [`EXPORT_BATCH`], for callers outside this module.
pub fn archive_batch() -> usize {
    EXPORT_BATCH
}

/// `exchangeSettings` of a user.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeSettings {
    /// Primary mailbox id (`MBX:…`).
    #[serde(default)]
    pub primary_mailbox_id: Option<String>,
    /// In-place archive mailbox id, when the user has one.
    #[serde(default)]
    pub in_place_archive_mailbox_id: Option<String>,
}

/// A folder of a mailbox in the export API (`mailboxFolder`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveFolder {
    /// Folder id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Parent folder id.
    #[serde(default)]
    pub parent_folder_id: Option<String>,
    /// Number of child folders.
    #[serde(default)]
    pub child_folder_count: Option<u64>,
    /// Folder class (`IPF.Note`, …).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One item of an `exportItems` answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExportedItem {
    /// Item id.
    pub item_id: String,
    /// Its change key.
    #[serde(default)]
    pub change_key: Option<String>,
    /// Content (base64), absent when the item failed.
    #[serde(default)]
    pub data: Option<String>,
    /// Why the item failed, if it did.
    #[serde(default)]
    pub error: Option<Value>,
}

impl MailClient {
    /// The user's primary and archive mailbox ids.
    pub async fn exchange_settings(&self, user: &str) -> Result<ExchangeSettings> {
        let url = self.beta(&format!("/users/{}/settings/exchange", segment(user)));
        self.get_json(user, &url, None).await
    }

    /// Every folder of a mailbox of the export API, parents before children.
    pub async fn archive_folders(&self, mailbox: &str) -> Result<Vec<ArchiveFolder>> {
        let m = segment(mailbox);
        let mut out: Vec<ArchiveFolder> = self
            .list(
                mailbox,
                &self.beta(&format!("/admin/exchange/mailboxes/{m}/folders")),
            )
            .await?;
        let mut at = 0;
        while at < out.len() {
            let folder = out[at].clone();
            at += 1;
            if folder.child_folder_count == Some(0) {
                continue;
            }
            let children: Vec<ArchiveFolder> = self
                .list(
                    mailbox,
                    &self.beta(&format!(
                        "/admin/exchange/mailboxes/{m}/folders/{}/childFolders",
                        segment(&folder.id)
                    )),
                )
                .await?;
            out.extend(children);
        }
        Ok(out)
    }

    /// Start URL of an items delta round of one folder of the export API.
    pub fn archive_items_delta_url(&self, mailbox: &str, folder: &str) -> String {
        self.beta(&format!(
            "/admin/exchange/mailboxes/{}/folders/{}/items/delta",
            segment(mailbox),
            segment(folder)
        ))
    }

    /// One item (`mailboxItem`) of a folder of the export API; 404 ErrorItemNotFound
    /// once it is no longer in that folder.
    pub async fn archive_item(&self, mailbox: &str, folder: &str, item: &str) -> Result<Value> {
        let url = self.beta(&format!(
            "/admin/exchange/mailboxes/{}/folders/{}/items/{}",
            segment(mailbox),
            segment(folder),
            segment(item)
        ));
        self.get_json(mailbox, &url, None).await
    }

    /// Exports up to [`EXPORT_BATCH`] items of `mailbox`.
    pub async fn export_items(&self, mailbox: &str, ids: &[String]) -> Result<Vec<ExportedItem>> {
        if ids.len() > EXPORT_BATCH {
            return Err(Error::Decode {
                url: "exportItems".into(),
                what: format!("{} items asked, at most {EXPORT_BATCH} allowed", ids.len()),
            });
        }
        let url = self.beta(&format!(
            "/admin/exchange/mailboxes/{}/exportItems",
            segment(mailbox)
        ));
        let body = json!({ "itemIds": ids });
        let page: crate::graph::Page<ExportedItem> = self
            .json(mailbox, Method::POST, &url, None, Some(&body))
            .await?;
        Ok(page.value)
    }
}
