//! asyncio's own primitives (`async-semaphore`, `async-lock`, `async-event`, `async-queue`):
//! what tasks on the event loop await.
//!
//! Only tasks use them, and tasks run one at a time on the loop's one thread, so a step on one
//! never blocks a thread: it either goes through at once, without giving the loop up (as
//! `await sem.acquire()` on a free semaphore does not suspend in CPython), or queues the task
//! and returns, and the task then awaits its turn (`engine::tasks`) while the loop runs
//! others. Waiters queue in arrival order and whoever ends a wait hands the permit, the lock
//! or the flag straight to the first of them, as CPython wakes its waiters' futures in order:
//! a task that comes later cannot take it first. A queue, as CPython's, only wakes its first
//! waiter and leaves the item (or the room) where it is, for whichever task gets there first.
//! The lock is held only by the loop's thread and the deadlock watcher, which reads the same
//! `View` as a threading primitive's.

use std::collections::VecDeque;

use parking_lot::Mutex;

use super::{Cx, View};
use crate::engine::conductor::Halt;
use crate::scenario::model::{ResIdx, ResourceKind, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Asyncio {
    index: ResIdx,
    state: Mutex<State>,
}

struct State {
    seq: u64,
    of: Of,
    /// Per task: the wait that was ended for it, and by whom, until the task comes back to
    /// collect it.
    handed: Vec<Option<Handed>>,
    /// Per task: cancelled, so whatever it waits for, its wait is ending.
    cancelled: Vec<bool>,
    /// Per task: its wait's end has been made known (it is ready, waiting for the loop).
    announced: Vec<bool>,
}

/// The end of a task's wait, waiting for the task to be polled again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handed {
    pub by: Option<ThreadIdx>,
    /// A queue's waiting putter was woken (not a getter).
    pub room: bool,
}

enum Of {
    /// `asyncio.Semaphore(permits)`, and `asyncio.Lock()` as one permit that only its holder
    /// may give back.
    Permits {
        lock: bool,
        free: u32,
        holders: Vec<ThreadIdx>,
        waiters: VecDeque<ThreadIdx>,
    },
    /// `asyncio.Event()`; while set, the task that set it, whom a wait that goes straight
    /// through names, as one that was woken does.
    Flag {
        set_by: Option<ThreadIdx>,
        waiters: Vec<ThreadIdx>,
    },
    /// `asyncio.Queue(maxsize=capacity)`: items numbered from 1 in put order. As in CPython,
    /// a put or a get wakes the first waiter on the other side and leaves the item (or the
    /// room) in the queue: the woken task takes it when the loop runs it, unless a task that
    /// ran first took it, and then it waits again (`while q.empty(): await getter`).
    Queue {
        capacity: u32,
        items: VecDeque<u32>,
        next: u32,
        /// Items that are the shutdown marker (`q.put(None)`).
        sentinels: Vec<u32>,
        getters: VecDeque<ThreadIdx>,
        putters: VecDeque<ThreadIdx>,
        unfinished: u32,
        joiners: Vec<ThreadIdx>,
    },
}

/// What a step on the primitive did right away.
pub enum Now {
    /// It went through; for a put or a get, the item.
    Done(Option<u32>),
    /// The task is queued and must await its turn.
    Queued,
}

impl Asyncio {
    pub fn new(index: ResIdx, kind: ResourceKind, threads: usize) -> Asyncio {
        let of = match kind {
            ResourceKind::Semaphore { permits } => Of::Permits {
                lock: false,
                free: permits,
                holders: Vec::new(),
                waiters: VecDeque::new(),
            },
            ResourceKind::Event => Of::Flag {
                set_by: None,
                waiters: Vec::new(),
            },
            ResourceKind::Buffer { capacity } => Of::Queue {
                capacity,
                items: VecDeque::new(),
                next: 1,
                sentinels: Vec::new(),
                getters: VecDeque::new(),
                putters: VecDeque::new(),
                unfinished: 0,
                joiners: Vec::new(),
            },
            // The parser declares asyncio's primitives only as these kinds and a lock.
            _ => Of::Permits {
                lock: true,
                free: 1,
                holders: Vec::new(),
                waiters: VecDeque::new(),
            },
        };
        Asyncio {
            index,
            state: Mutex::new(State {
                seq: 0,
                of,
                handed: vec![None; threads],
                cancelled: vec![false; threads],
                announced: vec![false; threads],
            }),
        }
    }

    /// `await sem.acquire()` / `await lock.acquire()`.
    pub fn acquire(&self, cx: &mut Cx) -> Now {
        let me = cx.me;
        let mut s = self.state.lock();
        s.seq += 1;
        let Of::Permits {
            free,
            holders,
            waiters,
            ..
        } = &mut s.of
        else {
            return Now::Done(None);
        };
        if *free > 0 && waiters.is_empty() {
            *free -= 1;
            holders.push(me);
            cx.emit(EventKind::Acquire, self.index, None, None);
            return Now::Done(None);
        }
        waiters.push_back(me);
        Now::Queued
    }

    /// `sem.release()` / `lock.release()`: the permit goes to the first waiter, if any.
    pub fn release(&self, cx: &mut Cx) -> Result<(), Halt> {
        let me = cx.me;
        let mut s = self.state.lock();
        s.seq += 1;
        let State { of, handed, .. } = &mut *s;
        let Of::Permits {
            lock,
            free,
            holders,
            waiters,
        } = of
        else {
            return Ok(());
        };
        let Some(at) = holders.iter().position(|&h| h == me) else {
            return Err(Halt::Failed(if *lock {
                "RuntimeError: Lock is not acquired.".to_string()
            } else {
                format!("{} released a permit it does not hold", cx.name(me))
            }));
        };
        holders.swap_remove(at);
        cx.emit(EventKind::Release, self.index, None, None);
        match waiters.pop_front() {
            Some(next) => {
                holders.push(next);
                handed[next as usize] = Some(Handed {
                    by: Some(me),
                    room: false,
                });
                cx.conductor.wake_tasks();
            }
            None => *free += 1,
        }
        Ok(())
    }

    /// `await ev.wait()`: through at once if the flag is set.
    pub fn wait(&self, cx: &mut Cx) -> Now {
        let me = cx.me;
        let mut s = self.state.lock();
        s.seq += 1;
        let Of::Flag { set_by, waiters } = &mut s.of else {
            return Now::Done(None);
        };
        if let Some(by) = *set_by {
            cx.emit(EventKind::Pass, self.index, Some(by), None);
            return Now::Done(None);
        }
        waiters.push(me);
        Now::Queued
    }

    /// `ev.set()`: every waiter goes on.
    pub fn set(&self, cx: &mut Cx) {
        let me = cx.me;
        let mut s = self.state.lock();
        s.seq += 1;
        let State { of, handed, .. } = &mut *s;
        let Of::Flag { set_by, waiters } = of else {
            return;
        };
        *set_by = Some(me);
        cx.emit(EventKind::Set, self.index, None, None);
        for w in waiters.drain(..) {
            handed[w as usize] = Some(Handed {
                by: Some(me),
                room: false,
            });
        }
        cx.conductor.wake_tasks();
    }

    /// `ev.clear()`.
    pub fn clear(&self, cx: &mut Cx) {
        let mut s = self.state.lock();
        s.seq += 1;
        if let Of::Flag { set_by, .. } = &mut s.of {
            *set_by = None;
            cx.emit(EventKind::Clear, self.index, None, None);
        }
    }

    /// `q.put(item)` (or `q.put(None)`, the `sentinel`) once the queue has room: the first
    /// waiting getter is woken. With no room the task is queued and must await its turn, then
    /// try again.
    pub fn put(&self, cx: &mut Cx, sentinel: bool) -> Now {
        let me = cx.me;
        let mut s = self.state.lock();
        s.seq += 1;
        let State { of, handed, .. } = &mut *s;
        let Of::Queue {
            capacity,
            items,
            next,
            sentinels,
            getters,
            putters,
            unfinished,
            ..
        } = of
        else {
            return Now::Done(None);
        };
        if items.len() as u32 >= *capacity {
            putters.push_back(me);
            return Now::Queued;
        }
        let n = *next;
        *next += 1;
        *unfinished += 1;
        if sentinel {
            sentinels.push(n);
        }
        cx.emit(EventKind::Put, self.index, None, Some(n));
        items.push_back(n);
        wake_first(getters, handed, me, false, cx);
        Now::Done(Some(n))
    }

    /// `q.get()` once the queue has an item: the oldest, and the first waiting putter is
    /// woken. `by`: whoever woke this getter, if it waited. With no item the task is queued
    /// and must await its turn, then try again.
    pub fn get(&self, cx: &mut Cx, by: Option<ThreadIdx>) -> Now {
        let me = cx.me;
        let mut s = self.state.lock();
        s.seq += 1;
        let State { of, handed, .. } = &mut *s;
        let Of::Queue {
            items,
            getters,
            putters,
            ..
        } = of
        else {
            return Now::Done(None);
        };
        let Some(n) = items.pop_front() else {
            getters.push_back(me);
            return Now::Queued;
        };
        cx.emit(EventKind::Take, self.index, by, Some(n));
        wake_first(putters, handed, me, true, cx);
        Now::Done(Some(n))
    }

    /// Whether item `n` of the queue is the shutdown marker.
    pub fn is_sentinel(&self, n: u32) -> bool {
        matches!(&self.state.lock().of, Of::Queue { sentinels, .. } if sentinels.contains(&n))
    }

    /// `q.task_done()`: once every item put is done, the joiners go on.
    pub fn task_done(&self, cx: &mut Cx) -> Result<(), Halt> {
        let me = cx.me;
        let mut s = self.state.lock();
        s.seq += 1;
        let State { of, handed, .. } = &mut *s;
        let Of::Queue {
            unfinished,
            joiners,
            ..
        } = of
        else {
            return Ok(());
        };
        if *unfinished == 0 {
            return Err(Halt::Failed(
                "ValueError: task_done() called too many times".into(),
            ));
        }
        *unfinished -= 1;
        cx.emit(EventKind::TaskDone, self.index, None, Some(*unfinished));
        if *unfinished == 0 {
            for j in joiners.drain(..) {
                handed[j as usize] = Some(Handed {
                    by: Some(me),
                    room: false,
                });
            }
            cx.conductor.wake_tasks();
        }
        Ok(())
    }

    /// `await q.join()`: through at once if nothing is unfinished.
    pub fn join(&self, cx: &mut Cx) -> Now {
        let me = cx.me;
        let mut s = self.state.lock();
        s.seq += 1;
        let Of::Queue {
            unfinished,
            joiners,
            ..
        } = &mut s.of
        else {
            return Now::Done(None);
        };
        if *unfinished == 0 {
            cx.emit(EventKind::Pass, self.index, None, None);
            return Now::Done(None);
        }
        joiners.push(me);
        Now::Queued
    }

    /// The end of `t`'s wait, if it has come: taken, so it is collected once.
    pub fn take_handed(&self, t: ThreadIdx) -> Option<Handed> {
        let mut s = self.state.lock();
        s.announced[t as usize] = false;
        s.handed[t as usize].take()
    }

    /// The tasks whose wait has ended since the last time this was asked: from that moment
    /// they are ready, though the task that ended their wait still holds the loop.
    pub fn newly_handed(&self) -> Vec<ThreadIdx> {
        let mut s = self.state.lock();
        let State {
            handed, announced, ..
        } = &mut *s;
        let mut fresh = Vec::new();
        for (t, h) in handed.iter().enumerate() {
            if h.is_some() && !announced[t] {
                announced[t] = true;
                fresh.push(t as ThreadIdx);
            }
        }
        fresh
    }

    /// Whether `t`'s wait has ended.
    pub fn is_handed(&self, t: ThreadIdx) -> bool {
        self.state.lock().handed[t as usize].is_some()
    }

    /// Task `t` has been asked to stop: if it waits here, its wait is ending, and the deadlock
    /// watcher must not count it as waiting.
    pub fn cancelling(&self, t: ThreadIdx) {
        let mut s = self.state.lock();
        s.seq += 1;
        s.cancelled[t as usize] = true;
    }

    /// Task `t` was cancelled while it waited: out of every queue. What was already handed to
    /// it goes on to the next waiter, as CPython passes a wake-up on from a cancelled waiter.
    pub fn leave(&self, cx: &mut Cx) {
        let t = cx.me;
        let mut s = self.state.lock();
        s.seq += 1;
        let got = s.handed[t as usize].take();
        s.announced[t as usize] = false;
        let State { of, handed, .. } = &mut *s;
        match of {
            Of::Permits {
                free,
                holders,
                waiters,
                ..
            } => {
                waiters.retain(|&w| w != t);
                if got.is_some()
                    && let Some(at) = holders.iter().position(|&h| h == t)
                {
                    holders.swap_remove(at);
                    match waiters.pop_front() {
                        Some(next) => {
                            holders.push(next);
                            handed[next as usize] = got;
                        }
                        None => *free += 1,
                    }
                }
            }
            Of::Flag { waiters, .. } => waiters.retain(|&w| w != t),
            Of::Queue {
                capacity,
                items,
                getters,
                putters,
                ..
            } => {
                getters.retain(|&w| w != t);
                putters.retain(|&w| w != t);
                // A wake-up it will never use goes on to the next waiter, as CPython's
                // cancelled getter (or putter) wakes the next when the queue is not empty
                // (not full).
                match got {
                    Some(Handed {
                        room: false, by, ..
                    }) if !items.is_empty() => {
                        if let Some(g) = getters.pop_front() {
                            handed[g as usize] = Some(Handed { by, room: false });
                        }
                    }
                    Some(Handed { room: true, by, .. }) if (items.len() as u32) < *capacity => {
                        if let Some(p) = putters.pop_front() {
                            handed[p as usize] = Some(Handed { by, room: true });
                        }
                    }
                    _ => {}
                }
            }
        }
        cx.conductor.wake_tasks();
    }

    /// A cancelled task that holds permits or the lock gives them back, as leaving an
    /// `async with sem:` block on `CancelledError` does.
    pub fn give_back(&self, cx: &mut Cx) {
        let me = cx.me;
        while matches!(&self.state.lock().of, Of::Permits { holders, .. } if holders.contains(&me))
        {
            if self.release(cx).is_err() {
                break;
            }
        }
    }

    pub fn view(&self) -> View {
        let s = self.state.lock();
        let waiting = |w: &ThreadIdx| s.handed[*w as usize].is_none() && !s.cancelled[*w as usize];
        match &s.of {
            Of::Permits {
                holders, waiters, ..
            } => View::of(
                s.seq,
                holders.iter().copied(),
                waiters.iter().copied().filter(waiting),
            ),
            Of::Flag { waiters, .. } => {
                View::of(s.seq, [], waiters.iter().copied().filter(waiting))
            }
            Of::Queue {
                capacity,
                items,
                getters,
                putters,
                joiners,
                ..
            } => View {
                seq: s.seq,
                holders: Vec::new(),
                waiters: getters
                    .iter()
                    .chain(putters)
                    .chain(joiners)
                    .copied()
                    .filter(waiting)
                    .collect(),
                full: items.len() as u32 >= *capacity,
            },
        }
    }
}

/// Wake the first task of `waiters` (a queue's getters, or its putters when `room`): it goes
/// on once the loop runs it, and tries again.
fn wake_first(
    waiters: &mut VecDeque<ThreadIdx>,
    handed: &mut [Option<Handed>],
    by: ThreadIdx,
    room: bool,
    cx: &mut Cx,
) {
    if let Some(w) = waiters.pop_front() {
        handed[w as usize] = Some(Handed { by: Some(by), room });
        cx.conductor.wake_tasks();
    }
}
