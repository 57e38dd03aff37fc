//! Calendar events and contacts of a mailbox: their Graph JSON and changes to them, with
//! the same change tracking as messages.

use serde_json::{Map, Value, json};

use super::mailbox::{Entry, Kind, Mailbox, StoreError, change_key, item_id};
use super::message::graph_time;

impl Mailbox {
    /// The id of the primary calendar.
    pub fn calendar_id(&self) -> String {
        item_id(self.guid, "calendar")
    }

    /// A contact folder by id or `contacts` (the default one).
    pub fn contact_folder(&self, key: &str) -> Option<&super::MailFolder> {
        self.contact_folders.iter().find(|f| {
            f.id == key
                || f.well_known_name
                    .as_deref()
                    .is_some_and(|w| w.eq_ignore_ascii_case(key))
        })
    }

    /// Container key of the contact folder hierarchy's removals and delta tokens.
    pub const CONTACT_FOLDERS: &'static str = "contactFolders";

    /// Creates a contact folder under `parent` (default: the Contacts folder).
    pub fn create_contact_folder(
        &mut self,
        parent: Option<&str>,
        name: &str,
    ) -> Result<String, StoreError> {
        let key = parent.unwrap_or("contacts");
        let parent = self
            .contact_folder(key)
            .map(|f| f.id.clone())
            .ok_or_else(|| StoreError::NoFolder(key.into()))?;
        if self
            .contact_folders
            .iter()
            .any(|f| f.parent_folder_id == parent && f.display_name.eq_ignore_ascii_case(name))
        {
            return Err(StoreError::Refused(format!(
                "a contact folder named '{name}' already exists there (ErrorFolderExists)"
            )));
        }
        let id = item_id(self.guid, &self.next_name("contactfolder"));
        let seq = self.next_seq();
        self.contact_folders.push(super::MailFolder {
            id: id.clone(),
            display_name: name.into(),
            parent_folder_id: parent,
            well_known_name: None,
            is_hidden: false,
            seq,
            visible_tree: true,
        });
        Ok(id)
    }

    /// Deletes a contact folder, its subfolders and their contacts (not the default
    /// Contacts folder).
    pub fn delete_contact_folder(&mut self, key: &str) -> Result<(), StoreError> {
        let f = self
            .contact_folder(key)
            .ok_or_else(|| StoreError::NoFolder(key.into()))?;
        if f.well_known_name.is_some() {
            return Err(StoreError::Refused(
                "the default Contacts folder cannot be deleted".into(),
            ));
        }
        let mut doomed = vec![f.id.clone()];
        let mut at = 0;
        while at < doomed.len() {
            let parent = doomed[at].clone();
            at += 1;
            doomed.extend(
                self.contact_folders
                    .iter()
                    .filter(|c| c.parent_folder_id == parent)
                    .map(|c| c.id.clone()),
            );
        }
        let gone: Vec<(String, String)> = self
            .contacts
            .values()
            .filter(|c| doomed.contains(&c.folder))
            .map(|c| (c.id.clone(), c.folder.clone()))
            .collect();
        for (id, folder) in gone {
            self.contacts.remove(&id);
            self.log_removal(Kind::Contact, &folder, &id);
        }
        for id in doomed {
            self.contact_folders.retain(|c| c.id != id);
            self.log_removal(Kind::Folder, Self::CONTACT_FOLDERS, &id);
        }
        Ok(())
    }

    fn entries(&mut self, kind: Kind) -> &mut std::collections::BTreeMap<String, Entry> {
        if kind == Kind::Event {
            &mut self.events
        } else {
            &mut self.contacts
        }
    }

    /// Adds an event (`folder` ignored) or a contact (into `folder`, default Contacts).
    pub fn add_entry(
        &mut self,
        kind: Kind,
        folder: Option<&str>,
        json: Value,
    ) -> Result<String, StoreError> {
        let container = match kind {
            Kind::Event => self.calendar_id(),
            _ => {
                let key = folder.unwrap_or("contacts");
                self.contact_folder(key)
                    .map(|f| f.id.clone())
                    .ok_or_else(|| StoreError::NoFolder(key.into()))?
            }
        };
        let window = window_of(&json);
        let name = self.next_name(if kind == Kind::Event {
            "event"
        } else {
            "contact"
        });
        let id = item_id(self.guid, &name);
        let seq = self.next_seq();
        self.entries(kind).insert(
            id.clone(),
            Entry {
                id: id.clone(),
                folder: container,
                json: strip(json),
                version: 1,
                seq,
                window,
                series: Default::default(),
            },
        );
        Ok(id)
    }

    /// The container key of the events delta (series masters and single instances),
    /// apart from the calendar view's, so their tokens and removals do not mix.
    pub fn events_container(&self) -> String {
        format!("{}/events", self.calendar_id())
    }

    /// Merges `patch` into an event's or contact's JSON. An occurrence id makes (or
    /// changes) an exception of its series.
    pub fn edit_entry(&mut self, kind: Kind, id: &str, patch: Value) -> Result<(), StoreError> {
        if kind == Kind::Event && !self.events.contains_key(id) {
            let (master, date) = self
                .find_occurrence(id)
                .ok_or_else(|| StoreError::NoItem(id.into()))?;
            return self.edit_occurrence(&master, &date, patch);
        }
        let before = self.instance_ids(id);
        let seq = self.next_seq();
        let e = self
            .entries(kind)
            .get_mut(id)
            .ok_or_else(|| StoreError::NoItem(id.into()))?;
        if let (Some(base), Value::Object(p)) = (e.json.as_object_mut(), strip(patch)) {
            for (k, v) in p {
                base.insert(k, v);
            }
        }
        if let Some(w) = window_of(&e.json) {
            e.window = Some(w);
        }
        e.version += 1;
        e.seq = seq;
        // A changed pattern can drop occurrences: the calendar view reports them gone.
        let after = self.instance_ids(id);
        self.log_instances_gone(before.into_iter().filter(|i| !after.contains(i)).collect());
        Ok(())
    }

    /// Deletes an event or a contact. An occurrence id cancels that occurrence; a
    /// series master takes its occurrences with it.
    pub fn delete_entry(&mut self, kind: Kind, id: &str) -> Result<(), StoreError> {
        if kind == Kind::Event && !self.events.contains_key(id) {
            let (master, date) = self
                .find_occurrence(id)
                .ok_or_else(|| StoreError::NoItem(id.into()))?;
            return self.cancel_occurrence(&master, &date);
        }
        let instances = self.instance_ids(id);
        let e = self
            .entries(kind)
            .remove(id)
            .ok_or_else(|| StoreError::NoItem(id.into()))?;
        if kind == Kind::Event {
            let events = self.events_container();
            self.log_removal(kind, &events, id);
            if super::series::is_master(&e) {
                // The view never showed the master, only its instances.
                self.log_instances_gone(instances);
                return Ok(());
            }
        }
        self.log_removal(kind, &e.folder, id);
        Ok(())
    }

    /// Graph JSON of an event or contact.
    pub fn entry_json(&self, e: &Entry, kind: Kind) -> Value {
        let mut map = Map::new();
        let ck = change_key(&e.id, e.version + e.series.version);
        map.insert("@odata.etag".into(), json!(format!("W/\"{ck}\"")));
        map.insert("id".into(), json!(e.id));
        map.insert("changeKey".into(), json!(ck));
        let t = graph_time(cairn_mailgen::DEFAULT_START + 60 * e.seq as i64);
        map.insert("createdDateTime".into(), json!(t));
        map.insert("lastModifiedDateTime".into(), json!(t));
        if kind == Kind::Contact {
            map.insert("parentFolderId".into(), json!(e.folder));
        } else {
            map.insert(
                "type".into(),
                json!(if e.json.get("recurrence").is_some_and(|r| !r.is_null()) {
                    "seriesMaster"
                } else {
                    "singleInstance"
                }),
            );
        }
        if let Some(obj) = e.json.as_object() {
            for (k, v) in obj {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Value::Object(map)
    }
}

/// Graph properties the simulator owns are not taken from clients.
fn strip(mut json: Value) -> Value {
    if let Some(m) = json.as_object_mut() {
        for k in ["id", "changeKey", "parentFolderId", "@odata.etag"] {
            m.remove(k);
        }
    }
    json
}

/// (start, end) Unix seconds of an event's JSON (`start.dateTime` read as UTC).
fn window_of(json: &Value) -> Option<(i64, i64)> {
    let parse = |k: &str| -> Option<i64> {
        let s = json.get(k)?.get("dateTime")?.as_str()?;
        let s = s.split('.').next()?;
        let fmt =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        time::PrimitiveDateTime::parse(s, fmt)
            .ok()
            .map(|t| t.assume_utc().unix_timestamp())
    };
    Some((parse("start")?, parse("end")?))
}
