//! The limits that keep a classroom machine responsive, which both reading a scenario and
//! checking it enforce, and how a long duration is said in their messages.

use std::time::Duration;

use super::duration;

/// A long duration as people say it: `10m`, `2h 46m 40s`; shorter ones as written in files.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        return duration::format(d);
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    [(h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Largest scenario file read, in bytes. Far above any lesson (the built-ins are about 1 KiB),
/// and low enough that the KDL parser, whose error recovery recurses once per malformed token
/// (about 0.5 KiB of stack per byte of junk, measured), stays within its thread's stack.
pub const MAX_FILE_BYTES: usize = 64 << 10;
pub use super::model::{MAX_TASKS, MAX_THREADS};
/// Most resources declared in a scenario.
pub const MAX_RESOURCES: usize = 64;
/// Most steps in all threads together, after `repeat` is unrolled.
pub const MAX_STEPS: usize = 100_000;
/// Largest `count=` on one thread node.
pub const MAX_COUNT: u32 = MAX_THREADS as u32;
/// Largest `count=` on one task node.
pub const MAX_TASK_COUNT: u32 = MAX_TASKS as u32;
/// Largest `repeat N`.
pub const MAX_REPEAT: u32 = 10_000;
/// Longest single duration (`work`, `sleep`, a GIL interval).
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// Most `work` + `sleep` time in one thread: no scenario that would run for hours.
pub const MAX_THREAD_TIME: Duration = Duration::from_secs(600);
/// Largest `permits=` and `capacity=`.
pub(crate) const MAX_AMOUNT: u32 = 10_000;
