//! The calendar as a backup reads it, against the simulator: a calendar round yields
//! single instances and series masters — never expanded occurrences — and each master
//! arrives whole, with its recurrence, its exceptions (as the service shows them) and
//! its cancelled occurrences; a later round brings a master again when one of its
//! occurrences changes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_m365::mail::{Change, DeltaOutcome};
use cairn_m365::{
    AppCertificate, Authenticator, Credential, MailClient, Network, Region, Throttle,
    ThrottleConfig,
};
use cairn_sim::admin::{Mutation, target};
use cairn_sim::{Scenario, SimHandle, SimOptions, Simulator};
use serde_json::{Value, json};

const FABRIKAM_APP: &str = "5e0c9a1b-7d3f-4a2e-8c6b-1f0e9d8c7b6a";
const ANN: &str = "ann@fabrikam.com";

async fn round(client: &MailClient, start: &str) -> (BTreeMap<String, Value>, Vec<String>, String) {
    let (mut items, mut removed, mut url) = (BTreeMap::new(), Vec::new(), start.to_owned());
    loop {
        let DeltaOutcome::Page(page) = client.delta_page::<Value>(ANN, &url).await.unwrap() else {
            panic!("token expired");
        };
        for c in page.changes {
            match c {
                Change::Upsert(v) => {
                    items.insert(v["id"].as_str().unwrap().to_owned(), v);
                }
                Change::Removed(r) => removed.push(r.id),
            }
        }
        match (page.next_link, page.delta_link) {
            (Some(n), _) => url = n,
            (None, Some(d)) => return (items, removed, d),
            (None, None) => panic!("a page without links"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_rounds_keep_series_masters_whole() {
    let state = tempfile::tempdir().unwrap();
    let sim = Simulator::start(
        Scenario::default(),
        SimOptions {
            state_dir: state.path().to_owned(),
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let network = Network::production()
        .with_connect(sim.addr())
        .with_extra_ca_file(sim.ca_path())
        .unwrap();
    let pem = sim.app_credential_pem("fabrikam", FABRIKAM_APP).unwrap();
    let auth = Arc::new(Authenticator::new(
        network.http_client().unwrap(),
        Region::Worldwide,
        "fabrikam.com",
        Credential::Certificate {
            client_id: FABRIKAM_APP.into(),
            certificate: Box::new(AppCertificate::from_pem(pem.as_bytes()).unwrap()),
        },
    ));
    let client =
        MailClient::new(auth, Arc::new(Throttle::new(ThrottleConfig::default()))).with_page_size(3);
    let handle = &sim;
    let t = || target("fabrikam", ANN, false);
    let master = handle
        .mutate(Mutation::AddEvent {
            target: t(),
            event: json!({
                "subject": "Stand-up",
                "start": {"dateTime": "2026-02-02T08:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2026-02-02T08:15:00.0000000", "timeZone": "UTC"},
                "recurrence": {
                    "pattern": {"type": "daily", "interval": 1},
                    "range": {"type": "numbered", "startDate": "2026-02-02", "numberOfOccurrences": 5}
                }
            }),
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let start = client.calendar_delta_url(ANN, "1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z");
    let (items, removed, link) = round(&client, &start).await;
    assert!(removed.is_empty());
    // Exactly the store's events: masters and single instances, no occurrence.
    let entries = handle.mutate(Mutation::ListEntries(t())).unwrap();
    let stored: std::collections::BTreeSet<&str> = entries["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        items
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        stored
    );
    assert!(
        items
            .values()
            .all(|e| e["type"] == "seriesMaster" || e["type"] == "singleInstance")
    );
    // Whole events, not the delta's four properties.
    assert!(
        items
            .values()
            .all(|e| e["subject"].is_string() && e["changeKey"].is_string())
    );
    let m = &items[&master];
    assert_eq!(m["recurrence"]["range"]["numberOfOccurrences"], 5);
    assert_eq!(m["exceptionOccurrences"], json!([]));
    assert_eq!(m["cancelledOccurrences"], json!([]));
    // The generated series come with an exception and a cancellation each.
    let generated: Vec<&Value> = items
        .values()
        .filter(|e| e["type"] == "seriesMaster" && e["id"] != master.as_str())
        .collect();
    assert!(!generated.is_empty());
    for g in generated {
        let ex = g["exceptionOccurrences"].as_array().unwrap();
        assert_eq!(ex.len(), 1, "{g}");
        assert_eq!(ex[0]["type"], "exception");
        assert_eq!(ex[0]["seriesMasterId"], g["id"]);
        assert!(ex[0]["subject"].as_str().unwrap().ends_with("(moved)"));
        assert_eq!(g["cancelledOccurrences"].as_array().unwrap().len(), 1);
    }

    // Move the third stand-up and cancel the fourth: the master comes again, whole.
    let view: Value = {
        let (s, body) = {
            let http = network.http_client().unwrap();
            let token = client_token(&sim, &network).await;
            let r = http
                .get(format!("https://graph.microsoft.com/v1.0/users/{ANN}/events/{master}/instances?startDateTime=2026-02-01T00:00:00Z&endDateTime=2026-03-01T00:00:00Z"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        };
        assert_eq!(s, 200, "{body}");
        body
    };
    let occ: Vec<String> = view["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(occ.len(), 5);
    handle
        .mutate(Mutation::EditEvent {
            target: t(),
            id: occ[2].clone(),
            patch: json!({"subject": "Stand-up (late)",
                "start": {"dateTime": "2026-02-04T09:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2026-02-04T09:15:00.0000000", "timeZone": "UTC"}}),
        })
        .unwrap();
    handle
        .mutate(Mutation::DeleteEvent {
            target: t(),
            id: occ[3].clone(),
        })
        .unwrap();
    let (items, removed, _) = round(&client, &link).await;
    assert!(removed.is_empty(), "{removed:?}");
    assert_eq!(items.keys().collect::<Vec<_>>(), [&master]);
    let m = &items[&master];
    assert_ne!(m["changeKey"], json!(null));
    let ex = m["exceptionOccurrences"].as_array().unwrap();
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0]["id"], occ[2].as_str());
    assert_eq!(ex[0]["subject"], "Stand-up (late)");
    assert_eq!(ex[0]["originalStart"], "2026-02-04T08:00:00Z");
    assert_eq!(ex[0]["start"]["dateTime"], "2026-02-04T09:00:00.0000000");
    assert_eq!(
        m["cancelledOccurrences"],
        json!([format!("OID.{master}.2026-02-05")])
    );
    sim.shutdown().await;
}

/// An app-only Graph token for direct requests.
async fn client_token(sim: &SimHandle, network: &Network) -> String {
    let pem = sim.app_credential_pem("fabrikam", FABRIKAM_APP).unwrap();
    let auth = Authenticator::new(
        network.http_client().unwrap(),
        Region::Worldwide,
        "fabrikam.com",
        Credential::Certificate {
            client_id: FABRIKAM_APP.into(),
            certificate: Box::new(AppCertificate::from_pem(pem.as_bytes()).unwrap()),
        },
    );
    auth.token(cairn_m365::Resource::Graph)
        .await
        .unwrap()
        .bearer()
        .trim_start_matches("Bearer ")
        .to_owned()
}
