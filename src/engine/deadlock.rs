//! Deadlock detection from the engine's own wait-for graph.
//!
//! A blocked thread can only be woken by certain other threads: a lock by its holder, a permit by
//! a thread that will still release one, a barrier by a thread that will still arrive, a buffer
//! by a thread that will still put (or take), an event by a thread that will still set it. Threads that are not blocked can make progress;
//! so can a blocked thread any of whose possible wakers can. What is left when that fixed point
//! settles can never move again: that is a deadlock, and a cycle through it is what we report.

use super::primitives::View;
use crate::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx};

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

/// Look for threads that can never move again.
///
/// `views[r]` is resource r as read at one instant; `finished[t]` whether thread t is done or
/// failed; `pcs[t]` the step thread t is at (for a blocked thread, the step it is blocked in).
pub fn find(
    scenario: &Scenario,
    views: &[View],
    finished: &[bool],
    pcs: &[u32],
) -> Option<Deadlock> {
    let n = scenario.threads.len();
    let mut waiting_on: Vec<Option<ResIdx>> = vec![None; n];
    for (r, view) in views.iter().enumerate() {
        for &t in &view.waiters {
            waiting_on[t as usize] = Some(r as ResIdx);
        }
    }
    // A thread whose script still has a step of this kind on this resource can still act on it.
    let will = |t: usize, wanted: &dyn Fn(Op) -> bool| {
        !finished[t]
            && scenario.threads[t]
                .steps
                .get(pcs[t] as usize..)
                .is_some_and(|rest| rest.iter().any(|s| wanted(s.op)))
    };
    // Who could wake each waiting thread, and how many of them it needs.
    let wakers: Vec<(Vec<ThreadIdx>, usize)> = (0..n)
        .map(|t| {
            let Some(r) = waiting_on[t] else {
                return (Vec::new(), 0);
            };
            let view = &views[r as usize];
            let others = |wanted: &dyn Fn(Op) -> bool| -> Vec<ThreadIdx> {
                (0..n)
                    .filter(|&u| u != t && will(u, wanted))
                    .map(|u| u as ThreadIdx)
                    .collect()
            };
            match scenario.resources[r as usize].kind {
                ResourceKind::Mutex
                | ResourceKind::Gil { .. }
                | ResourceKind::RLock
                | ResourceKind::RwLock { .. } => (view.holders.clone(), 1),
                ResourceKind::Event => (others(&|op| op == Op::Set(r)), 1),
                // Nothing ever waits on a counter, nor for good on an event loop.
                ResourceKind::Counter | ResourceKind::EventLoop => (Vec::new(), 1),
                ResourceKind::Semaphore { .. } => (others(&|op| op == Op::Release(r)), 1),
                ResourceKind::Barrier { parties } => {
                    let missing = (parties as usize).saturating_sub(view.waiters.len());
                    let arrivers = others(&|op| op == Op::Wait(r))
                        .into_iter()
                        .filter(|u| !view.waiters.contains(u))
                        .collect();
                    (arrivers, missing.max(1))
                }
                ResourceKind::Buffer { .. } => {
                    let producing = scenario.threads[t]
                        .steps
                        .get(pcs[t] as usize)
                        .is_some_and(|s| matches!(s.op, Op::Put(_)));
                    if producing {
                        (others(&|op| op == Op::Take(r)), 1)
                    } else {
                        (others(&|op| op == Op::Put(r)), 1)
                    }
                }
            }
        })
        .collect();
    // A lock with a timeout gives up by itself: whoever waits in one can always move.
    let timed = |t: usize| {
        scenario.threads[t]
            .steps
            .get(pcs[t] as usize)
            .is_some_and(|s| matches!(s.op, Op::TryLock { .. }))
    };
    let mut can_move: Vec<bool> = (0..n)
        .map(|t| !finished[t] && (waiting_on[t].is_none() || timed(t)))
        .collect();
    loop {
        let mut changed = false;
        for t in 0..n {
            if can_move[t] || finished[t] {
                continue;
            }
            let (who, needed) = &wakers[t];
            let movers = who.iter().filter(|&&u| can_move[u as usize]).count();
            // A GIL with no holder is free for the taking.
            let free_gil = matches!(
                waiting_on[t].map(|r| scenario.resources[r as usize].kind),
                Some(ResourceKind::Gil { .. })
            ) && who.is_empty();
            if movers >= *needed || free_gil {
                can_move[t] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let stuck: Vec<ThreadIdx> = (0..n)
        .filter(|&t| waiting_on[t].is_some() && !can_move[t])
        .map(|t| t as ThreadIdx)
        .collect();
    let &first = stuck.first()?;
    // Walk the chain of blame from the first stuck thread until it closes on itself.
    let mut chain: Vec<WaitEdge> = Vec::new();
    let mut at = first;
    loop {
        if let Some(pos) = chain.iter().position(|e| e.thread == at) {
            chain.drain(..pos);
            break;
        }
        let resource = waiting_on[at as usize].expect("stuck threads are waiting");
        let (who, _) = &wakers[at as usize];
        let blamed = who
            .iter()
            .copied()
            .find(|u| stuck.contains(u))
            .or_else(|| who.first().copied());
        chain.push(WaitEdge {
            thread: at,
            resource,
            held_by: blamed,
        });
        match blamed {
            Some(next) if stuck.contains(&next) => at = next,
            _ => {
                // No cycle: the chain ends at a thread waiting for what nobody can still
                // provide. That thread is the whole story; the rest only wait behind it.
                chain.drain(..chain.len() - 1);
                break;
            }
        }
    }
    Some(Deadlock {
        cycle: chain,
        stuck,
    })
}
