//! The fault run: create, resize and delete through the CLI while a fifth of
//! BDE's and vCenter's answers are 503s, some of BDE's are cut off, every
//! answer is slow, and BDE's sessions expire now and then. Each verb must end
//! correctly, or fail clearly and complete when run again; the invariants (one
//! right port per VM, nothing left after delete) hold at the end. Also here:
//! a clone that fails (a clear failure; running the create again resumes the
//! same cluster) and a VM whose MAC vCenter reports malformed (refused before
//! any port is made from it).
//! Its own test binary: the fault knobs are world-wide, so nothing runs beside
//! it, and its tests take turns (`turn`).

mod common;

use std::process::Output;
use std::time::Duration;

use bde_testworld::{env, member_neutron as neutron, unique};
use common::*;
use serde_json::{Value, json};

const RATE: f64 = 0.2;

/// One test at a time here: the fault run sets world-wide rates (scripts/test runs it alone).
async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// The fault knobs: the BDE simulator's and the world's vcsim's.
struct Knobs {
    bde: reqwest::Client,
    vc: reqwest::Client,
}

impl Knobs {
    fn new() -> Self {
        let client = |ca: &str| {
            let pem = std::fs::read(env(ca)).unwrap();
            reqwest::Client::builder()
                .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
                .build()
                .unwrap()
        };
        Self {
            bde: client("BDE_CA_FILE"),
            vc: client("VCENTER_CA_FILE"),
        }
    }

    /// These knobs of the simulator's fault set (`null` clears one): a JSON merge patch, so
    /// tests running beside this one keep their own knobs.
    async fn bde(&self, faults: Value) {
        let url = format!("{}/sim/faults", env("BDE_ENDPOINT"));
        assert!(
            self.bde
                .patch(url)
                .json(&faults)
                .send()
                .await
                .unwrap()
                .status()
                .is_success()
        );
    }

    /// A flaky, slow world (`rate` 0: a healthy one).
    async fn set(&self, rate: f64) {
        let slow = if rate > 0.0 { 0.05 } else { 0.0 };
        self.bde(json!({"error_rate": rate, "drop_rate": rate / 4.0, "slow_seconds": slow}))
            .await;
        let delay_ms = if rate > 0.0 { 20 } else { 0 };
        let url = env("VCENTER_URL").replace("/sdk", &format!("/world/faults?rate={rate}&delay_ms={delay_ms}"));
        assert!(self.vc.post(url).send().await.unwrap().status().is_success());
    }

    /// Ends every BDE session, as a BDE restart or an idle timeout does.
    async fn expire_sessions(&self) {
        let url = format!("{}/sim/expire-sessions?all=true", env("BDE_ENDPOINT"));
        assert!(self.bde.post(url).send().await.unwrap().status().is_success());
    }

    /// vcsim's count of calls failed and passed since the rate was last set.
    async fn vcenter_counts(&self) -> Value {
        let url = env("VCENTER_URL").replace("/sdk", "/world/faults");
        self.vc.get(url).send().await.unwrap().json().await.unwrap()
    }
}

/// Runs `work` with BDE's sessions expired every few seconds meanwhile.
async fn with_sessions_expiring<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let work = tokio::task::spawn_blocking(work);
    let knobs = Knobs::new();
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done.unwrap(),
            () = tokio::time::sleep(Duration::from_secs(4)) => knobs.expire_sessions().await,
        }
    }
}

/// What one verb took: runs until it succeeds (at most `tries`), keeping every failure's message.
struct Run {
    out: Output,
    attempts: usize,
    retries_logged: usize,
    failures: Vec<String>,
}

fn until_done(args: &[String], tries: usize) -> Run {
    let mut failures = Vec::new();
    let mut retries_logged = 0;
    for attempt in 1..=tries {
        let out = cli(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        retries_logged += stderr.matches("retrying").count();
        for secret in bde_testworld::secrets() {
            assert!(!stderr.contains(&secret), "a secret in the CLI's log");
        }
        if out.status.success() {
            return Run {
                out,
                attempts: attempt,
                retries_logged,
                failures,
            };
        }
        let last = stderr.lines().last().unwrap_or_default().to_string();
        assert!(
            last.starts_with(&format!("bde-heat {}:", args[0])),
            "a failure says what failed: {stderr}"
        );
        failures.push(last);
    }
    panic!("{args:?} did not complete in {tries} runs: {failures:#?}");
}

#[tokio::test]
async fn create_resize_and_delete_end_correctly_with_a_fifth_of_bde_and_vcenter_calls_failing() {
    let _turn = turn().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let knobs = Knobs::new();
    // Run the body apart so that the knobs are reset even when it fails.
    let body = tokio::spawn(async move {
        let knobs = Knobs::new();
        let net = network();
        let name = unique("fault");
        let groups = master_and_workers(2);
        let path = cluster_file(&name, &net, groups);
        let file = path.to_str().unwrap();
        let neutron = neutron();

        knobs.set(RATE).await;
        let create_args = owned(&["create", "--file", file, "--format", "json"]);
        let create = with_sessions_expiring(move || until_done(&create_args, 4)).await;
        let vc_create = knobs.vcenter_counts().await;
        knobs.set(0.0).await;
        let report = json_of(&create.out);
        assert_eq!(report["nodes"].as_array().unwrap().len(), 3);
        assert_wired(&report, &net, &neutron).await;

        knobs.set(RATE).await;
        let resize_args = owned(&["resize", "--file", file, "worker", "4", "--format", "json"]);
        let resize = with_sessions_expiring(move || until_done(&resize_args, 4)).await;
        let vc_resize = knobs.vcenter_counts().await;
        knobs.set(0.0).await;
        let report = json_of(&resize.out);
        assert_eq!(report["nodes"].as_array().unwrap().len(), 5);
        assert_wired(&report, &net, &neutron).await;

        knobs.set(RATE).await;
        let delete_args = owned(&["delete", "--file", file]);
        let delete = with_sessions_expiring(move || until_done(&delete_args, 4)).await;
        let vc_delete = knobs.vcenter_counts().await;
        knobs.set(0.0).await;
        assert_gone(&name, &net, &neutron).await;

        for (verb, run, vc) in [
            ("create", &create, vc_create),
            ("resize", &resize, vc_resize),
            ("delete", &delete, vc_delete),
        ] {
            println!(
                "fault run {verb}: {} run(s), {} retries logged, vCenter calls failed {} / passed {}, failures: {:?}",
                run.attempts, run.retries_logged, vc["failed"], vc["passed"], run.failures
            );
        }
        println!(
            "fault run invariants: one right port per VM after create (3) and resize (5); nothing left after delete"
        );
    });
    let result = body.await;
    knobs.set(0.0).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn a_failed_clone_fails_the_create_clearly_and_running_it_again_resumes_the_same_cluster() {
    let _turn = turn().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let knobs = Knobs::new();
    let net = network();
    let name = unique("clone");
    let path = cluster_file(&name, &net, master_and_workers(2));
    let file = path.to_str().unwrap();
    let victim = format!("{name}-worker-1");
    knobs.bde(json!({"fail_clone": [victim]})).await;
    let first = cli(&["create", "--file", file]);
    knobs.bde(json!({"fail_clone": null})).await;
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(3), "a remote failure: {stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains(&victim), "the failure names the VM: {last}");
    assert!(last.contains("run it again"), "the failure says how to go on: {last}");
    let neutron = neutron();
    let ports = neutron
        .list_ports(&[("network_id", net.network_id.as_str())])
        .await
        .unwrap();
    assert!(ports.len() <= 2, "no port for the VM that was never made: {ports:?}");

    let report = json_of(&cli(&["create", "--file", file, "--format", "json"]));
    assert_eq!(report["status"], "RUNNING");
    assert_wired(&report, &net, &neutron).await;
    let vms = cluster_vm_names(&name).await;
    assert_eq!(vms.len(), 3, "BDE resumed the same cluster; each VM made once: {vms:?}");
    println!("clone fault: first create failed with {last:?}; the second resumed it: {vms:?}");
    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}

#[tokio::test]
async fn a_malformed_mac_from_vcenter_is_refused_before_any_port_is_made_from_it() {
    let _turn = turn().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let knobs = Knobs::new();
    let net = network();
    let name = unique("mac");
    let path = cluster_file(&name, &net, master_and_workers(1));
    let file = path.to_str().unwrap();
    let victim = format!("{name}-worker-0");
    knobs.bde(json!({"bad_mac": [victim]})).await;
    let out = cli(&["create", "--file", file, "--timeout", "240"]);
    knobs.bde(json!({"bad_mac": null})).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "a remote failure: {stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(&victim) && last.contains("macAddress") && last.contains("not a MAC address"),
        "the failure names the VM and the field: {last}"
    );
    let neutron = neutron();
    let ports = neutron
        .list_ports(&[("network_id", net.network_id.as_str())])
        .await
        .unwrap();
    assert!(
        ports.iter().all(|p| !p.name.starts_with(&victim)),
        "no port from the malformed MAC: {ports:?}"
    );
    println!("malformed MAC: {last:?}; {} port(s) made for the other VM", ports.len());
    // What was made is removed as usual.
    json_of(&cli(&["delete", "--file", file, "--format", "json"]));
    assert_gone(&name, &net, &neutron).await;
}
