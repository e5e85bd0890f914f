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

/// Where a task stands, from its Spring Batch status.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// Starting or running; progress from 0.0 to 1.0.
    Running(f64),
    /// Finished well.
    Completed,
    /// `FAILED`, `STOPPED` or `ABANDONED`: BDE's message, if any.
    Failed(Option<String>),
}

impl TaskRead {
    /// True once the task can no longer change.
    pub fn is_finished(&self) -> bool {
        !matches!(self.outcome(), TaskOutcome::Running(_))
    }

    /// The task's status as a closed set (unknown statuses count as running).
    pub fn outcome(&self) -> TaskOutcome {
        match self.status.as_str() {
            "COMPLETED" => TaskOutcome::Completed,
            "FAILED" | "STOPPED" | "ABANDONED" => TaskOutcome::Failed(self.error_message.clone()),
            _ => TaskOutcome::Running(self.progress),
        }
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
