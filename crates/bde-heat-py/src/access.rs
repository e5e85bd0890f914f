//! What Heat hands each step (a token and Neutron's endpoint), and the
//! per-process BDE and vCenter sessions the steps share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bde_engine::{Clients, EngineError, ValidSpec};
use bde_openstack::{Auth, Neutron, Session};
use bde_serengeti::Bde;
use bde_transport::{HttpOptions, RetryPolicy, TlsOptions};
use pyo3::PyResult;
use pyo3::exceptions::PyValueError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The stack user's access to Neutron, from Heat's context.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    token: SecretString,
    network_endpoint: String,
    /// CA bundle for Neutron's certificate (Heat's `[clients_neutron] ca_file`).
    #[serde(default)]
    ca_file: Option<String>,
    /// Heat's `[clients_neutron] insecure`.
    #[serde(default)]
    insecure: bool,
}

impl Access {
    /// Parses the JSON the plugin builds.
    pub fn parse(json: &str) -> PyResult<Self> {
        // serde's message could quote the token: say only what is wrong.
        serde_json::from_str(json)
            .map_err(|_| PyValueError::new_err("access: expected {token, network_endpoint[, ca_file, insecure]}"))
    }
}

/// BDE and vCenter sessions by endpoint and user, with the passwords they were made with.
struct Cached {
    bde: Arc<Bde>,
    vc: Arc<bde_vsphere::Client>,
    password: SecretString,
    vcenter_password: SecretString,
}

fn cache() -> &'static Mutex<HashMap<String, Arc<Cached>>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, Arc<Cached>>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn key(spec: &ValidSpec) -> String {
    format!(
        "{}|{}|{}|{}|{:?}|{:?}|{}",
        spec.bde_endpoint,
        spec.username,
        spec.vcenter_url,
        spec.vcenter_username,
        spec.ca_file,
        spec.vcenter_ca_file,
        spec.insecure
    )
}

fn same(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

/// Neutron with this step's token.
pub fn neutron(access: &Access) -> Result<Neutron, EngineError> {
    Ok(Neutron::new(Arc::new(session(access)?)))
}

fn session(access: &Access) -> Result<Session, EngineError> {
    Session::new(
        Auth::Token {
            token: access.token.clone(),
            network_endpoint: access.network_endpoint.clone(),
        },
        &HttpOptions {
            tls: TlsOptions {
                ca_file: access.ca_file.as_ref().map(Into::into),
                insecure: access.insecure,
            },
            timeout: Duration::from_secs(60),
            ..HttpOptions::default()
        },
        RetryPolicy::default(),
    )
    .map_err(EngineError::from)
}

/// The clients for one step: shared BDE/vCenter sessions (logged in on first
/// use, or again when the spec's credentials changed) and Neutron with this step's token.
pub async fn clients(spec: &ValidSpec, access: &Access) -> Result<Clients, EngineError> {
    let session = session(access)?;
    let session = Arc::new(session);
    let k = key(spec);
    let found = cache().lock().expect("not poisoned").get(&k).cloned();
    let (bde, vc) = match found {
        Some(c) if same(&c.password, &spec.password) && same(&c.vcenter_password, &spec.vcenter_password) => {
            (Arc::clone(&c.bde), Arc::clone(&c.vc))
        }
        _ => {
            let fresh = Clients::connect(spec, Arc::clone(&session)).await?;
            let cached = Cached {
                bde: Arc::clone(&fresh.bde),
                vc: Arc::clone(&fresh.vc),
                password: spec.password.clone(),
                vcenter_password: spec.vcenter_password.clone(),
            };
            cache().lock().expect("not poisoned").insert(k, Arc::new(cached));
            (fresh.bde, fresh.vc)
        }
    };
    Ok(Clients {
        bde,
        vc,
        neutron: Neutron::new(session),
    })
}
