//! Services going away mid-action: Neutron stopped (and started again on the
//! same database) in the middle of wiring, and the BDE simulator's API down
//! (its jobs go on, its sessions are lost) in the middle of a resize, then
//! both during a delete. Each verb runs once and must end correctly, logging
//! the outage once when it starts and once when it ends, without a secret.
//! Its own test binary: an outage is world-wide, so nothing runs beside it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bde_testworld::{member_neutron as neutron, unique, world};
use common::*;
use serde_json::Value;

/// The CLI running in the background, its log lines collected as they come.
struct Running {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    stdout: std::thread::JoinHandle<String>,
}

impl Running {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bde-heat"))
            .args(args)
            .env("BDE_HEAT_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut out, &mut text).unwrap();
            text
        });
        Self { child, log, stdout }
    }

    /// Waits for a log line containing `text` (panics after `seconds`).
    fn wait_for(&self, text: &str, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < deadline {
            if self.log.lock().unwrap().iter().any(|l| l.contains(text)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no {text:?} in {:#?}", self.log.lock().unwrap());
    }

    /// Waits for the end: the report (JSON) and the log.
    fn finish(mut self) -> (Value, Vec<String>) {
        let status = self.child.wait().unwrap();
        let stdout = self.stdout.join().unwrap();
        std::thread::sleep(Duration::from_millis(100)); // the last log lines
        let log = self.log.lock().unwrap().clone();
        assert!(status.success(), "exit {status}: {log:#?}");
        for secret in bde_testworld::secrets() {
            assert!(!log.iter().any(|l| l.contains(&secret)), "a secret in the log");
        }
        for line in log
            .iter()
            .filter(|l| l.contains("unreachable") || l.contains("retrying"))
        {
            println!("outage log: {line}");
        }
        (serde_json::from_str(&stdout).unwrap_or(Value::Null), log)
    }
}

/// Every outage the verb saw was logged once when it began and once when it ended.
fn assert_outage_logged(log: &[String], what: &str) {
    let starts = log.iter().filter(|l| l.contains("unreachable: waiting for it")).count();
    let ends = log.iter().filter(|l| l.contains("unreachable service is back")).count();
    assert!(starts >= 1, "{what}: the outage was not noticed: {log:#?}");
    assert_eq!(
        starts, ends,
        "{what}: each outage logged once at its start and end: {log:#?}"
    );
}

#[tokio::test]
async fn create_resize_and_delete_ride_out_neutron_and_bde_going_away() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = network();
    let name = unique("out");
    let groups = master_and_workers(2);
    let path = cluster_file(&name, &net, groups);
    let file = path.to_str().unwrap();
    let neutron = neutron();

    // Each outage outlasts the transport's own retries of one call (four, from 0.2 s doubling,
    // jittered: 3 to 6 s), so the engine's step itself meets it and waits it out.
    // Neutron stopped as soon as BDE starts cloning: the ports are made once it is back.
    let create = Running::start(&["create", "--file", file, "--format", "json"]);
    create.wait_for("BDE cluster requested", 300);
    world(&["outage", "neutron", "10"]);
    let (report, log) = create.finish();
    assert_outage_logged(&log, "create");
    assert_eq!(report["nodes"].as_array().unwrap().len(), 3);
    assert_wired(&report, &net, &neutron).await;

    // BDE's API down while the new workers are cloned and wired; every session is lost with it.
    let resize = Running::start(&["resize", "--file", file, "worker", "4", "--format", "json"]);
    resize.wait_for("BDE task started", 120);
    world(&["outage", "bde", "12"]);
    let (report, log) = resize.finish();
    assert_outage_logged(&log, "resize");
    assert_eq!(report["nodes"].as_array().unwrap().len(), 5);
    assert_wired(&report, &net, &neutron).await;

    // Both go away while BDE deletes the VMs.
    let delete = Running::start(&["delete", "--file", file]);
    delete.wait_for("BDE delete started", 60);
    world(&["outage", "bde", "12"]);
    world(&["outage", "neutron", "5"]);
    let (_, log) = delete.finish();
    assert_outage_logged(&log, "delete");
    assert_gone(&name, &net, &neutron).await;
    println!("outage run invariants: one right port per VM after create (3) and resize (5); nothing left after delete");
}
