//! The BDE simulator against the test world, driven over HTTP with a plain
//! client (reqwest), Neutron (as the project member) and vcsim's own SOAP API.
//! Needs `scripts/world up` and its environment (scripts/test does both).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bde_openstack::{Neutron, PortRequest};
use bde_testworld::{WorldNet, env, member_neutron, unique, vcenter, world};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A logged-in BDE session over a plain HTTP client.
struct Bde {
    http: reqwest::Client,
    base: String,
}

fn http_client(cookies: bool) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = std::fs::read(env("BDE_CA_FILE")).unwrap();
    reqwest::Client::builder()
        .cookie_store(cookies)
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
        .build()
        .unwrap()
}

impl Bde {
    async fn login() -> Self {
        let bde = Bde {
            http: http_client(true),
            base: env("BDE_ENDPOINT"),
        };
        let resp = bde
            .http
            .post(format!("{}/serengeti/j_spring_security_check", bde.base))
            .form(&[("j_username", env("BDE_USERNAME")), ("j_password", env("BDE_PASSWORD"))])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        bde
    }

    fn url(&self, path: &str) -> String {
        format!("{}/serengeti/api{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Option<String>, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let location = resp.headers().get("Location").map(|l| l.to_str().unwrap().to_string());
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, location, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.send(self.http.get(self.url(path))).await;
        (s, b)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Option<String>, Value) {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Option<String>, Value) {
        self.send(self.http.put(self.url(path)).json(&body)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Option<String>, Value) {
        self.send(self.http.delete(self.url(path))).await
    }

    /// Follows a task to its end, as the CLI does.
    async fn wait_task(&self, location: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let task: Value = self.http.get(location).send().await.unwrap().json().await.unwrap();
            if ["COMPLETED", "FAILED", "STOPPED", "ABANDONED"].contains(&task["status"].as_str().unwrap()) {
                return task;
            }
            assert!(
                started.elapsed() < limit,
                "task {location} still {task} after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn cluster(&self, name: &str) -> Value {
        let (status, body) = self.get(&format!("/cluster/{name}?details=true")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn timeline(&self, cluster: &str) -> Vec<Value> {
        let all: Value = self
            .http
            .get(format!("{}/sim/timeline", self.base))
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

    /// Registers a new Neutron network (with its NSX-v portgroup) as a BDE network.
    async fn network(&self) -> TestNetwork {
        let net = WorldNet::create("10.60.0.0/24");
        let name = unique("n");
        let (s, _, b) = self
            .post(
                "/networks",
                json!({"name": name, "portGroup": net.portgroup, "isDhcp": true, "dnsType": "NORMAL"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        TestNetwork {
            bde_name: name,
            network_id: net.network_id,
            subnet_id: net.subnet_id,
            portgroup: net.portgroup,
        }
    }
}

struct TestNetwork {
    bde_name: String,
    network_id: String,
    subnet_id: String,
    portgroup: String,
}

/// Makes a compute port for a node's MAC, as the product would.
async fn make_port(neutron: &Neutron, net: &TestNetwork, node: &Value) -> bde_openstack::Port {
    let ports = neutron.create_ports(&[port_request(net, node)]).await.unwrap();
    ports.into_iter().next().unwrap()
}

fn port_request(net: &TestNetwork, node: &Value) -> PortRequest {
    PortRequest {
        network_id: net.network_id.clone(),
        mac_address: node["mac"].as_str().unwrap().into(),
        name: format!("{}-port0", node["name"].as_str().unwrap()),
        device_owner: "compute:bde".into(),
        device_id: node["vm"].as_str().unwrap().into(),
        fixed_ips: vec![json!({"subnet_id": net.subnet_id})],
        security_groups: None,
    }
}

async fn cleanup_network(neutron: &Neutron, net: &TestNetwork, bde: &Bde) {
    for p in neutron.list_ports(&[("network_id", &net.network_id)]).await.unwrap() {
        if p.device_owner.starts_with("compute") {
            neutron.delete_port(&p.id).await.unwrap();
        }
    }
    bde.delete(&format!("/network/{}", net.bde_name)).await;
    world(&["net-delete", &net.network_id]);
}

fn node_ips(cluster: &Value) -> Vec<(String, String, String)> {
    cluster["nodeGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["instances"].as_array().unwrap().iter())
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["status"].as_str().unwrap().to_string(),
                n["ipConfigs"]["MGT_NETWORK"][0]["ipAddress"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

/// Polls the timeline until every node of the cluster has a VM and a MAC.
async fn wait_cloned(bde: &Bde, cluster: &str, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let nodes = bde.timeline(cluster).await;
        if nodes.len() == count && nodes.iter().all(|n| n["mac"].is_string()) {
            return nodes;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "not cloned: {nodes:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wires a cluster as the product does, until told to stop: one bulk port request a pass
/// for every newly cloned node, and a reset for a guest that gave up on DHCP before its
/// port came (on a loaded machine a late port is normal; these tests are not about speed).
fn spawn_wirer(cluster: String, net_id: String, subnet_id: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bde = Bde::login().await;
        let neutron = member_neutron();
        let vc = vcenter().await;
        let net = TestNetwork {
            bde_name: String::new(),
            network_id: net_id,
            subnet_id,
            portgroup: String::new(),
        };
        let mut wired = HashSet::new();
        // Each give-up (node, moment) is answered by one reset.
        let mut reset = HashSet::new();
        loop {
            let nodes = bde.timeline(&cluster).await;
            let new: Vec<&Value> = nodes
                .iter()
                .filter(|n| n["mac"].as_str().is_some_and(|mac| !wired.contains(mac)))
                .collect();
            if !new.is_empty() {
                let requests: Vec<_> = new.iter().map(|n| port_request(&net, n)).collect();
                // A failed create is tried again on the next pass (a panic here would go unseen).
                match neutron.create_ports(&requests).await {
                    Ok(_) => wired.extend(new.iter().map(|n| n["mac"].as_str().unwrap().to_string())),
                    Err(e) => eprintln!("wirer: {} ports failed, retrying: {e}", requests.len()),
                }
            }
            for node in &nodes {
                let gave_up = node["timeline"]["gave_up"].to_string();
                let wired_node = node["mac"].as_str().is_some_and(|mac| wired.contains(mac));
                if gave_up != "null" && wired_node && reset.insert((node["name"].to_string(), gave_up)) {
                    let vm = bde_vsphere::MoRef::new("VirtualMachine", node["vm"].as_str().unwrap());
                    if let Err(e) = vc.reset_vm(&vm, Duration::from_secs(30)).await {
                        eprintln!("wirer: reset of {vm:?} failed, retrying: {e}");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

#[tokio::test]
async fn login_sessions_and_logout_follow_spring_security() {
    let plain = http_client(true);
    let base = env("BDE_ENDPOINT");
    let resp = plain.get(format!("{base}/serengeti/api/hello")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "an HTML page, not JSON"
    );

    let bad = plain
        .post(format!("{base}/serengeti/j_spring_security_check"))
        .form(&[("j_username", env("BDE_USERNAME").as_str()), ("j_password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);

    let bde = Bde::login().await;
    let (s, hello) = bde.get("/hello").await;
    assert_eq!((s, hello), (StatusCode::OK, json!({"version": "2.3.2"})));
    let (s, distros) = bde.get("/distros").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<_> = distros
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    for want in ["bigtop", "mesos", "spark", "kafka", "cassandra"] {
        assert!(names.contains(&want), "{names:?}");
    }

    let out = bde
        .http
        .get(format!("{base}/serengeti/j_spring_security_logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::FOUND);
    assert_eq!(out.headers()["location"], "/serengeti/");
    assert_eq!(
        bde.get("/hello").await.0,
        StatusCode::UNAUTHORIZED,
        "the session is gone after logout"
    );
}

#[tokio::test]
async fn expired_sessions_get_401() {
    // Cookies by hand: the session cookie's path is /serengeti, the knob is at /sim.
    let http = http_client(false);
    let base = env("BDE_ENDPOINT");
    let login = http
        .post(format!("{base}/serengeti/j_spring_security_check"))
        .form(&[("j_username", env("BDE_USERNAME")), ("j_password", env("BDE_PASSWORD"))])
        .send()
        .await
        .unwrap();
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set_cookie.starts_with("JSESSIONID=") && set_cookie.contains("Secure"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let hello = |c: String| {
        http.get(format!("{base}/serengeti/api/hello"))
            .header("Cookie", c)
            .send()
    };
    assert_eq!(hello(cookie.clone()).await.unwrap().status(), StatusCode::OK);
    http.post(format!("{base}/sim/expire-sessions"))
        .header("Cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(hello(cookie).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn networks_are_checked_stored_and_removed_as_the_reference_says() {
    let bde = Bde::login().await;
    let (s, _, body) = bde.post("/networks", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "BDD.MISSING_PARAMETER");
    assert_eq!(body["message"], "Missing parameters: name, portGroup, dnsType.");
    assert_eq!(body["warning"], false);

    let (s, _, body) = bde
        .post(
            "/networks",
            json!({"name": "a.b", "portGroup": "x", "dnsType": "NORMAL"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BDD.INVALID_PARAMETER"))
    );

    let (s, _, body) = bde
        .post(
            "/networks",
            json!({"name": unique("n"), "portGroup": "no-such-pg", "isDhcp": true, "dnsType": "NORMAL"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VC_PROVIDER.NETWORK_NOT_FOUND"))
    );

    let (s, _, body) = bde
        .post(
            "/networks",
            json!({"name": "x", "port_group": "x", "dnsType": "NORMAL"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::INTERNAL_SERVER_ERROR,
        "unknown JSON fields are fatal: {body}"
    );
    assert_eq!(body["code"], "BDD.INTERNAL_ERROR");

    let net = bde.network().await;
    let (s, read) = bde.get(&format!("/network/{}", net.bde_name)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(read["portGroup"], net.portgroup.as_str());
    assert_eq!(read["dhcp"], true, "NetworkRead says dhcp, not isDhcp");
    assert!(read["allIpBlocks"].is_null());

    let (s, _, body) = bde
        .post(
            "/networks",
            json!({"name": net.bde_name, "portGroup": net.portgroup, "isDhcp": "true", "dnsType": "NORMAL"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BDD.ALREADY_EXISTS"))
    );

    let (_, list) = bde.get("/networks").await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == net.bde_name.as_str())
    );

    let (s, _, _) = bde.delete(&format!("/network/{}", net.bde_name)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = bde.get(&format!("/network/{}", net.bde_name)).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BDD.NOT_FOUND"))
    );
    cleanup_network(&member_neutron(), &net, &bde).await;
}

#[tokio::test]
async fn cluster_create_refuses_bad_specs_with_the_reference_codes() {
    let bde = Bde::login().await;
    let net = bde.network().await;
    // One VM that is a whole HDFS (BDE refuses half a service).
    let group = |name: &str, mem: i64| json!({"name": name, "roles": ["hadoop_namenode", "hadoop_datanode"], "instanceNum": 1, "cpuNum": 1, "memCapacityMB": mem});
    let base = |name: &str| json!({"name": name, "networkConfig": {"MGT_NETWORK": [net.bde_name]}, "nodeGroups": [group("worker", 2048)]});
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"name": "my-cluster"}),
            StatusCode::BAD_REQUEST,
            "BDD.INVALID_PARAMETER",
        ),
        (
            {
                let mut b = base("okname");
                b["distro"] = json!("nosuch");
                b
            },
            StatusCode::NOT_FOUND,
            "BDD.NOT_FOUND",
        ),
        (
            json!({"name": "okname", "nodeGroups": [group("worker", 2048)]}),
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.NETWORK_IS_NOT_SPECIFIED",
        ),
        (
            json!({"name": "okname", "networkConfig": {"MGT_NETWORK": ["nosuch"]}}),
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.NETWORK_IS_NOT_FOUND",
        ),
        (
            {
                let mut b = base("okname");
                b["nodeGroups"] = json!([group("a_b", 2048)]);
                b
            },
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.NODE_GROUP_NAME_IS_INVALID",
        ),
        (
            {
                let mut b = base("okname");
                b["nodeGroups"] = json!([group("worker", 512)]);
                b
            },
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.INVALID_SPECIFICATION",
        ),
        (
            {
                let mut b = base("okname");
                b["rpNames"] = json!(["nosuch"]);
                b
            },
            StatusCode::NOT_FOUND,
            "VC_PROVIDER.RESOURCE_POOL_NOT_FOUND",
        ),
        (
            json!({"name": "okname", "nodeGroups": [{"name": "w", "roles": ["x"], "instance_num": 1}]}),
            StatusCode::INTERNAL_SERVER_ERROR,
            "BDD.INTERNAL_ERROR",
        ),
        (
            // Neither an instance type nor both CPUs and memory.
            {
                let mut b = base("okname");
                b["nodeGroups"] = json!([{"name": "worker", "roles": ["hadoop_namenode", "hadoop_datanode"], "instanceNum": 1, "cpuNum": 2}]);
                b
            },
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.INSTANCE_SIZE_NOT_SET",
        ),
        (
            {
                let mut b = base("okname");
                b["networkConfig"]["HDFS_NETWORK"] = json!(["nosuch"]);
                b
            },
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.NETWORK_IS_NOT_FOUND",
        ),
        (
            {
                let mut b = base("okname");
                b["externalHDFS"] = json!("http://nn:8020");
                b
            },
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.INVALID_SPECIFICATION",
        ),
    ];
    // What the engine refuses before BDE (so no world test of bde-heat reaches these):
    // BDE's own refusals, with their codes and words.
    let with_group = |extra: Value| {
        let mut b = base("okname");
        b["nodeGroups"][0]
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let refusals: Vec<(Value, StatusCode, &str, &str)> = vec![
        (
            with_group(json!({"roles": ["hadoop_namenode", "hadoop_datanode", "mesos_slave"]})),
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.INVALID_SPECIFICATION",
            "role: mesos_slave is not supported by bigtop.",
        ),
        (
            with_group(json!({"storage": {"type": "TEMPFS"}})),
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.INVALID_SPECIFICATION",
            "TEMPFS",
        ),
        (
            with_group(json!({"haFlag": "ft", "storage": {"type": "LOCAL"}})),
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.LOCAL_STORAGE_USED_FOR_FT_GROUP",
            "Local storage cannot be used by node group worker",
        ),
        (
            with_group(json!({"storage": {"type": "LOCAL", "dsNames": ["nosuch_ds"]}})),
            StatusCode::NOT_FOUND,
            "VC_PROVIDER.DATASTORE_NOT_FOUND",
            "Cannot find datastore nosuch_ds.",
        ),
        (
            // Two namenodes without journal nodes and ZooKeeper.
            with_group(json!({"instanceNum": 2})),
            StatusCode::BAD_REQUEST,
            "CLUSTER_CONFIG.INVALID_SPECIFICATION",
            "journal nodes",
        ),
    ];
    for (body, status, code, says) in refusals {
        let (s, _, answer) = bde.post("/clusters", body.clone()).await;
        assert_eq!((s, answer["code"].as_str()), (status, Some(code)), "{body} -> {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
    }
    for (body, status, code) in cases {
        let (s, _, answer) = bde.post("/clusters", body.clone()).await;
        assert_eq!((s, answer["code"].as_str()), (status, Some(code)), "{body} -> {answer}");
    }
    // `validateRoleDependency`, in BDE's words: half a service, a service without the
    // services it runs on.
    let with_roles = |groups: &[&[&str]]| {
        let mut b = base("okname");
        b["nodeGroups"] = groups
            .iter()
            .enumerate()
            .map(|(i, roles)| json!({"name": format!("g{i}"), "roles": roles, "instanceNum": 1, "instanceType": "SMALL"}))
            .collect();
        b
    };
    for (groups, says) in [
        (
            &[&["hadoop_datanode"][..]][..],
            "Missing role(s): hadoop_namenode for service: HDFS.",
        ),
        (
            // (MapReduce v1 beside YARN: the world's bigtop has no MapReduce v1 roles to try it with.)
            &[&["hadoop_resourcemanager"][..], &["hadoop_nodemanager"][..]][..],
            "Some dependent services [HDFS] YARN relies on cannot be found in the spec file.",
        ),
        (
            &[
                &["hadoop_namenode", "hbase_master"][..],
                &["hadoop_datanode", "hbase_regionserver"][..],
            ][..],
            "Some dependent services [HDFS, ZOOKEEPER] HBASE relies on cannot be found in the spec file.",
        ),
    ] {
        let (s, _, answer) = bde.post("/clusters", with_roles(groups)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["code"], "CLUSTER_CONFIG.INVALID_SPECIFICATION", "{answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{groups:?}: {message}");
    }
    let (s, body) = bde.get("/cluster/okname").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BDD.NOT_FOUND")),
        "nothing was created"
    );
    assert_eq!(bde.get("/task/99999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(bde.get("/task/abc").await.0, StatusCode::INTERNAL_SERVER_ERROR);
    cleanup_network(&member_neutron(), &net, &bde).await;
}

#[tokio::test]
async fn the_dhcp_race_both_ways_on_real_vms() {
    let bde = Bde::login().await;
    let neutron = member_neutron();
    let net = bde.network().await;
    let name = unique("race");
    let (s, location, body) = bde
        .post(
            "/clusters",
            json!({"name": name, "distro": "bigtop", "networkConfig": {"MGT_NETWORK": [net.bde_name]},
                   "nodeGroups": [
                       {"name": "early", "roles": ["hadoop_namenode", "hadoop_datanode"], "instanceNum": 1, "cpuNum": 1, "memCapacityMB": 2048},
                       {"name": "late", "roles": ["hadoop_datanode"], "instanceNum": 1, "cpuNum": 1, "memCapacityMB": 2048}]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let location = location.expect("a Location header");
    assert!(
        location.starts_with(&format!("{}/serengeti/api/task/", env("BDE_ENDPOINT"))),
        "{location}"
    );
    assert_eq!(bde.cluster(&name).await["status"], "PROVISIONING");
    let (s, _, body) = bde.delete(&format!("/cluster/{name}")).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("CLUSTER.CANNOT_DELETE"))
    );

    let nodes = wait_cloned(&bde, &name, 2).await;
    let early = nodes.iter().find(|n| n["group"] == "early").unwrap();
    let late = nodes.iter().find(|n| n["group"] == "late").unwrap();
    // The early node gets its port before its guest asks: the port's address is leased.
    let early_port = make_port(&neutron, &net, early).await;

    // The late node's guest gives up first; its port then comes too late...
    let started = Instant::now();
    while bde.timeline(&name).await.iter().find(|n| n["group"] == "late").unwrap()["timeline"]["gave_up"].is_null() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the late guest never gave up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let late_port = make_port(&neutron, &net, late).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ips = node_ips(&bde.cluster(&name).await);
    let late_ip = &ips.iter().find(|(n, _, _)| n.contains("-late-")).unwrap().2;
    assert_eq!(late_ip, "0.0.0.0", "a guest that gave up stays without an address");

    // ...until it is reset through vCenter.
    let vc = vcenter().await;
    let late_vm = bde_vsphere::MoRef::new("VirtualMachine", late["vm"].as_str().unwrap());
    vc.reset_vm(&late_vm, Duration::from_secs(30)).await.unwrap();

    let task = bde.wait_task(&location, Duration::from_secs(120)).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(task["progress"], 1.0);
    let cluster = bde.cluster(&name).await;
    assert_eq!(cluster["status"], "RUNNING");
    for (node, status, ip) in node_ips(&cluster) {
        let port = if node.contains("-late-") {
            &late_port
        } else {
            &early_port
        };
        assert_eq!(ip, port.ip().unwrap(), "{node} has its port's address");
        assert!(status == "VM Ready" || status == "Service Ready", "{node}: {status}");
    }
    let timeline = bde.timeline(&name).await;
    let resets = |g: &str| {
        timeline.iter().find(|n| n["group"] == g).unwrap()["timeline"]["resets"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((resets("early"), resets("late")), (0, 1));

    // The VMs are real: vcsim shows them with the moIds and MACs BDE reports.
    let vms = vc.vms(None).await.unwrap();
    for group in cluster["nodeGroups"].as_array().unwrap() {
        for node in group["instances"].as_array().unwrap() {
            let mo_id = node["moId"].as_str().unwrap();
            let vm_id = mo_id.strip_prefix("null:VirtualMachine:").expect(mo_id);
            let vm = vms
                .iter()
                .find(|v| v.moref.value == vm_id)
                .expect("the VM exists in vcsim");
            assert_eq!(vm.name, node["name"].as_str().unwrap());
            assert_eq!(vm.power_state, "poweredOn");
            let t = timeline.iter().find(|t| t["name"] == node["name"]).unwrap();
            assert_eq!(vm.nics[0].mac, t["mac"].as_str().unwrap());
        }
    }
    let macs: Vec<_> = vms.iter().flat_map(|v| v.nics.iter().map(|n| n.mac.clone())).collect();
    assert_eq!(
        macs.iter().collect::<HashSet<_>>().len(),
        macs.len(),
        "every MAC in vcsim is unique"
    );

    let (s, location, _) = bde.delete(&format!("/cluster/{name}")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let task = bde.wait_task(&location.unwrap(), Duration::from_secs(60)).await;
    assert_eq!(
        (task["status"].as_str(), task["type"].as_str()),
        (Some("COMPLETED"), Some("DELETE"))
    );
    assert_eq!(bde.get(&format!("/cluster/{name}")).await.0, StatusCode::NOT_FOUND);
    let left: Vec<_> = vc
        .vms(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.name.starts_with(&name))
        .collect();
    assert!(left.is_empty(), "VMs left in vcsim: {left:?}");
    vc.logout().await;
    cleanup_network(&neutron, &net, &bde).await;
}

#[tokio::test]
async fn without_ports_the_cluster_ends_in_provision_error() {
    let bde = Bde::login().await;
    let net = bde.network().await;
    let name = unique("noport");
    let (s, location, _) = bde
        .post(
            "/clusters",
            json!({"name": name, "networkConfig": {"MGT_NETWORK": [net.bde_name]},
                   "nodeGroups": [{"name": "worker", "roles": ["hadoop_namenode", "hadoop_datanode"], "instanceNum": 1, "cpuNum": 1, "memCapacityMB": 1024}]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let task = bde.wait_task(&location.unwrap(), Duration::from_secs(300)).await;
    assert_eq!(task["status"], "FAILED");
    assert!(task["errorMessage"].as_str().unwrap().contains(&name), "{task}");
    let cluster = bde.cluster(&name).await;
    assert_eq!(cluster["status"], "PROVISION_ERROR");
    let node = &cluster["nodeGroups"][0]["instances"][0];
    assert_eq!(
        (node["action"].as_str(), node["actionFailed"].as_bool()),
        (Some("Failed to query IP address"), Some(true))
    );
    assert_eq!(node["ipConfigs"]["MGT_NETWORK"][0]["ipAddress"], "0.0.0.0");

    // The network is busy while a cluster uses it.
    let (s, _, body) = bde.delete(&format!("/network/{}", net.bde_name)).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("NETWORK.NETWORK_IN_USE"))
    );

    // Resume after the port exists and the stuck VM is reset: the cluster completes.
    let timeline = bde.timeline(&name).await;
    let port = make_port(&member_neutron(), &net, &timeline[0]).await;
    let vc = vcenter().await;
    let vm = bde_vsphere::MoRef::new("VirtualMachine", timeline[0]["vm"].as_str().unwrap());
    vc.reset_vm(&vm, Duration::from_secs(30)).await.unwrap();
    let (s, location, _) = bde
        .put(&format!("/cluster/{name}/action?state=resume"), json!(null))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(bde.cluster(&name).await["status"], "PROVISIONING");
    assert_eq!(
        bde.wait_task(&location.unwrap(), Duration::from_secs(120)).await["status"],
        "COMPLETED"
    );
    let cluster = bde.cluster(&name).await;
    assert_eq!(cluster["status"], "RUNNING");
    assert_eq!(node_ips(&cluster)[0].2, port.ip().unwrap());
    let (s, _, body) = bde
        .put(&format!("/cluster/{name}/action?state=resume"), json!(null))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("CLUSTER.CANNOT_UPDATE"))
    );

    // Reads: the list (with and without details), the spec, the latest tasks.
    let (_, list) = bde.get("/clusters").await;
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name.as_str())
        .expect("listed");
    assert!(
        mine["nodeGroups"][0]["instances"].is_null(),
        "no instances without details (2.3.x)"
    );
    assert!(mine["resourcePools"].is_null());
    let (_, list) = bde.get("/clusters?details=true").await;
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name.as_str())
        .unwrap();
    assert_eq!(mine["nodeGroups"][0]["instances"].as_array().unwrap().len(), 1);
    let (s, spec) = bde.get(&format!("/cluster/{name}/spec")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        spec["name"].is_null() && spec["networkConfig"].is_null(),
        "spec nulls what the reference nulls"
    );
    assert_eq!(spec["nodeGroups"][0]["name"], "worker");
    let (_, tasks) = bde.get("/tasks").await;
    let latest = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == name.as_str())
        .unwrap();
    assert_eq!(
        (latest["status"].as_str(), latest["progress"].as_f64()),
        (Some("COMPLETED"), Some(1.0))
    );

    let (s, location, _) = bde.delete(&format!("/cluster/{name}")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    bde.wait_task(&location.unwrap(), Duration::from_secs(60)).await;
    vc.logout().await;
    cleanup_network(&member_neutron(), &net, &bde).await;
}

#[tokio::test]
async fn network_update_follows_the_reference() {
    let bde = Bde::login().await;
    let net = bde.network().await;
    let path = format!("/network/{}", net.bde_name);
    let (s, _, body) = bde.put(&path, json!({})).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("NETWORK.INVALID_OPTIONS"))
    );
    let (s, _, body) = bde
        .put(
            &path,
            json!({"ipBlocks": [{"beginIp": "10.0.0.1", "endIp": "10.0.0.9"}]}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("NETWORK.IP_CONFIG_NOT_USED_FOR_DHCP"))
    );
    let (s, _, _) = bde.put(&path, json!({"dnsType": "OTHERS"})).await;
    assert_eq!(s, StatusCode::OK);
    let (_, read) = bde.get(&path).await;
    assert_eq!(
        (read["dnsType"].as_str(), read["isGenerateHostname"].as_bool()),
        (Some("OTHERS"), Some(true))
    );

    // Static networks on the same portgroup: blocks are added with BDE's checks.
    let static_net = |name: &str, block: (&str, &str)| {
        json!({"name": name, "portGroup": net.portgroup, "isDhcp": false, "dnsType": "NORMAL",
               "netmask": "255.255.255.0", "gateway": "10.60.0.1",
               "ipBlocks": [{"beginIp": block.0, "endIp": block.1}]})
    };
    let (a, b) = (unique("sa"), unique("sb"));
    for (name, block) in [
        (&a, ("10.60.0.200", "10.60.0.202")),
        (&b, ("10.60.0.230", "10.60.0.239")),
    ] {
        let (s, _, body) = bde.post("/networks", static_net(name, block)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let path = format!("/network/{a}");
    let add = |first: &str, last: &str| json!({"ipBlocks": [{"beginIp": first, "endIp": last}]});
    for (body, status, code) in [
        (
            json!({"ipBlocks": []}),
            StatusCode::INTERNAL_SERVER_ERROR,
            "BDD.INTERNAL_ERROR",
        ),
        (
            add("10.60.0.210", "10.60.0.209"),
            StatusCode::BAD_REQUEST,
            "BDD.INVALID_PARAMETER",
        ),
        (
            add("10.60.0.250", "10.60.0.255"),
            StatusCode::BAD_REQUEST,
            "BDD.INVALID_PARAMETER",
        ),
        (
            add("10.60.1.10", "10.60.1.20"),
            StatusCode::BAD_REQUEST,
            "NETWORK.IP_OUT_OF_RANGE",
        ),
        (
            add("10.60.0.1", "10.60.0.5"),
            StatusCode::BAD_REQUEST,
            "NETWORK.IP_BLOCK_CONTAINS_GATEWAY",
        ),
        (
            add("10.60.0.225", "10.60.0.231"),
            StatusCode::BAD_REQUEST,
            "NETWORK.IP_BLOCK_OVERLAP_WITH_NETWORKS",
        ),
    ] {
        let (s, _, got) = bde.put(&path, body.clone()).await;
        assert_eq!((s, got["code"].as_str()), (status, Some(code)), "{body} gave {got}");
    }
    // Added, also over the network's own block (merged, as BDE's DAO merges).
    let (s, _, got) = bde.put(&path, add("10.60.0.201", "10.60.0.205")).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    let (_, read) = bde.get(&path).await;
    assert_eq!(
        read["allIpBlocks"],
        json!([{"beginIp": "10.60.0.200", "endIp": "10.60.0.205"}])
    );
    assert_eq!(read["freeIpBlocks"], read["allIpBlocks"]);
    for name in [&a, &b] {
        bde.delete(&format!("/network/{name}")).await;
    }
    cleanup_network(&member_neutron(), &net, &bde).await;
}

#[tokio::test]
async fn stop_start_resize_and_their_refusals() {
    let bde = Bde::login().await;
    let net = bde.network().await;
    let name = unique("day2");
    let wirer = spawn_wirer(name.clone(), net.network_id.clone(), net.subnet_id.clone());
    let (s, location, _) = bde
        .post(
            "/clusters",
            json!({"name": name, "networkConfig": {"MGT_NETWORK": [net.bde_name]},
                   "nodeGroups": [{"name": "master", "roles": ["hadoop_namenode"], "instanceNum": 1, "cpuNum": 1, "memCapacityMB": 2048},
                                  {"name": "worker", "roles": ["hadoop_datanode"], "instanceNum": 2, "cpuNum": 1, "memCapacityMB": 2048}]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(
        bde.wait_task(&location.unwrap(), Duration::from_secs(120)).await["status"],
        "COMPLETED"
    );
    let before: Vec<_> = node_ips(&bde.cluster(&name).await);
    assert!(before.iter().all(|(_, _, ip)| ip != "0.0.0.0"), "{before:?}");

    // start while running, stop, stop again, start.
    let (s, _, body) = bde
        .put(&format!("/cluster/{name}/action?state=start"), json!(null))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("CLUSTER.IS_RUNNING"))
    );
    let (s, _, body) = bde
        .put(&format!("/cluster/{name}/action?state=pause"), json!(null))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BDD.INVALID_PARAMETER"))
    );
    let (s, location, _) = bde
        .put(&format!("/cluster/{name}/action?state=stop"), json!(null))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(bde.cluster(&name).await["status"], "STOPPING");
    assert_eq!(
        bde.wait_task(&location.unwrap(), Duration::from_secs(60)).await["status"],
        "COMPLETED"
    );
    let stopped = bde.cluster(&name).await;
    assert_eq!(stopped["status"], "STOPPED");
    assert!(
        node_ips(&stopped)
            .iter()
            .all(|(_, s, ip)| s == "Powered Off" && ip == "0.0.0.0")
    );
    let (s, _, body) = bde
        .put(&format!("/cluster/{name}/action?state=stop"), json!(null))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("CLUSTER.IS_STOPPED"))
    );
    // The legacy form: PUT /cluster/{name}?state=start.
    let (s, location, _) = bde.put(&format!("/cluster/{name}?state=start"), json!(null)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(
        bde.wait_task(&location.unwrap(), Duration::from_secs(120)).await["status"],
        "COMPLETED"
    );
    let after: Vec<_> = node_ips(&bde.cluster(&name).await);
    assert_eq!(
        after.iter().map(|n| &n.2).collect::<Vec<_>>(),
        before.iter().map(|n| &n.2).collect::<Vec<_>>(),
        "same addresses after start"
    );

    // resize: refusals, grow, shrink (highest index first).
    let resize = |group: &str| format!("/cluster/{name}/nodegroup/{group}/instancenum");
    let (s, _, body) = bde.put(&resize("master"), json!(3)).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("CLUSTER.ROLES_NOT_SUPPORTED"))
    );
    let (s, _, body) = bde.put(&resize("worker"), json!(2)).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("CLUSTER.NO_NEED_TO_RESIZE"))
    );
    let (s, _, body) = bde.put(&resize("worker"), json!(0)).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BDD.INVALID_PARAMETER"))
    );
    let (s, _, body) = bde.put(&resize("nosuch"), json!(2)).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("CLUSTER.NODEGROUP_NOT_FOUND"))
    );

    let (s, location, _) = bde.put(&resize("worker"), json!(3)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(bde.cluster(&name).await["status"], "UPDATING");
    assert_eq!(
        bde.wait_task(&location.unwrap(), Duration::from_secs(120)).await["status"],
        "COMPLETED"
    );
    let grown = bde.cluster(&name).await;
    assert_eq!(grown["status"], "RUNNING");
    assert_eq!(grown["nodeGroups"][1]["instanceNum"], 3);

    let (s, location, _) = bde.put(&resize("worker"), json!(1)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let task = bde.wait_task(&location.unwrap(), Duration::from_secs(60)).await;
    assert_eq!(
        (task["status"].as_str(), task["type"].as_str()),
        (Some("COMPLETED"), Some("SHRINK"))
    );
    let removed: Vec<_> = task["succeedNodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["nodeName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        removed,
        [format!("{name}-worker-2"), format!("{name}-worker-1")],
        "highest index first"
    );
    let shrunk = bde.cluster(&name).await;
    assert_eq!(shrunk["status"], "RUNNING");
    let names: Vec<_> = node_ips(&shrunk).into_iter().map(|n| n.0).collect();
    assert_eq!(names, [format!("{name}-master-0"), format!("{name}-worker-0")]);

    wirer.abort();
    let (_, location, _) = bde.delete(&format!("/cluster/{name}")).await;
    assert_eq!(
        bde.wait_task(&location.unwrap(), Duration::from_secs(60)).await["status"],
        "COMPLETED"
    );
    cleanup_network(&member_neutron(), &net, &bde).await;
}

#[tokio::test]
async fn a_ten_vm_three_group_cluster_completes_with_every_node_addressed() {
    let bde = Bde::login().await;
    let net = bde.network().await;
    let name = unique("ten");
    let wirer = spawn_wirer(name.clone(), net.network_id.clone(), net.subnet_id.clone());
    let started = Instant::now();
    let (s, location, _) = bde
        .post(
            "/clusters",
            json!({"name": name, "distro": "spark", "networkConfig": {"MGT_NETWORK": [net.bde_name]},
                   "nodeGroups": [
                       {"name": "master", "roles": ["spark_master", "hadoop_namenode"], "instanceNum": 1, "cpuNum": 1, "memCapacityMB": 4096},
                       {"name": "worker", "roles": ["spark_slave"], "instanceNum": 7, "cpuNum": 1, "memCapacityMB": 2048},
                       {"name": "data", "roles": ["hadoop_datanode"], "instanceNum": 2, "cpuNum": 1, "memCapacityMB": 2048}]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // A bound, not a speed target: tests share the machine (speed is the benchmarks' job).
    let task = bde.wait_task(&location.unwrap(), Duration::from_secs(300)).await;
    let took = started.elapsed();
    println!("10 VMs in 3 groups: {took:?} at the world's time scale");
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(node_ips(&bde.cluster(&name).await).len(), 10);
    wirer.abort();
    let (_, location, _) = bde.delete(&format!("/cluster/{name}")).await;
    assert_eq!(
        bde.wait_task(&location.unwrap(), Duration::from_secs(60)).await["status"],
        "COMPLETED"
    );
    cleanup_network(&member_neutron(), &net, &bde).await;
}

/// A second simulator beside the world's (same vCenter and Neutron), with its own knobs.
struct LegacySim {
    _child: ChildGuard,
    base: String,
    http: reqwest::Client,
}

/// Kills and reaps the process when dropped, panics included.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn legacy_sim() -> LegacySim {
    extra_sim("2.2.0").await
}

async fn extra_sim(version: &str) -> LegacySim {
    let dir = std::env::temp_dir().join(unique("bde-sim-220-"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}/bde/config.json", env("BDE_WORLD_DIR"))).unwrap())
            .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cfg["listen"] = json!(format!("127.0.0.1:{port}"));
    cfg["version"] = json!(version);
    cfg["state_dir"] = json!(dir);
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let child = ChildGuard(
        std::process::Command::new(env!("CARGO_BIN_EXE_bde-sim"))
            .args(["--config", dir.join("config.json").to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("https://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok(ca) = std::fs::read(dir.join("ca.pem")) {
            let http = reqwest::Client::builder()
                .cookie_store(true)
                .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
                .build()
                .unwrap();
            if http.get(format!("{base}/sim/faults")).send().await.is_ok() {
                let login = http
                    .post(format!("{base}/serengeti/j_spring_security_check"))
                    .form(&[("j_username", env("BDE_USERNAME")), ("j_password", env("BDE_PASSWORD"))])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(login.status(), StatusCode::OK);
                return LegacySim {
                    _child: child,
                    base,
                    http,
                };
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the 2.2.0 simulator did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_2_2_0_switch_gives_that_release_s_differences() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = legacy_sim().await;
    let api = |p: &str| format!("{}/serengeti/api{p}", sim.base);
    let hello: Value = sim.http.get(api("/hello")).send().await.unwrap().json().await.unwrap();
    assert_eq!(hello, json!({"version": "2.2.0"}));

    // generateHostname was required; error bodies had no `warning`.
    let resp = sim
        .http
        .post(api("/networks"))
        .json(&json!({"name": "n"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Missing parameters: portGroup, dnsType, generateHostname."
    );
    assert!(body.get("warning").is_none(), "{body}");

    // Bad JSON was BDD.BAD_REST_CALL (400), not 500.
    let resp = sim
        .http
        .post(api("/networks"))
        .json(&json!({"bogus": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "BDD.BAD_REST_CALL");

    // Codes ERRCODE does not list were 500.
    let add = json!({"name": "legacy", "portGroup": "DC0_DVPG0", "isDhcp": true, "dnsType": "NORMAL",
                     "isGenerateHostname": false});
    let resp = sim.http.post(api("/networks")).json(&add).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = sim
        .http
        .put(api("/network/legacy"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "NETWORK.INVALID_OPTIONS");

    let resp = sim
        .http
        .put(api("/cluster/nosuch/action?state=stop"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "no /action before July 2015");
    let resp = sim
        .http
        .put(api("/cluster/nosuch?state=stop"))
        .json(&json!(null))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::NOT_FOUND,
        "the legacy form exists: the cluster does not"
    );
}

#[tokio::test]
async fn fault_knobs_fail_slow_and_drop_requests_and_fail_clones() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = extra_sim("2.3.2").await;
    let hello = || sim.http.get(format!("{}/serengeti/api/hello", sim.base)).send();
    let set = |faults: Value| sim.http.put(format!("{}/sim/faults", sim.base)).json(&faults).send();
    set(json!({"error_rate": 1.0})).await.unwrap();
    assert_eq!(hello().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    set(json!({"drop_rate": 1.0})).await.unwrap();
    let dropped = match hello().await {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(dropped, "the answer is cut");
    set(json!({"slow_seconds": 0.5})).await.unwrap();
    let started = Instant::now();
    assert_eq!(hello().await.unwrap().status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(500));
    set(json!({})).await.unwrap();

    // A failing clone fails the create task with BDE's message, and the node says why.
    let bde = Bde::login().await;
    let net = bde.network().await;
    let name = unique("clonefail");
    bde.http
        .patch(format!("{}/sim/faults", bde.base))
        .json(&json!({"fail_clone": [format!("{name}-worker-0")]}))
        .send()
        .await
        .unwrap();
    let (s, location, _) = bde
        .post(
            "/clusters",
            json!({"name": name, "networkConfig": {"MGT_NETWORK": [net.bde_name]},
                   "nodeGroups": [{"name": "worker", "roles": ["hadoop_namenode", "hadoop_datanode"], "instanceNum": 1, "instanceType": "SMALL"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let task = bde.wait_task(&location.unwrap(), Duration::from_secs(60)).await;
    bde.http
        .patch(format!("{}/sim/faults", bde.base))
        .json(&json!({"fail_clone": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(task["status"], "FAILED");
    assert!(
        task["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Failed to create virtual machine for cluster {name}."))
    );
    let cluster = bde.cluster(&name).await;
    assert_eq!(cluster["status"], "PROVISION_ERROR");
    assert_eq!(cluster["nodeGroups"][0]["instances"][0]["action"], "Cloning VM failed");
    let (_, location, _) = bde.delete(&format!("/cluster/{name}")).await;
    bde.wait_task(&location.unwrap(), Duration::from_secs(60)).await;
    cleanup_network(&member_neutron(), &net, &bde).await;
}

#[tokio::test]
async fn racks_are_uploaded_and_rack_placement_follows_bdes_rules() {
    let bde = Bde::login().await;
    let net = bde.network().await;
    let (s, _, answer) = bde.put("/racks", json!([])).await;
    assert_eq!(
        (s, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BDD.INVALID_PARAMETER"))
    );
    let racks = json!([{"name": "r1", "hosts": ["h1", "h2"]}, {"name": "r2", "hosts": ["h3"]}]);
    let (s, _, _) = bde.put("/racks", racks.clone()).await;
    assert_eq!(s, StatusCode::OK);
    let (_, read) = bde.get("/racks").await;
    assert_eq!(read, racks);
    let spec = |group_racks: Value| {
        json!({"name": "rackcheck", "networkConfig": {"MGT_NETWORK": [net.bde_name]},
               "nodeGroups": [{"name": "w", "roles": ["hadoop_datanode"], "instanceNum": 2, "instanceType": "SMALL",
                               "storage": {"type": "LOCAL"},
                               "placementPolicies": {"instancePerHost": 1, "groupRacks": group_racks}},
                              {"name": "m", "roles": ["hadoop_namenode"], "instanceNum": 1, "instanceType": "SMALL"}]})
    };
    for (racks, code) in [
        (
            json!({"type": "SAMERACK", "racks": ["r1", "r2"]}),
            "CLUSTER_CONFIG.MUST_DEFINE_ONE_RACK",
        ),
        (
            json!({"type": "ROUNDROBIN", "racks": ["r9"]}),
            "CLUSTER_CONFIG.NO_VALID_RACK",
        ),
        (
            json!({"type": "SAMERACK", "racks": ["r2"]}),
            "CLUSTER_CONFIG.LACK_PHYSICAL_HOSTS",
        ),
    ] {
        let (s, _, answer) = bde.post("/clusters", spec(racks.clone())).await;
        assert_eq!(
            (s, answer["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{racks}: {answer}"
        );
    }
}
