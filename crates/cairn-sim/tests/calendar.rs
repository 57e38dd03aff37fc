//! Recurring series over HTTPS: a series master expands in `calendarView` (and its
//! delta, and `instances`) into occurrences and exceptions with `seriesMasterId` and
//! `originalStart`, cancelled occurrences absent; `/events` and beta `events/delta`
//! show the master itself, which names its exceptions and cancellations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use cairn_sim::admin::{Mutation, target};
use common::*;
use serde_json::{Value, json};

const G: &str = "graph.microsoft.com";
const T: &str = "fabrikam";
const BEN: &str = "ben@fabrikam.com";

fn view(path: &str, from: &str, to: &str) -> String {
    format!(
        "https://{G}/v1.0/users/{BEN}/{path}?startDateTime={from}T00:00:00Z&endDateTime={to}T00:00:00Z"
    )
}

async fn list(sim: &Sim, url: &str, token: &str) -> Vec<Value> {
    let (mut out, mut next) = (Vec::new(), Some(url.to_string()));
    while let Some(u) = next.take() {
        let (s, b) = sim.get(&u, token).await;
        assert_eq!(s, 200, "{u}: {b}");
        out.extend(b["value"].as_array().unwrap().iter().cloned());
        next = b["@odata.nextLink"].as_str().map(String::from);
    }
    out
}

fn of_series<'a>(events: &'a [Value], master: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["seriesMasterId"] == master)
        .collect()
}

/// A weekly series on Mondays 09:00 UTC from 5 January 2026 to 2 March 2026: nine
/// occurrences.
fn weekly() -> Value {
    json!({
        "subject": "Weekly sync",
        "start": {"dateTime": "2026-01-05T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-01-05T09:30:00.0000000", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
            "range": {"type": "endDate", "startDate": "2026-01-05", "endDate": "2026-03-02", "recurrenceTimeZone": "UTC"}
        }
    })
}

#[tokio::test]
async fn a_series_expands_into_occurrences_exceptions_and_leaves_out_cancelled_ones() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let t = || target(T, BEN, false);
    let master = sim
        .handle
        .mutate(Mutation::AddEvent {
            target: t(),
            event: weekly(),
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let all = list(
        &sim,
        &view("calendarView", "2026-01-01", "2026-03-31"),
        &token,
    )
    .await;
    let occ = of_series(&all, &master);
    assert_eq!(occ.len(), 9, "nine Mondays");
    assert!(
        all.iter().all(|e| e["id"] != master.as_str()),
        "the master itself is not in the view"
    );
    assert!(
        occ.iter()
            .all(|e| e["type"] == "occurrence" && e["recurrence"].is_null())
    );
    assert_eq!(occ[2]["originalStart"], "2026-01-19T09:00:00Z");
    assert_eq!(occ[2]["start"]["dateTime"], "2026-01-19T09:00:00.0000000");
    assert_eq!(occ[2]["end"]["dateTime"], "2026-01-19T09:30:00.0000000");
    assert_eq!(occ[2]["subject"], "Weekly sync");
    let ids: BTreeSet<&str> = occ.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 9, "each occurrence has its own id");

    // Move the third occurrence two hours later (an exception), cancel the fifth.
    let (third, fifth) = (
        occ[2]["id"].as_str().unwrap().to_string(),
        occ[4]["id"].as_str().unwrap().to_string(),
    );
    sim.handle
        .mutate(Mutation::EditEvent {
            target: t(),
            id: third.clone(),
            patch: json!({"subject": "Weekly sync (moved)",
                "start": {"dateTime": "2026-01-19T11:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2026-01-19T11:30:00.0000000", "timeZone": "UTC"}}),
        })
        .unwrap();
    sim.handle
        .mutate(Mutation::DeleteEvent {
            target: t(),
            id: fifth.clone(),
        })
        .unwrap();

    // A window of January only: 5, 12, 19 (the exception), 26.
    let jan = list(
        &sim,
        &view("calendarView", "2026-01-01", "2026-02-01"),
        &token,
    )
    .await;
    let occ = of_series(&jan, &master);
    assert_eq!(occ.len(), 4);
    let ex = occ.iter().find(|e| e["id"] == third.as_str()).unwrap();
    assert_eq!(ex["type"], "exception");
    assert_eq!(ex["subject"], "Weekly sync (moved)");
    assert_eq!(ex["originalStart"], "2026-01-19T09:00:00Z");
    assert_eq!(ex["start"]["dateTime"], "2026-01-19T11:00:00.0000000");
    // A window that holds only the moved time still finds the exception.
    let moved = list(&sim, &format!("https://{G}/v1.0/users/{BEN}/calendarView?startDateTime=2026-01-19T10:30:00Z&endDateTime=2026-01-19T12:00:00Z"), &token).await;
    assert_eq!(of_series(&moved, &master).len(), 1);
    // The whole series: eight now, the cancelled one absent.
    let all = list(
        &sim,
        &view("calendarView", "2026-01-01", "2026-03-31"),
        &token,
    )
    .await;
    let occ = of_series(&all, &master);
    assert_eq!(occ.len(), 8);
    assert!(occ.iter().all(|e| e["id"] != fifth.as_str()));
    // instances of the master give the same.
    let inst = list(
        &sim,
        &view(
            &format!("events/{master}/instances"),
            "2026-01-01",
            "2026-03-31",
        ),
        &token,
    )
    .await;
    assert_eq!(inst.len(), 8);
    let (s, b) = sim
        .get(
            &format!("https://{G}/v1.0/users/{BEN}/events/{fifth}"),
            &token,
        )
        .await;
    assert_eq!(s, 404, "a cancelled occurrence is gone: {b}");
    let (s, b) = sim
        .get(
            &format!("https://{G}/v1.0/users/{BEN}/events/{third}"),
            &token,
        )
        .await;
    assert_eq!((s, b["type"].as_str()), (200, Some("exception")));

    // /events: the master with its recurrence, never an occurrence.
    let events = list(
        &sim,
        &format!("https://{G}/v1.0/users/{BEN}/events"),
        &token,
    )
    .await;
    let m = events.iter().find(|e| e["id"] == master.as_str()).unwrap();
    assert_eq!(m["type"], "seriesMaster");
    assert_eq!(m["recurrence"], weekly()["recurrence"]);
    assert!(
        events
            .iter()
            .all(|e| e["type"] == "seriesMaster" || e["type"] == "singleInstance")
    );

    // Beta: the master names its cancelled occurrences and exceptions when asked.
    let (s, b) = sim
        .get(&format!("https://{G}/beta/users/{BEN}/events/{master}?$select=cancelledOccurrences,exceptionOccurrences"), &token)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["cancelledOccurrences"],
        json!([format!("OID.{master}.2026-02-02")])
    );
    assert_eq!(b["exceptionOccurrences"], json!([third]));
    assert!(
        b.get("subject").is_none(),
        "$select keeps only what was asked: {b}"
    );
}

#[tokio::test]
async fn deltas_of_the_view_and_of_the_masters_follow_series_changes() {
    let sim = start().await;
    let token = app_token(&sim).await;
    let t = || target(T, BEN, false);
    let master = sim
        .handle
        .mutate(Mutation::AddEvent {
            target: t(),
            event: weekly(),
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let view_url = view("calendarView/delta", "2026-01-01", "2026-03-31");
    let (items, _, view_link) = round(&sim, &view_url, &token).await;
    let occ: Vec<String> = items
        .values()
        .filter(|e| e["seriesMasterId"] == master.as_str())
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(occ.len(), 9);
    let events_url = format!("https://{G}/beta/users/{BEN}/events/delta");
    let (masters, _, events_link) = round(&sim, &events_url, &token).await;
    let m = &masters[&master];
    assert_eq!(m["type"], "seriesMaster");
    assert!(
        m.get("subject").is_none(),
        "events/delta gives id, type, start, end only"
    );
    assert!(masters.values().all(|e| e["type"] != "occurrence"));

    // Cancel one occurrence: the view reports it removed; the master changed.
    sim.handle
        .mutate(Mutation::DeleteEvent {
            target: t(),
            id: occ[1].clone(),
        })
        .unwrap();
    let (changed, removed, view_link) = round(&sim, &view_link, &token).await;
    assert!(changed.is_empty(), "{changed:?}");
    assert_eq!(removed, BTreeSet::from([occ[1].clone()]));
    let (changed, removed, _) = round(&sim, &events_link, &token).await;
    assert_eq!(changed.keys().collect::<Vec<_>>(), [&master]);
    assert!(removed.is_empty());

    // Rename the series: every occurrence in the view changes.
    sim.handle
        .mutate(Mutation::EditEvent {
            target: t(),
            id: master.clone(),
            patch: json!({"subject": "Renamed"}),
        })
        .unwrap();
    let (changed, _, view_link) = round(&sim, &view_link, &token).await;
    assert_eq!(changed.len(), 8);
    assert!(changed.values().all(|e| e["subject"] == "Renamed"));

    // Delete the series: its occurrences leave the view.
    sim.handle
        .mutate(Mutation::DeleteEvent {
            target: t(),
            id: master.clone(),
        })
        .unwrap();
    let (changed, removed, _) = round(&sim, &view_link, &token).await;
    assert!(changed.is_empty());
    assert_eq!(removed.len(), 8, "{removed:?}");
}

#[tokio::test]
async fn generated_calendars_hold_series_with_exceptions_and_cancellations() {
    let sim = start().await;
    let token = app_token(&sim).await;
    for user in ["ann@fabrikam.com", BEN, "cathy@fabrikam.com"] {
        let events = list(
            &sim,
            &format!("https://{G}/v1.0/users/{user}/events"),
            &token,
        )
        .await;
        let masters: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "seriesMaster")
            .collect();
        assert!(!masters.is_empty(), "{user} has a recurring series");
        for m in masters {
            let id = m["id"].as_str().unwrap();
            let (s, b) = sim
                .get(&format!("https://{G}/beta/users/{user}/events/{id}?$select=cancelledOccurrences,exceptionOccurrences"), &token)
                .await;
            assert_eq!(s, 200);
            let exceptions = b["exceptionOccurrences"].as_array().unwrap();
            assert_eq!(
                b["cancelledOccurrences"].as_array().unwrap().len(),
                1,
                "{b}"
            );
            assert_eq!(exceptions.len(), 1, "{b}");
            let inst = list(&sim, &format!("https://{G}/v1.0/users/{user}/events/{id}/instances?startDateTime=1990-01-01T00:00:00Z&endDateTime=2100-01-01T00:00:00Z"), &token).await;
            let ex: Vec<&Value> = inst.iter().filter(|i| i["type"] == "exception").collect();
            assert_eq!(ex.len(), 1);
            assert_eq!(ex[0]["id"], exceptions[0]);
            assert!(ex[0]["subject"].as_str().unwrap().ends_with("(moved)"));
            assert_ne!(ex[0]["start"], ex[0]["originalStart"]);
        }
    }
}
