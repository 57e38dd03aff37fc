//! Which objects a session protects: the organization's mailboxes (Exchange's
//! `Get-Mailbox`: user, shared and room mailboxes, and whether an archive is active),
//! narrowed to the plan's selection (a group stands for its members, those of nested
//! groups included), minus exclusions.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_m365::{Authenticator, ExchangeClient, GraphClient};
use serde_json::Value;

use super::error::BackupError;
use super::plan::{BackupPlan, ObjectId, ObjectSelector, Selection};

/// Repository object kind of a primary mailbox.
pub const KIND_MAILBOX: &str = "mailbox";
/// Repository object kind of an in-place archive.
pub const KIND_ARCHIVE: &str = "archive";

/// One object to back up.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub object: ObjectId,
    /// The user id to put in Graph URLs.
    pub user: String,
}

impl Target {
    /// The object's id in the repository: the user id for the mailbox, `{id}/archive`
    /// for its archive (one restore point entry per protected object).
    pub fn repository_id(&self) -> String {
        if self.object.kind == KIND_ARCHIVE {
            format!("{}/archive", self.object.id)
        } else {
            self.object.id.clone()
        }
    }
}

#[derive(Debug, Clone)]
struct MailboxInfo {
    id: String,
    upn: String,
    smtp: String,
    kind: String,
    archive: bool,
}

impl MailboxInfo {
    fn matches(&self, name: &str) -> bool {
        [&self.id, &self.upn, &self.smtp]
            .iter()
            .any(|v| v.eq_ignore_ascii_case(name))
    }
}

const BACKED_UP_KINDS: &[&str] = &[
    "UserMailbox",
    "SharedMailbox",
    "RoomMailbox",
    "EquipmentMailbox",
];

async fn mailboxes(
    auth: &Arc<Authenticator>,
    tenant: &str,
) -> Result<Vec<MailboxInfo>, BackupError> {
    let exchange = ExchangeClient::new(auth.clone(), tenant);
    let rows = exchange.mailboxes().await?;
    Ok(rows
        .into_iter()
        .filter(|m| BACKED_UP_KINDS.contains(&m.recipient_type_details.as_str()))
        .filter_map(|m| {
            let id = m.external_directory_object_id.clone()?;
            let archive = m
                .row
                .text("ArchiveStatus")
                .is_some_and(|s| s.eq_ignore_ascii_case("Active"));
            Some(MailboxInfo {
                id,
                upn: m.user_principal_name.clone(),
                smtp: m.primary_smtp_address.clone(),
                kind: m.recipient_type_details.clone(),
                archive,
            })
        })
        .collect())
}

async fn group_members(graph: &GraphClient, name: &str) -> Result<Vec<String>, BackupError> {
    let groups: Vec<Value> = graph.list(&graph.url("/groups")).await?;
    let group = groups.iter().find(|g| {
        ["id", "displayName", "mail", "mailNickname"]
            .iter()
            .any(|k| {
                g.get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(name))
            })
    });
    let Some(id) = group.and_then(|g| g.get("id")).and_then(Value::as_str) else {
        return Err(BackupError::Invalid(format!(
            "no group {name} in the organization: check the job's selection"
        )));
    };
    // Transitive, cast to users: the members of nested groups count too (an
    // administrator selecting a group means everyone in it), each user once
    // (api/group-list-transitivemembers.md).
    let members: Vec<Value> = graph
        .list(&graph.url(&format!(
            "/groups/{id}/transitiveMembers/microsoft.graph.user"
        )))
        .await?;
    Ok(members
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// The objects of `plan`, mailboxes first then archives, each once. Selected names
/// that match no mailbox are returned as warnings.
pub(crate) async fn targets(
    plan: &BackupPlan,
    auth: &Arc<Authenticator>,
    tenant: &str,
) -> Result<(Vec<Target>, Vec<String>), BackupError> {
    let all = mailboxes(auth, tenant).await?;
    let graph = GraphClient::new(auth.clone());
    let mut warnings = Vec::new();
    let mut chosen: BTreeMap<String, MailboxInfo> = BTreeMap::new();
    match &plan.selection {
        Selection::Organization => {
            for m in &all {
                chosen.insert(m.id.clone(), m.clone());
            }
        }
        Selection::Objects(selectors) => {
            for selector in selectors {
                match selector {
                    ObjectSelector::User(name) | ObjectSelector::SharedMailbox(name) => {
                        match all.iter().find(|m| m.matches(name)) {
                            Some(m) => {
                                chosen.insert(m.id.clone(), m.clone());
                            }
                            None => warnings.push(format!(
                                "{name}: no mailbox with this name in the organization (removed, or no license?)"
                            )),
                        }
                    }
                    ObjectSelector::Group(name) => {
                        for id in group_members(&graph, name).await? {
                            if let Some(m) = all.iter().find(|m| m.id == id) {
                                chosen.insert(m.id.clone(), m.clone());
                            }
                        }
                    }
                }
            }
        }
    }
    for excluded in &plan.exclusions.objects {
        match excluded {
            ObjectSelector::User(name) | ObjectSelector::SharedMailbox(name) => {
                chosen.retain(|_, m| !m.matches(name));
            }
            ObjectSelector::Group(name) => {
                let ids = group_members(&graph, name).await?;
                chosen.retain(|id, _| !ids.contains(id));
            }
        }
    }
    let mut out = Vec::new();
    let wants_mailbox =
        plan.processing.mail || plan.processing.calendar || plan.processing.contacts;
    if wants_mailbox {
        for m in chosen.values() {
            out.push(Target {
                object: ObjectId {
                    id: m.id.clone(),
                    kind: KIND_MAILBOX.into(),
                    name: if m.smtp.is_empty() {
                        m.upn.clone()
                    } else {
                        m.smtp.clone()
                    },
                },
                user: m.id.clone(),
            });
        }
    }
    if plan.processing.archive {
        for m in chosen.values().filter(|m| m.archive) {
            out.push(Target {
                object: ObjectId {
                    id: m.id.clone(),
                    kind: KIND_ARCHIVE.into(),
                    name: if m.smtp.is_empty() {
                        m.upn.clone()
                    } else {
                        m.smtp.clone()
                    },
                },
                user: m.id.clone(),
            });
        }
    }
    tracing::debug!(objects = out.len(), kinds = ?chosen.values().map(|m| m.kind.as_str()).collect::<Vec<_>>(), "discovered");
    Ok((out, warnings))
}
