//! `cairn`: the command-line interface and, later, the server.
//!
//! This binary is thin on purpose: it parses arguments, opens the data directory,
//! calls into the engine crates and prints what they return. Each command group
//! lives in its own module.

mod bench;
mod demo;
mod job;
mod org;
mod output;
mod repo;
mod serve;
mod session;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Backup and restore for Microsoft 365 organizations.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, long_about = None)]
struct Cli {
    /// Data directory holding the catalog and the default repository.
    /// Defaults to $CAIRN_HOME, else the platform data directory.
    #[arg(long, global = true, env = "CAIRN_HOME", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Benchmarks (for developers).
    #[command(subcommand, hide = true)]
    Bench(bench::BenchCommand),
    /// Try Cairn end to end against the built-in tenant simulator.
    Demo(demo::DemoArgs),
    /// Microsoft 365 organizations: add, check, list, show, remove.
    #[command(subcommand, alias = "organization")]
    Org(org::OrgCommand),
    /// Backup repositories: create, attach, check, verify, prune, stats, passwd.
    #[command(subcommand, alias = "repository")]
    Repo(repo::RepoCommand),
    /// Backup jobs: create, edit, list, show, remove, start, stop, enable, disable, sessions.
    #[command(subcommand)]
    Job(job::JobCommand),
    /// Job sessions: show.
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Run the scheduler: start enabled jobs when they are due.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::quiet_broken_pipe();
    output::init_tracing();
    let data_dir = match output::resolve_data_dir(cli.data_dir) {
        Ok(dir) => dir,
        Err(err) => return output::report(err),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => return output::report(err.into()),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Bench(cmd) => bench::run(cmd).await,
            Command::Demo(args) => demo::run(&data_dir, args).await,
            Command::Org(cmd) => org::run(&data_dir, cmd).await,
            Command::Repo(cmd) => repo::run(&data_dir, cmd).await,
            Command::Job(cmd) => job::run(&data_dir, cmd).await,
            Command::Session(cmd) => session::run(&data_dir, cmd).await,
            Command::Serve(args) => serve::run(&data_dir, args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => output::report(err),
    }
}
