//! The cluster spec: the Heat resource's properties (the 2015 plugin's
//! thirteen plus the new ones), which the CLI reads from a YAML file too, and
//! its checks, each naming the field and the fix.

mod bde_file;

use crate::limits;
use bde_serengeti::rules;
use bde_serengeti::services::{SERVICES, ServiceProblem, service_problems};
use secrecy::SecretString;
use serde::Deserialize;

/// Master roles: a group holding one has exactly one VM.
/// Roles of which only one group, of exactly one VM, may hold each (BDE's Default manager).
const SINGLE_ROLES: &[&str] = &["hadoop_resourcemanager", "hadoop_jobtracker"];

/// A cluster as the user describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// BDE's URL, `https://host:8443`.
    pub bde_endpoint: Option<String>,
    /// vCenter's host or SDK URL.
    pub vcm_server: Option<String>,
    /// The vCenter SSO user BDE (and, unless `vcenter_username` is set, vCenter) accepts.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<SecretString>,
    /// vCenter user, when it differs from `username`.
    pub vcenter_username: Option<String>,
    /// vCenter password, when it differs from `password`.
    pub vcenter_password: Option<SecretString>,
    /// BDE cluster name: letters, digits, `_`.
    pub cluster_name: Option<String>,
    /// The 2015 plugin's distro selector (e.g. `mesos`); `distro` wins when both are set.
    pub cluster_type: Option<String>,
    /// The Neutron network (name or id).
    pub network: Option<String>,
    /// The password BDE sets on the VMs.
    pub cluster_password: Option<SecretString>,
    /// BDE resource pool.
    pub cluster_rp: Option<String>,
    /// Deprecated (2015 plugin): ignored.
    pub vio_config: Option<String>,
    /// Deprecated (2015 plugin): ignored.
    pub bde_config: Option<String>,
    /// Security group (name or id) for the ports.
    pub security_group: Option<String>,
    /// The Neutron subnet (name or id) the ports' addresses come from.
    pub subnet: Option<String>,
    /// Node groups; none means BDE's default template.
    pub node_groups: Option<Vec<NodeGroupSpec>>,
    /// BDE distro.
    pub distro: Option<String>,
    /// BDE application manager.
    pub app_manager: Option<String>,
    /// CA bundle for BDE's certificate (and vCenter's, unless `vcenter_ca_file`).
    pub ca_file: Option<String>,
    /// CA bundle for vCenter's certificate.
    pub vcenter_ca_file: Option<String>,
    /// Skip TLS verification (logged as a warning).
    #[serde(default)]
    pub insecure: bool,
    /// Port owner; NSX-v serves DHCP only for `compute...` owners.
    pub device_owner: Option<String>,
    /// Seconds a powered-on VM with its port may wait for an address before it is reset.
    pub dhcp_grace_seconds: Option<f64>,
    /// Resets per VM and wait for an address before giving up on it (0 disables repair).
    pub max_resets: Option<u32>,
    /// The cluster's software configuration, nested as BDE nests it
    /// (`{hadoop: {hdfs-site.xml: {dfs.replication: 2}}}`).
    pub configuration: Option<serde_json::Value>,
    /// BDE resource pools the VMs may go to (`cluster_rp` names one).
    pub resource_pools: Option<Vec<String>>,
    /// BDE datastores the VMs may use.
    pub datastores: Option<Vec<String>>,
    /// The VM template BDE clones (its default if not given).
    pub template_name: Option<String>,
    /// A yum repository for the distro's packages (`http(s)://...`).
    pub local_repo_url: Option<String>,
    /// `NONE`, `HVE`, `RACK_AS_RACK` or `HOST_AS_RACK`.
    pub topology_policy: Option<String>,
    /// HDFS of another cluster this one uses (`hdfs://host[:port]`).
    pub external_hdfs: Option<String>,
    /// Networks of their own for other traffic: `HDFS_NETWORK` and `MAPRED_NETWORK`, each
    /// `{network, subnet}` (`network`/`subnet` are the management network's).
    pub networks: Option<std::collections::BTreeMap<String, NetworkRefSpec>>,
    /// How BDE names the hosts on the network: `NORMAL` (the default: the names DHCP
    /// gives), `DYNAMIC` (dynamic DNS) or `OTHERS` (BDE writes every node into /etc/hosts).
    pub dns_type: Option<String>,
    /// `dhcp` (the default: NSX-v's DHCP serves each port's address) or `static` (BDE
    /// gives each node an address of `static_range` before cloning; the guest sets it).
    pub ip_mode: Option<String>,
    /// With `ip_mode: static`: `FIRST-LAST`, a range of the subnet outside its allocation
    /// pools (default: the largest free run outside them).
    pub static_range: Option<String>,
    /// The name used when neither `cluster_name` nor `cluster_spec` gives one
    /// (Heat gives its resource's physical name).
    pub fallback_cluster_name: Option<String>,
    /// Set when a password came from the operator's credentials file: it is never
    /// sent anywhere else (the BDE password does not stand in for vCenter's then).
    #[serde(skip)]
    pub operator_password: bool,
}

/// A traffic type's network.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRefSpec {
    /// The Neutron network (name or id).
    pub network: String,
    /// Its subnet (name or id); the network's first if not given.
    pub subnet: Option<String>,
    /// With `ip_mode: static`: `FIRST-LAST` for this network's BDE network, as `static_range`.
    pub static_range: Option<String>,
}

/// BDE's traffic types beside management, in the order their NICs follow it.
pub const TRAFFIC_TYPES: [&str; 2] = ["HDFS_NETWORK", "MAPRED_NETWORK"];

/// A traffic type on its own network, as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficSpec {
    /// `HDFS_NETWORK` or `MAPRED_NETWORK`.
    pub traffic: String,
    /// The Neutron network (name or id).
    pub network: String,
    /// Its subnet (name or id).
    pub subnet: Option<String>,
    /// With static addresses: the range its BDE network gets (else the largest free run).
    pub static_range: Option<crate::static_ip::AddressRange>,
}

/// A node group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeGroupSpec {
    /// Letters and digits (BDE allows no `_` or `-` here).
    pub name: String,
    /// BDE roles.
    pub roles: Vec<String>,
    /// How many VMs.
    pub instance_num: i64,
    /// `SMALL`, `MEDIUM`, `LARGE`, `EXTRA_LARGE`.
    pub instance_type: Option<String>,
    /// CPUs per VM.
    pub cpu_num: Option<i64>,
    /// Memory per VM (MB, ≥ 1024).
    pub memory_mb: Option<i64>,
    /// The group's software configuration, nested as the cluster's.
    pub configuration: Option<serde_json::Value>,
    /// Its VMs' data disks.
    pub storage: Option<StorageSpec>,
    /// vSphere availability of its VMs: `off` (default), `on` (HA) or `ft` (Fault Tolerance).
    pub ha: Option<String>,
    /// BDE resource pools for this group's VMs.
    pub resource_pools: Option<Vec<String>>,
    /// Swap size as a share of memory (BDE's default 1.0).
    pub swap_ratio: Option<f64>,
    /// Share of the VMs' CPU reserved, 0 to 1.
    pub cpu_reservation: Option<f64>,
    /// Share of the VMs' memory reserved, 0 to 1.
    pub memory_reservation: Option<f64>,
    /// Where the VMs go: per host, beside another group.
    pub placement: Option<PlacementSpec>,
}

/// A group's placement (BDE's `PlacementPolicy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementSpec {
    /// VMs of the group per ESXi host; the group's size must be a multiple.
    pub instance_per_host: Option<i64>,
    /// The one group this one's VMs go beside.
    pub beside_group: Option<String>,
    /// `WEAK` (as far as it can, the default) or `STRICT`.
    pub beside_type: Option<String>,
    /// Physical racks (BDE's `groupRacks`; BDE's rack map must be uploaded first).
    pub racks: Option<RacksSpec>,
}

/// Which racks a group's VMs go on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RacksSpec {
    /// `ROUNDROBIN` (spread over the racks, the default) or `SAMERACK` (one rack).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Rack names from BDE's rack map (none: all of them).
    pub names: Option<Vec<String>>,
}

impl RacksSpec {
    /// The policy, upper case, `ROUNDROBIN` if not given.
    pub fn kind(&self) -> String {
        self.kind.as_deref().unwrap_or("ROUNDROBIN").to_ascii_uppercase()
    }
}

impl PlacementSpec {
    /// BDE's JSON for it (`instancePerHost`, `groupAssociations`).
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        if let Some(n) = self.instance_per_host {
            body.insert("instancePerHost".into(), n.into());
        }
        if let Some(group) = &self.beside_group {
            let kind = self.beside_type.as_deref().unwrap_or("WEAK").to_ascii_uppercase();
            body.insert(
                "groupAssociations".into(),
                serde_json::json!([{"reference": group, "type": kind}]),
            );
        }
        if let Some(r) = &self.racks {
            body.insert(
                "groupRacks".into(),
                serde_json::json!({"type": r.kind(), "racks": r.names.clone().unwrap_or_default()}),
            );
        }
        serde_json::Value::Object(body)
    }
}

/// A node group's data disks (BDE's `StorageRead`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// `LOCAL` or `SHARED` (BDE refuses `TEMPFS`); BDE's choice by role if not given.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Data size per VM, GB.
    pub size_gb: Option<i64>,
    /// Data disks per VM (0: BDE's split).
    pub disk_num: Option<i64>,
    /// BDE datastore names for the group.
    pub datastores: Option<Vec<String>>,
}

impl StorageSpec {
    /// BDE's JSON for it (`type`, `sizeGB`, `diskNum`, `dsNames`).
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        if let Some(kind) = &self.kind {
            body.insert("type".into(), kind.to_ascii_uppercase().into());
        }
        if let Some(size) = self.size_gb {
            body.insert("sizeGB".into(), size.into());
        }
        if let Some(disks) = self.disk_num {
            body.insert("diskNum".into(), disks.into());
        }
        if let Some(names) = &self.datastores {
            body.insert("dsNames".into(), names.clone().into());
        }
        serde_json::Value::Object(body)
    }
}

/// BDE's most data disks per VM (`storage.disk_number_per_node.max`).
/// Problems of a group's storage and availability (`ClusterCreate.validateStorageType`,
/// `ClusterConfigManager.convertStorage`, `ScaleManager`'s FT check).
fn storage_errors(g: &NodeGroupSpec, at: &dyn Fn(&str) -> String, errors: &mut Vec<crate::error::FieldError>) {
    let mut fail = |field: String, message: String| errors.push(crate::error::FieldError { field, message });
    let ha = g.ha.as_deref().map(str::to_ascii_lowercase);
    if let Some(ha) = ha.as_deref().filter(|h| !limits::HA.allows(h)) {
        fail(
            at("ha"),
            format!("{ha:?}: give off, on (vSphere HA) or ft (vSphere Fault Tolerance)"),
        );
    }
    let kind = g
        .storage
        .as_ref()
        .and_then(|s| s.kind.as_deref())
        .map(str::to_ascii_uppercase);
    match kind.as_deref() {
        None => {}
        Some(k) if limits::STORAGE_TYPE.allows(k) => {}
        Some("TEMPFS") => fail(
            at("storage.type"),
            format!(
                "TEMPFS: BDE refuses it (TEMPFS_NOT_ALLOWED): {}",
                limits::STORAGE_TYPE.fix()
            ),
        ),
        Some(other) => fail(at("storage.type"), format!("{other:?}: {}", limits::STORAGE_TYPE.fix())),
    }
    if let Some(s) = &g.storage {
        if let Some(size) = s.size_gb.filter(|s| !limits::STORAGE_SIZE_GB.holds(*s as f64)) {
            fail(
                at("storage.size_gb"),
                format!("{size} GB: {}", limits::STORAGE_SIZE_GB.fix()),
            );
        }
        if let Some(disks) = s.disk_num.filter(|d| !limits::STORAGE_DISK_NUM.holds(*d as f64)) {
            fail(
                at("storage.disk_num"),
                format!("{disks}: {} (0: BDE splits the size)", limits::STORAGE_DISK_NUM.fix()),
            );
        }
        if let Some(bad) = s.datastores.iter().flatten().find(|d| d.trim().is_empty()) {
            fail(at("storage.datastores"), format!("{bad:?}: a datastore name is empty"));
        }
    }
    if ha.as_deref() == Some("ft") {
        if kind.as_deref() == Some("LOCAL") {
            fail(
                at("storage.type"),
                "LOCAL with ha: ft: vSphere Fault Tolerance needs SHARED storage".into(),
            );
        }
        if let Some(c) = g.cpu_num.filter(|c| *c > 1) {
            fail(
                at("cpu_num"),
                format!("{c} CPUs with ha: ft: vSphere Fault Tolerance allows 1"),
            );
        }
    }
}

impl NodeGroupSpec {
    /// The instance type sent to BDE: the group's, else BDE's default for its roles
    /// (MEDIUM for a management group, SMALL otherwise) unless it gives both CPUs and
    /// memory: BDE refuses a group with neither a type nor both (INSTANCE_SIZE_NOT_SET).
    pub fn bde_instance_type(&self) -> Option<String> {
        match (&self.instance_type, self.cpu_num, self.memory_mb) {
            (Some(t), _, _) => Some(t.to_ascii_uppercase()),
            (None, Some(_), Some(_)) => None,
            (None, _, _) => Some(bde_serengeti::rules::default_instance_type(&self.roles).into()),
        }
    }

    /// The CPUs and memory (MB) BDE gives each VM: explicit values, else the instance
    /// type's (the group's, or BDE's default), one value at a time.
    pub fn size(&self) -> (Option<u32>, Option<u32>) {
        let typed = self
            .bde_instance_type()
            .as_deref()
            .and_then(bde_serengeti::rules::instance_type_size);
        (
            self.cpu_num.map(|c| c as u32).or(typed.map(|t| t.0)),
            self.memory_mb.map(|m| m as u32).or(typed.map(|t| t.1)),
        )
    }
}

/// A spec that passed every local check, with defaults filled in.
#[derive(Debug, Clone)]
pub struct ValidSpec {
    /// BDE's URL.
    pub bde_endpoint: String,
    /// vCenter's SDK URL.
    pub vcenter_url: String,
    /// BDE user.
    pub username: String,
    /// BDE password.
    pub password: SecretString,
    /// vCenter user.
    pub vcenter_username: String,
    /// vCenter password.
    pub vcenter_password: SecretString,
    /// Cluster name.
    pub cluster_name: String,
    /// Distro (None: BDE's default).
    pub distro: Option<String>,
    /// The distro came from the 2015 `cluster_type` (errors name that field).
    pub distro_from_cluster_type: bool,
    /// App manager.
    pub app_manager: Option<String>,
    /// Neutron network (name or id).
    pub network: String,
    /// Neutron subnet (name or id).
    pub subnet: Option<String>,
    /// Security group (name or id).
    pub security_group: Option<String>,
    /// VM password.
    pub cluster_password: Option<SecretString>,
    /// Resource pool.
    pub cluster_rp: Option<String>,
    /// Node groups.
    pub node_groups: Vec<NodeGroupSpec>,
    /// CA for BDE.
    pub ca_file: Option<String>,
    /// CA for vCenter.
    pub vcenter_ca_file: Option<String>,
    /// Skip verification.
    pub insecure: bool,
    /// Port owner.
    pub device_owner: String,
    /// Grace before a reset.
    pub dhcp_grace_seconds: f64,
    /// Resets per VM.
    pub max_resets: u32,
    /// The cluster's software configuration.
    pub configuration: Option<serde_json::Value>,
    /// Resource pools (`cluster_rp` or `resource_pools`).
    pub resource_pools: Option<Vec<String>>,
    /// Datastores.
    pub datastores: Option<Vec<String>>,
    /// VM template.
    pub template_name: Option<String>,
    /// Package repository.
    pub local_repo_url: Option<String>,
    /// Topology policy.
    pub topology_policy: Option<String>,
    /// Another cluster's HDFS.
    pub external_hdfs: Option<String>,
    /// Other traffic on networks of its own, in NIC order (after management's).
    pub traffic: Vec<TrafficSpec>,
    /// How BDE names the hosts on the network.
    pub dns_type: bde_serengeti::DnsType,
    /// How the nodes get their addresses.
    pub ip_mode: IpMode,
}

/// How the nodes get their management addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpMode {
    /// NSX-v's DHCP serves each port's address: the port must exist before the guest asks.
    #[default]
    Dhcp,
    /// BDE assigns each node an address of a range before cloning; the guest sets it.
    Static {
        /// The range given (`None`: the largest free run outside the subnet's pools).
        range: Option<crate::static_ip::AddressRange>,
    },
}

impl ValidSpec {
    /// True when BDE gives the nodes static addresses.
    pub fn is_static(&self) -> bool {
        matches!(self.ip_mode, IpMode::Static { .. })
    }
}

impl ValidSpec {
    /// A digest of every configuration the spec gives (the cluster's and its groups'),
    /// `None` when it gives none: what the state keeps of the configuration last sent.
    pub fn configuration_digest(&self) -> Option<String> {
        let groups: Vec<_> = self
            .node_groups
            .iter()
            .filter_map(|g| g.configuration.as_ref().map(|c| (g.name.as_str(), c)))
            .collect();
        if self.configuration.is_none() && groups.is_empty() {
            return None;
        }
        // serde_json's maps are ordered by key: the same configuration, the same text.
        let text = serde_json::json!({"cluster": self.configuration, "groups": groups}).to_string();
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        Some(digest.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// What BDE refuses in a change from `before` to `after` (a stack update, a changed
/// file), before anything is changed: a new count for a group holding a role whose
/// count BDE keeps fixed (`CLUSTER.ROLES_NOT_SUPPORTED`: namenode, jobtracker,
/// resourcemanager, zookeeper).
pub fn change_errors(before: &ValidSpec, after: &ValidSpec) -> Vec<crate::error::FieldError> {
    after
        .node_groups
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let old = before.node_groups.iter().find(|o| o.name == g.name)?;
            let fixed: Vec<&str> = g
                .roles
                .iter()
                .map(String::as_str)
                .filter(|r| rules::UNSCALABLE_ROLES.contains(r))
                .collect();
            (old.instance_num != g.instance_num && !fixed.is_empty()).then(|| crate::error::FieldError {
                field: format!("node_groups[{i}].instance_num"),
                message: format!(
                    "group {:?} holds {}: BDE cannot grow or shrink it (CLUSTER.ROLES_NOT_SUPPORTED); keep {} VM(s)",
                    g.name,
                    fixed.join(", "),
                    old.instance_num
                ),
            })
        })
        .collect()
}

/// BDE's rules for how the Hadoop roles spread over groups (the Default manager's
/// `ClusterValidator.validateGroupConfig`; docs/bde-cluster-spec.md §3.1): NameNode HA
/// (2 namenodes) needs 3 or more journal nodes and a ZooKeeper group; journal nodes need
/// NameNode HA and may not share a group with data or client nodes; ZooKeeper has 3 or
/// more; one group at most for the single roles.
fn role_layout_errors(groups: &[NodeGroupSpec], external_hdfs: bool, errors: &mut Vec<crate::error::FieldError>) {
    let has = |g: &NodeGroupSpec, role: &str| g.roles.iter().any(|r| r == role);
    let count = |role: &str| -> i64 { groups.iter().filter(|g| has(g, role)).map(|g| g.instance_num).sum() };
    let mut fail = |field: String, message: &str| {
        errors.push(crate::error::FieldError {
            field,
            message: message.into(),
        })
    };
    let namenodes = count("hadoop_namenode");
    let journals = count("hadoop_journalnode");
    for (i, g) in groups.iter().enumerate() {
        let at = |f: &str| format!("node_groups[{i}].{f}");
        if has(g, "hadoop_namenode") && !(1..=2).contains(&g.instance_num) {
            fail(at("instance_num"), "a namenode group has 1 VM, or 2 for NameNode HA");
        }
        if has(g, "hadoop_journalnode") && (has(g, "hadoop_datanode") || has(g, "hadoop_client")) {
            fail(at("roles"), "journal nodes cannot be on data nodes or client nodes");
        }
        if has(g, "zookeeper") && (1..=2).contains(&g.instance_num) {
            fail(at("instance_num"), "a ZooKeeper group has 3 or more VMs");
        }
    }
    if namenodes == 2 {
        if journals < 3 {
            fail(
                "node_groups".into(),
                "NameNode HA (2 namenodes) needs 3 or more hadoop_journalnode VMs",
            );
        }
        if !groups.iter().any(|g| has(g, "zookeeper")) {
            fail(
                "node_groups".into(),
                "NameNode HA (2 namenodes) needs a zookeeper group",
            );
        }
    } else if journals > 0 {
        fail(
            "node_groups".into(),
            "journal nodes without NameNode HA: give the namenode group 2 VMs, or drop them",
        );
    }
    // With another cluster's HDFS, this one has no HDFS of its own unless HBase needs it.
    if external_hdfs && !groups.iter().any(|g| has(g, "hbase_master")) {
        for (i, g) in groups.iter().enumerate() {
            if let Some(role) = ["hadoop_namenode", "hadoop_datanode"].into_iter().find(|r| has(g, r)) {
                fail(
                    format!("node_groups[{i}].roles"),
                    &format!("{role} with external_hdfs: the HDFS is the external one; drop the role"),
                );
            }
        }
        if !groups
            .iter()
            .any(|g| has(g, "hadoop_resourcemanager") || has(g, "hadoop_jobtracker"))
        {
            fail(
                "node_groups".into(),
                "a cluster on external_hdfs computes on it: give a group hadoop_resourcemanager (or hadoop_jobtracker)",
            );
        }
        if !groups
            .iter()
            .any(|g| has(g, "hadoop_nodemanager") || has(g, "hadoop_tasktracker"))
        {
            fail(
                "node_groups".into(),
                "a cluster on external_hdfs computes on it: give a group hadoop_nodemanager (or hadoop_tasktracker)",
            );
        }
    } else if !external_hdfs {
        let roles = groups.iter().flat_map(|g| g.roles.iter().map(String::as_str));
        for problem in service_problems(roles) {
            fail("node_groups".into(), &service_problem_message(&problem));
        }
    }
    for role in [
        "hadoop_jobtracker",
        "hadoop_resourcemanager",
        "zookeeper",
        "hbase_master",
    ] {
        if groups.iter().filter(|g| has(g, role)).count() > 1 {
            fail("node_groups".into(), &format!("only one node group may hold {role}"));
        }
    }
}

/// A service BDE would refuse, in a template's words: which roles to add, or which to drop.
fn service_problem_message(problem: &ServiceProblem) -> String {
    let roles_of = |name: &str| {
        SERVICES
            .iter()
            .find(|s| s.name == name)
            .map_or(String::new(), |s| s.roles.join(" + "))
    };
    match problem {
        ServiceProblem::Incomplete { service, missing } => format!(
            "BDE makes the {service} service only from all its roles ({}): add {} to a group, or drop the rest",
            roles_of(service),
            missing.join(" and ")
        ),
        ServiceProblem::MapredWithYarn => format!(
            "MAPRED ({}) and YARN ({}) cannot be in one cluster: keep one",
            roles_of("MAPRED"),
            roles_of("YARN")
        ),
        ServiceProblem::NeedsServices { service, needs } => format!(
            "{service} runs on {}: add {}",
            needs.join(" and "),
            needs
                .iter()
                .map(|n| format!("{n} ({})", roles_of(n)))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

/// The traffic networks, in NIC order; each a known traffic type on a network of its
/// own (BDE refuses one portgroup for two traffic types: `PG_REFERENCED_MULTI_TIMES`).
fn traffic_networks(spec: &ClusterSpec, errors: &mut Vec<crate::error::FieldError>) -> Vec<TrafficSpec> {
    let Some(given) = &spec.networks else {
        return Vec::new();
    };
    for key in given.keys().filter(|k| !TRAFFIC_TYPES.contains(&k.as_str())) {
        let message = if key == "MGT_NETWORK" {
            "is the management network: give it as network (and subnet)".to_string()
        } else {
            format!("{key:?} is not a BDE traffic type: give HDFS_NETWORK or MAPRED_NETWORK")
        };
        errors.push(crate::error::FieldError {
            field: format!("networks.{key}"),
            message,
        });
    }
    let traffic: Vec<TrafficSpec> = TRAFFIC_TYPES
        .iter()
        .filter_map(|t| {
            given.get(*t).map(|n| TrafficSpec {
                traffic: t.to_string(),
                network: n.network.trim().to_string(),
                subnet: n.subnet.clone(),
                static_range: n.static_range.as_deref().and_then(|r| {
                    crate::static_ip::AddressRange::parse(r)
                        .inspect_err(|e| {
                            errors.push(crate::error::FieldError {
                                field: format!("networks.{t}.static_range"),
                                message: e.clone(),
                            })
                        })
                        .ok()
                }),
            })
        })
        .collect();
    let mut used: Vec<&str> = spec.network.iter().map(|n| n.trim()).collect();
    for t in &traffic {
        let field = format!("networks.{}.network", t.traffic);
        if t.network.is_empty() {
            errors.push(crate::error::FieldError {
                field,
                message: "is required: the Neutron network (name or id) for this traffic".into(),
            });
        } else if used.contains(&t.network.as_str()) {
            errors.push(crate::error::FieldError {
                field,
                message: format!(
                    "{:?} already carries other traffic of this cluster: BDE gives each traffic type a \
                     portgroup of its own; leave this one out to share the management NIC",
                    t.network
                ),
            });
        } else {
            text_check(&field, &t.network, errors);
        }
        used.push(&t.network);
    }
    traffic
}

/// An external HDFS is `hdfs://host[:port]` (`ClusterCreate.validateHDFSUrl`).
fn external_hdfs_errors(raw: &str, errors: &mut Vec<crate::error::FieldError>) {
    let ok = url::Url::parse(raw).is_ok_and(|u| {
        u.scheme() == "hdfs"
            && u.host_str().is_some_and(|h| !h.is_empty())
            && u.username().is_empty()
            && u.password().is_none()
    });
    if !ok {
        errors.push(crate::error::FieldError {
            field: "external_hdfs".into(),
            message: format!(
                "{:?} is not an HDFS URL: write it as hdfs://namenode-host[:port]",
                without_userinfo(raw)
            ),
        });
    }
}

/// A BDE object name: letters, digits, `_` and `-` (no paths, no shell syntax).
fn is_bde_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Problems of a group's reservations, swap and placement (`ClusterCreate.validateCpuRatio`,
/// `validateMemRatio`, `validateSwapRatio`; `NodeGroupCreate.validatePlacementPolicies`).
fn placement_errors(i: usize, g: &NodeGroupSpec, groups: &[NodeGroupSpec], errors: &mut Vec<crate::error::FieldError>) {
    let at = |f: &str| format!("node_groups[{i}].{f}");
    let mut fail = |field: String, message: String| errors.push(crate::error::FieldError { field, message });
    for (field, share, limit) in [
        ("cpu_reservation", g.cpu_reservation, limits::CPU_RESERVATION),
        ("memory_reservation", g.memory_reservation, limits::MEMORY_RESERVATION),
    ] {
        if let Some(v) = share.filter(|v| !limit.holds(*v)) {
            fail(at(field), format!("{v}: {} (a share)", limit.fix()));
        }
    }
    if let Some(v) = g.swap_ratio.filter(|v| !limits::SWAP_RATIO.holds(*v)) {
        fail(
            at("swap_ratio"),
            format!("{v}: {} (1.0: as much swap as memory)", limits::SWAP_RATIO.fix()),
        );
    }
    let Some(p) = &g.placement else { return };
    if let Some(n) = p.instance_per_host {
        if !limits::INSTANCE_PER_HOST.holds(n as f64) {
            fail(
                at("placement.instance_per_host"),
                format!("{n}: {}", limits::INSTANCE_PER_HOST.fix()),
            );
        } else if g.instance_num % n != 0 {
            fail(
                at("placement.instance_per_host"),
                format!(
                    "{} VMs cannot be spread {n} per host: make instance_num a multiple of {n}",
                    g.instance_num
                ),
            );
        }
    }
    if let Some(kind) = p.beside_type.as_deref().filter(|k| !limits::BESIDE_TYPE.allows(k)) {
        fail(
            at("placement.beside_type"),
            format!("{kind:?}: {}", limits::BESIDE_TYPE.fix()),
        );
    }
    if let Some(r) = &p.racks {
        match r.kind().as_str() {
            "ROUNDROBIN" => {}
            "SAMERACK" if r.names.as_ref().is_some_and(|n| n.len() == 1) => {}
            "SAMERACK" => fail(
                at("placement.racks.names"),
                "SAMERACK puts the group on one rack: name exactly one (BDE's MUST_DEFINE_ONE_RACK)".into(),
            ),
            other => fail(
                at("placement.racks.type"),
                format!("{other:?}: {}", limits::RACKS_TYPE.fix()),
            ),
        }
        if let Some(bad) = r
            .names
            .iter()
            .flatten()
            .find(|n| n.trim().is_empty() || n.chars().any(char::is_control))
        {
            fail(at("placement.racks.names"), format!("{bad:?} is not a rack name"));
        }
    }
    if let Some(other) = &p.beside_group {
        match groups.iter().find(|o| &o.name == other) {
            _ if other == &g.name => fail(at("placement.beside_group"), "a group cannot go beside itself".into()),
            None => fail(
                at("placement.beside_group"),
                format!("{other:?} is not a group of this cluster"),
            ),
            Some(o) if o.placement.as_ref().is_some_and(|op| op.beside_group.is_some()) => fail(
                at("placement.beside_group"),
                format!("{other:?} goes beside another group itself: BDE allows one level"),
            ),
            Some(_) => {}
        }
    }
}

/// Problems of a configuration: BDE nests it as software → file → property → value
/// (`{hadoop: {hdfs-site.xml: {dfs.replication: 2}}}`), values being text, numbers or booleans.
fn configuration_errors(field: &str, value: &serde_json::Value, errors: &mut Vec<crate::error::FieldError>) {
    use serde_json::Value;
    let mut fail = |at: String, message: &str| {
        errors.push(crate::error::FieldError {
            field: at,
            message: message.into(),
        })
    };
    let Value::Object(software) = value else {
        return fail(
            field.into(),
            "must be a mapping, e.g. {hadoop: {hdfs-site.xml: {dfs.replication: 2}}}",
        );
    };
    for (name, files) in software {
        let Value::Object(files) = files else {
            fail(
                format!("{field}.{name}"),
                "must be a mapping of files, e.g. {hdfs-site.xml: {...}}",
            );
            continue;
        };
        for (file, properties) in files {
            let Value::Object(properties) = properties else {
                fail(
                    format!("{field}.{name}.{file}"),
                    "must be a mapping of properties to values",
                );
                continue;
            };
            for (key, v) in properties {
                if !(v.is_string() || v.is_number() || v.is_boolean()) {
                    fail(
                        format!("{field}.{name}.{file}.{key}"),
                        "must be text, a number or true/false",
                    );
                }
            }
        }
    }
}

fn url_check(field: &str, raw: &str, errors: &mut Vec<crate::error::FieldError>) -> Option<url::Url> {
    let fail = |errors: &mut Vec<crate::error::FieldError>, msg: String| {
        errors.push(crate::error::FieldError {
            field: field.into(),
            message: msg,
        });
        None
    };
    let shown = without_userinfo(raw);
    if shown != raw {
        return fail(
            errors,
            format!("{shown:?}: credentials do not belong in the URL: use username/password"),
        );
    }
    match url::Url::parse(raw) {
        Ok(u) if u.scheme() != "https" => fail(errors, format!("{raw:?} must be an https:// URL")),
        Ok(u) if u.host_str().is_none_or(str::is_empty) => fail(errors, format!("{raw:?} has no host")),
        Ok(u) => Some(u),
        Err(_) => fail(errors, format!("{raw:?} is not a URL: write it as https://host[:port]")),
    }
}

/// The URL (or what was meant as one) with any `user:password@` replaced by `***@`,
/// so no error can echo a credential written into an endpoint.
pub fn without_userinfo(raw: &str) -> String {
    let start = raw.find("://").map_or(0, |i| i + 3);
    let authority_end = raw[start..].find(['/', '?', '#']).map_or(raw.len(), |i| start + i);
    match raw[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &raw[..start], &raw[start + at..]),
        None => raw.to_string(),
    }
}

impl ValidSpec {
    /// The node counts the spec asks for, by group.
    pub fn group_sizes(&self) -> std::collections::BTreeMap<String, u32> {
        self.node_groups
            .iter()
            .map(|g| (g.name.clone(), g.instance_num as u32))
            .collect()
    }
}

/// BDE's URL from the property: a bare host name (as 2015 templates give it)
/// means the 2015 plugin's `https://HOST:8443`; anything else must be a URL.
pub fn bde_url(raw: &str) -> String {
    let bare_host = !raw.is_empty() && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if bare_host {
        format!("https://{raw}:8443")
    } else {
        raw.to_string()
    }
}

/// vCenter's SDK URL from the property: a bare host or an https URL.
pub fn vcenter_sdk_url(raw: &str) -> String {
    if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}/sdk")
    }
}

fn text_check(field: &str, value: &str, errors: &mut Vec<crate::error::FieldError>) {
    if value.chars().any(|c| c.is_control()) {
        errors.push(crate::error::FieldError {
            field: field.into(),
            message: "contains control characters: remove them".into(),
        });
    }
}

/// Keys whose values no error may quote.
const SECRET_KEYS: [&str; 3] = ["password", "vcenter_password", "cluster_password"];

/// A spec from its JSON value (a cluster file's YAML or Heat's properties). A wrong
/// type or an unknown key names its field the way a user writes it
/// (`node_groups[1].instance_num`); the value of a secret is never quoted.
pub fn spec_from_value(value: serde_json::Value) -> Result<ClusterSpec, crate::error::EngineError> {
    let value = bde_file::merge_into(value)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        // The path ends at the offending key, an unknown one included; "." is the whole.
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // A missing key is reported at its parent: name the key itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next());
        let field = match (path.trim_start_matches('.'), missing) {
            ("", Some(key)) => key.to_string(),
            ("", None) => "file".to_string(),
            (path, Some(key)) => format!("{path}.{key}"),
            (path, None) => path.to_string(),
        };
        let key = field.rsplit('.').next().unwrap_or_default();
        let message = if SECRET_KEYS.contains(&key) {
            "must be text".to_string()
        } else {
            plain_types(&message)
        };
        crate::error::EngineError::field(&field, message)
    })
}

/// serde's Rust type names as a user reads them.
fn plain_types(message: &str) -> String {
    [
        ("expected i64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a mapping"),
    ]
    .iter()
    .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}

/// Checks everything that needs no remote call, before anything is created.
pub fn validate(spec: &ClusterSpec) -> Result<ValidSpec, crate::error::EngineError> {
    let mut errors = Vec::new();
    let mut need = |field: &str, value: &Option<String>, fix: &str| -> String {
        match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => {
                errors.push(crate::error::FieldError {
                    field: field.into(),
                    message: format!("is required: {fix}"),
                });
                String::new()
            }
        }
    };
    let bde_endpoint = need(
        "bde_endpoint",
        &spec.bde_endpoint,
        "BDE's URL, e.g. https://bde.example.com:8443",
    );
    let vcm_server = need("vcm_server", &spec.vcm_server, "vCenter's host or https URL");
    let username = need("username", &spec.username, "the vCenter SSO user BDE accepts");
    let cluster_name = need(
        "cluster_name",
        &spec.cluster_name.clone().or_else(|| spec.fallback_cluster_name.clone()),
        "a name of letters, digits and _",
    );
    let network = need(
        "network",
        &spec.network,
        "the Neutron network (name or id) the VMs join",
    );
    if spec.password.is_none() {
        errors.push(crate::error::FieldError {
            field: "password".into(),
            message: "is required: the password of `username` (give it by reference, never in a template)".into(),
        });
    }
    let bde_endpoint = if bde_endpoint.is_empty() {
        bde_endpoint
    } else {
        let full = bde_url(&bde_endpoint);
        url_check("bde_endpoint", &full, &mut errors);
        full
    };
    let vcenter_url = if vcm_server.is_empty() {
        String::new()
    } else {
        url_check("vcm_server", &vcenter_sdk_url(&vcm_server), &mut errors)
            .map(|u| u.to_string())
            .unwrap_or_default()
    };
    if !cluster_name.is_empty() && !rules::is_valid_cluster_name(&cluster_name) {
        errors.push(crate::error::FieldError {
            field: "cluster_name".into(),
            message: format!("{cluster_name:?} has characters BDE refuses: use only letters, digits and _ (no -)"),
        });
    }
    for (field, value) in [
        ("username", Some(&username)),
        ("network", Some(&network)),
        ("subnet", spec.subnet.as_ref()),
        ("security_group", spec.security_group.as_ref()),
        ("cluster_rp", spec.cluster_rp.as_ref()),
        ("distro", spec.distro.as_ref()),
        ("cluster_type", spec.cluster_type.as_ref()),
        ("app_manager", spec.app_manager.as_ref()),
        ("vcenter_username", spec.vcenter_username.as_ref()),
    ] {
        if let Some(v) = value {
            text_check(field, v, &mut errors);
        }
    }
    for (field, value) in [
        ("distro", &spec.distro),
        ("cluster_type", &spec.cluster_type),
        ("cluster_rp", &spec.cluster_rp),
    ] {
        // BDE names: letters, digits, _ and - (no paths, no shell syntax).
        if let Some(v) = value
            && !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            errors.push(crate::error::FieldError {
                field: field.into(),
                message: format!("{v:?} is not a BDE name: use letters, digits, _ and -"),
            });
        }
    }
    for (field, value) in [("ca_file", &spec.ca_file), ("vcenter_ca_file", &spec.vcenter_ca_file)] {
        if let Some(path) = value
            && !std::path::Path::new(path).is_file()
        {
            errors.push(crate::error::FieldError {
                field: field.into(),
                message: format!("{path:?} is not a readable file: give the PEM bundle of the CA"),
            });
        }
    }
    let groups = spec.node_groups.clone().unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    for (i, g) in groups.iter().enumerate() {
        let at = |f: &str| format!("node_groups[{i}].{f}");
        if !rules::is_valid_node_group_name(&g.name) {
            errors.push(crate::error::FieldError {
                field: at("name"),
                message: format!(
                    "{:?} is not a BDE group name: 1-80 letters and digits, no _ or -",
                    g.name
                ),
            });
        }
        if !seen.insert(g.name.clone()) {
            errors.push(crate::error::FieldError {
                field: at("name"),
                message: format!("{:?} is used twice: group names must be unique", g.name),
            });
        }
        if g.roles.is_empty() {
            errors.push(crate::error::FieldError {
                field: at("roles"),
                message: "is empty: give at least one BDE role, e.g. hadoop_datanode".into(),
            });
        }
        if let Some(bad) = g.roles.iter().find(|r| !is_role_name(r)) {
            errors.push(crate::error::FieldError {
                field: at("roles"),
                message: format!(
                    "{bad:?} is not a BDE role name: letters, digits, '_', '-' and '.', e.g. hadoop_datanode"
                ),
            });
        }
        if !limits::INSTANCE_NUM.holds(g.instance_num as f64) {
            errors.push(crate::error::FieldError {
                field: at("instance_num"),
                message: format!("{} VMs is out of range: {}", g.instance_num, limits::INSTANCE_NUM.fix()),
            });
        }
        if let Some(t) = g.instance_type.as_deref().filter(|t| !limits::INSTANCE_TYPE.allows(t)) {
            errors.push(crate::error::FieldError {
                field: at("instance_type"),
                message: format!("{t:?} is not a BDE instance type: {}", limits::INSTANCE_TYPE.fix()),
            });
        }
        if g.instance_num > 1 && g.roles.iter().any(|r| SINGLE_ROLES.contains(&r.as_str())) {
            errors.push(crate::error::FieldError {
                field: at("instance_num"),
                message: "a group with a resourcemanager or jobtracker has exactly 1 VM".into(),
            });
        }
        if let Some(m) = g.memory_mb.filter(|m| !limits::MEMORY_MB.holds(*m as f64)) {
            errors.push(crate::error::FieldError {
                field: at("memory_mb"),
                message: format!("{m} is below BDE's minimum: {}", limits::MEMORY_MB.fix()),
            });
        }
        if let Some(c) = g.cpu_num.filter(|c| !limits::CPU_NUM.holds(*c as f64)) {
            errors.push(crate::error::FieldError {
                field: at("cpu_num"),
                message: format!("{c} CPUs: {}", limits::CPU_NUM.fix()),
            });
        }
        if let Some(c) = &g.configuration {
            configuration_errors(&at("configuration"), c, &mut errors);
        }
        storage_errors(g, &at, &mut errors);
        placement_errors(i, g, &groups, &mut errors);
    }
    if let Some(c) = &spec.configuration {
        configuration_errors("configuration", c, &mut errors);
    }
    if spec.cluster_rp.is_some() && spec.resource_pools.is_some() {
        errors.push(crate::error::FieldError {
            field: "resource_pools".into(),
            message: "give cluster_rp (one pool) or resource_pools (a list), not both".into(),
        });
    }
    let lists = [
        ("resource_pools".to_string(), &spec.resource_pools),
        ("datastores".to_string(), &spec.datastores),
    ];
    let group_lists = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (format!("node_groups[{i}].resource_pools"), &g.resource_pools));
    for (field, names) in lists.into_iter().chain(group_lists) {
        if let Some(bad) = names.iter().flatten().find(|n| !is_bde_name(n)) {
            errors.push(crate::error::FieldError {
                field,
                message: format!("{bad:?} is not a BDE name: use letters, digits, _ and -"),
            });
        }
    }
    if let Some(t) = spec
        .template_name
        .as_ref()
        .filter(|t| t.trim().is_empty() || t.chars().any(char::is_control))
    {
        errors.push(crate::error::FieldError {
            field: "template_name".into(),
            message: format!("{t:?} is not a VM template name"),
        });
    }
    if let Some(u) = &spec.local_repo_url
        && !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
    {
        errors.push(crate::error::FieldError {
            field: "local_repo_url".into(),
            message: format!("{:?} is not an http(s) URL of a yum repository", without_userinfo(u)),
        });
    }
    if let Some(t) = spec
        .topology_policy
        .as_deref()
        .filter(|t| !limits::TOPOLOGY_POLICY.allows(t))
    {
        errors.push(crate::error::FieldError {
            field: "topology_policy".into(),
            message: format!("{t:?}: {}", limits::TOPOLOGY_POLICY.fix()),
        });
    }
    if let Some(p) = &spec.cluster_password
        && !is_bde_vm_password(secrecy::ExposeSecret::expose_secret(p))
    {
        errors.push(crate::error::FieldError {
            field: "cluster_password".into(),
            message: "does not meet BDE's rule: 8 to 20 characters with a digit, a lower-case and an \
                      upper-case letter and one of _ @ # $ % ^ & *"
                .into(),
        });
    }
    let dns_type = match spec.dns_type.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("NORMAL") => bde_serengeti::DnsType::Normal,
        Some("DYNAMIC") => bde_serengeti::DnsType::Dynamic,
        Some("OTHERS") => bde_serengeti::DnsType::Others,
        Some(_) => {
            errors.push(crate::error::FieldError {
                field: "dns_type".into(),
                message: format!(
                    "{:?}: give NORMAL (names from DHCP), DYNAMIC (dynamic DNS) or OTHERS (BDE writes /etc/hosts)",
                    spec.dns_type.as_deref().unwrap_or_default()
                ),
            });
            bde_serengeti::DnsType::Normal
        }
    };
    if let Some(hdfs) = &spec.external_hdfs {
        external_hdfs_errors(hdfs, &mut errors);
    }
    let traffic = traffic_networks(spec, &mut errors);
    let ip_mode = ip_mode(spec, dns_type, &mut errors);
    if matches!(ip_mode, IpMode::Dhcp) {
        for t in traffic.iter().filter(|t| t.static_range.is_some()) {
            errors.push(crate::error::FieldError {
                field: format!("networks.{}.static_range", t.traffic),
                message: "is only for ip_mode: static".into(),
            });
        }
    }
    if spec
        .app_manager
        .as_deref()
        .is_none_or(|m| m.eq_ignore_ascii_case("Default"))
    {
        role_layout_errors(&groups, spec.external_hdfs.is_some(), &mut errors);
    }
    let longest = groups.iter().map(|g| g.name.len()).max().unwrap_or(6);
    let max_len = rules::max_cluster_name_len(longest).min(limits::CLUSTER_NAME_MAX);
    if cluster_name.len() > max_len {
        errors.push(crate::error::FieldError {
            field: "cluster_name".into(),
            message: format!(
                "is {} characters: BDE's VM names allow at most {max_len} here",
                cluster_name.len()
            ),
        });
    }
    let device_owner = spec
        .device_owner
        .clone()
        .unwrap_or_else(|| limits::DEFAULT_DEVICE_OWNER.into());
    if !device_owner.starts_with("compute") {
        errors.push(crate::error::FieldError {
            field: "device_owner".into(),
            message: format!("{device_owner:?}: NSX-v serves DHCP only to compute ports: use compute:<zone>"),
        });
    }
    let grace = spec.dhcp_grace_seconds.unwrap_or(limits::DEFAULT_DHCP_GRACE_SECONDS);
    if !limits::DHCP_GRACE_SECONDS.holds(grace) {
        errors.push(crate::error::FieldError {
            field: "dhcp_grace_seconds".into(),
            message: format!("{grace} seconds: {}", limits::DHCP_GRACE_SECONDS.fix()),
        });
    }
    let max_resets = spec.max_resets.unwrap_or(limits::DEFAULT_MAX_RESETS);
    if !limits::MAX_RESETS.holds(f64::from(max_resets)) {
        errors.push(crate::error::FieldError {
            field: "max_resets".into(),
            message: format!("{max_resets} resets: {} (0 never resets)", limits::MAX_RESETS.fix()),
        });
    }
    if spec.operator_password && spec.vcenter_password.is_none() {
        errors.push(crate::error::FieldError {
            field: "vcenter_password".into(),
            message: "is required: the operator's credentials file has no entry for this vCenter, and the \
                      operator's BDE password is not sent to it"
                .into(),
        });
    }
    if !errors.is_empty() {
        return Err(crate::error::EngineError::invalid(errors));
    }
    Ok(ValidSpec {
        bde_endpoint,
        vcenter_url,
        vcenter_username: spec.vcenter_username.clone().unwrap_or_else(|| username.clone()),
        vcenter_password: spec
            .vcenter_password
            .clone()
            .or_else(|| spec.password.clone())
            .expect("checked above"),
        username,
        password: spec.password.clone().expect("checked above"),
        cluster_name,
        distro: spec.distro.clone().or_else(|| spec.cluster_type.clone()),
        distro_from_cluster_type: spec.distro.is_none() && spec.cluster_type.is_some(),
        app_manager: spec.app_manager.clone(),
        network,
        subnet: spec.subnet.clone(),
        security_group: spec.security_group.clone(),
        cluster_password: spec.cluster_password.clone(),
        cluster_rp: spec.cluster_rp.clone(),
        node_groups: groups,
        ca_file: spec.ca_file.clone(),
        vcenter_ca_file: spec.vcenter_ca_file.clone().or_else(|| spec.ca_file.clone()),
        insecure: spec.insecure,
        device_owner,
        dhcp_grace_seconds: grace,
        max_resets,
        configuration: spec.configuration.clone(),
        resource_pools: spec
            .resource_pools
            .clone()
            .or_else(|| spec.cluster_rp.clone().map(|r| vec![r])),
        datastores: spec.datastores.clone(),
        template_name: spec.template_name.clone(),
        local_repo_url: spec.local_repo_url.clone(),
        topology_policy: spec.topology_policy.as_deref().map(str::to_ascii_uppercase),
        external_hdfs: spec.external_hdfs.clone(),
        traffic,
        dns_type,
        ip_mode,
    })
}

/// `ip_mode` and `static_range`, with what BDE refuses of a static network.
fn ip_mode(spec: &ClusterSpec, dns_type: bde_serengeti::DnsType, errors: &mut Vec<crate::error::FieldError>) -> IpMode {
    let mut error = |field: &str, message: String| {
        errors.push(crate::error::FieldError {
            field: field.into(),
            message,
        })
    };
    let range = spec
        .static_range
        .as_deref()
        .and_then(|r| match crate::static_ip::AddressRange::parse(r) {
            Ok(range) => Some(range),
            Err(e) => {
                error("static_range", e);
                None
            }
        });
    match spec.ip_mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("dhcp") => {
            if spec.static_range.is_some() {
                error("static_range", "is only for ip_mode: static".into());
            }
            IpMode::Dhcp
        }
        Some("static") => {
            if dns_type == bde_serengeti::DnsType::Dynamic {
                error(
                    "dns_type",
                    "a static network takes NORMAL or OTHERS (BDE's CLI refuses DYNAMIC there)".into(),
                );
            }
            IpMode::Static { range }
        }
        Some(other) => {
            error(
                "ip_mode",
                format!("{other:?}: give dhcp (NSX-v's DHCP) or static (BDE assigns each node an address)"),
            );
            IpMode::Dhcp
        }
    }
}

/// BDE's rule for the VMs' password (`CommonUtil.validateClusterPassword`; BDE checks
/// it only in the create job, VM by VM, so a bad one would fail the cluster late).
fn is_bde_vm_password(p: &str) -> bool {
    (8..=20).contains(&p.chars().count())
        && p.chars().any(|c| c.is_ascii_digit())
        && p.chars().any(|c| c.is_ascii_lowercase())
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| "_@#$%^&*".contains(c))
}

/// A role as BDE's distros name them (`hadoop_namenode`, `mesos_master`, `tempfs_client`).
fn is_role_name(role: &str) -> bool {
    (1..=80).contains(&role.len())
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> serde_json::Value {
        serde_json::json!({
            "bde_endpoint": "https://bde.example.com:8443", "vcm_server": "vc.example.com",
            "username": "admin@vsphere.local", "password": "secret", "cluster_name": "hadoop1",
            "network": "net1", "node_groups": [
                {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 3},
                {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1}
            ]
        })
    }

    fn errors(v: serde_json::Value) -> Vec<String> {
        let spec: ClusterSpec = serde_json::from_value(v).unwrap();
        match validate(&spec) {
            Ok(_) => vec![],
            Err(e) if e.kind == crate::error::ErrorKind::InvalidInput => {
                e.fields.into_iter().map(|f| f.field).collect()
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn a_good_spec_passes_and_fills_defaults() {
        let spec: ClusterSpec = serde_json::from_value(good()).unwrap();
        let valid = validate(&spec).unwrap();
        assert_eq!(valid.vcenter_url, "https://vc.example.com/sdk");
        assert_eq!(valid.device_owner, "compute:bde");
        assert_eq!(valid.vcenter_username, "admin@vsphere.local");
    }

    /// The fields refused in a spec (by type or by check), read from a value.
    fn refused(v: serde_json::Value) -> Vec<String> {
        match spec_from_value(v).and_then(|s| validate(&s)) {
            Ok(_) => vec![],
            Err(e) => e.fields.into_iter().map(|f| f.field).collect(),
        }
    }

    /// `good()` with `field` (a limit's path; `node_groups.` is the first group) set.
    fn with(field: &str, value: serde_json::Value) -> (serde_json::Value, String) {
        let mut v = good();
        let (mut at, named) = match field.strip_prefix("node_groups.") {
            Some(rest) => (&mut v["node_groups"][0], format!("node_groups[0].{rest}")),
            None => (&mut v, field.to_string()),
        };
        let keys: Vec<&str> = field.trim_start_matches("node_groups.").split('.').collect();
        for key in &keys[..keys.len() - 1] {
            at = &mut at[*key];
        }
        at[keys[keys.len() - 1]] = value;
        (v, named)
    }

    #[test]
    fn every_limit_of_the_table_is_the_engines_own_check() {
        use crate::limits::{ALL, Bound};
        for limit in ALL {
            let (inside, outside): (Vec<serde_json::Value>, Vec<serde_json::Value>) = match limit.bound {
                Bound::Range { min, max } => (
                    [Some(min), max].into_iter().flatten().map(json_number).collect(),
                    [Some(min - 1.0), max.map(|m| m + 1.0)]
                        .into_iter()
                        .flatten()
                        .map(json_number)
                        .collect(),
                ),
                Bound::Length { min, max } => (
                    vec!["a".repeat(min).into(), "a".repeat(max.min(20)).into()],
                    vec!["a".repeat(max + 1).into()],
                ),
                Bound::OneOf(words) => (
                    words
                        .iter()
                        .flat_map(|w| [w.to_string(), w.to_ascii_lowercase()])
                        .map(Into::into)
                        .collect(),
                    vec!["bogus".into()],
                ),
            };
            for value in inside {
                let (spec, named) = with(limit.field, value.clone());
                assert!(
                    !refused(spec).contains(&named),
                    "{named} = {value} is within the table's bound"
                );
            }
            for value in outside {
                let (spec, named) = with(limit.field, value.clone());
                assert!(
                    refused(spec).contains(&named),
                    "{named} = {value} is outside the table's bound"
                );
            }
        }
    }

    /// A whole number as JSON's integer (so integer fields take it), else as a float.
    fn json_number(n: f64) -> serde_json::Value {
        if n.fract() == 0.0 {
            serde_json::json!(n as i64)
        } else {
            serde_json::json!(n)
        }
    }

    #[test]
    fn bare_hosts_mean_what_the_2015_plugin_made_of_them() {
        let mut v = good();
        v["bde_endpoint"] = serde_json::json!("bde.localdomain");
        v["vcm_server"] = serde_json::json!("vcenter.localdomain");
        let valid = validate(&serde_json::from_value(v).unwrap()).unwrap();
        assert_eq!(valid.bde_endpoint, "https://bde.localdomain:8443");
        assert_eq!(valid.vcenter_url, "https://vcenter.localdomain/sdk");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            ("cluster_name", serde_json::json!("my-cluster"), "cluster_name"),
            ("cluster_name", serde_json::json!("a;rm -rf /"), "cluster_name"),
            (
                "bde_endpoint",
                serde_json::json!("bde.example.com:8443"),
                "bde_endpoint",
            ),
            (
                "bde_endpoint",
                serde_json::json!("http://bde.example.com"),
                "bde_endpoint",
            ),
            ("vcm_server", serde_json::json!("https://root:pw@vc/sdk"), "vcm_server"),
            ("device_owner", serde_json::json!("network:dhcp"), "device_owner"),
            ("network", serde_json::json!(""), "network"),
        ];
        for (key, value, field) in cases {
            let mut v = good();
            v[key] = value.clone();
            assert_eq!(errors(v), vec![field.to_string()], "{key}={value}");
        }
    }

    #[test]
    fn a_corpus_of_bad_values_each_names_its_field() {
        let long = "x".repeat(60);
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("cluster_name", serde_json::json!("my-cluster")),
            ("cluster_name", serde_json::json!("a.b")),
            ("cluster_name", serde_json::json!("a b")),
            ("cluster_name", serde_json::json!("$(reboot)")),
            ("cluster_name", serde_json::json!("a;b")),
            ("cluster_name", serde_json::json!("a|b")),
            ("cluster_name", serde_json::json!("a`b`")),
            ("cluster_name", serde_json::json!("../etc")),
            ("cluster_name", serde_json::json!("ü")),
            ("cluster_name", serde_json::json!(long)),
            ("cluster_name", serde_json::json!("")),
            ("bde_endpoint", serde_json::json!("bde.example.com/serengeti")),
            ("bde_endpoint", serde_json::json!("http://bde.example.com:8443")),
            ("bde_endpoint", serde_json::json!("https://")),
            ("bde_endpoint", serde_json::json!("https://u:p@bde:8443")),
            ("bde_endpoint", serde_json::json!("ftp://bde")),
            ("bde_endpoint", serde_json::json!("https://bde:99999")),
            ("bde_endpoint", serde_json::json!("")),
            ("vcm_server", serde_json::json!("http://vc/sdk")),
            ("vcm_server", serde_json::json!("https://root:pw@vc/sdk")),
            ("vcm_server", serde_json::json!("vc:notaport")),
            ("username", serde_json::json!("")),
            ("username", serde_json::json!("admin\nX-Injected: 1")),
            ("network", serde_json::json!("")),
            ("network", serde_json::json!("net\u{0}")),
            ("subnet", serde_json::json!("sub\r\n")),
            ("security_group", serde_json::json!("sg\u{1b}[31m")),
            ("distro", serde_json::json!("../../bigtop")),
            ("dns_type", serde_json::json!("FANCY")),
            ("cluster_password", serde_json::json!("sh_1A")),
            ("cluster_password", serde_json::json!("nouppercase_1")),
            ("cluster_password", serde_json::json!("NoSpecialChar1")),
            ("cluster_password", serde_json::json!("Far_too_long_a_password_1")),
            ("external_hdfs", serde_json::json!("http://nn:8020")),
            ("external_hdfs", serde_json::json!("hdfs://")),
            ("external_hdfs", serde_json::json!("hdfs://u:pw@nn:8020")),
            ("distro", serde_json::json!("bigtop; rm -rf /")),
            ("cluster_type", serde_json::json!("mesos && true")),
            ("cluster_rp", serde_json::json!("rp/../x")),
            ("app_manager", serde_json::json!("Default\u{7}")),
            ("device_owner", serde_json::json!("network:dhcp")),
            ("device_owner", serde_json::json!("")),
            ("dhcp_grace_seconds", serde_json::json!(0)),
            ("dhcp_grace_seconds", serde_json::json!(-5)),
            ("ca_file", serde_json::json!("../../../nonexistent/ca.pem")),
            ("ca_file", serde_json::json!("/")),
            ("vcenter_ca_file", serde_json::json!("/nonexistent/vc-ca.pem")),
            ("vcenter_username", serde_json::json!("root\t")),
        ];
        assert!(cases.len() >= 40);
        for (key, value) in cases {
            let mut v = good();
            v[key] = value.clone();
            let fields = errors(v);
            assert!(fields.iter().any(|f| f == key), "{key}={value}: {fields:?}");
        }
    }

    #[test]
    fn static_addresses_are_checked_naming_ip_mode_static_range_or_dns_type() {
        let with = |pairs: &[(&str, serde_json::Value)]| {
            let mut v = good();
            for (k, value) in pairs {
                v[*k] = value.clone();
            }
            errors(v)
        };
        let json = |s: &str| serde_json::json!(s);
        assert_eq!(with(&[("ip_mode", json("STATIC"))]), Vec::<String>::new());
        assert_eq!(with(&[("ip_mode", json("manual"))]), ["ip_mode"]);
        assert_eq!(
            with(&[("static_range", json("10.0.0.200-10.0.0.220"))]),
            ["static_range"]
        );
        assert_eq!(
            with(&[
                ("ip_mode", json("static")),
                ("static_range", json("10.0.0.220-10.0.0.200"))
            ]),
            ["static_range"]
        );
        assert_eq!(
            with(&[("ip_mode", json("static")), ("dns_type", json("DYNAMIC"))]),
            ["dns_type"]
        );
        let traffic = serde_json::json!({"HDFS_NETWORK": {"network": "hdfs"}});
        assert_eq!(
            with(&[("ip_mode", json("static")), ("networks", traffic)]),
            Vec::<String>::new(),
            "every network static, traffic networks too"
        );
        let ranged = |range: &str| serde_json::json!({"HDFS_NETWORK": {"network": "hdfs", "static_range": range}});
        assert_eq!(
            with(&[("networks", ranged("10.1.0.10-10.1.0.20"))]),
            ["networks.HDFS_NETWORK.static_range"],
            "only for static"
        );
        assert_eq!(
            with(&[("ip_mode", json("static")), ("networks", ranged("10.1.0.x"))]),
            ["networks.HDFS_NETWORK.static_range"]
        );
        let mut v = good();
        v["ip_mode"] = json("static");
        v["static_range"] = json("10.0.0.200 - 10.0.0.220");
        let spec = validate(&serde_json::from_value(v).unwrap()).unwrap();
        assert!(matches!(spec.ip_mode, IpMode::Static { range: Some(r) } if r.size() == 21));
    }

    #[test]
    fn group_errors_name_the_group_field() {
        let mut v = good();
        v["node_groups"] = serde_json::json!([
            {"name": "a_b", "roles": ["x"], "instance_num": 1},
            {"name": "w", "roles": [], "instance_num": 0},
            {"name": "m", "roles": ["hadoop_namenode"], "instance_num": 2, "memory_mb": 512}
        ]);
        assert_eq!(
            errors(v),
            [
                "node_groups[0].name",
                "node_groups[1].roles",
                "node_groups[1].instance_num",
                "node_groups[2].memory_mb",
                // Two namenodes are NameNode HA: without journal nodes and ZooKeeper, refused.
                "node_groups",
                "node_groups",
                // A namenode with no datanode is half an HDFS.
                "node_groups"
            ]
        );
    }

    #[test]
    fn a_password_written_into_an_endpoint_is_never_echoed() {
        for (key, raw) in [
            ("bde_endpoint", "http://root:hunter2@bde:8443"),
            ("bde_endpoint", "root:hunter2@bde:notaport"),
            ("vcm_server", "ftp://admin:hunter2@vc/sdk"),
            ("vcm_server", "https://admin:hunter2@vc/sdk"),
        ] {
            let mut v = good();
            v[key] = serde_json::json!(raw);
            let spec: ClusterSpec = serde_json::from_value(v).unwrap();
            let e = validate(&spec).unwrap_err();
            assert!(e.fields.iter().any(|f| f.field == key), "{raw}: {e}");
            assert!(!e.to_string().contains("hunter2"), "{raw}: {e}");
        }
        assert_eq!(without_userinfo("https://u:p@h:1/x@y"), "https://***@h:1/x@y");
        assert_eq!(without_userinfo("https://h/sdk"), "https://h/sdk");
    }

    #[test]
    fn missing_credentials_are_named_without_echoing_anything_secret() {
        let mut v = good();
        v.as_object_mut().unwrap().remove("password");
        assert_eq!(errors(v), ["password"]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let mut v = good();
        v["pasword"] = serde_json::json!("x");
        assert!(
            serde_json::from_value::<ClusterSpec>(v)
                .unwrap_err()
                .to_string()
                .contains("pasword")
        );
    }

    use serde_json::json;

    fn field_error(v: serde_json::Value) -> (String, String) {
        let e = spec_from_value(v).unwrap_err();
        (e.fields[0].field.clone(), e.fields[0].message.clone())
    }

    #[test]
    fn a_wrong_type_or_unknown_key_names_its_field_as_the_user_wrote_it() {
        let (field, message) = field_error(json!({"cluster_name": "c", "network": "n",
            "node_groups": [{"name": "m", "roles": ["r"], "instance_num": 1},
                            {"name": "w", "roles": ["r"], "instance_num": "two"}]}));
        assert_eq!(field, "node_groups[1].instance_num");
        assert!(message.contains("expected a whole number"), "{message}");
        let (field, _) = field_error(json!({"cluster_name": "c", "network": "n", "dhcp_grace_seconds": "soon"}));
        assert_eq!(field, "dhcp_grace_seconds");
        let (field, message) = field_error(json!({"cluster_name": "c", "network": "n",
            "node_groups": [{"name": "w", "roles": ["r"], "instance_num": 1, "instance_nm": 2}]}));
        assert_eq!(field, "node_groups[0].instance_nm");
        assert!(message.contains("unknown field"), "{message}");
        let (field, message) = field_error(json!({"cluster_name": "c", "network": "n", "node_groups": {"name": "w"}}));
        assert_eq!(
            (field.as_str(), message.contains("expected a list")),
            ("node_groups", true)
        );
        assert_eq!(field_error(json!({"cluster_nme": "c"})).0, "cluster_nme");
        let (field, _) = field_error(json!({"cluster_name": "c", "network": "n",
            "node_groups": [{"name": "w", "instance_num": 1}]}));
        assert_eq!(field, "node_groups[0].roles", "a missing key is named itself");
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_named_but_never_quoted() {
        let (field, message) = field_error(json!({"cluster_name": "c", "network": "n", "password": 123456789}));
        assert_eq!(field, "password");
        assert!(!message.contains("123456789"), "{message}");
    }

    #[test]
    fn storage_and_ha_are_checked_as_bde_checks_them_and_sent_as_it_reads_them() {
        use serde_json::Value;
        let with = |group: Value| {
            let mut v = good();
            v["node_groups"] = json!([group, {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1}]);
            validate(&serde_json::from_value(v).unwrap())
        };
        let fields =
            |group: Value| -> Vec<String> { with(group).unwrap_err().fields.into_iter().map(|f| f.field).collect() };
        let w = |extra: Value| {
            let mut g = json!({"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 2});
            g.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            g
        };
        assert_eq!(
            fields(w(json!({"storage": {"type": "tempfs"}}))),
            ["node_groups[0].storage.type"]
        );
        assert_eq!(
            fields(w(json!({"storage": {"type": "NFS"}}))),
            ["node_groups[0].storage.type"]
        );
        assert_eq!(fields(w(json!({"storage": {"size_gb": 0, "disk_num": 46}}))).len(), 2);
        assert_eq!(fields(w(json!({"ha": "always"}))), ["node_groups[0].ha"]);
        assert_eq!(
            fields(w(json!({"ha": "ft", "cpu_num": 2, "storage": {"type": "LOCAL"}}))),
            ["node_groups[0].storage.type", "node_groups[0].cpu_num"]
        );
        let ok = with(w(
            json!({"ha": "On", "storage": {"type": "shared", "size_gb": 100, "datastores": ["ds1"]}}),
        ))
        .unwrap();
        let g = &ok.node_groups[0];
        assert_eq!(
            g.storage.as_ref().unwrap().body(),
            json!({"type": "SHARED", "sizeGB": 100, "dsNames": ["ds1"]})
        );
        let mut v = good();
        v["node_groups"] = json!([w(json!({"storage": {"type": "LOCAL", "size": 5}}))]);
        let e = spec_from_value(v).unwrap_err();
        assert_eq!(
            e.fields[0].field, "node_groups[0].storage.size",
            "unknown keys are refused by name"
        );
    }

    #[test]
    fn traffic_networks_are_hdfs_or_mapred_each_on_a_network_of_its_own_in_nic_order() {
        let with = |networks: serde_json::Value| {
            let mut v = good();
            v["networks"] = networks;
            v
        };
        let spec: ClusterSpec = serde_json::from_value(with(serde_json::json!({
            "MAPRED_NETWORK": {"network": "mr"}, "HDFS_NETWORK": {"network": "hdfs", "subnet": "hdfs-sub"}})))
        .unwrap();
        let traffic: Vec<_> = validate(&spec)
            .unwrap()
            .traffic
            .into_iter()
            .map(|t| t.traffic)
            .collect();
        assert_eq!(traffic, ["HDFS_NETWORK", "MAPRED_NETWORK"]);
        assert_eq!(
            errors(with(
                serde_json::json!({"MGT_NETWORK": {"network": "x"}, "STORAGE": {"network": "y"}})
            )),
            ["networks.MGT_NETWORK", "networks.STORAGE"]
        );
        assert_eq!(
            errors(with(
                serde_json::json!({"HDFS_NETWORK": {"network": "net1"}, "MAPRED_NETWORK": {"network": ""}})
            )),
            ["networks.HDFS_NETWORK.network", "networks.MAPRED_NETWORK.network"]
        );
    }

    #[test]
    fn a_new_count_for_a_namenode_or_zookeeper_group_is_refused_naming_the_group_and_the_rule() {
        let spec = |zk: i64, workers: i64| {
            let mut v = good();
            v["node_groups"] = serde_json::json!([
                {"name": "nn", "roles": ["hadoop_namenode"], "instance_num": 1},
                {"name": "zk", "roles": ["zookeeper", "hbase_master"], "instance_num": zk},
                {"name": "worker", "roles": ["hadoop_datanode", "hbase_regionserver"], "instance_num": workers}]);
            validate(&serde_json::from_value(v).unwrap()).unwrap()
        };
        assert!(change_errors(&spec(3, 2), &spec(3, 5)).is_empty(), "workers grow");
        let e = change_errors(&spec(3, 2), &spec(5, 2));
        let fields: Vec<_> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["node_groups[1].instance_num"]);
        assert!(e[0].message.contains("\"zk\" holds zookeeper:"), "{}", e[0]);
        assert!(e[0].message.contains("keep 3"), "{}", e[0]);
    }

    #[test]
    fn rack_placement_is_roundrobin_or_one_named_samerack_and_sent_as_bde_reads_it() {
        let with = |racks: serde_json::Value| {
            let mut v = good();
            v["node_groups"][0]["placement"] = serde_json::json!({ "racks": racks });
            v
        };
        assert_eq!(
            errors(with(serde_json::json!({"type": "SAMERACK", "names": ["a", "b"]}))),
            ["node_groups[0].placement.racks.names"]
        );
        assert_eq!(
            errors(with(serde_json::json!({"type": "ANYRACK"}))),
            ["node_groups[0].placement.racks.type"]
        );
        let spec: ClusterSpec = serde_json::from_value(with(serde_json::json!({"names": ["r1"]}))).unwrap();
        let valid = validate(&spec).unwrap();
        assert_eq!(
            valid.node_groups[0].placement.as_ref().unwrap().body(),
            serde_json::json!({"groupRacks": {"type": "ROUNDROBIN", "racks": ["r1"]}})
        );
    }

    #[test]
    fn a_group_naming_no_instance_type_gets_bdes_default_unless_it_gives_cpus_and_memory() {
        let group = |extra: serde_json::Value| {
            let mut g = serde_json::json!({"name": "g", "roles": ["hadoop_datanode"], "instance_num": 1});
            g.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            serde_json::from_value::<NodeGroupSpec>(g).unwrap()
        };
        assert_eq!(
            group(serde_json::json!({})).bde_instance_type().as_deref(),
            Some("SMALL")
        );
        assert_eq!(group(serde_json::json!({})).size(), (Some(1), Some(3748)));
        let master = group(serde_json::json!({"roles": ["hadoop_namenode"], "memory_mb": 4096}));
        assert_eq!(master.bde_instance_type().as_deref(), Some("MEDIUM"));
        assert_eq!(master.size(), (Some(2), Some(4096)), "explicit memory wins");
        let sized = group(serde_json::json!({"cpu_num": 3, "memory_mb": 2048}));
        assert_eq!(
            sized.bde_instance_type(),
            None,
            "both given: BDE takes them as they are"
        );
        assert_eq!(
            group(serde_json::json!({"instance_type": "large"}))
                .bde_instance_type()
                .as_deref(),
            Some("LARGE")
        );
    }

    #[test]
    fn an_external_hdfs_cluster_has_no_hdfs_roles_of_its_own_unless_hbase_needs_them() {
        let with = |groups: serde_json::Value| {
            let mut v = good();
            v["external_hdfs"] = serde_json::json!("hdfs://nn.example.com:8020");
            v["node_groups"] = groups;
            errors(v)
        };
        let compute = serde_json::json!([
            {"name": "rm", "roles": ["hadoop_resourcemanager"], "instance_num": 1},
            {"name": "nm", "roles": ["hadoop_nodemanager"], "instance_num": 2}]);
        assert!(with(compute).is_empty());
        let own_hdfs = serde_json::json!([
            {"name": "nn", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "dn", "roles": ["hadoop_datanode"], "instance_num": 2}]);
        assert_eq!(
            with(own_hdfs),
            [
                "node_groups[0].roles",
                "node_groups[1].roles",
                "node_groups",
                "node_groups"
            ],
            "its own HDFS, and nothing computing on the external one"
        );
        let workers_only = serde_json::json!([{"name": "nm", "roles": ["hadoop_nodemanager"], "instance_num": 2}]);
        assert_eq!(with(workers_only), ["node_groups"], "no resourcemanager");
        let hbase = serde_json::json!([
            {"name": "nn", "roles": ["hadoop_namenode", "hbase_master"], "instance_num": 1},
            {"name": "dn", "roles": ["hadoop_datanode"], "instance_num": 2}]);
        assert!(with(hbase).is_empty());
    }

    #[test]
    fn half_a_service_or_one_without_what_it_runs_on_is_refused_naming_the_roles_to_add() {
        let messages = |groups: serde_json::Value| -> Vec<String> {
            let mut v = good();
            v["node_groups"] = groups;
            match validate(&serde_json::from_value(v).unwrap()) {
                Ok(_) => vec![],
                Err(e) => e
                    .fields
                    .into_iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect(),
            }
        };
        let only_workers = messages(serde_json::json!([
            {"name": "worker", "roles": ["hadoop_datanode", "hadoop_nodemanager"], "instance_num": 3}]));
        assert_eq!(only_workers.len(), 2, "{only_workers:?}");
        assert!(only_workers[0].starts_with("node_groups: ") && only_workers[0].contains("add hadoop_namenode"));
        assert!(only_workers[1].contains("YARN") && only_workers[1].contains("add hadoop_resourcemanager"));
        let hbase_without_zookeeper = messages(serde_json::json!([
            {"name": "master", "roles": ["hadoop_namenode", "hbase_master"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode", "hbase_regionserver"], "instance_num": 3}]));
        assert_eq!(
            hbase_without_zookeeper,
            [
                "node_groups: HBASE runs on HDFS and ZOOKEEPER: add HDFS (hadoop_namenode + hadoop_datanode) and ZOOKEEPER (zookeeper)"
            ]
        );
        let both_mapreduces = messages(serde_json::json!([
            {"name": "master", "roles": ["hadoop_namenode", "hadoop_jobtracker", "hadoop_resourcemanager"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode", "hadoop_tasktracker", "hadoop_nodemanager"], "instance_num": 3}]));
        assert!(both_mapreduces[0].contains("keep one"), "{both_mapreduces:?}");
        let mesos = messages(serde_json::json!([
            {"name": "master", "roles": ["mesos_master", "zookeeper"], "instance_num": 3},
            {"name": "worker", "roles": ["mesos_slave"], "instance_num": 3}]));
        assert!(mesos.is_empty(), "no Hadoop service, nothing to complete: {mesos:?}");
    }

    #[test]
    fn namenode_ha_takes_three_journal_nodes_and_a_zookeeper_group_as_bde_does() {
        let layout = |groups: serde_json::Value| {
            let mut v = good();
            v["node_groups"] = groups;
            errors(v)
        };
        let ha = serde_json::json!([
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 2},
            {"name": "journal", "roles": ["hadoop_journalnode"], "instance_num": 3},
            {"name": "zk", "roles": ["zookeeper"], "instance_num": 3},
            {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 3}
        ]);
        assert_eq!(
            layout(ha.clone()),
            Vec::<String>::new(),
            "BDE's HA sample layout is accepted"
        );
        let mut two_journals = ha.clone();
        two_journals[1]["instance_num"] = serde_json::json!(2);
        assert_eq!(layout(two_journals), ["node_groups"]);
        let mut small_zk = ha.clone();
        small_zk[2]["instance_num"] = serde_json::json!(2);
        assert_eq!(layout(small_zk), ["node_groups[2].instance_num"]);
        let mut three_namenodes = ha.clone();
        three_namenodes[0]["instance_num"] = serde_json::json!(3);
        assert!(layout(three_namenodes).contains(&"node_groups[0].instance_num".to_string()));
        let mut journals_on_data = ha.clone();
        journals_on_data[3]["roles"] = serde_json::json!(["hadoop_datanode", "hadoop_journalnode"]);
        assert!(layout(journals_on_data).contains(&"node_groups[3].roles".to_string()));
        let no_ha = serde_json::json!([
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "journal", "roles": ["hadoop_journalnode"], "instance_num": 3},
            {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 3}
        ]);
        assert_eq!(layout(no_ha), ["node_groups"], "journal nodes without NameNode HA");
        let two_rm = serde_json::json!([
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "rm1", "roles": ["hadoop_resourcemanager"], "instance_num": 1},
            {"name": "rm2", "roles": ["hadoop_resourcemanager"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode", "hadoop_nodemanager"], "instance_num": 3}
        ]);
        assert_eq!(layout(two_rm), ["node_groups"]);
    }

    #[test]
    fn placement_reservations_and_cluster_lists_are_checked_then_sent_as_bde_reads_them() {
        let mut v = good();
        v["resource_pools"] = serde_json::json!(["gold", "silver"]);
        v["datastores"] = serde_json::json!(["ds1"]);
        v["local_repo_url"] = serde_json::json!("https://repo.example/bigtop");
        v["topology_policy"] = serde_json::json!("host_as_rack");
        v["node_groups"] = serde_json::json!([
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 4, "swap_ratio": 0.5,
             "cpu_reservation": 0.25, "memory_reservation": 1.0, "resource_pools": ["gold"],
             "placement": {"instance_per_host": 2, "beside_group": "master", "beside_type": "strict"}}
        ]);
        let ok = validate(&serde_json::from_value(v.clone()).unwrap()).unwrap();
        let body = crate::act::cluster_body(&ok, &crate::state::State::default());
        let body = serde_json::to_value(&body).unwrap();
        assert_eq!(body["rpNames"], serde_json::json!(["gold", "silver"]));
        assert_eq!(body["dsNames"], serde_json::json!(["ds1"]));
        assert_eq!(body["localRepoURL"], "https://repo.example/bigtop");
        assert_eq!(body["topologyPolicy"], "HOST_AS_RACK");
        let worker = &body["nodeGroups"][1];
        assert_eq!(
            worker["placementPolicies"],
            serde_json::json!({"instancePerHost": 2, "groupAssociations": [{"reference": "master", "type": "STRICT"}]})
        );
        assert_eq!(
            (worker["swapRatio"].as_f64(), worker["reservedCpuRatio"].as_f64()),
            (Some(0.5), Some(0.25))
        );
        assert_eq!(worker["rpNames"], serde_json::json!(["gold"]));

        let bad = |change: &dyn Fn(&mut serde_json::Value)| {
            let mut b = v.clone();
            change(&mut b);
            errors(b)
        };
        assert_eq!(
            bad(&|b| b["node_groups"][1]["placement"]["instance_per_host"] = serde_json::json!(3)),
            ["node_groups[1].placement.instance_per_host"]
        );
        assert_eq!(
            bad(&|b| b["node_groups"][1]["placement"]["beside_group"] = serde_json::json!("worker")),
            ["node_groups[1].placement.beside_group"]
        );
        assert_eq!(
            bad(&|b| b["node_groups"][1]["memory_reservation"] = serde_json::json!(1.5)),
            ["node_groups[1].memory_reservation"]
        );
        assert_eq!(
            bad(&|b| b["cluster_rp"] = serde_json::json!("gold")),
            ["resource_pools"]
        );
        assert_eq!(bad(&|b| b["datastores"] = serde_json::json!(["../x"])), ["datastores"]);
        assert_eq!(
            bad(&|b| b["local_repo_url"] = serde_json::json!("ftp://x")),
            ["local_repo_url"]
        );
        assert_eq!(
            bad(&|b| b["topology_policy"] = serde_json::json!("RANDOM")),
            ["topology_policy"]
        );
    }
}
