//! `event ready`: Python's `threading.Event`. A flag, false at first; `wait` returns at once
//! if it is set and otherwise waits until a thread `set`s it; `set` releases every waiter at
//! once (each one's `by` is the setter). Once set it stays set.

use parking_lot::{Condvar, Mutex};

use super::{Cx, View};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Event {
    index: ResIdx,
    pub(super) state: Mutex<State>,
    pub(super) cv: Condvar,
}

pub(super) struct State {
    seq: u64,
    /// Who set it first, once it is set.
    set_by: Option<ThreadIdx>,
    waiters: Vec<ThreadIdx>,
}

impl Event {
    pub fn new(index: ResIdx) -> Event {
        Event {
            index,
            state: Mutex::new(State {
                seq: 0,
                set_by: None,
                waiters: Vec::new(),
            }),
            cv: Condvar::new(),
        }
    }

    pub fn set(&self, cx: &mut Cx) -> Flow {
        let mut s = self.state.lock();
        cx.emit(EventKind::Set, self.index, None, None);
        s.seq += 1;
        if s.set_by.is_none() {
            s.set_by = Some(cx.me);
        }
        // Waiters leave the queue here, under the lock, so the watcher never sees a released
        // thread still waiting.
        s.waiters.clear();
        self.cv.notify_all();
        Ok(())
    }

    pub fn wait(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.state.lock();
        if let Some(by) = s.set_by {
            cx.emit(EventKind::Pass, self.index, Some(by), None);
            return Ok(());
        }
        s.waiters.push(me);
        s.seq += 1;
        cx.block(self.index);
        let flow = loop {
            if s.set_by.is_some() {
                break Ok(());
            }
            if cx.conductor.cancelled() {
                s.waiters.retain(|&w| w != me);
                break Err(Halt::Cancelled);
            }
            self.cv.wait(&mut s);
        };
        cx.conductor.unblocked(me);
        flow?;
        cx.emit(EventKind::Pass, self.index, s.set_by, None);
        Ok(())
    }

    pub fn view(&self) -> View {
        let s = self.state.lock();
        View {
            seq: s.seq,
            holders: Vec::new(),
            waiters: s.waiters.clone(),
            full: false,
        }
    }
}
