//! Static addresses (`ip_mode: static`): BDE gives each node an address of the
//! BDE network's IP blocks before it clones the VM, and the guest sets it itself,
//! so no guest ever depends on DHCP. The block is a range of the Neutron subnet
//! outside its allocation pools (Neutron never hands those addresses out by
//! itself), given by the operator or taken from the largest free run; each
//! node's port is made with its MAC and exactly that address.

use std::net::Ipv4Addr;

/// An inclusive range of IPv4 addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    /// The first address.
    pub first: Ipv4Addr,
    /// The last address (in the range).
    pub last: Ipv4Addr,
}

impl AddressRange {
    /// `FIRST-LAST` (`10.0.0.100-10.0.0.150`), or one address.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (first, last) = text.split_once('-').unwrap_or((text, text));
        let ip = |s: &str| {
            s.trim().parse::<Ipv4Addr>().map_err(|_| {
                format!(
                    "{:?} is not an IPv4 address: write FIRST-LAST, e.g. 10.0.0.100-10.0.0.150",
                    s.trim()
                )
            })
        };
        let range = Self {
            first: ip(first)?,
            last: ip(last)?,
        };
        if range.first > range.last {
            return Err(format!("{text:?} ends before it starts: write FIRST-LAST"));
        }
        Ok(range)
    }

    /// How many addresses it holds (never none: first <= last).
    pub fn size(&self) -> u64 {
        u64::from(u32::from(self.last) - u32::from(self.first)) + 1
    }

    fn bounds(&self) -> (u32, u32) {
        (u32::from(self.first), u32::from(self.last))
    }

    fn from_bounds((first, last): (u32, u32)) -> Self {
        Self {
            first: first.into(),
            last: last.into(),
        }
    }
}

impl std::fmt::Display for AddressRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// What a static BDE network needs to know of the Neutron subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetLayout {
    /// The subnet's network address.
    pub network: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// Its gateway, if it has one.
    pub gateway: Option<Ipv4Addr>,
    /// Allocation pools, inclusive.
    pub pools: Vec<AddressRange>,
    /// Its DNS servers.
    pub dns: Vec<Ipv4Addr>,
}

impl SubnetLayout {
    /// From Neutron's subnet body; `None` for IPv6 or a body it cannot read.
    pub fn from_subnet(subnet: &serde_json::Value) -> Option<Self> {
        let (network, prefix) = subnet["cidr"].as_str()?.split_once('/')?;
        let ip = |v: &serde_json::Value| v.as_str()?.parse::<Ipv4Addr>().ok();
        let pools = subnet["allocation_pools"]
            .as_array()?
            .iter()
            .map(|p| {
                Some(AddressRange {
                    first: ip(&p["start"])?,
                    last: ip(&p["end"])?,
                })
            })
            .collect::<Option<_>>()?;
        Some(Self {
            network: network.parse().ok()?,
            prefix: prefix.parse().ok().filter(|p| *p <= 32)?,
            gateway: ip(&subnet["gateway_ip"]),
            pools,
            dns: subnet["dns_nameservers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(ip)
                .collect(),
        })
    }

    /// The netmask BDE wants (`255.255.255.0`).
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0))
    }

    /// The addresses a host may have: the subnet less its network and broadcast addresses.
    fn hosts(&self) -> Option<(u32, u32)> {
        let base = u32::from(self.network) & u32::from(self.netmask());
        let last = base | !u32::from(self.netmask());
        (last > base + 1).then_some((base + 1, last - 1))
    }
}

/// A static BDE network's address blocks, as BDE reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticBlocks {
    /// Every block (free and assigned).
    pub all: Vec<AddressRange>,
    /// How many of their addresses no node holds.
    pub free: u64,
}

impl StaticBlocks {
    /// From BDE's network read (`allIpBlocks`, `freeIpBlocks`); blocks it cannot read are left out.
    pub fn from_read(network: &bde_serengeti::NetworkRead) -> Self {
        let ranges = |blocks: &Option<Vec<bde_serengeti::IpBlock>>| -> Vec<AddressRange> {
            blocks
                .iter()
                .flatten()
                .filter_map(|b| AddressRange::parse(&format!("{}-{}", b.begin_ip, b.end_ip)).ok())
                .collect()
        };
        Self {
            all: ranges(&network.all_ip_blocks),
            free: ranges(&network.free_ip_blocks).iter().map(AddressRange::size).sum(),
        }
    }

    fn contains(&self, a: u32) -> bool {
        self.all.iter().any(|b| (b.bounds().0..=b.bounds().1).contains(&a))
    }
}

/// What may not go into a new block: the gateway, the allocation pools (Neutron hands
/// those out), the ports' addresses and every address the BDE network has already.
struct Taken<'a> {
    layout: &'a SubnetLayout,
    used: std::collections::HashSet<u32>,
    blocks: Option<&'a StaticBlocks>,
}

impl<'a> Taken<'a> {
    fn new(layout: &'a SubnetLayout, used: &[Ipv4Addr], blocks: Option<&'a StaticBlocks>) -> Self {
        Self {
            layout,
            used: used.iter().map(|a| u32::from(*a)).collect(),
            blocks,
        }
    }

    fn outside_blocks(&self, a: u32) -> bool {
        Some(Ipv4Addr::from(a)) == self.layout.gateway
            || self
                .layout
                .pools
                .iter()
                .any(|p| (p.bounds().0..=p.bounds().1).contains(&a))
            || self.used.contains(&a)
    }

    fn is_taken(&self, a: u32) -> bool {
        self.outside_blocks(a) || self.blocks.is_some_and(|b| b.contains(a))
    }
}

/// The range to register as the BDE network's IP block: `given` checked, else the
/// largest run of the subnet outside its pools, the gateway and the addresses in use.
/// `needed` is the cluster's VM count. The error says what is wrong and the fix.
pub fn plan_range(
    layout: &SubnetLayout,
    given: Option<AddressRange>,
    used: &[Ipv4Addr],
    needed: u64,
) -> Result<AddressRange, String> {
    let Some((low, high)) = layout.hosts() else {
        return Err("the subnet has no room for hosts".into());
    };
    let taken = Taken::new(layout, used, None);
    if let Some(range) = given {
        check_given(layout, range, range, &taken, (low, high))?;
        if range.size() < needed {
            return Err(format!(
                "{range} holds {} addresses; the cluster has {needed} VMs: give a larger range",
                range.size()
            ));
        }
        return Ok(range);
    }
    let best = free_runs(low, high, |a| taken.is_taken(a)).into_iter().next();
    match best {
        Some(run) if run.size() >= needed => Ok(run),
        _ => Err(no_room(
            layout,
            best.map_or(0, |r| r.size()),
            &format!("the cluster has {needed} VMs"),
        )),
    }
}

/// The blocks to add to a BDE network that has `blocks` so that `needed` addresses
/// are free in it: none when enough are; else the parts of `given` it lacks, or the
/// largest free runs of the subnet outside its pools, gateway, ports and blocks.
/// A block already there is never sent again (BDE adds what it is sent).
pub fn plan_additions(
    layout: &SubnetLayout,
    given: Option<AddressRange>,
    blocks: &StaticBlocks,
    used: &[Ipv4Addr],
    needed: u64,
) -> Result<Vec<AddressRange>, String> {
    if blocks.free >= needed {
        return Ok(Vec::new());
    }
    let Some((low, high)) = layout.hosts() else {
        return Err("the subnet has no room for hosts".into());
    };
    let short = needed - blocks.free;
    let taken = Taken::new(layout, used, Some(blocks));
    if let Some(range) = given {
        // Addresses of the network's blocks are BDE's already; only the rest is checked.
        let (first, last) = range.bounds();
        let new = runs(first, last, |a| blocks.contains(a));
        let adds: u64 = new.iter().map(AddressRange::size).sum();
        for run in &new {
            check_given(layout, *run, range, &taken, (low, high))?;
        }
        if adds < short {
            return Err(format!(
                "{range} gives the BDE network {adds} more addresses and it has {} free; {needed} are needed: \
                 give a larger range (its blocks are {})",
                blocks.free,
                ranges_text(&blocks.all)
            ));
        }
        return Ok(new);
    }
    let mut picked = Vec::new();
    let mut adds = 0;
    for run in free_runs(low, high, |a| taken.is_taken(a)) {
        if adds >= short {
            break;
        }
        adds += run.size();
        picked.push(run);
    }
    if adds < short {
        return Err(no_room(
            layout,
            adds,
            &format!(
                "its BDE network has {} of its own free and the cluster needs {needed}",
                blocks.free
            ),
        ));
    }
    Ok(picked)
}

/// A given range (or the part of it, `range`, to check): inside the subnet's hosts,
/// and none of its addresses taken. Errors name the range as given (`shown`).
fn check_given(
    layout: &SubnetLayout,
    range: AddressRange,
    shown: AddressRange,
    taken: &Taken,
    (low, high): (u32, u32),
) -> Result<(), String> {
    let (first, last) = range.bounds();
    if first < low || last > high {
        return Err(format!(
            "{shown} is not inside the subnet's host addresses {}",
            AddressRange::from_bounds((low, high))
        ));
    }
    if let Some(a) = (first..=last).find(|a| taken.outside_blocks(*a)) {
        return Err(format!(
            "{shown} holds {}, {}: give a range outside the subnet's allocation pools ({}) and its gateway",
            Ipv4Addr::from(a),
            why_taken(layout, Ipv4Addr::from(a)),
            pools_text(layout)
        ));
    }
    Ok(())
}

fn no_room(layout: &SubnetLayout, free: u64, need: &str) -> String {
    format!(
        "static addresses come from outside the subnet's allocation pools ({}), where {free} addresses are free; \
         {need}: shrink a pool (openstack subnet set --no-allocation-pool \
         --allocation-pool start=A,end=B SUBNET) or give static_range",
        pools_text(layout),
    )
}

fn ranges_text(ranges: &[AddressRange]) -> String {
    ranges.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn why_taken(layout: &SubnetLayout, a: Ipv4Addr) -> &'static str {
    if Some(a) == layout.gateway {
        "the gateway"
    } else if layout.pools.iter().any(|p| (p.first..=p.last).contains(&a)) {
        "in an allocation pool"
    } else {
        "in use by a port"
    }
}

fn pools_text(layout: &SubnetLayout) -> String {
    let pools: Vec<String> = layout.pools.iter().map(ToString::to_string).collect();
    if pools.is_empty() {
        "none".into()
    } else {
        pools.join(", ")
    }
}

/// The runs of addresses in `low..=high` none of which is taken, largest first
/// (of equals, the lowest first).
fn free_runs(low: u32, high: u32, taken: impl Fn(u32) -> bool) -> Vec<AddressRange> {
    let mut found = runs(low, high, taken);
    found.sort_by_key(|r| (std::cmp::Reverse(r.size()), r.first));
    found
}

/// The runs of addresses in `low..=high` none of which is taken, in address order.
fn runs(low: u32, high: u32, taken: impl Fn(u32) -> bool) -> Vec<AddressRange> {
    let mut found = Vec::new();
    let mut start: Option<u32> = None;
    for a in low..=high {
        match (taken(a), start) {
            (false, None) => start = Some(a),
            (true, Some(s)) => {
                found.push(AddressRange::from_bounds((s, a - 1)));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        found.push(AddressRange::from_bounds((s, high)));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layout(pool: (&str, &str)) -> SubnetLayout {
        SubnetLayout::from_subnet(&json!({
            "cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.1",
            "allocation_pools": [{"start": pool.0, "end": pool.1}],
            "dns_nameservers": ["10.0.0.2"]
        }))
        .unwrap()
    }

    fn range(text: &str) -> AddressRange {
        AddressRange::parse(text).unwrap()
    }

    #[test]
    fn a_range_reads_as_first_dash_last_and_says_what_is_wrong() {
        assert_eq!(range("10.0.0.100 - 10.0.0.150").size(), 51);
        assert_eq!(range("10.0.0.9").size(), 1);
        assert!(
            AddressRange::parse("10.0.0.150-10.0.0.100")
                .unwrap_err()
                .contains("ends before it starts")
        );
        assert!(
            AddressRange::parse("10.0.0.x-10.0.0.9")
                .unwrap_err()
                .contains("\"10.0.0.x\" is not an IPv4")
        );
    }

    #[test]
    fn the_subnet_gives_its_netmask_gateway_and_dns() {
        let l = layout(("10.0.0.2", "10.0.0.199"));
        assert_eq!(l.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(l.gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(l.dns, [Ipv4Addr::new(10, 0, 0, 2)]);
        assert!(SubnetLayout::from_subnet(&json!({"cidr": "fd00::/64", "allocation_pools": []})).is_none());
    }

    #[test]
    fn the_largest_run_outside_the_pools_is_taken_less_the_addresses_in_use() {
        let l = layout(("10.0.0.2", "10.0.0.199"));
        assert_eq!(plan_range(&l, None, &[], 10).unwrap(), range("10.0.0.200-10.0.0.254"));
        let used = [Ipv4Addr::new(10, 0, 0, 210)];
        assert_eq!(plan_range(&l, None, &used, 10).unwrap(), range("10.0.0.211-10.0.0.254"));
    }

    #[test]
    fn a_subnet_whose_pool_covers_it_has_no_room_and_the_error_says_how_to_make_some() {
        let l = layout(("10.0.0.2", "10.0.0.254"));
        let e = plan_range(&l, None, &[], 3).unwrap_err();
        assert!(
            e.contains("10.0.0.2-10.0.0.254") && e.contains("0 addresses are free"),
            "{e}"
        );
        assert!(e.contains("openstack subnet set") && e.contains("static_range"), "{e}");
    }

    #[test]
    fn a_given_range_must_be_outside_pools_gateway_and_ports_and_large_enough() {
        let l = layout(("10.0.0.2", "10.0.0.199"));
        assert_eq!(
            plan_range(&l, Some(range("10.0.0.200-10.0.0.209")), &[], 10)
                .unwrap()
                .size(),
            10
        );
        let e = plan_range(&l, Some(range("10.0.0.190-10.0.0.209")), &[], 3).unwrap_err();
        assert!(e.contains("holds 10.0.0.190, in an allocation pool"), "{e}");
        let l2 = layout(("10.0.0.100", "10.0.0.199"));
        let e = plan_range(&l2, Some(range("10.0.0.1-10.0.0.9")), &[], 3).unwrap_err();
        assert!(e.contains("10.0.0.1, the gateway"), "{e}");
        let e = plan_range(&l, Some(range("10.0.0.200-10.0.0.201")), &[], 3).unwrap_err();
        assert!(e.contains("holds 2 addresses; the cluster has 3 VMs"), "{e}");
        let e = plan_range(&l, Some(range("10.0.1.1-10.0.1.9")), &[], 3).unwrap_err();
        assert!(
            e.contains("not inside the subnet's host addresses 10.0.0.1-10.0.0.254"),
            "{e}"
        );
        let used = [Ipv4Addr::new(10, 0, 0, 205)];
        let e = plan_range(&l, Some(range("10.0.0.200-10.0.0.209")), &used, 3).unwrap_err();
        assert!(e.contains("10.0.0.205, in use by a port"), "{e}");
    }

    fn network(blocks: &[&str], free: u64) -> StaticBlocks {
        StaticBlocks {
            all: blocks.iter().map(|b| range(b)).collect(),
            free,
        }
    }

    #[test]
    fn a_network_with_enough_free_addresses_gets_no_block() {
        let l = layout(("10.0.0.2", "10.0.0.199"));
        assert_eq!(
            plan_additions(&l, None, &network(&["10.0.0.200-10.0.0.209"], 4), &[], 4),
            Ok(vec![])
        );
    }

    #[test]
    fn without_a_range_the_largest_runs_outside_pools_ports_and_the_networks_blocks_are_added() {
        let l = layout(("10.0.0.10", "10.0.0.199"));
        // A full block .200-.202 (its nodes' ports hold its addresses); free runs .2-.9 and .203-.254.
        let full = network(&["10.0.0.200-10.0.0.202"], 0);
        let used: Vec<Ipv4Addr> = (200..=202).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        assert_eq!(
            plan_additions(&l, None, &full, &used, 3),
            Ok(vec![range("10.0.0.203-10.0.0.254")])
        );
        // More than the largest run holds: the next largest too.
        assert_eq!(
            plan_additions(&l, None, &full, &used, 55),
            Ok(vec![range("10.0.0.203-10.0.0.254"), range("10.0.0.2-10.0.0.9")])
        );
        let e = plan_additions(&l, None, &full, &used, 61).unwrap_err();
        assert!(
            e.contains("where 60 addresses are free") && e.contains("has 0 of its own free and the cluster needs 61"),
            "{e}"
        );
        assert!(e.contains("openstack subnet set"), "{e}");
    }

    #[test]
    fn a_given_range_adds_only_what_the_network_lacks_and_its_own_ports_do_not_count_against_it() {
        let l = layout(("10.0.0.2", "10.0.0.199"));
        let block = network(&["10.0.0.200-10.0.0.202"], 1);
        let used: Vec<Ipv4Addr> = (200..=201).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        // The same template deployed again: the range is the network's block; 1 free is enough for 1.
        assert_eq!(
            plan_additions(&l, Some(range("10.0.0.200-10.0.0.202")), &block, &used, 1),
            Ok(vec![])
        );
        // ... but not for 3: the range must grow.
        let e = plan_additions(&l, Some(range("10.0.0.200-10.0.0.202")), &block, &used, 3).unwrap_err();
        assert!(
            e.contains("gives the BDE network 0 more addresses and it has 1 free; 3 are needed")
                && e.contains("give a larger range (its blocks are 10.0.0.200-10.0.0.202)"),
            "{e}"
        );
        // A larger range: only its new part is sent.
        assert_eq!(
            plan_additions(&l, Some(range("10.0.0.198-10.0.0.205")), &block, &used, 3).unwrap_err(),
            "10.0.0.198-10.0.0.205 holds 10.0.0.198, in an allocation pool: give a range outside the subnet's \
             allocation pools (10.0.0.2-10.0.0.199) and its gateway"
        );
        assert_eq!(
            plan_additions(&l, Some(range("10.0.0.200-10.0.0.205")), &block, &used, 3),
            Ok(vec![range("10.0.0.203-10.0.0.205")])
        );
    }
}
