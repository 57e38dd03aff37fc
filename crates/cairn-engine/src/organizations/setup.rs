//! Authentication A's set-up, done with the administrator's sign-in: register (or
//! reuse) Cairn's backup application with a certificate Cairn generates, consent its
//! application permissions, and point Exchange Online at it (New-ServicePrincipal).

use std::sync::Arc;

use cairn_m365::graph::{EXCHANGE_APP_ID, GLOBAL_READER_ROLE, GRAPH_APP_ID, ServicePrincipal};
use cairn_m365::{AppCertificate, Authenticator, ExchangeClient, GraphClient, Resource};
use serde_json::{Value, json};

use super::check::Target;
use super::permissions::{Requirement, requirements};
use super::report::{CheckReport, Status};
use super::signin::{self, Who};

/// What the set-up established.
pub(crate) struct Established {
    pub tenant_id: String,
    pub initial_domain: String,
    pub app_id: String,
    pub certificate: AppCertificate,
    /// The application's service principal (object id).
    pub service_principal_id: String,
    /// The administrator's Graph session (for a directory role, if Exchange wants one).
    pub admin_graph: GraphClient,
    /// The administrator's Exchange session (for granting the mailbox role).
    pub admin_exchange: ExchangeClient,
}

fn denied_message(err: &cairn_m365::Error) -> Option<&cairn_m365::ServiceError> {
    err.service().filter(|e| e.is_access_denied())
}

/// Signs the admin in and sets the application up; `None` when a step failed so that
/// nothing can be saved (the failure is in the report).
pub(crate) async fn run(
    target: &Target<'_>,
    admin: Arc<Authenticator>,
    upn: &str,
    reuse_app_id: Option<&str>,
    report: &mut CheckReport,
) -> Option<Established> {
    let region = target.region;
    // 1. Sign-in.
    let token = match admin.token(Resource::Graph).await {
        Ok(token) => token,
        Err(err) => {
            let message =
                signin::explain(&err, Who::Admin(upn), region, target.tenant, admin.http()).await;
            report.push("sign-in", "Sign-in", Status::Failure, message);
            return None;
        }
    };
    let graph = GraphClient::new(admin.clone());
    let organization = match graph.organization().await {
        Ok(org) => org,
        Err(err) => {
            report.push(
                "sign-in",
                "Sign-in",
                Status::Failure,
                format!("signed in as {upn}, but reading the organization failed: {err}"),
            );
            return None;
        }
    };
    let tenant_id = token
        .claims
        .tid
        .clone()
        .unwrap_or_else(|| organization.id.clone());
    let initial_domain = organization
        .initial_domain()
        .unwrap_or(target.tenant)
        .to_owned();
    report.push(
        "sign-in",
        "Sign-in",
        Status::Success,
        format!(
            "signed in as {upn} to {} (tenant {tenant_id}, {initial_domain}) in the {region} cloud",
            organization
                .display_name
                .as_deref()
                .unwrap_or(&initial_domain)
        ),
    );

    // 2. The backup application, its certificate and its consented permissions.
    const APP: &str = "application";
    const APP_NAME: &str = "Backup application";
    let needs = requirements(target.services);
    let fail = |report: &mut CheckReport, message: String| {
        report.push(APP, APP_NAME, Status::Failure, message);
    };
    let resources = match (
        graph.find_service_principal(GRAPH_APP_ID).await,
        graph.find_service_principal(EXCHANGE_APP_ID).await,
    ) {
        (Ok(Some(g)), Ok(Some(e))) => (g, e),
        (Err(err), _) | (_, Err(err)) => {
            fail(
                report,
                format!(
                    "reading the Microsoft Graph and Exchange Online service principals failed: {err}"
                ),
            );
            return None;
        }
        _ => {
            fail(report, "the tenant has no Microsoft Graph or Office 365 Exchange Online service principal: is Exchange Online licensed?".into());
            return None;
        }
    };
    let display_name = format!("Cairn Backup ({})", target.name);
    let application = match reuse_app_id {
        Some(app_id) => match graph.find_application(app_id).await {
            Ok(Some(app)) => app,
            Ok(None) => {
                fail(
                    report,
                    format!(
                        "no application {app_id} is registered in tenant {tenant_id}: check --app-id, or leave it out to let Cairn register one"
                    ),
                );
                return None;
            }
            Err(err) => {
                fail(
                    report,
                    format!("looking up application {app_id} failed: {err}"),
                );
                return None;
            }
        },
        None => match graph
            .create_application(&display_name, required_resource_access(&needs, &resources))
            .await
        {
            Ok(app) => app,
            Err(err) => {
                let message = match denied_message(&err) {
                    Some(e) => format!(
                        "{upn} may not register applications ({}): sign in as a Global Administrator, or an Application Administrator who is also Privileged Role Administrator (to consent), or use authentication B with an application an administrator registered",
                        e.code
                    ),
                    None => format!("registering the backup application failed: {err}"),
                };
                fail(report, message);
                return None;
            }
        },
    };
    let certificate = match AppCertificate::generate(&display_name) {
        Ok(c) => c,
        Err(err) => {
            fail(report, err.to_string());
            return None;
        }
    };
    if let Err(err) = graph
        .set_key_credentials(
            &application.id,
            &application.key_credentials,
            &display_name,
            &certificate.cert_base64(),
        )
        .await
    {
        fail(
            report,
            format!(
                "adding Cairn's certificate to application {} failed: {err}",
                application.app_id
            ),
        );
        return None;
    }
    let service_principal = match graph.find_service_principal(&application.app_id).await {
        Ok(Some(sp)) => sp,
        Ok(None) => match graph.create_service_principal(&application.app_id).await {
            Ok(sp) => sp,
            Err(err) => {
                fail(
                    report,
                    format!(
                        "creating the service principal of {} failed: {err}",
                        application.app_id
                    ),
                );
                return None;
            }
        },
        Err(err) => {
            fail(
                report,
                format!(
                    "looking up the service principal of {} failed: {err}",
                    application.app_id
                ),
            );
            return None;
        }
    };
    let granted = match graph.app_role_assignments(&service_principal.id).await {
        Ok(a) => a,
        Err(err) => {
            fail(
                report,
                format!(
                    "reading the consented permissions of {} failed: {err}",
                    application.app_id
                ),
            );
            return None;
        }
    };
    let mut consented = Vec::new();
    for need in &needs {
        let resource = match need.resource {
            Resource::Graph => &resources.0,
            Resource::Exchange => &resources.1,
        };
        let Some(role_id) = resource.app_role_id(need.request) else {
            fail(
                report,
                format!(
                    "{} offers no application permission {}",
                    resource.display_name.as_deref().unwrap_or("the resource"),
                    need.request
                ),
            );
            return None;
        };
        let already = granted
            .iter()
            .any(|a| a.resource_id == resource.id && a.app_role_id.eq_ignore_ascii_case(role_id));
        if !already
            && let Err(err) = graph
                .grant_app_role(&resource.id, &service_principal.id, role_id)
                .await
        {
            let message = match denied_message(&err) {
                Some(e) => format!(
                    "{upn} may not grant admin consent ({}): consent needs a Global Administrator or Privileged Role Administrator; ask one to consent {} for application {}",
                    e.code,
                    needs
                        .iter()
                        .map(|n| n.request)
                        .collect::<Vec<_>>()
                        .join(", "),
                    application.app_id
                ),
                None => format!("consenting {} failed: {err}", need.request),
            };
            fail(report, message);
            return None;
        }
        consented.push(need.request);
    }
    let verb = if reuse_app_id.is_some() {
        "reused"
    } else {
        "registered"
    };
    report.push(
        APP,
        APP_NAME,
        Status::Success,
        format!(
            "{verb} application \"{}\" (app id {}) with a new certificate (thumbprint {}); admin consent granted for {}",
            application.display_name.as_deref().unwrap_or(&display_name),
            application.app_id,
            certificate.thumbprint(),
            consented.join(", ")
        ),
    );

    // 3. Exchange Online learns about the application.
    let admin_exchange = ExchangeClient::new(
        Arc::new(Authenticator::new(
            admin.http().clone(),
            region,
            tenant_id.clone(),
            admin.credential().clone(),
        )),
        tenant_id.clone(),
    );
    if target.services.has(super::model::ServiceKind::Exchange) {
        exchange_service_principal(
            &admin_exchange,
            upn,
            &application.app_id,
            &service_principal,
            &display_name,
            report,
        )
        .await;
    }
    Some(Established {
        tenant_id,
        initial_domain,
        app_id: application.app_id,
        service_principal_id: service_principal.id,
        certificate,
        admin_graph: graph,
        admin_exchange,
    })
}

/// Gives the application the Global Reader directory role (read-only), which app-only
/// Exchange Online PowerShell needs when Exchange asks for a directory role. Returns what
/// was done, or what the administrator must do.
pub(crate) async fn grant_directory_role(
    graph: &GraphClient,
    upn: &str,
    service_principal_id: &str,
) -> Result<String, String> {
    let held = match graph.directory_role_assignments(service_principal_id).await {
        Ok(list) => list.iter().any(|a| {
            a.role_definition_id
                .eq_ignore_ascii_case(GLOBAL_READER_ROLE)
        }),
        Err(_) => false,
    };
    if held {
        return Ok("the application already holds the Global Reader directory role".into());
    }
    match graph
        .assign_directory_role(service_principal_id, GLOBAL_READER_ROLE)
        .await
    {
        Ok(_) => Ok(format!(
            "Cairn gave the application the Global Reader directory role (read-only) as {upn}"
        )),
        Err(err) => Err(match denied_message(&err) {
            Some(e) => format!(
                "{upn} may not assign directory roles ({}): a Global Administrator or Privileged Role Administrator must give the application the Global Reader role (Entra > Roles and administrators > Global Reader > Add assignments)",
                e.code
            ),
            None => format!("assigning the Global Reader directory role failed ({err})"),
        }),
    }
}

async fn exchange_service_principal(
    exchange: &ExchangeClient,
    upn: &str,
    app_id: &str,
    sp: &ServicePrincipal,
    display_name: &str,
    report: &mut CheckReport,
) {
    const KEY: &str = "exchange-service-principal";
    const NAME: &str = "Exchange service principal";
    let result = match exchange.find_service_principal(app_id).await {
        Ok(Some(found)) => Ok(format!("Exchange already knows application {app_id} ({})", found.display_name)),
        Ok(None) => exchange
            .new_service_principal(app_id, &sp.id, display_name)
            .await
            .map(|_| format!("New-ServicePrincipal -AppId {app_id} -ObjectId {}: Exchange can now assign roles to the application", sp.id)),
        Err(err) => Err(err),
    };
    match result {
        Ok(message) => {
            report.push(KEY, NAME, Status::Success, message);
        }
        Err(err) => {
            let message = match err.sign_in() {
                Some(_) => format!("signing {upn} in to Exchange Online failed: {err}"),
                None => match denied_message(&err) {
                    Some(_) => format!(
                        "Exchange refused New-ServicePrincipal: {upn} lacks the Role Management permission of the Exchange \"Organization Management\" role group. Add {upn} to Organization Management or let an Exchange administrator run New-ServicePrincipal -AppId {app_id} -ObjectId {}",
                        sp.id
                    ),
                    None => format!("New-ServicePrincipal failed: {err}"),
                },
            };
            report.push(KEY, NAME, Status::Failure, message);
        }
    }
}

fn required_resource_access(
    needs: &[Requirement],
    resources: &(ServicePrincipal, ServicePrincipal),
) -> Value {
    let mut graph = Vec::new();
    let mut exchange = Vec::new();
    for need in needs {
        let (list, sp) = match need.resource {
            Resource::Graph => (&mut graph, &resources.0),
            Resource::Exchange => (&mut exchange, &resources.1),
        };
        if let Some(id) = sp.app_role_id(need.request) {
            list.push(json!({"id": id, "type": "Role"}));
        }
    }
    let mut access = vec![json!({"resourceAppId": GRAPH_APP_ID, "resourceAccess": graph})];
    if !exchange.is_empty() {
        access.push(json!({"resourceAppId": EXCHANGE_APP_ID, "resourceAccess": exchange}));
    }
    Value::Array(access)
}
