//! What a caller shows: the cluster and every node, with no secret.

use serde::Serialize;

use crate::State;

/// The result shape of `create`, `status` and `delete`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    /// The cluster name.
    pub cluster: String,
    /// BDE's status, or the engine's phase when BDE has none.
    pub status: String,
    /// VMs reset in all.
    pub resets: u32,
    /// The portgroup.
    pub portgroup: Option<String>,
    /// Every node.
    pub nodes: Vec<NodeReport>,
}

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// VM name.
    pub name: String,
    /// Node group.
    pub group: String,
    /// `vm-N`.
    pub moid: Option<String>,
    /// `config.instanceUuid`.
    pub instance_uuid: Option<String>,
    /// First NIC's MAC.
    pub mac: Option<String>,
    /// Its port.
    pub port_id: Option<String>,
    /// Its address.
    pub ip: Option<String>,
    /// BDE's node status.
    pub status: String,
    /// Resets made.
    pub resets: usize,
    /// When things happened (unix seconds).
    pub timeline: NodeTimeline,
}

/// When the product saw what happen to a node (unix seconds).
#[derive(Debug, Clone, Serialize)]
pub struct NodeTimeline {
    /// First seen in vCenter (cloned).
    pub cloned: Option<f64>,
    /// Its port was made.
    pub port_created: Option<f64>,
    /// Its address was first seen.
    pub address_seen: Option<f64>,
    /// It was reset.
    pub resets: Vec<f64>,
}

/// The report of a state.
pub fn report(cluster: &str, state: &State) -> ClusterReport {
    ClusterReport {
        cluster: cluster.to_string(),
        status: state
            .cluster_status
            .clone()
            .filter(|_| !matches!(state.phase, crate::Phase::Deleted))
            .unwrap_or_else(|| format!("{:?}", state.phase).to_uppercase()),
        resets: state.resets,
        portgroup: state.portgroup.clone(),
        nodes: state
            .nodes
            .iter()
            .map(|(name, n)| {
                let mac = n.macs.first().cloned();
                NodeReport {
                    name: name.clone(),
                    group: n.group.clone(),
                    moid: n.vm.clone(),
                    instance_uuid: n.instance_uuid.clone(),
                    port_id: mac.as_ref().and_then(|m| n.ports.get(m)).map(|p| p.id.clone()),
                    mac,
                    ip: n.ip.clone(),
                    status: n.status.clone(),
                    resets: n.resets.len(),
                    timeline: NodeTimeline {
                        cloned: n.seen_at,
                        port_created: n.port_created_at,
                        address_seen: n.address_at,
                        resets: n.resets.clone(),
                    },
                }
            })
            .collect(),
    }
}
