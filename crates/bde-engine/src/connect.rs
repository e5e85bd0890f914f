//! Connecting: the three services a step talks to, how the caller reaches
//! OpenStack (a password for the CLI, a handed-over token inside Heat), and
//! the per-process cache of BDE and vCenter sessions a long-lived caller
//! (heat-engine) shares between steps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use bde_openstack::{ApplicationCredential, Domain, Identity, KeystoneAuth, Project, User};
use bde_openstack::{Auth, Neutron, Session};
use bde_serengeti::{Bde, BdeConfig};
use bde_transport::{HttpOptions, RetryPolicy, TlsOptions};
use secrecy::{ExposeSecret, SecretString};

use crate::error::EngineError;
use crate::spec::ValidSpec;

/// Upper bound of one remote call.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// BDE, vCenter and Neutron, as one step uses them.
#[derive(Debug)]
pub struct Clients {
    /// BDE's session.
    pub bde: Arc<Bde>,
    /// vCenter's session.
    pub vc: Arc<bde_vsphere::Client>,
    /// Neutron, as the project's user.
    pub neutron: Neutron,
}

/// How the caller reaches OpenStack.
#[derive(Debug)]
pub enum OpenStackAccess {
    /// A Keystone login (the CLI, from `clouds.yaml` or `OS_*`).
    Keystone {
        /// The credentials.
        auth: KeystoneAuth,
        /// Keystone's certificate verification.
        tls: TlsOptions,
    },
    /// A token and Neutron's endpoint, fresh for each step (Heat's context).
    Token {
        /// The stack user's token.
        token: SecretString,
        /// Neutron's endpoint.
        network_endpoint: String,
        /// Neutron's certificate verification.
        tls: TlsOptions,
    },
}

impl OpenStackAccess {
    /// An OpenStack session from this access.
    pub fn session(&self) -> Result<Session, EngineError> {
        let (auth, tls) = match self {
            OpenStackAccess::Keystone { auth, tls } => (Auth::Keystone(auth.clone()), tls.clone()),
            OpenStackAccess::Token {
                token,
                network_endpoint,
                tls,
            } => (
                Auth::Token {
                    token: token.clone(),
                    network_endpoint: network_endpoint.clone(),
                },
                tls.clone(),
            ),
        };
        let http = HttpOptions {
            tls,
            timeout: CALL_TIMEOUT,
            ..HttpOptions::default()
        };
        Ok(Session::new(auth, &http, RetryPolicy::default())?)
    }

    /// Neutron through this access.
    pub fn neutron(&self) -> Result<Neutron, EngineError> {
        Ok(Neutron::new(Arc::new(self.session()?)))
    }
}

fn tls(spec: &ValidSpec, ca: &Option<String>) -> TlsOptions {
    TlsOptions {
        ca_file: ca.as_ref().map(Into::into),
        insecure: spec.insecure,
    }
}

pub(crate) async fn login_bde(spec: &ValidSpec) -> Result<Bde, EngineError> {
    Ok(Bde::connect(&BdeConfig {
        endpoint: spec.bde_endpoint.clone(),
        username: spec.username.clone(),
        password: spec.password.clone(),
        tls: tls(spec, &spec.ca_file),
        timeout: CALL_TIMEOUT,
        retry: RetryPolicy::default(),
    })
    .await?)
}

async fn login_vcenter(spec: &ValidSpec) -> Result<bde_vsphere::Client, EngineError> {
    Ok(bde_vsphere::Client::connect(&bde_vsphere::Config {
        url: spec.vcenter_url.clone(),
        username: spec.vcenter_username.clone(),
        password: spec.vcenter_password.clone(),
        tls: tls(spec, &spec.vcenter_ca_file),
        timeout: CALL_TIMEOUT,
        retry: RetryPolicy::default(),
    })
    .await?)
}

impl Clients {
    /// Logs in to BDE and vCenter; Neutron through the caller's access.
    pub async fn connect(spec: &ValidSpec, access: &OpenStackAccess) -> Result<Self, EngineError> {
        let neutron = access.neutron()?;
        Ok(Self {
            bde: Arc::new(login_bde(spec).await?),
            vc: Arc::new(login_vcenter(spec).await?),
            neutron,
        })
    }

    /// The same, reusing this process's BDE and vCenter sessions for the spec's
    /// endpoints and users (logged in again when its passwords changed).
    pub async fn connect_cached(spec: &ValidSpec, access: &OpenStackAccess) -> Result<Self, EngineError> {
        let neutron = access.neutron()?;
        let key = SessionKey::of(spec);
        let found = sessions().lock().expect("not poisoned").get(&key).cloned();
        let (bde, vc) = match found {
            Some(c) if same(&c.password, &spec.password) && same(&c.vcenter_password, &spec.vcenter_password) => {
                (Arc::clone(&c.bde), Arc::clone(&c.vc))
            }
            _ => {
                let cached = Arc::new(Cached {
                    bde: Arc::new(login_bde(spec).await?),
                    vc: Arc::new(login_vcenter(spec).await?),
                    password: spec.password.clone(),
                    vcenter_password: spec.vcenter_password.clone(),
                });
                sessions()
                    .lock()
                    .expect("not poisoned")
                    .insert(key, Arc::clone(&cached));
                (Arc::clone(&cached.bde), Arc::clone(&cached.vc))
            }
        };
        Ok(Self { bde, vc, neutron })
    }

    /// Ends the BDE and vCenter sessions.
    pub async fn close(&self) {
        self.bde.logout().await;
        self.vc.logout().await;
    }

    /// The calls made so far through these clients.
    pub fn calls(&self) -> CallCounts {
        CallCounts {
            bde: self.bde.calls(),
            vsphere: self.vc.calls(),
            neutron: self.neutron.calls(),
        }
    }
}

/// Remote calls made so far, per service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallCounts {
    /// BDE REST calls.
    pub bde: u64,
    /// vSphere SOAP calls.
    pub vsphere: u64,
    /// Neutron calls.
    pub neutron: u64,
}

/// What identifies a BDE+vCenter session pair: endpoints, users and TLS settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SessionKey {
    bde_endpoint: String,
    username: String,
    vcenter_url: String,
    vcenter_username: String,
    ca_file: Option<String>,
    vcenter_ca_file: Option<String>,
    insecure: bool,
}

impl SessionKey {
    fn of(spec: &ValidSpec) -> Self {
        Self {
            bde_endpoint: spec.bde_endpoint.clone(),
            username: spec.username.clone(),
            vcenter_url: spec.vcenter_url.clone(),
            vcenter_username: spec.vcenter_username.clone(),
            ca_file: spec.ca_file.clone(),
            vcenter_ca_file: spec.vcenter_ca_file.clone(),
            insecure: spec.insecure,
        }
    }
}

/// Sessions and the passwords they were made with.
struct Cached {
    bde: Arc<Bde>,
    vc: Arc<bde_vsphere::Client>,
    password: SecretString,
    vcenter_password: SecretString,
}

fn sessions() -> &'static Mutex<HashMap<SessionKey, Arc<Cached>>> {
    static SESSIONS: std::sync::OnceLock<Mutex<HashMap<SessionKey, Arc<Cached>>>> = std::sync::OnceLock::new();
    SESSIONS.get_or_init(Default::default)
}

fn same(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}
