//! The per-object state kept with each restore point (so it survives the loss of the
//! catalog): one delta link per collection (mail folder, calendar, contact folder,
//! archive folder), keyed by the collection's folder id in the repository.

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
