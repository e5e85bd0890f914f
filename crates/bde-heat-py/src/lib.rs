//! `bde_heat._engine`: the engine's steps for the Heat plugin.
//!
//! The spec (the resource's properties) and the engine's state (kept by Heat
//! in resource data) cross as JSON text; so does the OpenStack access Heat
//! gives each step (a token and Neutron's endpoint, fresh every time).
//! Failures are exceptions of the `BdeError` tree (see `errors.rs`). Each
//! call does one bounded step with the GIL released, so a poll never stalls
//! heat-engine. BDE and vCenter sessions are kept per process and reused.

#![deny(unsafe_code)]

mod errors;
mod runtime;

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::prelude::*;
use secrecy::SecretString;
use serde::Deserialize;

use bde_engine::{Action, Clients, ClusterSpec, EngineError, OpenStackAccess, State, TlsOptions, ValidSpec};

/// The stack user's access to Neutron, from Heat's context.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Access {
    token: SecretString,
    network_endpoint: String,
    /// CA bundle for Neutron's certificate (Heat's `[clients_neutron] ca_file`).
    #[serde(default)]
    ca_file: Option<String>,
    /// Heat's `[clients_neutron] insecure`.
    #[serde(default)]
    insecure: bool,
}

fn parse_access(json: &str) -> Result<OpenStackAccess, EngineError> {
    // serde's message could quote the token: say only what is wrong.
    let a: Access = serde_json::from_str(json)
        .map_err(|_| EngineError::field("access", "expected {token, network_endpoint[, ca_file, insecure]}"))?;
    Ok(OpenStackAccess::Token {
        token: a.token,
        network_endpoint: a.network_endpoint,
        tls: TlsOptions {
            ca_file: a.ca_file.map(Into::into),
            insecure: a.insecure,
        },
    })
}

/// The properties as a spec; a wrong shape names its field.
fn parse_spec(spec_json: &str) -> Result<ClusterSpec, EngineError> {
    let value = serde_json::from_str(spec_json).map_err(|e| EngineError::field("properties", e.to_string()))?;
    bde_engine::spec_from_value(value)
}

/// Where the operator's settings come from: the credentials file and the endpoint allow-list.
#[derive(Clone, Copy)]
struct Operator<'a> {
    credentials_file: Option<&'a str>,
    /// `[bde_heat] allowed_endpoints`; empty: the credentials file's endpoints.
    allowed_endpoints: &'a [String],
}

/// Parses and checks a spec locally: the operator's allowed endpoints, then credentials
/// from the operator's file.
fn valid_spec(spec_json: &str, operator: Operator<'_>) -> Result<ValidSpec, EngineError> {
    let mut spec = parse_spec(spec_json)?;
    let credentials = match operator.credentials_file.filter(|p| !p.is_empty()) {
        Some(path) => Some(bde_engine::Credentials::load(std::path::Path::new(path))?),
        None => None,
    };
    let allowed = match (operator.allowed_endpoints, &credentials) {
        ([], Some(c)) => Some(c.endpoints()),
        ([], None) => None,
        (list, _) => Some(list.to_vec()),
    };
    if let Some(allowed) = allowed {
        bde_engine::check_endpoints(&spec, &allowed)?;
    }
    if let Some(c) = &credentials {
        c.fill(&mut spec)?;
    }
    bde_engine::validate(&spec)
}

/// The state from Heat's resource data (see `bde_engine::stored`).
fn parse_state(state_json: &str) -> Result<State, EngineError> {
    if state_json.trim().is_empty() {
        return Ok(State::default());
    }
    bde_engine::stored::decode(state_json).map_err(|e| EngineError::field("engine_state", e))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("engine types serialize")
}

/// Runs `f` with the GIL released; a panic becomes `InternalError`, an
/// engine error its exception (carrying the state to save, if any).
fn guarded<T: Send>(
    py: Python<'_>,
    what: &str,
    f: impl FnOnce() -> (Result<T, EngineError>, Option<String>) + Send,
) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok((Ok(v), _)) => Ok(v),
        Ok((Err(e), state)) => Err(errors::to_py(py, &e, state)),
        Err(_) => Err(errors::internal(py, what, None)),
    }
}

/// Checks a spec without any remote call; raises `InvalidInputError` naming each field.
#[pyfunction]
#[pyo3(signature = (spec_json, credentials_file=None, allowed_endpoints=Vec::new()))]
fn validate(
    py: Python<'_>,
    spec_json: &str,
    credentials_file: Option<&str>,
    allowed_endpoints: Vec<String>,
) -> PyResult<()> {
    let operator = Operator {
        credentials_file,
        allowed_endpoints: &allowed_endpoints,
    };
    guarded(py, "validate", || (valid_spec(spec_json, operator).map(|_| ()), None))
}

/// Checks what the spec names in Neutron (network, subnet of that network,
/// security group) with the stack user's access; makes nothing.
#[pyfunction]
#[pyo3(signature = (spec_json, access_json, credentials_file=None, timeout_seconds=30.0, allowed_endpoints=Vec::new()))]
fn validate_neutron(
    py: Python<'_>,
    spec_json: &str,
    access_json: &str,
    credentials_file: Option<&str>,
    timeout_seconds: f64,
    allowed_endpoints: Vec<String>,
) -> PyResult<()> {
    let operator = Operator {
        credentials_file,
        allowed_endpoints: &allowed_endpoints,
    };
    guarded(py, "validate_neutron", || {
        let result = (|| {
            let spec = valid_spec(spec_json, operator)?;
            let access = parse_access(access_json)?;
            runtime::block_on_bounded(timeout_seconds, bde_engine::check_neutron(&access, &spec))
                .unwrap_or_else(|| {
                    Err(EngineError::timeout(format!(
                        "Neutron did not answer within {timeout_seconds} s"
                    )))
                })
                .map(|_| ())
        })();
        (result, None)
    })
}

/// Checks what the spec names from BDE's offer (distro and its roles, app manager,
/// resource pools, datastores) with a BDE login alone; makes nothing.
#[pyfunction]
#[pyo3(signature = (spec_json, credentials_file=None, timeout_seconds=30.0, allowed_endpoints=Vec::new()))]
fn validate_bde(
    py: Python<'_>,
    spec_json: &str,
    credentials_file: Option<&str>,
    timeout_seconds: f64,
    allowed_endpoints: Vec<String>,
) -> PyResult<()> {
    let operator = Operator {
        credentials_file,
        allowed_endpoints: &allowed_endpoints,
    };
    guarded(py, "validate_bde", || {
        let result = (|| {
            let spec = valid_spec(spec_json, operator)?;
            runtime::block_on_bounded(timeout_seconds, bde_engine::check_bde(&spec)).unwrap_or_else(|| {
                Err(EngineError::timeout(format!(
                    "BDE did not answer within {timeout_seconds} s"
                )))
            })
        })();
        (result, None)
    })
}

/// A remote call's value (`None`: its time bound passed) and the state to save
/// (`None`: the inputs did not parse, nothing changed).
type Ran<T> = (Result<Option<T>, EngineError>, Option<String>);

/// What every call that reaches BDE, vCenter and Neutron is given.
struct RemoteCall<'a> {
    spec_json: &'a str,
    state_json: &'a str,
    access_json: &'a str,
    operator: Operator<'a>,
    timeout_seconds: f64,
}

impl RemoteCall<'_> {
    /// Parses the inputs, connects, and runs `work` within the time bound.
    /// The state is handed back on failure too (a step may have made something).
    fn run<T>(
        &self,
        rides_out: bool,
        work: impl AsyncFnOnce(&Clients, &ValidSpec, &mut State) -> Result<T, EngineError>,
    ) -> Ran<T> {
        let mut state = match parse_state(self.state_json) {
            Ok(s) => s,
            Err(e) => return (Err(e), None),
        };
        let inputs =
            valid_spec(self.spec_json, self.operator).and_then(|spec| Ok((spec, parse_access(self.access_json)?)));
        let (spec, access) = match inputs {
            Ok(i) => i,
            Err(e) => return (Err(e), None),
        };
        let done = runtime::block_on_bounded(self.timeout_seconds, async {
            let clients = match Clients::connect_cached(&spec, &access).await {
                Ok(c) => c,
                // An action waits out a BDE or vCenter it cannot log in to; a check reports it.
                Err(e) if rides_out => return bde_engine::ride_out(Err(e), &mut state).map(|_| None),
                Err(e) => return Err(e),
            };
            work(&clients, &spec, &mut state).await.map(Some)
        });
        // The bound passed (`None`): the next poll goes on from the saved state.
        (done.unwrap_or(Ok(None)), Some(bde_engine::stored::encode(&state)))
    }
}

/// One bounded step of `action` (`create`, `adopt`, `delete`, `stop`, `start`,
/// `resize` with `group` and `count`, `repair`, `apply`). Returns
/// `(state_json, done)`; raises a `BdeError` (with `.state` to save) on failure.
#[pyfunction]
#[pyo3(signature = (action, spec_json, state_json, access_json, credentials_file=None, group=None, count=None, timeout_seconds=120.0, allowed_endpoints=Vec::new(), wire_wait_seconds=0.0))]
#[allow(clippy::too_many_arguments)] // mirrors the Python call, keyword by keyword
fn step(
    py: Python<'_>,
    action: &str,
    spec_json: &str,
    state_json: &str,
    access_json: &str,
    credentials_file: Option<&str>,
    group: Option<String>,
    count: Option<u32>,
    timeout_seconds: f64,
    allowed_endpoints: Vec<String>,
    wire_wait_seconds: f64,
) -> PyResult<(String, bool)> {
    let action = Action::parse(action, group, count).map_err(|e| errors::to_py(py, &e, None))?;
    let call = RemoteCall {
        spec_json,
        state_json,
        access_json,
        operator: Operator {
            credentials_file,
            allowed_endpoints: &allowed_endpoints,
        },
        timeout_seconds,
    };
    guarded(py, "step", || {
        let (result, state) = call.run(true, async |c, spec, state| {
            let outcome = bde_engine::step(c, spec, state, &action).await;
            let outcome = bde_engine::ride_out(outcome, state)?;
            wire_on_changes(c, spec, state, &action, outcome, wire_wait_seconds)
                .await
                .map(|o| o.is_done())
        });
        let saved = state.clone().unwrap_or_default();
        (result.map(|done| (saved, done.unwrap_or(false))), state)
    })
}

/// While wiring has nothing to do, waits (up to `seconds` in all) for vCenter to tell
/// that a VM changed and steps again at once: within one of Heat's polls, a port
/// follows its MAC as soon as it appears. Returns the last step's outcome.
async fn wire_on_changes(
    c: &Clients,
    spec: &ValidSpec,
    state: &mut State,
    action: &Action,
    mut outcome: bde_engine::Outcome,
    seconds: f64,
) -> Result<bde_engine::Outcome, EngineError> {
    if seconds <= 0.0 {
        return Ok(outcome);
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let mut watcher = bde_engine::VmWatcher::new();
    while matches!(outcome, bde_engine::Outcome::Waiting(_)) && state.phase == bde_engine::Phase::Wire {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        if watcher
            .wait(c, state, left.min(std::time::Duration::from_secs(1)))
            .await
        {
            outcome = bde_engine::ride_out(bde_engine::step(c, spec, state, action).await, state)?;
        }
    }
    watcher.close(c).await;
    Ok(outcome)
}

/// Compares the live cluster with what was made and asked for. Returns
/// `(state_json, drift_json)`; the drift is a list of `{kind, subject, detail}`.
#[pyfunction]
#[pyo3(signature = (spec_json, state_json, access_json, credentials_file=None, timeout_seconds=120.0, allowed_endpoints=Vec::new()))]
fn check(
    py: Python<'_>,
    spec_json: &str,
    state_json: &str,
    access_json: &str,
    credentials_file: Option<&str>,
    timeout_seconds: f64,
    allowed_endpoints: Vec<String>,
) -> PyResult<(String, String)> {
    let call = RemoteCall {
        spec_json,
        state_json,
        access_json,
        operator: Operator {
            credentials_file,
            allowed_endpoints: &allowed_endpoints,
        },
        timeout_seconds,
    };
    guarded(py, "check", || {
        let (result, state) = call.run(false, async |c, spec, state| bde_engine::check(c, spec, state).await);
        let saved = state.clone().unwrap_or_default();
        let result = result.and_then(|drift| match drift {
            Some(d) => Ok((saved, to_json(&d))),
            None => Err(EngineError::timeout(format!(
                "the check took longer than {timeout_seconds} s"
            ))),
        });
        (result, state)
    })
}

/// Refuses, naming the field and the rule, what BDE cannot change from the properties
/// `before` to `after` (a group holding a master role grown or shrunk): Heat's update
/// checks it before anything changes.
#[pyfunction]
#[pyo3(signature = (before_json, after_json, credentials_file=None, allowed_endpoints=Vec::new()))]
fn check_update(
    py: Python<'_>,
    before_json: &str,
    after_json: &str,
    credentials_file: Option<&str>,
    allowed_endpoints: Vec<String>,
) -> PyResult<()> {
    let operator = Operator {
        credentials_file,
        allowed_endpoints: &allowed_endpoints,
    };
    guarded(py, "check_update", || {
        let result = (|| {
            let before = valid_spec(before_json, operator)?;
            let after = valid_spec(after_json, operator)?;
            let errors = bde_engine::change_errors(&before, &after);
            if errors.is_empty() {
                Ok(())
            } else {
                Err(EngineError::invalid(errors))
            }
        })();
        (result, None)
    })
}

/// The cluster name the properties give, in `cluster_name` or in `cluster_spec`
/// (`None`: Heat names it).
#[pyfunction]
fn named_cluster(py: Python<'_>, spec_json: &str) -> PyResult<Option<String>> {
    guarded(py, "named_cluster", || {
        (parse_spec(spec_json).map(|s| s.cluster_name), None)
    })
}

/// The cluster BDE knows as this state's (`None`: nothing in BDE is its).
#[pyfunction]
fn owned_cluster(py: Python<'_>, state_json: &str) -> PyResult<Option<String>> {
    guarded(py, "owned_cluster", || {
        (
            parse_state(state_json).map(|s| s.owned_cluster().map(str::to_string)),
            None,
        )
    })
}

/// The cluster as the stored state records it (no secret; without instanceUuids
/// and port ids, which are not stored): the engine's report plus `task` (BDE's
/// pending task id) and `bde_cluster_url`.
#[pyfunction]
fn report(py: Python<'_>, spec_json: &str, state_json: &str) -> PyResult<String> {
    guarded(py, "report", || {
        let result = (|| {
            let spec = parse_spec(spec_json)?;
            let state = parse_state(state_json)?;
            let name = spec.cluster_name.clone().unwrap_or_default();
            let groups = spec.node_groups.clone().unwrap_or_default();
            let endpoint = spec.bde_endpoint.clone().unwrap_or_default();
            Ok(report_json(&name, &groups, &bde_engine::bde_url(&endpoint), &state))
        })();
        (result, None)
    })
}

/// The same after a live read of BDE, vCenter and Neutron (nothing remote changes,
/// and the refreshed state is not handed back: a read must not race a step's save).
#[pyfunction]
#[pyo3(signature = (spec_json, state_json, access_json, credentials_file=None, timeout_seconds=120.0, allowed_endpoints=Vec::new()))]
fn live_report(
    py: Python<'_>,
    spec_json: &str,
    state_json: &str,
    access_json: &str,
    credentials_file: Option<&str>,
    timeout_seconds: f64,
    allowed_endpoints: Vec<String>,
) -> PyResult<String> {
    let call = RemoteCall {
        spec_json,
        state_json,
        access_json,
        operator: Operator {
            credentials_file,
            allowed_endpoints: &allowed_endpoints,
        },
        timeout_seconds,
    };
    guarded(py, "live_report", || {
        let (result, _) = call.run(false, async |c, spec, state| {
            bde_engine::refresh(c, spec, state).await?;
            Ok(report_json(
                &spec.cluster_name,
                &spec.node_groups,
                &spec.bde_endpoint,
                state,
            ))
        });
        let result = result.and_then(|report| {
            report.ok_or_else(|| EngineError::timeout(format!("the read took longer than {timeout_seconds} s")))
        });
        (result, None)
    })
}

/// The stored state with its nodes unpacked, for people reading Heat's resource data.
#[pyfunction]
fn readable_state(py: Python<'_>, state_json: &str) -> PyResult<String> {
    guarded(py, "readable_state", || {
        (
            bde_engine::stored::readable(state_json).map_err(|e| EngineError::field("engine_state", e)),
            None,
        )
    })
}

/// The report of `state` as JSON, with BDE's task and the cluster's URL.
fn report_json(spec_name: &str, groups: &[bde_engine::NodeGroupSpec], bde_url: &str, state: &State) -> String {
    let name = state.owned_cluster().unwrap_or(spec_name);
    let mut report = serde_json::to_value(bde_engine::report(name, groups, state)).expect("serializable");
    report["task"] = serde_json::json!(state.pending.as_ref().and_then(|p| p.id).or(state.last_task));
    report["bde_cluster_url"] = serde_json::json!(cluster_url(bde_url, name));
    report.to_string()
}

/// The cluster's resource in BDE's REST API (`base`: BDE's URL).
fn cluster_url(base: &str, cluster_name: &str) -> String {
    format!(
        "{}/serengeti/api/cluster/{cluster_name}",
        base.trim_end_matches('/').trim_end_matches("/serengeti")
    )
}

/// BDE's URL for a spec's endpoint (a bare host means `https://HOST:8443`).
#[pyfunction]
fn bde_url(endpoint: &str) -> String {
    bde_engine::bde_url(endpoint)
}

/// The bounds of the spec's fields as JSON (`{field: {"min", "max"} | {"length"} | {"allowed"}}`),
/// from which the resource's property schema is made.
#[pyfunction]
fn limits() -> String {
    bde_engine::limits::to_json().to_string()
}

/// The defaults the engine takes for fields not given, as JSON by field.
#[pyfunction]
fn defaults() -> String {
    serde_json::Value::Object(
        bde_engine::limits::defaults()
            .into_iter()
            .map(|(field, value)| (field.to_string(), value))
            .collect(),
    )
    .to_string()
}

/// The module: its functions, its exceptions, and Rust's log records handed to Python's logging.
#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // HTTP libraries' debug records can carry headers (a session cookie, a token): they stay
    // at warnings whatever Heat's log level. A second init (imported twice) is ignored.
    let mut logger = pyo3_log::Logger::new(m.py(), pyo3_log::Caching::LoggersAndLevels)?;
    for quiet in bde_engine::QUIET_LOG_TARGETS {
        logger = logger.filter_target(quiet.to_string(), log::LevelFilter::Warn);
    }
    let _ = logger.install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(named_cluster, m)?)?;
    m.add_function(wrap_pyfunction!(check_update, m)?)?;
    m.add_function(wrap_pyfunction!(validate_neutron, m)?)?;
    m.add_function(wrap_pyfunction!(validate_bde, m)?)?;
    m.add_function(wrap_pyfunction!(step, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(owned_cluster, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(live_report, m)?)?;
    m.add_function(wrap_pyfunction!(readable_state, m)?)?;
    m.add_function(wrap_pyfunction!(bde_url, m)?)?;
    m.add_function(wrap_pyfunction!(limits, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    Ok(())
}
