//! `rlock R`: a reentrant lock, Python's `RLock`. The holder may lock it again; it counts how
//! many times, and the lock is free (handed to the first waiter) once every `lock` has had its
//! `unlock`. Anyone else queues in arrival order, as on a mutex.

use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;

use super::{Cx, View};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::trace::event::EventKind;

pub struct RLock {
    index: ResIdx,
    state: Mutex<State>,
    cv: Condvar,
}

struct State {
    seq: u64,
    holder: Option<ThreadIdx>,
    /// How many `lock`s of the holder are not yet matched by an `unlock`.
    depth: u32,
    waiters: VecDeque<ThreadIdx>,
    handed_by: Vec<Option<ThreadIdx>>,
}

impl RLock {
    pub fn new(index: ResIdx, threads: usize) -> RLock {
        RLock {
            index,
            state: Mutex::new(State {
                seq: 0,
                holder: None,
                depth: 0,
                waiters: VecDeque::new(),
                handed_by: vec![None; threads],
            }),
            cv: Condvar::new(),
        }
    }

    pub fn lock(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.state.lock();
        if s.holder.is_none() || s.holder == Some(me) {
            s.holder = Some(me);
            s.depth += 1;
            s.seq += 1;
            cx.emit(EventKind::Acquire, self.index, None, Some(s.depth));
            return Ok(());
        }
        s.waiters.push_back(me);
        s.seq += 1;
        cx.block(self.index);
        let flow = loop {
            if s.holder == Some(me) {
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
        let by = s.handed_by[me as usize].take();
        cx.emit(EventKind::Acquire, self.index, by, Some(s.depth));
        Ok(())
    }

    pub fn unlock(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.state.lock();
        if s.holder != Some(me) {
            let held = match s.holder {
                Some(h) => format!("it is held by {}", cx.name(h)),
                None => "nobody holds it".to_string(),
            };
            return Err(Halt::Failed(format!(
                "{} unlocked an rlock it does not hold ({held})",
                cx.name(me)
            )));
        }
        s.depth -= 1;
        s.seq += 1;
        cx.emit(EventKind::Release, self.index, None, Some(s.depth));
        if s.depth > 0 {
            return Ok(());
        }
        s.holder = s.waiters.pop_front();
        if let Some(next) = s.holder {
            s.depth = 1;
            s.handed_by[next as usize] = Some(me);
            self.cv.notify_all();
        }
        Ok(())
    }

    pub fn wake_all(&self) {
        let _s = self.state.lock();
        self.cv.notify_all();
    }

    pub fn view(&self) -> View {
        let s = self.state.lock();
        View {
            seq: s.seq,
            holders: s.holder.into_iter().collect(),
            waiters: s.waiters.iter().copied().collect(),
        }
    }
}
