//! A job that selects a group protects the mailboxes of everyone in it, members of its
//! nested groups included (Graph's `transitiveMembers`), each once; excluding a group
//! leaves out its nested members too. End to end through the simulator, whose default
//! scenario nests "Sales" (alice, carol) in "Customer Facing" (+ info) in "Managers"
//! (+ bob).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod backup_support;

use std::collections::BTreeSet;

use backup_support::*;
use cairn_engine::backup::{ObjectSelector, Outcome, Selection};

fn names(ran: &Ran) -> BTreeSet<String> {
    ran.outcome
        .objects
        .iter()
        .map(|o| o.object.name.clone())
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selected_group_protects_the_members_of_its_nested_groups() {
    let env = Env::start().await;
    let mut plan = env.plan("managers");
    plan.selection = Selection::Objects(vec![ObjectSelector::Group("Managers".into())]);
    let ran = env.run(&plan).await;
    assert_eq!(ran.outcome.outcome, Outcome::Success, "{:?}", ran.outcome);
    let want = set(&[
        "bob@contoso.com",
        "info@contoso.com",
        "alice@contoso.com",
        "carol@contoso.com",
    ]);
    assert_eq!(names(&ran), want);
    let repo = env.repository().await;
    let rp = repo.restore_points().await.unwrap().pop().unwrap();
    assert_eq!(rp.objects.len(), 4, "one entry per mailbox, none twice");
    let t = env.tenant();
    for name in &want {
        let user = t.users.iter().find(|u| &u.upn == name).unwrap();
        assert_mailbox_matches(&env, user.id, &[]).await;
    }

    // Excluding a nested group leaves out its members, however deep.
    let mut plan = env.plan("managers-but-sales");
    plan.selection = Selection::Objects(vec![ObjectSelector::Group("Managers".into())]);
    plan.exclusions.objects = vec![ObjectSelector::Group("Sales".into())];
    let ran = env.run(&plan).await;
    assert_eq!(ran.outcome.outcome, Outcome::Success, "{:?}", ran.outcome);
    assert_eq!(names(&ran), set(&["bob@contoso.com", "info@contoso.com"]));
}
