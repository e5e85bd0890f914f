//! `bde-heat`: the engine's lifecycle without Heat.
//!
//! `bde-heat create|adopt|status|check|repair|apply|delete|stop|start --file CLUSTER.yaml
//! [-f table|json|yaml|value] [-c FIELD]...`, `bde-heat resize --file CLUSTER.yaml GROUP COUNT`,
//! `bde-heat completion SHELL`, `bde-heat man [COMMAND]`. The cluster file's
//! keys are the Heat resource's properties. State is kept in
//! `CLUSTER.yaml.state.json` after every step, so an interrupted run (Ctrl-C,
//! a crash) is picked up by running the same command again. Output follows
//! the `openstack` CLI: `-f/--format` and `-c/--column`, so the cluster file
//! is `--file` or `-F`.

mod openstack;
mod output;
mod progress;
mod state_file;
mod timeline;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bde_engine::{Action, Clients, ClusterSpec, EngineError, ErrorKind, Outcome, ValidSpec};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use output::{Format, Selection, escape};

/// Exit codes that tell failures apart.
const EXIT_BAD_INPUT: u8 = 2;
const EXIT_REMOTE: u8 = 3;
const EXIT_TIMEOUT: u8 = 4;
const EXIT_DRIFT: u8 = 5;
const EXIT_NOT_OURS: u8 = 6;
const EXIT_BUSY: u8 = 7;
const EXIT_INTERRUPTED: u8 = 130;

/// What every `--help` ends with: the environment the CLI reads and its exit codes.
const FOOTER: &str = "\
Environment:
  BDE_HEAT_LOG          the log filter (warn, info, debug, trace, bde_engine=debug, ...);
                        when set it wins over -v/-q (HTTP libraries stay at warn)
  BDE_HEAT_CREDENTIALS  the operator credentials file (as --credentials)
  BDE_ENDPOINT, VCENTER_URL, BDE_USERNAME, BDE_PASSWORD, VCENTER_USERNAME, VCENTER_PASSWORD,
  BDE_CA_FILE, VCENTER_CA_FILE
                        the cluster file's bde_endpoint, vcm_server, username, password,
                        vcenter_username, vcenter_password, ca_file, vcenter_ca_file
                        when the file (and the credentials file) leave them out
  OS_CLOUD              the cloud to use from the first clouds.yaml of OS_CLIENT_CONFIG_FILE,
                        ./clouds.yaml, $HOME/.config/openstack/, /etc/openstack/; merged with
                        the same cloud of the first secure.yaml (OS_CLIENT_SECURE_FILE, then
                        the same folders). Auth types: password, v3applicationcredential,
                        v3token; keys auth_url, username/user_id, password, project_name/
                        project_id, user_/project_domain_name/_id, domain_name/_id,
                        application_credential_id/_name/_secret, token, region_name,
                        interface, cacert, insecure (or verify: false)
  OS_AUTH_URL, OS_AUTH_TYPE, OS_USERNAME, OS_USER_ID, OS_PASSWORD, OS_PROJECT_NAME,
  OS_PROJECT_ID, OS_TENANT_NAME, OS_TENANT_ID, OS_USER_DOMAIN_NAME, OS_USER_DOMAIN_ID,
  OS_PROJECT_DOMAIN_NAME, OS_PROJECT_DOMAIN_ID, OS_DOMAIN_NAME, OS_DOMAIN_ID,
  OS_DEFAULT_DOMAIN, OS_APPLICATION_CREDENTIAL_ID, OS_APPLICATION_CREDENTIAL_NAME,
  OS_APPLICATION_CREDENTIAL_SECRET, OS_TOKEN, OS_REGION_NAME, OS_INTERFACE, OS_CACERT,
  OS_INSECURE, OS_CERT, OS_KEY
                        each sets its key of the cloud (over OS_CLOUD's files, as the
                        openstack CLI's options do), or alone describes it without OS_CLOUD
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY
                        proxies, as for any HTTP client

Exit codes:
  0    done
  2    bad input
  3    a service failed (with its reason)
  4    timed out
  5    drift found (check)
  6    the cluster is not this file's (not created or adopted by bde-heat)
  7    another run holds the file's state
  130  interrupted (the state is saved: run the same command to go on)";

#[derive(Parser)]
#[command(
    name = "bde-heat",
    version,
    propagate_version = true,
    about = "Create, wire, inspect and delete BDE clusters on VIO/NSX-v",
    after_help = FOOTER
)]
struct Cli {
    /// More log on stderr: -v info, -vv debug, -vvv trace (BDE_HEAT_LOG, when set, wins).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Errors only: no warnings, no progress lines; wins over -v (BDE_HEAT_LOG, when set, wins for the log).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the cluster and wire every VM into Neutron (resumes an interrupted create).
    Create(Args),
    /// Check the file as a create would before making anything (Neutron's names and room,
    /// BDE's distro, roles, app manager, resource pools and datastores); make nothing.
    Validate(Args),
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
    /// Take the cluster to what the file now says (node counts, new groups, CPUs and memory,
    /// security group), then mend drift; prints what it will change first.
    Apply {
        #[command(flatten)]
        args: Args,
        /// Print what would change (in --format) and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
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
    /// When each VM was cloned, powered on, given its port and its address, from the state alone
    /// (no call): a table, or with --svg a picture of the DHCP race.
    Timeline {
        /// The cluster file.
        #[arg(short = 'F', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// Where the engine keeps its state (default: FILE.state.json).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Draw it as an SVG picture into this file instead.
        #[arg(long, value_name = "OUT.svg")]
        svg: Option<PathBuf>,
    },
    /// Print a shell completion script (`bde-heat completion bash > /etc/bash_completion.d/bde-heat`).
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page in roff (`bde-heat man | man -l -`), or a command's (`bde-heat man create`).
    Man {
        /// The command whose page to print.
        command: Option<String>,
    },
}

#[derive(clap::Args)]
struct Args {
    /// The cluster file (YAML; the Heat resource's properties). -F, not -f: -f is --format, as in the
    /// openstack CLI.
    #[arg(short = 'F', long = "file", value_name = "FILE")]
    file: PathBuf,
    /// Where the engine keeps its state (default: FILE.state.json).
    #[arg(long)]
    state: Option<PathBuf>,
    /// How to print the result: tables for people; json or yaml (times as RFC 3339) for scripts;
    /// value for bare values, one per line.
    #[arg(short = 'f', long = "format", value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Show only this field (repeat for more): the cluster's cluster, status, status_reason, resets,
    /// portgroup, groups; the nodes' name, group, moid, instance_uuid, mac, ip, port_id, status,
    /// resets, timeline; check's kind, subject, detail. status and resets are the nodes' when a node
    /// column is chosen too, else the cluster's.
    #[arg(
        short = 'c',
        long = "column",
        value_name = "FIELD",
        value_parser = clap::builder::PossibleValuesParser::new(output::COLUMNS),
        hide_possible_values = true
    )]
    columns: Vec<String>,
    /// Deprecated: `--output json` is `--format json`, `--output text` is `--format table`.
    #[arg(long, value_enum, hide = true, conflicts_with = "format")]
    output: Option<LegacyOutput>,
    /// Operator credentials file (YAML: `bde:`/`vcenter:` lists of endpoint, username, password, ca_file).
    #[arg(long, env = "BDE_HEAT_CREDENTIALS")]
    credentials: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

/// The values of the old `--output`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LegacyOutput {
    Text,
    Json,
}

impl Args {
    /// The format asked for, `--output` taken as the `--format` it stands for.
    fn format(&self) -> Format {
        match self.output {
            Some(LegacyOutput::Json) => Format::Json,
            Some(LegacyOutput::Text) => Format::Table,
            None => self.format,
        }
    }
}

/// The command line's definition, every command's help ending with the environment and exit codes.
fn cli_command() -> clap::Command {
    Cli::command().mut_subcommands(|sub| match sub.get_name() {
        "completion" | "man" => sub,
        _ => sub.after_help(FOOTER),
    })
}

/// The parsed command line, or the exit code after clap printed its help, version or error
/// (with a word on `-f` for those who used it for the file).
fn parse_command_line() -> Result<Cli, ExitCode> {
    let parsed = cli_command().try_get_matches().and_then(|m| Cli::from_arg_matches(&m));
    parsed.map_err(|e| {
        let format_refused = e.kind() == clap::error::ErrorKind::InvalidValue
            && e.get(clap::error::ContextKind::InvalidArg)
                .is_some_and(|arg| arg.to_string().starts_with("--format"));
        let _ = e.print();
        if format_refused {
            eprintln!("\nnote: the cluster file is --file FILE or -F FILE; -f is --format, as in the openstack CLI");
        }
        ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_BAD_INPUT))
    })
}

/// The log filter: BDE_HEAT_LOG when set, else the level -v/-q ask for (warn by default);
/// HTTP libraries are kept at warn (error with -q) either way. Also a complaint about a
/// BDE_HEAT_LOG that is not a filter, to log once logging works.
fn log_filter(env: Option<&str>, verbose: u8, quiet: bool) -> (tracing_subscriber::EnvFilter, Option<String>) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let (mut filter, cap, complaint) = match env.filter(|v| !v.trim().is_empty()).map(EnvFilter::try_new) {
        Some(Ok(filter)) => (filter, "warn", None),
        Some(Err(e)) => (
            EnvFilter::new(level),
            if quiet { "error" } else { "warn" },
            Some(format!("BDE_HEAT_LOG is not a log filter ({e}); logging at {level}")),
        ),
        None => (EnvFilter::new(level), if quiet { "error" } else { "warn" }, None),
    };
    for target in bde_engine::QUIET_LOG_TARGETS {
        filter = filter.add_directive(format!("{target}={cap}").parse().expect("a valid directive"));
    }
    (filter, complaint)
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("bde-heat: writing the output: {e}");
    }
}

/// The man page of bde-heat, or of one of its commands.
fn man_page(command: Option<&str>) -> Result<String, Failure> {
    let mut cmd = cli_command();
    cmd.build();
    let page = match command {
        None => cmd,
        Some(name) => cmd.find_subcommand(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = cmd
                .get_subcommands()
                .map(|s| s.get_name())
                .filter(|n| *n != "help")
                .collect();
            bad_input(format!("no command {:?}: one of {}", name, names.join(", ")))
        })?,
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| bad_input(e.to_string()))?;
    Ok(String::from_utf8_lossy(&roff).into_owned())
}

/// A shell's completion script.
fn completion_script(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cli_command(), "bde-heat", &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

/// What the command does: an engine action, or a read.
enum Verb {
    Act(Action),
    Status,
    Check,
    /// What an apply would change, nothing changed.
    Plan,
    /// The create's checks, nothing made.
    Validate,
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
    let cli = match parse_command_line() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let env_filter = std::env::var("BDE_HEAT_LOG").ok();
    let (filter, complaint) = log_filter(env_filter.as_deref(), cli.verbose, cli.quiet);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Some(complaint) = complaint {
        tracing::warn!("{complaint}");
    }
    let (args, verb) = match cli.command {
        Command::Completion { shell } => {
            emit(&completion_script(shell));
            return ExitCode::SUCCESS;
        }
        Command::Timeline { file, state, svg } => {
            return match timeline(&file, state.as_deref(), svg.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(f) => {
                    eprintln!("bde-heat timeline: {}", escape(&f.message));
                    ExitCode::from(f.code)
                }
            };
        }
        Command::Man { command } => {
            return match man_page(command.as_deref()) {
                Ok(page) => {
                    emit(&page);
                    ExitCode::SUCCESS
                }
                Err(f) => {
                    eprintln!("bde-heat man: {}", escape(&f.message));
                    ExitCode::from(f.code)
                }
            };
        }
        Command::Create(a) => (a, Verb::Act(Action::Create)),
        Command::Validate(a) => (a, Verb::Validate),
        Command::Adopt(a) => (a, Verb::Act(Action::Adopt)),
        Command::Status(a) => (a, Verb::Status),
        Command::Delete(a) => (a, Verb::Act(Action::Delete)),
        Command::Check(a) => (a, Verb::Check),
        Command::Repair(a) => (a, Verb::Act(Action::Repair)),
        Command::Apply { args, dry_run: true } => (args, Verb::Plan),
        Command::Apply { args, dry_run: false } => (args, Verb::Act(Action::Apply)),
        Command::Stop(a) => (a, Verb::Act(Action::Stop)),
        Command::Start(a) => (a, Verb::Act(Action::Start)),
        Command::Resize { args, group, count } => (args, Verb::Act(Action::Resize { group, count })),
    };
    if args.output.is_some() {
        tracing::warn!("--output is deprecated: use --format (-f) table|json|yaml|value");
    }
    let what = match &verb {
        Verb::Act(a) => a.verb(),
        Verb::Status => "status",
        Verb::Check => "check",
        Verb::Plan => "apply",
        Verb::Validate => "validate",
    };
    tokio::select! {
        result = run(&verb, &args, cli.quiet) => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => {
                eprintln!("bde-heat {what}: {}", escape(&f.message));
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
    let mut spec = parse_spec(&text, path.parent().unwrap_or(Path::new(".")))?;
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
/// made text first, so no type error can echo it. `cluster_spec_file` (a BDE spec
/// file, relative to the cluster file's directory) is read into `cluster_spec`.
fn parse_spec(text: &str, dir: &Path) -> Result<ClusterSpec, EngineError> {
    let options = serde_saphyr::options! { with_snippet: false };
    let mut doc: serde_json::Value = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| EngineError::field("file", format!("not valid YAML: {e}")))?;
    if let Some(map) = doc.as_object_mut()
        && let Some(file) = map.remove("cluster_spec_file")
    {
        let Some(name) = file.as_str() else {
            return Err(EngineError::field(
                "cluster_spec_file",
                "must be the path of a BDE spec file",
            ));
        };
        if map.contains_key("cluster_spec") {
            return Err(EngineError::field(
                "cluster_spec_file",
                "give cluster_spec or cluster_spec_file, not both",
            ));
        }
        let path = dir.join(name);
        let content = std::fs::read_to_string(&path)
            .map_err(|e| EngineError::field("cluster_spec_file", format!("{}: {e}", path.display())))?;
        map.insert("cluster_spec".into(), content.into());
    }
    for key in ["password", "vcenter_password", "cluster_password"] {
        if let Some(value) = doc.get_mut(key).filter(|v| !v.is_string() && !v.is_null()) {
            *value = serde_json::Value::String(value.to_string());
        }
    }
    bde_engine::spec_from_value(doc)
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
    state_path_of(&args.file, args.state.as_deref())
}

/// `--state`, or FILE.state.json.
fn state_path_of(file: &Path, state: Option<&Path>) -> PathBuf {
    state.map(Path::to_path_buf).unwrap_or_else(|| {
        let mut p = file.as_os_str().to_owned();
        p.push(".state.json");
        PathBuf::from(p)
    })
}

/// `bde-heat timeline`: the state's node timelines as a table, or drawn into `svg`.
fn timeline(file: &Path, state: Option<&Path>, svg: Option<&Path>) -> Result<(), Failure> {
    let path = state_path_of(file, state);
    if !path.exists() {
        return Err(bad_input(format!(
            "{}: no state: bde-heat has not created or adopted a cluster from {}",
            path.display(),
            file.display()
        )));
    }
    let rows = timeline::from_state(&state_file::read(&path)?);
    let Some(out) = svg else {
        emit(&timeline::table(&rows));
        return Ok(());
    };
    let title = file
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let picture = timeline::svg(&title, &rows).map_err(bad_input)?;
    std::fs::write(out, picture).map_err(|e| bad_input(format!("{}: {e}", out.display())))?;
    eprintln!(
        "bde-heat timeline: {}; drawn in {}",
        timeline::summary(&rows),
        out.display()
    );
    Ok(())
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
    let access = openstack::access().map_err(bad_input)?;
    Ok(Clients::connect(spec, &access).await?)
}

async fn run(verb: &Verb, args: &Args, quiet: bool) -> Result<(), Failure> {
    let format = args.format();
    let selection = Selection::new(&args.columns);
    let spec = load_spec(&args.file, args.credentials.as_deref())?;
    if let Verb::Validate = verb {
        let clients = connect(&spec).await?;
        let checked = bde_engine::check_create(&clients, &spec).await;
        clients.close().await;
        checked?;
        if !quiet {
            eprintln!("bde-heat validate: nothing BDE or Neutron would refuse; nothing was made");
        }
        return Ok(());
    }
    let file = state_file::StateFile::lock(&state_path(args))?;
    let mut state = file.load()?;
    let clients = connect(&spec).await?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut drift = Vec::new();
    let result = async {
        match verb {
            Verb::Check => {
                drift = bde_engine::check(&clients, &spec, &mut state).await?;
                file.save(&state)?;
                return Ok::<(), Failure>(());
            }
            Verb::Status => {
                if !bde_engine::refresh(&clients, &spec, &mut state).await? && state.cluster.is_none() && !quiet {
                    eprintln!(
                        "bde-heat status: bde-heat has not created or adopted cluster {:?} from this file",
                        spec.cluster_name
                    );
                }
                file.save(&state)?;
                return Ok(());
            }
            Verb::Plan => {
                let planned = bde_engine::plan_apply(&clients, &spec, &mut state).await?;
                file.save(&state)?;
                emit(&output::render_changes(&planned, format));
                return Ok(());
            }
            Verb::Act(Action::Apply) if !quiet => {
                let planned = bde_engine::plan_apply(&clients, &spec, &mut state).await?;
                file.save(&state)?;
                if planned.is_empty() {
                    eprintln!("bde-heat apply: the cluster is as the file says; mending drift only");
                }
                for c in &planned {
                    eprintln!(
                        "bde-heat apply: {} {}: {}",
                        c.kind,
                        escape(&c.subject),
                        escape(&c.detail)
                    );
                }
            }
            Verb::Act(_) | Verb::Validate => {}
        }
        let Verb::Act(action) = verb else {
            unreachable!("reads returned above")
        };
        let mut display = progress::Progress::new(std::io::stderr().is_terminal(), quiet || format != Format::Table);
        // Between wiring steps, vCenter tells when a VM changes: its port follows at once.
        let mut watcher = bde_engine::VmWatcher::new();
        let result = loop {
            let outcome = bde_engine::step(&clients, &spec, &mut state, action).await;
            let outcome = bde_engine::ride_out(outcome, &mut state);
            file.save(&state)?;
            let pause = match outcome {
                Ok(Outcome::Done) => {
                    display.finish();
                    // The report shows what is there now: instanceUuids and port ids are
                    // observed, not stored, and a step that had nothing to do read nothing.
                    if state.phase != bde_engine::Phase::Deleted
                        && let Err(e) = bde_engine::refresh(&clients, &spec, &mut state).await
                    {
                        tracing::warn!(error = %e, "the cluster could not be read for the report");
                    }
                    break Ok(());
                }
                // Something changed: the next step may follow almost at once.
                Ok(Outcome::Acted(note)) => {
                    display.update(&state, &note);
                    Duration::from_millis(200)
                }
                Ok(Outcome::Waiting(note)) => {
                    display.update(&state, &note);
                    if state.phase == bde_engine::Phase::Wire {
                        watcher.wait(&clients, &state, Duration::from_secs(1)).await;
                        Duration::ZERO
                    } else {
                        Duration::from_secs(1)
                    }
                }
                Err(e) => {
                    display.finish();
                    break Err(e.into());
                }
            };
            if Instant::now() >= deadline {
                break Err(Failure {
                    code: EXIT_TIMEOUT,
                    message: format!("not done after {} s; run the command again to go on", args.timeout),
                });
            }
            tokio::time::sleep(pause).await;
        };
        watcher.close(&clients).await;
        result
    }
    .await;
    clients.close().await;
    result?;
    if matches!(verb, Verb::Plan) {
        return Ok(());
    }
    let report = bde_engine::report(&spec.cluster_name, &spec.node_groups, &state);
    let checked = matches!(verb, Verb::Check).then_some(drift.as_slice());
    emit(&output::render(&report, checked, format, &selection));
    if !drift.is_empty() {
        return Err(Failure {
            code: EXIT_DRIFT,
            message: format!("{} differences between the cluster and its spec", drift.len()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        cli_command()
            .try_get_matches_from(std::iter::once("bde-heat").chain(args.iter().copied()))
            .and_then(|m| Cli::from_arg_matches(&m))
    }

    fn args_of(cli: Cli) -> Args {
        match cli.command {
            Command::Status(a) | Command::Create(a) | Command::Check(a) => a,
            Command::Resize { args, .. } => args,
            _ => panic!("not a command with a file"),
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        cli_command().debug_assert();
    }

    #[test]
    fn the_file_is_dash_capital_f_and_dash_f_is_the_format() {
        let a = args_of(parse(&["status", "-F", "c.yaml", "-f", "yaml", "-c", "status", "-c", "ip"]).unwrap());
        assert_eq!(a.file, PathBuf::from("c.yaml"));
        assert_eq!(a.format(), Format::Yaml);
        assert_eq!(a.columns, ["status", "ip"]);
        let a = args_of(parse(&["resize", "--file", "c.yaml", "worker", "4", "--format", "value"]).unwrap());
        assert_eq!((a.file.to_str(), a.format()), (Some("c.yaml"), Format::Value));
        assert_eq!(
            args_of(parse(&["create", "--file", "c.yaml"]).unwrap()).format(),
            Format::Table
        );

        let old = parse(&["create", "-f", "c.yaml"]).err().expect("-f takes a format");
        assert_eq!(old.kind(), clap::error::ErrorKind::InvalidValue);
        let unknown = parse(&["status", "-F", "c.yaml", "-c", "password"])
            .err()
            .expect("an unknown column");
        assert_eq!(unknown.kind(), clap::error::ErrorKind::InvalidValue);
        assert_eq!(unknown.exit_code(), i32::from(EXIT_BAD_INPUT));
    }

    #[test]
    fn output_json_is_a_hidden_alias_of_format_json() {
        let a = args_of(parse(&["create", "--file", "c.yaml", "--output", "json"]).unwrap());
        assert_eq!(a.format(), Format::Json);
        let a = args_of(parse(&["check", "--output", "text", "-F", "c.yaml"]).unwrap());
        assert_eq!(a.format(), Format::Table);
        assert!(parse(&["status", "-F", "c.yaml", "--output", "json", "-f", "yaml"]).is_err());
        let help = cli_command()
            .find_subcommand_mut("create")
            .unwrap()
            .render_help()
            .to_string();
        assert!(!help.contains("--output"), "{help}");
    }

    #[test]
    fn verbose_and_quiet_are_global() {
        let cli = parse(&["-vv", "status", "-F", "c.yaml"]).unwrap();
        assert_eq!((cli.verbose, cli.quiet), (2, false));
        let cli = parse(&["status", "-F", "c.yaml", "-q", "-v"]).unwrap();
        assert_eq!((cli.verbose, cli.quiet), (1, true));
        let (filter, _) = log_filter(None, cli.verbose, cli.quiet);
        assert!(filter.to_string().split(',').any(|d| d == "error"), "-q wins: {filter}");
    }

    #[test]
    fn the_log_level_comes_from_the_flags_unless_bde_heat_log_is_set() {
        let shown = |env: Option<&str>, verbose: u8, quiet: bool| {
            let (filter, complaint) = log_filter(env, verbose, quiet);
            (filter.to_string(), complaint)
        };
        for (verbose, level) in [(0, "warn"), (1, "info"), (2, "debug"), (3, "trace"), (9, "trace")] {
            let (filter, complaint) = shown(None, verbose, false);
            assert!(filter.split(',').any(|d| d == level), "{verbose}: {filter}");
            assert!(
                filter.contains("hyper=warn") && filter.contains("reqwest=warn"),
                "{filter}"
            );
            assert!(complaint.is_none());
        }
        let (filter, _) = shown(None, 0, true);
        assert!(filter.split(',').any(|d| d == "error"), "{filter}");
        assert!(filter.contains("hyper=error") && !filter.contains("=warn"), "{filter}");

        let (filter, complaint) = shown(Some("bde_engine=debug"), 0, true);
        assert!(
            filter.contains("bde_engine=debug") && !filter.split(',').any(|d| d == "error"),
            "{filter}"
        );
        assert!(
            filter.contains("hyper=warn"),
            "the HTTP libraries stay at warn: {filter}"
        );
        assert!(complaint.is_none());
        let (filter, _) = shown(Some("trace"), 0, false);
        assert!(
            filter.contains("hyper=warn") && filter.contains("rustls=warn"),
            "{filter}"
        );
        let (filter, _) = shown(Some(""), 1, false);
        assert!(
            filter.split(',').any(|d| d == "info"),
            "an empty BDE_HEAT_LOG is unset: {filter}"
        );
        let (filter, complaint) = shown(Some("bde_engine=loud"), 1, false);
        assert!(filter.split(',').any(|d| d == "info"), "{filter}");
        assert!(complaint.unwrap().contains("BDE_HEAT_LOG"));
    }

    /// Every variable the sources read is named in --help.
    #[test]
    fn help_names_every_environment_variable_read_and_every_exit_code() {
        let sources = [
            include_str!("main.rs"),
            include_str!("openstack.rs"),
            include_str!("progress.rs"),
            include_str!("state_file.rs"),
            include_str!("output.rs"),
        ];
        let mut read = Vec::new();
        for source in sources {
            for opener in ["var(\"", "env(\"", "env = \"", "try_from_env(\""] {
                for (at, _) in source.match_indices(opener) {
                    let rest = &source[at + opener.len()..];
                    let name = &rest[..rest.find('"').unwrap()];
                    if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !name.is_empty() {
                        read.push(name.to_string());
                    }
                }
            }
        }
        for expected in [
            "BDE_HEAT_LOG",
            "BDE_HEAT_CREDENTIALS",
            "OS_CLOUD",
            "OS_CLIENT_SECURE_FILE",
            "VCENTER_CA_FILE",
            "HOME",
        ] {
            assert!(
                read.iter().any(|r| r == expected),
                "{expected} not found among {read:?}"
            );
        }
        // The OpenStack variables are made from the keys they set.
        read.extend(
            openstack::AUTH_KEYS
                .iter()
                .chain(openstack::CLOUD_KEYS)
                .map(|key| format!("OS_{}", key.to_uppercase())),
        );
        let help = cli_command().render_help().to_string();
        for name in &read {
            assert!(help.contains(name.as_str()), "--help does not name {name}");
        }
        for code in [
            0,
            EXIT_BAD_INPUT,
            EXIT_REMOTE,
            EXIT_TIMEOUT,
            EXIT_DRIFT,
            EXIT_NOT_OURS,
            EXIT_BUSY,
            EXIT_INTERRUPTED,
        ] {
            assert!(
                help.contains(&format!("\n  {code} ")),
                "--help does not give exit code {code}"
            );
        }
        let create = cli_command()
            .find_subcommand_mut("create")
            .unwrap()
            .render_help()
            .to_string();
        assert!(
            create.contains("Exit codes:") && create.contains("OS_CLOUD"),
            "{create}"
        );
    }

    #[test]
    fn completion_and_man_pages_are_printed() {
        let bash = completion_script(clap_complete::Shell::Bash);
        assert!(bash.contains("bde-heat") && bash.contains("--format") && bash.contains("--file"));
        assert!(completion_script(clap_complete::Shell::Zsh).contains("#compdef bde-heat"));
        assert!(completion_script(clap_complete::Shell::Fish).contains("complete -c bde-heat"));
        let page = man_page(None).unwrap();
        assert!(
            page.contains(".TH bde-heat 1") && page.contains("BDE_HEAT_LOG"),
            "{page}"
        );
        let create = man_page(Some("create")).unwrap();
        assert!(
            create.contains(".TH bde-heat-create 1") && create.contains("\\-\\-file"),
            "{create}"
        );
        assert_eq!(man_page(Some("nope")).unwrap_err().code, EXIT_BAD_INPUT);
    }
}
