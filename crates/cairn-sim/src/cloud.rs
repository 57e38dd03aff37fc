//! The Microsoft 365 clouds ("regions") and their real host names: the simulator answers
//! on all of them at once and routes each request by its Host header.

use serde::{Deserialize, Serialize};

/// A sovereign cloud. Tokens never cross clouds; each has its own hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    /// Worldwide (also US GCC).
    Worldwide,
    /// US Government GCC High.
    UsgovGcchigh,
    /// US Government DoD.
    UsgovDod,
    /// China, operated by 21Vianet.
    China,
    /// Microsoft Cloud Deutschland (closed 2021, kept as a legacy choice).
    Germany,
}

/// Which service a host name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Entra ID sign-in (login.*).
    Login,
    /// Microsoft Graph.
    Graph,
    /// Exchange Online (admin API and REST).
    Exchange,
}

impl Cloud {
    /// Every cloud, in a fixed order.
    pub const ALL: [Cloud; 5] = [
        Cloud::Worldwide,
        Cloud::UsgovGcchigh,
        Cloud::UsgovDod,
        Cloud::China,
        Cloud::Germany,
    ];

    /// The scenario-file name of the cloud.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Worldwide => "worldwide",
            Cloud::UsgovGcchigh => "usgov-gcchigh",
            Cloud::UsgovDod => "usgov-dod",
            Cloud::China => "china",
            Cloud::Germany => "germany",
        }
    }

    /// Entra authority hosts; the first is the canonical one.
    pub fn login_hosts(self) -> &'static [&'static str] {
        match self {
            Cloud::Worldwide => &[
                "login.microsoftonline.com",
                "login.windows.net",
                "login.microsoft.com",
                "sts.windows.net",
            ],
            Cloud::UsgovGcchigh | Cloud::UsgovDod => &["login.microsoftonline.us"],
            Cloud::China => &["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"],
            Cloud::Germany => &["login.microsoftonline.de"],
        }
    }

    /// The Microsoft Graph host.
    pub fn graph_host(self) -> &'static str {
        match self {
            Cloud::Worldwide => "graph.microsoft.com",
            Cloud::UsgovGcchigh => "graph.microsoft.us",
            Cloud::UsgovDod => "dod-graph.microsoft.us",
            Cloud::China => "microsoftgraph.chinacloudapi.cn",
            Cloud::Germany => "graph.microsoft.de",
        }
    }

    /// The Exchange Online host.
    pub fn exchange_host(self) -> &'static str {
        match self {
            Cloud::Worldwide => "outlook.office365.com",
            Cloud::UsgovGcchigh => "outlook.office365.us",
            Cloud::UsgovDod => "outlook-dod.office365.us",
            Cloud::China => "partner.outlook.cn",
            Cloud::Germany => "outlook.office.de",
        }
    }

    /// Token audience of Microsoft Graph in this cloud.
    pub fn graph_resource(self) -> String {
        format!("https://{}", self.graph_host())
    }

    /// Token audience of Exchange Online in this cloud.
    pub fn exchange_resource(self) -> String {
        format!("https://{}", self.exchange_host())
    }

    /// Issuer of v1 access tokens (the format Graph and Exchange accept).
    pub fn v1_issuer(self, tenant_id: &uuid::Uuid) -> String {
        match self {
            Cloud::Worldwide => format!("https://sts.windows.net/{tenant_id}/"),
            Cloud::UsgovGcchigh | Cloud::UsgovDod => {
                format!("https://login.microsoftonline.us/{tenant_id}/")
            }
            Cloud::China => format!("https://sts.chinacloudapi.cn/{tenant_id}/"),
            Cloud::Germany => format!("https://sts.microsoftonline.de/{tenant_id}/"),
        }
    }

    /// v1 issuer for a tenant segment that may be a placeholder (`{tenantid}`).
    pub fn v1_issuer_string(self, tenant: &str) -> String {
        match uuid::Uuid::parse_str(tenant) {
            Ok(id) => self.v1_issuer(&id),
            Err(_) => self
                .v1_issuer(&uuid::Uuid::nil())
                .replace(&uuid::Uuid::nil().to_string(), tenant),
        }
    }

    /// `cloud_instance_name` of instance discovery and user realm answers.
    pub fn instance_name(self) -> &'static str {
        match self {
            Cloud::Worldwide => "microsoftonline.com",
            Cloud::UsgovGcchigh | Cloud::UsgovDod => "microsoftonline.us",
            Cloud::China => "partner.microsoftonline.cn",
            Cloud::Germany => "microsoftonline.de",
        }
    }

    /// Which clouds share an authority host (GCC High and DoD both sign in on .us).
    pub fn clouds_of_login_host(host: &str) -> Vec<Cloud> {
        Cloud::ALL
            .into_iter()
            .filter(|c| c.login_hosts().contains(&host))
            .collect()
    }

    /// Every host name the server certificate must cover.
    pub fn all_hosts() -> Vec<&'static str> {
        let mut hosts = Vec::new();
        for cloud in Cloud::ALL {
            for h in cloud.login_hosts() {
                if !hosts.contains(h) {
                    hosts.push(*h);
                }
            }
            hosts.push(cloud.graph_host());
            hosts.push(cloud.exchange_host());
        }
        hosts.push("outlook.office.com");
        hosts.push("localhost");
        hosts
    }
}

/// What a Host header names: a service of some clouds (login hosts may serve several).
#[derive(Debug, Clone)]
pub struct Site {
    /// The service answering on the host; `None` for localhost (routed by path).
    pub service: Option<Service>,
    /// Clouds served on this host.
    pub clouds: Vec<Cloud>,
}

impl Site {
    /// Classifies a host name (without port). `None` when the simulator does not serve it.
    pub fn of_host(host: &str) -> Option<Site> {
        let host = host.to_ascii_lowercase();
        if host == "localhost" || host == "127.0.0.1" || host == "[::1]" {
            return Some(Site {
                service: None,
                clouds: vec![Cloud::Worldwide],
            });
        }
        let login = Cloud::clouds_of_login_host(&host);
        if !login.is_empty() {
            return Some(Site {
                service: Some(Service::Login),
                clouds: login,
            });
        }
        for cloud in Cloud::ALL {
            if cloud.graph_host() == host {
                return Some(Site {
                    service: Some(Service::Graph),
                    clouds: vec![cloud],
                });
            }
            if cloud.exchange_host() == host
                || (cloud == Cloud::Worldwide && host == "outlook.office.com")
            {
                return Some(Site {
                    service: Some(Service::Exchange),
                    clouds: vec![cloud],
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_route_to_their_cloud() {
        let s = Site::of_host("dod-graph.microsoft.us").expect("served");
        assert_eq!(s.service, Some(Service::Graph));
        assert_eq!(s.clouds, vec![Cloud::UsgovDod]);
        let s = Site::of_host("LOGIN.microsoftonline.us").expect("served");
        assert_eq!(s.clouds, vec![Cloud::UsgovGcchigh, Cloud::UsgovDod]);
        assert!(Site::of_host("example.com").is_none());
    }
}
