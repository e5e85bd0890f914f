//! Bad cluster files through the CLI, no world needed: each of a corpus of
//! more than 40 is refused with exit 2 and an error naming its field, before
//! any connection is made (the endpoints point at a closed port), and no error
//! echoes the file's password. The remote cases (an unknown network, a subnet
//! of another network, a malformed MAC from vCenter) are in the world suites,
//! as are Neutron names with shell characters: Neutron allows any printable
//! name, and the product only ever sends one as a URL-encoded query value.
//! Also the command line itself: `--help` (the environment, the exit codes),
//! `completion`, `man`, `-f` as the format and `-F`/`--file` as the file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const PASSWORD: &str = "pw-NOT-IN-ERRORS-123";

fn good() -> Value {
    json!({
        "bde_endpoint": "https://127.0.0.1:9", "vcm_server": "https://127.0.0.1:9/sdk",
        "username": "admin@vsphere.local", "password": PASSWORD, "cluster_name": "hadoop1",
        "network": "net1", "subnet": "subnet1",
        "node_groups": [
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 3}
        ]
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
        .args(["create", "--file", path.to_str().unwrap()])
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
        // Wrong types, named down to the key inside a group.
        (
            "node_groups",
            json!([{"name": "w", "roles": ["x"], "instance_num": "two"}]),
            "node_groups[0].instance_num",
        ),
        (
            "node_groups",
            json!([{"name": "w", "roles": "x", "instance_num": 1}]),
            "node_groups[0].roles",
        ),
        (
            "node_groups",
            json!([{"name": "w", "roles": ["x"], "instance_num": 1, "cpus": 2}]),
            "node_groups[0].cpus",
        ),
        ("node_groups", json!({"name": "w"}), "node_groups"),
        ("dhcp_grace_seconds", json!("soon"), "dhcp_grace_seconds"),
        ("insecure", json!("yes"), "insecure"),
        ("network", json!(5), "network"),
        // The rest of a BDE spec.
        ("dns_type", json!("FANCY"), "dns_type"),
        ("external_hdfs", json!("hdfs://"), "external_hdfs"),
        ("cluster_password", json!("password"), "cluster_password"),
        (
            "networks",
            json!({"MGT_NETWORK": {"network": "x"}}),
            "networks.MGT_NETWORK",
        ),
        (
            "networks",
            json!({"HDFS_NETWORK": {"net": "x"}}),
            "networks.HDFS_NETWORK.net",
        ),
        ("cluster_spec", json!("{\"type\": \"HDFS\"}"), "cluster_spec.type"),
        (
            "cluster_spec",
            json!({"nodeGroups": [{"name": "w", "roles": ["x"], "instanceNum": "many"}]}),
            "cluster_spec.nodeGroups[0].instanceNum",
        ),
        (
            "cluster_spec",
            json!("{\"password\": 123456789}"),
            "cluster_spec.password",
        ),
        (
            "cluster_spec_file",
            json!("/nonexistent/spec.json"),
            "cluster_spec_file",
        ),
        (
            "node_groups",
            json!([{"name": "w", "roles": ["x"], "instance_num": 1, "storage": {"type": "TEMPFS"}}]),
            "node_groups[0].storage.type",
        ),
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
        .args(["--file", path.to_str().unwrap()])
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

/// `bde-heat ARGS` with only PATH in its environment.
fn bde_heat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bde-heat"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn completion_scripts_and_the_man_page_are_printed() {
    let bash = bde_heat(&["completion", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    let script = String::from_utf8(bash.stdout).unwrap();
    assert!(script.contains("bde-heat") && script.contains("complete"), "{script}");
    assert!(script.contains("--file") && script.contains("--format"), "{script}");
    for shell in ["zsh", "fish"] {
        let out = bde_heat(&["completion", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("bde-heat"), "{shell}");
    }

    let man = bde_heat(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let page = String::from_utf8(man.stdout).unwrap();
    assert!(page.contains(".TH bde-heat 1"), "{page}");
    assert!(page.contains(".SH SYNOPSIS") && page.contains("BDE_HEAT_LOG"), "{page}");
    let create = String::from_utf8(bde_heat(&["man", "create"]).stdout).unwrap();
    assert!(
        create.contains(".TH bde-heat-create") && create.contains("\\-\\-file"),
        "{create}"
    );
    assert_eq!(bde_heat(&["man", "nope"]).status.code(), Some(2));
}

#[test]
fn help_names_the_environment_and_the_exit_codes() {
    let out = bde_heat(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for name in [
        "BDE_HEAT_LOG",
        "OS_CLOUD",
        "OS_AUTH_URL",
        "BDE_HEAT_CREDENTIALS",
        "BDE_PASSWORD",
    ] {
        assert!(help.contains(name), "--help does not name {name}: {help}");
    }
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("6    the cluster is not this file's"), "{help}");
    assert!(help.contains("--verbose") && help.contains("--quiet"), "{help}");

    let create = String::from_utf8(bde_heat(&["create", "--help"]).stdout).unwrap();
    for words in [
        "-F, --file",
        "-f, --format",
        "-c, --column",
        "BDE_HEAT_LOG",
        "6    the cluster",
    ] {
        assert!(create.contains(words), "create --help lacks {words}: {create}");
    }
    assert!(!create.contains("--output"), "--output is a hidden alias: {create}");
}

#[test]
fn dash_f_is_the_format_and_the_old_use_is_explained() {
    let file = write("dash-f.yaml", good().to_string().as_bytes());
    let out = bde_heat(&["create", "-f", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--file") && stderr.contains("-F"), "{stderr}");

    // -F and the deprecated --output json go past the command line (to want OpenStack).
    for extra in [
        &["-f", "yaml", "-c", "status"][..],
        &["--output", "json"],
        &["-q", "-f", "value"],
    ] {
        let mut args = vec!["status", "-F", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = bde_heat(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("OS_AUTH_URL"), "{extra:?}: {stderr}");
    }
    let unknown = bde_heat(&["status", "-F", file.to_str().unwrap(), "-c", "password"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn control_characters_in_errors_are_escaped() {
    let file = std::env::temp_dir().join(format!("bde-heat-input-{}/no\u{1b}[2Jsuch.yaml", std::process::id()));
    let out = bde_heat(&["status", "--file", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no\\x1b[2Jsuch.yaml"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "a raw ESC in {stderr:?}");
}
