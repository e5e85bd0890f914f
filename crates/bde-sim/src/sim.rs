//! The simulator's shared state.

use std::sync::Mutex;

use bde_openstack::Neutron;

use crate::api::auth::Sessions;
use crate::clock::Clock;
use crate::config::{Faults, SimConfig};
use crate::guest::Guests;
use crate::state::World;
use crate::vcenter::VCenter;

/// Everything the handlers and jobs share.
#[derive(Debug)]
pub struct Sim {
    /// Settings.
    pub cfg: SimConfig,
    /// Simulated time.
    pub clock: Clock,
    /// BDE's database.
    pub world: Mutex<World>,
    /// Login sessions.
    pub sessions: Sessions,
    /// Failure knobs (changeable at run time).
    pub faults: Mutex<Faults>,
    /// vCenter, as BDE drives it.
    pub vc: VCenter,
    /// Neutron, read by the DHCP model.
    pub neutron: Neutron,
    /// The guests of the VMs.
    pub guests: Guests,
    /// The web server's switch, and how long the next outage lasts (`POST /sim/outage`).
    pub server: Mutex<ServerSwitch>,
}

/// Stops the API for an outage: the serve loop rebinds once it has passed.
#[derive(Debug, Default)]
pub struct ServerSwitch {
    /// The running server.
    pub handle: Option<axum_server::Handle<std::net::SocketAddr>>,
    /// The outage asked for.
    pub outage: Option<std::time::Duration>,
}
