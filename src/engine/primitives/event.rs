//! `event ready`: Python's `threading.Event`. A flag, false at first; `wait` returns at once
//! if it is set and otherwise waits until a thread `set`s it, or, with a timeout, gives up
//! (Python's `wait` returning False); `set` releases every waiter at once (each one's `by` is
//! the setter); `clear` makes it false again, for waits that come after. A waiter released by
//! a `set` goes on even if the event is cleared before it runs, as Python's does.

use std::time::Duration;

use super::{Core, Cx, View, Watched, await_hand_over, unflagged};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Event {
    index: ResIdx,
    pub(super) core: Core<State>,
}

pub(super) struct State {
    seq: u64,
    /// Who set it, while it is set.
    set_by: Option<ThreadIdx>,
    waiters: Vec<ThreadIdx>,
    /// Per thread: waiting with a timeout, so it gives up by itself.
    timed: Vec<bool>,
    /// Per thread: who released it, until it notices.
    released_by: Vec<Option<ThreadIdx>>,
}

impl Event {
    pub fn new(index: ResIdx, threads: usize) -> Event {
        Event {
            index,
            core: Core::new(State {
                seq: 0,
                set_by: None,
                waiters: Vec::new(),
                timed: vec![false; threads],
                released_by: vec![None; threads],
            }),
        }
    }

    pub fn set(&self, cx: &mut Cx) -> Flow {
        let mut s = self.core.lock();
        cx.emit(EventKind::Set, self.index, None, None);
        s.seq += 1;
        s.set_by = Some(cx.me);
        // Waiters leave the queue here, under the lock, so the watcher never sees a released
        // thread still waiting.
        let me = cx.me;
        for w in std::mem::take(&mut s.waiters) {
            s.released_by[w as usize] = Some(me);
        }
        self.core.cv.notify_all();
        Ok(())
    }

    pub fn clear(&self, cx: &mut Cx) -> Flow {
        let mut s = self.core.lock();
        cx.emit(EventKind::Clear, self.index, None, None);
        s.seq += 1;
        s.set_by = None;
        Ok(())
    }

    pub fn wait(&self, cx: &mut Cx) -> Flow {
        self.wait_for(cx, None).map(|_| ())
    }

    /// Waits until set, or gives up after `timeout` of run time at the current speed (time
    /// paused does not count). Returns whether it was set: Python's `wait` return value.
    pub fn wait_for(&self, cx: &mut Cx, timeout: Option<Duration>) -> Result<bool, Halt> {
        let me = cx.me;
        let mut s = self.core.lock();
        if let Some(by) = s.set_by {
            cx.emit(EventKind::Pass, self.index, Some(by), None);
            return Ok(true);
        }
        s.waiters.push(me);
        s.timed[me as usize] = timeout.is_some();
        s.seq += 1;
        let released = await_hand_over(
            cx,
            self.index,
            &self.core.cv,
            &mut s,
            timeout,
            |s| s.released_by[me as usize].take().map(Some),
            |s| s.waiters.retain(|&w| w != me),
        );
        s.timed[me as usize] = false;
        match released? {
            Some(by) => {
                cx.emit(EventKind::Pass, self.index, by, None);
                Ok(true)
            }
            None => {
                s.seq += 1;
                cx.emit(EventKind::Timeout, self.index, None, None);
                Ok(false)
            }
        }
    }
}

impl Watched for State {
    fn view(&self) -> View {
        View::of(self.seq, [], unflagged(&self.waiters, &self.timed))
    }
}
