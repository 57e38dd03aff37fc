//! `cairn bench exchange` (hidden): backs up a simulated organization and reports
//! items/s, MB/s, Cairn's peak RSS and the CPU split between the simulator and Cairn;
//! then an incremental run after changing a share of the items; then a full run with
//! Exchange's per-mailbox throttling on (scaled down), reporting how close the achieved
//! request rate comes to the allowed budget. The simulator runs as a separate
//! process (`cairn-sim serve`) so both processes' CPU time can be read from /proc.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_catalog::Catalog;
use cairn_catalog::repositories::{self as records, RepositoryRecord};
use cairn_engine::backup::{
    self, BackupPlan, Concurrency, Exclusions, Processing, RetryPolicy, RunContext, RunOptions,
    Selection, SessionOutcome,
};
use cairn_engine::organizations::{AddRequest, Authentication, Deployment, Organizations};
use cairn_m365::throttle::MailboxBudget;
use cairn_m365::{Network, Region};
use cairn_repo::{CreateOptions, Credentials, Location, Repository};
use tokio::sync::{mpsc, watch};
use zeroize::Zeroizing;

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Exchange Online backup against the simulator.
    Exchange(ExchangeArgs),
    /// The simulator process of the benchmark (started by `bench exchange`).
    #[command(hide = true)]
    SimServe(SimServeArgs),
}

/// The simulated organization's size and limits.
#[derive(Debug, Clone, clap::Args)]
pub struct SimServeArgs {
    #[arg(long)]
    state_dir: PathBuf,
    #[arg(long)]
    users: usize,
    #[arg(long)]
    messages: u64,
    /// Requests per mailbox per window (none: no budget).
    #[arg(long)]
    budget: Option<u32>,
    #[arg(long, default_value_t = 600)]
    window: u64,
    /// Concurrent requests per mailbox (none: unlimited).
    #[arg(long)]
    mailbox_concurrency: Option<u32>,
}

/// Sizes and limits of the Exchange benchmark.
#[derive(Debug, clap::Args)]
pub struct ExchangeArgs {
    /// Mailboxes (generated users).
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Messages per mailbox.
    #[arg(long, default_value_t = 2000)]
    messages: u64,
    /// Share of the items changed before the incremental run, in percent.
    #[arg(long, default_value_t = 1.0)]
    change_percent: f64,
    /// Mailboxes processed at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Throttled run: requests allowed per mailbox per window (Exchange: 10,000 per
    /// 10 minutes; scaled down here).
    #[arg(long, default_value_t = 100)]
    budget: u32,
    /// Throttled run: the budget's window in seconds.
    #[arg(long, default_value_t = 6)]
    window: u64,
    /// Throttled run: what Cairn is told of the budget. `learned`: the window only
    /// (as production knows Exchange's published window), the count learned from the
    /// first 429; `configured`: window and count; `adaptive`: nothing.
    #[arg(long, value_enum, default_value_t = Pacing::Learned)]
    pacing: Pacing,
    /// Skip the throttled run.
    #[arg(long)]
    no_throttled: bool,
    /// Only the throttled run.
    #[arg(long, conflicts_with = "no_throttled")]
    throttled_only: bool,
    /// Working directory (default: a fresh one under the system temp dir).
    #[arg(long)]
    work: Option<PathBuf>,
}

/// What the throttled run tells Cairn of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pacing {
    Learned,
    Configured,
    Adaptive,
}

const ADMIN: &str = "admin@contoso.onmicrosoft.com";
const ORG: &str = "contoso";
const REPO: &str = "bench";
const PASSWORD: &[u8] = b"bench password";

/// A `cairn-sim serve` child.
struct Sim {
    child: Child,
    addr: std::net::SocketAddr,
    ca: PathBuf,
    admin_token: String,
}

impl Sim {
    /// Starts `cairn bench sim-serve` (the simulator library in its own process).
    fn start(dir: &Path, args: &[String]) -> Result<Sim> {
        let bin = std::env::current_exe()?;
        let mut child = Command::new(&bin)
            .args(["bench", "sim-serve", "--state-dir"])
            .arg(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("simulator stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut addr, mut ca) = (None, None);
        for line in lines.by_ref() {
            let line = line?;
            if let Some(a) = line.strip_prefix("listening ") {
                addr = Some(a.trim().parse()?);
            } else if let Some(c) = line.strip_prefix("ca ") {
                ca = Some(PathBuf::from(c.trim()));
            }
            if addr.is_some() && ca.is_some() {
                break;
            }
        }
        // Keep draining so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let admin_token = std::fs::read_to_string(dir.join("admin-token"))
            .context("reading the simulator's admin token")?
            .trim()
            .to_owned();
        Ok(Sim {
            addr: addr.context("the simulator did not say where it listens")?,
            ca: ca.context("the simulator did not name its CA")?,
            admin_token,
            child,
        })
    }

    fn cpu(&self) -> Duration {
        cpu_of(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a process from `/proc/PID/stat` (clock ticks of 1/100 s).
fn cpu_of(stat: &str) -> Duration {
    let Ok(text) = std::fs::read_to_string(stat) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start after ')'.
    let Some(rest) = text.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // state is field 3 of the full line, index 0 here; utime 14 → 11, stime 15 → 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Peak resident set of this process.
fn peak_rss_mib() -> f64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

struct Measured {
    outcome: SessionOutcome,
    wall: Duration,
    /// Mailboxes in progress integrated over time (each mailbox's budget applies only
    /// while it is being processed).
    mailbox_seconds: f64,
    /// Mailboxes started (a retried one counts again).
    started: usize,
    cairn_cpu: Duration,
    sim_cpu: Duration,
}

async fn setup(work: &Path, sim: &Sim) -> Result<(Catalog, Network)> {
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    let catalog = Catalog::open(&home).await?;
    let network = Network::production()
        .with_connect(sim.addr)
        .with_extra_ca_file(&sim.ca)?;
    let password = cairn_sim::Scenario::default()
        .tenants
        .iter()
        .find(|t| t.name == ORG)
        .and_then(|t| t.users.iter().find(|u| u.upn == ADMIN))
        .and_then(|u| u.password.clone())
        .context("the built-in scenario has no contoso admin password")?;
    let added = Organizations::new(catalog.clone(), network.clone())
        .add(AddRequest {
            name: ORG.into(),
            deployment: Deployment::Microsoft365,
            region: Region::Worldwide,
            services: "exchange".into(),
            authentication: Authentication::AdminPassword {
                upn: ADMIN.into(),
                password: Zeroizing::new(password),
                grant: true,
                app_id: None,
            },
        })
        .await?;
    if added.organization.is_none() {
        bail!("adding the simulated organization failed");
    }
    let location = Location::Local(work.join("repo"));
    let repo = Repository::create_at(
        &location,
        &Credentials::default(),
        CreateOptions::encrypted(PASSWORD.to_vec()),
    )
    .await?;
    records::insert(
        &catalog,
        &RepositoryRecord {
            name: REPO.into(),
            location: location.to_url(),
            repository_id: repo.config().id.to_string(),
            encrypted: true,
            has_credentials: false,
            created_at: "2026-01-01T00:00:00Z".into(),
        },
        None,
    )
    .await?;
    Ok((catalog, network))
}

/// Integrates the number of mailboxes in progress over time from progress events.
async fn in_progress(mut rx: mpsc::Receiver<backup::ProgressEvent>) -> (f64, usize) {
    let (mut active, mut started, mut area) = (0usize, 0usize, 0.0f64);
    let mut last = Instant::now();
    while let Some(e) = rx.recv().await {
        let delta: isize = match e {
            backup::ProgressEvent::ObjectStarted { .. } => 1,
            backup::ProgressEvent::ObjectFinished { .. } => -1,
            _ => continue,
        };
        let now = Instant::now();
        area += active as f64 * now.duration_since(last).as_secs_f64();
        last = now;
        if delta > 0 {
            active += 1;
            started += 1;
        } else {
            active = active.saturating_sub(1);
        }
    }
    (area, started)
}

async fn measure(
    catalog: &Catalog,
    network: &Network,
    sim: &Sim,
    concurrency: usize,
    mailbox_budget: Option<MailboxBudget>,
) -> Result<Measured> {
    let plan = BackupPlan {
        organization: ORG.into(),
        repository: REPO.into(),
        job: "bench".into(),
        selection: Selection::Organization,
        exclusions: Exclusions::default(),
        processing: Processing {
            mail: true,
            archive: false,
            calendar: false,
            contacts: false,
        },
        retry: RetryPolicy::default(),
        concurrency: Concurrency {
            objects: concurrency,
            requests_per_mailbox: 4,
        },
    };
    let (tx, rx) = mpsc::channel(4096);
    let timeline = tokio::spawn(in_progress(rx));
    let (_stop, cancel) = watch::channel(false);
    let cpu0 = cpu_of("/proc/self/stat");
    let sim0 = sim.cpu();
    let start = Instant::now();
    let outcome = backup::run(
        &plan,
        RunContext {
            catalog: catalog.clone(),
            network: network.clone(),
            repository_password: Some(Zeroizing::new(PASSWORD.to_vec())),
            progress: tx,
            cancel,
            options: RunOptions {
                mailbox_budget,
                ..RunOptions::default()
            },
        },
    )
    .await;
    let wall = start.elapsed();
    let (mailbox_seconds, started) = timeline.await.unwrap_or((0.0, 0));
    if outcome.outcome == backup::Outcome::Failed {
        bail!("the backup failed: {:?}", outcome.errors);
    }
    Ok(Measured {
        wall,
        mailbox_seconds,
        started,
        cairn_cpu: cpu_of("/proc/self/stat").saturating_sub(cpu0),
        sim_cpu: sim.cpu().saturating_sub(sim0),
        outcome,
    })
}

fn line(label: &str, m: &Measured) -> String {
    let secs = m.wall.as_secs_f64().max(1e-9);
    let mb = m.outcome.bytes_read as f64 / 1e6;
    format!(
        "| {label} | {} | {:.1} MB | {:.1} s | {:.0} | {:.1} | {} | {} ({}) | {:.1} s | {:.1} s | {:.1} MiB |",
        m.outcome.items,
        mb,
        secs,
        m.outcome.items as f64 / secs,
        mb / secs,
        m.outcome.requests,
        m.outcome.throttled_requests,
        format_args!("{:.1} s waited", m.outcome.throttled.as_secs_f64()),
        m.cairn_cpu.as_secs_f64(),
        m.sim_cpu.as_secs_f64(),
        peak_rss_mib(),
    )
}

/// Runs the benchmark and prints a Markdown table.
pub async fn run(cmd: BenchCommand) -> Result<std::process::ExitCode> {
    let args = match cmd {
        BenchCommand::Exchange(args) => args,
        BenchCommand::SimServe(args) => return sim_serve(args).await,
    };
    let work = match &args.work {
        Some(w) => w.clone(),
        None => std::env::temp_dir().join(format!("cairn-bench-{}", std::process::id())),
    };
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let mail = vec![
        format!("--users={}", args.users),
        format!("--messages={}", args.messages),
    ];
    let mut rng_state = 0x9e37_79b9_7f4a_7c15_u64;

    println!(
        "| run | items | read | time | items/s | MB/s | requests | throttled | Cairn CPU | simulator CPU | Cairn peak RSS |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    if !args.throttled_only {
        let sim = Sim::start(&work.join("sim"), &mail)?;
        let (catalog, network) = setup(&work.join("plain"), &sim).await?;
        let unthrottled = Some(MailboxBudget::EXCHANGE);
        let full = measure(&catalog, &network, &sim, args.concurrency, unthrottled).await?;
        println!("{}", line("full, throttling off", &full));

        let changed = change_items(
            &sim,
            &network,
            &full.outcome,
            args.change_percent,
            &mut rng_state,
        )
        .await?;
        println!("<!-- changed {changed} items -->");
        let incremental = measure(&catalog, &network, &sim, args.concurrency, unthrottled).await?;
        println!(
            "{}",
            line(
                &format!("incremental, {}% changed", args.change_percent),
                &incremental
            )
        );
        println!(
            "\nincremental / full time: {:.3}",
            incremental.wall.as_secs_f64() / full.wall.as_secs_f64().max(1e-9)
        );
        drop(sim);
    }

    if !args.no_throttled {
        let mut throttled_args = mail.clone();
        throttled_args.extend([
            format!("--budget={}", args.budget),
            format!("--window={}", args.window),
            "--mailbox-concurrency=4".to_owned(),
        ]);
        let sim = Sim::start(&work.join("sim-throttled"), &throttled_args)?;
        let (catalog, network) = setup(&work.join("throttled"), &sim).await?;
        let window = Duration::from_secs(args.window);
        let budget = match args.pacing {
            Pacing::Learned => Some(MailboxBudget {
                requests: None,
                window,
            }),
            Pacing::Configured => Some(MailboxBudget {
                requests: Some(args.budget),
                window,
            }),
            Pacing::Adaptive => None,
        };
        let m = measure(&catalog, &network, &sim, args.concurrency, budget).await?;
        println!("{}", line("full, throttling on", &m));
        // Each mailbox's budget applies while it is in progress: at the end of the
        // session fewer than --concurrency are left.
        let per_second = f64::from(args.budget) / args.window as f64;
        let allowed = per_second * m.mailbox_seconds;
        let secs = m.wall.as_secs_f64().max(1e-9);
        // A sliding window also admits a whole budget at once when a mailbox starts.
        let allowed_with_bursts = allowed + f64::from(args.budget) * m.started as f64;
        println!(
            "\nthrottled run ({:?} pacing): {:.1} requests/s achieved of {:.1} allowed \
             ({:.1} mailboxes in progress on average): {:.0}% of the budget's rate, \
             {:.0}% counting a full window's burst at each mailbox's start; {} answered 429",
            args.pacing,
            m.outcome.requests as f64 / secs,
            allowed / secs,
            m.mailbox_seconds / secs,
            100.0 * m.outcome.requests as f64 / allowed.max(1e-9),
            100.0 * m.outcome.requests as f64 / allowed_with_bursts.max(1e-9),
            m.outcome.throttled_requests
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Changes `percent` of the messages of every backed-up mailbox through the simulator's
/// mutation API (`POST /_sim/mutate`): edits, read flips, moves, deletions, and as many
/// new messages. Returns how many changes were made.
async fn change_items(
    sim: &Sim,
    network: &Network,
    full: &SessionOutcome,
    percent: f64,
    rng: &mut u64,
) -> Result<usize> {
    let http = network.http_client()?;
    // The mutation API answers on loopback names only, never on Microsoft's.
    let url = format!("https://{}/_sim/mutate", sim.addr);
    let call = |body: serde_json::Value| {
        let http = http.clone();
        let url = url.clone();
        let token = sim.admin_token.clone();
        async move {
            let response = http
                .post(&url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            let status = response.status();
            let value: serde_json::Value = response.json().await?;
            if !status.is_success() {
                bail!("mutation {body} refused: {value}");
            }
            Ok::<_, anyhow::Error>(value)
        }
    };
    let mut next = || {
        // xorshift: deterministic choices, no dependency.
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let mut changed = 0;
    for object in &full.objects {
        let target = serde_json::json!({"tenant": ORG, "mailbox": object.object.id});
        let mut list = target.clone();
        list["op"] = "list_messages".into();
        let messages = call(list).await?;
        let ids: Vec<String> = messages
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let count = ((ids.len() as f64) * percent / 100.0).ceil() as usize;
        for i in 0..count {
            let id = &ids[(next() % ids.len() as u64) as usize];
            let mut m = target.clone();
            match i % 5 {
                0 => {
                    m["op"] = "edit_message".into();
                    m["id"] = id.as_str().into();
                }
                1 => {
                    m["op"] = "mark_read".into();
                    m["id"] = id.as_str().into();
                    m["read"] = (next() % 2 == 0).into();
                }
                2 => {
                    m["op"] = "move_message".into();
                    m["id"] = id.as_str().into();
                    m["folder"] = "archive".into();
                }
                3 => {
                    m["op"] = "delete_message".into();
                    m["id"] = id.as_str().into();
                }
                _ => {
                    m["op"] = "add_message".into();
                    m["folder"] = "inbox".into();
                }
            }
            // An item picked twice may be gone already: not an error of the bench.
            if call(m).await.is_ok() {
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// The benchmark's simulator process: serves until its standard input closes.
async fn sim_serve(args: SimServeArgs) -> Result<std::process::ExitCode> {
    let mut plane = cairn_sim::DataPlaneOptions::default();
    plane.mail.generated_users = args.users;
    plane.mail.messages_per_mailbox = args.messages;
    plane.mail.events_per_mailbox = 0;
    plane.mail.contacts_per_mailbox = 0;
    plane.mail.archive_messages = 0;
    plane.throttle.mailbox_budget = args.budget;
    plane.throttle.budget_window_secs = args.window;
    plane.throttle.mailbox_concurrency = args.mailbox_concurrency;
    let handle = cairn_sim::Simulator::start_with(
        cairn_sim::Scenario::default(),
        cairn_sim::SimOptions {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: args.state_dir.clone(),
        },
        plane,
    )
    .await?;
    println!("listening {}", handle.addr());
    println!("ca {}", handle.ca_path().display());
    use std::io::Write;
    std::io::stdout().flush()?;
    // The parent holds our stdin; when it goes away (or closes it), stop.
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    loop {
        match tokio::io::AsyncReadExt::read(&mut stdin, &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    handle.shutdown().await;
    Ok(std::process::ExitCode::SUCCESS)
}
