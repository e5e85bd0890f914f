use std::fmt;

/// One problem with one field of the spec, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The property, e.g. `cluster_name` or `node_groups[1].name`.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a step failed. Messages carry no secret.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The spec is wrong; nothing was changed.
    #[error("invalid cluster spec: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidSpec(Vec<FieldError>),
    /// A remote service gave a definite error.
    #[error("{0}")]
    Remote(String),
    /// A remote service could not be reached, or answered "try later", through
    /// all of the transport's retries: it may come back (see [`crate::ride_out`]).
    #[error("{0}")]
    Unavailable(String),
    /// BDE reported the operation failed: its own message.
    #[error("BDE: {0}")]
    Failed(String),
    /// Something did not happen within its bound.
    #[error("timed out: {0}")]
    Timeout(String),
}

impl EngineError {
    /// One field error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        EngineError::InvalidSpec(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

/// A service's error: `Unavailable` when trying again later may help.
fn remote(e: impl bde_transport::Transient + fmt::Display) -> EngineError {
    if e.is_transient() {
        EngineError::Unavailable(e.to_string())
    } else {
        EngineError::Remote(e.to_string())
    }
}

impl From<bde_serengeti::BdeError> for EngineError {
    fn from(e: bde_serengeti::BdeError) -> Self {
        remote(e)
    }
}

impl From<bde_vsphere::Error> for EngineError {
    fn from(e: bde_vsphere::Error) -> Self {
        remote(e)
    }
}

impl From<bde_openstack::Error> for EngineError {
    fn from(e: bde_openstack::Error) -> Self {
        remote(e)
    }
}
