//! `mutex A` and `rlock R`: one holder at a time; waiters queue in arrival order and the last
//! `unlock` hands the lock to the first of them. A mutex is not reentrant: a thread that locks a
//! mutex it holds waits for itself. An rlock (Python's `RLock`) lets its holder lock it again
//! and counts how many times; its events carry that count in `item`.

use std::collections::VecDeque;
use std::time::Duration;

use super::{Core, Cx, View, Watched, await_hand_over, unflagged};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Mutex {
    index: ResIdx,
    reentrant: bool,
    pub(super) core: Core<State>,
}

pub(super) struct State {
    seq: u64,
    holder: Option<ThreadIdx>,
    /// How many `lock`s of the holder are not yet matched by an `unlock`.
    depth: u32,
    waiters: VecDeque<ThreadIdx>,
    /// Per thread: waiting with a timeout, so it gives up by itself.
    timed: Vec<bool>,
    /// Per thread: who handed it the lock, until it notices.
    handed_by: Vec<Option<ThreadIdx>>,
}

impl Mutex {
    pub fn new(index: ResIdx, threads: usize, reentrant: bool) -> Mutex {
        Mutex {
            index,
            reentrant,
            core: Core::new(State {
                seq: 0,
                holder: None,
                depth: 0,
                waiters: VecDeque::new(),
                timed: vec![false; threads],
                handed_by: vec![None; threads],
            }),
        }
    }

    /// Whether `t` holds it now.
    pub fn held_by(&self, t: ThreadIdx) -> bool {
        self.core.lock().holder == Some(t)
    }

    pub fn is_reentrant(&self) -> bool {
        self.reentrant
    }

    /// Record a take or a give-back: an rlock's events carry its count, a plain mutex's none.
    fn emit_depth(&self, cx: &mut Cx, kind: EventKind, by: Option<ThreadIdx>, depth: u32) {
        cx.emit(kind, self.index, by, self.reentrant.then_some(depth));
    }

    pub fn lock(&self, cx: &mut Cx) -> Flow {
        self.take(cx, None).map(|_| ())
    }

    /// Like `lock`, but give up after waiting `timeout` of run time at the current speed
    /// (time paused does not count against it). Returns whether the lock was taken.
    pub fn lock_for(&self, cx: &mut Cx, timeout: Duration) -> Result<bool, Halt> {
        self.take(cx, Some(timeout))
    }

    fn take(&self, cx: &mut Cx, timeout: Option<Duration>) -> Result<bool, Halt> {
        let me = cx.me;
        let mut s = self.core.lock();
        if s.holder.is_none() || (self.reentrant && s.holder == Some(me)) {
            s.holder = Some(me);
            s.depth += 1;
            s.seq += 1;
            self.emit_depth(cx, EventKind::Acquire, None, s.depth);
            return Ok(true);
        }
        s.waiters.push_back(me);
        s.timed[me as usize] = timeout.is_some();
        s.seq += 1;
        let handed = await_hand_over(
            cx,
            self.index,
            &self.core.cv,
            &mut s,
            timeout,
            // Handed over means popped from the queue: a thread that locked a mutex it already
            // holds is the holder too, but still queued, waiting for itself.
            |s| {
                (s.holder == Some(me) && !s.waiters.contains(&me))
                    .then(|| s.handed_by[me as usize].take())
            },
            |s| s.waiters.retain(|&w| w != me),
        );
        s.timed[me as usize] = false;
        match handed? {
            Some(by) => {
                self.emit_depth(cx, EventKind::Acquire, by, s.depth);
                Ok(true)
            }
            None => {
                s.seq += 1;
                cx.emit(EventKind::Timeout, self.index, None, None);
                Ok(false)
            }
        }
    }

    pub fn unlock(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.core.lock();
        if s.holder != Some(me) {
            let held = match s.holder {
                Some(h) => format!("it is held by {}", cx.name(h)),
                None => "nobody holds it".to_string(),
            };
            let kind = if self.reentrant {
                "an rlock"
            } else {
                "a mutex"
            };
            return Err(Halt::Failed(format!(
                "{} unlocked {kind} it does not hold ({held})",
                cx.name(me)
            )));
        }
        s.depth = s.depth.saturating_sub(1);
        s.seq += 1;
        self.emit_depth(cx, EventKind::Release, None, s.depth);
        if s.depth > 0 {
            return Ok(());
        }
        s.holder = s.waiters.pop_front();
        if let Some(next) = s.holder {
            s.depth = 1;
            s.handed_by[next as usize] = Some(me);
            self.core.handed_on(cx, !s.waiters.is_empty());
        }
        Ok(())
    }
}

impl Watched for State {
    fn view(&self) -> View {
        View::of(self.seq, self.holder, unflagged(&self.waiters, &self.timed))
    }
}
