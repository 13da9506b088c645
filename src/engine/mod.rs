//! The engine: a scenario's threads as real OS threads on real blocking primitives.

pub mod deadlock;
