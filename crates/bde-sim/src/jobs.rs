//! BDE's jobs: create (and resume), delete, stop, start, resize. Each runs in
//! the background, moves node rows through BDE's statuses and actions, and
//! ends the task and the cluster in the reference's final statuses.

use std::sync::Arc;
use std::time::Instant;

use bde_serengeti::{ClusterStatus, NodeResult, NodeStatus};
use bde_vsphere::MoRef;
use tokio::task::JoinSet;

use crate::sim::Sim;
use crate::state::{Cluster, Node, Task};
use crate::{addresses, spoofguard};

/// What a power job does.
#[derive(Debug, Clone, Copy)]
pub enum Power {
    /// Power the VMs off.
    Stop,
    /// Power them on and wait for addresses.
    Start,
    /// Finish a create that failed.
    Resume,
}

fn with_cluster<T>(sim: &Sim, name: &str, f: impl FnOnce(&mut Cluster) -> T) -> Option<T> {
    sim.world.lock().expect("world").clusters.get_mut(name).map(f)
}

fn with_node<T>(sim: &Sim, cluster: &str, node: &str, f: impl FnOnce(&mut Node) -> T) -> Option<T> {
    sim.world
        .lock()
        .expect("world")
        .clusters
        .get_mut(cluster)
        .and_then(|c| c.node_mut(node))
        .map(f)
}

fn with_task(sim: &Sim, id: i64, f: impl FnOnce(&mut Task)) {
    if let Some(t) = sim.world.lock().expect("world").tasks.get_mut(&id) {
        f(t);
    }
}

fn finish(sim: &Sim, task: i64, error: Option<String>) {
    with_task(sim, task, |t| match error {
        None => {
            t.status = "COMPLETED".into();
            t.progress = 1.0;
        }
        Some(e) => {
            t.status = "FAILED".into();
            t.error_message = Some(e);
        }
    });
}

/// What provisioning a node needs to know.
#[derive(Debug, Clone)]
struct NodePlan {
    cluster: String,
    group: String,
    node: String,
    cpu: i32,
    mem: i32,
    port_group: String,
    /// The other traffic networks' portgroups: a NIC on each.
    extra_port_groups: Vec<String>,
    /// Its data disks' sizes (GB), as the group's storage asks.
    data_disks_gb: Vec<u32>,
    /// The address BDE reserved for each NIC (management's first), on static networks.
    static_ips: Vec<Option<String>>,
}

/// A group's data disks: `diskNum` of them (BDE's split when 0 or none: one here, the
/// world having one datastore), sharing `sizeGB`.
fn data_disks(storage: &serde_json::Value) -> Vec<u32> {
    let size = storage["sizeGB"].as_u64().unwrap_or(0) as u32;
    let count = storage["diskNum"].as_u64().filter(|n| *n > 0).unwrap_or(1) as u32;
    if size == 0 {
        return Vec::new();
    }
    vec![size.div_ceil(count); count as usize]
}

fn plans(sim: &Sim, cluster: &str, only: impl Fn(&Node) -> bool) -> Vec<NodePlan> {
    let world = sim.world.lock().expect("world");
    let Some(c) = world.clusters.get(cluster) else {
        return Vec::new();
    };
    c.nodes()
        .filter(|(_, n)| only(n))
        .map(|(g, n)| NodePlan {
            cluster: c.name.clone(),
            group: g.name.clone(),
            node: n.name.clone(),
            cpu: g.cpu_num,
            mem: g.mem_mb,
            port_group: c.port_group.clone(),
            extra_port_groups: c.traffic.iter().map(|(_, _, pg)| pg.clone()).collect(),
            data_disks_gb: data_disks(&g.storage),
            static_ips: (0..=c.traffic.len()).map(|i| n.static_ip_of(i).cloned()).collect(),
        })
        .collect()
}

fn fail_node(sim: &Sim, plan: &NodePlan, action: &str, message: String) -> String {
    with_node(sim, &plan.cluster, &plan.node, |n| {
        n.action = Some(action.into());
        n.action_failed = true;
        n.err_message = Some(message.clone());
    });
    message
}

/// Clones (if needed), reconfigures, powers on, and waits for the address, as
/// `CreateVmSP` and `StartVmPostPowerOn` do. Repeats only what is missing.
async fn provision_node(sim: Arc<Sim>, plan: NodePlan) -> Result<(), String> {
    let existing = with_node(&sim, &plan.cluster, &plan.node, |n| (n.vm.clone(), n.mac.clone())).flatten_pair();
    let (vm, mac) = match existing {
        Some((vm, mac)) => (vm, mac),
        None => {
            with_node(&sim, &plan.cluster, &plan.node, |n| {
                n.action = Some("Cloning VM".into());
                n.action_failed = false;
                n.err_message = None;
            });
            sim.clock
                .sleep(sim.cfg.timing.clone, &format!("{}/clone", plan.node))
                .await;
            if sim.faults.lock().expect("faults").fail_clone.contains(&plan.node) {
                let msg = format!("Failed to clone VM {}: the clone task failed.", plan.node);
                return Err(fail_node(&sim, &plan, "Cloning VM failed", msg));
            }
            let mut mac = sim.vc.fresh_mac();
            if sim.faults.lock().expect("faults").bad_mac.contains(&plan.node) {
                mac = format!("{}:zz", &mac[..14]);
            }
            let cloned = async {
                let (folder, pool) = sim.vc.group_location(&plan.cluster, &plan.group).await?;
                sim.vc
                    .clone_vm(&plan.node, &folder, &pool, &plan.port_group, &mac)
                    .await
            }
            .await;
            let vm = cloned.map_err(|e| fail_node(&sim, &plan, "Cloning VM failed", e.message))?;
            let extra: Vec<(String, String)> = plan
                .extra_port_groups
                .iter()
                .map(|pg| (pg.clone(), sim.vc.fresh_mac()))
                .collect();
            sim.vc
                .add_nics(&vm, &extra)
                .await
                .map_err(|e| fail_node(&sim, &plan, "Cloning VM failed", e.message))?;
            sim.vc
                .add_disks(&vm, &plan.data_disks_gb)
                .await
                .map_err(|e| fail_node(&sim, &plan, "Cloning VM failed", e.message))?;
            let t = sim.clock.now();
            with_node(&sim, &plan.cluster, &plan.node, |n| {
                n.vm = Some(vm.clone());
                n.mac = Some(mac.clone());
                n.extra_macs = extra.iter().map(|(_, m)| m.clone()).collect();
                n.extra_ips = vec![None; extra.len()];
                n.status = NodeStatus::PoweredOff;
                n.action = Some("Reconfiguring VM".into());
                n.timeline.cloned = Some(t);
            });
            sim.clock
                .sleep(sim.cfg.timing.reconfigure, &format!("{}/reconfigure", plan.node))
                .await;
            sim.vc
                .reconfigure(&vm, plan.cpu, plan.mem, &plan.node)
                .await
                .map_err(|e| fail_node(&sim, &plan, "VM creation failed", e.message))?;
            (vm, mac)
        }
    };
    sim.clock
        .sleep(sim.cfg.timing.power_on, &format!("{}/power", plan.node))
        .await;
    sim.vc
        .power_on(&vm)
        .await
        .map_err(|e| fail_node(&sim, &plan, "VM creation failed", e.message))?;
    let extra_macs = with_node(&sim, &plan.cluster, &plan.node, |n| n.extra_macs.clone()).unwrap_or_default();
    let nics: Vec<(String, String)> = std::iter::once((mac.clone(), plan.port_group.clone()))
        .chain(extra_macs.into_iter().zip(plan.extra_port_groups.iter().cloned()))
        .collect();
    sim.guests
        .watch(vm.clone(), &plan.cluster, &plan.node, &nics, &plan.static_ips);
    let host = sim
        .cfg
        .inventory
        .hosts
        .get(vm.value.len() % sim.cfg.inventory.hosts.len().max(1))
        .cloned();
    with_node(&sim, &plan.cluster, &plan.node, |n| {
        if n.status < NodeStatus::PoweredOn {
            n.status = NodeStatus::PoweredOn;
        }
        n.action = Some("Waiting for ip".into());
        n.host_name = host;
    });
    wait_for_address(&sim, &plan).await
}

trait FlattenPair<A, B> {
    fn flatten_pair(self) -> Option<(A, B)>;
}

impl<A, B> FlattenPair<A, B> for Option<(Option<A>, Option<B>)> {
    fn flatten_pair(self) -> Option<(A, B)> {
        match self {
            Some((Some(a), Some(b))) => Some((a, b)),
            _ => None,
        }
    }
}

/// BDE's wait: every NIC must have a non-0.0.0.0 address within 600 s (checked every 10 s).
async fn wait_for_address(sim: &Sim, plan: &NodePlan) -> Result<(), String> {
    let deadline = Instant::now() + sim.clock.scaled(sim.cfg.timing.ip_wait);
    loop {
        let ready = with_node(sim, &plan.cluster, &plan.node, |n| {
            // BDE waits for an address on every network.
            if n.addressed() {
                n.status = n.status.max(NodeStatus::VmReady);
                n.action = None;
                true
            } else {
                false
            }
        });
        match ready {
            None => return Err(format!("node {} is gone", plan.node)),
            Some(true) => {
                tracing::info!(node = plan.node, "VM Ready");
                return Ok(());
            }
            Some(false) if Instant::now() >= deadline => {
                let msg = format!("Failed to query IP address of VM {}.", plan.node);
                return Err(fail_node(sim, plan, "Failed to query IP address", msg));
            }
            Some(false) => tokio::time::sleep(sim.clock.scaled(sim.cfg.timing.ip_check)).await,
        }
    }
}

/// Provisions the given nodes concurrently; returns the failures.
async fn provision_all(sim: &Arc<Sim>, task: i64, plans: Vec<NodePlan>) -> Vec<String> {
    let total = plans.len().max(1) as f64;
    let mut set = JoinSet::new();
    for plan in plans {
        set.spawn(provision_node(sim.clone(), plan));
    }
    let (mut done, mut failures) = (0.0, Vec::new());
    while let Some(result) = set.join_next().await {
        done += 1.0;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(format!("internal error: {e}")),
        }
        with_task(sim, task, |t| t.progress = 0.2 + 0.6 * done / total);
    }
    failures
}

/// `createClusterPlanStep`'s reservation of static addresses for the nodes
/// without one (a create's, a grow's or an expand's new nodes).
fn reserve_addresses(sim: &Sim, cluster: &str) -> Result<(), String> {
    let mut world = sim.world.lock().expect("world");
    addresses::reserve(&mut world, cluster).map_err(|e| {
        tracing::info!(cluster, "no free static addresses");
        e.to_string()
    })
}

/// Marks nodes the bootstrap could not reach; returns the first message.
fn fail_unreachable(sim: &Sim, cluster: &str, nodes: &[String]) -> String {
    let mut first = None;
    for node in nodes {
        let message = format!("Failed to bootstrap node {node}: it is unreachable.");
        with_node(sim, cluster, node, |n| {
            n.action = Some("Bootstrap failed".into());
            n.action_failed = true;
            n.err_message = Some(message.clone());
        });
        first.get_or_insert(message);
    }
    first.unwrap_or_default()
}

/// The software steps after VM Ready: passwords, hostnames, bootstrap. A static
/// node must first be reachable (its port made), or the bootstrap fails.
async fn bootstrap(sim: &Sim, cluster: &str) -> Result<(), String> {
    let unreachable = spoofguard::unreachable_after_wait(sim, cluster).await;
    if !unreachable.is_empty() {
        tracing::info!(cluster, ?unreachable, "bootstrap failed: nodes unreachable");
        return Err(fail_unreachable(sim, cluster, &unreachable));
    }
    sim.clock
        .sleep(sim.cfg.timing.software, &format!("{cluster}/software"))
        .await;
    with_cluster(sim, cluster, |c| {
        for g in &mut c.groups {
            for n in &mut g.nodes {
                if n.status == NodeStatus::VmReady {
                    n.status = NodeStatus::ServiceReady;
                    // A resume's bootstrap clears an earlier one's failure.
                    n.action = None;
                    n.action_failed = false;
                    n.err_message = None;
                }
            }
        }
    });
    Ok(())
}

/// The create job (and resume, which repeats only what is missing).
pub fn spawn_create(sim: Arc<Sim>, cluster: String, task: i64) {
    tokio::spawn(async move { run_provision(sim, cluster, task, ClusterStatus::ProvisionError).await });
}

async fn run_provision(sim: Arc<Sim>, cluster: String, task: i64, failed: ClusterStatus) {
    with_task(&sim, task, |t| t.progress = 0.1);
    let result = provision_and_bootstrap(&sim, &cluster, task).await;
    if let Err(e) = &result {
        tracing::info!(cluster, error = e, "create failed");
    }
    with_cluster(&sim, &cluster, |c| {
        c.status = if result.is_ok() { ClusterStatus::Running } else { failed }
    });
    finish(&sim, task, result.err());
}

/// The create job's steps, from the plan to the bootstrap; the task's message on failure.
async fn provision_and_bootstrap(sim: &Arc<Sim>, cluster: &str, task: i64) -> Result<(), String> {
    // The plan step fails before any clone, with the bare message.
    reserve_addresses(sim, cluster)?;
    let plans = plans(sim, cluster, |n| n.ip.is_none() || n.vm.is_none());
    let failures = provision_all(sim, task, plans).await;
    if let Some(first) = failures.first() {
        return Err(format!(
            "Failed to create virtual machine for cluster {cluster}. {first}"
        ));
    }
    bootstrap(sim, cluster).await
}

/// The delete job: VMs, then BDE's folders and pools, then the rows.
pub fn spawn_delete(sim: Arc<Sim>, cluster: String, task: i64) {
    tokio::spawn(async move {
        let vms: Vec<(String, MoRef)> = {
            let world = sim.world.lock().expect("world");
            world.clusters.get(&cluster).map_or_else(Vec::new, |c| {
                c.nodes()
                    .filter_map(|(_, n)| n.vm.clone().map(|vm| (n.name.clone(), vm)))
                    .collect()
            })
        };
        let mut set = JoinSet::new();
        for (name, vm) in vms {
            let sim = sim.clone();
            set.spawn(async move {
                sim.clock.sleep(sim.cfg.timing.delete, &format!("{name}/delete")).await;
                sim.guests.forget(&vm);
                sim.vc.destroy(&vm).await.map_err(|e| e.message)
            });
        }
        let mut failure = None;
        while let Some(r) = set.join_next().await {
            if let Ok(Err(e)) = r {
                failure.get_or_insert(e);
            }
        }
        if let Some(e) = failure {
            with_cluster(&sim, &cluster, |c| c.status = ClusterStatus::Error);
            finish(&sim, task, Some(format!("Failed to delete cluster {cluster}. {e}")));
            return;
        }
        sim.vc.remove_layout(&cluster).await;
        sim.world.lock().expect("world").clusters.remove(&cluster);
        finish(&sim, task, None);
    });
}

/// Stop, start and resume.
pub fn spawn_power(sim: Arc<Sim>, cluster: String, task: i64, what: Power) {
    tokio::spawn(async move {
        match what {
            Power::Resume => run_provision(sim, cluster, task, ClusterStatus::ProvisionError).await,
            Power::Start => {
                let plans = plans(&sim, &cluster, |n| n.vm.is_some());
                let result = provision_then_bootstrap(&sim, &cluster, task, plans).await;
                with_cluster(&sim, &cluster, |c| {
                    c.status = if result.is_ok() {
                        ClusterStatus::Running
                    } else {
                        ClusterStatus::Error
                    }
                });
                finish(
                    &sim,
                    task,
                    result.err().map(|e| format!("Failed to start cluster {cluster}. {e}")),
                );
            }
            Power::Stop => {
                let plans = plans(&sim, &cluster, |n| n.vm.is_some());
                let mut failure = None;
                for plan in plans {
                    let vm = with_node(&sim, &cluster, &plan.node, |n| n.vm.clone()).flatten();
                    let Some(vm) = vm else { continue };
                    sim.clock
                        .sleep(sim.cfg.timing.power_on, &format!("{}/poweroff", plan.node))
                        .await;
                    match sim.vc.power_off(&vm).await {
                        Ok(()) => {
                            with_node(&sim, &cluster, &plan.node, |n| {
                                n.status = NodeStatus::PoweredOff;
                                n.ip = None;
                                n.action = None;
                            });
                        }
                        Err(e) => {
                            failure.get_or_insert(e.message);
                        }
                    }
                }
                with_cluster(&sim, &cluster, |c| {
                    c.status = if failure.is_none() {
                        ClusterStatus::Stopped
                    } else {
                        ClusterStatus::Error
                    }
                });
                finish(
                    &sim,
                    task,
                    failure.map(|e| format!("Failed to stop cluster {cluster}. {e}")),
                );
            }
        }
    });
}

/// Provisions the planned nodes, then bootstraps if they all came up; the first failure.
async fn provision_then_bootstrap(
    sim: &Arc<Sim>,
    cluster: &str,
    task: i64,
    plans: Vec<NodePlan>,
) -> Result<(), String> {
    match provision_all(sim, task, plans).await.into_iter().next() {
        Some(first) => Err(first),
        None => bootstrap(sim, cluster).await,
    }
}

/// A grow's or an expand's steps: the plan step reserves the new nodes' static
/// addresses (failing with its bare message), then they are provisioned and bootstrapped.
async fn add_nodes(
    sim: &Arc<Sim>,
    cluster: &str,
    task: i64,
    new_node: impl Fn(&Node) -> bool,
    verb: &str,
) -> Result<(), String> {
    reserve_addresses(sim, cluster)?;
    let plans = plans(sim, cluster, new_node);
    provision_then_bootstrap(sim, cluster, task, plans)
        .await
        .map_err(|e| format!("Failed to {verb} cluster {cluster}. {e}"))
}

/// Resize: grow provisions the new rows; shrink removes the highest indexes first.
pub fn spawn_resize(
    sim: Arc<Sim>,
    cluster: String,
    group: String,
    task: i64,
    count: usize,
    shrink_from: Option<ClusterStatus>,
) {
    tokio::spawn(async move {
        let Some(previous) = shrink_from else {
            let prefix = format!("{cluster}-{group}-");
            let new_node = |n: &Node| n.vm.is_none() && n.name.starts_with(&prefix);
            let result = add_nodes(&sim, &cluster, task, new_node, "resize").await;
            // Grow ends RUNNING whether it worked or not; failed nodes keep their error.
            with_cluster(&sim, &cluster, |c| c.status = ClusterStatus::Running);
            finish(&sim, task, result.err());
            return;
        };
        let victims: Vec<(String, Option<MoRef>)> = {
            let world = sim.world.lock().expect("world");
            let mut v: Vec<_> = world
                .clusters
                .get(&cluster)
                .and_then(|c| c.groups.iter().find(|g| g.name == group))
                .map(|g| {
                    g.nodes
                        .iter()
                        .filter(|n| n.index >= count)
                        .map(|n| (n.name.clone(), n.vm.clone()))
                        .collect()
                })
                .unwrap_or_default();
            v.reverse();
            v
        };
        let mut failed = false;
        for (name, vm) in victims {
            sim.clock.sleep(sim.cfg.timing.delete, &format!("{name}/delete")).await;
            let result = match &vm {
                Some(vm) => {
                    sim.guests.forget(vm);
                    sim.vc.destroy(vm).await.map_err(|e| e.message)
                }
                None => Ok(()),
            };
            let entry = NodeResult {
                node_name: name.clone(),
                ip: None,
                status: None,
                memory: 0,
                cpu_number: 0,
                succeed: result.is_ok(),
                error_message: result.as_ref().err().cloned(),
            };
            failed |= result.is_err();
            let mut world = sim.world.lock().expect("world");
            if result.is_ok()
                && let Some(g) = world
                    .clusters
                    .get_mut(&cluster)
                    .and_then(|c| c.groups.iter_mut().find(|g| g.name == group))
            {
                g.nodes.retain(|n| n.name != name);
            }
            if let Some(t) = world.tasks.get_mut(&task) {
                let list = if entry.succeed {
                    &mut t.succeed_nodes
                } else {
                    &mut t.fail_nodes
                };
                list.get_or_insert_with(Vec::new).push(entry);
            }
        }
        with_cluster(&sim, &cluster, |c| {
            c.status = if failed { ClusterStatus::Error } else { previous }
        });
        finish(
            &sim,
            task,
            failed.then(|| format!("Failed to shrink node group {group}.")),
        );
    });
}

/// Scale: one VM after another, powered off, given the group's new CPU and memory,
/// and powered on again if it was on (waiting for its address, as a start does).
/// The cluster goes back to the status it had, whatever the VMs did (`ScaleManager`).
pub fn spawn_scale(sim: Arc<Sim>, cluster: String, group: String, task: i64, previous: ClusterStatus) {
    tokio::spawn(async move {
        let prefix = format!("{cluster}-{group}-");
        let plans = plans(&sim, &cluster, |n| n.vm.is_some() && n.name.starts_with(&prefix));
        let total = plans.len().max(1) as f64;
        let mut failures = Vec::new();
        for (i, plan) in plans.into_iter().enumerate() {
            if let Err(e) = scale_node(&sim, &plan).await {
                failures.push(e);
            }
            with_task(&sim, task, |t| t.progress = 0.1 + 0.9 * (i + 1) as f64 / total);
        }
        with_cluster(&sim, &cluster, |c| c.status = previous);
        finish(
            &sim,
            task,
            failures
                .first()
                .map(|e| format!("Failed to scale node group {group}. {e}")),
        );
    });
}

async fn scale_node(sim: &Arc<Sim>, plan: &NodePlan) -> Result<(), String> {
    let found = with_node(sim, &plan.cluster, &plan.node, |n| {
        (n.vm.clone(), n.status >= NodeStatus::PoweredOn)
    });
    let Some((Some(vm), was_on)) = found else {
        return Ok(());
    };
    sim.clock
        .sleep(sim.cfg.timing.power_on, &format!("{}/poweroff", plan.node))
        .await;
    sim.vc
        .power_off(&vm)
        .await
        .map_err(|e| fail_node(sim, plan, "Stopping VM failed", e.message))?;
    with_node(sim, &plan.cluster, &plan.node, |n| {
        n.status = NodeStatus::PoweredOff;
        n.ip = None;
        n.action = Some("Reconfiguring VM".into());
    });
    sim.clock
        .sleep(sim.cfg.timing.reconfigure, &format!("{}/reconfigure", plan.node))
        .await;
    sim.vc
        .reconfigure(&vm, plan.cpu, plan.mem, &plan.node)
        .await
        .map_err(|e| fail_node(sim, plan, "Reconfiguring VM failed", e.message))?;
    if was_on {
        provision_node(sim.clone(), plan.clone()).await?;
    }
    with_node(sim, &plan.cluster, &plan.node, |n| n.action = None);
    Ok(())
}

/// Expand: the new groups' VMs cloned and powered on as a create's are; the cluster
/// ends RUNNING, or PROVISION_ERROR when it failed (`expandClusterJob`).
pub fn spawn_expand(sim: Arc<Sim>, cluster: String, groups: Vec<String>, task: i64) {
    tokio::spawn(async move {
        let new_node =
            |n: &Node| n.vm.is_none() && groups.iter().any(|g| n.name.starts_with(&format!("{cluster}-{g}-")));
        let result = add_nodes(&sim, &cluster, task, new_node, "expand").await;
        with_cluster(&sim, &cluster, |c| {
            c.status = if result.is_ok() {
                ClusterStatus::Running
            } else {
                ClusterStatus::ProvisionError
            }
        });
        finish(&sim, task, result.err());
    });
}

/// Config update: the software reconfigured (the software steps' time), then RUNNING.
pub fn spawn_configure(sim: Arc<Sim>, cluster: String, task: i64) {
    tokio::spawn(async move {
        let result = bootstrap(&sim, &cluster).await;
        with_cluster(&sim, &cluster, |c| c.status = ClusterStatus::Running);
        finish(
            &sim,
            task,
            result
                .err()
                .map(|e| format!("Failed to configure cluster {cluster}. {e}")),
        );
    });
}
