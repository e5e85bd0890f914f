//! BDE's error answers: `BddErrorMessage` bodies with the status ERRCODE gives
//! the code (`serengeti-errcode.properties`), and the two releases' rules for
//! everything else.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::legacy;

/// A `BddException`: a code and a message.
#[derive(Debug, Clone)]
pub struct BddError {
    /// `SECTION.ERROR_ID`.
    pub code: String,
    /// The formatted message.
    pub message: String,
}

impl BddError {
    /// An error with this code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    /// `BDD.NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("BDD.NOT_FOUND", message)
    }

    /// `BDD.INVALID_PARAMETER` "Invalid value: <what>=<value>."
    pub fn invalid(what: &str, value: &str) -> Self {
        Self::new("BDD.INVALID_PARAMETER", format!("Invalid value: {what}={value}."))
    }

    /// A failure outside BddException: malformed JSON, a bad enum, an NPE.
    pub fn internal(bad_json: Option<&str>) -> Self {
        match (legacy(), bad_json) {
            (false, _) => Self::new("BDD.INTERNAL_ERROR", "Internal server error: UNKNOWN."),
            (true, Some(detail)) => Self::new("BDD.BAD_REST_CALL", format!("Failed REST API call: {detail}")),
            (true, None) => Self::new(
                "BDD.INTERNAL_ERROR",
                "Internal server error: REST API transport layer error.",
            ),
        }
    }

    /// The HTTP status ERRCODE maps the code to.
    pub fn status(&self) -> StatusCode {
        let listed = match self.code.as_str() {
            "BDD.NOT_FOUND"
            | "VC_PROVIDER.RESOURCE_POOL_NOT_FOUND"
            | "VC_PROVIDER.DATASTORE_NOT_FOUND"
            | "CLUSTER_CONFIG.CLUSTER_CONFIG_NOT_FOUND" => Some(404),
            "BDD.ALREADY_EXISTS"
            | "BDD.INVALID_PARAMETER"
            | "BDD.MISSING_PARAMETER"
            | "BDD.BAD_REST_CALL"
            | "NETWORK.NETWORK_IN_USE" => Some(400),
            "BDD.INTERNAL_ERROR" => Some(500),
            "BDD.APP_INIT_ERROR" | "NETWORK.OUT_OF_IP_ADDR" | "TASK.EXECUTOR_OVERLOADED" => Some(503),
            "CLUSTER.CANNOT_DELETE" => Some(409),
            "BDD.ACCESS_NOT_ALLOWED_IN_MAINTENANCE_MODE" => Some(405),
            code if code.starts_with("CLUSTER_CONFIG.") => Some(400),
            _ => None,
        };
        // Codes ERRCODE does not list: 400 at 2.3.x, 500 in 2.2.0.
        let code = listed.unwrap_or(if legacy() { 500 } else { 400 });
        StatusCode::from_u16(code).expect("valid status")
    }
}

impl IntoResponse for BddError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message, "certInfo": null, "errors": null});
        if !legacy() {
            body["warning"] = json!(false);
        }
        (self.status(), axum::Json(body)).into_response()
    }
}

/// Tomcat's HTML error page, as the security filters answer (not JSON).
pub fn container_error(status: StatusCode, message: &str) -> Response {
    let html = format!(
        "<html><head><title>Apache Tomcat - Error report</title></head><body><h1>HTTP Status {} - {}</h1></body></html>",
        status.as_u16(),
        message
    );
    (status, [("Content-Type", "text/html;charset=utf-8")], html).into_response()
}
