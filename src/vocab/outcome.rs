//! How a run ended, how a command ended, and the one table from the latter to exit codes.

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

/// How a command ended. Every room that a command drives says which of these happened; the
/// command line turns it into a process exit code in one place ([`Exit::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done as asked, with no run to judge (a list, a check, a quit from the menu).
    Success,
    /// A run ended this way.
    Run(Outcome),
    /// Something threadlab itself could not do (the terminal, a summary it could not write).
    Failed,
    /// A mistake in how the command was asked for: a usage error, a scenario error, an output
    /// that could not be written.
    Usage,
    /// Stopped by this signal.
    Signal(u8),
    /// A traced program ended by itself with this status, which is passed on as it is, so
    /// that `threadlab trace x.py` exits as `python3 x.py` does.
    Program(u8),
}

impl Exit {
    /// The process exit code: 0 completed, 1 failed, 2 usage/scenario/output error,
    /// 3 deadlock, 4 timeout, 128+n for signal n.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success | Exit::Run(Outcome::Completed) => 0,
            Exit::Failed | Exit::Run(Outcome::Failed) => 1,
            Exit::Usage => 2,
            Exit::Run(Outcome::Deadlock) => 3,
            Exit::Run(Outcome::Timeout) => 4,
            Exit::Signal(n) => 128u8.saturating_add(n),
            Exit::Program(n) => n,
        }
    }
}

/// How a command that refused ends: a usage error, unless threadlab itself failed.
impl From<&crate::error::Error> for Exit {
    fn from(e: &crate::error::Error) -> Exit {
        if e.internal {
            Exit::Failed
        } else {
            Exit::Usage
        }
    }
}
