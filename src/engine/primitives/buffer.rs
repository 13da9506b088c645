//! `buffer queue capacity=3`: a bounded FIFO guarded by one mutex and two condition variables,
//! the textbook way: producers wait on "not full", consumers on "not empty". A put signals the
//! first waiting consumer and a take the first waiting producer; a woken thread checks again and
//! waits again if another thread got there first.

use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;

use super::{Cx, View};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::trace::event::EventKind;

pub struct Buffer {
    index: ResIdx,
    capacity: usize,
    state: Mutex<State>,
    not_full: Condvar,
    not_empty: Condvar,
}

struct State {
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
        let me = cx.me;
        let mut s = self.state.lock();
        let mut blocked = false;
        while s.items.len() >= self.capacity {
            if cx.conductor.cancelled() {
                s.producers.retain(|&w| w != me);
                cx.conductor.unblocked(me);
                return Err(Halt::Cancelled);
            }
            if !s.producers.contains(&me) {
                s.producers.push_back(me);
                s.seq += 1;
            }
            if !blocked {
                blocked = true;
                cx.block(self.index);
            }
            self.not_full.wait(&mut s);
        }
        if blocked {
            // Woken by a signal meant for another producer, or after one: no longer waiting.
            s.producers.retain(|&w| w != me);
            cx.conductor.unblocked(me);
        }
        s.last_item += 1;
        let item = s.last_item;
        s.items.push_back(item);
        s.seq += 1;
        let by = s.woken_by[me as usize].take();
        cx.emit(EventKind::Put, self.index, by, Some(item));
        if let Some(consumer) = s.consumers.pop_front() {
            s.woken_by[consumer as usize] = Some(me);
            self.not_empty.notify_all();
        }
        Ok(())
    }

    pub fn take(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.state.lock();
        let mut blocked = false;
        while s.items.is_empty() {
            if cx.conductor.cancelled() {
                s.consumers.retain(|&w| w != me);
                cx.conductor.unblocked(me);
                return Err(Halt::Cancelled);
            }
            if !s.consumers.contains(&me) {
                s.consumers.push_back(me);
                s.seq += 1;
            }
            if !blocked {
                blocked = true;
                cx.block(self.index);
            }
            self.not_empty.wait(&mut s);
        }
        if blocked {
            s.consumers.retain(|&w| w != me);
            cx.conductor.unblocked(me);
        }
        let item = s.items.pop_front();
        s.seq += 1;
        let by = s.woken_by[me as usize].take();
        cx.emit(EventKind::Take, self.index, by, item);
        if let Some(producer) = s.producers.pop_front() {
            s.woken_by[producer as usize] = Some(me);
            self.not_full.notify_all();
        }
        Ok(())
    }

    pub fn wake_all(&self) {
        let _s = self.state.lock();
        self.not_full.notify_all();
        self.not_empty.notify_all();
    }

    /// Only those who must still wait: while there are items, every waiting consumer has been
    /// woken to look (a put wakes them all), and one that lost the race queues again; the same
    /// for producers while there is room. Listing them would let the deadlock watcher take a
    /// consumer about to take the last item for one that waits forever.
    pub fn view(&self) -> View {
        let s = self.state.lock();
        let producers = (s.items.len() >= self.capacity).then_some(&s.producers);
        let consumers = s.items.is_empty().then_some(&s.consumers);
        View {
            seq: s.seq,
            holders: Vec::new(),
            waiters: producers
                .into_iter()
                .chain(consumers)
                .flatten()
                .copied()
                .collect(),
        }
    }
}
