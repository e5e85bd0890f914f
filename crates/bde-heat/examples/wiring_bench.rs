//! Wiring benchmark on the test world: for each cluster size N, create a
//! one-group cluster with the engine and report, per wiring poll, the calls
//! made to each service and the poll's wall time, and per VM the delay from
//! its clone (the BDE simulator's timeline) to its port, and the resets the
//! repair needed. The DHCP grace follows the world's time scale (100 s of
//! real-world time). Prints numbers; asserts nothing.
//!
//!   scripts/world down; BDE_WORLD_TIME_SCALE=1.0 BDE_WORLD_EXTRA_VMS=2000 scripts/world up
//!   eval "$(scripts/world env)"
//!   cargo run --release -p bde-heat --example wiring_bench -- [--json] [--svg DIR] 10 100 500
//!
//! Between wiring steps it waits on vCenter's property collector, as the CLI does.
//! With `--json`, one line per N as well (the fields of issue #15's benchmark);
//! with `--svg DIR`, the race per N drawn in DIR/wiring-N.svg (with the guests'
//! first DHCP requests, which only the simulator sees).

use std::time::{Duration, Instant};

use bde_engine::{Action, CallCounts, Clients, ClusterSpec, OpenStackAccess, Outcome, Phase, State};
use bde_testworld::{env, member_auth, world};
use serde_json::{Value, json};

// The CLI's own drawing (`bde-heat timeline --svg`); the binary crate has no library.
#[path = "../src/timeline.rs"]
#[allow(dead_code)] // the table and the state reader are the CLI's
mod timeline;

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn delta(a: CallCounts, b: CallCounts) -> CallCounts {
    CallCounts {
        bde: b.bde - a.bde,
        vsphere: b.vsphere - a.vsphere,
        neutron: b.neutron - a.neutron,
    }
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json_lines = args.iter().any(|a| a == "--json");
    let svg_dir = args
        .iter()
        .position(|a| a == "--svg")
        .map(|i| std::path::PathBuf::from(args.get(i + 1).expect("--svg DIR")));
    let sizes: Vec<usize> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| *a != "--json" && *a != "--svg" && !(*i > 0 && args[i - 1] == "--svg"))
        .map(|(_, a)| a.parse().expect("cluster sizes"))
        .collect();
    let sizes = if sizes.is_empty() { vec![10] } else { sizes };
    // The grace covers the guest's boot and DHCP window (15 s + 60 s real-world) in the world's time.
    let scale = sim_timeline().await["time_scale"].as_f64().unwrap_or(1.0);
    let grace = 100.0 * scale;
    println!("time scale {scale}, DHCP grace {grace:.0} s");
    println!(
        "N     vCenter VMs  polls  vSphere/poll mean (max)  Neutron/poll mean (max)  BDE/poll mean (max)  poll ms p50/max   clone->port s p50/max  create s  resets"
    );
    for (i, n) in sizes.into_iter().enumerate() {
        let out = world(&[
            "net",
            &format!("bench{n}x{}", std::process::id()),
            &format!("10.{}.0.0/22", 120 + 4 * i),
        ]);
        let network_id = out
            .lines()
            .find_map(|l| l.strip_prefix("NETWORK_ID="))
            .unwrap()
            .to_string();
        let name = format!("bench{n}x{}", std::process::id());
        let spec: ClusterSpec = serde_json::from_value(json!({
            "bde_endpoint": env("BDE_ENDPOINT"), "vcm_server": env("VCENTER_URL"),
            "username": env("BDE_USERNAME"), "password": env("BDE_PASSWORD"),
            "vcenter_username": env("VCENTER_USERNAME"), "vcenter_password": env("VCENTER_PASSWORD"),
            "ca_file": env("BDE_CA_FILE"), "vcenter_ca_file": env("VCENTER_CA_FILE"),
            "cluster_name": name, "network": network_id, "dhcp_grace_seconds": grace,
            // N VMs: one namenode and N-1 datanodes (BDE makes HDFS only from both roles).
            "node_groups": [
                {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
                {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": n.saturating_sub(1).max(1)}
            ]
        }))
        .unwrap();
        let spec = bde_engine::validate(&spec).unwrap();
        let access = OpenStackAccess::Keystone {
            auth: member_auth(),
            tls: Default::default(),
        };
        let clients = Clients::connect(&spec, &access).await.unwrap();
        let vcenter_vms = clients.vc.vms(None).await.unwrap().len();
        let floor_s = neutron_bulk_floor(&network_id, n).await;
        let mut state = State::default();
        let (mut polls, mut walls) = (Vec::<CallCounts>::new(), Vec::<f64>::new());
        let mut wiring_s = 0.0;
        let mut watcher = bde_engine::VmWatcher::new();
        let started = Instant::now();
        loop {
            let before = clients.calls();
            let t = Instant::now();
            let wiring = state.phase == Phase::Wire;
            let outcome = bde_engine::step(&clients, &spec, &mut state, &Action::Create)
                .await
                .unwrap();
            if wiring {
                polls.push(delta(before, clients.calls()));
                walls.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            match outcome {
                Outcome::Done => break,
                Outcome::Acted(note) => {
                    if note == "ports made" {
                        wiring_s += t.elapsed().as_secs_f64();
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Outcome::Waiting(_) if state.phase == Phase::Wire => {
                    watcher.wait(&clients, &state, Duration::from_secs(1)).await;
                }
                Outcome::Waiting(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
        watcher.close(&clients).await;
        let create_s = started.elapsed().as_secs_f64();
        // Clone times from the simulator's timeline (its clock), mapped onto unix time.
        let timeline = sim_timeline().await;
        let offset = unix_now() - timeline["now"].as_f64().unwrap();
        let ours: Vec<&Value> = timeline["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|node| node["cluster"] == name.as_str())
            .collect();
        let port_at = |node: &Value| state.nodes.get(node["name"].as_str()?)?.port_created_at;
        let delays: Vec<f64> = ours
            .iter()
            .filter_map(|node| Some(port_at(node)? - (node["timeline"]["cloned"].as_f64()? + offset)))
            .collect();
        let before_power_on = ours
            .iter()
            .filter(|node| {
                let on = node["timeline"]["powered_on"].as_f64().map(|t| t + offset);
                matches!((port_at(node), on), (Some(p), Some(on)) if p <= on)
            })
            .count();
        let before_pct = 100.0 * before_power_on as f64 / ours.len().max(1) as f64;
        if let Some(dir) = &svg_dir {
            let at = |node: &Value, what: &str| node["timeline"][what].as_f64().map(|t| t + offset);
            let mut rows: Vec<timeline::VmTimeline> = ours
                .iter()
                .map(|node| timeline::VmTimeline {
                    name: node["name"].as_str().unwrap_or_default().to_string(),
                    cloned: at(node, "cloned"),
                    powered_on: at(node, "powered_on"),
                    port_created: port_at(node),
                    first_dhcp_request: at(node, "first_dhcp_request"),
                    address: at(node, "leased"),
                    resets: node["timeline"]["resets"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| Some(t.as_f64()? + offset))
                        .collect(),
                })
                .collect();
            timeline::sort_by_clone(&mut rows);
            let path = dir.join(format!("wiring-{n}.svg"));
            let title = format!("wiring bench, N = {n}, time scale {scale}");
            std::fs::create_dir_all(dir).expect("the --svg directory");
            std::fs::write(&path, timeline::svg(&title, &rows).expect("drawn")).expect("the picture written");
            println!("      drawn: {}", path.display());
        }
        let walls_all = walls.clone();
        let max = |f: fn(&CallCounts) -> u64| polls.iter().map(f).max().unwrap_or(0);
        let mean = |f: fn(&CallCounts) -> u64| polls.iter().map(f).sum::<u64>() as f64 / polls.len().max(1) as f64;
        println!(
            "{n:<5} {vcenter_vms:<12} {:<6} {:>5.1} ({:>3})         {:>5.1} ({:>3})         {:>4.1} ({:>2})       {:>6.0} / {:<6.0}   {:>5.2} / {:<5.2}          {create_s:<9.0} {}",
            polls.len(),
            mean(|c| c.vsphere),
            max(|c| c.vsphere),
            mean(|c| c.neutron),
            max(|c| c.neutron),
            mean(|c| c.bde),
            max(|c| c.bde),
            percentile(walls.clone(), 0.5),
            percentile(walls.clone(), 1.0),
            percentile(delays.clone(), 0.5),
            percentile(delays.clone(), 1.0),
            state.resets,
        );
        if json_lines {
            let line = json!({
                "n": n, "vcenter_vms": vcenter_vms,
                "vsphere_calls_per_poll_mean": round2(mean(|c| c.vsphere)),
                "vsphere_calls_total": polls.iter().map(|c| c.vsphere).sum::<u64>(),
                "poll_ms_p50": round2(percentile(walls_all.clone(), 0.5)),
                "clone_to_port_s_p50": round2(percentile(delays.clone(), 0.5)),
                "clone_to_port_s_max": round2(percentile(delays.clone(), 1.0)),
                "ports_before_power_on_pct": round2(before_pct),
                "resets": state.resets, "create_s": round2(create_s),
                "neutron_bulk_s_floor": round2(floor_s), "wiring_s": round2(wiring_s),
                "wiring_over_floor": round2(wiring_s / floor_s),
            });
            println!("{line}");
        } else {
            println!(
                "      ports before power-on {before_pct:.0} %, wiring {wiring_s:.2} s, one bare bulk POST of {n} ports {floor_s:.2} s"
            );
        }
        let mut state_del = state.clone();
        while !bde_engine::step(&clients, &spec, &mut state_del, &Action::Delete)
            .await
            .unwrap()
            .is_done()
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        clients.close().await;
        world(&["net-delete", &network_id]);
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The floor Neutron sets: one bare bulk POST of `n` ports on the network (fresh MACs,
/// no device), timed; the ports are removed after.
async fn neutron_bulk_floor(network_id: &str, n: usize) -> f64 {
    let neutron = bde_testworld::member_neutron();
    let requests: Vec<bde_openstack::PortRequest> = (0..n)
        .map(|i| bde_openstack::PortRequest {
            network_id: network_id.into(),
            mac_address: format!(
                "fa:16:3e:{:02x}:{:02x}:{:02x}",
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            ),
            name: format!("floor-{i}"),
            device_owner: "compute:bench".into(),
            device_id: format!("floor-{i}"),
            fixed_ips: Vec::new(),
            security_groups: None,
        })
        .collect();
    let t = Instant::now();
    let mut made = Vec::new();
    for chunk in requests.chunks(500) {
        made.extend(neutron.create_ports(chunk).await.unwrap());
    }
    let floor = t.elapsed().as_secs_f64();
    for p in made {
        neutron.delete_port(&p.id).await.unwrap();
    }
    floor
}

async fn sim_timeline() -> Value {
    let http = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&std::fs::read(env("BDE_CA_FILE")).unwrap()).unwrap())
        .build()
        .unwrap();
    http.get(format!("{}/sim/timeline", env("BDE_ENDPOINT")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
