//! NSX-v SpoofGuard for statically addressed guests: a vNIC passes no traffic
//! until Neutron has a port for it (its MAC, a `compute` owner, the VM's
//! network, and exactly the address the guest set), so BDE's bootstrap cannot
//! reach such a node before then. DHCP guests need no check here: without the
//! port they get no address and never reach the bootstrap.

use std::collections::HashSet;
use std::time::Instant;

use bde_openstack::Port;
use bde_serengeti::NodeStatus;

use crate::guest::{TICK, network_of_portgroup, ports_with_macs};
use crate::sim::Sim;

/// A static node's NIC, waiting for its port.
#[derive(Debug, Clone, PartialEq)]
pub struct Nic {
    /// The node (VM) name.
    pub node: String,
    /// Its MAC.
    pub mac: String,
    /// Its Neutron network, from the portgroup name (none: not an NSX portgroup).
    pub network_id: Option<String>,
    /// The address the guest set.
    pub ip: String,
}

/// Whether this port lets the NIC's traffic through.
fn admits(port: &Port, nic: &Nic) -> bool {
    nic.network_id.as_deref() == Some(port.network_id.as_str())
        && port.mac_address.eq_ignore_ascii_case(&nic.mac)
        && port.device_owner.starts_with("compute")
        && port.fixed_ips.iter().any(|f| f.ip_address == nic.ip)
}

/// The NICs on static networks of the nodes the bootstrap is about to take (VM Ready).
fn nics_to_bootstrap(sim: &Sim, cluster: &str) -> Vec<Nic> {
    let world = sim.world.lock().expect("world");
    let Some(c) = world.clusters.get(cluster) else {
        return Vec::new();
    };
    let portgroups: Vec<&str> = std::iter::once(c.port_group.as_str())
        .chain(c.traffic.iter().map(|(_, _, pg)| pg.as_str()))
        .collect();
    c.nodes()
        .filter(|(_, n)| n.status == NodeStatus::VmReady)
        .flat_map(|(_, n)| {
            portgroups.iter().enumerate().filter_map(move |(i, pg)| {
                let mac = if i == 0 {
                    n.mac.clone()
                } else {
                    n.extra_macs.get(i - 1).cloned()
                };
                Some(Nic {
                    node: n.name.clone(),
                    mac: mac?,
                    network_id: network_of_portgroup(pg),
                    ip: n.static_ip_of(i)?.clone(),
                })
            })
        })
        .collect()
}

/// The NICs among `nics` (by MAC) that Neutron now has a port for.
async fn admitted(sim: &Sim, nics: &[Nic]) -> Result<HashSet<String>, String> {
    let macs: Vec<&str> = nics.iter().map(|n| n.mac.as_str()).collect();
    let ports = ports_with_macs(sim, &macs).await?;
    Ok(nics
        .iter()
        .filter(|nic| ports.iter().any(|p| admits(p, nic)))
        .map(|nic| nic.mac.clone())
        .collect())
}

fn record_port_seen(sim: &Sim, cluster: &str, nodes: &HashSet<String>) {
    let t = sim.clock.now();
    let mut world = sim.world.lock().expect("world");
    let Some(c) = world.clusters.get_mut(cluster) else {
        return;
    };
    for name in nodes {
        if let Some(n) = c.node_mut(name) {
            n.timeline.port_seen.get_or_insert(t);
        }
    }
}

/// Waits, looking every tick, until every static node about to be bootstrapped
/// is reachable, up to BDE's (scaled) address wait. Returns the nodes still
/// unreachable then.
pub async fn unreachable_after_wait(sim: &Sim, cluster: &str) -> Vec<String> {
    let mut waiting = nics_to_bootstrap(sim, cluster);
    let deadline = Instant::now() + sim.clock.scaled(sim.cfg.timing.ip_wait);
    while !waiting.is_empty() {
        match admitted(sim, &waiting).await {
            Ok(found) => {
                let nodes: HashSet<String> = waiting
                    .iter()
                    .filter(|nic| found.contains(&nic.mac))
                    .map(|nic| nic.node.clone())
                    .collect();
                record_port_seen(sim, cluster, &nodes);
                waiting.retain(|nic| !found.contains(&nic.mac));
            }
            // Neutron away is the same as no port yet.
            Err(e) => tracing::warn!(error = %e, cluster, "port lookup failed; retrying"),
        }
        if waiting.is_empty() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(TICK).await;
    }
    let mut unreachable: Vec<String> = waiting.into_iter().map(|nic| nic.node).collect();
    unreachable.dedup();
    unreachable
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET: &str = "5b6c1b81-14b2-434f-9888-54bf1d022a72";

    fn nic() -> Nic {
        Nic {
            node: "c1-worker-0".into(),
            mac: "00:50:56:AA:BB:01".into(),
            network_id: Some(NET.into()),
            ip: "10.0.0.10".into(),
        }
    }

    fn port() -> Port {
        serde_json::from_value(serde_json::json!({
            "id": "p1", "network_id": NET, "mac_address": "00:50:56:aa:bb:01",
            "device_owner": "compute:bde", "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.10"}]
        }))
        .unwrap()
    }

    #[test]
    fn only_a_compute_port_with_the_mac_network_and_address_admits_the_nic() {
        assert!(admits(&port(), &nic()));
        let mut other = port();
        other.device_owner = "network:dhcp".into();
        assert!(!admits(&other, &nic()), "not a compute port");
        let mut other = port();
        other.fixed_ips[0].ip_address = "10.0.0.99".into();
        assert!(!admits(&other, &nic()), "another address");
        let mut other = port();
        other.network_id = "another".into();
        assert!(!admits(&other, &nic()), "another network");
        let mut other = port();
        other.mac_address = "00:50:56:aa:bb:02".into();
        assert!(!admits(&other, &nic()), "another MAC");
        let off_nsx = Nic {
            network_id: None,
            ..nic()
        };
        assert!(!admits(&port(), &off_nsx), "not an NSX portgroup");
    }
}
