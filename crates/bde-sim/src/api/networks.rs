//! Networks: add, get, list, update, delete (`NetworkService`).

use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bde_serengeti::{DnsType, IpBlock, NetworkAdd, rules};

use crate::api::error::BddError;
use crate::api::{Details, Json, legacy};
use crate::sim::Sim;
use crate::state::Network;

pub async fn add(State(sim): State<Arc<Sim>>, Json(add): Json<NetworkAdd>) -> Response {
    match add_network(&sim, add).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn add_network(sim: &Sim, add: NetworkAdd) -> Result<(), BddError> {
    let mut missing = Vec::new();
    if add.name.as_deref().is_none_or(str::is_empty) {
        missing.push("name");
    }
    if add.port_group.as_deref().is_none_or(str::is_empty) {
        missing.push("portGroup");
    }
    if add.dns_type.is_none() {
        missing.push("dnsType");
    }
    if legacy() && add.is_generate_hostname.is_none() {
        missing.push("generateHostname");
    }
    if !missing.is_empty() {
        return Err(BddError::new(
            "BDD.MISSING_PARAMETER",
            format!("Missing parameters: {}.", missing.join(", ")),
        ));
    }
    let name = add.name.clone().expect("checked");
    let port_group = add.port_group.clone().expect("checked");
    let dns_type = add.dns_type.expect("checked");
    if !rules::is_valid_network_name(&name) {
        return Err(BddError::invalid("name", &name));
    }
    let dhcp = add.is_dhcp.is_some_and(|d| d.value());
    if !dhcp {
        check_static(&add, dns_type)?;
    }
    if sim.world.lock().expect("world").networks.contains_key(&name) {
        return Err(BddError::new(
            "BDD.ALREADY_EXISTS",
            format!("Network {name} already exists."),
        ));
    }
    if !sim.vc.portgroup_exists(&port_group).await? {
        return Err(BddError::new(
            "VC_PROVIDER.NETWORK_NOT_FOUND",
            format!("Cannot find network {port_group}."),
        ));
    }
    let mut world = sim.world.lock().expect("world");
    if world.networks.contains_key(&name) {
        return Err(BddError::new(
            "BDD.ALREADY_EXISTS",
            format!("Network {name} already exists."),
        ));
    }
    world.networks.insert(
        name.clone(),
        Network {
            name,
            port_group,
            dhcp,
            dns_type,
            gateway: add.gateway,
            netmask: add.netmask,
            dns1: add.dns1,
            dns2: add.dns2,
            ip_blocks: add.ip_blocks.unwrap_or_default(),
        },
    );
    Ok(())
}

fn check_static(add: &NetworkAdd, dns_type: DnsType) -> Result<(), BddError> {
    let ip = |s: &Option<String>| s.as_deref().and_then(|v| v.parse::<Ipv4Addr>().ok());
    let netmask = ip(&add.netmask).filter(|m| {
        let bits = u32::from(*m);
        bits.leading_ones() + bits.trailing_zeros() == 32
    });
    let Some(netmask) = netmask else {
        return Err(BddError::invalid("netmask", add.netmask.as_deref().unwrap_or("null")));
    };
    let mask = u32::from(netmask);
    let gateway = ip(&add.gateway);
    if add.gateway.is_some() && gateway.is_none() {
        return Err(BddError::invalid("gateway", add.gateway.as_deref().unwrap_or("")));
    }
    for (field, label) in [(&add.dns1, "primary DNS"), (&add.dns2, "secondary DNS")] {
        if field.is_some() && ip(field).is_none() {
            return Err(BddError::invalid(label, field.as_deref().unwrap_or("")));
        }
    }
    if dns_type == DnsType::Dynamic {
        return Err(BddError::invalid("dns TYPE", "DYNAMIC"));
    }
    let Some(blocks) = &add.ip_blocks else {
        return Err(BddError::internal(None)); // a null ipBlocks trips an assertion: 500
    };
    let parsed = verify_blocks(blocks, mask)?;
    within_network(&parsed, mask, gateway)
}

/// `IpAddressUtil.verifyIPBlocks`: each block ordered, neither end the network's or
/// its broadcast address.
fn verify_blocks(blocks: &[IpBlock], mask: u32) -> Result<Vec<(Ipv4Addr, Ipv4Addr)>, BddError> {
    let mut parsed = Vec::new();
    for b in blocks {
        let host = |a: u32| {
            let part = a & !mask;
            part != 0 && part != !mask
        };
        match (b.begin_ip.parse::<Ipv4Addr>(), b.end_ip.parse::<Ipv4Addr>()) {
            (Ok(begin), Ok(end)) if begin <= end && host(begin.into()) && host(end.into()) => {
                parsed.push((begin, end));
            }
            _ => {
                return Err(BddError::invalid(
                    "IP block",
                    &format!("[{}, {}]", b.begin_ip, b.end_ip),
                ));
            }
        }
    }
    Ok(parsed)
}

/// `NetworkEntity.validate`: every block inside the gateway's network and not over the gateway.
fn within_network(blocks: &[(Ipv4Addr, Ipv4Addr)], mask: u32, gateway: Option<Ipv4Addr>) -> Result<(), BddError> {
    let Some(gateway) = gateway else {
        return Ok(());
    };
    let net = u32::from(gateway) & mask;
    for &(begin, end) in blocks {
        for end_ip in [begin, end] {
            if u32::from(end_ip) & mask != net {
                return Err(BddError::new(
                    "NETWORK.IP_OUT_OF_RANGE",
                    format!("IP address {end_ip} is out of the range of the network."),
                ));
            }
        }
        if (begin..=end).contains(&gateway) {
            return Err(BddError::new(
                "NETWORK.IP_BLOCK_CONTAINS_GATEWAY",
                format!("IP address block contains gateway: [{begin}, {end}], see RFC 917."),
            ));
        }
    }
    Ok(())
}

/// Another static network on the same portgroup whose blocks overlap `block`
/// (`NetworkService.checkIpBlockOverlap`: BDE compares only the first new block).
fn overlapping(world: &crate::state::World, name: &str, port_group: &str, block: &IpBlock) -> Vec<String> {
    let range = |b: &IpBlock| Some((b.begin_ip.parse::<Ipv4Addr>().ok()?, b.end_ip.parse::<Ipv4Addr>().ok()?));
    let Some((begin, end)) = range(block) else {
        return Vec::new();
    };
    world
        .networks
        .values()
        .filter(|n| n.name != name && n.port_group == port_group)
        .filter(|n| {
            n.ip_blocks
                .iter()
                .filter_map(range)
                .any(|(b, e)| b <= end && begin <= e)
        })
        .map(|n| n.name.clone())
        .collect()
}

pub async fn get(State(sim): State<Arc<Sim>>, Path(name): Path<String>, Query(d): Query<Details>) -> Response {
    let world = sim.world.lock().expect("world");
    match world.networks.get(&name) {
        Some(n) => axum::Json(n.read(d.on(), &world.clusters)).into_response(),
        None => BddError::not_found(format!("Network {name} not found.")).into_response(),
    }
}

pub async fn list(State(sim): State<Arc<Sim>>, Query(d): Query<Details>) -> Response {
    let world = sim.world.lock().expect("world");
    let all: Vec<_> = world
        .networks
        .values()
        .map(|n| n.read(d.on(), &world.clusters))
        .collect();
    axum::Json(all).into_response()
}

fn users_of(world: &crate::state::World, network: &str) -> Vec<String> {
    world
        .clusters
        .values()
        .filter(|c| c.network == network || c.traffic.iter().any(|(_, n, _)| *n == network))
        .map(|c| c.name.clone())
        .collect()
}

pub async fn delete(State(sim): State<Arc<Sim>>, Path(name): Path<String>) -> Response {
    let mut world = sim.world.lock().expect("world");
    if !world.networks.contains_key(&name) {
        return BddError::not_found(format!("Network {name} not found.")).into_response();
    }
    let users = users_of(&world, &name);
    if !users.is_empty() {
        return BddError::new(
            "NETWORK.NETWORK_IN_USE",
            format!("Network is used by cluster [{}].", users.join(", ")),
        )
        .into_response();
    }
    world.networks.remove(&name);
    StatusCode::OK.into_response()
}

pub async fn update(State(sim): State<Arc<Sim>>, Path(name): Path<String>, Json(add): Json<NetworkAdd>) -> Response {
    match update_network(&sim, &name, add) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `NetworkService.updateNetwork`: a DNS type only on a network no cluster uses
/// (even the same type); IP blocks added, merged with the network's own.
fn update_network(sim: &Sim, name: &str, add: NetworkAdd) -> Result<(), BddError> {
    let mut world = sim.world.lock().expect("world");
    if add.ip_blocks.is_none() && add.dns_type.is_none() {
        return Err(BddError::new(
            "NETWORK.INVALID_OPTIONS",
            "Must need an option of addIP, dnsType.",
        ));
    }
    let Some(network) = world.networks.get(name) else {
        return Err(BddError::not_found(format!("Network {name} not found.")));
    };
    let users = users_of(&world, name);
    if add.dns_type.is_some() && !users.is_empty() {
        return Err(BddError::new(
            "NETWORK.NETWORK_IN_USE",
            format!("Network is used by cluster [{}].", users.join(", ")),
        ));
    }
    if let Some(blocks) = &add.ip_blocks {
        if network.dhcp {
            return Err(BddError::new(
                "NETWORK.IP_CONFIG_NOT_USED_FOR_DHCP",
                "IP configuration is not used for DHCP network.",
            ));
        }
        let Some(first) = blocks.first() else {
            return Err(BddError::internal(None)); // an empty list trips an assertion: 500
        };
        let mask = network
            .netmask
            .as_deref()
            .and_then(|m| m.parse::<Ipv4Addr>().ok())
            .map_or(u32::MAX, u32::from);
        let gateway = network.gateway.as_deref().and_then(|g| g.parse().ok());
        let parsed = verify_blocks(blocks, mask)?;
        let others = overlapping(&world, name, &network.port_group, first);
        if !others.is_empty() {
            return Err(BddError::new(
                "NETWORK.IP_BLOCK_OVERLAP_WITH_NETWORKS",
                format!(
                    "IP address block is overlapped with following networks: [ {} ].",
                    others.join(", ")
                ),
            ));
        }
        within_network(&parsed, mask, gateway)?;
    }
    let network = world.networks.get_mut(name).expect("found above");
    if let Some(dns) = add.dns_type {
        network.dns_type = dns;
    }
    // The pool merges overlapping blocks when it is read (`NetworkDAO.addIpBlocks` merges on write).
    network.ip_blocks.extend(add.ip_blocks.unwrap_or_default());
    Ok(())
}
