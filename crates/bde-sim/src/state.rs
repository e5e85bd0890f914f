//! BDE's database, in memory: networks, clusters with their node rows, tasks.

use std::collections::BTreeMap;

use bde_serengeti::{
    ClusterRead, ClusterStatus, DnsType, IpBlock, IpConfigInfo, MGT_NETWORK, NO_ADDRESS, NetworkRead, NodeGroupRead,
    NodeRead, NodeResult, NodeStatus, TaskRead,
};
use bde_vsphere::MoRef;
use serde::Serialize;
use serde_json::{Value, json};

use crate::addresses;

/// Everything the server keeps.
#[derive(Debug, Default)]
pub struct World {
    /// Registered networks by name.
    pub networks: BTreeMap<String, Network>,
    /// Clusters by name.
    pub clusters: BTreeMap<String, Cluster>,
    /// Tasks by id.
    pub tasks: BTreeMap<i64, Task>,
    /// The last task id handed out.
    pub last_task_id: i64,
    /// The rack map an administrator uploaded (`PUT /racks`).
    pub racks: Vec<bde_serengeti::RackInfo>,
}

/// A registered network.
#[derive(Debug, Clone)]
pub struct Network {
    /// BDE name.
    pub name: String,
    /// Portgroup name.
    pub port_group: String,
    /// DHCP or static.
    pub dhcp: bool,
    /// DNS type.
    pub dns_type: DnsType,
    /// Static settings.
    pub gateway: Option<String>,
    /// Static settings.
    pub netmask: Option<String>,
    /// Static settings.
    pub dns1: Option<String>,
    /// Static settings.
    pub dns2: Option<String>,
    /// Static settings.
    pub ip_blocks: Vec<IpBlock>,
}

impl Network {
    /// The `NetworkRead` form.
    pub fn read(&self, details: bool, clusters: &BTreeMap<String, Cluster>) -> NetworkRead {
        let mut read = NetworkRead {
            name: self.name.clone(),
            port_group: self.port_group.clone(),
            dhcp: self.dhcp,
            dns_type: Some(self.dns_type),
            is_generate_hostname: Some(self.dns_type != DnsType::Normal),
            dns1: self.dns1.clone(),
            dns2: self.dns2.clone(),
            gateway: self.gateway.clone(),
            netmask: self.netmask.clone(),
            all_ip_blocks: None,
            free_ip_blocks: None,
            assigned_ip_blocks: None,
            ip_alloc_entries: None,
        };
        if self.dhcp {
            read.ip_alloc_entries = details.then(|| self.dhcp_alloc_entries(clusters));
        } else {
            let pool = addresses::Pool::of(self, clusters);
            read.all_ip_blocks = Some(pool.all);
            read.free_ip_blocks = Some(pool.free);
            read.assigned_ip_blocks = Some(pool.assigned);
            read.ip_alloc_entries = details.then(|| addresses::alloc_entries(&self.name, clusters));
        }
        read
    }

    /// A DHCP network's entries: every node of the clusters on it, with its current address.
    fn dhcp_alloc_entries(&self, clusters: &BTreeMap<String, Cluster>) -> Vec<Value> {
        clusters
            .values()
            .filter(|c| c.network == self.name || c.traffic.iter().any(|(_, n, _)| *n == self.name))
            .flat_map(|c| {
                c.groups.iter().flat_map(move |g| {
                    g.nodes.iter().map(move |n| {
                        json!({"ipAddress": n.ip.clone().unwrap_or_else(|| NO_ADDRESS.into()),
                               "clusterName": c.name, "nodeGroupName": g.name, "nodeName": n.name})
                    })
                })
            })
            .collect()
    }
}

/// A cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Name.
    pub name: String,
    /// Status.
    pub status: ClusterStatus,
    /// Application manager.
    pub app_manager: String,
    /// Distro name.
    pub distro: String,
    /// Distro vendor.
    pub distro_vendor: String,
    /// Template VM.
    pub template_name: String,
    /// The MGT_NETWORK BDE network.
    pub network: String,
    /// Its portgroup name.
    pub port_group: String,
    /// Resource pools.
    pub rp_names: Vec<String>,
    /// Datastores the cluster asked for (none: all).
    pub ds_names: Vec<String>,
    /// The package repository it asked for.
    pub local_repo_url: Option<String>,
    /// Topology policy.
    pub topology_policy: String,
    /// Another cluster's HDFS (`hdfs://host[:port]`).
    pub external_hdfs: Option<String>,
    /// The other traffic types' networks, each a NIC of its own after the management one:
    /// (traffic type, BDE network, portgroup).
    pub traffic: Vec<(String, String, String)>,
    /// Groups in creation order.
    pub groups: Vec<Group>,
    /// Server version that made it.
    pub version: String,
    /// Cluster-level software configuration.
    pub configuration: Option<Value>,
}

/// A node group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// The defined (requested) count.
    pub instance_num: usize,
    /// CPUs per node.
    pub cpu_num: i32,
    /// Memory per node (MB).
    pub mem_mb: i32,
    /// Storage spec.
    pub storage: Value,
    /// Group-level software configuration.
    pub configuration: Option<Value>,
    /// `off`, `on` or `ft`, as sent (the server stores any string).
    pub ha_flag: String,
    /// Placement policies, as sent.
    pub placement: Option<Value>,
    /// Swap as a share of memory (BDE's default 1.0).
    pub swap_ratio: f32,
    /// Shares of CPU and memory reserved, as sent.
    pub reserved_cpu_ratio: Option<f32>,
    pub reserved_mem_ratio: Option<f32>,
    /// The group's resource pools, as sent.
    pub rp_names: Option<Vec<String>>,
    /// Node rows, by index.
    pub nodes: Vec<Node>,
}

/// A node row and what the simulator knows of its VM.
#[derive(Debug, Clone)]
pub struct Node {
    /// `<cluster>-<group>-<index>`.
    pub name: String,
    /// The index in its group.
    pub index: usize,
    /// Its VM, once cloned.
    pub vm: Option<MoRef>,
    /// Its NIC's MAC, once cloned.
    pub mac: Option<String>,
    /// The MACs of its NICs on the other traffic networks (the cluster's order).
    pub extra_macs: Vec<String>,
    /// Their guest's addresses, once leased.
    pub extra_ips: Vec<Option<String>>,
    /// Status.
    pub status: NodeStatus,
    /// Progress text.
    pub action: Option<String>,
    /// The guest's address, once leased (or, on a static network, once VMware Tools reports it).
    pub ip: Option<String>,
    /// The address BDE reserved for it at the plan step, on a static network.
    pub static_ip: Option<String>,
    /// The same on each other traffic network (the cluster's order), where it is static.
    pub extra_static_ips: Vec<Option<String>>,
    /// ESXi host.
    pub host_name: Option<String>,
    /// Whether the last action failed.
    pub action_failed: bool,
    /// Why.
    pub err_message: Option<String>,
    /// What happened when.
    pub timeline: Timeline,
}

/// When things happened to a node, in seconds since the simulator started.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    /// Clone finished.
    pub cloned: Option<f64>,
    /// Powered on (the last time).
    pub powered_on: Option<f64>,
    /// The guest's first DHCPDISCOVER (of the current boot).
    pub first_dhcp_request: Option<f64>,
    /// The first lookup that found its port (the DHCP edge's, or on a static
    /// network the bootstrap's reachability check).
    pub port_seen: Option<f64>,
    /// Lease obtained; on a static network, the address reported by VMware Tools.
    pub leased: Option<f64>,
    /// The guest's DHCP client gave up.
    pub gave_up: Option<f64>,
    /// Reboots noticed (resets or power cycles).
    pub resets: Vec<f64>,
    /// DHCPDISCOVERs sent in all.
    pub dhcp_requests: u32,
}

impl Node {
    /// The address BDE reserved for its NIC `nic` (0: management), on a static network.
    pub fn static_ip_of(&self, nic: usize) -> Option<&String> {
        match nic {
            0 => self.static_ip.as_ref(),
            i => self.extra_static_ips.get(i - 1)?.as_ref(),
        }
    }

    /// Reserves `ip` for its NIC `nic`.
    pub fn set_static_ip(&mut self, nic: usize, ip: String) {
        match nic {
            0 => self.static_ip = Some(ip),
            i => {
                if self.extra_static_ips.len() < i {
                    self.extra_static_ips.resize(i, None);
                }
                self.extra_static_ips[i - 1] = Some(ip);
            }
        }
    }

    /// A fresh row as BDE inserts it before cloning.
    pub fn new(cluster: &str, group: &str, index: usize) -> Self {
        Self {
            name: format!("{cluster}-{group}-{index}"),
            index,
            vm: None,
            mac: None,
            extra_macs: Vec::new(),
            extra_ips: Vec::new(),
            status: NodeStatus::NotExist,
            action: Some("Cloning VM".into()),
            ip: None,
            static_ip: None,
            extra_static_ips: Vec::new(),
            host_name: None,
            action_failed: false,
            err_message: None,
            timeline: Timeline::default(),
        }
    }

    fn read(&self, cluster: &Cluster, group: &Group) -> NodeRead {
        let ip = IpConfigInfo {
            port_group_name: Some(cluster.port_group.clone()),
            network_name: Some(cluster.network.clone()),
            traffic_type: Some(MGT_NETWORK.into()),
            ip_address: Some(self.ip.clone().unwrap_or_else(|| NO_ADDRESS.into())),
            fqdn: self.ip.as_ref().map(|_| format!("{}.bde.local", self.name)),
        };
        NodeRead {
            name: self.name.clone(),
            mo_id: self.vm.as_ref().map(|m| format!("null:VirtualMachine:{}", m.value)),
            rack: Some("/default-rack".into()),
            host_name: self.host_name.clone(),
            ip_configs: Some(
                std::iter::once((MGT_NETWORK.to_string(), vec![ip]))
                    .chain(cluster.traffic.iter().enumerate().map(|(i, (traffic, network, pg))| {
                        let addr = self.extra_ips.get(i).cloned().flatten();
                        let config = IpConfigInfo {
                            port_group_name: Some(pg.clone()),
                            network_name: Some(network.clone()),
                            traffic_type: Some(traffic.clone()),
                            fqdn: addr
                                .as_ref()
                                .map(|_| format!("{}-{}.bde.local", self.name, traffic_suffix(traffic))),
                            ip_address: Some(addr.unwrap_or_else(|| NO_ADDRESS.into())),
                        };
                        (traffic.clone(), vec![config])
                    }))
                    .collect(),
            ),
            status: self.status,
            action: self.action.clone(),
            roles: Some(group.roles.clone()),
            memory: i64::from(group.mem_mb),
            volumes: None,
            cpu_number: group.cpu_num,
            action_failed: self.action_failed,
            err_message: self.err_message.clone(),
            version: Some(cluster.version.clone()),
        }
    }
}

/// BDE's hostname suffix of a traffic type (`serengeti.hostname_suffix_hdfs/_mapred`).
fn traffic_suffix(traffic: &str) -> &'static str {
    if traffic == "HDFS_NETWORK" { "hdfs" } else { "mapred" }
}

impl Node {
    /// Whether every NIC of it has its address.
    pub fn addressed(&self) -> bool {
        self.ip.is_some() && self.extra_ips.iter().all(Option::is_some)
    }
}

impl Cluster {
    /// The `ClusterRead` form; `details` adds nodes and resource pools (always nodes in 2.2.0).
    pub fn read(&self, details: bool, always_instances: bool) -> ClusterRead {
        let groups = self
            .groups
            .iter()
            .map(|g| NodeGroupRead {
                name: g.name.clone(),
                roles: Some(g.roles.clone()),
                cpu_num: g.cpu_num,
                mem_capacity_mb: g.mem_mb,
                swap_ratio: Some(g.swap_ratio),
                instance_num: g.nodes.len() as i32,
                instances: (details || always_instances).then(|| g.nodes.iter().map(|n| n.read(self, g)).collect()),
                storage: Some(g.storage.clone()),
                placement_policies: g.placement.clone(),
                networking: None,
                compute_only: false,
            })
            .collect::<Vec<_>>();
        ClusterRead {
            name: self.name.clone(),
            status: self.status,
            app_manager: Some(self.app_manager.clone()),
            distro: Some(self.distro.clone()),
            distro_vendor: Some(self.distro_vendor.clone()),
            instance_num: groups.iter().map(|g| g.instance_num).sum(),
            node_groups: Some(groups),
            resource_pools: details.then(|| {
                self.rp_names
                    .iter()
                    .map(|rp| {
                        json!({"rpName": rp, "vcCluster": "DC0_C0", "rpVsphereName": "Resources",
                                     "totalRAMInMB": 0, "usedRAMInMB": 0, "totalCPUInMHz": 0,
                                     "usedCPUInMHz": 0, "nodes": null})
                    })
                    .collect()
            }),
            topology_policy: Some(self.topology_policy.clone()),
            automation_enable: None,
            vhm_min_num: -1,
            vhm_max_num: -1,
            vhm_target_num: None,
            version: Some(self.version.clone()),
            io_shares: Some("NORMAL".into()),
            dc_seperation: false,
            external_hdfs: self.external_hdfs.clone(),
            external_map_reduce: None,
            external_namenode: None,
            external_secondary_namenode: None,
            external_datanodes: None,
            local_repo_url: self.local_repo_url.clone(),
            cluster_clone_type: Some("fast".into()),
            template_name: Some(self.template_name.clone()),
            infrastructure_config: None,
        }
    }

    /// Every node, with its group's name.
    /// The BDE network of each NIC: management's first, then each traffic network's.
    pub fn nic_networks(&self) -> Vec<&str> {
        std::iter::once(self.network.as_str())
            .chain(self.traffic.iter().map(|(_, n, _)| n.as_str()))
            .collect()
    }

    pub fn nodes(&self) -> impl Iterator<Item = (&Group, &Node)> {
        self.groups.iter().flat_map(|g| g.nodes.iter().map(move |n| (g, n)))
    }

    /// A node by VM name.
    pub fn node_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.groups
            .iter_mut()
            .flat_map(|g| g.nodes.iter_mut())
            .find(|n| n.name == name)
    }
}

/// A task (job execution).
#[derive(Debug, Clone)]
pub struct Task {
    /// Id.
    pub id: i64,
    /// `STARTED`, `COMPLETED`, `FAILED`.
    pub status: String,
    /// `INNER`, `DELETE`, `SHRINK`.
    pub kind: String,
    /// 0..1.
    pub progress: f64,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Cluster name.
    pub target: String,
    /// Composed jobs: per-node results.
    pub succeed_nodes: Option<Vec<NodeResult>>,
    /// Composed jobs: per-node failures.
    pub fail_nodes: Option<Vec<NodeResult>>,
}

impl Task {
    /// The `TaskRead` form (COMPLETED forces progress 1.0).
    pub fn read(&self) -> TaskRead {
        TaskRead {
            id: self.id,
            status: self.status.clone(),
            kind: self.kind.clone(),
            progress: if self.status == "COMPLETED" { 1.0 } else { self.progress },
            error_message: self.error_message.clone(),
            work_dir: None,
            progress_message: None,
            target: Some(self.target.clone()),
            succeed_nodes: self.succeed_nodes.clone(),
            fail_nodes: self.fail_nodes.clone(),
        }
    }
}

impl World {
    /// Starts a task for a cluster and returns its id.
    pub fn new_task(&mut self, target: &str, kind: &str) -> i64 {
        self.last_task_id += 1;
        let id = self.last_task_id;
        self.tasks.insert(
            id,
            Task {
                id,
                status: "STARTED".into(),
                kind: kind.into(),
                progress: 0.0,
                error_message: None,
                target: target.into(),
                succeed_nodes: (kind == "SHRINK").then(Vec::new),
                fail_nodes: (kind == "SHRINK").then(Vec::new),
            },
        );
        id
    }
}
