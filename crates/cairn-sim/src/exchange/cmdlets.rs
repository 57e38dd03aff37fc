//! The cmdlets: mailboxes, Exchange service principals, management scopes, application
//! role assignments and the authorization test. Role changes apply at once here; in
//! Exchange Online they can take up to about two hours.

use serde_json::{Value, json};

use super::opath::{Filter, FilterError};
use super::{CmdletError, Rights, caller_name, rights};
use crate::auth::Caller;
use crate::catalog;
use crate::state::{
    ExoRoleAssignment, ExoServicePrincipal, ManagementScope, RecipientView, TenantState, User,
};

fn param(p: &Value, name: &str) -> Option<String> {
    let v = p
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(p: &Value, cmdlet: &str, name: &str) -> Result<String, CmdletError> {
    param(p, name).filter(|s| !s.is_empty()).ok_or_else(|| {
        CmdletError::new(
            "System.Management.Automation.ParameterBindingException",
            format!("Cannot process command because of one or more missing mandatory parameters: {name}. ({cmdlet})"),
        )
    })
}

fn need(t: &TenantState, c: &Caller, cmdlet: &str, manage: bool) -> Result<(), CmdletError> {
    let r = rights(t, c);
    let ok = match r {
        Rights::Manage => true,
        Rights::View => !manage,
        Rights::None => false,
    };
    if ok {
        return Ok(());
    }
    Err(CmdletError::access_denied(format!(
        "The user \"{}\" isn't assigned to any management roles that allow running {cmdlet}. Membership in the \"Organization Management\" role group (or the Exchange Administrator role) is required; role changes can take up to two hours to apply in Exchange Online.",
        caller_name(c)
    )))
}

/// Parameters each cmdlet binds (besides the common ones); others are refused as
/// PowerShell does, so a misspelt parameter is an error and not silently ignored.
const PARAMETERS: &[(&str, &[&str])] = &[
    (
        "get-mailbox",
        &[
            "Identity",
            "RecipientTypeDetails",
            "Filter",
            "Archive",
            "ResultSize",
            "Properties",
            "PropertySets",
        ],
    ),
    ("get-serviceprincipal", &["Identity"]),
    (
        "new-serviceprincipal",
        &[
            "AppId",
            "ObjectId",
            "ServiceId",
            "DisplayName",
            "Organization",
        ],
    ),
    ("remove-serviceprincipal", &["Identity"]),
    (
        "new-managementscope",
        &["Name", "RecipientRestrictionFilter", "RecipientRoot"],
    ),
    ("get-managementscope", &["Identity"]),
    ("remove-managementscope", &["Identity"]),
    (
        "new-managementroleassignment",
        &[
            "App",
            "Role",
            "CustomResourceScope",
            "Name",
            "User",
            "SecurityGroup",
            "Policy",
        ],
    ),
    (
        "get-managementroleassignment",
        &["RoleAssignee", "App", "Role", "Identity"],
    ),
    ("remove-managementroleassignment", &["Identity"]),
    (
        "test-serviceprincipalauthorization",
        &["Identity", "Resource"],
    ),
    ("enable-organizationcustomization", &[]),
    ("get-organizationconfig", &[]),
];

const COMMON_PARAMETERS: &[&str] = &[
    "Confirm",
    "WhatIf",
    "ErrorAction",
    "WarningAction",
    "Verbose",
    "Debug",
    "DomainController",
];

fn check_parameters(name: &str, p: &Value) -> Result<(), CmdletError> {
    let lower = name.to_ascii_lowercase();
    let Some((_, allowed)) = PARAMETERS.iter().find(|(n, _)| *n == lower) else {
        return Ok(()); // unknown cmdlets are reported by `run`
    };
    for key in p.as_object().into_iter().flat_map(|m| m.keys()) {
        let known = allowed
            .iter()
            .chain(COMMON_PARAMETERS)
            .any(|a| a.eq_ignore_ascii_case(key));
        if !known {
            return Err(CmdletError::new(
                "System.Management.Automation.ParameterBindingException",
                format!(
                    "A parameter cannot be found that matches parameter name '{key}'. ({name})"
                ),
            ));
        }
    }
    Ok(())
}

/// Runs a cmdlet; returns its output rows.
pub fn run(
    t: &mut TenantState,
    c: &Caller,
    name: &str,
    p: &Value,
) -> Result<Vec<Value>, CmdletError> {
    check_parameters(name, p)?;
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "get-mailbox" => {
            need(t, c, name, false)?;
            get_mailbox(t, p)
        }
        "get-serviceprincipal" => {
            need(t, c, name, false)?;
            let id = param(p, "Identity");
            let rows: Vec<Value> = t
                .exchange
                .service_principals
                .iter()
                .filter(|s| id.as_deref().is_none_or(|i| s.matches(i)))
                .map(sp_row)
                .collect();
            if let (Some(i), true) = (&id, rows.is_empty()) {
                return Err(CmdletError::not_found(i));
            }
            Ok(rows)
        }
        "new-serviceprincipal" => {
            need(t, c, name, true)?;
            new_service_principal(t, p, name)
        }
        "remove-serviceprincipal" => {
            need(t, c, name, true)?;
            let id = required(p, name, "Identity")?;
            let sp = find_sp(t, &id)?.clone();
            t.exchange
                .role_assignments
                .retain(|a| a.app_identity != sp.identity);
            t.exchange
                .service_principals
                .retain(|s| s.identity != sp.identity);
            Ok(Vec::new())
        }
        "new-managementscope" => {
            need(t, c, name, true)?;
            new_scope(t, p, name)
        }
        "get-managementscope" => {
            need(t, c, name, false)?;
            let id = param(p, "Identity");
            let rows: Vec<Value> = t
                .exchange
                .scopes
                .iter()
                .filter(|s| id.as_deref().is_none_or(|i| scope_matches(s, i)))
                .map(scope_row)
                .collect();
            if let (Some(i), true) = (&id, rows.is_empty()) {
                return Err(CmdletError::not_found(i));
            }
            Ok(rows)
        }
        "remove-managementscope" => {
            need(t, c, name, true)?;
            let id = required(p, name, "Identity")?;
            let Some(scope) = t
                .exchange
                .scopes
                .iter()
                .find(|s| scope_matches(s, &id))
                .cloned()
            else {
                return Err(CmdletError::not_found(&id));
            };
            if t.exchange
                .role_assignments
                .iter()
                .any(|a| a.custom_resource_scope.as_deref() == Some(&scope.name))
            {
                return Err(CmdletError::new(
                    "Microsoft.Exchange.Management.RbacTasks.ManagementScopeInUseException",
                    format!(
                        "The management scope \"{}\" can't be removed because it's used by role assignments. Remove those first.",
                        scope.name
                    ),
                ));
            }
            t.exchange.scopes.retain(|s| s.id != scope.id);
            Ok(Vec::new())
        }
        "new-managementroleassignment" => {
            need(t, c, name, true)?;
            new_assignment(t, p, name)
        }
        "get-managementroleassignment" => {
            need(t, c, name, false)?;
            let assignee = param(p, "RoleAssignee").or_else(|| param(p, "App"));
            let role = param(p, "Role");
            let id = param(p, "Identity");
            let sp = match &assignee {
                Some(a) => Some(find_sp(t, a)?.identity),
                None => None,
            };
            Ok(t.exchange
                .role_assignments
                .iter()
                .filter(|a| sp.is_none_or(|s| a.app_identity == s))
                .filter(|a| {
                    role.as_deref()
                        .is_none_or(|r| a.role.eq_ignore_ascii_case(r))
                })
                .filter(|a| id.as_deref().is_none_or(|i| assignment_matches(a, i)))
                .map(|a| assignment_row(t, a))
                .collect())
        }
        "remove-managementroleassignment" => {
            need(t, c, name, true)?;
            let id = required(p, name, "Identity")?;
            let before = t.exchange.role_assignments.len();
            t.exchange
                .role_assignments
                .retain(|a| !assignment_matches(a, &id));
            if t.exchange.role_assignments.len() == before {
                return Err(CmdletError::not_found(&id));
            }
            Ok(Vec::new())
        }
        "test-serviceprincipalauthorization" => {
            need(t, c, name, false)?;
            test_authorization(t, p, name)
        }
        "enable-organizationcustomization" => {
            need(t, c, name, true)?;
            if t.exchange.organization_customization {
                return Err(CmdletError::new(
                    "Microsoft.Exchange.Management.Deployment.InvalidOperationInDehydratedContextException",
                    "This operation is not required. Organization is already enabled for customization.",
                ));
            }
            t.exchange.organization_customization = true;
            Ok(Vec::new())
        }
        "get-organizationconfig" => {
            need(t, c, name, false)?;
            Ok(vec![json!({
                "Name": t.initial_domain(),
                "DisplayName": t.display_name,
                "Identity": t.initial_domain(),
                "IsDehydrated": !t.exchange.organization_customization,
                "OrganizationId": t.id.to_string(),
            })])
        }
        _ => Err(CmdletError::new(
            "System.Management.Automation.CommandNotFoundException",
            format!(
                "The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program."
            ),
        )),
    }
}

fn mailbox_users(t: &TenantState) -> impl Iterator<Item = &User> {
    t.users
        .iter()
        .filter(|u| u.mailbox.recipient_type_details().is_some())
}

fn user_matches(u: &User, key: &str) -> bool {
    u.upn.eq_ignore_ascii_case(key)
        || u.alias().eq_ignore_ascii_case(key)
        || u.id.to_string().eq_ignore_ascii_case(key)
        || u.display_name.eq_ignore_ascii_case(key)
}

fn mailbox_row(t: &TenantState, u: &User) -> Value {
    let store = t.mailboxes.get(&u.id);
    let guid = store.map(|s| s.primary.guid).unwrap_or_default();
    let archive = store.and_then(|s| s.archive.as_ref());
    let mut row = json!({
        "Name": u.alias(),
        "Alias": u.alias(),
        "DisplayName": u.display_name,
        "Identity": u.alias(),
        "Id": u.alias(),
        "UserPrincipalName": u.upn,
        "PrimarySmtpAddress": u.upn,
        "WindowsEmailAddress": u.upn,
        "EmailAddresses": [format!("SMTP:{}", u.upn)],
        "RecipientType": "UserMailbox",
        "RecipientTypeDetails": u.mailbox.recipient_type_details(),
        "ExternalDirectoryObjectId": u.id.to_string(),
        "Guid": guid.to_string(),
        "ExchangeGuid": guid.to_string(),
        "ArchiveStatus": if archive.is_some() { "Active" } else { "None" },
        "ArchiveGuid": archive.map(|a| a.guid).unwrap_or_default().to_string(),
        "ArchiveName": if archive.is_some() { json!([format!("In-Place Archive -{}", u.display_name)]) } else { json!([]) },
        "ArchiveState": if archive.is_some() { "Local" } else { "None" },
        "IsMailboxEnabled": true,
        "OrganizationId": t.id.to_string(),
    });
    for i in 1..=15u8 {
        row[format!("CustomAttribute{i}")] =
            json!(u.custom_attributes.get(&i).cloned().unwrap_or_default());
    }
    row
}

fn get_mailbox(t: &TenantState, p: &Value) -> Result<Vec<Value>, CmdletError> {
    let identity = param(p, "Identity");
    let types: Option<Vec<String>> = param(p, "RecipientTypeDetails").map(|s| {
        s.split(',')
            .map(|x| x.trim().to_ascii_lowercase())
            .collect()
    });
    let filter = match param(p, "Filter") {
        Some(f) => Some(Filter::parse(&f).map_err(filter_error)?),
        None => None,
    };
    let archive_only = param(p, "Archive").is_some_and(|v| v == "true");
    let limit = match param(p, "ResultSize") {
        Some(s) if s.eq_ignore_ascii_case("unlimited") => usize::MAX,
        Some(s) => s.parse().unwrap_or(1000),
        None => 1000,
    };
    let rows: Vec<Value> = mailbox_users(t)
        .filter(|u| identity.as_deref().is_none_or(|i| user_matches(u, i)))
        .filter(|u| {
            types.as_ref().is_none_or(|ts| {
                u.mailbox
                    .recipient_type_details()
                    .is_some_and(|d| ts.contains(&d.to_ascii_lowercase()))
            })
        })
        .filter(|u| !archive_only || u.archive)
        .filter(|u| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(&RecipientView { user: u, tenant: t }))
        })
        .take(limit)
        .map(|u| mailbox_row(t, u))
        .collect();
    if let (Some(i), true) = (&identity, rows.is_empty()) {
        return Err(CmdletError::not_found(i));
    }
    Ok(rows)
}

fn sp_row(s: &ExoServicePrincipal) -> Value {
    json!({
        "AppId": s.app_id.to_string(),
        "ObjectId": s.object_id.to_string(),
        "DisplayName": s.display_name,
        "Name": s.identity.to_string(),
        "Identity": s.identity.to_string(),
        "Id": s.identity.to_string(),
        "ServiceId": s.object_id.to_string(),
    })
}

fn find_sp<'t>(t: &'t TenantState, key: &str) -> Result<&'t ExoServicePrincipal, CmdletError> {
    t.exchange
        .service_principals
        .iter()
        .find(|s| s.matches(key))
        .ok_or_else(|| CmdletError::not_found(key))
}

fn new_service_principal(
    t: &mut TenantState,
    p: &Value,
    name: &str,
) -> Result<Vec<Value>, CmdletError> {
    let app_id = required(p, name, "AppId")?;
    let object_id = param(p, "ObjectId").or_else(|| param(p, "ServiceId"));
    let object_id = object_id.ok_or_else(|| {
        CmdletError::new(
            "System.Management.Automation.ParameterBindingException",
            format!("Cannot process command because of one or more missing mandatory parameters: ObjectId. ({name})"),
        )
    })?;
    let Some(entra) = t
        .sp_by_app_id(&app_id)
        .filter(|s| s.id.to_string().eq_ignore_ascii_case(&object_id))
    else {
        return Err(CmdletError::new(
            "Microsoft.Exchange.Management.Tasks.ServicePrincipalNotFoundException",
            format!(
                "The service principal with AppId '{app_id}' and ObjectId '{object_id}' wasn't found in Microsoft Entra ID. Use the Enterprise application's object id (not the app registration's)."
            ),
        ));
    };
    if t.exchange
        .service_principals
        .iter()
        .any(|s| s.app_id == entra.app_id)
    {
        return Err(CmdletError::new(
            "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
            format!(
                "A service principal with AppId '{app_id}' already exists in this organization."
            ),
        ));
    }
    let display = param(p, "DisplayName").unwrap_or_else(|| entra.display_name.clone());
    let sp = ExoServicePrincipal {
        app_id: entra.app_id,
        object_id: entra.id,
        display_name: display,
        identity: entra.id,
    };
    let row = sp_row(&sp);
    t.exchange.service_principals.push(sp);
    Ok(vec![row])
}

fn filter_error(e: FilterError) -> CmdletError {
    CmdletError::new(
        "Microsoft.Exchange.Management.Tasks.InvalidFilterException",
        e.to_string(),
    )
}

fn scope_matches(s: &ManagementScope, key: &str) -> bool {
    s.name.eq_ignore_ascii_case(key) || s.id.to_string().eq_ignore_ascii_case(key)
}

fn scope_row(s: &ManagementScope) -> Value {
    json!({
        "Name": s.name,
        "Identity": s.name,
        "Id": s.name,
        "Guid": s.id.to_string(),
        "RecipientFilter": s.recipient_restriction_filter,
        "RecipientRestrictionFilter": s.recipient_restriction_filter,
        "RecipientRoot": null,
        "ScopeRestrictionType": "RecipientScope",
        "Exclusive": false,
    })
}

fn new_scope(t: &mut TenantState, p: &Value, name: &str) -> Result<Vec<Value>, CmdletError> {
    let scope_name = required(p, name, "Name")?;
    let filter = required(p, name, "RecipientRestrictionFilter")?;
    Filter::parse(&filter).map_err(|e| {
        CmdletError::new(
            "Microsoft.Exchange.Management.Tasks.InvalidFilterException",
            format!("Cannot bind parameter 'RecipientRestrictionFilter' to the target. {e}"),
        )
    })?;
    if t.exchange
        .scopes
        .iter()
        .any(|s| s.name.eq_ignore_ascii_case(&scope_name))
    {
        return Err(CmdletError::new(
            "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
            format!("The management scope \"{scope_name}\" already exists."),
        ));
    }
    let s = ManagementScope {
        id: catalog::derived_id(&t.id, "managementScope", &scope_name),
        name: scope_name,
        recipient_restriction_filter: filter,
    };
    let row = scope_row(&s);
    t.exchange.scopes.push(s);
    Ok(vec![row])
}

fn assignment_matches(a: &ExoRoleAssignment, key: &str) -> bool {
    a.name.eq_ignore_ascii_case(key) || a.id.to_string().eq_ignore_ascii_case(key)
}

fn assignment_row(t: &TenantState, a: &ExoRoleAssignment) -> Value {
    let sp_name = t
        .exchange
        .service_principals
        .iter()
        .find(|s| s.identity == a.app_identity)
        .map(|s| s.display_name.clone())
        .unwrap_or_default();
    json!({
        "Name": a.name,
        "Identity": a.name,
        "Id": a.name,
        "Guid": a.id.to_string(),
        "Role": a.role,
        "RoleAssignee": a.app_identity.to_string(),
        "RoleAssigneeName": sp_name,
        "RoleAssigneeType": "ServicePrincipal",
        "AssignmentMethod": "Direct",
        "CustomResourceScope": a.custom_resource_scope,
        "RecipientWriteScope": if a.custom_resource_scope.is_some() { "CustomRecipientScope" } else { "Organization" },
        "Enabled": true,
        "RoleAssignmentDelegationType": "Regular",
    })
}

fn new_assignment(t: &mut TenantState, p: &Value, name: &str) -> Result<Vec<Value>, CmdletError> {
    if param(p, "User").is_some()
        || param(p, "SecurityGroup").is_some()
        || param(p, "Policy").is_some()
    {
        return Err(CmdletError::new(
            "System.ArgumentException",
            "The simulator supports application role assignments only (-App).",
        ));
    }
    let app = required(p, name, "App")?;
    let role_name = required(p, name, "Role")?;
    let sp = find_sp(t, &app)?.clone();
    let Some((role, _)) = catalog::exchange_application_role(&role_name) else {
        return Err(CmdletError::not_found(&role_name));
    };
    let scope = param(p, "CustomResourceScope");
    if let Some(s) = &scope
        && !t
            .exchange
            .scopes
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(s))
    {
        return Err(CmdletError::not_found(s));
    }
    let scope = scope.and_then(|s| {
        t.exchange
            .scopes
            .iter()
            .find(|x| x.name.eq_ignore_ascii_case(&s))
            .map(|x| x.name.clone())
    });
    let base = param(p, "Name").unwrap_or_else(|| format!("{role}-{}", sp.display_name));
    let mut assignment_name = base.clone();
    let mut n = 1;
    while t
        .exchange
        .role_assignments
        .iter()
        .any(|a| a.name.eq_ignore_ascii_case(&assignment_name))
    {
        n += 1;
        assignment_name = format!("{base}{n}");
    }
    let a = ExoRoleAssignment {
        id: catalog::derived_id(&t.id, "roleAssignment", &assignment_name),
        name: assignment_name,
        role: role.to_string(),
        app_identity: sp.identity,
        app_id: sp.app_id,
        custom_resource_scope: scope,
    };
    let row = assignment_row(t, &a);
    t.exchange.role_assignments.push(a);
    Ok(vec![row])
}

fn test_authorization(t: &TenantState, p: &Value, name: &str) -> Result<Vec<Value>, CmdletError> {
    let id = required(p, name, "Identity")?;
    let sp = find_sp(t, &id)?;
    let resource = match param(p, "Resource") {
        Some(r) => Some(
            mailbox_users(t)
                .find(|u| user_matches(u, &r))
                .ok_or_else(|| CmdletError::not_found(&r))?,
        ),
        None => None,
    };
    Ok(t.exchange
        .role_assignments
        .iter()
        .filter(|a| a.app_identity == sp.identity)
        .map(|a| {
            let perms = catalog::exchange_application_role(&a.role)
                .map(|(_, p)| p)
                .unwrap_or_default();
            let in_scope = match resource {
                Some(u) => json!(t.assignment_in_scope(a, u)),
                None => json!("Not Run"),
            };
            json!({
                "RoleName": a.role,
                "GrantedPermissions": perms,
                "AllowedResourceScope": a.custom_resource_scope.clone().unwrap_or_else(|| "Organization".into()),
                "ScopeType": if a.custom_resource_scope.is_some() { "CustomRecipientScope" } else { "Organization" },
                "InScope": in_scope,
            })
        })
        .collect())
}
