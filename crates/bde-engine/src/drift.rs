//! Drift: how the live cluster differs from what the product recorded and
//! what the user last asked for. Pure: `check` is observe + [`diff`].

use std::collections::{BTreeMap, HashSet};

use bde_serengeti::ClusterStatus;
use serde::Serialize;

use crate::observe::{Observed, Seen};
use crate::spec::ValidSpec;
use crate::state::State;

/// The kinds of difference, closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// BDE has no such cluster.
    ClusterMissing,
    /// BDE's status is not `RUNNING`.
    ClusterNotRunning,
    /// A group's size differs from what the user last asked for.
    GroupSize,
    /// A recorded node BDE no longer lists.
    NodeMissing,
    /// A node BDE lists has no VM in vCenter.
    VmMissing,
    /// A VM's NIC has no Neutron port.
    VmWithoutPort,
    /// A port the product made has no VM.
    PortWithoutVm,
    /// A node that had an address has none.
    AddressLost,
    /// A port of the cluster's has other security groups than the spec's.
    PortSecurityGroups,
}

impl DriftKind {
    /// Whether repair mends it (the others are not the product's to mend).
    pub fn is_repairable(self) -> bool {
        matches!(
            self,
            DriftKind::GroupSize
                | DriftKind::VmWithoutPort
                | DriftKind::PortWithoutVm
                | DriftKind::AddressLost
                | DriftKind::PortSecurityGroups
        )
    }
}

impl std::fmt::Display for DriftKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DriftKind::ClusterMissing => "cluster_missing",
            DriftKind::ClusterNotRunning => "cluster_not_running",
            DriftKind::GroupSize => "group_size",
            DriftKind::NodeMissing => "node_missing",
            DriftKind::VmMissing => "vm_missing",
            DriftKind::VmWithoutPort => "vm_without_port",
            DriftKind::PortWithoutVm => "port_without_vm",
            DriftKind::AddressLost => "address_lost",
            DriftKind::PortSecurityGroups => "port_security_groups",
        })
    }
}

/// One difference between what should be and what is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Its kind.
    pub kind: DriftKind,
    /// The cluster, node, group or port concerned.
    pub subject: String,
    /// What was found.
    pub detail: String,
}

fn drift(kind: DriftKind, subject: &str, detail: String) -> Drift {
    Drift {
        kind,
        subject: subject.into(),
        detail,
    }
}

/// Every difference between the observed cluster and the state (with the
/// observation recorded into it) and the sizes the user last asked for.
pub fn diff(spec: &ValidSpec, state: &State, seen: &Observed) -> Vec<Drift> {
    let name = state.owned_cluster().unwrap_or(&spec.cluster_name);
    let cluster = match &seen.cluster {
        Seen::Present(c) => c,
        Seen::Absent => return vec![drift(DriftKind::ClusterMissing, name, "BDE has no such cluster".into())],
        Seen::Unread => return Vec::new(),
    };
    let mut found = Vec::new();
    if cluster.status != ClusterStatus::Running {
        found.push(drift(
            DriftKind::ClusterNotRunning,
            name,
            format!("BDE says {}", cluster.status.name()),
        ));
    }
    for group in &cluster.groups {
        if let Some(want) = state.desired_size(&spec.node_groups, &group.name)
            && group.size != want
        {
            let file = spec
                .node_groups
                .iter()
                .find(|g| g.name == group.name)
                .map(|g| g.instance_num as u32);
            let note = match file {
                Some(f) if f != want => format!(" (resized; the file says {f})"),
                _ => String::new(),
            };
            found.push(drift(
                DriftKind::GroupSize,
                &group.name,
                format!("{} VMs in BDE, {want} asked for{note}", group.size),
            ));
        }
    }
    let bde_nodes: BTreeMap<&str, &crate::observe::BdeNodeView> =
        cluster.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    for node in state.nodes.keys() {
        if !bde_nodes.contains_key(node.as_str()) {
            found.push(drift(
                DriftKind::NodeMissing,
                node,
                "recorded, but BDE no longer lists it".into(),
            ));
        }
    }
    let Some(vms) = &seen.vms else {
        return found;
    };
    let vm_macs: BTreeMap<&str, Vec<&str>> = vms
        .iter()
        .map(|v| (v.name.as_str(), v.nics.iter().map(|(_, m)| m.as_str()).collect()))
        .collect();
    let port_macs: HashSet<&str> = seen.ports.iter().flatten().map(|p| p.mac.as_str()).collect();
    for (node, bde) in &bde_nodes {
        match vm_macs.get(node) {
            None => found.push(drift(
                DriftKind::VmMissing,
                node,
                "BDE lists it, vCenter has no such VM".into(),
            )),
            Some(macs) => {
                if seen.ports.is_some() {
                    for mac in macs.iter().filter(|m| !port_macs.contains(**m)) {
                        found.push(drift(
                            DriftKind::VmWithoutPort,
                            node,
                            format!("NIC {mac} has no Neutron port"),
                        ));
                    }
                }
                let had = state.nodes.get(*node).and_then(|n| n.address_at);
                if bde.ip.is_none() && had.is_some() && cluster.status == ClusterStatus::Running {
                    found.push(drift(DriftKind::AddressLost, node, "had an address, now none".into()));
                }
            }
        }
    }
    for p in ports_with_other_groups(state, seen) {
        found.push(drift(
            DriftKind::PortSecurityGroups,
            &p.name,
            format!("port {} has security groups {:?}", p.id, p.security_groups),
        ));
    }
    let all_macs: HashSet<&str> = vm_macs.values().flatten().copied().collect();
    for p in orphan_ports(spec, name, seen) {
        if !all_macs.contains(p.mac.as_str()) {
            found.push(drift(
                DriftKind::PortWithoutVm,
                &p.name,
                format!("port {} ({}) has no VM", p.id, p.mac),
            ));
        }
    }
    found
}

/// The cluster's recorded ports whose security groups are not the spec's (when the spec names any).
pub(crate) fn ports_with_other_groups<'a>(
    state: &State,
    seen: &'a Observed,
) -> impl Iterator<Item = &'a crate::observe::PortView> {
    let want: Vec<String> = {
        let mut ids = state
            .neutron
            .as_ref()
            .map(|n| n.security_group_ids.clone())
            .unwrap_or_default();
        ids.sort();
        ids
    };
    let ours: HashSet<String> = state.port_ids().into_iter().collect();
    seen.ports.iter().flatten().filter(move |p| {
        let mut have = p.security_groups.clone();
        have.sort();
        !want.is_empty() && ours.contains(&p.id) && have != want
    })
}

/// Ports on the network that this product made for this cluster (its owner,
/// named after the cluster's VMs) and that no VM of the cluster has.
pub(crate) fn orphan_ports<'a>(
    spec: &ValidSpec,
    cluster: &str,
    seen: &'a Observed,
) -> impl Iterator<Item = &'a crate::observe::PortView> {
    let prefix = format!("{cluster}-");
    let macs: HashSet<&str> = seen
        .vms
        .iter()
        .flatten()
        .flat_map(|v| v.nics.iter().map(|(_, m)| m.as_str()))
        .collect();
    let owner = spec.device_owner.clone();
    seen.ports
        .iter()
        .flatten()
        .filter(move |p| p.name.starts_with(&prefix) && p.device_owner == owner && !macs.contains(p.mac.as_str()))
}
