//! Archive items: read in batches through the mailbox export API (the archive is not
//! reachable with the v1.0 mail APIs); each item's FastTransfer data is stored as is.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};

use super::collection::{Collection, ItemResult, ObjectRun};
use super::error::BackupError;

impl ObjectRun<'_> {
    /// Reads one batch of an archive folder's items (at most the export API's batch
    /// size): each item stored, or a warning / a retry saying why not.
    pub(crate) async fn export_batch(
        &self,
        c: &Collection,
        batch: &[Value],
    ) -> Result<Vec<(Value, Result<ItemResult, BackupError>)>, BackupError> {
        let ids: Vec<String> = batch
            .iter()
            .filter_map(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let exported = match self.client.export_items(&self.mailbox, &ids).await {
            Ok(x) => x,
            Err(e) => {
                let r = if e.is_temporary() {
                    ItemResult::Retry(e.to_string())
                } else {
                    ItemResult::Warning(format!("cannot be exported: {e}"))
                };
                let msg = match &r {
                    ItemResult::Retry(m) | ItemResult::Warning(m) => m.clone(),
                    ItemResult::Done => String::new(),
                };
                let temporary = matches!(r, ItemResult::Retry(_));
                return Ok(batch
                    .iter()
                    .map(|v| {
                        let r = if temporary {
                            ItemResult::Retry(msg.clone())
                        } else {
                            ItemResult::Warning(msg.clone())
                        };
                        (v.clone(), Ok(r))
                    })
                    .collect());
            }
        };
        let mut out = Vec::new();
        for v in batch {
            let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
            let Some(x) = exported.iter().find(|x| x.item_id == id) else {
                out.push((
                    v.clone(),
                    Ok(ItemResult::Warning("not in the export answer".into())),
                ));
                continue;
            };
            let Some(data) = &x.data else {
                let why = x.error.as_ref().map(Value::to_string).unwrap_or_default();
                out.push((
                    v.clone(),
                    Ok(ItemResult::Warning(format!("export failed: {why}"))),
                ));
                continue;
            };
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) else {
                out.push((
                    v.clone(),
                    Ok(ItemResult::Warning("exported data is not base64".into())),
                ));
                continue;
            };
            let mut meta = Self::metadata(c, v);
            if let (Value::Object(m), Some(ck)) = (&mut meta, &x.change_key) {
                m.entry("changeKey").or_insert(json!(ck));
            }
            let previous = self.previous_version(c, id).await?;
            let entry = self
                .writer
                .put_item(&c.key, id, meta, Bytes::from(bytes))
                .await?;
            self.stored(previous, &entry);
            out.push((v.clone(), Ok(ItemResult::Done)));
        }
        Ok(out)
    }
}
