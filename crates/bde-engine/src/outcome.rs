//! What a step achieved.

/// What a step achieved.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It changed something; the next step may follow at once.
    Acted(String),
    /// It is waiting for something outside (BDE's task, a guest's address); poll again later.
    Waiting(String),
    /// The action is finished.
    Done,
}

impl Outcome {
    /// True when the action is finished.
    pub fn is_done(&self) -> bool {
        *self == Outcome::Done
    }
}
