//! Delta rounds over a mailbox's change sequence: a round starts from a token (or from
//! nothing: everything), fixes a snapshot sequence number, pages through the changes in
//! (seq, id) order and ends with a token at the snapshot. Tokens are opaque strings that
//! carry their own state, like Exchange's; they expire by age or when the mailbox's token
//! epoch moves on (the "expire tokens" mutation).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mailbox::{Kind, Mailbox};

/// The state carried by a `$skiptoken` (mid-round) or `$deltatoken` (round end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    /// Folder (or calendar window key) the round tracks.
    pub container: String,
    /// Changes after this sequence number; None = initial round (everything).
    pub base: Option<u64>,
    /// Changes up to this sequence number belong to the round.
    pub snapshot: u64,
    /// Last (seq, id) returned (mid-round only).
    pub cursor: Option<(u64, String)>,
    /// When the round's first request came, Unix seconds.
    pub issued: i64,
    /// The mailbox's token epoch then.
    pub epoch: u32,
    /// Mailbox GUID (a token of another mailbox is invalid).
    pub mailbox: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of ours, or of another folder or mailbox.
    Invalid,
    /// Too old, or expired by the mailbox.
    Expired,
}

impl SyncState {
    /// The opaque token.
    pub fn encode(&self) -> String {
        let body = serde_json::to_vec(self).unwrap_or_default();
        let sum = cairn_mailgen::fnv1a64(&body);
        let mut raw = sum.to_be_bytes().to_vec();
        raw.extend_from_slice(&body);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Decodes and checks a token against the mailbox and container it is used with.
    pub fn decode(
        token: &str,
        m: &Mailbox,
        container: &str,
        now: i64,
        max_age: Option<u64>,
    ) -> Result<SyncState, TokenError> {
        let raw = URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|_| TokenError::Invalid)?;
        if raw.len() < 8 {
            return Err(TokenError::Invalid);
        }
        let (sum, body) = raw.split_at(8);
        if sum != cairn_mailgen::fnv1a64(body).to_be_bytes() {
            return Err(TokenError::Invalid);
        }
        let s: SyncState = serde_json::from_slice(body).map_err(|_| TokenError::Invalid)?;
        if s.mailbox != m.guid.to_string() || s.container != container {
            return Err(TokenError::Invalid);
        }
        let too_old = max_age.is_some_and(|age| now.saturating_sub(s.issued) > age as i64);
        if s.epoch < m.token_epoch || too_old {
            return Err(TokenError::Expired);
        }
        Ok(s)
    }

    /// A new round.
    pub fn start(m: &Mailbox, container: &str, base: Option<u64>, now: i64) -> SyncState {
        SyncState {
            container: container.into(),
            base,
            snapshot: m.seq,
            cursor: None,
            issued: now,
            epoch: m.token_epoch,
            mailbox: m.guid.to_string(),
        }
    }
}

/// One change of a round: an item (its JSON) or a removal.
pub enum Change {
    /// Added or changed.
    Item(Value),
    /// Deleted or moved out.
    Removed(String),
}

/// A page of a round, and how it continues.
pub struct DeltaPage {
    /// The changes.
    pub changes: Vec<Change>,
    /// `Some(state)` = more pages (nextLink); None = round over.
    pub next: Option<SyncState>,
    /// Token ending the round (deltaLink), when `next` is None.
    pub delta: Option<SyncState>,
}

/// Present candidates: (seq, id) of the items in the container now.
pub type Present = Vec<(u64, String)>;

/// Computes one page of the round `state` over `present` and the mailbox's removals.
pub fn page(
    m: &Mailbox,
    kind: Kind,
    state: &SyncState,
    present: Present,
    size: usize,
    render: &dyn Fn(&str) -> Option<Value>,
) -> DeltaPage {
    let in_round = |seq: u64| state.base.is_none_or(|b| seq > b) && seq <= state.snapshot;
    // (seq, id, still present)
    let mut entries: Vec<(u64, String, bool)> = Vec::new();
    let mut present_ids = std::collections::HashSet::new();
    for (seq, id) in present {
        if in_round(seq) {
            present_ids.insert(id.clone());
            entries.push((seq, id, true));
        }
    }
    if state.base.is_some() {
        let mut last: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
        for r in m
            .removals
            .iter()
            .filter(|r| r.kind == kind && r.container == state.container && in_round(r.seq))
        {
            last.insert(&r.id, r.seq);
        }
        for (id, seq) in last {
            if !present_ids.contains(id) {
                entries.push((seq, id.to_string(), false));
            }
        }
    }
    entries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let rest: Vec<_> = entries
        .into_iter()
        .filter(|(seq, id, _)| {
            state
                .cursor
                .as_ref()
                .is_none_or(|(cs, cid)| (*seq, id) > (*cs, cid))
        })
        .collect();
    let more = rest.len() > size;
    let taken: Vec<_> = rest.into_iter().take(size).collect();
    let last = taken.last().map(|(s, i, _)| (*s, i.clone()));
    let changes = taken
        .into_iter()
        .map(
            |(_, id, present)| match present.then(|| render(&id)).flatten() {
                Some(j) => Change::Item(j),
                None => Change::Removed(id),
            },
        )
        .collect();
    if more {
        DeltaPage {
            changes,
            next: Some(SyncState {
                cursor: last,
                ..state.clone()
            }),
            delta: None,
        }
    } else {
        DeltaPage {
            changes,
            next: None,
            delta: Some(SyncState {
                base: Some(state.snapshot),
                cursor: None,
                ..state.clone()
            }),
        }
    }
}
