//! The `bde-heat` CLI end to end on the test world: create, wire, repair,
//! delete, bad input, and a create killed mid-way and run again.

mod common;

use std::collections::HashSet;
use std::process::{Command, Output};
use std::time::Duration;

use bde_testworld::{WorldNet, bde, env, member_neutron as neutron, secrets, unique, vcenter, world};
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn create_wires_three_groups_with_zero_resets_and_delete_leaves_nothing() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("cli");
    let file_path = cluster_file(&name, &net, three_groups());
    let file = file_path.to_str().unwrap();
    let create = cli_debug(&["create", "--file", file, "--format", "json"]);
    let report = json_of(&create);
    // Between wiring steps the CLI waited on vCenter's property collector, not a timer.
    let log = String::from_utf8_lossy(&create.stderr);
    assert!(
        !log.contains("property collector failed"),
        "the watch fell back to polling"
    );
    assert!(
        log.contains("WaitForUpdatesEx"),
        "no wait on vCenter's changes in the trace"
    );
    assert_eq!(report["status"], "RUNNING");
    assert_eq!(report["resets"], 0, "{report}");
    assert_eq!(report["nodes"].as_array().unwrap().len(), 5);
    let groups: HashSet<_> = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, HashSet::from(["master", "worker", "client"]));
    let neutron = neutron();
    assert_wired(&report, &net, &neutron).await;

    // A second create is a no-op on a ready cluster.
    let again = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    assert_eq!(again["nodes"], report["nodes"]);

    let status = cli_debug(&["status", "--file", file, "--format", "json"]);
    assert_eq!(json_of(&status)["nodes"].as_array().unwrap().len(), 5);
    let state = std::fs::read_to_string(format!("{file}.state.json")).unwrap();
    let deleted_out = cli_debug(&["delete", "--file", file, "--format", "json"]);
    let deleted = json_of(&deleted_out);
    assert_eq!(deleted["status"], "DELETED");
    // No password or session cookie in any output, debug log or the stored state.
    let everything = [&create, &status, &deleted_out]
        .iter()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .collect::<String>()
        + &state;
    assert!(everything.contains("bde_engine"), "the debug log was captured");
    for secret in secrets() {
        assert!(
            !everything.contains(&secret),
            "a secret leaked into output, logs or state"
        );
    }
    assert!(!everything.contains("JSESSIONID="), "a session cookie leaked");
    assert!(!everything.contains("gAAAAA"), "a Keystone (fernet) token leaked");
    json_of(&cli(&["delete", "--file", file, "--format", "json"])); // twice is harmless
    assert_gone_but_network(&name, &net, &neutron).await;

    // The same file creates the cluster anew after a delete.
    let again = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    assert_eq!(
        (again["status"].as_str(), again["nodes"].as_array().unwrap().len()),
        (Some("RUNNING"), 5)
    );
    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

#[tokio::test]
async fn late_ports_get_exactly_the_stuck_vms_reset_and_the_cluster_completes() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("late");
    let file = cluster_file(&name, &net, master_and_workers(3));
    // NSX-v programs the DHCP binding of worker-1 too late for its guest's first try (85 s of real-world
    // time: after the 60 s DHCP window, before the reset the engine makes after its grace).
    let http = sim_http();
    let faults = format!("{}/sim/faults", env("BDE_ENDPOINT"));
    // PATCH: only these knobs, so tests running beside this one keep theirs.
    http.patch(&faults)
        .json(&json!({"binding_delay_seconds": 85, "binding_delay_nodes": [format!("{name}-worker-1")]}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let out = cli(&["create", "--file", file.to_str().unwrap(), "--format", "json"]);
    http.patch(&faults)
        .json(&json!({"binding_delay_seconds": null, "binding_delay_nodes": null}))
        .send()
        .await
        .unwrap();
    let report = json_of(&out);
    assert_eq!(report["status"], "RUNNING");
    let reset: Vec<_> = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["resets"].as_u64().unwrap() > 0)
        .map(|n| (n["name"].as_str().unwrap(), n["resets"].as_u64().unwrap()))
        .collect();
    let stuck = format!("{name}-worker-1");
    assert_eq!(reset, [(stuck.as_str(), 1)], "only worker-1 was reset, once: {report}");
    assert_eq!(report["resets"], 1);
    let neutron = neutron();
    assert_wired(&report, &net, &neutron).await;
    // The timeline, from the state alone: one row per VM, the reset on worker-1's.
    let table = String::from_utf8(cli(&["timeline", "--file", file.to_str().unwrap()]).stdout).unwrap();
    let resets_of = |vm: &str| {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{vm} ")))
            .unwrap_or_else(|| panic!("{vm}: {table}"));
        row.split_whitespace().nth(5).unwrap().to_string()
    };
    assert_eq!(resets_of(&stuck), "1", "{table}");
    assert_eq!(resets_of(&format!("{name}-worker-0")), "0", "{table}");
    assert!(table.contains("4 VMs:"), "{table}");
    let svg = file.with_extension("svg");
    cli(&[
        "timeline",
        "--file",
        file.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(
        picture.starts_with("<svg") && picture.contains(&format!("\n{stuck}\n")),
        "one row per VM"
    );
    json_of(&cli(&["delete", "--file", file.to_str().unwrap(), "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

#[tokio::test]
async fn a_create_killed_mid_way_and_run_again_makes_no_duplicate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("kill");
    let file = cluster_file(&name, &net, master_and_workers(3));
    let file = file.to_str().unwrap();
    for delay_ms in [1500, 2500, 3500] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bde-heat"))
            .args(["create", "--file", file])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let report = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    assert_eq!(report["status"], "RUNNING");
    let neutron = neutron();
    assert_wired(&report, &net, &neutron).await;
    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

#[tokio::test]
async fn bad_cluster_files_fail_before_anything_is_created_naming_the_field() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("bad");
    let worker = master_and_workers(1);
    let other = network();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"cluster_name": "my-cluster"}), "cluster_name"),
        (
            json!({"node_groups": [{"name": "a_b", "roles": ["x"], "instance_num": 1}]}),
            "node_groups[0].name",
        ),
        (
            json!({"node_groups": [{"name": "w", "roles": ["x"], "instance_num": 0}]}),
            "node_groups[0].instance_num",
        ),
        (json!({"network": "no-such-network"}), "network"),
        // A legal Neutron name: looked up as it is, never near a shell.
        (
            json!({"network": "net; rm -rf / $(id)"}),
            "no network \"net; rm -rf / $(id)\"",
        ),
        (json!({"security_group": "../../sg"}), "security_group"),
        (json!({"subnet": other.subnet_id}), "subnet"),
        (json!({"bde_endpoint": "bde.example.com/serengeti"}), "bde_endpoint"),
        (json!({"security_group": "no-such-group"}), "security_group"),
    ];
    for (patch, field) in cases {
        let path = cluster_file(&name, &net, worker.clone());
        let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (k, v) in patch.as_object().unwrap() {
            spec[k] = v.clone();
        }
        std::fs::write(&path, spec.to_string()).unwrap();
        let out = cli(&["create", "--file", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{patch}: {stderr}");
        assert!(stderr.contains(field), "{patch}: {stderr} does not name {field}");
        assert!(!stderr.contains(&env("BDE_PASSWORD")), "a password in an error");
    }
    // Missing credentials: none in the file, none in the environment.
    let path = cluster_file(&name, &net, worker.clone());
    let out = Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args(["create", "--file", path.to_str().unwrap()])
        .env_remove("BDE_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));

    assert_nothing_in_bde(&name, &net).await;
    world(&["net-delete", &net.network_id]);
    world(&["net-delete", &other.network_id]);
}

#[tokio::test]
async fn certificates_are_verified_unless_insecure_is_set_and_warned_about() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("tls");
    let worker = master_and_workers(1);
    let path = cluster_file(&name, &net, worker);
    // The world's CAs are in no system store: without them both servers are refused.
    for (ca, service) in [("BDE_CA_FILE", "BDE"), ("VCENTER_CA_FILE", "vCenter")] {
        let out = Command::new(env!("CARGO_BIN_EXE_bde-heat"))
            .args(["create", "--file", path.to_str().unwrap()])
            .env_remove(ca)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains(service) && stderr.contains("certificate was refused"),
            "{stderr}"
        );
    }
    assert_nothing_in_bde(&name, &net).await;
    // Skipping verification takes an explicit setting, and says so.
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    spec["insecure"] = json!(true);
    std::fs::write(&path, spec.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args(["status", "--file", path.to_str().unwrap()])
        .env_remove("BDE_CA_FILE")
        .env_remove("VCENTER_CA_FILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for service in ["BDE", "vCenter"] {
        assert!(
            stderr.contains("verification is OFF") && stderr.contains(&format!("service=\"{service}\"")),
            "{stderr}"
        );
    }
    net.delete();
}

fn ports_by_vm(ports: &[bde_openstack::Port]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = ports
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.mac_address.clone(),
                p.ip().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn stop_start_and_resize_keep_exactly_one_port_per_vm() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("day");
    let file = cluster_file(
        &name,
        &net,
        json!([{"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
               {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 2}]),
    );
    let file = file.to_str().unwrap();
    let created = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    let neutron = neutron();
    let before = ports_by_vm(
        &neutron
            .list_ports(&[("network_id", net.network_id.as_str())])
            .await
            .unwrap(),
    );
    assert_eq!(before.len(), 3);

    let stopped = json_of(&cli(&["stop", "--file", file, "--format", "json"]));
    assert_eq!(stopped["status"], "STOPPED");
    assert!(
        stopped["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["ip"].is_null() && n["status"] == "Powered Off")
    );
    let kept = ports_by_vm(
        &neutron
            .list_ports(&[("network_id", net.network_id.as_str())])
            .await
            .unwrap(),
    );
    assert_eq!(kept, before, "ports are kept across stop");

    let started = json_of(&cli(&["start", "--file", file, "--format", "json"]));
    assert_eq!(started["status"], "RUNNING");
    let ips = |r: &Value| {
        r["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["ip"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ips(&started), ips(&created), "every node has its address back");
    let after = ports_by_vm(
        &neutron
            .list_ports(&[("network_id", net.network_id.as_str())])
            .await
            .unwrap(),
    );
    assert_eq!(after, before, "ports unchanged by start");

    let grown = json_of(&cli(&["resize", "--file", file, "worker", "4", "--format", "json"]));
    assert_eq!(grown["status"], "RUNNING");
    assert_eq!(grown["nodes"].as_array().unwrap().len(), 5);
    assert_wired(&grown, &net, &neutron).await;

    let shrunk = json_of(&cli(&["resize", "--file", file, "worker", "2", "--format", "json"]));
    let names: Vec<_> = shrunk["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            format!("{name}-master-0"),
            format!("{name}-worker-0"),
            format!("{name}-worker-1")
        ]
    );
    assert_wired(&shrunk, &net, &neutron).await;
    let now = ports_by_vm(
        &neutron
            .list_ports(&[("network_id", net.network_id.as_str())])
            .await
            .unwrap(),
    );
    assert_eq!(now, before, "the removed VMs' ports went, the others stayed");

    // A resize to the size a group has is done at once; a master group's is refused
    // before BDE is asked, naming the field; nothing changes.
    let same = cli(&["resize", "--file", file, "worker", "2"]);
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stderr));
    let refused = cli(&["resize", "--file", file, "master", "2"]);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("node_groups[0].instance_num") && said.contains("CLUSTER.ROLES_NOT_SUPPORTED"),
        "{said}"
    );
    assert_eq!(
        ports_by_vm(
            &neutron
                .list_ports(&[("network_id", net.network_id.as_str())])
                .await
                .unwrap()
        ),
        before
    );

    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

fn drift_of(out: &Output) -> Vec<(String, String)> {
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    json["drift"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    (
                        d["kind"].as_str().unwrap().into(),
                        d["subject"].as_str().unwrap().into(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn check_reports_drift_made_behind_the_products_back_and_repair_mends_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("drift");
    let file = cluster_file(
        &name,
        &net,
        json!([{"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
               {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 2}]),
    );
    let file = file.to_str().unwrap();
    json_of(&cli(&["create", "--file", file, "--format", "json"]));
    let clean = cli(&["check", "--file", file, "--format", "json"]);
    assert_eq!((clean.status.code(), drift_of(&clean)), (Some(0), vec![]));
    let neutron = neutron();

    // A port deleted in Neutron.
    let w0 = format!("{name}-worker-0");
    let ports = neutron
        .list_ports(&[("network_id", net.network_id.as_str())])
        .await
        .unwrap();
    let port = ports.iter().find(|p| p.name == format!("{w0}-port0")).unwrap();
    neutron.delete_port(&port.id).await.unwrap();
    let found = cli(&["check", "--file", file, "--format", "json"]);
    assert_eq!(found.status.code(), Some(5));
    assert_eq!(drift_of(&found), vec![("vm_without_port".to_string(), w0.clone())]);
    let repaired = json_of(&cli(&["repair", "--file", file, "--format", "json"]));
    assert_wired(&repaired, &net, &neutron).await;
    assert_eq!(cli(&["check", "--file", file]).status.code(), Some(0));

    // A node group shrunk directly in BDE: the spec wins, the removed VM's port goes.
    let bde = bde().await;
    let task = bde.resize(&name, "worker", 1).await.unwrap();
    while !bde.task(task.id).await.unwrap().is_finished() {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let found = drift_of(&cli(&["check", "--file", file, "--format", "json"]));
    assert!(
        found.contains(&("group_size".to_string(), "worker".to_string())),
        "{found:?}"
    );
    assert!(
        found.contains(&("port_without_vm".to_string(), format!("{name}-worker-1-port0"))),
        "{found:?}"
    );
    let repaired = json_of(&cli(&["repair", "--file", file, "--format", "json"]));
    assert_eq!(repaired["nodes"].as_array().unwrap().len(), 3);
    assert_wired(&repaired, &net, &neutron).await;
    assert_eq!(cli(&["check", "--file", file]).status.code(), Some(0));

    // A VM deleted in vCenter behind BDE's back: reported; its port goes; the VM cannot come back here.
    let vc = vcenter().await;
    let vm = vc.vms(None).await.unwrap().into_iter().find(|v| v.name == w0).unwrap();
    let t = Duration::from_secs(60);
    vc.run_task("PowerOffVM_Task", &vm.moref, vec![], t).await.unwrap();
    vc.run_task("Destroy_Task", &vm.moref, vec![], t).await.unwrap();
    let found = drift_of(&cli(&["check", "--file", file, "--format", "json"]));
    assert!(found.contains(&("vm_missing".to_string(), w0.clone())), "{found:?}");
    assert!(
        found.contains(&("port_without_vm".to_string(), format!("{w0}-port0"))),
        "{found:?}"
    );
    let out = cli(&["repair", "--file", file]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("vm_missing"));
    let found = drift_of(&cli(&["check", "--file", file, "--format", "json"]));
    assert_eq!(
        found,
        vec![("vm_missing".to_string(), w0.clone())],
        "the orphan port was removed"
    );
    vc.logout().await;

    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

/// A second file naming the first file's cluster (same name, same network).
fn second_file(first: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique("bde-heat-cli-b-"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("b.yaml");
    std::fs::copy(first, &path).unwrap();
    path
}

#[tokio::test]
async fn a_file_naming_another_files_cluster_is_refused_and_its_delete_leaves_that_cluster() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("own");
    let a = cluster_file(&name, &net, master_and_workers(1));
    let a = a.to_str().unwrap();
    let created = json_of(&cli(&["create", "--file", a, "--format", "json"]));
    let neutron = neutron();
    assert_wired(&created, &net, &neutron).await;
    let bde = bde().await;
    let network_name = format!("neutron-{}", net.network_id);

    let b = second_file(a);
    let b = b.to_str().unwrap();
    let refused = cli(&["create", "--file", b]);
    assert_eq!(
        refused.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("did not create"));
    let check = cli(&["check", "--file", b]);
    assert_eq!(check.status.code(), Some(6), "check of B reports nothing of A's");
    let status = json_of(&cli(&["status", "--file", b, "--format", "json"]));
    assert_eq!(status["nodes"], json!([]), "status of B shows none of A's nodes");

    let deleted = cli(&["delete", "--file", b]);
    assert_eq!(
        deleted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert_eq!(cluster_vm_names(&name).await.len(), 2, "A's VMs are all still there");
    assert!(
        bde.cluster(&name, false).await.unwrap().is_some(),
        "A's cluster is still in BDE"
    );
    assert!(
        bde.network(&network_name).await.unwrap().is_some(),
        "A's BDE network stays"
    );
    let status = json_of(&cli(&["status", "--file", a, "--format", "json"]));
    assert_wired(&status, &net, &neutron).await;

    // Taken over explicitly, B owns it: adopt checks the network first.
    let other = network();
    let elsewhere = cluster_file(&name, &other, master_and_workers(1));
    let wrong = cli(&["adopt", "--file", elsewhere.to_str().unwrap()]);
    assert_eq!(
        wrong.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("network"));
    let adopted = json_of(&cli(&["adopt", "--file", b, "--format", "json"]));
    assert_eq!(adopted["status"], "RUNNING");
    assert_wired(&adopted, &net, &neutron).await;
    assert_eq!(
        cli(&["check", "--file", b]).status.code(),
        Some(0),
        "the adopted cluster has no drift"
    );
    json_of(&cli(&["delete", "--file", b, "--format", "json"]));
    assert!(
        bde.cluster(&name, false).await.unwrap().is_none(),
        "B deleted what it adopted"
    );
    // A's file still records the network as its own: its delete removes what is left.
    json_of(&cli(&["delete", "--file", a, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
    other.delete();
}

#[tokio::test]
async fn a_resize_is_remembered_check_sees_no_drift_repair_keeps_it_and_apply_takes_the_file() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("want");
    let file = cluster_file(&name, &net, master_and_workers(2));
    let file = file.to_str().unwrap();
    json_of(&cli(&["create", "--file", file, "--format", "json"]));
    let neutron = neutron();
    let shrunk = json_of(&cli(&["resize", "--file", file, "worker", "1", "--format", "json"]));
    assert_eq!(shrunk["nodes"].as_array().unwrap().len(), 2);

    let check = cli(&["check", "--file", file, "--format", "json"]);
    assert_eq!(
        (check.status.code(), drift_of(&check)),
        (Some(0), vec![]),
        "the resize is what the user asked for: no drift"
    );
    let repaired = json_of(&cli(&["repair", "--file", file, "--format", "json"]));
    assert_eq!(
        repaired["nodes"].as_array().unwrap().len(),
        2,
        "repair keeps the resized count"
    );
    let text = String::from_utf8_lossy(&cli(&["status", "--file", file]).stdout).to_string();
    assert!(text.contains("group worker: 1 (resized; the file says 2)"), "{text}");

    let applied = json_of(&cli(&["apply", "--file", file, "--format", "json"]));
    assert_eq!(
        applied["nodes"].as_array().unwrap().len(),
        3,
        "apply takes the file's count"
    );
    assert_wired(&applied, &net, &neutron).await;
    assert_eq!(cli(&["check", "--file", file]).status.code(), Some(0));
    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

/// Runs `create` on a cluster file changed by `change`, with the environment's extra
/// variables; the output.
fn create_with(path: &std::path::Path, change: impl FnOnce(&mut Value), vars: &[(&str, &str)]) -> Output {
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    change(&mut spec);
    std::fs::write(path, spec.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args(["create", "--file", path.to_str().unwrap()])
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

#[tokio::test]
async fn what_bde_or_neutron_would_refuse_is_refused_before_anything_is_made_naming_the_field() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    // A /29: five addresses in its allocation pool.
    let small = WorldNet::create("10.81.0.0/29");
    let bde = bde().await;
    let neutron = neutron();
    let worker = |extra: Value| {
        let mut g = json!({"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 1});
        g.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        // The worker first, so its fields are node_groups[0]; the master makes HDFS whole.
        json!([g, {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1}])
    };
    type Change = Box<dyn FnOnce(&mut Value)>;
    /// What is tried, on which network, its groups, its change, the field named, extra variables.
    type Case<'a> = (&'a str, &'a WorldNet, Value, Change, &'a str, &'a [(&'a str, &'a str)]);
    let set = |key: &'static str, value: Value| -> Change { Box::new(move |spec: &mut Value| spec[key] = value) };
    let cases: Vec<Case> = vec![
        (
            "distro",
            &net,
            master_and_workers(1),
            set("distro", json!("nosuch")),
            "distro",
            &[],
        ),
        (
            "role",
            &net,
            worker(json!({"roles": ["hadoop_datanode", "hadoop_nosuch"]})),
            set("distro", json!("bigtop")),
            "node_groups[0].roles",
            &[],
        ),
        (
            // No distro: BDE's default one (vendor BIGTOP) offers no Mesos role.
            "defrole",
            &net,
            worker(json!({"roles": ["hadoop_datanode", "mesos_slave"]})),
            Box::new(|_: &mut Value| {}),
            "node_groups[0].roles",
            &[],
        ),
        (
            "appmgr",
            &net,
            master_and_workers(1),
            set("app_manager", json!("Ambari")),
            "app_manager",
            &[],
        ),
        (
            "rp",
            &net,
            master_and_workers(1),
            set("resource_pools", json!(["nosuch_rp"])),
            "resource_pools",
            &[],
        ),
        (
            "ds",
            &net,
            worker(json!({"storage": {"type": "LOCAL", "datastores": ["nosuch_ds"]}})),
            set("distro", json!("bigtop")),
            "node_groups[0].storage.datastores",
            &[],
        ),
        (
            "pw",
            &net,
            master_and_workers(1),
            set("cluster_password", json!("password")),
            "cluster_password",
            &[],
        ),
        // The member may not read Neutron's address count: the pool less the ports it sees.
        (
            "addr",
            &small,
            worker(json!({"instance_num": 6})),
            set("distro", json!("bigtop")),
            "subnet",
            &[],
        ),
        // An admin reads Neutron's own count.
        (
            "addradm",
            &small,
            worker(json!({"instance_num": 6})),
            set("distro", json!("bigtop")),
            "subnet",
            &[("OS_CLOUD", "bde-admin")],
        ),
    ];
    for (what, on, groups, change, field, vars) in cases {
        let name = unique(what);
        let path = cluster_file(&name, on, groups);
        let out = create_with(&path, change, vars);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.contains(&format!("{field}:")), "{what}: {field} named: {stderr}");
        assert!(bde.cluster(&name, false).await.unwrap().is_none(), "{what}: no cluster");
    }
    for on in [&net, &small] {
        let network_name = format!("neutron-{}", on.network_id);
        assert!(bde.network(&network_name).await.unwrap().is_none(), "no BDE network");
        let ports = neutron
            .list_ports(&[("network_id", on.network_id.as_str())])
            .await
            .unwrap();
        assert!(ports.iter().all(|p| !p.device_owner.starts_with("compute")), "no port");
        on.delete();
    }
}

/// The `openstack` CLI of the world's venv as the cloud's admin.
fn openstack_as_cloud_admin(args: &[&str]) -> String {
    let out = Command::new(format!("{}/bin/openstack", env("BDE_WORLD_VENV")))
        .args(args)
        .env("OS_CLOUD", "cloud-admin")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openstack {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn a_port_quota_too_small_for_every_nic_is_refused_before_anything_is_made() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A project of its own, so that its tiny quota touches no other test's ports; the
    // cloud's admin works in it (Neutron lets admins and project managers read quotas).
    let project = unique("quota");
    openstack_as_cloud_admin(&["project", "create", &project, "-f", "value", "-c", "id"]);
    openstack_as_cloud_admin(&["role", "add", "--user", "admin", "--project", &project, "admin"]);
    openstack_as_cloud_admin(&["quota", "set", "--ports", "4", &project]);
    let net = network();
    let name = unique("quota");
    let path = cluster_file(&name, &net, master_and_workers(2));
    let vars = [("OS_CLOUD", "cloud-admin"), ("OS_PROJECT_NAME", project.as_str())];
    let fits = create_with(&path, |s| s["distro"] = json!("bigtop"), &vars);
    let stderr = String::from_utf8_lossy(&fits.stderr).to_string();
    // Three VMs, three ports: within 4. Then a second network per VM: six do not fit.
    assert_eq!(fits.status.code(), Some(0), "{stderr}");
    json_of(&cli_env(
        &["delete", "--file", path.to_str().unwrap(), "--format", "json"],
        &vars,
    ));
    let hdfs = WorldNet::create("10.84.0.0/24");
    let two_nics = create_with(
        &path,
        |s| s["networks"] = json!({"HDFS_NETWORK": {"network": hdfs.network_id}}),
        &vars,
    );
    let stderr = String::from_utf8_lossy(&two_nics.stderr);
    assert_eq!(two_nics.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("node_groups:") && stderr.contains("port quota leaves 4"),
        "{stderr}"
    );
    assert_nothing_in_bde(&name, &net).await;
    assert_nothing_in_bde(&name, &hdfs).await;
    openstack_as_cloud_admin(&["project", "delete", &project]);
    hdfs.delete();
    net.delete();
}

/// The CLI with extra environment variables.
fn cli_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args(args)
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

#[tokio::test]
async fn validate_checks_a_file_as_create_would_and_makes_nothing() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("validate");
    let path = cluster_file(&name, &net, master_and_workers(2));
    let file = path.to_str().unwrap();
    let ok = cli(&["validate", "--file", file]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    spec["app_manager"] = json!("Ambari");
    std::fs::write(&path, spec.to_string()).unwrap();
    let refused = cli(&["validate", "--file", file]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("app_manager:"));
    assert_nothing_in_bde(&name, &net).await;
    assert!(
        !path.with_extension("yaml.state.json").exists(),
        "validate keeps no state"
    );
    net.delete();
}

#[tokio::test]
async fn a_bde_spec_file_given_unchanged_makes_the_cluster_it_describes() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let neutron = neutron();
    let bde = bde().await;
    let name = unique("specfile");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bde-spec/hadoop-yarn.json");
    // The template's keys: where, what name; the count of workers overrides the file's.
    let path = cluster_file(&name, &net, json!(null));
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    spec.as_object_mut().unwrap().remove("node_groups");
    spec["cluster_spec_file"] = json!(sample.canonicalize().unwrap());
    spec["node_groups"] = json!([{"name": "worker", "instance_num": 3}]);
    std::fs::write(&path, spec.to_string()).unwrap();
    let file = path.to_str().unwrap();
    let report = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    assert_wired(&report, &net, &neutron).await;
    let read = bde
        .cluster_spec(&name)
        .await
        .unwrap()
        .expect("BDE's spec of the cluster");
    let groups = read["nodeGroups"].as_array().unwrap();
    let group = |n: &str| {
        groups
            .iter()
            .find(|g| g["name"] == n)
            .unwrap_or_else(|| panic!("{n}: {read}"))
    };
    // The file's instanceNum 0 group is dropped, as BDE drops it.
    assert_eq!(groups.len(), 2, "{read}");
    assert_eq!(group("worker")["instanceNum"], 3);
    assert_eq!(group("worker")["memCapacityMB"], 1024);
    assert_eq!(group("worker")["storage"]["type"], "LOCAL");
    assert_eq!(group("worker")["storage"]["sizeGB"], 30);
    assert_eq!(group("master")["haFlag"], "on");
    assert_eq!(group("master")["storage"]["type"], "SHARED");
    assert_eq!(
        group("master")["configuration"]["hadoop"]["hadoop-env.sh"]["HADOOP_NAMENODE_OPTS"],
        "-Xmx1024m"
    );
    assert_eq!(read["configuration"]["hadoop"]["hdfs-site.xml"]["dfs.replication"], "2");
    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

/// An application credential of the project member, made through Keystone's API:
/// (Keystone user id, credential id, secret, a token to delete it with).
async fn application_credential(keystone: &str) -> (String, String, String, String) {
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{keystone}/auth/tokens"))
        .json(
            &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "bde-member", "domain": {"id": "default"}, "password": bde_testworld::member_password()}}},
            "scope": {"project": {"name": "bde", "domain": {"id": "default"}}}}}),
        )
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success());
    let token = login.headers()["X-Subject-Token"].to_str().unwrap().to_string();
    let user: Value = login.json().await.unwrap();
    let user_id = user["token"]["user"]["id"].as_str().unwrap().to_string();
    let made: Value = http
        .post(format!("{keystone}/users/{user_id}/application_credentials"))
        .header("X-Auth-Token", &token)
        .json(&json!({"application_credential": {"name": unique("appcred")}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credential = &made["application_credential"];
    (
        user_id,
        credential["id"].as_str().unwrap().to_string(),
        credential["secret"].as_str().unwrap().to_string(),
        token,
    )
}

#[tokio::test]
async fn a_clouds_yaml_with_an_application_credential_and_a_cacert_creates_and_deletes_a_cluster() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let keystone = env("BDE_WORLD_KEYSTONE_URL");
    let (user_id, credential_id, secret, token) = application_credential(&keystone).await;
    // Keystone behind TLS with the world's certificate, whose CA is in no system store.
    let plain: reqwest::Url = keystone.parse().unwrap();
    let target = std::net::SocketAddr::new(plain.host_str().unwrap().parse().unwrap(), plain.port().unwrap());
    let port = common::tls_front::start(target);
    let ca = format!("{}/tls/ca.pem", env("BDE_WORLD_DIR"));
    let cloud = |name: &str, cacert: &str| {
        format!(
            "  {name}:\n    auth_type: v3applicationcredential\n    region_name: RegionOne\n{cacert}    auth:\n      \
             auth_url: https://127.0.0.1:{port}/v3\n      application_credential_id: {credential_id}\n      \
             application_credential_secret: {secret}\n"
        )
    };
    let clouds = format!(
        "clouds:\n{}{}",
        cloud("appcred", &format!("    cacert: {ca}\n")),
        cloud("appcred-without-ca", "")
    );
    let net = network();
    let name = unique("appcred");
    let path = cluster_file(&name, &net, master_and_workers(1));
    let clouds_path = path.with_file_name("clouds.yaml");
    std::fs::write(&clouds_path, clouds).unwrap();
    let run = |cloud: &str, verb: &str| {
        Command::new(env!("CARGO_BIN_EXE_bde-heat"))
            .args([verb, "--file", path.to_str().unwrap(), "--format", "json"])
            .env("OS_CLIENT_CONFIG_FILE", &clouds_path)
            .env("OS_CLOUD", cloud)
            .env_remove("OS_CACERT")
            .env("BDE_HEAT_LOG", "debug")
            .output()
            .unwrap()
    };

    // Without the cacert, Keystone's certificate is refused and nothing is made.
    let refused = run("appcred-without-ca", "create");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("certificate was refused"), "{stderr}");
    assert!(!stderr.contains(&secret), "the credential's secret was printed");
    assert_nothing_in_bde(&name, &net).await;

    // With it, the application credential makes the cluster's ports in the member's project.
    let created = run("appcred", "create");
    let report = json_of(&created);
    assert_eq!(report["status"], "RUNNING");
    let neutron = neutron();
    assert_wired(&report, &net, &neutron).await;
    let deleted = run("appcred", "delete");
    assert_eq!(json_of(&deleted)["status"], "DELETED");
    for out in [&created, &deleted] {
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains(&secret),
            "the credential's secret was logged"
        );
    }
    assert_gone(&name, &net, &neutron).await;
    reqwest::Client::new()
        .delete(format!(
            "{keystone}/users/{user_id}/application_credentials/{credential_id}"
        ))
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap();
}

/// Each VM of the cluster: (name, CPUs, memory MB), as vCenter has it.
async fn vm_sizes(cluster: &str) -> Vec<(String, u32, u32)> {
    let mut sizes: Vec<_> = vcenter()
        .await
        .vm_sizes(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|(name, _, _)| name.starts_with(&format!("{cluster}-")))
        .collect();
    sizes.sort();
    sizes
}

/// (name, moid, port id) of every node of a report.
fn identities(report: &Value) -> Vec<(String, String, String)> {
    let mut found: Vec<_> = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let text = |k: &str| n[k].as_str().unwrap_or_default().to_string();
            (text("name"), text("moid"), text("port_id"))
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn apply_gives_a_group_new_memory_on_the_same_vms_and_ports_and_adds_a_new_group_wired() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("shape");
    let mut groups = master_and_workers(2);
    groups[1]["storage"] = json!({"type": "LOCAL", "size_gb": 20, "datastores": ["defaultDSLocal"]});
    groups[1]["ha"] = json!("on");
    let path = cluster_file(&name, &net, groups);
    let file = path.to_str().unwrap();
    let created = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    let before = identities(&created);
    // The group's storage and availability reached BDE as it reads them.
    let kept = bde().await.cluster_spec(&name).await.unwrap().unwrap();
    let workers = &kept["nodeGroups"][1];
    assert_eq!(
        workers["storage"],
        json!({"type": "LOCAL", "sizeGB": 20, "dsNames": ["defaultDSLocal"]})
    );
    assert_eq!(workers["haFlag"], "on");
    assert!(before.iter().all(|(_, _, port)| !port.is_empty()), "{before:?}");
    let sizes = vm_sizes(&name).await;
    // Sized as BDE sizes a group that names no instance type: the master (a namenode)
    // MEDIUM, the workers SMALL.
    for (vm, cpus, memory) in &sizes {
        let want = if vm.contains("-worker-") { (1, 3748) } else { (2, 7500) };
        assert_eq!((*cpus, *memory), want, "{vm}");
    }

    // The workers get 2 CPUs and 2 GB: BDE's scale, VM by VM; the same VMs keep their ports.
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    spec["node_groups"][1]["cpu_num"] = json!(2);
    spec["node_groups"][1]["memory_mb"] = json!(2048);
    std::fs::write(&path, spec.to_string()).unwrap();
    // --dry-run prints the plan and changes nothing.
    let plan = json_of(&cli(&["apply", "--dry-run", "--file", file, "--format", "json"]));
    assert_eq!(
        plan,
        json!([{"kind": "scale", "subject": "worker",
        "detail": "CPUs 1 → 2, memory 3748 → 2048 MB, on its 2 VMs one after another"}])
    );
    assert_eq!(vm_sizes(&name).await, sizes, "a dry run changes nothing");
    let scaled = json_of(&cli(&["apply", "--file", file, "--format", "json"]));
    assert_eq!(identities(&scaled), before, "same VMs, same ports");
    let neutron = neutron();
    assert_wired(&scaled, &net, &neutron).await;
    for (vm, cpus, memory) in vm_sizes(&name).await {
        let want = if vm.contains("-worker-") { (2, 2048) } else { (2, 7500) };
        assert_eq!((cpus, memory), want, "{vm}");
    }

    // A new group: BDE's expand; its VM is wired like the others, nothing else changes.
    spec["node_groups"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "client", "roles": ["hadoop_client"], "instance_num": 1}));
    std::fs::write(&path, spec.to_string()).unwrap();
    let expanded = json_of(&cli(&["apply", "--file", file, "--format", "json"]));
    let after = identities(&expanded);
    assert_eq!(after.len(), 4, "{after:?}");
    assert!(before.iter().all(|b| after.contains(b)), "the first VMs and ports stay");
    assert_wired(&expanded, &net, &neutron).await;

    // A changed configuration: BDE's config update (the services restart, the VMs stay).
    spec["configuration"] = json!({"hadoop": {"hdfs-site.xml": {"dfs.replication": 2}}});
    std::fs::write(&path, spec.to_string()).unwrap();
    let plan = json_of(&cli(&["apply", "--dry-run", "--file", file, "--format", "json"]));
    assert_eq!(plan[0]["kind"], "configure", "{plan}");
    let configured = json_of(&cli(&["apply", "--file", file, "--format", "json"]));
    assert_eq!(configured["status"], "RUNNING");
    assert_eq!(identities(&configured), after, "same VMs, same ports");
    let kept = bde().await.cluster_spec(&name).await.unwrap().unwrap();
    assert_eq!(kept["configuration"]["hadoop"]["hdfs-site.xml"]["dfs.replication"], 2);
    let again = json_of(&cli(&["apply", "--dry-run", "--file", file, "--format", "json"]));
    assert_eq!(again, json!([]), "sent once");

    // Dropping a group is refused, naming the field; nothing changes.
    spec["node_groups"].as_array_mut().unwrap().pop();
    std::fs::write(&path, spec.to_string()).unwrap();
    let refused = cli(&["apply", "--file", file, "--format", "json"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("node_groups") && stderr.contains("client"), "{stderr}");
    assert_eq!(cluster_vm_names(&name).await.len(), 4);

    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

/// The NameNode-HA layout BDE's HA samples use: two namenodes, three journal nodes with
/// ZooKeeper, a ResourceManager and workers.
fn ha_groups() -> Value {
    json!([
        {"name": "nn", "roles": ["hadoop_namenode"], "instance_num": 2, "ha": "on"},
        {"name": "jnzk", "roles": ["hadoop_journalnode", "zookeeper"], "instance_num": 3},
        {"name": "rm", "roles": ["hadoop_resourcemanager"], "instance_num": 1},
        {"name": "worker", "roles": ["hadoop_datanode", "hadoop_nodemanager"], "instance_num": 2,
         "storage": {"type": "LOCAL", "size_gb": 40},
         "configuration": {"hadoop": {"hdfs-site.xml": {"dfs.datanode.du.reserved": "1073741824"}}}}])
}

#[tokio::test]
async fn an_ha_cluster_on_three_networks_gets_a_port_per_nic_on_each_and_delete_leaves_none() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (mgt, hdfs, mapred) = (
        network(),
        WorldNet::create("10.82.0.0/24"),
        WorldNet::create("10.83.0.0/24"),
    );
    let neutron = neutron();
    let bde = bde().await;
    let name = unique("ha3net");
    let path = cluster_file(&name, &mgt, ha_groups());
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    spec["networks"] = json!({
        "HDFS_NETWORK": {"network": hdfs.network_id, "subnet": hdfs.subnet_id},
        "MAPRED_NETWORK": {"network": mapred.network_id}});
    spec["configuration"] = json!({"hadoop": {"hdfs-site.xml": {"dfs.replication": "2"}}});
    spec["datastores"] = json!(["defaultDSLocal"]);
    spec["local_repo_url"] = json!("http://repo.example.com/bigtop");
    spec["topology_policy"] = json!("HOST_AS_RACK");
    for g in spec["node_groups"].as_array_mut().unwrap() {
        if g["name"] == "worker" {
            let placed = json!({"swap_ratio": 0.5, "cpu_reservation": 0.25, "memory_reservation": 0.5,
                                "resource_pools": ["defaultRP"]});
            g.as_object_mut().unwrap().extend(placed.as_object().unwrap().clone());
        }
    }
    std::fs::write(&path, spec.to_string()).unwrap();
    let file = path.to_str().unwrap();
    let out = cli(&["create", "--file", file, "--format", "json"]);
    let report = json_of(&out);
    let nodes = report["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 8, "{report}");

    // BDE holds each field as given.
    let read = bde
        .cluster_spec(&name)
        .await
        .unwrap()
        .expect("BDE's spec of the cluster");
    let group = |n: &str| {
        read["nodeGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{n}: {read}"))
    };
    assert_eq!(group("nn")["instanceNum"], 2);
    assert_eq!(group("nn")["haFlag"], "on");
    assert_eq!(group("worker")["storage"]["type"], "LOCAL");
    assert_eq!(group("worker")["storage"]["sizeGB"], 40);
    assert_eq!(read["configuration"]["hadoop"]["hdfs-site.xml"]["dfs.replication"], "2");
    assert_eq!(read["dsNames"], json!(["defaultDSLocal"]));
    assert_eq!(read["localRepoURL"], "http://repo.example.com/bigtop");
    assert_eq!(read["topologyPolicy"], "HOST_AS_RACK");
    let worker = group("worker");
    assert_eq!(
        (
            &worker["swapRatio"],
            &worker["reservedCpuRatio"],
            &worker["reservedMemRatio"],
            &worker["rpNames"]
        ),
        (&json!(0.5), &json!(0.25), &json!(0.5), &json!(["defaultRP"]))
    );
    assert_eq!(
        group("worker")["configuration"]["hadoop"]["hdfs-site.xml"]["dfs.datanode.du.reserved"],
        "1073741824"
    );

    // Every VM: three NICs, one per network's portgroup, each with its own port there.
    let vc = vcenter().await;
    let keys: std::collections::HashMap<String, String> = vc
        .portgroups(None)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.name, p.moref.value))
        .collect();
    let vms = vc.vms(None).await.unwrap();
    for (net, index) in [(&mgt, 0usize), (&hdfs, 1), (&mapred, 2)] {
        let ports = neutron
            .list_ports(&[("network_id", net.network_id.as_str())])
            .await
            .unwrap();
        assert_eq!(ports.len(), 8, "one port per VM on network {index}: {ports:?}");
        for node in nodes {
            let vm = vms.iter().find(|v| v.name == node["name"]).expect("its VM");
            let nic = &vm.nics[index];
            assert_eq!(
                nic.portgroup_key.as_deref(),
                Some(keys[&net.portgroup].as_str()),
                "NIC {index} of {}",
                vm.name
            );
            let port = ports.iter().find(|p| p.mac_address == nic.mac).expect("the NIC's port");
            assert_eq!(port.device_id, vm.instance_uuid);
            assert_eq!(node["nics"][index]["port_id"], port.id.as_str());
        }
    }
    // Each VM has the data disks its group's storage asks for: the workers' 40 GB, the
    // others BDE's default for their size (a MEDIUM management group: 50 GB).
    let read = vc
        .read(&bde_vsphere::PropertyRead {
            kind: "VirtualMachine",
            paths: &["name", "config.hardware.device"],
            container: None,
        })
        .await
        .unwrap();
    for node in nodes {
        let vm = read
            .iter()
            .find(|o| o.text("name") == node["name"].as_str())
            .expect("its VM");
        let disks_gb: Vec<u64> = vm
            .get("config.hardware.device")
            .map(|d| {
                d.children
                    .iter()
                    .filter(|c| c.xsi_type.as_deref() == Some("VirtualDisk"))
                    .filter_map(|c| c.child_text("capacityInKB")?.parse::<u64>().ok())
                    .filter(|kb| *kb >= 1024 * 1024)
                    .map(|kb| kb / 1024 / 1024)
                    .collect()
            })
            .unwrap_or_default();
        let want = if node["group"] == "worker" { 40 } else { 50 };
        assert_eq!(disks_gb, [want], "data disks of {}", node["name"]);
    }
    vc.logout().await;
    let addressed = nodes.iter().all(|n| n["ip"].as_str().is_some());
    assert!(addressed, "every node has its address: {report}");

    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    for net in [&hdfs, &mapred] {
        let left = neutron
            .list_ports(&[("network_id", net.network_id.as_str())])
            .await
            .unwrap();
        assert!(left.is_empty(), "ports left: {left:?}");
        let bde_name = format!("neutron-{}", net.network_id);
        assert!(
            bde.network(&bde_name).await.unwrap().is_none(),
            "BDE network {bde_name} left"
        );
        net.delete();
    }
    assert_gone(&name, &mgt, &neutron).await;
}

#[tokio::test]
async fn rack_placement_reaches_bde_and_racks_it_cannot_honour_are_refused_before_anything_is_made() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bde = bde().await;
    // The BDE administrator's rack map (BDE-wide; no other test places by racks).
    let rack = |name: &str, hosts: &[&str]| bde_serengeti::RackInfo {
        name: name.into(),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
    };
    bde.import_racks(&[rack("rack1", &["h1", "h2"]), rack("rack2", &["h3"])])
        .await
        .unwrap();
    let net = network();
    let neutron = neutron();
    let groups = |racks: Value| {
        json!([
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 2,
             "storage": {"type": "LOCAL"}, "placement": {"instance_per_host": 1, "racks": racks}}])
    };
    // Two hosts needed; rack2 alone has one.
    for (racks, field) in [
        (
            json!({"type": "SAMERACK", "names": ["rack2"]}),
            "node_groups[1].placement.racks:",
        ),
        (json!({"names": ["rack9"]}), "node_groups[1].placement.racks.names:"),
    ] {
        let name = unique("racks");
        let path = cluster_file(&name, &net, groups(racks));
        let out = cli(&["create", "--file", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(field), "{field}: {stderr}");
        assert_nothing_in_bde(&name, &net).await;
    }
    let name = unique("racks");
    let path = cluster_file(&name, &net, groups(json!({"type": "SAMERACK", "names": ["rack1"]})));
    let file = path.to_str().unwrap();
    let report = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    assert_wired(&report, &net, &neutron).await;
    let read = bde.cluster_spec(&name).await.unwrap().unwrap();
    assert_eq!(
        read["nodeGroups"][1]["placementPolicies"]["groupRacks"],
        json!({"type": "SAMERACK", "racks": ["rack1"]})
    );
    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

/// A client of the BDE simulator's own endpoints (`/sim/...`), trusting its CA.
fn sim_http() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&std::fs::read(env("BDE_CA_FILE")).unwrap()).unwrap())
        .build()
        .unwrap()
}

/// The guests' side of the simulator: per node of the cluster, its timeline.
async fn sim_timeline_of(cluster: &str) -> Vec<Value> {
    let all: Value = sim_http()
        .get(format!("{}/sim/timeline", env("BDE_ENDPOINT")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["cluster"] == cluster)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_static_cluster_gets_bdes_addresses_on_its_ports_and_no_guest_asks_for_dhcp() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let neutron = neutron();
    // Neutron's default pool covers the subnet: no room for static addresses, refused first.
    let full = network();
    let name = unique("st");
    let path = cluster_file(&name, &full, master_and_workers(2));
    let with_static = |path: &std::path::Path, range: Option<&str>| {
        let mut spec: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        spec["ip_mode"] = json!("static");
        if let Some(range) = range {
            spec["static_range"] = json!(range);
        }
        std::fs::write(path, spec.to_string()).unwrap();
    };
    with_static(&path, None);
    let out = cli(&["create", "--file", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ip_mode") && stderr.contains("openstack subnet set"),
        "{stderr}"
    );
    assert_gone(&name, &full, &neutron).await;

    // A pool of .2-.99 leaves .100-.254 to BDE's static network.
    let net = WorldNet::create_with_pool("10.81.0.0/24", Some("10.81.0.2-10.81.0.99"));
    let path = cluster_file(&name, &net, master_and_workers(2));
    with_static(&path, Some("10.81.0.200-10.81.0.219"));
    let file = path.to_str().unwrap();
    let report = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    assert_eq!(report["status"], "RUNNING");
    assert_eq!(report["resets"], 0);
    assert_wired(&report, &net, &neutron).await;
    let in_range = |ip: &str| {
        let last: u32 = ip.strip_prefix("10.81.0.").and_then(|l| l.parse().ok()).unwrap_or(0);
        (200..=219).contains(&last)
    };
    for node in report["nodes"].as_array().unwrap() {
        assert!(
            in_range(node["ip"].as_str().unwrap()),
            "BDE's address, on the port: {node}"
        );
    }
    let bde = bde().await;
    let registered = bde
        .network(&format!("neutron-{}-static", net.network_id))
        .await
        .unwrap()
        .unwrap();
    assert!(!registered.dhcp);
    assert_eq!(registered.netmask.as_deref(), Some("255.255.255.0"));
    assert_eq!(registered.gateway.as_deref(), Some("10.81.0.1"));
    let guests = sim_timeline_of(&name).await;
    assert_eq!(guests.len(), 3);
    for g in &guests {
        assert!(
            g["timeline"]["first_dhcp_request"].is_null(),
            "a static guest never asks: {g}"
        );
        assert_eq!(g["timeline"]["dhcp_requests"], 0, "{g}");
    }
    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

/// The addresses of the static BDE network's blocks, as BDE lists them.
async fn static_blocks(net: &WorldNet) -> Vec<String> {
    let read = bde()
        .await
        .network(&format!("neutron-{}-static", net.network_id))
        .await
        .unwrap()
        .expect("the static BDE network");
    read.all_ip_blocks
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{}-{}", b.begin_ip, b.end_ip))
        .collect()
}

#[tokio::test]
async fn static_clusters_that_outgrow_their_bde_networks_block_get_more_addresses_or_are_refused_first() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let neutron = neutron();
    // A pool of .2-.99: .100-.254 (less the gateway's .1) is outside it.
    let net = WorldNet::create_with_pool("10.88.0.0/24", Some("10.88.0.2-10.88.0.99"));
    let set_range = |path: &std::path::Path, range: Option<&str>| {
        let mut spec: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        spec["ip_mode"] = json!("static");
        spec["static_range"] = range.map_or(Value::Null, |r| json!(r));
        std::fs::write(path, spec.to_string()).unwrap();
    };
    let a = unique("sa");
    let a_path = cluster_file(&a, &net, master_and_workers(2));
    set_range(&a_path, Some("10.88.0.200-10.88.0.202"));
    let a_file = a_path.to_str().unwrap();
    json_of(&cli(&["create", "--file", a_file, "--format", "json"]));
    assert_eq!(static_blocks(&net).await, ["10.88.0.200-10.88.0.202"]);

    // Its block is full: growing with the same range is refused before BDE is asked.
    let refused = cli(&["resize", "--file", a_file, "worker", "3"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains("static_range") && said.contains("0 more addresses and it has 0 free; 1 are needed"),
        "{said}"
    );
    assert_eq!(cluster_vm_names(&a).await.len(), 3, "nothing grew");

    // A larger range: BDE's network gets only what it lacks, and the new node its address.
    set_range(&a_path, Some("10.88.0.200-10.88.0.204"));
    let grown = json_of(&cli(&["resize", "--file", a_file, "worker", "3", "--format", "json"]));
    assert_eq!(
        static_blocks(&net).await,
        ["10.88.0.200-10.88.0.204"],
        "merged, as BDE keeps them"
    );
    let mut ips: Vec<&str> = grown["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ip"].as_str().unwrap())
        .collect();
    ips.sort();
    assert_eq!(ips, ["10.88.0.200", "10.88.0.201", "10.88.0.202", "10.88.0.203"]);

    // A second cluster on the same Neutron network shares its static BDE network: the
    // same range has 1 free of the 2 it needs, refused before anything is made...
    let b = unique("sb");
    let b_path = cluster_file(&b, &net, master_and_workers(1));
    set_range(&b_path, Some("10.88.0.200-10.88.0.204"));
    let b_file = b_path.to_str().unwrap();
    let ports_before = neutron
        .list_ports(&[("network_id", net.network_id.as_str())])
        .await
        .unwrap()
        .len();
    let refused = cli(&["create", "--file", b_file]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains("static_range") && said.contains("it has 1 free; 2 are needed"),
        "{said}"
    );
    assert!(bde().await.cluster(&b, false).await.unwrap().is_none(), "no cluster");
    let ports_after = neutron
        .list_ports(&[("network_id", net.network_id.as_str())])
        .await
        .unwrap()
        .len();
    assert_eq!(ports_after, ports_before, "no port");
    // ...while without a range it gets the largest free run outside the pool, ports and blocks.
    set_range(&b_path, None);
    let made = json_of(&cli(&["create", "--file", b_file, "--format", "json"]));
    assert_eq!(made["status"], "RUNNING");
    // .100-.199 added; BDE merges adjacent blocks (`IIpBlockDAO.merge`).
    assert_eq!(static_blocks(&net).await, ["10.88.0.100-10.88.0.204"]);
    let ips: Vec<&str> = made["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips.len(), 2);
    let ports = neutron
        .list_ports(&[("network_id", net.network_id.as_str())])
        .await
        .unwrap();
    for ip in ips {
        assert!(ports.iter().any(|p| p.ip() == Some(ip)), "{ip} is on its port");
    }

    json_of(&cli(&["delete", "--file", b_file, "--format", "json"]));
    json_of(&cli(&["delete", "--file", a_file, "--format", "json"]));
    assert_gone(&a, &net, &neutron).await;
}

#[tokio::test]
async fn a_static_cluster_with_an_hdfs_network_gets_bdes_address_on_every_nics_port() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let neutron = neutron();
    // Both subnets' pools leave room outside them; the HDFS network's range is given.
    let net = WorldNet::create_with_pool("10.89.0.0/24", Some("10.89.0.2-10.89.0.99"));
    let hdfs = WorldNet::create_with_pool("10.90.0.0/24", Some("10.90.0.2-10.90.0.99"));
    let name = unique("sh");
    let path = cluster_file(&name, &net, master_and_workers(1));
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["ip_mode"] = json!("static");
    spec["networks"] = json!({"HDFS_NETWORK": {"network": hdfs.network_id, "static_range": "10.90.0.150-10.90.0.159"}});
    std::fs::write(&path, spec.to_string()).unwrap();
    let file = path.to_str().unwrap();
    let report = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    assert_eq!(report["status"], "RUNNING");
    assert_eq!(report["resets"], 0);

    let bde = bde().await;
    let hdfs_network = bde
        .network(&format!("neutron-{}-static", hdfs.network_id))
        .await
        .unwrap()
        .expect("the HDFS network's static BDE network");
    assert!(!hdfs_network.dhcp);
    assert_eq!(
        hdfs_network.all_ip_blocks.unwrap()[0].begin_ip,
        "10.90.0.150",
        "its range, as given"
    );
    let cluster = bde.cluster(&name, true).await.unwrap().unwrap();
    for node in report["nodes"].as_array().unwrap() {
        let read = cluster
            .node_groups
            .iter()
            .flatten()
            .flat_map(|g| g.instances.iter().flatten())
            .find(|n| Some(n.name.as_str()) == node["name"].as_str())
            .expect("BDE's node");
        let configs = read.ip_configs.as_ref().unwrap();
        let address_of = |traffic: &str| configs[traffic][0].ip_address.clone().unwrap();
        // Each NIC's port: its MAC, its network, and exactly the address BDE gave that NIC.
        for (index, (traffic, wnet)) in [("MGT_NETWORK", &net), ("HDFS_NETWORK", &hdfs)].into_iter().enumerate() {
            let nic = &node["nics"][index];
            let ports = neutron
                .list_ports(&[("network_id", wnet.network_id.as_str())])
                .await
                .unwrap();
            let port = ports
                .iter()
                .find(|p| Some(p.id.as_str()) == nic["port_id"].as_str())
                .unwrap_or_else(|| panic!("{traffic} port of {node}"));
            assert_eq!(Some(port.mac_address.as_str()), nic["mac"].as_str());
            assert_eq!(port.ip(), Some(address_of(traffic).as_str()), "{traffic} of {node}");
            assert_eq!(nic["ip"].as_str(), port.ip(), "the report shows each NIC's address");
        }
        let hdfs_ip = address_of("HDFS_NETWORK");
        let last: u32 = hdfs_ip.rsplit('.').next().unwrap().parse().unwrap();
        assert!((150..=159).contains(&last), "{hdfs_ip} is of the HDFS range");
    }
    for g in sim_timeline_of(&name).await {
        assert_eq!(g["timeline"]["dhcp_requests"], 0, "no NIC asks for DHCP: {g}");
    }

    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &hdfs, &neutron).await;
    assert_gone(&name, &net, &neutron).await;
}
