//! The collections of one protected object: a mailbox's mail folders (hidden ones
//! included, minus excluded well-known folders and their subfolders), its calendar and
//! contact folders; an archive's folders through the export API.

use std::collections::HashSet;

use cairn_m365::mail::MailClient;

use super::collection::{Collection, Content};
use super::error::BackupError;
use super::plan::{ExcludedFolder, Exclusions, Processing};

/// Repository folder id of the calendar.
pub const CALENDAR_KEY: &str = "calendar";
/// Prefix of contact folders' repository ids (Outlook's ids are kept after it).
pub const CONTACTS_PREFIX: &str = "contacts/";
/// Repository id (after [`CONTACTS_PREFIX`]) of the default Contacts folder.
pub const DEFAULT_CONTACTS: &str = "default";

/// Window of the calendar view: `calendarView/delta` needs one; wide enough for any
/// mailbox's history and future series.
const CALENDAR_START: &str = "1970-01-01T00:00:00Z";
const CALENDAR_END: &str = "2100-01-01T00:00:00Z";

/// Graph well-known names an exclusion matches (in the IPM subtree).
fn well_known_names(f: ExcludedFolder) -> &'static [&'static str] {
    match f {
        ExcludedFolder::DeletedItems => &["deleteditems"],
        ExcludedFolder::Drafts => &["drafts"],
        ExcludedFolder::JunkEmail => &["junkemail"],
        ExcludedFolder::Outbox => &["outbox"],
        ExcludedFolder::SyncIssues => &["syncissues"],
        _ => &[],
    }
}

/// The Recoverable Items folders (outside the IPM subtree: `mailFolders` never lists
/// them, Graph reaches them by well-known name), and which exclusion drops each.
/// Litigation Hold keeps items in Purges and Versions; In-Place (eDiscovery) holds in
/// DiscoveryHolds.
const RECOVERABLE_FOLDERS: &[(&str, ExcludedFolder)] = &[
    (
        "recoverableitemsdeletions",
        ExcludedFolder::RecoverableItems,
    ),
    ("recoverableitemspurges", ExcludedFolder::LitigationHold),
    ("recoverableitemsversions", ExcludedFolder::LitigationHold),
    (
        "recoverableitemsdiscoveryholds",
        ExcludedFolder::InPlaceHold,
    ),
];

/// Archive folders are matched by name (the export API gives no well-known names).
fn hold_folder_names(f: ExcludedFolder) -> &'static [&'static str] {
    match f {
        ExcludedFolder::InPlaceHold => &["DiscoveryHolds"],
        ExcludedFolder::LitigationHold => &["Purges", "Versions"],
        ExcludedFolder::RecoverableItems => &[
            "Recoverable Items",
            "Deletions",
            "DiscoveryHolds",
            "Purges",
            "Versions",
        ],
        ExcludedFolder::DeletedItems => &["Deleted Items"],
        ExcludedFolder::Drafts => &["Drafts"],
        ExcludedFolder::JunkEmail => &["Junk Email"],
        ExcludedFolder::Outbox => &["Outbox"],
        ExcludedFolder::SyncIssues => &["Sync Issues"],
    }
}

/// The mail folders, calendar and contact folders of `user` to back up.
pub(crate) async fn mailbox_collections(
    client: &MailClient,
    user: &str,
    processing: Processing,
    exclusions: &Exclusions,
) -> Result<Vec<Collection>, BackupError> {
    let mut out = Vec::new();
    if processing.mail {
        let mut folders = client.mail_folders(user).await?;
        let mut excluded: HashSet<String> = HashSet::new();
        for f in &exclusions.folders {
            for name in well_known_names(*f) {
                if let Some(folder) = client.well_known_folder(user, name).await? {
                    excluded.insert(folder.id);
                }
            }
        }
        let all_recoverable = exclusions
            .folders
            .contains(&ExcludedFolder::RecoverableItems);
        for (name, exclusion) in RECOVERABLE_FOLDERS {
            if all_recoverable || exclusions.folders.contains(exclusion) {
                continue;
            }
            if let Some(folder) = client.well_known_folder(user, name).await?
                && !folders.iter().any(|f| f.id == folder.id)
            {
                folders.push(folder);
            }
        }
        // Parents come before children: an excluded parent excludes its subtree.
        for f in &folders {
            if f.parent_folder_id
                .as_ref()
                .is_some_and(|p| excluded.contains(p))
            {
                excluded.insert(f.id.clone());
            }
        }
        let ids: HashSet<&str> = folders.iter().map(|f| f.id.as_str()).collect();
        for f in folders.iter().filter(|f| !excluded.contains(&f.id)) {
            out.push(Collection {
                key: f.id.clone(),
                name: f.display_name.clone(),
                // Top-level folders' parent is the (unlisted) root.
                parent: f
                    .parent_folder_id
                    .clone()
                    .filter(|p| ids.contains(p.as_str())),
                start_url: client.messages_delta_url(user, &f.id),
                content: Content::Mime,
            });
        }
    }
    if processing.calendar {
        out.push(Collection {
            key: CALENDAR_KEY.into(),
            name: "Calendar".into(),
            parent: None,
            start_url: client.calendar_delta_url(user, CALENDAR_START, CALENDAR_END),
            content: Content::Json("event"),
        });
    }
    if processing.contacts {
        out.push(Collection {
            key: format!("{CONTACTS_PREFIX}{DEFAULT_CONTACTS}"),
            name: "Contacts".into(),
            parent: None,
            start_url: client.default_contacts_delta_url(user),
            content: Content::Json("contact"),
        });
        for f in client.contact_folders(user).await? {
            out.push(Collection {
                key: format!("{CONTACTS_PREFIX}{}", f.id),
                name: f.display_name.clone(),
                parent: f
                    .parent_folder_id
                    .as_ref()
                    .map(|p| format!("{CONTACTS_PREFIX}{p}")),
                start_url: client.contacts_delta_url(user, &f.id),
                content: Content::Json("contact"),
            });
        }
        // Parents that are not listed (the root) are dropped.
        let keys: HashSet<String> = out.iter().map(|c| c.key.clone()).collect();
        for c in out.iter_mut() {
            if c.parent.as_ref().is_some_and(|p| !keys.contains(p)) {
                c.parent = None;
            }
        }
    }
    Ok(out)
}

/// The archive mailbox id of `user` and its folders, or `None` without an archive.
pub(crate) async fn archive_collections(
    client: &MailClient,
    user: &str,
    exclusions: &Exclusions,
) -> Result<Option<(String, Vec<Collection>)>, BackupError> {
    let settings = client.exchange_settings(user).await?;
    let Some(mailbox) = settings
        .in_place_archive_mailbox_id
        .filter(|m| !m.is_empty())
    else {
        return Ok(None);
    };
    let folders = client.archive_folders(&mailbox).await?;
    let excluded_names: Vec<&str> = exclusions
        .folders
        .iter()
        .flat_map(|f| hold_folder_names(*f).iter().copied())
        .collect();
    let mut excluded: HashSet<String> = HashSet::new();
    let ids: HashSet<&str> = folders.iter().map(|f| f.id.as_str()).collect();
    let mut out = Vec::new();
    for f in &folders {
        let parent_excluded = f
            .parent_folder_id
            .as_ref()
            .is_some_and(|p| excluded.contains(p));
        if parent_excluded
            || excluded_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&f.display_name))
        {
            excluded.insert(f.id.clone());
            continue;
        }
        out.push(Collection {
            key: f.id.clone(),
            name: f.display_name.clone(),
            parent: f
                .parent_folder_id
                .clone()
                .filter(|p| ids.contains(p.as_str())),
            start_url: client.archive_items_delta_url(&mailbox, &f.id),
            content: Content::Export,
        });
    }
    Ok(Some((mailbox, out)))
}
