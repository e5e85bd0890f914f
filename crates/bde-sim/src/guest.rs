//! The guests of the simulated VMs and NSX-v's DHCP edge.
//!
//! After power-on and a boot delay, each guest asks for DHCP as `dhclient -1`
//! does: DISCOVERs for a window (first retransmit after ~3 s, backing off),
//! answered only when Neutron has a port with the NIC's MAC on the VM's
//! network with a `compute` device owner (NSX-v programs static bindings for
//! those alone). The lease is that port's fixed IP. When the window passes the
//! NIC stays without an address until the VM reboots: every tick reads power
//! state and boot time of all guests' VMs in one batched vCenter read, so a
//! reset made by anyone through vCenter restarts the guest.
//!
//! A NIC on a static network asks no one: after the boot delay the guest sets
//! the address BDE reserved for it and VMware Tools reports it (whether the NIC
//! can pass traffic is NSX-v SpoofGuard's business: see `spoofguard.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bde_openstack::Port;
use bde_vsphere::MoRef;

use crate::sim::Sim;

pub const TICK: Duration = Duration::from_millis(200);
/// Neutron list filters per call (the query string must stay short).
const MACS_PER_LOOKUP: usize = 100;

/// One guest OS.
#[derive(Debug, Clone)]
struct Guest {
    cluster: String,
    node: String,
    /// Its NICs, the management one first: each asks for DHCP on its own.
    nics: Vec<Nic>,
    boot_time: Option<String>,
    phase: Phase,
}

#[derive(Debug, Clone)]
struct Nic {
    mac: String,
    network_id: Option<String>,
    /// The address the guest sets itself (static network), instead of asking DHCP.
    static_ip: Option<String>,
    leased: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Off,
    Booting {
        network_up_at: Instant,
    },
    Dhcp {
        started: Instant,
        next: Instant,
        gap: Duration,
    },
    Leased,
    GaveUp,
}

/// Every guest the simulator runs.
#[derive(Debug, Default)]
pub struct Guests {
    live: std::sync::Mutex<HashMap<MoRef, Guest>>,
    /// When the DHCP edge first saw each port (for the late-binding fault).
    first_seen: std::sync::Mutex<HashMap<String, Instant>>,
}

/// The Neutron network id of an NSX-v portgroup name (`vxw-...-sid-<vni>-<uuid>`).
pub fn network_of_portgroup(name: &str) -> Option<String> {
    let rest = name.strip_prefix("vxw-")?;
    let after_sid = rest.split_once("-sid-")?.1;
    let (_vni, uuid) = after_sid.split_once('-')?;
    (uuid.len() == 36).then(|| uuid.to_string())
}

impl Guests {
    /// Starts watching a powered-on VM's guest with its NICs (MAC, portgroup), in order;
    /// `static_ips` are the NICs' addresses, where their network is static.
    pub fn watch(
        &self,
        vm: MoRef,
        cluster: &str,
        node: &str,
        nics: &[(String, String)],
        static_ips: &[Option<String>],
    ) {
        let mut live = self.live.lock().expect("guests");
        live.entry(vm).or_insert_with(|| Guest {
            cluster: cluster.into(),
            node: node.into(),
            nics: nics
                .iter()
                .enumerate()
                .map(|(i, (mac, pg))| Nic {
                    mac: mac.clone(),
                    network_id: network_of_portgroup(pg),
                    static_ip: static_ips.get(i).cloned().flatten(),
                    leased: false,
                })
                .collect(),
            boot_time: None,
            phase: Phase::Off,
        });
    }

    /// Stops watching a VM (deleted).
    pub fn forget(&self, vm: &MoRef) {
        self.live.lock().expect("guests").remove(vm);
    }
}

/// Runs the guests forever.
pub async fn run(sim: Arc<Sim>) {
    loop {
        tokio::time::sleep(TICK).await;
        if let Err(e) = tick(&sim).await {
            tracing::warn!(error = %e, "guest tick failed; retrying");
        }
    }
}

async fn tick(sim: &Sim) -> Result<(), String> {
    let vms: Vec<MoRef> = sim.guests.live.lock().expect("guests").keys().cloned().collect();
    if vms.is_empty() {
        return Ok(());
    }
    let power = sim.vc.power_info(&vms).await.map_err(|e| e.to_string())?;
    let now = Instant::now();
    let timing = &sim.cfg.timing;
    let window = sim.clock.scaled(timing.dhcp_window);
    let mut due: Vec<(MoRef, Guest)> = Vec::new();
    let mut events: Vec<(String, String, Event)> = Vec::new();
    {
        let mut live = sim.guests.live.lock().expect("guests");
        // Only VMs this read asked about and did not find are gone; guests
        // registered while it ran are looked at next tick.
        live.retain(|vm, _| !vms.contains(vm) || power.contains_key(vm));
        for (vm, g) in live.iter_mut() {
            let Some(info) = power.get(vm) else { continue };
            if info.power_state != "poweredOn" {
                if g.phase != Phase::Off {
                    g.phase = Phase::Off;
                    g.nics.iter_mut().for_each(|n| n.leased = false);
                    g.boot_time = None;
                    events.push((g.cluster.clone(), g.node.clone(), Event::PoweredOff));
                }
                continue;
            }
            if g.boot_time.as_deref() != Some(info.boot_time.as_str()) {
                let rebooted = g.boot_time.is_some() || matches!(g.phase, Phase::GaveUp | Phase::Leased);
                g.boot_time = Some(info.boot_time.clone());
                g.nics.iter_mut().for_each(|n| n.leased = false);
                let boot = sim.clock.jittered(timing.boot, &format!("{}/boot", g.node));
                g.phase = Phase::Booting {
                    network_up_at: now + boot,
                };
                events.push((g.cluster.clone(), g.node.clone(), Event::Booted { rebooted }));
            }
            match g.phase.clone() {
                Phase::Booting { network_up_at } if now >= network_up_at => {
                    for (i, nic) in g.nics.iter_mut().enumerate() {
                        if let Some(ip) = &nic.static_ip {
                            nic.leased = true;
                            events.push((g.cluster.clone(), g.node.clone(), Event::StaticAddress(i, ip.clone())));
                        }
                    }
                    if g.nics.iter().all(|n| n.leased) {
                        g.phase = Phase::Leased; // no DHCP at all
                        continue;
                    }
                    g.phase = Phase::Dhcp {
                        started: now,
                        next: now,
                        gap: sim.clock.scaled(timing.dhcp_first_retry),
                    };
                    events.push((g.cluster.clone(), g.node.clone(), Event::FirstDiscover));
                    due.push((vm.clone(), g.clone()));
                }
                Phase::Dhcp { started, .. } if now.duration_since(started) > window => {
                    g.phase = Phase::GaveUp;
                    events.push((g.cluster.clone(), g.node.clone(), Event::GaveUp));
                }
                Phase::Dhcp { next, .. } if now >= next => due.push((vm.clone(), g.clone())),
                _ => {}
            }
        }
    }
    let leases = if due.is_empty() {
        HashMap::new()
    } else {
        answer_discovers(sim, &due, now).await?
    };
    {
        let mut live = sim.guests.live.lock().expect("guests");
        for (vm, g) in &due {
            let Some(live_g) = live.get_mut(vm) else {
                continue;
            };
            events.push((g.cluster.clone(), g.node.clone(), Event::Discover));
            for (i, nic) in live_g.nics.iter_mut().enumerate().filter(|(_, n)| !n.leased) {
                let Some((ip, port_seen)) = leases.get(&nic.mac) else {
                    continue;
                };
                if let Some(seen) = port_seen.filter(|_| i == 0) {
                    events.push((g.cluster.clone(), g.node.clone(), Event::PortSeen(seen)));
                }
                if let Some(ip) = ip {
                    nic.leased = true;
                    events.push((g.cluster.clone(), g.node.clone(), Event::Leased(i, ip.clone())));
                }
            }
            if live_g.nics.iter().all(|n| n.leased) {
                live_g.phase = Phase::Leased;
                continue;
            }
            if let Phase::Dhcp { started, gap, .. } = live_g.phase {
                let next_gap = (gap * 2).min(sim.clock.scaled(timing.dhcp_max_retry));
                live_g.phase = Phase::Dhcp {
                    started,
                    next: now + gap,
                    gap: next_gap,
                };
            }
        }
    }
    record(sim, events);
    Ok(())
}

/// What the DHCP edge answers the due guests: per MAC, the leased address (if
/// the binding is served) and when its port was first seen.
async fn answer_discovers(
    sim: &Sim,
    due: &[(MoRef, Guest)],
    now: Instant,
) -> Result<HashMap<String, (Option<String>, Option<f64>)>, String> {
    // Every NIC still without a lease asks.
    let asking: Vec<(&Guest, &Nic)> = due
        .iter()
        .flat_map(|(_, g)| g.nics.iter().filter(|n| !n.leased).map(move |n| (g, n)))
        .collect();
    let macs: Vec<&str> = asking.iter().map(|(_, n)| n.mac.as_str()).collect();
    let ports = ports_with_macs(sim, &macs).await?;
    let faults = sim.faults.lock().expect("faults").clone();
    let mut first_seen = sim.first_seen_lock();
    let mut answers = HashMap::new();
    for (g, nic) in asking {
        let Some(network_id) = &nic.network_id else {
            continue;
        };
        let port = ports.iter().find(|p| {
            p.mac_address.eq_ignore_ascii_case(&nic.mac)
                && &p.network_id == network_id
                && p.device_owner.starts_with("compute")
        });
        let Some(port) = port else { continue };
        let seen = *first_seen.entry(port.id.clone()).or_insert(now);
        let delayed = faults.binding_delay_nodes.is_empty() || faults.binding_delay_nodes.contains(&g.node);
        let delay = if delayed {
            sim.clock.scaled(faults.binding_delay_seconds)
        } else {
            Duration::ZERO
        };
        let served = now.duration_since(seen) >= delay;
        let ip = served.then(|| port.ip().map(str::to_string)).flatten();
        let seen_at = sim.clock.now() - now.duration_since(seen).as_secs_f64();
        answers.insert(nic.mac.clone(), (ip, Some(seen_at)));
    }
    Ok(answers)
}

/// Neutron's ports with these MACs, looked up in batches.
pub async fn ports_with_macs(sim: &Sim, macs: &[&str]) -> Result<Vec<Port>, String> {
    let mut ports = Vec::new();
    for chunk in macs.chunks(MACS_PER_LOOKUP) {
        let filters: Vec<(&str, &str)> = chunk.iter().map(|mac| ("mac_address", *mac)).collect();
        ports.extend(sim.neutron.list_ports(&filters).await.map_err(|e| e.to_string())?);
    }
    Ok(ports)
}

#[derive(Debug)]
enum Event {
    PoweredOff,
    Booted {
        rebooted: bool,
    },
    FirstDiscover,
    Discover,
    PortSeen(f64),
    /// A NIC (by its index, the management one 0) leased an address.
    Leased(usize, String),
    /// A NIC set its static address and VMware Tools reported it.
    StaticAddress(usize, String),
    GaveUp,
}

fn record(sim: &Sim, events: Vec<(String, String, Event)>) {
    if events.is_empty() {
        return;
    }
    let t = sim.clock.now();
    let mut world = sim.world.lock().expect("world");
    for (cluster, node, event) in events {
        let Some(n) = world.clusters.get_mut(&cluster).and_then(|c| c.node_mut(&node)) else {
            continue;
        };
        match event {
            Event::PoweredOff => {
                n.ip = None;
                n.extra_ips.iter_mut().for_each(|ip| *ip = None);
            }
            Event::Booted { rebooted } => {
                n.ip = None;
                n.extra_ips.iter_mut().for_each(|ip| *ip = None);
                n.timeline.powered_on = Some(t);
                n.timeline.first_dhcp_request = None;
                n.timeline.gave_up = None;
                if rebooted {
                    n.timeline.resets.push(t);
                    tracing::info!(node, "guest rebooted");
                }
            }
            Event::FirstDiscover => n.timeline.first_dhcp_request = Some(t),
            Event::Discover => n.timeline.dhcp_requests += 1,
            Event::PortSeen(at) => {
                n.timeline.port_seen.get_or_insert(at);
            }
            Event::Leased(i, ip) => {
                tracing::info!(node, ip, nic = i, "guest leased an address");
                set_address(n, i, ip, t);
            }
            Event::StaticAddress(i, ip) => {
                tracing::info!(node, ip, nic = i, "guest set its static address");
                set_address(n, i, ip, t);
            }
            Event::GaveUp => {
                tracing::info!(node, "guest gave up on DHCP");
                n.timeline.gave_up = Some(t);
            }
        }
    }
}

/// A NIC's address as BDE reads it from VMware Tools; the management NIC's is the
/// node's `ip`, and its moment the timeline's "address" moment.
fn set_address(n: &mut crate::state::Node, nic: usize, ip: String, t: f64) {
    if nic == 0 {
        n.ip = Some(ip);
        n.timeline.leased = Some(t);
    } else if let Some(slot) = n.extra_ips.get_mut(nic - 1) {
        *slot = Some(ip);
    }
}

impl Sim {
    fn first_seen_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.guests.first_seen.lock().expect("first seen")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_id_is_read_from_an_nsx_portgroup_name() {
        let id = "5b6c1b81-14b2-434f-9888-54bf1d022a72";
        assert_eq!(
            network_of_portgroup(&format!("vxw-dvs-7-virtualwire-56-sid-5002-{id}")).as_deref(),
            Some(id)
        );
        assert_eq!(network_of_portgroup("VM Network"), None);
        assert_eq!(network_of_portgroup("vxw-dvs-7-virtualwire-56-sid-5002-short"), None);
    }
}
