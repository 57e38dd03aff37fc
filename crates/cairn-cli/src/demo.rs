//! `cairn demo`: the whole product against the built-in tenant simulator. Starts the
//! simulator in-process (state in `<data-dir>/simulator`), points Cairn's Microsoft 365
//! client at it (name resolution and trust root only), adds the demo organization
//! (contoso, as its administrator, granting mailbox access), and prints the check and the
//! organizations list.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cairn_catalog::Catalog;
use cairn_engine::organizations::{AddRequest, Authentication, Deployment, Organizations};
use cairn_m365::{Network, Region};
use cairn_sim::{Scenario, SimOptions, Simulator};
use zeroize::Zeroizing;

use crate::org;

/// The demo organization: the default scenario's contoso and its administrator.
const DEMO_TENANT: &str = "contoso";
const DEMO_ADMIN: &str = "admin@contoso.onmicrosoft.com";

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
    let organizations = Organizations::new(catalog, network);

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
    sim.shutdown().await;
    org::print_list(&list?);
    Ok(org::exit_for(&outcome.report))
}
