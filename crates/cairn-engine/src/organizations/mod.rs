//! Organizations: adding a Microsoft 365 organization to Cairn and checking that Cairn
//! can back it up (the same operations the REST server will expose).
//!
//! Adding follows Veeam's "Adding Microsoft 365 organizations" in today's terms: the
//! backup runs as Cairn's own Entra application with a certificate, and mailbox access
//! ("impersonation" in the old days) is an Exchange RBAC for Applications role, possibly
//! scoped ("partial"). See docs/organizations.md.

mod check;
pub mod model;
pub mod permissions;
pub mod report;
mod setup;
mod signin;

use std::sync::Arc;

use cairn_catalog::{Catalog, CatalogError, organizations as table};
use cairn_m365::{
    AppCertificate, Authenticator, Credential, GraphClient, Network, Region, Resource,
};

pub use model::{Authentication, Deployment, ServiceKind, Services, validate_name, validate_upn};
pub use report::{CheckReport, Status, Step};
pub use table::Organization;

/// Why an organization operation could not run at all (as opposed to a check that ran
/// and found problems, which is a [`CheckReport`]).
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// The request is invalid: the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// Not supported yet.
    #[error("{0}")]
    NotSupported(String),
    /// The catalog failed (includes not found / already exists).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The network settings are unusable.
    #[error(transparent)]
    Network(#[from] cairn_m365::NetworkError),
    /// The stored or given certificate is unusable.
    #[error(transparent)]
    Certificate(#[from] cairn_m365::CertificateError),
}

impl OrgError {
    /// The user's request was wrong (as opposed to the system failing).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            OrgError::Invalid(_)
                | OrgError::NotSupported(_)
                | OrgError::Catalog(
                    CatalogError::NotFound { .. } | CatalogError::AlreadyExists { .. }
                )
        )
    }
}

/// What to add.
#[derive(Debug)]
pub struct AddRequest {
    /// Unique name in Cairn.
    pub name: String,
    /// Deployment type.
    pub deployment: Deployment,
    /// The cloud.
    pub region: Region,
    /// Services, comma-separated (`exchange,sharepoint,teams,teams-posts`).
    pub services: String,
    /// How to connect.
    pub authentication: Authentication,
}

/// The result of `add`.
#[derive(Debug)]
pub struct AddOutcome {
    /// The stored organization; `None` when the check failed before Cairn could sign in
    /// as its application (nothing was saved).
    pub organization: Option<Organization>,
    /// The check.
    pub report: CheckReport,
    /// Remarks about the request (legacy region, …).
    pub notices: Vec<String>,
}

/// The organizations of one catalog, reached over one network.
#[derive(Debug, Clone)]
pub struct Organizations {
    catalog: Catalog,
    network: Network,
}

const AUTH_ADMIN: &str = "admin-password";
const AUTH_APP: &str = "app-certificate";

impl Organizations {
    /// Over `catalog`, reaching Microsoft through `network`.
    pub fn new(catalog: Catalog, network: Network) -> Self {
        Self { catalog, network }
    }

    /// Adds an organization: validates the request, signs in, sets up Cairn's backup
    /// application (authentication A), runs the check and saves the organization with it.
    pub async fn add(&self, request: AddRequest) -> Result<AddOutcome, OrgError> {
        validate_name(&request.name)?;
        if request.deployment != Deployment::Microsoft365 {
            return Err(OrgError::NotSupported(format!(
                "{} deployments are not supported yet: Cairn backs up Microsoft 365 (Exchange Online, SharePoint Online, Teams) only; use --deployment microsoft365",
                request.deployment.as_str()
            )));
        }
        let services = Services::parse(&request.services, request.region)?;
        let mut notices = Vec::new();
        if request.region.is_closed() {
            notices.push(
                "region germany: Microsoft Cloud Deutschland closed on 29 October 2021 and its tenants moved to the worldwide cloud; germany is kept as a legacy choice"
                    .to_owned(),
            );
        }
        let tenant_hint = match &request.authentication {
            Authentication::AdminPassword { upn, .. } => validate_upn(upn)?,
            Authentication::AppCertificate { tenant, .. } => tenant.clone(),
        };
        if table::get(&self.catalog, &request.name).await?.is_some() {
            return Err(CatalogError::AlreadyExists {
                kind: "organization",
                name: request.name,
            }
            .into());
        }
        let http = self.network.http_client()?;
        let mut report = CheckReport::new();
        let target = check::Target {
            name: &request.name,
            region: request.region,
            tenant: &tenant_hint,
            app_id: "",
            services: &services,
        };
        let saved = match request.authentication {
            Authentication::AdminPassword {
                upn,
                password,
                grant,
                app_id,
            } => {
                let admin = Arc::new(Authenticator::new(
                    http.clone(),
                    request.region,
                    tenant_hint.clone(),
                    Credential::Password {
                        username: upn.clone(),
                        password,
                    },
                ));
                let Some(done) =
                    setup::run(&target, admin, &upn, app_id.as_deref(), &mut report).await
                else {
                    return Ok(AddOutcome {
                        organization: None,
                        report,
                        notices,
                    });
                };
                let organization = Organization {
                    name: request.name.clone(),
                    region: request.region.as_str().into(),
                    deployment: request.deployment.as_str().into(),
                    services: services.names(),
                    tenant_id: done.tenant_id.clone(),
                    initial_domain: done.initial_domain.clone(),
                    auth_kind: AUTH_ADMIN.into(),
                    admin_upn: Some(upn.clone()),
                    application_id: done.app_id.clone(),
                    certificate_pem: done.certificate.cert_pem(),
                    created_at: report::now_rfc3339(),
                    last_check: None,
                };
                let app = app_authenticator(
                    &http,
                    request.region,
                    &done.tenant_id,
                    &done.app_id,
                    done.certificate.clone(),
                );
                let target = check::Target {
                    app_id: &done.app_id,
                    tenant: &done.tenant_id,
                    ..target
                };
                let grant = if grant {
                    check::Grant::With(check::Granter {
                        exchange: &done.admin_exchange,
                        graph: &done.admin_graph,
                        service_principal_id: &done.service_principal_id,
                        upn: &upn,
                    })
                } else {
                    check::Grant::Off
                };
                check::run(&target, app, grant, &mut report).await;
                table::insert(
                    &self.catalog,
                    &organization,
                    done.certificate.key_pem().as_bytes(),
                )
                .await?;
                organization
            }
            Authentication::AppCertificate {
                app_id,
                certificate,
                tenant,
            } => {
                let app = app_authenticator(
                    &http,
                    request.region,
                    &tenant,
                    &app_id,
                    (*certificate).clone(),
                );
                let target = check::Target {
                    app_id: &app_id,
                    ..target
                };
                check::run(&target, app.clone(), check::Grant::Off, &mut report).await;
                // Without an application sign-in there is nothing to save.
                let Ok(token) = app.token(Resource::Graph).await else {
                    return Ok(AddOutcome {
                        organization: None,
                        report,
                        notices,
                    });
                };
                let tenant_id = token.claims.tid.clone().unwrap_or_else(|| tenant.clone());
                // The initial domain needs Organization.Read.All, which the admin's
                // application may lack: fall back to what was given.
                let initial_domain = match GraphClient::new(app.clone()).organization().await {
                    Ok(org) => org.initial_domain().map(str::to_owned),
                    Err(_) => None,
                }
                .unwrap_or_else(|| tenant.clone());
                let organization = Organization {
                    name: request.name.clone(),
                    region: request.region.as_str().into(),
                    deployment: request.deployment.as_str().into(),
                    services: services.names(),
                    tenant_id,
                    initial_domain,
                    auth_kind: AUTH_APP.into(),
                    admin_upn: None,
                    application_id: app_id.clone(),
                    certificate_pem: certificate.cert_pem(),
                    created_at: report::now_rfc3339(),
                    last_check: None,
                };
                table::insert(
                    &self.catalog,
                    &organization,
                    certificate.key_pem().as_bytes(),
                )
                .await?;
                organization
            }
        };
        table::set_last_check(&self.catalog, &saved.name, &report.to_json()).await?;
        let organization = table::get(&self.catalog, &saved.name).await?;
        Ok(AddOutcome {
            organization,
            report,
            notices,
        })
    }

    /// Re-runs the check of a stored organization, app-only with its certificate (the
    /// admin password is never stored), and saves the result.
    pub async fn check(&self, name: &str) -> Result<CheckReport, OrgError> {
        let org = table::require(&self.catalog, name).await?;
        let region: Region =
            org.region
                .parse()
                .map_err(|e: cairn_m365::region::UnknownRegion| {
                    OrgError::Invalid(format!("stored organization {name}: {e}"))
                })?;
        let services = Services::parse(&org.services.join(","), region)?;
        let key = table::private_key(&self.catalog, name).await?;
        let mut pem_text = org.certificate_pem.clone().into_bytes();
        pem_text.extend_from_slice(&key);
        let certificate = AppCertificate::from_pem(&pem_text)?;
        zeroize::Zeroize::zeroize(&mut pem_text);
        let http = self.network.http_client()?;
        let app = app_authenticator(
            &http,
            region,
            &org.tenant_id,
            &org.application_id,
            certificate,
        );
        let target = check::Target {
            name,
            region,
            tenant: &org.tenant_id,
            app_id: &org.application_id,
            services: &services,
        };
        let mut report = CheckReport::new();
        check::run(&target, app, check::Grant::NoAdmin, &mut report).await;
        table::set_last_check(&self.catalog, name, &report.to_json()).await?;
        Ok(report)
    }

    /// Every organization.
    pub async fn list(&self) -> Result<Vec<Organization>, OrgError> {
        Ok(table::list(&self.catalog).await?)
    }

    /// One organization.
    pub async fn show(&self, name: &str) -> Result<Organization, OrgError> {
        Ok(table::require(&self.catalog, name).await?)
    }

    /// Forgets an organization (Cairn's application stays registered in the tenant;
    /// docs/organizations.md says how to remove it there).
    pub async fn remove(&self, name: &str) -> Result<(), OrgError> {
        Ok(table::remove(&self.catalog, name).await?)
    }
}

/// The last check stored with an organization, if readable.
pub fn last_check(org: &Organization) -> Option<CheckReport> {
    org.last_check
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
}

fn app_authenticator(
    http: &reqwest::Client,
    region: Region,
    tenant: &str,
    app_id: &str,
    certificate: AppCertificate,
) -> Arc<Authenticator> {
    Arc::new(Authenticator::new(
        http.clone(),
        region,
        tenant.to_owned(),
        Credential::Certificate {
            client_id: app_id.to_owned(),
            certificate: Box::new(certificate),
        },
    ))
}
