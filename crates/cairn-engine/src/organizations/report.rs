//! The result of an organization check: ordered steps, each Success / Warning / Failure
//! with a message a person can act on, and the overall status (the worst of the latest
//! result of each step, so a warning fixed by a re-check no longer counts).

use serde::{Deserialize, Serialize};

/// How a step (or the whole check) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing to do.
    Success,
    /// Works, but something should be looked at.
    Warning,
    /// Does not work: the message says what to change.
    Failure,
}

impl Status {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Warning => "warning",
            Status::Failure => "failure",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Success => "Success",
            Status::Warning => "Warning",
            Status::Failure => "Failure",
        })
    }
}

/// One step of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id (`sign-in`, `mailbox-access`, …); a re-check repeats the id.
    pub key: String,
    /// Title shown to people.
    pub name: String,
    /// Result.
    pub status: Status,
    /// What was found and what to do.
    pub message: String,
}

/// A whole check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Overall result.
    pub status: Status,
    /// When it ran (RFC 3339).
    pub checked_at: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Default for CheckReport {
    fn default() -> Self {
        Self::new()
    }
}

impl CheckReport {
    /// An empty report, stamped now.
    pub fn new() -> Self {
        Self {
            status: Status::Success,
            checked_at: now_rfc3339(),
            steps: Vec::new(),
        }
    }

    /// Appends a step and updates the overall status.
    pub fn push(&mut self, key: &str, name: &str, status: Status, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(step = key, %status, %message, "check step");
        self.steps.push(Step {
            key: key.to_owned(),
            name: name.to_owned(),
            status,
            message,
        });
        self.status = self.overall();
    }

    fn overall(&self) -> Status {
        let mut latest: Vec<(&str, Status)> = Vec::new();
        for step in &self.steps {
            match latest.iter_mut().find(|(k, _)| *k == step.key) {
                Some(entry) => entry.1 = step.status,
                None => latest.push((&step.key, step.status)),
            }
        }
        latest
            .into_iter()
            .map(|(_, s)| s)
            .max()
            .unwrap_or(Status::Success)
    }

    /// Whether any step failed (in its latest result).
    pub fn failed(&self) -> bool {
        self.status == Status::Failure
    }

    /// JSON for the catalog.
    pub fn to_json(&self) -> String {
        // Serializing plain strings and enums cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Current time, RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_check_replaces_the_warning() {
        let mut r = CheckReport::new();
        r.push("sign-in", "Sign-in", Status::Success, "ok");
        r.push(
            "mailbox-access",
            "Mailbox access",
            Status::Warning,
            "assigning",
        );
        assert_eq!(r.status, Status::Warning);
        r.push(
            "mailbox-access",
            "Mailbox access (re-check)",
            Status::Success,
            "ok",
        );
        assert_eq!(r.status, Status::Success);
        r.push("sharepoint", "SharePoint", Status::Failure, "no");
        assert!(r.failed());
        let back: CheckReport = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }
}
