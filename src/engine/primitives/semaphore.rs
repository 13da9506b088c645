//! `semaphore pool permits=3`: at most `permits` holders; waiters queue in arrival order and a
//! release hands its permit straight to the first of them.

use std::collections::VecDeque;

use super::{Core, Cx, View, Watched};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Semaphore {
    index: ResIdx,
    pub(super) core: Core<State>,
}

pub(super) struct State {
    seq: u64,
    free: u32,
    /// One entry per permit held (a thread may hold several).
    holders: Vec<ThreadIdx>,
    waiters: VecDeque<ThreadIdx>,
    handed_by: Vec<Option<Option<ThreadIdx>>>,
}

impl Semaphore {
    pub fn new(index: ResIdx, permits: u32, threads: usize) -> Semaphore {
        Semaphore {
            index,
            core: Core::new(State {
                seq: 0,
                free: permits,
                holders: Vec::new(),
                waiters: VecDeque::new(),
                handed_by: vec![None; threads],
            }),
        }
    }

    pub fn acquire(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.core.lock();
        if s.free > 0 && s.waiters.is_empty() {
            s.free -= 1;
            s.holders.push(me);
            s.seq += 1;
            cx.emit(EventKind::Acquire, self.index, None, None);
            return Ok(());
        }
        s.waiters.push_back(me);
        s.seq += 1;
        let by = self.core.await_hand_over(
            cx,
            self.index,
            &mut s,
            |s| s.handed_by[me as usize].take(),
            |s| s.waiters.retain(|&w| w != me),
        )?;
        cx.emit(EventKind::Acquire, self.index, by, None);
        Ok(())
    }

    pub fn release(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.core.lock();
        let Some(at) = s.holders.iter().position(|&h| h == me) else {
            return Err(Halt::Failed(format!(
                "{} released a permit it does not hold",
                cx.name(me)
            )));
        };
        s.holders.swap_remove(at);
        cx.emit(EventKind::Release, self.index, None, None);
        s.seq += 1;
        match s.waiters.pop_front() {
            Some(next) => {
                s.holders.push(next);
                s.handed_by[next as usize] = Some(Some(me));
                self.core.handed_on(cx, !s.waiters.is_empty());
            }
            None => s.free += 1,
        }
        Ok(())
    }
}

impl Watched for State {
    fn view(&self) -> View {
        View::of(
            self.seq,
            self.holders.iter().copied(),
            self.waiters.iter().copied(),
        )
    }
}
