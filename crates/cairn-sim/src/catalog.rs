//! Microsoft's fixed identifiers: first-party application ids, the app roles of the
//! Microsoft Graph and Exchange Online service principals, directory role templates and
//! Exchange application roles. Values are Microsoft's real ones (permissions reference,
//! Entra built-in roles) so that ids a client hard-codes match.

use uuid::Uuid;

/// Microsoft Graph's application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Office 365 Exchange Online's application id.
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

/// A first-party public client accepted for the password grant in every tenant.
#[derive(Debug, Clone, Copy)]
pub struct FirstPartyClient {
    /// Application (client) id.
    pub app_id: &'static str,
    /// Display name, as in sign-in logs.
    pub display_name: &'static str,
}

/// The well-known public clients of the default scenario contract.
pub const FIRST_PARTY_CLIENTS: [FirstPartyClient; 3] = [
    FirstPartyClient {
        app_id: "14d82eec-204b-4c2f-b7e8-296a70dab67e",
        display_name: "Microsoft Graph Command Line Tools",
    },
    FirstPartyClient {
        app_id: "fb78d390-0c51-40cd-8e17-fdbfab77341b",
        display_name: "Microsoft Exchange REST API Based Powershell",
    },
    FirstPartyClient {
        app_id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        display_name: "Microsoft Azure CLI",
    },
];

/// Looks up a first-party public client by app id.
pub fn first_party_client(app_id: &str) -> Option<FirstPartyClient> {
    FIRST_PARTY_CLIENTS
        .into_iter()
        .find(|c| c.app_id.eq_ignore_ascii_case(app_id))
}

/// Application permissions (app roles) of Microsoft Graph: (value, id).
pub const GRAPH_APP_ROLES: &[(&str, &str)] = &[
    ("Mail.ReadWrite", "e2a3a72e-5f79-4c64-b1b1-878b674786c9"),
    ("Mail.Read", "810c84a8-4a9e-49e6-bf7d-12d183f40d01"),
    ("Mail.ReadBasic", "6be147d2-ea4f-4b5a-a3fa-3eab6f3c140a"),
    ("Mail.Send", "b633e1c5-b582-4048-a93e-9f11b44c7e96"),
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214"),
    ("User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca"),
    ("Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b"),
    (
        "Group.ReadWrite.All",
        "62a82d76-70ea-41e2-9197-370581804d09",
    ),
    ("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"),
    ("Sites.Read.All", "332a536c-c7ef-4017-ab91-336970924f0d"),
    (
        "Sites.ReadWrite.All",
        "9492366f-7969-46a4-8d15-ed1a20078fff",
    ),
    (
        "Sites.FullControl.All",
        "a82116e5-55eb-4c41-a434-62fe8a61c773",
    ),
    (
        "Files.ReadWrite.All",
        "75359482-378d-4052-8f01-80520e7db3cd",
    ),
    ("Files.Read.All", "01d4889c-1287-42c6-ac1f-5d1e02578ef6"),
    (
        "Calendars.ReadWrite",
        "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
    ),
    ("Calendars.Read", "798ee544-9d2d-430c-a058-570e29e34338"),
    ("Contacts.ReadWrite", "6918b873-d17a-4dc1-b314-35f528134491"),
    ("Contacts.Read", "089fe4d0-434a-44c5-8827-41ba8a0b17f5"),
    (
        "MailboxSettings.Read",
        "40f97065-369a-49f4-947c-6a255697ae91",
    ),
    (
        "ChannelMessage.Read.All",
        "7b2449af-6ccd-4f4d-9f78-e550c193f0d1",
    ),
    ("Team.ReadBasic.All", "2280dda6-0bfd-44ee-a2f4-cb867cfc4c1e"),
    (
        "Channel.ReadBasic.All",
        "59a6b24b-4225-4393-8165-ebaec5f55d7a",
    ),
    (
        "Organization.Read.All",
        "498476ce-e0fe-48b0-b801-37ba7e2685c6",
    ),
    ("Domain.Read.All", "dbb9058a-0e50-45d7-ae91-66909b5d4664"),
    (
        "Application.Read.All",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    ),
    (
        "Application.ReadWrite.All",
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
    ),
    (
        "RoleManagement.Read.Directory",
        "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    ),
];

/// Application permissions of Office 365 Exchange Online: (value, id).
pub const EXCHANGE_APP_ROLES: &[(&str, &str)] = &[(
    "Exchange.ManageAsApp",
    "dc50a0fb-09a3-484d-be87-e023b12c6440",
)];

/// Delegated scopes a first-party client gets for Microsoft Graph with `.default`
/// (what an administrator's consented tools hold).
pub const GRAPH_ADMIN_SCOPES: &[&str] = &[
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "Directory.Read.All",
    "Domain.Read.All",
    "Group.Read.All",
    "Organization.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "User.Read",
    "User.Read.All",
    "Mail.ReadWrite",
    "openid",
    "profile",
    "email",
];

/// Delegated scopes of Exchange Online PowerShell tokens.
pub const EXCHANGE_ADMIN_SCOPES: &[&str] = &[
    "AdminApi.AccessAsUser.All",
    "FfoPowerShell.AccessAsUser.All",
    "RemotePowerShell.AccessAsUser.All",
];

/// An Entra built-in directory role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryRoleTemplate {
    /// Display name as shown in Entra.
    pub display_name: &'static str,
    /// Role template id (the `wids` claim and `roleDefinitionId`).
    pub template_id: &'static str,
    /// Description, as Microsoft words it (shortened).
    pub description: &'static str,
}

/// The built-in directory roles the simulator knows.
pub const DIRECTORY_ROLES: &[DirectoryRoleTemplate] = &[
    DirectoryRoleTemplate {
        display_name: "Global Administrator",
        template_id: "62e90394-69f5-4237-9190-012177145e10",
        description: "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
    },
    DirectoryRoleTemplate {
        display_name: "Exchange Administrator",
        template_id: "29232cdf-9323-42fd-ade2-1d097af3e4de",
        description: "Can manage all aspects of the Exchange product.",
    },
    DirectoryRoleTemplate {
        display_name: "Application Administrator",
        template_id: "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        description: "Can create and manage all aspects of app registrations and enterprise apps.",
    },
    DirectoryRoleTemplate {
        display_name: "Cloud Application Administrator",
        template_id: "158c047a-c907-4556-b7ef-446551a6b5f7",
        description: "Can create and manage all aspects of app registrations and enterprise apps except App Proxy.",
    },
    DirectoryRoleTemplate {
        display_name: "Application Developer",
        template_id: "cf1c38e5-3621-4004-a7cb-879624dced7c",
        description: "Can create application registrations independent of the 'Allow users to register applications' setting.",
    },
    DirectoryRoleTemplate {
        display_name: "Privileged Role Administrator",
        template_id: "e8611ab8-c189-46e8-94e1-60213ab1f814",
        description: "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.",
    },
    DirectoryRoleTemplate {
        display_name: "Global Reader",
        template_id: "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        description: "Can read everything that a Global Administrator can, but not update anything.",
    },
];

/// The `wids` value every member user's token carries ("User" role template).
pub const MEMBER_USER_TEMPLATE: &str = "b79fbf4d-3ef9-4689-8143-76b194e85509";

/// Finds a directory role by display name (case-insensitive).
pub fn directory_role(name: &str) -> Option<DirectoryRoleTemplate> {
    DIRECTORY_ROLES
        .iter()
        .copied()
        .find(|r| r.display_name.eq_ignore_ascii_case(name))
}

/// Exchange application roles (RBAC for Applications) and the permission each grants.
pub const EXCHANGE_APPLICATION_ROLES: &[(&str, &str)] = &[
    ("Application Mail.Read", "Mail.Read"),
    ("Application Mail.ReadBasic", "Mail.ReadBasic"),
    ("Application Mail.ReadWrite", "Mail.ReadWrite"),
    ("Application Mail.Send", "Mail.Send"),
    ("Application MailboxSettings.Read", "MailboxSettings.Read"),
    (
        "Application MailboxSettings.ReadWrite",
        "MailboxSettings.ReadWrite",
    ),
    ("Application Calendars.Read", "Calendars.Read"),
    ("Application Calendars.ReadWrite", "Calendars.ReadWrite"),
    ("Application Contacts.Read", "Contacts.Read"),
    ("Application Contacts.ReadWrite", "Contacts.ReadWrite"),
    ("Application Mail Full Access", "Mail.ReadWrite, Mail.Send"),
    (
        "Application Exchange Full Access",
        "Mail.ReadWrite, Mail.Send, MailboxSettings.ReadWrite, Calendars.ReadWrite, Contacts.ReadWrite",
    ),
    ("Application EWS.AccessAsApp", "EWS.AccessAsApp"),
];

/// Canonical name and granted permissions of an Exchange application role.
pub fn exchange_application_role(name: &str) -> Option<(&'static str, &'static str)> {
    EXCHANGE_APPLICATION_ROLES
        .iter()
        .copied()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// Whether an Exchange application role lets an app read mail.
pub fn role_reads_mail(role: &str) -> bool {
    exchange_application_role(role)
        .map(|(_, perms)| perms.contains("Mail.Read") || perms.contains("Mail.ReadWrite"))
        .unwrap_or(false)
}

/// The Office E3 SKU a licensed user is given (`assignedLicenses`).
pub const LICENSE_SKU_ID: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

/// Namespace for ids the simulator derives from names (UUID v5), so state is deterministic.
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x5c1d_7a00_ca17_4e5b_9d3e_51b0_0000_0001);

/// A deterministic id for `kind`/`name` inside a tenant.
pub fn derived_id(tenant: &Uuid, kind: &str, name: &str) -> Uuid {
    Uuid::new_v5(
        &ID_NAMESPACE,
        format!("{tenant}/{kind}/{}", name.to_ascii_lowercase()).as_bytes(),
    )
}
