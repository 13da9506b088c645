//! How a run ended, and the process exit code that says so.

use serde::Serialize;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every thread finished its script.
    Completed,
    /// Threads were stuck waiting on each other (or on something nobody left could provide).
    Deadlock,
    /// The run was stopped by `--for` before it ended.
    Timeout,
    /// At least one thread failed with a runtime error.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Completed,
        Outcome::Deadlock,
        Outcome::Timeout,
        Outcome::Failed,
    ];

    /// The outcome whose [`Outcome::name`] is `name`.
    pub fn from_name(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Deadlock => "deadlock",
            Outcome::Timeout => "timeout",
            Outcome::Failed => "failed",
        }
    }

    /// The process exit code for this outcome (2 is for usage and scenario errors).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Completed => 0,
            Outcome::Failed => 1,
            Outcome::Deadlock => 3,
            Outcome::Timeout => 4,
        }
    }

    /// A failure is the root cause of whatever follows it (threads left waiting on a failed
    /// thread's lock are reported as a deadlock by the engine), so it wins; then a deadlock;
    /// then running out of time.
    pub fn decide(any_failed: bool, deadlock: bool, finished: bool) -> Outcome {
        if any_failed {
            Outcome::Failed
        } else if deadlock {
            Outcome::Deadlock
        } else if finished {
            Outcome::Completed
        } else {
            Outcome::Timeout
        }
    }
}
