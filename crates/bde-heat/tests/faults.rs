//! The fault run: create, resize and delete through the CLI while a fifth of
//! BDE's and vCenter's answers are 503s (and some of BDE's are cut off). Each
//! verb must end correctly, or fail clearly and complete when run again; the
//! invariants (one right port per VM, nothing left after delete) hold at the end.
//! Its own test binary: the fault knobs are world-wide, so nothing runs beside it.

mod common;

use std::process::Output;

use bde_testworld::{env, member_neutron as neutron, unique};
use common::*;
use serde_json::{Value, json};

const RATE: f64 = 0.2;

/// The two fault knobs: the BDE simulator's and the world's vcsim's.
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

    async fn set(&self, rate: f64) {
        let bde = json!({"error_rate": rate, "drop_rate": rate / 4.0});
        let url = format!("{}/sim/faults", env("BDE_ENDPOINT"));
        assert!(self.bde.put(url).json(&bde).send().await.unwrap().status().is_success());
        let url = env("VCENTER_URL").replace("/sdk", &format!("/world/faults?rate={rate}"));
        assert!(self.vc.post(url).send().await.unwrap().status().is_success());
    }

    /// vcsim's count of calls failed and passed since the rate was last set.
    async fn vcenter_counts(&self) -> Value {
        let url = env("VCENTER_URL").replace("/sdk", "/world/faults");
        self.vc.get(url).send().await.unwrap().json().await.unwrap()
    }
}

/// What one verb took: runs until it succeeds (at most `tries`), keeping every failure's message.
struct Run {
    out: Output,
    attempts: usize,
    retries_logged: usize,
    failures: Vec<String>,
}

fn until_done(args: &[&str], tries: usize) -> Run {
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
    let _ = rustls::crypto::ring::default_provider().install_default();
    let knobs = Knobs::new();
    // Run the body apart so that the knobs are reset even when it fails.
    let body = tokio::spawn(async move {
        let knobs = Knobs::new();
        let net = network();
        let name = unique("fault");
        let groups = json!([
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 2}]);
        let path = cluster_file(&name, &net, groups);
        let file = path.to_str().unwrap();
        let neutron = neutron();

        knobs.set(RATE).await;
        let create = until_done(&["create", "-f", file, "--output", "json"], 4);
        let vc_create = knobs.vcenter_counts().await;
        knobs.set(0.0).await;
        let report = json_of(&create.out);
        assert_eq!(report["nodes"].as_array().unwrap().len(), 3);
        assert_wired(&report, &net, &neutron).await;

        knobs.set(RATE).await;
        let resize = until_done(&["resize", "-f", file, "worker", "4", "--output", "json"], 4);
        let vc_resize = knobs.vcenter_counts().await;
        knobs.set(0.0).await;
        let report = json_of(&resize.out);
        assert_eq!(report["nodes"].as_array().unwrap().len(), 5);
        assert_wired(&report, &net, &neutron).await;

        knobs.set(RATE).await;
        let delete = until_done(&["delete", "-f", file], 4);
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
