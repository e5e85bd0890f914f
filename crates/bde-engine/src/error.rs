//! The engine's one error type. It keeps what a caller needs to act on a
//! failure: its kind (which decides the CLI's exit code and the Heat
//! exception), the service that failed, the vendor's status and code, and the
//! source chain. Messages carry no secret.

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

/// What kind of failure, for the caller to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The spec (or a name in it) is wrong; nothing was changed.
    InvalidInput,
    /// The cluster (or network) was not created or adopted by this product.
    NotOurs,
    /// The cluster is in a state that forbids the action (stopped, being deleted).
    Conflict,
    /// A service answered with a definite error.
    RemoteFailed,
    /// BDE reported that its task failed (a clone, a resize): BDE's own message.
    TaskFailed,
    /// A service could not be reached through the transport's retries: it may come back.
    Unavailable,
    /// Something did not happen within its bound.
    Timeout,
}

/// The remote service an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Service {
    /// BDE (the Serengeti server).
    #[serde(rename = "BDE")]
    Bde,
    /// vCenter.
    #[serde(rename = "vCenter")]
    VCenter,
    /// Neutron or Keystone.
    #[serde(rename = "OpenStack")]
    OpenStack,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Bde => "BDE",
            Service::VCenter => "vCenter",
            Service::OpenStack => "OpenStack",
        })
    }
}

/// Why a step failed.
#[derive(Debug)]
pub struct EngineError {
    /// Its kind.
    pub kind: ErrorKind,
    /// What happened and what to do, for people.
    pub message: String,
    /// For `InvalidInput`: each field and its problem.
    pub fields: Vec<FieldError>,
    /// The service that failed, if one did.
    pub service: Option<Service>,
    /// The vendor's HTTP status, if it answered.
    pub vendor_status: Option<u16>,
    /// The vendor's own code (`CLUSTER.CANNOT_DELETE`, `MacAddressInUse`, a SOAP fault type).
    pub vendor_code: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl EngineError {
    /// An error of `kind` with a message and nothing else.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: Vec::new(),
            service: None,
            vendor_status: None,
            vendor_code: None,
            source: None,
        }
    }

    /// The spec is wrong in these fields.
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let message = format!(
            "invalid cluster spec: {}",
            fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        );
        Self {
            fields,
            ..Self::new(ErrorKind::InvalidInput, message)
        }
    }

    /// One field error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// Not this product's to touch.
    pub fn not_ours(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotOurs, message)
    }

    /// The cluster's state forbids the action.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// BDE reported that an operation failed: its own message.
    pub fn bde_failed(message: impl Into<String>) -> Self {
        Self {
            service: Some(Service::Bde),
            ..Self::new(ErrorKind::TaskFailed, format!("BDE: {}", message.into()))
        }
    }

    /// A definite failure of a service, not from a client error.
    pub fn remote(service: Service, message: impl Into<String>) -> Self {
        Self {
            service: Some(service),
            ..Self::new(ErrorKind::RemoteFailed, message)
        }
    }

    /// Something did not happen within its bound.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, format!("timed out: {}", message.into()))
    }

    /// A service unreachable for longer than the caller waits.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// The same error with another message (the kind, service and source kept).
    pub fn with_message(mut self, message: String) -> Self {
        self.message = message;
        self
    }

    /// True when trying again later may help.
    pub fn is_unavailable(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }

    fn from_client<E>(service: Service, e: E, status: Option<u16>, code: Option<String>) -> Self
    where
        E: bde_transport::Transient + std::error::Error + Send + Sync + 'static,
    {
        let kind = if e.is_transient() {
            ErrorKind::Unavailable
        } else {
            ErrorKind::RemoteFailed
        };
        Self {
            kind,
            message: e.to_string(),
            fields: Vec::new(),
            service: Some(service),
            vendor_status: status,
            vendor_code: code,
            source: Some(Box::new(e)),
        }
    }
}

impl From<bde_serengeti::BdeError> for EngineError {
    fn from(e: bde_serengeti::BdeError) -> Self {
        let (status, code) = (e.status(), e.code().map(str::to_string));
        Self::from_client(Service::Bde, e, status, code)
    }
}

impl From<bde_vsphere::Error> for EngineError {
    fn from(e: bde_vsphere::Error) -> Self {
        let code = match &e {
            bde_vsphere::Error::Fault { fault, .. } | bde_vsphere::Error::TaskFailed { fault, .. } => {
                Some(fault.clone())
            }
            _ => None,
        };
        let status = match &e {
            bde_vsphere::Error::Status { status, .. } => Some(status.as_u16()),
            _ => None,
        };
        Self::from_client(Service::VCenter, e, status, code)
    }
}

impl From<bde_openstack::Error> for EngineError {
    fn from(e: bde_openstack::Error) -> Self {
        let code = match &e {
            bde_openstack::Error::Api { kind, .. } => kind.clone(),
            _ => None,
        };
        let status = e.status();
        Self::from_client(Service::OpenStack, e, status, code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_error_names_the_field_and_is_invalid_input() {
        let e = EngineError::field("cluster_name", "is required");
        assert_eq!(e.kind, ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), "invalid cluster spec: cluster_name: is required");
        assert_eq!(e.fields[0].field, "cluster_name");
    }

    #[test]
    fn a_bde_api_error_keeps_its_status_code_and_source() {
        let e: EngineError = bde_serengeti::BdeError::Api {
            what: "DELETE /cluster/x".into(),
            status: 400,
            code: "CLUSTER.CANNOT_DELETE".into(),
            message: "busy".into(),
        }
        .into();
        assert_eq!(e.kind, ErrorKind::RemoteFailed);
        assert_eq!(e.service, Some(Service::Bde));
        assert_eq!(e.vendor_status, Some(400));
        assert_eq!(e.vendor_code.as_deref(), Some("CLUSTER.CANNOT_DELETE"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn a_bde_503_is_unavailable() {
        let e: EngineError = bde_serengeti::BdeError::Api {
            what: "GET /cluster/x".into(),
            status: 503,
            code: String::new(),
            message: "down".into(),
        }
        .into();
        assert!(e.is_unavailable());
    }
}
