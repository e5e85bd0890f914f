use bde_transport::{Transient, TransportError, is_transient_reqwest, is_transient_status};

/// What went wrong talking to Keystone or Neutron. No variant carries a token or password.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client could not be built.
    #[error("OpenStack client: {0}")]
    Transport(#[from] TransportError),
    /// No answer (refused, reset, timed out).
    #[error("{service} {what}: {}", bde_transport::explain(source))]
    Http {
        /// `Keystone` or `Neutron`.
        service: &'static str,
        /// The call.
        what: String,
        /// The transport failure.
        #[source]
        source: reqwest::Error,
    },
    /// An error answer, with the server's own message.
    #[error("{service} {what}: HTTP {status}{}: {message}", kind.as_deref().map(|k| format!(" {k}")).unwrap_or_default())]
    Api {
        /// `Keystone` or `Neutron`.
        service: &'static str,
        /// The call.
        what: String,
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// Neutron's fault type (`MacAddressInUse`, `OverQuota`, ...).
        kind: Option<String>,
        /// The server's message.
        message: String,
    },
    /// The answer did not have the promised shape.
    #[error("{service} {what}: unexpected answer: {reason}")]
    Parse {
        /// `Keystone` or `Neutron`.
        service: &'static str,
        /// The call.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// The catalog has no such endpoint.
    #[error("the Keystone catalog has no {interface} {service_type} endpoint{}", region.as_deref().map(|r| format!(" in region {r}")).unwrap_or_default())]
    NoEndpoint {
        /// The service type, e.g. `network`.
        service_type: String,
        /// `public`, `internal` or `admin`.
        interface: String,
        /// The region asked for.
        region: Option<String>,
    },
}

/// An answer's body as text, refusing one larger than `MAX_BODY_BYTES`.
pub(crate) async fn read_text(resp: reqwest::Response, service: &'static str, what: &str) -> Result<String, Error> {
    match bde_transport::read_body(resp, bde_transport::MAX_BODY_BYTES).await {
        Ok(body) => Ok(String::from_utf8_lossy(&body).into_owned()),
        Err(bde_transport::BodyError::Http(source)) => Err(Error::Http {
            service,
            what: what.into(),
            source,
        }),
        Err(too_large) => Err(Error::Parse {
            service,
            what: what.into(),
            reason: too_large.to_string(),
        }),
    }
}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(status.as_u16()),
            _ => None,
        }
    }

    /// True for 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True for 409.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }
}

impl Transient for Error {
    fn is_transient(&self) -> bool {
        match self {
            Error::Http { source, .. } => is_transient_reqwest(source),
            Error::Api { status, .. } => is_transient_status(*status),
            _ => false,
        }
    }
}

/// Reads an error body: Neutron's `{"NeutronError": {"type", "message"}}`,
/// Keystone's `{"error": {"message"}}`, or the raw text.
pub(crate) fn api_error(service: &'static str, what: &str, status: reqwest::StatusCode, body: &str) -> Error {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let inner = json
        .as_ref()
        .and_then(|j| j.get("NeutronError").or_else(|| j.get("error")));
    let message = inner
        .and_then(|e| e.get("message"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| body.chars().take(300).collect());
    let kind = inner
        .and_then(|e| e.get("type"))
        .and_then(|t| t.as_str())
        .map(str::to_string);
    Error::Api {
        service,
        what: what.to_string(),
        status,
        kind,
        message,
    }
}
