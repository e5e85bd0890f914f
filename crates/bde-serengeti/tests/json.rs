//! The JSON shapes of the reference (`serengeti-rest-api.md`), round-tripped.

use bde_serengeti::*;

#[test]
fn the_reference_node_sample_reads_and_yields_its_vm_id_and_address() {
    let json = r#"{"name":"c1-worker-0","moId":"null:VirtualMachine:vm-12","rack":"/rack1","hostName":"esx1.local",
 "ipConfigs":{"MGT_NETWORK":[{"portGroupName":"VM Network","networkName":"defaultNetwork",
   "trafficType":"MGT_NETWORK","ipAddress":"10.0.0.5","fqdn":"host.local"}]},
 "status":"VM Ready","action":null,"roles":["hadoop_datanode"],"memory":0,"volumes":null,
 "cpuNumber":0,"actionFailed":false,"errMessage":null,"version":"Earlier"}"#;
    let node: NodeRead = serde_json::from_str(json).unwrap();
    assert_eq!(node.status, NodeStatus::VmReady);
    assert_eq!(node.vm_id(), Some("vm-12"));
    assert_eq!(node.addresses(), ["10.0.0.5"]);
}

#[test]
fn the_reference_task_sample_reads() {
    let json = r#"{"id":5,"status":"STARTED","type":"INNER","progress":0.25,"errorMessage":null,"workDir":null,
 "progressMessage":null,"target":"c1","succeedNodes":[],
 "failNodes":[{"nodeName":"c1-worker-0","ip":null,"status":null,"memory":0,"cpuNumber":0,"succeed":false,"errorMessage":"boom"}]}"#;
    let task: TaskRead = serde_json::from_str(json).unwrap();
    assert!(!task.is_finished());
    assert_eq!(task.fail_nodes.unwrap()[0].error_message.as_deref(), Some("boom"));
}

#[test]
fn the_plugin_minimal_create_body_is_accepted() {
    let json =
        r#"{"name":"c1","distro":"bigtop","rpNames":["rp1"],"networkConfig":{"MGT_NETWORK":["defaultNetwork"]}}"#;
    let create: ClusterCreate = serde_json::from_str(json).unwrap();
    assert_eq!(create.network_config.unwrap()[MGT_NETWORK], ["defaultNetwork"]);
}

#[test]
fn snake_case_names_are_refused_like_jackson_does() {
    let json = r#"{"name":"c1","nodeGroups":[{"name":"worker","roles":["x"],"instance_num":2}]}"#;
    let err = serde_json::from_str::<ClusterCreate>(json).unwrap_err().to_string();
    assert!(err.contains("instance_num"), "{err}");
}

#[test]
fn jackson_names_with_capitals_are_kept() {
    let group = NodeGroupCreate {
        name: Some("worker".into()),
        roles: Some(vec!["hadoop_datanode".into()]),
        instance_num: 3,
        mem_capacity_mb: Some(4096),
        cpu_num: Some(2),
        ..Default::default()
    };
    let json = serde_json::to_value(&group).unwrap();
    assert_eq!(json["memCapacityMB"], 4096);
    assert_eq!(json["instanceNum"], 3);
    assert_eq!(json["cpuNum"], 2);
}

#[test]
fn network_add_takes_dhcp_as_bool_string_or_under_its_other_name() {
    for json in [
        r#"{"name":"n","portGroup":"pg","isDhcp":true,"dnsType":"NORMAL"}"#,
        r#"{"name":"n","portGroup":"pg","isDhcp":"true","dnsType":"NORMAL"}"#,
        r#"{"name":"n","portGroup":"pg","dhcp":true,"dnsType":"NORMAL"}"#,
    ] {
        let add: NetworkAdd = serde_json::from_str(json).unwrap();
        assert!(add.is_dhcp.unwrap().value(), "{json}");
    }
    assert!(
        serde_json::from_str::<NetworkAdd>(r#"{"name":"n","dnsType":"normal"}"#).is_err(),
        "enum case matters"
    );
}

#[test]
fn the_error_body_reads() {
    let json = r#"{"code":"CLUSTER.CANNOT_DELETE","message":"Cannot delete cluster c1.","certInfo":null,"warning":false,"errors":null}"#;
    let err: BddErrorMessage = serde_json::from_str(json).unwrap();
    assert_eq!(err.code, "CLUSTER.CANNOT_DELETE");
}

#[test]
fn cluster_status_stability_follows_the_reference() {
    assert!(ClusterStatus::Running.is_stable());
    assert!(ClusterStatus::ProvisionError.is_stable());
    assert!(!ClusterStatus::Provisioning.is_stable());
    assert_eq!(ClusterStatus::ProvisionError.name(), "PROVISION_ERROR");
    assert_eq!(ClusterStatus::Vmreconfiguring.name(), "VMRECONFIGURING");
}
