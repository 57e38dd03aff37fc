//! The Exchange Online admin API: the REST endpoint Exchange Online PowerShell (V3)
//! uses, `POST https://{exchange host}/adminapi/beta/{tenantId}/InvokeCommand`, with
//! typed wrappers for the cmdlets that give Cairn's application access to mailboxes
//! (RBAC for Applications). Rows keep every field the cmdlet returned.

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{Result, Service};
use crate::http;
use crate::token::{Authenticator, Credential, Resource};

/// The application role that lets Cairn read and write mail (RBAC for Applications).
pub const ROLE_MAIL_READWRITE: &str = "Application Mail.ReadWrite";
/// Calendars.
pub const ROLE_CALENDARS_READWRITE: &str = "Application Calendars.ReadWrite";
/// Contacts.
pub const ROLE_CONTACTS_READWRITE: &str = "Application Contacts.ReadWrite";

/// One output object of a cmdlet, all fields as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row(pub Map<String, Value>);

impl Row {
    /// A field as text (strings as is; numbers and booleans printed).
    pub fn text(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

#[derive(Deserialize)]
struct InvokeReply {
    #[serde(default)]
    value: Vec<Map<String, Value>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// A mailbox (`Get-Mailbox`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mailbox {
    /// `UserPrincipalName`.
    pub user_principal_name: String,
    /// `PrimarySmtpAddress`.
    pub primary_smtp_address: String,
    /// `DisplayName`.
    pub display_name: String,
    /// `RecipientTypeDetails` (`UserMailbox`, `SharedMailbox`, `RoomMailbox`, …).
    pub recipient_type_details: String,
    /// `ExternalDirectoryObjectId`: the Entra user id.
    pub external_directory_object_id: Option<String>,
    /// Everything.
    pub row: Row,
}

impl From<Row> for Mailbox {
    fn from(row: Row) -> Self {
        Self {
            user_principal_name: row.text("UserPrincipalName").unwrap_or_default(),
            primary_smtp_address: row.text("PrimarySmtpAddress").unwrap_or_default(),
            display_name: row.text("DisplayName").unwrap_or_default(),
            recipient_type_details: row.text("RecipientTypeDetails").unwrap_or_default(),
            external_directory_object_id: row.text("ExternalDirectoryObjectId"),
            row,
        }
    }
}

/// Exchange's pointer to an Entra service principal (`Get-ServicePrincipal`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeServicePrincipal {
    /// `Identity`.
    pub identity: String,
    /// `AppId`.
    pub app_id: String,
    /// `ObjectId`: the Entra service principal's object id.
    pub object_id: String,
    /// `DisplayName`.
    pub display_name: String,
    /// Everything.
    pub row: Row,
}

impl From<Row> for ExchangeServicePrincipal {
    fn from(row: Row) -> Self {
        Self {
            identity: row.text("Identity").unwrap_or_default(),
            app_id: row.text("AppId").unwrap_or_default(),
            object_id: row.text("ObjectId").unwrap_or_default(),
            display_name: row.text("DisplayName").unwrap_or_default(),
            row,
        }
    }
}

/// A management role assignment (`Get-ManagementRoleAssignment`).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleAssignment {
    /// `Name`.
    pub name: String,
    /// `Role`.
    pub role: String,
    /// `RoleAssignee`.
    pub role_assignee: String,
    /// `CustomResourceScope`, when the assignment is scoped.
    pub custom_resource_scope: Option<String>,
    /// Everything.
    pub row: Row,
}

impl From<Row> for RoleAssignment {
    fn from(row: Row) -> Self {
        Self {
            name: row.text("Name").unwrap_or_default(),
            role: row.text("Role").unwrap_or_default(),
            role_assignee: row
                .text("RoleAssignee")
                .or_else(|| row.text("RoleAssigneeName"))
                .unwrap_or_default(),
            custom_resource_scope: row.text("CustomResourceScope").filter(|s| !s.is_empty()),
            row,
        }
    }
}

/// A management scope (`Get-ManagementScope`).
#[derive(Debug, Clone, PartialEq)]
pub struct ManagementScope {
    /// `Name`.
    pub name: String,
    /// `RecipientFilter`.
    pub recipient_filter: Option<String>,
    /// Everything.
    pub row: Row,
}

impl From<Row> for ManagementScope {
    fn from(row: Row) -> Self {
        Self {
            name: row.text("Name").unwrap_or_default(),
            recipient_filter: row.text("RecipientFilter").filter(|s| !s.is_empty()),
            row,
        }
    }
}

/// How far an application role reaches (`ScopeType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeType {
    /// Every mailbox.
    Organization,
    /// A management scope's recipient filter.
    CustomRecipientScope,
    /// An administrative unit.
    AdministrativeUnit,
    /// Something else, as sent.
    Other(String),
}

impl ScopeType {
    fn parse(text: &str) -> Self {
        match text {
            "Organization" => Self::Organization,
            "CustomRecipientScope" => Self::CustomRecipientScope,
            "AdministrativeUnit" => Self::AdministrativeUnit,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Whether a mailbox is within a role's scope (`InScope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InScope {
    /// Inside.
    Yes,
    /// Outside.
    No,
    /// Not evaluated (no `-Resource` given).
    NotRun,
    /// Something else, as sent.
    Other(String),
}

/// One row of `Test-ServicePrincipalAuthorization`.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// `RoleName`.
    pub role_name: String,
    /// `GrantedPermissions`.
    pub granted_permissions: String,
    /// `AllowedResourceScope`.
    pub allowed_resource_scope: String,
    /// `ScopeType`.
    pub scope_type: ScopeType,
    /// `InScope`.
    pub in_scope: InScope,
    /// Everything.
    pub row: Row,
}

impl From<Row> for Authorization {
    fn from(row: Row) -> Self {
        let in_scope = match row.0.get("InScope") {
            Some(Value::Bool(true)) => InScope::Yes,
            Some(Value::Bool(false)) => InScope::No,
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" => InScope::Yes,
                "false" => InScope::No,
                "not run" | "notrun" => InScope::NotRun,
                _ => InScope::Other(s.clone()),
            },
            _ => InScope::NotRun,
        };
        Self {
            role_name: row.text("RoleName").unwrap_or_default(),
            granted_permissions: row.text("GrantedPermissions").unwrap_or_default(),
            allowed_resource_scope: row.text("AllowedResourceScope").unwrap_or_default(),
            scope_type: ScopeType::parse(&row.text("ScopeType").unwrap_or_default()),
            in_scope,
            row,
        }
    }
}

/// The Exchange admin API of one tenant.
#[derive(Debug, Clone)]
pub struct ExchangeClient {
    auth: Arc<Authenticator>,
    tenant_id: String,
}

impl ExchangeClient {
    /// `tenant_id` is the tenant GUID (or its initial domain).
    pub fn new(auth: Arc<Authenticator>, tenant_id: impl Into<String>) -> Self {
        Self {
            auth,
            tenant_id: tenant_id.into(),
        }
    }

    /// The InvokeCommand URL.
    pub fn endpoint(&self) -> String {
        format!(
            "https://{}/adminapi/beta/{}/InvokeCommand",
            self.auth.region().exchange_host(),
            self.tenant_id
        )
    }

    fn anchor(&self) -> String {
        match self.auth.credential() {
            Credential::Password { username, .. } => format!("UPN:{username}"),
            _ => format!(
                "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{}",
                self.tenant_id
            ),
        }
    }

    /// Runs a cmdlet; returns every output row, following `@odata.nextLink`.
    pub async fn invoke(&self, cmdlet: &str, parameters: Value) -> Result<Vec<Row>> {
        let body = json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}});
        let anchor = self.anchor();
        let mut rows = Vec::new();
        let mut next = Some(self.endpoint());
        while let Some(url) = next.take() {
            let token = self.auth.token(Resource::Exchange).await?;
            let bearer = token.bearer();
            let response = http::send(Service::Exchange, &Method::POST, &url, || {
                self.auth
                    .http()
                    .post(&url)
                    .header(reqwest::header::AUTHORIZATION, &bearer)
                    .header("X-AnchorMailbox", &anchor)
                    .header("X-CmdletName", cmdlet)
                    .json(&body)
            })
            .await?;
            let reply: InvokeReply = http::json(&url, response).await?;
            rows.extend(reply.value.into_iter().map(Row));
            next = reply.next_link;
        }
        Ok(rows)
    }

    /// `Get-Mailbox -ResultSize Unlimited`.
    pub async fn mailboxes(&self) -> Result<Vec<Mailbox>> {
        let rows = self
            .invoke("Get-Mailbox", json!({"ResultSize": "Unlimited"}))
            .await?;
        Ok(rows.into_iter().map(Mailbox::from).collect())
    }

    /// `Get-ServicePrincipal`: every application Exchange knows.
    pub async fn service_principals(&self) -> Result<Vec<ExchangeServicePrincipal>> {
        let rows = self.invoke("Get-ServicePrincipal", json!({})).await?;
        Ok(rows
            .into_iter()
            .map(ExchangeServicePrincipal::from)
            .collect())
    }

    /// The Exchange service principal of `app_id`, if any.
    pub async fn find_service_principal(
        &self,
        app_id: &str,
    ) -> Result<Option<ExchangeServicePrincipal>> {
        Ok(self
            .service_principals()
            .await?
            .into_iter()
            .find(|sp| sp.app_id.eq_ignore_ascii_case(app_id)))
    }

    /// `New-ServicePrincipal -AppId -ObjectId -DisplayName`: points Exchange at the
    /// Entra application.
    pub async fn new_service_principal(
        &self,
        app_id: &str,
        object_id: &str,
        display_name: &str,
    ) -> Result<ExchangeServicePrincipal> {
        let rows = self
            .invoke(
                "New-ServicePrincipal",
                json!({"AppId": app_id, "ObjectId": object_id, "DisplayName": display_name}),
            )
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .map(ExchangeServicePrincipal::from)
            .unwrap_or_else(|| ExchangeServicePrincipal {
                identity: object_id.to_owned(),
                app_id: app_id.to_owned(),
                object_id: object_id.to_owned(),
                display_name: display_name.to_owned(),
                row: Row::default(),
            }))
    }

    /// `Get-ManagementRoleAssignment -RoleAssignee <sp>`: the roles an application holds.
    pub async fn role_assignments_of(&self, assignee: &str) -> Result<Vec<RoleAssignment>> {
        let rows = self
            .invoke(
                "Get-ManagementRoleAssignment",
                json!({"RoleAssignee": assignee}),
            )
            .await?;
        Ok(rows.into_iter().map(RoleAssignment::from).collect())
    }

    /// `New-ManagementRoleAssignment -App <sp> -Role <role> [-CustomResourceScope]`.
    pub async fn new_role_assignment(
        &self,
        app: &str,
        role: &str,
        custom_resource_scope: Option<&str>,
    ) -> Result<RoleAssignment> {
        let mut parameters = json!({"App": app, "Role": role});
        if let Some(scope) = custom_resource_scope {
            parameters["CustomResourceScope"] = Value::String(scope.to_owned());
        }
        let rows = self
            .invoke("New-ManagementRoleAssignment", parameters)
            .await?;
        Ok(RoleAssignment::from(
            rows.into_iter().next().unwrap_or_default(),
        ))
    }

    /// `Remove-ManagementRoleAssignment -Identity <name> -Confirm:$false`.
    pub async fn remove_role_assignment(&self, identity: &str) -> Result<()> {
        self.invoke(
            "Remove-ManagementRoleAssignment",
            json!({"Identity": identity, "Confirm": false}),
        )
        .await?;
        Ok(())
    }

    /// `Get-ManagementScope -Identity <name>`.
    pub async fn management_scope(&self, identity: &str) -> Result<Option<ManagementScope>> {
        let rows = self
            .invoke("Get-ManagementScope", json!({"Identity": identity}))
            .await?;
        Ok(rows.into_iter().next().map(ManagementScope::from))
    }

    /// `Test-ServicePrincipalAuthorization -Identity <sp> [-Resource <mailbox>]`.
    pub async fn test_authorization(
        &self,
        identity: &str,
        resource: Option<&str>,
    ) -> Result<Vec<Authorization>> {
        let mut parameters = json!({"Identity": identity});
        if let Some(resource) = resource {
            parameters["Resource"] = Value::String(resource.to_owned());
        }
        let rows = self
            .invoke("Test-ServicePrincipalAuthorization", parameters)
            .await?;
        Ok(rows.into_iter().map(Authorization::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: Value) -> Row {
        match value {
            Value::Object(map) => Row(map),
            _ => Row::default(),
        }
    }

    #[test]
    fn authorization_rows_parse_both_boolean_forms() {
        let a = Authorization::from(row(json!({
            "RoleName": "Application Mail.ReadWrite", "GrantedPermissions": "Mail.ReadWrite",
            "AllowedResourceScope": "Sales mailboxes", "ScopeType": "CustomRecipientScope",
            "InScope": false, "Extra": 1
        })));
        assert_eq!(a.scope_type, ScopeType::CustomRecipientScope);
        assert_eq!(a.in_scope, InScope::No);
        assert_eq!(a.row.text("Extra").as_deref(), Some("1"));
        let b = Authorization::from(row(json!({"ScopeType": "Organization", "InScope": "True"})));
        assert_eq!(
            (b.scope_type, b.in_scope),
            (ScopeType::Organization, InScope::Yes)
        );
        let c = Authorization::from(row(json!({"ScopeType": "Weird", "InScope": "Not Run"})));
        assert_eq!(
            (c.scope_type, c.in_scope),
            (ScopeType::Other("Weird".into()), InScope::NotRun)
        );
    }

    #[test]
    fn role_assignment_scope_empty_is_none() {
        let r = RoleAssignment::from(row(
            json!({"Name": "n", "Role": ROLE_MAIL_READWRITE, "RoleAssignee": "sp", "CustomResourceScope": ""}),
        ));
        assert_eq!(r.custom_resource_scope, None);
        assert_eq!(r.role, ROLE_MAIL_READWRITE);
    }
}
