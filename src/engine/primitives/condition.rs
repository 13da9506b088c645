//! `condition C lock=L`: Python's `threading.Condition(L)`. `wait` puts the thread on the
//! condition's queue, gives back L and sleeps until a `notify` picks it; then it takes L again
//! like any other thread wanting it. Its lane shows both waits: on C for the notice, then on L
//! for the lock. A notice finds only threads already waiting: one sent before anyone waits is
//! lost (its event says it woke nobody).

use std::collections::VecDeque;

use super::mutex::Mutex;
use super::{Core, Cx, View, Watched, unflagged};
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
        must_hold(
            cx,
            lock,
            "wait on",
            "waits on a condition without holding its lock",
        )?;
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
        let by = self.core.await_hand_over(
            cx,
            self.index,
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
        must_hold(
            cx,
            lock,
            "notify on",
            "notifies without holding the condition's lock",
        )?;
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
}

/// A condition is used with its lock held, or it fails as CPython's does.
fn must_hold(cx: &Cx, lock: &Mutex, verb: &str, what_it_does: &str) -> Flow {
    if lock.held_by(cx.me) {
        return Ok(());
    }
    Err(Halt::Failed(format!(
        "RuntimeError: cannot {verb} un-acquired lock ({} {what_it_does})",
        cx.name(cx.me)
    )))
}

impl Watched for State {
    /// Waiters are the threads not yet notified; a notified thread is on its way to the lock.
    fn view(&self) -> View {
        View::of(self.seq, [], unflagged(&self.waiting, &self.releasing))
    }
}
