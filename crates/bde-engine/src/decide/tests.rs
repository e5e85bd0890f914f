//! The lifecycle's rules, one behaviour a test: each builds a state and what a
//! step observed, and asserts the one step `decide` picks (and, where it
//! matters, what `record` and `apply` make of it). A few tests drive a tiny
//! in-memory world through plan → record → decide → apply from end to end.

use std::collections::BTreeMap;

use bde_openstack::Port;
use bde_serengeti::{ClusterStatus, TaskOutcome};
use serde_json::{Value, json};

use super::*;
use crate::act::{Effect, apply, record};
use crate::drift::diff;
use crate::observe::{
    BdeNetworkView, BdeNodeView, GroupView, NetworkView, NeutronLookups, PortView, PortsRead, Reads, ResetProgress,
    SubnetView, VmView, plan,
};
use crate::state::{Claim, NodeState, PendingTask};
use crate::{ErrorKind, Outcome, Service};

// ---------------------------------------------------------------- helpers

const NOW: f64 = 1000.0;
const NET: &str = "5b6c1b81-14b2-434f-9888-54bf1d022a72";
const CLUSTER: &str = "hadoop1";

fn spec_json() -> Value {
    json!({
        "bde_endpoint": "https://bde.example.com:8443", "vcm_server": "vc.example.com",
        "username": "admin@vsphere.local", "password": "secret", "cluster_name": CLUSTER,
        "network": "net1",
        "node_groups": [
            {"name": "master", "roles": ["hadoop_namenode"], "instance_num": 1},
            {"name": "worker", "roles": ["hadoop_datanode"], "instance_num": 2}
        ]
    })
}

/// The spec with a change to its JSON.
fn spec_with(change: impl FnOnce(&mut Value)) -> ValidSpec {
    let mut v = spec_json();
    change(&mut v);
    crate::validate(&serde_json::from_value(v).unwrap()).unwrap()
}

/// master[hadoop_namenode]x1, worker[hadoop_datanode]x2 on "net1".
fn spec() -> ValidSpec {
    spec_with(|_| {})
}

fn ids() -> NeutronIds {
    NeutronIds {
        network_id: NET.into(),
        subnet_id: "sub-1".into(),
        security_group_ids: vec!["sg-1".into()],
    }
}

fn portgroup() -> PortgroupRef {
    PortgroupRef {
        name: format!("vxw-dvs-7-virtualwire-56-sid-5002-{NET}"),
        key: "dvportgroup-42".into(),
    }
}

fn bde_network_name() -> String {
    format!("neutron-{NET}")
}

fn sizes(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
    list.iter().map(|(g, n)| (g.to_string(), *n)).collect()
}

fn claim(how: ClaimKind) -> Option<Claim> {
    Some(Claim {
        name: CLUSTER.into(),
        how,
    })
}

/// The names resolved: waiting for the portgroup.
fn validated() -> State {
    State {
        phase: Phase::FindPortgroup,
        neutron: Some(ids()),
        ..State::default()
    }
}

/// The portgroup found: registering the BDE network.
fn with_portgroup() -> State {
    State {
        phase: Phase::RegisterNetwork,
        portgroup: Some(portgroup()),
        ..validated()
    }
}

/// The BDE network registered by us: about to create the cluster (no claim yet).
fn registered() -> State {
    State {
        phase: Phase::CreateCluster,
        network_intended: true,
        bde_network: Some(BdeNetwork {
            name: bde_network_name(),
            ours: true,
        }),
        ..with_portgroup()
    }
}

/// Our cluster (requested), with the spec's sizes asked for, in `phase`.
fn claimed(phase: Phase) -> State {
    State {
        phase,
        cluster: claim(ClaimKind::Requested),
        desired: sizes(&[("master", 1), ("worker", 2)]),
        ..registered()
    }
}

/// Wiring while BDE's create task 7 runs; no node known yet.
fn wired_state() -> State {
    State {
        pending: Some(PendingTask {
            kind: TaskKind::Create,
            id: Some(7),
        }),
        ..claimed(Phase::Wire)
    }
}

fn ready_state() -> State {
    claimed(Phase::Ready)
}

fn name(group: &str, i: usize) -> String {
    format!("{CLUSTER}-{group}-{i}")
}

fn mac(i: usize) -> String {
    format!("00:50:56:aa:{:02x}:{:02x}", i / 256, i % 256)
}

/// A node as `record` leaves it after seeing its VM powered on with one NIC.
fn node(group: &str, vm_name: &str, mac: &str) -> NodeState {
    NodeState {
        group: group.into(),
        vm: Some(format!("vm-{vm_name}")),
        instance_uuid: Some(format!("uuid-{vm_name}")),
        macs: vec![mac.into()],
        status: "VM Ready".into(),
        power_state: PowerState::PoweredOn,
        seen_at: Some(500.0),
        ..NodeState::default()
    }
}

/// The node with a port recorded for its first NIC.
fn with_port(mut n: NodeState, id: &str) -> NodeState {
    let m = n.macs[0].clone();
    n.ports.insert(
        m,
        PortRecord {
            id: id.into(),
            ip: None,
        },
    );
    n
}

/// The node with its address seen (at 600).
fn with_ip(mut n: NodeState, ip: &str) -> NodeState {
    n.ip = Some(ip.into());
    n.address_at = Some(600.0);
    n.last_addressed = Some(600.0);
    n
}

/// A worker VM that is on, wired (port-`i`), has no address, and waits since `since`.
fn stuck(i: usize, since: f64) -> NodeState {
    NodeState {
        waiting_since: Some(since),
        ..with_port(node("worker", &name("worker", i), &mac(i)), &format!("port-{i}"))
    }
}

fn put(state: &mut State, name: &str, n: NodeState) {
    state.nodes.insert(name.into(), n);
}

fn vm(name: &str, mac: &str, power: PowerState) -> VmView {
    VmView {
        name: name.into(),
        moref: format!("vm-{name}"),
        instance_uuid: format!("uuid-{name}"),
        power,
        nics: vec![(4000, mac.into())],
        nic_networks: vec![NET.into()],
    }
}

fn port(id: &str, name: &str, mac: &str) -> PortView {
    PortView {
        id: id.into(),
        name: name.into(),
        mac: mac.into(),
        device_owner: "compute:bde".into(),
        ip: None,
        // The spec's group, as ids() resolves it: a port as the product makes it.
        security_groups: vec!["sg-1".into()],
    }
}

fn bde_node(name: &str, group: &str, ip: Option<&str>) -> BdeNodeView {
    BdeNodeView {
        name: name.into(),
        group: group.into(),
        status: "VM Ready".into(),
        ip: ip.map(str::to_string),
        networks: vec![bde_network_name()],
        portgroups: vec![portgroup().name],
    }
}

fn cluster(status: ClusterStatus, groups: &[(&str, u32)], nodes: Vec<BdeNodeView>) -> ClusterView {
    ClusterView {
        status,
        groups: groups
            .iter()
            .map(|(g, n)| {
                // As BDE sizes the spec's groups: the master (a namenode) MEDIUM, others SMALL.
                let (cpus, memory_mb) = if *g == "master" { (2, 7500) } else { (1, 3748) };
                GroupView {
                    name: g.to_string(),
                    size: *n,
                    cpus,
                    memory_mb,
                }
            })
            .collect(),
        nodes,
    }
}

/// The spec's groups, no node listed.
fn bare(status: ClusterStatus) -> ClusterView {
    cluster(status, &[("master", 1), ("worker", 2)], Vec::new())
}

fn seeing(c: ClusterView) -> Observed {
    Observed {
        cluster: Seen::Present(c),
        ..Observed::default()
    }
}

/// A wiring step's view while BDE's task is half done.
fn wiring() -> Observed {
    Observed {
        task: Some(TaskOutcome::Running(0.5)),
        ..seeing(bare(ClusterStatus::Provisioning))
    }
}

fn network(id: &str, subnets: &[&str]) -> NetworkView {
    NetworkView {
        id: id.into(),
        subnets: subnets.iter().map(|s| s.to_string()).collect(),
    }
}

fn looked_up(found: NeutronLookups) -> Observed {
    Observed {
        lookups: Some(found),
        ..Observed::default()
    }
}

/// A ready cluster as it should be: one master and `workers` workers, each
/// VM wired (port-`i`, named after it) and addressed; `workers` is also what
/// was last asked for.
fn world(workers: usize) -> (State, Observed) {
    let mut state = ready_state();
    state.desired.insert("worker".into(), workers as u32);
    let members: Vec<(&str, String)> = std::iter::once(("master", name("master", 0)))
        .chain((0..workers).map(|i| ("worker", name("worker", i))))
        .collect();
    let (mut nodes, mut vms, mut ports) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (group, vm_name)) in members.iter().enumerate() {
        let (m, id, ip) = (mac(i), format!("port-{i}"), format!("10.0.0.{}", 10 + i));
        put(
            &mut state,
            vm_name,
            with_ip(with_port(node(group, vm_name, &m), &id), &ip),
        );
        nodes.push(bde_node(vm_name, group, Some(&ip)));
        vms.push(vm(vm_name, &m, PowerState::PoweredOn));
        ports.push(port(&id, &format!("{vm_name}-port0"), &m));
    }
    let seen = Observed {
        vms: Some(vms),
        ports: Some(ports),
        ..seeing(cluster(
            ClusterStatus::Running,
            &[("master", 1), ("worker", workers as u32)],
            nodes,
        ))
    };
    (state, seen)
}

fn decide_now(state: &State, seen: &Observed, action: Action) -> Step {
    decide(&spec(), state, seen, &action, NOW)
}

fn resize(group: &str, count: u32) -> Action {
    Action::Resize {
        group: group.into(),
        count,
    }
}

fn failure(step: Step) -> (EngineError, OnFail) {
    match step {
        Step::Fail(e, on) => (e, on),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn error_kind(step: Step) -> ErrorKind {
    failure(step).0.kind
}

/// The field an `InvalidInput` failure names.
fn field_of(step: Step) -> String {
    let (e, on) = failure(step);
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{e}");
    assert_eq!(on, OnFail::Keep);
    e.fields[0].field.clone()
}

fn made_ports(step: Step) -> (Vec<(String, String, PortRecord)>, Vec<bde_openstack::PortRequest>) {
    match step {
        Step::MakePorts { adopt, create } => (adopt, create),
        other => panic!("expected MakePorts, got {other:?}"),
    }
}

fn applied(state: &mut State, step: Step, effect: Effect) -> Outcome {
    apply(&spec(), state, step, effect, NOW).unwrap_or_else(|e| panic!("{e}"))
}

fn kinds(found: &[crate::Drift]) -> Vec<DriftKind> {
    found.iter().map(|d| d.kind).collect()
}

// ---------------------------------------------------------------- validate

#[test]
fn a_create_from_nothing_first_resolves_the_neutron_names() {
    let seen = looked_up(NeutronLookups {
        networks: vec![network(NET, &["sub-1", "sub-2"])],
        ..NeutronLookups::default()
    });
    let Step::RecordNeutron(found, _) = decide_now(&State::default(), &seen, Action::Create) else {
        panic!("expected RecordNeutron");
    };
    assert_eq!(found.network_id, NET);
    assert_eq!(
        found.subnet_id, "sub-1",
        "the network's first subnet when the spec names none"
    );
    assert!(found.security_group_ids.is_empty());
}

#[test]
fn a_create_waits_for_lookups_it_has_not_made() {
    assert!(matches!(
        decide_now(&State::default(), &Observed::default(), Action::Create),
        Step::Wait(_)
    ));
}

#[test]
fn recording_the_neutron_ids_moves_on_to_the_portgroup() {
    let mut state = State::default();
    let outcome = applied(&mut state, Step::RecordNeutron(ids(), Vec::new()), Effect::Nothing);
    assert!(matches!(outcome, Outcome::Acted(_)));
    assert_eq!(state.neutron, Some(ids()));
    assert_eq!(state.phase, Phase::FindPortgroup);
}

#[test]
fn an_unknown_network_is_refused_naming_the_network_field() {
    let seen = looked_up(NeutronLookups::default());
    assert_eq!(
        field_of(decide_now(&State::default(), &seen, Action::Create)),
        "network"
    );
}

#[test]
fn two_networks_of_that_name_are_refused_naming_the_network_field() {
    let seen = looked_up(NeutronLookups {
        networks: vec![network("n-1", &["s-1"]), network("n-2", &["s-2"])],
        ..NeutronLookups::default()
    });
    let (e, _) = failure(decide_now(&State::default(), &seen, Action::Create));
    assert_eq!(e.fields[0].field, "network");
    assert!(e.to_string().contains("give the id"), "{e}");
}

#[test]
fn a_subnet_of_another_network_is_refused_naming_the_subnet_field() {
    let spec = spec_with(|v| v["subnet"] = json!("sub-x"));
    let seen = looked_up(NeutronLookups {
        networks: vec![network(NET, &["sub-1"])],
        subnets: Some(vec![SubnetView {
            id: "sub-x".into(),
            network_id: "another-net".into(),
        }]),
        security_groups: None,
        traffic: Vec::new(),
    });
    let step = decide(&spec, &State::default(), &seen, &Action::Create, NOW);
    assert_eq!(field_of(step), "subnet");
}

#[test]
fn a_network_without_a_subnet_is_refused_naming_the_subnet_field() {
    let seen = looked_up(NeutronLookups {
        networks: vec![network(NET, &[])],
        ..NeutronLookups::default()
    });
    assert_eq!(field_of(decide_now(&State::default(), &seen, Action::Create)), "subnet");
}

#[test]
fn the_named_subnet_and_security_group_resolve_to_their_ids() {
    let spec = spec_with(|v| {
        v["subnet"] = json!("dhcp");
        v["security_group"] = json!("web");
    });
    let seen = looked_up(NeutronLookups {
        networks: vec![network(NET, &["sub-1", "sub-2"])],
        subnets: Some(vec![SubnetView {
            id: "sub-2".into(),
            network_id: NET.into(),
        }]),
        security_groups: Some(vec!["sg-9".into()]),
        traffic: Vec::new(),
    });
    let Step::RecordNeutron(found, _) = decide(&spec, &State::default(), &seen, &Action::Create, NOW) else {
        panic!("expected RecordNeutron");
    };
    assert_eq!(found.subnet_id, "sub-2");
    assert_eq!(found.security_group_ids, ["sg-9"]);
}

#[test]
fn an_unknown_security_group_is_refused_naming_its_field() {
    let spec = spec_with(|v| v["security_group"] = json!("web"));
    let seen = looked_up(NeutronLookups {
        networks: vec![network(NET, &["sub-1"])],
        subnets: None,
        security_groups: Some(Vec::new()),
        traffic: Vec::new(),
    });
    let step = decide(&spec, &State::default(), &seen, &Action::Create, NOW);
    assert_eq!(field_of(step), "security_group");
}

// ---------------------------------------------------------------- portgroup

#[test]
fn the_one_portgroup_of_the_network_is_recorded_and_registration_follows() {
    let seen = Observed {
        portgroups: Some(vec![portgroup()]),
        ..Observed::default()
    };
    let mut state = validated();
    let step = decide_now(&state, &seen, Action::Create);
    assert!(
        matches!(&step, Step::RecordPortgroup(pg) if *pg == portgroup()),
        "{step:?}"
    );
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.portgroup, Some(portgroup()));
    assert_eq!(state.phase, Phase::RegisterNetwork);
}

#[test]
fn no_portgroup_yet_starts_the_wait_and_remembers_when_it_began() {
    let seen = Observed {
        portgroups: Some(Vec::new()),
        ..Observed::default()
    };
    let mut state = validated();
    let step = decide_now(&state, &seen, Action::Create);
    assert!(matches!(step, Step::WaitForPortgroup), "{step:?}");
    let outcome = applied(&mut state, step, Effect::Nothing);
    assert!(matches!(outcome, Outcome::Waiting(_)));
    assert_eq!(state.portgroup_wait_since, Some(NOW));
    // A later wait keeps the first moment.
    apply(&spec(), &mut state, Step::WaitForPortgroup, Effect::Nothing, NOW + 30.0).unwrap();
    assert_eq!(state.portgroup_wait_since, Some(NOW));
}

#[test]
fn the_portgroup_wait_times_out_only_after_120_seconds() {
    let state = State {
        portgroup_wait_since: Some(NOW),
        ..validated()
    };
    let seen = Observed {
        portgroups: Some(Vec::new()),
        ..Observed::default()
    };
    let at = |t: f64| decide(&spec(), &state, &seen, &Action::Create, t);
    assert!(matches!(at(NOW + 120.0), Step::WaitForPortgroup));
    let (e, on) = failure(at(NOW + 121.0));
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(on, OnFail::Keep);
    assert!(e.to_string().contains(NET), "{e}");
}

#[test]
fn several_portgroups_for_one_network_are_a_vcenter_error() {
    let other = PortgroupRef {
        name: format!("vxw-dvs-9-virtualwire-3-sid-5007-{NET}"),
        key: "dvportgroup-77".into(),
    };
    let seen = Observed {
        portgroups: Some(vec![portgroup(), other]),
        ..Observed::default()
    };
    let (e, _) = failure(decide_now(&validated(), &seen, Action::Create));
    assert_eq!(e.kind, ErrorKind::RemoteFailed);
    assert_eq!(e.service, Some(Service::VCenter));
    assert!(e.to_string().contains("2 portgroups"), "{e}");
}

// ---------------------------------------------------------------- BDE network

#[test]
fn an_absent_bde_network_is_first_intended_then_registered() {
    let seen = Observed {
        bde_network: Seen::Absent,
        ..Observed::default()
    };
    let mut state = with_portgroup();
    let step = decide_now(&state, &seen, Action::Create);
    assert!(matches!(step, Step::IntendNetwork), "{step:?}");
    applied(&mut state, step, Effect::Nothing);
    assert!(state.network_intended);
    assert_eq!(state.phase, Phase::RegisterNetwork, "intending is not registering");
    let step = decide_now(&state, &seen, Action::Create);
    assert!(
        matches!(&step, Step::RegisterNetwork(n) if *n == bde_network_name()),
        "{step:?}"
    );
}

#[test]
fn registering_the_network_records_it_as_ours_and_moves_on_to_the_cluster() {
    let mut state = State {
        network_intended: true,
        ..with_portgroup()
    };
    applied(&mut state, Step::RegisterNetwork(bde_network_name()), Effect::Nothing);
    assert_eq!(
        state.bde_network,
        Some(BdeNetwork {
            name: bde_network_name(),
            ours: true
        })
    );
    assert_eq!(state.phase, Phase::CreateCluster);
}

#[test]
fn a_bde_network_on_our_portgroup_is_recorded_as_ours_only_if_we_intended_it() {
    let seen = Observed {
        bde_network: Seen::Present(BdeNetworkView {
            portgroup: portgroup().name,
            dns_type: Some(bde_serengeti::DnsType::Normal),
        }),
        ..Observed::default()
    };
    for intended in [false, true] {
        let state = State {
            network_intended: intended,
            ..with_portgroup()
        };
        let step = decide_now(&state, &seen, Action::Create);
        assert!(
            matches!(&step, Step::RecordNetwork(n) if n.name == bde_network_name() && n.ours == intended),
            "intended={intended}: {step:?}"
        );
    }
}

#[test]
fn a_bde_network_on_another_portgroup_is_a_conflict() {
    let seen = Observed {
        bde_network: Seen::Present(BdeNetworkView {
            portgroup: "some-other-portgroup".into(),
            dns_type: None,
        }),
        ..Observed::default()
    };
    let (e, _) = failure(decide_now(&with_portgroup(), &seen, Action::Create));
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.to_string().contains("some-other-portgroup"), "{e}");
}

#[test]
fn a_shared_bde_network_keeps_its_dns_type_and_a_spec_asking_another_is_refused_by_field() {
    let seen = Observed {
        bde_network: Seen::Present(BdeNetworkView {
            portgroup: portgroup().name,
            dns_type: Some(bde_serengeti::DnsType::Normal),
        }),
        ..Observed::default()
    };
    let others = spec_with(|v| v["dns_type"] = json!("others"));
    let step = decide(&others, &with_portgroup(), &seen, &Action::Create, NOW);
    let (e, _) = failure(step);
    assert_eq!(e.fields[0].field, "dns_type", "{e}");
    assert!(e.to_string().contains("registered with dns_type NORMAL"), "{e}");
    // Asking what it has is fine; so is not asking (NORMAL is the default).
    let normal = spec_with(|v| v["dns_type"] = json!("NORMAL"));
    let step = decide(&normal, &with_portgroup(), &seen, &Action::Create, NOW);
    assert!(matches!(step, Step::RecordNetwork(_)), "{step:?}");
}

#[test]
fn an_adopt_without_the_bde_network_is_refused_naming_the_network_field() {
    let seen = Observed {
        bde_network: Seen::Absent,
        ..Observed::default()
    };
    for intended in [false, true] {
        let state = State {
            network_intended: intended,
            ..with_portgroup()
        };
        assert_eq!(field_of(decide_now(&state, &seen, Action::Adopt)), "network");
    }
}

#[test]
fn the_network_step_without_resolved_ids_is_a_conflict_and_an_unread_network_waits() {
    let unresolved = State {
        phase: Phase::RegisterNetwork,
        ..State::default()
    };
    assert_eq!(
        error_kind(decide_now(&unresolved, &Observed::default(), Action::Create)),
        ErrorKind::Conflict
    );
    assert!(matches!(
        decide_now(&with_portgroup(), &Observed::default(), Action::Create),
        Step::Wait(_)
    ));
}

// ---------------------------------------------------------------- the cluster's create

#[test]
fn an_absent_cluster_is_claimed_as_intended_before_the_create_is_sent() {
    let seen = Observed {
        cluster: Seen::Absent,
        ..Observed::default()
    };
    let mut state = registered();
    let step = decide_now(&state, &seen, Action::Create);
    assert!(matches!(step, Step::IntendCluster), "{step:?}");
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.cluster, claim(ClaimKind::Intended));
    assert_eq!(state.phase, Phase::CreateCluster);
}

#[test]
fn an_intended_claim_with_no_cluster_sends_the_create() {
    let state = State {
        cluster: claim(ClaimKind::Intended),
        ..registered()
    };
    let seen = Observed {
        cluster: Seen::Absent,
        ..Observed::default()
    };
    assert!(matches!(decide_now(&state, &seen, Action::Create), Step::CreateCluster));
}

#[test]
fn the_sent_create_records_its_task_the_requested_claim_and_the_spec_sizes() {
    let mut state = State {
        cluster: claim(ClaimKind::Intended),
        ..registered()
    };
    applied(&mut state, Step::CreateCluster, Effect::TaskStarted(7));
    assert_eq!(state.cluster, claim(ClaimKind::Requested));
    assert_eq!(
        state.pending,
        Some(PendingTask {
            kind: TaskKind::Create,
            id: Some(7)
        })
    );
    assert_eq!(state.desired, sizes(&[("master", 1), ("worker", 2)]));
    assert_eq!(state.phase, Phase::Wire);
}

#[test]
fn a_cluster_named_by_another_is_refused_and_never_claimed() {
    let mut state = registered();
    let seen = seeing(bare(ClusterStatus::Running));
    let step = decide_now(&state, &seen, Action::Create);
    let before = state.clone();
    let err = apply(&spec(), &mut state, step, Effect::Nothing, NOW).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotOurs);
    assert!(err.to_string().contains("adopt"), "{err}");
    assert_eq!(state, before, "a refusal changes nothing");
    assert_eq!(state.cluster, None);
}

#[test]
fn a_cluster_found_after_a_crash_between_post_and_save_is_claimed_as_requested() {
    let state = State {
        cluster: claim(ClaimKind::Intended),
        ..registered()
    };
    let step = decide_now(&state, &seen_running_cluster(), Action::Create);
    assert!(
        matches!(&step, Step::ClaimCluster { how: ClaimKind::Requested, desired } if desired.is_empty()),
        "{step:?}"
    );
}

fn seen_running_cluster() -> Observed {
    seeing(bare(ClusterStatus::Running))
}

#[test]
fn claiming_our_own_lost_create_starts_wiring_with_the_spec_sizes() {
    let mut state = State {
        cluster: claim(ClaimKind::Intended),
        ..registered()
    };
    let step = Step::ClaimCluster {
        how: ClaimKind::Requested,
        desired: BTreeMap::new(),
    };
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.cluster, claim(ClaimKind::Requested));
    assert_eq!(state.desired, sizes(&[("master", 1), ("worker", 2)]));
    assert_eq!(
        state.pending, None,
        "the create's task id was lost: the status is followed"
    );
    assert_eq!(state.phase, Phase::Wire);
}

// ---------------------------------------------------------------- adopt

#[test]
fn adopting_a_missing_cluster_is_refused_naming_cluster_name() {
    let seen = Observed {
        cluster: Seen::Absent,
        ..Observed::default()
    };
    assert_eq!(
        field_of(decide_now(&registered(), &seen, Action::Adopt)),
        "cluster_name"
    );
}

#[test]
fn adopting_a_cluster_on_our_network_claims_it_with_its_observed_sizes() {
    let seen = seeing(cluster(
        ClusterStatus::Running,
        &[("master", 1), ("worker", 5)],
        vec![bde_node(&name("master", 0), "master", Some("10.0.0.1"))],
    ));
    let step = decide_now(&registered(), &seen, Action::Adopt);
    assert!(
        matches!(&step, Step::ClaimCluster { how: ClaimKind::Adopted, desired }
            if *desired == sizes(&[("master", 1), ("worker", 5)])),
        "{step:?}"
    );
}

#[test]
fn a_node_on_our_portgroup_is_enough_to_adopt() {
    let on_portgroup = BdeNodeView {
        networks: vec!["defaultNetwork".into()],
        ..bde_node(&name("worker", 0), "worker", None)
    };
    let seen = seeing(cluster(ClusterStatus::Running, &[("worker", 1)], vec![on_portgroup]));
    assert!(matches!(
        decide_now(&registered(), &seen, Action::Adopt),
        Step::ClaimCluster {
            how: ClaimKind::Adopted,
            ..
        }
    ));
}

#[test]
fn adopting_a_cluster_on_another_network_is_refused_naming_network() {
    let elsewhere = BdeNodeView {
        networks: vec!["defaultNetwork".into()],
        portgroups: vec!["VM Network".into()],
        ..bde_node(&name("worker", 0), "worker", None)
    };
    let seen = seeing(cluster(ClusterStatus::Running, &[("worker", 1)], vec![elsewhere]));
    let (e, _) = failure(decide_now(&registered(), &seen, Action::Adopt));
    assert_eq!(e.fields[0].field, "network");
    assert!(e.to_string().contains("defaultNetwork"), "{e}");
}

#[test]
fn an_adopted_cluster_keeps_its_observed_sizes_as_what_was_asked_for() {
    let mut state = registered();
    let step = Step::ClaimCluster {
        how: ClaimKind::Adopted,
        desired: sizes(&[("master", 1), ("worker", 5)]),
    };
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.cluster, claim(ClaimKind::Adopted));
    assert_eq!(
        state.desired,
        sizes(&[("master", 1), ("worker", 5)]),
        "not the file's 2"
    );
    assert_eq!(state.phase, Phase::Wire);
}

// ---------------------------------------------------------------- wiring: ports

#[test]
fn ports_are_made_only_for_macs_without_one() {
    let mut state = wired_state();
    put(
        &mut state,
        &name("worker", 0),
        with_port(node("worker", &name("worker", 0), &mac(0)), "port-0"),
    );
    put(
        &mut state,
        &name("worker", 1),
        node("worker", &name("worker", 1), &mac(1)),
    );
    let seen = Observed {
        ports: Some(vec![port("port-0", "hadoop1-worker-0-port0", &mac(0))]),
        ..wiring()
    };
    let (adopt, create) = made_ports(decide_now(&state, &seen, Action::Create));
    assert!(adopt.is_empty());
    assert_eq!(create.len(), 1);
    assert_eq!(create[0].mac_address, mac(1));
}

#[test]
fn a_mac_whose_port_already_exists_on_the_network_is_adopted_not_created() {
    let mut state = wired_state();
    put(
        &mut state,
        &name("worker", 0),
        node("worker", &name("worker", 0), &mac(0)),
    );
    let seen = Observed {
        ports: Some(vec![PortView {
            ip: Some("10.0.0.7".into()),
            ..port("port-a", "hadoop1-worker-0-port0", &mac(0))
        }]),
        ..wiring()
    };
    let (adopt, create) = made_ports(decide_now(&state, &seen, Action::Create));
    assert!(create.is_empty());
    assert_eq!(
        adopt,
        vec![(
            name("worker", 0),
            mac(0),
            PortRecord {
                id: "port-a".into(),
                ip: Some("10.0.0.7".into())
            }
        )]
    );
}

#[test]
fn a_recorded_port_still_listed_needs_nothing() {
    let mut state = wired_state();
    put(
        &mut state,
        &name("worker", 0),
        with_port(node("worker", &name("worker", 0), &mac(0)), "port-0"),
    );
    let seen = Observed {
        ports: Some(vec![port("port-0", "hadoop1-worker-0-port0", &mac(0))]),
        ..wiring()
    };
    let step = decide_now(&state, &seen, Action::Create);
    assert!(matches!(step, Step::Wait(_)), "{step:?}");
}

#[test]
fn a_recorded_port_missing_from_the_list_is_made_again() {
    let mut state = wired_state();
    put(
        &mut state,
        &name("worker", 0),
        with_port(node("worker", &name("worker", 0), &mac(0)), "port-0"),
    );
    let seen = Observed {
        ports: Some(Vec::new()),
        ..wiring()
    };
    let (adopt, create) = made_ports(decide_now(&state, &seen, Action::Create));
    assert!(adopt.is_empty());
    assert_eq!(create.len(), 1);
    assert_eq!(create[0].mac_address, mac(0));
}

#[test]
fn a_vm_with_an_address_gets_its_port_with_that_same_address() {
    let mut state = wired_state();
    put(
        &mut state,
        &name("worker", 0),
        with_ip(node("worker", &name("worker", 0), &mac(0)), "10.0.0.5"),
    );
    put(
        &mut state,
        &name("worker", 1),
        node("worker", &name("worker", 1), &mac(1)),
    );
    let seen = Observed {
        ports: Some(Vec::new()),
        ..wiring()
    };
    let (_, create) = made_ports(decide_now(&state, &seen, Action::Create));
    let by_mac = |m: &str| create.iter().find(|r| r.mac_address == m).unwrap().fixed_ips.clone();
    assert_eq!(
        by_mac(&mac(0)),
        vec![json!({"subnet_id": "sub-1", "ip_address": "10.0.0.5"})]
    );
    assert_eq!(
        by_mac(&mac(1)),
        vec![json!({"subnet_id": "sub-1"})],
        "no address yet: DHCP's"
    );
}

#[test]
fn a_port_request_carries_the_vm_uuid_our_owner_the_security_groups_and_a_name_per_nic() {
    let mut state = wired_state();
    let vm_name = name("worker", 0);
    let mut two_nics = with_ip(node("worker", &vm_name, &mac(0)), "10.0.0.5");
    two_nics.macs.push(mac(1));
    put(&mut state, &vm_name, two_nics);
    let seen = Observed {
        ports: Some(Vec::new()),
        ..wiring()
    };
    let (_, create) = made_ports(decide_now(&state, &seen, Action::Create));
    assert_eq!(create.len(), 2);
    for (i, r) in create.iter().enumerate() {
        assert_eq!(r.name, format!("{vm_name}-port{i}"));
        assert_eq!(r.mac_address, mac(i));
        assert_eq!(r.network_id, NET);
        assert_eq!(r.device_id, format!("uuid-{vm_name}"));
        assert_eq!(r.device_owner, "compute:bde");
        assert_eq!(r.security_groups, Some(vec!["sg-1".to_string()]));
    }
    assert_eq!(
        create[1].fixed_ips,
        vec![json!({"subnet_id": "sub-1"})],
        "the VM's address belongs to its first NIC only"
    );
}

#[test]
fn without_a_security_group_the_port_request_names_none() {
    let mut state = wired_state();
    state.neutron = Some(NeutronIds {
        security_group_ids: Vec::new(),
        ..ids()
    });
    put(
        &mut state,
        &name("worker", 0),
        node("worker", &name("worker", 0), &mac(0)),
    );
    let seen = Observed {
        ports: Some(Vec::new()),
        ..wiring()
    };
    let (_, create) = made_ports(decide_now(&state, &seen, Action::Create));
    assert_eq!(create[0].security_groups, None);
}

#[test]
fn at_most_max_ports_per_step_are_made_earliest_seen_first() {
    let mut state = wired_state();
    let count = MAX_PORTS_PER_STEP + 5;
    for i in 0..count {
        // Later names were seen earlier: the order is the clones' order, not the names'.
        let n = NodeState {
            seen_at: Some(NOW - i as f64),
            ..node("worker", &name("worker", i), &mac(i))
        };
        put(&mut state, &name("worker", i), n);
    }
    let seen = Observed {
        ports: Some(Vec::new()),
        ..wiring()
    };
    let (_, create) = made_ports(decide_now(&state, &seen, Action::Create));
    assert_eq!(create.len(), MAX_PORTS_PER_STEP);
    assert_eq!(create[0].name, format!("{}-port0", name("worker", count - 1)));
    assert_eq!(create[1].name, format!("{}-port0", name("worker", count - 2)));
    for latest in 0..5 {
        assert!(
            create.iter().all(|r| r.mac_address != mac(latest)),
            "worker {latest} was seen last: it waits for the next step"
        );
    }
}

#[test]
fn a_malformed_mac_fails_before_any_port_is_made() {
    let bad = "00:50:56:zz:00:01";
    let mut state = wired_state();
    put(&mut state, &name("worker", 0), node("worker", &name("worker", 0), bad));
    put(
        &mut state,
        &name("worker", 1),
        node("worker", &name("worker", 1), &mac(1)),
    );
    let seen = Observed {
        vms: Some(vec![
            vm(&name("worker", 0), bad, PowerState::PoweredOn),
            vm(&name("worker", 1), &mac(1), PowerState::PoweredOn),
        ]),
        ports: Some(Vec::new()),
        ..wiring()
    };
    let (e, on) = failure(decide_now(&state, &seen, Action::Create));
    assert_eq!(e.kind, ErrorKind::RemoteFailed);
    assert_eq!(e.service, Some(Service::VCenter));
    assert_eq!(on, OnFail::Keep);
    assert!(e.to_string().contains(bad), "{e}");
}

#[test]
fn a_vanished_vm_has_its_ports_deleted_and_is_forgotten() {
    let mut state = wired_state();
    put(&mut state, &name("worker", 0), stuck(0, NOW));
    put(&mut state, &name("worker", 1), stuck(1, NOW));
    let seen = Observed {
        vms: Some(vec![vm(&name("worker", 1), &mac(1), PowerState::PoweredOn)]),
        ..wiring()
    };
    let step = decide_now(&state, &seen, Action::Create);
    assert!(
        matches!(&step, Step::DeletePorts { ports, forget }
            if *ports == ["port-0"] && *forget == [name("worker", 0)]),
        "{step:?}"
    );
    applied(&mut state, step, Effect::Nothing);
    assert!(!state.nodes.contains_key(&name("worker", 0)));
    assert!(state.nodes[&name("worker", 1)].is_wired());
}

#[test]
fn a_vanished_vm_whose_port_is_gone_too_gets_no_new_port() {
    let mut state = wired_state();
    put(&mut state, &name("worker", 0), stuck(0, NOW));
    put(
        &mut state,
        &name("worker", 1),
        node("worker", &name("worker", 1), &mac(1)),
    );
    // worker-0's VM and its port are both gone; worker-1 still needs its port.
    let seen = Observed {
        vms: Some(vec![vm(&name("worker", 1), &mac(1), PowerState::PoweredOn)]),
        ports: Some(Vec::new()),
        ..wiring()
    };
    let step = decide_now(&state, &seen, Action::Create);
    if let Step::MakePorts { create, .. } = &step {
        assert!(
            create.iter().all(|r| r.mac_address != mac(0)),
            "a port for a VM vCenter no longer has: {step:?}"
        );
    }
}

#[test]
fn made_and_adopted_ports_are_recorded_on_their_nodes() {
    let mut state = wired_state();
    put(
        &mut state,
        &name("worker", 0),
        node("worker", &name("worker", 0), &mac(0)),
    );
    put(
        &mut state,
        &name("worker", 1),
        node("worker", &name("worker", 1), &mac(1)),
    );
    let made: Port = serde_json::from_value(json!({
        "id": "port-new", "network_id": NET, "mac_address": mac(1),
        "fixed_ips": [{"subnet_id": "sub-1", "ip_address": "10.0.0.9"}]
    }))
    .unwrap();
    let step = Step::MakePorts {
        adopt: vec![(
            name("worker", 0),
            mac(0),
            PortRecord {
                id: "port-old".into(),
                ip: None,
            },
        )],
        create: Vec::new(),
    };
    let effect = Effect::PortsMade {
        ports: vec![(made, NOW - 2.0)],
        vnic_index: true,
    };
    applied(&mut state, step, effect);
    assert_eq!(state.nodes[&name("worker", 0)].ports[&mac(0)].id, "port-old");
    let w1 = &state.nodes[&name("worker", 1)];
    assert_eq!(
        w1.ports[&mac(1)],
        PortRecord {
            id: "port-new".into(),
            ip: Some("10.0.0.9".into())
        }
    );
    // When Neutron answered for it, not when the step ended (a step makes several batches).
    assert_eq!(w1.port_created_at, Some(NOW - 2.0));
    assert_eq!(state.vnic_index, Some(true));
}

// ---------------------------------------------------------------- wiring: stuck VMs

#[test]
fn a_stuck_vm_is_reset_only_after_the_grace() {
    let mut state = wired_state();
    put(&mut state, &name("worker", 0), stuck(0, NOW));
    let at = |t: f64| decide(&spec(), &state, &wiring(), &Action::Create, t);
    assert!(matches!(at(NOW + 119.0), Step::Wait(_)));
    let step = at(NOW + 120.0);
    assert!(
        matches!(&step, Step::ResetVms(vms) if *vms == [(name("worker", 0), format!("vm-{}", name("worker", 0)))]),
        "{step:?}"
    );
}

#[test]
fn a_vm_that_is_not_powered_on_is_never_reset() {
    for power in [PowerState::PoweredOff, PowerState::Suspended, PowerState::Unknown] {
        let mut state = wired_state();
        put(
            &mut state,
            &name("worker", 0),
            NodeState {
                power_state: power,
                ..stuck(0, NOW)
            },
        );
        let step = decide(&spec(), &state, &wiring(), &Action::Create, NOW + 600.0);
        assert!(!matches!(step, Step::ResetVms(_)), "{power:?}: {step:?}");
    }
}

#[test]
fn a_vm_without_its_port_is_never_reset() {
    let mut state = wired_state();
    let unwired = NodeState {
        waiting_since: Some(NOW),
        ..node("worker", &name("worker", 0), &mac(0))
    };
    put(&mut state, &name("worker", 0), unwired);
    let step = decide(&spec(), &state, &wiring(), &Action::Create, NOW + 600.0);
    assert!(matches!(step, Step::Wait(_)), "{step:?}");
}

#[test]
fn a_vm_with_an_address_is_never_reset() {
    let mut state = wired_state();
    put(&mut state, &name("worker", 0), with_ip(stuck(0, NOW), "10.0.0.5"));
    let step = decide(&spec(), &state, &wiring(), &Action::Create, NOW + 600.0);
    assert!(!matches!(step, Step::ResetVms(_)), "{step:?}");
}

#[test]
fn a_vm_whose_reset_is_under_way_is_not_reset_again() {
    let mut state = wired_state();
    let resetting = NodeState {
        reset_task: Some("task-3".into()),
        resets: vec![NOW],
        ..stuck(0, NOW)
    };
    put(&mut state, &name("worker", 0), resetting);
    let spec = spec_with(|v| v["max_resets"] = json!(5));
    let step = decide(&spec, &state, &wiring(), &Action::Create, NOW + 600.0);
    assert!(!matches!(step, Step::ResetVms(_)), "{step:?}");
}

#[test]
fn a_vm_is_reset_at_most_max_resets_times_per_wait_for_an_address() {
    let mut state = wired_state();
    let once = NodeState {
        resets: vec![NOW],
        ..stuck(0, NOW)
    };
    put(&mut state, &name("worker", 0), once);
    let later = NOW + 600.0;
    let with_budget = |n: u32| spec_with(|v| v["max_resets"] = json!(n));
    let step = decide(&spec(), &state, &wiring(), &Action::Create, later);
    assert!(
        !matches!(step, Step::ResetVms(_)),
        "one reset is the default budget: {step:?}"
    );
    let step = decide(&with_budget(2), &state, &wiring(), &Action::Create, later);
    assert!(matches!(step, Step::ResetVms(_)), "{step:?}");
    let fresh = {
        let mut s = wired_state();
        put(&mut s, &name("worker", 0), stuck(0, NOW));
        s
    };
    let step = decide(&with_budget(0), &fresh, &wiring(), &Action::Create, later);
    assert!(!matches!(step, Step::ResetVms(_)), "0 disables resets: {step:?}");
}

#[test]
fn resets_before_the_last_address_do_not_count_against_the_budget() {
    let mut state = wired_state();
    let readdressed = NodeState {
        resets: vec![700.0],
        last_addressed: Some(800.0),
        ..stuck(0, NOW)
    };
    put(&mut state, &name("worker", 0), readdressed);
    let step = decide(&spec(), &state, &wiring(), &Action::Create, NOW + 120.0);
    assert!(matches!(step, Step::ResetVms(_)), "{step:?}");
}

#[test]
fn record_starts_the_wait_for_an_address_and_clears_it_when_one_appears() {
    let w0 = name("worker", 0);
    let mut state = wired_state();
    put(&mut state, &w0, with_port(node("worker", &w0, &mac(0)), "port-0"));
    let without = |ip: Option<&str>| Observed {
        vms: Some(vec![vm(&w0, &mac(0), PowerState::PoweredOn)]),
        ..seeing(cluster(
            ClusterStatus::Provisioning,
            &[("worker", 1)],
            vec![bde_node(&w0, "worker", ip)],
        ))
    };
    record(&mut state, &without(None), NOW);
    assert_eq!(state.nodes[&w0].waiting_since, Some(NOW));
    record(&mut state, &without(None), NOW + 50.0);
    assert_eq!(state.nodes[&w0].waiting_since, Some(NOW), "the wait keeps its start");
    record(&mut state, &without(Some("10.0.0.5")), NOW + 100.0);
    let n = &state.nodes[&w0];
    assert_eq!(n.waiting_since, None);
    assert_eq!(n.ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(n.address_at, Some(NOW + 100.0));
    assert_eq!(n.last_addressed, Some(NOW + 100.0));
}

#[test]
fn an_unwired_or_powered_off_vm_is_not_waiting_for_an_address() {
    let (w0, w1) = (name("worker", 0), name("worker", 1));
    let mut state = wired_state();
    put(&mut state, &w0, node("worker", &w0, &mac(0)));
    put(&mut state, &w1, with_port(node("worker", &w1, &mac(1)), "port-1"));
    let seen = Observed {
        vms: Some(vec![
            vm(&w0, &mac(0), PowerState::PoweredOn),
            vm(&w1, &mac(1), PowerState::PoweredOff),
        ]),
        ..Observed::default()
    };
    record(&mut state, &seen, NOW);
    assert_eq!(state.nodes[&w0].waiting_since, None, "no port yet");
    assert_eq!(state.nodes[&w1].waiting_since, None, "off");
}

#[test]
fn a_finished_or_failed_reset_task_is_cleared_and_a_running_one_kept() {
    let cases = [
        (ResetProgress::Done, None),
        (ResetProgress::Failed("InvalidPowerState: off".into()), None),
        (ResetProgress::Running, Some("task-3".to_string())),
    ];
    for (progress, left) in cases {
        let mut state = wired_state();
        put(
            &mut state,
            &name("worker", 0),
            NodeState {
                reset_task: Some("task-3".into()),
                ..stuck(0, NOW)
            },
        );
        let seen = Observed {
            resets: vec![(name("worker", 0), progress.clone())],
            ..Observed::default()
        };
        record(&mut state, &seen, NOW);
        assert_eq!(state.nodes[&name("worker", 0)].reset_task, left, "{progress:?}");
    }
}

#[test]
fn applying_a_reset_records_its_time_and_task_and_restarts_the_grace() {
    let w0 = name("worker", 0);
    let mut state = wired_state();
    put(&mut state, &w0, stuck(0, NOW));
    let step = Step::ResetVms(vec![(w0.clone(), format!("vm-{w0}"))]);
    let effect = Effect::ResetsStarted(vec![(w0.clone(), "task-9".into())]);
    apply(&spec(), &mut state, step, effect, NOW + 200.0).unwrap();
    let n = &state.nodes[&w0];
    assert_eq!(n.resets, [NOW + 200.0]);
    assert_eq!(n.reset_task.as_deref(), Some("task-9"));
    assert_eq!(n.waiting_since, Some(NOW + 200.0));
    assert_eq!(state.resets, 1);
}

#[test]
fn record_keeps_the_folder_and_each_vm_first_seen_time_uuid_power_and_macs() {
    let w0 = name("worker", 0);
    let mut state = wired_state();
    let seen = Observed {
        folder: Some("group-v42".into()),
        vms: Some(vec![VmView {
            instance_uuid: String::new(),
            ..vm(&w0, &mac(0), PowerState::PoweredOff)
        }]),
        ..seeing(bare(ClusterStatus::Stopping))
    };
    record(&mut state, &seen, NOW);
    record(&mut state, &seen, NOW + 10.0);
    let n = &state.nodes[&w0];
    assert_eq!(state.folder.as_deref(), Some("group-v42"));
    assert_eq!(state.cluster_status, Some(ClusterStatus::Stopping));
    assert_eq!(n.vm, Some(format!("vm-{w0}")));
    assert_eq!(n.instance_uuid, None, "an empty uuid is no uuid");
    assert_eq!(n.power_state, PowerState::PoweredOff);
    assert_eq!(n.seen_at, Some(NOW));
    assert_eq!(n.macs, [mac(0)]);
}

// ---------------------------------------------------------------- wiring: the task's end

/// Wiring with three nodes, each wired and addressed.
fn all_addressed() -> State {
    let mut state = wired_state();
    for (i, (group, j)) in [("master", 0), ("worker", 0), ("worker", 1)].into_iter().enumerate() {
        let vm_name = name(group, j);
        let n = with_ip(
            with_port(node(group, &vm_name, &mac(i)), &format!("port-{i}")),
            "10.0.0.9",
        );
        put(&mut state, &vm_name, n);
    }
    state
}

#[test]
fn a_node_whose_reset_is_under_way_keeps_the_create_from_settling_though_it_has_an_address() {
    // The guest leased an address before the reset reached it: the reboot will take it away.
    let mut state = all_addressed();
    let worker = name("worker", 1);
    state.nodes.get_mut(&worker).unwrap().reset_task = Some("task-9".into());
    let seen = Observed {
        task: Some(TaskOutcome::Completed),
        ..seen_running_cluster()
    };
    let step = decide_now(&state, &seen, Action::Create);
    assert!(matches!(step, Step::Wait(_)), "{step:?}");
    state.nodes.get_mut(&worker).unwrap().reset_task = None;
    let step = decide_now(&state, &seen, Action::Create);
    assert!(matches!(step, Step::Settle(Phase::Ready)), "{step:?}");
}

#[test]
fn a_completed_create_with_every_node_addressed_and_running_settles_ready() {
    let mut state = all_addressed();
    let seen = Observed {
        task: Some(TaskOutcome::Completed),
        ..seen_running_cluster()
    };
    let step = decide_now(&state, &seen, Action::Create);
    assert!(matches!(step, Step::Settle(Phase::Ready)), "{step:?}");
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.phase, Phase::Ready);
    assert_eq!(state.pending, None);
}

#[test]
fn a_completed_create_still_waits_for_the_last_address() {
    let mut state = all_addressed();
    state.nodes.get_mut(&name("worker", 1)).unwrap().ip = None;
    let seen = Observed {
        task: Some(TaskOutcome::Completed),
        ..seen_running_cluster()
    };
    let step = decide_now(&state, &seen, Action::Create);
    assert!(
        matches!(&step, Step::Wait(note) if note.contains("2 with an address")),
        "{step:?}"
    );
}

#[test]
fn a_create_failed_in_provision_error_fails_and_asks_the_next_step_to_resume() {
    let mut state = all_addressed();
    let seen = Observed {
        task: Some(TaskOutcome::Failed(Some("clone failed".into()))),
        ..seeing(bare(ClusterStatus::ProvisionError))
    };
    let step = decide_now(&state, &seen, Action::Create);
    assert!(matches!(step, Step::Fail(_, OnFail::ResumeNext)), "{step:?}");
    let err = apply(&spec(), &mut state, step, Effect::Nothing, NOW).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TaskFailed);
    assert_eq!(err.service, Some(Service::Bde));
    assert!(err.to_string().contains("clone failed"), "{err}");
    assert!(state.resume_needed);
    assert_eq!(state.pending, None);
    assert_eq!(state.phase, Phase::Wire);
}

#[test]
fn a_needed_resume_on_provision_error_asks_bde_to_resume() {
    let state = State {
        resume_needed: true,
        pending: None,
        ..all_addressed()
    };
    let seen = seeing(bare(ClusterStatus::ProvisionError));
    for action in [Action::Create, Action::Repair, Action::Apply] {
        let step = decide_now(&state, &seen, action.clone());
        assert!(matches!(step, Step::ResumeCreate), "{action}: {step:?}");
    }
}

#[test]
fn a_needed_resume_on_another_status_follows_the_resume_already_sent() {
    let mut state = State {
        resume_needed: true,
        pending: None,
        ..all_addressed()
    };
    let step = decide_now(&state, &seeing(bare(ClusterStatus::Provisioning)), Action::Create);
    assert!(matches!(step, Step::FollowStatus(TaskKind::Resume)), "{step:?}");
    applied(&mut state, step, Effect::Nothing);
    assert!(!state.resume_needed);
    assert_eq!(
        state.pending,
        Some(PendingTask {
            kind: TaskKind::Resume,
            id: None
        })
    );
    assert_eq!(state.phase, Phase::Wire);
}

#[test]
fn a_resume_records_its_task_and_clears_the_need() {
    let mut state = State {
        resume_needed: true,
        pending: None,
        ..all_addressed()
    };
    applied(&mut state, Step::ResumeCreate, Effect::TaskStarted(8));
    assert!(!state.resume_needed);
    assert_eq!(
        state.pending,
        Some(PendingTask {
            kind: TaskKind::Resume,
            id: Some(8)
        })
    );
}

#[test]
fn a_failed_resize_drops_its_task_and_the_cluster_is_ready_again() {
    let mut state = State {
        pending: Some(PendingTask {
            kind: TaskKind::Resize {
                group: "worker".into(),
                count: 3,
            },
            id: Some(9),
        }),
        ..all_addressed()
    };
    let seen = Observed {
        task: Some(TaskOutcome::Failed(Some("no room on the hosts".into()))),
        ..seen_running_cluster()
    };
    let step = decide_now(&state, &seen, resize("worker", 3));
    assert!(matches!(step, Step::Fail(_, OnFail::DropTask)), "{step:?}");
    let err = apply(&spec(), &mut state, step, Effect::Nothing, NOW).unwrap_err();
    assert!(err.to_string().contains("no room"), "{err}");
    assert_eq!(state.pending, None);
    assert_eq!(state.phase, Phase::Ready);
    assert!(!state.resume_needed);
}

#[test]
fn a_failed_create_task_never_leaves_the_cluster_ready() {
    let mut state = all_addressed();
    // observe reads the cluster before the task: the status can still say PROVISIONING.
    let seen = Observed {
        task: Some(TaskOutcome::Failed(Some("clone failed".into()))),
        ..seeing(bare(ClusterStatus::Provisioning))
    };
    let step = decide_now(&state, &seen, Action::Create);
    let _ = apply(&spec(), &mut state, step, Effect::Nothing, NOW);
    assert_ne!(state.phase, Phase::Ready);
    let rerun = decide_now(&state, &seen_running_cluster(), Action::Create);
    assert!(!matches!(rerun, Step::Done), "{rerun:?}");
}

#[test]
fn a_task_whose_id_was_lost_is_followed_by_the_cluster_status() {
    let state = State {
        pending: Some(PendingTask {
            kind: TaskKind::Create,
            id: None,
        }),
        ..all_addressed()
    };
    let provisioning = decide_now(&state, &seeing(bare(ClusterStatus::Provisioning)), Action::Create);
    assert!(matches!(provisioning, Step::Wait(_)), "{provisioning:?}");
    let running = decide_now(&state, &seen_running_cluster(), Action::Create);
    assert!(matches!(running, Step::Settle(Phase::Ready)), "{running:?}");
    let failed = decide_now(&state, &seeing(bare(ClusterStatus::ProvisionError)), Action::Create);
    assert!(matches!(failed, Step::Fail(_, OnFail::ResumeNext)), "{failed:?}");
}

#[test]
fn a_cluster_in_provision_error_with_no_task_asks_to_resume() {
    let state = State {
        pending: None,
        ..all_addressed()
    };
    let step = decide_now(&state, &seeing(bare(ClusterStatus::ProvisionError)), Action::Create);
    assert!(matches!(step, Step::Fail(_, OnFail::ResumeNext)), "{step:?}");
}

#[test]
fn a_cluster_gone_while_wiring_is_an_error() {
    let seen = Observed {
        cluster: Seen::Absent,
        ..Observed::default()
    };
    let (e, on) = failure(decide_now(&all_addressed(), &seen, Action::Create));
    assert_eq!(e.kind, ErrorKind::RemoteFailed);
    assert_eq!(e.service, Some(Service::Bde));
    assert_eq!(on, OnFail::Keep);
    assert!(e.to_string().contains(CLUSTER), "{e}");
}

#[test]
fn wiring_waits_for_an_unread_cluster() {
    assert!(matches!(
        decide_now(&all_addressed(), &Observed::default(), Action::Create),
        Step::Wait(_)
    ));
}

// ---------------------------------------------------------------- day 2

#[test]
fn stop_on_a_running_cluster_starts_bde_stop_and_follows_it() {
    let mut state = ready_state();
    let step = decide_now(&state, &seen_running_cluster(), Action::Stop);
    assert!(matches!(step, Step::StartTask(TaskKind::Stop)), "{step:?}");
    applied(&mut state, step, Effect::TaskStarted(11));
    assert_eq!(state.phase, Phase::Stopping);
    assert_eq!(
        state.pending,
        Some(PendingTask {
            kind: TaskKind::Stop,
            id: Some(11)
        })
    );
}

#[test]
fn stop_on_a_cluster_stopped_in_bde_settles_stopped() {
    let step = decide_now(&ready_state(), &seeing(bare(ClusterStatus::Stopped)), Action::Stop);
    assert!(matches!(step, Step::Settle(Phase::Stopped)), "{step:?}");
}

#[test]
fn stop_while_bde_is_stopping_follows_its_status() {
    let mut state = ready_state();
    let step = decide_now(&state, &seeing(bare(ClusterStatus::Stopping)), Action::Stop);
    assert!(matches!(step, Step::FollowStatus(TaskKind::Stop)), "{step:?}");
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.phase, Phase::Stopping);
    assert_eq!(
        state.pending,
        Some(PendingTask {
            kind: TaskKind::Stop,
            id: None
        })
    );
}

#[test]
fn a_stop_already_done_in_bde_settles_stopped() {
    let mut state = ready_state();
    applied(&mut state, Step::StartTask(TaskKind::Stop), Effect::AlreadyThere);
    assert_eq!(state.phase, Phase::Stopped);
    assert_eq!(state.pending, None);
}

#[test]
fn a_stopping_cluster_settles_stopped_when_its_task_completes() {
    let stopping = State {
        pending: Some(PendingTask {
            kind: TaskKind::Stop,
            id: Some(11),
        }),
        ..claimed(Phase::Stopping)
    };
    let with_task = |t: TaskOutcome| Observed {
        task: Some(t),
        ..seeing(bare(ClusterStatus::Stopping))
    };
    let running = decide_now(&stopping, &with_task(TaskOutcome::Running(0.4)), Action::Stop);
    assert!(
        matches!(&running, Step::Wait(note) if note.contains("40%")),
        "{running:?}"
    );
    let done = decide_now(&stopping, &with_task(TaskOutcome::Completed), Action::Stop);
    assert!(matches!(done, Step::Settle(Phase::Stopped)), "{done:?}");
    let lost = State {
        pending: Some(PendingTask {
            kind: TaskKind::Stop,
            id: None,
        }),
        ..stopping
    };
    let by_status = decide_now(&lost, &seeing(bare(ClusterStatus::Stopped)), Action::Stop);
    assert!(matches!(by_status, Step::Settle(Phase::Stopped)), "{by_status:?}");
}

#[test]
fn a_failed_stop_drops_its_task_and_the_cluster_is_ready_again() {
    let mut state = State {
        pending: Some(PendingTask {
            kind: TaskKind::Stop,
            id: Some(11),
        }),
        ..claimed(Phase::Stopping)
    };
    let seen = Observed {
        task: Some(TaskOutcome::Failed(None)),
        ..seen_running_cluster()
    };
    let step = decide_now(&state, &seen, Action::Stop);
    assert!(matches!(step, Step::Fail(_, OnFail::DropTask)), "{step:?}");
    assert!(apply(&spec(), &mut state, step, Effect::Nothing, NOW).is_err());
    assert_eq!(state.phase, Phase::Ready);
    assert_eq!(state.pending, None);
}

#[test]
fn start_on_a_stopped_cluster_starts_bde_start_and_wires_again() {
    let mut state = claimed(Phase::Stopped);
    let step = decide_now(&state, &seeing(bare(ClusterStatus::Stopped)), Action::Start);
    assert!(matches!(step, Step::StartTask(TaskKind::Start)), "{step:?}");
    applied(&mut state, step, Effect::TaskStarted(12));
    assert_eq!(state.phase, Phase::Wire);
    assert_eq!(
        state.pending,
        Some(PendingTask {
            kind: TaskKind::Start,
            id: Some(12)
        })
    );
}

#[test]
fn start_while_bde_is_starting_follows_its_status() {
    let step = decide_now(
        &claimed(Phase::Stopped),
        &seeing(bare(ClusterStatus::Starting)),
        Action::Start,
    );
    assert!(matches!(step, Step::FollowStatus(TaskKind::Start)), "{step:?}");
}

#[test]
fn a_start_already_done_in_bde_waits_for_every_address() {
    let mut state = claimed(Phase::Stopped);
    applied(&mut state, Step::StartTask(TaskKind::Start), Effect::AlreadyThere);
    assert_eq!(state.phase, Phase::Wire);
    assert_eq!(state.pending, None);
}

#[test]
fn bde_busy_leaves_the_state_and_waits() {
    let mut state = ready_state();
    let before = state.clone();
    let outcome = applied(
        &mut state,
        Step::StartTask(TaskKind::Stop),
        Effect::Busy("CLUSTER.UPDATING".into()),
    );
    assert!(matches!(outcome, Outcome::Waiting(_)), "{outcome:?}");
    assert_eq!(state, before);
}

#[test]
fn a_resize_starts_bde_resize_and_records_the_size_asked_for() {
    let mut state = ready_state();
    let step = decide_now(&state, &seen_running_cluster(), resize("worker", 3));
    assert!(
        matches!(&step, Step::StartTask(TaskKind::Resize { group, count: 3 }) if group == "worker"),
        "{step:?}"
    );
    applied(&mut state, step, Effect::TaskStarted(12));
    assert_eq!(state.desired["worker"], 3);
    assert_eq!(state.phase, Phase::Wire);
    assert!(matches!(
        &state.pending,
        Some(PendingTask {
            kind: TaskKind::Resize { .. },
            id: Some(12)
        })
    ));
}

#[test]
fn a_resize_to_the_current_size_already_asked_for_is_done() {
    let step = decide_now(&ready_state(), &seen_running_cluster(), resize("worker", 2));
    assert!(matches!(step, Step::Done), "{step:?}");
}

#[test]
fn a_resize_to_the_current_size_not_yet_asked_for_is_recorded() {
    let mut state = State {
        desired: sizes(&[("master", 1), ("worker", 5)]),
        ..ready_state()
    };
    let step = decide_now(&state, &seen_running_cluster(), resize("worker", 2));
    assert!(
        matches!(&step, Step::SetDesired(d) if *d == sizes(&[("master", 1), ("worker", 2)])),
        "{step:?}"
    );
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.desired["worker"], 2);
}

#[test]
fn a_resize_of_an_unknown_group_is_refused_naming_node_groups() {
    let step = decide_now(&ready_state(), &seen_running_cluster(), resize("compute", 3));
    let (e, _) = failure(step);
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert_eq!(e.fields[0].field, "node_groups");
    assert!(e.to_string().contains("master, worker"), "{e}");
}

#[test]
fn a_resize_of_a_namenode_group_is_refused() {
    let step = decide_now(&ready_state(), &seen_running_cluster(), resize("master", 2));
    let (e, _) = failure(step);
    assert_eq!(e.fields[0].field, "node_groups[0].instance_num");
    assert!(e.to_string().contains("hadoop_namenode"), "{e}");
    assert!(e.to_string().contains("CLUSTER.ROLES_NOT_SUPPORTED"), "{e}");
    // Its current size is no resize: nothing to refuse.
    let same = decide_now(&ready_state(), &seen_running_cluster(), resize("master", 1));
    assert!(matches!(same, Step::Done), "{same:?}");
}

#[test]
fn a_resize_while_bde_is_updating_follows_it() {
    let step = decide_now(
        &ready_state(),
        &seeing(bare(ClusterStatus::Updating)),
        resize("worker", 3),
    );
    assert!(
        matches!(&step, Step::FollowStatus(TaskKind::Resize { group, count: 3 }) if group == "worker"),
        "{step:?}"
    );
}

#[test]
fn a_resize_while_bde_shrinks_a_group_follows_it_even_at_the_new_size() {
    // BDE sets the group's new size at once and shows MAINTENANCE while it removes VMs.
    let shrinking = cluster(ClusterStatus::Maintenance, &[("master", 1), ("worker", 1)], Vec::new());
    let step = decide_now(&ready_state(), &seeing(shrinking), resize("worker", 1));
    assert!(
        matches!(&step, Step::FollowStatus(TaskKind::Resize { group, count: 1 }) if group == "worker"),
        "{step:?}"
    );
}

#[test]
fn a_resize_followed_after_a_lost_answer_still_records_the_size_asked_for() {
    let mut state = ready_state();
    let step = decide_now(&state, &seeing(bare(ClusterStatus::Updating)), resize("worker", 3));
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.desired["worker"], 3);
}

#[test]
fn day_two_actions_on_a_state_with_no_claim_are_not_ours() {
    for action in [Action::Stop, Action::Start, resize("worker", 3), Action::Check] {
        let step = decide_now(&State::default(), &Observed::default(), action.clone());
        assert_eq!(error_kind(step), ErrorKind::NotOurs, "{action}");
    }
    let unclaimed = State {
        cluster: None,
        ..ready_state()
    };
    for action in [
        Action::Stop,
        Action::Start,
        resize("worker", 3),
        Action::Repair,
        Action::Apply,
    ] {
        let step = decide_now(&unclaimed, &seen_running_cluster(), action.clone());
        assert_eq!(error_kind(step), ErrorKind::NotOurs, "{action}");
    }
}

#[test]
fn day_two_actions_before_the_create_finished_are_a_conflict() {
    let sending = State {
        cluster: claim(ClaimKind::Intended),
        ..registered()
    };
    for action in [Action::Stop, Action::Start, resize("worker", 3)] {
        let step = decide_now(&sending, &Observed::default(), action.clone());
        assert_eq!(error_kind(step), ErrorKind::Conflict, "{action}");
    }
}

#[test]
fn actions_other_than_delete_on_a_deleting_cluster_are_a_conflict() {
    for phase in [Phase::DeleteCluster, Phase::DeletePorts, Phase::DeleteNetwork] {
        for action in [
            Action::Create,
            Action::Adopt,
            Action::Stop,
            Action::Start,
            resize("worker", 3),
            Action::Repair,
            Action::Apply,
        ] {
            let step = decide_now(&claimed(phase), &Observed::default(), action.clone());
            assert_eq!(error_kind(step), ErrorKind::Conflict, "{phase:?} {action}");
        }
        let check = decide_now(&claimed(phase), &Observed::default(), Action::Check);
        assert!(matches!(check, Step::Done), "{phase:?}: {check:?}");
    }
}

#[test]
fn a_create_of_a_deleted_cluster_starts_over() {
    let deleted = State {
        cluster: None,
        ..claimed(Phase::Deleted)
    };
    for action in [Action::Create, Action::Adopt, Action::Repair, Action::Apply] {
        let step = decide_now(&deleted, &Observed::default(), action.clone());
        assert!(matches!(step, Step::StartOver), "{action}: {step:?}");
    }
    let mut state = deleted.clone();
    applied(&mut state, Step::StartOver, Effect::Nothing);
    assert_eq!(state, State::default());
    for action in [Action::Stop, Action::Start] {
        let step = decide_now(&deleted, &Observed::default(), action.clone());
        assert_eq!(error_kind(step), ErrorKind::Conflict, "{action}");
    }
}

#[test]
fn a_day_two_action_on_a_cluster_bde_lost_is_an_error() {
    let seen = Observed {
        cluster: Seen::Absent,
        ..Observed::default()
    };
    let (e, _) = failure(decide_now(&ready_state(), &seen, Action::Stop));
    assert_eq!(e.kind, ErrorKind::RemoteFailed);
    assert!(e.to_string().contains("delete it here"), "{e}");
}

#[test]
fn create_or_adopt_of_a_ready_cluster_is_done() {
    for action in [Action::Create, Action::Adopt] {
        let step = decide_now(&ready_state(), &Observed::default(), action.clone());
        assert!(matches!(step, Step::Done), "{action}: {step:?}");
    }
}

// ---------------------------------------------------------------- delete

#[test]
fn delete_of_a_cluster_not_ours_leaves_it_and_goes_to_ports() {
    let refused = registered(); // the create was refused: NotOurs
    assert_eq!(plan(&spec(), &refused, &Action::Delete).cluster, None, "not even read");
    let step = decide_now(&refused, &seen_running_cluster(), Action::Delete);
    assert!(matches!(step, Step::EnterPhase(Phase::DeletePorts)), "{step:?}");
}

#[test]
fn delete_of_our_cluster_asks_bde_to_delete_it() {
    let mut state = ready_state();
    let step = decide_now(&state, &seen_running_cluster(), Action::Delete);
    assert!(matches!(step, Step::StartTask(TaskKind::Delete)), "{step:?}");
    applied(&mut state, step, Effect::TaskStarted(13));
    assert_eq!(state.phase, Phase::DeleteCluster);
    assert_eq!(
        state.pending,
        Some(PendingTask {
            kind: TaskKind::Delete,
            id: Some(13)
        })
    );
}

#[test]
fn delete_while_bde_is_deleting_follows_its_status() {
    let mut state = ready_state();
    let step = decide_now(&state, &seeing(bare(ClusterStatus::Deleting)), Action::Delete);
    assert!(matches!(step, Step::FollowStatus(TaskKind::Delete)), "{step:?}");
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.phase, Phase::DeleteCluster);
    assert_eq!(
        state.pending,
        Some(PendingTask {
            kind: TaskKind::Delete,
            id: None
        })
    );
}

#[test]
fn a_followed_delete_waits_while_bde_is_still_deleting() {
    let state = State {
        pending: Some(PendingTask {
            kind: TaskKind::Delete,
            id: None,
        }),
        ..claimed(Phase::DeleteCluster)
    };
    let step = decide_now(&state, &seeing(bare(ClusterStatus::Deleting)), Action::Delete);
    assert!(matches!(step, Step::Wait(_)), "{step:?}");
}

#[test]
fn a_deleting_cluster_moves_on_to_its_ports_when_the_task_completes() {
    let mut state = State {
        pending: Some(PendingTask {
            kind: TaskKind::Delete,
            id: Some(13),
        }),
        ..claimed(Phase::DeleteCluster)
    };
    let with_task = |t: TaskOutcome| Observed {
        task: Some(t),
        ..seeing(bare(ClusterStatus::Deleting))
    };
    let running = decide_now(&state, &with_task(TaskOutcome::Running(0.5)), Action::Delete);
    assert!(matches!(running, Step::Wait(_)), "{running:?}");
    let unread = decide_now(&state, &seeing(bare(ClusterStatus::Deleting)), Action::Delete);
    assert!(matches!(unread, Step::Wait(_)), "{unread:?}");
    let done = decide_now(&state, &with_task(TaskOutcome::Completed), Action::Delete);
    assert!(matches!(done, Step::EnterPhase(Phase::DeletePorts)), "{done:?}");
    applied(&mut state, done, Effect::Nothing);
    assert_eq!(state.phase, Phase::DeletePorts);
    assert_eq!(state.pending, None);
}

#[test]
fn a_failed_delete_task_is_an_error_and_the_delete_stays_at_the_cluster() {
    let mut state = State {
        pending: Some(PendingTask {
            kind: TaskKind::Delete,
            id: Some(13),
        }),
        ..claimed(Phase::DeleteCluster)
    };
    let seen = Observed {
        task: Some(TaskOutcome::Failed(Some("VM is locked".into()))),
        ..seen_running_cluster()
    };
    let step = decide_now(&state, &seen, Action::Delete);
    assert!(matches!(step, Step::Fail(_, OnFail::DropTask)), "{step:?}");
    let err = apply(&spec(), &mut state, step, Effect::Nothing, NOW).unwrap_err();
    assert!(err.to_string().contains("VM is locked"), "{err}");
    assert_eq!(state.pending, None);
    assert_eq!(state.phase, Phase::DeleteCluster);
}

#[test]
fn a_cluster_already_gone_moves_the_delete_on_to_the_ports() {
    let seen = Observed {
        cluster: Seen::Absent,
        ..Observed::default()
    };
    let step = decide_now(&ready_state(), &seen, Action::Delete);
    assert!(matches!(step, Step::EnterPhase(Phase::DeletePorts)), "{step:?}");
    let mut state = ready_state();
    applied(&mut state, Step::StartTask(TaskKind::Delete), Effect::AlreadyThere);
    assert_eq!(state.phase, Phase::DeletePorts);
}

#[test]
fn delete_ports_removes_recorded_and_unrecorded_ports_of_our_cluster_only() {
    let mut state = claimed(Phase::DeletePorts);
    put(&mut state, &name("worker", 0), stuck(0, NOW)); // records port-0
    let seen = Observed {
        ports: Some(vec![
            port("port-0", "hadoop1-worker-0-port0", &mac(0)),
            port("port-9", "hadoop1-worker-1-port0", &mac(9)), // made, answer lost
            port("port-x", "hadoop2-worker-0-port0", &mac(20)), // another cluster's
            PortView {
                device_owner: "network:dhcp".into(),
                ..port("port-d", "hadoop1-dhcp", &mac(21))
            },
        ]),
        ..Observed::default()
    };
    let step = decide_now(&state, &seen, Action::Delete);
    assert!(
        matches!(&step, Step::DeletePorts { ports, forget } if *ports == ["port-0", "port-9"] && forget.is_empty()),
        "{step:?}"
    );
    applied(&mut state, step, Effect::Nothing);
    assert!(state.port_ids().is_empty());
}

#[test]
fn delete_ports_of_a_cluster_not_ours_removes_none_of_its_ports() {
    let state = State {
        phase: Phase::DeletePorts,
        ..registered()
    };
    let seen = Observed {
        ports: Some(vec![port("port-0", "hadoop1-worker-0-port0", &mac(0))]),
        ..Observed::default()
    };
    let step = decide_now(&state, &seen, Action::Delete);
    assert!(matches!(step, Step::EnterPhase(Phase::DeleteNetwork)), "{step:?}");
}

#[test]
fn with_no_ports_left_the_delete_moves_on_to_the_network() {
    let seen = Observed {
        ports: Some(Vec::new()),
        ..Observed::default()
    };
    let mut state = claimed(Phase::DeletePorts);
    let step = decide_now(&state, &seen, Action::Delete);
    assert!(matches!(step, Step::EnterPhase(Phase::DeleteNetwork)), "{step:?}");
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.phase, Phase::DeleteNetwork);
}

#[test]
fn the_bde_network_is_deleted_only_when_ours() {
    let mut state = claimed(Phase::DeleteNetwork);
    put(&mut state, &name("worker", 0), stuck(0, NOW));
    let step = decide_now(&state, &Observed::default(), Action::Delete);
    assert!(
        matches!(&step, Step::DeleteNetwork(n) if *n == bde_network_name()),
        "{step:?}"
    );
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.phase, Phase::Deleted);
    assert_eq!(state.bde_network, None);
    assert!(!state.network_intended);
    assert_eq!(state.cluster, None);
    assert!(state.nodes.is_empty());
}

#[test]
fn a_network_not_ours_is_left_and_the_delete_settles() {
    let mut state = State {
        bde_network: Some(BdeNetwork {
            name: bde_network_name(),
            ours: false,
        }),
        ..claimed(Phase::DeleteNetwork)
    };
    put(&mut state, &name("worker", 0), stuck(0, NOW));
    let step = decide_now(&state, &Observed::default(), Action::Delete);
    assert!(matches!(step, Step::Settle(Phase::Deleted)), "{step:?}");
    applied(&mut state, step, Effect::Nothing);
    assert_eq!(state.phase, Phase::Deleted);
    assert_eq!(state.cluster, None);
    assert!(state.nodes.is_empty());
}

#[test]
fn a_delete_of_a_deleted_cluster_is_done() {
    let step = decide_now(&claimed(Phase::Deleted), &Observed::default(), Action::Delete);
    assert!(matches!(step, Step::Done), "{step:?}");
}

// ---------------------------------------------------------------- repair, apply, check

#[test]
fn repair_of_a_healthy_cluster_is_done() {
    let (state, seen) = world(2);
    assert!(diff(&spec(), &state, &seen).is_empty());
    let step = decide_now(&state, &seen, Action::Repair);
    assert!(matches!(step, Step::Done), "{step:?}");
}

#[test]
fn repair_resizes_a_group_back_to_the_size_last_asked_for_not_the_file() {
    let (mut state, seen) = world(2);
    state.desired.insert("worker".into(), 3); // resized to 3; BDE shows 2; the file says 2
    let step = decide_now(&state, &seen, Action::Repair);
    assert!(
        matches!(&step, Step::StartTask(TaskKind::Resize { group, count: 3 }) if group == "worker"),
        "{step:?}"
    );
}

#[test]
fn a_resized_group_shows_no_drift() {
    let (state, seen) = world(3); // asked for 3, the file says 2
    assert!(diff(&spec(), &state, &seen).is_empty());
    assert!(matches!(decide_now(&state, &seen, Action::Repair), Step::Done));
}

#[test]
fn repair_waits_while_bde_updates_the_cluster() {
    let (mut state, mut seen) = world(2);
    state.desired.insert("worker".into(), 3);
    if let Seen::Present(c) = &mut seen.cluster {
        c.status = ClusterStatus::Updating;
    }
    let step = decide_now(&state, &seen, Action::Repair);
    assert!(matches!(step, Step::Wait(_)), "{step:?}");
}

#[test]
fn repair_deletes_ports_left_without_a_vm() {
    let (state, mut seen) = world(2);
    let orphan = port("port-x", "hadoop1-worker-7-port0", &mac(77));
    seen.ports.as_mut().unwrap().push(orphan);
    assert_eq!(kinds(&diff(&spec(), &state, &seen)), [DriftKind::PortWithoutVm]);
    let step = decide_now(&state, &seen, Action::Repair);
    assert!(
        matches!(&step, Step::DeletePorts { ports, forget } if *ports == ["port-x"] && forget.is_empty()),
        "{step:?}"
    );
}

#[test]
fn repair_makes_the_port_a_vm_lost_with_its_address() {
    let (state, mut seen) = world(2);
    let w1 = name("worker", 1);
    seen.ports.as_mut().unwrap().retain(|p| p.name != format!("{w1}-port0"));
    assert_eq!(kinds(&diff(&spec(), &state, &seen)), [DriftKind::VmWithoutPort]);
    let (adopt, create) = made_ports(decide_now(&state, &seen, Action::Repair));
    assert!(adopt.is_empty());
    assert_eq!(create.len(), 1);
    assert_eq!(create[0].name, format!("{w1}-port0"));
    assert_eq!(
        create[0].fixed_ips,
        vec![json!({"subnet_id": "sub-1", "ip_address": "10.0.0.12"})]
    );
}

#[test]
fn repair_of_only_unrepairable_drift_is_an_error() {
    let (mut state, mut seen) = world(2);
    if let Seen::Present(c) = &mut seen.cluster {
        c.status = ClusterStatus::Stopped;
    }
    for v in seen.vms.as_mut().unwrap() {
        v.power = PowerState::PoweredOff;
    }
    for n in state.nodes.values_mut() {
        n.power_state = PowerState::PoweredOff;
    }
    assert_eq!(kinds(&diff(&spec(), &state, &seen)), [DriftKind::ClusterNotRunning]);
    let (e, on) = failure(decide_now(&state, &seen, Action::Repair));
    assert_eq!(e.kind, ErrorKind::RemoteFailed);
    assert_eq!(on, OnFail::Keep);
    assert!(
        e.to_string().contains("cannot repair") && e.to_string().contains("STOPPED"),
        "{e}"
    );
}

#[test]
fn repair_resets_a_node_that_lost_its_address_only_after_the_grace() {
    let (mut state, mut seen) = world(2);
    let w0 = name("worker", 0);
    if let Seen::Present(c) = &mut seen.cluster {
        c.nodes.iter_mut().find(|n| n.name == w0).unwrap().ip = None;
    }
    record(&mut state, &seen, NOW);
    assert_eq!(kinds(&diff(&spec(), &state, &seen)), [DriftKind::AddressLost]);
    let soon = decide(&spec(), &state, &seen, &Action::Repair, NOW + 10.0);
    assert!(matches!(&soon, Step::Wait(note) if note.contains(&w0)), "{soon:?}");
    let later = decide(&spec(), &state, &seen, &Action::Repair, NOW + 120.0);
    assert!(
        matches!(&later, Step::ResetVms(vms) if *vms == [(w0.clone(), format!("vm-{w0}"))]),
        "{later:?}"
    );
}

#[test]
fn repair_refuses_a_malformed_mac_before_any_port() {
    let (mut state, mut seen) = world(2);
    let w1 = name("worker", 1);
    let bad = "00:50:56:zz:00:01";
    seen.ports.as_mut().unwrap().retain(|p| p.name != format!("{w1}-port0"));
    seen.vms
        .as_mut()
        .unwrap()
        .iter_mut()
        .find(|v| v.name == w1)
        .unwrap()
        .nics = vec![(4000, bad.into())];
    record(&mut state, &seen, NOW);
    let step = decide_now(&state, &seen, Action::Repair);
    assert!(!matches!(step, Step::MakePorts { .. }), "{step:?}");
    assert_eq!(error_kind(step), ErrorKind::RemoteFailed);
}

#[test]
fn apply_takes_the_spec_sizes_as_asked_for_first() {
    let (mut state, seen) = world(3); // resized to 3 by hand; the file says 2
    let step = decide_now(&state, &seen, Action::Apply);
    assert!(
        matches!(&step, Step::SetDesired(d) if *d == sizes(&[("master", 1), ("worker", 2)])),
        "{step:?}"
    );
    applied(&mut state, step, Effect::Nothing);
    let step = decide_now(&state, &seen, Action::Apply);
    assert!(
        matches!(&step, Step::StartTask(TaskKind::Resize { group, count: 2 }) if group == "worker"),
        "{step:?}"
    );
}

#[test]
fn apply_with_the_spec_sizes_already_asked_for_repairs() {
    let (state, seen) = world(2);
    assert!(matches!(decide_now(&state, &seen, Action::Apply), Step::Done));
}

/// The spec with one worker group field changed (the file edited).
fn worker_spec(change: impl FnOnce(&mut Value)) -> ValidSpec {
    spec_with(|v| change(&mut v["node_groups"][1]))
}

#[test]
fn apply_with_new_memory_or_cpus_scales_that_group_in_place() {
    let (state, seen) = world(2);
    let spec = worker_spec(|w| w["memory_mb"] = json!(4096));
    let step = decide(&spec, &state, &seen, &Action::Apply, NOW);
    assert!(
        matches!(&step, Step::StartTask(TaskKind::Scale { group, cpus: 0, memory_mb: 4096 }) if group == "worker"),
        "{step:?}"
    );
    let spec = worker_spec(|w| w["cpu_num"] = json!(4));
    let step = decide(&spec, &state, &seen, &Action::Apply, NOW);
    assert!(
        matches!(
            &step,
            Step::StartTask(TaskKind::Scale {
                cpus: 4,
                memory_mb: 0,
                ..
            })
        ),
        "{step:?}"
    );
}

#[test]
fn a_new_instance_type_scales_to_its_size_and_explicit_values_win() {
    let (state, seen) = world(2);
    let spec = worker_spec(|w| w["instance_type"] = json!("MEDIUM"));
    let step = decide(&spec, &state, &seen, &Action::Apply, NOW);
    assert!(
        matches!(
            &step,
            Step::StartTask(TaskKind::Scale {
                cpus: 2,
                memory_mb: 7500,
                ..
            })
        ),
        "{step:?}"
    );
    let spec = worker_spec(|w| {
        w["instance_type"] = json!("MEDIUM");
        w["memory_mb"] = json!(1024);
    });
    let step = decide(&spec, &state, &seen, &Action::Apply, NOW);
    assert!(
        matches!(
            &step,
            Step::StartTask(TaskKind::Scale {
                cpus: 2,
                memory_mb: 1024,
                ..
            })
        ),
        "{step:?}"
    );
}

#[test]
fn memory_bde_rounds_down_to_4_mb_is_no_change() {
    let (state, mut seen) = world(2);
    if let Seen::Present(c) = &mut seen.cluster {
        c.groups[1].memory_mb = 4096;
    }
    let spec = worker_spec(|w| w["memory_mb"] = json!(4097));
    assert!(matches!(decide(&spec, &state, &seen, &Action::Apply, NOW), Step::Done));
}

#[test]
fn a_scale_under_way_is_followed_not_started_again() {
    let (state, mut seen) = world(2);
    if let Seen::Present(c) = &mut seen.cluster {
        c.status = ClusterStatus::Maintenance;
    }
    let spec = worker_spec(|w| w["memory_mb"] = json!(4096));
    let step = decide(&spec, &state, &seen, &Action::Apply, NOW);
    assert!(matches!(&step, Step::FollowStatus(TaskKind::Scale { .. })), "{step:?}");
}

#[test]
fn apply_with_a_new_group_expands_the_cluster_before_any_scale() {
    let (state, seen) = world(2);
    let spec = spec_with(|v| {
        v["node_groups"][1]["memory_mb"] = json!(4096);
        v["node_groups"].as_array_mut().unwrap().push(json!(
            {"name": "client", "roles": ["hadoop_client"], "instance_num": 2}));
    });
    let mut state = state;
    state.desired = spec.group_sizes();
    let step = decide(&spec, &state, &seen, &Action::Apply, NOW);
    assert!(
        matches!(&step, Step::StartTask(TaskKind::Expand { groups }) if groups == &["client".to_string()]),
        "{step:?}"
    );
    let body = crate::act::group_bodies(&spec, &["client".to_string()]);
    assert_eq!(body.len(), 1);
    assert_eq!((body[0].name.as_deref(), body[0].instance_num), (Some("client"), 2));
}

#[test]
fn a_group_the_file_drops_is_refused_naming_node_groups() {
    let (state, seen) = world(2);
    let spec = spec_with(|v| {
        // Its datanodes move to a group of a new name: HDFS stays whole, "worker" is gone.
        v["node_groups"][1]["name"] = json!("data");
    });
    let mut state = state;
    state.desired = spec.group_sizes();
    let step = decide(&spec, &state, &seen, &Action::Apply, NOW);
    let Step::Fail(e, _) = step else { panic!("{step:?}") };
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert_eq!(e.fields[0].field, "node_groups");
    assert!(e.fields[0].message.contains("worker"), "{e}");
}

#[test]
fn an_expand_that_ended_in_provision_error_fails_and_leaves_the_cluster_ready_for_another() {
    let (mut state, mut seen) = world(2);
    state.phase = Phase::Wire;
    state.pending = Some(PendingTask {
        kind: TaskKind::Expand {
            groups: vec!["client".into()],
        },
        id: None,
    });
    if let Seen::Present(c) = &mut seen.cluster {
        c.status = ClusterStatus::ProvisionError;
    }
    let step = decide_now(&state, &seen, Action::Apply);
    assert!(matches!(step, Step::Fail(_, OnFail::DropTask)), "{step:?}");
    assert!(apply(&spec(), &mut state, step, Effect::Nothing, NOW).is_err());
    assert_eq!((state.phase, state.pending.is_none()), (Phase::Ready, true));
}

#[test]
fn the_apply_plan_lists_each_change_as_decide_will_make_it() {
    use crate::changes::{ChangeKind, changes};
    let (state, mut seen) = world(2);
    let kinds = |spec: &ValidSpec, seen: &Observed| -> Vec<(ChangeKind, String)> {
        changes(spec, &state, seen)
            .into_iter()
            .map(|c| (c.kind, c.subject))
            .collect()
    };
    assert_eq!(kinds(&spec(), &seen), [], "the file as the cluster is: nothing to do");
    let spec = spec_with(|v| {
        v["node_groups"][1]["instance_num"] = json!(4);
        v["node_groups"][1]["memory_mb"] = json!(2048);
        v["node_groups"].as_array_mut().unwrap().push(json!(
            {"name": "client", "roles": ["hadoop_client"], "instance_num": 1}));
    });
    assert_eq!(
        kinds(&spec, &seen),
        [
            (ChangeKind::Scale, "worker".into()),
            (ChangeKind::Resize, "worker".into()),
            (ChangeKind::Expand, "client".into())
        ]
    );
    let plan = changes(&spec, &state, &seen);
    assert!(plan[0].detail.contains("memory 3748 → 2048 MB"), "{plan:?}");
    assert!(plan[1].detail.contains("2 → 4 VMs"), "{plan:?}");
    // A dropped group is refused; a port deleted behind the product's back is repaired.
    let dropped = spec_with(|v| {
        // Its datanodes move to a group of a new name: HDFS stays whole, "worker" is gone.
        v["node_groups"][1]["name"] = json!("data");
    });
    assert_eq!(
        kinds(&dropped, &seen),
        [
            (ChangeKind::Refused, "node_groups".into()),
            (ChangeKind::Expand, "data".into())
        ]
    );
    let w1 = name("worker", 1);
    seen.ports.as_mut().unwrap().retain(|p| p.name != format!("{w1}-port0"));
    assert!(kinds(&crate::decide::tests::spec(), &seen).contains(&(ChangeKind::Repair, w1)));
}

#[test]
fn the_apply_plan_of_a_cluster_not_made_yet_is_its_create() {
    use crate::changes::{ChangeKind, changes};
    let plan = changes(&spec(), &State::default(), &Observed::default());
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].kind, ChangeKind::Create);
    assert!(plan[0].detail.contains("3 VMs"), "{plan:?}");
}

#[test]
fn a_changed_configuration_is_sent_again_once_and_a_failed_update_is_retried() {
    let (mut state, seen) = world(2);
    let hdfs = |replication: u32| {
        spec_with(move |v| {
            v["configuration"] = json!({"hadoop": {"hdfs-site.xml": {"dfs.replication": replication}}});
        })
    };
    state.configured = hdfs(2).configuration_digest();
    assert!(matches!(
        decide(&hdfs(2), &state, &seen, &Action::Apply, NOW),
        Step::Done
    ));
    let changed = hdfs(3);
    let step = decide(&changed, &state, &seen, &Action::Apply, NOW);
    assert!(matches!(step, Step::StartTask(TaskKind::Configure)), "{step:?}");
    let body = crate::act::config_body(&changed, CLUSTER);
    assert_eq!(body.configuration, changed.configuration);
    assert_eq!(
        body.node_groups.as_ref().map(Vec::len),
        Some(2),
        "every group, or BDE clears its config"
    );
    apply(&changed, &mut state, step, Effect::TaskStarted(9), NOW).unwrap();
    assert_eq!(state.configured, changed.configuration_digest());
    // BDE ended in CONFIGURE_ERROR (the task's id lost): the update failed and is sent again next time.
    state.pending.as_mut().unwrap().id = None;
    let mut failed = seen.clone();
    if let Seen::Present(c) = &mut failed.cluster {
        c.status = ClusterStatus::ConfigureError;
    }
    let step = decide(&changed, &state, &failed, &Action::Apply, NOW);
    assert!(matches!(step, Step::Fail(_, OnFail::DropTask)), "{step:?}");
    assert!(apply(&changed, &mut state, step, Effect::Nothing, NOW).is_err());
    assert_eq!(state.configured, None);
    assert!(matches!(
        decide(&changed, &state, &seen, &Action::Apply, NOW),
        Step::StartTask(TaskKind::Configure)
    ));
}

#[test]
fn a_configuration_bde_could_not_take_is_refused_naming_the_key() {
    let bad = |c: Value| {
        let mut v = spec_json();
        v["node_groups"][1]["configuration"] = c;
        crate::validate(&serde_json::from_value(v).unwrap()).unwrap_err()
    };
    let e = bad(json!({"hadoop": {"hdfs-site.xml": {"dfs.replication": [2]}}}));
    assert_eq!(
        e.fields[0].field,
        "node_groups[1].configuration.hadoop.hdfs-site.xml.dfs.replication"
    );
    let e = bad(json!({"hadoop": "dfs.replication=2"}));
    assert_eq!(e.fields[0].field, "node_groups[1].configuration.hadoop");
    let e = bad(json!(["hadoop"]));
    assert_eq!(e.fields[0].field, "node_groups[1].configuration");
    assert_eq!(spec().configuration_digest(), None, "no configuration, nothing to send");
}

#[test]
fn check_never_acts() {
    let (mut drifted, seen) = world(2);
    drifted.desired.insert("worker".into(), 3);
    assert!(!diff(&spec(), &drifted, &seen).is_empty());
    let states = [
        drifted,
        wired_state(),
        claimed(Phase::Stopping),
        claimed(Phase::Stopped),
        claimed(Phase::DeletePorts),
        claimed(Phase::Deleted),
    ];
    for state in states {
        let step = decide_now(&state, &seen, Action::Check);
        assert!(matches!(step, Step::Done), "{:?}: {step:?}", state.phase);
    }
}

// ---------------------------------------------------------------- drift

#[test]
fn drift_of_a_cluster_bde_no_longer_has_is_cluster_missing() {
    let (state, _) = world(2);
    let seen = Observed {
        cluster: Seen::Absent,
        ..Observed::default()
    };
    let found = diff(&spec(), &state, &seen);
    assert_eq!(kinds(&found), [DriftKind::ClusterMissing]);
    assert_eq!(found[0].subject, CLUSTER);
}

#[test]
fn drift_of_an_unread_cluster_is_nothing() {
    let (state, _) = world(2);
    assert!(diff(&spec(), &state, &Observed::default()).is_empty());
}

#[test]
fn drift_names_a_status_other_than_running() {
    let (state, mut seen) = world(2);
    if let Seen::Present(c) = &mut seen.cluster {
        c.status = ClusterStatus::Error;
    }
    let found = diff(&spec(), &state, &seen);
    assert_eq!(kinds(&found), [DriftKind::ClusterNotRunning]);
    assert!(found[0].detail.contains("ERROR"), "{found:?}");
}

#[test]
fn drift_of_a_group_size_is_against_what_was_asked_for_and_notes_the_file() {
    let (mut state, seen) = world(2);
    state.desired.insert("worker".into(), 4);
    let found = diff(&spec(), &state, &seen);
    assert_eq!(kinds(&found), [DriftKind::GroupSize]);
    assert_eq!(found[0].subject, "worker");
    assert_eq!(found[0].detail, "2 VMs in BDE, 4 asked for (resized; the file says 2)");
}

#[test]
fn drift_of_a_group_size_falls_back_to_the_file_when_nothing_was_asked() {
    let (mut state, seen) = world(3);
    state.desired.clear();
    let found = diff(&spec(), &state, &seen);
    assert_eq!(kinds(&found), [DriftKind::GroupSize]);
    assert_eq!(found[0].detail, "3 VMs in BDE, 2 asked for");
}

#[test]
fn drift_names_a_recorded_node_bde_no_longer_lists() {
    let (mut state, seen) = world(2);
    let gone = name("worker", 5);
    put(
        &mut state,
        &gone,
        NodeState {
            group: "worker".into(),
            ..NodeState::default()
        },
    );
    let found = diff(&spec(), &state, &seen);
    assert_eq!(kinds(&found), [DriftKind::NodeMissing]);
    assert_eq!(found[0].subject, gone);
}

#[test]
fn drift_names_a_node_without_a_vm_and_its_port_left_behind() {
    let (state, mut seen) = world(2);
    let w1 = name("worker", 1);
    seen.vms.as_mut().unwrap().retain(|v| v.name != w1);
    let found = diff(&spec(), &state, &seen);
    assert_eq!(kinds(&found), [DriftKind::VmMissing, DriftKind::PortWithoutVm]);
    assert_eq!(found[0].subject, w1);
    assert_eq!(found[1].subject, format!("{w1}-port0"));
}

#[test]
fn drift_names_a_nic_without_a_port_only_when_ports_were_listed() {
    let (state, mut seen) = world(2);
    let w0 = name("worker", 0);
    seen.ports.as_mut().unwrap().retain(|p| p.name != format!("{w0}-port0"));
    let found = diff(&spec(), &state, &seen);
    assert_eq!(kinds(&found), [DriftKind::VmWithoutPort]);
    assert!(found[0].detail.contains(&mac(1)), "{found:?}");
    seen.ports = None;
    assert!(diff(&spec(), &state, &seen).is_empty());
}

#[test]
fn drift_names_only_our_ports_without_a_vm() {
    let (state, mut seen) = world(2);
    seen.ports.as_mut().unwrap().extend([
        port("port-x", "hadoop1-worker-7-port0", &mac(70)),
        port("port-y", "hadoop2-worker-0-port0", &mac(71)),
        PortView {
            device_owner: "network:router_interface".into(),
            ..port("port-z", "hadoop1-router", &mac(72))
        },
    ]);
    let found = diff(&spec(), &state, &seen);
    assert_eq!(kinds(&found), [DriftKind::PortWithoutVm]);
    assert!(found[0].detail.contains("port-x"), "{found:?}");
}

#[test]
fn drift_names_a_lost_address_only_on_a_running_cluster() {
    let (state, mut seen) = world(2);
    let w0 = name("worker", 0);
    if let Seen::Present(c) = &mut seen.cluster {
        c.nodes.iter_mut().find(|n| n.name == w0).unwrap().ip = None;
    }
    let found = diff(&spec(), &state, &seen);
    assert_eq!(kinds(&found), [DriftKind::AddressLost]);
    assert_eq!(found[0].subject, w0);
    if let Seen::Present(c) = &mut seen.cluster {
        c.status = ClusterStatus::Stopped;
    }
    assert_eq!(kinds(&diff(&spec(), &state, &seen)), [DriftKind::ClusterNotRunning]);
}

#[test]
fn drift_never_claims_a_lost_address_for_a_node_that_never_had_one() {
    let (mut state, mut seen) = world(2);
    let w0 = name("worker", 0);
    if let Seen::Present(c) = &mut seen.cluster {
        c.nodes.iter_mut().find(|n| n.name == w0).unwrap().ip = None;
    }
    state.nodes.get_mut(&w0).unwrap().address_at = None;
    assert!(diff(&spec(), &state, &seen).is_empty());
}

#[test]
fn only_sizes_ports_and_addresses_are_repairable() {
    let repairable = [
        DriftKind::GroupSize,
        DriftKind::VmWithoutPort,
        DriftKind::PortWithoutVm,
        DriftKind::AddressLost,
    ];
    let not = [
        DriftKind::ClusterMissing,
        DriftKind::ClusterNotRunning,
        DriftKind::NodeMissing,
        DriftKind::VmMissing,
    ];
    assert!(repairable.iter().all(|k| k.is_repairable()));
    assert!(not.iter().all(|k| !k.is_repairable()));
}

// ---------------------------------------------------------------- phases and plans

#[test]
fn delete_starts_from_any_phase_and_resumes_its_own() {
    for phase in [
        Phase::Validate,
        Phase::CreateCluster,
        Phase::Wire,
        Phase::Ready,
        Phase::Stopping,
        Phase::Stopped,
    ] {
        assert_eq!(
            effective_phase(&claimed(phase), &Action::Delete),
            Phase::DeleteCluster,
            "{phase:?}"
        );
    }
    for phase in [
        Phase::DeleteCluster,
        Phase::DeletePorts,
        Phase::DeleteNetwork,
        Phase::Deleted,
    ] {
        assert_eq!(effective_phase(&claimed(phase), &Action::Delete), phase);
    }
}

#[test]
fn a_create_after_a_delete_starts_at_validate_and_other_actions_stay_put() {
    let deleted = claimed(Phase::Deleted);
    for action in [Action::Create, Action::Adopt, Action::Repair, Action::Apply] {
        assert_eq!(effective_phase(&deleted, &action), Phase::Validate, "{action}");
    }
    for action in [Action::Stop, Action::Start, Action::Check] {
        assert_eq!(effective_phase(&deleted, &action), Phase::Deleted, "{action}");
    }
    assert_eq!(effective_phase(&wired_state(), &Action::Create), Phase::Wire);
}

#[test]
fn plan_of_a_delete_from_ready_reads_only_the_cluster() {
    assert_eq!(
        plan(&spec(), &ready_state(), &Action::Delete),
        Reads {
            cluster: Some(CLUSTER.into()),
            ..Reads::default()
        }
    );
}

#[test]
fn plan_of_a_delete_reads_only_its_own_task() {
    let deleting = State {
        pending: Some(PendingTask {
            kind: TaskKind::Delete,
            id: Some(13),
        }),
        ..claimed(Phase::DeleteCluster)
    };
    assert_eq!(plan(&spec(), &deleting, &Action::Delete).task, Some(13));
    assert_eq!(
        plan(&spec(), &wired_state(), &Action::Delete).task,
        None,
        "the create's task is not the delete's"
    );
}

#[test]
fn plan_of_delete_ports_lists_the_ports() {
    assert_eq!(
        plan(&spec(), &claimed(Phase::DeletePorts), &Action::Delete),
        Reads {
            ports: PortsRead::Always,
            ..Reads::default()
        }
    );
    assert_eq!(
        plan(&spec(), &claimed(Phase::DeleteNetwork), &Action::Delete),
        Reads::default()
    );
}

#[test]
fn plan_of_wiring_reads_cluster_task_vms_resets_and_ports_only_if_unwired() {
    assert_eq!(
        plan(&spec(), &wired_state(), &Action::Create),
        Reads {
            cluster: Some(CLUSTER.into()),
            task: Some(7),
            vms: true,
            ports: PortsRead::IfUnwired,
            resets: true,
            ..Reads::default()
        }
    );
}

#[test]
fn plan_of_repair_check_and_apply_lists_ports_always() {
    for action in [Action::Repair, Action::Check, Action::Apply] {
        let reads = plan(&spec(), &ready_state(), &action);
        assert_eq!(reads.ports, PortsRead::Always, "{action}");
        assert!(reads.vms && reads.resets, "{action}");
        assert_eq!(reads.cluster.as_deref(), Some(CLUSTER), "{action}");
    }
}

#[test]
fn plan_of_create_or_adopt_on_a_ready_cluster_reads_nothing() {
    for action in [Action::Create, Action::Adopt] {
        assert_eq!(plan(&spec(), &ready_state(), &action), Reads::default(), "{action}");
    }
}

#[test]
fn plan_of_stop_start_and_resize_reads_only_the_cluster() {
    for action in [Action::Stop, Action::Start, resize("worker", 3)] {
        assert_eq!(
            plan(&spec(), &ready_state(), &action),
            Reads {
                cluster: Some(CLUSTER.into()),
                ..Reads::default()
            },
            "{action}"
        );
    }
    let stopping = State {
        pending: Some(PendingTask {
            kind: TaskKind::Stop,
            id: Some(11),
        }),
        ..claimed(Phase::Stopping)
    };
    assert_eq!(
        plan(&spec(), &stopping, &Action::Stop),
        Reads {
            cluster: Some(CLUSTER.into()),
            task: Some(11),
            ..Reads::default()
        }
    );
}

#[test]
fn a_state_with_no_claim_never_plans_a_cluster_read_in_ready() {
    let unclaimed = State {
        cluster: None,
        ..ready_state()
    };
    for action in [
        Action::Create,
        Action::Adopt,
        Action::Delete,
        Action::Stop,
        Action::Start,
        resize("worker", 3),
        Action::Check,
        Action::Repair,
        Action::Apply,
    ] {
        assert_eq!(plan(&spec(), &unclaimed, &action).cluster, None, "{action}");
    }
}

#[test]
fn plan_of_each_create_phase_reads_one_thing() {
    let at = |state: &State| plan(&spec(), state, &Action::Create);
    assert_eq!(
        at(&State::default()),
        Reads {
            lookups: true,
            preflight: true,
            ..Reads::default()
        }
    );
    assert_eq!(
        at(&validated()),
        Reads {
            portgroups: true,
            ..Reads::default()
        }
    );
    assert_eq!(
        at(&with_portgroup()),
        Reads {
            bde_network: true,
            ..Reads::default()
        }
    );
    assert_eq!(
        at(&registered()),
        Reads {
            cluster: Some(CLUSTER.into()),
            ..Reads::default()
        },
        "the spec's name is read to find a cluster already there"
    );
}

// ---------------------------------------------------------------- actions

#[test]
fn every_action_parses_from_its_verb_and_shows_itself() {
    assert_eq!(Action::parse("stop", None, None).unwrap(), Action::Stop);
    assert_eq!(
        Action::parse("stop", Some("worker".into()), Some(3)).unwrap(),
        Action::Stop,
        "arguments of other verbs are ignored"
    );
    assert_eq!(
        Action::parse("resize", Some("worker".into()), Some(3)).unwrap(),
        resize("worker", 3)
    );
    assert_eq!(resize("worker", 3).to_string(), "resize worker to 3");
    assert_eq!(Action::Repair.to_string(), "repair");
    assert_eq!(resize("worker", 3).verb(), "resize");
}

#[test]
fn a_resize_without_its_count_or_an_unknown_verb_is_invalid_input() {
    let e = Action::parse("resize", Some("worker".into()), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert_eq!(e.fields[0].field, "action");
    let e = Action::parse("scale", None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert_eq!(e.fields[0].field, "action");
    assert!(e.to_string().contains("\"scale\""), "{e}");
}

// ---------------------------------------------------------------- end to end in a tiny world

/// BDE, vCenter and Neutron as a few fields: answers a step's reads, carries out its step.
#[derive(Default)]
struct World {
    bde_network: Option<String>,
    cluster: Option<ClusterView>,
    task: Option<TaskOutcome>,
    vms: Vec<VmView>,
    ports: Vec<PortView>,
    /// With an HDFS network: its BDE network's portgroup (once registered).
    hdfs: bool,
    hdfs_bde_network: Option<String>,
    /// The network each port was made on, by port id.
    port_networks: BTreeMap<String, String>,
}

const HDFS_NET: &str = "7d1e2f30-aaaa-4bbb-8ccc-0123456789ab";

fn hdfs_portgroup() -> PortgroupRef {
    PortgroupRef {
        name: format!("vxw-dvs-7-virtualwire-57-sid-5003-{HDFS_NET}"),
        key: "dvportgroup-43".into(),
    }
}

fn members() -> Vec<(&'static str, String)> {
    vec![
        ("master", name("master", 0)),
        ("worker", name("worker", 0)),
        ("worker", name("worker", 1)),
    ]
}

/// The spec's cluster in BDE, its nodes with addresses or not.
fn bde_cluster(status: ClusterStatus, addressed: bool) -> ClusterView {
    let nodes = members()
        .iter()
        .enumerate()
        .map(|(i, (g, n))| bde_node(n, g, addressed.then(|| format!("10.0.0.{}", 10 + i)).as_deref()))
        .collect();
    cluster(status, &[("master", 1), ("worker", 2)], nodes)
}

impl World {
    fn observe(&self, state: &State, reads: &Reads) -> Observed {
        let mut seen = Observed::default();
        if reads.lookups {
            seen.lookups = Some(NeutronLookups {
                networks: vec![network(NET, &["sub-1"])],
                traffic: if self.hdfs {
                    vec![NeutronLookups {
                        networks: vec![network(HDFS_NET, &["sub-h"])],
                        ..NeutronLookups::default()
                    }]
                } else {
                    Vec::new()
                },
                ..NeutronLookups::default()
            });
        }
        if reads.portgroups {
            seen.portgroups = Some(vec![portgroup()]);
            seen.traffic_portgroups = state.traffic.iter().map(|_| vec![hdfs_portgroup()]).collect();
        }
        if reads.bde_network {
            seen.traffic_bde_networks = state
                .traffic
                .iter()
                .map(|_| {
                    self.hdfs_bde_network.clone().map_or(Seen::Absent, |portgroup| {
                        Seen::Present(BdeNetworkView {
                            portgroup,
                            dns_type: Some(bde_serengeti::DnsType::Normal),
                        })
                    })
                })
                .collect();
        }
        if reads.bde_network {
            seen.bde_network = self.bde_network.clone().map_or(Seen::Absent, |portgroup| {
                Seen::Present(BdeNetworkView {
                    portgroup,
                    dns_type: Some(bde_serengeti::DnsType::Normal),
                })
            });
        }
        if reads.cluster.is_some() {
            seen.cluster = self.cluster.clone().map_or(Seen::Absent, Seen::Present);
        }
        if reads.task.is_some() {
            seen.task = self.task.clone();
        }
        if reads.vms && state.portgroup.is_some() {
            seen.vms = Some(self.vms.clone());
        }
        if crate::observe::lists_ports(reads.ports, state, seen.vms.as_deref()) {
            seen.ports = Some(self.ports.clone());
        }
        seen
    }

    fn act(&mut self, step: &Step) -> Effect {
        match step {
            Step::RegisterNetwork(_) => {
                self.bde_network = Some(portgroup().name);
                Effect::Nothing
            }
            Step::RegisterTrafficNetwork(..) => {
                self.hdfs_bde_network = Some(hdfs_portgroup().name);
                Effect::Nothing
            }
            Step::DeleteTrafficNetwork(..) => {
                self.hdfs_bde_network = None;
                Effect::Nothing
            }
            Step::CreateCluster => {
                self.cluster = Some(bde_cluster(ClusterStatus::Provisioning, false));
                self.task = Some(TaskOutcome::Running(0.3));
                let hdfs = self.hdfs;
                self.vms = members()
                    .iter()
                    .enumerate()
                    .map(|(i, (_, n))| {
                        let mut v = vm(n, &mac(i), PowerState::PoweredOn);
                        if hdfs {
                            v.nics.push((4001, mac(100 + i)));
                            v.nic_networks.push(HDFS_NET.into());
                        }
                        v
                    })
                    .collect();
                Effect::TaskStarted(7)
            }
            Step::MakePorts { create, .. } => {
                let mut made = Vec::new();
                for r in create {
                    let id = format!("port-{}", self.ports.len());
                    self.ports.push(port(&id, &r.name, &r.mac_address));
                    self.port_networks.insert(id.clone(), r.network_id.clone());
                    made.push(
                        serde_json::from_value::<Port>(json!({
                            "id": id, "name": r.name, "network_id": r.network_id,
                            "mac_address": r.mac_address, "device_owner": r.device_owner
                        }))
                        .unwrap(),
                    );
                }
                let made: Vec<_> = made.into_iter().map(|p| (p, crate::state::now())).collect();
                let wired = self
                    .vms
                    .iter()
                    .all(|v| v.nics.iter().all(|(_, m)| self.ports.iter().any(|p| p.mac == *m)));
                if wired {
                    // DHCP answers once every NIC has its port; BDE's task then ends.
                    self.cluster = Some(bde_cluster(ClusterStatus::Running, true));
                    self.task = Some(TaskOutcome::Completed);
                }
                Effect::PortsMade {
                    ports: made,
                    vnic_index: false,
                }
            }
            Step::StartTask(TaskKind::Delete) => {
                self.cluster = None;
                self.vms.clear();
                self.task = Some(TaskOutcome::Completed);
                Effect::TaskStarted(13)
            }
            Step::DeletePorts { ports, .. } => {
                self.ports.retain(|p| !ports.contains(&p.id));
                Effect::Nothing
            }
            Step::DeleteNetwork(_) => {
                self.bde_network = None;
                Effect::Nothing
            }
            _ => Effect::Nothing,
        }
    }
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::StartOver => "StartOver",
        Step::RecordNeutron(..) => "RecordNeutron",
        Step::WaitForPortgroup => "WaitForPortgroup",
        Step::RecordPortgroup(_) => "RecordPortgroup",
        Step::IntendNetwork => "IntendNetwork",
        Step::RegisterNetwork(_) => "RegisterNetwork",
        Step::RecordNetwork(_) => "RecordNetwork",
        Step::RecordTrafficPortgroup(..) => "RecordTrafficPortgroup",
        Step::IntendTrafficNetwork(_) => "IntendTrafficNetwork",
        Step::RegisterTrafficNetwork(..) => "RegisterTrafficNetwork",
        Step::RecordTrafficNetwork(..) => "RecordTrafficNetwork",
        Step::DeleteTrafficNetwork(..) => "DeleteTrafficNetwork",
        Step::IntendCluster => "IntendCluster",
        Step::CreateCluster => "CreateCluster",
        Step::AddStaticAddresses { .. } => "AddStaticAddresses",
        Step::ClaimCluster { .. } => "ClaimCluster",
        Step::ResumeCreate => "ResumeCreate",
        Step::FollowStatus(_) => "FollowStatus",
        Step::StartTask(_) => "StartTask",
        Step::MakePorts { .. } => "MakePorts",
        Step::DeletePorts { .. } => "DeletePorts",
        Step::UpdatePortGroups { .. } => "UpdatePortGroups",
        Step::SetSecurityGroups(_) => "SetSecurityGroups",
        Step::ResetVms(_) => "ResetVms",
        Step::SetDesired(_) => "SetDesired",
        Step::Settle(_) => "Settle",
        Step::EnterPhase(_) => "EnterPhase",
        Step::DeleteNetwork(_) => "DeleteNetwork",
        Step::Wait(_) => "Wait",
        Step::Done => "Done",
        Step::Fail(..) => "Fail",
    }
}

/// Runs `action` to Done as `step` would, one second a step; after the step
/// named `lose`, the answer is lost once (the world changed, the state did not).
fn drive(world: &mut World, state: &mut State, action: &Action, lose: Option<&str>) -> Vec<&'static str> {
    let spec = if world.hdfs {
        spec_with(|v| v["networks"] = json!({"HDFS_NETWORK": {"network": "hdfs-net"}}))
    } else {
        spec()
    };
    let mut steps = Vec::new();
    let mut lost = false;
    for i in 0..40 {
        let t = NOW + i as f64;
        // Each step starts from the stored state, as each of Heat's does.
        *state = crate::stored::decode(&crate::stored::encode(state)).unwrap();
        let reads = plan(&spec, state, action);
        let seen = world.observe(state, &reads);
        record(state, &seen, t);
        let next = decide(&spec, state, &seen, action, t);
        let named = step_name(&next);
        steps.push(named);
        let effect = world.act(&next);
        if lose == Some(named) && !lost {
            lost = true;
            continue;
        }
        let outcome = apply(&spec, state, next, effect, t).unwrap_or_else(|e| panic!("{e} after {steps:?}"));
        if outcome.is_done() {
            return steps;
        }
    }
    panic!("{action} not done after 40 steps: {steps:?}")
}

const CREATE_STEPS: [&str; 9] = [
    "RecordNeutron",
    "RecordPortgroup",
    "IntendNetwork",
    "RegisterNetwork",
    "IntendCluster",
    "CreateCluster",
    "MakePorts",
    "Settle",
    "Done",
];

#[test]
fn an_hdfs_network_gets_its_portgroup_bde_network_and_a_port_per_vm_and_delete_removes_them() {
    let mut world = World {
        hdfs: true,
        ..World::default()
    };
    let mut state = State::default();
    let steps = drive(&mut world, &mut state, &Action::Create, None);
    assert_eq!(
        steps,
        [
            "RecordNeutron",
            "RecordTrafficPortgroup",
            "RecordPortgroup",
            "IntendTrafficNetwork",
            "RegisterTrafficNetwork",
            "IntendNetwork",
            "RegisterNetwork",
            "IntendCluster",
            "CreateCluster",
            "MakePorts",
            "Settle",
            "Done"
        ]
    );
    let hdfs = &state.traffic[0];
    assert_eq!(
        (hdfs.traffic.as_str(), hdfs.network_id.as_str(), hdfs.subnet_id.as_str()),
        ("HDFS_NETWORK", HDFS_NET, "sub-h")
    );
    assert_eq!(hdfs.bde_network.as_ref().map(|n| n.ours), Some(true));
    // BDE is told both networks.
    let spec = spec_with(|v| v["networks"] = json!({"HDFS_NETWORK": {"network": "hdfs-net"}}));
    let body = crate::act::cluster_body(&spec, &state);
    let config = body.network_config.unwrap();
    assert_eq!(config["HDFS_NETWORK"], [crate::nsxv::bde_network_name(HDFS_NET, false)]);
    assert_eq!(config["MGT_NETWORK"], [bde_network_name()]);
    // Each VM: two ports, each on its NIC's network.
    for (i, (_, vm_name)) in members().iter().enumerate() {
        let node = &state.nodes[vm_name];
        assert_eq!(node.macs, [mac(i), mac(100 + i)]);
        // (Port ids are not stored: the world's ports are found by MAC.)
        let on = |m: &str| {
            let p = world.ports.iter().find(|p| p.mac == m).expect("a port for each NIC");
            world.port_networks[&p.id].clone()
        };
        assert_eq!(
            (on(&mac(i)), on(&mac(100 + i))),
            (NET.to_string(), HDFS_NET.to_string())
        );
    }
    let steps = drive(&mut world, &mut state, &Action::Delete, None);
    assert!(steps.contains(&"DeleteTrafficNetwork"), "{steps:?}");
    assert!(world.ports.is_empty() && world.hdfs_bde_network.is_none() && world.bde_network.is_none());
    assert!(state.traffic.is_empty());
}

#[test]
fn a_traffic_network_that_is_the_management_one_is_refused_naming_it() {
    let spec = spec_with(|v| v["networks"] = json!({"HDFS_NETWORK": {"network": "other-name-of-net1"}}));
    let found = NeutronLookups {
        networks: vec![network(NET, &["sub-1"])],
        traffic: vec![NeutronLookups {
            networks: vec![network(NET, &["sub-1"])],
            ..NeutronLookups::default()
        }],
        ..NeutronLookups::default()
    };
    let step = decide(&spec, &State::default(), &looked_up(found), &Action::Create, NOW);
    assert_eq!(field_of(step), "networks.HDFS_NETWORK.network");
}

#[test]
fn a_create_runs_from_nothing_to_ready_one_step_at_a_time() {
    let (mut world, mut state) = (World::default(), State::default());
    let steps = drive(&mut world, &mut state, &Action::Create, None);
    assert_eq!(steps, CREATE_STEPS);
    assert_eq!(state.phase, Phase::Ready);
    assert_eq!(state.cluster, claim(ClaimKind::Requested));
    assert_eq!(state.bde_network.as_ref().map(|n| n.ours), Some(true));
    assert_eq!(state.desired, sizes(&[("master", 1), ("worker", 2)]));
    assert_eq!(state.nodes.len(), 3);
    assert!(state.nodes.values().all(|n| n.ip.is_some()));
    // Ports are observed, not stored: the world has exactly one per VM NIC.
    for vm in &world.vms {
        for (_, mac) in &vm.nics {
            assert_eq!(world.ports.iter().filter(|p| p.mac == *mac).count(), 1, "{}", vm.name);
        }
    }
    assert_eq!(world.ports.len(), 3);
}

#[test]
fn a_create_whose_answer_was_lost_claims_its_own_cluster_and_finishes() {
    let (mut world, mut state) = (World::default(), State::default());
    let steps = drive(&mut world, &mut state, &Action::Create, Some("CreateCluster"));
    assert_eq!(
        steps,
        [
            "RecordNeutron",
            "RecordPortgroup",
            "IntendNetwork",
            "RegisterNetwork",
            "IntendCluster",
            "CreateCluster",
            "ClaimCluster",
            "MakePorts",
            "Settle",
            "Done"
        ]
    );
    assert_eq!(state.cluster, claim(ClaimKind::Requested));
    assert_eq!(state.phase, Phase::Ready);
}

#[test]
fn ports_whose_answer_was_lost_are_found_by_mac_after_the_reload_never_made_twice() {
    let (mut world, mut state) = (World::default(), State::default());
    let steps = drive(&mut world, &mut state, &Action::Create, Some("MakePorts"));
    // The next step, from the stored state (which never holds port ids), lists the
    // network's ports, finds the lost ones by MAC, and makes none.
    assert_eq!(steps.iter().filter(|s| **s == "MakePorts").count(), 1, "{steps:?}");
    assert_eq!(world.ports.len(), 3);
    assert_eq!(state.phase, Phase::Ready);
}

#[test]
fn a_network_registered_before_a_lost_answer_is_still_known_as_ours() {
    let (mut world, mut state) = (World::default(), State::default());
    let steps = drive(&mut world, &mut state, &Action::Create, Some("RegisterNetwork"));
    assert_eq!(&steps[3..5], ["RegisterNetwork", "RecordNetwork"]);
    assert_eq!(state.bde_network.as_ref().map(|n| n.ours), Some(true));
}

#[test]
fn an_adopt_takes_over_a_cluster_on_a_network_it_did_not_register() {
    let mut world = World {
        bde_network: Some(portgroup().name),
        cluster: Some(bde_cluster(ClusterStatus::Running, true)),
        ..World::default()
    };
    world.vms = members()
        .iter()
        .enumerate()
        .map(|(i, (_, n))| vm(n, &mac(i), PowerState::PoweredOn))
        .collect();
    let mut state = State::default();
    let steps = drive(&mut world, &mut state, &Action::Adopt, None);
    assert_eq!(
        steps,
        [
            "RecordNeutron",
            "RecordPortgroup",
            "RecordNetwork",
            "ClaimCluster",
            "MakePorts",
            "Settle",
            "Done"
        ]
    );
    assert_eq!(state.cluster, claim(ClaimKind::Adopted));
    assert_eq!(state.bde_network.as_ref().map(|n| n.ours), Some(false));
    // Deleting it later leaves the network that was not ours.
    let steps = drive(&mut world, &mut state, &Action::Delete, None);
    assert!(!steps.contains(&"DeleteNetwork"), "{steps:?}");
    assert!(world.bde_network.is_some());
    assert_eq!(state.phase, Phase::Deleted);
}

#[test]
fn a_delete_removes_only_what_this_product_made_then_a_create_starts_over() {
    let (mut world, mut state) = (World::default(), State::default());
    drive(&mut world, &mut state, &Action::Create, None);
    world.ports.push(port("port-lost", "hadoop1-worker-1-port1", &mac(50))); // made, answer lost
    world.ports.push(port("port-other", "hadoop2-worker-0-port0", &mac(51)));
    let steps = drive(&mut world, &mut state, &Action::Delete, None);
    assert_eq!(
        steps,
        [
            "StartTask",
            "EnterPhase",
            "DeletePorts",
            "EnterPhase",
            "DeleteNetwork",
            "Done"
        ]
    );
    assert_eq!(state.phase, Phase::Deleted);
    assert_eq!(world.cluster, None);
    assert_eq!(world.bde_network, None);
    assert_eq!(
        world.ports.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["port-other"]
    );
    let again = drive(&mut world, &mut state, &Action::Create, None);
    assert_eq!(again[0], "StartOver");
    assert_eq!(&again[1..], CREATE_STEPS);
}

#[test]
fn a_stop_that_has_settled_is_done_not_settled_again() {
    let (mut state, _) = world(2);
    state.phase = Phase::Stopped;
    let seen = seeing(bare(ClusterStatus::Stopped));
    assert!(matches!(decide_now(&state, &seen, Action::Stop), Step::Done));
}

#[test]
fn a_start_of_a_ready_running_cluster_with_every_address_is_done() {
    let (state, seen) = world(2);
    assert!(matches!(decide_now(&state, &seen, Action::Start), Step::Done));
}

#[test]
fn a_start_of_a_running_cluster_missing_an_address_goes_back_to_wiring() {
    let (mut state, seen) = world(2);
    state.nodes.get_mut(&name("worker", 1)).unwrap().ip = None;
    assert!(matches!(
        decide_now(&state, &seen, Action::Start),
        Step::EnterPhase(Phase::Wire)
    ));
}

#[test]
fn every_day_2_verb_on_a_steady_cluster_is_done_at_once() {
    let (state, seen) = world(2);
    for action in [
        Action::Create,
        Action::Start,
        Action::Repair,
        Action::Apply,
        resize("worker", 2),
    ] {
        let verb = action.verb();
        assert!(
            matches!(decide_now(&state, &seen, action), Step::Done),
            "{verb} on a steady cluster"
        );
    }
}

#[test]
fn a_cluster_that_is_not_ours_is_never_recorded_in_the_state() {
    let mut state = registered();
    let (_, seen) = world(2);
    crate::act::record(&mut state, &seen, NOW);
    assert!(
        state.nodes.values().all(|n| n.ip.is_none() && n.status.is_empty()),
        "{:?}",
        state.nodes
    );
    assert_eq!(state.cluster_status, None);
}

#[test]
fn record_notes_when_a_vm_was_first_seen_powered_on() {
    let mut state = wired_state();
    let mut seen = wiring();
    seen.vms = Some(vec![vm(&name("worker", 0), &mac(0), PowerState::PoweredOff)]);
    crate::act::record(&mut state, &seen, NOW);
    assert_eq!(state.nodes[&name("worker", 0)].powered_on_at, None);
    seen.vms = Some(vec![vm(&name("worker", 0), &mac(0), PowerState::PoweredOn)]);
    crate::act::record(&mut state, &seen, NOW + 3.0);
    crate::act::record(&mut state, &seen, NOW + 9.0);
    assert_eq!(state.nodes[&name("worker", 0)].powered_on_at, Some(NOW + 3.0));
}

fn offered() -> Vec<(String, Vec<String>)> {
    vec![(
        "bigtop".into(),
        vec!["hadoop_namenode".into(), "hadoop_datanode".into(), "zookeeper".into()],
    )]
}

#[test]
fn a_distro_bde_does_not_offer_is_refused_before_anything_is_made() {
    let spec = spec_with(|v| v["distro"] = json!("nosuch"));
    let found = NeutronLookups {
        networks: vec![network(NET, &["sub-1"])],
        ..NeutronLookups::default()
    };
    let seen = Observed {
        offered: Some(crate::preflight::Offered {
            distros: Some(offered()),
            ..Default::default()
        }),
        ..looked_up(found)
    };
    let step = decide(&spec, &State::default(), &seen, &Action::Create, NOW);
    assert_eq!(field_of(step), "distro");
}

#[test]
fn a_role_the_distro_does_not_offer_is_refused_naming_its_group() {
    let spec = spec_with(|v| {
        v["distro"] = json!("BigTop");
        v["node_groups"][1]["roles"] = json!(["hadoop_datanode", "hadoop_foo"]);
    });
    let found = NeutronLookups {
        networks: vec![network(NET, &["sub-1"])],
        ..NeutronLookups::default()
    };
    let seen = Observed {
        offered: Some(crate::preflight::Offered {
            distros: Some(offered()),
            ..Default::default()
        }),
        ..looked_up(found)
    };
    let step = decide(&spec, &State::default(), &seen, &Action::Create, NOW);
    assert_eq!(field_of(step), "node_groups[1].roles");
}

#[test]
fn the_2015_cluster_type_is_named_when_its_distro_is_unknown() {
    let spec = spec_with(|v| v["cluster_type"] = json!("nosuch"));
    let found = NeutronLookups {
        networks: vec![network(NET, &["sub-1"])],
        ..NeutronLookups::default()
    };
    let seen = Observed {
        offered: Some(crate::preflight::Offered {
            distros: Some(offered()),
            ..Default::default()
        }),
        ..looked_up(found)
    };
    assert_eq!(
        field_of(decide(&spec, &State::default(), &seen, &Action::Create, NOW)),
        "cluster_type"
    );
}

#[test]
fn a_create_checks_what_bde_offers_and_neutrons_room_first_and_an_adopt_does_not() {
    assert!(crate::observe::plan(&spec(), &State::default(), &Action::Create).preflight);
    assert!(!crate::observe::plan(&spec(), &State::default(), &Action::Adopt).preflight);
}

#[test]
fn too_few_free_addresses_are_refused_before_anything_is_made_naming_the_subnet() {
    let spec = spec_with(|v| v["subnet"] = json!("sub-1"));
    let found = NeutronLookups {
        networks: vec![network(NET, &["sub-1"])],
        subnets: Some(vec![SubnetView {
            id: "sub-1".into(),
            network_id: NET.into(),
        }]),
        ..NeutronLookups::default()
    };
    let short = |free| Observed {
        room: Some(crate::preflight::Room {
            free_addresses: Some(free),
            ..Default::default()
        }),
        ..looked_up(found.clone())
    };
    // master x1 + worker x2 = 3 VMs.
    assert_eq!(
        field_of(decide(&spec, &State::default(), &short(2), &Action::Create, NOW)),
        "subnet"
    );
    let step = decide(&spec, &State::default(), &short(3), &Action::Create, NOW);
    assert!(matches!(step, Step::RecordNeutron(..)), "{step:?}");
}

#[test]
fn an_apply_with_another_security_group_records_it_then_repair_regroups_the_ports() {
    let (mut state, mut seen) = world(2);
    state.desired = sizes(&[("master", 1), ("worker", 2)]);
    state.neutron.as_mut().unwrap().security_group_ids = vec!["sg-old".into()];
    for p in seen.ports.as_mut().unwrap() {
        p.security_groups = vec!["sg-old".into()];
    }
    let spec = spec_with(|v| v["security_group"] = json!("web"));
    seen.lookups = Some(NeutronLookups {
        networks: vec![network(NET, &["sub-1"])],
        security_groups: Some(vec!["sg-new".into()]),
        ..NeutronLookups::default()
    });
    let mut state_with_subnet = state.clone();
    state_with_subnet.neutron.as_mut().unwrap().subnet_id = "sub-1".into();
    let step = decide(&spec, &state_with_subnet, &seen, &Action::Apply, NOW);
    let Step::SetSecurityGroups(ids) = step else {
        panic!("{step:?}")
    };
    assert_eq!(ids, ["sg-new"]);
    state.neutron.as_mut().unwrap().security_group_ids = ids;
    let step = decide(&spec, &state, &seen, &Action::Repair, NOW);
    let Step::UpdatePortGroups { ports, security_groups } = step else {
        panic!("{step:?}")
    };
    assert_eq!(ports.len(), 3, "every port of the cluster");
    assert_eq!(security_groups, ["sg-new"]);
}

#[test]
fn an_apply_that_moves_the_network_is_refused() {
    let (mut state, mut seen) = world(2);
    state.desired = sizes(&[("master", 1), ("worker", 2)]);
    seen.lookups = Some(NeutronLookups {
        networks: vec![network("another-network", &["sub-9"])],
        ..NeutronLookups::default()
    });
    assert_eq!(field_of(decide_now(&state, &seen, Action::Apply)), "network");
}

#[test]
fn ports_with_the_spec_groups_show_no_drift_and_others_do() {
    let (mut state, mut seen) = world(1);
    state.neutron.as_mut().unwrap().security_group_ids = vec!["sg-a".into()];
    for p in seen.ports.as_mut().unwrap() {
        p.security_groups = vec!["sg-a".into()];
    }
    assert!(crate::drift::diff(&spec(), &state, &seen).is_empty());
    seen.ports.as_mut().unwrap()[0].security_groups = vec!["default".into()];
    assert_eq!(
        kinds(&crate::drift::diff(&spec(), &state, &seen)),
        [DriftKind::PortSecurityGroups]
    );
}

#[test]
fn vms_already_powered_on_are_wired_first_then_in_clone_order_by_index() {
    let mut state = wired_state();
    // All found in one read (one seen_at): BDE clones in index order.
    for (i, power) in [
        (10, PowerState::PoweredOn),
        (2, PowerState::PoweredOn),
        (1, PowerState::PoweredOff),
    ] {
        let n = NodeState {
            seen_at: Some(NOW),
            power_state: power,
            ..node("worker", &name("worker", i), &mac(i))
        };
        put(&mut state, &name("worker", i), n);
    }
    let seen = Observed {
        ports: Some(Vec::new()),
        ..wiring()
    };
    let (_, create) = made_ports(decide_now(&state, &seen, Action::Create));
    let order: Vec<&str> = create.iter().map(|r| r.mac_address.as_str()).collect();
    assert_eq!(
        order,
        [mac(2), mac(10), mac(1)],
        "powered on first, worker-2 before worker-10"
    );
}

// ---------------------------------------------------------------- static addresses

fn static_spec() -> ValidSpec {
    spec_with(|v| v["ip_mode"] = json!("static"))
}

#[test]
fn a_static_cluster_registers_a_bde_network_of_its_own() {
    let seen = Observed {
        bde_network: Seen::Absent,
        ..Observed::default()
    };
    let state = State {
        network_intended: true,
        ..with_portgroup()
    };
    let step = decide(&static_spec(), &state, &seen, &Action::Create, NOW);
    assert!(
        matches!(&step, Step::RegisterNetwork(n) if *n == format!("neutron-{NET}-static")),
        "a DHCP cluster's network cannot be made static while in use: {step:?}"
    );
}

#[test]
fn a_static_port_gets_the_address_bde_reserved_and_a_node_without_one_waits() {
    let mut state = wired_state();
    put(
        &mut state,
        &name("worker", 0),
        node("worker", &name("worker", 0), &mac(0)),
    );
    put(
        &mut state,
        &name("worker", 1),
        node("worker", &name("worker", 1), &mac(1)),
    );
    let seen = Observed {
        ports: Some(Vec::new()),
        static_ips: Some([(NET.to_string(), [(name("worker", 0), "10.0.0.200".to_string())].into())].into()),
        ..wiring()
    };
    let (_, create) = made_ports(decide(&static_spec(), &state, &seen, &Action::Create, NOW));
    assert_eq!(create.len(), 1, "worker-1's reservation is not read yet: {create:?}");
    assert_eq!(create[0].mac_address, mac(0));
    assert_eq!(
        create[0].fixed_ips,
        [json!({"subnet_id": "sub-1", "ip_address": "10.0.0.200"})]
    );
    // The same state under DHCP: both ports, addresses from Neutron.
    let (_, create) = made_ports(decide_now(&state, &seen, Action::Create));
    assert_eq!(create.len(), 2);
    assert_eq!(create[0].fixed_ips, [json!({"subnet_id": "sub-1"})]);
}

#[test]
fn a_static_vm_without_an_address_is_never_reset() {
    let mut state = wired_state();
    put(&mut state, &name("worker", 0), stuck(0, NOW));
    let step = decide(&static_spec(), &state, &wiring(), &Action::Create, NOW + 1000.0);
    assert!(
        matches!(step, Step::Wait(_)),
        "its guest sets its own address: {step:?}"
    );
    let step = decide(&spec(), &state, &wiring(), &Action::Create, NOW + 1000.0);
    assert!(matches!(step, Step::ResetVms(_)), "under DHCP it is: {step:?}");
}

/// What a static step saw of its BDE network: `free` addresses no node holds.
fn static_free(free: u64, seen: Observed) -> Observed {
    Observed {
        static_free: [(NET.to_string(), free)].into(),
        ..seen
    }
}

/// The step gives the management network's static BDE network room for `n`.
fn adds_room(step: &Step, n: u64) -> bool {
    matches!(step, Step::AddStaticAddresses { network_id, needed } if network_id == NET && *needed == n)
}

#[test]
fn a_static_cluster_on_a_network_short_of_addresses_adds_room_before_it_is_asked_for() {
    // Another cluster's BDE network (shared, one per Neutron network) has 2 free; this one has 3 VMs.
    let seen = Observed {
        cluster: Seen::Absent,
        ..Observed::default()
    };
    let step = decide(
        &static_spec(),
        &registered(),
        &static_free(2, seen.clone()),
        &Action::Create,
        NOW,
    );
    assert!(adds_room(&step, 3), "{step:?}");
    let step = decide(
        &static_spec(),
        &registered(),
        &static_free(3, seen.clone()),
        &Action::Create,
        NOW,
    );
    assert!(matches!(step, Step::IntendCluster), "room for all 3: {step:?}");
    // The create's intent recorded but the request not yet sent: still checked.
    let intended = State {
        cluster: claim(ClaimKind::Intended),
        ..registered()
    };
    let step = decide(
        &static_spec(),
        &intended,
        &static_free(0, seen.clone()),
        &Action::Create,
        NOW,
    );
    assert!(adds_room(&step, 3), "{step:?}");
    // Under DHCP the count is never read, and never asked about.
    let step = decide(&spec(), &registered(), &seen, &Action::Create, NOW);
    assert!(matches!(step, Step::IntendCluster), "{step:?}");
}

#[test]
fn growing_a_static_group_past_its_networks_free_addresses_adds_room_first_and_shrinking_never() {
    let (state, seen) = world(2);
    // 2 workers to 5: 3 new nodes; 2 free.
    let step = decide(
        &static_spec(),
        &state,
        &static_free(2, seen.clone()),
        &resize("worker", 5),
        NOW,
    );
    assert!(adds_room(&step, 3), "{step:?}");
    let step = decide(
        &static_spec(),
        &state,
        &static_free(3, seen.clone()),
        &resize("worker", 5),
        NOW,
    );
    assert!(
        matches!(&step, Step::StartTask(TaskKind::Resize { count: 5, .. })),
        "{step:?}"
    );
    let step = decide(
        &static_spec(),
        &state,
        &static_free(0, seen.clone()),
        &resize("worker", 1),
        NOW,
    );
    assert!(
        matches!(&step, Step::StartTask(TaskKind::Resize { count: 1, .. })),
        "a shrink frees addresses: {step:?}"
    );
}

#[test]
fn a_group_an_apply_adds_to_a_static_cluster_gets_room_first() {
    let spec = spec_with(|v| {
        v["ip_mode"] = json!("static");
        v["node_groups"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "edge", "roles": ["hadoop_client"], "instance_num": 4}));
    });
    let (mut state, seen) = world(2);
    state.desired.insert("edge".into(), 4);
    let step = decide(&spec, &state, &static_free(1, seen.clone()), &Action::Apply, NOW);
    assert!(adds_room(&step, 4), "{step:?}");
    let step = decide(&spec, &state, &static_free(4, seen), &Action::Apply, NOW);
    assert!(
        matches!(&step, Step::StartTask(TaskKind::Expand { groups }) if groups == &["edge".to_string()]),
        "{step:?}"
    );
}

#[test]
fn the_static_networks_room_is_read_only_where_nodes_may_be_made() {
    use crate::observe::plan;
    let reads = |spec: &ValidSpec, state: &State, action: Action| plan(spec, state, &action).static_room;
    let (ready, _) = world(2);
    assert!(reads(&static_spec(), &registered(), Action::Create));
    assert!(reads(&static_spec(), &ready, resize("worker", 3)));
    assert!(reads(&static_spec(), &ready, Action::Apply));
    assert!(reads(&static_spec(), &ready, Action::Repair));
    assert!(!reads(&static_spec(), &ready, Action::Check));
    assert!(!reads(&static_spec(), &ready, Action::Stop));
    assert!(
        !reads(&static_spec(), &wired_state(), Action::Create),
        "wiring: the nodes are asked for"
    );
    assert!(!reads(&spec(), &ready, resize("worker", 3)), "DHCP");
}

/// A static cluster with an HDFS network: worker-0 on both, its VM read with both NICs.
fn static_hdfs() -> (ValidSpec, State, Observed) {
    let spec = spec_with(|v| {
        v["ip_mode"] = json!("static");
        v["networks"] = json!({"HDFS_NETWORK": {"network": "hdfs-net"}});
    });
    let mut state = wired_state();
    state.traffic = vec![TrafficNetwork {
        traffic: "HDFS_NETWORK".into(),
        network_id: HDFS_NET.into(),
        subnet_id: "sub-h".into(),
        portgroup: Some(hdfs_portgroup()),
        intended: true,
        bde_network: Some(BdeNetwork {
            name: format!("neutron-{HDFS_NET}-static"),
            ours: true,
        }),
    }];
    let w0 = name("worker", 0);
    let mut n = node("worker", &w0, &mac(0));
    n.macs.push(mac(100));
    put(&mut state, &w0, n);
    let mut v = vm(&w0, &mac(0), PowerState::PoweredOn);
    v.nics.push((4001, mac(100)));
    v.nic_networks.push(HDFS_NET.into());
    let seen = Observed {
        vms: Some(vec![v]),
        ports: Some(Vec::new()),
        ..wiring()
    };
    (spec, state, seen)
}

#[test]
fn a_static_nic_on_a_traffic_network_gets_its_networks_reserved_address_and_waits_for_it() {
    let (spec, state, mut seen) = static_hdfs();
    let w0 = name("worker", 0);
    let reserved = |hdfs: Option<&str>| {
        let mut by_network: BTreeMap<String, BTreeMap<String, String>> =
            [(NET.to_string(), [(w0.clone(), "10.0.0.200".to_string())].into())].into();
        if let Some(ip) = hdfs {
            by_network.insert(HDFS_NET.into(), [(w0.clone(), ip.to_string())].into());
        }
        Some(by_network)
    };
    seen.static_ips = reserved(None);
    let step = decide(&spec, &state, &seen, &Action::Create, NOW);
    assert!(
        matches!(step, Step::Wait(_)),
        "its HDFS reservation is not read yet: {step:?}"
    );
    seen.static_ips = reserved(Some("10.1.0.50"));
    let (_, create) = made_ports(decide(&spec, &state, &seen, &Action::Create, NOW));
    let made: Vec<(&str, &str, Value)> = create
        .iter()
        .map(|r| (r.mac_address.as_str(), r.network_id.as_str(), r.fixed_ips[0].clone()))
        .collect();
    assert_eq!(
        made,
        [
            (
                mac(0).as_str(),
                NET,
                json!({"subnet_id": "sub-1", "ip_address": "10.0.0.200"})
            ),
            (
                mac(100).as_str(),
                HDFS_NET,
                json!({"subnet_id": "sub-h", "ip_address": "10.1.0.50"})
            )
        ]
    );
}

#[test]
fn a_static_traffic_network_short_of_addresses_gets_room_before_a_grow_and_is_registered_static() {
    let (spec, mut state, _) = static_hdfs();
    state.phase = Phase::Ready;
    state.pending = None;
    let (_, seen) = world(2);
    let seen = Observed {
        static_free: [(NET.to_string(), 5), (HDFS_NET.to_string(), 1)].into(),
        ..seen
    };
    let step = decide(&spec, &state, &seen, &resize("worker", 4), NOW);
    assert!(
        matches!(&step, Step::AddStaticAddresses { network_id, needed: 2 } if network_id == HDFS_NET),
        "{step:?}"
    );
    // Registering: the traffic network's BDE network is a static one of its own.
    let mut registering = with_portgroup();
    registering.traffic = state.traffic.clone();
    registering.traffic[0].bde_network = None;
    let seen = Observed {
        traffic_bde_networks: vec![Seen::Absent],
        ..Observed::default()
    };
    let step = decide(&spec, &registering, &seen, &Action::Create, NOW);
    assert!(
        matches!(&step, Step::RegisterTrafficNetwork(0, n) if *n == format!("neutron-{HDFS_NET}-static")),
        "{step:?}"
    );
}
