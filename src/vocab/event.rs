//! The one event type: what a scenario thread did, when, to which resource, and who caused it.
//!
//! Every event is emitted by the thread it is about, timestamped where it happens (run time,
//! which stops while a run is paused). Events that change a primitive's state are stamped while
//! the primitive's own lock is held, so sorting by time gives the order in which the changes
//! really happened. Everything downstream — timelines, summaries, exports, tests — is computed
//! from these.

use serde::{Deserialize, Serialize};

use crate::i18n::Lang;
use crate::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx};

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
    /// counter's load/store, the value read or written; for a try-lock's back-off sleep, its
    /// length in microseconds.
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
    /// Notified a condition; `item` is how many waiting threads it woke (0: a lost wake-up).
    /// `by` on each woken thread's `pass` is the notifier.
    Notify,
    /// Cleared an event: waits after this one wait again.
    Clear,
    /// A pool's task raised an exception (`item` is the task); its future holds it.
    Raise,
    /// Marked a task of a buffer done (`q.task_done()`); `item` is how many are still
    /// unfinished.
    TaskDone,
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
    /// A daemon thread, stopped mid-script because every other thread had ended.
    Stop,
    /// The child process this thread is to run in is being started (exec, load, set-up);
    /// its `start` comes once the process runs it. `item` is the process's pid.
    Spawn,
    /// Stopped by a runtime error; the reason is kept by the run.
    Fail,
    /// A task asked another to stop (`t.cancel()`); `item` is the task asked.
    Cancel,
    /// A task stopped by `CancelledError` at the await it was in (its step); `by` is the task
    /// that cancelled it, if one did (a `wait-for` timeout cancels too).
    Cancelled,
}

impl EventKind {
    pub const ALL: [EventKind; 26] = [
        EventKind::Start,
        EventKind::Run,
        EventKind::Sleep,
        EventKind::Block,
        EventKind::Acquire,
        EventKind::Release,
        EventKind::Arrive,
        EventKind::Pass,
        EventKind::Put,
        EventKind::Take,
        EventKind::Timeout,
        EventKind::Set,
        EventKind::Load,
        EventKind::Store,
        EventKind::DropRequest,
        EventKind::Hold,
        EventKind::Done,
        EventKind::Fail,
        EventKind::Notify,
        EventKind::Clear,
        EventKind::TaskDone,
        EventKind::Raise,
        EventKind::Stop,
        EventKind::Spawn,
        EventKind::Cancel,
        EventKind::Cancelled,
    ];

    /// The kind whose [`EventKind::name`] is `name`.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

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
            EventKind::Notify => "notify",
            EventKind::Clear => "clear",
            EventKind::TaskDone => "task_done",
            EventKind::Raise => "raise",
            EventKind::Load => "load",
            EventKind::Store => "store",
            EventKind::DropRequest => "drop_request",
            EventKind::Hold => "hold",
            EventKind::Done => "done",
            EventKind::Stop => "stop",
            EventKind::Spawn => "spawn",
            EventKind::Fail => "fail",
            EventKind::Cancel => "cancel",
            EventKind::Cancelled => "cancelled",
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
    /// Inside an rwlock as one of its readers, whatever it does there (others may read too).
    Reading(ResIdx),
    /// Inside an rwlock as its one writer, whatever it does there.
    Writing(ResIdx),
    /// Off CPU in a `sleep` (I/O).
    Sleeping,
    /// A task in a blocking call (`sleep … blocking=#true`): it keeps its event loop while it
    /// waits, so no other task on that loop can run.
    Blocking(ResIdx),
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
    /// Its process is being started: not running any of its script yet.
    Starting,
    /// A ready task whose loop is stuck in another task's blocking call: it waits for nothing
    /// an await would ever give back. Events never say this by themselves; lanes show it where
    /// a task is ready while another task on its loop is [`State::Blocking`].
    Starved(ResIdx),
    Done,
    Failed,
    /// A task stopped by `CancelledError` (another task's `cancel`, a `wait-for` timeout, a
    /// `wait` that took the first to finish and cancelled the rest): it ended, but did not
    /// finish, and a class must not read it as finished.
    Cancelled,
}

impl State {
    /// The state a thread is in right after `event`, given the scenario it ran
    /// (a `block` on a semaphore is a different state from a `block` on a lock).
    /// `None` for events that do not change the state by themselves.
    pub fn after(event: &Event, scenario: &Scenario) -> Option<State> {
        Some(match event.kind {
            EventKind::Start => State::Running,
            EventKind::Run => State::Running,
            EventKind::Sleep => match step_op(event, scenario) {
                Some(Op::BlockingSleep(_)) => match scenario
                    .threads
                    .get(event.thread as usize)
                    .and_then(|t| t.event_loop)
                {
                    Some(l) => State::Blocking(l),
                    None => State::Sleeping,
                },
                _ => State::Sleeping,
            },
            EventKind::Block => {
                let r = event.resource?;
                State::waiting_for(&scenario.resources.get(r as usize)?.kind, r)?
            }
            EventKind::Acquire
            | EventKind::Release
            | EventKind::Arrive
            | EventKind::Pass
            | EventKind::Put
            | EventKind::Take
            | EventKind::Timeout
            | EventKind::Set
            | EventKind::Notify
            | EventKind::Clear
            | EventKind::TaskDone
            | EventKind::Raise
            | EventKind::Load
            | EventKind::Cancel
            | EventKind::Store => State::Running,
            EventKind::DropRequest => return None,
            EventKind::Hold => State::Held,
            EventKind::Spawn => State::Starting,
            EventKind::Done | EventKind::Stop => State::Done,
            EventKind::Cancelled => State::Cancelled,
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
            | State::Ready(r)
            | State::Starved(r) => Some(r),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Failed | State::Cancelled)
    }

    /// The state of a thread that must wait for resource `r` of this kind; `None` for a kind
    /// nothing waits on.
    pub fn waiting_for(kind: &ResourceKind, r: ResIdx) -> Option<State> {
        Some(match kind {
            ResourceKind::Mutex | ResourceKind::RLock | ResourceKind::RwLock { .. } => {
                State::Locked(r)
            }
            // Python's Event is a flag under a condition variable, and waits on it.
            ResourceKind::Event => State::Condition(r),
            // Nothing waits on a counter; that is the point of the race lesson.
            ResourceKind::Counter => return None,
            ResourceKind::Semaphore { .. } => State::Semaphore(r),
            ResourceKind::Barrier { .. } => State::Barrier(r),
            ResourceKind::Buffer { .. } | ResourceKind::MpQueue => State::Condition(r),
            ResourceKind::Gil { .. } => State::Gil(r),
            ResourceKind::EventLoop => State::Ready(r),
            // Waiting for a notice; re-taking the lock afterwards is a wait on the lock.
            ResourceKind::Condition { .. } => State::Condition(r),
            ResourceKind::List => return None,
            // Idle workers wait for a task, collectors for a result: both on the pool's
            // condition variable.
            ResourceKind::Pool => State::Condition(r),
        })
    }

    /// This state's row in [`STATES`].
    pub fn row(self) -> &'static StateRow {
        &STATES[self.index()]
    }

    /// The position of this state's row in [`STATES`] (the same for any resource).
    pub fn index(self) -> usize {
        match self {
            State::Running => 0,
            State::Reading(_) => 1,
            State::Writing(_) => 2,
            State::Sleeping => 3,
            State::Blocking(_) => 4,
            State::Locked(_) => 5,
            State::Semaphore(_) => 6,
            State::Barrier(_) => 7,
            State::Condition(_) => 8,
            State::Gil(_) => 9,
            State::Ready(_) => 10,
            State::Starved(_) => 11,
            State::Held => 12,
            State::Starting => 13,
            State::Failed => 14,
            State::Cancelled => 15,
            State::Done => 16,
        }
    }

    /// A short stable name, used in summaries and JSON (`"blocked"`, `"waiting_semaphore"`).
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// What this state's glyph means in a legend of `scenario`'s lanes: a condition wait is
    /// called after what its threads wait on there (a buffer, an event) when that is one kind.
    pub fn legend_in(self, scenario: &Scenario) -> String {
        let kinds = || {
            scenario.resources.iter().enumerate().filter(|(r, res)| {
                State::waiting_for(&res.kind, *r as ResIdx).map(State::index) == Some(self.index())
            })
        };
        let all = |f: fn(&ResourceKind) -> bool| {
            kinds().next().is_some() && kinds().all(|(_, res)| f(&res.kind))
        };
        match self {
            State::Condition(_) if all(|k| matches!(k, ResourceKind::Buffer { .. })) => {
                rust_i18n::t!("state.waiting_condition.buffer").into_owned()
            }
            State::Condition(_) if all(|k| matches!(k, ResourceKind::Event)) => {
                rust_i18n::t!("state.waiting_condition.event").into_owned()
            }
            _ => self.row().legend(),
        }
    }

    /// The state in words in `lang`, naming what it waits on in that resource's terms:
    /// "blocked on B", "waiting for event go", "waiting on q (full)". `step` is the step the
    /// thread is at, if known: it tells a producer's wait (full) from a consumer's (empty), and
    /// a task's await from the blocking call that stops its loop. Chrome traces name their
    /// slices with the English words.
    pub fn words(
        self,
        lang: Lang,
        scenario: &Scenario,
        thread: ThreadIdx,
        step: Option<u32>,
    ) -> String {
        let name = |r: ResIdx| {
            scenario
                .resources
                .get(r as usize)
                .map_or("?", |x| x.name.as_str())
        };
        let spec = scenario.threads.get(thread as usize);
        let op = step.and_then(|i| spec?.steps.get(i as usize)).map(|s| s.op);
        let (key, r) = match self {
            State::Sleeping => match spec.and_then(|t| t.event_loop) {
                Some(_) => ("awaiting", None),
                None => ("sleeping", None),
            },
            // Woken from a condition wait, the thread must take the lock back before going on.
            State::Locked(r) if matches!(op, Some(Op::CondWait { cond, .. }) if cond != r) => {
                ("retaking", Some(r))
            }
            State::Locked(r) => ("blocked_on", Some(r)),
            State::Semaphore(r) => ("waiting_for", Some(r)),
            State::Barrier(r) => ("waiting_at", Some(r)),
            State::Condition(r) => {
                match (scenario.resources.get(r as usize).map(|x| &x.kind), op) {
                    (Some(ResourceKind::Event), _) => ("waiting_event", Some(r)),
                    (Some(ResourceKind::Condition { .. }), _) => ("waiting_notify", Some(r)),
                    (_, Some(op)) if op.puts().is_some() => ("waiting_full", Some(r)),
                    (_, Some(op)) if op.takes().is_some() => ("waiting_empty", Some(r)),
                    (_, Some(Op::Join(_))) => ("joining", Some(r)),
                    _ => ("waiting_on", Some(r)),
                }
            }
            State::Ready(r) => ("ready", Some(r)),
            State::Starved(r) => ("starved", Some(r)),
            State::Blocking(r) => ("blocking", Some(r)),
            State::Reading(r) => ("reading", Some(r)),
            State::Writing(r) => ("writing", Some(r)),
            State::Gil(_) => ("waiting_gil", None),
            State::Held => ("paused", None),
            State::Starting => ("starting", None),
            State::Running => ("running", None),
            State::Done => ("done", None),
            State::Failed => ("failed", None),
            State::Cancelled => ("cancelled", None),
        };
        let key = format!("classroom.state.{key}");
        rust_i18n::t!(&key, locale = lang.code(), res = r.map_or("", name)).into_owned()
    }
}

/// The operation of the step `e` belongs to.
fn step_op(e: &Event, scenario: &Scenario) -> Option<Op> {
    scenario
        .threads
        .get(e.thread as usize)?
        .steps
        .get(e.step as usize)
        .map(|s| s.op)
}

/// Threads' states event by event: [`State::after`], plus what a thread holds that changes what
/// its time means. A thread inside an rwlock is reading or writing whatever it does there
/// (compute, sleep), until it unlocks. Feed it each thread's events in that thread's order.
#[derive(Debug, Clone, Default)]
pub struct StateTracker {
    /// Per thread: the rwlocks it is inside, innermost last, and whether it writes.
    inside: Vec<Vec<(ResIdx, bool)>>,
}

impl StateTracker {
    pub fn new() -> StateTracker {
        StateTracker::default()
    }

    /// The state `event`'s thread is in right after it; `None` where [`State::after`] says
    /// the event changes nothing.
    pub fn after(&mut self, event: &Event, scenario: &Scenario) -> Option<State> {
        let base = State::after(event, scenario)?;
        let t = event.thread as usize;
        if self.inside.len() <= t {
            self.inside.resize(t + 1, Vec::new());
        }
        let inside = &mut self.inside[t];
        let rwlock = event.resource.filter(|&r| {
            matches!(
                scenario.resources.get(r as usize).map(|x| x.kind),
                Some(ResourceKind::RwLock { .. })
            )
        });
        match (event.kind, rwlock) {
            (EventKind::Acquire, Some(r)) => {
                let write = matches!(step_op(event, scenario), Some(Op::Write(_)));
                inside.push((r, write));
            }
            (EventKind::Release, Some(r)) => inside.retain(|&(x, _)| x != r),
            (EventKind::Done | EventKind::Stop | EventKind::Fail | EventKind::Cancelled, _) => {
                inside.clear()
            }
            _ => {}
        }
        Some(match (base, inside.last()) {
            (State::Running | State::Sleeping, Some(&(r, false))) => State::Reading(r),
            (State::Running | State::Sleeping, Some(&(r, true))) => State::Writing(r),
            _ => base,
        })
    }
}

/// A colour slot: the trace names a state's colour, each way of drawing (terminal theme, SVG)
/// decides what that colour is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hue {
    Green,
    Blue,
    Red,
    Amber,
    Magenta,
    Cyan,
    /// The two waits for the one runner there is (the GIL, a busy event loop).
    Orange,
    Grey,
    Faint,
    /// Red that shouts: drawn bold or solid black, never mistaken for a lock wait.
    Alarm,
    /// A shared hold (reading).
    Teal,
    /// An exclusive hold (writing).
    Violet,
    /// Ended without finishing (a cancelled task): not a failure, and not done either.
    Rose,
}

/// A fill texture, so a state reads where colour does not (a black-and-white printout): every
/// state drawn has a texture of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Texture {
    Solid,
    Waves,
    Hatch,
    Cross,
    Bars,
    Dots,
    BackHatch,
    Rings,
    Specks,
    Grid,
    Checks,
    Plus,
    Zigzag,
    Rungs,
    Slashes,
    Diamonds,
}

/// How one state is named, drawn and described. [`STATES`] holds one row per state; every
/// legend, paint, glyph and word about states is read from it, the words through the message
/// files under the row's `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateRow {
    /// The state this row describes (waiting states with resource 0 stand for any resource).
    pub state: State,
    /// The stable name in summaries and JSON (`"blocked"`, `"waiting_semaphore"`).
    pub name: &'static str,
    pub glyph: char,
    pub ascii: char,
    pub hue: Hue,
    pub texture: Texture,
}

impl StateRow {
    /// What the glyph means, in a legend, in the current language (`state.NAME.legend`).
    pub fn legend(&self) -> String {
        crate::i18n::text(&format!("state.{}.legend", self.name))
    }

    /// The state in a few words, before the time spent in it: "running 1.2s, waiting for a
    /// permit 300ms" (`state.NAME.short`).
    pub fn short(&self) -> String {
        crate::i18n::text(&format!("state.{}.short", self.name))
    }

    /// The glyph in the Unicode or the ASCII set.
    pub fn glyph(&self, ascii: bool) -> char {
        if ascii { self.ascii } else { self.glyph }
    }

    /// Drawn as nothing (a finished thread's lane simply ends), so a legend of what is drawn
    /// leaves it out.
    pub fn is_blank(&self) -> bool {
        self.glyph == ' '
    }
}

/// Every state, in legend order. Waiting states are capital letters so lanes read in
/// monochrome, on a washed-out projector, and in ASCII.
pub const STATES: [StateRow; 17] = [
    StateRow {
        state: State::Running,
        name: "running",
        glyph: '█',
        ascii: '#',
        hue: Hue::Green,
        texture: Texture::Solid,
    },
    // Inside an rwlock: lower-case, as a hold is not a wait; reading and writing in the
    // colours of a shared and an exclusive hold.
    StateRow {
        state: State::Reading(0),
        name: "reading",
        glyph: 'r',
        ascii: 'r',
        hue: Hue::Teal,
        texture: Texture::Rings,
    },
    StateRow {
        state: State::Writing(0),
        name: "writing",
        glyph: 'w',
        ascii: 'w',
        hue: Hue::Violet,
        texture: Texture::Grid,
    },
    StateRow {
        state: State::Sleeping,
        name: "sleeping",
        glyph: '~',
        ascii: '~',
        hue: Hue::Blue,
        texture: Texture::Waves,
    },
    // A blocking call on an event loop: drawn as the harm it does, not as a harmless await.
    StateRow {
        state: State::Blocking(0),
        name: "blocking",
        glyph: 'X',
        ascii: 'X',
        hue: Hue::Alarm,
        texture: Texture::Checks,
    },
    StateRow {
        state: State::Locked(0),
        name: "blocked",
        glyph: 'L',
        ascii: 'L',
        hue: Hue::Red,
        texture: Texture::Hatch,
    },
    StateRow {
        state: State::Semaphore(0),
        name: "waiting_semaphore",
        glyph: 'S',
        ascii: 'S',
        hue: Hue::Amber,
        texture: Texture::Cross,
    },
    StateRow {
        state: State::Barrier(0),
        name: "waiting_barrier",
        glyph: 'B',
        ascii: 'B',
        hue: Hue::Magenta,
        texture: Texture::Bars,
    },
    StateRow {
        state: State::Condition(0),
        name: "waiting_condition",
        glyph: 'C',
        ascii: 'C',
        hue: Hue::Cyan,
        texture: Texture::Dots,
    },
    StateRow {
        state: State::Gil(0),
        name: "waiting_gil",
        glyph: 'G',
        ascii: 'G',
        hue: Hue::Orange,
        texture: Texture::BackHatch,
    },
    StateRow {
        state: State::Ready(0),
        name: "ready",
        glyph: 'R',
        ascii: 'R',
        hue: Hue::Orange,
        texture: Texture::Plus,
    },
    StateRow {
        state: State::Starved(0),
        name: "starved",
        glyph: 'Z',
        ascii: 'Z',
        hue: Hue::Red,
        texture: Texture::Zigzag,
    },
    StateRow {
        state: State::Held,
        name: "held",
        glyph: '·',
        ascii: '.',
        hue: Hue::Grey,
        texture: Texture::Specks,
    },
    StateRow {
        state: State::Starting,
        name: "starting",
        glyph: '^',
        ascii: '^',
        hue: Hue::Grey,
        texture: Texture::Rungs,
    },
    StateRow {
        state: State::Failed,
        name: "failed",
        glyph: '!',
        ascii: '!',
        hue: Hue::Alarm,
        texture: Texture::Slashes,
    },
    // Ended without finishing: drawn to the end of the lane, as a failure is, but in a colour
    // of its own, since being cancelled is what the program asked for.
    StateRow {
        state: State::Cancelled,
        name: "cancelled",
        glyph: '⊘',
        ascii: '/',
        hue: Hue::Rose,
        texture: Texture::Diamonds,
    },
    StateRow {
        state: State::Done,
        name: "done",
        glyph: ' ',
        ascii: ' ',
        hue: Hue::Faint,
        texture: Texture::Solid,
    },
];

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

#[cfg(test)]
mod every_kind {
    use super::EventKind;

    /// `ALL` lists every kind once: a kind added to the enum and not to `ALL` is caught here
    /// (this match must name it to compile), and every name reads back as its kind.
    #[test]
    fn all_lists_every_kind_and_names_read_back() {
        let listed = |k: EventKind| match k {
            EventKind::Start
            | EventKind::Run
            | EventKind::Sleep
            | EventKind::Block
            | EventKind::Acquire
            | EventKind::Release
            | EventKind::Arrive
            | EventKind::Pass
            | EventKind::Put
            | EventKind::Take
            | EventKind::Timeout
            | EventKind::Set
            | EventKind::Load
            | EventKind::Store
            | EventKind::DropRequest
            | EventKind::Hold
            | EventKind::Done
            | EventKind::Fail
            | EventKind::Notify
            | EventKind::Clear
            | EventKind::TaskDone
            | EventKind::Raise
            | EventKind::Stop
            | EventKind::Spawn
            | EventKind::Cancel
            | EventKind::Cancelled => EventKind::ALL.contains(&k),
        };
        assert!(EventKind::ALL.into_iter().all(listed));
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_name(k.name()), Some(k));
        }
        let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
    }
}
