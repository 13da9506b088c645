//! `buffer queue capacity=3`: a bounded FIFO guarded by one mutex and two condition variables,
//! the textbook way: producers wait on "not full", consumers on "not empty". A put signals the
//! first waiting consumer and a take the first waiting producer; a woken thread checks again and
//! waits again if another thread got there first.

use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;

use super::{Cx, View};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Buffer {
    index: ResIdx,
    capacity: usize,
    pub(super) state: Mutex<State>,
    pub(super) not_full: Condvar,
    pub(super) not_empty: Condvar,
}

pub(super) struct State {
    seq: u64,
    items: VecDeque<u32>,
    last_item: u32,
    producers: VecDeque<ThreadIdx>,
    consumers: VecDeque<ThreadIdx>,
    /// Per thread: who signalled it last, until it notices.
    woken_by: Vec<Option<ThreadIdx>>,
}

impl Buffer {
    pub fn new(index: ResIdx, capacity: u32, threads: usize) -> Buffer {
        Buffer {
            index,
            capacity: capacity.max(1) as usize,
            state: Mutex::new(State {
                seq: 0,
                items: VecDeque::new(),
                last_item: 0,
                producers: VecDeque::new(),
                consumers: VecDeque::new(),
                woken_by: vec![None; threads],
            }),
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
        }
    }

    pub fn put(&self, cx: &mut Cx) -> Flow {
        self.act(cx, true)
    }

    pub fn take(&self, cx: &mut Cx) -> Flow {
        self.act(cx, false)
    }

    /// A put (`putting`) or a take: wait while the buffer is full (or empty), then move one
    /// item and signal the first thread waiting on the other side.
    fn act(&self, cx: &mut Cx, putting: bool) -> Flow {
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
            cx.block(self.index);
            let cv = if putting {
                &self.not_full
            } else {
                &self.not_empty
            };
            while must_wait(&s) {
                if cx.conductor.cancelled() {
                    s.side(putting).retain(|&w| w != me);
                    s.woken_by[me as usize] = None;
                    cx.conductor.unblocked(me);
                    return Err(Halt::Cancelled);
                }
                cv.wait(&mut s);
                if must_wait(&s) {
                    // Another thread got there first: that signal is spent.
                    s.woken_by[me as usize] = None;
                }
            }
            s.side(putting).retain(|&w| w != me);
            cx.conductor.unblocked(me);
        }
        let (kind, item) = if putting {
            s.last_item += 1;
            let item = s.last_item;
            s.items.push_back(item);
            (EventKind::Put, Some(item))
        } else {
            (EventKind::Take, s.items.pop_front())
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
        Ok(())
    }

    /// Everyone on the side that must wait: consumers while it is empty, producers while it is
    /// full. While there are items, a consumer in the queue is about to take one, so it is not
    /// listed; once they are gone, every consumer still in the queue waits, woken or not.
    pub fn view(&self) -> View {
        let s = self.state.lock();
        let full = s.items.len() >= self.capacity;
        let waiters = if full {
            s.producers.iter().copied().collect()
        } else if s.items.is_empty() {
            s.consumers.iter().copied().collect()
        } else {
            Vec::new()
        };
        View {
            seq: s.seq,
            holders: Vec::new(),
            waiters,
            full,
        }
    }
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
