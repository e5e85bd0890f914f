//! Delete: BDE's cluster (retried while BDE says it is busy; 404 means done),
//! then every port the product made for it, then the BDE network if the
//! product registered it and no cluster uses it. Twice is harmless.

use crate::state::{Phase, State};
use crate::{Clients, EngineError, Outcome, ValidSpec};

/// One bounded step of the delete; call again until `Outcome::Done`.
pub async fn delete_step(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Outcome, EngineError> {
    let name = &spec.cluster_name;
    if !matches!(
        state.phase,
        Phase::DeleteCluster | Phase::DeletePorts | Phase::DeleteNetwork | Phase::Deleted
    ) {
        state.phase = Phase::DeleteCluster;
    }
    match state.phase {
        Phase::DeleteCluster => {
            if let Some(task) = &state.delete_task {
                let read = c.bde.task(task.id).await?;
                return match read.status.as_str() {
                    "COMPLETED" => {
                        state.phase = Phase::DeletePorts;
                        Ok(Outcome::Pending("BDE deleted the cluster".into()))
                    }
                    "FAILED" | "STOPPED" | "ABANDONED" => {
                        state.delete_task = None; // a new delete may be asked for
                        Err(EngineError::Failed(
                            read.error_message.unwrap_or_else(|| "the delete failed".into()),
                        ))
                    }
                    _ => Ok(Outcome::Pending(format!(
                        "BDE is deleting the VMs ({}%)",
                        (read.progress * 100.0) as u32
                    ))),
                };
            }
            match c.bde.delete_cluster(name).await {
                Ok(Some(task)) => {
                    tracing::info!(cluster = %name, task = task.id, "BDE delete started");
                    state.delete_task = Some(task);
                    Ok(Outcome::Pending("BDE is deleting the cluster".into()))
                }
                Ok(None) => {
                    state.phase = Phase::DeletePorts;
                    Ok(Outcome::Pending("BDE has no such cluster".into()))
                }
                Err(e) if e.code() == Some("CLUSTER.CANNOT_DELETE") => {
                    Ok(Outcome::Pending(format!("BDE cannot delete yet ({}); waiting", e)))
                }
                Err(e) => Err(e.into()),
            }
        }
        Phase::DeletePorts => {
            delete_ports(c, spec, state).await?;
            state.phase = Phase::DeleteNetwork;
            Ok(Outcome::Pending("ports removed".into()))
        }
        Phase::DeleteNetwork => {
            if state.network_created
                && let Some(net) = &state.bde_network
            {
                match c.bde.delete_network(net).await {
                    Ok(_) => {}
                    // Another cluster uses it: it stays, and is no longer ours to remove.
                    Err(e) if e.code() == Some("NETWORK.NETWORK_IN_USE") => {
                        tracing::info!(network = %net, "BDE network still in use; kept");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            state.phase = Phase::Deleted;
            state.nodes.clear();
            state.cluster_status = None;
            Ok(Outcome::Done)
        }
        _ => Ok(Outcome::Done),
    }
}

/// Removes the ports recorded for the cluster, and any other port on the
/// network that carries the product's owner and the cluster's VM names.
async fn delete_ports(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<(), EngineError> {
    let mut ids: Vec<String> = state
        .nodes
        .values()
        .flat_map(|n| n.ports.values().map(|p| p.id.clone()))
        .collect();
    if let Some(network_id) = &state.network_id {
        let prefix = format!("{}-", spec.cluster_name);
        let found = c
            .neutron
            .list_ports(&[
                ("network_id", network_id.as_str()),
                ("device_owner", spec.device_owner.as_str()),
            ])
            .await?;
        ids.extend(found.into_iter().filter(|p| p.name.starts_with(&prefix)).map(|p| p.id));
    }
    ids.sort();
    ids.dedup();
    for id in &ids {
        c.neutron.delete_port(id).await?;
    }
    for node in state.nodes.values_mut() {
        node.ports.clear();
    }
    tracing::info!(ports = ids.len(), "ports removed");
    Ok(())
}
