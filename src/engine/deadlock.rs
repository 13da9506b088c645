//! Deadlock detection from the engine's own wait-for graph.
//!
//! A blocked thread can only be woken by certain other threads: a lock by its holder, a permit by
//! a thread that will still release one, a barrier by a thread that will still arrive, a buffer
//! by a thread that will still put (or take). Threads that are not blocked can make progress;
//! so can a blocked thread any of whose possible wakers can. What is left when that fixed point
//! settles can never move again: that is a deadlock, and a cycle through it is what we report.

use crate::scenario::model::{ResIdx, Scenario, ThreadIdx};

/// One link of a wait-for chain: `thread` waits for `resource`, which `held_by` holds
/// (or could release, for resources that are not plain locks).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WaitEdge {
    pub thread: ThreadIdx,
    pub resource: ResIdx,
    pub held_by: Option<ThreadIdx>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlock {
    /// The cycle in order, each edge's `held_by` being the next edge's `thread`; for a thread
    /// that waits on something nobody left can ever provide, a single edge with `held_by: None`.
    pub cycle: Vec<WaitEdge>,
    /// Every thread that can never move again (the cycle and everything waiting on it).
    pub stuck: Vec<ThreadIdx>,
}

impl Deadlock {
    /// "T1 waits for B held by T2, T2 waits for A held by T1".
    pub fn describe(&self, scenario: &Scenario) -> String {
        self.cycle
            .iter()
            .map(|e| {
                let t = scenario.thread_name(e.thread);
                let r = scenario.resource_name(e.resource);
                match e.held_by {
                    Some(h) => format!("{t} waits for {r} held by {}", scenario.thread_name(h)),
                    None => format!("{t} waits for {r}, which no thread left can provide"),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}
