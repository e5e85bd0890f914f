//! The simulator's settings: a JSON file, every field with a default.

use std::path::PathBuf;

use serde::Deserialize;

/// Everything the simulator is told at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Where to listen (loopback).
    pub listen: String,
    /// Where the certificate, key and logs go.
    pub state_dir: PathBuf,
    /// `2.3.2` (default) or `2.2.0`.
    pub version: String,
    /// Users that may log in (BDE checks them against vCenter SSO; here, this list).
    pub users: Vec<User>,
    /// Idle session expiry, in real seconds.
    pub session_idle_seconds: f64,
    /// The vCenter BDE manages.
    pub vcenter: VCenter,
    /// Neutron, read as the cloud admin to model NSX-v's DHCP.
    pub openstack: OpenStack,
    /// BDE's registered inventory.
    pub inventory: Inventory,
    /// Delays, in real-world seconds, multiplied by `time_scale`.
    pub timing: Timing,
    /// Multiplies every delay of `timing` (0.05 runs a 60 s DHCP window in 3 s).
    pub time_scale: f64,
    /// Seeds per-VM jitter, so runs repeat.
    pub seed: u64,
    /// Failure knobs for tests.
    pub faults: Faults,
}

/// A user and password.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// vCenter access.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VCenter {
    /// SDK URL.
    pub url: String,
    /// User.
    pub username: String,
    /// Password.
    pub password: String,
    /// CA bundle for vCenter's certificate.
    pub ca_file: Option<PathBuf>,
    /// Datacenter BDE deploys into.
    pub datacenter: String,
}

/// OpenStack admin access.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenStack {
    /// Keystone URL.
    pub auth_url: String,
    /// Admin user.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Its project.
    pub project_name: String,
}

/// What a BDE admin registered.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Inventory {
    /// The node template VM.
    pub template: String,
    /// BDE resource pool name to vCenter cluster resource pool path.
    pub resource_pools: Vec<NamedPath>,
    /// BDE datastore names.
    pub datastores: Vec<NamedPath>,
    /// Distros the Default app manager offers.
    pub distros: Vec<Distro>,
    /// BDE's own UUID (root folder and resource-pool names).
    pub serengeti_uuid: String,
    /// ESXi host names reported as `hostName`.
    pub hosts: Vec<String>,
}

/// A registered name and what it points at.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPath {
    /// BDE's name.
    pub name: String,
    /// vCenter's name or path.
    pub vc_name: String,
}

/// A distro.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Distro {
    /// Name.
    pub name: String,
    /// Vendor.
    pub vendor: String,
    /// Version.
    pub version: String,
    /// HVE support.
    pub hve_supported: bool,
    /// Roles it knows.
    pub roles: Vec<String>,
}

/// Delays in real-world seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// Clone of one VM.
    pub clone: f64,
    /// Reconfigure of one VM.
    pub reconfigure: f64,
    /// Power-on.
    pub power_on: f64,
    /// Power-on to the guest's first DHCPDISCOVER.
    pub boot: f64,
    /// How long `dhclient -1` tries.
    pub dhcp_window: f64,
    /// First retransmit.
    pub dhcp_first_retry: f64,
    /// Longest gap between retransmits.
    pub dhcp_max_retry: f64,
    /// BDE's wait for every NIC's address.
    pub ip_wait: f64,
    /// BDE's check interval during that wait.
    pub ip_check: f64,
    /// Software steps after VM Ready (passwords, hostnames, bootstrap).
    pub software: f64,
    /// Delete of one VM.
    pub delete: f64,
    /// Jitter as a fraction of each delay (0.2 = ±20 %).
    pub jitter: f64,
}

/// Failure knobs (also settable at run time on the admin endpoint).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction of API requests answered 503.
    pub error_rate: f64,
    /// Fraction of API requests whose connection is dropped unanswered.
    pub drop_rate: f64,
    /// Extra latency for every API request, in real seconds.
    pub slow_seconds: f64,
    /// VM names whose clone fails.
    pub fail_clone: Vec<String>,
    /// VM names cloned with a malformed MAC, as a broken vCenter would report one.
    pub bad_mac: Vec<String>,
    /// Real-world seconds (scaled) between the DHCP edge first seeing a port and
    /// serving its binding: NSX-v programming the edge late, so the port is "late".
    pub binding_delay_seconds: f64,
    /// Nodes the binding delay applies to; empty means all.
    pub binding_delay_nodes: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:18403".into(),
            state_dir: PathBuf::from(".world/bde"),
            version: "2.3.2".into(),
            users: Vec::new(),
            session_idle_seconds: 1800.0,
            vcenter: VCenter {
                datacenter: "DC0".into(),
                ..VCenter::default()
            },
            openstack: OpenStack::default(),
            inventory: Inventory::default(),
            timing: Timing::default(),
            time_scale: 1.0,
            seed: 1,
            faults: Faults::default(),
        }
    }
}

impl Default for Inventory {
    fn default() -> Self {
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let distro = |name: &str, vendor: &str, version: &str, r: &[&str]| Distro {
            name: name.into(),
            vendor: vendor.into(),
            version: version.into(),
            hve_supported: false,
            roles: roles(r),
        };
        Self {
            template: "bde-node-template".into(),
            resource_pools: vec![NamedPath {
                name: "defaultRP".into(),
                vc_name: "DC0_C0".into(),
            }],
            datastores: vec![NamedPath {
                name: "defaultDSLocal".into(),
                vc_name: "LocalDS_0".into(),
            }],
            distros: vec![
                distro(
                    "bigtop",
                    "BIGTOP",
                    "1.1.0",
                    &[
                        // The YARN role set BDE's config-distro.rb writes for Bigtop >= 0.4
                        // (docs/bde-cluster-spec.md §6).
                        "hadoop_namenode",
                        "hadoop_resourcemanager",
                        "hadoop_datanode",
                        "hadoop_nodemanager",
                        "hadoop_journalnode",
                        "hadoop_client",
                        "hive",
                        "hive_server",
                        "pig",
                        "hbase_master",
                        "hbase_regionserver",
                        "hbase_client",
                        "zookeeper",
                    ],
                ),
                distro(
                    "mesos",
                    "MESOS",
                    "0.21.0",
                    &["mesos_master", "mesos_slave", "zookeeper", "mesos_docker"],
                ),
                distro(
                    "spark",
                    "SPARK",
                    "1.6.0",
                    &["spark_master", "spark_slave", "hadoop_namenode", "hadoop_datanode"],
                ),
                distro("kafka", "KAFKA", "0.9.0", &["kafka_broker", "zookeeper"]),
                distro("cassandra", "CASSANDRA", "2.1.0", &["cassandra_seed", "cassandra_node"]),
            ],
            serengeti_uuid: "serengeti-5b1c2e".into(),
            hosts: vec!["DC0_C0_H0".into(), "DC0_C0_H1".into()],
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            clone: 8.0,
            reconfigure: 2.0,
            power_on: 1.0,
            boot: 15.0,
            dhcp_window: 60.0,
            dhcp_first_retry: 3.0,
            dhcp_max_retry: 15.0,
            ip_wait: 600.0,
            ip_check: 10.0,
            software: 5.0,
            delete: 1.0,
            jitter: 0.2,
        }
    }
}
