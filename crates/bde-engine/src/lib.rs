//! bde-heat's engine: a cluster's life as resumable, idempotent steps.
//!
//! The caller (the CLI, or the Heat plugin through PyO3) keeps a plain serde
//! [`State`] and calls [`step`] with an [`Action`] until it reports
//! [`Outcome::Done`]. Each step is observe → decide → act → apply:
//! [`observe`](observe::observe) reads what exists (never writes),
//! [`decide`](decide::decide) picks the one next thing to do (pure, table
//! tested), [`act`](act::act) does it, and [`apply`](act::apply) records its
//! effect. A step repeated after a crash looks first, so it never makes
//! anything twice; and nothing is deleted, reset, resized or reported that
//! the state does not record as made or adopted by this product.

mod act;
mod action;
pub mod changes;
mod connect;
mod credentials;
pub mod decide;
pub mod drift;
mod error;
pub mod limits;
mod nsxv;
pub mod observe;
mod outage;
mod outcome;
pub mod preflight;
mod report;
mod spec;
mod state;
pub mod static_ip;
pub mod stored;
mod watch;

pub use action::Action;
pub use bde_transport::TlsOptions;
pub use connect::{
    ApplicationCredential, CallCounts, Clients, Domain, Identity, KeystoneAuth, OpenStackAccess, Project, User,
};
pub use credentials::{CredentialEntry, Credentials, check_endpoints};
pub use drift::{Drift, DriftKind};
pub use error::{EngineError, ErrorKind, FieldError, Service};
pub use observe::{check_bde, check_create, check_neutron};
pub use outage::{OUTAGE_SECONDS, ride_out};
pub use outcome::Outcome;
pub use report::{ClusterReport, GroupReport, NodeReport, NodeTimeline, report};
pub use spec::{
    ClusterSpec, IpMode, NodeGroupSpec, PlacementSpec, RacksSpec, StorageSpec, TrafficSpec, ValidSpec, bde_url,
    change_errors, spec_from_value, validate,
};
pub use state::{Claim, ClaimKind, NodeState, Phase, PowerState, State, TaskKind, TrafficNetwork, now};
pub use watch::VmWatcher;

/// Log targets (HTTP libraries) kept at warnings whatever the log level asked for:
/// their debug and trace records can carry headers, a session cookie or a token.
pub const QUIET_LOG_TARGETS: &[&str] = &[
    "hyper",
    "hyper_util",
    "reqwest",
    "h2",
    "rustls",
    "cookie_store",
    "tower",
];

/// One bounded step of `action`: observe, decide, act, apply. The state is
/// updated even when the step fails (it may have made something).
pub async fn step(c: &Clients, spec: &ValidSpec, state: &mut State, action: &Action) -> Result<Outcome, EngineError> {
    let result = observe_decide_act(c, spec, state, action).await;
    state.status_reason = Some(match &result {
        Ok(Outcome::Acted(note) | Outcome::Waiting(note)) => note.clone(),
        Ok(Outcome::Done) => format!("{} done", action.verb()),
        Err(e) => e.to_string(),
    });
    result
}

async fn observe_decide_act(
    c: &Clients,
    spec: &ValidSpec,
    state: &mut State,
    action: &Action,
) -> Result<Outcome, EngineError> {
    let reads = observe::plan(spec, state, action);
    let seen = observe::observe(c, spec, state, &reads).await?;
    let t = now();
    act::record(state, &seen, t);
    let next = decide::decide(spec, state, &seen, action, t);
    let effect = act::act(c, spec, state, &next).await?;
    act::apply(spec, state, next, effect, now())
}

/// Looks at the live cluster and lists how it differs from what was made and
/// asked for; records what it saw. Changes nothing remote.
pub async fn check(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Vec<Drift>, EngineError> {
    let Some(name) = state.owned_cluster() else {
        return Err(EngineError::not_ours(format!(
            "bde-heat has not created or adopted cluster {:?} from this spec: nothing to check",
            spec.cluster_name
        )));
    };
    let name = name.to_string();
    let seen = read_live(c, spec, state, &name, false).await?;
    Ok(drift::diff(spec, state, &seen))
}

/// Reads the whole live cluster `name` (BDE's view, vCenter's VMs, the network's
/// ports; the spec's Neutron names too with `lookups`) and records it in the state.
async fn read_live(
    c: &Clients,
    spec: &ValidSpec,
    state: &mut State,
    name: &str,
    lookups: bool,
) -> Result<observe::Observed, EngineError> {
    let reads = observe::Reads {
        lookups,
        cluster: Some(name.to_string()),
        vms: true,
        ports: observe::PortsRead::Always,
        ..observe::Reads::default()
    };
    let seen = observe::observe(c, spec, state, &reads).await?;
    act::record(state, &seen, now());
    Ok(seen)
}

/// What an apply of `spec` would change now, read as an apply reads (the spec's
/// Neutron names, the cluster, its VMs and ports); records what it saw and
/// changes nothing remote.
pub async fn plan_apply(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Vec<changes::Change>, EngineError> {
    let Some(name) = state.owned_cluster() else {
        return Ok(changes::changes(spec, state, &observe::Observed::default()));
    };
    let name = name.to_string();
    let seen = read_live(c, spec, state, &name, true).await?;
    Ok(changes::changes(spec, state, &seen))
}

/// Refreshes the state from the live cluster: BDE's nodes, addresses and status,
/// vCenter's VMs and the network's ports (instanceUuids and port ids are not
/// stored, so a report wants this first); `false` when nothing in BDE is this
/// state's to look at. Changes nothing remote.
pub async fn refresh(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<bool, EngineError> {
    let Some(name) = state.owned_cluster() else {
        return Ok(false);
    };
    let name = name.to_string();
    let seen = read_live(c, spec, state, &name, false).await?;
    Ok(!matches!(seen.cluster, observe::Seen::Absent))
}
