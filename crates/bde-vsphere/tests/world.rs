//! Against the test world's vcsim: run with `scripts/test` (or, with the world
//! up and its environment loaded, `cargo test -p bde-vsphere --features world-tests`).

use std::collections::HashSet;
use std::time::Duration;

use bde_transport::{RetryPolicy, TlsOptions};
use bde_vsphere::{Client, Config};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run eval \"$(scripts/world env)\" first"))
}

fn config() -> Config {
    Config {
        url: env("VCENTER_URL"),
        username: env("VCENTER_USERNAME"),
        password: env("VCENTER_PASSWORD").into(),
        tls: TlsOptions {
            ca_file: Some(env("VCENTER_CA_FILE").into()),
            insecure: false,
        },
        timeout: Duration::from_secs(30),
        retry: RetryPolicy::default(),
    }
}

#[tokio::test]
async fn vms_and_portgroups_are_read_in_both_datacenters() {
    let vc = Client::connect(&config()).await.expect("login to vcsim");
    let dcs = vc.datacenters().await.unwrap();
    let names: HashSet<_> = dcs.iter().map(|(_, n)| n.as_str()).collect();
    assert!(names.contains("DC0") && names.contains("DC1"), "datacenters: {names:?}");

    let mut all_macs = Vec::new();
    for (dc, name) in &dcs {
        let vms = vc.vms(Some(dc)).await.unwrap();
        assert!(!vms.is_empty(), "no VM in {name}");
        for vm in &vms {
            assert!(!vm.instance_uuid.is_empty(), "{} has no instanceUuid", vm.name);
            assert!(!vm.nics.is_empty(), "{} has no NIC", vm.name);
            all_macs.extend(vm.nics.iter().map(|n| n.mac.clone()));
        }
        let pgs = vc.portgroups(Some(dc)).await.unwrap();
        assert!(!pgs.is_empty(), "no distributed portgroup in {name}");
        assert!(pgs.iter().all(|p| p.moref.kind == "DistributedVirtualPortgroup"));
    }
    let unique: HashSet<_> = all_macs.iter().collect();
    assert_eq!(unique.len(), all_macs.len(), "MACs repeat: {all_macs:?}");

    let template = vc
        .vms(None)
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.name == "bde-node-template");
    let template = template.expect("the node template VM exists");
    assert_eq!(template.power_state, "poweredOff");
    vc.logout().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_invalid_login() {
    let mut cfg = config();
    cfg.password = "not-the-password".to_string().into();
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(err.is_fault("InvalidLogin"), "{err:?}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");
}

#[tokio::test]
async fn an_unknown_ca_is_refused() {
    let mut cfg = config();
    cfg.tls.ca_file = None; // system roots do not know the world's CA
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, bde_vsphere::Error::Http { .. }), "{err:?}");
    assert!(
        !bde_transport::Transient::is_transient(&err),
        "a refused certificate is not retried"
    );
}

fn world(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/world");
    let out = std::process::Command::new(script)
        .args(args)
        .output()
        .expect("run scripts/world");
    assert!(
        out.status.success(),
        "scripts/world {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn nsx_v_adds_a_portgroup_for_a_new_network_and_removes_it_with_the_network() {
    let out = world(&["net", &format!("pg-{}", std::process::id()), "10.79.0.0/24"]);
    let field = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .to_string()
    };
    let (network_id, portgroup) = (field("NETWORK_ID"), field("PORTGROUP"));
    assert!(portgroup.ends_with(&format!("-{network_id}")), "{portgroup}");

    let vc = Client::connect(&config()).await.unwrap();
    let names = |pgs: Vec<bde_vsphere::Portgroup>| pgs.into_iter().map(|p| p.name).collect::<Vec<_>>();
    let before = names(vc.portgroups(None).await.unwrap());
    assert_eq!(
        before.iter().filter(|n| **n == portgroup).count(),
        1,
        "exactly one {portgroup} in vcsim"
    );

    world(&["net-delete", &network_id]);
    let after = names(vc.portgroups(None).await.unwrap());
    assert!(!after.contains(&portgroup), "{portgroup} still in vcsim");
    vc.logout().await;
}
