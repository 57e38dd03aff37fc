//! The Outlook data plane through Microsoft Graph, as a backup reads it: mail folders
//! and per-folder message deltas with raw MIME, the calendar (series masters with their
//! exceptions, not expanded occurrences) and contacts deltas, and the in-place archive
//! through the (beta) mailbox export API.
//!
//! Every request goes through one organization's [`Throttle`] keyed by mailbox, so
//! Exchange's per-mailbox limits hold however many tasks read a mailbox. Deltas are read
//! one page at a time (memory bounded by the page size) and links are followed exactly
//! as Graph gave them; an expired delta token is a typed [`DeltaOutcome::Expired`].

mod archive;
mod calendar;
mod delta;
mod folders;
mod items;

use std::sync::Arc;

use reqwest::{Method, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result, Service, ServiceError};
use crate::http;
use crate::throttle::{RequestPermit, Throttle};
use crate::token::{Authenticator, Resource};

pub use archive::{ArchiveFolder, EXPORT_BATCH, ExchangeSettings, ExportedItem, archive_batch};
pub use delta::{Change, DeltaOutcome, DeltaPage, is_expired_token};
pub use folders::{MailFolder, WELL_KNOWN_FOLDERS};
pub use items::{ContactFolder, MessageInfo, MimeStream, Removed};

/// Asks Outlook for ids that do not change when an item moves to another folder.
pub const IMMUTABLE_IDS: &str = "IdType=\"ImmutableId\"";

/// Default page size asked of delta queries (`Prefer: odata.maxpagesize`).
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// Reads mailboxes of one organization for backup.
#[derive(Debug, Clone)]
pub struct MailClient {
    auth: Arc<Authenticator>,
    throttle: Arc<Throttle>,
    v1: String,
    beta: String,
    page_size: usize,
}

impl MailClient {
    /// Graph of the authenticator's cloud, paced by `throttle`.
    pub fn new(auth: Arc<Authenticator>, throttle: Arc<Throttle>) -> Self {
        let host = auth.region().graph_host();
        Self {
            v1: format!("https://{host}/v1.0"),
            beta: format!("https://{host}/beta"),
            auth,
            throttle,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    /// Items per delta page to ask for.
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// The throttle requests go through.
    pub fn throttle(&self) -> &Arc<Throttle> {
        &self.throttle
    }

    pub(crate) fn v1(&self, path: &str) -> String {
        format!("{}{path}", self.v1)
    }

    pub(crate) fn beta(&self, path: &str) -> String {
        format!("{}{path}", self.beta)
    }

    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }

    /// One attempt: the answer if successful, else the service's error.
    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        prefer: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Response> {
        let token = self.auth.token(Resource::Graph).await?;
        let mut request = self
            .auth
            .http()
            .request(method.clone(), url)
            .header(reqwest::header::AUTHORIZATION, token.bearer());
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        if url.starts_with(&self.v1) || url.starts_with(&format!("{}/users/", self.beta)) {
            // Ids that survive moves between folders, so a move is seen as one; the
            // same kind on beta's Outlook resources (the calendar round), so its ids
            // match v1.0's.
            request = request.header("Prefer", IMMUTABLE_IDS);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|source| Error::Transport {
            url: url.to_owned(),
            source,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = http::retry_after(&response);
        let body = response.bytes().await.unwrap_or_default();
        Err(Error::Service {
            method: method.to_string(),
            url: url.to_owned(),
            error: Box::new(ServiceError::parse(
                Service::Graph,
                status.as_u16(),
                retry_after,
                &body,
            )),
        })
    }

    /// Sends one request for `mailbox` under the throttle, retrying temporary
    /// failures; the permit is handed back with the response so a body being read
    /// still counts as a request in flight.
    pub(crate) async fn send(
        &self,
        mailbox: &str,
        method: Method,
        url: &str,
        prefer: Option<&str>,
    ) -> Result<(Response, RequestPermit)> {
        self.throttle
            .run(mailbox, |permit| {
                let method = method.clone();
                async move {
                    let response = self.attempt(&method, url, prefer, None).await?;
                    Ok((response, permit))
                }
            })
            .await
    }

    /// GET a JSON answer.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        mailbox: &str,
        url: &str,
        prefer: Option<&str>,
    ) -> Result<T> {
        self.json(mailbox, Method::GET, url, prefer, None).await
    }

    /// A JSON answer; a body cut off mid-way is retried like any transport error.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        mailbox: &str,
        method: Method,
        url: &str,
        prefer: Option<&str>,
        body: Option<&Value>,
    ) -> Result<T> {
        self.throttle
            .run(mailbox, |permit| {
                let method = method.clone();
                async move {
                    // The slot is held until the body is read.
                    let _permit = permit;
                    let response = self.attempt(&method, url, prefer, body).await?;
                    let bytes = response.bytes().await.map_err(|source| Error::Transport {
                        url: url.to_owned(),
                        source,
                    })?;
                    serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
                        url: url.to_owned(),
                        what: e.to_string(),
                    })
                }
            })
            .await
    }

    /// All pages of a plain (non-delta) collection.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        mailbox: &str,
        url: &str,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut next = Some(url.to_owned());
        while let Some(url) = next.take() {
            let page: crate::graph::Page<T> = self.get_json(mailbox, &url, None).await?;
            out.extend(page.value);
            next = page.next_link;
        }
        Ok(out)
    }
}

/// Percent-encodes one path segment (ids may hold `/`, `+`, `=`).
pub(crate) fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
