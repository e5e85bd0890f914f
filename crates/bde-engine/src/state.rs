//! The engine's memory between steps: plain serde data the caller keeps
//! (a file for the CLI, Heat's resource data for the plugin). No secrets.
//!
//! It records three things: what this product made or adopted (the
//! [`Claim`] on the cluster, the BDE network, the ports), what the user last
//! asked for (`desired` group sizes), and where the current action stands
//! (`phase`, the one `pending` task).

use std::collections::BTreeMap;

use bde_serengeti::ClusterStatus;
use serde::{Deserialize, Serialize};

/// Where a cluster's life stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Remote checks of the spec (network, subnet, security group).
    #[default]
    Validate,
    /// Waiting for NSX-v's portgroup of the network.
    FindPortgroup,
    /// Making sure BDE knows the portgroup as a network.
    RegisterNetwork,
    /// Asking BDE for the cluster (or adopting it).
    CreateCluster,
    /// Following BDE's task, wiring each VM, resetting stuck ones.
    Wire,
    /// Created, wired, every node has its address.
    Ready,
    /// BDE is powering the VMs off.
    Stopping,
    /// The VMs are off; ports are kept.
    Stopped,
    /// Asking BDE to delete the cluster.
    DeleteCluster,
    /// Removing the ports the product made.
    DeletePorts,
    /// Removing the BDE network, if the product made it.
    DeleteNetwork,
    /// Gone.
    Deleted,
}

impl Phase {
    /// True while a create (or adopt) has not reached its cluster yet, or is wiring it.
    pub fn is_creating(self) -> bool {
        matches!(
            self,
            Phase::Validate | Phase::FindPortgroup | Phase::RegisterNetwork | Phase::CreateCluster
        )
    }
}

/// How the product came to own the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// The create is about to be sent; recorded first, so a crash between the
    /// request and the save adopts the cluster (this record is the proof).
    Intended,
    /// BDE accepted the create.
    Requested,
    /// Taken over explicitly (`adopt`).
    Adopted,
}

/// The BDE cluster this state owns, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The cluster's name in BDE.
    pub name: String,
    /// How it became ours.
    pub how: ClaimKind,
}

/// The Neutron ids the spec's names resolved to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeutronIds {
    /// The network's id.
    pub network_id: String,
    /// The subnet's id (the spec's, or the network's first).
    pub subnet_id: String,
    /// The security groups' ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
}

/// NSX-v's portgroup of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortgroupRef {
    /// Its name (`vxw-dvs-...-<network-uuid>`).
    pub name: String,
    /// Its key (`dvportgroup-N`), as NICs reference it.
    pub key: String,
}

/// The BDE network the cluster uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BdeNetwork {
    /// Its name in BDE.
    pub name: String,
    /// Whether this product registered it (and so removes it).
    pub ours: bool,
}

/// A network for other traffic than management (BDE's `HDFS_NETWORK`, `MAPRED_NETWORK`):
/// found, registered and removed as the management network is; every VM gets a NIC
/// and a port on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficNetwork {
    /// BDE's traffic type.
    pub traffic: String,
    /// The Neutron network's id.
    pub network_id: String,
    /// The subnet's id (the spec's, or the network's first).
    pub subnet_id: String,
    /// NSX-v's portgroup, once found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portgroup: Option<PortgroupRef>,
    /// Its BDE network is about to be registered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intended: bool,
    /// Its BDE network, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bde_network: Option<BdeNetwork>,
}

/// What a BDE task was started for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// The cluster's create.
    Create,
    /// A failed create resumed.
    Resume,
    /// Powering the VMs off.
    Stop,
    /// Powering them on.
    Start,
    /// A node group's new size.
    Resize {
        /// The group.
        group: String,
        /// Its new total.
        count: u32,
    },
    /// A node group's VMs given new CPUs and memory, one after another (BDE's scale;
    /// `0` keeps a value).
    Scale {
        /// The group.
        group: String,
        /// CPUs per VM.
        cpus: u32,
        /// Memory per VM, MB.
        memory_mb: u32,
    },
    /// The cluster's and its groups' software configuration sent again (BDE's config update).
    Configure,
    /// Node groups added to the cluster (BDE's expand).
    Expand {
        /// The new groups.
        groups: Vec<String>,
    },
    /// The cluster's delete.
    Delete,
}

/// The one BDE task the current action follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTask {
    /// What it does.
    pub kind: TaskKind,
    /// BDE's task id; `None` when the request's answer was lost and the
    /// cluster's status is followed instead.
    pub id: Option<i64>,
}

/// A VM's power state as vCenter reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PowerState {
    /// Not seen yet.
    #[default]
    Unknown,
    /// Running.
    PoweredOn,
    /// Off.
    PoweredOff,
    /// Suspended.
    Suspended,
}

impl PowerState {
    /// From vCenter's `runtime.powerState`.
    pub fn parse(text: &str) -> Self {
        match text {
            "poweredOn" => PowerState::PoweredOn,
            "poweredOff" => PowerState::PoweredOff,
            "suspended" => PowerState::Suspended,
            _ => PowerState::Unknown,
        }
    }
}

/// Everything the engine remembers about one cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// Where things stand.
    pub phase: Phase,
    /// The cluster this state owns; `None`: nothing in BDE is ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Claim>,
    /// The Neutron ids, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neutron: Option<NeutronIds>,
    /// When the wait for the portgroup began (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portgroup_wait_since: Option<f64>,
    /// The portgroup, once found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portgroup: Option<PortgroupRef>,
    /// The BDE network is about to be registered (recorded first: a crash after
    /// the request still knows the network is ours).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub network_intended: bool,
    /// The BDE network, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bde_network: Option<BdeNetwork>,
    /// The networks of the other traffic types, in the spec's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<TrafficNetwork>,
    /// The BDE task the current action follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingTask>,
    /// The id of the latest BDE task started for this cluster (Heat's `task` attribute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_task: Option<i64>,
    /// BDE's create failed (`PROVISION_ERROR`): the next step asks BDE to resume it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resume_needed: bool,
    /// Node counts the user last asked for, by group (the file's, then any resize).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub desired: BTreeMap<String, u32>,
    /// A digest of the configuration last sent to BDE (at create, or by a config
    /// update); `None`: none sent, or the last update failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configured: Option<String>,
    /// BDE's latest cluster status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_status: Option<ClusterStatus>,
    /// The vCenter folder BDE put the cluster's VMs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Whether Neutron offers `vnic-index`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vnic_index: Option<bool>,
    /// Nodes by VM name.
    pub nodes: BTreeMap<String, NodeState>,
    /// Resets made in all.
    pub resets: u32,
    /// Where the last step left things: what it did or awaits, or why it failed (no secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Since when a service has been unreachable (unix seconds); see `ride_out`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable_since: Option<f64>,
}

impl State {
    /// Every Neutron network the cluster's NICs are on: the management one first.
    pub fn network_ids(&self) -> Vec<&str> {
        self.neutron
            .iter()
            .map(|n| n.network_id.as_str())
            .chain(self.traffic.iter().map(|t| t.network_id.as_str()))
            .collect()
    }

    /// The cluster's name in BDE, if this state owns one.
    pub fn owned_cluster(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.name.as_str())
    }

    /// Everything wiring needs, once the create's first phases set it.
    pub fn placement(&self) -> Option<Placement<'_>> {
        Some(Placement {
            neutron: self.neutron.as_ref()?,
            portgroup: self.portgroup.as_ref()?,
        })
    }

    /// Every port id recorded for the cluster's nodes.
    pub fn port_ids(&self) -> Vec<String> {
        self.nodes
            .values()
            .flat_map(|n| n.ports.values().map(|p| p.id.clone()))
            .collect()
    }

    /// The size the user last asked for of a group: the recorded one, else the spec's.
    pub fn desired_size(&self, groups: &[crate::spec::NodeGroupSpec], group: &str) -> Option<u32> {
        self.desired
            .get(group)
            .copied()
            .or_else(|| groups.iter().find(|g| g.name == group).map(|g| g.instance_num as u32))
    }
}

/// The ids every wiring step needs, borrowed from the state.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    /// Network, subnet, security groups.
    pub neutron: &'a NeutronIds,
    /// The portgroup the NICs are on.
    pub portgroup: &'a PortgroupRef,
}

/// One node (VM) as the product knows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeState {
    /// Its node group.
    pub group: String,
    /// The VM (`vm-N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm: Option<String>,
    /// `config.instanceUuid`. Observed, never stored: vCenter says it at every read
    /// of the VMs, and 1,000 random UUIDs alone would fill Heat's resource data.
    #[serde(skip)]
    pub instance_uuid: Option<String>,
    /// Its NICs' MACs on the cluster's portgroup, in device order.
    pub macs: Vec<String>,
    /// The port per MAC. Observed, never stored: found on the network by MAC at the
    /// first read of the ports after a load (see `observe::needs_port_list`).
    #[serde(skip)]
    pub ports: BTreeMap<String, PortRecord>,
    /// Its address, as BDE reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// BDE's node status.
    pub status: String,
    /// Its power state.
    pub power_state: PowerState,
    /// When it was first seen in vCenter (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<f64>,
    /// When it was first seen powered on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub powered_on_at: Option<f64>,
    /// When the last of its ports was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_created_at: Option<f64>,
    /// When it was first seen powered on with all its ports and no address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<f64>,
    /// When its address was first seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_at: Option<f64>,
    /// When it was reset.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resets: Vec<f64>,
    /// The vCenter task of a reset under way (`task-N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_task: Option<String>,
    /// When it was last seen with an address: resets before then were for an
    /// earlier boot (`max_resets` counts per wait for an address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_addressed: Option<f64>,
}

impl NodeState {
    /// Resets made while waiting for its current address (since it last had one).
    pub fn resets_in_this_wait(&self) -> u32 {
        self.resets
            .iter()
            .filter(|t| self.last_addressed.is_none_or(|a| **t > a))
            .count() as u32
    }

    /// True when every NIC on the portgroup has its port.
    pub fn is_wired(&self) -> bool {
        !self.macs.is_empty() && self.macs.iter().all(|m| self.ports.contains_key(m))
    }
}

/// A port the product made (or found) for a NIC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortRecord {
    /// The port id.
    pub id: String,
    /// Its fixed IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// Unix time in seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resets_since_the_last_address_count_against_max_resets() {
        let mut node = NodeState {
            resets: vec![100.0],
            ..NodeState::default()
        };
        assert_eq!(node.resets_in_this_wait(), 1, "still waiting for its first address");
        node.last_addressed = Some(150.0); // it got one; later stopped and started again
        assert_eq!(node.resets_in_this_wait(), 0);
        node.resets.push(200.0);
        assert_eq!(node.resets_in_this_wait(), 1);
    }

    #[test]
    fn a_state_round_trips_through_json_with_its_claim_and_pending_task() {
        let state = State {
            cluster: Some(Claim {
                name: "c1".into(),
                how: ClaimKind::Requested,
            }),
            pending: Some(PendingTask {
                kind: TaskKind::Resize {
                    group: "worker".into(),
                    count: 3,
                },
                id: Some(7),
            }),
            cluster_status: Some(ClusterStatus::Running),
            ..State::default()
        };
        let text = serde_json::to_string(&state).unwrap();
        assert!(text.contains(r#""cluster_status":"RUNNING""#), "{text}");
        assert_eq!(serde_json::from_str::<State>(&text).unwrap(), state);
    }
}
