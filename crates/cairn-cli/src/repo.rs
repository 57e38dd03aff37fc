//! `cairn repo …`: backup repositories.

use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum RepoCommand {
    /// List repositories.
    List,
}

pub async fn run(_data_dir: &Path, _cmd: RepoCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("repositories are being built")
}
