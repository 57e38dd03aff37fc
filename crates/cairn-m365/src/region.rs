//! Microsoft's clouds ("regions" in Veeam's words): each has its own sign-in authority,
//! Graph, Exchange Online and SharePoint hosts, and tokens never cross between them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The Microsoft cloud an organization lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    /// Microsoft's worldwide cloud (also used by US GCC).
    #[default]
    Worldwide,
    /// Microsoft Cloud Deutschland: closed on 29 October 2021, its tenants moved to
    /// worldwide. Kept as a legacy choice.
    Germany,
    /// Microsoft 365 operated by 21Vianet.
    China,
    /// US Government GCC High.
    #[serde(rename = "usgov-gcchigh")]
    UsGovGccHigh,
    /// US Government DoD.
    #[serde(rename = "usgov-dod")]
    UsGovDod,
}

impl Region {
    /// Every region, in the order they are presented to users.
    pub const ALL: [Region; 5] = [
        Region::Worldwide,
        Region::Germany,
        Region::China,
        Region::UsGovGccHigh,
        Region::UsGovDod,
    ];

    /// The name used on the command line and in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Worldwide => "worldwide",
            Region::Germany => "germany",
            Region::China => "china",
            Region::UsGovGccHigh => "usgov-gcchigh",
            Region::UsGovDod => "usgov-dod",
        }
    }

    /// Host of the Entra ID (Azure AD) authority that signs users and apps in.
    pub fn authority_host(self) -> &'static str {
        match self {
            Region::Worldwide => "login.microsoftonline.com",
            Region::Germany => "login.microsoftonline.de",
            Region::China => "login.chinacloudapi.cn",
            Region::UsGovGccHigh | Region::UsGovDod => "login.microsoftonline.us",
        }
    }

    /// Host of Microsoft Graph.
    pub fn graph_host(self) -> &'static str {
        match self {
            Region::Worldwide => "graph.microsoft.com",
            Region::Germany => "graph.microsoft.de",
            Region::China => "microsoftgraph.chinacloudapi.cn",
            Region::UsGovGccHigh => "graph.microsoft.us",
            Region::UsGovDod => "dod-graph.microsoft.us",
        }
    }

    /// Host of Exchange Online (EWS, the admin API).
    pub fn exchange_host(self) -> &'static str {
        match self {
            Region::Worldwide => "outlook.office365.com",
            Region::Germany => "outlook.office.de",
            Region::China => "partner.outlook.cn",
            Region::UsGovGccHigh => "outlook.office365.us",
            Region::UsGovDod => "outlook-dod.office365.us",
        }
    }

    /// DNS suffix of the tenant's SharePoint hosts (`{tenant}.{suffix}`,
    /// `{tenant}-my.{suffix}`).
    pub fn sharepoint_suffix(self) -> &'static str {
        match self {
            Region::Worldwide => "sharepoint.com",
            Region::Germany => "sharepoint.de",
            Region::China => "sharepoint.cn",
            Region::UsGovGccHigh => "sharepoint.us",
            Region::UsGovDod => "sharepoint-mil.us",
        }
    }

    /// Resource id (token audience) of Microsoft Graph in this cloud.
    pub fn graph_resource(self) -> String {
        format!("https://{}", self.graph_host())
    }

    /// Resource id (token audience) of Exchange Online in this cloud.
    pub fn exchange_resource(self) -> String {
        format!("https://{}", self.exchange_host())
    }

    /// Whether Microsoft Teams is offered in this cloud.
    pub fn offers_teams(self) -> bool {
        self != Region::China
    }

    /// Whether the Teams channel-message export API is offered in this cloud.
    pub fn offers_teams_export(self) -> bool {
        matches!(self, Region::Worldwide | Region::Germany)
    }

    /// Whether the cloud is closed (its tenants were moved elsewhere).
    pub fn is_closed(self) -> bool {
        self == Region::Germany
    }

    /// Every host name this cloud's services answer on, except the per-tenant
    /// SharePoint hosts (see [`Region::sharepoint_suffix`]).
    pub fn hosts(self) -> [&'static str; 3] {
        [
            self.authority_host(),
            self.graph_host(),
            self.exchange_host(),
        ]
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A region name that is not one of [`Region::ALL`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown region {given:?}: use one of worldwide, germany, china, usgov-gcchigh, usgov-dod")]
pub struct UnknownRegion {
    /// What was given.
    pub given: String,
}

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "worldwide" | "default" | "global" => Ok(Region::Worldwide),
            "germany" => Ok(Region::Germany),
            "china" => Ok(Region::China),
            "usgov-gcchigh" | "gcchigh" => Ok(Region::UsGovGccHigh),
            "usgov-dod" | "dod" => Ok(Region::UsGovDod),
            _ => Err(UnknownRegion {
                given: s.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for region in Region::ALL {
            assert_eq!(region.as_str().parse::<Region>().ok(), Some(region));
            let json = serde_json::to_string(&region).ok();
            assert_eq!(json, Some(format!("\"{}\"", region.as_str())));
        }
        assert!("mars".parse::<Region>().is_err());
    }

    #[test]
    fn resources_name_the_cloud_hosts() {
        assert_eq!(
            Region::UsGovGccHigh.graph_resource(),
            "https://graph.microsoft.us"
        );
        assert_eq!(Region::UsGovDod.graph_host(), "dod-graph.microsoft.us");
        assert_eq!(
            Region::China.exchange_resource(),
            "https://partner.outlook.cn"
        );
        assert!(!Region::China.offers_teams());
        assert!(!Region::UsGovDod.offers_teams_export());
    }
}
