//! `bde-heat`: the engine's lifecycle without Heat.
//!
//! `bde-heat create|adopt|status|check|repair|apply|delete|stop|start -f CLUSTER.yaml
//! [--output json]`, `bde-heat resize -f CLUSTER.yaml GROUP COUNT`. The
//! cluster file's keys are the Heat resource's properties. State is kept in
//! `CLUSTER.yaml.state.json` after every step, so an interrupted run (Ctrl-C,
//! a crash) is picked up by running the same command again.

mod openstack;
mod progress;
mod state_file;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bde_engine::{
    Action, Clients, ClusterSpec, EngineError, ErrorKind, OpenStackAccess, Outcome, TlsOptions, ValidSpec,
};
use clap::{Parser, Subcommand, ValueEnum};

/// Exit codes that tell failures apart.
const EXIT_BAD_INPUT: u8 = 2;
const EXIT_REMOTE: u8 = 3;
const EXIT_TIMEOUT: u8 = 4;
const EXIT_DRIFT: u8 = 5;
const EXIT_NOT_OURS: u8 = 6;
const EXIT_BUSY: u8 = 7;
const EXIT_INTERRUPTED: u8 = 130;

#[derive(Parser)]
#[command(
    name = "bde-heat",
    version,
    about = "Create, wire, inspect and delete BDE clusters on VIO/NSX-v",
    after_help = "Exit codes: 0 done, 2 bad input, 3 a service failed (with its reason), 4 timed out, \
                  5 drift found (check), 6 the cluster is not this file's (not created or adopted by bde-heat), \
                  7 another run holds the file's state, 130 interrupted (the state is saved: run the same command to go on)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the cluster and wire every VM into Neutron (resumes an interrupted create).
    Create(Args),
    /// Take over a cluster that exists in BDE (it must be on the file's network), and wire it.
    Adopt(Args),
    /// Show the cluster as last seen, refreshed from BDE.
    Status(Args),
    /// Delete the cluster, its ports, and the BDE network, if bde-heat made them.
    Delete(Args),
    /// Compare the live cluster with what was made and asked for; exit 5 on drift.
    Check(Args),
    /// Mend drift: wire VMs without ports, remove ports without VMs, reset stuck VMs, resize back.
    Repair(Args),
    /// Take the cluster to what the file now says (its node counts), then mend drift.
    Apply(Args),
    /// Power the cluster's VMs off (ports are kept).
    Stop(Args),
    /// Power them on again; every node gets its address back (stuck VMs are reset).
    Start(Args),
    /// Set a node group's VM count (remembered: check and repair keep it), wiring new VMs.
    Resize {
        #[command(flatten)]
        args: Args,
        /// The node group.
        group: String,
        /// Its new total.
        count: u32,
    },
}

#[derive(clap::Args)]
struct Args {
    /// The cluster file (YAML; the Heat resource's properties).
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Where the engine keeps its state (default: FILE.state.json).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Plain lines for people, or one JSON document for scripts.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Operator credentials file (YAML: `bde:`/`vcenter:` lists of endpoint, username, password, ca_file).
    #[arg(long, env = "BDE_HEAT_CREDENTIALS")]
    credentials: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

/// What the command does: an engine action, or a read.
enum Verb {
    Act(Action),
    Status,
    Check,
}

#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        let code = match e.kind {
            ErrorKind::InvalidInput => EXIT_BAD_INPUT,
            ErrorKind::NotOurs => EXIT_NOT_OURS,
            ErrorKind::Timeout => EXIT_TIMEOUT,
            ErrorKind::Conflict | ErrorKind::RemoteFailed | ErrorKind::TaskFailed | ErrorKind::Unavailable => {
                EXIT_REMOTE
            }
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

fn bad_input(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_BAD_INPUT,
        message: message.into(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("BDE_HEAT_LOG").unwrap_or_else(|_| "warn".into());
    for quiet in bde_engine::QUIET_LOG_TARGETS {
        filter = filter.add_directive(format!("{quiet}=warn").parse().expect("a valid directive"));
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let (args, verb) = match cli.command {
        Command::Create(a) => (a, Verb::Act(Action::Create)),
        Command::Adopt(a) => (a, Verb::Act(Action::Adopt)),
        Command::Status(a) => (a, Verb::Status),
        Command::Delete(a) => (a, Verb::Act(Action::Delete)),
        Command::Check(a) => (a, Verb::Check),
        Command::Repair(a) => (a, Verb::Act(Action::Repair)),
        Command::Apply(a) => (a, Verb::Act(Action::Apply)),
        Command::Stop(a) => (a, Verb::Act(Action::Stop)),
        Command::Start(a) => (a, Verb::Act(Action::Start)),
        Command::Resize { args, group, count } => (args, Verb::Act(Action::Resize { group, count })),
    };
    let what = match &verb {
        Verb::Act(a) => a.verb(),
        Verb::Status => "status",
        Verb::Check => "check",
    };
    tokio::select! {
        result = run(&verb, &args) => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => {
                eprintln!("bde-heat {what}: {}", f.message);
                ExitCode::from(f.code)
            }
        },
        _ = tokio::signal::ctrl_c() => {
            eprintln!("bde-heat {what}: interrupted; the state is saved: run the same command to go on");
            ExitCode::from(EXIT_INTERRUPTED)
        }
    }
}

/// Reads the cluster file and fills credentials the file leaves out from the environment.
fn load_spec(path: &Path, credentials: Option<&Path>) -> Result<ValidSpec, Failure> {
    let text = std::fs::read(path).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    let text = String::from_utf8(text).map_err(|e| not_utf8(path, e.as_bytes()))?;
    let mut spec = parse_spec(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    // Endpoints first: the credentials file's entries are found by endpoint.
    spec.bde_endpoint = spec.bde_endpoint.or_else(|| env("BDE_ENDPOINT"));
    spec.vcm_server = spec.vcm_server.or_else(|| env("VCENTER_URL"));
    if let Some(file) = credentials {
        bde_engine::Credentials::load(file)?.fill(&mut spec)?;
    }
    spec.username = spec.username.or_else(|| env("BDE_USERNAME"));
    spec.password = spec.password.or_else(|| env("BDE_PASSWORD").map(Into::into));
    if spec.password.is_none()
        && std::io::stdin().is_terminal()
        && let Some(user) = &spec.username
    {
        let prompt = format!("BDE password for {user}: ");
        spec.password = rpassword::prompt_password(prompt)
            .ok()
            .filter(|p| !p.is_empty())
            .map(Into::into);
    }
    spec.vcenter_username = spec.vcenter_username.or_else(|| env("VCENTER_USERNAME"));
    spec.vcenter_password = spec
        .vcenter_password
        .or_else(|| env("VCENTER_PASSWORD").map(Into::into));
    spec.ca_file = spec.ca_file.or_else(|| env("BDE_CA_FILE"));
    spec.vcenter_ca_file = spec.vcenter_ca_file.or_else(|| env("VCENTER_CA_FILE"));
    Ok(bde_engine::validate(&spec)?)
}

/// The cluster file's YAML as a spec. Errors never quote the file: no source
/// snippet (a line may hold a password), and a password written as a number is
/// made text first, so no type error can echo it.
fn parse_spec(text: &str) -> Result<ClusterSpec, String> {
    let options = serde_saphyr::options! { with_snippet: false };
    let mut doc: serde_json::Value = serde_saphyr::from_str_with_options(text, options).map_err(|e| e.to_string())?;
    for key in ["password", "vcenter_password", "cluster_password"] {
        if let Some(value) = doc.get_mut(key).filter(|v| !v.is_string() && !v.is_null()) {
            *value = serde_json::Value::String(value.to_string());
        }
    }
    serde_json::from_value(doc).map_err(|e| e.to_string())
}

/// Names the fields whose values are not UTF-8 (read with U+FFFD in their place).
fn not_utf8(path: &Path, bytes: &[u8]) -> Failure {
    fn walk(value: &serde_json::Value, at: &str, found: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) if s.contains('\u{FFFD}') => found.push(at.to_string()),
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{at}[{i}]"), found);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                    walk(v, &key, found);
                }
            }
            _ => {}
        }
    }
    let lossy = String::from_utf8_lossy(bytes);
    let mut fields = Vec::new();
    if let Ok(value) = serde_saphyr::from_str::<serde_json::Value>(&lossy) {
        walk(&value, "", &mut fields);
    }
    let which = if fields.is_empty() {
        String::new()
    } else {
        format!(" in {}", fields.join(", "))
    };
    bad_input(format!(
        "{}: bytes that are not UTF-8{which}: save the file as UTF-8 text",
        path.display()
    ))
}

fn state_path(args: &Args) -> PathBuf {
    args.state.clone().unwrap_or_else(|| {
        let mut p = args.file.clone().into_os_string();
        p.push(".state.json");
        PathBuf::from(p)
    })
}

impl From<state_file::StateFileError> for Failure {
    fn from(e: state_file::StateFileError) -> Self {
        match e {
            state_file::StateFileError::Busy(message) => Failure {
                code: EXIT_BUSY,
                message,
            },
            state_file::StateFileError::Io(message) => bad_input(message),
        }
    }
}

async fn connect(spec: &ValidSpec) -> Result<Clients, Failure> {
    let auth = openstack::password_auth().map_err(bad_input)?;
    let access = OpenStackAccess::Password {
        auth,
        tls: TlsOptions::default(),
    };
    Ok(Clients::connect(spec, &access).await?)
}

async fn run(verb: &Verb, args: &Args) -> Result<(), Failure> {
    let spec = load_spec(&args.file, args.credentials.as_deref())?;
    let file = state_file::StateFile::lock(&state_path(args))?;
    let mut state = file.load()?;
    let clients = connect(&spec).await?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let text = args.output == Output::Text;
    let mut drift = Vec::new();
    let result = async {
        match verb {
            Verb::Check => {
                drift = bde_engine::check(&clients, &spec, &mut state).await?;
                file.save(&state)?;
                return Ok::<(), Failure>(());
            }
            Verb::Status => {
                if !bde_engine::refresh(&clients, &spec, &mut state).await? && state.cluster.is_none() {
                    eprintln!(
                        "bde-heat status: bde-heat has not created or adopted cluster {:?} from this file",
                        spec.cluster_name
                    );
                }
                file.save(&state)?;
                return Ok(());
            }
            Verb::Act(_) => {}
        }
        let Verb::Act(action) = verb else {
            unreachable!("reads returned above")
        };
        let mut display = progress::Progress::new(std::io::stderr().is_terminal(), !text);
        loop {
            let outcome = bde_engine::step(&clients, &spec, &mut state, action).await;
            let outcome = bde_engine::ride_out(outcome, &mut state);
            file.save(&state)?;
            let pause = match outcome {
                Ok(Outcome::Done) => {
                    display.finish();
                    return Ok(());
                }
                // Something changed: the next step may follow almost at once.
                Ok(Outcome::Acted(note)) => {
                    display.update(&state, &note);
                    Duration::from_millis(200)
                }
                Ok(Outcome::Waiting(note)) => {
                    display.update(&state, &note);
                    Duration::from_secs(1)
                }
                Err(e) => {
                    display.finish();
                    return Err(e.into());
                }
            };
            if Instant::now() >= deadline {
                return Err(Failure {
                    code: EXIT_TIMEOUT,
                    message: format!("not done after {} s; run the command again to go on", args.timeout),
                });
            }
            tokio::time::sleep(pause).await;
        }
    }
    .await;
    clients.close().await;
    result?;
    let report = bde_engine::report(&spec.cluster_name, &spec.node_groups, &state);
    if text {
        println!(
            "cluster {}: {} ({} resets)",
            report.cluster, report.status, report.resets
        );
        for g in &report.groups {
            let asked = g.desired.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
            match g.file_says {
                Some(f) => println!("  group {}: {asked} (resized; the file says {f})", g.name),
                None => println!("  group {}: {asked}", g.name),
            }
        }
        for n in &report.nodes {
            println!(
                "  {:28} {:10} {:8} {:17} {:15} {}",
                n.name,
                n.group,
                n.moid.as_deref().unwrap_or("-"),
                n.mac.as_deref().unwrap_or("-"),
                n.ip.as_deref().unwrap_or("-"),
                n.status
            );
        }
        for d in &drift {
            println!("drift: {:18} {:28} {}", d.kind.to_string(), d.subject, d.detail);
        }
    } else {
        let mut json = serde_json::to_value(&report).expect("serializable");
        if matches!(verb, Verb::Check) {
            json["drift"] = serde_json::to_value(&drift).expect("serializable");
        }
        println!("{}", serde_json::to_string_pretty(&json).expect("serializable"));
    }
    if !drift.is_empty() {
        return Err(Failure {
            code: EXIT_DRIFT,
            message: format!("{} differences between the cluster and its spec", drift.len()),
        });
    }
    Ok(())
}
