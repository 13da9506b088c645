//! `gil interval="5ms"`: a global interpreter lock modelled on CPython's "new GIL" (3.2+).
//!
//! A thread under the GIL must hold it to do CPU work. A thread that wants it waits up to the
//! switch interval; if no switch happened meanwhile it sets a drop request, and the holder drops
//! the GIL at its next check (between two slices of work). The GIL then goes to the first
//! waiter, so the thread that dropped it cannot take it straight back (CPython's forced
//! switching). A thread that sleeps (I/O) releases the GIL first and takes it again after.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use super::{Core, Cx, View, Watched};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

const NOBODY: u32 = u32::MAX;
/// How long a thread that set a drop request stays awake for the hand-over: a few slices.
const HANDOVER_SPIN: std::time::Duration = std::time::Duration::from_micros(500);

pub struct Gil {
    index: ResIdx,
    interval: Duration,
    /// Set with the drop request, read by the holder between slices without taking the lock.
    drop_requested: AtomicBool,
    /// The holder, readable without the lock: a thread that has just asked for the GIL spins
    /// on it for a moment, so the hand-over does not also pay for waking a sleeping thread.
    holder_now: AtomicU32,
    pub(super) core: Core<State>,
}

pub(super) struct State {
    seq: u64,
    holder: Option<ThreadIdx>,
    waiters: VecDeque<ThreadIdx>,
    /// Counts hand-overs, so a waiter can tell whether a switch happened while it waited.
    switches: u64,
    handed_by: Vec<Option<ThreadIdx>>,
}

impl Gil {
    pub fn new(index: ResIdx, interval: Duration, threads: usize) -> Gil {
        Gil {
            index,
            interval: interval.max(Duration::from_micros(50)),
            drop_requested: AtomicBool::new(false),
            holder_now: AtomicU32::new(NOBODY),
            core: Core::new(State {
                seq: 0,
                holder: None,
                waiters: VecDeque::new(),
                switches: 0,
                handed_by: vec![None; threads],
            }),
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether the holder has been asked to drop the GIL (cheap; checked between slices).
    pub fn drop_requested(&self) -> bool {
        self.drop_requested.load(Ordering::Relaxed)
    }

    pub fn take(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.core.lock();
        if s.holder.is_none() && s.waiters.is_empty() {
            s.holder = Some(me);
            self.holder_now.store(me as u32, Ordering::Release);
            s.switches += 1;
            s.seq += 1;
            cx.emit(EventKind::Acquire, self.index, None, None);
            return Ok(());
        }
        self.wait_turn(cx, s)
    }

    /// Answer a drop request: hand the GIL to the first waiter and queue behind it, in one
    /// step, so the thread is never seen computing after it let go.
    pub fn switch(&self, cx: &mut Cx) -> Flow {
        let mut s = self.core.lock();
        if s.holder != Some(cx.me) {
            return Ok(());
        }
        self.hand_over(cx, &mut s);
        if s.holder.is_none() {
            // Nobody was waiting after all: keep computing.
            s.holder = Some(cx.me);
            self.holder_now.store(cx.me as u32, Ordering::Release);
            s.switches += 1;
            cx.emit(EventKind::Acquire, self.index, None, None);
            return Ok(());
        }
        self.wait_turn(cx, s)
    }

    /// Queue for the GIL and wait, asking the holder to drop it whenever a whole switch
    /// interval passes without a switch.
    fn wait_turn(&self, cx: &mut Cx, mut s: parking_lot::MutexGuard<'_, State>) -> Flow {
        let me = cx.me;
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
            let switches = s.switches;
            // The switch interval is run time: at 0.1x it lasts ten times as long on the wall.
            let interval = self.interval.div_f64(cx.conductor.speed());
            let timed_out = self.core.cv.wait_for(&mut s, interval).timed_out();
            if timed_out
                && s.holder.is_some()
                && s.holder != Some(me)
                && s.switches == switches
                && !self.drop_requested.swap(true, Ordering::Relaxed)
            {
                s.seq += 1;
                cx.emit(EventKind::DropRequest, self.index, None, None);
                cx.rec.flush();
                // The holder answers within one slice of work: stay awake for it.
                parking_lot::MutexGuard::unlocked(&mut s, || {
                    let until = std::time::Instant::now() + HANDOVER_SPIN;
                    while self.holder_now.load(Ordering::Acquire) != me as u32
                        && std::time::Instant::now() < until
                    {
                        std::hint::spin_loop();
                    }
                });
            }
        };
        cx.conductor.unblocked(me);
        flow?;
        let by = s.handed_by[me as usize].take();
        cx.emit(EventKind::Acquire, self.index, by, None);
        Ok(())
    }

    /// Give the GIL up before I/O, a blocking wait, or the end of the thread.
    pub fn drop_gil(&self, cx: &mut Cx) {
        let mut s = self.core.lock();
        if s.holder == Some(cx.me) {
            self.hand_over(cx, &mut s);
        }
    }

    fn hand_over(&self, cx: &mut Cx, s: &mut State) {
        cx.emit(EventKind::Release, self.index, None, None);
        self.drop_requested.store(false, Ordering::Relaxed);
        s.seq += 1;
        s.holder = s.waiters.pop_front();
        self.holder_now
            .store(s.holder.map_or(NOBODY, u32::from), Ordering::Release);
        if let Some(next) = s.holder {
            s.switches += 1;
            s.handed_by[next as usize] = Some(cx.me);
            self.core.cv.notify_all();
        }
    }
}

impl Watched for State {
    fn view(&self) -> View {
        View::of(self.seq, self.holder, self.waiters.iter().copied())
    }
}
