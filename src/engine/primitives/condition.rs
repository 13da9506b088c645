//! `condition C lock=L`: Python's `threading.Condition(L)`. `wait` puts the thread on the
//! condition's queue, gives back L and sleeps until a `notify` picks it; then it takes L again
//! like any other thread wanting it. Its lane shows both waits: on C for the notice, then on L
//! for the lock. A notice finds only threads already waiting: one sent before anyone waits is
//! lost (its event says it woke nobody).

use std::collections::VecDeque;

use super::mutex::Mutex;
use super::{Core, Cx, View};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Condition {
    index: ResIdx,
    pub(super) core: Core<State>,
}

pub(super) struct State {
    seq: u64,
    /// Threads waiting for a notice, longest-waiting first.
    waiting: VecDeque<ThreadIdx>,
    /// Per thread: queued but still giving back the lock. Until it has, it is a holder of the
    /// lock, not yet a waiter here, as far as the deadlock watcher is concerned.
    releasing: Vec<bool>,
    /// Per thread: who notified it, until it notices.
    woken_by: Vec<Option<ThreadIdx>>,
}

impl Condition {
    pub fn new(index: ResIdx, threads: usize) -> Condition {
        Condition {
            index,
            core: Core::new(State {
                seq: 0,
                waiting: VecDeque::new(),
                releasing: vec![false; threads],
                woken_by: vec![None; threads],
            }),
        }
    }

    /// `C.wait()`: give back `lock`, wait for a notice, take `lock` again. Queued before the
    /// lock is given back, as CPython does, so a notifier (who must hold the lock) cannot slip
    /// in between and miss it.
    pub fn wait(&self, cx: &mut Cx, lock: &Mutex) -> Flow {
        let me = cx.me;
        if !lock.held_by(me) {
            return Err(Halt::Failed(format!(
                "RuntimeError: cannot wait on un-acquired lock ({} waits on a condition without holding its lock)",
                cx.name(me)
            )));
        }
        {
            let mut s = self.core.lock();
            s.waiting.push_back(me);
            s.releasing[me as usize] = true;
        }
        let released = lock.unlock(cx);
        let mut s = self.core.lock();
        s.releasing[me as usize] = false;
        s.seq += 1;
        if let Err(halt) = released {
            s.waiting.retain(|&w| w != me);
            return Err(halt);
        }
        cx.block(self.index);
        let by = self.core.await_hand_over(
            cx,
            &mut s,
            |s| s.woken_by[me as usize].take().map(Some),
            |s| s.waiting.retain(|&w| w != me),
        )?;
        cx.emit(EventKind::Pass, self.index, by, None);
        drop(s);
        lock.lock(cx)
    }

    /// `C.notify()` (`all` false) or `C.notify_all()`: wake the longest-waiting thread, or
    /// every waiting thread. The event's item is how many it woke: 0 is a lost wake-up.
    pub fn notify(&self, cx: &mut Cx, lock: &Mutex, all: bool) -> Flow {
        let me = cx.me;
        if !lock.held_by(me) {
            return Err(Halt::Failed(format!(
                "RuntimeError: cannot notify on un-acquired lock ({} notifies without holding the condition's lock)",
                cx.name(me)
            )));
        }
        let mut s = self.core.lock();
        let n = if all {
            s.waiting.len()
        } else {
            s.waiting.len().min(1)
        };
        for _ in 0..n {
            if let Some(w) = s.waiting.pop_front() {
                s.woken_by[w as usize] = Some(me);
            }
        }
        s.seq += 1;
        cx.emit(EventKind::Notify, self.index, None, Some(n as u32));
        if n > 0 {
            self.core.handed_on(cx, !s.waiting.is_empty());
        }
        Ok(())
    }

    /// Waiters are the threads not yet notified; a notified thread is on its way to the lock.
    pub fn view(&self) -> View {
        let s = self.core.lock();
        View::of(
            s.seq,
            [],
            s.waiting
                .iter()
                .copied()
                .filter(|&w| !s.releasing[w as usize]),
        )
    }
}
