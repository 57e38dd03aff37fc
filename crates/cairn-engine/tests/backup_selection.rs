//! What a job protects: a group stands for its members' mailboxes, a shared mailbox is
//! chosen by its address, excluded objects are left out, and only the chosen objects
//! get restore point entries.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod backup_support;

use std::collections::BTreeSet;

use backup_support::*;
use cairn_engine::backup::{ObjectSelector, Outcome, Selection};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_and_shared_mailbox_minus_exclusions() {
    let env = Env::start().await;
    let mut plan = env.plan("sales");
    plan.selection = Selection::Objects(vec![
        ObjectSelector::Group("Sales".into()),
        ObjectSelector::SharedMailbox("info@contoso.com".into()),
    ]);
    plan.exclusions.objects = vec![ObjectSelector::User("carol@contoso.com".into())];
    let ran = env.run(&plan).await;
    assert_eq!(ran.outcome.outcome, Outcome::Success, "{:?}", ran.outcome);
    let names: BTreeSet<String> = ran
        .outcome
        .objects
        .iter()
        .map(|o| o.object.name.clone())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "alice@contoso.com".to_owned(),
            "info@contoso.com".to_owned()
        ])
    );
    let repo = env.repository().await;
    let rp = repo.restore_points().await.unwrap().pop().unwrap();
    assert_eq!(rp.objects.len(), 2, "one entry per protected object");
    let t = env.tenant();
    for name in &names {
        let user = t.users.iter().find(|u| &u.upn == name).unwrap();
        assert_mailbox_matches(&env, user.id, &[]).await;
    }
}
