//! The blocking primitives a scenario's threads contend for, one file each.
//!
//! Each is a real blocking primitive built on a parking_lot mutex and condition variable(s).
//! Waiters queue in arrival order and a release hands the resource straight to the first of
//! them, which is how a woken thread knows exactly who woke it. Every wait can be cancelled, and
//! every state change is stamped while the primitive's lock is held.
//!
//! What they have in common lives here, once: `Core` (the state behind its lock, and the
//! condition variable its waiters sleep on), `await_hand_over` (block, wait to be handed the
//! resource or give up after a timeout counted in run time by `Patience`, unblock) and
//! `Watched` (a state read as the wait-for graph's `View`).

pub mod asyncio;
pub mod barrier;
pub mod buffer;
pub mod condition;
pub mod counter;
pub mod event;
pub mod event_loop;
pub mod gil;
pub mod list;
pub mod mp_queue;
pub mod mutex;
pub mod pool;
pub mod rwlock;
pub mod semaphore;

use parking_lot::{Condvar, Mutex as PlMutex, MutexGuard};
use std::time::{Duration, Instant};

use super::conductor::{Conductor, Flow, Halt};
use super::recorder::Recorder;
use crate::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx};
use crate::vocab::event::EventKind;

/// What a worker brings to a primitive: who it is, where it records, who conducts it.
pub struct Cx<'a> {
    pub me: ThreadIdx,
    pub rec: &'a mut Recorder,
    pub conductor: &'a Conductor,
    /// Thread names, for failure messages.
    pub names: &'a [String],
}

impl Cx<'_> {
    /// Record an event on `r`. Called with `r`'s state locked, as every primitive does: that
    /// is what puts its stamp in order with the other events on `r` (`Recorder::emit_locked`).
    pub fn emit(&mut self, kind: EventKind, r: ResIdx, by: Option<ThreadIdx>, item: Option<u32>) {
        self.rec.emit_locked(kind, r, by, item);
    }

    /// Record an event on `r` at a stamp read before what it tells of was done
    /// (`Recorder::stamp_ahead`). Called with `r`'s state locked, as `emit` is.
    pub fn emit_at(
        &mut self,
        kind: EventKind,
        r: ResIdx,
        by: Option<ThreadIdx>,
        item: Option<u32>,
        at: u64,
    ) {
        self.rec.emit_locked_at(kind, r, by, item, at);
    }

    /// Record that this thread must wait, make sure readers see it, and tell the conductor.
    /// Called with `r`'s state locked, as `emit` is.
    pub fn block(&mut self, r: ResIdx) {
        self.rec.emit_locked(EventKind::Block, r, None, None);
        self.rec.flush();
        self.conductor.blocking(self.me, r);
    }

    /// A change that leaves other threads waiting on `r`: whoever could have ended their wait
    /// may just have stopped being able to, so the deadlock watcher looks again.
    pub fn leaves_waiters(&self) {
        self.conductor.poke_watcher();
    }

    pub fn check_cancel(&self) -> Flow {
        if self.conductor.cancelled() {
            Err(Halt::Cancelled)
        } else {
            Ok(())
        }
    }

    pub fn name(&self, t: ThreadIdx) -> &str {
        &self.names[t as usize]
    }
}

/// What a primitive that makes threads wait is built from: its state behind a lock, and the
/// condition variable its waiters sleep on. (A buffer has a condition variable for each kind of
/// waiter, so it keeps its own.)
pub struct Core<S> {
    state: PlMutex<S>,
    pub cv: Condvar,
}

impl<S> Core<S> {
    pub fn new(state: S) -> Core<S> {
        Core {
            state: PlMutex::new(state),
            cv: Condvar::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock()
    }

    /// The primitive as the wait-for graph sees it now.
    fn view(&self) -> View
    where
        S: Watched,
    {
        self.lock().view()
    }

    /// Wake every waiter so it can see that the run was cancelled.
    fn wake_all(&self) {
        wake(&self.state, &[&self.cv]);
    }

    /// After a release handed the resource on: wake the waiters so the new owner notices, and
    /// if some are still left waiting, have the deadlock watcher look again.
    pub fn handed_on(&self, cx: &Cx, still_waiting: bool) {
        self.cv.notify_all();
        if still_waiting {
            cx.leaves_waiters();
        }
    }

    /// `await_hand_over` on this primitive's condition variable, with no timeout.
    pub fn await_hand_over(
        &self,
        cx: &mut Cx,
        r: ResIdx,
        s: &mut MutexGuard<S>,
        handed: impl FnMut(&mut S) -> Option<Option<ThreadIdx>>,
        leave: impl FnMut(&mut S),
    ) -> Result<Option<ThreadIdx>, Halt> {
        let by = await_hand_over(cx, r, &self.cv, s, None, handed, leave)?;
        Ok(by.flatten())
    }
}

/// Block on `r` and wait on `cv` until a releaser hands this thread the resource: `handed`
/// takes the hand-over (who gave it) out of the state once it is there. If the run is cancelled
/// first, or a `timeout` runs out (then it returns `None`), `leave` takes the thread out of the
/// queue. Either way the thread is no longer blocked.
pub fn await_hand_over<S>(
    cx: &mut Cx,
    r: ResIdx,
    cv: &Condvar,
    s: &mut MutexGuard<S>,
    timeout: Option<Duration>,
    mut handed: impl FnMut(&mut S) -> Option<Option<ThreadIdx>>,
    mut leave: impl FnMut(&mut S),
) -> Result<Option<Option<ThreadIdx>>, Halt> {
    cx.block(r);
    let mut patience = Patience::new(timeout);
    let flow = loop {
        if let Some(by) = handed(&mut **s) {
            break Ok(Some(by));
        }
        if cx.conductor.cancelled() {
            leave(&mut **s);
            break Err(Halt::Cancelled);
        }
        if !patience.wait(cx, cv, s) {
            leave(&mut **s);
            break Ok(None);
        }
    };
    cx.conductor.unblocked(cx.me);
    flow
}

/// A wait's timeout, counted in run time: time paused does not count against it (time spent
/// stepping does), and the run's speed scales the wall clock.
pub struct Patience {
    nominal: Option<f64>,
    waited: f64,
    last: Instant,
}

impl Patience {
    pub fn new(timeout: Option<Duration>) -> Patience {
        Patience {
            nominal: timeout.map(|t| t.as_nanos() as f64),
            waited: 0.0,
            last: Instant::now(),
        }
    }

    /// Sleep on `cv` until notified; with a timeout, for at most what is left of it, and at
    /// most 5 ms, so that a pause or a change of speed soon counts. Returns false, without
    /// sleeping, once the timeout has run out.
    pub fn wait<S>(&mut self, cx: &Cx, cv: &Condvar, s: &mut MutexGuard<S>) -> bool {
        let Some(nominal) = self.nominal else {
            cv.wait(s);
            return true;
        };
        let now = Instant::now();
        if !cx.conductor.is_paused() || cx.conductor.stepping().is_some() {
            self.waited += (now - self.last).as_nanos() as f64 * cx.conductor.speed();
        }
        self.last = now;
        if self.waited >= nominal {
            return false;
        }
        let left = Duration::from_nanos(((nominal - self.waited) / cx.conductor.speed()) as u64);
        cv.wait_for(s, left.min(Duration::from_millis(5)));
        true
    }
}

/// A primitive as the wait-for graph sees it at one instant. It must be right at every instant
/// its lock is free: a thread woken but not yet running is listed as what it will be when it
/// runs (a lock handed to it makes it a holder; an item taken back before it could look leaves
/// it a waiter).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// Bumped on every change; two equal readings mean nothing changed in between.
    pub seq: u64,
    /// Threads holding it (lock holder, permit holders, GIL holder, an rwlock's readers or
    /// writer).
    pub holders: Vec<ThreadIdx>,
    /// Threads that cannot go on until another thread acts on it. A thread that will give up
    /// by itself (a lock with a timeout) is not one of them.
    pub waiters: Vec<ThreadIdx>,
    /// A buffer with no room: its waiters wait to put, not to take.
    pub full: bool,
}

/// The threads of `queue` whose flag is not set, in queue order: the waiters of a view without
/// those that wait with a timeout, or that are still giving back a lock.
fn unflagged<'a>(
    queue: impl IntoIterator<Item = &'a ThreadIdx>,
    flagged: &'a [bool],
) -> impl Iterator<Item = ThreadIdx> {
    queue.into_iter().copied().filter(|&w| !flagged[w as usize])
}

/// A primitive's state, read as a `View`.
pub trait Watched {
    fn view(&self) -> View;
}

impl View {
    /// The view of a primitive that is never full.
    pub fn of(
        seq: u64,
        holders: impl IntoIterator<Item = ThreadIdx>,
        waiters: impl IntoIterator<Item = ThreadIdx>,
    ) -> View {
        View {
            seq,
            holders: holders.into_iter().collect(),
            waiters: waiters.into_iter().collect(),
            full: false,
        }
    }
}

pub enum Primitive {
    Mutex(mutex::Mutex),
    Semaphore(semaphore::Semaphore),
    Barrier(barrier::Barrier),
    Buffer(buffer::Buffer),
    Gil(gil::Gil),
    Event(event::Event),
    RwLock(rwlock::RwLock),
    Counter(counter::Counter),
    EventLoop(event_loop::EventLoop),
    Condition(condition::Condition),
    List(list::List),
    Pool(pool::Pool),
    MpQueue(mp_queue::MpQueue),
    /// asyncio's own primitives, which tasks await.
    Asyncio(asyncio::Asyncio),
}

impl Primitive {
    /// Resource `index` of `scenario`, ready for its threads.
    pub fn new(index: ResIdx, scenario: &Scenario) -> Primitive {
        let resource = &scenario.resources[index as usize];
        let threads = scenario.threads.len();
        if resource.asyncio {
            return Primitive::Asyncio(asyncio::Asyncio::new(index, resource.kind, threads));
        }
        match resource.kind {
            ResourceKind::Mutex => Primitive::Mutex(mutex::Mutex::new(index, threads, false)),
            ResourceKind::Semaphore { permits } => {
                Primitive::Semaphore(semaphore::Semaphore::new(index, permits, threads))
            }
            ResourceKind::Barrier { parties } => {
                Primitive::Barrier(barrier::Barrier::new(index, parties))
            }
            ResourceKind::Buffer { capacity } => Primitive::Buffer(buffer::Buffer::new(
                index,
                capacity,
                threads,
                scenario.is_priority_queue(index),
            )),
            ResourceKind::Gil { interval } => {
                Primitive::Gil(gil::Gil::new(index, interval, threads))
            }
            ResourceKind::RLock => Primitive::Mutex(mutex::Mutex::new(index, threads, true)),
            ResourceKind::Event => Primitive::Event(event::Event::new(index, threads)),
            ResourceKind::RwLock { prefer_readers } => {
                Primitive::RwLock(rwlock::RwLock::new(index, threads, prefer_readers))
            }
            ResourceKind::Counter => Primitive::Counter(counter::Counter::new(index)),
            ResourceKind::EventLoop => {
                Primitive::EventLoop(event_loop::EventLoop::new(index, threads))
            }
            ResourceKind::Condition { .. } => {
                Primitive::Condition(condition::Condition::new(index, threads))
            }
            ResourceKind::List => Primitive::List(list::List::new(index)),
            ResourceKind::MpQueue => Primitive::MpQueue(mp_queue::MpQueue::new(index, threads)),
            ResourceKind::Pool => {
                // Tasks hand blocking calls (`to-thread`) only to their loop's executor.
                let executor = scenario.threads.iter().any(|t| {
                    t.steps
                        .iter()
                        .any(|s| matches!(s.op, Op::ToThread { executor, .. } if executor == index))
                });
                Primitive::Pool(pool::Pool::new(index, executor))
            }
        }
    }

    /// Wake every waiter so it can see that the run was cancelled.
    pub fn wake_all(&self) {
        match self {
            Primitive::Mutex(p) => p.core.wake_all(),
            Primitive::Semaphore(p) => p.core.wake_all(),
            Primitive::Barrier(p) => p.core.wake_all(),
            Primitive::Buffer(p) => wake(&p.state, &[&p.not_full, &p.not_empty, &p.all_done]),
            Primitive::Gil(p) => p.core.wake_all(),
            Primitive::Event(p) => p.core.wake_all(),
            Primitive::RwLock(p) => p.core.wake_all(),
            Primitive::Condition(p) => p.core.wake_all(),
            Primitive::Pool(p) => p.core.wake_all(),
            // A list never makes a thread wait either; an mp-queue's takers look for
            // cancellation between polls of the pipe; tasks awaiting asyncio's primitives
            // wait where cancellation wakes them itself.
            Primitive::List(_) | Primitive::MpQueue(_) | Primitive::Asyncio(_) => {}
            // A counter never makes a thread wait; tasks wait at async gates and in timers,
            // which cancellation wakes itself.
            Primitive::Counter(_) | Primitive::EventLoop(_) => {}
        }
    }

    pub fn view(&self) -> View {
        match self {
            Primitive::Mutex(p) => p.core.view(),
            Primitive::Semaphore(p) => p.core.view(),
            Primitive::Barrier(p) => p.core.view(),
            Primitive::Buffer(p) => p.view(),
            Primitive::Gil(p) => p.core.view(),
            Primitive::Event(p) => p.core.view(),
            Primitive::RwLock(p) => p.core.view(),
            Primitive::Counter(p) => p.view(),
            Primitive::EventLoop(p) => p.view(),
            Primitive::Condition(p) => p.core.view(),
            Primitive::List(p) => p.view(),
            Primitive::MpQueue(p) => p.view(),
            Primitive::Pool(p) => p.core.view(),
            Primitive::Asyncio(p) => p.view(),
        }
    }
}

/// Notifies every waiter of `cvs` while holding `state`, so that none is between checking
/// the state and starting to wait when the notice comes.
fn wake<S>(state: &PlMutex<S>, cvs: &[&Condvar]) {
    let _s = state.lock();
    for cv in cvs {
        cv.notify_all();
    }
}
