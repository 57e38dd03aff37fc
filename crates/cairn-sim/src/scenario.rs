//! The scenario: a TOML document declaring the simulated organizations (tenants, users,
//! groups, applications, consents, Exchange scopes and role assignments). The built-in
//! default is docs/simulator-default-scenario.md in data form.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog;
use crate::cloud::Cloud;
use crate::error::SimError;
use crate::exchange::opath;

/// The built-in scenario text.
pub const DEFAULT_SCENARIO_TOML: &str = include_str!("default_scenario.toml");

/// Every simulated organization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The tenants, each in one cloud.
    #[serde(rename = "tenant", default)]
    pub tenants: Vec<TenantSpec>,
}

/// One organization (Entra tenant + Exchange organization).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// Short name, used in file names and `tenant_state` look-ups.
    pub name: String,
    /// Organization display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The cloud the tenant lives in.
    pub cloud: Cloud,
    /// Tenant id.
    pub id: Uuid,
    /// Verified domains; the first is the initial (onmicrosoft) domain.
    pub domains: Vec<String>,
    /// Default domain (defaults to the initial one).
    #[serde(default)]
    pub default_domain: Option<String>,
    /// Users.
    #[serde(rename = "user", default)]
    pub users: Vec<UserSpec>,
    /// Groups.
    #[serde(rename = "group", default)]
    pub groups: Vec<GroupSpec>,
    /// Pre-registered applications.
    #[serde(rename = "app", default)]
    pub apps: Vec<AppSpec>,
    /// Exchange management scopes.
    #[serde(rename = "management_scope", default)]
    pub management_scopes: Vec<ManagementScopeSpec>,
    /// Exchange role assignments of applications (RBAC for Applications).
    #[serde(rename = "role_assignment", default)]
    pub role_assignments: Vec<RoleAssignmentSpec>,
}

/// Kind of mailbox a user has.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailboxKind {
    /// No mailbox (Graph mail answers MailboxNotEnabledForRESTAPI).
    #[default]
    None,
    /// UserMailbox.
    User,
    /// SharedMailbox.
    Shared,
    /// RoomMailbox.
    Room,
}

impl MailboxKind {
    /// Exchange's RecipientTypeDetails value.
    pub fn recipient_type_details(self) -> Option<&'static str> {
        match self {
            MailboxKind::None => None,
            MailboxKind::User => Some("UserMailbox"),
            MailboxKind::Shared => Some("SharedMailbox"),
            MailboxKind::Room => Some("RoomMailbox"),
        }
    }
}

/// A user account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// User principal name (its domain must be one of the tenant's).
    pub upn: String,
    /// Object id (derived from the UPN when absent).
    #[serde(default)]
    pub id: Option<Uuid>,
    /// Display name (defaults to the UPN's local part).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Cloud password; users without one cannot sign in.
    #[serde(default)]
    pub password: Option<String>,
    /// Entra directory roles by display name ("Global Administrator", …).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Exchange role groups ("Organization Management").
    #[serde(default)]
    pub exchange_role_groups: Vec<String>,
    /// Multi-factor authentication required (password grant answers AADSTS50076).
    #[serde(default)]
    pub mfa: bool,
    /// Account locked (AADSTS50053).
    #[serde(default)]
    pub locked: bool,
    /// Account disabled (AADSTS50057).
    #[serde(default)]
    pub disabled: bool,
    /// Password expired (AADSTS50055).
    #[serde(default)]
    pub password_expired: bool,
    /// Holds a license (assignedLicenses non-empty).
    #[serde(default)]
    pub licensed: bool,
    /// Mailbox kind.
    #[serde(default)]
    pub mailbox: MailboxKind,
    /// In-place archive enabled.
    #[serde(default)]
    pub archive: bool,
    /// Department.
    #[serde(default)]
    pub department: Option<String>,
    /// Exchange custom attributes, keys "1" to "15".
    #[serde(default)]
    pub custom_attributes: BTreeMap<String, String>,
}

/// Group kind.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// Microsoft 365 group ("Unified", mail-enabled).
    Microsoft365,
    /// Security group.
    Security,
}

/// A group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: GroupKind,
    /// Object id (derived when absent).
    #[serde(default)]
    pub id: Option<Uuid>,
    /// Members: user UPNs, or names of other groups of the tenant (nested groups).
    #[serde(default)]
    pub members: Vec<String>,
}

/// A pre-registered application (app registration + service principal in the tenant).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// Display name.
    pub name: String,
    /// Application (client) id.
    pub app_id: Uuid,
    /// `"generate"` (made at start, written to the state directory) or a PEM file path
    /// holding the certificate (and optionally its key).
    #[serde(default)]
    pub certificate: Option<String>,
    /// Client secrets (test values).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Admin-consented Microsoft Graph application permissions.
    #[serde(default)]
    pub graph_permissions: Vec<String>,
    /// Admin-consented Exchange Online application permissions (`Exchange.ManageAsApp`).
    #[serde(default)]
    pub exchange_permissions: Vec<String>,
    /// Whether Exchange knows the app (`New-ServicePrincipal` done in advance).
    #[serde(default)]
    pub exchange_service_principal: bool,
    /// Entra directory roles assigned to the app's service principal (app-only Exchange
    /// administration needs "Exchange Administrator").
    #[serde(default)]
    pub roles: Vec<String>,
}

impl AppSpec {
    /// File-name slug: "Cairn Backup" → "cairn-backup".
    pub fn slug(&self) -> String {
        let mut out = String::new();
        for c in self.name.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').to_string()
    }
}

/// An Exchange management scope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ManagementScopeSpec {
    /// Scope name.
    pub name: String,
    /// OPATH recipient filter.
    pub recipient_restriction_filter: String,
}

/// An Exchange application role assignment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignmentSpec {
    /// The application (must have `exchange_service_principal = true`).
    pub app_id: Uuid,
    /// Application role ("Application Mail.ReadWrite").
    pub role: String,
    /// Management scope name; organization-wide when absent.
    #[serde(default)]
    pub custom_resource_scope: Option<String>,
    /// Assignment name (generated when absent).
    #[serde(default)]
    pub name: Option<String>,
}

impl Default for Scenario {
    fn default() -> Self {
        // The built-in TOML is part of the crate and covered by a unit test, so parsing
        // it cannot fail at run time.
        #[allow(clippy::expect_used)]
        Scenario::from_toml_str(DEFAULT_SCENARIO_TOML).expect("built-in scenario is valid")
    }
}

impl Scenario {
    /// Parses and validates a scenario document.
    pub fn from_toml_str(text: &str) -> Result<Scenario, SimError> {
        let scenario: Scenario = toml::from_str(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Reads, parses and validates a scenario file.
    pub fn from_path(path: &Path) -> Result<Scenario, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadScenario {
            path: path.to_path_buf(),
            source,
        })?;
        let mut scenario: Scenario = toml::from_str(&text)?;
        // Certificate paths are relative to the scenario file.
        if let Some(dir) = path.parent() {
            for t in &mut scenario.tenants {
                for a in &mut t.apps {
                    if let Some(c) = &a.certificate
                        && c != "generate"
                        && Path::new(c).is_relative()
                    {
                        a.certificate = Some(dir.join(c).to_string_lossy().into_owned());
                    }
                }
            }
        }
        scenario.validate()?;
        Ok(scenario)
    }

    /// The scenario as TOML (the built-in one is printed verbatim by `cairn-sim scenario`).
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// Finds a tenant by name, id or domain.
    pub fn tenant(&self, key: &str) -> Option<&TenantSpec> {
        self.tenants.iter().find(|t| t.matches(key))
    }

    fn validate(&self) -> Result<(), SimError> {
        let mut seen_ids = Vec::new();
        for t in &self.tenants {
            let bad = |problem: String| SimError::InvalidScenario {
                tenant: t.name.clone(),
                problem,
            };
            if seen_ids.contains(&t.id) {
                return Err(bad(format!("tenant id {} is used twice", t.id)));
            }
            seen_ids.push(t.id);
            if t.domains.is_empty() {
                return Err(bad("declare at least one domain (the initial one)".into()));
            }
            if let Some(d) = &t.default_domain
                && !t.has_domain(d)
            {
                return Err(bad(format!(
                    "default_domain '{d}' is not in the tenant's domains"
                )));
            }
            for u in &t.users {
                let domain = u.upn.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
                if !t.has_domain(domain) {
                    return Err(bad(format!(
                        "user '{}' is in domain '{domain}', which the tenant does not declare",
                        u.upn
                    )));
                }
                for r in &u.roles {
                    if catalog::directory_role(r).is_none() {
                        let known: Vec<_> = catalog::DIRECTORY_ROLES
                            .iter()
                            .map(|r| r.display_name)
                            .collect();
                        return Err(bad(format!(
                            "user '{}' has unknown role '{r}'; known roles: {}",
                            u.upn,
                            known.join(", ")
                        )));
                    }
                }
                for k in u.custom_attributes.keys() {
                    match k.parse::<u8>() {
                        Ok(1..=15) => {}
                        _ => {
                            return Err(bad(format!(
                                "user '{}': custom attribute key '{k}' must be 1 to 15",
                                u.upn
                            )));
                        }
                    }
                }
            }
            for g in &t.groups {
                for m in &g.members {
                    let user = t.users.iter().any(|u| u.upn.eq_ignore_ascii_case(m));
                    let group = t.groups.iter().any(|x| x.name == *m && x.name != g.name);
                    if !user && !group {
                        return Err(bad(format!(
                            "group '{}' member '{m}' is neither a user nor another group of the tenant (give a UPN or a group name)",
                            g.name
                        )));
                    }
                }
            }
            for a in &t.apps {
                if let Some(r) = a
                    .roles
                    .iter()
                    .find(|r| catalog::directory_role(r).is_none())
                {
                    return Err(bad(format!("app '{}' has unknown role '{r}'", a.name)));
                }
                for p in &a.graph_permissions {
                    if !catalog::GRAPH_APP_ROLES.iter().any(|(v, _)| v == p) {
                        return Err(bad(format!(
                            "app '{}': unknown Microsoft Graph application permission '{p}'",
                            a.name
                        )));
                    }
                }
                for p in &a.exchange_permissions {
                    if !catalog::EXCHANGE_APP_ROLES.iter().any(|(v, _)| v == p) {
                        return Err(bad(format!(
                            "app '{}': unknown Exchange Online application permission '{p}'",
                            a.name
                        )));
                    }
                }
            }
            for s in &t.management_scopes {
                if let Err(e) = opath::Filter::parse(&s.recipient_restriction_filter) {
                    return Err(bad(format!("management scope '{}': {e}", s.name)));
                }
            }
            for r in &t.role_assignments {
                let Some(app) = t.apps.iter().find(|a| a.app_id == r.app_id) else {
                    return Err(bad(format!(
                        "role assignment for app {} which the tenant does not declare",
                        r.app_id
                    )));
                };
                if !app.exchange_service_principal {
                    return Err(bad(format!(
                        "role assignment for app '{}' needs exchange_service_principal = true",
                        app.name
                    )));
                }
                if catalog::exchange_application_role(&r.role).is_none() {
                    return Err(bad(format!(
                        "unknown Exchange application role '{}'",
                        r.role
                    )));
                }
                if let Some(s) = &r.custom_resource_scope
                    && !t.management_scopes.iter().any(|m| &m.name == s)
                {
                    return Err(bad(format!(
                        "role assignment uses management scope '{s}', which is not declared"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl TenantSpec {
    /// Whether the tenant declares this domain.
    pub fn has_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Whether `key` names this tenant (name, id or verified domain).
    pub fn matches(&self, key: &str) -> bool {
        self.name.eq_ignore_ascii_case(key)
            || self.id.to_string().eq_ignore_ascii_case(key)
            || self.has_domain(key)
    }

    /// Where a generated app credential is written.
    pub fn app_credential_path(&self, state_dir: &Path, app: &AppSpec) -> PathBuf {
        state_dir.join(format!("{}-{}.pem", self.name, app.slug()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_matches_the_contract() {
        let s = Scenario::default();
        let names: Vec<_> = s.tenants.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "contoso",
                "fabrikam",
                "northwind",
                "tailspin",
                "wingtip",
                "adatum",
                "litware"
            ]
        );
        let fab = s.tenant("fabrikam.com").expect("fabrikam");
        assert_eq!(fab.id.to_string(), "2b1d7e90-5f3a-4e8b-b6c4-7a9d0e1f2a3b");
        assert_eq!(fab.apps[0].slug(), "cairn-backup");
        // Round trip through TOML keeps everything.
        let text = s.to_toml().expect("serializes");
        assert_eq!(Scenario::from_toml_str(&text).expect("parses"), s);
    }

    #[test]
    fn inconsistent_scenarios_are_rejected_with_a_reason() {
        let text = r#"
[[tenant]]
name = "t"
cloud = "worldwide"
id = "00000000-0000-0000-0000-000000000001"
domains = ["t.onmicrosoft.com"]
[[tenant.user]]
upn = "a@elsewhere.com"
"#;
        let err = Scenario::from_toml_str(text).expect_err("bad domain");
        assert!(err.to_string().contains("elsewhere.com"), "{err}");
    }
}
