//! Shared harness of the `backup_*` end-to-end tests: the tenant simulator runs in the
//! test process over HTTPS on loopback, the organization is added the way `cairn org
//! add` does (admin password, Cairn's application granted mailbox access), a real
//! encrypted repository lives in a temporary directory, and `backup::run` goes through
//! the whole stack. Assertions compare what the repository holds with the simulator's
//! own state, byte for byte.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_catalog::Catalog;
use cairn_catalog::repositories::{self as records, RepositoryRecord};
use cairn_engine::backup::{
    self, BackupPlan, Concurrency, Exclusions, Processing, ProgressEvent, RetryPolicy, RunContext,
    RunOptions, Selection, SessionOutcome,
};
use cairn_engine::organizations::{AddRequest, Authentication, Deployment, Organizations};
use cairn_m365::{Network, Region};
use cairn_repo::{CreateOptions, Credentials, KdfParams, Location, Repository};
use cairn_sim::admin::{Mutation, Target};
use cairn_sim::{DataPlaneOptions, Scenario, SimHandle, SimOptions, Simulator, TenantState};
use tempfile::TempDir;
use tokio::sync::{mpsc, watch};
use zeroize::Zeroizing;

pub const TENANT: &str = "contoso";
pub const ADMIN: &str = "admin@contoso.onmicrosoft.com";
pub const ORG: &str = "contoso";
pub const REPO: &str = "main";
pub const PASSWORD: &[u8] = b"correct horse battery staple";

/// A simulator, a catalog with the organization and a repository.
pub struct Env {
    pub sim: SimHandle,
    pub catalog: Catalog,
    pub network: Network,
    pub repo_dir: TempDir,
    pub home: TempDir,
    _state: TempDir,
}

/// What a session produced, with its progress events.
pub struct Ran {
    pub outcome: SessionOutcome,
    pub events: Vec<ProgressEvent>,
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(DataPlaneOptions::default()).await
    }

    /// A data plane slow enough that a backup can be killed mid-way.
    pub async fn start_slow() -> Env {
        let mut plane = DataPlaneOptions::default();
        plane.throttle.latency_ms = 15;
        plane.mail.messages_per_mailbox = 60;
        Self::start_with(plane).await
    }

    pub async fn start_with(plane: DataPlaneOptions) -> Env {
        let scenario = Scenario::default();
        let state = tempfile::tempdir().unwrap();
        let password = scenario
            .tenants
            .iter()
            .find(|t| t.name == TENANT)
            .and_then(|t| t.users.iter().find(|u| u.upn.eq_ignore_ascii_case(ADMIN)))
            .and_then(|u| u.password.clone())
            .expect("the scenario's contoso admin has a password");
        let sim = Simulator::start_with(
            scenario,
            SimOptions {
                state_dir: state.path().to_owned(),
                ..SimOptions::default()
            },
            plane,
        )
        .await
        .unwrap();
        let network = Network::production()
            .with_connect(sim.addr())
            .with_extra_ca_pem(sim.ca_pem().as_bytes().to_vec());
        let home = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(home.path()).await.unwrap();
        let added = Organizations::new(catalog.clone(), network.clone())
            .add(AddRequest {
                name: ORG.into(),
                deployment: Deployment::Microsoft365,
                region: Region::Worldwide,
                services: "exchange".into(),
                authentication: Authentication::AdminPassword {
                    upn: ADMIN.into(),
                    password: Zeroizing::new(password),
                    grant: true,
                    app_id: None,
                },
            })
            .await
            .unwrap();
        assert!(
            added.organization.is_some(),
            "organization added: {:?}",
            added.report
        );

        let repo_dir = tempfile::tempdir().unwrap();
        let location = Location::Local(repo_dir.path().join("repo"));
        let repo = Repository::create_at(
            &location,
            &Credentials::default(),
            CreateOptions {
                kdf: KdfParams::insecure_for_tests(),
                ..CreateOptions::encrypted(PASSWORD.to_vec())
            },
        )
        .await
        .unwrap();
        records::insert(
            &catalog,
            &RepositoryRecord {
                name: REPO.into(),
                location: location.to_url(),
                repository_id: repo.config().id.to_string(),
                encrypted: true,
                has_credentials: false,
                created_at: "2026-01-01T00:00:00Z".into(),
            },
            None,
        )
        .await
        .unwrap();
        Env {
            sim,
            catalog,
            network,
            repo_dir,
            home,
            _state: state,
        }
    }

    pub fn plan(&self, job: &str) -> BackupPlan {
        BackupPlan {
            organization: ORG.into(),
            repository: REPO.into(),
            job: job.into(),
            selection: Selection::Organization,
            exclusions: Exclusions::default(),
            // Mail only; calendar, contacts and archive have their own tests.
            processing: Processing {
                mail: true,
                archive: false,
                calendar: false,
                contacts: false,
            },
            retry: RetryPolicy {
                count: 1,
                wait: std::time::Duration::from_millis(100),
            },
            concurrency: Concurrency {
                objects: 4,
                requests_per_mailbox: 4,
            },
        }
    }

    pub fn options() -> RunOptions {
        RunOptions {
            page_size: 7,
            checkpoint_every: std::time::Duration::ZERO,
            ..RunOptions::default()
        }
    }

    pub async fn run(&self, plan: &BackupPlan) -> Ran {
        self.run_with(plan, Self::options()).await
    }

    pub async fn run_with(&self, plan: &BackupPlan, options: RunOptions) -> Ran {
        let (tx, mut rx) = mpsc::channel(1024);
        let (_stop, cancel) = watch::channel(false);
        let collector = tokio::spawn(async move {
            let mut events = Vec::new();
            while let Some(e) = rx.recv().await {
                events.push(e);
            }
            events
        });
        let outcome = backup::run(
            plan,
            RunContext {
                catalog: self.catalog.clone(),
                network: self.network.clone(),
                repository_password: Some(Zeroizing::new(PASSWORD.to_vec())),
                progress: tx,
                cancel,
                options,
            },
        )
        .await;
        let events = collector.await.unwrap();
        eprintln!("session: {outcome:#?}");
        Ran { outcome, events }
    }

    pub async fn repository(&self) -> Arc<Repository> {
        let location = Location::Local(self.repo_dir.path().join("repo"));
        Arc::new(
            Repository::open_location(&location, &Credentials::default(), Some(PASSWORD))
                .await
                .unwrap(),
        )
    }

    pub fn tenant(&self) -> TenantState {
        self.sim.tenant_state(TENANT).unwrap()
    }

    /// Applies a change (or read) through the simulator's mutation API.
    pub fn mutate(&self, m: Mutation) -> serde_json::Value {
        self.sim.mutate(m).unwrap()
    }

    /// The mutation API's name of a user's mailbox.
    pub fn target(&self, user: uuid::Uuid, archive: bool) -> Target {
        cairn_sim::admin::target(TENANT, &user.to_string(), archive)
    }
}

/// The repository's latest view of an object: item id → (folder, MIME/content).
pub async fn repository_items(
    repo: &Repository,
    object: &str,
) -> BTreeMap<String, (String, Vec<u8>, serde_json::Value)> {
    let rps = repo.restore_points().await.unwrap();
    let rp = rps.last().expect("a restore point");
    let mut out = BTreeMap::new();
    for listed in repo.list_items(rp, object).await.unwrap() {
        let content = repo.read_item(&listed.item).await.unwrap();
        out.insert(
            listed.item.id.clone(),
            (
                listed.folder.clone(),
                content.to_vec(),
                listed.item.metadata.clone(),
            ),
        );
    }
    out
}

/// The simulator's view of one user's primary mailbox: message id → (folder id, MIME),
/// for the folders a backup covers (every mail folder but the excluded ones).
pub fn simulator_messages(
    t: &TenantState,
    user: uuid::Uuid,
    archive: bool,
    skip_folders: &[String],
) -> BTreeMap<String, (String, Vec<u8>)> {
    let store = &t.mailboxes[&user];
    let mailbox = store.get(archive).expect("mailbox");
    mailbox
        .messages
        .values()
        .filter(|m| !skip_folders.contains(&m.parent_folder_id))
        .map(|m| {
            (
                m.id.clone(),
                (
                    m.parent_folder_id.clone(),
                    mailbox.mime(&m.id).expect("simulator MIME"),
                ),
            )
        })
        .collect()
}

/// Asserts that the repository's latest restore point holds exactly the simulator's
/// messages of `user`, each in its folder and byte for byte.
pub async fn assert_mailbox_matches(env: &Env, user: uuid::Uuid, skip_folders: &[String]) {
    let t = env.tenant();
    let want = simulator_messages(&t, user, false, skip_folders);
    let repo = env.repository().await;
    let got: BTreeMap<String, (String, Vec<u8>)> = repository_items(&repo, &user.to_string())
        .await
        .into_iter()
        .filter(|(_, (_, _, meta))| meta["kind"] == "message")
        .map(|(id, (folder, content, _))| (id, (folder, content)))
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "messages of {user}"
    );
    for (id, (folder, mime)) in &want {
        let (gf, gm) = &got[id];
        assert_eq!(gf, folder, "folder of {id}");
        assert!(
            gm == mime,
            "MIME of {id} differs ({} vs {} bytes)",
            gm.len(),
            mime.len()
        );
    }
}

/// Mailbox-enabled users of the tenant (those a whole-organization job backs up).
pub fn mailbox_users(t: &TenantState) -> Vec<uuid::Uuid> {
    t.users
        .iter()
        .filter(|u| u.mailbox != cairn_sim::scenario::MailboxKind::None)
        .filter(|u| t.mailboxes.contains_key(&u.id))
        .map(|u| u.id)
        .collect()
}

/// Now, Unix seconds (the simulator's clock for changes).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A second process's view of a parent's [`Env`]: its catalog and simulator.
pub struct ChildEnv {
    pub catalog: Catalog,
    pub network: Network,
}

impl ChildEnv {
    pub async fn open(
        home: &std::path::Path,
        connect: std::net::SocketAddr,
        ca: Vec<u8>,
    ) -> ChildEnv {
        ChildEnv {
            catalog: Catalog::open(home).await.unwrap(),
            network: Network::production()
                .with_connect(connect)
                .with_extra_ca_pem(ca),
        }
    }

    pub async fn run(&self, job: &str, options: RunOptions) -> SessionOutcome {
        let (tx, mut rx) = mpsc::channel(1024);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let (_stop, cancel) = watch::channel(false);
        let plan = BackupPlan {
            organization: ORG.into(),
            repository: REPO.into(),
            job: job.into(),
            selection: Selection::Organization,
            exclusions: Exclusions::default(),
            processing: Processing {
                mail: true,
                archive: false,
                calendar: false,
                contacts: false,
            },
            retry: RetryPolicy::default(),
            concurrency: Concurrency {
                objects: 2,
                requests_per_mailbox: 4,
            },
        };
        backup::run(
            &plan,
            RunContext {
                catalog: self.catalog.clone(),
                network: self.network.clone(),
                repository_password: Some(Zeroizing::new(PASSWORD.to_vec())),
                progress: tx,
                cancel,
                options,
            },
        )
        .await
    }
}
