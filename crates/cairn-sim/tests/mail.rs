//! The mail data plane over HTTPS: folder tree, delta rounds with paging, changes made
//! through the mutation API, token expiry, MIME bytes, throttling and faults, RBAC.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use cairn_sim::ThrottleConfig;
use cairn_sim::admin::{Mutation, target};
use common::*;
use serde_json::{Value, json};

const G: &str = "graph.microsoft.com";
const T: &str = "fabrikam";
const ANN: &str = "ann@fabrikam.com";

fn delta_url(user: &str, folder: &str) -> String {
    format!("https://{G}/v1.0/users/{user}/mailFolders/{folder}/messages/delta")
}

fn folder_of(sim: &Sim, wk: &str) -> String {
    sim.handle
        .folders(T, ANN, false)
        .unwrap()
        .into_iter()
        .find(|f| f["wellKnownName"] == wk)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn folder_tree_hidden_folders_and_recoverable_items() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let base = format!("https://{G}/v1.0/users/{ANN}/mailFolders");
    let (s, b) = sim.get(&format!("{base}?$top=100"), &token).await;
    assert_eq!(s, 200, "{b}");
    let names: Vec<&str> = b["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["displayName"].as_str().unwrap())
        .collect();
    for n in ["Inbox", "Sync Issues", "Conversation History", "Outbox"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert!(
        !names.contains(&"Clutter"),
        "hidden folder listed: {names:?}"
    );
    assert!(!names.contains(&"Deletions"), "Recoverable Items listed");
    let (_, b) = sim
        .get(
            &format!("{base}?$top=100&includeHiddenFolders=true"),
            &token,
        )
        .await;
    let hidden: Vec<&Value> = b["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["isHidden"] == true)
        .collect();
    assert_eq!(hidden.len(), 1);
    assert_eq!(hidden[0]["displayName"], "Clutter");
    // Nested folders: Sync Issues has its three well-known children.
    let (s, b) = sim
        .get(&format!("{base}/syncissues/childFolders"), &token)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"].as_array().unwrap().len(), 3);
    // The corpus's nested user folders are reachable through childFolders.
    let nested = sim
        .handle
        .folders(T, ANN, false)
        .unwrap()
        .into_iter()
        .find(|f| {
            f["wellKnownName"].is_null()
                && f["inIpmSubtree"] == true
                && f["parentFolderId"] != b["value"][0]["parentFolderId"]
        });
    if let Some(n) = nested {
        let parent = n["parentFolderId"].as_str().unwrap();
        let (s, b) = sim
            .get(&format!("{base}/{parent}/childFolders"), &token)
            .await;
        assert_eq!(s, 200, "{b}");
        assert!(
            b["value"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == n["id"])
        );
    }
    // Recoverable Items\Deletions: by well-known name only.
    let (s, b) = sim
        .get(&format!("{base}/recoverableitemsdeletions"), &token)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["displayName"], "Deletions");
    let (s, b) = sim.get(&format!("{base}/nosuchfolder"), &token).await;
    assert_eq!(s, 404);
    assert_eq!(b["error"]["code"], "ErrorItemNotFound");
}

#[tokio::test]
async fn delta_pages_and_mime_match_the_store() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let inbox = folder_of(&sim, "inbox");
    let expected: BTreeSet<String> = sim
        .handle
        .messages(T, ANN, false)
        .unwrap()
        .into_iter()
        .filter(|m| m.folder_id == inbox)
        .map(|m| m.id)
        .collect();
    assert!(expected.len() > 3, "the corpus puts mail in the inbox");
    let (items, removed, _, pages) = delta_round(&sim, &delta_url(ANN, "inbox"), &token, 3).await;
    assert!(removed.is_empty());
    assert_eq!(items.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(pages, expected.len().div_ceil(3));
    // Default page size is 10 without Prefer, and no Preference-Applied.
    let (s, h, b) = get_pref(&sim, &delta_url(ANN, "inbox"), &token, None).await;
    assert_eq!(s, 200);
    assert!(h.get("preference-applied").is_none());
    assert_eq!(b["value"].as_array().unwrap().len(), expected.len().min(10));
    // Every message's $value is the store's bytes, and its Message-ID is the JSON's.
    for (id, json) in &items {
        let r = sim
            .http
            .get(format!("https://{G}/v1.0/users/{ANN}/messages/{id}/$value"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let bytes = r.bytes().await.unwrap();
        assert_eq!(
            bytes.as_ref(),
            sim.handle.message_mime(T, ANN, false, id).unwrap()
        );
        let mid = json["internetMessageId"].as_str().unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains(mid.trim_matches(|c| c == '<' || c == '>')),
            "{mid}"
        );
        for k in [
            "changeKey",
            "subject",
            "receivedDateTime",
            "from",
            "parentFolderId",
            "conversationId",
        ] {
            assert!(!json[k].is_null(), "{k} missing in {json}");
        }
    }
    // $select keeps the id and what was asked.
    let (_, _, b) = get_pref(
        &sim,
        &format!("{}?$select=subject,isRead", delta_url(ANN, "inbox")),
        &token,
        None,
    )
    .await;
    let first = &b["value"][0];
    assert!(first["id"].is_string() && first["subject"].is_string());
    assert!(first.get("from").is_none());
}

#[tokio::test]
async fn delta_link_reports_adds_edits_moves_and_deletes() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let (items, _, inbox_link, _) = delta_round(&sim, &delta_url(ANN, "inbox"), &token, 5).await;
    let (_, _, archive_link, _) = delta_round(&sim, &delta_url(ANN, "archive"), &token, 5).await;
    let ids: Vec<String> = items.keys().cloned().collect();
    assert!(ids.len() >= 5);
    let t = || target(T, ANN, false);
    let mime = b"From: Zed <zed@example.org>\r\nTo: ann@fabrikam.com\r\nSubject: hello from a test\r\nMessage-ID: <t1@example.org>\r\nDate: Mon, 5 Jan 2026 10:00:00 +0000\r\n\r\nbody\r\n";
    use base64::Engine;
    let added = sim
        .handle
        .mutate(Mutation::AddMessage {
            target: t(),
            folder: "inbox".into(),
            mime: Some(base64::engine::general_purpose::STANDARD.encode(mime)),
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    sim.handle
        .mutate(Mutation::EditMessage {
            target: t(),
            id: ids[0].clone(),
            subject: Some("Édité".into()),
        })
        .unwrap();
    sim.handle
        .mutate(Mutation::MarkRead {
            target: t(),
            id: ids[1].clone(),
            read: !items[&ids[1]]["isRead"].as_bool().unwrap(),
        })
        .unwrap();
    sim.handle
        .mutate(Mutation::MoveMessage {
            target: t(),
            id: ids[2].clone(),
            folder: "archive".into(),
        })
        .unwrap();
    sim.handle
        .mutate(Mutation::DeleteMessage {
            target: t(),
            id: ids[3].clone(),
            purge: false,
        })
        .unwrap();
    sim.handle
        .mutate(Mutation::DeleteMessage {
            target: t(),
            id: ids[4].clone(),
            purge: true,
        })
        .unwrap();

    let (changed, removed, inbox_link2, _) = delta_round(&sim, &inbox_link, &token, 2).await;
    assert_eq!(
        changed.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([added.clone(), ids[0].clone(), ids[1].clone()])
    );
    assert_eq!(
        removed,
        BTreeSet::from([ids[2].clone(), ids[3].clone(), ids[4].clone()])
    );
    assert_eq!(changed[&added]["subject"], "hello from a test");
    assert_eq!(changed[&ids[0]]["subject"], "Édité");
    assert_ne!(changed[&ids[0]]["changeKey"], items[&ids[0]]["changeKey"]);
    assert_ne!(changed[&ids[1]]["changeKey"], items[&ids[1]]["changeKey"]);
    assert_ne!(changed[&ids[1]]["isRead"], items[&ids[1]]["isRead"]);
    // The edit changed the bytes; the added message keeps the given ones.
    let edited = sim.handle.message_mime(T, ANN, false, &ids[0]).unwrap();
    assert!(String::from_utf8_lossy(&edited).contains("Subject: =?utf-8?B?"));
    assert_eq!(
        sim.handle.message_mime(T, ANN, false, &added).unwrap(),
        mime
    );
    // The moved message shows up in the archive folder's delta, same id.
    let (moved_in, gone, _, _) = delta_round(&sim, &archive_link, &token, 10).await;
    assert!(gone.is_empty());
    assert_eq!(
        moved_in.keys().cloned().collect::<Vec<_>>(),
        vec![ids[2].clone()]
    );
    // The soft-deleted one is in Recoverable Items\Deletions; the purged one is gone.
    let all = sim.handle.messages(T, ANN, false).unwrap();
    let deletions = folder_of(&sim, "recoverableitemsdeletions");
    assert!(
        all.iter()
            .any(|m| m.id == ids[3] && m.folder_id == deletions)
    );
    assert!(!all.iter().any(|m| m.id == ids[4]));
    // Nothing changed since: an empty round.
    let (c, r, _, pages) = delta_round(&sim, &inbox_link2, &token, 10).await;
    assert!(c.is_empty() && r.is_empty());
    assert_eq!(pages, 1);
}

#[tokio::test]
async fn expired_and_foreign_tokens_answer_as_exchange() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let (_, _, link, _) = delta_round(&sim, &delta_url(ANN, "inbox"), &token, 50).await;
    // Mid-round links expire too.
    let (_, _, first) = get_pref(
        &sim,
        &delta_url(ANN, "inbox"),
        &token,
        Some("odata.maxpagesize=1"),
    )
    .await;
    let next = first["@odata.nextLink"].as_str().unwrap().to_string();
    // A token of another folder is refused as invalid.
    let foreign = link.replace("/mailFolders/inbox/", "/mailFolders/drafts/");
    let (s, b) = sim.get(&foreign, &token).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], "syncStateInvalid");
    let (s, b) = sim
        .get(
            &format!("{}?$deltatoken=garbage", delta_url(ANN, "inbox")),
            &token,
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], "syncStateInvalid");
    sim.handle
        .mutate(Mutation::ExpireTokens(target(T, ANN, false)))
        .unwrap();
    for url in [&link, &next] {
        let (s, b) = sim.get(url, &token).await;
        assert_eq!(s, 410, "{b}");
        assert_eq!(b["error"]["code"], "syncStateNotFound");
    }
    // Starting over works and gives a token that is valid again.
    let (items, _, link, _) = delta_round(&sim, &delta_url(ANN, "inbox"), &token, 50).await;
    assert!(!items.is_empty());
    let (s, _) = sim.get(&link, &token).await;
    assert_eq!(s, 200);
    // Tokens also expire by age.
    sim.handle
        .mutate(Mutation::SetTokenMaxAge { secs: Some(1) })
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (s, b) = sim.get(&link, &token).await;
    assert_eq!(s, 410, "{b}");
    assert_eq!(b["error"]["code"], "syncStateNotFound");
}

#[tokio::test]
async fn rbac_still_decides_mailbox_access() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let id = sim.handle.messages(T, ANN, false).unwrap()[0].id.clone();
    for url in [
        delta_url("dan@fabrikam.com", "inbox"),
        format!("https://{G}/v1.0/users/dan@fabrikam.com/messages"),
        format!("https://{G}/v1.0/users/dan@fabrikam.com/messages/{id}/$value"),
    ] {
        let (s, b) = sim.get(&url, &token).await;
        assert_eq!(s, 403, "{url}: {b}");
        assert_eq!(b["error"]["code"], "ErrorAccessDenied");
    }
    // An id of Ann's mailbox is not found in Ben's.
    let (s, b) = sim
        .get(
            &format!("https://{G}/v1.0/users/ben@fabrikam.com/messages/{id}/$value"),
            &token,
        )
        .await;
    assert_eq!(s, 404, "{b}");
}

#[tokio::test]
async fn concurrency_limit_answers_application_throttled() {
    let sim = start().await;
    let token = app_token(&sim).await;
    sim.handle.set_throttling(ThrottleConfig {
        mailbox_concurrency: Some(4),
        latency_ms: 400,
        ..ThrottleConfig::default()
    });
    let url = format!("https://{G}/v1.0/users/{ANN}/mailFolders");
    let futures = (0..5).map(|_| sim.get(&url, &token));
    let answers = futures::future::join_all(futures).await;
    let throttled: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 429)
        .map(|(_, b)| b)
        .collect();
    assert!(!throttled.is_empty(), "{answers:?}");
    for b in &throttled {
        assert_eq!(b["error"]["code"], "ApplicationThrottled");
        assert_eq!(
            b["error"]["message"],
            "Application is over its MailboxConcurrency limit."
        );
    }
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == 200).count() + throttled.len(),
        5
    );
    let c = sim.handle.counters();
    let ann = c.values().find(|c| c.requests == 5).unwrap();
    assert_eq!(ann.throttled_concurrency as usize, throttled.len());
    assert!(ann.peak_in_flight <= 4);
}

#[tokio::test]
async fn budget_answers_too_many_requests_with_retry_after() {
    let sim = start().await;
    let token = app_token(&sim).await;
    sim.handle.set_throttling(ThrottleConfig {
        mailbox_budget: Some(3),
        budget_window_secs: 60,
        ..ThrottleConfig::default()
    });
    let url = format!("https://{G}/v1.0/users/{ANN}/mailFolders");
    for _ in 0..3 {
        assert_eq!(sim.get(&url, &token).await.0, 200);
    }
    let r = sim.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "TooManyRequests");
    // Another mailbox has its own budget.
    let other = format!("https://{G}/v1.0/users/ben@fabrikam.com/mailFolders");
    assert_eq!(sim.get(&other, &token).await.0, 200);
    let c = sim.handle.counters();
    assert_eq!(c.values().map(|c| c.throttled_budget).sum::<u64>(), 1);
}

#[tokio::test]
async fn faults_are_deterministic_by_seed() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let url = format!("https://{G}/v1.0/users/{ANN}/mailFolders");
    let config = ThrottleConfig {
        fault_rate: 0.5,
        fault_seed: 42,
        ..ThrottleConfig::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        sim.handle.set_throttling(config.clone());
        let mut outcomes = Vec::new();
        for _ in 0..16 {
            let outcome = match sim.http.get(&url).bearer_auth(&token).send().await {
                Ok(r) => {
                    let s = r.status().as_u16();
                    let retry = r.headers().get("retry-after").is_some();
                    match r.bytes().await {
                        Ok(_) => format!("{s}{}", if retry { "+retry" } else { "" }),
                        Err(_) => "reset".to_string(),
                    }
                }
                Err(_) => "reset".to_string(),
            };
            outcomes.push(outcome);
        }
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].iter().any(|o| o == "200"), "{:?}", runs[0]);
    assert!(runs[0].iter().any(|o| o != "200"), "{:?}", runs[0]);
    for o in &runs[0] {
        assert!(
            ["200", "500", "503+retry", "504", "reset"].contains(&o.as_str()),
            "{o}"
        );
    }
}

#[tokio::test]
async fn mutation_api_needs_its_token_and_works_over_https() {
    let sim = start().await;
    let url = format!("https://localhost:{}/_sim/mutate", sim.port);
    let body = json!({"op": "add_folder", "tenant": T, "mailbox": ANN, "parent": "inbox", "name": "From the API"});
    let r = sim.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = sim
        .http
        .post(&url)
        .bearer_auth(sim.handle.admin_token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let folders = sim.handle.folders(T, ANN, false).unwrap();
    let f = folders.iter().find(|f| f["id"] == id.as_str()).unwrap();
    assert_eq!(f["displayName"], "From the API");
    // Not on Microsoft's host names.
    let r = sim
        .http
        .post(format!("https://{G}/_sim/mutate"))
        .bearer_auth(sim.handle.admin_token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    // A bad request names the problem.
    let r = sim
        .http
        .post(&url)
        .bearer_auth(sim.handle.admin_token())
        .json(&json!({"op": "move_message", "tenant": T, "mailbox": ANN, "id": "nope", "folder": "inbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e = r.json::<Value>().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("nope"), "{e}");
}
