//! Filling mailboxes with content: each tenant gets a cairn-mailgen corpus (deterministic
//! by seed) over its mailbox-enabled users, plus optional generated users, so that the
//! same options give the same mailboxes, ids and bytes on every start. Only metadata is
//! planned here; MIME is rebuilt on demand from (corpus, mailbox, index).

use std::sync::Arc;

use cairn_mailgen::{AttachmentMix, CorpusSpec, Generator, MailboxSpec};
use serde_json::json;

use super::TenantState;
use super::mailbox::{CorpusRef, Entry, Mailbox, item_id};
use super::message::{Content, Message};
use super::series;
use crate::scenario::{MailboxKind, Scenario};

/// How much mail every mailbox holds, and which tenant gets generated users.
#[derive(Debug, Clone)]
pub struct MailOptions {
    /// Seed of every corpus.
    pub seed: u64,
    /// Messages per mailbox.
    pub messages_per_mailbox: u64,
    /// Calendar events per mailbox.
    pub events_per_mailbox: u64,
    /// Contacts per mailbox.
    pub contacts_per_mailbox: u64,
    /// Attachment mix.
    pub attachments: AttachmentMix,
    /// Probability of a very large message.
    pub large_message_rate: f64,
    /// Messages per in-place archive (the archive's own corpus slice).
    pub archive_messages: u64,
    /// Extra licensed users with mailboxes added to `generated_tenant`.
    pub generated_users: usize,
    /// Tenant (name) the generated users join; default the first tenant.
    pub generated_tenant: Option<String>,
}

impl Default for MailOptions {
    /// A small corpus: enough for `cairn demo` and tests, quick to start.
    fn default() -> Self {
        MailOptions {
            seed: 1,
            messages_per_mailbox: 30,
            events_per_mailbox: 6,
            contacts_per_mailbox: 5,
            attachments: AttachmentMix::Light,
            large_message_rate: 0.0,
            archive_messages: 10,
            generated_users: 0,
            generated_tenant: None,
        }
    }
}

/// Adds `opts.generated_users` licensed user mailboxes to the chosen tenant of `scenario`.
pub fn add_generated_users(scenario: &mut Scenario, opts: &MailOptions) {
    if opts.generated_users == 0 {
        return;
    }
    let tenant = match &opts.generated_tenant {
        Some(name) => scenario.tenants.iter_mut().find(|t| &t.name == name),
        None => scenario.tenants.first_mut(),
    };
    let Some(t) = tenant else { return };
    let domain = t
        .default_domain
        .clone()
        .or_else(|| t.domains.first().cloned())
        .unwrap_or_default();
    for spec in CorpusSpec::generated_mailboxes(opts.generated_users, &domain, opts.seed) {
        let user = json!({
            "upn": spec.address,
            "display_name": spec.display_name,
            "licensed": true,
            "mailbox": "user",
        });
        // A fixed, valid shape: deserializing it cannot fail.
        if let Ok(u) = serde_json::from_value(user) {
            t.users.push(u);
        }
    }
}

fn spec_for(opts: &MailOptions, mailboxes: Vec<MailboxSpec>, messages: u64) -> CorpusSpec {
    CorpusSpec {
        seed: opts.seed,
        mailboxes,
        messages_per_mailbox: messages,
        events_per_mailbox: opts.events_per_mailbox,
        contacts_per_mailbox: opts.contacts_per_mailbox,
        attachment_mix: opts.attachments,
        large_message_rate: opts.large_message_rate,
        shared_attachment_pool_size: 16,
        ..CorpusSpec::default()
    }
}

/// Fills every mailbox of `t` from its corpus.
pub fn populate(t: &mut TenantState, opts: &MailOptions) {
    let users: Vec<(uuid::Uuid, MailboxSpec, bool)> = t
        .users
        .iter()
        .filter(|u| u.mailbox != MailboxKind::None && t.mailboxes.contains_key(&u.id))
        .map(|u| (u.id, MailboxSpec::new(&u.upn, &u.display_name), u.archive))
        .collect();
    let specs: Vec<MailboxSpec> = users.iter().map(|(_, s, _)| s.clone()).collect();
    let primary = Arc::new(Generator::new(spec_for(
        opts,
        specs.clone(),
        opts.messages_per_mailbox,
    )));
    // The archive's content is a corpus of its own (another seed), so it differs from
    // the primary mailbox's.
    let archive = Arc::new(Generator::new(CorpusSpec {
        seed: opts.seed ^ 0xa4c1_1e5e,
        events_per_mailbox: 0,
        contacts_per_mailbox: 0,
        ..spec_for(opts, specs, opts.archive_messages)
    }));
    let index_of: std::collections::HashMap<uuid::Uuid, (usize, bool)> = users
        .iter()
        .enumerate()
        .map(|(i, (uid, _, a))| (*uid, (i, *a)))
        .collect();
    let mut work: Vec<(usize, bool, &mut super::MailboxStore)> = t
        .mailboxes
        .iter_mut()
        .filter_map(|(uid, store)| index_of.get(uid).map(|(i, a)| (*i, *a, store)))
        .collect();
    // Planning 100 × 2,000 messages takes a while; mailboxes are independent, so spread
    // them over the cores.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let per = work.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for chunk in work.chunks_mut(per) {
            let (primary, archive) = (&primary, &archive);
            scope.spawn(move || {
                for (index, has_archive, store) in chunk.iter_mut() {
                    fill(&mut store.primary, primary, *index, true);
                    if *has_archive && let Some(a) = store.archive.as_mut() {
                        fill(a, archive, *index, false);
                    }
                }
            });
        }
    });
}

fn fill(m: &mut Mailbox, generator: &Arc<Generator>, index: usize, primary: bool) {
    m.corpus = Some(CorpusRef {
        generator: generator.clone(),
        index,
    });
    let spec = generator.spec();
    // Folders: the generator's user folders under the root (parents come first).
    for path in generator.folders(index) {
        if m.folder_by_path(&path).is_some() || folder_is_well_known(m, &path) {
            continue;
        }
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (
                resolve(m, p).unwrap_or_else(|| m.root_id.clone()),
                n.to_string(),
            ),
            None => (m.root_id.clone(), path.clone()),
        };
        let id = item_id(m.guid, &format!("folder/{path}"));
        m.folders.push(super::mailbox::MailFolder {
            id,
            display_name: name,
            parent_folder_id: parent,
            well_known_name: None,
            is_hidden: false,
            seq: 0,
            visible_tree: true,
        });
    }
    for i in 0..spec.messages_per_mailbox {
        let Some(meta) = generator.message_meta(index, i) else {
            break;
        };
        let folder = resolve(m, &meta.folder).unwrap_or_else(|| m.root_id.clone());
        let id = item_id(m.guid, &format!("message/{i}"));
        m.messages.insert(
            id.clone(),
            Message {
                id,
                parent_folder_id: folder,
                is_read: meta.is_read,
                version: 1,
                seq: 0,
                created: meta.received,
                modified: meta.received,
                content: Content::Generated { index: i },
            },
        );
    }
    if !primary {
        return;
    }
    let calendar = item_id(m.guid, "calendar");
    for (j, e) in generator.events(index).enumerate() {
        let id = item_id(m.guid, &format!("event/{j}"));
        let window = Some((e.start_utc, e.end_utc));
        m.events.insert(
            id.clone(),
            Entry {
                id,
                folder: calendar.clone(),
                json: serde_json::to_value(&e).unwrap_or_default(),
                version: 1,
                seq: 0,
                window,
                series: Default::default(),
            },
        );
    }
    recurring_series(m);
    let Some(contacts) = m.contact_folders.first().map(|f| f.id.clone()) else {
        return;
    };
    // A contact folder of the user's, so folder enumeration has something to find…
    let family = item_id(m.guid, "contactfolder/Family");
    m.contact_folders.push(super::mailbox::MailFolder {
        id: family.clone(),
        display_name: "Family".into(),
        parent_folder_id: contacts.clone(),
        well_known_name: None,
        is_hidden: false,
        seq: 0,
        visible_tree: true,
    });
    // …and one inside it, so folders nest as users make them.
    let kids = item_id(m.guid, "contactfolder/Family/Kids");
    m.contact_folders.push(super::mailbox::MailFolder {
        id: kids.clone(),
        display_name: "Kids".into(),
        parent_folder_id: family.clone(),
        well_known_name: None,
        is_hidden: false,
        seq: 0,
        visible_tree: true,
    });
    for (j, c) in generator.contacts(index).enumerate() {
        let id = item_id(m.guid, &format!("contact/{j}"));
        let folder = match j % 4 {
            3 => family.clone(),
            2 => kids.clone(),
            _ => contacts.clone(),
        };
        m.contacts.insert(
            id.clone(),
            Entry {
                id,
                folder,
                json: serde_json::to_value(&c).unwrap_or_default(),
                version: 1,
                seq: 0,
                window: None,
                series: Default::default(),
            },
        );
    }
}

/// Every calendar holds recurring series with what real ones accumulate: if the
/// corpus made none, the second event becomes a weekly series of ten; in each series
/// the second occurrence is moved an hour later (an exception) and the third cancelled.
fn recurring_series(m: &mut Mailbox) {
    if !m.events.values().any(series::is_master)
        && let Some(e) = m.events.values_mut().nth(1)
        && let Some(first) = e.json["start"]["dateTime"]
            .as_str()
            .map(|s| s.chars().take(10).collect::<String>())
        && let Some(day) = super::recurrence::parse_date(&first)
    {
        let end = super::recurrence::format_date(day + time::Duration::weeks(9));
        e.json["recurrence"] = json!({
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day.weekday().to_string().to_lowercase()], "firstDayOfWeek": "sunday"},
            "range": {"type": "endDate", "startDate": first, "endDate": end, "recurrenceTimeZone": e.json["start"]["timeZone"]},
        });
    }
    let masters: Vec<String> = m
        .events
        .values()
        .filter(|e| series::is_master(e))
        .map(|e| e.id.clone())
        .collect();
    for id in masters {
        let Some(e) = m.events.get(&id) else { continue };
        let instances = m.instances(e);
        let mut changes = series::Series::default();
        if let Some(i) = instances.get(1) {
            let mut patch = series::shifted(&i.json, 3600);
            patch["subject"] = json!(format!(
                "{} (moved)",
                i.json["subject"].as_str().unwrap_or("")
            ));
            changes.exceptions.insert(
                i.date.clone(),
                series::Exception {
                    patch,
                    version: 1,
                    seq: 0,
                },
            );
        }
        if let Some(i) = instances.get(2) {
            changes.cancelled.insert(i.date.clone(), 0);
        }
        changes.version = 1;
        if let Some(e) = m.events.get_mut(&id) {
            e.series = changes;
        }
    }
}

fn folder_is_well_known(m: &Mailbox, path: &str) -> bool {
    !path.contains('/')
        && cairn_mailgen::WellKnownFolder::from_display_name(path)
            .is_some_and(|w| m.folder(w.graph_name()).is_some())
}

/// A folder id from a generator path (well-known display names map to their folder).
fn resolve(m: &Mailbox, path: &str) -> Option<String> {
    if let Some(f) = m.folder_by_path(path) {
        return Some(f.id.clone());
    }
    let (first, rest) = match path.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (path, None),
    };
    let wk = cairn_mailgen::WellKnownFolder::from_display_name(first)?;
    let base = m.folder(wk.graph_name())?;
    match rest {
        None => Some(base.id.clone()),
        Some(rest) => {
            let mut parent = base.id.clone();
            for seg in rest.split('/') {
                parent = m
                    .folders
                    .iter()
                    .find(|f| f.parent_folder_id == parent && f.display_name == seg)?
                    .id
                    .clone();
            }
            Some(parent)
        }
    }
}
