//! `cairn-engine`: Cairn's operations, the same whether the CLI or (later) the REST
//! server asks for them.
//!
//! - [`backup`]: back up mailboxes into a repository (the plan/progress/outcome contract
//!   with jobs is [`backup::plan`]).
//! - [`organizations`]: add a Microsoft 365 organization (register and consent Cairn's
//!   backup application, point Exchange at it, grant mailbox access) and check it.
//! - [`jobs`]: backup jobs (what, where, when) and their schedules.
//! - [`sessions`]: running a job and recording the session in the catalog.

pub mod backup;
pub mod jobs;
pub mod organizations;
pub mod sessions;
