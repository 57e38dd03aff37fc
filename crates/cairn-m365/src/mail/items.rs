//! Items a backup reads: messages (metadata by delta, content as raw MIME streamed),
//! calendar events and contacts (their JSON is the item).

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{MailClient, segment};
use crate::error::Result;
use crate::throttle::RequestPermit;

pub use super::delta::Removed;

/// Message properties a backup keeps (`$select` of the messages delta).
pub const MESSAGE_SELECT: &str = "id,changeKey,subject,isRead,receivedDateTime,sentDateTime,lastModifiedDateTime,createdDateTime,parentFolderId,internetMessageId,hasAttachments,from,importance,flag,categories";

/// A message as the delta reports it (metadata only).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MessageInfo {
    /// Message id.
    pub id: String,
    /// Version of the item: changes with every change, including the read flag.
    #[serde(default)]
    pub change_key: Option<String>,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Read flag.
    #[serde(default)]
    pub is_read: Option<bool>,
    /// Received time.
    #[serde(default)]
    pub received_date_time: Option<String>,
    /// Last change.
    #[serde(default)]
    pub last_modified_date_time: Option<String>,
    /// Folder it is in.
    #[serde(default)]
    pub parent_folder_id: Option<String>,
    /// Other selected fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A message's raw MIME, streamed; holds its request slot until dropped.
pub type MimeStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A contact folder (`contactFolder`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContactFolder {
    /// Folder id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Parent folder id.
    #[serde(default)]
    pub parent_folder_id: Option<String>,
}

impl MailClient {
    /// Start URL of a messages delta round for one folder.
    pub fn messages_delta_url(&self, user: &str, folder: &str) -> String {
        self.v1(&format!(
            "/users/{}/mailFolders/{}/messages/delta?$select={MESSAGE_SELECT}",
            segment(user),
            segment(folder)
        ))
    }

    /// The raw MIME of a message (`$value`), as a stream: never whole in memory.
    pub async fn message_mime(&self, user: &str, message: &str) -> Result<MimeStream> {
        let url = self.v1(&format!(
            "/users/{}/messages/{}/$value",
            segment(user),
            segment(message)
        ));
        let (response, permit) = self.send(user, Method::GET, &url, None).await?;
        Ok(body_stream(response, permit))
    }

    /// One message's properties (those the messages delta selects), by id: tells
    /// whether a message that could not be read still exists, and where.
    pub async fn message(&self, user: &str, message: &str) -> Result<Value> {
        let url = self.v1(&format!(
            "/users/{}/messages/{}?$select={MESSAGE_SELECT}",
            segment(user),
            segment(message)
        ));
        self.get_json(user, &url, None).await
    }

    /// Contact folders of `user` (top level and nested).
    pub async fn contact_folders(&self, user: &str) -> Result<Vec<ContactFolder>> {
        let u = segment(user);
        let mut out: Vec<ContactFolder> = self
            .list(user, &self.v1(&format!("/users/{u}/contactFolders")))
            .await?;
        let mut at = 0;
        while at < out.len() {
            let id = segment(&out[at].id);
            at += 1;
            let children: Vec<ContactFolder> = self
                .list(
                    user,
                    &self.v1(&format!("/users/{u}/contactFolders/{id}/childFolders")),
                )
                .await?;
            out.extend(children);
        }
        Ok(out)
    }

    /// Start URL of a contacts delta round for the default Contacts folder (which
    /// `contactFolders` does not list: it lists the folders inside it).
    pub fn default_contacts_delta_url(&self, user: &str) -> String {
        self.v1(&format!("/users/{}/contacts/delta", segment(user)))
    }

    /// Start URL of a contacts delta round for one contact folder.
    pub fn contacts_delta_url(&self, user: &str, folder: &str) -> String {
        self.v1(&format!(
            "/users/{}/contactFolders/{}/contacts/delta",
            segment(user),
            segment(folder)
        ))
    }
}

/// The body of `response` as a stream of chunks; `permit` lives as long as the stream.
pub(crate) fn body_stream(response: reqwest::Response, permit: RequestPermit) -> MimeStream {
    let state = Some((response, permit));
    Box::pin(futures::stream::unfold(state, |state| async move {
        let (mut response, permit) = state?;
        match response.chunk().await {
            Ok(Some(bytes)) => Some((Ok(bytes), Some((response, permit)))),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e)), None)),
        }
    }))
}
