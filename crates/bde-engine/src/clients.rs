use std::sync::Arc;
use std::time::Duration;

use bde_openstack::{Neutron, Session};
use bde_serengeti::{Bde, BdeConfig};
use bde_transport::{RetryPolicy, TlsOptions};

use crate::{EngineError, ValidSpec};

/// The three services a step talks to. BDE's and vCenter's sessions are
/// shared (`Arc`) so a long-lived caller (heat-engine) logs in once and
/// pairs them with a fresh Neutron session (a new token) at each step.
#[derive(Debug)]
pub struct Clients {
    /// BDE.
    pub bde: Arc<Bde>,
    /// vCenter.
    pub vc: Arc<bde_vsphere::Client>,
    /// Neutron, as the project's user.
    pub neutron: Neutron,
}

impl Clients {
    /// Logs in to BDE and vCenter; Neutron comes from the caller's OpenStack session.
    pub async fn connect(spec: &ValidSpec, openstack: Arc<Session>) -> Result<Self, EngineError> {
        let tls = |ca: &Option<String>| TlsOptions {
            ca_file: ca.as_ref().map(Into::into),
            insecure: spec.insecure,
        };
        let bde = Bde::connect(&BdeConfig {
            endpoint: spec.bde_endpoint.clone(),
            username: spec.username.clone(),
            password: spec.password.clone(),
            tls: tls(&spec.ca_file),
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        })
        .await?;
        let vc = bde_vsphere::Client::connect(&bde_vsphere::Config {
            url: spec.vcenter_url.clone(),
            username: spec.vcenter_username.clone(),
            password: spec.vcenter_password.clone(),
            tls: tls(&spec.vcenter_ca_file),
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        })
        .await?;
        Ok(Self {
            bde: Arc::new(bde),
            vc: Arc::new(vc),
            neutron: Neutron::new(openstack),
        })
    }

    /// Ends the BDE and vCenter sessions.
    pub async fn close(&self) {
        self.bde.logout().await;
        self.vc.logout().await;
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

impl Clients {
    /// The calls made so far through these clients.
    pub fn calls(&self) -> CallCounts {
        CallCounts {
            bde: self.bde.calls(),
            vsphere: self.vc.calls(),
            neutron: self.neutron.calls(),
        }
    }
}
