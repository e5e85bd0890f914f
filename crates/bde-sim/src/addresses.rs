//! Static networks' address pools (`NetworkDAO.alloc`/`free`): at the plan step
//! BDE reserves one address per new node, lowest free first, all or nothing.
//! The reservations are the nodes' own `static_ip`s, so a deleted cluster or a
//! node removed by a shrink gives its address back with no bookkeeping.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use bde_serengeti::IpBlock;
use serde_json::{Value, json};

use crate::state::{Cluster, Network, World};

/// BDE's `NETWORK.OUT_OF_IP_ADDR` message; it shows only in the task.
pub const OUT_OF_ADDRESSES: &str = "No available IP address resources.";

/// An inclusive range of addresses, as numbers.
type Range = (u32, u32);

/// A static network's pool as `NetworkRead` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// The registered blocks, merged.
    pub all: Vec<IpBlock>,
    /// The reserved addresses, merged per cluster (BDE keeps a block per owner).
    pub assigned: Vec<IpBlock>,
    /// All less assigned.
    pub free: Vec<IpBlock>,
}

impl Pool {
    /// The pool of `network` given the clusters' reservations.
    pub fn of(network: &Network, clusters: &BTreeMap<String, Cluster>) -> Self {
        let (all, assigned) = all_and_assigned(network, clusters);
        Self {
            free: blocks(&subtract(&all, &merged(assigned.clone()))),
            all: blocks(&all),
            assigned: blocks(&assigned),
        }
    }
}

fn all_and_assigned(network: &Network, clusters: &BTreeMap<String, Cluster>) -> (Vec<Range>, Vec<Range>) {
    let all = merged(network.ip_blocks.iter().filter_map(range_of).collect());
    let mut assigned: Vec<Range> = clusters
        .values()
        .flat_map(|c| merged(reserved_on(c, &network.name).map(|(_, _, a)| (a, a)).collect()))
        .collect();
    assigned.sort_unstable();
    (all, assigned)
}

/// The addresses reserved on `network` for a cluster's nodes (a NIC of each on it):
/// group, node and address.
fn reserved_on<'a>(cluster: &'a Cluster, network: &str) -> impl Iterator<Item = (&'a str, &'a str, u32)> + 'a {
    let nics: Vec<usize> = cluster
        .nic_networks()
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == network)
        .map(|(i, _)| i)
        .collect();
    cluster.nodes().flat_map(move |(g, n)| {
        nics.clone().into_iter().filter_map(move |i| {
            let ip = n.static_ip_of(i)?.parse::<Ipv4Addr>().ok()?;
            Some((g.name.as_str(), n.name.as_str(), u32::from(ip)))
        })
    })
}

/// `ipAllocEntries` of a static network: one per reserved address, in plan order.
pub fn alloc_entries(network: &str, clusters: &BTreeMap<String, Cluster>) -> Vec<Value> {
    clusters
        .values()
        .flat_map(|c| {
            reserved_on(c, network).map(move |(group, node, ip)| {
                json!({"ipAddress": Ipv4Addr::from(ip).to_string(), "clusterName": c.name,
                       "nodeGroupName": group, "nodeName": node})
            })
        })
        .collect()
}

/// Reserves an address for every NIC on a static network of every node of `cluster`
/// still without one, in plan order (groups as created, nodes by index), lowest free
/// first. All or nothing; nothing to do on DHCP networks.
pub fn reserve(world: &mut World, cluster: &str) -> Result<(), &'static str> {
    let Some(c) = world.clusters.get(cluster) else {
        return Ok(());
    };
    let mut picks: Vec<(usize, Vec<u32>)> = Vec::new();
    for (nic, name) in c.nic_networks().into_iter().enumerate() {
        let Some(network) = world.networks.get(name).filter(|n| !n.dhcp) else {
            continue;
        };
        let wanting = c.nodes().filter(|(_, n)| n.static_ip_of(nic).is_none()).count();
        if wanting == 0 {
            continue;
        }
        let (all, assigned) = all_and_assigned(network, &world.clusters);
        picks.push((
            nic,
            lowest(&subtract(&all, &merged(assigned)), wanting).ok_or(OUT_OF_ADDRESSES)?,
        ));
    }
    let c = world.clusters.get_mut(cluster).expect("looked up above");
    for (nic, picked) in picks {
        let unaddressed = c
            .groups
            .iter_mut()
            .flat_map(|g| g.nodes.iter_mut())
            .filter(|n| n.static_ip_of(nic).is_none());
        for (node, address) in unaddressed.zip(picked) {
            node.set_static_ip(nic, Ipv4Addr::from(address).to_string());
        }
    }
    Ok(())
}

fn range_of(block: &IpBlock) -> Option<Range> {
    let begin = u32::from(block.begin_ip.parse::<Ipv4Addr>().ok()?);
    let end = u32::from(block.end_ip.parse::<Ipv4Addr>().ok()?);
    (begin <= end).then_some((begin, end))
}

fn blocks(ranges: &[Range]) -> Vec<IpBlock> {
    ranges
        .iter()
        .map(|&(begin, end)| IpBlock {
            begin_ip: Ipv4Addr::from(begin).to_string(),
            end_ip: Ipv4Addr::from(end).to_string(),
        })
        .collect()
}

/// Sorted, with overlapping and adjacent ranges joined.
fn merged(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort_unstable();
    let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
    for (begin, end) in ranges {
        match out.last_mut() {
            Some(last) if u64::from(begin) <= u64::from(last.1) + 1 => last.1 = last.1.max(end),
            _ => out.push((begin, end)),
        }
    }
    out
}

/// `all` less `taken`, both merged.
fn subtract(all: &[Range], taken: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    for &(begin, end) in all {
        // The first address of this range not yet kept or taken; None past 255.255.255.255.
        let mut next = Some(begin);
        for &(taken_begin, taken_end) in taken.iter().filter(|(b, e)| *e >= begin && *b <= end) {
            let Some(from) = next else { break };
            if taken_begin > from {
                out.push((from, taken_begin - 1));
            }
            next = taken_end.checked_add(1);
        }
        if let Some(from) = next.filter(|f| *f <= end) {
            out.push((from, end));
        }
    }
    out
}

/// The lowest `count` addresses of `free`, or `None` when it holds fewer.
fn lowest(free: &[Range], count: usize) -> Option<Vec<u32>> {
    let picked: Vec<u32> = free.iter().flat_map(|&(b, e)| b..=e).take(count).collect();
    (picked.len() == count).then_some(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Group, Node};
    use bde_serengeti::{ClusterStatus, DnsType};

    fn block(begin: &str, end: &str) -> IpBlock {
        IpBlock {
            begin_ip: begin.into(),
            end_ip: end.into(),
        }
    }

    fn network(name: &str, blocks: Vec<IpBlock>) -> Network {
        Network {
            name: name.into(),
            port_group: "pg".into(),
            dhcp: false,
            dns_type: DnsType::Normal,
            gateway: Some("10.0.0.1".into()),
            netmask: Some("255.255.255.0".into()),
            dns1: None,
            dns2: None,
            ip_blocks: blocks,
        }
    }

    fn group(cluster: &str, name: &str, count: usize) -> Group {
        Group {
            name: name.into(),
            roles: vec!["hadoop_datanode".into()],
            instance_num: count,
            cpu_num: 1,
            mem_mb: 1024,
            storage: Value::Null,
            configuration: None,
            ha_flag: "off".into(),
            placement: None,
            swap_ratio: 1.0,
            reserved_cpu_ratio: None,
            reserved_mem_ratio: None,
            rp_names: None,
            nodes: (0..count).map(|i| Node::new(cluster, name, i)).collect(),
        }
    }

    fn cluster(name: &str, network: &str, groups: &[(&str, usize)]) -> Cluster {
        Cluster {
            name: name.into(),
            status: ClusterStatus::Provisioning,
            app_manager: "Default".into(),
            distro: "bigtop".into(),
            distro_vendor: "BIGTOP".into(),
            template_name: "t".into(),
            network: network.into(),
            port_group: "pg".into(),
            rp_names: Vec::new(),
            ds_names: Vec::new(),
            local_repo_url: None,
            topology_policy: "NONE".into(),
            external_hdfs: None,
            traffic: Vec::new(),
            groups: groups.iter().map(|(g, n)| group(name, g, *n)).collect(),
            version: "2.3.2".into(),
            configuration: None,
        }
    }

    fn world(blocks: Vec<IpBlock>, clusters: Vec<Cluster>) -> World {
        let mut w = World::default();
        w.networks.insert("static".into(), network("static", blocks));
        for c in clusters {
            w.clusters.insert(c.name.clone(), c);
        }
        w
    }

    fn addresses(w: &World, cluster: &str) -> Vec<(String, Option<String>)> {
        w.clusters[cluster]
            .nodes()
            .map(|(_, n)| (n.name.clone(), n.static_ip.clone()))
            .collect()
    }

    #[test]
    fn merging_sorts_and_joins_overlapping_and_adjacent_ranges() {
        assert_eq!(
            merged(vec![(20, 25), (1, 5), (6, 8), (3, 4), (10, 12)]),
            vec![(1, 8), (10, 12), (20, 25)]
        );
        assert_eq!(
            merged(vec![(u32::MAX, u32::MAX), (0, u32::MAX - 1)]),
            vec![(0, u32::MAX)]
        );
        assert_eq!(merged(Vec::new()), Vec::<Range>::new());
    }

    #[test]
    fn subtracting_leaves_the_gaps_around_what_is_taken() {
        let all = [(10, 20), (30, 40)];
        assert_eq!(subtract(&all, &[]), all.to_vec());
        assert_eq!(
            subtract(&all, &[(10, 12), (15, 15), (20, 31)]),
            vec![(13, 14), (16, 19), (32, 40)]
        );
        assert_eq!(subtract(&all, &[(0, 100)]), Vec::<Range>::new());
        assert_eq!(
            subtract(&[(u32::MAX - 2, u32::MAX)], &[(u32::MAX, u32::MAX)]),
            vec![(u32::MAX - 2, u32::MAX - 1)]
        );
    }

    #[test]
    fn the_lowest_free_addresses_are_taken_or_none_when_too_few() {
        let free = [(5, 6), (9, 10)];
        assert_eq!(lowest(&free, 3), Some(vec![5, 6, 9]));
        assert_eq!(lowest(&free, 4), Some(vec![5, 6, 9, 10]));
        assert_eq!(lowest(&free, 5), None);
        assert_eq!(lowest(&[], 0), Some(Vec::new()));
    }

    #[test]
    fn addresses_go_to_nodes_in_plan_order_lowest_first() {
        let mut w = world(
            vec![block("10.0.0.20", "10.0.0.21"), block("10.0.0.10", "10.0.0.11")],
            vec![cluster("c1", "static", &[("master", 1), ("worker", 2)])],
        );
        reserve(&mut w, "c1").unwrap();
        let got = addresses(&w, "c1");
        let want = [
            ("c1-master-0", "10.0.0.10"),
            ("c1-worker-0", "10.0.0.11"),
            ("c1-worker-1", "10.0.0.20"),
        ];
        assert_eq!(got, want.map(|(n, a)| (n.to_string(), Some(a.to_string()))));
    }

    #[test]
    fn too_few_free_addresses_reserve_none_of_them() {
        let mut w = world(
            vec![block("10.0.0.10", "10.0.0.11")],
            vec![cluster("c1", "static", &[("worker", 3)])],
        );
        assert_eq!(reserve(&mut w, "c1"), Err(OUT_OF_ADDRESSES));
        assert!(addresses(&w, "c1").iter().all(|(_, a)| a.is_none()));
    }

    #[test]
    fn a_dhcp_network_reserves_nothing() {
        let mut w = world(Vec::new(), vec![cluster("c1", "static", &[("worker", 2)])]);
        w.networks.get_mut("static").unwrap().dhcp = true;
        assert_eq!(reserve(&mut w, "c1"), Ok(()));
        assert!(addresses(&w, "c1").iter().all(|(_, a)| a.is_none()));
    }

    #[test]
    fn only_new_nodes_get_addresses_and_freed_ones_are_reused() {
        let mut w = world(
            vec![block("10.0.0.10", "10.0.0.19")],
            vec![
                cluster("c1", "static", &[("worker", 2)]),
                cluster("c2", "static", &[("worker", 1)]),
            ],
        );
        reserve(&mut w, "c1").unwrap();
        reserve(&mut w, "c2").unwrap();
        // A shrink removes c1-worker-1 (10.0.0.11); a grow then adds two nodes.
        let g = &mut w.clusters.get_mut("c1").unwrap().groups[0];
        g.nodes.pop();
        g.nodes
            .extend([Node::new("c1", "worker", 1), Node::new("c1", "worker", 2)]);
        reserve(&mut w, "c1").unwrap();
        let got: Vec<_> = addresses(&w, "c1").into_iter().map(|(_, a)| a.unwrap()).collect();
        assert_eq!(got, ["10.0.0.10", "10.0.0.11", "10.0.0.13"]);
        assert_eq!(addresses(&w, "c2")[0].1.as_deref(), Some("10.0.0.12"));
    }

    #[test]
    fn a_static_traffic_network_gives_each_node_an_address_of_its_own_blocks() {
        let mut c = cluster("c1", "static", &[("worker", 2)]);
        c.traffic = vec![("HDFS_NETWORK".into(), "hdfs".into(), "pg2".into())];
        let mut w = world(vec![block("10.0.0.10", "10.0.0.19")], vec![c]);
        w.networks
            .insert("hdfs".into(), network("hdfs", vec![block("10.1.0.50", "10.1.0.51")]));
        reserve(&mut w, "c1").unwrap();
        let ips: Vec<(Option<&String>, Option<&String>)> = w.clusters["c1"]
            .nodes()
            .map(|(_, n)| (n.static_ip_of(0), n.static_ip_of(1)))
            .collect();
        let s = |a: &str| a.to_string();
        assert_eq!(
            ips,
            [
                (Some(&s("10.0.0.10")), Some(&s("10.1.0.50"))),
                (Some(&s("10.0.0.11")), Some(&s("10.1.0.51")))
            ]
        );
        let entries = alloc_entries("hdfs", &w.clusters);
        assert_eq!(entries[1]["nodeName"], "c1-worker-1");
        assert_eq!(entries[1]["ipAddress"], "10.1.0.51");
        // A third node: the HDFS network has no address left, so none is reserved anywhere.
        let g = &mut w.clusters.get_mut("c1").unwrap().groups[0];
        g.nodes.push(Node::new("c1", "worker", 2));
        assert_eq!(reserve(&mut w, "c1"), Err(OUT_OF_ADDRESSES));
        assert_eq!(w.clusters["c1"].groups[0].nodes[2].static_ip_of(0), None);
    }

    #[test]
    fn the_pool_shows_all_assigned_per_cluster_and_free_blocks() {
        let mut w = world(
            vec![
                block("10.0.0.10", "10.0.0.14"),
                block("10.0.0.15", "10.0.0.20"),
                block("10.0.0.12", "10.0.0.13"),
            ],
            vec![
                cluster("c1", "static", &[("worker", 3)]),
                cluster("c2", "static", &[("worker", 2)]),
            ],
        );
        reserve(&mut w, "c1").unwrap();
        reserve(&mut w, "c2").unwrap();
        w.clusters.get_mut("c1").unwrap().groups[0].nodes.remove(1); // 10.0.0.11 freed
        let pool = Pool::of(&w.networks["static"], &w.clusters);
        assert_eq!(pool.all, vec![block("10.0.0.10", "10.0.0.20")]);
        assert_eq!(
            pool.assigned,
            vec![
                block("10.0.0.10", "10.0.0.10"),
                block("10.0.0.12", "10.0.0.12"),
                block("10.0.0.13", "10.0.0.14"),
            ]
        );
        assert_eq!(
            pool.free,
            vec![block("10.0.0.11", "10.0.0.11"), block("10.0.0.15", "10.0.0.20")]
        );
    }

    #[test]
    fn allocation_entries_name_each_reserved_address_before_any_clone() {
        let mut w = world(
            vec![block("10.0.0.10", "10.0.0.20")],
            vec![cluster("c1", "static", &[("master", 1), ("worker", 1)])],
        );
        assert!(alloc_entries("static", &w.clusters).is_empty());
        reserve(&mut w, "c1").unwrap();
        assert_eq!(
            alloc_entries("static", &w.clusters),
            vec![
                json!({"ipAddress": "10.0.0.10", "clusterName": "c1", "nodeGroupName": "master", "nodeName": "c1-master-0"}),
                json!({"ipAddress": "10.0.0.11", "clusterName": "c1", "nodeGroupName": "worker", "nodeName": "c1-worker-0"}),
            ]
        );
        assert!(alloc_entries("other", &w.clusters).is_empty());
    }

    #[test]
    fn a_static_network_read_shows_its_pool_and_reservations() {
        let mut w = world(
            vec![block("10.0.0.10", "10.0.0.20")],
            vec![cluster("c1", "static", &[("master", 1), ("worker", 2)])],
        );
        reserve(&mut w, "c1").unwrap();
        let read = serde_json::to_value(w.networks["static"].read(true, &w.clusters)).unwrap();
        assert_eq!(read["dhcp"], false);
        assert_eq!(
            read["allIpBlocks"],
            json!([{"beginIp": "10.0.0.10", "endIp": "10.0.0.20"}])
        );
        assert_eq!(
            read["assignedIpBlocks"],
            json!([{"beginIp": "10.0.0.10", "endIp": "10.0.0.12"}])
        );
        assert_eq!(
            read["freeIpBlocks"],
            json!([{"beginIp": "10.0.0.13", "endIp": "10.0.0.20"}])
        );
        assert_eq!(read["ipAllocEntries"].as_array().map(Vec::len), Some(3));
        assert_eq!(read["ipAllocEntries"][2]["ipAddress"], "10.0.0.12");
        let brief = serde_json::to_value(w.networks["static"].read(false, &w.clusters)).unwrap();
        assert!(brief["ipAllocEntries"].is_null());
    }

    #[test]
    fn a_dhcp_network_read_keeps_its_shape() {
        let mut w = world(Vec::new(), vec![cluster("c1", "static", &[("worker", 1)])]);
        w.networks.get_mut("static").unwrap().dhcp = true;
        let read = serde_json::to_value(w.networks["static"].read(true, &w.clusters)).unwrap();
        for key in ["allIpBlocks", "freeIpBlocks", "assignedIpBlocks"] {
            assert!(read[key].is_null(), "{key}");
        }
        assert_eq!(
            read["ipAllocEntries"],
            json!([{"ipAddress": "0.0.0.0", "clusterName": "c1", "nodeGroupName": "worker", "nodeName": "c1-worker-0"}])
        );
    }
}
