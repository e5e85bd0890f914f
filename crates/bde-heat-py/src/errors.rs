//! The exception tree the Python side catches: one base class, one subclass
//! per engine error kind, each carrying what Heat needs to report it
//! (`fields`, `service`, `vendor_status`, `vendor_code`) and the engine state
//! to save (`state`, `None` when nothing changed). A Rust panic becomes
//! `InternalError`, never a `BaseException` that would abort Heat's traversal.

use bde_engine::{EngineError, ErrorKind};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _engine,
    BdeError,
    PyException,
    "Base class of every bde-heat engine error."
);
create_exception!(
    _engine,
    InvalidInputError,
    BdeError,
    "The spec is wrong; `fields` name each problem."
);
create_exception!(
    _engine,
    NotOursError,
    BdeError,
    "The cluster was not created or adopted by bde-heat."
);
create_exception!(
    _engine,
    ConflictError,
    BdeError,
    "The cluster's state forbids the action."
);
create_exception!(
    _engine,
    RemoteFailedError,
    BdeError,
    "A service answered with a definite error."
);
create_exception!(
    _engine,
    TaskFailedError,
    BdeError,
    "BDE reported that its task failed (its own message)."
);
create_exception!(
    _engine,
    UnavailableError,
    BdeError,
    "A service stayed unreachable for longer than the engine waits."
);
create_exception!(
    _engine,
    EngineTimeoutError,
    BdeError,
    "Something did not happen within its bound."
);
create_exception!(
    _engine,
    InternalError,
    BdeError,
    "A bug in bde-heat (a Rust panic), reported instead of crashing."
);

/// The exception for an engine error, with its attributes and the state to save.
pub fn to_py(py: Python<'_>, e: &EngineError, state: Option<String>) -> PyErr {
    let message = e.to_string();
    let err = match e.kind {
        ErrorKind::InvalidInput => InvalidInputError::new_err(message),
        ErrorKind::NotOurs => NotOursError::new_err(message),
        ErrorKind::Conflict => ConflictError::new_err(message),
        ErrorKind::RemoteFailed => RemoteFailedError::new_err(message),
        ErrorKind::TaskFailed => TaskFailedError::new_err(message),
        ErrorKind::Unavailable => UnavailableError::new_err(message),
        ErrorKind::Timeout => EngineTimeoutError::new_err(message),
    };
    let value = err.value(py);
    let fields: Vec<(String, String)> = e.fields.iter().map(|f| (f.field.clone(), f.message.clone())).collect();
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = value.setattr("kind", kind);
    let _ = value.setattr("fields", fields);
    let _ = value.setattr("service", e.service.map(|s| s.to_string()));
    let _ = value.setattr("vendor_status", e.vendor_status);
    let _ = value.setattr("vendor_code", e.vendor_code.clone());
    let _ = value.setattr("state", state);
    err
}

/// A panic's payload as an `InternalError`, with the state to save.
pub fn internal(py: Python<'_>, what: &str, state: Option<String>) -> PyErr {
    let err = InternalError::new_err(format!("bde-heat internal error ({what}): please report it"));
    let value = err.value(py);
    let _ = value.setattr("kind", "internal");
    let _ = value.setattr("fields", Vec::<(String, String)>::new());
    let _ = value.setattr("service", py.None());
    let _ = value.setattr("vendor_status", py.None());
    let _ = value.setattr("vendor_code", py.None());
    let _ = value.setattr("state", state);
    err
}

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for (name, class) in [
        ("BdeError", py.get_type::<BdeError>()),
        ("InvalidInputError", py.get_type::<InvalidInputError>()),
        ("NotOursError", py.get_type::<NotOursError>()),
        ("ConflictError", py.get_type::<ConflictError>()),
        ("RemoteFailedError", py.get_type::<RemoteFailedError>()),
        ("TaskFailedError", py.get_type::<TaskFailedError>()),
        ("UnavailableError", py.get_type::<UnavailableError>()),
        ("EngineTimeoutError", py.get_type::<EngineTimeoutError>()),
        ("InternalError", py.get_type::<InternalError>()),
    ] {
        m.add(name, class)?;
    }
    Ok(())
}
