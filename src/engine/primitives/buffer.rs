//! `buffer queue capacity=3`: a bounded FIFO guarded by one mutex and two condition variables,
//! the textbook way: producers wait on "not full", consumers on "not empty". A put signals the
//! first waiting consumer and a take the first waiting producer; a woken thread checks again and
//! waits again if another thread got there first.
//!
//! It is also Python's `queue.Queue` lifecycle: a take may give up after a timeout; every put
//! is an unfinished task until a `task-done`, and `join` waits until none is left; a sentinel
//! (item [`SENTINEL`], Python's `None`) tells the consumer that takes it to stop. A sentinel
//! is queued in put order like any item, except in a priority queue, where it comes last.

use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::time::Duration;

use super::{Cx, View, await_hand_over, unflagged};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

/// The item number of a sentinel: items are numbered from 1, so 0 is never a real one.
pub const SENTINEL: u32 = 0;

/// What `task-done` beyond the puts dies of, as CPython says it.
pub const TOO_MANY_DONE: &str = "ValueError: task_done() called too many times";

pub struct Buffer {
    index: ResIdx,
    capacity: usize,
    /// The priority a sentinel is queued at: 0 in a plain queue (FIFO, as `q.put(None)`),
    /// after every priority in a `queue.PriorityQueue`.
    sentinel_priority: u32,
    pub(super) state: Mutex<State>,
    pub(super) not_full: Condvar,
    pub(super) not_empty: Condvar,
    /// Signalled when the last unfinished task is done, for threads in `join`.
    pub(super) all_done: Condvar,
}

pub(super) struct State {
    seq: u64,
    /// (priority, item number), in put order; a take takes the first of the lowest priority,
    /// so a buffer whose puts give no priority (all 0) is plain FIFO.
    items: VecDeque<(u32, u32)>,
    last_item: u32,
    producers: VecDeque<ThreadIdx>,
    consumers: VecDeque<ThreadIdx>,
    /// Per thread: who signalled it last, until it notices.
    woken_by: Vec<Option<ThreadIdx>>,
    /// Per thread: waiting with a timeout, so it gives up by itself.
    timed: Vec<bool>,
    /// Items put and not yet marked done.
    unfinished: u32,
    /// Threads in `join`, and who finished the last task once it is done.
    joiners: Vec<ThreadIdx>,
    finished_by: Option<ThreadIdx>,
    /// Per thread: the last item it took was a sentinel.
    took_sentinel: Vec<bool>,
}

impl Buffer {
    pub fn new(index: ResIdx, capacity: u32, threads: usize, priority_queue: bool) -> Buffer {
        Buffer {
            index,
            capacity: capacity.max(1) as usize,
            sentinel_priority: if priority_queue { u32::MAX } else { 0 },
            state: Mutex::new(State {
                seq: 0,
                items: VecDeque::new(),
                last_item: 0,
                producers: VecDeque::new(),
                consumers: VecDeque::new(),
                woken_by: vec![None; threads],
                timed: vec![false; threads],
                unfinished: 0,
                joiners: Vec::new(),
                finished_by: None,
                took_sentinel: vec![false; threads],
            }),
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
            all_done: Condvar::new(),
        }
    }

    pub fn put(&self, cx: &mut Cx) -> Flow {
        self.act(cx, Some(Putting::Item(0)), None).map(|_| ())
    }

    /// `q.put((priority, item))` on a `queue.PriorityQueue`: lower comes out first.
    pub fn put_with_priority(&self, cx: &mut Cx, priority: u32) -> Flow {
        self.act(cx, Some(Putting::Item(priority)), None)
            .map(|_| ())
    }

    /// `q.put(None)`: the shutdown marker, queued like any item (last in a priority queue).
    pub fn put_sentinel(&self, cx: &mut Cx) -> Flow {
        self.act(cx, Some(Putting::Sentinel), None).map(|_| ())
    }

    pub fn take(&self, cx: &mut Cx) -> Flow {
        self.act(cx, None, None).map(|_| ())
    }

    /// A take that gives up after `timeout` of run time at the current speed (paused time does
    /// not count). Returns whether it took an item.
    pub fn take_for(&self, cx: &mut Cx, timeout: Duration) -> Result<bool, Halt> {
        self.act(cx, None, Some(timeout))
    }

    /// Whether the last item thread `t` took was a sentinel: its script stops there.
    pub fn took_sentinel(&self, t: ThreadIdx) -> bool {
        self.state.lock().took_sentinel[t as usize]
    }

    /// `q.task_done()`: one unfinished task fewer; the last one releases every `join`.
    pub fn task_done(&self, cx: &mut Cx) -> Flow {
        let mut s = self.state.lock();
        if s.unfinished == 0 {
            return Err(Halt::Failed(TOO_MANY_DONE.to_string()));
        }
        s.unfinished -= 1;
        s.seq += 1;
        cx.emit(EventKind::TaskDone, self.index, None, Some(s.unfinished));
        // Joiners stay listed until they leave: one that wakes to find a task put in the
        // meantime waits on, as `while q.unfinished_tasks: wait()` does, and is still a waiter.
        if s.unfinished == 0 && !s.joiners.is_empty() {
            s.finished_by = Some(cx.me);
            self.all_done.notify_all();
        }
        Ok(())
    }

    /// `q.join()`: wait until every item put has been marked done.
    pub fn join(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.state.lock();
        if s.unfinished == 0 {
            cx.emit(EventKind::Pass, self.index, None, Some(0));
            return Ok(());
        }
        s.joiners.push(me);
        s.seq += 1;
        let by = await_hand_over(
            cx,
            self.index,
            &self.all_done,
            &mut s,
            None,
            |s| (s.unfinished == 0).then_some(s.finished_by),
            |s| s.joiners.retain(|&w| w != me),
        )?;
        s.joiners.retain(|&w| w != me);
        s.seq += 1;
        cx.emit(EventKind::Pass, self.index, by.flatten(), Some(0));
        Ok(())
    }

    /// A put (`Some(sentinel)`) or a take (`None`): wait while the buffer is full (or empty),
    /// then move one item and signal the first thread waiting on the other side. A take with a
    /// `timeout` gives up after it and returns false.
    fn act(
        &self,
        cx: &mut Cx,
        put: Option<Putting>,
        timeout: Option<Duration>,
    ) -> Result<bool, Halt> {
        let putting = put.is_some();
        let me = cx.me;
        let mut s = self.state.lock();
        let must_wait = |s: &State| {
            if putting {
                s.items.len() >= self.capacity
            } else {
                s.items.is_empty()
            }
        };
        if must_wait(&s) {
            // Queued until it has moved its item, also while woken: a thread woken by a signal
            // whose item another took first is waiting again the moment the item is gone.
            s.side(putting).push_back(me);
            s.seq += 1;
            let cv = if putting {
                &self.not_full
            } else {
                &self.not_empty
            };
            s.timed[me as usize] = timeout.is_some();
            let moved = await_hand_over(
                cx,
                self.index,
                cv,
                &mut s,
                timeout,
                |s| {
                    if !must_wait(s) {
                        return Some(None);
                    }
                    // Another thread got there first: that signal is spent.
                    s.woken_by[me as usize] = None;
                    None
                },
                |s| {
                    s.side(putting).retain(|&w| w != me);
                    s.woken_by[me as usize] = None;
                },
            );
            s.timed[me as usize] = false;
            if moved?.is_none() {
                s.seq += 1;
                cx.emit(EventKind::Timeout, self.index, None, None);
                return Ok(false);
            }
            s.side(putting).retain(|&w| w != me);
        }
        let (kind, item) = if let Some(what) = put {
            let entry = match what {
                Putting::Sentinel => (self.sentinel_priority, SENTINEL),
                Putting::Item(priority) => {
                    s.last_item += 1;
                    (priority, s.last_item)
                }
            };
            s.items.push_back(entry);
            s.unfinished += 1;
            (EventKind::Put, Some(entry.1))
        } else {
            let lowest = s.items.iter().map(|&(p, _)| p).min();
            let at = s.items.iter().position(|&(p, _)| Some(p) == lowest);
            let item = at.and_then(|k| s.items.remove(k)).map(|(_, item)| item);
            s.took_sentinel[me as usize] = item == Some(SENTINEL);
            (EventKind::Take, item)
        };
        s.seq += 1;
        let by = s.woken_by[me as usize].take();
        cx.emit(kind, self.index, by, item);
        // Signal the first thread on the other side that has not been signalled yet; every
        // one of them wakes to look.
        let st = &mut *s;
        let other = if putting {
            &st.consumers
        } else {
            &st.producers
        };
        if let Some(&next) = other.iter().find(|&&w| st.woken_by[w as usize].is_none()) {
            st.woken_by[next as usize] = Some(me);
        }
        if !other.is_empty() {
            if putting {
                self.not_empty.notify_all();
            } else {
                self.not_full.notify_all();
            }
        }
        // Threads on this side that still wait now wait for another thread to act.
        if must_wait(&s) && !s.side(putting).is_empty() {
            cx.leaves_waiters();
        }
        Ok(true)
    }

    /// Everyone on the side that must wait: consumers while it is empty, producers while it is
    /// full. While there are items, a consumer in the queue is about to take one, so it is not
    /// listed; once they are gone, every consumer still in the queue waits, woken or not.
    pub fn view(&self) -> View {
        let s = self.state.lock();
        let full = s.items.len() >= self.capacity;
        let side = if full {
            Some(&s.producers)
        } else if s.items.is_empty() {
            Some(&s.consumers)
        } else {
            None
        };
        // A take with a timeout ends by itself; a join waits for task-dones (once none is left,
        // its joiners are about to go on).
        let joining = if s.unfinished > 0 {
            &s.joiners[..]
        } else {
            &[]
        };
        let waiters = unflagged(side.into_iter().flatten(), &s.timed)
            .chain(joining.iter().copied())
            .collect();
        View {
            seq: s.seq,
            holders: Vec::new(),
            waiters,
            full,
        }
    }
}

/// What a put puts.
#[derive(Debug, Clone, Copy)]
enum Putting {
    /// The next numbered item, with its priority (0 when none is given).
    Item(u32),
    Sentinel,
}

impl State {
    /// The queue of producers (`putting`) or consumers.
    fn side(&mut self, putting: bool) -> &mut VecDeque<ThreadIdx> {
        if putting {
            &mut self.producers
        } else {
            &mut self.consumers
        }
    }
}
