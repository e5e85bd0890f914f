//! Wiring: every poll reads BDE's nodes and, in one batched vCenter read,
//! the cluster's VMs (NIC MACs and portgroups, instanceUuid, power state);
//! creates every missing port of that poll in one bulk Neutron call; sets
//! `vnic_index` where NSX-v offers it; resets a VM that is on, has its port
//! and still no address after the grace; and finishes with BDE's task.

use std::collections::BTreeMap;

use bde_openstack::PortRequest;
use bde_serengeti::NO_ADDRESS;
use bde_vsphere::{MoRef, PropertyRead};
use serde_json::json;

use crate::state::{Phase, PortRecord, State, now};

/// Ports made per poll at most: one bulk call stays short (Neutron takes
/// ~0.1-0.3 s a port), so the first VMs get theirs sooner and each step is bounded.
const MAX_PORTS_PER_POLL: usize = 100;
use crate::{Clients, EngineError, Outcome, ValidSpec};

/// Refreshes the state from BDE's nodes without changing anything remote
/// (`status`); `false` when BDE does not know the cluster.
pub async fn observe(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<bool, EngineError> {
    let Some(cluster) = c.bde.cluster(&spec.cluster_name, true).await? else {
        state.cluster_status = None;
        return Ok(false);
    };
    state.cluster_status = Some(cluster.status.name());
    for group in cluster.node_groups.iter().flatten() {
        for node in group.instances.iter().flatten() {
            let entry = state.nodes.entry(node.name.clone()).or_default();
            entry.group = group.name.clone();
            entry.status = serde_json::to_value(node.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let ip = node
                .addresses()
                .into_iter()
                .find(|a| *a != NO_ADDRESS)
                .map(str::to_string);
            if ip.is_some() {
                entry.address_at.get_or_insert_with(now);
                entry.last_addressed = Some(now());
            }
            entry.ip = ip;
        }
    }
    Ok(true)
}

/// One wiring poll.
pub(crate) async fn wire_step(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Outcome, EngineError> {
    if !observe(c, spec, state).await? {
        return Err(EngineError::Failed(format!(
            "BDE no longer knows cluster {}",
            spec.cluster_name
        )));
    }
    if state.resume_needed {
        return resume_create(c, spec, state).await;
    }
    wire_vms(c, spec, state).await?;
    repair(c, spec, state).await?;
    finish(c, spec, state).await
}

/// Asks BDE to resume a create that failed: it keeps the VMs it made and
/// clones only the missing ones (`resumeClusterCreation`).
async fn resume_create(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Outcome, EngineError> {
    state.resume_needed = false;
    if state.cluster_status.as_deref() != Some(PROVISION_ERROR) {
        // An earlier step's resume was accepted but its answer lost: follow the cluster's status.
        state.task = None;
        return Ok(Outcome::Pending("BDE is resuming the cluster's creation".into()));
    }
    let task = c
        .bde
        .cluster_action(&spec.cluster_name, "resume")
        .await
        .inspect_err(|_| {
            state.resume_needed = true;
        })?;
    tracing::info!(cluster = %spec.cluster_name, task = task.id, "BDE resumes the failed create");
    state.task = Some(task);
    Ok(Outcome::Pending("BDE is resuming the cluster's creation".into()))
}

/// Finds BDE's folder for the cluster once; later polls read only below it,
/// so their cost does not grow with the VMs elsewhere in vCenter.
async fn cluster_folder(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Option<MoRef>, EngineError> {
    if let Some(f) = &state.folder {
        return Ok(Some(MoRef::new("Folder", f)));
    }
    let folders =
        c.vc.read(&PropertyRead {
            kind: "Folder",
            paths: &["name"],
            container: None,
        })
        .await?;
    let found = folders
        .into_iter()
        .find(|f| f.text("name") == Some(spec.cluster_name.as_str()));
    state.folder = found.as_ref().map(|f| f.obj.value.clone());
    Ok(found.map(|f| f.obj))
}

pub(crate) async fn wire_vms(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<(), EngineError> {
    let Some(folder) = cluster_folder(c, spec, state).await? else {
        return Ok(()); // BDE has not made the folder yet.
    };
    let prefix = format!("{}-", spec.cluster_name);
    let key = state.portgroup_key.clone().unwrap_or_default();
    let vms = c.vc.vms(Some(&folder)).await?;
    check_macs(&vms, &prefix, &key)?;
    let t = now();
    for vm in vms.iter().filter(|v| v.name.starts_with(&prefix)) {
        let entry = state.nodes.entry(vm.name.clone()).or_default();
        entry.vm = Some(vm.moref.value.clone());
        entry.instance_uuid = Some(vm.instance_uuid.clone()).filter(|u| !u.is_empty());
        entry.power_state = vm.power_state.clone();
        entry.seen_at.get_or_insert(t);
        entry.macs = vm
            .nics
            .iter()
            .filter(|n| n.portgroup_key.as_deref() == Some(key.as_str()))
            .map(|n| n.mac.clone())
            .collect();
        if entry.group.is_empty() {
            entry.group = vm
                .name
                .trim_start_matches(&prefix)
                .rsplit_once('-')
                .map(|(g, _)| g.to_string())
                .unwrap_or_default();
        }
    }
    remove_vanished(c, &vms, &prefix, state).await?;
    let network_id = state.network_id.clone().unwrap_or_default();
    let wanted: Vec<(String, String)> = state
        .nodes
        .iter()
        .flat_map(|(vm, n)| {
            n.macs
                .iter()
                .filter(|m| !n.ports.contains_key(*m))
                .map(move |m| (vm.clone(), m.clone()))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    // Ports that already exist (an earlier, interrupted poll made them) are adopted, not made
    // again. One list of the network's ports per poll, whatever the cluster's size.
    let existing: BTreeMap<String, bde_openstack::Port> = c
        .neutron
        .list_ports(&[("network_id", network_id.as_str())])
        .await?
        .into_iter()
        .map(|p| (p.mac_address.clone(), p))
        .collect();
    let mut requests = Vec::new();
    for (vm, mac) in &wanted {
        let node = state.nodes.get_mut(vm).expect("listed above");
        if let Some(p) = existing.get(mac) {
            node.ports.insert(
                mac.clone(),
                PortRecord {
                    id: p.id.clone(),
                    ip: p.ip().map(str::to_string),
                },
            );
            continue;
        }
        let index = node.macs.iter().position(|m| m == mac).unwrap_or(0);
        requests.push(PortRequest {
            network_id: network_id.clone(),
            mac_address: mac.clone(),
            name: format!("{vm}-port{index}"),
            device_owner: spec.device_owner.clone(),
            device_id: node.instance_uuid.clone().unwrap_or_default(),
            // A VM that already has an address (its port was deleted behind the product's back)
            // gets a port with that same address, so the guest's lease stays valid.
            fixed_ips: state
                .subnet_id
                .iter()
                .map(|s| match &node.ip {
                    Some(ip) if index == 0 => json!({ "subnet_id": s, "ip_address": ip }),
                    _ => json!({ "subnet_id": s }),
                })
                .collect(),
            security_groups: (!state.security_group_ids.is_empty()).then(|| state.security_group_ids.clone()),
        });
    }
    if requests.is_empty() {
        return Ok(());
    }
    requests.truncate(MAX_PORTS_PER_POLL);
    let made = match c.neutron.create_ports(&requests).await {
        Ok(made) => made,
        // A port of this batch appeared meanwhile: the next poll adopts it.
        Err(e) if e.is_conflict() => {
            tracing::info!(error = %e, "port create conflicted; looking again next poll");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    if state.vnic_index.is_none() {
        state.vnic_index = Some(c.neutron.extension_aliases().await?.iter().any(|a| a == "vnic-index"));
    }
    let t = now();
    for port in made {
        let Some((vm, node)) = state.nodes.iter_mut().find(|(_, n)| n.macs.contains(&port.mac_address)) else {
            continue;
        };
        let index = node.macs.iter().position(|m| *m == port.mac_address).unwrap_or(0);
        if state.vnic_index == Some(true) {
            c.neutron.update_port(&port.id, json!({ "vnic_index": index })).await?;
        }
        tracing::info!(vm = %vm, mac = %port.mac_address, port = %port.id, "port created");
        node.ports.insert(
            port.mac_address.clone(),
            PortRecord {
                id: port.id.clone(),
                ip: port.ip().map(str::to_string),
            },
        );
        node.port_created_at = Some(t);
    }
    Ok(())
}

/// A MAC as vCenter writes it: six pairs of hex digits joined by colons.
fn is_mac(mac: &str) -> bool {
    let pairs: Vec<&str> = mac.split(':').collect();
    pairs.len() == 6
        && pairs
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Refuses a vCenter answer with a NIC MAC that is not one, before any port is
/// made from it: Neutron would refuse the whole batch, or serve the wrong guest.
fn check_macs(vms: &[bde_vsphere::VmInfo], prefix: &str, portgroup_key: &str) -> Result<(), EngineError> {
    for vm in vms.iter().filter(|v| v.name.starts_with(prefix)) {
        for nic in vm
            .nics
            .iter()
            .filter(|n| n.portgroup_key.as_deref() == Some(portgroup_key))
        {
            if !is_mac(&nic.mac) {
                return Err(EngineError::Remote(format!(
                    "vCenter gave VM {} ({}) NIC {} the macAddress {:?}, which is not a MAC address \
                     (six hex pairs): no port was made in this poll; check the VM's network adapter in vCenter",
                    vm.name, vm.moref.value, nic.key, nic.mac
                )));
            }
        }
    }
    Ok(())
}

/// Nodes whose VM is gone from BDE's folder (a shrink, or a VM deleted behind
/// the product's back) lose their ports; nothing else is touched.
async fn remove_vanished(
    c: &Clients,
    vms: &[bde_vsphere::VmInfo],
    prefix: &str,
    state: &mut State,
) -> Result<(), EngineError> {
    let present: std::collections::HashSet<&str> = vms
        .iter()
        .filter(|v| v.name.starts_with(prefix))
        .map(|v| v.name.as_str())
        .collect();
    let gone: Vec<String> = state
        .nodes
        .iter()
        .filter(|(name, n)| n.vm.is_some() && !present.contains(name.as_str()))
        .map(|(name, _)| name.clone())
        .collect();
    for name in gone {
        let node = state.nodes.remove(&name).expect("listed above");
        for port in node.ports.values() {
            c.neutron.delete_port(&port.id).await?;
        }
        tracing::info!(vm = %name, ports = node.ports.len(), "VM gone: its ports were removed");
    }
    Ok(())
}

/// Resets a VM that is on, has all its ports, and has had no address for the grace.
pub(crate) async fn repair(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<(), EngineError> {
    let t = now();
    let mut to_reset = Vec::new();
    for (name, node) in state.nodes.iter_mut() {
        let wired = !node.macs.is_empty() && node.macs.iter().all(|m| node.ports.contains_key(m));
        if node.power_state != "poweredOn" || !wired || node.ip.is_some() {
            node.waiting_since = None;
            continue;
        }
        let since = *node.waiting_since.get_or_insert(t);
        if t - since >= spec.dhcp_grace_seconds && node.resets_in_this_wait() < spec.max_resets {
            to_reset.push((name.clone(), node.vm.clone()));
        }
    }
    for (name, vm) in to_reset {
        let Some(vm) = vm else { continue };
        tracing::warn!(vm = %name, "no address after the grace: resetting the VM");
        c.vc.reset_vm(&MoRef::new("VirtualMachine", &vm), std::time::Duration::from_secs(120))
            .await?;
        let node = state.nodes.get_mut(&name).expect("present");
        node.resets.push(now());
        node.waiting_since = Some(now());
        state.resets += 1;
    }
    Ok(())
}

/// BDE's cluster status after a failed create or resume.
const PROVISION_ERROR: &str = "PROVISION_ERROR";

/// A failed task; a failed create is resumed by the next step.
fn failed_create(state: &mut State, provision_error: bool, reason: String) -> EngineError {
    if !provision_error {
        return EngineError::Failed(reason);
    }
    state.resume_needed = true;
    EngineError::Failed(format!(
        "{reason} (the cluster's create failed; run it again, or update the stack, to resume it)"
    ))
}

async fn finish(c: &Clients, spec: &ValidSpec, state: &mut State) -> Result<Outcome, EngineError> {
    let task = match &state.task {
        Some(t) => Some(c.bde.task(t.id).await?),
        None => None,
    };
    let all_addressed = !state.nodes.is_empty() && state.nodes.values().all(|n| n.ip.is_some());
    let provision_error = state.cluster_status.as_deref() == Some(PROVISION_ERROR);
    match task.as_ref().map(|t| t.status.as_str()) {
        Some("FAILED") | Some("STOPPED") | Some("ABANDONED") => {
            let reason = task
                .and_then(|t| t.error_message)
                .unwrap_or_else(|| "the task failed".into());
            Err(failed_create(state, provision_error, reason))
        }
        None if provision_error => Err(failed_create(state, true, "the cluster is in PROVISION_ERROR".into())),
        Some("COMPLETED") | None if all_addressed && state.cluster_status.as_deref() == Some("RUNNING") => {
            state.phase = Phase::Ready;
            tracing::info!(cluster = %spec.cluster_name, resets = state.resets, "cluster ready");
            Ok(Outcome::Done)
        }
        _ => {
            let wired = state.nodes.values().filter(|n| !n.ports.is_empty()).count();
            let addressed = state.nodes.values().filter(|n| n.ip.is_some()).count();
            let progress = task.map(|t| (t.progress * 100.0) as u32).unwrap_or(0);
            Ok(Outcome::Pending(format!(
                "BDE task {progress}%: {} nodes, {wired} wired, {addressed} with an address, {} resets",
                state.nodes.len(),
                state.resets
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_mac;

    #[test]
    fn only_six_hex_pairs_are_a_mac() {
        assert!(is_mac("00:50:56:80:0a:ff"));
        for bad in [
            "",
            "00:50:56:80:0a",
            "00:50:56:80:0a:ff:01",
            "00-50-56-80-0a-ff",
            "00:50:56:8:0a:ff",
            "00:50:56:zz:0a:ff",
            "00:50:56:80:0a:f\u{e9}",
            "00:50:56:80:0a:ff\n",
        ] {
            assert!(!is_mac(bad), "{bad:?}");
        }
    }
}
