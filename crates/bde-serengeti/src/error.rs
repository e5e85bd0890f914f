use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// BDE's error body (`BddErrorMessage`): `code` is `SECTION.ERROR_ID`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BddErrorMessage {
    /// E.g. `BDD.NOT_FOUND`, `CLUSTER.CANNOT_DELETE`.
    pub code: String,
    /// The server's message.
    pub message: String,
    /// Certificate details (only for vCenter trust errors).
    #[serde(default)]
    pub cert_info: Option<serde_json::Value>,
    /// Whether this is only a warning (2.3.x; absent in 2.2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<bool>,
    /// Per-field errors.
    #[serde(default)]
    pub errors: Option<BTreeMap<String, serde_json::Value>>,
}
