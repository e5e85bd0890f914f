//! bde-heat's engine: a cluster's life as resumable, idempotent steps.
//!
//! The caller (the CLI, or the Heat plugin through PyO3) keeps a plain serde
//! [`State`] and calls [`create_step`] / [`delete_step`] until they report
//! done. Each step does a bounded amount of remote work, first looks at what
//! exists, and only then creates what is missing, so a step repeated after a
//! crash never makes anything twice.

mod check;
mod clients;
mod create;
mod credentials;
mod day2;
mod delete;
mod error;
mod outage;
mod report;
mod spec;
mod state;
mod wire;

pub use check::{Drift, check, repair_step};
pub use clients::{CallCounts, Clients};
pub use create::{NeutronIds, check_neutron, create_step};
pub use credentials::{CredentialEntry, Credentials};
pub use day2::{Change, change_step};
pub use delete::delete_step;
pub use error::{EngineError, FieldError};
pub use outage::{OUTAGE_SECONDS, ride_out};
pub use report::{ClusterReport, NodeReport, NodeTimeline, report};
pub use spec::{ClusterSpec, NodeGroupSpec, ValidSpec, bde_url, validate};
pub use state::{Phase, State};
pub use wire::observe;

/// What a step achieved.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// More steps are needed; the text says where things stand.
    Pending(String),
    /// Finished.
    Done,
}
