//! The run's vocabulary: what every side of a run speaks of — events and thread states, a
//! deadlock's wait-for chain, how a run ended, and the recording file. It sits below the
//! engine that produces runs and the trace, views and exports that read them (as
//! tokio-console's `console-api` sits below both of its sides), so the flow has one direction.

pub mod deadlock;
pub mod event;
pub mod outcome;
pub mod recording;

pub use deadlock::{Blame, Deadlock, WaitEdge, Want};
pub use outcome::{Exit, Outcome};
pub use recording::Recording;
