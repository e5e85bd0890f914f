//! Day 2: stop, start and resize, as steps. Start and resize hand over to the
//! wiring poll (new VMs get their ports, stuck ones are reset, ports of VMs
//! BDE removed go); stop follows BDE's task.

use crate::state::{Phase, State};
use crate::{Clients, EngineError, Outcome, ValidSpec, wire};

/// What to do to a running cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Power the VMs off (ports are kept).
    Stop,
    /// Power them on again and wait for every address.
    Start,
    /// Set a node group's VM count.
    Resize {
        /// The group.
        group: String,
        /// The new total.
        count: u32,
    },
}

/// One bounded step of a change; call again until `Outcome::Done`.
pub async fn change_step(
    c: &Clients,
    spec: &ValidSpec,
    state: &mut State,
    change: &Change,
) -> Result<Outcome, EngineError> {
    match state.phase {
        Phase::Ready | Phase::Stopped if state.change_task.is_none() => start_change(c, spec, state, change).await,
        Phase::Stopping => {
            let task = state.change_task.clone().expect("set with the phase");
            let read = c.bde.task(task.id).await?;
            match read.status.as_str() {
                "COMPLETED" => {
                    wire::observe(c, spec, state).await?;
                    state.phase = Phase::Stopped;
                    state.change_task = None;
                    Ok(Outcome::Done)
                }
                "FAILED" | "STOPPED" | "ABANDONED" => {
                    state.change_task = None;
                    state.phase = Phase::Ready;
                    Err(EngineError::Failed(
                        read.error_message.unwrap_or_else(|| "the stop failed".into()),
                    ))
                }
                _ => Ok(Outcome::Pending(format!(
                    "BDE is stopping the VMs ({}%)",
                    (read.progress * 100.0) as u32
                ))),
            }
        }
        Phase::Wire => {
            let outcome = wire::wire_step(c, spec, state).await;
            if matches!(outcome, Ok(Outcome::Done) | Err(_)) {
                state.change_task = None;
            }
            outcome
        }
        other => Err(EngineError::Remote(format!(
            "the cluster is not ready for a change ({other:?}): create it first or wait for it"
        ))),
    }
}

async fn start_change(
    c: &Clients,
    spec: &ValidSpec,
    state: &mut State,
    change: &Change,
) -> Result<Outcome, EngineError> {
    let name = &spec.cluster_name;
    let task = match change {
        Change::Stop => c.bde.cluster_action(name, "stop").await,
        Change::Start => c.bde.cluster_action(name, "start").await,
        Change::Resize { group, count } => {
            if !spec.node_groups.is_empty() && !spec.node_groups.iter().any(|g| &g.name == group) {
                return Err(EngineError::field(
                    "node_groups",
                    format!("the cluster has no node group {group:?}"),
                ));
            }
            c.bde.resize(name, group, *count).await
        }
    };
    let task = match task {
        Ok(t) => t,
        // Already where it should be: nothing to do.
        Err(e) if matches!(e.code(), Some("CLUSTER.IS_STOPPED")) && *change == Change::Stop => {
            return Ok(Outcome::Done);
        }
        Err(e) if matches!(e.code(), Some("CLUSTER.IS_RUNNING")) && *change == Change::Start => {
            return Ok(Outcome::Done);
        }
        // BDE unreachable: the caller rides the outage out and the step asks again.
        Err(e) if bde_transport::Transient::is_transient(&e) => return Err(e.into()),
        Err(e) => return Err(EngineError::Failed(e.to_string())),
    };
    tracing::info!(cluster = %name, ?change, task = task.id, "BDE task started");
    state.change_task = Some(task.clone());
    if *change == Change::Stop {
        state.phase = Phase::Stopping;
    } else {
        state.task = Some(task);
        state.phase = Phase::Wire;
    }
    Ok(Outcome::Pending(format!("BDE accepted: {change:?}")))
}
