//! Observe: what BDE, vCenter and Neutron show, read and never written.
//! Which reads a step makes is itself decided purely ([`plan`]) from the
//! state and the action, so a poll costs the same few calls whatever the
//! cluster's size: one BDE cluster read, one task read, one batched vCenter
//! read below the cluster's folder, and at most one Neutron port list.

use bde_openstack::Neutron;
use bde_serengeti::{ClusterRead, ClusterStatus, NO_ADDRESS, TaskOutcome};
use bde_vsphere::{MoRef, TaskState};

use crate::action::Action;
use crate::connect::{Clients, OpenStackAccess};
use crate::error::EngineError;
use crate::preflight::StaticNet;
use crate::spec::ValidSpec;
use crate::state::{NeutronIds, Phase, PortgroupRef, PowerState, State, TrafficNetwork};
use crate::static_ip::StaticBlocks;

/// What a remote read found.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Seen<T> {
    /// Not read in this step.
    #[default]
    Unread,
    /// Read: it does not exist (404).
    Absent,
    /// Read: here it is.
    Present(T),
}

impl<T> Seen<T> {
    /// The value, when present.
    pub fn present(&self) -> Option<&T> {
        match self {
            Seen::Present(v) => Some(v),
            _ => None,
        }
    }
}

/// Everything one step read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The spec's Neutron names, looked up.
    pub lookups: Option<NeutronLookups>,
    /// What BDE offers of what the spec names (before a create).
    pub offered: Option<crate::preflight::Offered>,
    /// Neutron's room for the ports (before a create; with the lookups).
    pub room: Option<crate::preflight::Room>,
    /// NSX-v portgroups of the network.
    pub portgroups: Option<Vec<PortgroupRef>>,
    /// NSX-v portgroups of each traffic network, in the state's order (when read).
    pub traffic_portgroups: Vec<Vec<PortgroupRef>>,
    /// The BDE network of each traffic network, in the state's order (when read).
    pub traffic_bde_networks: Vec<Seen<BdeNetworkView>>,
    /// The BDE network for the Neutron network.
    pub bde_network: Seen<BdeNetworkView>,
    /// The BDE cluster.
    pub cluster: Seen<ClusterView>,
    /// The pending BDE task.
    pub task: Option<TaskOutcome>,
    /// The cluster's folder in vCenter, when it was looked up in this step.
    pub folder: Option<String>,
    /// The cluster's VMs (those named `<cluster>-...` below its folder).
    pub vms: Option<Vec<VmView>>,
    /// Ports on the network.
    pub ports: Option<Vec<PortView>>,
    /// Resets under way, by node: where their vCenter task stands.
    pub resets: Vec<(String, ResetProgress)>,
    /// With static addresses: the address BDE reserved for each node of the cluster
    /// (read with the ports: BDE reserves them before it clones).
    /// By Neutron network, then node.
    pub static_ips: Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>>,
    /// With static addresses: how many addresses of each registered static BDE network
    /// no node holds, by Neutron network (when read).
    pub static_free: std::collections::BTreeMap<String, u64>,
}

/// The spec's Neutron names as Neutron resolved them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NeutronLookups {
    /// Networks with that name or id.
    pub networks: Vec<NetworkView>,
    /// Subnets with the spec's subnet name or id (`None`: the spec names none).
    pub subnets: Option<Vec<SubnetView>>,
    /// Security group ids with the spec's name or id (`None`: the spec names none).
    pub security_groups: Option<Vec<String>>,
    /// The traffic networks' lookups, in the spec's order.
    pub traffic: Vec<NeutronLookups>,
}

/// A Neutron network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkView {
    /// Its id.
    pub id: String,
    /// Its subnets' ids.
    pub subnets: Vec<String>,
}

/// A Neutron subnet.
#[derive(Debug, Clone, PartialEq)]
pub struct SubnetView {
    /// Its id.
    pub id: String,
    /// Its network's id.
    pub network_id: String,
}

/// A BDE cluster as read.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    /// Its status.
    pub status: ClusterStatus,
    /// Its node groups.
    pub groups: Vec<GroupView>,
    /// Its nodes.
    pub nodes: Vec<BdeNodeView>,
}

/// A node group as BDE reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    /// Its name.
    pub name: String,
    /// Its VM count.
    pub size: u32,
    /// CPUs per VM, as BDE last set them.
    pub cpus: u32,
    /// Memory per VM (MB), as BDE last set it.
    pub memory_mb: u32,
}

/// A node as BDE reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct BdeNodeView {
    /// The VM name.
    pub name: String,
    /// Its group.
    pub group: String,
    /// BDE's node status text.
    pub status: String,
    /// Its address, once it has one.
    pub ip: Option<String>,
    /// The BDE networks its NICs are on.
    pub networks: Vec<String>,
    /// The portgroups its NICs are on.
    pub portgroups: Vec<String>,
}

/// A VM as vCenter reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct VmView {
    /// Its name.
    pub name: String,
    /// Its reference value (`vm-N`).
    pub moref: String,
    /// `config.instanceUuid`.
    pub instance_uuid: String,
    /// Its power state.
    pub power: PowerState,
    /// Its NICs on the cluster's portgroups: device key and MAC, in device order.
    pub nics: Vec<(i32, String)>,
    /// The Neutron network of each of those NICs.
    pub nic_networks: Vec<String>,
}

/// A Neutron port.
#[derive(Debug, Clone, PartialEq)]
pub struct PortView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its MAC.
    pub mac: String,
    /// Its owner.
    pub device_owner: String,
    /// Its security groups' ids.
    pub security_groups: Vec<String>,
    /// Its first fixed IP.
    pub ip: Option<String>,
}

/// Where a VM reset stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ResetProgress {
    /// Still running.
    Running,
    /// Done.
    Done,
    /// vCenter refused or failed it.
    Failed(String),
}

/// A BDE network as the engine looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BdeNetworkView {
    /// Its portgroup's name.
    pub portgroup: String,
    /// How BDE names hosts on it.
    pub dns_type: Option<bde_serengeti::DnsType>,
}

/// Which reads a step needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Resolve the spec's Neutron names.
    pub lookups: bool,
    /// Read what BDE offers and Neutron's room, to check the spec before anything is made.
    pub preflight: bool,
    /// List the network's portgroups.
    pub portgroups: bool,
    /// Read the BDE network.
    pub bde_network: bool,
    /// Read the cluster (by this name).
    pub cluster: Option<String>,
    /// Read the pending task.
    pub task: Option<i64>,
    /// Read the cluster's VMs.
    pub vms: bool,
    /// List the network's ports: always, or only when a VM's MAC has no recorded port.
    pub ports: PortsRead,
    /// Follow the resets under way.
    pub resets: bool,
    /// Read the static BDE network's free addresses (static clusters, before nodes are made).
    pub static_room: bool,
}

/// When to list the network's ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PortsRead {
    /// Not in this step.
    #[default]
    Never,
    /// When some NIC has no recorded port (wiring).
    IfUnwired,
    /// Always (check, repair, delete).
    Always,
}

/// The phase an action works in: a delete starts deleting from any phase;
/// a create of a deleted cluster starts anew.
pub fn effective_phase(state: &State, action: &Action) -> Phase {
    match (action, state.phase) {
        (Action::Delete, Phase::DeleteCluster | Phase::DeletePorts | Phase::DeleteNetwork | Phase::Deleted) => {
            state.phase
        }
        (Action::Delete, _) => Phase::DeleteCluster,
        (Action::Create | Action::Adopt | Action::Repair | Action::Apply, Phase::Deleted) => Phase::Validate,
        (_, phase) => phase,
    }
}

/// The reads a step needs, from the state and the action alone.
pub fn plan(spec: &ValidSpec, state: &State, action: &Action) -> Reads {
    let phase = effective_phase(state, action);
    Reads {
        static_room: spec.is_static() && makes_nodes(phase, action),
        ..plan_by_phase(spec, state, action, phase)
    }
}

/// Whether a step of this phase and action may ask BDE for new nodes (create, grow, add groups).
fn makes_nodes(phase: Phase, action: &Action) -> bool {
    match phase {
        Phase::CreateCluster => true,
        Phase::Ready | Phase::Stopped => matches!(action, Action::Resize { .. } | Action::Apply | Action::Repair),
        _ => false,
    }
}

fn plan_by_phase(spec: &ValidSpec, state: &State, action: &Action, phase: Phase) -> Reads {
    let owned = state.owned_cluster().map(str::to_string);
    let task = state.pending.as_ref().and_then(|p| p.id);
    let wiring = Reads {
        cluster: owned.clone(),
        task,
        vms: true,
        ports: PortsRead::IfUnwired,
        resets: true,
        ..Reads::default()
    };
    match phase {
        Phase::Validate => Reads {
            lookups: true,
            preflight: *action != Action::Adopt,
            ..Reads::default()
        },
        Phase::FindPortgroup => Reads {
            portgroups: true,
            ..Reads::default()
        },
        Phase::RegisterNetwork => Reads {
            bde_network: true,
            ..Reads::default()
        },
        Phase::CreateCluster => Reads {
            cluster: Some(owned.unwrap_or_else(|| spec.cluster_name.clone())),
            ..Reads::default()
        },
        Phase::Wire => wiring,
        Phase::Ready | Phase::Stopped => match action {
            Action::Create | Action::Adopt => Reads::default(),
            Action::Check | Action::Repair => Reads {
                ports: PortsRead::Always,
                ..wiring
            },
            // An apply also resolves the spec's names again: its security group may have changed.
            Action::Apply => Reads {
                lookups: true,
                ports: PortsRead::Always,
                ..wiring
            },
            Action::Stop | Action::Start | Action::Resize { .. } | Action::Delete => Reads {
                cluster: owned,
                ..Reads::default()
            },
        },
        Phase::Stopping => Reads {
            cluster: owned,
            task,
            ..Reads::default()
        },
        Phase::DeleteCluster => Reads {
            cluster: owned,
            task: state
                .pending
                .as_ref()
                .filter(|p| p.kind == crate::state::TaskKind::Delete)
                .and_then(|p| p.id),
            ..Reads::default()
        },
        Phase::DeletePorts => Reads {
            ports: PortsRead::Always,
            ..Reads::default()
        },
        Phase::DeleteNetwork | Phase::Deleted => Reads::default(),
    }
}

/// Whether a step lists the network's ports, given the VMs it read (if any).
pub(crate) fn lists_ports(when: PortsRead, state: &State, vms: Option<&[VmView]>) -> bool {
    match when {
        PortsRead::Never => false,
        PortsRead::Always => true,
        PortsRead::IfUnwired => vms.is_some_and(|vms| needs_port_list(state, vms)),
    }
}

/// True when some NIC of a VM, or of a node the state knows, has no port recorded
/// for it: a VM to wire, or a state just loaded (ports are not stored).
fn needs_port_list(state: &State, vms: &[VmView]) -> bool {
    let unwired_vm = vms.iter().any(|vm| {
        let recorded = state.nodes.get(&vm.name);
        vm.nics
            .iter()
            .any(|(_, mac)| recorded.is_none_or(|n| !n.ports.contains_key(mac)))
    });
    unwired_vm || state.nodes.values().any(|n| !n.is_wired() && !n.macs.is_empty())
}

/// Reads what `reads` asks for. 404 is absence, never an error.
pub async fn observe(c: &Clients, spec: &ValidSpec, state: &State, reads: &Reads) -> Result<Observed, EngineError> {
    let mut seen = Observed::default();
    if reads.lookups {
        let found = lookups(&c.neutron, spec).await?;
        if reads.preflight
            && let Ok(ids) = resolve_neutron(spec, &found)
            && let Ok(traffic) = resolve_traffic(spec, &found, &ids)
        {
            let nets = crate::preflight::static_nets(spec, &ids, &traffic);
            let static_networks = Some(static_networks(&c.bde, &nets).await?);
            seen.room = Some(crate::preflight::read_room(&c.neutron, static_networks, spec, &ids, &traffic).await?);
        }
        seen.lookups = Some(found);
    }
    if reads.preflight {
        seen.offered = Some(crate::preflight::read_offered(&c.bde, spec).await?);
    }
    if reads.portgroups
        && let Some(ids) = &state.neutron
    {
        let all: Vec<PortgroupRef> =
            c.vc.portgroups(None)
                .await?
                .into_iter()
                .map(|p| PortgroupRef {
                    name: p.name,
                    key: p.moref.value,
                })
                .collect();
        let of = |network_id: &str| -> Vec<PortgroupRef> {
            all.iter()
                .filter(|p| crate::nsxv::is_portgroup_of(&p.name, network_id))
                .cloned()
                .collect()
        };
        seen.portgroups = Some(of(&ids.network_id));
        seen.traffic_portgroups = state.traffic.iter().map(|t| of(&t.network_id)).collect();
    }
    if reads.bde_network
        && let Some(ids) = &state.neutron
    {
        seen.bde_network = bde_network(c, &crate::nsxv::bde_network_name(&ids.network_id, spec.is_static())).await?;
        for t in &state.traffic {
            seen.traffic_bde_networks.push(match &t.bde_network {
                Some(_) => Seen::Unread,
                None => bde_network(c, &crate::nsxv::bde_network_name(&t.network_id, spec.is_static())).await?,
            });
        }
    }
    if reads.static_room
        && let Some(ids) = &state.neutron
    {
        let nets = crate::preflight::static_nets(spec, ids, &state.traffic);
        for (net, blocks) in nets.iter().zip(static_networks(&c.bde, &nets).await?) {
            if let Some(blocks) = blocks {
                seen.static_free.insert(net.network_id.clone(), blocks.free);
            }
        }
    }
    if let Some(name) = &reads.cluster {
        seen.cluster = match c.bde.cluster(name, true).await? {
            Some(read) => Seen::Present(cluster_view(&read)),
            None => Seen::Absent,
        };
    }
    if let Some(id) = reads.task {
        seen.task = Some(c.bde.task(id).await?.outcome());
    }
    let name = state.owned_cluster().unwrap_or(&spec.cluster_name).to_string();
    if reads.vms
        && let Some(portgroup) = &state.portgroup
    {
        // Each cluster portgroup's key, with the Neutron network it is NSX-v's for.
        let networks: Vec<(&str, &str)> = std::iter::once((portgroup.key.as_str(), state.network_ids()[0]))
            .chain(
                state
                    .traffic
                    .iter()
                    .filter_map(|t| t.portgroup.as_ref().map(|p| (p.key.as_str(), t.network_id.as_str()))),
            )
            .collect();
        let folder = match &state.folder {
            Some(f) => Some(MoRef::new("Folder", f)),
            None => c.vc.folder_by_name(&name).await?,
        };
        if let Some(folder) = folder {
            if state.folder.is_none() {
                seen.folder = Some(folder.value.clone());
            }
            let prefix = format!("{name}-");
            let vms: Vec<VmView> =
                c.vc.vms(Some(&folder))
                    .await?
                    .into_iter()
                    .filter(|v| v.name.starts_with(&prefix))
                    .map(|v| vm_view(v, &networks))
                    .collect();
            seen.vms = Some(vms);
        }
    }
    if lists_ports(reads.ports, state, seen.vms.as_deref()) && state.neutron.is_some() {
        let filters: Vec<(&str, &str)> = state.network_ids().into_iter().map(|id| ("network_id", id)).collect();
        seen.ports = Some(
            c.neutron
                .list_ports(&filters)
                .await?
                .into_iter()
                .map(|p| PortView {
                    ip: p.ip().map(str::to_string),
                    id: p.id,
                    name: p.name,
                    mac: p.mac_address,
                    device_owner: p.device_owner,
                    security_groups: p.security_groups,
                })
                .collect(),
        );
        if spec.is_static() {
            // Each static network's reservations, by Neutron network: a NIC's port takes its network's.
            let mut reserved = std::collections::BTreeMap::new();
            let networks = state
                .neutron
                .iter()
                .map(|n| (n.network_id.as_str(), state.bde_network.as_ref()))
                .chain(
                    state
                        .traffic
                        .iter()
                        .map(|t| (t.network_id.as_str(), t.bde_network.as_ref())),
                );
            for (network_id, bde_network) in networks {
                if let Some(network) = bde_network {
                    reserved.insert(
                        network_id.to_string(),
                        reserved_addresses(c, &network.name, &name).await?,
                    );
                }
            }
            seen.static_ips = Some(reserved);
        }
    }
    if reads.resets {
        for (node, n) in &state.nodes {
            if let Some(task) = &n.reset_task {
                let progress = match c.vc.task_state(&MoRef::new("Task", task)).await? {
                    TaskState::Running => ResetProgress::Running,
                    TaskState::Success(_) => ResetProgress::Done,
                    TaskState::Error { fault, message } => ResetProgress::Failed(format!("{fault}: {message}")),
                };
                seen.resets.push((node.clone(), progress));
            }
        }
    }
    Ok(seen)
}

async fn lookups(neutron: &Neutron, spec: &ValidSpec) -> Result<NeutronLookups, EngineError> {
    let mut found = network_lookups(neutron, &spec.network, spec.subnet.as_deref()).await?;
    found.security_groups = match &spec.security_group {
        Some(sg) => Some(
            neutron
                .find("security-groups", sg)
                .await?
                .iter()
                .map(|g| g["id"].as_str().unwrap_or_default().to_string())
                .collect(),
        ),
        None => None,
    };
    for t in &spec.traffic {
        found
            .traffic
            .push(network_lookups(neutron, &t.network, t.subnet.as_deref()).await?);
    }
    Ok(found)
}

/// The networks and subnets a network's and subnet's names (or ids) match.
async fn network_lookups(
    neutron: &Neutron,
    network: &str,
    subnet: Option<&str>,
) -> Result<NeutronLookups, EngineError> {
    let text = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap_or_default().to_string();
    let networks = neutron
        .find("networks", network)
        .await?
        .iter()
        .map(|n| NetworkView {
            id: text(n, "id"),
            subnets: n["subnets"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        })
        .collect();
    let subnets = match subnet {
        Some(s) => Some(
            neutron
                .find("subnets", s)
                .await?
                .iter()
                .map(|s| SubnetView {
                    id: text(s, "id"),
                    network_id: text(s, "network_id"),
                })
                .collect(),
        ),
        None => None,
    };
    Ok(NeutronLookups {
        networks,
        subnets,
        ..NeutronLookups::default()
    })
}

/// The typed view of BDE's cluster read.
pub fn cluster_view(read: &ClusterRead) -> ClusterView {
    let groups = read.node_groups.iter().flatten();
    ClusterView {
        status: read.status,
        groups: groups
            .clone()
            .map(|g| GroupView {
                name: g.name.clone(),
                size: g.instance_num.max(0) as u32,
                cpus: g.cpu_num.max(0) as u32,
                memory_mb: g.mem_capacity_mb.max(0) as u32,
            })
            .collect(),
        nodes: groups
            .flat_map(|g| g.instances.iter().flatten().map(move |n| (g, n)))
            .map(|(g, n)| {
                let configs: Vec<_> = n.ip_configs.iter().flat_map(|m| m.values()).flatten().collect();
                BdeNodeView {
                    name: n.name.clone(),
                    group: g.name.clone(),
                    status: serde_json::to_value(n.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    ip: node_address(n),
                    networks: configs.iter().filter_map(|c| c.network_name.clone()).collect(),
                    portgroups: configs.iter().filter_map(|c| c.port_group_name.clone()).collect(),
                }
            })
            .collect(),
    }
}

/// A node's management address, once every NIC of it has one (BDE waits for them all).
fn node_address(n: &bde_serengeti::NodeRead) -> Option<String> {
    let configs = n.ip_configs.as_ref()?;
    let addressed = |c: &bde_serengeti::IpConfigInfo| c.ip_address.as_deref().is_some_and(|a| a != NO_ADDRESS);
    if !configs.values().flatten().all(addressed) {
        return None;
    }
    let mgt = configs.get(bde_serengeti::MGT_NETWORK).into_iter().flatten();
    mgt.chain(configs.values().flatten()).find_map(|c| c.ip_address.clone())
}

/// The addresses a static BDE network reserved for the cluster's nodes, by node name.
async fn reserved_addresses(
    c: &Clients,
    network: &str,
    cluster: &str,
) -> Result<std::collections::BTreeMap<String, String>, EngineError> {
    let entries = c
        .bde
        .network_details(network)
        .await?
        .and_then(|n| n.ip_alloc_entries)
        .unwrap_or_default();
    Ok(entries
        .iter()
        .filter(|e| e["clusterName"] == cluster)
        .filter_map(|e| {
            let ip = e["ipAddress"].as_str().filter(|ip| *ip != NO_ADDRESS)?;
            Some((e["nodeName"].as_str()?.to_string(), ip.to_string()))
        })
        .collect())
}

/// A BDE network by its name.
async fn bde_network(c: &Clients, name: &str) -> Result<Seen<BdeNetworkView>, EngineError> {
    Ok(match c.bde.network(name).await? {
        Some(n) => Seen::Present(BdeNetworkView {
            portgroup: n.port_group,
            dns_type: n.dns_type,
        }),
        None => Seen::Absent,
    })
}

/// A VM with its NICs on the cluster's portgroups (`networks`: portgroup key and its
/// Neutron network), in device order.
fn vm_view(vm: bde_vsphere::VmInfo, networks: &[(&str, &str)]) -> VmView {
    let on_cluster: Vec<_> = vm
        .nics
        .into_iter()
        .filter_map(|n| {
            let network = networks
                .iter()
                .find(|(key, _)| n.portgroup_key.as_deref() == Some(*key))?
                .1;
            Some((n.key, n.mac, network.to_string()))
        })
        .collect();
    VmView {
        power: PowerState::parse(&vm.power_state),
        nic_networks: on_cluster.iter().map(|(_, _, net)| net.clone()).collect(),
        nics: on_cluster.into_iter().map(|(key, mac, _)| (key, mac)).collect(),
        name: vm.name,
        moref: vm.moref.value,
        instance_uuid: vm.instance_uuid,
    }
}

/// The network, subnet and security groups a spec names, resolved; errors name the field.
pub fn resolve_neutron(spec: &ValidSpec, found: &NeutronLookups) -> Result<NeutronIds, EngineError> {
    let (network_id, subnet_id) = resolve_network(&spec.network, spec.subnet.as_deref(), found, "")?;
    let security_group_ids = match (&spec.security_group, &found.security_groups) {
        (Some(name), Some(groups)) => vec![one(groups, "security_group", "security group", name)?],
        _ => Vec::new(),
    };
    Ok(NeutronIds {
        network_id,
        subnet_id,
        security_group_ids,
    })
}

/// The traffic networks' ids, in the spec's order; each on a Neutron network of its own.
pub fn resolve_traffic(
    spec: &ValidSpec,
    found: &NeutronLookups,
    mgt: &NeutronIds,
) -> Result<Vec<TrafficNetwork>, EngineError> {
    let mut used = vec![mgt.network_id.clone()];
    let mut traffic = Vec::new();
    for (t, lookups) in spec.traffic.iter().zip(&found.traffic) {
        let at = format!("networks.{}.", t.traffic);
        let (network_id, subnet_id) = resolve_network(&t.network, t.subnet.as_deref(), lookups, &at)?;
        if used.contains(&network_id) {
            return Err(EngineError::field(
                &format!("{at}network"),
                format!(
                    "{:?} already carries other traffic of this cluster: BDE gives each traffic type a \
                     portgroup of its own; leave this one out to share the management NIC",
                    t.network
                ),
            ));
        }
        used.push(network_id.clone());
        traffic.push(TrafficNetwork {
            traffic: t.traffic.clone(),
            network_id,
            subnet_id,
            ..TrafficNetwork::default()
        });
    }
    Ok(traffic)
}

fn one<T: Clone>(items: &[T], field: &str, what: &str, value: &str) -> Result<T, EngineError> {
    match items {
        [one] => Ok(one.clone()),
        [] => Err(EngineError::field(
            field,
            format!("no {what} {value:?} in this project: check the name or id"),
        )),
        many => Err(EngineError::field(
            field,
            format!("{} {what}s are named {value:?}: give the id instead", many.len()),
        )),
    }
}

/// A network's and subnet's ids from their lookups; errors name `<at>network`/`<at>subnet`.
fn resolve_network(
    network: &str,
    subnet: Option<&str>,
    found: &NeutronLookups,
    at: &str,
) -> Result<(String, String), EngineError> {
    let network_field = format!("{at}network");
    let subnet_field = format!("{at}subnet");
    let net = one(&found.networks, &network_field, "network", network)?;
    let subnet_id = match (subnet, &found.subnets) {
        (Some(name), Some(subnets)) => {
            let subnet = one(subnets, &subnet_field, "subnet", name)?;
            if subnet.network_id != net.id {
                return Err(EngineError::field(
                    &subnet_field,
                    format!("{name:?} belongs to another network than {network:?}: give a subnet of that network"),
                ));
            }
            Some(subnet.id)
        }
        _ => net.subnets.first().cloned(),
    };
    let Some(subnet_id) = subnet_id else {
        return Err(EngineError::field(
            &subnet_field,
            "the network has no subnet: add a DHCP subnet to it",
        ));
    };
    Ok((net.id, subnet_id))
}

/// Everything a create checks before it makes anything (Neutron's names and room, what
/// BDE offers, the spec's own rules), making nothing: the create's own first step.
pub async fn check_create(c: &Clients, spec: &ValidSpec) -> Result<(), EngineError> {
    let reads = Reads {
        lookups: true,
        preflight: true,
        ..Reads::default()
    };
    let state = State::default();
    let seen = observe(c, spec, &state, &reads).await?;
    match crate::decide::decide(spec, &state, &seen, &Action::Create, crate::state::now()) {
        crate::decide::Step::Fail(e, _) => Err(e),
        _ => Ok(()),
    }
}

/// The blocks of each network's static BDE network (`None`: not registered), in order.
async fn static_networks(
    bde: &bde_serengeti::Bde,
    nets: &[StaticNet],
) -> Result<Vec<Option<StaticBlocks>>, EngineError> {
    let mut found = Vec::new();
    for net in nets {
        found.push(crate::preflight::static_blocks(bde, &net.network_id).await?);
    }
    Ok(found)
}

/// The static BDE networks' blocks, for Heat's validate: a BDE that cannot answer
/// now leaves the static-address check to create (as `check_bde` does its checks).
async fn static_networks_if_bde_answers(spec: &ValidSpec, nets: &[StaticNet]) -> Option<Vec<Option<StaticBlocks>>> {
    let bde = match crate::connect::login_bde(spec).await {
        Ok(bde) => bde,
        Err(e) => {
            tracing::warn!(error = %e, "BDE did not answer; static addresses are checked at create");
            return None;
        }
    };
    let blocks = static_networks(&bde, nets).await;
    bde.logout().await;
    blocks
        .inspect_err(|e| tracing::warn!(error = %e, "BDE did not answer; static addresses are checked at create"))
        .ok()
}

/// What BDE offers of what the spec names (distro and roles, app manager, resource pools,
/// datastores), checked with a BDE login alone (Heat's validate, while the stack's own
/// network does not exist yet).
pub async fn check_bde(spec: &ValidSpec) -> Result<(), EngineError> {
    let bde = crate::connect::login_bde(spec).await?;
    let offered = crate::preflight::read_offered(&bde, spec).await;
    bde.logout().await;
    let errors = crate::preflight::errors(spec, &offered?, None);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EngineError::invalid(errors))
    }
}

/// Checks what the spec names in Neutron: the network and security group exist
/// once, the subnet belongs to the network, and there is room for the cluster's
/// ports. Makes nothing; Heat's validate uses it.
pub async fn check_neutron(access: &OpenStackAccess, spec: &ValidSpec) -> Result<NeutronIds, EngineError> {
    let neutron = access.neutron()?;
    let found = lookups(&neutron, spec).await?;
    let ids = resolve_neutron(spec, &found)?;
    let traffic = resolve_traffic(spec, &found, &ids)?;
    let nets = crate::preflight::static_nets(spec, &ids, &traffic);
    let static_networks = if nets.is_empty() {
        Some(Vec::new())
    } else {
        static_networks_if_bde_answers(spec, &nets).await
    };
    let room = crate::preflight::read_room(&neutron, static_networks, spec, &ids, &traffic).await?;
    let errors = crate::preflight::errors(spec, &crate::preflight::Offered::default(), Some(&room));
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(EngineError::invalid(errors))
    }
}
