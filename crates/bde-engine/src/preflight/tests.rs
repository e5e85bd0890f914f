use super::*;
use serde_json::{Value, json};

fn spec_with(change: impl FnOnce(&mut Value)) -> ValidSpec {
    let mut v = json!({
        "bde_endpoint": "https://bde.example.com:8443", "vcm_server": "vc.example.com",
        "username": "u", "password": "p", "cluster_name": "c1", "network": "net1",
        "node_groups": [
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 4}
        ]
    });
    change(&mut v);
    crate::validate(&crate::spec_from_value(v).unwrap()).unwrap()
}

fn fields(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

fn names(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}

#[test]
fn only_the_lists_the_spec_names_something_from_are_read() {
    // Without a distro, BDE's default manager still picks one for the roles: its list is read.
    assert_eq!(
        wanted(&spec_with(|_| {})),
        Wanted {
            distros: true,
            ..Wanted::default()
        }
    );
    assert_eq!(
        wanted(&spec_with(|v| v["app_manager"] = json!("Ambari"))),
        Wanted {
            app_managers: true,
            ..Wanted::default()
        }
    );
    let all = spec_with(|v| {
        v["distro"] = json!("bigtop");
        v["app_manager"] = json!("ClouderaManager");
        v["node_groups"][1]["resource_pools"] = json!(["rp1"]);
        v["node_groups"][1]["storage"] = json!({"datastores": ["ds1"]});
    });
    assert_eq!(
        wanted(&all),
        Wanted {
            distros: true,
            app_managers: true,
            resource_pools: true,
            datastores: true,
            racks: false
        }
    );
    // The Default manager is always there.
    assert!(!wanted(&spec_with(|v| v["app_manager"] = json!("default"))).app_managers);
}

#[test]
fn an_unknown_app_manager_resource_pool_or_datastore_is_named_with_what_bde_has() {
    let spec = spec_with(|v| {
        v["app_manager"] = json!("Ambari");
        v["resource_pools"] = json!(["rp1", "nosuch_rp"]);
        v["datastores"] = json!(["nosuch_ds"]);
        v["node_groups"][1]["resource_pools"] = json!(["RP1"]);
        v["node_groups"][1]["storage"] = json!({"datastores": ["ds1", "other"]});
    });
    let offered = Offered {
        app_managers: names(&["Default"]),
        resource_pools: names(&["rp1"]),
        datastores: names(&["ds1"]),
        ..Offered::default()
    };
    let errors = errors(&spec, &offered, None);
    assert_eq!(
        fields(&errors),
        [
            "app_manager",
            "resource_pools",
            "datastores",
            "node_groups[1].storage.datastores"
        ]
    );
    assert!(errors[0].message.contains("use one of Default"), "{}", errors[0]);
    assert!(errors[1].message.contains("\"nosuch_rp\""), "{}", errors[1]);
}

#[test]
fn cluster_rp_is_named_as_the_user_wrote_it() {
    let spec = spec_with(|v| v["cluster_rp"] = json!("openstackRP"));
    let offered = Offered {
        resource_pools: names(&["rp1"]),
        ..Offered::default()
    };
    assert_eq!(fields(&errors(&spec, &offered, None)), ["cluster_rp"]);
}

#[test]
fn addresses_and_ports_are_counted_one_per_vm() {
    let spec = spec_with(|_| {});
    let room = |free, left| Room {
        free_addresses: free,
        ports_left: left,
        ..Room::default()
    };
    let check = |r: Room| errors(&spec, &Offered::default(), Some(&r));
    // 5 VMs.
    assert!(check(room(Some(5), Some(5))).is_empty());
    assert!(check(room(None, None)).is_empty(), "unreadable: left to Neutron");
    assert_eq!(fields(&check(room(Some(4), None))), ["network"]);
    let over = check(room(None, Some(-3)));
    assert_eq!(fields(&over), ["node_groups"]);
    assert!(over[0].message.contains("leaves 0 ports"), "{}", over[0]);
    let with_subnet = spec_with(|v| v["subnet"] = json!("sub1"));
    let e = errors(&with_subnet, &Offered::default(), Some(&room(Some(0), None)));
    assert_eq!(fields(&e), ["subnet"]);
    assert!(e[0].message.contains("0 free addresses"), "{}", e[0]);
}

#[test]
fn each_traffic_networks_subnet_needs_an_address_per_vm_and_every_nic_a_port() {
    let spec = spec_with(|v| {
        v["networks"] =
            json!({"HDFS_NETWORK": {"network": "hdfs", "subnet": "hdfs-sub"}, "MAPRED_NETWORK": {"network": "mr"}})
    });
    let room = Room {
        free_addresses: Some(5),
        traffic_free_addresses: vec![Some(4), Some(9)],
        ports_left: Some(14),
        static_errors: Vec::new(),
    };
    let e = errors(&spec, &Offered::default(), Some(&room));
    assert_eq!(fields(&e), ["networks.HDFS_NETWORK.subnet", "node_groups"]);
    assert!(e[1].message.contains("need 15 (one per NIC)"), "{}", e[1]);
}

#[test]
fn allocation_pools_are_sized_in_ipv4_and_ipv6_is_never_short() {
    let subnet = json!({"allocation_pools": [
        {"start": "10.0.0.2", "end": "10.0.0.6"}, {"start": "10.0.1.10", "end": "10.0.1.10"}]});
    let (size, pools) = pool_size(&subnet).unwrap();
    assert_eq!(size, 6);
    assert!(in_any(&pools, "10.0.0.6".parse().unwrap()));
    assert!(!in_any(&pools, "10.0.0.1".parse().unwrap()));
    let v6 = json!({"allocation_pools": [{"start": "fd00::2", "end": "fd00::ffff"}]});
    assert_eq!(pool_size(&v6), None);
}

#[test]
fn racks_must_be_in_bdes_rack_map_with_hosts_enough_and_rack_topologies_need_a_map() {
    let spec = spec_with(|v| {
        v["topology_policy"] = json!("RACK_AS_RACK");
        v["node_groups"][1]["placement"] = json!({"instance_per_host": 1, "racks": {"names": ["r1", "r2"]}});
    });
    assert!(wanted(&spec).racks);
    let offered = |racks: &[(&str, usize)]| Offered {
        racks: Some(racks.iter().map(|(n, h)| (n.to_string(), *h)).collect()),
        ..Offered::default()
    };
    // 4 workers, one per host: r1 + r2 need 4 hosts.
    assert!(errors(&spec, &offered(&[("r1", 2), ("r2", 2), ("r3", 9)]), None).is_empty());
    let e = errors(&spec, &offered(&[("r1", 2), ("r2", 1)]), None);
    assert_eq!(fields(&e), ["node_groups[1].placement.racks"]);
    assert!(
        e[0].message.contains("needs 4 hosts") && e[0].message.contains("have 3"),
        "{}",
        e[0]
    );
    let e = errors(&spec, &offered(&[("r1", 9)]), None);
    assert_eq!(fields(&e), ["node_groups[1].placement.racks.names"]);
    assert!(e[0].message.contains("\"r2\""), "{}", e[0]);
    let e = errors(&spec, &offered(&[]), None);
    assert_eq!(fields(&e), ["topology_policy", "node_groups[1].placement.racks"]);
    // SAMERACK: one rack must hold them all.
    let same = spec_with(|v| {
        v["node_groups"][1]["placement"] =
            json!({"instance_per_host": 2, "racks": {"type": "SAMERACK", "names": ["r1"]}});
    });
    assert!(errors(&same, &offered(&[("r1", 2)]), None).is_empty());
    assert_eq!(
        fields(&errors(&same, &offered(&[("r1", 1), ("r2", 5)]), None)),
        ["node_groups[1].placement.racks"]
    );
    // BDE ignores racks on SHARED storage: so does the check.
    let shared = spec_with(|v| {
        v["node_groups"][1]["placement"] = json!({"racks": {"names": ["nosuch"]}});
        v["node_groups"][1]["storage"] = json!({"type": "SHARED"});
    });
    assert!(!wanted(&shared).racks);
}

#[test]
fn each_static_network_is_named_by_its_range_given_or_else_by_the_mode_or_its_traffic_entry() {
    let ids = NeutronIds {
        network_id: "mgt".into(),
        subnet_id: "mgt-sub".into(),
        security_group_ids: Vec::new(),
    };
    let hdfs = TrafficNetwork {
        traffic: "HDFS_NETWORK".into(),
        network_id: "hdfs".into(),
        subnet_id: "hdfs-sub".into(),
        portgroup: None,
        intended: false,
        bde_network: None,
    };
    let named = |spec: &ValidSpec| -> Vec<String> {
        static_nets(spec, &ids, std::slice::from_ref(&hdfs))
            .into_iter()
            .map(|n| n.field)
            .collect()
    };
    let networks = json!({"HDFS_NETWORK": {"network": "hdfs"}});
    let derived = spec_with(|v| {
        v["ip_mode"] = json!("static");
        v["networks"] = networks.clone();
    });
    assert_eq!(named(&derived), ["ip_mode", "networks.HDFS_NETWORK"]);
    let given = spec_with(|v| {
        v["ip_mode"] = json!("static");
        v["static_range"] = json!("10.0.0.200-10.0.0.220");
        v["networks"] = json!({"HDFS_NETWORK": {"network": "hdfs", "static_range": "10.1.0.10-10.1.0.20"}});
    });
    assert_eq!(named(&given), ["static_range", "networks.HDFS_NETWORK.static_range"]);
    let nets = static_nets(&given, &ids, std::slice::from_ref(&hdfs));
    assert_eq!(
        nets[1].given.map(|r| r.to_string()).as_deref(),
        Some("10.1.0.10-10.1.0.20")
    );
    assert_eq!(
        (nets[1].network_id.as_str(), nets[1].subnet_id.as_str()),
        ("hdfs", "hdfs-sub")
    );
    assert!(
        static_nets(
            &spec_with(|v| v["networks"] = networks.clone()),
            &ids,
            std::slice::from_ref(&hdfs)
        )
        .is_empty()
    );
    // Room's errors come out named as they are.
    let room = Room {
        static_errors: vec![FieldError {
            field: "networks.HDFS_NETWORK".into(),
            message: "no room".into(),
        }],
        ..Room::default()
    };
    assert_eq!(
        fields(&errors(&derived, &Offered::default(), Some(&room))),
        ["networks.HDFS_NETWORK"]
    );
}

#[test]
fn without_a_distro_the_roles_are_checked_against_bdes_default_distro() {
    let distros = Some(vec![
        ("mesos".to_string(), vec!["mesos_master".to_string()]),
        (
            "bigtop".to_string(),
            vec!["hadoop_namenode".to_string(), "hadoop_datanode".to_string()],
        ),
    ]);
    let bigtop = Offered {
        distros: distros.clone(),
        default_distro: Some("bigtop".into()),
        ..Offered::default()
    };
    assert!(errors(&spec_with(|_| {}), &bigtop, None).is_empty());
    let spec = spec_with(|v| v["node_groups"][1]["roles"] = json!(["hadoop_datanode", "mesos_slave"]));
    let refused = errors(&spec, &bigtop, None);
    assert_eq!(fields(&refused), ["node_groups[1].roles"]);
    assert!(
        refused[0].message.contains("BDE's default distro bigtop (give distro"),
        "{}",
        refused[0]
    );
    // A BDE without a distro of the default vendor cannot take a spec that names none.
    let none = Offered {
        distros,
        ..Offered::default()
    };
    let refused = errors(&spec_with(|_| {}), &none, None);
    assert_eq!(fields(&refused), ["distro"]);
    assert!(
        refused[0].message.contains("name one of mesos, bigtop"),
        "{}",
        refused[0]
    );
}
