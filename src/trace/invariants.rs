//! The promises each primitive makes, checked against a recorded run.
//!
//! Tests use these on real runs (threads are nondeterministic, so what is asserted is what must
//! hold in every run), and so can anyone holding an event log. Events are taken in time order;
//! events that change a primitive are stamped under its lock, so that order is the true one.

use std::collections::VecDeque;

use crate::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx};
use crate::vocab::event::{Event, EventKind};

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
    /// Most times one thread held an rlock at once.
    pub most_depth: u32,
    /// Times an event was set.
    pub sets: u64,
    /// Waits passed on an event, or wake-ups from a condition.
    pub passes: u64,
    /// Notices sent on a condition, and the waiters they woke.
    pub notifies: u64,
    pub woken: u64,
    /// A buffer's task-dones, and the joins that returned.
    pub tasks_done: u64,
    pub joins: u64,
    /// Increments completed on a counter: the value it would have without lost updates.
    pub increments: u64,
    /// A counter's value at the end of the events.
    pub value: u64,
}

impl ResourceFacts {
    /// Updates of a counter that another thread's increment overwrote.
    pub fn lost_updates(&self) -> u64 {
        self.increments.saturating_sub(self.value)
    }
}

/// One increment that wrote back a stale value, wiping out updates made since it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostUpdate {
    /// The `store` event of the stale increment.
    pub store: Event,
    /// The value it had read (and stored plus one).
    pub loaded: u32,
    /// The counter's value just before this store: `value - loaded` updates were lost here.
    pub value: u32,
}

/// Every increment of a counter that stored over updates it never saw, in time order: what a
/// timeline marks as a lost update. The counter's final value is the number of increments minus
/// the sum of `value - loaded` over these.
pub fn lost_updates(scenario: &Scenario, events: &[Event]) -> Vec<LostUpdate> {
    let mut ordered = events.to_vec();
    ordered.sort_by_key(|e| e.t_ns);
    let mut value = vec![0u32; scenario.resources.len()];
    let mut lost = Vec::new();
    for e in &ordered {
        let (Some(r), Some(item)) = (e.resource, e.item) else {
            continue;
        };
        if e.kind != EventKind::Store
            || scenario.resources.get(r as usize).map(|r| r.kind) != Some(ResourceKind::Counter)
        {
            continue;
        }
        let loaded = item.wrapping_sub(1);
        if value[r as usize] != loaded {
            lost.push(LostUpdate {
                store: *e,
                loaded,
                value: value[r as usize],
            });
        }
        value[r as usize] = item;
    }
    lost
}

/// Check every primitive's invariants over `events`. Returns per-resource facts, or the first
/// broken promise in words.
pub fn check(scenario: &Scenario, events: &[Event]) -> Result<Vec<ResourceFacts>, String> {
    let mut ordered = events.to_vec();
    ordered.sort_by_key(|e| e.t_ns);
    let n = scenario.resources.len();
    let priority_queue: Vec<bool> = (0..n)
        .map(|r| {
            matches!(scenario.resources[r].kind, ResourceKind::Buffer { .. })
                && scenario.is_priority_queue(r as ResIdx)
        })
        .collect();
    let mut facts = vec![ResourceFacts::default(); n];
    let mut holders: Vec<Vec<ThreadIdx>> = vec![Vec::new(); n];
    let mut items: Vec<VecDeque<u32>> = vec![VecDeque::new(); n];
    let mut last_put: Vec<u32> = vec![0; n];
    let mut arrived: Vec<usize> = vec![0; n];
    let mut passes_due: Vec<usize> = vec![0; n];
    let mut drop_pending: Vec<bool> = vec![false; n];
    let mut depth: Vec<u32> = vec![0; n];
    let mut writer: Vec<Option<ThreadIdx>> = vec![None; n];
    // Per rwlock: threads that blocked on it and have not got in yet, and whether each writes.
    let mut queued: Vec<Vec<(ThreadIdx, bool)>> = vec![Vec::new(); n];
    // Per event: every thread that has set it so far (a pass names one of them).
    let mut setters: Vec<Vec<ThreadIdx>> = vec![Vec::new(); n];
    // Per condition: per thread, who notified it and has not yet seen it pass.
    let mut woken_by: Vec<Vec<ThreadIdx>> = vec![Vec::new(); n];
    let mut value: Vec<u32> = vec![0; n];
    // Per buffer: each queued item's priority, in step with `items`.
    let mut priorities: Vec<VecDeque<u32>> = vec![VecDeque::new(); n];
    let step_op = |e: &Event| {
        scenario.threads[e.thread as usize]
            .steps
            .get(e.step as usize)
            .map(|s| s.op)
    };
    // Per buffer: items put and not yet marked done.
    let mut unfinished: Vec<u64> = vec![0; n];
    // Per thread: the counter value its increment in progress read.
    let mut loaded: Vec<Option<u32>> = vec![None; scenario.threads.len()];
    let writes = |e: &Event| {
        scenario.threads[e.thread as usize]
            .steps
            .get(e.step as usize)
            .is_some_and(|s| matches!(s.op, Op::Write(_)))
    };
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
            // A task runs only while its loop polls it: it computes and blocks holding the
            // loop, and awaits without it.
            if let Some(l) = scenario.threads[e.thread as usize].event_loop {
                let holding = holders[l as usize].contains(&e.thread);
                let op = scenario.threads[e.thread as usize]
                    .steps
                    .get(e.step as usize)
                    .map(|s| s.op);
                let (must_hold, what) = match (e.kind, op) {
                    (EventKind::Run, _) => (true, "computed"),
                    (EventKind::Sleep, Some(Op::BlockingSleep(_))) => (true, "blocked"),
                    (EventKind::Sleep, Some(Op::Sleep(_))) => (false, "awaited"),
                    _ => continue,
                };
                if holding != must_hold {
                    return Err(format!(
                        "{} {what} at {} µs {} the event loop",
                        name(e.thread),
                        e.t_ns / 1000,
                        if holding {
                            "holding"
                        } else {
                            "without holding"
                        }
                    ));
                }
            }
            continue;
        };
        let ri = r as usize;
        let res = &scenario.resources[ri];
        let at = format!("at {} µs", e.t_ns / 1000);
        let who = name(e.thread);
        match (res.kind, e.kind) {
            (
                ResourceKind::Mutex | ResourceKind::Gil { .. } | ResourceKind::EventLoop,
                EventKind::Acquire,
            ) => {
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
            (
                ResourceKind::Mutex | ResourceKind::Gil { .. } | ResourceKind::EventLoop,
                EventKind::Release,
            ) => {
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
            (ResourceKind::RLock, EventKind::Acquire) => {
                match holders[ri].first() {
                    Some(&h) if h != e.thread => {
                        return Err(format!(
                            "{who} took {} {at} while {} held it",
                            res.name,
                            name(h)
                        ));
                    }
                    Some(_) => {}
                    None => holders[ri].push(e.thread),
                }
                depth[ri] += 1;
                if e.item != Some(depth[ri]) {
                    return Err(format!(
                        "{who} holds {} {} times {at}, but the event says {:?}",
                        res.name, depth[ri], e.item
                    ));
                }
                facts[ri].most_depth = facts[ri].most_depth.max(depth[ri]);
                if e.by.is_some() {
                    facts[ri].handoffs += 1;
                }
            }
            (ResourceKind::RLock, EventKind::Release) => {
                if holders[ri].first() != Some(&e.thread) {
                    return Err(format!(
                        "{who} released {} {at} without holding it",
                        res.name
                    ));
                }
                depth[ri] -= 1;
                if e.item != Some(depth[ri]) {
                    return Err(format!(
                        "{who} still holds {} {} times {at}, but the event says {:?}",
                        res.name, depth[ri], e.item
                    ));
                }
                if depth[ri] == 0 {
                    holders[ri].clear();
                }
            }
            (ResourceKind::RwLock { prefer_readers }, EventKind::Block) => {
                let write = writes(e);
                // A queued writer may have been handed the lock without having said so yet.
                let writing = writer[ri].is_some() || queued[ri].iter().any(|q| q.1);
                if prefer_readers && !write && !writing {
                    return Err(format!(
                        "{who} waited to read {} {at} while nobody was writing",
                        res.name
                    ));
                }
                queued[ri].push((e.thread, write));
            }
            (ResourceKind::RwLock { prefer_readers }, EventKind::Acquire) => {
                let write = writes(e);
                if let Some(w) = writer[ri] {
                    return Err(format!(
                        "{who} got into {} {at} while {} was writing",
                        res.name,
                        name(w)
                    ));
                }
                if write && let Some(&r) = holders[ri].first() {
                    return Err(format!(
                        "{who} started writing {} {at} while {} was reading",
                        res.name,
                        name(r)
                    ));
                }
                // Fairness: nobody gets in ahead of a writer that queued before it, so readers
                // cannot starve a writer (and a writer goes strictly in turn). Preferring
                // readers, only the writers' turns are kept.
                let at_queue = queued[ri]
                    .iter()
                    .position(|&(t, _)| t == e.thread)
                    .unwrap_or(queued[ri].len());
                let must_wait_for = |w_writes: bool| {
                    if prefer_readers {
                        w_writes && write
                    } else {
                        w_writes || write
                    }
                };
                if let Some(&(w, _)) = queued[ri][..at_queue]
                    .iter()
                    .find(|&&(_, w_writes)| must_wait_for(w_writes))
                {
                    return Err(format!(
                        "{who} got into {} {at} ahead of {}, which was waiting before it",
                        res.name,
                        name(w)
                    ));
                }
                if at_queue < queued[ri].len() {
                    queued[ri].remove(at_queue);
                }
                holders[ri].push(e.thread);
                if write {
                    writer[ri] = Some(e.thread);
                }
                if e.by.is_some() {
                    facts[ri].handoffs += 1;
                }
            }
            (ResourceKind::RwLock { .. }, EventKind::Release) => {
                let Some(i) = holders[ri].iter().position(|&h| h == e.thread) else {
                    return Err(format!(
                        "{who} released {} {at} without holding it",
                        res.name
                    ));
                };
                holders[ri].swap_remove(i);
                if writer[ri] == Some(e.thread) {
                    writer[ri] = None;
                }
            }
            (ResourceKind::Event, EventKind::Set) => {
                setters[ri].push(e.thread);
                facts[ri].sets += 1;
            }
            (ResourceKind::Event, EventKind::Pass) => {
                if setters[ri].is_empty() {
                    return Err(format!(
                        "{who} passed {} {at} before anyone set it",
                        res.name
                    ));
                }
                if !e.by.is_some_and(|b| setters[ri].contains(&b)) {
                    return Err(format!(
                        "{who} passed {} {at} saying it was set by {:?}, which never set it",
                        res.name,
                        e.by.map(name),
                    ));
                }
                facts[ri].passes += 1;
            }
            (ResourceKind::Buffer { .. }, EventKind::TaskDone) => {
                if unfinished[ri] == 0 {
                    return Err(format!(
                        "{who} marked a task of {} done {at} with none unfinished",
                        res.name
                    ));
                }
                unfinished[ri] -= 1;
                if e.item != Some(unfinished[ri] as u32) {
                    return Err(format!(
                        "{who}'s task-done on {} {at} says {:?} unfinished, but {} are",
                        res.name, e.item, unfinished[ri]
                    ));
                }
                facts[ri].tasks_done += 1;
            }
            // A join returns only once every task put has been marked done.
            (ResourceKind::Buffer { .. }, EventKind::Pass) => {
                if unfinished[ri] != 0 {
                    return Err(format!(
                        "{who}'s join on {} returned {at} with {} tasks unfinished",
                        res.name, unfinished[ri]
                    ));
                }
                facts[ri].joins += 1;
            }
            (ResourceKind::Condition { lock }, EventKind::Notify) => {
                if holders[lock as usize].first() != Some(&e.thread) {
                    return Err(format!(
                        "{who} notified {} {at} without holding its lock",
                        res.name
                    ));
                }
                facts[ri].notifies += 1;
                facts[ri].woken += e.item.unwrap_or(0) as u64;
                for _ in 0..e.item.unwrap_or(0) {
                    woken_by[ri].push(e.thread);
                }
            }
            (ResourceKind::Condition { lock }, EventKind::Block)
                if holders[lock as usize].contains(&e.thread) =>
            {
                return Err(format!(
                    "{who} waits on {} {at} still holding its lock",
                    res.name
                ));
            }
            (ResourceKind::Condition { .. }, EventKind::Pass) => {
                // Each wake-up is one a notify gave out, from the thread that gave it.
                let Some(k) = woken_by[ri].iter().position(|&w| Some(w) == e.by) else {
                    return Err(format!(
                        "{who} woke on {} {at} (by {:?}) with no notice to wake it",
                        res.name,
                        e.by.map(name)
                    ));
                };
                woken_by[ri].remove(k);
                facts[ri].passes += 1;
            }
            (ResourceKind::Counter, EventKind::Load) => {
                let v = e.item.ok_or_else(|| format!("a load {at} has no value"))?;
                if v != value[ri] {
                    return Err(format!(
                        "{who} read {v} from {} {at}, but it held {}",
                        res.name, value[ri]
                    ));
                }
                loaded[e.thread as usize] = Some(v);
            }
            (ResourceKind::Counter, EventKind::Store) => {
                let v = e.item.ok_or_else(|| format!("a store {at} has no value"))?;
                let Some(read) = loaded[e.thread as usize].take() else {
                    return Err(format!(
                        "{who} stored into {} {at} without reading it first",
                        res.name
                    ));
                };
                if v != read.wrapping_add(1) {
                    return Err(format!(
                        "{who} read {read} from {} but stored {v} {at}",
                        res.name
                    ));
                }
                value[ri] = v;
                facts[ri].increments += 1;
                facts[ri].value = v as u64;
            }
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
            (ResourceKind::Buffer { .. } | ResourceKind::List, EventKind::Put) => {
                let capacity = match res.kind {
                    ResourceKind::Buffer { capacity } => capacity,
                    _ => u32::MAX,
                };
                let item = e.item.ok_or_else(|| format!("a put {at} has no item"))?;
                // A sentinel (item 0) is not numbered among the items.
                unfinished[ri] += 1;
                if item != 0 && item != last_put[ri] + 1 {
                    return Err(format!(
                        "item {item} put into {} {at} out of order",
                        res.name
                    ));
                }
                if item != 0 {
                    last_put[ri] = item;
                }
                items[ri].push_back(item);
                // An item without a priority at 0: plain FIFO, sentinels too, as `put(None)`
                // is; only a priority queue serves its sentinel after every item.
                priorities[ri].push_back(match step_op(e) {
                    Some(Op::PutPriority { priority, .. }) => priority,
                    Some(Op::PutSentinel(_)) if priority_queue[ri] => u32::MAX,
                    _ => 0,
                });
                facts[ri].puts += 1;
                if items[ri].len() > capacity as usize {
                    return Err(format!(
                        "{} holds {} items {at}, over its capacity {capacity}",
                        res.name,
                        items[ri].len()
                    ));
                }
            }
            (ResourceKind::Buffer { .. } | ResourceKind::List, EventKind::Take) => {
                let item = e.item.ok_or_else(|| format!("a take {at} has no item"))?;
                // The first of the lowest priority is next: the front, in a FIFO buffer.
                let lowest = priorities[ri].iter().copied().min();
                let next = priorities[ri].iter().position(|&p| Some(p) == lowest);
                let taken = next.and_then(|k| {
                    priorities[ri].remove(k);
                    items[ri].remove(k)
                });
                match taken {
                    Some(front) if front == item => {}
                    Some(front) => {
                        return Err(format!(
                            "{who} took item {item} from {} {at}, but item {front} was next",
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
