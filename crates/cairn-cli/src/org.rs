//! `cairn org …`: Microsoft 365 organizations: add, check, list, show, remove.
//!
//! Exit status: 0 when the check succeeded (warnings are printed but still 0), 1 when a
//! check step failed or the operation could not complete, 2 for a wrong request (bad
//! arguments, unknown organization, unsupported deployment).

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use cairn_catalog::Catalog;
use cairn_engine::organizations::{
    self as orgs, AddRequest, Authentication, CheckReport, Deployment, OrgError, Organization,
    Organizations, Status,
};
use cairn_m365::{AppCertificate, Network, Region};
use zeroize::Zeroizing;

#[derive(Debug, clap::Subcommand)]
pub enum OrgCommand {
    /// Add a Microsoft 365 organization and check it.
    Add(AddArgs),
    /// Re-run an organization's check (app-only, with its stored certificate).
    Check {
        /// Organization name.
        name: String,
    },
    /// List organizations with the status of their last check.
    List,
    /// Show an organization and its last check.
    Show {
        /// Organization name.
        name: String,
    },
    /// Remove an organization from Cairn (its application stays in the tenant).
    Remove {
        /// Organization name.
        name: String,
    },
}

/// Authentication A: `--user UPN` (password from a prompt or `--password-stdin`),
/// Cairn registers its application. Authentication B: `--app-id ID --certificate FILE`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Name of the organization in Cairn (unique).
    pub name: String,
    /// Deployment type.
    #[arg(
        long,
        default_value = "microsoft365",
        value_name = "microsoft365|on-premises|hybrid"
    )]
    pub deployment: String,
    /// Microsoft cloud: worldwide, germany, china, usgov-gcchigh, usgov-dod.
    #[arg(long, default_value = "worldwide")]
    pub region: String,
    /// Services to back up: exchange, sharepoint (with OneDrive), teams, teams-posts.
    #[arg(long, default_value = "exchange,sharepoint")]
    pub services: String,
    /// Authentication A: administrator (user@domain.com or user@domain.onmicrosoft.com).
    #[arg(long, value_name = "UPN", conflicts_with = "certificate")]
    pub user: Option<String>,
    /// Read the administrator's password from the first line of stdin (never from an argument).
    #[arg(long, requires = "user")]
    pub password_stdin: bool,
    /// Grant Cairn's application access to all mailboxes when it lacks it (default).
    #[arg(long, overrides_with = "no_grant")]
    pub grant: bool,
    /// Do not grant mailbox access; the check reports it missing.
    #[arg(long, overrides_with = "grant")]
    pub no_grant: bool,
    /// Application id: with --user, reuse this application instead of registering one;
    /// with --certificate, authentication B.
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
    /// Authentication B: the application's certificate with private key (PFX/PKCS#12 or PEM).
    #[arg(long, value_name = "FILE", requires = "app_id")]
    pub certificate: Option<PathBuf>,
    /// Read the PFX password from the first line of stdin.
    #[arg(long, requires = "certificate")]
    pub certificate_password_stdin: bool,
    /// Authentication B: the tenant (id or domain); defaults to NAME when it is a domain.
    #[arg(long, value_name = "TENANT", requires = "certificate")]
    pub tenant: Option<String>,
}

pub async fn run(data_dir: &Path, cmd: OrgCommand) -> Result<ExitCode> {
    let outcome = match cmd {
        OrgCommand::Add(args) => add(data_dir, args).await,
        OrgCommand::Check { name } => check(data_dir, &name).await,
        OrgCommand::List => list(data_dir).await,
        OrgCommand::Show { name } => show(data_dir, &name).await,
        OrgCommand::Remove { name } => remove(data_dir, &name).await,
    };
    match outcome {
        Ok(code) => Ok(code),
        Err(err) => match err.downcast_ref::<OrgError>() {
            Some(org_err) => {
                eprintln!("error: {org_err}");
                Ok(ExitCode::from(if org_err.is_usage() { 2 } else { 1 }))
            }
            None => Err(err),
        },
    }
}

/// Opens the catalog and the organizations service over the network from the
/// environment (`CAIRN_M365_CONNECT`, `CAIRN_M365_CA_FILE`).
pub async fn open(data_dir: &Path) -> Result<Organizations> {
    let catalog = Catalog::open(data_dir)
        .await
        .with_context(|| format!("opening the catalog in {}", data_dir.display()))?;
    let network = Network::from_env()?;
    Ok(Organizations::new(catalog, network))
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    OrgError::Invalid(message.into()).into()
}

fn read_stdin_line(what: &str) -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from stdin"))?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if trimmed.is_empty() {
        return Err(usage(format!(
            "no {what} on stdin: write it as the first line"
        )));
    }
    Ok(trimmed)
}

fn read_password(upn: &str, from_stdin: bool) -> Result<Zeroizing<String>> {
    if from_stdin {
        return read_stdin_line("password");
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "no terminal to ask the password on: pass it on stdin with --password-stdin",
        ));
    }
    let password = rpassword::prompt_password(format!("Password for {upn}: "))
        .context("reading the password")?;
    Ok(Zeroizing::new(password))
}

fn load_certificate(path: &Path, password_stdin: bool) -> Result<AppCertificate> {
    let data = std::fs::read(path).map_err(|e| {
        usage(format!(
            "cannot read the certificate {}: {e}",
            path.display()
        ))
    })?;
    let is_pem = data.trim_ascii_start().starts_with(b"-----BEGIN");
    let certificate = if is_pem {
        AppCertificate::from_pem(&data)
    } else {
        let password = if password_stdin {
            read_stdin_line("certificate password")?
        } else {
            Zeroizing::new(String::new())
        };
        AppCertificate::from_pfx(&data, &password)
    };
    certificate.map_err(|e| usage(format!("certificate {}: {e}", path.display())))
}

async fn add(data_dir: &Path, args: AddArgs) -> Result<ExitCode> {
    let deployment: Deployment = args.deployment.parse()?;
    let region: Region = args.region.parse().map_err(|e| usage(format!("{e}")))?;
    let authentication = match (&args.user, &args.certificate) {
        (Some(upn), None) => {
            // Validate before asking for the password.
            orgs::validate_upn(upn)?;
            let password = read_password(upn, args.password_stdin)?;
            Authentication::AdminPassword {
                upn: upn.clone(),
                password,
                grant: !args.no_grant,
                app_id: args.app_id.clone(),
            }
        }
        (None, Some(file)) => {
            let app_id = args
                .app_id
                .clone()
                .ok_or_else(|| usage("--certificate needs --app-id"))?;
            let tenant = match (&args.tenant, args.name.contains('.')) {
                (Some(t), _) => t.clone(),
                (None, true) => args.name.clone(),
                (None, false) => {
                    return Err(usage(
                        "authentication B needs the tenant: give --tenant (its id or a domain such as contoso.onmicrosoft.com)",
                    ));
                }
            };
            let certificate = load_certificate(file, args.certificate_password_stdin)?;
            Authentication::AppCertificate {
                app_id,
                certificate: Box::new(certificate),
                tenant,
            }
        }
        _ => {
            return Err(usage(
                "choose an authentication: --user UPN (authentication A) or --app-id ID --certificate FILE (authentication B)",
            ));
        }
    };
    let organizations = open(data_dir).await?;
    let outcome = organizations
        .add(AddRequest {
            name: args.name.clone(),
            deployment,
            region,
            services: args.services.clone(),
            authentication,
        })
        .await?;
    for notice in &outcome.notices {
        println!("Warning: {notice}");
    }
    print_report(&args.name, &outcome.report);
    match &outcome.organization {
        Some(org) => println!("Organization {} saved ({}).", org.name, org.tenant_id),
        None => println!("Organization {} was not added.", args.name),
    }
    Ok(exit_for(&outcome.report))
}

async fn check(data_dir: &Path, name: &str) -> Result<ExitCode> {
    let organizations = open(data_dir).await?;
    let report = organizations.check(name).await?;
    print_report(name, &report);
    Ok(exit_for(&report))
}

async fn list(data_dir: &Path) -> Result<ExitCode> {
    let organizations = open(data_dir).await?;
    print_list(&organizations.list().await?);
    Ok(ExitCode::SUCCESS)
}

/// The Organizations node: one line per organization with its last check's status.
pub fn print_list(list: &[Organization]) {
    if list.is_empty() {
        println!("No organizations. Add one with: cairn org add NAME --user UPN");
        return;
    }
    println!(
        "{:<20} {:<14} {:<36} {:<8} CHECKED",
        "NAME", "REGION", "SERVICES", "STATUS"
    );
    for org in list {
        let check = orgs::last_check(org);
        println!(
            "{:<20} {:<14} {:<36} {:<8} {}",
            org.name,
            org.region,
            org.services.join(","),
            check
                .as_ref()
                .map(|c| c.status.to_string())
                .unwrap_or_else(|| "-".into()),
            check
                .as_ref()
                .map(|c| c.checked_at.as_str())
                .unwrap_or("never"),
        );
    }
}

async fn show(data_dir: &Path, name: &str) -> Result<ExitCode> {
    let organizations = open(data_dir).await?;
    let org = organizations.show(name).await?;
    println!("Name:            {}", org.name);
    println!("Deployment:      {}", org.deployment);
    println!("Region:          {}", org.region);
    println!("Services:        {}", org.services.join(","));
    println!("Tenant id:       {}", org.tenant_id);
    println!("Initial domain:  {}", org.initial_domain);
    println!("Authentication:  {}", org.auth_kind);
    if let Some(upn) = &org.admin_upn {
        println!("Added by:        {upn}");
    }
    println!("Application id:  {}", org.application_id);
    if let Some(thumb) = cairn_m365::cert::thumbprint_of_pem(&org.certificate_pem) {
        println!("Certificate:     {thumb} (SHA-1 thumbprint)");
    }
    println!("Created:         {}", org.created_at);
    match orgs::last_check(&org) {
        Some(report) => print_report(&org.name, &report),
        None => println!("Last check:      never"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(data_dir: &Path, name: &str) -> Result<ExitCode> {
    let organizations = open(data_dir).await?;
    let org = organizations.show(name).await?;
    organizations.remove(name).await?;
    println!(
        "Removed organization {name}. Cairn's application {} stays registered in tenant {}: delete it in Microsoft Entra (App registrations) if it is no longer needed.",
        org.application_id, org.tenant_id
    );
    Ok(ExitCode::SUCCESS)
}

/// One line per step, then the overall result.
pub fn print_report(name: &str, report: &CheckReport) {
    println!("Check of organization {name} ({}):", report.checked_at);
    for step in &report.steps {
        println!(
            "  {:<8} {}: {}",
            step.status.to_string(),
            step.name,
            step.message
        );
    }
    println!("Result: {}", report.status);
}

/// 0 for success and warnings, 1 for failure.
pub fn exit_for(report: &CheckReport) -> ExitCode {
    match report.status {
        Status::Success | Status::Warning => ExitCode::SUCCESS,
        Status::Failure => ExitCode::from(1),
    }
}
