//! Checks before anything is made: what the spec names must be offered by BDE
//! (distro and its roles, app manager, resource pools, datastores), and Neutron
//! must have room for the cluster's ports (free addresses on the subnet, the
//! project's port quota). Each failure names its field and the fix.

use bde_openstack::Neutron;
use bde_serengeti::Bde;

use crate::error::{EngineError, FieldError};
use crate::spec::ValidSpec;
use crate::state::{NeutronIds, TrafficNetwork};
use crate::static_ip::{AddressRange, StaticBlocks, SubnetLayout, plan_additions, plan_range};

/// What BDE offers, for the lists the spec needs (`None`: not read).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offered {
    /// Distros: name and roles.
    pub distros: Option<Vec<(String, Vec<String>)>>,
    /// The distro BDE's default application manager takes when a spec names none: the
    /// first of vendor BIGTOP (`DefaultSoftwareManagerImpl.getDefaultStack`).
    pub default_distro: Option<String>,
    /// Application managers' names.
    pub app_managers: Option<Vec<String>>,
    /// Resource pools' names.
    pub resource_pools: Option<Vec<String>>,
    /// Datastores' names.
    pub datastores: Option<Vec<String>>,
    /// BDE's rack map: each rack's name and host count.
    pub racks: Option<Vec<(String, usize)>>,
}

/// Room in Neutron for the cluster's ports (`None`: this user may not read it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Room {
    /// Addresses of the subnet's allocation pools not in use.
    pub free_addresses: Option<u64>,
    /// The same for each traffic network's subnet, in the spec's order.
    pub traffic_free_addresses: Vec<Option<u64>>,
    /// Ports the project may still make (`None` also when unlimited).
    pub ports_left: Option<i64>,
    /// With static addresses: each static BDE network that cannot have room for the
    /// cluster, named by the field to fix.
    pub static_errors: Vec<FieldError>,
}

/// The BDE lists a spec names something from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Distros (the spec names one, or BDE's default manager picks one for its roles).
    pub distros: bool,
    /// App managers (the spec names one other than Default).
    pub app_managers: bool,
    /// Resource pools (the cluster or a group names some).
    pub resource_pools: bool,
    /// Datastores (the cluster or a group's storage names some).
    pub datastores: bool,
    /// The rack map (a group places by racks, or the topology needs racks).
    pub racks: bool,
}

/// Topologies BDE refuses without a rack map.
const RACK_TOPOLOGIES: [&str; 2] = ["HVE", "RACK_AS_RACK"];

/// Which BDE lists the spec needs checked.
pub fn wanted(spec: &ValidSpec) -> Wanted {
    let groups = &spec.node_groups;
    Wanted {
        distros: spec.distro.is_some() || default_manager(spec),
        app_managers: spec
            .app_manager
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case("Default")),
        resource_pools: spec.resource_pools.is_some() || groups.iter().any(|g| g.resource_pools.is_some()),
        datastores: spec.datastores.is_some()
            || groups
                .iter()
                .any(|g| g.storage.as_ref().is_some_and(|s| s.datastores.is_some())),
        racks: groups.iter().any(|g| racks_of(g).is_some())
            || spec
                .topology_policy
                .as_deref()
                .is_some_and(|t| RACK_TOPOLOGIES.contains(&t)),
    }
}

/// Whether the spec is for BDE's own (Ironfan) application manager.
fn default_manager(spec: &ValidSpec) -> bool {
    spec.app_manager
        .as_deref()
        .is_none_or(|m| m.eq_ignore_ascii_case("Default"))
}

/// The vendor of the distro BDE's default manager takes (`Constants.DEFAULT_VENDOR`).
const DEFAULT_VENDOR: &str = "BIGTOP";

/// Reads the lists the spec needs from BDE.
pub async fn read_offered(bde: &Bde, spec: &ValidSpec) -> Result<Offered, EngineError> {
    let want = wanted(spec);
    let mut offered = Offered::default();
    if want.distros {
        let distros = bde.distros().await?;
        offered.default_distro = distros
            .iter()
            .find(|d| {
                d.vendor
                    .as_deref()
                    .is_some_and(|v| v.eq_ignore_ascii_case(DEFAULT_VENDOR))
            })
            .map(|d| d.name.clone());
        offered.distros = Some(distros.into_iter().map(|d| (d.name, d.roles)).collect());
    }
    if want.app_managers {
        offered.app_managers = Some(bde.names("/appmanagers", "name").await?);
    }
    if want.resource_pools {
        offered.resource_pools = Some(bde.names("/resourcepools", "rpName").await?);
    }
    if want.datastores {
        offered.datastores = Some(bde.names("/datastores", "name").await?);
    }
    if want.racks {
        offered.racks = Some(
            bde.racks()
                .await?
                .into_iter()
                .map(|r| (r.name, r.hosts.len()))
                .collect(),
        );
    }
    Ok(offered)
}

/// Reads the room Neutron has for the ports: the subnet's free addresses (Neutron's
/// availability count, else its allocation pools less the addresses of the ports
/// this user sees) and the project's port quota, if this user may read it. With
/// static addresses, `static_networks` are the static BDE networks' blocks as BDE has
/// them, in `static_nets` order (`None` within: not registered; `None`: BDE not read,
/// the check left to create).
pub async fn read_room(
    neutron: &Neutron,
    static_networks: Option<Vec<Option<StaticBlocks>>>,
    spec: &ValidSpec,
    ids: &NeutronIds,
    traffic: &[TrafficNetwork],
) -> Result<Room, EngineError> {
    let needed = vms(spec);
    let mut static_errors = Vec::new();
    let nets = static_nets(spec, ids, traffic);
    for (net, existing) in nets.iter().zip(static_networks.unwrap_or_default()) {
        let plan = match existing {
            None => static_registration(neutron, net, needed).await?.map(|_| ()),
            Some(blocks) => static_additions(neutron, net, &blocks, needed).await?.map(|_| ()),
        };
        if let Err(message) = plan {
            static_errors.push(FieldError {
                field: net.field.clone(),
                message,
            });
        }
    }
    // Static ports' addresses come from outside the allocation pools: those are not counted.
    let (mut mgt_free, mut traffic_free_addresses) = (None, vec![None; traffic.len()]);
    if !spec.is_static() {
        mgt_free = free_addresses(neutron, &ids.network_id, &ids.subnet_id).await?;
        for (free, t) in traffic_free_addresses.iter_mut().zip(traffic) {
            *free = free_addresses(neutron, &t.network_id, &t.subnet_id).await?;
        }
    }
    let ports_left = neutron
        .port_quota()
        .await?
        .filter(|(limit, _)| *limit >= 0)
        .map(|(limit, used)| limit - used);
    Ok(Room {
        free_addresses: mgt_free,
        traffic_free_addresses,
        ports_left,
        static_errors,
    })
}

/// A network of a static cluster: its Neutron ids, the range the spec gives its BDE
/// network, and the field a problem with its addresses is named by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticNet {
    /// The Neutron network.
    pub network_id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// `static_range` (or the traffic network's), if given.
    pub given: Option<AddressRange>,
    /// The range's field when given, else the mode's (management) or the traffic network's.
    pub field: String,
}

/// The networks of a static cluster, management's first (none under DHCP).
pub fn static_nets(spec: &ValidSpec, ids: &NeutronIds, traffic: &[TrafficNetwork]) -> Vec<StaticNet> {
    let crate::spec::IpMode::Static { range } = spec.ip_mode else {
        return Vec::new();
    };
    let management = StaticNet {
        network_id: ids.network_id.clone(),
        subnet_id: ids.subnet_id.clone(),
        given: range,
        field: if range.is_some() { "static_range" } else { "ip_mode" }.into(),
    };
    let others = traffic.iter().map(|t| {
        let given = spec
            .traffic
            .iter()
            .find(|s| s.traffic == t.traffic)
            .and_then(|s| s.static_range);
        StaticNet {
            network_id: t.network_id.clone(),
            subnet_id: t.subnet_id.clone(),
            given,
            field: match given {
                Some(_) => format!("networks.{}.static_range", t.traffic),
                None => format!("networks.{}", t.traffic),
            },
        }
    });
    std::iter::once(management).chain(others).collect()
}

/// With static addresses, the block to register a new static BDE network with, for
/// `needed` nodes: the spec's `static_range` checked, or the largest free run outside
/// the allocation pools, the gateway and the addresses of the ports on the network;
/// or why there is none.
pub async fn static_registration(
    neutron: &Neutron,
    net: &StaticNet,
    needed: u64,
) -> Result<Result<(SubnetLayout, AddressRange), String>, EngineError> {
    Ok(
        match subnet_and_addresses(neutron, &net.network_id, &net.subnet_id).await? {
            Some((layout, used)) => plan_range(&layout, net.given, &used, needed).map(|range| (layout, range)),
            None => Err(NOT_IPV4.into()),
        },
    )
}

/// With static addresses, the blocks to add to the registered static BDE network
/// (`blocks`) so that `needed` of its addresses are free (none: it has room); or why
/// there is no room.
pub async fn static_additions(
    neutron: &Neutron,
    net: &StaticNet,
    blocks: &StaticBlocks,
    needed: u64,
) -> Result<Result<Vec<AddressRange>, String>, EngineError> {
    Ok(
        match subnet_and_addresses(neutron, &net.network_id, &net.subnet_id).await? {
            Some((layout, used)) => plan_additions(&layout, net.given, blocks, &used, needed),
            None => Err(NOT_IPV4.into()),
        },
    )
}

const NOT_IPV4: &str = "static addresses need an IPv4 subnet";

/// The subnet's layout (`None`: not IPv4) and the addresses the ports on the network hold in it.
async fn subnet_and_addresses(
    neutron: &Neutron,
    network_id: &str,
    subnet_id: &str,
) -> Result<Option<(SubnetLayout, Vec<std::net::Ipv4Addr>)>, EngineError> {
    let subnet = neutron.subnet(subnet_id).await?;
    let Some(layout) = SubnetLayout::from_subnet(&subnet) else {
        return Ok(None);
    };
    let used = neutron
        .list_ports(&[("network_id", network_id)])
        .await?
        .iter()
        .flat_map(|p| &p.fixed_ips)
        .filter(|ip| ip.subnet_id == subnet_id)
        .filter_map(|ip| ip.ip_address.parse().ok())
        .collect();
    Ok(Some((layout, used)))
}

/// The blocks of a Neutron network's static BDE network (`None`: not registered).
pub async fn static_blocks(bde: &Bde, network_id: &str) -> Result<Option<StaticBlocks>, EngineError> {
    let name = crate::nsxv::bde_network_name(network_id, true);
    Ok(bde.network(&name).await?.map(|n| StaticBlocks::from_read(&n)))
}

/// A subnet's free addresses: Neutron's count, else its allocation pools less the
/// addresses of the ports this user sees.
async fn free_addresses(neutron: &Neutron, network_id: &str, subnet_id: &str) -> Result<Option<u64>, EngineError> {
    let counted = neutron.ip_availability(network_id).await?.and_then(|a| {
        a["subnet_ip_availability"]
            .as_array()?
            .iter()
            .find(|s| s["subnet_id"] == subnet_id)
            .and_then(|s| Some(s["total_ips"].as_u64()?.saturating_sub(s["used_ips"].as_u64()?)))
    });
    if counted.is_some() {
        return Ok(counted);
    }
    let subnet = neutron.subnet(subnet_id).await?;
    let ports = neutron.list_ports(&[("network_id", network_id)]).await?;
    let used = ports
        .iter()
        .flat_map(|p| &p.fixed_ips)
        .filter(|ip| ip.subnet_id == subnet_id)
        .filter_map(|ip| ip.ip_address.parse::<std::net::Ipv4Addr>().ok())
        .collect::<Vec<_>>();
    Ok(pool_size(&subnet).map(|(size, pools)| {
        let in_pools = used.iter().filter(|a| in_any(pools.as_slice(), **a)).count() as u64;
        size.saturating_sub(in_pools)
    }))
}

type Pool = (u32, u32);

/// The number of IPv4 addresses in a subnet's allocation pools, and the pools
/// (`None` for IPv6: never short).
fn pool_size(subnet: &serde_json::Value) -> Option<(u64, Vec<Pool>)> {
    let pools: Vec<Pool> = subnet["allocation_pools"]
        .as_array()?
        .iter()
        .map(|p| {
            let ip = |k: &str| p[k].as_str()?.parse::<std::net::Ipv4Addr>().ok().map(u32::from);
            Some((ip("start")?, ip("end")?))
        })
        .collect::<Option<_>>()?;
    let size = pools.iter().map(|(s, e)| u64::from(e.saturating_sub(*s)) + 1).sum();
    Some((size, pools))
}

fn in_any(pools: &[Pool], addr: std::net::Ipv4Addr) -> bool {
    let a = u32::from(addr);
    pools.iter().any(|(s, e)| (*s..=*e).contains(&a))
}

/// Everything BDE and Neutron would refuse, each naming its field and the fix.
pub fn errors(spec: &ValidSpec, offered: &Offered, room: Option<&Room>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    distro_errors(spec, offered, &mut errors);
    let mut unknown = |field: String, name: &str, what: &str, names: &[String]| {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            errors.push(FieldError {
                field,
                message: format!("{name:?} is not a {what} BDE knows: use one of {}", list(names)),
            });
        }
    };
    if let (Some(m), Some(names)) = (&spec.app_manager, &offered.app_managers) {
        unknown("app_manager".into(), m, "application manager", names);
    }
    if let Some(names) = &offered.resource_pools {
        let field = if spec.cluster_rp.is_some() {
            "cluster_rp"
        } else {
            "resource_pools"
        };
        for rp in spec.resource_pools.iter().flatten() {
            unknown(field.into(), rp, "resource pool", names);
        }
        for (i, g) in spec.node_groups.iter().enumerate() {
            for rp in g.resource_pools.iter().flatten() {
                unknown(format!("node_groups[{i}].resource_pools"), rp, "resource pool", names);
            }
        }
    }
    if let Some(names) = &offered.datastores {
        for ds in spec.datastores.iter().flatten() {
            unknown("datastores".into(), ds, "datastore", names);
        }
        for (i, g) in spec.node_groups.iter().enumerate() {
            for ds in g.storage.iter().flat_map(|s| s.datastores.iter().flatten()) {
                unknown(format!("node_groups[{i}].storage.datastores"), ds, "datastore", names);
            }
        }
    }
    if let Some(racks) = &offered.racks {
        rack_errors(spec, racks, &mut errors);
    }
    if let Some(room) = room {
        room_errors(spec, room, &mut errors);
    }
    errors
}

/// A group's rack placement, where BDE applies it: not beside another group, nor on
/// SHARED storage (`ClusterConfigManager.validateRacksInfo` skips those).
fn racks_of(g: &crate::spec::NodeGroupSpec) -> Option<&crate::spec::RacksSpec> {
    let p = g.placement.as_ref()?;
    let shared = g
        .storage
        .as_ref()
        .and_then(|s| s.kind.as_deref())
        .is_some_and(|k| k.eq_ignore_ascii_case("SHARED"));
    (p.beside_group.is_none() && !shared).then_some(p.racks.as_ref()?)
}

/// BDE's rack rules (`validateRacksInfo`): a rack map for rack topologies and rack
/// placement, racks it knows, and hosts enough for `instance_per_host`.
fn rack_errors(spec: &ValidSpec, racks: &[(String, usize)], errors: &mut Vec<FieldError>) {
    const UPLOAD: &str = "upload BDE's rack map first (PUT /racks; BDE's CLI: topology upload)";
    if racks.is_empty()
        && let Some(t) = spec.topology_policy.as_deref().filter(|t| RACK_TOPOLOGIES.contains(t))
    {
        errors.push(FieldError {
            field: "topology_policy".into(),
            message: format!("{t} needs BDE's rack map, which is empty: {UPLOAD}"),
        });
    }
    for (i, g) in spec.node_groups.iter().enumerate() {
        let Some(r) = racks_of(g) else { continue };
        let field = format!("node_groups[{i}].placement.racks");
        if racks.is_empty() {
            errors.push(FieldError {
                field,
                message: format!("BDE's rack map is empty: {UPLOAD}"),
            });
            continue;
        }
        let named = r.names.clone().unwrap_or_default();
        let known: Vec<String> = racks.iter().map(|(n, _)| n.clone()).collect();
        if let Some(bad) = named.iter().find(|n| !known.contains(n)) {
            errors.push(FieldError {
                field: format!("{field}.names"),
                message: format!("{bad:?} is not a rack in BDE's rack map: use one of {}", list(&known)),
            });
            continue;
        }
        let chosen: Vec<usize> = racks
            .iter()
            .filter(|(n, _)| named.is_empty() || named.contains(n))
            .map(|(_, hosts)| *hosts)
            .collect();
        let Some(per_host) = g
            .placement
            .as_ref()
            .and_then(|p| p.instance_per_host)
            .filter(|n| *n > 0)
        else {
            continue;
        };
        let need = (g.instance_num / per_host) as usize;
        let (have, how) = if r.kind() == "SAMERACK" {
            (chosen.iter().copied().max().unwrap_or(0), "its rack has")
        } else {
            (chosen.iter().sum(), "its racks have")
        };
        if need > have {
            errors.push(FieldError {
                field,
                message: format!(
                    "the group needs {need} hosts ({} VMs, {per_host} per host) and {how} {have} \
                     (BDE's LACK_PHYSICAL_HOSTS): name more racks or ask fewer hosts",
                    g.instance_num
                ),
            });
        }
    }
}

/// The cluster's VMs, each of which gets one port and one address.
pub(crate) fn vms(spec: &ValidSpec) -> u64 {
    spec.node_groups.iter().map(|g| g.instance_num.max(0) as u64).sum()
}

fn room_errors(spec: &ValidSpec, room: &Room, errors: &mut Vec<FieldError>) {
    errors.extend(room.static_errors.iter().cloned());
    let need = vms(spec);
    let mut short = |field: String, free: Option<u64>| {
        if let Some(free) = free.filter(|f| *f < need) {
            errors.push(FieldError {
                field,
                message: format!(
                    "has {free} free addresses and the cluster's {need} VMs need one each: \
                     give a larger subnet, or fewer VMs"
                ),
            });
        }
    };
    let mgt = if spec.subnet.is_some() { "subnet" } else { "network" };
    short(mgt.into(), room.free_addresses);

    for (t, free) in spec.traffic.iter().zip(&room.traffic_free_addresses) {
        let key = if t.subnet.is_some() { "subnet" } else { "network" };
        short(format!("networks.{}.{key}", t.traffic), *free);
    }
    // One port per NIC: a NIC per network.
    let ports = need * (1 + spec.traffic.len() as u64);
    if let Some(left) = room.ports_left.filter(|l| *l < ports as i64) {
        errors.push(FieldError {
            field: "node_groups".into(),
            message: format!(
                "the project's port quota leaves {} ports and the cluster's {need} VMs need {ports} \
                 (one per NIC): ask for a larger quota, or give fewer VMs",
                left.max(0)
            ),
        });
    }
}

/// The spec's distro is one BDE offers, and every group's roles are that distro's, the
/// named one or else BDE's default (BDE's own create check).
fn distro_errors(spec: &ValidSpec, offered: &Offered, errors: &mut Vec<FieldError>) {
    let Some(distros) = offered.distros.as_deref() else {
        return;
    };
    let field = if spec.distro_from_cluster_type {
        "cluster_type"
    } else {
        "distro"
    };
    let names = || distros.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let want = match (&spec.distro, &offered.default_distro) {
        (Some(named), _) => named,
        (None, Some(default)) => default,
        (None, None) if default_manager(spec) && !spec.node_groups.is_empty() => {
            errors.push(FieldError {
                field: field.into(),
                message: format!(
                    "BDE has no default distro (none of vendor {DEFAULT_VENDOR}): name one of {}",
                    list(&names())
                ),
            });
            return;
        }
        (None, None) => return,
    };
    let Some((name, roles)) = distros.iter().find(|(name, _)| name.eq_ignore_ascii_case(want)) else {
        errors.push(FieldError {
            field: field.into(),
            message: format!(
                "{want:?} is not a distro this BDE offers: use one of {}",
                list(&names())
            ),
        });
        return;
    };
    let which = match spec.distro {
        Some(_) => format!("distro {name}"),
        None => format!("BDE's default distro {name} (give distro to use another)"),
    };
    for (i, group) in spec.node_groups.iter().enumerate() {
        for role in group.roles.iter().filter(|r| !roles.contains(r)) {
            errors.push(FieldError {
                field: format!("node_groups[{i}].roles"),
                message: format!("{role:?} is not a role of {which} (its roles: {})", list(roles)),
            });
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests;
