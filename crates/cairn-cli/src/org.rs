//! `cairn org …`: Microsoft 365 organizations.

use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum OrgCommand {
    /// List organizations.
    List,
}

pub async fn run(_data_dir: &Path, _cmd: OrgCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("organizations are being built")
}
