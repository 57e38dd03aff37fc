//! `cairn-engine`: Cairn's operations, the same whether the CLI or (later) the REST
//! server asks for them.
//!
//! - [`organizations`]: add a Microsoft 365 organization (register and consent Cairn's
//!   backup application, point Exchange at it, grant mailbox access) and check it.

pub mod organizations;
