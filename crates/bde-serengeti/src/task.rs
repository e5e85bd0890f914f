use serde::{Deserialize, Serialize};

/// A task (`TaskRead`), the Spring Batch job execution behind a 202.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRead {
    /// The job execution id.
    pub id: i64,
    /// `STARTING`, `STARTED`, `STOPPING`, `STOPPED`, `COMPLETED`, `FAILED`, `ABANDONED`, `UNKNOWN`.
    pub status: String,
    /// `INNER`, `VHM`, `DELETE`, `SHRINK`.
    #[serde(rename = "type")]
    pub kind: String,
    /// 0.0 to 1.0.
    pub progress: f64,
    /// Set when `FAILED`.
    pub error_message: Option<String>,
    /// Server-side work directory.
    pub work_dir: Option<String>,
    /// A progress note.
    pub progress_message: Option<String>,
    /// The cluster name.
    pub target: Option<String>,
    /// Per-node results of composed jobs (shrink).
    pub succeed_nodes: Option<Vec<NodeResult>>,
    /// Per-node failures of composed jobs (shrink).
    pub fail_nodes: Option<Vec<NodeResult>>,
}

impl TaskRead {
    /// True once the task can no longer change.
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETED" | "FAILED" | "STOPPED" | "ABANDONED")
    }
}

/// One node's outcome in a composed task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeResult {
    /// The VM name.
    pub node_name: String,
    /// Its address, if known.
    pub ip: Option<String>,
    /// Its status.
    pub status: Option<String>,
    /// Memory (MB).
    pub memory: i64,
    /// CPUs.
    pub cpu_number: i32,
    /// Whether its part succeeded.
    pub succeed: bool,
    /// Why not.
    pub error_message: Option<String>,
}
