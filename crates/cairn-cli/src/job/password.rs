//! Repository passwords for job runs: kept sealed in the catalog with the user's
//! consent (`--store-password`, checked against the repository first) or given per run
//! (`--password-stdin`, `CAIRN_REPO_PASSWORD`, a prompt) — never on the command line.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use cairn_catalog::Catalog;
use cairn_engine::jobs::Job;
use cairn_engine::sessions;
use cairn_repo::{Credentials, Location, Repository};
use zeroize::Zeroizing;

pub(super) async fn password_for_run(
    catalog: &Catalog,
    job: &Job,
    password_stdin: bool,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let rec = cairn_catalog::repositories::require(catalog, &job.repository).await?;
    let kept = cairn_catalog::jobs::repository_password(catalog, &job.repository).await?;
    let given = if rec.encrypted && kept.is_none() {
        read_password(password_stdin, false)?
    } else {
        None
    };
    Ok(sessions::password_for(catalog, &job.repository, given).await?)
}

/// The password from stdin's first line, `CAIRN_REPO_PASSWORD`, or a prompt (only on a
/// terminal; `required` makes its absence an error).
fn read_password(from_stdin: bool, required: bool) -> Result<Option<Zeroizing<Vec<u8>>>> {
    if from_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line)?;
        let pw = line.trim_end_matches(['\r', '\n']);
        if pw.is_empty() {
            bail!("--password-stdin: no password on standard input");
        }
        return Ok(Some(Zeroizing::new(pw.as_bytes().to_vec())));
    }
    if let Ok(p) = std::env::var("CAIRN_REPO_PASSWORD") {
        return Ok(Some(Zeroizing::new(p.into_bytes())));
    }
    if std::io::stdin().is_terminal() {
        return Ok(Some(Zeroizing::new(
            rpassword::prompt_password("repository password: ")?.into_bytes(),
        )));
    }
    if required {
        bail!("no repository password: use --password-stdin, CAIRN_REPO_PASSWORD or a terminal");
    }
    Ok(None)
}

/// Checks the password opens the repository, then keeps it sealed in the catalog.
/// A password for `repository` that opens it, read from stdin / the environment / a
/// prompt; `None` for an unencrypted repository (nothing to keep).
pub async fn verified_password(
    catalog: &Catalog,
    repository: &str,
    from_stdin: bool,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let rec = cairn_catalog::repositories::require(catalog, repository).await?;
    if !rec.encrypted {
        return Ok(None);
    }
    let Some(password) = read_password(from_stdin, true)? else {
        bail!("no repository password given");
    };
    verify_password(catalog, repository, &password).await?;
    Ok(Some(password))
}

/// Keeps a (verified) password sealed in the catalog.
pub async fn keep_password(
    catalog: &Catalog,
    repository: &str,
    password: Option<Zeroizing<Vec<u8>>>,
) -> Result<()> {
    let Some(password) = password else {
        println!("repository {repository} is not encrypted: no password to keep");
        return Ok(());
    };
    let now = chrono_now();
    cairn_catalog::jobs::store_repository_password(catalog, repository, &password, &now).await?;
    println!(
        "kept the password of repository {repository} sealed in the catalog for unattended runs (forget it with `cairn job edit JOB --forget-password`)"
    );
    Ok(())
}

fn chrono_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Opens the repository with `password`, so a wrong password is refused now rather
/// than failing every scheduled run.
async fn verify_password(catalog: &Catalog, repository: &str, password: &[u8]) -> Result<()> {
    let rec = cairn_catalog::repositories::require(catalog, repository).await?;
    let mut creds = Credentials::default();
    if let Some(json) = cairn_catalog::repositories::credentials(catalog, repository).await? {
        let v: serde_json::Value =
            serde_json::from_slice(&json).context("stored credentials are damaged")?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        creds = Credentials {
            aws_access_key_id: s("aws_access_key_id"),
            aws_secret_access_key: s("aws_secret_access_key"),
            azure_account_name: s("azure_account_name"),
            azure_account_key: s("azure_account_key"),
        };
    }
    let backend = Location::parse(&rec.location)?.backend(&creds.or(Credentials::from_env()))?;
    Repository::open(backend, Some(password))
        .await
        .with_context(|| {
            format!(
                "the password does not open repository {repository} at {}; nothing was kept",
                rec.location
            )
        })?;
    Ok(())
}
