//! Calendar, contacts and the in-place archive over HTTPS: deltas through changes made
//! with the mutation API, and the beta export API's content equal to the store's bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use cairn_sim::admin::{Mutation, target};
use common::*;
use serde_json::{Value, json};

const G: &str = "graph.microsoft.com";
const T: &str = "fabrikam";
const ANN: &str = "ann@fabrikam.com";

#[tokio::test]
async fn calendar_view_delta_tracks_event_changes() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let start_url = format!(
        "https://{G}/v1.0/users/{ANN}/calendarView/delta?startDateTime=2000-01-01T00:00:00Z&endDateTime=2100-01-01T00:00:00Z"
    );
    let (events, removed, link) = round(&sim, &start_url, &token).await;
    assert!(removed.is_empty());
    assert!(events.len() >= 2, "the corpus has events: {events:?}");
    for e in events.values() {
        for k in [
            "subject",
            "start",
            "end",
            "changeKey",
            "iCalUId",
            "organizer",
        ] {
            assert!(!e[k].is_null(), "{k} missing in {e}");
        }
    }
    let ids: Vec<String> = events.keys().cloned().collect();
    let t = || target(T, ANN, false);
    let added = sim
        .handle
        .mutate(Mutation::AddEvent {
            target: t(),
            event: json!({"subject": "Added", "start": {"dateTime": "2026-03-01T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-03-01T11:00:00", "timeZone": "UTC"}}),
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    sim.handle
        .mutate(Mutation::EditEvent {
            target: t(),
            id: ids[0].clone(),
            patch: json!({"subject": "Moved meeting"}),
        })
        .unwrap();
    sim.handle
        .mutate(Mutation::DeleteEvent {
            target: t(),
            id: ids[1].clone(),
        })
        .unwrap();
    let (changed, removed, _) = round(&sim, &link, &token).await;
    assert_eq!(
        changed.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([added, ids[0].clone()])
    );
    assert_eq!(changed[&ids[0]]["subject"], "Moved meeting");
    assert_ne!(changed[&ids[0]]["changeKey"], events[&ids[0]]["changeKey"]);
    assert_eq!(removed, BTreeSet::from([ids[1].clone()]));
    // A window is required to start.
    let (s, b) = sim
        .get(
            &format!("https://{G}/v1.0/users/{ANN}/calendarView/delta"),
            &token,
        )
        .await;
    assert_eq!(s, 400, "{b}");
}

#[tokio::test]
async fn contact_folders_and_contacts_delta() {
    let sim = start().await;
    let token = app_token(&sim).await;
    // contactFolders lists the folders inside the default Contacts folder.
    let (s, b) = sim
        .get(
            &format!("https://{G}/v1.0/users/{ANN}/contactFolders"),
            &token,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let folders = b["value"].as_array().unwrap();
    assert_eq!(folders.len(), 1);
    assert_eq!(folders[0]["displayName"], "Family");
    let family = folders[0]["id"].as_str().unwrap().to_string();
    let (default, _, link) = round(
        &sim,
        &format!("https://{G}/v1.0/users/{ANN}/contacts/delta"),
        &token,
    )
    .await;
    let (in_family, _, family_link) = round(
        &sim,
        &format!("https://{G}/v1.0/users/{ANN}/contactFolders/{family}/contacts/delta"),
        &token,
    )
    .await;
    assert!(!default.is_empty() && !in_family.is_empty());
    assert!(default.keys().all(|k| !in_family.contains_key(k)));
    for c in default.values() {
        assert!(
            c["displayName"].is_string() && c["emailAddresses"].is_array(),
            "{c}"
        );
    }
    let t = || target(T, ANN, false);
    let added = sim
        .handle
        .mutate(Mutation::AddContact { target: t(), folder: Some(family.clone()), contact: json!({"displayName": "Zoë New", "emailAddresses": [{"address": "zoe@example.org", "name": "Zoë"}]}) })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = default.keys().next().unwrap().clone();
    sim.handle
        .mutate(Mutation::DeleteContact {
            target: t(),
            id: first.clone(),
        })
        .unwrap();
    let (c, r, _) = round(&sim, &link, &token).await;
    assert!(c.is_empty());
    assert_eq!(r, BTreeSet::from([first]));
    let (c, r, _) = round(&sim, &family_link, &token).await;
    assert!(r.is_empty());
    assert_eq!(c.keys().cloned().collect::<Vec<_>>(), vec![added.clone()]);
    assert_eq!(c[&added]["displayName"], "Zoë New");
    assert_eq!(c[&added]["parentFolderId"], family.as_str());
}

#[tokio::test]
async fn archive_through_the_export_api() {
    // Give Ann (in the app's scope) an in-place archive.
    let mut scenario = cairn_sim::Scenario::default();
    for t in scenario.tenants.iter_mut().filter(|t| t.name == T) {
        for u in t.users.iter_mut().filter(|u| u.upn == ANN) {
            u.archive = true;
        }
    }
    let sim = start_with(scenario).await;
    let token = app_token(&sim).await;
    let (s, settings) = sim
        .get(
            &format!("https://{G}/beta/users/{ANN}/settings/exchange"),
            &token,
        )
        .await;
    assert_eq!(s, 200, "{settings}");
    let primary = settings["primaryMailboxId"].as_str().unwrap().to_string();
    assert!(primary.starts_with("MBX:"));
    let archive = settings["inPlaceArchiveMailboxId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(archive, primary);
    let base = format!("https://{G}/beta/admin/exchange/mailboxes/{archive}");
    let (s, b) = sim.get(&format!("{base}/folders?$top=100"), &token).await;
    assert_eq!(s, 200, "{b}");
    let folders: Vec<Value> = b["value"].as_array().unwrap().clone();
    assert!(!folders.is_empty());
    // Walk every folder (children too) and export every item, 20 at a time.
    let mut queue: Vec<String> = folders
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    let mut exported = 0;
    let stored = sim.handle.messages(T, ANN, true).unwrap();
    while let Some(fid) = queue.pop() {
        let (s, b) = sim
            .get(&format!("{base}/folders/{fid}/childFolders"), &token)
            .await;
        assert_eq!(s, 200, "{b}");
        queue.extend(
            b["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string()),
        );
        let (items, _, _) = round(&sim, &format!("{base}/folders/{fid}/items/delta"), &token).await;
        let ids: Vec<String> = items.keys().cloned().collect();
        for chunk in ids.chunks(20) {
            let r = sim
                .http
                .post(format!("{base}/exportItems"))
                .bearer_auth(&token)
                .json(&json!({"itemIds": chunk}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let b: Value = r.json().await.unwrap();
            for item in b["value"].as_array().unwrap() {
                let id = item["itemId"].as_str().unwrap();
                let data = base64::engine::general_purpose::STANDARD
                    .decode(item["data"].as_str().unwrap())
                    .unwrap();
                assert_eq!(data, sim.handle.message_mime(T, ANN, true, id).unwrap());
                assert_eq!(item["changeKey"], items[id]["changeKey"]);
                exported += 1;
            }
        }
    }
    assert_eq!(exported, stored.len());
    assert!(exported > 0);
    // The archive's items are not the primary mailbox's.
    let primary_ids: BTreeSet<String> = sim
        .handle
        .messages(T, ANN, false)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(stored.iter().all(|m| !primary_ids.contains(&m.id)));
    // More than 20 ids is refused.
    let many: Vec<String> = (0..21).map(|i| format!("x{i}")).collect();
    let r = sim
        .http
        .post(format!("{base}/exportItems"))
        .bearer_auth(&token)
        .json(&json!({"itemIds": many}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Another tenant's app or an unscoped mailbox: no access.
    let (s, _) = sim
        .get(
            &format!("https://{G}/beta/users/dan@fabrikam.com/settings/exchange"),
            &token,
        )
        .await;
    assert_eq!(s, 403);
}

/// Every message of a mailbox through Graph: (id, MIME bytes).
async fn all_mime(sim: &Sim, token: &str, user: &str) -> Vec<(String, Vec<u8>)> {
    let mut url = format!("https://{G}/v1.0/users/{user}/messages?$top=50&$select=id");
    let mut out = Vec::new();
    loop {
        let (s, b) = sim.get(&url, token).await;
        assert_eq!(s, 200, "{b}");
        for m in b["value"].as_array().unwrap() {
            let id = m["id"].as_str().unwrap().to_string();
            let r = sim
                .http
                .get(format!(
                    "https://{G}/v1.0/users/{user}/messages/{id}/$value"
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            out.push((id, r.bytes().await.unwrap().to_vec()));
        }
        match b["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => return out,
        }
    }
}

#[tokio::test]
async fn mime_is_exactly_what_cairn_mailgen_generates() {
    let sim = start().await;
    let token = app_token(&sim).await;
    // The corpus of a tenant: its mailbox users in scenario order, the default options.
    let t = sim.handle.tenant_state(T).unwrap();
    let mailboxes: Vec<cairn_mailgen::MailboxSpec> = t
        .users
        .iter()
        .filter(|u| u.mailbox != cairn_sim::scenario::MailboxKind::None)
        .map(|u| cairn_mailgen::MailboxSpec::new(&u.upn, &u.display_name))
        .collect();
    let index = mailboxes.iter().position(|m| m.address == ANN).unwrap();
    let opts = cairn_sim::MailOptions::default();
    let generator = cairn_mailgen::Generator::new(cairn_mailgen::CorpusSpec {
        seed: opts.seed,
        mailboxes,
        messages_per_mailbox: opts.messages_per_mailbox,
        events_per_mailbox: opts.events_per_mailbox,
        contacts_per_mailbox: opts.contacts_per_mailbox,
        attachment_mix: opts.attachments,
        large_message_rate: opts.large_message_rate,
        shared_attachment_pool_size: 16,
        ..cairn_mailgen::CorpusSpec::default()
    });
    let mut want: Vec<Vec<u8>> = generator.mailbox(index).map(|m| m.mime).collect();
    let mut got: Vec<Vec<u8>> = all_mime(&sim, &token, ANN)
        .await
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert_eq!(got.len(), opts.messages_per_mailbox as usize);
    want.sort();
    got.sort();
    assert!(
        want == got,
        "Graph's $value differs from cairn-mailgen's messages"
    );
}

#[tokio::test]
async fn eml_and_mbox_imports_keep_the_bytes() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("eml");
    std::fs::create_dir(&eml).unwrap();
    let a = b"From: A <a@example.org>\r\nTo: ann@fabrikam.com\r\nSubject: first\r\nMessage-ID: <imp-a@example.org>\r\nDate: Tue, 6 Jan 2026 09:00:00 +0000\r\n\r\nalpha\r\n".to_vec();
    let b = b"From: B <b@example.org>\r\nTo: ann@fabrikam.com\r\nSubject: =?utf-8?B?w6l0w6k=?=\r\nMessage-ID: <imp-b@example.org>\r\nDate: Wed, 7 Jan 2026 09:00:00 +0000\r\n\r\nbeta\r\n".to_vec();
    std::fs::write(eml.join("a.eml"), &a).unwrap();
    std::fs::write(eml.join("b.eml"), &b).unwrap();
    let mbox_path = dir.path().join("box.mbox");
    let mut w = cairn_mailgen::import::MboxWriter::new(Vec::new());
    w.write_message("c@example.org", 1_767_700_000, b"From: C <c@example.org>\r\nSubject: third\r\nMessage-ID: <imp-c@example.org>\r\n\r\nFrom here on\r\n").unwrap();
    std::fs::write(&mbox_path, w.into_inner()).unwrap();

    let folder = sim
        .handle
        .mutate(Mutation::AddFolder {
            target: target(T, ANN, false),
            parent: "inbox".into(),
            name: "Imported".into(),
            hidden: false,
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [&eml, &mbox_path] {
        let r = sim
            .handle
            .mutate(Mutation::Import {
                target: target(T, ANN, false),
                folder: folder.clone(),
                path: path.display().to_string(),
            })
            .unwrap();
        assert!(r["imported"].as_u64().unwrap() >= 1, "{r}");
    }
    let (items, _, _) = round(
        &sim,
        &format!("https://{G}/v1.0/users/{ANN}/mailFolders/{folder}/messages/delta"),
        &token,
    )
    .await;
    assert_eq!(items.len(), 3);
    let by_subject: BTreeMap<String, String> = items
        .values()
        .map(|m| {
            (
                m["subject"].as_str().unwrap().to_string(),
                m["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(by_subject.contains_key("été"), "{by_subject:?}");
    assert_eq!(
        items[&by_subject["first"]]["internetMessageId"],
        "<imp-a@example.org>"
    );
    for (subject, bytes) in [("first", &a), ("été", &b)] {
        let r = sim
            .http
            .get(format!(
                "https://{G}/v1.0/users/{ANN}/messages/{}/$value",
                by_subject[subject]
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let third = sim
        .handle
        .message_mime(T, ANN, false, &by_subject["third"])
        .unwrap();
    assert!(String::from_utf8_lossy(&third).contains("\r\nFrom here on\r\n"));
    // A path that is neither a directory nor an mbox is refused with its name.
    let e = sim
        .handle
        .mutate(Mutation::Import {
            target: target(T, ANN, false),
            folder,
            path: "/nonexistent/box".into(),
        })
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/box"), "{e}");
}

#[tokio::test]
async fn folder_hierarchy_delta_tracks_folder_changes() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let start_url = format!("https://{G}/v1.0/users/{ANN}/mailFolders/delta");
    let (folders, removed, link) = round(&sim, &start_url, &token).await;
    assert!(removed.is_empty());
    let visible: BTreeSet<String> = sim
        .handle
        .folders(T, ANN, false)
        .unwrap()
        .into_iter()
        .filter(|f| f["inIpmSubtree"] == true)
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(folders.keys().cloned().collect::<BTreeSet<_>>(), visible);
    let t = || target(T, ANN, false);
    let created = sim
        .handle
        .mutate(Mutation::AddFolder {
            target: t(),
            parent: "msgfolderroot".into(),
            name: "Projects 2027".into(),
            hidden: false,
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let child = sim
        .handle
        .mutate(Mutation::AddFolder {
            target: t(),
            parent: created.clone(),
            name: "Q1".into(),
            hidden: false,
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, _, child_link) = round(
        &sim,
        &format!("https://{G}/v1.0/users/{ANN}/mailFolders/{child}/messages/delta"),
        &token,
    )
    .await;
    sim.handle
        .mutate(Mutation::UpdateFolder {
            target: t(),
            id: created.clone(),
            name: Some("Projects 2028".into()),
            parent: None,
        })
        .unwrap();
    // Well-known folders cannot be deleted; user folders go with their subfolders.
    assert!(
        sim.handle
            .mutate(Mutation::DeleteFolder {
                target: t(),
                id: "inbox".into()
            })
            .is_err()
    );
    let (changed, _, link) = round(&sim, &link, &token).await;
    assert_eq!(
        changed.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([created.clone(), child.clone()])
    );
    assert_eq!(changed[&created]["displayName"], "Projects 2028");
    assert_eq!(changed[&child]["parentFolderId"], created.as_str());
    sim.handle
        .mutate(Mutation::DeleteFolder {
            target: t(),
            id: created.clone(),
        })
        .unwrap();
    let (changed, removed, _) = round(&sim, &link, &token).await;
    assert!(changed.is_empty());
    assert_eq!(removed, BTreeSet::from([created, child]));
    // The deleted folder's message delta says the folder is gone.
    let (s, b) = sim.get(&child_link, &token).await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(b["error"]["code"], "ErrorSyncFolderNotFound");
}
