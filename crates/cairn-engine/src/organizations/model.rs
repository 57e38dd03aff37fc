//! What the user asks for when adding an organization (deployment type, region,
//! services, authentication) and the validation that tells them what to change.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use cairn_m365::{AppCertificate, Region};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::OrgError;

/// Where the organization's Exchange runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deployment {
    /// Exchange Online, SharePoint Online: the only one supported.
    Microsoft365,
    /// Exchange / SharePoint Server on premises.
    OnPremises,
    /// Both.
    Hybrid,
}

impl Deployment {
    /// Name on the command line and in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Deployment::Microsoft365 => "microsoft365",
            Deployment::OnPremises => "on-premises",
            Deployment::Hybrid => "hybrid",
        }
    }
}

impl FromStr for Deployment {
    type Err = OrgError;
    fn from_str(s: &str) -> Result<Self, OrgError> {
        match s.to_ascii_lowercase().as_str() {
            "microsoft365" | "m365" | "office365" => Ok(Deployment::Microsoft365),
            "on-premises" | "onpremises" | "on-prem" => Ok(Deployment::OnPremises),
            "hybrid" => Ok(Deployment::Hybrid),
            _ => Err(OrgError::Invalid(format!(
                "unknown deployment type {s:?}: use microsoft365, on-premises or hybrid"
            ))),
        }
    }
}

/// A service Cairn backs up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ServiceKind {
    /// Exchange Online mailboxes (mail, calendars, contacts).
    Exchange,
    /// SharePoint Online sites and OneDrive for Business.
    SharePoint,
    /// Microsoft Teams (its files and conversations live in Exchange and SharePoint).
    Teams,
    /// Teams channel posts (the metered export API).
    TeamsPosts,
}

impl ServiceKind {
    /// Name on the command line and in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Exchange => "exchange",
            ServiceKind::SharePoint => "sharepoint",
            ServiceKind::Teams => "teams",
            ServiceKind::TeamsPosts => "teams-posts",
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The validated set of services of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services(BTreeSet<ServiceKind>);

impl Services {
    /// Parses `exchange,sharepoint,…` and checks it against the region.
    pub fn parse(list: &str, region: Region) -> Result<Self, OrgError> {
        let mut set = BTreeSet::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let kind = match item.to_ascii_lowercase().as_str() {
                "exchange" => ServiceKind::Exchange,
                "sharepoint" | "onedrive" => ServiceKind::SharePoint,
                "teams" => ServiceKind::Teams,
                "teams-posts" | "teamsposts" => ServiceKind::TeamsPosts,
                _ => {
                    return Err(OrgError::Invalid(format!(
                        "unknown service {item:?}: use exchange, sharepoint (includes OneDrive), teams, teams-posts"
                    )));
                }
            };
            set.insert(kind);
        }
        let services = Self(set);
        services.validate(region)?;
        Ok(services)
    }

    fn validate(&self, region: Region) -> Result<(), OrgError> {
        if self.0.is_empty() {
            return Err(OrgError::Invalid(
                "no service selected: give --services with at least one of exchange, sharepoint, teams, teams-posts".into(),
            ));
        }
        if self.has(ServiceKind::Teams)
            && !(self.has(ServiceKind::Exchange) && self.has(ServiceKind::SharePoint))
        {
            return Err(OrgError::Invalid(
                "teams needs exchange and sharepoint (Teams keeps its conversations in Exchange and its files in SharePoint): use --services exchange,sharepoint,teams".into(),
            ));
        }
        if self.has(ServiceKind::TeamsPosts) && !self.has(ServiceKind::Teams) {
            return Err(OrgError::Invalid(
                "teams-posts needs teams: use --services exchange,sharepoint,teams,teams-posts"
                    .into(),
            ));
        }
        if self.has(ServiceKind::Teams) && !region.offers_teams() {
            return Err(OrgError::Invalid(format!(
                "Microsoft Teams backup is not offered in the {region} region: remove teams and teams-posts from --services"
            )));
        }
        if self.has(ServiceKind::TeamsPosts) && !region.offers_teams_export() {
            return Err(OrgError::Invalid(format!(
                "Teams channel posts cannot be exported in the {region} region (Microsoft offers the export API only in worldwide): remove teams-posts from --services"
            )));
        }
        Ok(())
    }

    /// Whether `kind` is selected.
    pub fn has(&self, kind: ServiceKind) -> bool {
        self.0.contains(&kind)
    }

    /// The services, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = ServiceKind> + '_ {
        self.0.iter().copied()
    }

    /// Names, in a stable order.
    pub fn names(&self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

/// How Cairn connects to the organization.
pub enum Authentication {
    /// A: an administrator's user name and password; Cairn registers (or reuses) its
    /// backup application, consents it and, with `grant`, gives it access to every
    /// mailbox. The password is used for this operation only.
    AdminPassword {
        /// UPN (user@domain.com or user@domain.onmicrosoft.com).
        upn: String,
        /// Password (wiped on drop).
        password: Zeroizing<String>,
        /// Assign the mailbox access role organization-wide when missing.
        grant: bool,
        /// Reuse this application instead of registering a new one.
        app_id: Option<String>,
    },
    /// B: an existing application and its certificate; app-only, nothing granted.
    AppCertificate {
        /// Application (client) id.
        app_id: String,
        /// Certificate with private key.
        certificate: Box<AppCertificate>,
        /// Tenant (id or domain) the application belongs to.
        tenant: String,
    },
}

impl fmt::Debug for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authentication::AdminPassword {
                upn, grant, app_id, ..
            } => f
                .debug_struct("AdminPassword")
                .field("upn", upn)
                .field("grant", grant)
                .field("app_id", app_id)
                .finish_non_exhaustive(),
            Authentication::AppCertificate { app_id, tenant, .. } => f
                .debug_struct("AppCertificate")
                .field("app_id", app_id)
                .field("tenant", tenant)
                .finish_non_exhaustive(),
        }
    }
}

/// Checks a user name has a form Microsoft 365 signs in with; returns its domain.
pub fn validate_upn(upn: &str) -> Result<String, OrgError> {
    let explain = || {
        OrgError::Invalid(format!(
            "{upn:?} is not a Microsoft 365 user name: use user@domain.com or user@domain.onmicrosoft.com (not DOMAIN\\user or a bare name)"
        ))
    };
    let (local, domain) = upn.split_once('@').ok_or_else(explain)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+'!#$%&*/=?^`{|}~".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.');
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    if local_ok && domain_ok {
        Ok(domain.to_ascii_lowercase())
    } else {
        Err(explain())
    }
}

/// Checks an organization name is usable as a catalog key and on the command line.
pub fn validate_name(name: &str) -> Result<(), OrgError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(OrgError::Invalid(format!(
            "organization name {name:?} is not usable: use 1-64 letters, digits, '-', '_' or '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_formats() {
        assert_eq!(validate_upn("admin@contoso.com").unwrap(), "contoso.com");
        assert_eq!(
            validate_upn("Admin@Contoso.onmicrosoft.com").unwrap(),
            "contoso.onmicrosoft.com"
        );
        for bad in [
            "admin",
            "CONTOSO\\admin",
            "admin@localhost",
            "@contoso.com",
            "a@b@c.com",
            "a b@c.com",
            "admin@contoso.c0m",
        ] {
            let err = validate_upn(bad).unwrap_err().to_string();
            assert!(err.contains("user@domain.onmicrosoft.com"), "{bad}: {err}");
        }
    }

    #[test]
    fn services_rules() {
        let w = Region::Worldwide;
        assert!(Services::parse("exchange,sharepoint,teams,teams-posts", w).is_ok());
        assert!(
            Services::parse("teams", w)
                .unwrap_err()
                .to_string()
                .contains("exchange,sharepoint,teams")
        );
        assert!(
            Services::parse("exchange,sharepoint,teams-posts", w)
                .unwrap_err()
                .to_string()
                .contains("needs teams")
        );
        assert!(
            Services::parse("exchange,sharepoint,teams", Region::China)
                .unwrap_err()
                .to_string()
                .contains("china")
        );
        assert!(Services::parse("exchange,sharepoint,teams", Region::UsGovDod).is_ok());
        assert!(
            Services::parse(
                "exchange,sharepoint,teams,teams-posts",
                Region::UsGovGccHigh
            )
            .is_err()
        );
        assert!(Services::parse("", w).is_err());
        assert!(
            Services::parse("exchange,fax", w)
                .unwrap_err()
                .to_string()
                .contains("fax")
        );
        assert_eq!(
            Services::parse("sharepoint,exchange", w).unwrap().names(),
            ["exchange", "sharepoint"]
        );
    }
}
