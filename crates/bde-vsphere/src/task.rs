use std::time::{Duration, Instant};

use crate::error::Error;
use crate::moref::MoRef;
use crate::session::Client;
use crate::xml::Element;

/// Where a vCenter task stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskState {
    /// Queued or running.
    Running,
    /// Finished well, with its result element if any.
    Success(Option<Element>),
    /// Finished badly: fault type and message.
    Error {
        /// The fault type.
        fault: String,
        /// vCenter's message.
        message: String,
    },
}

impl Client {
    /// Reads a task's state once.
    pub async fn task_state(&self, task: &MoRef) -> Result<TaskState, Error> {
        let objects = self.read_objects(std::slice::from_ref(task), &["info"]).await?;
        let info = objects
            .first()
            .and_then(|o| o.get("info"))
            .ok_or_else(|| Error::Parse {
                method: "RetrievePropertiesEx".into(),
                reason: format!("no info for task {task}"),
            })?;
        Ok(match info.child_text("state").unwrap_or("") {
            "success" => TaskState::Success(info.get("result").cloned()),
            "error" => {
                let err = info.get("error");
                let fault = err
                    .and_then(|e| e.get("fault"))
                    .and_then(|f| f.xsi_type.clone())
                    .unwrap_or_else(|| "Fault".into());
                let message = err
                    .and_then(|e| e.child_text("localizedMessage"))
                    .unwrap_or("")
                    .to_string();
                TaskState::Error { fault, message }
            }
            _ => TaskState::Running,
        })
    }

    /// Polls a task until it ends or `timeout` passes; returns its result.
    pub async fn wait_task(&self, task: &MoRef, timeout: Duration) -> Result<Option<Element>, Error> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            match self.task_state(task).await? {
                TaskState::Success(result) => return Ok(result),
                TaskState::Error { fault, message } => {
                    return Err(Error::TaskFailed {
                        task: task.value.clone(),
                        fault,
                        message,
                    });
                }
                TaskState::Running if started.elapsed() >= timeout => {
                    return Err(Error::TaskTimeout {
                        task: task.value.clone(),
                        seconds: timeout.as_secs(),
                    });
                }
                TaskState::Running => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Starts a method that returns a task, and waits for it.
    pub async fn run_task(
        &self,
        method: &str,
        this: &MoRef,
        args: Vec<Element>,
        timeout: Duration,
    ) -> Result<Option<Element>, Error> {
        let task = self
            .call(method, this, args)
            .await?
            .and_then(|rv| MoRef::from_element(&rv))
            .ok_or_else(|| Error::Parse {
                method: method.to_string(),
                reason: "no task returned".into(),
            })?;
        self.wait_task(&task, timeout).await
    }
}
