//! The per-object state kept with each restore point (so it survives the loss of the
//! catalog): one delta link per collection (mail folder, calendar, contact folder,
//! archive folder), keyed by the collection's folder id in the repository; removals
//! not yet applied; and the items that could not be read, which the next session
//! tries again first (a folder's delta link moves on past them, so nothing else would).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Format version of [`ObjectState`].
pub const STATE_VERSION: u32 = 1;

/// What the next session needs to continue incrementally.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectState {
    pub version: u32,
    /// Repository folder id → where its next delta round starts.
    #[serde(default)]
    pub collections: BTreeMap<String, CollectionState>,
    /// Items reported gone from a folder (`@removed`, or missing from a full
    /// enumeration) whose removal is not yet applied: applied when the object's
    /// folders are all done, so an item that reappears in another folder meanwhile is
    /// recorded as a move. Kept here so a killed session does not forget them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_removals: BTreeMap<String, BTreeSet<String>>,
    /// Repository folder id → item id → why it could not be read: messages listed by
    /// the delta whose content failed permanently (404, unreadable). Tried again at
    /// the start of the next session; removed once stored or gone.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_items: FailedItems,
}

/// Items that could not be read, by folder then item id.
pub type FailedItems = BTreeMap<String, BTreeMap<String, FailedItem>>;

/// One item that could not be read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FailedItem {
    /// The last error, as reported.
    pub error: String,
    /// Sessions that tried to read it.
    pub attempts: u32,
}

/// Where one collection's next delta round starts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CollectionState {
    /// `@odata.deltaLink` of the last finished round, exactly as Graph gave it.
    #[serde(rename = "deltaLink")]
    pub delta_link: String,
}

impl ObjectState {
    /// Reads a stored state; anything unreadable (or `null`) starts afresh, which
    /// costs a full enumeration but loses nothing.
    pub fn from_json(value: serde_json::Value) -> Self {
        serde_json::from_value::<ObjectState>(value)
            .ok()
            .filter(|s| s.version == STATE_VERSION)
            .unwrap_or(ObjectState {
                version: STATE_VERSION,
                ..ObjectState::default()
            })
    }

    pub fn to_json(&self) -> serde_json::Value {
        // Serializing plain strings and maps cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    pub fn delta_link(&self, key: &str) -> Option<&str> {
        self.collections.get(key).map(|c| c.delta_link.as_str())
    }
}
