//! The one event type: what a scenario thread did, when, to which resource, and who caused it.
//!
//! Every event is emitted by the thread it is about, timestamped where it happens (run time,
//! which stops while a run is paused). Events that change a primitive's state are stamped while
//! the primitive's own lock is held, so sorting by time gives the order in which the changes
//! really happened. Everything downstream — timelines, summaries, exports, tests — is computed
//! from these.

use serde::{Deserialize, Serialize};

use crate::scenario::model::{ResIdx, ResourceKind, Scenario, ThreadIdx};

/// Step index used for events that belong to no step (start, done).
pub const NO_STEP: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Run time in nanoseconds since the run started, not counting time spent paused.
    pub t_ns: u64,
    pub thread: ThreadIdx,
    pub kind: EventKind,
    pub resource: Option<ResIdx>,
    /// The thread whose action woke this one (a release, a put, a barrier trip, a GIL hand-off).
    pub by: Option<ThreadIdx>,
    /// Index of the step in the thread's script, or [`NO_STEP`].
    pub step: u32,
    /// Buffer item number for put/take (items are numbered per buffer from 1 in put order);
    /// for an rlock's acquire/release, how many times the thread holds it afterwards; for a
    /// counter's load/store, the value read or written.
    pub item: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The thread exists and is about to run its first step.
    Start,
    /// Starts CPU work.
    Run,
    /// Starts an off-CPU wait (I/O stand-in).
    Sleep,
    /// Must wait for `resource`: a lock, a permit, a barrier, a buffer condition or the GIL.
    Block,
    /// Took a lock, a permit or the GIL (`by` is who handed it over, if it had to wait).
    Acquire,
    /// Gave back a lock, a permit or the GIL.
    Release,
    /// Arrived at a barrier.
    Arrive,
    /// Passed a barrier (`by` is the thread whose arrival tripped it), or an event's wait
    /// (`by` is the thread that set it).
    Pass,
    /// Put an item into a buffer.
    Put,
    /// Took an item from a buffer.
    Take,
    /// Gave up waiting for a lock after its timeout (the thread then backs off).
    Timeout,
    /// Set an event (`by` on the waiters' `pass` is the setter).
    Set,
    /// Read a counter's value (`item`), the first half of an increment.
    Load,
    /// Wrote a counter's value (`item`), the second half of an increment.
    Store,
    /// Asked the GIL holder to drop the GIL (CPython's drop request).
    DropRequest,
    /// Held by the conductor at a step boundary (the run is paused or another thread is stepping).
    Hold,
    /// Finished its script.
    Done,
    /// Stopped by a runtime error; the reason is kept by the run.
    Fail,
}

impl EventKind {
    /// The name used in JSON event logs (`"event": "acquire"`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Start => "start",
            EventKind::Run => "run",
            EventKind::Sleep => "sleep",
            EventKind::Block => "block",
            EventKind::Acquire => "acquire",
            EventKind::Release => "release",
            EventKind::Arrive => "arrive",
            EventKind::Pass => "pass",
            EventKind::Put => "put",
            EventKind::Take => "take",
            EventKind::Timeout => "timeout",
            EventKind::Set => "set",
            EventKind::Load => "load",
            EventKind::Store => "store",
            EventKind::DropRequest => "drop_request",
            EventKind::Hold => "hold",
            EventKind::Done => "done",
            EventKind::Fail => "fail",
        }
    }
}

/// What a thread is doing at an instant. Exactly one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Held at a step boundary by the conductor (paused, or another thread is being stepped).
    Held,
    /// Executing its script: CPU work, or the instants between steps.
    Running,
    /// Off CPU in a `sleep` (I/O).
    Sleeping,
    /// Blocked on a lock (a mutex, an rlock or an rwlock).
    Locked(ResIdx),
    /// Waiting for a semaphore permit.
    Semaphore(ResIdx),
    /// Waiting at a barrier for the rest of its parties.
    Barrier(ResIdx),
    /// Waiting on a buffer's condition variable (full for a producer, empty for a consumer), or
    /// for an event to be set.
    Condition(ResIdx),
    /// Waiting for the GIL.
    Gil(ResIdx),
    /// A task that could run, waiting for its event loop to be free.
    Ready(ResIdx),
    Done,
    Failed,
}

impl State {
    /// The state a thread is in right after `event`, given the scenario it ran
    /// (a `block` on a semaphore is a different state from a `block` on a lock).
    /// `None` for events that do not change the state by themselves.
    pub fn after(event: &Event, scenario: &Scenario) -> Option<State> {
        Some(match event.kind {
            EventKind::Start => State::Running,
            EventKind::Run => State::Running,
            EventKind::Sleep => State::Sleeping,
            EventKind::Block => {
                let r = event.resource?;
                match scenario.resources.get(r as usize)?.kind {
                    ResourceKind::Mutex | ResourceKind::RLock | ResourceKind::RwLock { .. } => {
                        State::Locked(r)
                    }
                    // Python's Event is a flag under a condition variable, and waits on it.
                    ResourceKind::Event => State::Condition(r),
                    // Nothing waits on a counter; that is the point of the race lesson.
                    ResourceKind::Counter => return None,
                    ResourceKind::Semaphore { .. } => State::Semaphore(r),
                    ResourceKind::Barrier { .. } => State::Barrier(r),
                    ResourceKind::Buffer { .. } => State::Condition(r),
                    ResourceKind::Gil { .. } => State::Gil(r),
                    ResourceKind::EventLoop => State::Ready(r),
                }
            }
            EventKind::Acquire
            | EventKind::Release
            | EventKind::Arrive
            | EventKind::Pass
            | EventKind::Put
            | EventKind::Take
            | EventKind::Timeout
            | EventKind::Set
            | EventKind::Load
            | EventKind::Store => State::Running,
            EventKind::DropRequest => return None,
            EventKind::Hold => State::Held,
            EventKind::Done => State::Done,
            EventKind::Fail => State::Failed,
        })
    }

    /// The resource this state waits on, if it is a waiting state.
    pub fn waiting_on(self) -> Option<ResIdx> {
        match self {
            State::Locked(r)
            | State::Semaphore(r)
            | State::Barrier(r)
            | State::Condition(r)
            | State::Gil(r)
            | State::Ready(r) => Some(r),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Failed)
    }

    /// A short stable name, used in summaries and JSON (`"blocked"`, `"waiting_semaphore"`).
    pub fn name(self) -> &'static str {
        match self {
            State::Held => "held",
            State::Running => "running",
            State::Sleeping => "sleeping",
            State::Locked(_) => "blocked",
            State::Semaphore(_) => "waiting_semaphore",
            State::Barrier(_) => "waiting_barrier",
            State::Condition(_) => "waiting_condition",
            State::Gil(_) => "waiting_gil",
            State::Ready(_) => "ready",
            State::Done => "done",
            State::Failed => "failed",
        }
    }
}

/// The JSON Lines form of an event, as written by `--events FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub t_us: u64,
    pub thread: String,
    pub event: EventKind,
    pub resource: Option<String>,
    pub by: Option<String>,
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
}

impl EventRecord {
    pub fn new(event: &Event, scenario: &Scenario) -> EventRecord {
        let thread = &scenario.threads[event.thread as usize];
        EventRecord {
            t_us: event.t_ns / 1_000,
            thread: thread.name.clone(),
            event: event.kind,
            resource: event
                .resource
                .map(|r| scenario.resource_name(r).to_string()),
            by: event.by.map(|t| scenario.thread_name(t).to_string()),
            line: thread.steps.get(event.step as usize).map(|s| s.line),
            item: event.item,
        }
    }
}
