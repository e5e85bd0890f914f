//! Check and repair: compare the live cluster (BDE's status and nodes,
//! vCenter's VMs and NICs, Neutron's ports) with what the product recorded
//! and the spec asks for; repair wires VMs without ports, removes ports
//! without VMs, resets stuck VMs, and resizes groups back to the spec.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::state::{Phase, State};
use crate::{Clients, EngineError, Outcome, ValidSpec, wire};

/// One difference between what should be and what is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// `cluster_not_running`, `node_missing`, `vm_missing`, `vm_without_port`,
    /// `port_without_vm`, `address_lost`, `group_size`.
    pub kind: String,
    /// The cluster, node, group or port concerned.
    pub subject: String,
    /// What was found.
    pub detail: String,
}

fn drift(kind: &str, subject: &str, detail: String) -> Drift {
    Drift {
        kind: kind.into(),
        subject: subject.into(),
        detail,
    }
}

/// Looks at everything live and lists each difference. Changes nothing remote.
pub async fn check(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Vec<Drift>, EngineError> {
    let name = spec.cluster_name.clone();
    let mut found = Vec::new();
    let Some(cluster) = c.bde.cluster(&name, true).await? else {
        return Ok(vec![drift("cluster_missing", &name, "BDE has no such cluster".into())]);
    };
    let status = cluster.status.name();
    if status != "RUNNING" {
        found.push(drift("cluster_not_running", &name, format!("BDE says {status}")));
    }
    let bde_nodes: BTreeMap<String, Option<String>> = cluster
        .node_groups
        .iter()
        .flatten()
        .flat_map(|g| g.instances.iter().flatten())
        .map(|n| {
            let ip = n
                .addresses()
                .into_iter()
                .find(|a| *a != bde_serengeti::NO_ADDRESS)
                .map(str::to_string);
            (n.name.clone(), ip)
        })
        .collect();
    for group in cluster.node_groups.iter().flatten() {
        if let Some(want) = spec.node_groups.iter().find(|g| g.name == group.name)
            && i64::from(group.instance_num) != want.instance_num
        {
            found.push(drift(
                "group_size",
                &group.name,
                format!("{} VMs in BDE, the spec says {}", group.instance_num, want.instance_num),
            ));
        }
    }
    for node in state.nodes.keys() {
        if !bde_nodes.contains_key(node) {
            found.push(drift(
                "node_missing",
                node,
                "recorded, but BDE no longer lists it".into(),
            ));
        }
    }
    let folder = state.folder.clone().map(|f| bde_vsphere::MoRef::new("Folder", &f));
    let vms = c.vc.vms(folder.as_ref()).await?;
    let prefix = format!("{name}-");
    let key = state.portgroup_key.clone().unwrap_or_default();
    let vm_macs: BTreeMap<&str, Vec<&str>> = vms
        .iter()
        .filter(|v| v.name.starts_with(&prefix))
        .map(|v| {
            let macs = v
                .nics
                .iter()
                .filter(|n| n.portgroup_key.as_deref() == Some(key.as_str()))
                .map(|n| n.mac.as_str());
            (v.name.as_str(), macs.collect())
        })
        .collect();
    let network_id = state.network_id.clone().unwrap_or_default();
    let ports = c.neutron.list_ports(&[("network_id", network_id.as_str())]).await?;
    let port_macs: HashSet<&str> = ports.iter().map(|p| p.mac_address.as_str()).collect();
    for (node, ip) in &bde_nodes {
        match vm_macs.get(node.as_str()) {
            None => found.push(drift("vm_missing", node, "BDE lists it, vCenter has no such VM".into())),
            Some(macs) => {
                for mac in macs.iter().filter(|m| !port_macs.contains(**m)) {
                    found.push(drift("vm_without_port", node, format!("NIC {mac} has no Neutron port")));
                }
                let recorded = state.nodes.get(node).and_then(|n| n.ip.clone());
                if ip.is_none() && recorded.is_some() && status == "RUNNING" {
                    found.push(drift(
                        "address_lost",
                        node,
                        format!("had {}, now none", recorded.unwrap_or_default()),
                    ));
                }
            }
        }
    }
    let all_macs: HashSet<&str> = vm_macs.values().flatten().copied().collect();
    for p in ports
        .iter()
        .filter(|p| p.name.starts_with(&prefix) && p.device_owner == spec.device_owner)
    {
        if !all_macs.contains(p.mac_address.as_str()) {
            found.push(drift(
                "port_without_vm",
                &p.name,
                format!("port {} ({}) has no VM", p.id, p.mac_address),
            ));
        }
    }
    Ok(found)
}

/// One bounded repair step; call again until `Outcome::Done`.
pub async fn repair_step(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Outcome, EngineError> {
    let creating = matches!(
        state.phase,
        Phase::Validate | Phase::FindPortgroup | Phase::RegisterNetwork | Phase::CreateCluster
    ) || (state.phase == Phase::Wire && state.change_task.is_none());
    if creating {
        // An interrupted create (a crash, a failure since mended): repairing it is finishing it.
        return match crate::create_step(c, spec, state).await? {
            Outcome::Done => Ok(Outcome::Pending("created; checking it".into())),
            pending => Ok(pending),
        };
    }
    if state.change_task.is_some() {
        // A resize back to the spec is under way: follow it like any change; once it
        // is done, look again (another group may need its resize too).
        let outcome = wire::wire_step(c, spec, state).await;
        if matches!(outcome, Ok(Outcome::Done) | Err(_)) {
            state.change_task = None;
        }
        return match outcome {
            Ok(Outcome::Done) => Ok(Outcome::Pending("resized; checking the other groups".into())),
            other => other,
        };
    }
    let found = check(c, spec, state).await?;
    if found.is_empty() {
        state.phase = Phase::Ready;
        return Ok(Outcome::Done);
    }
    if let Some(d) = found.iter().find(|d| d.kind == "group_size") {
        let want = spec
            .node_groups
            .iter()
            .find(|g| g.name == d.subject)
            .map(|g| g.instance_num)
            .unwrap_or(0);
        let task = c.bde.resize(&spec.cluster_name, &d.subject, want as u32).await?;
        tracing::info!(group = %d.subject, count = want, "resizing back to the spec");
        state.task = Some(task.clone());
        state.change_task = Some(task);
        state.phase = Phase::Wire;
        return Ok(Outcome::Pending(format!("resizing {} back to {want}", d.subject)));
    }
    // Ports without VMs go; VMs without ports get theirs; stuck VMs are reset.
    let network_id = state.network_id.clone().unwrap_or_default();
    let ports = c.neutron.list_ports(&[("network_id", network_id.as_str())]).await?;
    for d in found.iter().filter(|d| d.kind == "port_without_vm") {
        if let Some(p) = ports.iter().find(|p| p.name == d.subject) {
            c.neutron.delete_port(&p.id).await?;
            tracing::info!(port = %p.id, "removed a port whose VM is gone");
        }
    }
    for d in found.iter().filter(|d| d.kind == "vm_without_port") {
        if let Some(n) = state.nodes.get_mut(&d.subject) {
            n.ports.clear(); // forget the deleted port so the wiring makes a new one
        }
    }
    wire::observe(c, spec, state).await?;
    wire::wire_vms(c, spec, state).await?;
    wire::repair(c, spec, state).await?;
    const REPAIRABLE: &[&str] = &["vm_without_port", "port_without_vm", "address_lost"];
    let (left, beyond): (Vec<&Drift>, Vec<&Drift>) = found.iter().partition(|d| REPAIRABLE.contains(&d.kind.as_str()));
    if left.is_empty() {
        // What is left is not the product's to mend (a stopped cluster, a VM deleted behind BDE's back).
        return Err(EngineError::Remote(format!(
            "cannot repair: {}",
            beyond
                .iter()
                .map(|d| format!("{} {} ({})", d.kind, d.subject, d.detail))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Outcome::Pending(format!(
        "repairing: {}",
        left.iter()
            .map(|d| format!("{} {}", d.kind, d.subject))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}
