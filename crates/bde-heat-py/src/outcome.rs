//! A step's outcome as the Python side reads it (JSON).

use bde_engine::{Drift, EngineError, FieldError, Outcome};
use serde::Serialize;

/// `status` is `pending`, `done`, `invalid` (the spec; `fields` name each
/// problem), `failed` (BDE said no: its message), `remote` (a service failed
/// after retries) or `timeout`.
#[derive(Debug, Serialize)]
pub struct StepResult {
    status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<Vec<Drift>>,
}

impl StepResult {
    fn new(status: &'static str, message: String) -> Self {
        Self {
            status,
            message,
            fields: Vec::new(),
            drift: None,
        }
    }

    /// Finished.
    pub fn done() -> Self {
        Self::new("done", String::new())
    }

    /// The spec is not JSON of the expected shape (an unknown key, a wrong type).
    pub fn bad_json(e: serde_json::Error) -> Self {
        // serde names the key in its message ("unknown field `x`, expected one of ...").
        let mut r = Self::new("invalid", format!("invalid cluster spec: {e}"));
        r.fields.push(FieldError {
            field: field_of(&e.to_string()).unwrap_or_else(|| "properties".into()),
            message: e.to_string(),
        });
        r
    }

    /// A step's time bound passed.
    pub fn timed_out(seconds: f64) -> Self {
        Self::new(
            "timeout",
            format!("the step did not finish within {seconds} s; the next poll goes on from the saved state"),
        )
    }

    /// Adds the result of a check.
    pub fn with_drift(mut self, drift: Vec<Drift>) -> Self {
        self.drift = Some(drift);
        self
    }
}

fn field_of(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

impl From<EngineError> for StepResult {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        match e {
            EngineError::InvalidSpec(fields) => Self {
                fields,
                ..Self::new("invalid", message)
            },
            EngineError::Failed(_) => Self::new("failed", message),
            EngineError::Remote(_) | EngineError::Unavailable(_) => Self::new("remote", message),
            EngineError::Timeout(_) => Self::new("timeout", message),
        }
    }
}

impl From<Result<Outcome, EngineError>> for StepResult {
    fn from(r: Result<Outcome, EngineError>) -> Self {
        match r {
            Ok(Outcome::Done) => Self::done(),
            Ok(Outcome::Pending(note)) => Self::new("pending", note),
            Err(e) => e.into(),
        }
    }
}
