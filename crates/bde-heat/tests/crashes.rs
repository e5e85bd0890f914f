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
use bde_testworld::{WorldNet, member_neutron as neutron, unique};
use common::*;

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
    /// Where the saved state stood when each kill landed.
    kills_by_phase: std::collections::BTreeMap<String, usize>,
    checks_after_kill: usize,
}

/// The CLI running `verb` on `file`, its output dropped.
fn spawn_quiet(verb: &str, file: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args([verb, "--file", file])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The state the CLI last saved beside `file` (it saves by rename, so a read sees a whole one).
fn saved_state(file: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(format!("{file}.state.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs `verb` and kills it after a random time; true when it was killed (not already done).
fn run_and_kill(verb: &'static str, file: &str, rng: &mut Rng, tally: &mut Tally) -> bool {
    let mut child = spawn_quiet(verb, file);
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
    let state = saved_state(file).unwrap_or_default();
    let phase = match state["phase"].as_str() {
        Some("wire") => format!(
            "wire ({} of {} VMs with ports)",
            ports_made(&state),
            state["nodes"].as_object().map_or(0, |n| n.len())
        ),
        Some(p) => p.to_string(),
        None => "before the first save".into(),
    };
    *tally.kills_by_phase.entry(phase).or_default() += 1;
    true
}

/// Nothing was made twice by a repeated step: no MAC has two ports on the
/// network, and BDE has at most one network on its portgroup.
async fn assert_nothing_twice(net: &WorldNet, neutron: &Neutron) {
    let bde = bde_testworld::bde().await;
    let registered = bde
        .networks()
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.port_group == net.portgroup)
        .count();
    bde.logout().await;
    assert!(registered <= 1, "{registered} BDE networks on {}", net.portgroup);
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
        let groups = master_and_workers(2);
        let path = cluster_file(&name, &net, groups);
        let file = path.to_str().unwrap();
        // Create: killed until a run finishes on its own (or 12 kills), then completed.
        for _ in 0..12 {
            if !run_and_kill("create", file, &mut rng, &mut tally) {
                break;
            }
            assert_nothing_twice(&net, &neutron).await;
            tally.checks_after_kill += 1;
        }
        let report = json_of(&cli(&["create", "--file", file, "--format", "json"]));
        assert_wired(&report, &net, &neutron).await;
        assert_eq!(cluster_vm_names(&name).await.len(), 3, "each VM made once");
        // Delete: the same.
        for _ in 0..6 {
            if !run_and_kill("delete", file, &mut rng, &mut tally) {
                break;
            }
            assert_nothing_twice(&net, &neutron).await;
            tally.checks_after_kill += 1;
        }
        json_of(&cli(&["delete", "--file", file, "--format", "json"]));
        assert_gone(&name, &net, &neutron).await;
    }
    println!(
        "crash run: {} kills ({:?}) over {clusters} clusters, {} runs finished before their kill, \
         {} invariant checks after kills, {clusters} wired creates and {clusters} clean deletes",
        tally.kills, tally.kills_by_verb, tally.finished_before_kill, tally.checks_after_kill
    );
    println!("crash run: kills by the saved phase: {:?}", tally.kills_by_phase);
}

/// Runs `verb` and kills it as soon as its saved state shows `boundary`;
/// true when it was killed there (false: it finished first).
fn kill_at_boundary(verb: &str, file: &str, boundary: &dyn Fn(&serde_json::Value) -> bool) -> bool {
    let mut child = spawn_quiet(verb, file);
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if saved_state(file).as_ref().is_some_and(boundary) {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    panic!("{verb} never reached its boundary");
}

/// A boundary's name, and how the saved state shows it was reached.
type Boundary = (&'static str, Box<dyn Fn(&serde_json::Value) -> bool>);

fn phase_is(phase: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |s| s["phase"] == phase
}

/// VMs whose port was made (port ids are observed, not stored; the time is).
fn ports_made(s: &serde_json::Value) -> usize {
    s["nodes"]
        .as_object()
        .map(|n| n.values().filter(|n| n["port_created_at"].is_number()).count())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_cli_killed_at_every_step_boundary_leaves_no_duplicate_and_no_orphan() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let neutron = neutron();
    let net = network();
    let name = unique("bound");
    let groups = master_and_workers(2);
    let path = cluster_file(&name, &net, groups);
    let file = path.to_str().unwrap();
    // Each boundary is where a step has saved what it did and the next has not begun.
    let create: Vec<Boundary> = vec![
        ("spec checked", Box::new(phase_is("find_portgroup"))),
        ("portgroup found", Box::new(phase_is("register_network"))),
        (
            "BDE network registered",
            Box::new(|s| s["phase"] == "create_cluster" && s["cluster"].is_null()),
        ),
        (
            "about to ask for the cluster",
            Box::new(|s| s["cluster"]["how"] == "intended" && s["phase"] == "create_cluster"),
        ),
        (
            "cluster asked for",
            Box::new(|s| s["phase"] == "wire" && ports_made(s) == 0),
        ),
        (
            "first port made",
            Box::new(|s| s["phase"] == "wire" && ports_made(s) >= 1),
        ),
        (
            "every VM has its port",
            Box::new(|s| s["phase"] == "wire" && ports_made(s) == 3),
        ),
    ];
    let mut killed = Vec::new();
    for (boundary, reached) in &create {
        if kill_at_boundary("create", file, reached.as_ref()) {
            killed.push(*boundary);
        }
        assert_nothing_twice(&net, &neutron).await;
    }
    let report = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    assert_wired(&report, &net, &neutron).await;
    assert_eq!(cluster_vm_names(&name).await.len(), 3, "each VM made once");
    let delete: Vec<Boundary> = vec![
        (
            "delete asked for",
            Box::new(|s| s["phase"] == "delete_cluster" && s["pending"]["kind"] == "delete"),
        ),
        ("BDE deleted the cluster", Box::new(phase_is("delete_ports"))),
        ("ports removed", Box::new(phase_is("delete_network"))),
    ];
    for (boundary, reached) in &delete {
        if kill_at_boundary("delete", file, reached.as_ref()) {
            killed.push(*boundary);
        }
        assert_nothing_twice(&net, &neutron).await;
    }
    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
    println!(
        "boundary crash run: killed at {} of 10 boundaries: {killed:?}",
        killed.len()
    );
    assert!(killed.len() >= 8, "most boundaries were hit: {killed:?}");
}
