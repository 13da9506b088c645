//! `mutex A`: one holder at a time; waiters queue in arrival order and `unlock` hands the lock
//! to the first of them. Not reentrant: a thread that locks a mutex it holds waits for itself.

use parking_lot::{Condvar, Mutex as PlMutex};
use std::collections::VecDeque;

use super::{Cx, View};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::trace::event::EventKind;

pub struct Mutex {
    index: ResIdx,
    state: PlMutex<State>,
    cv: Condvar,
}

struct State {
    seq: u64,
    holder: Option<ThreadIdx>,
    waiters: VecDeque<ThreadIdx>,
    /// Per thread: who handed it the lock, until it notices.
    handed_by: Vec<Option<ThreadIdx>>,
}

impl Mutex {
    pub fn new(index: ResIdx, threads: usize) -> Mutex {
        Mutex {
            index,
            state: PlMutex::new(State {
                seq: 0,
                holder: None,
                waiters: VecDeque::new(),
                handed_by: vec![None; threads],
            }),
            cv: Condvar::new(),
        }
    }

    pub fn lock(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.state.lock();
        if s.holder.is_none() {
            s.holder = Some(me);
            s.seq += 1;
            cx.emit(EventKind::Acquire, self.index, None, None);
            return Ok(());
        }
        s.waiters.push_back(me);
        s.seq += 1;
        cx.block(self.index);
        let flow = loop {
            // Handed over means popped from the queue: a thread that locked a mutex it already
            // holds is the holder too, but still queued, waiting for itself.
            if s.holder == Some(me) && !s.waiters.contains(&me) {
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
        cx.emit(EventKind::Acquire, self.index, by, None);
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
                "{} unlocked a mutex it does not hold ({held})",
                cx.name(me)
            )));
        }
        cx.emit(EventKind::Release, self.index, None, None);
        s.seq += 1;
        s.holder = s.waiters.pop_front();
        if let Some(next) = s.holder {
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
