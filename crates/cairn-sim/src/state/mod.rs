//! The live state of every simulated organization: the Entra directory (users, groups,
//! applications, service principals, consents), the Exchange organization (service
//! principals, management scopes, role assignments) and the mailbox stores. Built from the
//! scenario at start; handlers read and change it under one lock.

pub mod build;
pub mod corpus;
pub mod delta;
pub mod entries;
pub mod mailbox;
pub mod message;
pub mod recurrence;
pub mod series;

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use crate::catalog;
use crate::cloud::Cloud;
use crate::exchange::opath::{self, Property, Recipient};
use crate::scenario::{GroupKind, MailboxKind};

pub use build::build_tenant;
pub use mailbox::{MailFolder, Mailbox, MailboxStore};
pub use message::Message;

/// Every tenant.
#[derive(Debug, Default)]
pub struct SimState {
    /// Tenants in scenario order.
    pub tenants: Vec<TenantState>,
}

impl SimState {
    /// A tenant by name, id or verified domain.
    pub fn tenant(&self, key: &str) -> Option<&TenantState> {
        self.tenants.iter().find(|t| t.matches(key))
    }

    /// Mutable tenant by id.
    pub fn tenant_mut(&mut self, id: Uuid) -> Option<&mut TenantState> {
        self.tenants.iter_mut().find(|t| t.id == id)
    }

    /// Tenant by id.
    pub fn tenant_by_id(&self, id: Uuid) -> Option<&TenantState> {
        self.tenants.iter().find(|t| t.id == id)
    }
}

/// One organization.
#[derive(Debug, Clone, Serialize)]
pub struct TenantState {
    /// Short name from the scenario.
    pub name: String,
    /// Tenant id.
    pub id: Uuid,
    /// Cloud.
    pub cloud: Cloud,
    /// Organization display name.
    pub display_name: String,
    /// Verified domains, initial first.
    pub domains: Vec<String>,
    /// Default domain.
    pub default_domain: String,
    /// Users.
    pub users: Vec<User>,
    /// Groups.
    pub groups: Vec<Group>,
    /// App registrations.
    pub applications: Vec<Application>,
    /// Service principals (including Microsoft Graph and Exchange Online).
    pub service_principals: Vec<ServicePrincipal>,
    /// Granted application permissions (admin consent).
    pub app_role_assignments: Vec<AppRoleAssignment>,
    /// Exchange organization.
    pub exchange: ExchangeOrg,
    /// Mailbox stores by user id.
    pub mailboxes: BTreeMap<Uuid, MailboxStore>,
    /// Counter for names and times of created objects (keeps state deterministic).
    #[serde(skip)]
    pub created: u64,
}

/// A user account.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Object id.
    pub id: Uuid,
    /// UPN.
    pub upn: String,
    /// Display name.
    pub display_name: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Cloud password (test identity; never logged).
    #[serde(skip)]
    pub password: Option<String>,
    /// Directory role template ids.
    pub directory_roles: Vec<String>,
    /// Exchange role groups.
    pub exchange_role_groups: Vec<String>,
    /// MFA required.
    pub mfa: bool,
    /// Locked out.
    pub locked: bool,
    /// Password expired.
    pub password_expired: bool,
    /// accountEnabled.
    pub account_enabled: bool,
    /// Holds a license.
    pub licensed: bool,
    /// Mailbox kind.
    pub mailbox: MailboxKind,
    /// Archive enabled.
    pub archive: bool,
    /// Department.
    pub department: Option<String>,
    /// CustomAttribute1..15.
    pub custom_attributes: BTreeMap<u8, String>,
}

impl User {
    /// Whether the user holds the directory role with this display name.
    pub fn has_role(&self, name: &str) -> bool {
        catalog::directory_role(name).is_some_and(|r| {
            self.directory_roles
                .iter()
                .any(|id| id.as_str() == r.template_id)
        })
    }

    /// Whether the user holds any of the named roles.
    pub fn has_any_role(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.has_role(n))
    }

    /// Exchange alias (local part of the UPN).
    pub fn alias(&self) -> &str {
        self.upn.split('@').next().unwrap_or(&self.upn)
    }

    /// Mail address (mailbox users only).
    pub fn mail(&self) -> Option<&str> {
        (self.mailbox != MailboxKind::None).then_some(self.upn.as_str())
    }

    /// In Exchange's Organization Management role group.
    pub fn is_organization_management(&self) -> bool {
        self.exchange_role_groups
            .iter()
            .any(|g| g.eq_ignore_ascii_case("Organization Management"))
    }
}

/// A group.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Object id.
    pub id: Uuid,
    /// Display name.
    pub display_name: String,
    /// Kind.
    pub kind: GroupKind,
    /// Mail nickname.
    pub mail_nickname: String,
    /// Member user ids.
    pub members: Vec<Uuid>,
    /// Member group ids (nested groups).
    pub member_groups: Vec<Uuid>,
}

/// An application registration.
#[derive(Debug, Clone, Serialize)]
pub struct Application {
    /// Object id.
    pub id: Uuid,
    /// Application (client) id.
    pub app_id: Uuid,
    /// Display name.
    pub display_name: String,
    /// Sign-in audience.
    pub sign_in_audience: String,
    /// Created time (ISO 8601).
    pub created_date_time: String,
    /// Certificates.
    pub key_credentials: Vec<KeyCredential>,
    /// Client secrets.
    pub password_credentials: Vec<PasswordCredential>,
    /// requiredResourceAccess, kept as sent.
    pub required_resource_access: serde_json::Value,
}

/// A certificate credential of an application.
#[derive(Debug, Clone, Serialize)]
pub struct KeyCredential {
    /// Key id.
    pub key_id: Uuid,
    /// Display name (the certificate subject).
    pub display_name: String,
    /// DER of the certificate.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// SHA-1 thumbprint (customKeyIdentifier).
    pub sha1: Vec<u8>,
    /// SHA-256 thumbprint.
    pub sha256: Vec<u8>,
    /// Validity start.
    pub start_date_time: String,
    /// Validity end.
    pub end_date_time: String,
}

/// A client secret of an application.
#[derive(Debug, Clone, Serialize)]
pub struct PasswordCredential {
    /// Key id.
    pub key_id: Uuid,
    /// Display name.
    pub display_name: Option<String>,
    /// The secret (never returned by GET, like Graph).
    #[serde(skip)]
    pub secret: String,
    /// First three characters.
    pub hint: String,
    /// Validity start.
    pub start_date_time: String,
    /// Validity end.
    pub end_date_time: String,
}

/// An app role offered by a resource service principal.
#[derive(Debug, Clone, Serialize)]
pub struct AppRole {
    /// Role id.
    pub id: Uuid,
    /// Permission name (`Mail.ReadWrite`).
    pub value: String,
}

/// A service principal (enterprise application).
#[derive(Debug, Clone, Serialize)]
pub struct ServicePrincipal {
    /// Object id.
    pub id: Uuid,
    /// Application id.
    pub app_id: Uuid,
    /// Display name.
    pub display_name: String,
    /// App roles it offers (resources only).
    pub app_roles: Vec<AppRole>,
    /// Owning tenant of the application.
    pub app_owner_organization_id: Uuid,
    /// Directory role template ids assigned to the service principal.
    pub directory_roles: Vec<String>,
}

impl ServicePrincipal {
    /// Whether the service principal holds a directory role by display name.
    pub fn has_role(&self, name: &str) -> bool {
        catalog::directory_role(name)
            .is_some_and(|r| self.directory_roles.iter().any(|id| id == r.template_id))
    }
}

/// A granted application permission.
#[derive(Debug, Clone, Serialize)]
pub struct AppRoleAssignment {
    /// Assignment id.
    pub id: String,
    /// Client service principal id.
    pub principal_id: Uuid,
    /// Client display name.
    pub principal_display_name: String,
    /// Resource service principal id.
    pub resource_id: Uuid,
    /// Resource display name.
    pub resource_display_name: String,
    /// App role id.
    pub app_role_id: Uuid,
    /// Created time.
    pub created_date_time: String,
}

/// The Exchange side of an organization.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ExchangeOrg {
    /// Service principals Exchange knows (New-ServicePrincipal).
    pub service_principals: Vec<ExoServicePrincipal>,
    /// Management scopes.
    pub scopes: Vec<ManagementScope>,
    /// Role assignments of applications.
    pub role_assignments: Vec<ExoRoleAssignment>,
    /// Enable-OrganizationCustomization was run.
    pub organization_customization: bool,
}

/// An Exchange service principal pointer to an Entra application.
#[derive(Debug, Clone, Serialize)]
pub struct ExoServicePrincipal {
    /// Entra application id.
    pub app_id: Uuid,
    /// Entra service principal object id.
    pub object_id: Uuid,
    /// Display name.
    pub display_name: String,
    /// Exchange identity (the Entra object id, as Exchange shows it).
    pub identity: Uuid,
}

impl ExoServicePrincipal {
    /// Whether `key` names this service principal (identity, app id, object id, name).
    pub fn matches(&self, key: &str) -> bool {
        let key = key.trim();
        [self.app_id, self.object_id, self.identity]
            .iter()
            .any(|id| id.to_string().eq_ignore_ascii_case(key))
            || self.display_name.eq_ignore_ascii_case(key)
    }
}

/// A management scope.
#[derive(Debug, Clone, Serialize)]
pub struct ManagementScope {
    /// Name.
    pub name: String,
    /// Identity.
    pub id: Uuid,
    /// The OPATH filter text.
    pub recipient_restriction_filter: String,
}

impl ManagementScope {
    /// The parsed filter (validated when the scope was created).
    pub fn filter(&self) -> Option<opath::Filter> {
        opath::Filter::parse(&self.recipient_restriction_filter).ok()
    }
}

/// An application role assignment in Exchange.
#[derive(Debug, Clone, Serialize)]
pub struct ExoRoleAssignment {
    /// Name.
    pub name: String,
    /// Identity.
    pub id: Uuid,
    /// Role ("Application Mail.ReadWrite").
    pub role: String,
    /// Assignee: the Exchange service principal identity.
    pub app_identity: Uuid,
    /// The Entra app id of the assignee.
    pub app_id: Uuid,
    /// Custom resource scope name, `None` = organization.
    pub custom_resource_scope: Option<String>,
}

/// A user seen as an Exchange recipient, for OPATH filters.
pub struct RecipientView<'a> {
    /// The user.
    pub user: &'a User,
    /// The tenant (for group membership).
    pub tenant: &'a TenantState,
}

impl Recipient for RecipientView<'_> {
    fn property(&self, p: Property) -> Option<String> {
        let u = self.user;
        match p {
            Property::Department => u.department.clone(),
            Property::CustomAttribute(i) => u.custom_attributes.get(&i).cloned(),
            Property::RecipientTypeDetails => u.mailbox.recipient_type_details().map(String::from),
            Property::MemberOfGroup => None,
            Property::DisplayName => Some(u.display_name.clone()),
            Property::Alias | Property::Name => Some(u.alias().to_string()),
            Property::PrimarySmtpAddress
            | Property::WindowsEmailAddress
            | Property::UserPrincipalName => Some(u.upn.clone()),
        }
    }

    fn is_member_of(&self, group: &str) -> bool {
        // Exchange stores the group's distinguished name; accept that, the name, mail
        // address or id.
        let key = group
            .strip_prefix("CN=")
            .map(|rest| rest.split(',').next().unwrap_or(rest))
            .unwrap_or(group);
        self.tenant.groups.iter().any(|g| {
            (g.display_name.eq_ignore_ascii_case(key)
                || g.mail_nickname.eq_ignore_ascii_case(key)
                || g.id.to_string().eq_ignore_ascii_case(key)
                || format!("{}@{}", g.mail_nickname, self.tenant.default_domain)
                    .eq_ignore_ascii_case(key))
                && g.members.contains(&self.user.id)
        })
    }
}

impl TenantState {
    /// Whether `key` names this tenant (name, id or verified domain).
    pub fn matches(&self, key: &str) -> bool {
        self.name.eq_ignore_ascii_case(key)
            || self.id.to_string().eq_ignore_ascii_case(key)
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(key))
    }

    /// The initial (onmicrosoft) domain.
    pub fn initial_domain(&self) -> &str {
        self.domains.first().map(String::as_str).unwrap_or("")
    }

    /// A user by id or UPN.
    pub fn user(&self, key: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.id.to_string().eq_ignore_ascii_case(key) || u.upn.eq_ignore_ascii_case(key))
    }

    /// A user by id.
    pub fn user_by_id(&self, id: Uuid) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// An app registration by application id.
    pub fn application_by_app_id(&self, app_id: &str) -> Option<&Application> {
        self.applications
            .iter()
            .find(|a| a.app_id.to_string().eq_ignore_ascii_case(app_id))
    }

    /// A service principal by application id.
    pub fn sp_by_app_id(&self, app_id: &str) -> Option<&ServicePrincipal> {
        self.service_principals
            .iter()
            .find(|s| s.app_id.to_string().eq_ignore_ascii_case(app_id))
    }

    /// Application permissions granted to `client_app_id` on the resource `resource_app_id`.
    pub fn granted_roles(&self, client_app_id: &str, resource_app_id: &str) -> Vec<String> {
        let (Some(client), Some(resource)) = (
            self.sp_by_app_id(client_app_id),
            self.sp_by_app_id(resource_app_id),
        ) else {
            return Vec::new();
        };
        let mut roles: Vec<String> = self
            .app_role_assignments
            .iter()
            .filter(|a| a.principal_id == client.id && a.resource_id == resource.id)
            .filter_map(|a| resource.app_roles.iter().find(|r| r.id == a.app_role_id))
            .map(|r| r.value.clone())
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// Next value of the creation counter.
    pub fn next_serial(&mut self) -> u64 {
        self.created += 1;
        self.created
    }

    /// Whether an Exchange role assignment of `app_id` lets it read `user`'s mailbox.
    pub fn mailbox_role_covers(&self, app_id: Uuid, user: &User) -> bool {
        self.exchange
            .role_assignments
            .iter()
            .filter(|a| a.app_id == app_id && catalog::role_reads_mail(&a.role))
            .any(|a| self.assignment_in_scope(a, user))
    }

    /// Whether a role assignment's scope includes the recipient.
    pub fn assignment_in_scope(&self, a: &ExoRoleAssignment, user: &User) -> bool {
        match &a.custom_resource_scope {
            None => true,
            Some(name) => self
                .exchange
                .scopes
                .iter()
                .find(|s| &s.name == name)
                .and_then(ManagementScope::filter)
                .is_some_and(|f| f.matches(&RecipientView { user, tenant: self })),
        }
    }
}

/// Time stamps of created objects: fixed base plus a serial, so state is deterministic.
pub fn created_time(serial: u64) -> String {
    let base = time::macros::datetime!(2026-01-05 09:00:00 UTC);
    let t = base + time::Duration::minutes(serial as i64);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "2026-01-05T09:00:00Z".into())
}
