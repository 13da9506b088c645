//! What each resource looks like after a sequence of events: who holds it, who waits, what it
//! contains. The timeline replays these from checkpoints; the summary keeps one live copy.

use crate::scenario::model::{Op, ResourceKind, Scenario, ThreadIdx};
use crate::vocab::event::{Event, EventKind};

/// The state of one resource at an instant, reconstructed from events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceState {
    /// `holder` owns the lock, `depth` times (an rlock's count; 1 for a mutex held, 0 free);
    /// `waiters` are blocked on it, in the order they blocked.
    Mutex {
        holder: Option<ThreadIdx>,
        depth: u32,
        waiters: Vec<ThreadIdx>,
    },
    /// An rwlock: the threads reading it, or the one writing it, and those queued for it.
    RwLock {
        readers: Vec<ThreadIdx>,
        writer: Option<ThreadIdx>,
        waiters: Vec<ThreadIdx>,
    },
    /// `permits` is the total; `holders` has one entry per permit taken (a thread that took
    /// two appears twice).
    Semaphore {
        permits: u32,
        holders: Vec<ThreadIdx>,
        waiters: Vec<ThreadIdx>,
    },
    /// `arrived` are the threads of the current generation that have arrived; `generation`
    /// counts the times the barrier has tripped.
    Barrier {
        parties: u32,
        arrived: Vec<ThreadIdx>,
        generation: u32,
    },
    /// `items` are the item numbers in the buffer, oldest first; `put` and `taken` count
    /// every item that went in and out.
    Buffer {
        capacity: u32,
        items: Vec<u32>,
        producers_waiting: Vec<ThreadIdx>,
        consumers_waiting: Vec<ThreadIdx>,
        put: u64,
        taken: u64,
    },
    /// `drop_requested` is CPython's "please drop the GIL" flag, set by a waiter, cleared when
    /// the GIL changes hands.
    Gil {
        holder: Option<ThreadIdx>,
        waiters: Vec<ThreadIdx>,
        drop_requested: bool,
    },
    /// A thread pool: tasks queued, tasks running (worker, task), how many finished and how
    /// many results were collected (the next collected is the `collected + 1`th to arrive);
    /// idle workers and threads waiting for a result.
    Pool {
        queued: Vec<u32>,
        running: Vec<(ThreadIdx, u32)>,
        finished: u32,
        collected: u32,
        idle: Vec<ThreadIdx>,
        awaiting: Vec<ThreadIdx>,
    },
    /// An event: whether it is set now, and who waits for it.
    Event { set: bool, waiters: Vec<ThreadIdx> },
    /// A shared counter: its value, the increments stored so far, and which threads have
    /// read it and not yet written back (the window in which updates get lost).
    Counter {
        value: u32,
        increments: u32,
        reading: Vec<ThreadIdx>,
    },
}

impl ResourceState {
    /// A resource as declared, before any thread touched it.
    pub fn initial(kind: &ResourceKind) -> ResourceState {
        match *kind {
            // An rlock and an event are shown as a mutex (an event's waiters leave at its
            // pass), and so is an event loop (its holder is the task it runs, its waiters the
            // ready tasks).
            ResourceKind::Counter => ResourceState::Counter {
                value: 0,
                increments: 0,
                reading: Vec::new(),
            },
            // A condition, like an event, holds nothing: its waiters leave at their pass.
            ResourceKind::Pool => ResourceState::Pool {
                queued: Vec::new(),
                running: Vec::new(),
                finished: 0,
                collected: 0,
                idle: Vec::new(),
                awaiting: Vec::new(),
            },
            ResourceKind::Event => ResourceState::Event {
                set: false,
                waiters: Vec::new(),
            },
            ResourceKind::Mutex
            | ResourceKind::RLock
            | ResourceKind::Condition { .. }
            | ResourceKind::EventLoop => ResourceState::Mutex {
                holder: None,
                depth: 0,
                waiters: Vec::new(),
            },
            ResourceKind::RwLock { .. } => ResourceState::RwLock {
                readers: Vec::new(),
                writer: None,
                waiters: Vec::new(),
            },
            ResourceKind::Semaphore { permits } => ResourceState::Semaphore {
                permits,
                holders: Vec::new(),
                waiters: Vec::new(),
            },
            ResourceKind::Barrier { parties } => ResourceState::Barrier {
                parties,
                arrived: Vec::new(),
                generation: 0,
            },
            // A list is a buffer with no bound (capacity 0) that nobody waits on.
            // An mp-queue too has no bound here.
            ResourceKind::Buffer { .. } | ResourceKind::List | ResourceKind::MpQueue => {
                ResourceState::Buffer {
                    capacity: match *kind {
                        ResourceKind::Buffer { capacity } => capacity,
                        _ => 0,
                    },
                    items: Vec::new(),
                    producers_waiting: Vec::new(),
                    consumers_waiting: Vec::new(),
                    put: 0,
                    taken: 0,
                }
            }
            ResourceKind::Gil { .. } => ResourceState::Gil {
                holder: None,
                waiters: Vec::new(),
                drop_requested: false,
            },
        }
    }

    /// Every resource of a scenario in its initial state, in declaration order.
    pub fn all_initial(scenario: &Scenario) -> Vec<ResourceState> {
        scenario
            .resources
            .iter()
            .map(|r| ResourceState::initial(&r.kind))
            .collect()
    }

    /// Every thread waiting on this resource, in the order they started waiting
    /// (producers before consumers for a buffer).
    pub fn waiters(&self) -> Vec<ThreadIdx> {
        match self {
            ResourceState::Mutex { waiters, .. }
            | ResourceState::RwLock { waiters, .. }
            | ResourceState::Semaphore { waiters, .. }
            | ResourceState::Gil { waiters, .. }
            | ResourceState::Event { waiters, .. } => waiters.clone(),
            ResourceState::Barrier { .. } | ResourceState::Counter { .. } => Vec::new(),
            ResourceState::Pool { idle, awaiting, .. } => {
                idle.iter().chain(awaiting).copied().collect()
            }
            ResourceState::Buffer {
                producers_waiting,
                consumers_waiting,
                ..
            } => producers_waiting
                .iter()
                .chain(consumers_waiting)
                .copied()
                .collect(),
        }
    }

    /// Applies one event about this resource. `op` is the operation of the event's step, which
    /// tells a producer's wait on a buffer from a consumer's.
    ///
    /// Inconsistent input (a release by a thread that does not hold, a take of an item that is
    /// not there) is absorbed without panicking: the counters still move, the lists stay sane.
    pub(crate) fn apply(&mut self, e: &Event, op: Option<Op>) {
        let t = e.thread;
        match self {
            ResourceState::Mutex {
                holder,
                depth,
                waiters,
            } => match e.kind {
                EventKind::Block => add(waiters, t),
                // An rlock's acquire and release carry how many times it is held afterwards.
                EventKind::Acquire => {
                    *holder = Some(t);
                    *depth = e.item.unwrap_or(1).max(1);
                    remove(waiters, t);
                }
                EventKind::Release if *holder == Some(t) => {
                    *depth = e.item.unwrap_or(0);
                    if *depth == 0 {
                        *holder = None;
                    }
                }
                // A plain lock (no depth) is owned by no thread: Python lets any thread
                // release it, and then nobody holds it.
                EventKind::Release if e.item.is_none() => {
                    *holder = None;
                    *depth = 0;
                }
                EventKind::Pass | EventKind::Timeout => remove(waiters, t),
                _ => {}
            },
            ResourceState::RwLock {
                readers,
                writer,
                waiters,
            } => match e.kind {
                EventKind::Block => add(waiters, t),
                EventKind::Acquire => {
                    if matches!(op, Some(Op::Write(_))) {
                        *writer = Some(t);
                    } else {
                        add(readers, t);
                    }
                    remove(waiters, t);
                }
                EventKind::Release => {
                    if *writer == Some(t) {
                        *writer = None;
                    }
                    remove(readers, t);
                }
                EventKind::Timeout => remove(waiters, t),
                _ => {}
            },
            ResourceState::Pool {
                queued,
                running,
                finished,
                collected,
                idle,
                awaiting,
            } => match e.kind {
                EventKind::Block => {
                    if matches!(op, Some(Op::RunNext(_))) {
                        add(idle, t);
                    } else {
                        add(awaiting, t);
                    }
                }
                EventKind::Put => queued.push(e.item.unwrap_or(0)),
                EventKind::Take => {
                    let n = e.item.unwrap_or(0);
                    queued.retain(|&q| q != n);
                    running.push((t, n));
                    remove(idle, t);
                }
                EventKind::TaskDone | EventKind::Raise => {
                    running.retain(|&(w, _)| w != t);
                    *finished += 1;
                }
                EventKind::Pass => {
                    *collected += 1;
                    remove(awaiting, t);
                }
                EventKind::Timeout => remove(awaiting, t),
                _ => {}
            },
            ResourceState::Event { set, waiters } => match e.kind {
                EventKind::Block => add(waiters, t),
                EventKind::Set => *set = true,
                EventKind::Clear => *set = false,
                EventKind::Pass | EventKind::Timeout => remove(waiters, t),
                _ => {}
            },
            ResourceState::Counter {
                value,
                increments,
                reading,
            } => match e.kind {
                EventKind::Load => add(reading, t),
                EventKind::Store => {
                    *value = e.item.unwrap_or(*value);
                    *increments += 1;
                    remove(reading, t);
                }
                _ => {}
            },
            ResourceState::Semaphore {
                holders, waiters, ..
            } => match e.kind {
                EventKind::Block => add(waiters, t),
                EventKind::Acquire => {
                    holders.push(t);
                    remove(waiters, t);
                }
                // Any thread may give a permit back (a semaphore used as a signal): then one
                // fewer is held, whoever took it.
                EventKind::Release => {
                    let i = holders.iter().position(|&h| h == t).unwrap_or(0);
                    if i < holders.len() {
                        holders.remove(i);
                    }
                }
                _ => {}
            },
            ResourceState::Barrier {
                parties,
                arrived,
                generation,
            } => {
                // The barrier trips at the last arrival, not at the passes: a fast thread may
                // pass, run on and arrive for the next generation before a slow one's pass is
                // stamped, so clearing on pass would lose that new arrival.
                if e.kind == EventKind::Arrive {
                    arrived.push(t);
                    if arrived.len() as u32 >= (*parties).max(1) {
                        arrived.clear();
                        *generation += 1;
                    }
                }
            }
            ResourceState::Buffer {
                capacity,
                items,
                producers_waiting,
                consumers_waiting,
                put,
                taken,
            } => match e.kind {
                EventKind::Block => {
                    let producer = match op {
                        Some(op) if op.puts().is_some() => true,
                        Some(op) if op.takes().is_some() => false,
                        // No script to ask: a wait on a full buffer is a producer's.
                        _ => items.len() as u32 >= *capacity,
                    };
                    if producer {
                        add(producers_waiting, t);
                    } else {
                        add(consumers_waiting, t);
                    }
                }
                EventKind::Put => {
                    items.push(e.item.unwrap_or((*put + 1) as u32));
                    *put += 1;
                    remove(producers_waiting, t);
                }
                EventKind::Take => {
                    let at = e
                        .item
                        .and_then(|n| items.iter().position(|&i| i == n))
                        .unwrap_or(0);
                    if at < items.len() {
                        items.remove(at);
                    }
                    *taken += 1;
                    remove(consumers_waiting, t);
                }
                _ => {}
            },
            ResourceState::Gil {
                holder,
                waiters,
                drop_requested,
            } => match e.kind {
                EventKind::Block => add(waiters, t),
                EventKind::Acquire => {
                    *holder = Some(t);
                    *drop_requested = false;
                    remove(waiters, t);
                }
                EventKind::Release => {
                    if *holder == Some(t) {
                        *holder = None;
                    }
                    *drop_requested = false;
                }
                EventKind::DropRequest => *drop_requested = true,
                _ => {}
            },
        }
    }

    /// A thread that finished or failed waits for nothing any more.
    pub(crate) fn forget_waiter(&mut self, t: ThreadIdx) {
        match self {
            ResourceState::Mutex { waiters, .. }
            | ResourceState::RwLock { waiters, .. }
            | ResourceState::Semaphore { waiters, .. }
            | ResourceState::Gil { waiters, .. }
            | ResourceState::Event { waiters, .. } => remove(waiters, t),
            ResourceState::Counter { reading, .. } => remove(reading, t),
            ResourceState::Barrier { .. } => {}
            ResourceState::Pool { idle, awaiting, .. } => {
                remove(idle, t);
                remove(awaiting, t);
            }
            ResourceState::Buffer {
                producers_waiting,
                consumers_waiting,
                ..
            } => {
                remove(producers_waiting, t);
                remove(consumers_waiting, t);
            }
        }
    }
}

/// Applies `e` to whichever resources it concerns.
pub(crate) fn apply_event(states: &mut [ResourceState], scenario: &Scenario, e: &Event) {
    if let Some(r) = e.resource
        && let Some(state) = states.get_mut(r as usize)
    {
        state.apply(e, step_op(scenario, e));
    }
    if matches!(
        e.kind,
        EventKind::Done | EventKind::Fail | EventKind::Stop | EventKind::Cancelled
    ) {
        for state in states.iter_mut() {
            state.forget_waiter(e.thread);
        }
    }
}

/// The operation of the step an event belongs to, if it has one.
pub(crate) fn step_op(scenario: &Scenario, e: &Event) -> Option<Op> {
    scenario
        .threads
        .get(e.thread as usize)?
        .steps
        .get(e.step as usize)
        .map(|s| s.op)
}

fn add(list: &mut Vec<ThreadIdx>, t: ThreadIdx) {
    if !list.contains(&t) {
        list.push(t);
    }
}

fn remove(list: &mut Vec<ThreadIdx>, t: ThreadIdx) {
    // A list holds each thread once (`add`), and waiters mostly leave from the front: stop at
    // the first match instead of walking ten thousand ready tasks on every event.
    if let Some(i) = list.iter().position(|&x| x == t) {
        list.remove(i);
    }
}
