use super::*;
use serde_json::json;

const SAMPLE: &str = include_str!("../../../../../examples/bde-spec/hadoop-yarn.json");

fn field_and_message(e: &EngineError) -> (String, String) {
    (e.fields[0].field.clone(), e.fields[0].message.clone())
}

#[test]
fn a_sample_spec_file_with_comments_reads_as_the_specs_own_keys() {
    let spec = read(SAMPLE).unwrap();
    let groups = spec["node_groups"].as_array().unwrap();
    // BDE drops a group of no VMs at create; so does the reading.
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["master", "worker"]);
    let worker = &groups[1];
    assert_eq!(worker["memory_mb"], 1024);
    assert_eq!(worker["cpu_num"], 1);
    assert_eq!(worker["ha"], "off");
    assert_eq!(
        worker["storage"],
        json!({"type": "LOCAL", "size_gb": 30, "disk_num": 2})
    );
    assert_eq!(worker["placement"], json!({"instance_per_host": 1}));
    assert_eq!(groups[0]["ha"], "on");
    assert_eq!(
        groups[0]["configuration"]["hadoop"]["hadoop-env.sh"]["HADOOP_NAMENODE_OPTS"],
        "-Xmx1024m"
    );
    assert_eq!(spec["configuration"]["hadoop"]["hdfs-site.xml"]["dfs.replication"], "2");
}

#[test]
fn text_inside_strings_is_not_taken_for_a_comment() {
    let spec = read(
        r#"{"localRepoURL": "http://repo.example.com/bigtop", // the mirror
                        "externalHDFS": "hdfs://nn.example.com:8020"}"#,
    )
    .unwrap();
    assert_eq!(spec["local_repo_url"], "http://repo.example.com/bigtop");
    assert_eq!(spec["external_hdfs"], "hdfs://nn.example.com:8020");
}

#[test]
fn the_templates_keys_win_groups_by_name_and_configurations_property_by_property() {
    let spec = merge_into(json!({
        "cluster_spec": SAMPLE,
        "cluster_name": "mine",
        "node_groups": [
            {"name": "worker", "instance_num": 5, "configuration": {"hadoop": {"hdfs-site.xml": {"dfs.blocksize": "64m"}}}},
            {"name": "zk", "roles": ["zookeeper"], "instance_num": 3}
        ],
        "configuration": {"hadoop": {"hdfs-site.xml": {"dfs.replication": "3"}}}
    }))
    .unwrap();
    assert_eq!(spec["cluster_name"], "mine");
    let groups = spec["node_groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["master", "worker", "zk"]);
    // The template's count wins; the file's other keys of the group stay.
    assert_eq!(groups[1]["instance_num"], 5);
    assert_eq!(groups[1]["memory_mb"], 1024);
    assert_eq!(
        groups[1]["configuration"]["hadoop"]["hdfs-site.xml"]["dfs.blocksize"],
        "64m"
    );
    let site = &spec["configuration"]["hadoop"]["hdfs-site.xml"];
    assert_eq!(site["dfs.replication"], "3");
    // The file's other files and properties stay.
    assert_eq!(
        spec["configuration"]["hadoop"]["core-site.xml"]["io.file.buffer.size"],
        "65536"
    );
    // And the whole passes the spec's checks.
    let mut full = spec.clone();
    for (k, v) in [
        ("bde_endpoint", "https://bde.example.com:8443"),
        ("vcm_server", "vc.example.com"),
        ("username", "u"),
        ("password", "p"),
        ("network", "net1"),
    ] {
        full[k] = json!(v);
    }
    let parsed = crate::spec_from_value(full).unwrap();
    crate::validate(&parsed).unwrap();
}

#[test]
fn group_racks_read_as_the_placements_racks() {
    let spec = read(
        r#"{"nodeGroups": [{"name": "w", "roles": ["r"], "instanceNum": 2,
        "placementPolicies": {"instancePerHost": 1, "groupRacks": {"type": "SAMERACK", "racks": ["r1"]}}}]}"#,
    )
    .unwrap();
    assert_eq!(
        spec["node_groups"][0]["placement"],
        json!({"instance_per_host": 1, "racks": {"type": "SAMERACK", "names": ["r1"]}})
    );
}

#[test]
fn a_mapping_is_taken_as_well_as_text() {
    let spec = merge_into(json!({"cluster_spec": {"distro": "bigtop", "rpNames": ["rp1"]}})).unwrap();
    assert_eq!(spec, json!({"distro": "bigtop", "resource_pools": ["rp1"]}));
}

#[test]
fn bde_keys_bde_heat_does_not_take_are_refused_by_path_with_the_reason() {
    let e = read(
        r#"{"nodeGroups": [{"name": "w", "roles": ["hadoop_datanode"], "instanceNum": 1,
                     "latencySensitivity": "HIGH"}], "networkConfig": {"MGT_NETWORK": ["n"]}}"#,
    )
    .unwrap_err();
    let mut fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "cluster_spec.networkConfig",
            "cluster_spec.nodeGroups[0].latencySensitivity"
        ]
    );
    let network = e.fields.iter().find(|f| f.field.ends_with("networkConfig")).unwrap();
    assert!(network.message.contains("network/subnet"), "{e}");
    // A storage's `type` is its own key, not the cluster's.
    read(r#"{"nodeGroups": [{"name": "w", "roles": ["r"], "instanceNum": 1, "storage": {"type": "LOCAL"}}]}"#).unwrap();
    // A key a configuration holds is the software's.
    read(r#"{"configuration": {"hadoop": {"type": {"k": "v"}}}}"#).unwrap();
}

#[test]
fn an_unknown_key_or_wrong_type_is_named_by_its_path_in_the_file() {
    let e = read(r#"{"nodeGroups": [{"name": "w", "roles": ["r"], "instanceNumber": 1}]}"#).unwrap_err();
    let (field, message) = field_and_message(&e);
    assert_eq!(field, "cluster_spec.nodeGroups[0].instanceNumber");
    assert!(message.contains("unknown field"), "{message}");
    let e = read(r#"{"nodeGroups": [{"name": "w", "roles": ["r"], "instanceNum": "many"}]}"#).unwrap_err();
    assert_eq!(field_and_message(&e).0, "cluster_spec.nodeGroups[0].instanceNum");
    let e = read(
        r#"{"nodeGroups": [{"name": "w", "roles": ["r"], "instanceNum": 1,
                     "placementPolicies": {"groupAssociations": [{"reference": "a"}, {"reference": "b"}]}}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        field_and_message(&e).0,
        "cluster_spec.nodeGroups[0].placementPolicies.groupAssociations"
    );
}

#[test]
fn a_password_is_the_vms_password_and_never_quoted() {
    let spec = read(r#"{"password": "Secret_42x"}"#).unwrap();
    assert_eq!(spec["cluster_password"], "Secret_42x");
    let e = read(r#"{"password": 4242424242}"#).unwrap_err();
    assert_eq!(
        field_and_message(&e),
        ("cluster_spec.password".into(), "must be text".into())
    );
    assert!(!e.to_string().contains("4242424242"), "{e}");
    // Broken JSON is placed by line and column, never echoed.
    let e = read("{\n  \"password\": \"Secret_42x\",,\n}").unwrap_err();
    let (field, message) = field_and_message(&e);
    assert_eq!(field, "cluster_spec");
    assert!(message.contains("line 2"), "{message}");
    assert!(!e.to_string().contains("Secret_42x"), "{e}");
}

#[test]
fn the_fallback_name_is_used_only_when_nothing_names_the_cluster() {
    let base = json!({
        "bde_endpoint": "https://bde.example.com:8443", "vcm_server": "vc.example.com",
        "username": "u", "password": "p", "network": "net1", "fallback_cluster_name": "stack_bde"
    });
    let name = |extra: serde_json::Value| {
        let mut v = base.clone();
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        crate::validate(&crate::spec_from_value(v).unwrap())
            .unwrap()
            .cluster_name
    };
    assert_eq!(name(json!({})), "stack_bde");
    assert_eq!(name(json!({"cluster_spec": {"name": "from_file"}})), "from_file");
    assert_eq!(
        name(json!({"cluster_spec": {"name": "from_file"}, "cluster_name": "given"})),
        "given"
    );
}
