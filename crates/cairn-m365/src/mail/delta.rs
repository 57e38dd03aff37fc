//! Delta rounds: pages of changes ending in a `@odata.deltaLink`, removals marked
//! `@removed`, and the expired-token answers that call for a full enumeration.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::MailClient;
use crate::error::{Error, Result};

/// An item gone from the collection since the last round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// Its id.
    pub id: String,
    /// `deleted` (or `changed` for some collections: no longer in scope).
    pub reason: String,
}

/// One entry of a delta page.
#[derive(Debug, Clone)]
pub enum Change<T> {
    /// Created or updated.
    Upsert(T),
    /// Deleted or moved away.
    Removed(Removed),
}

/// One page of a delta round.
#[derive(Debug, Clone)]
pub struct DeltaPage<T> {
    /// The changes, in the order Graph sent them.
    pub changes: Vec<Change<T>>,
    /// More pages follow: request this URL exactly.
    pub next_link: Option<String>,
    /// The round is over: keep this URL for the next round.
    pub delta_link: Option<String>,
}

/// What a delta request produced.
#[derive(Debug, Clone)]
pub enum DeltaOutcome<T> {
    /// A page.
    Page(DeltaPage<T>),
    /// The token is no longer valid (SyncStateNotFound, SyncStateInvalid, ResyncRequired,
    /// 410 Gone): enumerate the collection again from the start.
    Expired {
        /// The service's error code.
        code: String,
    },
}

#[derive(Deserialize)]
struct RawPage {
    #[serde(default)]
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default)]
    delta_link: Option<String>,
}

/// Whether `err` says a delta token (or the sync state behind a nextLink) expired.
pub fn is_expired_token(err: &Error) -> bool {
    let Some(service) = err.service() else {
        return false;
    };
    service.status == 410
        || [
            "SyncStateNotFound",
            "SyncStateInvalid",
            "ResyncRequired",
            "ErrorInvalidSyncStateData",
            "resyncChangesApplyDifferences",
            "resyncChangesUploadDifferences",
        ]
        .iter()
        .any(|c| service.code.eq_ignore_ascii_case(c))
}

pub(crate) fn parse_page<T: DeserializeOwned>(url: &str, raw: Value) -> Result<DeltaPage<T>> {
    let raw: RawPage = serde_json::from_value(raw).map_err(|e| Error::Decode {
        url: url.to_owned(),
        what: e.to_string(),
    })?;
    let mut changes = Vec::with_capacity(raw.value.len());
    for entry in raw.value {
        if let Some(removed) = entry.get("@removed") {
            let id = entry
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::Decode {
                    url: url.to_owned(),
                    what: "a removed entry without id".into(),
                })?;
            let reason = removed
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("deleted");
            changes.push(Change::Removed(Removed {
                id: id.to_owned(),
                reason: reason.to_owned(),
            }));
        } else {
            let item = serde_json::from_value(entry).map_err(|e| Error::Decode {
                url: url.to_owned(),
                what: e.to_string(),
            })?;
            changes.push(Change::Upsert(item));
        }
    }
    Ok(DeltaPage {
        changes,
        next_link: raw.next_link,
        delta_link: raw.delta_link,
    })
}

impl MailClient {
    /// One page of a delta round at `url` (a start URL, a nextLink or a deltaLink).
    pub async fn delta_page<T: DeserializeOwned>(
        &self,
        mailbox: &str,
        url: &str,
    ) -> Result<DeltaOutcome<T>> {
        let prefer = format!("odata.maxpagesize={}", self.page_size());
        match self.get_json::<Value>(mailbox, url, Some(&prefer)).await {
            Ok(mut raw) => {
                // A calendar round gives ids only: complete its items first.
                if let Some(user) = super::calendar::events_delta_user(url) {
                    self.complete_events_page(mailbox, &user, &mut raw).await?;
                }
                Ok(DeltaOutcome::Page(parse_page(url, raw)?))
            }
            Err(err) if is_expired_token(&err) => Ok(DeltaOutcome::Expired {
                code: err.service().map(|s| s.code.clone()).unwrap_or_default(),
            }),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removed_entries_and_links() {
        let page: DeltaPage<Value> = parse_page(
            "u",
            json!({
                "value": [
                    {"id": "a", "subject": "x"},
                    {"id": "b", "@removed": {"reason": "deleted"}}
                ],
                "@odata.deltaLink": "https://graph.microsoft.com/v1.0/users/u/mailFolders/f/messages/delta?$deltatoken=T%2B1"
            }),
        )
        .unwrap();
        assert!(matches!(&page.changes[0], Change::Upsert(v) if v["subject"] == "x"));
        assert!(
            matches!(&page.changes[1], Change::Removed(r) if r.id == "b" && r.reason == "deleted")
        );
        assert!(page.next_link.is_none());
        assert!(page.delta_link.unwrap().ends_with("T%2B1"));
    }

    #[test]
    fn expired_codes() {
        for (status, code) in [
            (410, "SyncStateNotFound"),
            (400, "SyncStateInvalid"),
            (410, "resyncRequired"),
            (410, ""),
        ] {
            let err = Error::Service {
                method: "GET".into(),
                url: "u".into(),
                error: Box::new(crate::ServiceError::parse(
                    crate::Service::Graph,
                    status,
                    None,
                    format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#).as_bytes(),
                )),
            };
            assert!(is_expired_token(&err), "{status} {code}");
        }
    }
}
