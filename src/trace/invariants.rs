//! The promises each primitive makes, checked against a recorded run.
//!
//! Tests use these on real runs (threads are nondeterministic, so what is asserted is what must
//! hold in every run), and so can anyone holding an event log. Events are taken in time order;
//! events that change a primitive are stamped under its lock, so that order is the true one.

use std::collections::VecDeque;

use crate::scenario::model::{Op, ResourceKind, Scenario, ThreadIdx};
use crate::trace::event::{Event, EventKind};

/// What one resource went through, for assertions beyond "nothing was broken".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceFacts {
    /// Most threads holding it at once (lock holder, permits, GIL).
    pub most_holders: usize,
    /// Most items in a buffer at once.
    pub most_fill: usize,
    pub puts: u64,
    pub takes: u64,
    /// Barrier generations completed.
    pub trips: u64,
    /// Hand-offs (an acquire with a `by`).
    pub handoffs: u64,
}

/// Check every primitive's invariants over `events`. Returns per-resource facts, or the first
/// broken promise in words.
pub fn check(scenario: &Scenario, events: &[Event]) -> Result<Vec<ResourceFacts>, String> {
    let mut ordered = events.to_vec();
    ordered.sort_by_key(|e| e.t_ns);
    let n = scenario.resources.len();
    let mut facts = vec![ResourceFacts::default(); n];
    let mut holders: Vec<Vec<ThreadIdx>> = vec![Vec::new(); n];
    let mut items: Vec<VecDeque<u32>> = vec![VecDeque::new(); n];
    let mut last_put: Vec<u32> = vec![0; n];
    let mut arrived: Vec<usize> = vec![0; n];
    let mut passes_due: Vec<usize> = vec![0; n];
    let mut drop_pending: Vec<bool> = vec![false; n];
    let name = |t: ThreadIdx| scenario.thread_name(t).to_string();
    for e in &ordered {
        let Some(r) = e.resource else {
            if e.kind == EventKind::Run
                && let Some(g) = scenario.threads[e.thread as usize].gil
                && !holders[g as usize].contains(&e.thread)
            {
                return Err(format!(
                    "{} computed at {} µs without holding the GIL",
                    name(e.thread),
                    e.t_ns / 1000
                ));
            }
            continue;
        };
        let ri = r as usize;
        let res = &scenario.resources[ri];
        let at = format!("at {} µs", e.t_ns / 1000);
        let who = name(e.thread);
        match (res.kind, e.kind) {
            (ResourceKind::Mutex | ResourceKind::Gil { .. }, EventKind::Acquire) => {
                if let Some(&h) = holders[ri].first() {
                    return Err(format!(
                        "{who} took {} {at} while {} held it",
                        res.name,
                        name(h)
                    ));
                }
                holders[ri].push(e.thread);
                if e.by.is_some() {
                    facts[ri].handoffs += 1;
                }
            }
            (ResourceKind::Mutex | ResourceKind::Gil { .. }, EventKind::Release) => {
                if holders[ri].first() != Some(&e.thread) {
                    return Err(format!(
                        "{who} released {} {at} without holding it",
                        res.name
                    ));
                }
                holders[ri].clear();
                if let ResourceKind::Gil { .. } = res.kind {
                    let for_io = scenario.threads[e.thread as usize]
                        .steps
                        .get(e.step as usize)
                        .is_none_or(|s| !matches!(s.op, Op::Work(_)));
                    if !drop_pending[ri] && !for_io {
                        return Err(format!(
                            "{who} dropped the GIL {at} with no drop request and no I/O"
                        ));
                    }
                    drop_pending[ri] = false;
                }
            }
            (ResourceKind::Gil { .. }, EventKind::DropRequest) => drop_pending[ri] = true,
            (ResourceKind::Semaphore { permits }, EventKind::Acquire) => {
                holders[ri].push(e.thread);
                if holders[ri].len() > permits as usize {
                    return Err(format!(
                        "{} threads inside {} {at}, which has {permits} permits",
                        holders[ri].len(),
                        res.name
                    ));
                }
                if e.by.is_some() {
                    facts[ri].handoffs += 1;
                }
            }
            (ResourceKind::Semaphore { .. }, EventKind::Release) => {
                let Some(i) = holders[ri].iter().position(|&h| h == e.thread) else {
                    return Err(format!("{who} released {} {at} without a permit", res.name));
                };
                holders[ri].swap_remove(i);
            }
            (ResourceKind::Barrier { parties }, EventKind::Arrive) => {
                arrived[ri] += 1;
                if arrived[ri] == parties as usize {
                    arrived[ri] = 0;
                    passes_due[ri] += parties as usize;
                    facts[ri].trips += 1;
                }
            }
            (ResourceKind::Barrier { .. }, EventKind::Pass) => {
                if passes_due[ri] == 0 {
                    return Err(format!(
                        "{who} passed {} {at} before all its parties had arrived",
                        res.name
                    ));
                }
                passes_due[ri] -= 1;
            }
            (ResourceKind::Buffer { capacity }, EventKind::Put) => {
                let item = e.item.ok_or_else(|| format!("a put {at} has no item"))?;
                if item != last_put[ri] + 1 {
                    return Err(format!(
                        "item {item} put into {} {at} out of order",
                        res.name
                    ));
                }
                last_put[ri] = item;
                items[ri].push_back(item);
                facts[ri].puts += 1;
                if items[ri].len() > capacity as usize {
                    return Err(format!(
                        "{} holds {} items {at}, over its capacity {capacity}",
                        res.name,
                        items[ri].len()
                    ));
                }
            }
            (ResourceKind::Buffer { .. }, EventKind::Take) => {
                let item = e.item.ok_or_else(|| format!("a take {at} has no item"))?;
                match items[ri].pop_front() {
                    Some(front) if front == item => {}
                    Some(front) => {
                        return Err(format!(
                            "{who} took item {item} from {} {at}, but item {front} was first",
                            res.name
                        ));
                    }
                    None => {
                        return Err(format!(
                            "{who} took item {item} from empty {} {at}",
                            res.name
                        ));
                    }
                }
                facts[ri].takes += 1;
            }
            _ => {}
        }
        facts[ri].most_holders = facts[ri].most_holders.max(holders[ri].len());
        facts[ri].most_fill = facts[ri].most_fill.max(items[ri].len());
    }
    Ok(facts)
}
