//! Items that could not be read, tried again.
//!
//! A message or archive item listed by its folder's delta whose content fails
//! permanently (`$value` answering 404 while the message is still listed, an archive
//! item `exportItems` cannot export, an unreadable item) is a warning, and the
//! folder's delta link still moves on: the item would never be listed again. So it is
//! kept in the object's state (folder, id, last error, attempts — stored with the
//! restore point, so it survives the loss of the catalog), and the next session tries
//! it first: the item by id (gone → forgotten, with an info line), then its content
//! (stored → forgotten; still failing → a warning again, with the attempts).

use std::sync::PoisonError;

use serde_json::Value;

use super::collection::{Collection, Content, ItemResult, ObjectRun, item_label};
use super::error::BackupError;
use super::state::{FailedItem, FailedItems};

/// The warning for an item whose content failed permanently `attempts` times.
pub(crate) fn failure_message(error: &str, attempts: u32) -> String {
    let times = if attempts == 1 {
        "once".to_owned()
    } else {
        format!("{attempts} times")
    };
    format!("{error}; tried {times}, the next session tries it again")
}

impl ObjectRun<'_> {
    /// The items still to try again, for the object's state.
    pub fn failed_items(&self) -> FailedItems {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records a permanent failure of an item; returns how many sessions have tried it.
    pub(crate) fn record_failure(&self, folder: &str, id: &str, error: &str) -> u32 {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = failed
            .entry(folder.to_owned())
            .or_default()
            .entry(id.to_owned())
            .or_insert(FailedItem {
                error: String::new(),
                attempts: 0,
            });
        entry.error = error.to_owned();
        entry.attempts += 1;
        entry.attempts
    }

    /// Forgets an item (stored, gone, or its folder is): whether it was listed.
    pub(crate) fn forget_failure(&self, folder: &str, id: &str) -> bool {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(items) = failed.get_mut(folder) else {
            return false;
        };
        let was = items.remove(id).is_some();
        if items.is_empty() {
            failed.remove(folder);
        }
        was
    }

    /// Tries again the items earlier sessions could not read, before any delta round.
    /// Those of folders no longer backed up are forgotten.
    pub async fn retry_failed(&self, collections: &[Collection]) -> Result<(), BackupError> {
        let listed = self.failed_items();
        for (folder, items) in listed {
            let Some(c) = collections
                .iter()
                .find(|c| c.key == folder && c.content.retried())
            else {
                tracing::info!(object = %self.object.name, %folder, items = items.len(),
                    "the folder is no longer backed up: its unreadable items are not tried again");
                self.failed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&folder);
                continue;
            };
            for (id, item) in items {
                if self.stopped() {
                    return Err(BackupError::Stopped);
                }
                self.retry_item(c, &id, &item).await?;
            }
        }
        Ok(())
    }

    async fn retry_item(
        &self,
        c: &Collection,
        id: &str,
        item: &FailedItem,
    ) -> Result<(), BackupError> {
        let found = match c.content {
            Content::Export => self.client.archive_item(&self.mailbox, &c.key, id).await,
            _ => self.client.message(&self.mailbox, id).await,
        };
        let mut message = match found {
            Ok(v) => v,
            Err(e) if e.service().is_some_and(|s| s.is_not_found()) => {
                tracing::info!(object = %self.object.name, item = %id, folder = %c.name,
                    "an item that could not be read is gone: not tried again");
                self.forget_failure(&c.key, id);
                return Ok(());
            }
            Err(e) => {
                // Not a verdict on the item: keep it as it was for the next session.
                self.warn(
                    Some(id.to_owned()),
                    format!(
                        "could not be tried again ({e}); {}",
                        failure_message(&item.error, item.attempts)
                    ),
                );
                return Ok(());
            }
        };
        if let Value::Object(m) = &mut message {
            // Annotations of this answer, not properties of the message.
            m.retain(|k, _| !k.starts_with("@odata."));
        }
        let before = self.snapshot();
        let result = self.fetch(c, &message).await?;
        self.report(before).await;
        match result {
            ItemResult::Done => {
                tracing::info!(object = %self.object.name, item = %id, folder = %c.name,
                    attempts = item.attempts, "an item that could not be read before is stored");
                self.forget_failure(&c.key, id);
            }
            ItemResult::Warning(error) => {
                let attempts = self.record_failure(&c.key, id, &error);
                self.warn(
                    Some(item_label(&message)),
                    failure_message(&error, attempts),
                );
            }
            ItemResult::Retry(error) => self.warn(
                Some(item_label(&message)),
                format!("{error}; {}", failure_message(&item.error, item.attempts)),
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_count_the_attempts() {
        assert_eq!(
            failure_message("not found", 1),
            "not found; tried once, the next session tries it again"
        );
        assert!(failure_message("x", 3).contains("tried 3 times"));
    }
}
