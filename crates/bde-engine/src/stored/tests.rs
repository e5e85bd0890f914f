use std::collections::BTreeMap;

use super::*;
use crate::state::{Claim, ClaimKind, NodeState, Phase, PortRecord, PowerState};

/// A small deterministic generator (no dependency): the same "random" cluster each run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn uuid(&mut self) -> String {
        let hex: String = (0..32).map(|_| format!("{:x}", self.below(16))).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }
}

const T0: f64 = 1_764_180_000.123;

/// A cluster as a real create leaves it: `n` wired VMs in three groups, addresses
/// from a /22 pool in Neutron's random order, a few resets, everything observed set.
fn cluster(n: usize) -> State {
    let mut rng = Lcg(42);
    let mut nodes = BTreeMap::new();
    for i in 0..n {
        let group = match i {
            0 => "master",
            i if i % 10 == 9 => "client",
            _ => "worker",
        };
        let mac = format!(
            "00:50:56:{:02x}:{:02x}:{:02x}",
            0x80 + rng.below(64),
            rng.below(256),
            rng.below(256)
        );
        let ip = format!("10.20.{}.{}", 4 + rng.below(4), 2 + rng.below(252));
        let seen = T0 + i as f64 * 0.3 + rng.below(5000) as f64 / 1000.0;
        let resets = if i % 97 == 0 { vec![seen + 150.25] } else { Vec::new() };
        nodes.insert(
            format!("hadoop-analytics-{group}-{i}"),
            NodeState {
                group: group.into(),
                vm: Some(format!("vm-{}", 2000 + 3 * i as u64 + rng.below(3))),
                instance_uuid: Some(rng.uuid()),
                macs: vec![mac.clone()],
                ports: [(
                    mac,
                    PortRecord {
                        id: rng.uuid(),
                        ip: Some(ip.clone()),
                    },
                )]
                .into(),
                ip: Some(ip),
                status: "Service Ready".into(),
                power_state: PowerState::PoweredOn,
                seen_at: Some(seen),
                powered_on_at: Some(seen + 3.0 + rng.below(2000) as f64 / 1000.0),
                port_created_at: Some(seen + 1.0 + rng.below(2000) as f64 / 1000.0),
                waiting_since: None,
                address_at: Some(seen + 20.0 + rng.below(3000) as f64 / 1000.0),
                resets,
                reset_task: None,
                last_addressed: Some(T0 + 3600.5),
            },
        );
    }
    State {
        phase: Phase::Ready,
        cluster: Some(Claim {
            name: "hadoop_analytics".into(),
            how: ClaimKind::Requested,
        }),
        desired: [("master".into(), 1), ("worker".into(), 899), ("client".into(), 100)].into(),
        resets: (n / 97 + 1) as u32,
        nodes,
        ..State::default()
    }
}

/// What a load gives back: nothing observed, times to a tenth of a second.
fn as_loaded(state: &State) -> State {
    // As the codec quantizes: tenths of a second after the epoch (the first time, floored).
    let epoch = state
        .nodes
        .values()
        .filter_map(|n| n.seen_at)
        .fold(f64::INFINITY, f64::min)
        .floor();
    let tenth = |t: f64| epoch + ((t - epoch) * 10.0).round() / 10.0;
    let mut expected = state.clone();
    for n in expected.nodes.values_mut() {
        n.instance_uuid = None;
        n.ports.clear();
        for t in [
            &mut n.seen_at,
            &mut n.powered_on_at,
            &mut n.port_created_at,
            &mut n.waiting_since,
            &mut n.address_at,
            &mut n.last_addressed,
        ] {
            *t = t.map(tenth);
        }
        n.resets = n.resets.iter().map(|t| tenth(*t)).collect();
    }
    expected
}

/// Equal but for float noise below a millisecond.
fn assert_same(a: &State, b: &State) {
    let round = |s: &State| {
        let mut v = serde_json::to_value(s).unwrap();
        fn walk(v: &mut Value) {
            match v {
                Value::Number(n) if n.is_f64() => *v = json!((n.as_f64().unwrap() * 1000.0).round() / 1000.0),
                Value::Array(items) => items.iter_mut().for_each(walk),
                Value::Object(map) => map.values_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut v);
        v
    };
    let (a, b) = (round(a), round(b));
    for (name, node) in a["nodes"].as_object().unwrap() {
        assert_eq!(node, &b["nodes"][name], "node {name}");
    }
    assert_eq!(a, b);
}

#[test]
fn a_1000_vm_cluster_is_stored_in_under_32_kib() {
    let state = cluster(1000);
    let stored = encode(&state);
    let plain = serde_json::to_string(&state).unwrap().len();
    println!(
        "stored state of 1,000 VMs: {} bytes packed ({:.1} per VM); {} as plain JSON without observed fields",
        stored.len(),
        stored.len() as f64 / 1000.0,
        plain
    );
    assert!(stored.len() < 32 * 1024, "{} bytes", stored.len());
    assert_same(&decode(&stored).unwrap(), &as_loaded(&state));
}

#[test]
fn every_field_comes_back_to_a_tenth_of_a_second_and_nothing_observed_is_stored() {
    let mut state = cluster(3);
    let node = state.nodes.values_mut().next().unwrap();
    node.waiting_since = Some(T0 + 7.77);
    node.reset_task = Some("task-123".into());
    node.resets = vec![T0 + 1.0, T0 + 2.06];
    node.power_state = PowerState::PoweredOff;
    let stored = encode(&state);
    for n in state.nodes.values() {
        assert!(
            !stored.contains(n.instance_uuid.as_deref().unwrap()),
            "an instanceUuid was stored"
        );
        for p in n.ports.values() {
            assert!(!stored.contains(&p.id), "a port id was stored");
        }
    }
    assert!(
        stored.contains("\"phase\":\"ready\""),
        "the state's head stays readable: {stored}"
    );
    assert_same(&decode(&stored).unwrap(), &as_loaded(&state));
}

#[test]
fn every_number_of_a_node_is_one_of_its_times() {
    let full = NodeState {
        vm: Some("vm-1".into()),
        instance_uuid: Some("u".into()),
        ip: Some("10.0.0.1".into()),
        seen_at: Some(1.0),
        powered_on_at: Some(1.0),
        port_created_at: Some(1.0),
        waiting_since: Some(1.0),
        address_at: Some(1.0),
        resets: vec![1.0],
        reset_task: Some("t".into()),
        last_addressed: Some(1.0),
        ..NodeState::default()
    };
    for (key, value) in serde_json::to_value(&full).unwrap().as_object().unwrap() {
        let numeric = value.is_number() || value.as_array().is_some_and(|a| a.iter().any(Value::is_number));
        assert_eq!(numeric, TIME_KEYS.contains(&key.as_str()), "{key}");
    }
}

#[test]
fn a_state_stored_before_packing_still_loads_and_an_empty_one_stays_small() {
    let old = r#"{"phase":"wire","nodes":{"c-worker-0":{"group":"worker","macs":["00:50:56:80:00:01"],
        "ports":{"00:50:56:80:00:01":{"id":"p1"}},"instance_uuid":"u1","status":"","power_state":"poweredOn",
        "seen_at":1764180000.5}}}"#;
    let state = decode(old).unwrap();
    assert_eq!(state.phase, Phase::Wire);
    let node = &state.nodes["c-worker-0"];
    assert_eq!(
        (node.seen_at, node.ports.len(), node.instance_uuid.as_deref()),
        (Some(1764180000.5), 0, None)
    );
    let empty = encode(&State::default());
    assert_eq!(decode(&empty).unwrap(), State::default());
    assert!(empty.len() < 64, "{empty}");
    assert!(
        readable(&encode(&cluster(2)))
            .unwrap()
            .contains("hadoop-analytics-master-0")
    );
}
