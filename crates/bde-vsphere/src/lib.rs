//! The part of the vSphere SOAP API (vim25) that bde-heat needs.
//!
//! No kept Rust crate fits (see the workspace README: `vim_rs` compiles for a
//! quarter of an hour and broke on vcsim's fault XML), so this is a small
//! hand-written client: a session with re-login, batched property reads over
//! container views with continuation, tasks, and a generic [`Client::call`]
//! for the few other methods (the BDE simulator clones and powers VMs with it).

mod error;
mod moref;
mod property;
mod session;
mod task;
mod vm;
mod watch;
pub mod xml;

pub use error::Error;
pub use moref::MoRef;
pub use property::{ObjectContent, PropertyRead};
pub use session::{Client, Config, ServiceContent};
pub use task::TaskState;
pub use vm::{Nic, Portgroup, VM_PROPERTIES, VmInfo};
pub use watch::Watch;
