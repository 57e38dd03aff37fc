//! Contact folders over HTTPS: nested folders through `childFolders`, the whole
//! hierarchy through `contactFolders/delta` (adds and deletes), and contacts of a
//! nested folder through its own delta, with Graph's paging.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use cairn_sim::admin::{Mutation, target};
use common::*;
use serde_json::Value;

const G: &str = "graph.microsoft.com";
const T: &str = "fabrikam";
const CATHY: &str = "cathy@fabrikam.com";

fn url(path: &str) -> String {
    format!("https://{G}/v1.0/users/{CATHY}/{path}")
}

fn names(items: &std::collections::BTreeMap<String, Value>) -> BTreeSet<String> {
    items
        .values()
        .map(|f| f["displayName"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn nested_contact_folders_their_delta_and_their_contacts() {
    let sim = start().await;
    let token = app_token(&sim).await;
    // Top level (inside Contacts): Family; inside it, Kids.
    let (s, b) = sim.get(&url("contactFolders"), &token).await;
    assert_eq!(s, 200, "{b}");
    let family = b["value"][0]["id"].as_str().unwrap().to_string();
    let (s, b) = sim
        .get(
            &url(&format!("contactFolders/{family}/childFolders")),
            &token,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    assert_eq!(b["value"][0]["displayName"], "Kids");
    assert_eq!(b["value"][0]["parentFolderId"], family.as_str());
    let kids = b["value"][0]["id"].as_str().unwrap().to_string();

    // The hierarchy delta holds both, flat, with their parents; pages of one.
    let (folders, removed, link, pages) =
        delta_round(&sim, &url("contactFolders/delta"), &token, 1).await;
    assert_eq!(
        names(&folders),
        BTreeSet::from(["Family".into(), "Kids".into()])
    );
    assert!(removed.is_empty() && pages >= 2);
    assert_eq!(folders[&kids]["parentFolderId"], family.as_str());

    // Contacts of the nested folder: exactly the store's.
    let (contacts, _, contacts_link) = round(
        &sim,
        &url(&format!("contactFolders/{kids}/contacts/delta")),
        &token,
    )
    .await;
    let entries = sim
        .handle
        .mutate(Mutation::ListEntries(target(T, CATHY, false)))
        .unwrap();
    let in_kids: BTreeSet<String> = entries["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["parentFolderId"] == kids.as_str())
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!in_kids.is_empty(), "the corpus puts contacts in Kids");
    assert_eq!(contacts.keys().cloned().collect::<BTreeSet<_>>(), in_kids);

    // A new folder under Kids appears in the next round; deleting Kids removes it,
    // its subfolder, and reports its contacts removed.
    let t = || target(T, CATHY, false);
    let school = sim
        .handle
        .mutate(Mutation::AddContactFolder {
            target: t(),
            parent: Some(kids.clone()),
            name: "School".into(),
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (added, removed, link, _) = delta_round(&sim, &link, &token, 5).await;
    assert_eq!(added.keys().collect::<Vec<_>>(), [&school]);
    assert_eq!(added[&school]["parentFolderId"], kids.as_str());
    assert!(removed.is_empty());
    let dup = sim.handle.mutate(Mutation::AddContactFolder {
        target: t(),
        parent: Some(kids.clone()),
        name: "school".into(),
    });
    assert!(dup.is_err(), "names are unique among siblings");
    sim.handle
        .mutate(Mutation::DeleteContactFolder {
            target: t(),
            id: kids.clone(),
        })
        .unwrap();
    let (added, removed, _, _) = delta_round(&sim, &link, &token, 5).await;
    assert!(added.is_empty());
    assert_eq!(removed, BTreeSet::from([kids.clone(), school]));
    let (s, b) = sim
        .get(&url(&format!("contactFolders/{kids}")), &token)
        .await;
    assert_eq!(s, 404, "{b}");
    // The folder's contact delta token now names a folder that is gone.
    let (s, _) = sim.get(&contacts_link, &token).await;
    assert_eq!(s, 404);
    let deleted = sim.handle.mutate(Mutation::DeleteContactFolder {
        target: t(),
        id: "contacts".into(),
    });
    assert!(deleted.is_err(), "the default Contacts folder stays");
}
