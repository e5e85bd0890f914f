use bde_transport::{Transient, TransportError, is_transient_reqwest, is_transient_status};

/// What went wrong talking to vCenter. No variant carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client could not be built (CA file, TLS settings).
    #[error("vCenter client: {0}")]
    Transport(#[from] TransportError),
    /// The request did not get an answer (connection refused or reset, timeout).
    #[error("vCenter {method}: {}", bde_transport::explain(source))]
    Http {
        /// The vim25 method.
        method: String,
        /// The transport failure.
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP error without a SOAP fault.
    #[error("vCenter {method}: HTTP {status}")]
    Status {
        /// The vim25 method.
        method: String,
        /// The HTTP status.
        status: reqwest::StatusCode,
    },
    /// vCenter answered with a SOAP fault.
    #[error("vCenter {method} failed: {fault}: {message}")]
    Fault {
        /// The vim25 method.
        method: String,
        /// The fault type, e.g. `InvalidLogin`, `InvalidPowerState`.
        fault: String,
        /// vCenter's own message.
        message: String,
    },
    /// The answer was not what vim25 promises.
    #[error("vCenter {method}: unexpected answer: {reason}")]
    Parse {
        /// The vim25 method.
        method: String,
        /// What was missing or malformed.
        reason: String,
    },
    /// A task ended in error.
    #[error("vCenter task {task} failed: {fault}: {message}")]
    TaskFailed {
        /// The task.
        task: String,
        /// The fault type.
        fault: String,
        /// vCenter's message.
        message: String,
    },
    /// A task did not finish within its bound.
    #[error("vCenter task {task} did not finish within {seconds} s")]
    TaskTimeout {
        /// The task.
        task: String,
        /// The bound.
        seconds: u64,
    },
    /// The URL given for vCenter is not usable.
    #[error("vcenter url {url:?}: {reason} (expected e.g. https://vcenter.example.com/sdk)")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
}

impl Error {
    /// True for a fault of this type.
    pub fn is_fault(&self, fault: &str) -> bool {
        matches!(self, Error::Fault { fault: f, .. } if f == fault)
    }

    /// True when the session is gone and a new login may help.
    pub fn is_not_authenticated(&self) -> bool {
        self.is_fault("NotAuthenticated")
    }
}

impl Transient for Error {
    fn is_transient(&self) -> bool {
        match self {
            Error::Http { source, .. } => is_transient_reqwest(source),
            Error::Status { status, .. } => is_transient_status(*status),
            _ => false,
        }
    }
}
