//! Decide: the one next thing to do, from the spec, the state (with this
//! step's observations recorded), what was observed, the action and the time.
//! Pure: no I/O, no clock, so every lifecycle rule is a unit test.

use std::collections::BTreeMap;

use bde_openstack::PortRequest;
use bde_serengeti::{ClusterStatus, TaskOutcome};

use crate::action::Action;
use crate::drift::{self, DriftKind};
use crate::error::EngineError;
use crate::observe::{ClusterView, Observed, Seen, effective_phase, resolve_neutron};
use crate::spec::ValidSpec;
use crate::state::State;
use crate::state::{
    BdeNetwork, ClaimKind, NeutronIds, NodeState, Phase, PortRecord, PortgroupRef, PowerState, TaskKind, TrafficNetwork,
};

/// How long NSX-v may take to make a network's portgroup.
pub const PORTGROUP_WAIT_SECONDS: f64 = 120.0;

/// Ports made per step at most: one bulk call stays short (Neutron takes
/// ~0.1-0.3 s a port), so the first VMs get theirs sooner and each step is bounded.
pub const MAX_PORTS_PER_STEP: usize = 100;

/// One thing to do. Steps that need no remote call only change the state.
#[derive(Debug)]
pub enum Step {
    /// A cluster deleted earlier from the same spec is made anew: forget it.
    StartOver,
    /// The spec's Neutron names resolved.
    RecordNeutron(NeutronIds, Vec<TrafficNetwork>),
    /// NSX-v has not made the portgroup yet.
    WaitForPortgroup,
    /// The portgroup found.
    RecordPortgroup(PortgroupRef),
    /// A traffic network's portgroup found (by its index in the state).
    RecordTrafficPortgroup(usize, PortgroupRef),
    /// Record that a traffic network's BDE network is about to be registered.
    IntendTrafficNetwork(usize),
    /// Register a traffic network's BDE network.
    RegisterTrafficNetwork(usize, String),
    /// A traffic network's BDE network found.
    RecordTrafficNetwork(usize, BdeNetwork),
    /// Remove a traffic network's BDE network this product registered.
    DeleteTrafficNetwork(usize, String),
    /// Record that the BDE network is about to be registered.
    IntendNetwork,
    /// Register the BDE network (`POST /networks`).
    RegisterNetwork(String),
    /// The BDE network exists already.
    RecordNetwork(BdeNetwork),
    /// Record that the create is about to be sent (the proof of ownership after a crash).
    IntendCluster,
    /// Ask BDE for the cluster (`POST /clusters`).
    CreateCluster,
    /// Give the static BDE network of this Neutron network room for this many free
    /// addresses (it lacks them for the nodes about to be made): add blocks of its subnet.
    AddStaticAddresses {
        /// The Neutron network.
        network_id: String,
        /// Free addresses needed.
        needed: u64,
    },
    /// Take the cluster as ours and wire it: a create whose answer was lost, or an explicit adopt.
    ClaimCluster {
        /// How.
        how: ClaimKind,
        /// For an adopt: the group sizes found, as what the user asked for.
        desired: BTreeMap<String, u32>,
    },
    /// Ask BDE to resume a failed create (it keeps the VMs it made).
    ResumeCreate,
    /// BDE is already doing it (the request's answer was lost): follow the cluster's status.
    FollowStatus(TaskKind),
    /// Ask BDE to stop, start, resize or delete the cluster.
    StartTask(TaskKind),
    /// Record ports that exist for the cluster's NICs, and make the missing ones in one bulk call.
    MakePorts {
        /// Ports found, by node and MAC.
        adopt: Vec<(String, String, PortRecord)>,
        /// Ports to create.
        create: Vec<PortRequest>,
    },
    /// Delete these ports and forget these nodes (their VMs are gone).
    DeletePorts {
        /// Port ids.
        ports: Vec<String>,
        /// Node names.
        forget: Vec<String>,
    },
    /// Give these ports the spec's security groups.
    UpdatePortGroups {
        /// Port ids.
        ports: Vec<String>,
        /// Security group ids.
        security_groups: Vec<String>,
    },
    /// The spec's security groups resolved anew (an update changed them).
    SetSecurityGroups(Vec<String>),
    /// Reset these VMs (node name, VM): each reset is a vCenter task followed by later steps.
    ResetVms(Vec<(String, String)>),
    /// Record what the user asked for.
    SetDesired(BTreeMap<String, u32>),
    /// The action reached its state: settle in this phase.
    Settle(Phase),
    /// Move on to this phase.
    EnterPhase(Phase),
    /// Remove the BDE network the product registered.
    DeleteNetwork(String),
    /// Nothing to do now; the text says what is awaited.
    Wait(String),
    /// The action is done.
    Done,
    /// The action failed.
    Fail(EngineError, OnFail),
}

/// What a failure leaves in the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFail {
    /// Nothing changes.
    Keep,
    /// BDE's create failed: the next create, repair or update resumes it.
    ResumeNext,
    /// The followed task ended: forget it, the cluster stays where it is.
    DropTask,
}

fn fail(e: EngineError) -> Step {
    Step::Fail(e, OnFail::Keep)
}

/// Follow BDE's status for a task whose answer was lost; already following it is waiting.
fn follow(state: &State, kind: TaskKind) -> Step {
    let already = state.pending.as_ref().is_some_and(|p| p.kind == kind && p.id.is_none());
    if already {
        Step::Wait(format!(
            "BDE is working on it ({kind:?}); following the cluster's status"
        ))
    } else {
        Step::FollowStatus(kind)
    }
}

/// The next thing to do.
pub fn decide(spec: &ValidSpec, state: &State, seen: &Observed, action: &Action, now: f64) -> Step {
    static_room_first(spec, state, seen, next_step(spec, state, seen, action, now))
}

/// Before BDE is asked for new nodes of a static cluster, its BDE network must have a
/// free address for each (BDE would fail the task with `NETWORK.OUT_OF_IP_ADDR`).
fn static_room_first(spec: &ValidSpec, state: &State, seen: &Observed, step: Step) -> Step {
    if seen.static_free.is_empty() {
        return step;
    }
    let new_nodes = |name: &str| {
        spec.node_groups
            .iter()
            .find(|g| g.name == name)
            .map_or(0, |g| g.instance_num.max(0) as u64)
    };
    let needed = match &step {
        Step::IntendCluster | Step::CreateCluster => crate::preflight::vms(spec),
        Step::StartTask(TaskKind::Resize { group, count }) => {
            let now = match &seen.cluster {
                Seen::Present(c) => c.groups.iter().find(|g| g.name == *group).map_or(0, |g| g.size),
                _ => 0,
            };
            u64::from(count.saturating_sub(now))
        }
        Step::StartTask(TaskKind::Expand { groups }) => groups.iter().map(|g| new_nodes(g)).sum(),
        _ => return step,
    };
    // Each node has a NIC on every network: management's first, then the traffic networks'.
    let short = state
        .network_ids()
        .into_iter()
        .find(|id| seen.static_free.get(*id).is_some_and(|free| *free < needed));
    match short {
        Some(network_id) => Step::AddStaticAddresses {
            network_id: network_id.to_string(),
            needed,
        },
        None => step,
    }
}

fn next_step(spec: &ValidSpec, state: &State, seen: &Observed, action: &Action, now: f64) -> Step {
    let phase = effective_phase(state, action);
    if phase != state.phase && phase == Phase::Validate {
        return Step::StartOver;
    }
    match phase {
        Phase::Validate | Phase::FindPortgroup | Phase::RegisterNetwork | Phase::CreateCluster => match action {
            Action::Create | Action::Adopt | Action::Repair | Action::Apply => {
                create(spec, state, seen, action, phase, now)
            }
            _ => not_made_yet(spec, state, action),
        },
        Phase::Wire => match action {
            Action::Check => Step::Done,
            _ => wire(spec, state, seen, now),
        },
        Phase::Ready | Phase::Stopped => ready(spec, state, seen, action, now),
        Phase::Stopping => match action {
            Action::Check => Step::Done,
            _ => follow_stop(state, seen),
        },
        Phase::DeleteCluster | Phase::DeletePorts | Phase::DeleteNetwork | Phase::Deleted => match action {
            Action::Delete => delete(spec, state, seen, phase),
            Action::Check => Step::Done,
            _ => fail(EngineError::conflict(format!(
                "the cluster is being deleted ({phase:?}): run delete to finish, then create it again"
            ))),
        },
    }
}

/// A day-2 action on a cluster whose create has not got far.
fn not_made_yet(spec: &ValidSpec, state: &State, action: &Action) -> Step {
    if state.cluster.is_none() {
        return fail(EngineError::not_ours(format!(
            "bde-heat has not created or adopted cluster {:?} from this spec: nothing to {}",
            spec.cluster_name,
            action.verb()
        )));
    }
    fail(EngineError::conflict(format!(
        "the cluster's create has not finished ({:?}): run create first",
        state.phase
    )))
}

fn create(spec: &ValidSpec, state: &State, seen: &Observed, action: &Action, phase: Phase, now: f64) -> Step {
    match phase {
        Phase::Validate => match &seen.lookups {
            Some(found) => match resolve_neutron(spec, found).and_then(|ids| {
                let traffic = crate::observe::resolve_traffic(spec, found, &ids)?;
                let offered = seen.offered.clone().unwrap_or_default();
                let errors = crate::preflight::errors(spec, &offered, seen.room.as_ref());
                if errors.is_empty() {
                    Ok((ids, traffic))
                } else {
                    Err(EngineError::invalid(errors))
                }
            }) {
                Ok((ids, traffic)) => Step::RecordNeutron(ids, traffic),
                Err(e) => fail(e),
            },
            None => Step::Wait("looking up the network".into()),
        },
        Phase::FindPortgroup => {
            // The traffic networks' portgroups first, then the management one's (which moves on).
            if let Some((i, t)) = state.traffic.iter().enumerate().find(|(_, t)| t.portgroup.is_none()) {
                return match portgroup_step(
                    seen.traffic_portgroups.get(i).map(Vec::as_slice),
                    &t.network_id,
                    state,
                    now,
                ) {
                    Ok(pg) => Step::RecordTrafficPortgroup(i, pg),
                    Err(step) => step,
                };
            }
            let id = state.neutron.as_ref().map(|n| n.network_id.as_str()).unwrap_or("");
            match portgroup_step(seen.portgroups.as_deref(), id, state, now) {
                Ok(pg) => Step::RecordPortgroup(pg),
                Err(step) => step,
            }
        }
        Phase::RegisterNetwork => register_network(spec, state, seen, action),
        _ => create_cluster(spec, state, seen, action),
    }
}

fn register_network(spec: &ValidSpec, state: &State, seen: &Observed, action: &Action) -> Step {
    let (Some(ids), Some(pg)) = (&state.neutron, &state.portgroup) else {
        return fail(EngineError::conflict(
            "the network is not resolved yet: run create again",
        ));
    };
    // The traffic networks' BDE networks first, then the management one's (which moves on).
    if let Some((i, t)) = state.traffic.iter().enumerate().find(|(_, t)| t.bde_network.is_none()) {
        let Some(pg) = &t.portgroup else {
            return fail(EngineError::conflict(
                "a traffic network's portgroup is not found yet: run create again",
            ));
        };
        let seen = seen.traffic_bde_networks.get(i).unwrap_or(&Seen::Unread);
        let field = format!("networks.{}.network", t.traffic);
        let name = crate::nsxv::bde_network_name(&t.network_id, spec.is_static());
        return match network_step(spec, name, pg, seen, t.intended, action, &field) {
            NetworkStep::Record(n) => Step::RecordTrafficNetwork(i, n),
            NetworkStep::Intend => Step::IntendTrafficNetwork(i),
            NetworkStep::Register(name) => Step::RegisterTrafficNetwork(i, name),
            NetworkStep::Other(step) => step,
        };
    }
    match network_step(
        spec,
        crate::nsxv::bde_network_name(&ids.network_id, spec.is_static()),
        pg,
        &seen.bde_network,
        state.network_intended,
        action,
        "network",
    ) {
        NetworkStep::Record(n) => Step::RecordNetwork(n),
        NetworkStep::Intend => Step::IntendNetwork,
        NetworkStep::Register(name) => Step::RegisterNetwork(name),
        NetworkStep::Other(step) => step,
    }
}

/// What to do about one network's BDE network.
enum NetworkStep {
    Record(BdeNetwork),
    Intend,
    Register(String),
    Other(Step),
}

fn network_step(
    spec: &ValidSpec,
    name: String,
    pg: &PortgroupRef,
    seen: &Seen<crate::observe::BdeNetworkView>,
    intended: bool,
    action: &Action,
    field: &str,
) -> NetworkStep {
    match seen {
        Seen::Present(n) if n.portgroup != pg.name => NetworkStep::Other(fail(EngineError::conflict(format!(
            "BDE network {name} exists with portgroup {}, not {}: remove it in BDE",
            n.portgroup, pg.name
        )))),
        // Every cluster on this Neutron network shares the BDE network, and BDE
        // cannot change the DNS type of a network in use.
        Seen::Present(n) if *action != Action::Adopt && n.dns_type.is_some_and(|t| t != spec.dns_type) => {
            NetworkStep::Other(fail(EngineError::field(
                "dns_type",
                format!(
                    "BDE network {name} of this Neutron network is registered with dns_type {}: give that, \
                     or put the cluster on another network",
                    dns_name(n.dns_type.expect("checked"))
                ),
            )))
        }
        Seen::Present(_) => NetworkStep::Record(BdeNetwork { name, ours: intended }),
        Seen::Absent if *action == Action::Adopt => NetworkStep::Other(fail(EngineError::field(
            field,
            format!("BDE has no network for this Neutron network ({name}): the cluster to adopt cannot be on it"),
        ))),
        Seen::Absent if !intended => NetworkStep::Intend,
        Seen::Absent => NetworkStep::Register(name),
        Seen::Unread => NetworkStep::Other(Step::Wait("looking up the BDE network".into())),
    }
}

/// The one portgroup NSX-v made for a network, or the step to take without it.
fn portgroup_step(
    found: Option<&[PortgroupRef]>,
    network_id: &str,
    state: &State,
    now: f64,
) -> Result<PortgroupRef, Step> {
    match found {
        Some([pg]) => Ok(pg.clone()),
        Some([]) | None => {
            let since = state.portgroup_wait_since.unwrap_or(now);
            if now - since > PORTGROUP_WAIT_SECONDS {
                return Err(fail(EngineError::timeout(format!(
                    "no NSX-v portgroup for network {network_id} in vCenter after {PORTGROUP_WAIT_SECONDS} s: \
                     is the network on NSX-v?"
                ))));
            }
            Err(Step::WaitForPortgroup)
        }
        Some(many) => Err(fail(EngineError::remote(
            crate::error::Service::VCenter,
            format!(
                "{} portgroups in vCenter match the network: {}",
                many.len(),
                many.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ))),
    }
}

/// A DNS type as the spec writes it.
fn dns_name(t: bde_serengeti::DnsType) -> &'static str {
    match t {
        bde_serengeti::DnsType::Normal => "NORMAL",
        bde_serengeti::DnsType::Dynamic => "DYNAMIC",
        bde_serengeti::DnsType::Others => "OTHERS",
    }
}

fn create_cluster(spec: &ValidSpec, state: &State, seen: &Observed, action: &Action) -> Step {
    let name = &spec.cluster_name;
    let claimed = state.cluster.as_ref().map(|c| c.how);
    match (&seen.cluster, claimed) {
        (Seen::Unread, _) => Step::Wait("looking up the cluster".into()),
        (Seen::Absent, None) if *action == Action::Adopt => fail(EngineError::field(
            "cluster_name",
            format!("BDE has no cluster {name:?} to adopt: check the name"),
        )),
        (Seen::Absent, None) => Step::IntendCluster,
        (Seen::Absent, Some(_)) => Step::CreateCluster,
        (Seen::Present(cluster), None) if *action == Action::Adopt => adopt(state, cluster, name),
        (Seen::Present(_), None) => fail(EngineError::not_ours(format!(
            "BDE already has a cluster {name:?} that this product did not create: choose another name, \
             or take it over with `bde-heat adopt`"
        ))),
        // Ours: the create was sent but its answer (or the save after it) was lost.
        (Seen::Present(_), Some(how)) => Step::ClaimCluster {
            how: if how == ClaimKind::Intended {
                ClaimKind::Requested
            } else {
                how
            },
            desired: BTreeMap::new(),
        },
    }
}

/// Takes over an existing cluster once its nodes are seen on the spec's network.
fn adopt(state: &State, cluster: &ClusterView, name: &str) -> Step {
    let network = state.bde_network.as_ref().map(|n| n.name.as_str()).unwrap_or_default();
    let portgroup = state.portgroup.as_ref().map(|p| p.name.as_str()).unwrap_or_default();
    let on_ours = |n: &crate::observe::BdeNodeView| {
        n.networks.iter().any(|x| x == network) || n.portgroups.iter().any(|x| x == portgroup)
    };
    if !cluster.nodes.iter().any(on_ours) {
        let elsewhere: Vec<&str> = cluster
            .nodes
            .iter()
            .flat_map(|n| n.networks.iter().map(String::as_str))
            .collect();
        return fail(EngineError::field(
            "network",
            format!(
                "cluster {name:?} has no node on this network's BDE network {network} (its nodes are on: {}): \
                 adopt it with the spec of the network it is on",
                if elsewhere.is_empty() {
                    "none known".into()
                } else {
                    elsewhere.join(", ")
                }
            ),
        ));
    }
    Step::ClaimCluster {
        how: ClaimKind::Adopted,
        desired: cluster.groups.iter().map(|g| (g.name.clone(), g.size)).collect(),
    }
}

/// The cluster BDE shows for this state, or the step when it shows none (gone: a failure
/// with `then` appended; not read: wait).
fn live_cluster<'a>(spec: &ValidSpec, state: &State, seen: &'a Observed, then: &str) -> Result<&'a ClusterView, Step> {
    match &seen.cluster {
        Seen::Present(c) => Ok(c),
        Seen::Absent => Err(fail(EngineError::remote(
            crate::error::Service::Bde,
            format!(
                "BDE no longer knows cluster {}{then}",
                state.owned_cluster().unwrap_or(&spec.cluster_name)
            ),
        ))),
        Seen::Unread => Err(Step::Wait("looking up the cluster".into())),
    }
}

/// Wiring, while a create, resume, start or resize runs: ports first, then
/// VMs whose ports are gone, then stuck VMs, then the task's end.
fn wire(spec: &ValidSpec, state: &State, seen: &Observed, now: f64) -> Step {
    let cluster = match live_cluster(spec, state, seen, "") {
        Ok(c) => c,
        Err(step) => return step,
    };
    if state.resume_needed {
        return if cluster.status == ClusterStatus::ProvisionError {
            Step::ResumeCreate
        } else {
            // An earlier step's resume was accepted but its answer lost.
            follow(state, TaskKind::Resume)
        };
    }
    if let Some(step) = mend(spec, state, seen, now) {
        return step;
    }
    finish(state, seen, cluster)
}

/// What wiring would do now on the cluster's VMs, if anything: ports for
/// NICs without one, ports of vanished VMs removed, stuck VMs reset.
fn mend(spec: &ValidSpec, state: &State, seen: &Observed, now: f64) -> Option<Step> {
    if let Some(bad) = bad_mac(seen) {
        return Some(fail(bad));
    }
    let placement = state.placement()?;
    let (adopt, create) = port_plan(spec, state, seen, placement.neutron);
    if !adopt.is_empty() || !create.is_empty() {
        return Some(Step::MakePorts { adopt, create });
    }
    if let Some(vms) = &seen.vms {
        let gone: Vec<String> = state
            .nodes
            .iter()
            .filter(|(name, n)| n.vm.is_some() && !vms.iter().any(|v| &v.name == *name))
            .map(|(name, _)| name.clone())
            .collect();
        if !gone.is_empty() {
            let ports = gone
                .iter()
                .flat_map(|g| state.nodes[g].ports.values().map(|p| p.id.clone()))
                .collect();
            return Some(Step::DeletePorts { ports, forget: gone });
        }
    }
    let stuck = stuck_vms(spec, state, now);
    (!stuck.is_empty()).then_some(Step::ResetVms(stuck))
}

/// Ports to record (found on the network with the NIC's MAC) and to make,
/// earliest clones first, at most [`MAX_PORTS_PER_STEP`] made.
/// Which VM's ports go first: those already powered on (their guests are asking for
/// DHCP now), then the earliest seen, then in BDE's clone order (by the node's index,
/// `worker-2` before `worker-10`; VMs found in one read share their time).
fn wiring_order<'a>((name, node): &(&'a String, &NodeState)) -> (bool, u64, &'a str, u64) {
    let (prefix, index) = match name.rsplit_once('-') {
        Some((prefix, index)) if index.parse::<u64>().is_ok() => (prefix, index.parse().unwrap_or(0)),
        _ => (name.as_str(), 0),
    };
    let seen = node.seen_at.map_or(u64::MAX, |t| (t * 1000.0) as u64);
    (node.power_state != PowerState::PoweredOn, seen, prefix, index)
}

fn port_plan(
    spec: &ValidSpec,
    state: &State,
    seen: &Observed,
    ids: &NeutronIds,
) -> (Vec<(String, String, PortRecord)>, Vec<PortRequest>) {
    let Some(listed) = &seen.ports else {
        return (Vec::new(), Vec::new());
    };
    let mut nodes: Vec<_> = state.nodes.iter().collect();
    nodes.sort_by(|a, b| wiring_order(a).cmp(&wiring_order(b)));
    let mut adopt = Vec::new();
    let mut create = Vec::new();
    let present = |name: &str| seen.vms.as_ref().is_none_or(|vms| vms.iter().any(|v| v.name == name));
    // The network of a VM's NIC (by the portgroup vCenter shows it on), and its subnet.
    let network_of = |vm: &str, mac: &str| -> String {
        seen.vms
            .iter()
            .flatten()
            .find(|v| v.name == vm)
            .and_then(|v| {
                let i = v.nics.iter().position(|(_, m)| m == mac)?;
                v.nic_networks.get(i).cloned()
            })
            .unwrap_or_else(|| ids.network_id.clone())
    };
    let subnet_of = |network: &str| -> String {
        state
            .traffic
            .iter()
            .find(|t| t.network_id == network)
            .map_or_else(|| ids.subnet_id.clone(), |t| t.subnet_id.clone())
    };
    // A VM gone from vCenter gets no port (its node is forgotten instead); nor one not
    // read this step (its instanceUuid, the port's device_id, is not stored).
    for (name, node) in nodes
        .into_iter()
        .filter(|(name, n)| present(name) && n.instance_uuid.is_some())
    {
        // Static addresses: a port only with the address BDE reserved for the NIC on its
        // network (its guest sets that one); a node with a reservation not read yet waits.
        let reserved =
            |network_id: &str| -> Option<&String> { seen.static_ips.as_ref()?.get(network_id)?.get(name.as_str()) };
        let networks: Vec<String> = node.macs.iter().map(|mac| network_of(name, mac)).collect();
        if spec.is_static() && networks.iter().any(|n| reserved(n).is_none()) {
            continue;
        }
        for (index, (mac, network_id)) in node.macs.iter().zip(networks).enumerate() {
            match listed.iter().find(|p| p.mac == *mac) {
                Some(p) if node.ports.get(mac).is_some_and(|r| r.id == p.id) => {}
                Some(p) => adopt.push((
                    name.clone(),
                    mac.clone(),
                    PortRecord {
                        id: p.id.clone(),
                        ip: p.ip.clone(),
                    },
                )),
                None => {
                    let subnet_id = subnet_of(&network_id);
                    // A VM that already has an address (its port was deleted behind the
                    // product's back) gets a port with that same address: its lease stays valid.
                    let address = match reserved(&network_id) {
                        Some(ip) if spec.is_static() => Some(ip),
                        _ => node.ip.as_ref().filter(|_| index == 0 && network_id == ids.network_id),
                    };
                    create.push(PortRequest {
                        mac_address: mac.clone(),
                        name: format!("{name}-port{index}"),
                        device_owner: spec.device_owner.clone(),
                        device_id: node.instance_uuid.clone().unwrap_or_default(), // Some: filtered above
                        fixed_ips: vec![match address {
                            Some(ip) => serde_json::json!({ "subnet_id": subnet_id, "ip_address": ip }),
                            None => serde_json::json!({ "subnet_id": subnet_id }),
                        }],
                        network_id,
                        security_groups: (!ids.security_group_ids.is_empty()).then(|| ids.security_group_ids.clone()),
                    });
                }
            }
        }
    }
    create.truncate(MAX_PORTS_PER_STEP);
    (adopt, create)
}

/// VMs on, wired, without an address for the grace, under their reset budget, no reset under way.
/// None with static addresses: the guest sets its own, and a reset would not change that.
fn stuck_vms(spec: &ValidSpec, state: &State, now: f64) -> Vec<(String, String)> {
    if spec.is_static() {
        return Vec::new();
    }
    state
        .nodes
        .iter()
        .filter(|(_, n)| {
            n.power_state == PowerState::PoweredOn
                && n.is_wired()
                && n.ip.is_none()
                && n.reset_task.is_none()
                && n.waiting_since
                    .is_some_and(|since| now - since >= spec.dhcp_grace_seconds)
                && n.resets_in_this_wait() < spec.max_resets
        })
        .filter_map(|(name, n)| Some((name.clone(), n.vm.clone()?)))
        .collect()
}

/// A NIC MAC that is not one: refused before any port is made from it.
fn bad_mac(seen: &Observed) -> Option<EngineError> {
    seen.vms.iter().flatten().find_map(|vm| {
        vm.nics.iter().find(|(_, mac)| !is_mac(mac)).map(|(key, mac)| {
            EngineError::remote(
                crate::error::Service::VCenter,
                format!(
                    "vCenter gave VM {} ({}) NIC {key} the macAddress {mac:?}, which is not a MAC address \
                     (six hex pairs): no port was made in this poll; check the VM's network adapter in vCenter",
                    vm.name, vm.moref
                ),
            )
        })
    })
}

/// A MAC as vCenter writes it: six pairs of hex digits joined by colons.
pub(crate) fn is_mac(mac: &str) -> bool {
    let pairs: Vec<&str> = mac.split(':').collect();
    pairs.len() == 6
        && pairs
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Where the followed task stands: its own status, or the cluster's when the
/// task's id was lost.
fn task_outcome(state: &State, seen: &Observed, cluster: Option<&ClusterView>) -> Option<TaskOutcome> {
    let pending = state.pending.as_ref()?;
    if pending.id.is_some() {
        return seen.task.clone();
    }
    let status = cluster.map(|c| c.status);
    Some(match (&pending.kind, status) {
        (_, None) => TaskOutcome::Running(0.0),
        (TaskKind::Stop, Some(ClusterStatus::Stopped)) => TaskOutcome::Completed,
        (TaskKind::Stop, Some(ClusterStatus::Running)) => TaskOutcome::Failed(Some("the stop did not take".into())),
        (TaskKind::Create | TaskKind::Resume | TaskKind::Expand { .. }, Some(ClusterStatus::ProvisionError)) => {
            TaskOutcome::Failed(None)
        }
        (TaskKind::Configure, Some(ClusterStatus::ConfigureError)) => TaskOutcome::Failed(None),
        (_, Some(s)) if s.is_stable() => TaskOutcome::Completed,
        _ => TaskOutcome::Running(0.0),
    })
}

fn finish(state: &State, seen: &Observed, cluster: &ClusterView) -> Step {
    let outcome = task_outcome(state, seen, Some(cluster));
    let creating = state
        .pending
        .as_ref()
        .is_none_or(|p| matches!(p.kind, TaskKind::Create | TaskKind::Resume));
    let provision_error = cluster.status == ClusterStatus::ProvisionError;
    let all_addressed = all_addressed(state);
    match outcome {
        Some(TaskOutcome::Failed(reason)) => {
            let reason = reason.unwrap_or_else(|| "the task failed".into());
            if creating {
                Step::Fail(
                    EngineError::bde_failed(format!(
                        "{reason} (the cluster's create failed; run it again, or update the stack, to resume it)"
                    )),
                    OnFail::ResumeNext,
                )
            } else {
                Step::Fail(EngineError::bde_failed(reason), OnFail::DropTask)
            }
        }
        None if provision_error => Step::Fail(
            EngineError::bde_failed(
                "the cluster is in PROVISION_ERROR (the cluster's create failed; run it again, or update the stack, to resume it)",
            ),
            OnFail::ResumeNext,
        ),
        Some(TaskOutcome::Completed) | None if all_addressed && cluster.status == ClusterStatus::Running => {
            Step::Settle(Phase::Ready)
        }
        other => {
            let wired = state.nodes.values().filter(|n| !n.ports.is_empty()).count();
            let addressed = state.nodes.values().filter(|n| n.ip.is_some()).count();
            let progress = match other {
                Some(TaskOutcome::Running(p)) => (p * 100.0) as u32,
                _ => 100,
            };
            Step::Wait(format!(
                "BDE task {progress}%: {} nodes, {wired} wired, {addressed} with an address, {} resets",
                state.nodes.len(),
                state.resets
            ))
        }
    }
}

/// True when the cluster has nodes and every one has its address.
/// Every node has its address and none is being reset (a reset under way takes the
/// address away again when the guest reboots, even if it leased one meanwhile).
fn all_addressed(state: &State) -> bool {
    !state.nodes.is_empty() && state.nodes.values().all(|n| n.ip.is_some() && n.reset_task.is_none())
}

fn ready(spec: &ValidSpec, state: &State, seen: &Observed, action: &Action, now: f64) -> Step {
    if matches!(action, Action::Create | Action::Adopt | Action::Check) {
        return Step::Done;
    }
    if state.cluster.is_none() {
        return not_made_yet(spec, state, action);
    }
    let cluster = match live_cluster(spec, state, seen, ": delete it here, then create it again") {
        Ok(c) => c,
        Err(step) => return step,
    };
    match action {
        Action::Stop => match cluster.status {
            ClusterStatus::Stopped if state.phase == Phase::Stopped => Step::Done,
            ClusterStatus::Stopped => Step::Settle(Phase::Stopped),
            ClusterStatus::Stopping => follow(state, TaskKind::Stop),
            _ => Step::StartTask(TaskKind::Stop),
        },
        Action::Start => match cluster.status {
            ClusterStatus::Running if state.phase == Phase::Ready && all_addressed(state) => Step::Done,
            ClusterStatus::Running if state.phase == Phase::Ready => Step::EnterPhase(Phase::Wire),
            ClusterStatus::Starting => follow(state, TaskKind::Start),
            _ => Step::StartTask(TaskKind::Start),
        },
        Action::Resize { group, count } => resize(spec, state, cluster, group, *count),
        Action::Apply => {
            let wanted = spec.group_sizes();
            if wanted.iter().any(|(g, n)| state.desired.get(g) != Some(n)) {
                let mut desired = state.desired.clone();
                desired.extend(wanted);
                return Step::SetDesired(desired);
            }
            if let (Some(found), Some(recorded)) = (&seen.lookups, &state.neutron) {
                match resolve_neutron(spec, found) {
                    Err(e) => return fail(e),
                    Ok(ids) if ids.network_id != recorded.network_id || ids.subnet_id != recorded.subnet_id => {
                        return fail(EngineError::field(
                            "network",
                            "BDE cannot move a cluster to another network or subnet: delete it and create it anew",
                        ));
                    }
                    Ok(ids) if ids.security_group_ids != recorded.security_group_ids => {
                        return Step::SetSecurityGroups(ids.security_group_ids);
                    }
                    Ok(_) => {}
                }
            }
            if let Some(step) = reshape(spec, state, cluster) {
                return step;
            }
            if spec.configuration_digest() != state.configured {
                return if cluster.status == ClusterStatus::Configuring {
                    follow(state, TaskKind::Configure)
                } else {
                    Step::StartTask(TaskKind::Configure)
                };
            }
            repair(spec, state, seen, cluster, now)
        }
        _ => repair(spec, state, seen, cluster, now),
    }
}

fn resize(spec: &ValidSpec, state: &State, cluster: &ClusterView, group: &str, count: u32) -> Step {
    let Some(found) = cluster.groups.iter().find(|g| g.name == group) else {
        return fail(EngineError::field(
            "node_groups",
            format!(
                "the cluster has no node group {group:?} (it has: {})",
                cluster
                    .groups
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    if let Some((i, g)) = spec.node_groups.iter().enumerate().find(|(_, g)| g.name == group) {
        let fixed: Vec<&str> = g
            .roles
            .iter()
            .map(String::as_str)
            .filter(|r| bde_serengeti::rules::UNSCALABLE_ROLES.contains(r))
            .collect();
        if !fixed.is_empty() && count != found.size {
            return fail(EngineError::field(
                &format!("node_groups[{i}].instance_num"),
                format!(
                    "group {group:?} holds {}: BDE cannot grow or shrink it (CLUSTER.ROLES_NOT_SUPPORTED); keep {} VM(s)",
                    fixed.join(", "),
                    found.size
                ),
            ));
        }
    }
    let kind = TaskKind::Resize {
        group: group.to_string(),
        count,
    };
    if is_resizing(cluster.status) {
        // A resize under way whose answer was lost (BDE sets the group's new size at once): follow it.
        return follow(state, kind);
    }
    if found.size == count {
        if state.desired.get(group) == Some(&count) {
            return Step::Done;
        }
        let mut desired = state.desired.clone();
        desired.insert(group.to_string(), count);
        return Step::SetDesired(desired);
    }
    Step::StartTask(kind)
}

/// BDE's statuses while a node group grows (`UPDATING`), shrinks or is scaled
/// (`MAINTENANCE`), or groups are added (`EXPANDING`).
fn is_resizing(status: ClusterStatus) -> bool {
    matches!(
        status,
        ClusterStatus::Updating | ClusterStatus::Maintenance | ClusterStatus::Expanding
    )
}

/// What an apply changes beyond group sizes, one BDE task at a time: groups the file
/// adds (BDE's expand), then each group's CPUs and memory (BDE's scale, VM by VM). A
/// group the file drops is refused: BDE cannot remove one.
fn reshape(spec: &ValidSpec, state: &State, cluster: &ClusterView) -> Option<Step> {
    if spec.node_groups.is_empty() {
        return None; // BDE's default layout: nothing of the file's to compare with
    }
    let dropped: Vec<&str> = cluster
        .groups
        .iter()
        .filter(|g| !spec.node_groups.iter().any(|s| s.name == g.name))
        .map(|g| g.name.as_str())
        .collect();
    if !dropped.is_empty() {
        return Some(fail(EngineError::field(
            "node_groups",
            format!(
                "BDE cannot remove a node group from a cluster ({} would go): keep it in the file (its size may shrink)",
                dropped.join(", ")
            ),
        )));
    }
    let added: Vec<String> = spec
        .node_groups
        .iter()
        .filter(|s| !cluster.groups.iter().any(|g| g.name == s.name))
        .map(|s| s.name.clone())
        .collect();
    if !added.is_empty() {
        let kind = TaskKind::Expand { groups: added };
        return Some(if is_resizing(cluster.status) {
            follow(state, kind)
        } else {
            Step::StartTask(kind)
        });
    }
    for wanted in &spec.node_groups {
        let Some(found) = cluster.groups.iter().find(|g| g.name == wanted.name) else {
            continue;
        };
        // BDE keeps memory in multiples of 4 MB.
        let (cpus, memory_mb) = wanted.size();
        let cpus = cpus.filter(|c| *c != found.cpus);
        let memory_mb = memory_mb.map(|m| m / 4 * 4).filter(|m| *m != found.memory_mb);
        if cpus.is_none() && memory_mb.is_none() {
            continue;
        }
        let kind = TaskKind::Scale {
            group: wanted.name.clone(),
            cpus: cpus.unwrap_or(0),
            memory_mb: memory_mb.unwrap_or(0),
        };
        return Some(if is_resizing(cluster.status) {
            follow(state, kind)
        } else {
            Step::StartTask(kind)
        });
    }
    None
}

fn repair(spec: &ValidSpec, state: &State, seen: &Observed, cluster: &ClusterView, now: f64) -> Step {
    let found = drift::diff(spec, state, seen);
    if found.is_empty() {
        return Step::Done;
    }
    if let Some(d) = found.iter().find(|d| d.kind == DriftKind::GroupSize)
        && let Some(want) = state.desired_size(&spec.node_groups, &d.subject)
    {
        if is_resizing(cluster.status) {
            return Step::Wait(format!("BDE is updating the cluster; {} waits", d.subject));
        }
        return Step::StartTask(TaskKind::Resize {
            group: d.subject.clone(),
            count: want,
        });
    }
    let name = state.owned_cluster().unwrap_or(&spec.cluster_name);
    let orphans: Vec<String> = drift::orphan_ports(spec, name, seen).map(|p| p.id.clone()).collect();
    if !orphans.is_empty() {
        return Step::DeletePorts {
            ports: orphans,
            forget: Vec::new(),
        };
    }
    let regroup: Vec<String> = drift::ports_with_other_groups(state, seen)
        .map(|p| p.id.clone())
        .collect();
    if !regroup.is_empty() {
        let groups = state
            .neutron
            .as_ref()
            .map(|n| n.security_group_ids.clone())
            .unwrap_or_default();
        return Step::UpdatePortGroups {
            ports: regroup,
            security_groups: groups,
        };
    }
    if let Some(step) = mend(spec, state, seen, now) {
        return step;
    }
    let (left, beyond): (Vec<_>, Vec<_>) = found.iter().partition(|d| d.kind.is_repairable());
    if left.is_empty() {
        // What is left is not the product's to mend (a stopped cluster, a VM deleted behind BDE's back).
        return fail(EngineError::remote(
            crate::error::Service::Bde,
            format!(
                "cannot repair: {}",
                beyond
                    .iter()
                    .map(|d| format!("{} {} ({})", d.kind, d.subject, d.detail))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Step::Wait(format!(
        "repairing: {}",
        left.iter()
            .map(|d| format!("{} {}", d.kind, d.subject))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn follow_stop(state: &State, seen: &Observed) -> Step {
    match task_outcome(state, seen, seen.cluster.present()) {
        Some(TaskOutcome::Completed) => Step::Settle(Phase::Stopped),
        Some(TaskOutcome::Failed(reason)) => Step::Fail(
            EngineError::bde_failed(reason.unwrap_or_else(|| "the stop failed".into())),
            OnFail::DropTask,
        ),
        Some(TaskOutcome::Running(p)) => Step::Wait(format!("BDE is stopping the VMs ({}%)", (p * 100.0) as u32)),
        None => Step::Settle(Phase::Stopped),
    }
}

fn delete(spec: &ValidSpec, state: &State, seen: &Observed, phase: Phase) -> Step {
    match phase {
        Phase::DeleteCluster => {
            if state.cluster.is_none() {
                // Nothing in BDE is ours: its cluster of that name (if any) stays.
                return Step::EnterPhase(Phase::DeletePorts);
            }
            let deleting = state.pending.as_ref().filter(|p| p.kind == TaskKind::Delete);
            if deleting.is_some_and(|p| p.id.is_some()) {
                return match &seen.task {
                    Some(TaskOutcome::Completed) => Step::EnterPhase(Phase::DeletePorts),
                    Some(TaskOutcome::Failed(reason)) => Step::Fail(
                        EngineError::bde_failed(reason.clone().unwrap_or_else(|| "the delete failed".into())),
                        OnFail::DropTask,
                    ),
                    Some(TaskOutcome::Running(p)) => {
                        Step::Wait(format!("BDE is deleting the VMs ({}%)", (p * 100.0) as u32))
                    }
                    None => Step::Wait("looking up BDE's delete task".into()),
                };
            }
            match &seen.cluster {
                Seen::Absent => Step::EnterPhase(Phase::DeletePorts),
                Seen::Present(c) if c.status == ClusterStatus::Deleting => follow(state, TaskKind::Delete),
                Seen::Present(_) => Step::StartTask(TaskKind::Delete),
                Seen::Unread => Step::Wait("looking up the cluster".into()),
            }
        }
        Phase::DeletePorts => {
            let mut ports = state.port_ids();
            if let Some(name) = state.owned_cluster() {
                // Ports of this cluster's VMs an interrupted step made but did not record.
                let prefix = format!("{name}-");
                ports.extend(
                    seen.ports
                        .iter()
                        .flatten()
                        .filter(|p| p.name.starts_with(&prefix) && p.device_owner == spec.device_owner)
                        .map(|p| p.id.clone()),
                );
            }
            ports.sort();
            ports.dedup();
            if ports.is_empty() {
                Step::EnterPhase(Phase::DeleteNetwork)
            } else {
                Step::DeletePorts {
                    ports,
                    forget: Vec::new(),
                }
            }
        }
        Phase::DeleteNetwork => {
            let ours = |n: &Option<BdeNetwork>| n.as_ref().filter(|n| n.ours).map(|n| n.name.clone());
            if let Some((i, name)) = state
                .traffic
                .iter()
                .enumerate()
                .find_map(|(i, t)| ours(&t.bde_network).map(|n| (i, n)))
            {
                return Step::DeleteTrafficNetwork(i, name);
            }
            match ours(&state.bde_network) {
                Some(name) => Step::DeleteNetwork(name),
                None => Step::Settle(Phase::Deleted),
            }
        }
        _ => Step::Done,
    }
}

#[cfg(test)]
mod tests;
