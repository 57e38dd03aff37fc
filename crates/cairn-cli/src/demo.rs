//! `cairn demo`: the whole product against the built-in tenant simulator. Starts the
//! simulator in-process (state in `<data-dir>/simulator`), points Cairn's Microsoft 365
//! client at it (name resolution and trust root only), adds the demo organization
//! (contoso, as its administrator, granting mailbox access), and prints the check and the
//! organizations list. Then it creates the default local repository (`demo`, under
//! `<data-dir>/repositories/demo`, password [`DEMO_REPO_PASSWORD`] kept sealed in the
//! catalog), a job over the whole organization (`demo`), runs it and prints the session,
//! and runs it again to show an incremental backup.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cairn_catalog::Catalog;
use cairn_engine::organizations::{AddRequest, Authentication, Deployment, Organizations};
use cairn_m365::{Network, Region};
use cairn_sim::{Scenario, SimOptions, Simulator};
use zeroize::Zeroizing;

use cairn_catalog::repositories::RepositoryRecord;
use cairn_engine::jobs::{self, JobChanges};
use cairn_repo::{CreateOptions, Credentials, Location, Repository};

use crate::{job, org};

/// The demo organization: the default scenario's contoso and its administrator.
const DEMO_TENANT: &str = "contoso";
const DEMO_ADMIN: &str = "admin@contoso.onmicrosoft.com";
/// The demo's repository and job.
const DEMO_REPO: &str = "demo";
const DEMO_JOB: &str = "demo";
/// The demo repository's password: a fixed, published value (the demo holds only the
/// simulator's synthetic mail), so that `cairn repo show demo` works by hand too.
pub const DEMO_REPO_PASSWORD: &str = "cairn-demo";

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Services of the demo organization.
    #[arg(long, default_value = "exchange,sharepoint")]
    services: String,
}

pub async fn run(data_dir: &Path, args: DemoArgs) -> Result<ExitCode> {
    let scenario = Scenario::default();
    let tenant = scenario
        .tenants
        .iter()
        .find(|t| t.name == DEMO_TENANT)
        .context("the built-in scenario has no contoso tenant")?;
    let tenant_id = tenant.id.to_string();
    // The scenario's test identity, not a secret (docs/simulator-default-scenario.md).
    let password = tenant
        .users
        .iter()
        .find(|u| u.upn.eq_ignore_ascii_case(DEMO_ADMIN))
        .and_then(|u| u.password.clone())
        .context("the built-in scenario has no password for the contoso administrator")?;

    let catalog = Catalog::open(data_dir)
        .await
        .with_context(|| format!("opening the catalog in {}", data_dir.display()))?;
    if let Some(existing) = cairn_catalog::organizations::get(&catalog, DEMO_TENANT).await? {
        if existing.tenant_id != tenant_id {
            bail!(
                "the data directory {} already holds an organization named {DEMO_TENANT} that is not the demo's: run the demo with a fresh data directory (cairn --data-dir DIR demo)",
                data_dir.display()
            );
        }
        // Left by an earlier demo: the simulator starts afresh each time, so the stored
        // application no longer exists there. Add it again.
        cairn_catalog::organizations::remove(&catalog, DEMO_TENANT).await?;
        println!("Replacing the organization {DEMO_TENANT} left by an earlier demo.");
    }

    let state_dir = data_dir.join("simulator");
    let sim = Simulator::start(
        scenario.clone(),
        SimOptions {
            state_dir: state_dir.clone(),
            ..SimOptions::default()
        },
    )
    .await
    .context("starting the tenant simulator")?;
    println!(
        "Tenant simulator listening on {} (state in {}); every Microsoft host name resolves there.",
        sim.addr(),
        state_dir.display()
    );
    let network = Network::production()
        .with_connect(sim.addr())
        .with_extra_ca_pem(sim.ca_pem().as_bytes().to_vec());
    let organizations = Organizations::new(catalog, network.clone());

    println!(
        "Adding organization {DEMO_TENANT} (region worldwide, services {}) as {DEMO_ADMIN}, granting mailbox access…",
        args.services
    );
    let outcome = organizations
        .add(AddRequest {
            name: DEMO_TENANT.into(),
            deployment: Deployment::Microsoft365,
            region: Region::Worldwide,
            services: args.services,
            authentication: Authentication::AdminPassword {
                upn: DEMO_ADMIN.into(),
                password: Zeroizing::new(password),
                grant: true,
                app_id: None,
            },
        })
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            sim.shutdown().await;
            return Err(err.into());
        }
    };
    for notice in &outcome.notices {
        println!("Warning: {notice}");
    }
    org::print_report(DEMO_TENANT, &outcome.report);
    println!();
    println!("Organizations:");
    let list = organizations.list().await;
    let org_exit = org::exit_for(&outcome.report);
    if let Err(err) = list.map(|l| org::print_list(&l)) {
        sim.shutdown().await;
        return Err(err.into());
    }
    let backed_up = backup(data_dir, &network).await;
    sim.shutdown().await;
    let backup_exit = backed_up?;
    // The worse of the two: the organization check, the backup sessions.
    Ok(if backup_exit != ExitCode::SUCCESS {
        backup_exit
    } else {
        org_exit
    })
}

/// Creates (or reuses) the demo repository and job, runs the job twice.
async fn backup(data_dir: &Path, network: &Network) -> Result<ExitCode> {
    let catalog = Catalog::open(data_dir).await?;
    let location = data_dir.join("repositories").join(DEMO_REPO);
    if cairn_catalog::repositories::get(&catalog, DEMO_REPO)
        .await?
        .is_none()
    {
        let loc = Location::Local(location.clone());
        let creds = Credentials::default();
        let repo = Repository::create_at(
            &loc,
            &creds,
            CreateOptions::encrypted(DEMO_REPO_PASSWORD.as_bytes().to_vec()),
        )
        .await
        .with_context(|| format!("creating the demo repository in {}", location.display()))?;
        cairn_catalog::repositories::insert(
            &catalog,
            &RepositoryRecord {
                name: DEMO_REPO.into(),
                location: loc.to_url(),
                repository_id: repo.config().id.to_string(),
                encrypted: true,
                has_credentials: false,
                created_at: time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)?,
            },
            None,
        )
        .await?;
        println!();
        println!(
            "Created repository {DEMO_REPO} in {} (encrypted; demo password {DEMO_REPO_PASSWORD:?}, kept sealed in the catalog for unattended runs).",
            location.display()
        );
    } else {
        println!();
        println!("Reusing repository {DEMO_REPO} left by an earlier demo.");
    }
    cairn_catalog::jobs::store_repository_password(
        &catalog,
        DEMO_REPO,
        DEMO_REPO_PASSWORD.as_bytes(),
        &time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?,
    )
    .await?;
    if jobs::get(&catalog, DEMO_JOB).await?.is_none() {
        jobs::create(
            &catalog,
            DEMO_JOB,
            &JobChanges {
                organization: Some(DEMO_TENANT.into()),
                repository: Some(DEMO_REPO.into()),
                all: true,
                // A demo should not sit out long retry waits.
                retries: Some(1),
                retry_wait: Some("5s".into()),
                ..Default::default()
            },
        )
        .await?;
        println!(
            "Created job {DEMO_JOB}: the whole organization {DEMO_TENANT} into {DEMO_REPO}, manual schedule."
        );
    }
    println!();
    println!("Backing up {DEMO_TENANT} (job {DEMO_JOB})…");
    let first = job::start_with(&catalog, DEMO_JOB, false, false, Some(network.clone())).await?;
    if first != ExitCode::SUCCESS && first != ExitCode::from(1) {
        return Ok(first);
    }
    println!();
    println!("Running job {DEMO_JOB} again: an incremental backup reads only what changed…");
    let second = job::start_with(&catalog, DEMO_JOB, false, false, Some(network.clone())).await?;
    println!();
    println!(
        "Done. Try: cairn --data-dir {dir} job sessions {DEMO_JOB}; cairn --data-dir {dir} repo show {DEMO_REPO} (password {DEMO_REPO_PASSWORD:?})",
        dir = data_dir.display()
    );
    Ok(if second == ExitCode::SUCCESS {
        first
    } else {
        second
    })
}
