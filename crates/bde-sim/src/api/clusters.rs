//! Clusters: create, read, delete, start/stop/resume, resize, scale, expand,
//! spec (`RestResource`, `ClusterManager`, `ScaleManager`,
//! `ClusterConfigManager`), with their checks in the server's order.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bde_serengeti::{ClusterCreate, ClusterStatus, MGT_NETWORK, NodeGroupAdd, NodeGroupCreate, ResourceScale, rules};
use serde_json::{Value, json};

use crate::api::error::{BddError, container_error};
use crate::api::{Details, Json, accepted, legacy};
use crate::jobs;
use crate::sim::Sim;
use crate::state::{Cluster, Group, Node};

/// Roles the Default (Ironfan) manager cannot scale out.
use bde_serengeti::rules::UNSCALABLE_ROLES;
use bde_serengeti::services::{SERVICES, ServiceProblem, service_problems};

fn check_name(name: &str) -> Result<(), BddError> {
    if rules::is_valid_cluster_name(name) {
        Ok(())
    } else {
        Err(BddError::invalid("cluster name", name))
    }
}

fn not_found(name: &str) -> BddError {
    BddError::not_found(format!("Cluster {name} not found."))
}

pub async fn create(State(sim): State<Arc<Sim>>, headers: HeaderMap, Json(spec): Json<ClusterCreate>) -> Response {
    match create_cluster(&sim, spec).await {
        Ok(task) => accepted(&headers, task),
        Err(e) => e.into_response(),
    }
}

/// The default node groups BDE's template spec gives a cluster without groups.
fn default_groups(roles: &[String]) -> Vec<NodeGroupCreate> {
    let pick = |want: &[&str]| -> Vec<String> {
        let found: Vec<String> = roles.iter().filter(|r| want.contains(&r.as_str())).cloned().collect();
        if found.is_empty() {
            roles.iter().take(1).cloned().collect()
        } else {
            found
        }
    };
    let group = |name: &str, roles: Vec<String>, n: i32, mem: i32| NodeGroupCreate {
        name: Some(name.into()),
        roles: Some(roles),
        instance_num: n,
        cpu_num: Some(1),
        mem_capacity_mb: Some(mem),
        ..NodeGroupCreate::default()
    };
    vec![
        group(
            "master",
            pick(&[
                "hadoop_namenode",
                "hadoop_resourcemanager",
                "mesos_master",
                "spark_master",
                "cassandra_seed",
            ]),
            1,
            4096,
        ),
        group(
            "worker",
            pick(&[
                "hadoop_datanode",
                "hadoop_nodemanager",
                "mesos_slave",
                "spark_slave",
                "kafka_broker",
                "cassandra_node",
            ]),
            3,
            2048,
        ),
    ]
}

async fn create_cluster(sim: &Arc<Sim>, spec: ClusterCreate) -> Result<i64, BddError> {
    let inv = &sim.cfg.inventory;
    let Some(name) = spec.name.clone() else {
        return Err(BddError::internal(None)); // a null name is an NPE at 2.3.2
    };
    check_name(&name)?;
    let app_manager = spec
        .app_manager
        .clone()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or("Default".into());
    if app_manager != "Default" {
        return Err(BddError::not_found(format!(
            "application manager {app_manager} not found."
        )));
    }
    let distro = match spec.distro.as_deref().filter(|d| !d.trim().is_empty()) {
        // The default manager's default stack: the first of vendor BIGTOP
        // (`DefaultSoftwareManagerImpl.getDefaultStack`, `Constants.DEFAULT_VENDOR`).
        None => inv
            .distros
            .iter()
            .find(|d| d.vendor.eq_ignore_ascii_case("BIGTOP"))
            .cloned()
            .ok_or_else(|| BddError::not_found("Distro default not found."))?,
        Some(d) => inv
            .distros
            .iter()
            .find(|x| x.name.eq_ignore_ascii_case(d))
            .cloned()
            .ok_or_else(|| BddError::not_found(format!("Distro {d} not found.")))?,
    };
    let groups = match &spec.node_groups {
        Some(g) if !g.is_empty() => g.clone(),
        _ => default_groups(&distro.roles),
    };
    if groups.iter().any(|g| g.roles.is_none()) {
        return Err(BddError::internal(None)); // a group without roles is an NPE
    }
    // The software manager's blueprint check: every role must be the distro's.
    let unsupported: Vec<String> = groups
        .iter()
        .flat_map(|g| g.roles.iter().flatten())
        .filter(|r| !distro.roles.contains(r))
        .map(|r| format!("role: {r} is not supported by {}.", distro.name))
        .collect();
    if !unsupported.is_empty() {
        return Err(BddError::new(
            "CLUSTER_CONFIG.INVALID_SPECIFICATION",
            format!("Invalid cluster specification file: {}.", unsupported.join(", ")),
        ));
    }
    let longest = groups
        .iter()
        .map(|g| g.name.as_deref().unwrap_or("").len())
        .max()
        .unwrap_or(0);
    let max_len = rules::max_cluster_name_len(longest).min(79usize.saturating_sub(inv.serengeti_uuid.len()));
    if name.len() > max_len {
        return Err(BddError::new(
            "CLUSTER_CONFIG.CLUSTER_NAME_TOO_LONG",
            format!("The length of the cluster name must be equal or less than {max_len}."),
        ));
    }
    for g in &groups {
        let gname = g.name.clone().unwrap_or_default();
        if !rules::is_valid_node_group_name(&gname) || gname.len() >= 74 {
            return Err(BddError::new(
                "CLUSTER_CONFIG.NODE_GROUP_NAME_IS_INVALID",
                format!("Invalid node group name '{gname}'. Revise the cluster specification file."),
            ));
        }
    }
    let unknown = |asked: &Option<Vec<String>>, known: &[crate::config::NamedPath]| -> Vec<String> {
        asked
            .iter()
            .flatten()
            .filter(|a| !known.iter().any(|k| &k.name == *a))
            .cloned()
            .collect()
    };
    let group_ds: Vec<String> = groups
        .iter()
        .filter_map(|g| g.storage.as_ref())
        .flat_map(|s| s["dsNames"].as_array().into_iter().flatten())
        .filter_map(|d| d.as_str().map(str::to_string))
        .collect();
    let asked_ds = Some(
        spec.ds_names
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(group_ds)
            .collect(),
    );
    let bad_ds = unknown(&asked_ds, &inv.datastores);
    if !bad_ds.is_empty() {
        return Err(BddError::new(
            "VC_PROVIDER.DATASTORE_NOT_FOUND",
            format!("Cannot find datastore {}.", bad_ds.join(",")),
        ));
    }
    let group_rp = groups.iter().flat_map(|g| g.rp_names.iter().flatten().cloned());
    let asked_rp = Some(
        spec.rp_names
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(group_rp)
            .collect(),
    );
    let bad_rp = unknown(&asked_rp, &inv.resource_pools);
    if !bad_rp.is_empty() {
        return Err(BddError::new(
            "VC_PROVIDER.RESOURCE_POOL_NOT_FOUND",
            format!("Cannot find resource pool {}.", bad_rp.join(",")),
        ));
    }
    let network = spec
        .network_config
        .as_ref()
        .and_then(|n| n.get(MGT_NETWORK).or_else(|| n.values().next()))
        .and_then(|names| names.first().cloned())
        .ok_or_else(|| {
            BddError::new(
                "CLUSTER_CONFIG.NETWORK_IS_NOT_SPECIFIED",
                format!("You must specify a network name for cluster {name}."),
            )
        })?;
    let port_group = port_group_of(sim, &network, &name)?;
    if !sim.vc.portgroup_exists(&port_group).await? {
        return Err(BddError::new(
            "CLUSTER_CONFIG.NETWORK_UNACCESSIBLE",
            format!("Network {network} is not accessible from the cluster's hosts."),
        ));
    }
    let traffic = traffic_networks(sim, &spec, &name, &network, &port_group).await?;
    let mut problems = Vec::new();
    for g in &groups {
        let gname = g.name.clone().unwrap_or_default();
        if g.instance_num < 0 {
            problems.push(format!("{gname}.instanceNum={}.", g.instance_num));
        }
        if let Some(c) = g.cpu_num.filter(|c| *c <= 0) {
            problems.push(format!("{gname}.cpuNum={c}."));
        }
        if let Some(m) = g.mem_capacity_mb {
            if m <= 0 {
                problems.push(format!("{gname}.memCapacityMB={m}."));
            } else if m < 1024 {
                problems.push(format!(
                    "'memCapacityMB' cannot be less than 1024 in group {gname} in order for nodes to run normally"
                ));
            }
        }
    }
    problems.extend(layout_failures(&groups));
    problems.extend(external_hdfs_failures(spec.external_hdfs.as_deref(), &groups));
    if spec.external_hdfs.is_none() {
        problems.extend(service_failures(&groups));
    }
    for g in &groups {
        let per_host = g
            .placement_policies
            .as_ref()
            .and_then(|p| p["instancePerHost"].as_i64());
        match per_host {
            Some(n) if n <= 0 => problems.push(format!(
                "{}.placementPolicies.instancePerHost={n}.",
                g.name.clone().unwrap_or_default()
            )),
            Some(n) if i64::from(g.instance_num) % n != 0 => problems.push(format!(
                "The instance number of node group {} must be evenly divisible by instancePerHost",
                g.name.clone().unwrap_or_default()
            )),
            _ => {}
        }
    }
    for g in &groups {
        let gname = g.name.clone().unwrap_or_default();
        let kind = g
            .storage
            .as_ref()
            .and_then(|s| s["type"].as_str())
            .map(str::to_ascii_uppercase);
        match kind.as_deref() {
            None | Some("LOCAL" | "SHARED") => {}
            // `validateStorageType` refuses TEMPFS unconditionally at HEAD.
            Some("TEMPFS") => problems.push(format!("TEMPFS storage is not allowed in node group {gname}")),
            Some(other) => problems.push(format!(
                "Invalid storage type {other}. Valid storage types are SHARED, LOCAL, and TEMPFS"
            )),
        }
    }
    if !problems.is_empty() {
        return Err(BddError::new(
            "CLUSTER_CONFIG.INVALID_SPECIFICATION",
            format!("Invalid cluster specification file: {}.", problems.join(", ")),
        ));
    }
    if let Some(e) = rack_failure(
        &sim.world.lock().expect("world").racks,
        spec.topology_policy.as_deref(),
        &groups,
    ) {
        return Err(e);
    }
    if let Some(e) = groups.iter().find_map(size_not_set) {
        return Err(e);
    }
    if let Some(g) = groups.iter().find(|g| {
        g.ha_flag.as_deref().is_some_and(|h| h.eq_ignore_ascii_case("ft"))
            && g.storage
                .as_ref()
                .and_then(|s| s["type"].as_str())
                .is_some_and(|t| t.eq_ignore_ascii_case("LOCAL"))
    }) {
        return Err(BddError::new(
            "CLUSTER_CONFIG.LOCAL_STORAGE_USED_FOR_FT_GROUP",
            format!(
                "Local storage cannot be used by node group {}, which has vSphere Fault Tolerance enabled.",
                g.name.clone().unwrap_or_default()
            ),
        ));
    }
    let cluster = Cluster {
        name: name.clone(),
        status: ClusterStatus::Provisioning,
        app_manager,
        distro: distro.name.clone(),
        distro_vendor: distro.vendor.clone(),
        template_name: spec.template_name.clone().unwrap_or_else(|| inv.template.clone()),
        network,
        port_group,
        rp_names: spec
            .rp_names
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| inv.resource_pools.iter().map(|r| r.name.clone()).collect()),
        topology_policy: spec.topology_policy.clone().unwrap_or_else(|| "NONE".into()),
        external_hdfs: spec.external_hdfs.clone(),
        ds_names: spec.ds_names.clone().unwrap_or_default(),
        local_repo_url: spec.local_repo_url.clone(),
        traffic,
        groups: groups.iter().map(|g| group_of(&name, g)).collect(),
        version: sim.cfg.version.clone(),
        configuration: spec.configuration.clone(),
    };
    let task = {
        let mut world = sim.world.lock().expect("world");
        if world.clusters.contains_key(&name) {
            return Err(BddError::new(
                "BDD.ALREADY_EXISTS",
                format!("Cluster {name} already exists."),
            ));
        }
        world.clusters.insert(name.clone(), cluster);
        world.new_task(&name, "INNER")
    };
    jobs::spawn_create(sim.clone(), name, task);
    Ok(task)
}

/// The Default manager's rules for how Hadoop roles spread over groups, in its words
/// (`ClusterValidator.validateGroupConfig`; docs/bde-cluster-spec.md §3.1).
fn layout_failures(groups: &[NodeGroupCreate]) -> Vec<String> {
    let has = |g: &NodeGroupCreate, role: &str| g.roles.iter().flatten().any(|r| r == role);
    let count = |role: &str| -> i32 { groups.iter().filter(|g| has(g, role)).map(|g| g.instance_num).sum() };
    let mut failures = Vec::new();
    for g in groups {
        let name = g.name.clone().unwrap_or_default();
        if has(g, "hadoop_namenode") && !(1..=2).contains(&g.instance_num) {
            failures.push(format!("{name}.instanceNum={}.", g.instance_num));
        }
        if has(g, "hadoop_journalnode") && (has(g, "hadoop_datanode") || has(g, "hadoop_client")) {
            failures.push("Journal nodes cannot be on data nodes or client nodes.".into());
        }
        if has(g, "hadoop_jobtracker") && g.instance_num != 1 {
            failures.push("The number of JobTrackers must be one.".into());
        }
        if has(g, "hadoop_resourcemanager") && g.instance_num != 1 {
            failures.push("The number of ResourceManagers cannot exceed one.".into());
        }
        if has(g, "zookeeper") && (1..=2).contains(&g.instance_num) {
            failures.push("The number of ZooKeepers cannot be less than three.".into());
        }
    }
    if count("hadoop_namenode") == 2 {
        if count("hadoop_journalnode") < 3 {
            failures.push("The number of journal nodes must be three or more.".into());
        }
        if !groups.iter().any(|g| has(g, "zookeeper")) {
            failures.push(
                "To support vSphere High Availability on name nodes, you must configure a ZooKeeper group.".into(),
            );
        }
    } else if count("hadoop_journalnode") > 0 {
        failures.push("NameNode High Availability is not enabled, but journal nodes appear.".into());
    }
    if [
        "hadoop_jobtracker",
        "hadoop_resourcemanager",
        "zookeeper",
        "hbase_master",
    ]
    .iter()
    .any(|role| groups.iter().filter(|g| has(g, role)).count() > 1)
    {
        failures.push("Only one node group can include JobTracker, ZooKeeper or HMaster.".into());
    }
    failures
}

/// A node group as the cluster keeps it, its node rows not yet cloned.
/// `ClusterConfigManager.validateRacksInfo`: rack topologies and rack placement need the
/// rack map; a SAMERACK group names one rack; named racks must be in the map, with hosts
/// enough for `instancePerHost`. Groups beside another or on SHARED storage are skipped.
fn rack_failure(
    racks: &[bde_serengeti::RackInfo],
    topology: Option<&str>,
    groups: &[NodeGroupCreate],
) -> Option<BddError> {
    let err = |code: &str, message: String| Some(BddError::new(&format!("CLUSTER_CONFIG.{code}"), message));
    if racks.is_empty()
        && let Some(t) = topology.filter(|t| ["HVE", "RACK_AS_RACK"].contains(t))
    {
        return err(
            "TOPOLOGY_WITH_NO_MAPPING_INFO_EXIST",
            format!("Missing PRack-PHost mapping information for topology {t}. Upload topology configuration file."),
        );
    }
    for g in groups {
        let name = g.name.clone().unwrap_or_default();
        let policies = g.placement_policies.as_ref();
        let shared = g.storage.as_ref().and_then(|s| s["type"].as_str()) == Some("SHARED");
        if policies.is_some_and(|p| !p["groupAssociations"].is_null()) || shared {
            continue;
        }
        let Some(group_racks) = policies.map(|p| &p["groupRacks"]).filter(|r| r.is_object()) else {
            continue;
        };
        if racks.is_empty() {
            return err(
                "RACKPOLICY_WITH_NO_MAPPING_INFO_EXIST",
                format!(
                    "Missing PRack-PHost mapping information for node group {name} rack policy. Upload topology configuration file."
                ),
            );
        }
        let same = group_racks["type"].as_str() == Some("SAMERACK");
        let named: std::collections::HashSet<&str> = group_racks["racks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if same && named.len() != 1 {
            return err(
                "MUST_DEFINE_ONE_RACK",
                format!(
                    "You must specify one rack for node group {name} because it is configured for the SAME RACK policy."
                ),
            );
        }
        let chosen: Vec<usize> = racks
            .iter()
            .filter(|r| named.is_empty() || named.contains(r.name.as_str()))
            .map(|r| r.hosts.len())
            .collect();
        if chosen.is_empty() {
            return err(
                "NO_VALID_RACK",
                format!(
                    "None of the racks that are specified in node group {name} are in the PRack-PHost mapping information. Select valid racks or revise the PRack-PHost mapping information."
                ),
            );
        }
        let per_host = policies.and_then(|p| p["instancePerHost"].as_i64()).filter(|n| *n > 0);
        if let Some(per_host) = per_host.filter(|n| i64::from(g.instance_num) % n == 0) {
            let need = (i64::from(g.instance_num) / per_host) as usize;
            let have = if same {
                chosen.iter().copied().max().unwrap_or(0)
            } else {
                chosen.iter().sum()
            };
            if need > have {
                return err(
                    "LACK_PHYSICAL_HOSTS",
                    format!(
                        "Serengeti cannot provide the required {need} hosts for node group {name} without violating the PRack policy. The specified racks can provide only {have} hosts. Add hosts to the PRack-PHost mapping file or decrease the number of hosts for the node group."
                    ),
                );
            }
        }
    }
    None
}

/// `CommonClusterExpandPolicy.expandGroupInstanceType`: a group of VMs without an instance
/// type needs both its CPUs and memory.
fn size_not_set(g: &NodeGroupCreate) -> Option<BddError> {
    (g.instance_num > 0 && g.instance_type.is_none() && (g.cpu_num.is_none() || g.mem_capacity_mb.is_none())).then(
        || {
            BddError::new(
                "CLUSTER_CONFIG.INSTANCE_SIZE_NOT_SET",
                format!(
                    "Instance size of group {} is not set.",
                    g.name.clone().unwrap_or_default()
                ),
            )
        },
    )
}

/// A group's storage as BDE expands it: SHARED for a management group and LOCAL for
/// others when no type is given, BDE's default size when none is (`CommonClusterExpandPolicy`).
fn storage_of(given: Option<Value>, instance_type: &str, roles: &[String]) -> Value {
    let management = rules::is_management_group(roles);
    let mut storage = given.filter(Value::is_object).unwrap_or_else(|| json!({}));
    if storage["type"].as_str().is_none() {
        storage["type"] = json!(if management { "SHARED" } else { "LOCAL" });
    }
    if storage["sizeGB"].as_i64().is_none_or(|s| s <= 0) {
        storage["sizeGB"] = json!(rules::default_storage_gb(instance_type, management));
    }
    storage
}

fn group_of(cluster: &str, g: &NodeGroupCreate) -> Group {
    let gname = g.name.clone().unwrap_or_default();
    // BDE's default type (only reached with both cpuNum and memCapacityMB given; a group
    // without either is refused first, by `size_failures`).
    let roles = g.roles.clone().unwrap_or_default();
    let kind = g
        .instance_type
        .clone()
        .unwrap_or_else(|| rules::default_instance_type(&roles).into());
    let typed = rules::instance_type_size(&kind);
    Group {
        nodes: (0..g.instance_num.max(0) as usize)
            .map(|i| Node::new(cluster, &gname, i))
            .collect(),
        name: gname,
        roles: g.roles.clone().unwrap_or_default(),
        instance_num: g.instance_num.max(0) as usize,
        // Explicit values win, one at a time, over the instance type's.
        cpu_num: g.cpu_num.or(typed.map(|t| t.0 as i32)).unwrap_or(1),
        mem_mb: g
            .mem_capacity_mb
            .or(typed.map(|t| t.1 as i32))
            .map(|m| m / 4 * 4)
            .unwrap_or(1024),
        storage: storage_of(g.storage.clone(), &kind, &roles),
        configuration: g.configuration.clone(),
        ha_flag: g.ha_flag.clone().unwrap_or_else(|| "off".into()),
        placement: g.placement_policies.clone(),
        swap_ratio: g.swap_ratio.unwrap_or(1.0),
        reserved_cpu_ratio: g.reserved_cpu_ratio,
        reserved_mem_ratio: g.reserved_mem_ratio,
        rp_names: g.rp_names.clone(),
    }
}

fn always_instances() -> bool {
    legacy()
}

pub async fn get(State(sim): State<Arc<Sim>>, Path(name): Path<String>, Query(d): Query<Details>) -> Response {
    if let Err(e) = check_name(&name) {
        return e.into_response();
    }
    let world = sim.world.lock().expect("world");
    match world.clusters.get(&name) {
        Some(c) => axum::Json(c.read(d.on(), always_instances())).into_response(),
        None => not_found(&name).into_response(),
    }
}

pub async fn list(State(sim): State<Arc<Sim>>, Query(d): Query<Details>) -> Response {
    let world = sim.world.lock().expect("world");
    let all: Vec<_> = world
        .clusters
        .values()
        .map(|c| c.read(d.on(), always_instances()))
        .collect();
    axum::Json(all).into_response()
}

pub async fn spec(State(sim): State<Arc<Sim>>, Path(name): Path<String>) -> Response {
    if let Err(e) = check_name(&name) {
        return e.into_response();
    }
    let world = sim.world.lock().expect("world");
    let Some(c) = world.clusters.get(&name) else {
        return not_found(&name).into_response();
    };
    let groups: Vec<Value> = c
        .groups
        .iter()
        .map(|g| {
            json!({"name": g.name, "roles": g.roles, "instanceNum": g.instance_num, "cpuNum": g.cpu_num,
                        "memCapacityMB": g.mem_mb, "storage": g.storage, "haFlag": g.ha_flag,
                        "configuration": g.configuration, "placementPolicies": g.placement,
                        "swapRatio": g.swap_ratio, "reservedCpuRatio": g.reserved_cpu_ratio,
                        "reservedMemRatio": g.reserved_mem_ratio, "rpNames": g.rp_names})
        })
        .collect();
    axum::Json(
        json!({"name": null, "appManager": c.app_manager, "distro": c.distro, "distroVendor": null,
                      "distroVersion": null, "templateName": c.template_name, "rpNames": c.rp_names,
                      "dsNames": c.ds_names, "localRepoURL": c.local_repo_url,
                      "networkConfig": null, "nodeGroups": groups, "password": null, "topologyPolicy": c.topology_policy,
                      "configuration": c.configuration, "externalHDFS": c.external_hdfs}),
    )
    .into_response()
}

/// The portgroup of a registered BDE network, or BDE's `NETWORK_IS_NOT_FOUND`.
fn port_group_of(sim: &Sim, network: &str, cluster: &str) -> Result<String, BddError> {
    sim.world
        .lock()
        .expect("world")
        .networks
        .get(network)
        .map(|n| n.port_group.clone())
        .ok_or_else(|| {
            BddError::new(
                "CLUSTER_CONFIG.NETWORK_IS_NOT_FOUND",
                format!("Cannot find network {network} for cluster {cluster}."),
            )
        })
}

/// The HDFS and MapReduce traffic networks of `networkConfig`, each a NIC of its own
/// (a traffic type on the management network shares its NIC); two BDE networks on one
/// portgroup are refused (`ClusterConfigManager.validateAndConvertNetNamesToNetConfigs`).
async fn traffic_networks(
    sim: &Sim,
    spec: &ClusterCreate,
    name: &str,
    mgt: &str,
    mgt_pg: &str,
) -> Result<Vec<(String, String, String)>, BddError> {
    let mut traffic = Vec::new();
    let mut used = vec![(mgt.to_string(), mgt_pg.to_string())];
    for kind in ["HDFS_NETWORK", "MAPRED_NETWORK"] {
        let Some(network) = spec
            .network_config
            .as_ref()
            .and_then(|n| n.get(kind))
            .and_then(|names| names.first().cloned())
        else {
            continue;
        };
        if used.iter().any(|(n, _)| *n == network) {
            continue;
        }
        let port_group = port_group_of(sim, &network, name)?;
        if used.iter().any(|(_, pg)| *pg == port_group) {
            return Err(BddError::new(
                "BDD.PG_REFERENCED_MULTI_TIMES",
                format!("Port group {port_group} is referenced multiple times."),
            ));
        }
        if !sim.vc.portgroup_exists(&port_group).await? {
            return Err(BddError::new(
                "CLUSTER_CONFIG.NETWORK_UNACCESSIBLE",
                format!("Network {network} is not accessible from the cluster's hosts."),
            ));
        }
        used.push((network.clone(), port_group.clone()));
        traffic.push((kind.to_string(), network, port_group));
    }
    Ok(traffic)
}

/// `ClusterCreate.validateHDFSUrl` and the Default manager's rules for a cluster on an
/// external HDFS (`ClusterValidator.validateRoleDependency`): no namenode or datanode of
/// its own and a JobTracker or ResourceManager, unless it is an HBase cluster.
fn external_hdfs_failures(url: Option<&str>, groups: &[NodeGroupCreate]) -> Vec<String> {
    let Some(url) = url else { return Vec::new() };
    let valid = url
        .strip_prefix("hdfs://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('@'));
    if !valid {
        return vec![format!("externalHDFS={url}")];
    }
    let has = |role: &str| groups.iter().any(|g| g.roles.iter().flatten().any(|r| r == role));
    let mut failures = Vec::new();
    if !has("hbase_master") {
        if has("hadoop_namenode") || has("hadoop_datanode") {
            failures.push("Duplicate NameNode or DataNode role.".into());
        }
        if !has("hadoop_jobtracker") && !has("hadoop_resourcemanager") {
            failures.push("Missing JobTracker or ResourceManager role.".into());
        }
        if !has("hadoop_tasktracker") && !has("hadoop_nodemanager") {
            failures.push("Missing TaskTracker or NodeManager role.".into());
        }
    }
    failures
}

/// `ClusterValidator.validateRoleDependency` for a cluster on its own HDFS, in its words:
/// every service whole, MapReduce v1 and YARN apart, each service with what it runs on.
fn service_failures(groups: &[NodeGroupCreate]) -> Vec<String> {
    let roles = groups.iter().flat_map(|g| g.roles.iter().flatten().map(String::as_str));
    let listed = |service: &str| {
        let roles = SERVICES.iter().find(|s| s.name == service).map_or(&[][..], |s| s.roles);
        format!("[{}]", roles.join(", "))
    };
    service_problems(roles)
        .into_iter()
        .map(|problem| match problem {
            ServiceProblem::Incomplete { service, missing } => {
                format!("Missing role(s): {} for service: {service}.", missing.join(","))
            }
            ServiceProblem::MapredWithYarn => format!(
                "You cannot set MAPRED {} and YARN {} \nat the same time.",
                listed("MAPRED"),
                listed("YARN")
            ),
            ServiceProblem::NeedsServices { service, needs } => format!(
                "Some dependent services [{}] {service} relies on cannot be found in the spec file.",
                needs.join(", ")
            ),
        })
        .collect()
}

pub async fn delete(State(sim): State<Arc<Sim>>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    if let Err(e) = check_name(&name) {
        return e.into_response();
    }
    let task = {
        let mut world = sim.world.lock().expect("world");
        let Some(cluster) = world.clusters.get_mut(&name) else {
            return not_found(&name).into_response();
        };
        if !cluster.status.is_stable() {
            return BddError::new(
                "CLUSTER.CANNOT_DELETE",
                format!("Cannot delete cluster {name}.To delete a cluster, its status must be RUNNING, STOPPED, ERROR, PROVISION_ERROR, CONFIGURE_ERROR or UPGRADE_ERROR."),
            )
            .into_response();
        }
        cluster.status = ClusterStatus::Deleting;
        for (_, n) in cluster
            .groups
            .iter_mut()
            .flat_map(|g| g.nodes.iter_mut().map(|n| ((), n)))
        {
            n.action_failed = false;
            n.err_message = None;
        }
        world.new_task(&name, "DELETE")
    };
    jobs::spawn_delete(sim.clone(), name, task);
    accepted(&headers, task)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ActionQuery {
    state: Option<String>,
    #[allow(dead_code)]
    force: Option<String>,
}

/// `PUT /cluster/{name}/action?state=start|stop|resume` (not in 2.2.0).
pub async fn action(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    Query(q): Query<ActionQuery>,
    headers: HeaderMap,
) -> Response {
    if legacy() {
        return container_error(StatusCode::NOT_FOUND, "Not Found");
    }
    run_action(&sim, &name, q.state.as_deref(), &headers)
}

/// `PUT /cluster/{name}?state=...` (the legacy form; a JSON body without
/// `state` updates resource pools and datastores instead).
pub async fn legacy_update(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    Query(q): Query<ActionQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let json_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !legacy() && !json_type {
        return BddError::internal(None).into_response(); // consumes="application/json"
    }
    if q.state.is_some() {
        return run_action(&sim, &name, q.state.as_deref(), &headers);
    }
    let update: HashMap<String, Value> = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => return BddError::internal(Some(&e.to_string())).into_response(),
    };
    let mut world = sim.world.lock().expect("world");
    let Some(cluster) = world.clusters.get_mut(&name) else {
        return not_found(&name).into_response();
    };
    if let Some(rps) = update.get("rpNames").and_then(|v| v.as_array()) {
        cluster.rp_names = rps.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
    }
    StatusCode::OK.into_response()
}

fn run_action(sim: &Arc<Sim>, name: &str, state: Option<&str>, headers: &HeaderMap) -> Response {
    if let Err(e) = check_name(name) {
        return e.into_response();
    }
    let Some(state) = state else {
        return BddError::internal(None).into_response(); // missing required parameter: 500
    };
    let mut world = sim.world.lock().expect("world");
    let Some(cluster) = world.clusters.get_mut(name) else {
        return not_found(name).into_response();
    };
    use ClusterStatus::*;
    let status = cluster.status;
    let (next, job): (ClusterStatus, jobs::Power) = match state {
        "stop" => match status {
            Stopped => {
                return BddError::new("CLUSTER.IS_STOPPED", format!("Cluster {name} is already stopped."))
                    .into_response();
            }
            Running | ServiceWarning | ServiceStopped | Error => (Stopping, jobs::Power::Stop),
            _ => {
                return BddError::new("CLUSTER.CANNOT_STOP", format!("Cannot stop cluster {name}.")).into_response();
            }
        },
        "start" => match status {
            Running | ServiceWarning => {
                return BddError::new("CLUSTER.IS_RUNNING", format!("Cluster {name} is already running."))
                    .into_response();
            }
            Stopped | Error => (Starting, jobs::Power::Start),
            _ => {
                return BddError::new("CLUSTER.CANNOT_START", format!("Cannot start cluster {name}.")).into_response();
            }
        },
        "resume" => match status {
            ProvisionError | Expanding => (Provisioning, jobs::Power::Resume),
            _ => {
                return BddError::new(
                    "CLUSTER.CANNOT_UPDATE",
                    format!("Cannot update cluster {name}.To update a cluster, its status must be PROVISION_ERROR"),
                )
                .into_response();
            }
        },
        other => return BddError::invalid("cluster state", other).into_response(),
    };
    cluster.status = next;
    let task = world.new_task(name, "INNER");
    drop(world);
    jobs::spawn_power(sim.clone(), name.to_string(), task, job);
    accepted(headers, task)
}

/// `PUT /cluster/{name}/nodegroup/{group}/instancenum` with a bare integer body.
pub async fn resize(
    State(sim): State<Arc<Sim>>,
    Path((name, group)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Json(count): Json<i64>,
) -> Response {
    if let Err(e) = check_name(&name) {
        return e.into_response();
    }
    if !rules::is_valid_node_group_name(&group) {
        return BddError::invalid("node group name", &group).into_response();
    }
    if count <= 0 {
        return BddError::invalid("node group instance number", &count.to_string()).into_response();
    }
    let count = count as usize;
    let (task, shrink) = {
        let mut world = sim.world.lock().expect("world");
        let Some(cluster) = world.clusters.get_mut(&name) else {
            return not_found(&name).into_response();
        };
        let status = cluster.status;
        let Some(g) = cluster.groups.iter_mut().find(|g| g.name == group) else {
            return BddError::new("CLUSTER.NODEGROUP_NOT_FOUND", format!("Node group {group} not found."))
                .into_response();
        };
        if let Some(role) = g.roles.iter().find(|r| UNSCALABLE_ROLES.contains(&r.as_str())) {
            return BddError::new(
                "CLUSTER.ROLES_NOT_SUPPORTED",
                format!("Cannot resize node group {group}: role {role} does not support scaling out."),
            )
            .into_response();
        }
        if !matches!(status, ClusterStatus::Running | ClusterStatus::ServiceWarning) {
            return BddError::new(
                "CLUSTER.CANNOT_UPDATE",
                format!("Cannot update cluster {name}.To update a cluster, its status must be RUNNING"),
            )
            .into_response();
        }
        if count == g.nodes.len() {
            return BddError::new(
                "CLUSTER.NO_NEED_TO_RESIZE",
                format!("The node group {group} already has {count} instances."),
            )
            .into_response();
        }
        let shrink = count < g.nodes.len();
        g.instance_num = count;
        if !shrink {
            let existing = g.nodes.len();
            g.nodes.extend((existing..count).map(|i| Node::new(&name, &group, i)));
        }
        cluster.status = if shrink {
            ClusterStatus::Maintenance
        } else {
            ClusterStatus::Updating
        };
        let task = world.new_task(&name, if shrink { "SHRINK" } else { "INNER" });
        (task, shrink.then_some(status))
    };
    jobs::spawn_resize(sim.clone(), name, group, task, count, shrink);
    // The path check runs after the job is launched (RestResource.redirectRequest).
    let path = uri.path().strip_prefix(bde_serengeti::API_PREFIX).unwrap_or(uri.path());
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '*'))
    {
        return BddError::invalid("requested path info", path).into_response();
    }
    accepted(&headers, task)
}

/// vSphere's limits for the clones' hardware version (vmx-9 and later: `VcResourceUtils`).
const MAX_CPUS: i32 = 64;
const MAX_MEMORY_MB: i64 = 1011 * 1024;

/// `PUT /cluster/{name}/nodegroup/{group}/scale` with a `ResourceScale` body. BDE reads
/// the names from the body (the path's are only format-checked), checks no cluster
/// status, and keeps the group's new values even if a VM fails (`ScaleManager`).
pub async fn scale(
    State(sim): State<Arc<Sim>>,
    Path((name, group)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<ResourceScale>,
) -> Response {
    if legacy() {
        return container_error(StatusCode::NOT_FOUND, "not in BDE 2.2.0");
    }
    if let Err(e) = check_name(&name) {
        return e.into_response();
    }
    if !rules::is_valid_node_group_name(&group) {
        return BddError::invalid("node group name", &group).into_response();
    }
    let (cluster_name, group) = (body.cluster_name.clone(), body.node_group_name.clone());
    if body.cpu_number <= 0 && body.memory < 1024 {
        return BddError::new(
            "BDD.INVALID_PARAMETER_WITHOUT_EQUALS_SIGN",
            format!(
                "Invalid value: node group scale parameter. The number of CPUs must be greater than zero, and the \
                 memory size in MB must be greater than or equal to 1024:clusterName={cluster_name},nodeGroup={group},\
                 cpuNumber={},memory={}.",
                body.cpu_number, body.memory
            ),
        )
        .into_response();
    }
    let memory = if body.memory > 0 { body.memory / 4 * 4 } else { 0 };
    let (task, previous) = {
        let mut world = sim.world.lock().expect("world");
        let Some(cluster) = world.clusters.get_mut(&cluster_name) else {
            return not_found(&cluster_name).into_response();
        };
        // BDE dereferences the group it did not find.
        let Some(g) = cluster.groups.iter_mut().find(|g| g.name == group) else {
            return BddError::internal(None).into_response();
        };
        let cpus = if body.cpu_number > 0 {
            body.cpu_number
        } else {
            g.cpu_num
        };
        let memory = if memory > 0 { memory } else { i64::from(g.mem_mb) };
        if cpus == g.cpu_num && memory == i64::from(g.mem_mb) {
            return BddError::new(
                "SCALE_SERVICE.NOT_NEEDED",
                format!("Cluster {cluster_name} does not need scaling."),
            )
            .into_response();
        }
        let first = g.nodes.first().map(|n| n.name.clone()).unwrap_or_default();
        if cpus > MAX_CPUS {
            return BddError::new(
                "VC_PROVIDER.CPU_EXCEED_LIMIT",
                format!("Invalid value: numCPUs={cpus}. For virtual machine {first}, the maximum number of CPUs is {MAX_CPUS}."),
            )
            .into_response();
        }
        if memory > MAX_MEMORY_MB {
            return BddError::new(
                "VC_PROVIDER.MEMORY_EXCEED_LIMIT",
                format!("Invalid value: memoryMB={memory}. For virtual machine {first}, the maximum memory is {MAX_MEMORY_MB} MB."),
            )
            .into_response();
        }
        g.cpu_num = cpus;
        g.mem_mb = memory as i32;
        let previous = cluster.status;
        cluster.status = ClusterStatus::Maintenance;
        (world.new_task(&cluster_name, "INNER"), previous)
    };
    jobs::spawn_scale(sim.clone(), cluster_name, group, task, previous);
    accepted(&headers, task)
}

/// `POST /cluster/{name}/nodegroups` with `{"nodeGroups": [...]}` (BDE 2.3's expand:
/// `ClusterManager.expandCluster`). A group still being provisioned may be sent again.
pub async fn expand(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(add): Json<NodeGroupAdd>,
) -> Response {
    if legacy() {
        return container_error(StatusCode::NOT_FOUND, "not in BDE 2.2.0");
    }
    if let Err(e) = check_name(&name) {
        return e.into_response();
    }
    if add.node_groups.is_empty() {
        return BddError::internal(None).into_response(); // an assertion, at HEAD
    }
    for g in &add.node_groups {
        let gname = g.name.clone().unwrap_or_default();
        if !rules::is_valid_node_group_name(&gname) {
            return BddError::new(
                "CLUSTER_CONFIG.NODE_GROUP_NAME_IS_INVALID",
                format!("Invalid node group name '{gname}'. Revise the cluster specification file."),
            )
            .into_response();
        }
        if g.roles.as_ref().is_none_or(|r| r.is_empty()) {
            return BddError::new(
                "CLUSTER_CONFIG.NO_HADOOP_ROLE_SPECIFIED",
                format!("No Hadoop role is specified in node group {gname}."),
            )
            .into_response();
        }
    }
    let task = {
        let mut world = sim.world.lock().expect("world");
        let Some(cluster) = world.clusters.get_mut(&name) else {
            return BddError::new(
                "CLUSTER_CONFIG.CLUSTER_CONFIG_NOT_FOUND",
                format!("Cannot find cluster configuration for cluster {name}."),
            )
            .into_response();
        };
        if !matches!(cluster.status, ClusterStatus::Running | ClusterStatus::ProvisionError) {
            return BddError::new(
                "CLUSTER.CLUSTER_STATUS_NOT_READY_FOR_EXPAND",
                format!("To expand cluster {name}, its status must be RUNNING or PROVISION_ERROR."),
            )
            .into_response();
        }
        for g in &add.node_groups {
            let gname = g.name.clone().unwrap_or_default();
            if let Some(e) = size_not_set(g) {
                return e.into_response();
            }
            if g.instance_num == 0 {
                return BddError::new(
                    "CLUSTER.NODE_GROUP_CANNOT_BE_ZERO",
                    format!("Do not set the instance number to 0 in node group {gname}."),
                )
                .into_response();
            }
            match cluster.groups.iter().find(|x| x.name == gname) {
                // Still being provisioned (a VM not cloned yet): the expand may be retried.
                Some(existing) if existing.nodes.iter().any(|n| n.vm.is_none()) => {}
                Some(_) => {
                    return BddError::new(
                        "CLUSTER.NODE_GROUP_ALREADY_EXISTED",
                        format!("Node group {gname} exists in cluster {name}. Do not use the same node group name."),
                    )
                    .into_response();
                }
                None => cluster.groups.push(group_of(&name, g)),
            }
        }
        cluster.status = ClusterStatus::Expanding;
        world.new_task(&name, "INNER")
    };
    let groups = add.node_groups.iter().filter_map(|g| g.name.clone()).collect();
    jobs::spawn_expand(sim.clone(), name, groups, task);
    accepted(&headers, task)
}

/// `PUT /cluster/{name}/config` with a `ClusterCreate` body (`ClusterManager.configCluster`,
/// `ClusterConfigManager.updateAppConfig`): the cluster's and every group's configuration
/// are replaced, one left out cleared; BDE then reconfigures the software.
pub async fn configure(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(spec): Json<ClusterCreate>,
) -> Response {
    if let Err(e) = check_name(&name) {
        return e.into_response();
    }
    let task = {
        let mut world = sim.world.lock().expect("world");
        let Some(cluster) = world.clusters.get_mut(&name) else {
            return not_found(&name).into_response();
        };
        if !matches!(
            cluster.status,
            ClusterStatus::Running
                | ClusterStatus::ServiceWarning
                | ClusterStatus::ConfigureError
                | ClusterStatus::ServiceStopped
        ) {
            return BddError::new(
                "CLUSTER.CANNOT_UPDATE",
                format!(
                    "Cannot update cluster {name}.To update a cluster, its status must be RUNNING, CONFIGURE_ERROR or \
                     SERVICE_ERROR."
                ),
            )
            .into_response();
        }
        let sent = spec.node_groups.clone().unwrap_or_default();
        // A group the cluster does not have is dereferenced by BDE: 500.
        if sent
            .iter()
            .any(|g| !cluster.groups.iter().any(|c| Some(&c.name) == g.name.as_ref()))
        {
            return BddError::internal(None).into_response();
        }
        cluster.configuration = spec.configuration.clone();
        for group in &mut cluster.groups {
            group.configuration = sent
                .iter()
                .find(|g| g.name.as_ref() == Some(&group.name))
                .and_then(|g| g.configuration.clone());
        }
        cluster.status = ClusterStatus::Configuring;
        world.new_task(&name, "INNER")
    };
    jobs::spawn_configure(sim.clone(), name, task);
    accepted(&headers, task)
}
