//! The engine's memory between steps: plain serde data the caller keeps
//! (a file for the CLI, Heat's resource data for the plugin). No secrets.

use std::collections::BTreeMap;

use bde_serengeti::TaskRef;
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
    /// Asking BDE for the cluster.
    CreateCluster,
    /// Following BDE's task, wiring each VM, repairing stuck ones.
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

/// Everything the engine remembers about one cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Where things stand.
    pub phase: Phase,
    /// The Neutron network id.
    pub network_id: Option<String>,
    /// The Neutron subnet id.
    pub subnet_id: Option<String>,
    /// Security group ids for the ports.
    pub security_group_ids: Vec<String>,
    /// When the wait for the portgroup began (unix seconds).
    pub portgroup_wait_since: Option<f64>,
    /// The portgroup's name.
    pub portgroup: Option<String>,
    /// The portgroup's key (`dvportgroup-N`), as NICs reference it.
    pub portgroup_key: Option<String>,
    /// The BDE network name.
    pub bde_network: Option<String>,
    /// Whether the product registered that BDE network (and so removes it).
    pub network_created: bool,
    /// A create was sent (or is about to be): adopt the cluster if it exists.
    pub create_requested: bool,
    /// BDE's create task.
    pub task: Option<TaskRef>,
    /// BDE's latest cluster status.
    pub cluster_status: Option<String>,
    /// The vCenter folder BDE put the cluster's VMs in.
    pub folder: Option<String>,
    /// Whether Neutron offers `vnic-index`.
    pub vnic_index: Option<bool>,
    /// Nodes by VM name.
    pub nodes: BTreeMap<String, NodeState>,
    /// Resets made in all.
    pub resets: u32,
    /// BDE's delete task.
    pub delete_task: Option<TaskRef>,
    /// BDE's task of a day-2 change (stop, start, resize).
    pub change_task: Option<TaskRef>,
    /// BDE's create failed (`PROVISION_ERROR`): the next step asks BDE to resume it.
    #[serde(default)]
    pub resume_needed: bool,
    /// Since when a service has been unreachable (unix seconds); see `ride_out`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_since: Option<f64>,
}

/// One node (VM) as the product knows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    /// Its node group.
    pub group: String,
    /// The VM (`vm-N`).
    pub vm: Option<String>,
    /// `config.instanceUuid`.
    pub instance_uuid: Option<String>,
    /// Its NICs' MACs on the cluster's portgroup, in device order.
    pub macs: Vec<String>,
    /// The port per MAC.
    pub ports: BTreeMap<String, PortRecord>,
    /// Its address, as BDE reports it.
    pub ip: Option<String>,
    /// BDE's node status.
    pub status: String,
    /// `poweredOn`, ...
    pub power_state: String,
    /// When it was first seen in vCenter (unix seconds).
    pub seen_at: Option<f64>,
    /// When the last of its ports was made.
    pub port_created_at: Option<f64>,
    /// When it was first seen powered on with all its ports.
    pub waiting_since: Option<f64>,
    /// When its address was first seen.
    pub address_at: Option<f64>,
    /// When it was reset.
    pub resets: Vec<f64>,
    /// When it was last seen with an address: resets before then were for an
    /// earlier boot (`max_resets` counts per wait for an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
}

/// A port the product made (or found) for a NIC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortRecord {
    /// The port id.
    pub id: String,
    /// Its fixed IP.
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
}
