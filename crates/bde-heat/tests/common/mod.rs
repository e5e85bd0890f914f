//! What the CLI's world suites share: cluster files, running the CLI, and the
//! checks that a cluster is wired (one right port per VM) or wholly gone.
#![allow(dead_code)] // each test binary uses its own part

pub mod tls_front;

use std::path::PathBuf;
use std::process::{Command, Output};

use bde_openstack::Neutron;
use bde_testworld::{WorldNet, bde, unique, vcenter};
use serde_json::{Value, json};

pub fn network() -> WorldNet {
    WorldNet::create("10.80.0.0/24")
}

/// Writes a cluster file (credentials come from the environment, as the README says).
pub fn cluster_file(name: &str, net: &WorldNet, groups: Value) -> PathBuf {
    let dir = std::env::temp_dir().join(unique("bde-heat-cli-"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.yaml"));
    let spec = json!({"cluster_name": name, "network": net.network_id, "subnet": net.subnet_id, "distro": "bigtop",
                      "dhcp_grace_seconds": 20, "node_groups": groups});
    // JSON is YAML.
    std::fs::write(&path, spec.to_string()).unwrap();
    path
}

pub fn cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the CLI with its most talkative log (every target at trace).
pub fn cli_debug(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args(args)
        .env("BDE_HEAT_LOG", "trace")
        .output()
        .unwrap()
}

pub fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One master and `workers` workers.
pub fn master_and_workers(workers: u32) -> Value {
    json!([
        {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
        {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": workers}])
}

/// The names of the cluster's VMs in vCenter, sorted.
pub async fn cluster_vm_names(name: &str) -> Vec<String> {
    let vc = vcenter().await;
    let mut names: Vec<String> = vc
        .vms(None)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .filter(|n| n.starts_with(&format!("{name}-")))
        .collect();
    vc.logout().await;
    names.sort();
    names
}

/// Neither the cluster nor the BDE network of `net` is in BDE.
pub async fn assert_nothing_in_bde(name: &str, net: &WorldNet) {
    let bde = bde().await;
    assert!(
        bde.cluster(name, false).await.unwrap().is_none(),
        "BDE cluster {name} exists"
    );
    for name in [
        format!("neutron-{}", net.network_id),
        format!("neutron-{}-static", net.network_id),
    ] {
        assert!(bde.network(&name).await.unwrap().is_none(), "BDE network {name} exists");
    }
}

pub fn three_groups() -> Value {
    json!([
        {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1, "memory_mb": 4096},
        {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 3},
        {"name": "client", "roles": ["hadoop_client"], "instance_num": 1}])
}

/// Every node's port carries its MAC, the compute owner, the instanceUuid and an address of the subnet,
/// and there is exactly one port per VM NIC.
pub async fn assert_wired(report: &Value, net: &WorldNet, neutron: &Neutron) {
    let ports = neutron
        .list_ports(&[("network_id", net.network_id.as_str())])
        .await
        .unwrap();
    let nodes = report["nodes"].as_array().unwrap();
    assert_eq!(ports.len(), nodes.len(), "one port per VM, no other: {ports:?}");
    for node in nodes {
        let port = ports
            .iter()
            .find(|p| Some(p.id.as_str()) == node["port_id"].as_str())
            .expect("its port");
        assert_eq!(port.mac_address, node["mac"].as_str().unwrap());
        assert_eq!(port.device_owner, "compute:bde");
        assert_eq!(port.device_id, node["instance_uuid"].as_str().unwrap());
        assert_eq!(port.name, format!("{}-port0", node["name"].as_str().unwrap()));
        assert_eq!(port.fixed_ips[0].subnet_id, net.subnet_id);
        assert_eq!(
            Some(port.ip().unwrap()),
            node["ip"].as_str(),
            "the node's address is its port's"
        );
    }
}

pub async fn assert_gone(name: &str, net: &WorldNet, neutron: &Neutron) {
    assert_gone_but_network(name, net, neutron).await;
    net.delete();
}

/// No VM, port, BDE cluster or BDE network of the cluster is left (the Neutron network stays).
pub async fn assert_gone_but_network(name: &str, net: &WorldNet, neutron: &Neutron) {
    let left = cluster_vm_names(name).await;
    assert!(left.is_empty(), "VMs left: {left:?}");
    assert!(
        neutron
            .list_ports(&[("network_id", net.network_id.as_str())])
            .await
            .unwrap()
            .is_empty(),
        "ports left"
    );
    assert_nothing_in_bde(name, net).await;
}
