use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Traffic types, the keys of `networkConfig` and `ipConfigs`.
pub const MGT_NETWORK: &str = "MGT_NETWORK";

/// The body of `POST /clusters` (`ClusterCreate`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterCreate {
    /// `[a-zA-Z0-9_]+`; required.
    pub name: Option<String>,
    /// Default `"Default"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_manager: Option<String>,
    /// `DEFAULT`, `HDFS`, `HDFS_MAPRED`, `HDFS_HBASE`: picks a template when there are no groups.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub cluster_type: Option<ClusterType>,
    /// A distro name; blank means the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<String>,
    /// Overwritten by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro_vendor: Option<String>,
    /// Overwritten by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro_version: Option<String>,
    /// The node template VM's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
    /// BDE resource pool names; empty means all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rp_names: Option<Vec<String>>,
    /// BDE datastore names; empty means all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ds_names: Option<Vec<String>>,
    /// Traffic type to BDE network names, e.g. `{"MGT_NETWORK": ["net1"]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_config: Option<BTreeMap<String, Vec<String>>>,
    /// The node groups; absent means the server's default template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_groups: Option<Vec<NodeGroupCreate>>,
    /// The VMs' password (checked late, inside the job).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `RACK_AS_RACK`, `HOST_AS_RACK`, `HVE`, `NONE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology_policy: Option<String>,
    /// Hadoop configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Value>,
    /// The one Jackson-renamed field.
    #[serde(rename = "infrastructure_config", skip_serializing_if = "Option::is_none")]
    pub infrastructure_config: Option<Value>,
    /// Local yum repository.
    #[serde(rename = "localRepoURL", skip_serializing_if = "Option::is_none")]
    pub local_repo_url: Option<String>,
    /// `fast` or `instant`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_clone_type: Option<String>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname_prefix: Option<String>,
    /// Advanced, accepted as given.
    #[serde(rename = "externalHDFS", skip_serializing_if = "Option::is_none")]
    pub external_hdfs: Option<String>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_map_reduce: Option<String>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_namenode: Option<String>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_secondary_namenode: Option<String>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_datanodes: Option<Vec<String>>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages_exist_status: Option<String>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_proxy: Option<String>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_policy: Option<String>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_repos: Option<Vec<String>>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro_map: Option<Value>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vc_clusters: Option<Value>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networkings: Option<Value>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_to_rack_map: Option<Value>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_datastore_pattern: Option<Value>,
    /// Advanced, accepted as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_datastore_pattern: Option<Value>,
    /// Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate_config: Option<bool>,
    /// Set by the server when groups are given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_file: Option<bool>,
}

/// `ClusterType` by Java name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterType {
    /// Hadoop with the default roles.
    Default,
    /// HDFS only.
    Hdfs,
    /// HDFS and MapReduce.
    HdfsMapred,
    /// HDFS and HBase.
    HdfsHbase,
}

/// One node group of a create request (`NodeGroupCreate`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroupCreate {
    /// `[a-zA-Z0-9+]{1,80}`; required.
    pub name: Option<String>,
    /// Required.
    pub roles: Option<Vec<String>>,
    /// ≥ 0.
    #[serde(default)]
    pub instance_num: i32,
    /// `EXTRA_LARGE`, `LARGE`, `MEDIUM`, `SMALL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// > 0 when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_num: Option<i32>,
    /// ≥ 1024 when set.
    #[serde(rename = "memCapacityMB", skip_serializing_if = "Option::is_none")]
    pub mem_capacity_mb: Option<i32>,
    /// Storage settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<Value>,
    /// ≥ 0, default 1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_ratio: Option<f32>,
    /// `off`, `on`, `ft`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ha_flag: Option<String>,
    /// `LOW`, `NORMAL`, `MEDIUM`, `HIGH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_sensitivity: Option<String>,
    /// 0..1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_cpu_ratio: Option<f32>,
    /// 0..1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_mem_ratio: Option<f32>,
    /// Placement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement_policies: Option<Value>,
    /// Hadoop configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Value>,
    /// Resource pools for this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rp_names: Option<Vec<String>>,
    /// Server-set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm_folder_path: Option<String>,
    /// Written, never read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vc_clusters: Option<Value>,
}

/// A physical rack and its ESXi hosts (`RackInfo`: `GET /racks`, and `PUT /racks` takes a list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RackInfo {
    /// The rack's name.
    pub name: String,
    /// Its hosts' names.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// A distro BDE offers (`DistroRead`, `GET /distros`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DistroRead {
    /// Its name, e.g. `bigtop`.
    pub name: String,
    /// Its vendor.
    pub vendor: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// Whether it supports Hadoop Virtualization Extensions.
    #[serde(default)]
    pub hve_supported: bool,
    /// The roles its node groups may use.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `ClusterStatus`, by Java name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum ClusterStatus {
    Running,
    Provisioning,
    ProvisionError,
    Upgrading,
    Updating,
    Deleting,
    Stopped,
    Expanding,
    Error,
    Stopping,
    Starting,
    Configuring,
    ConfigureError,
    Na,
    VhmRunning,
    Vmreconfiguring,
    Maintenance,
    UpgradeError,
    ServiceStopped,
    ServiceWarning,
}

impl ClusterStatus {
    /// The statuses delete (and upgrade) accept.
    pub fn is_stable(self) -> bool {
        use ClusterStatus::*;
        matches!(
            self,
            Running
                | Stopped
                | ConfigureError
                | Error
                | ProvisionError
                | UpgradeError
                | ServiceStopped
                | ServiceWarning
        )
    }

    /// The Java name, as JSON carries it.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// `NodeStatus`: JSON carries the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum NodeStatus {
    #[serde(rename = "Not Exist")]
    NotExist,
    #[serde(rename = "Unavailable")]
    Disconnected,
    #[serde(rename = "Powered Off")]
    PoweredOff,
    #[serde(rename = "Powered On")]
    PoweredOn,
    #[serde(rename = "VM Ready")]
    VmReady,
    #[serde(rename = "Bootstrap Failed")]
    BootstrapFailed,
    #[serde(rename = "Service Alert")]
    ServiceAlert,
    #[serde(rename = "Service Unhealthy")]
    ServiceUnhealthy,
    #[serde(rename = "Service Ready")]
    ServiceReady,
    #[serde(rename = "Unknown Status")]
    Unknown,
}

/// A cluster as `GET /cluster/{name}` returns it (`ClusterRead`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRead {
    /// The cluster name.
    pub name: String,
    /// Its status.
    pub status: ClusterStatus,
    /// The application manager.
    pub app_manager: Option<String>,
    /// The distro.
    pub distro: Option<String>,
    /// The distro's vendor.
    pub distro_vendor: Option<String>,
    /// Node rows across groups.
    pub instance_num: i32,
    /// Groups in creation order.
    pub node_groups: Option<Vec<NodeGroupRead>>,
    /// Only with `details=true`.
    pub resource_pools: Option<Vec<Value>>,
    /// Topology.
    pub topology_policy: Option<String>,
    /// Elasticity.
    pub automation_enable: Option<bool>,
    /// -1 when unset.
    pub vhm_min_num: i32,
    /// -1 when unset.
    pub vhm_max_num: i32,
    /// Elasticity target.
    pub vhm_target_num: Option<i32>,
    /// Server version that made it.
    pub version: Option<String>,
    /// IO shares.
    pub io_shares: Option<String>,
    /// (sic)
    pub dc_seperation: bool,
    /// External HDFS.
    #[serde(rename = "externalHDFS")]
    pub external_hdfs: Option<String>,
    /// External MapReduce.
    pub external_map_reduce: Option<String>,
    /// External namenode.
    pub external_namenode: Option<String>,
    /// External secondary namenode.
    pub external_secondary_namenode: Option<String>,
    /// External datanodes.
    pub external_datanodes: Option<Vec<String>>,
    /// Local repository.
    #[serde(rename = "localRepoURL")]
    pub local_repo_url: Option<String>,
    /// `fast` or `instant`.
    pub cluster_clone_type: Option<String>,
    /// The node template.
    pub template_name: Option<String>,
    /// Infrastructure configuration.
    #[serde(rename = "infrastructure_config")]
    pub infrastructure_config: Option<Value>,
}

/// New CPU and memory for a node group's VMs (`ResourceScale`, the body of
/// `PUT /cluster/{name}/nodegroup/{group}/scale`); `0` keeps the current value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceScale {
    /// The cluster (BDE reads it from here, not from the path).
    pub cluster_name: String,
    /// The node group.
    pub node_group_name: String,
    /// CPUs per VM; `0` keeps them.
    #[serde(default)]
    pub cpu_number: i32,
    /// Memory per VM in MB (rounded down to a multiple of 4); `0` keeps it.
    #[serde(default)]
    pub memory: i64,
}

/// Node groups added to a cluster (`NodeGroupAdd`, the body of `POST /cluster/{name}/nodegroups`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupAdd {
    /// The new groups.
    #[serde(default)]
    pub node_groups: Vec<NodeGroupCreate>,
}

/// A node group as read (`NodeGroupRead`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupRead {
    /// The group name.
    pub name: String,
    /// Its roles.
    pub roles: Option<Vec<String>>,
    /// CPUs per node.
    pub cpu_num: i32,
    /// Memory per node.
    #[serde(rename = "memCapacityMB")]
    pub mem_capacity_mb: i32,
    /// Swap ratio.
    pub swap_ratio: Option<f32>,
    /// Node rows that exist (not the requested count).
    pub instance_num: i32,
    /// `null` unless `details=true` (2.3.x).
    pub instances: Option<Vec<NodeRead>>,
    /// Storage.
    pub storage: Option<Value>,
    /// Placement.
    pub placement_policies: Option<Value>,
    /// Always null.
    pub networking: Option<Value>,
    /// Compute-only group.
    pub compute_only: bool,
}

/// One node (`NodeRead`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRead {
    /// `<cluster>-<group>-<index>`.
    pub name: String,
    /// `null:VirtualMachine:vm-N`; null until cloned.
    pub mo_id: Option<String>,
    /// Rack.
    pub rack: Option<String>,
    /// The ESXi host (not the guest's name).
    pub host_name: Option<String>,
    /// Traffic type to the NICs' addresses.
    pub ip_configs: Option<BTreeMap<String, Vec<IpConfigInfo>>>,
    /// The node status.
    pub status: NodeStatus,
    /// Progress text.
    pub action: Option<String>,
    /// Roles.
    pub roles: Option<Vec<String>>,
    /// MB.
    pub memory: i64,
    /// Not in REST reads.
    pub volumes: Option<Value>,
    /// CPUs.
    pub cpu_number: i32,
    /// Whether the last action failed.
    pub action_failed: bool,
    /// Why.
    pub err_message: Option<String>,
    /// Server version.
    pub version: Option<String>,
}

impl NodeRead {
    /// The vCenter VM id out of `moId` (`null:VirtualMachine:vm-12` → `vm-12`).
    pub fn vm_id(&self) -> Option<&str> {
        let mo = self.mo_id.as_deref()?;
        let mut parts = mo.splitn(3, ':');
        let (_guid, kind, value) = (parts.next()?, parts.next()?, parts.next()?);
        (kind == "VirtualMachine" && !value.is_empty()).then_some(value)
    }

    /// The addresses of its NICs, `0.0.0.0` meaning none yet.
    pub fn addresses(&self) -> Vec<&str> {
        self.ip_configs
            .iter()
            .flat_map(|m| m.values())
            .flatten()
            .filter_map(|c| c.ip_address.as_deref())
            .collect()
    }
}

/// One NIC's address (`IpConfigInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpConfigInfo {
    /// The portgroup.
    pub port_group_name: Option<String>,
    /// The BDE network.
    pub network_name: Option<String>,
    /// `MGT_NETWORK`, ...
    pub traffic_type: Option<String>,
    /// `0.0.0.0` until the guest has one.
    pub ip_address: Option<String>,
    /// From the guest.
    pub fqdn: Option<String>,
}
