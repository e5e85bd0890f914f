//! Keystone v3 and Neutron v2.0: the calls bde-heat makes, on the shared
//! transport (verified TLS, timeouts, bounded retries).
//!
//! Hand-written rather than `openstack_sdk` (about 200 crates and 8 minutes
//! of build for a dozen calls, no bulk port create, one value per filter).
//! Credentials are a Keystone v3 login (password, application credential or
//! token) or a token and Neutron endpoint handed over (Heat's case).

mod error;
mod keystone;
mod neutron;

pub use error::Error;
pub use keystone::{ApplicationCredential, Auth, Domain, Identity, KeystoneAuth, Project, Session, User};
pub use neutron::{Neutron, Port, PortRequest};
