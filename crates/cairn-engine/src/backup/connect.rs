//! Opening what a session needs: the organization (app-only sign-in with its stored
//! certificate) and the repository (location and storage credentials from the catalog,
//! the password from the caller).

use std::sync::Arc;

use cairn_catalog::repositories as records;
use cairn_catalog::{Catalog, organizations as table};
use cairn_m365::{AppCertificate, Authenticator, Credential, Network, Region};
use cairn_repo::{Credentials, Location, Repository};

use super::error::BackupError;

/// The organization as a session signs in to it.
pub(crate) struct OrgConnection {
    pub tenant_id: String,
    pub display_name: String,
    pub auth: Arc<Authenticator>,
}

/// Signs in as the organization's backup application.
pub(crate) async fn organization(
    catalog: &Catalog,
    network: &Network,
    name: &str,
) -> Result<OrgConnection, BackupError> {
    let org = table::require(catalog, name).await?;
    let region: Region = org.region.parse().map_err(|e| {
        BackupError::Invalid(format!("stored organization {name} has a bad region: {e}"))
    })?;
    let key = table::private_key(catalog, name).await?;
    let mut pem_text = zeroize::Zeroizing::new(org.certificate_pem.clone().into_bytes());
    pem_text.extend_from_slice(&key);
    let certificate = AppCertificate::from_pem(&pem_text)
        .map_err(|e| BackupError::Invalid(format!("organization {name}: {e}")))?;
    let http = network.http_client()?;
    let auth = Arc::new(Authenticator::new(
        http,
        region,
        org.tenant_id.clone(),
        Credential::Certificate {
            client_id: org.application_id.clone(),
            certificate: Box::new(certificate),
        },
    ));
    Ok(OrgConnection {
        tenant_id: org.tenant_id,
        display_name: org.name,
        auth,
    })
}

/// Opens the repository registered as `name`.
pub(crate) async fn repository(
    catalog: &Catalog,
    name: &str,
    password: Option<&[u8]>,
) -> Result<Arc<Repository>, BackupError> {
    let rec = records::require(catalog, name).await?;
    let mut creds = Credentials::default();
    if let Some(json) = records::credentials(catalog, name).await? {
        let v: serde_json::Value = serde_json::from_slice(&json).map_err(|e| {
            BackupError::Invalid(format!(
                "the stored credentials of repository {name} are damaged ({e}): attach it again"
            ))
        })?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        creds = Credentials {
            aws_access_key_id: s("aws_access_key_id"),
            aws_secret_access_key: s("aws_secret_access_key"),
            azure_account_name: s("azure_account_name"),
            azure_account_key: s("azure_account_key"),
        };
    }
    let creds = creds.or(Credentials::from_env());
    let location = Location::parse(&rec.location)?;
    if rec.encrypted && password.is_none() {
        return Err(BackupError::Invalid(format!(
            "repository {name} is encrypted: its password is needed"
        )));
    }
    let repo = Repository::open(location.backend(&creds)?, password).await?;
    if repo.config().id.to_string() != rec.repository_id {
        return Err(BackupError::Invalid(format!(
            "the repository at {} is not the one registered as {name}: re-attach it",
            rec.location
        )));
    }
    Ok(Arc::new(repo))
}
