//! What a run did: events, and everything computed from them.

pub mod event;
pub mod gil;
pub mod invariants;
