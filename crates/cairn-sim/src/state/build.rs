//! Turning a scenario tenant into live state, generating app certificates as asked.

use std::collections::BTreeMap;
use std::path::Path;

use uuid::Uuid;

use super::{
    AppRole, AppRoleAssignment, Application, ExchangeOrg, ExoRoleAssignment, ExoServicePrincipal,
    Group, KeyCredential, MailboxStore, ManagementScope, PasswordCredential, ServicePrincipal,
    TenantState, User, created_time,
};
use crate::catalog::{self, derived_id};
use crate::error::SimError;
use crate::pki::{self, RsaCredential};
use crate::scenario::{MailboxKind, TenantSpec};

/// Microsoft's own tenant, owner of first-party service principals.
const MICROSOFT_SERVICES_TENANT: Uuid = Uuid::from_u128(0xf8cdef31_a31e_4b4a_93e4_5f571e91255a);

fn resource_sp(tenant: Uuid, app_id: &str, name: &str, roles: &[(&str, &str)]) -> ServicePrincipal {
    ServicePrincipal {
        id: derived_id(&tenant, "servicePrincipal", app_id),
        app_id: Uuid::parse_str(app_id).unwrap_or_default(),
        display_name: name.into(),
        app_roles: roles
            .iter()
            .map(|(value, id)| AppRole {
                id: Uuid::parse_str(id).unwrap_or_default(),
                value: (*value).into(),
            })
            .collect(),
        app_owner_organization_id: MICROSOFT_SERVICES_TENANT,
        directory_roles: Vec::new(),
    }
}

/// A key credential for a certificate DER.
pub fn key_credential(tenant: Uuid, der: &[u8], serial: u64) -> KeyCredential {
    let subject = x509_parser::parse_x509_certificate(der)
        .ok()
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_default();
    let (start, end) = x509_parser::parse_x509_certificate(der)
        .ok()
        .map(|(_, c)| {
            let f = |t: x509_parser::time::ASN1Time| {
                t.to_datetime()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            };
            (f(c.validity().not_before), f(c.validity().not_after))
        })
        .unwrap_or_default();
    KeyCredential {
        key_id: derived_id(
            &tenant,
            "keyCredential",
            &format!("{}/{serial}", hex::encode(pki::sha1(der))),
        ),
        display_name: subject,
        der: der.to_vec(),
        sha1: pki::sha1(der),
        sha256: pki::sha256(der),
        start_date_time: start,
        end_date_time: end,
    }
}

/// Builds a tenant; returns its state and the generated or loaded app credentials.
pub fn build_tenant(
    spec: &TenantSpec,
    state_dir: &Path,
) -> Result<(TenantState, Vec<(Uuid, RsaCredential)>), SimError> {
    let tid = spec.id;
    let mut credentials = Vec::new();
    let users: Vec<User> = spec
        .users
        .iter()
        .map(|u| {
            let display_name = u
                .display_name
                .clone()
                .unwrap_or_else(|| u.upn.split('@').next().unwrap_or(&u.upn).to_string());
            let mut names = display_name.splitn(2, ' ');
            let given = names.next().map(String::from);
            let surname = names.next().map(String::from);
            User {
                id: u.id.unwrap_or_else(|| derived_id(&tid, "user", &u.upn)),
                upn: u.upn.clone(),
                given_name: given,
                surname,
                display_name,
                password: u.password.clone(),
                directory_roles: u
                    .roles
                    .iter()
                    .filter_map(|r| catalog::directory_role(r))
                    .map(|r| r.template_id.to_string())
                    .collect(),
                exchange_role_groups: u.exchange_role_groups.clone(),
                mfa: u.mfa,
                locked: u.locked,
                password_expired: u.password_expired,
                account_enabled: !u.disabled,
                licensed: u.licensed,
                mailbox: u.mailbox,
                archive: u.archive,
                department: u.department.clone(),
                custom_attributes: u
                    .custom_attributes
                    .iter()
                    .filter_map(|(k, v)| k.parse::<u8>().ok().map(|k| (k, v.clone())))
                    .collect(),
            }
        })
        .collect();
    let groups = spec
        .groups
        .iter()
        .map(|g| Group {
            id: g.id.unwrap_or_else(|| derived_id(&tid, "group", &g.name)),
            display_name: g.name.clone(),
            kind: g.kind,
            mail_nickname: g
                .name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect(),
            members: g
                .members
                .iter()
                .filter_map(|m| users.iter().find(|u| u.upn.eq_ignore_ascii_case(m)))
                .map(|u| u.id)
                .collect(),
            member_groups: g
                .members
                .iter()
                .filter_map(|m| spec.groups.iter().find(|x| x.name == *m))
                .map(|x| x.id.unwrap_or_else(|| derived_id(&tid, "group", &x.name)))
                .collect(),
        })
        .collect();

    let graph = resource_sp(
        tid,
        catalog::GRAPH_APP_ID,
        "Microsoft Graph",
        catalog::GRAPH_APP_ROLES,
    );
    let exo = resource_sp(
        tid,
        catalog::EXCHANGE_APP_ID,
        "Office 365 Exchange Online",
        catalog::EXCHANGE_APP_ROLES,
    );
    let mut applications = Vec::new();
    let mut service_principals = vec![graph.clone(), exo.clone()];
    let mut grants = Vec::new();
    let mut exchange = ExchangeOrg::default();
    let mut serial = 0u64;
    for app in &spec.apps {
        serial += 1;
        let app_id = app.app_id.to_string();
        let mut key_credentials = Vec::new();
        if let Some(source) = &app.certificate {
            let (path, generate) = if source == "generate" {
                (spec.app_credential_path(state_dir, app), true)
            } else {
                (Path::new(source).to_path_buf(), false)
            };
            let cred = RsaCredential::load_or_generate(&path, &app.name, generate)?;
            key_credentials.push(key_credential(tid, &cred.cert_der, 0));
            credentials.push((app.app_id, cred));
        }
        let password_credentials = app
            .secrets
            .iter()
            .enumerate()
            .map(|(i, s)| PasswordCredential {
                key_id: derived_id(&tid, "passwordCredential", &format!("{app_id}/{i}")),
                display_name: Some(format!("secret {}", i + 1)),
                secret: s.clone(),
                hint: s.chars().take(3).collect(),
                start_date_time: created_time(serial),
                end_date_time: "2028-01-05T09:00:00Z".into(),
            })
            .collect();
        applications.push(Application {
            id: derived_id(&tid, "application", &app_id),
            app_id: app.app_id,
            display_name: app.name.clone(),
            sign_in_audience: "AzureADMyOrg".into(),
            created_date_time: created_time(serial),
            key_credentials,
            password_credentials,
            required_resource_access: serde_json::json!([]),
        });
        let sp = ServicePrincipal {
            id: derived_id(&tid, "servicePrincipal", &app_id),
            app_id: app.app_id,
            display_name: app.name.clone(),
            app_roles: Vec::new(),
            app_owner_organization_id: tid,
            directory_roles: app
                .roles
                .iter()
                .filter_map(|r| catalog::directory_role(r))
                .map(|r| r.template_id.to_string())
                .collect(),
        };
        for (resource, perms) in [
            (&graph, &app.graph_permissions),
            (&exo, &app.exchange_permissions),
        ] {
            for p in perms {
                if let Some(role) = resource.app_roles.iter().find(|r| &r.value == p) {
                    grants.push(AppRoleAssignment {
                        id: assignment_id(tid, sp.id, role.id),
                        principal_id: sp.id,
                        principal_display_name: sp.display_name.clone(),
                        resource_id: resource.id,
                        resource_display_name: resource.display_name.clone(),
                        app_role_id: role.id,
                        created_date_time: created_time(serial),
                    });
                }
            }
        }
        if app.exchange_service_principal {
            exchange.service_principals.push(ExoServicePrincipal {
                app_id: app.app_id,
                object_id: sp.id,
                display_name: app.name.clone(),
                // Exchange identifies the service principal by its Entra object id.
                identity: sp.id,
            });
        }
        service_principals.push(sp);
    }
    for s in &spec.management_scopes {
        exchange.scopes.push(ManagementScope {
            name: s.name.clone(),
            id: derived_id(&tid, "managementScope", &s.name),
            recipient_restriction_filter: s.recipient_restriction_filter.clone(),
        });
    }
    for r in &spec.role_assignments {
        let Some(sp) = exchange
            .service_principals
            .iter()
            .find(|s| s.app_id == r.app_id)
        else {
            continue; // validated in Scenario::validate
        };
        let role = catalog::exchange_application_role(&r.role)
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| r.role.clone());
        let name = r
            .name
            .clone()
            .unwrap_or_else(|| format!("{role}-{}", sp.display_name));
        exchange.role_assignments.push(ExoRoleAssignment {
            id: derived_id(&tid, "roleAssignment", &name),
            name,
            role,
            app_identity: sp.identity,
            app_id: sp.app_id,
            custom_resource_scope: r.custom_resource_scope.clone(),
        });
    }
    let mailboxes: BTreeMap<Uuid, MailboxStore> = users
        .iter()
        .filter(|u| u.mailbox != MailboxKind::None)
        .map(|u| (u.id, MailboxStore::new(tid, u.id, u.archive)))
        .collect();
    let initial = spec.domains.first().cloned().unwrap_or_default();
    Ok((
        TenantState {
            name: spec.name.clone(),
            id: tid,
            cloud: spec.cloud,
            display_name: spec
                .display_name
                .clone()
                .unwrap_or_else(|| spec.name.clone()),
            default_domain: spec.default_domain.clone().unwrap_or(initial),
            domains: spec.domains.clone(),
            users,
            groups,
            applications,
            service_principals,
            app_role_assignments: grants,
            exchange,
            mailboxes,
            created: serial,
        },
        credentials,
    ))
}

/// Graph's appRoleAssignment ids are base64url strings; derive one deterministically.
pub fn assignment_id(tenant: Uuid, principal: Uuid, role: Uuid) -> String {
    let id = derived_id(&tenant, "appRoleAssignment", &format!("{principal}/{role}"));
    let mut bytes = principal.as_bytes().to_vec();
    bytes.extend_from_slice(&id.as_bytes()[..8]);
    crate::jwt::b64url(&bytes)
}
