//! The permissions Cairn's backup application needs, by service: least privilege, and
//! each with the reason it is needed (docs/organizations.md lists them).
//!
//! Mailbox contents are deliberately *not* reached through the Graph `Mail.ReadWrite`
//! application permission: consented in Entra it opens every mailbox and no Exchange scope
//! can narrow it. Mailbox access comes from Exchange RBAC for Applications roles
//! ([`MAILBOX_ROLES`]), which the Exchange administrator can scope ("partial access").

use cairn_m365::Resource;

use super::model::{ServiceKind, Services};

/// One application permission the backup application needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// Resource the permission belongs to.
    pub resource: Resource,
    /// The permission Cairn requests and consents.
    pub request: &'static str,
    /// Permissions that satisfy the need (the requested one first).
    pub satisfied_by: &'static [&'static str],
    /// Why Cairn needs it.
    pub why: &'static str,
}

impl Requirement {
    /// Whether `roles` (an app-only token's `roles`) satisfy the need.
    pub fn is_met(&self, roles: &[String]) -> bool {
        self.satisfied_by
            .iter()
            .any(|p| roles.iter().any(|r| r.eq_ignore_ascii_case(p)))
    }
}

const USERS: Requirement = Requirement {
    resource: Resource::Graph,
    request: "User.Read.All",
    satisfied_by: &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"],
    why: "list the organization's users, whose mailboxes and OneDrives are backed up",
};
const GROUPS: Requirement = Requirement {
    resource: Resource::Graph,
    request: "Group.Read.All",
    satisfied_by: &[
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
    ],
    why: "list Microsoft 365 groups, whose mailboxes, sites and teams are backed up",
};
const MANAGE_AS_APP: Requirement = Requirement {
    resource: Resource::Exchange,
    request: "Exchange.ManageAsApp",
    satisfied_by: &["Exchange.ManageAsApp"],
    why: "run the Exchange admin cmdlets Cairn checks mailbox access with (Get-Mailbox, Test-ServicePrincipalAuthorization)",
};
const SITES: Requirement = Requirement {
    resource: Resource::Graph,
    request: "Sites.ReadWrite.All",
    satisfied_by: &[
        "Sites.ReadWrite.All",
        "Sites.FullControl.All",
        "Sites.Read.All",
    ],
    why: "read SharePoint sites and lists, and write them back on restore",
};
const FILES: Requirement = Requirement {
    resource: Resource::Graph,
    request: "Files.ReadWrite.All",
    satisfied_by: &[
        "Files.ReadWrite.All",
        "Files.Read.All",
        "Sites.FullControl.All",
    ],
    why: "read OneDrive and document library files, and upload them on restore",
};
const TEAMS: Requirement = Requirement {
    resource: Resource::Graph,
    request: "Team.ReadBasic.All",
    satisfied_by: &["Team.ReadBasic.All", "Group.Read.All"],
    why: "list the teams",
};
const CHANNELS: Requirement = Requirement {
    resource: Resource::Graph,
    request: "Channel.ReadBasic.All",
    satisfied_by: &["Channel.ReadBasic.All"],
    why: "list each team's channels",
};
const CHANNEL_MESSAGES: Requirement = Requirement {
    resource: Resource::Graph,
    request: "ChannelMessage.Read.All",
    satisfied_by: &["ChannelMessage.Read.All"],
    why: "export channel posts",
};

/// Exchange RBAC for Applications roles assigned organization-wide when granting
/// mailbox access: mail, calendars and contacts, read and write (restore writes).
pub const MAILBOX_ROLES: [&str; 3] = [
    cairn_m365::exchange::ROLE_MAIL_READWRITE,
    cairn_m365::exchange::ROLE_CALENDARS_READWRITE,
    cairn_m365::exchange::ROLE_CONTACTS_READWRITE,
];

/// Exchange roles that give access to mail (any of them counts as mailbox access).
pub const MAIL_ACCESS_ROLES: [&str; 4] = [
    "Application Mail.ReadWrite",
    "Application Mail.Read",
    "Application Mail Full Access",
    "Application Exchange Full Access",
];

/// Everything the selected services need, without duplicates.
pub fn requirements(services: &Services) -> Vec<Requirement> {
    let mut needs = vec![USERS, GROUPS];
    for service in services.iter() {
        match service {
            ServiceKind::Exchange => needs.push(MANAGE_AS_APP),
            ServiceKind::SharePoint => needs.extend([SITES, FILES]),
            ServiceKind::Teams => needs.extend([TEAMS, CHANNELS]),
            ServiceKind::TeamsPosts => needs.push(CHANNEL_MESSAGES),
        }
    }
    needs.dedup();
    needs
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_m365::Region;

    #[test]
    fn least_privilege_by_service() {
        let ex = Services::parse("exchange", Region::Worldwide).unwrap();
        let asked: Vec<&str> = requirements(&ex).iter().map(|r| r.request).collect();
        assert_eq!(
            asked,
            ["User.Read.All", "Group.Read.All", "Exchange.ManageAsApp"]
        );
        assert!(!asked.iter().any(|p| p.starts_with("Mail.")));
        let all =
            Services::parse("exchange,sharepoint,teams,teams-posts", Region::Worldwide).unwrap();
        assert_eq!(requirements(&all).len(), 8);
    }

    #[test]
    fn read_only_sites_satisfy_sharepoint() {
        let roles = vec!["Sites.Read.All".to_owned()];
        assert!(SITES.is_met(&roles));
        assert!(!FILES.is_met(&roles));
    }
}
