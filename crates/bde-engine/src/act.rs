//! Act and apply: carry out the one step `decide` chose, then record its
//! effect in the state. A call that starts work is sent once; after a lost
//! answer the next step observes again and decides (see `decide`).

use std::collections::BTreeMap;

use bde_openstack::PortRequest;
use bde_serengeti::{ClusterCreate, DhcpFlag, DnsType, IpBlock, MGT_NETWORK, NetworkAdd, NodeGroupCreate};
use bde_vsphere::MoRef;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::connect::Clients;
use crate::decide::{OnFail, Step};
use crate::error::EngineError;
use crate::observe::{Observed, ResetProgress, Seen};
use crate::outcome::Outcome;
use crate::preflight::StaticNet;
use crate::spec::ValidSpec;
use crate::state::{BdeNetwork, Claim, ClaimKind, PendingTask, Phase, PortRecord, State, TaskKind, now};

/// What a remote step did.
#[derive(Debug)]
pub enum Effect {
    /// The step needed no remote call.
    Nothing,
    /// BDE started a task.
    TaskStarted(i64),
    /// BDE said the cluster already is where the task would take it (or is gone, for a delete).
    AlreadyThere,
    /// BDE cannot do it yet (busy): ask again later.
    Busy(String),
    /// Ports made (with `vnic_index` known).
    PortsMade {
        /// The new ports, each with when Neutron answered for it (unix seconds).
        ports: Vec<(bde_openstack::Port, f64)>,
        /// Whether Neutron offers `vnic-index`.
        vnic_index: bool,
    },
    /// A port of the batch appeared meanwhile: the next step records it.
    PortsConflicted,
    /// Resets started: node and vCenter task.
    ResetsStarted(Vec<(String, String)>),
}

/// Carries out one step.
pub async fn act(c: &Clients, spec: &ValidSpec, state: &State, step: &Step) -> Result<Effect, EngineError> {
    let name = state.owned_cluster().unwrap_or(&spec.cluster_name);
    Ok(match step {
        Step::RegisterNetwork(network) => {
            let pg = state.portgroup.as_ref().map(|p| p.name.clone());
            let management = state.neutron.as_ref().map_or("", |n| n.network_id.as_str());
            match static_net(spec, state, management) {
                Some(net) => register_static_network(c, spec, &net?, network, pg).await?,
                None => register_network(c, spec, network, pg).await?,
            }
        }
        Step::RegisterTrafficNetwork(i, network) => {
            let pg = state.traffic[*i].portgroup.as_ref().map(|p| p.name.clone());
            match static_net(spec, state, &state.traffic[*i].network_id) {
                Some(net) => register_static_network(c, spec, &net?, network, pg).await?,
                None => register_network(c, spec, network, pg).await?,
            }
        }
        Step::AddStaticAddresses { network_id, needed } => {
            add_static_addresses(c, spec, state, network_id, *needed).await?
        }
        Step::CreateCluster => {
            let task = c.bde.create_cluster(&cluster_body(spec, state)).await?;
            tracing::info!(cluster = %name, task = task.id, "BDE cluster requested");
            Effect::TaskStarted(task.id)
        }
        Step::ResumeCreate => {
            let task = c.bde.cluster_action(name, "resume").await?;
            tracing::info!(cluster = %name, task = task.id, "BDE resumes the failed create");
            Effect::TaskStarted(task.id)
        }
        Step::StartTask(kind) => {
            let started = match kind {
                TaskKind::Stop => c.bde.cluster_action(name, "stop").await.map(Some),
                TaskKind::Start => c.bde.cluster_action(name, "start").await.map(Some),
                TaskKind::Resize { group, count } => c.bde.resize(name, group, *count).await.map(Some),
                TaskKind::Scale { group, cpus, memory_mb } => {
                    c.bde.scale(name, group, *cpus, *memory_mb).await.map(Some)
                }
                TaskKind::Expand { groups } => c.bde.expand(name, &group_bodies(spec, groups)).await.map(Some),
                TaskKind::Configure => c.bde.configure(name, &config_body(spec, name)).await.map(Some),
                TaskKind::Delete => c.bde.delete_cluster(name).await,
                TaskKind::Create | TaskKind::Resume => unreachable!("started by CreateCluster and ResumeCreate"),
            };
            match started {
                Ok(Some(task)) if *kind == TaskKind::Delete => {
                    tracing::info!(cluster = %name, task = task.id, "BDE delete started");
                    Effect::TaskStarted(task.id)
                }
                Ok(Some(task)) => {
                    tracing::info!(cluster = %name, ?kind, task = task.id, "BDE task started");
                    Effect::TaskStarted(task.id)
                }
                Ok(None) => Effect::AlreadyThere,
                Err(e) if e.is_already_in_state() => Effect::AlreadyThere,
                Err(e) if e.is_busy() => Effect::Busy(e.to_string()),
                Err(e) => return Err(e.into()),
            }
        }
        Step::MakePorts { create, .. } if !create.is_empty() => make_ports(c, state, create).await?,
        Step::DeletePorts { ports, forget } => {
            for id in ports {
                c.neutron.delete_port(id).await?;
            }
            if !forget.is_empty() {
                tracing::info!(vms = ?forget, ports = ports.len(), "VMs gone: their ports were removed");
            } else {
                tracing::info!(ports = ports.len(), "ports removed");
            }
            Effect::Nothing
        }
        Step::UpdatePortGroups { ports, security_groups } => {
            for id in ports {
                c.neutron
                    .update_port(id, json!({ "security_groups": security_groups }))
                    .await?;
            }
            tracing::info!(ports = ports.len(), "ports given the spec's security groups");
            Effect::Nothing
        }
        Step::ResetVms(vms) => {
            let mut started = Vec::new();
            for (node, vm) in vms {
                tracing::warn!(vm = %node, "no address after the grace: resetting the VM");
                let task = c.vc.start_reset(&MoRef::new("VirtualMachine", vm)).await?;
                started.push((node.clone(), task.value));
            }
            Effect::ResetsStarted(started)
        }
        Step::DeleteNetwork(network) | Step::DeleteTrafficNetwork(_, network) => {
            match c.bde.delete_network(network).await {
                // Another cluster uses it: it stays, and is no longer ours to remove.
                Err(e) if e.is_in_use() => {
                    tracing::info!(network = %network, "BDE network still in use; kept");
                    Effect::Nothing
                }
                other => other.map(|_| Effect::Nothing)?,
            }
        }
        _ => Effect::Nothing,
    })
}

/// Registers a BDE network on a portgroup (DHCP, the spec's DNS type).
/// Ports go to Neutron in bulk requests of this many, earliest clones first...
const PORTS_PER_REQUEST: usize = 10;
/// ...with this many requests in flight. Neutron serves a bulk request in one API worker,
/// port by port; two in flight keep two workers busy. Measured on the world (Neutron with
/// two workers on MariaDB, 2 cores): 80 ports in 7.9 s this way against 11.6 s as one
/// request, and the first ten made after 1.6 s instead of 11.6 s; more in flight was slower.
const REQUESTS_IN_FLIGHT: usize = 2;

/// Makes the ports, in order, a few bulk requests at a time. Ports made are reported even
/// when another request failed: the next step lists the network and goes on from there.
async fn make_ports(c: &Clients, state: &State, create: &[PortRequest]) -> Result<Effect, EngineError> {
    use futures_util::StreamExt;
    let vnic_index = match state.vnic_index {
        Some(known) => known,
        None => c.neutron.extension_aliases().await?.iter().any(|a| a == "vnic-index"),
    };
    let results: Vec<_> = futures_util::stream::iter(create.chunks(PORTS_PER_REQUEST))
        .map(|batch| make_batch(c, state, batch, vnic_index))
        .buffered(REQUESTS_IN_FLIGHT)
        .collect()
        .await;
    let (mut made, mut conflicted, mut failure) = (Vec::new(), false, None);
    for result in results {
        match result {
            Ok(ports) => made.extend(ports),
            Err(e) if e.is_conflict() => conflicted = true,
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) if made.is_empty() => return Err(e.into()),
        Some(e) => tracing::warn!(error = %e, made = made.len(), "some ports were not made; trying again next step"),
        None => {}
    }
    if made.is_empty() && conflicted {
        tracing::info!("port create conflicted; looking again next step");
        return Ok(Effect::PortsConflicted);
    }
    Ok(Effect::PortsMade {
        ports: made,
        vnic_index,
    })
}

/// One bulk request (all or nothing, as Neutron makes it), then each port's `vnic_index`.
async fn make_batch(
    c: &Clients,
    state: &State,
    batch: &[PortRequest],
    vnic_index: bool,
) -> Result<Vec<(bde_openstack::Port, f64)>, bde_openstack::Error> {
    let ports = c.neutron.create_ports(batch).await?;
    if vnic_index {
        for port in &ports {
            let index = nic_index(state, &port.mac_address);
            c.neutron.update_port(&port.id, json!({ "vnic_index": index })).await?;
        }
    }
    let made_at = now();
    Ok(ports.into_iter().map(|p| (p, made_at)).collect())
}

/// The device order of the NIC with this MAC on its VM (0 for the first, the management
/// network's; then the traffic networks' in the order the spec names them).
fn nic_index(state: &State, mac: &str) -> usize {
    state
        .nodes
        .values()
        .find_map(|n| n.macs.iter().position(|m| m == mac))
        .unwrap_or(0)
}

async fn register_network(
    c: &Clients,
    spec: &ValidSpec,
    name: &str,
    pg: Option<String>,
) -> Result<Effect, EngineError> {
    add_network(c, &network_body(spec, name, pg)).await
}

/// A DHCP network's body: what every BDE network of this product gives.
fn network_body(spec: &ValidSpec, name: &str, pg: Option<String>) -> NetworkAdd {
    NetworkAdd {
        name: Some(name.to_string()),
        port_group: pg,
        is_dhcp: Some(DhcpFlag::Bool(true)),
        dns_type: Some(spec.dns_type),
        // BDE 2.3 derives it from the DNS type; 2.2 wants it given.
        is_generate_hostname: Some(spec.dns_type != DnsType::Normal),
        ..NetworkAdd::default()
    }
}

async fn add_network(c: &Clients, add: &NetworkAdd) -> Result<Effect, EngineError> {
    match c.bde.add_network(add).await {
        // Already there: made by this product's earlier request whose answer was lost.
        Err(e) if e.is_already_exists() => Ok(Effect::Nothing),
        other => other.map(|()| Effect::Nothing).map_err(Into::into),
    }
}

/// With static addresses, what the spec says of the cluster's network `network_id`
/// (`None` under DHCP).
fn static_net(spec: &ValidSpec, state: &State, network_id: &str) -> Option<Result<StaticNet, EngineError>> {
    if !spec.is_static() {
        return None;
    }
    let Some(ids) = &state.neutron else {
        return Some(Err(EngineError::conflict(
            "the network is not resolved yet: run create again",
        )));
    };
    let net = crate::preflight::static_nets(spec, ids, &state.traffic)
        .into_iter()
        .find(|n| n.network_id == network_id);
    Some(net.ok_or_else(|| EngineError::conflict(format!("network {network_id} is not the cluster's"))))
}

/// Registers a static BDE network: the range planned from the subnet as it is now
/// (checked again: addresses may have been taken since the create's checks), with the
/// subnet's netmask, gateway and DNS servers.
async fn register_static_network(
    c: &Clients,
    spec: &ValidSpec,
    net: &StaticNet,
    name: &str,
    pg: Option<String>,
) -> Result<Effect, EngineError> {
    let (layout, range) = crate::preflight::static_registration(&c.neutron, net, crate::preflight::vms(spec))
        .await?
        .map_err(|why| EngineError::field(&net.field, why))?;
    let add = NetworkAdd {
        is_dhcp: Some(DhcpFlag::Bool(false)),
        gateway: layout.gateway.map(|g| g.to_string()),
        netmask: Some(layout.netmask().to_string()),
        dns1: layout.dns.first().map(ToString::to_string),
        dns2: layout.dns.get(1).map(ToString::to_string),
        ip_blocks: Some(vec![IpBlock {
            begin_ip: range.first.to_string(),
            end_ip: range.last.to_string(),
        }]),
        ..network_body(spec, name, pg)
    };
    tracing::info!(network = %name, range = %range, "registering a static BDE network");
    add_network(c, &add).await
}

/// Adds blocks of its subnet to the static BDE network of `network_id` until `needed`
/// of its addresses are free: planned from BDE's and Neutron's view as it is now (a
/// block it has is never sent again), named by its range's field or the mode's when
/// there is no room, before BDE is asked for any node.
async fn add_static_addresses(
    c: &Clients,
    spec: &ValidSpec,
    state: &State,
    network_id: &str,
    needed: u64,
) -> Result<Effect, EngineError> {
    let Some(net) = static_net(spec, state, network_id) else {
        return Ok(Effect::Nothing);
    };
    let net = net?;
    let name = crate::nsxv::bde_network_name(network_id, true);
    let Some(blocks) = crate::preflight::static_blocks(&c.bde, network_id).await? else {
        return Err(EngineError::conflict(format!(
            "BDE network {name} is gone: run the action again to register it"
        )));
    };
    let adds = crate::preflight::static_additions(&c.neutron, &net, &blocks, needed)
        .await?
        .map_err(|why| EngineError::field(&net.field, why))?;
    if adds.is_empty() {
        return Ok(Effect::Nothing);
    }
    let body: Vec<IpBlock> = adds
        .iter()
        .map(|r| IpBlock {
            begin_ip: r.first.to_string(),
            end_ip: r.last.to_string(),
        })
        .collect();
    tracing::info!(network = %name, free = blocks.free, needed, adds = ?adds.iter().map(ToString::to_string).collect::<Vec<_>>(), "adding addresses to the static BDE network");
    c.bde.add_ip_blocks(&name, &body).await?;
    Ok(Effect::Nothing)
}

/// BDE's body for the spec's node groups of these names (all of them: `None`).
fn node_groups(spec: &ValidSpec, only: Option<&[String]>) -> Vec<NodeGroupCreate> {
    spec.node_groups
        .iter()
        .filter(|g| only.is_none_or(|names| names.contains(&g.name)))
        .map(|g| NodeGroupCreate {
            name: Some(g.name.clone()),
            roles: Some(g.roles.clone()),
            instance_num: g.instance_num as i32,
            instance_type: g.bde_instance_type(),
            cpu_num: g.cpu_num.map(|c| c as i32),
            mem_capacity_mb: g.memory_mb.map(|m| m as i32),
            configuration: g.configuration.clone(),
            storage: g.storage.as_ref().map(crate::spec::StorageSpec::body),
            ha_flag: g.ha.as_deref().map(str::to_ascii_lowercase),
            rp_names: g.resource_pools.clone(),
            swap_ratio: g.swap_ratio.map(|r| r as f32),
            reserved_cpu_ratio: g.cpu_reservation.map(|r| r as f32),
            reserved_mem_ratio: g.memory_reservation.map(|r| r as f32),
            placement_policies: g.placement.as_ref().map(crate::spec::PlacementSpec::body),
            ..NodeGroupCreate::default()
        })
        .collect()
}

/// The expand's body: the spec's groups of these names. Each carries a `storage`
/// (empty: BDE's defaults), which expand reads without the defaulting create does.
pub fn group_bodies(spec: &ValidSpec, names: &[String]) -> Vec<NodeGroupCreate> {
    let mut groups = node_groups(spec, Some(names));
    for g in &mut groups {
        g.storage.get_or_insert_with(|| serde_json::json!({}));
    }
    groups
}

/// The config update's body: every group with its roles and count (BDE checks them
/// as a blueprint) and the configurations; one left out would be cleared.
pub fn config_body(spec: &ValidSpec, name: &str) -> ClusterCreate {
    ClusterCreate {
        name: Some(name.to_string()),
        node_groups: Some(node_groups(spec, None)),
        configuration: spec.configuration.clone(),
        ..ClusterCreate::default()
    }
}

/// The create's body: the spec's groups on the registered BDE network.
pub fn cluster_body(spec: &ValidSpec, state: &State) -> ClusterCreate {
    let groups = (!spec.node_groups.is_empty()).then(|| node_groups(spec, None));
    ClusterCreate {
        name: Some(spec.cluster_name.clone()),
        app_manager: spec.app_manager.clone(),
        distro: spec.distro.clone(),
        rp_names: spec.resource_pools.clone(),
        ds_names: spec.datastores.clone(),
        template_name: spec.template_name.clone(),
        local_repo_url: spec.local_repo_url.clone(),
        topology_policy: spec.topology_policy.clone(),
        external_hdfs: spec.external_hdfs.clone(),
        network_config: state.bde_network.as_ref().map(|n| {
            std::iter::once((MGT_NETWORK.to_string(), vec![n.name.clone()]))
                .chain(state.traffic.iter().filter_map(|t| {
                    t.bde_network
                        .as_ref()
                        .map(|b| (t.traffic.clone(), vec![b.name.clone()]))
                }))
                .collect::<BTreeMap<_, _>>()
        }),
        node_groups: groups,
        password: spec.cluster_password.as_ref().map(|p| p.expose_secret().to_string()),
        configuration: spec.configuration.clone(),
        ..ClusterCreate::default()
    }
}

/// Records what one step saw: BDE's nodes and status, vCenter's VMs, resets
/// that ended, and the cluster's folder. Pure.
pub fn record(state: &mut State, seen: &Observed, now: f64) {
    if let Some(f) = &seen.folder {
        state.folder = Some(f.clone());
    }
    // A cluster that is not ours is looked at (to refuse or adopt it), never recorded.
    if let Seen::Present(cluster) = &seen.cluster
        && state.cluster.is_some()
    {
        state.cluster_status = Some(cluster.status);
        for node in &cluster.nodes {
            let entry = state.nodes.entry(node.name.clone()).or_default();
            entry.group = node.group.clone();
            entry.status = node.status.clone();
            if node.ip.is_some() {
                entry.address_at.get_or_insert(now);
                entry.last_addressed = Some(now);
            }
            entry.ip = node.ip.clone();
        }
    }
    for vm in seen.vms.iter().flatten() {
        let entry = state.nodes.entry(vm.name.clone()).or_default();
        entry.vm = Some(vm.moref.clone());
        entry.instance_uuid = Some(vm.instance_uuid.clone()).filter(|u| !u.is_empty());
        entry.power_state = vm.power;
        entry.seen_at.get_or_insert(now);
        if vm.power == crate::state::PowerState::PoweredOn {
            entry.powered_on_at.get_or_insert(now);
        }
        entry.macs = vm.nics.iter().map(|(_, m)| m.clone()).collect();
    }
    // Ports are not stored: each listing says which of the nodes' NICs have one.
    if let Some(listed) = &seen.ports {
        for n in state.nodes.values_mut() {
            n.ports = n
                .macs
                .iter()
                .filter_map(|mac| {
                    let port = listed.iter().find(|p| p.mac == *mac)?;
                    Some((
                        mac.clone(),
                        PortRecord {
                            id: port.id.clone(),
                            ip: port.ip.clone(),
                        },
                    ))
                })
                .collect();
        }
    }
    for (node, progress) in &seen.resets {
        let Some(n) = state.nodes.get_mut(node) else { continue };
        match progress {
            ResetProgress::Running => {}
            ResetProgress::Done => n.reset_task = None,
            ResetProgress::Failed(why) => {
                tracing::warn!(vm = %node, reason = %why, "the VM's reset failed");
                n.reset_task = None;
            }
        }
    }
    for n in state.nodes.values_mut() {
        let waiting = n.power_state == crate::state::PowerState::PoweredOn && n.is_wired() && n.ip.is_none();
        if waiting {
            n.waiting_since.get_or_insert(now);
        } else {
            n.waiting_since = None;
        }
    }
}

/// Records a step's effect in the state, and says what the step achieved.
pub fn apply(
    spec: &ValidSpec,
    state: &mut State,
    step: Step,
    effect: Effect,
    now: f64,
) -> Result<Outcome, EngineError> {
    if let Effect::TaskStarted(id) = effect {
        state.last_task = Some(id);
    }
    let acted = |note: &str| Ok(Outcome::Acted(note.to_string()));
    match step {
        Step::StartOver => {
            *state = State::default();
            acted("starting anew")
        }
        Step::AddStaticAddresses { needed, .. } => {
            acted(&format!("a static BDE network given room for {needed} nodes"))
        }
        Step::RecordNeutron(ids, traffic) => {
            state.neutron = Some(ids);
            state.traffic = traffic;
            state.phase = Phase::FindPortgroup;
            acted("spec checked")
        }
        Step::WaitForPortgroup => {
            state.portgroup_wait_since.get_or_insert(now);
            Ok(Outcome::Waiting("waiting for NSX-v's portgroup".into()))
        }
        Step::RecordPortgroup(pg) => {
            tracing::info!(portgroup = %pg.name, "found the network's portgroup");
            let note = format!("portgroup {}", pg.name);
            state.portgroup = Some(pg);
            state.phase = Phase::RegisterNetwork;
            acted(&note)
        }
        Step::IntendNetwork => {
            state.network_intended = true;
            acted("registering the BDE network")
        }
        Step::RegisterNetwork(name) => {
            let note = format!("BDE network {name}");
            state.bde_network = Some(BdeNetwork { name, ours: true });
            state.phase = Phase::CreateCluster;
            acted(&note)
        }
        Step::RecordNetwork(network) => {
            let note = format!("BDE network {}", network.name);
            state.bde_network = Some(network);
            state.phase = Phase::CreateCluster;
            acted(&note)
        }
        Step::RecordTrafficPortgroup(i, pg) => {
            let note = format!("{} portgroup {}", state.traffic[i].traffic, pg.name);
            state.traffic[i].portgroup = Some(pg);
            acted(&note)
        }
        Step::IntendTrafficNetwork(i) => {
            state.traffic[i].intended = true;
            acted(&format!("registering the {} BDE network", state.traffic[i].traffic))
        }
        Step::RegisterTrafficNetwork(i, name) => {
            let note = format!("{} BDE network {name}", state.traffic[i].traffic);
            state.traffic[i].bde_network = Some(BdeNetwork { name, ours: true });
            acted(&note)
        }
        Step::RecordTrafficNetwork(i, network) => {
            let note = format!("{} BDE network {}", state.traffic[i].traffic, network.name);
            state.traffic[i].bde_network = Some(network);
            acted(&note)
        }
        Step::DeleteTrafficNetwork(i, _) => {
            state.traffic[i].bde_network = None;
            state.traffic[i].intended = false;
            acted(&format!("{} BDE network removed", state.traffic[i].traffic))
        }
        Step::IntendCluster => {
            // Remembered before the request, so a crash mid-request adopts the cluster instead of failing.
            state.cluster = Some(Claim {
                name: spec.cluster_name.clone(),
                how: ClaimKind::Intended,
            });
            acted("creating the BDE cluster")
        }
        Step::CreateCluster => {
            if let Effect::TaskStarted(id) = effect {
                state.pending = Some(PendingTask {
                    kind: TaskKind::Create,
                    id: Some(id),
                });
            }
            claim(state, spec, ClaimKind::Requested);
            if state.desired.is_empty() {
                state.desired = spec.group_sizes();
            }
            state.configured = spec.configuration_digest();
            state.phase = Phase::Wire;
            acted("BDE is cloning the VMs")
        }
        Step::ClaimCluster { how, desired } => {
            if how == ClaimKind::Adopted {
                tracing::info!(cluster = %spec.cluster_name, "adopting the cluster");
                state.desired = desired;
            } else {
                tracing::info!(cluster = %spec.cluster_name, "adopting the cluster an interrupted step created");
                state.configured = spec.configuration_digest(); // its create carried it
                if state.desired.is_empty() {
                    state.desired = spec.group_sizes();
                }
            }
            claim(state, spec, how);
            state.pending = None;
            state.phase = Phase::Wire;
            acted("the cluster is ours: wiring it")
        }
        Step::ResumeCreate => {
            if let Effect::TaskStarted(id) = effect {
                state.pending = Some(PendingTask {
                    kind: TaskKind::Resume,
                    id: Some(id),
                });
            }
            state.resume_needed = false;
            acted("BDE is resuming the cluster's creation")
        }
        Step::FollowStatus(kind) => {
            match &kind {
                TaskKind::Resume => state.resume_needed = false,
                TaskKind::Resize { group, count } => {
                    state.desired.insert(group.clone(), *count);
                }
                TaskKind::Configure => state.configured = spec.configuration_digest(),
                _ => {}
            }
            let phase = phase_of(&kind);
            state.pending = Some(PendingTask { kind, id: None });
            state.phase = phase;
            acted("following the cluster's status")
        }
        Step::StartTask(kind) => match effect {
            Effect::TaskStarted(id) => {
                if kind == TaskKind::Configure {
                    state.configured = spec.configuration_digest();
                }
                if let TaskKind::Resize { group, count } = &kind {
                    state.desired.insert(group.clone(), *count);
                }
                let note = format!("BDE accepted: {kind:?}");
                state.phase = phase_of(&kind);
                state.pending = Some(PendingTask { kind, id: Some(id) });
                acted(&note)
            }
            Effect::AlreadyThere => {
                state.pending = None;
                state.phase = match kind {
                    TaskKind::Stop => Phase::Stopped,
                    TaskKind::Delete => Phase::DeletePorts,
                    // Running already: wiring waits for every address.
                    _ => Phase::Wire,
                };
                acted("already there")
            }
            Effect::Busy(why) => Ok(Outcome::Waiting(format!("BDE cannot yet ({why}); waiting"))),
            _ => acted(""),
        },
        Step::MakePorts { adopt, .. } => {
            for (node, mac, port) in adopt {
                if let Some(n) = state.nodes.get_mut(&node) {
                    n.ports.insert(mac, port);
                }
            }
            if let Effect::PortsMade { ports, vnic_index } = effect {
                state.vnic_index = Some(vnic_index);
                for (port, made_at) in ports {
                    let Some((vm, node)) = state.nodes.iter_mut().find(|(_, n)| n.macs.contains(&port.mac_address))
                    else {
                        continue;
                    };
                    tracing::info!(vm = %vm, mac = %port.mac_address, port = %port.id, "port created");
                    node.ports.insert(
                        port.mac_address.clone(),
                        PortRecord {
                            ip: port.ip().map(str::to_string),
                            id: port.id,
                        },
                    );
                    node.port_created_at = Some(made_at);
                }
            }
            acted("ports made")
        }
        Step::DeletePorts { ports, forget } => {
            for name in &forget {
                state.nodes.remove(name);
            }
            for n in state.nodes.values_mut() {
                n.ports.retain(|_, p| !ports.contains(&p.id));
            }
            acted("ports removed")
        }
        Step::ResetVms(_) => {
            if let Effect::ResetsStarted(started) = effect {
                for (node, task) in started {
                    if let Some(n) = state.nodes.get_mut(&node) {
                        n.resets.push(now);
                        n.reset_task = Some(task);
                        n.waiting_since = Some(now);
                        state.resets += 1;
                    }
                }
            }
            acted("VMs reset")
        }
        Step::UpdatePortGroups { .. } => acted("security groups updated"),
        Step::SetSecurityGroups(ids) => {
            if let Some(n) = state.neutron.as_mut() {
                n.security_group_ids = ids;
            }
            acted("security groups recorded")
        }
        Step::SetDesired(desired) => {
            state.desired = desired;
            acted("size recorded")
        }
        Step::Settle(phase) => {
            if phase == Phase::Deleted {
                state.nodes.clear();
                state.cluster_status = None;
                state.cluster = None;
            } else if phase == Phase::Ready {
                tracing::info!(cluster = %spec.cluster_name, resets = state.resets, "cluster ready");
            }
            state.pending = None;
            state.phase = phase;
            acted(&format!("{phase:?}"))
        }
        Step::EnterPhase(phase) => {
            if phase == Phase::DeletePorts {
                state.pending = None;
            }
            state.phase = phase;
            acted(&format!("{phase:?}"))
        }
        Step::DeleteNetwork(_) => {
            state.bde_network = None;
            state.network_intended = false;
            state.traffic.clear();
            state.nodes.clear();
            state.cluster_status = None;
            state.cluster = None;
            state.pending = None;
            state.phase = Phase::Deleted;
            acted("BDE network removed")
        }
        Step::Wait(note) => Ok(Outcome::Waiting(note)),
        Step::Done => Ok(Outcome::Done),
        Step::Fail(e, on_fail) => {
            match on_fail {
                OnFail::Keep => {}
                OnFail::ResumeNext => {
                    state.resume_needed = true;
                    state.pending = None;
                }
                OnFail::DropTask => {
                    // A failed day-2 change leaves the cluster where it is: ready for another.
                    let kind = state.pending.take().map(|p| p.kind);
                    if kind == Some(TaskKind::Configure) {
                        state.configured = None; // not known to have taken: the next apply sends it again
                    }
                    if matches!(
                        kind,
                        Some(
                            TaskKind::Stop
                                | TaskKind::Start
                                | TaskKind::Resize { .. }
                                | TaskKind::Scale { .. }
                                | TaskKind::Expand { .. }
                                | TaskKind::Configure
                        )
                    ) {
                        state.phase = Phase::Ready;
                    }
                }
            }
            Err(e)
        }
    }
}

fn claim(state: &mut State, spec: &ValidSpec, how: ClaimKind) {
    let name = state.owned_cluster().unwrap_or(&spec.cluster_name).to_string();
    state.cluster = Some(Claim { name, how });
}

/// The phase a BDE task runs in.
fn phase_of(kind: &TaskKind) -> Phase {
    match kind {
        TaskKind::Stop => Phase::Stopping,
        TaskKind::Delete => Phase::DeleteCluster,
        _ => Phase::Wire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::NodeState;

    #[test]
    fn each_port_gets_the_device_order_of_its_nic_on_its_vm() {
        let mut state = State::default();
        for (vm, macs) in [
            (
                "c-worker-0",
                ["00:50:56:00:00:01", "00:50:56:00:00:02", "00:50:56:00:00:03"],
            ),
            (
                "c-worker-1",
                ["00:50:56:00:01:01", "00:50:56:00:01:02", "00:50:56:00:01:03"],
            ),
        ] {
            state.nodes.insert(
                vm.into(),
                NodeState {
                    macs: macs.iter().map(|m| m.to_string()).collect(),
                    ..NodeState::default()
                },
            );
        }
        // Management, HDFS and MapReduce NICs: 0, 1, 2 on each VM.
        assert_eq!(nic_index(&state, "00:50:56:00:00:01"), 0);
        assert_eq!(nic_index(&state, "00:50:56:00:01:02"), 1);
        assert_eq!(nic_index(&state, "00:50:56:00:00:03"), 2);
    }

    #[test]
    fn the_bde_network_is_registered_with_the_specs_dns_type() {
        for (given, wire, hostnames) in [
            (None, "NORMAL", false),
            (Some("others"), "OTHERS", true),
            (Some("DYNAMIC"), "DYNAMIC", true),
        ] {
            let mut v = serde_json::json!({
                "bde_endpoint": "https://bde.example.com:8443", "vcm_server": "vc.example.com",
                "username": "u", "password": "p", "cluster_name": "c1", "network": "net1",
                "node_groups": [{"name": "master", "roles": ["hadoop_namenode", "hadoop_datanode"], "instance_num": 1}]
            });
            if let Some(t) = given {
                v["dns_type"] = t.into();
            }
            let spec = crate::validate(&crate::spec_from_value(v).unwrap()).unwrap();
            let body = serde_json::to_value(network_body(&spec, "neutron-x", Some("vxw-dvs-1".into()))).unwrap();
            assert_eq!(body["dnsType"], wire, "{given:?}");
            assert_eq!(body["isGenerateHostname"], hostnames, "{given:?}");
            assert_eq!(body["portGroup"], "vxw-dvs-1");
        }
    }
}
