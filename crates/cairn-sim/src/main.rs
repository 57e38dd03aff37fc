//! `cairn-sim`: runs the Microsoft 365 tenant simulator, or prints its built-in scenario.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use cairn_sim::{Scenario, SimOptions, Simulator};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cairn-sim",
    about = "Microsoft 365 tenant simulator (Entra ID, Graph, Exchange Online)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTPS on one port for every cloud's host names.
    Serve {
        /// Scenario TOML (default: the built-in scenario).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Listening address; port 0 picks a free one (printed on the first line).
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Directory for ca.pem, endpoint and generated app credentials.
        #[arg(long, default_value = ".cairn-sim")]
        state_dir: PathBuf,
        /// Mail content, throttling and faults.
        #[command(flatten)]
        plane: Box<cairn_sim::cli::DataPlaneArgs>,
    },
    /// Change a running simulator's mailboxes, throttling or token lifetime (one JSON
    /// mutation, see docs/simulator.md "Mutation API"); prints the answer.
    Mutate {
        /// The running simulator's state directory (endpoint, ca.pem, admin-token).
        #[arg(long, default_value = ".cairn-sim")]
        state_dir: PathBuf,
        /// host:port of the simulator (default: <state-dir>/endpoint).
        #[arg(long)]
        endpoint: Option<String>,
        /// The mutation, e.g. '{"op":"expire_tokens","tenant":"contoso","mailbox":"alice@contoso.com"}'.
        mutation: String,
    },
    /// Print a scenario.
    Scenario {
        /// Print the built-in default scenario.
        #[arg(long)]
        default: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_SIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Scenario { default } => {
            if !default {
                anyhow::bail!("say which scenario to print: `cairn-sim scenario --default`");
            }
            print!("{}", cairn_sim::scenario::DEFAULT_SCENARIO_TOML);
            Ok(())
        }
        Command::Mutate {
            state_dir,
            endpoint,
            mutation,
        } => {
            let answer = cairn_sim::cli::mutate(&state_dir, endpoint.as_deref(), &mutation)
                .await
                .context("cairn-sim mutate")?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
        Command::Serve {
            scenario,
            listen,
            state_dir,
            plane,
        } => {
            let plane = plane.options().map_err(anyhow::Error::msg)?;
            // Passwords are shown for the built-in scenario only (they are documented
            // demo identities); a user's scenario file keeps its own.
            let show_passwords = scenario.is_none();
            let scenario = match &scenario {
                Some(p) => Scenario::from_path(p)
                    .with_context(|| format!("loading scenario {}", p.display()))?,
                None => Scenario::default(),
            };
            let handle = Simulator::start_with(
                scenario.clone(),
                SimOptions {
                    listen,
                    state_dir: state_dir.clone(),
                },
                plane,
            )
            .await
            .context("starting the simulator")?;
            // First line is machine-readable (CAIRN_SIM_BIN users parse it).
            println!("listening {}", handle.addr());
            println!("ca {}", handle.ca_path().display());
            println!("state-dir {}", state_dir.display());
            println!();
            println!(
                "Point Microsoft host names at {} and trust {}.",
                handle.addr(),
                handle.ca_path().display()
            );
            println!(
                "{:<10} {:<14} {:<38} {:<36} password",
                "tenant", "cloud", "id", "admin"
            );
            for t in &scenario.tenants {
                for u in t
                    .users
                    .iter()
                    .filter(|u| u.password.is_some() && !u.roles.is_empty())
                {
                    println!(
                        "{:<10} {:<14} {:<38} {:<36} {}",
                        t.name,
                        t.cloud.name(),
                        t.id,
                        u.upn,
                        if show_passwords {
                            u.password.as_deref().unwrap_or_default()
                        } else {
                            "(see the scenario file)"
                        }
                    );
                }
            }
            use std::io::Write;
            std::io::stdout().flush().ok();
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            handle.shutdown().await;
            Ok(())
        }
    }
}
