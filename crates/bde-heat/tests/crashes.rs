//! The crash run: the CLI is killed (SIGKILL, no chance to tidy up) at random
//! moments of create and delete, then run again, over several clusters, until
//! at least 50 kills landed. After every kill no MAC has two ports; after every
//! completed create each VM NIC has exactly one right port and no port lacks
//! its VM; after every completed delete nothing is left. The seed is printed
//! (`BDE_CRASH_SEED` replays a run; `BDE_CRASH_KILLS` asks for more kills).

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use bde_openstack::Neutron;
use bde_testworld::{WorldNet, member_neutron as neutron, unique, vcenter};
use common::*;
use serde_json::json;

/// xorshift64*: enough randomness for kill times, with a seed to replay.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[derive(Default)]
struct Tally {
    kills: usize,
    finished_before_kill: usize,
    kills_by_verb: HashMap<&'static str, usize>,
    checks_after_kill: usize,
}

/// Runs `verb` and kills it after a random time; true when it was killed (not already done).
fn run_and_kill(verb: &'static str, file: &str, rng: &mut Rng, tally: &mut Tally) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args([verb, "-f", file])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_millis(100 + rng.below(2900));
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            tally.finished_before_kill += 1;
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    tally.kills += 1;
    *tally.kills_by_verb.entry(verb).or_default() += 1;
    true
}

/// No MAC has two ports on the network (a repeated step made nothing twice).
async fn assert_no_duplicate_port(net: &WorldNet, neutron: &Neutron) {
    let ports = neutron
        .list_ports(&[("network_id", net.network_id.as_str())])
        .await
        .unwrap();
    let mut macs: Vec<_> = ports.iter().map(|p| p.mac_address.clone()).collect();
    let all = macs.len();
    macs.sort();
    macs.dedup();
    assert_eq!(macs.len(), all, "two ports for one MAC: {ports:?}");
}

/// The VMs of the cluster in vCenter: each made once.
async fn cluster_vm_count(name: &str) -> usize {
    let vc = vcenter().await;
    let count = vc
        .vms(None)
        .await
        .unwrap()
        .iter()
        .filter(|v| v.name.starts_with(&format!("{name}-")))
        .count();
    vc.logout().await;
    count
}

#[tokio::test]
async fn the_cli_killed_at_random_moments_leaves_no_duplicate_and_no_orphan() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seed = std::env::var("BDE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    let wanted: usize = std::env::var("BDE_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    println!("crash run: seed {seed}, at least {wanted} kills");
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let neutron = neutron();
    let mut clusters = 0;
    while tally.kills < wanted {
        clusters += 1;
        let net = network();
        let name = unique("crash");
        let groups = json!([
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 2}]);
        let path = cluster_file(&name, &net, groups);
        let file = path.to_str().unwrap();
        // Create: killed until a run finishes on its own (or 12 kills), then completed.
        for _ in 0..12 {
            if !run_and_kill("create", file, &mut rng, &mut tally) {
                break;
            }
            assert_no_duplicate_port(&net, &neutron).await;
            tally.checks_after_kill += 1;
        }
        let report = json_of(&cli(&["create", "-f", file, "--output", "json"]));
        assert_wired(&report, &net, &neutron).await;
        assert_eq!(cluster_vm_count(&name).await, 3, "each VM made once");
        // Delete: the same.
        for _ in 0..6 {
            if !run_and_kill("delete", file, &mut rng, &mut tally) {
                break;
            }
            assert_no_duplicate_port(&net, &neutron).await;
            tally.checks_after_kill += 1;
        }
        json_of(&cli(&["delete", "-f", file, "--output", "json"]));
        assert_gone(&name, &net, &neutron).await;
    }
    println!(
        "crash run: {} kills ({:?}) over {clusters} clusters, {} runs finished before their kill, \
         {} invariant checks after kills, {clusters} wired creates and {clusters} clean deletes",
        tally.kills, tally.kills_by_verb, tally.finished_before_kill, tally.checks_after_kill
    );
}
