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

async fn app_token(sim: &Sim) -> String {
    let pem = sim
        .handle
        .app_credential_pem("fabrikam.com", FABRIKAM_APP)
        .unwrap();
    let (s, b) = sim
        .app_token_cert(
            "fabrikam.com",
            FABRIKAM_APP,
            &pem,
            "https://graph.microsoft.com/.default",
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["access_token"].as_str().unwrap().to_string()
}

/// Follows a delta round: (items by id, removed ids, deltaLink).
async fn round(
    sim: &Sim,
    start: &str,
    token: &str,
) -> (BTreeMap<String, Value>, BTreeSet<String>, String) {
    let mut url = start.to_string();
    let (mut items, mut removed) = (BTreeMap::new(), BTreeSet::new());
    loop {
        let r = sim
            .http
            .get(&url)
            .bearer_auth(token)
            .header("Prefer", "odata.maxpagesize=4")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let b: Value = r.json().await.unwrap();
        for v in b["value"].as_array().unwrap() {
            let id = v["id"].as_str().unwrap().to_string();
            if v.get("@removed").is_some() {
                removed.insert(id);
            } else {
                items.insert(id, v.clone());
            }
        }
        match b["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => {
                return (
                    items,
                    removed,
                    b["@odata.deltaLink"].as_str().unwrap().to_string(),
                );
            }
        }
    }
}

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
