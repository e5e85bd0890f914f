//! The test world (`scripts/world`) as Rust tests and benchmarks use it: the
//! environment `scripts/world env` exports, clients logged in as the world's
//! users, and Neutron networks with their NSX-v portgroups.

use std::sync::Arc;
use std::time::Duration;

use bde_openstack::{Auth, KeystoneAuth, Neutron, Session};
use bde_transport::{HttpOptions, RetryPolicy, TlsOptions};
use serde_json::Value;

/// A variable of `scripts/world env`; panics with the fix when it is missing.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run eval \"$(scripts/world env)\" first"))
}

/// A name no other test run uses (letters, digits and `x`, as BDE allows).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

/// Runs `scripts/world` with these arguments and returns its standard output.
pub fn world(args: &[&str]) -> String {
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

/// A Neutron network with a DHCP subnet, made as the member, and its NSX-v portgroup.
#[derive(Debug, Clone)]
pub struct WorldNet {
    /// Neutron network id.
    pub network_id: String,
    /// Neutron subnet id.
    pub subnet_id: String,
    /// The `vxw-...` portgroup name.
    pub portgroup: String,
}

impl WorldNet {
    /// `scripts/world net <unique name> <cidr>`.
    pub fn create(cidr: &str) -> Self {
        Self::create_with_pool(cidr, None)
    }

    /// The same with the subnet's allocation pool (`FIRST-LAST`) given.
    pub fn create_with_pool(cidr: &str, pool: Option<&str>) -> Self {
        let name = unique("n");
        let mut args = vec!["net", name.as_str(), cidr];
        args.extend(pool);
        let out = world(&args);
        let field = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("no {k} in {out}"))
                .to_string()
        };
        WorldNet {
            network_id: field("NETWORK_ID"),
            subnet_id: field("SUBNET_ID"),
            portgroup: field("PORTGROUP"),
        }
    }

    /// `scripts/world net-delete`: the network goes, and its portgroup with it.
    pub fn delete(&self) {
        world(&["net-delete", &self.network_id]);
    }
}

/// Every password of the world (`.world/secrets.json` and the exported ones).
pub fn secrets() -> Vec<String> {
    let all = secrets_file();
    let mut v: Vec<String> = all
        .as_object()
        .unwrap()
        .values()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    v.extend([env("BDE_PASSWORD"), env("VCENTER_PASSWORD")]);
    v
}

fn secrets_file() -> Value {
    let path = format!("{}/secrets.json", env("BDE_WORLD_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The project member's password.
pub fn member_password() -> String {
    secrets_file()["member"].as_str().unwrap().to_string()
}

/// Keystone password credentials of the project member `bde-member`.
pub fn member_auth() -> KeystoneAuth {
    KeystoneAuth::password(
        &env("BDE_WORLD_KEYSTONE_URL"),
        "bde-member",
        member_password().into(),
        "bde",
    )
}

/// An OpenStack session as the project member `bde-member`.
pub fn member_session() -> Arc<Session> {
    let session = Session::new(
        Auth::Keystone(member_auth()),
        &HttpOptions {
            timeout: Duration::from_secs(300),
            ..HttpOptions::default()
        },
        RetryPolicy::default(),
    )
    .unwrap();
    Arc::new(session)
}

/// Neutron as the project member.
pub fn member_neutron() -> Neutron {
    Neutron::new(member_session())
}

/// vCenter (vcsim) as its administrator, TLS verified against the world's CA.
pub async fn vcenter() -> bde_vsphere::Client {
    bde_vsphere::Client::connect(&bde_vsphere::Config {
        url: env("VCENTER_URL"),
        username: env("VCENTER_USERNAME"),
        password: env("VCENTER_PASSWORD").into(),
        tls: TlsOptions {
            ca_file: Some(env("VCENTER_CA_FILE").into()),
            insecure: false,
        },
        timeout: Duration::from_secs(30),
        retry: RetryPolicy::default(),
    })
    .await
    .unwrap()
}

/// BDE (the simulator) through the product's client.
pub async fn bde() -> bde_serengeti::Bde {
    bde_serengeti::Bde::connect(&bde_serengeti::BdeConfig {
        endpoint: env("BDE_ENDPOINT"),
        username: env("BDE_USERNAME"),
        password: env("BDE_PASSWORD").into(),
        tls: TlsOptions {
            ca_file: Some(env("BDE_CA_FILE").into()),
            insecure: false,
        },
        timeout: Duration::from_secs(30),
        retry: RetryPolicy::default(),
    })
    .await
    .unwrap()
}
