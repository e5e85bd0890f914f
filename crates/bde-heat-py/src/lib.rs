//! `bde_heat._engine`: the engine's steps for the Heat plugin.
//!
//! Everything crosses as JSON text: the spec (the resource's properties), the
//! engine's state (kept by Heat in resource data), and the OpenStack access
//! Heat gives each step (a token and Neutron's endpoint, fresh every time).
//! Each call does one bounded step with the GIL released, so a poll never
//! stalls heat-engine. BDE and vCenter sessions are kept per process and
//! reused across steps and resources.

#![deny(unsafe_code)]

mod access;
mod outcome;
mod runtime;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use bde_engine::{Change, Clients, State, ValidSpec};
use outcome::StepResult;

/// Parses and checks a spec locally, filling credentials from the operator's file.
fn valid_spec(spec_json: &str, credentials_file: Option<&str>) -> Result<ValidSpec, StepResult> {
    let mut spec: bde_engine::ClusterSpec = serde_json::from_str(spec_json).map_err(StepResult::bad_json)?;
    if let Some(path) = credentials_file.filter(|p| !p.is_empty()) {
        bde_engine::Credentials::load(std::path::Path::new(path))
            .map_err(StepResult::from)?
            .fill(&mut spec);
    }
    bde_engine::validate(&spec).map_err(StepResult::from)
}

fn parse_state(state_json: &str) -> PyResult<State> {
    if state_json.trim().is_empty() {
        return Ok(State::default());
    }
    serde_json::from_str(state_json).map_err(|e| PyValueError::new_err(format!("engine state: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("engine types serialize")
}

/// Checks a spec without any remote call. Returns the outcome as JSON:
/// `{"status": "done"}` or `{"status": "invalid", "message", "fields": [{field, message}]}`.
#[pyfunction]
#[pyo3(signature = (spec_json, credentials_file=None))]
fn validate(spec_json: &str, credentials_file: Option<&str>) -> String {
    match valid_spec(spec_json, credentials_file) {
        Ok(_) => to_json(&StepResult::done()),
        Err(r) => to_json(&r),
    }
}

/// Checks what the spec names in Neutron (network, subnet of that network,
/// security group) with the stack user's access; makes nothing. Returns the
/// outcome as JSON, like `validate` (`remote` when Neutron could not answer).
#[pyfunction]
#[pyo3(signature = (spec_json, access_json, credentials_file=None, timeout_seconds=30.0))]
fn validate_neutron(
    py: Python<'_>,
    spec_json: &str,
    access_json: &str,
    credentials_file: Option<&str>,
    timeout_seconds: f64,
) -> PyResult<String> {
    let spec = match valid_spec(spec_json, credentials_file) {
        Ok(s) => s,
        Err(r) => return Ok(to_json(&r)),
    };
    let access = access::Access::parse(access_json)?;
    let result = py.detach(|| {
        runtime::block_on_bounded(timeout_seconds, async {
            let neutron = access::neutron(&access).map_err(StepResult::from)?;
            Ok(match bde_engine::check_neutron(&neutron, &spec).await {
                Ok(_) => StepResult::done(),
                Err(e) => e.into(),
            })
        })
    });
    Ok(to_json(&result))
}

/// One bounded step of `action` (`create`, `delete`, `repair`, `stop`, `start`,
/// `resize`; `resize` takes `group` and `count`). Returns `(state_json, outcome_json)`;
/// the state is returned on failure too, since a step may have made something.
#[pyfunction]
#[pyo3(signature = (action, spec_json, state_json, access_json, credentials_file=None, group=None, count=None, timeout_seconds=120.0))]
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
) -> PyResult<(String, String)> {
    let change = match (action, group, count) {
        ("create" | "delete" | "repair", _, _) => None,
        ("stop", _, _) => Some(Change::Stop),
        ("start", _, _) => Some(Change::Start),
        ("resize", Some(group), Some(count)) => Some(Change::Resize { group, count }),
        ("resize", _, _) => return Err(PyValueError::new_err("resize needs group and count")),
        (other, _, _) => return Err(PyValueError::new_err(format!("unknown action {other:?}"))),
    };
    let call = RemoteCall {
        spec_json,
        state_json,
        access_json,
        credentials_file,
        timeout_seconds,
        rides_out: true,
    };
    call.run(py, async |c, spec, state| {
        let outcome = match (action, &change) {
            ("create", _) => bde_engine::create_step(c, spec, state).await,
            ("delete", _) => bde_engine::delete_step(c, spec, state).await,
            ("repair", _) => bde_engine::repair_step(c, spec, state).await,
            (_, Some(change)) => bde_engine::change_step(c, spec, state, change).await,
            _ => unreachable!("matched above"),
        };
        StepResult::from(bde_engine::ride_out(outcome, state))
    })
}

/// Compares the live cluster with the state. Returns `(state_json, outcome_json)`;
/// on success the outcome's `drift` lists the differences (empty: none).
#[pyfunction]
#[pyo3(signature = (spec_json, state_json, access_json, credentials_file=None, timeout_seconds=120.0))]
fn check(
    py: Python<'_>,
    spec_json: &str,
    state_json: &str,
    access_json: &str,
    credentials_file: Option<&str>,
    timeout_seconds: f64,
) -> PyResult<(String, String)> {
    let call = RemoteCall {
        spec_json,
        state_json,
        access_json,
        credentials_file,
        timeout_seconds,
        rides_out: false,
    };
    call.run(py, async |c, spec, state| {
        let drift = match bde_engine::check(c, spec, state).await {
            Ok(d) => d,
            Err(e) => return e.into(),
        };
        match bde_engine::observe(c, spec, state).await {
            Ok(_) => StepResult::done().with_drift(drift),
            Err(e) => e.into(),
        }
    })
}

/// What every call that reaches BDE, vCenter and Neutron is given.
struct RemoteCall<'a> {
    spec_json: &'a str,
    state_json: &'a str,
    access_json: &'a str,
    credentials_file: Option<&'a str>,
    timeout_seconds: f64,
    /// An action waits out a BDE or vCenter it cannot log in to (see `bde_engine::ride_out`);
    /// a check reports it.
    rides_out: bool,
}

impl RemoteCall<'_> {
    /// Parses the inputs, connects, and runs `work` with the GIL released and
    /// within the time bound. Returns `(state_json, outcome_json)`; an invalid
    /// spec is an outcome, not an exception.
    fn run(
        &self,
        py: Python<'_>,
        work: impl AsyncFnOnce(&Clients, &ValidSpec, &mut State) -> StepResult + Send,
    ) -> PyResult<(String, String)> {
        let mut state = parse_state(self.state_json)?;
        let spec = match valid_spec(self.spec_json, self.credentials_file) {
            Ok(s) => s,
            Err(r) => return Ok((to_json(&state), to_json(&r))),
        };
        let access = access::Access::parse(self.access_json)?;
        let result = py.detach(|| {
            runtime::block_on_bounded(self.timeout_seconds, async {
                let clients = match access::clients(&spec, &access).await {
                    Ok(c) => c,
                    Err(e) if self.rides_out => return Ok(bde_engine::ride_out(Err(e), &mut state).into()),
                    Err(e) => return Err(e.into()),
                };
                Ok(work(&clients, &spec, &mut state).await)
            })
        });
        Ok((to_json(&state), to_json(&result)))
    }
}

/// The cluster as the state records it (no secret): the engine's report plus
/// `task` (BDE's latest task id) and `bde_cluster_url`.
#[pyfunction]
fn report(bde_endpoint: &str, cluster_name: &str, state_json: &str) -> PyResult<String> {
    let state = parse_state(state_json)?;
    let mut report = serde_json::to_value(bde_engine::report(cluster_name, &state)).expect("serializable");
    let task = [&state.change_task, &state.delete_task, &state.task]
        .into_iter()
        .find_map(|t| t.as_ref().map(|t| t.id));
    report["task"] = serde_json::json!(task);
    report["bde_cluster_url"] = serde_json::json!(cluster_url(bde_endpoint, cluster_name));
    Ok(report.to_string())
}

/// The cluster's resource in BDE's REST API.
fn cluster_url(bde_endpoint: &str, cluster_name: &str) -> String {
    let base = bde_engine::bde_url(bde_endpoint);
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

/// The module: its functions, and Rust's log records handed to Python's logging.
#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Ignore a second init (the module imported twice in one process).
    let _ = pyo3_log::try_init();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(validate_neutron, m)?)?;
    m.add_function(wrap_pyfunction!(step, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(bde_url, m)?)?;
    Ok(())
}
