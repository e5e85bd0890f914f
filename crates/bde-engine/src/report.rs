//! What a caller shows: the cluster and every node, with no secret.

use serde::Serialize;

use crate::state::State;

/// The result shape of `create`, `status` and `delete`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    /// The cluster name.
    pub cluster: String,
    /// BDE's status, or the engine's phase when BDE has none.
    pub status: String,
    /// Where the last step left things: what it did or awaits, or why it failed.
    pub status_reason: Option<String>,
    /// VMs reset in all.
    pub resets: u32,
    /// The portgroup.
    pub portgroup: Option<String>,
    /// Every node group: its nodes, the size asked for, and the file's size when they differ.
    pub groups: Vec<GroupReport>,
    /// Every node.
    pub nodes: Vec<NodeReport>,
}

/// One node group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    /// Its name.
    pub name: String,
    /// Nodes known in it.
    pub nodes: usize,
    /// The size the user last asked for.
    pub desired: Option<u32>,
    /// The spec file's size, when a resize made it differ from `desired`.
    pub file_says: Option<u32>,
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
    /// Every NIC on the cluster's networks (one per network), in device order, with its port.
    pub nics: Vec<NicReport>,
    /// Its address.
    pub ip: Option<String>,
    /// BDE's node status.
    pub status: String,
    /// Resets made.
    pub resets: usize,
    /// When things happened (unix seconds).
    pub timeline: NodeTimeline,
}

/// One NIC of a node.
#[derive(Debug, Clone, Serialize)]
pub struct NicReport {
    /// Its MAC.
    pub mac: String,
    /// Its port.
    pub port_id: Option<String>,
    /// Its port's address: the one NSX-v's DHCP serves it, or BDE's static one.
    pub ip: Option<String>,
}

/// When the product saw what happen to a node (unix seconds).
#[derive(Debug, Clone, Serialize)]
pub struct NodeTimeline {
    /// First seen in vCenter (cloned).
    pub cloned: Option<f64>,
    /// First seen powered on.
    pub powered_on: Option<f64>,
    /// Its port was made.
    pub port_created: Option<f64>,
    /// Its address was first seen.
    pub address_seen: Option<f64>,
    /// It was reset.
    pub resets: Vec<f64>,
}

/// The report of a state, for the spec's cluster name and node groups.
pub fn report(cluster_name: &str, file_groups: &[crate::spec::NodeGroupSpec], state: &State) -> ClusterReport {
    let mut groups: Vec<GroupReport> = file_groups
        .iter()
        .map(|g| g.name.clone())
        .chain(state.desired.keys().cloned())
        .chain(state.nodes.values().map(|n| n.group.clone()))
        .filter(|g| !g.is_empty())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|name| {
            let desired = state.desired_size(file_groups, &name);
            let file = file_groups
                .iter()
                .find(|g| g.name == name)
                .map(|g| g.instance_num as u32);
            GroupReport {
                nodes: state.nodes.values().filter(|n| n.group == name).count(),
                file_says: file.filter(|f| Some(*f) != desired),
                desired,
                name,
            }
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    ClusterReport {
        cluster: state.owned_cluster().unwrap_or(cluster_name).to_string(),
        status: state
            .cluster_status
            .filter(|_| !matches!(state.phase, crate::state::Phase::Deleted))
            .map(|s| s.name())
            .unwrap_or_else(|| format!("{:?}", state.phase).to_uppercase()),
        status_reason: state.status_reason.clone(),
        resets: state.resets,
        portgroup: state.portgroup.as_ref().map(|p| p.name.clone()),
        groups,
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
                    nics: n
                        .macs
                        .iter()
                        .map(|m| NicReport {
                            mac: m.clone(),
                            port_id: n.ports.get(m).map(|p| p.id.clone()),
                            ip: n.ports.get(m).and_then(|p| p.ip.clone()),
                        })
                        .collect(),
                    ip: n.ip.clone(),
                    status: n.status.clone(),
                    resets: n.resets.len(),
                    timeline: NodeTimeline {
                        cloned: n.seen_at,
                        powered_on: n.powered_on_at,
                        port_created: n.port_created_at,
                        address_seen: n.address_at,
                        resets: n.resets.clone(),
                    },
                }
            })
            .collect(),
    }
}
