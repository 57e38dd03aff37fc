//! Microsoft Graph v1.0: the typed calls Cairn needs to add and check an organization
//! (organization, domains, users, applications, service principals, admin consent, a
//! mailbox access probe). Objects keep the fields Cairn does not model in `other`.

use std::sync::Arc;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result, Service};
use crate::http;
use crate::token::{Authenticator, Resource};

/// Application id of Microsoft Graph (its service principal holds the app roles).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Application id of Office 365 Exchange Online (holds `Exchange.ManageAsApp`).
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

/// A page of a Graph collection.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// Next page, to follow exactly as given.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// `/organization`: the tenant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// Tenant id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Domains verified in the tenant.
    #[serde(default)]
    pub verified_domains: Vec<VerifiedDomain>,
    /// Other fields, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Organization {
    /// The initial `*.onmicrosoft.com` (or national equivalent) domain.
    pub fn initial_domain(&self) -> Option<&str> {
        self.verified_domains
            .iter()
            .find(|d| d.is_initial)
            .map(|d| d.name.as_str())
    }
}

/// One of an organization's verified domains.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedDomain {
    /// Domain name.
    pub name: String,
    /// The initial domain.
    #[serde(default)]
    pub is_initial: bool,
    /// The default domain.
    #[serde(default)]
    pub is_default: bool,
}

/// `/domains` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// Domain name.
    pub id: String,
    /// Verified.
    #[serde(default)]
    pub is_verified: bool,
    /// Initial.
    #[serde(default)]
    pub is_initial: bool,
    /// Default.
    #[serde(default)]
    pub is_default: bool,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `/users` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id.
    pub id: String,
    /// UPN.
    #[serde(default)]
    pub user_principal_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Primary SMTP address.
    #[serde(default)]
    pub mail: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `/applications` entry (an app registration).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Object id.
    pub id: String,
    /// Application (client) id.
    pub app_id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Certificates (their `key` is never returned by Graph).
    #[serde(default)]
    pub key_credentials: Vec<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `/servicePrincipals` entry (an application's identity in a tenant).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    /// Object id.
    pub id: String,
    /// Application id.
    pub app_id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Application roles it offers (for resources such as Graph).
    #[serde(default)]
    pub app_roles: Vec<AppRole>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl ServicePrincipal {
    /// The id of the app role named `value` (`User.Read.All`).
    pub fn app_role_id(&self, value: &str) -> Option<&str> {
        self.app_roles
            .iter()
            .find(|r| r.value.as_deref() == Some(value))
            .map(|r| r.id.as_str())
    }
}

/// An application role (an application permission).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    /// Role id.
    pub id: String,
    /// Permission name (`Sites.Read.All`).
    #[serde(default)]
    pub value: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An app role granted to a service principal (admin consent).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    /// Assignment id.
    #[serde(default)]
    pub id: String,
    /// Who was granted.
    pub principal_id: String,
    /// Service principal of the resource (Graph).
    pub resource_id: String,
    /// The role.
    pub app_role_id: String,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A directory role given to a user or service principal (`unifiedRoleAssignment`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRoleAssignment {
    /// Assignment id.
    #[serde(default)]
    pub id: String,
    /// Who holds the role.
    pub principal_id: String,
    /// Role definition (template) id.
    pub role_definition_id: String,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Template id of the built-in "Global Reader" directory role.
pub const GLOBAL_READER_ROLE: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";

/// A Microsoft Graph client for one tenant.
#[derive(Debug, Clone)]
pub struct GraphClient {
    auth: Arc<Authenticator>,
    base: String,
}

impl GraphClient {
    /// Graph v1.0 of the authenticator's cloud.
    pub fn new(auth: Arc<Authenticator>) -> Self {
        let base = format!("https://{}/v1.0", auth.region().graph_host());
        Self { auth, base }
    }

    /// The sign-in behind this client.
    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.auth
    }

    /// Absolute URL of a path under v1.0.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response> {
        let token = self.auth.token(Resource::Graph).await?;
        let bearer = token.bearer();
        http::send(Service::Graph, &method, url, || {
            let request = self
                .auth
                .http()
                .request(method.clone(), url)
                .header(reqwest::header::AUTHORIZATION, &bearer);
            match body {
                Some(body) => request.json(body),
                None => request,
            }
        })
        .await
    }

    /// GET a JSON object at `url` (absolute).
    pub async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T> {
        let response = self.call(Method::GET, url, None).await?;
        http::json(url, response).await
    }

    /// GET every page of a collection, following `@odata.nextLink` exactly.
    pub async fn list<T: DeserializeOwned>(&self, url: &str) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut next = Some(url.to_owned());
        while let Some(url) = next.take() {
            let page: Page<T> = self.get(&url).await?;
            items.extend(page.value);
            next = page.next_link;
        }
        Ok(items)
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: &Value,
    ) -> Result<T> {
        let response = self.call(method, url, Some(body)).await?;
        http::json(url, response).await
    }

    fn filter_url(&self, path: &str, filter: &str) -> Result<String> {
        let mut url = url::Url::parse(&self.url(path)).map_err(|e| Error::Decode {
            url: self.url(path),
            what: e.to_string(),
        })?;
        url.query_pairs_mut().append_pair("$filter", filter);
        Ok(url.to_string())
    }

    /// The tenant (`GET /organization`).
    pub async fn organization(&self) -> Result<Organization> {
        let url = self.url("/organization");
        let orgs: Vec<Organization> = self.list(&url).await?;
        orgs.into_iter().next().ok_or_else(|| Error::Decode {
            url,
            what: "no organization returned".into(),
        })
    }

    /// The tenant's domains.
    pub async fn domains(&self) -> Result<Vec<Domain>> {
        self.list(&self.url("/domains")).await
    }

    /// Every user, all pages.
    pub async fn users(&self) -> Result<Vec<User>> {
        self.list(&self.url("/users")).await
    }

    /// The application registration with this app id, if any.
    pub async fn find_application(&self, app_id: &str) -> Result<Option<Application>> {
        let url = self.filter_url("/applications", &format!("appId eq '{app_id}'"))?;
        let apps: Vec<Application> = self.list(&url).await?;
        Ok(apps
            .into_iter()
            .find(|a| a.app_id.eq_ignore_ascii_case(app_id)))
    }

    /// Registers an application (single tenant) that requires `required_resource_access`
    /// (Graph's `requiredResourceAccess` JSON).
    pub async fn create_application(
        &self,
        display_name: &str,
        required_resource_access: Value,
    ) -> Result<Application> {
        let body = json!({
            "displayName": display_name,
            "signInAudience": "AzureADMyOrg",
            "requiredResourceAccess": required_resource_access,
        });
        self.send_json(Method::POST, &self.url("/applications"), &body)
            .await
    }

    /// Replaces the application's certificates by `existing` plus `certificate_base64`
    /// (Graph's keyCredentials PATCH sets the whole list).
    pub async fn set_key_credentials(
        &self,
        application_object_id: &str,
        existing: &[Value],
        display_name: &str,
        certificate_base64: &str,
    ) -> Result<()> {
        let mut keys: Vec<Value> = existing.to_vec();
        keys.push(json!({
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "displayName": display_name,
            "key": certificate_base64,
        }));
        let url = self.url(&format!("/applications/{application_object_id}"));
        self.call(
            Method::PATCH,
            &url,
            Some(&json!({ "keyCredentials": keys })),
        )
        .await?;
        Ok(())
    }

    /// The service principal of an application in this tenant, if any.
    pub async fn find_service_principal(&self, app_id: &str) -> Result<Option<ServicePrincipal>> {
        let url = self.filter_url("/servicePrincipals", &format!("appId eq '{app_id}'"))?;
        let sps: Vec<ServicePrincipal> = self.list(&url).await?;
        Ok(sps
            .into_iter()
            .find(|s| s.app_id.eq_ignore_ascii_case(app_id)))
    }

    /// Creates the service principal of an application.
    pub async fn create_service_principal(&self, app_id: &str) -> Result<ServicePrincipal> {
        self.send_json(
            Method::POST,
            &self.url("/servicePrincipals"),
            &json!({ "appId": app_id }),
        )
        .await
    }

    /// App roles granted to a service principal.
    pub async fn app_role_assignments(
        &self,
        service_principal_id: &str,
    ) -> Result<Vec<AppRoleAssignment>> {
        self.list(&self.url(&format!(
            "/servicePrincipals/{service_principal_id}/appRoleAssignments"
        )))
        .await
    }

    /// Grants (admin consent) application role `app_role_id` of `resource_id` (e.g.
    /// Graph's service principal) to `principal_id`.
    pub async fn grant_app_role(
        &self,
        resource_id: &str,
        principal_id: &str,
        app_role_id: &str,
    ) -> Result<AppRoleAssignment> {
        let url = self.url(&format!(
            "/servicePrincipals/{resource_id}/appRoleAssignedTo"
        ));
        let body = json!({
            "principalId": principal_id,
            "resourceId": resource_id,
            "appRoleId": app_role_id,
        });
        self.send_json(Method::POST, &url, &body).await
    }

    /// Directory role assignments of a principal (`roleManagement/directory/roleAssignments`).
    pub async fn directory_role_assignments(
        &self,
        principal_id: &str,
    ) -> Result<Vec<DirectoryRoleAssignment>> {
        let url = self.filter_url(
            "/roleManagement/directory/roleAssignments",
            &format!("principalId eq '{principal_id}'"),
        )?;
        self.list(&url).await
    }

    /// Assigns a built-in directory role (by template id) to a principal, tenant-wide.
    pub async fn assign_directory_role(
        &self,
        principal_id: &str,
        role_template_id: &str,
    ) -> Result<DirectoryRoleAssignment> {
        let body = json!({
            "principalId": principal_id,
            "roleDefinitionId": role_template_id,
            "directoryScopeId": "/",
        });
        self.send_json(
            Method::POST,
            &self.url("/roleManagement/directory/roleAssignments"),
            &body,
        )
        .await
    }

    /// Top-level mail folders of a mailbox: proves the caller may read it.
    pub async fn mail_folders(&self, user: &str) -> Result<Vec<Value>> {
        let url = self.url(&format!("/users/{user}/mailFolders"));
        let page: Page<Value> = self.get(&url).await?;
        Ok(page.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_kept() {
        let sp: ServicePrincipal = serde_json::from_value(json!({
            "id": "sp-1", "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph",
            "appRoles": [{"id": "r-1", "value": "User.Read.All", "isEnabled": true}],
            "servicePrincipalType": "Application"
        }))
        .expect("sp");
        assert_eq!(sp.app_role_id("User.Read.All"), Some("r-1"));
        assert_eq!(sp.app_role_id("Mail.Read"), None);
        assert_eq!(sp.other["servicePrincipalType"], "Application");
        assert_eq!(sp.app_roles[0].other["isEnabled"], true);
    }

    #[test]
    fn page_parses_next_link_verbatim() {
        let page: Page<User> = serde_json::from_value(json!({
            "value": [{"id": "u", "userPrincipalName": "a@b.c"}],
            "@odata.nextLink": "https://graph.microsoft.com/v1.0/users?$skiptoken=X%2BY"
        }))
        .expect("page");
        assert_eq!(page.value[0].user_principal_name, "a@b.c");
        assert_eq!(
            page.next_link.as_deref(),
            Some("https://graph.microsoft.com/v1.0/users?$skiptoken=X%2BY")
        );
    }

    #[test]
    fn initial_domain() {
        let org: Organization = serde_json::from_value(json!({
            "id": "t", "verifiedDomains": [
                {"name": "contoso.com", "isInitial": false, "isDefault": true},
                {"name": "contoso.onmicrosoft.com", "isInitial": true}
            ]
        }))
        .expect("org");
        assert_eq!(org.initial_domain(), Some("contoso.onmicrosoft.com"));
    }
}
