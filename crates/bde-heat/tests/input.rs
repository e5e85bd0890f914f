//! Bad cluster files through the CLI, no world needed: each of a corpus of
//! more than 40 is refused with exit 2 and an error naming its field, before
//! any connection is made (the endpoints point at a closed port), and no error
//! echoes the file's password. The remote cases (an unknown network, a subnet
//! of another network, a malformed MAC from vCenter) are in the world suites,
//! as are Neutron names with shell characters: Neutron allows any printable
//! name, and the product only ever sends one as a URL-encoded query value.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const PASSWORD: &str = "pw-NOT-IN-ERRORS-123";

fn good() -> Value {
    json!({
        "bde_endpoint": "https://127.0.0.1:9", "vcm_server": "https://127.0.0.1:9/sdk",
        "username": "admin@vsphere.local", "password": PASSWORD, "cluster_name": "hadoop1",
        "network": "net1", "subnet": "subnet1",
        "node_groups": [{"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 3}]
    })
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bde-heat-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `bde-heat create` with nothing from the caller's environment but PATH.
fn create(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args(["create", "-f", path.to_str().unwrap()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn assert_refused(out: &Output, field: &str, case: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{case}: {stderr}");
    assert!(stderr.contains(field), "{case}: {stderr} does not name {field}");
    assert!(!stderr.contains(PASSWORD), "{case}: the password in an error");
    assert!(out.stdout.is_empty(), "{case}: output on a refusal");
}

#[test]
fn the_corpus_base_is_valid_and_fails_only_for_want_of_openstack() {
    let out = create(&write("good.yaml", good().to_string().as_bytes()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("OS_AUTH_URL"), "{stderr}");
}

#[test]
fn each_bad_value_is_refused_naming_its_field() {
    let long = "x".repeat(81);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("cluster_name", json!("my-cluster"), "cluster_name"),
        ("cluster_name", json!("a.b"), "cluster_name"),
        ("cluster_name", json!("$(reboot)"), "cluster_name"),
        ("cluster_name", json!("a;b"), "cluster_name"),
        ("cluster_name", json!("a|b"), "cluster_name"),
        ("cluster_name", json!("`id`"), "cluster_name"),
        ("cluster_name", json!("../../etc/passwd"), "cluster_name"),
        ("cluster_name", json!(""), "cluster_name"),
        ("cluster_name", json!(long), "cluster_name"),
        ("bde_endpoint", json!("bde.example.com/serengeti"), "bde_endpoint"),
        ("bde_endpoint", json!("http://bde.example.com:8443"), "bde_endpoint"),
        ("bde_endpoint", json!("https://bde:99999"), "bde_endpoint"),
        ("bde_endpoint", json!("https://u:p@bde:8443"), "bde_endpoint"),
        ("bde_endpoint", json!("ftp://bde"), "bde_endpoint"),
        ("vcm_server", json!("http://vc/sdk"), "vcm_server"),
        ("vcm_server", json!("vc:notaport"), "vcm_server"),
        ("vcm_server", json!("https://root:pw@vc/sdk"), "vcm_server"),
        ("username", json!("admin\nX-Injected: 1"), "username"),
        ("username", json!(""), "username"),
        ("network", json!(""), "network"),
        ("network", json!("net\u{0}"), "network"),
        ("subnet", json!("sub\r\n"), "subnet"),
        ("security_group", json!("sg\u{1b}[31m"), "security_group"),
        ("distro", json!("../../bigtop"), "distro"),
        ("distro", json!("bigtop; rm -rf /"), "distro"),
        ("cluster_type", json!("mesos && true"), "cluster_type"),
        ("cluster_rp", json!("rp/../x"), "cluster_rp"),
        ("app_manager", json!("Default\u{7}"), "app_manager"),
        ("device_owner", json!("network:dhcp"), "device_owner"),
        ("dhcp_grace_seconds", json!(0), "dhcp_grace_seconds"),
        ("ca_file", json!("../../../nonexistent/ca.pem"), "ca_file"),
        ("ca_file", json!("/"), "ca_file"),
        ("vcenter_ca_file", json!("/nonexistent/vc-ca.pem"), "vcenter_ca_file"),
        ("vcenter_username", json!("root\t"), "vcenter_username"),
        (
            "node_groups",
            json!([{"name": "", "roles": ["x"], "instance_num": 1}]),
            "node_groups[0].name",
        ),
        (
            "node_groups",
            json!([{"name": "w", "roles": ["x"], "instance_num": 0}]),
            "node_groups[0].instance_num",
        ),
        (
            "node_groups",
            json!([{"name": "w", "roles": ["x"], "instance_num": 100000}]),
            "node_groups[0].instance_num",
        ),
        (
            "node_groups",
            json!([{"name": "a_b", "roles": ["x"], "instance_num": 1}]),
            "node_groups[0].name",
        ),
        (
            "node_groups",
            json!([{"name": "w", "roles": [], "instance_num": 1}]),
            "node_groups[0].roles",
        ),
        (
            "node_groups",
            json!([{"name": "w", "roles": ["x;y"], "instance_num": 1}]),
            "node_groups[0].roles",
        ),
        ("pasword", json!("typo"), "pasword"),
    ];
    assert!(cases.len() >= 40);
    for (i, (key, value, field)) in cases.iter().enumerate() {
        let mut spec = good();
        spec[*key] = value.clone();
        let out = create(&write(&format!("case{i}.yaml"), spec.to_string().as_bytes()));
        assert_refused(&out, field, &format!("{key}={value}"));
    }
    println!(
        "CLI input corpus: {} bad files refused, each naming its field",
        cases.len()
    );
}

#[test]
fn bytes_that_are_not_utf8_syntax_errors_and_missing_credentials_are_named_without_the_password() {
    let text = good().to_string().replace("hadoop1", "had\u{1}oop");
    let bytes = text.replace('\u{1}', "\u{FFFF}").into_bytes();
    // Swap the (valid) U+FFFF for a lone 0xff byte.
    let at = bytes.windows(3).position(|w| w == "\u{FFFF}".as_bytes()).unwrap();
    let mut bad = bytes[..at].to_vec();
    bad.push(0xff);
    bad.extend_from_slice(&bytes[at + 3..]);
    assert_refused(&create(&write("latin1.yaml", &bad)), "cluster_name", "not UTF-8");

    // A YAML mistake on the password's own line: the error gives the place, not the line.
    let broken = format!("cluster_name: hadoop1\npassword: {PASSWORD}: [\n");
    let out = create(&write("broken.yaml", broken.as_bytes()));
    assert_refused(&out, "line 2", "a syntax error");

    let mut spec = good();
    spec.as_object_mut().unwrap().remove("password");
    assert_refused(
        &create(&write("nopass.yaml", spec.to_string().as_bytes())),
        "password",
        "no password",
    );
}

/// `bde-heat VERB` with only PATH and the given variables in its environment.
fn run_with(verb: &str, path: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .arg(verb)
        .args(["-f", path.to_str().unwrap()])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn endpoints_from_the_environment_find_their_entries_in_the_credentials_file() {
    let mut spec = good();
    for key in ["bde_endpoint", "vcm_server", "username", "password"] {
        spec.as_object_mut().unwrap().remove(key);
    }
    let file = write("env-endpoints.yaml", spec.to_string().as_bytes());
    let creds = json!({
        "bde": [{"endpoint": "https://127.0.0.1:9", "username": "bde-admin", "password": PASSWORD}],
        "vcenter": [{"endpoint": "https://127.0.0.1:9/sdk", "username": "vc-admin", "password": PASSWORD}]
    });
    let creds = write("env-creds.yaml", creds.to_string().as_bytes());
    let out = run_with(
        "status",
        &file,
        &["--credentials", creds.to_str().unwrap()],
        &[
            ("BDE_ENDPOINT", "https://127.0.0.1:9"),
            ("VCENTER_URL", "https://127.0.0.1:9/sdk"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("OS_AUTH_URL"),
        "the spec was complete (it failed only for want of OpenStack): {stderr}"
    );
    assert!(!stderr.contains(PASSWORD));
}

#[test]
fn a_second_run_on_the_same_file_fails_fast_naming_the_holder() {
    let file = write("locked.yaml", good().to_string().as_bytes());
    let mut lock_path = file.clone().into_os_string();
    lock_path.push(".state.json.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(&lock_path, "4242").unwrap();
    let started = std::time::Instant::now();
    let out = run_with("status", &file, &[], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("process 4242"), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "it did not wait"
    );
    drop(lock);
}
