//! The organization check, app-only with Cairn's application certificate: Graph
//! connection and permissions, Exchange admin ("PowerShell") connection, mailbox access
//! role (granting it when allowed), SharePoint access. The same steps run at the end of
//! `add` and on every `cairn org check`.

use std::sync::Arc;

use cairn_m365::exchange::{Authorization, ScopeType};
use cairn_m365::{Authenticator, ExchangeClient, GraphClient, Region, Resource};

use super::model::{ServiceKind, Services};
use super::permissions::{MAIL_ACCESS_ROLES, MAILBOX_ROLES, requirements};
use super::report::{CheckReport, Status};
use super::signin::{self, Who};

/// The organization as the check sees it.
pub(crate) struct Target<'a> {
    pub name: &'a str,
    pub region: Region,
    pub tenant: &'a str,
    pub app_id: &'a str,
    pub services: &'a Services,
}

/// An administrator session that may assign the mailbox access role (authentication A
/// with grant on).
pub(crate) struct Granter<'a> {
    pub exchange: &'a ExchangeClient,
    pub graph: &'a GraphClient,
    pub service_principal_id: &'a str,
    pub upn: &'a str,
}

/// What the caller wants done about a missing mailbox role.
pub(crate) enum Grant<'a> {
    /// Grant is off: report a failure.
    Off,
    /// Grant is on and an administrator is signed in: assign the roles.
    With(Granter<'a>),
    /// Re-check without an administrator (`cairn org check`).
    NoAdmin,
}

/// Runs the app-only steps; `app` signs in with the certificate.
pub(crate) async fn run(
    target: &Target<'_>,
    app: Arc<Authenticator>,
    grant: Grant<'_>,
    report: &mut CheckReport,
) {
    // Sign-in as the application.
    let graph_token = match app.token(Resource::Graph).await {
        Ok(token) => token,
        Err(err) => {
            let message = signin::explain(
                &err,
                Who::App(target.app_id),
                target.region,
                target.tenant,
                app.http(),
            )
            .await;
            report.push(
                "app-sign-in",
                "Application sign-in",
                Status::Failure,
                message,
            );
            return;
        }
    };
    report.push(
        "app-sign-in",
        "Application sign-in",
        Status::Success,
        format!(
            "application {} signed in to tenant {} ({}) with its certificate",
            target.app_id,
            graph_token.claims.tid.as_deref().unwrap_or(target.tenant),
            target.region
        ),
    );
    let tenant_id = graph_token
        .claims
        .tid
        .clone()
        .unwrap_or_else(|| target.tenant.to_owned());
    let graph = GraphClient::new(app.clone());
    let exchange = ExchangeClient::new(app.clone(), tenant_id);
    let needs = requirements(target.services);

    // Graph connection and permissions.
    let graph_roles = graph_token.claims.roles.clone();
    let missing: Vec<&str> = needs
        .iter()
        .filter(|n| n.resource == Resource::Graph && !n.is_met(&graph_roles))
        .map(|n| n.request)
        .collect();
    if !missing.is_empty() {
        report.push(
            "graph",
            "Microsoft Graph connection",
            Status::Failure,
            format!(
                "application {} lacks the Microsoft Graph application permissions {}: add them (App registrations > API permissions > Microsoft Graph > Application permissions), grant admin consent, then run cairn org check {}",
                target.app_id,
                missing.join(", "),
                target.name
            ),
        );
    } else {
        match graph.users().await {
            Ok(users) => report.push(
                "graph",
                "Microsoft Graph connection",
                Status::Success,
                format!(
                    "connected to {}; application permissions present: {}; {} users visible",
                    target.region.graph_host(),
                    graph_roles.join(", "),
                    users.len()
                ),
            ),
            Err(err) => report.push(
                "graph",
                "Microsoft Graph connection",
                Status::Failure,
                format!(
                    "Microsoft Graph refused to list users with the granted permissions: {err}"
                ),
            ),
        }
    }

    if target.services.has(ServiceKind::Exchange) {
        exchange_steps(target, &app, &graph, &exchange, grant, report).await;
    }

    if target.services.has(ServiceKind::SharePoint) {
        let sites = needs
            .iter()
            .filter(|n| n.request.starts_with("Sites.") || n.request.starts_with("Files."));
        let unmet: Vec<&str> = sites
            .filter(|n| !n.is_met(&graph_roles))
            .map(|n| n.request)
            .collect();
        if unmet.is_empty() {
            let read_only = !graph_roles
                .iter()
                .any(|r| r == "Sites.ReadWrite.All" || r == "Sites.FullControl.All");
            let note = if read_only {
                " (read-only: restores to SharePoint will need Sites.ReadWrite.All)"
            } else {
                ""
            };
            report.push(
                "sharepoint",
                "SharePoint and OneDrive access",
                Status::Success,
                format!("the application can read SharePoint sites and OneDrive files{note}"),
            );
        } else {
            report.push(
                "sharepoint",
                "SharePoint and OneDrive access",
                Status::Failure,
                format!(
                    "the application lacks {} (Sites.Read.All, Sites.ReadWrite.All or Sites.FullControl.All for sites; Files.Read.All or Files.ReadWrite.All for OneDrive): add and consent them, then run cairn org check {}",
                    unmet.join(", "),
                    target.name
                ),
            );
        }
    }
}

async fn exchange_steps(
    target: &Target<'_>,
    app: &Arc<Authenticator>,
    graph: &GraphClient,
    exchange: &ExchangeClient,
    grant: Grant<'_>,
    report: &mut CheckReport,
) {
    const KEY: &str = "exchange";
    const NAME: &str = "Exchange Online PowerShell connection";
    let token = match app.token(Resource::Exchange).await {
        Ok(token) => token,
        Err(err) => {
            let message = signin::explain(
                &err,
                Who::App(target.app_id),
                target.region,
                target.tenant,
                app.http(),
            )
            .await;
            report.push(KEY, NAME, Status::Failure, message);
            return;
        }
    };
    if !token
        .claims
        .roles
        .iter()
        .any(|r| r == "Exchange.ManageAsApp")
    {
        report.push(
            KEY,
            NAME,
            Status::Failure,
            format!(
                "application {} lacks the Office 365 Exchange Online permission Exchange.ManageAsApp: add it (API permissions > APIs my organization uses > Office 365 Exchange Online), grant admin consent, then run cairn org check {}",
                target.app_id, target.name
            ),
        );
        return;
    }
    // The admin API tells scopes apart; without it mailbox access is still checked by
    // probing each mailbox through Graph.
    let mut mailboxes = exchange.mailboxes().await;
    let mut granted_role = None;
    if let (Err(err), Grant::With(granter)) = (&mailboxes, &grant)
        && err.service().is_some_and(|e| e.is_access_denied())
    {
        // Exchange wants the application to hold a directory role: give it the
        // read-only one, then try again with a fresh token.
        match super::setup::grant_directory_role(
            granter.graph,
            granter.upn,
            granter.service_principal_id,
        )
        .await
        {
            Ok(done) => {
                app.forget_tokens().await;
                mailboxes = exchange.mailboxes().await;
                granted_role = Some(done);
            }
            Err(why) => granted_role = Some(why),
        }
    }
    let admin_api: Option<&ExchangeClient> = match mailboxes {
        Ok(mailboxes) => {
            let note = granted_role.map(|d| format!(" ({d})")).unwrap_or_default();
            report.push(
                KEY,
                NAME,
                Status::Success,
                format!(
                    "connected to {} as the application; {} mailboxes{note}",
                    target.region.exchange_host(),
                    mailboxes.len()
                ),
            );
            Some(exchange)
        }
        Err(err) => {
            let denied = err.service().is_some_and(|e| e.is_access_denied());
            let note = granted_role.map(|d| format!(" ({d})")).unwrap_or_default();
            let message = if denied {
                format!(
                    "the application may not run Exchange admin cmdlets: give it the Global Reader directory role (Entra > Roles and administrators > Global Reader > Add assignments > {}) so the check can name mailbox scopes; mailbox access is checked by probing mailboxes instead{note}",
                    target.app_id
                )
            } else {
                format!(
                    "the Exchange admin API failed ({err}); mailbox access is checked by probing mailboxes instead"
                )
            };
            report.push(KEY, NAME, Status::Warning, message);
            match &grant {
                Grant::With(granter) => Some(granter.exchange),
                _ => None,
            }
        }
    };

    const ACCESS: &str = "mailbox-access";
    let access = mailbox_access(target, graph, admin_api).await;
    match (access, grant) {
        (Access::Error(message), _) => report.push(ACCESS, "Mailbox access role", Status::Failure, message),
        (Access::Full(message), _) => report.push(ACCESS, "Mailbox access role", Status::Success, message),
        (Access::Partial(message), _) => report.push(ACCESS, "Mailbox access role", Status::Warning, message),
        (Access::None, Grant::Off) => report.push(
            ACCESS,
            "Mailbox access role",
            Status::Failure,
            format!(
                "application {} holds no mailbox access role and grant is off: mailbox processing will not be possible. Assign it (New-ManagementRoleAssignment -App {} -Role \"Application Mail.ReadWrite\") or add the organization again with grant on, then run cairn org check {}",
                target.app_id, target.app_id, target.name
            ),
        ),
        (Access::None, Grant::NoAdmin) => report.push(
            ACCESS,
            "Mailbox access role",
            Status::Failure,
            format!(
                "application {} holds no mailbox access role: mailbox processing will not be possible. An Exchange administrator can assign it: New-ManagementRoleAssignment -App {} -Role \"Application Mail.ReadWrite\"; then run cairn org check {}",
                target.app_id, target.app_id, target.name
            ),
        ),
        (Access::None, Grant::With(granter)) => {
            report.push(
                ACCESS,
                "Mailbox access role",
                Status::Warning,
                format!(
                    "application {} holds no mailbox access role: Cairn assigns {} organization-wide as {}",
                    target.app_id,
                    MAILBOX_ROLES.join(", "),
                    granter.upn
                ),
            );
            for role in MAILBOX_ROLES {
                if let Err(err) = granter.exchange.new_role_assignment(target.app_id, role, None).await {
                    let message = match err.service() {
                        Some(e) if e.is_access_denied() => format!(
                            "Exchange refused to assign \"{role}\": {} lacks the Role Management permission of the Exchange \"Organization Management\" role group. Add {} to Organization Management (Exchange admin center > Roles > Admin roles) or let an Exchange administrator run New-ManagementRoleAssignment -App {} -Role \"{role}\", then run cairn org check {}",
                            granter.upn, granter.upn, target.app_id, target.name
                        ),
                        _ => format!("assigning \"{role}\" failed: {err}"),
                    };
                    report.push(ACCESS, "Mailbox access role (assignment)", Status::Failure, message);
                    return;
                }
            }
            let (status, message) = match mailbox_access(target, graph, Some(granter.exchange)).await {
                Access::Full(m) => (Status::Success, m),
                Access::Partial(m) => (Status::Warning, m),
                Access::Error(m) => (Status::Failure, m),
                Access::None => (
                    Status::Failure,
                    format!(
                        "the roles were assigned but mailboxes are not reachable yet (role changes can take up to two hours in Exchange Online): run cairn org check {} later",
                        target.name
                    ),
                ),
            };
            report.push(ACCESS, "Mailbox access role (re-check)", status, message);
        }
    }
}

enum Access {
    None,
    Full(String),
    Partial(String),
    Error(String),
}

fn is_mail_role(a: &Authorization) -> bool {
    MAIL_ACCESS_ROLES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(&a.role_name))
}

/// Which mailboxes the application can open: each user's mailbox is probed through Graph
/// (`/users/{id}/mailFolders`, app-only); users without a mailbox are skipped. When an
/// Exchange admin session is at hand, Test-ServicePrincipalAuthorization names the
/// role and its scope.
async fn mailbox_access(
    target: &Target<'_>,
    graph: &GraphClient,
    admin_api: Option<&ExchangeClient>,
) -> Access {
    let users = match graph.users().await {
        Ok(users) => users,
        Err(err) => {
            return Access::Error(format!(
                "listing users to probe their mailboxes failed: {err}"
            ));
        }
    };
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for user in &users {
        match graph.mail_folders(&user.id).await {
            Ok(_) => inside.push(user.user_principal_name.clone()),
            Err(err) => match err.service() {
                Some(e) if e.code == "MailboxNotEnabledForRESTAPI" || e.is_not_found() => {}
                Some(e) if e.is_access_denied() => outside.push(user.user_principal_name.clone()),
                _ => {
                    return Access::Error(format!(
                        "probing the mailbox of {} failed: {err}",
                        user.user_principal_name
                    ));
                }
            },
        }
    }
    let total = inside.len() + outside.len();
    if inside.is_empty() {
        return if total == 0 {
            Access::Error(
                "no mailbox found in the organization: is Exchange Online licensed?".into(),
            )
        } else {
            Access::None
        };
    }
    let roles = match admin_api {
        Some(api) => api
            .test_authorization(target.app_id, None)
            .await
            .map(|rows| rows.into_iter().filter(is_mail_role).collect::<Vec<_>>())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if outside.is_empty() {
        let how = match roles
            .iter()
            .find(|a| a.scope_type == ScopeType::Organization)
        {
            Some(a) => format!("\"{}\" is assigned organization-wide", a.role_name),
            None => "the application's mailbox access".to_owned(),
        };
        return Access::Full(format!("{how}: all {total} mailboxes can be processed"));
    }
    let scope = if roles.is_empty() {
        "the application's mailbox role is limited to some mailboxes".to_owned()
    } else {
        roles
            .iter()
            .map(|a| {
                format!(
                    "\"{}\" is limited to {} ({:?})",
                    a.role_name, a.allowed_resource_scope, a.scope_type
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    Access::Partial(format!(
        "partial access: {scope}; {} of {total} mailboxes are outside and will not be backed up: {}. To back them up, widen the scope or assign the role organization-wide (New-ManagementRoleAssignment -App {} -Role \"Application Mail.ReadWrite\"), then run cairn org check {}",
        outside.len(),
        outside.join(", "),
        target.app_id,
        target.name
    ))
}
