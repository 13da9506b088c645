//! The engine: a scenario's threads as real OS threads on real blocking primitives.
//!
//! `Run::start` spawns the threads (and one event loop thread for a scenario's tasks); the
//! conductor pauses, steps and cancels them; each primitive records what happens to it; the
//! watcher finds deadlocks in the wait-for graph. The engine knows nothing of who reads its
//! events.

pub mod breaks;
pub mod child;
pub mod clock;
pub mod conductor;
pub mod deadlock;
pub mod footprint;
mod homes;
pub mod primitives;
pub mod process;
pub mod recorder;
pub mod run;
mod script;
mod tasks;
pub mod work;

pub use breaks::{Breakpoint, Hit, Why};
pub use conductor::StepError;
pub use run::{Phase, Run, RunOptions};
