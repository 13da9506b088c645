//! The blocking primitives a scenario's threads contend for, one file each.
//!
//! Each is a real blocking primitive built on a parking_lot mutex and condition variable(s).
//! Waiters queue in arrival order and a release hands the resource straight to the first of
//! them, which is how a woken thread knows exactly who woke it. Every wait can be cancelled, and
//! every state change is stamped while the primitive's lock is held.

pub mod barrier;
pub mod buffer;
pub mod condition;
pub mod counter;
pub mod event;
pub mod event_loop;
pub mod gil;
pub mod list;
pub mod mutex;
pub mod pool;
pub mod rwlock;
pub mod semaphore;

use super::conductor::{Conductor, Flow, Halt};
use super::recorder::Recorder;
use crate::scenario::model::{ResIdx, Resource, ResourceKind, ThreadIdx};
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
    pub fn emit(&mut self, kind: EventKind, r: ResIdx, by: Option<ThreadIdx>, item: Option<u32>) {
        self.rec.emit(kind, Some(r), by, item);
    }

    /// Record that this thread must wait, make sure readers see it, and tell the conductor.
    pub fn block(&mut self, r: ResIdx) {
        self.rec.emit(EventKind::Block, Some(r), None, None);
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

/// Wait on `cv`, blocked, until a releaser hands this thread the resource: `handed` takes the
/// hand-over (who gave it) out of the state once it is there. If the run is cancelled first,
/// `leave` takes the thread out of the queue. Either way the thread is no longer blocked.
pub fn await_hand_over<S>(
    cx: &mut Cx,
    cv: &parking_lot::Condvar,
    s: &mut parking_lot::MutexGuard<S>,
    mut handed: impl FnMut(&mut S) -> Option<Option<ThreadIdx>>,
    leave: impl FnOnce(&mut S),
) -> Result<Option<ThreadIdx>, Halt> {
    let flow = loop {
        if let Some(by) = handed(&mut **s) {
            break Ok(by);
        }
        if cx.conductor.cancelled() {
            leave(&mut **s);
            break Err(Halt::Cancelled);
        }
        cv.wait(s);
    };
    cx.conductor.unblocked(cx.me);
    flow
}

/// A primitive as the wait-for graph sees it at one instant. It must be right at every instant
/// its lock is free: a thread woken but not yet running is listed as what it will be when it
/// runs (a lock handed to it makes it a holder; an item taken back before it could look leaves
/// it a waiter).
#[derive(Debug, Clone, Default)]
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
}

impl Primitive {
    pub fn new(index: ResIdx, resource: &Resource, threads: usize) -> Primitive {
        match resource.kind {
            ResourceKind::Mutex => Primitive::Mutex(mutex::Mutex::new(index, threads, false)),
            ResourceKind::Semaphore { permits } => {
                Primitive::Semaphore(semaphore::Semaphore::new(index, permits, threads))
            }
            ResourceKind::Barrier { parties } => {
                Primitive::Barrier(barrier::Barrier::new(index, parties))
            }
            ResourceKind::Buffer { capacity } => {
                Primitive::Buffer(buffer::Buffer::new(index, capacity, threads))
            }
            ResourceKind::Gil { interval } => {
                Primitive::Gil(gil::Gil::new(index, interval, threads))
            }
            ResourceKind::RLock => Primitive::Mutex(mutex::Mutex::new(index, threads, true)),
            ResourceKind::Event => Primitive::Event(event::Event::new(index, threads)),
            ResourceKind::RwLock { prefer_readers } => {
                Primitive::RwLock(rwlock::RwLock::new(index, threads, prefer_readers))
            }
            ResourceKind::Counter => Primitive::Counter(counter::Counter::new(index)),
            ResourceKind::EventLoop => Primitive::EventLoop(event_loop::EventLoop::new(index)),
            ResourceKind::Condition { .. } => {
                Primitive::Condition(condition::Condition::new(index, threads))
            }
            ResourceKind::List => Primitive::List(list::List::new(index)),
            ResourceKind::Pool => Primitive::Pool(pool::Pool::new(index)),
        }
    }

    /// Wake every waiter so it can see that the run was cancelled.
    pub fn wake_all(&self) {
        match self {
            Primitive::Mutex(p) => wake(&p.state, &[&p.cv]),
            Primitive::Semaphore(p) => wake(&p.state, &[&p.cv]),
            Primitive::Barrier(p) => wake(&p.state, &[&p.cv]),
            Primitive::Buffer(p) => wake(&p.state, &[&p.not_full, &p.not_empty, &p.all_done]),
            Primitive::Gil(p) => wake(&p.state, &[&p.cv]),
            Primitive::Event(p) => wake(&p.state, &[&p.cv]),
            Primitive::RwLock(p) => wake(&p.state, &[&p.cv]),
            Primitive::Condition(p) => wake(&p.state, &[&p.cv]),
            Primitive::Pool(p) => wake(&p.state, &[&p.cv]),
            // A list never makes a thread wait either.
            Primitive::List(_) => {}
            // A counter never makes a thread wait; tasks wait at async gates and in timers,
            // which cancellation wakes itself.
            Primitive::Counter(_) | Primitive::EventLoop(_) => {}
        }
    }

    pub fn view(&self) -> View {
        match self {
            Primitive::Mutex(p) => p.view(),
            Primitive::Semaphore(p) => p.view(),
            Primitive::Barrier(p) => p.view(),
            Primitive::Buffer(p) => p.view(),
            Primitive::Gil(p) => p.view(),
            Primitive::Event(p) => p.view(),
            Primitive::RwLock(p) => p.view(),
            Primitive::Counter(p) => p.view(),
            Primitive::EventLoop(p) => p.view(),
            Primitive::Condition(p) => p.view(),
            Primitive::List(p) => p.view(),
            Primitive::Pool(p) => p.view(),
        }
    }
}

/// Notifies every waiter of `cvs` while holding `state`, so that none is between checking
/// the state and starting to wait when the notice comes.
fn wake<S>(state: &parking_lot::Mutex<S>, cvs: &[&parking_lot::Condvar]) {
    let _s = state.lock();
    for cv in cvs {
        cv.notify_all();
    }
}
