//! The BDE (Serengeti) management server's REST API: types and a client.
//!
//! Field names are Jackson's (bean getters), not the Gson `@SerializedName`s
//! in the server's sources: `instanceNum`, `nodeGroups`, `portGroup`
//! (`../shared/docs/serengeti-rest-api.md` §3). Request bodies refuse unknown
//! fields, as the server's default ObjectMapper does. Shared by the client
//! and the simulator, so both speak the same JSON.

mod client;
mod cluster;
mod error;
mod network;
pub mod rules;
pub mod services;
mod task;

pub use client::{Bde, BdeConfig, BdeError, TaskRef};
pub use cluster::*;
pub use error::BddErrorMessage;
pub use network::*;
pub use task::*;

/// The API path prefix below the server's base URL.
pub const API_PREFIX: &str = "/serengeti/api";
/// The form-login URL (outside the API prefix).
pub const LOGIN_PATH: &str = "/serengeti/j_spring_security_check";
/// The logout URL.
pub const LOGOUT_PATH: &str = "/serengeti/j_spring_security_logout";
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "JSESSIONID";
/// `ipAddress` of a NIC without an address.
pub const NO_ADDRESS: &str = "0.0.0.0";
