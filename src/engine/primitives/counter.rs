//! `counter hits`: a shared number and the unsafe way to add one to it.
//!
//! `increment` loads the value, works on it a moment, then stores the value it loaded plus one:
//! a read-modify-write in two separate atomic operations, like `hits += 1` in Python or an
//! unlocked `x = x + 1` anywhere. If another thread stores in between, one of the two updates
//! is lost. This is a well-defined race on an atomic, not undefined behaviour: every load and
//! store is whole, only the pair is not.
//!
//! Each load and each store is recorded together with the operation (under a small lock that
//! orders the stamps, not the increments), so sorting events by time replays the counter's
//! values exactly, and the lost updates can be counted from the events alone.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Cx, View};
use crate::engine::conductor::Flow;
use crate::engine::work;
use crate::scenario::model::ResIdx;
use crate::vocab::event::EventKind;

/// How long an increment holds the value it read before writing it back, at 1x: the window in
/// which another thread's update can be lost.
pub const WINDOW: Duration = Duration::from_millis(5);

/// The same window for a thread under a GIL: two slices of work with one GIL check between
/// them, so a drop request can land between read and write only at that check.
pub const GIL_WINDOW: Duration = Duration::from_micros(200);

pub struct Counter {
    index: ResIdx,
    value: AtomicU32,
    stamp: Mutex<u64>,
}

impl Counter {
    pub fn new(index: ResIdx) -> Counter {
        Counter {
            index,
            value: AtomicU32::new(0),
            stamp: Mutex::new(0),
        }
    }

    /// `between` runs at each boundary between slices of the window: where a GIL can switch.
    pub fn increment(
        &self,
        cx: &mut Cx,
        window: Duration,
        mut between: impl FnMut(&mut Cx) -> Flow,
    ) -> Flow {
        let loaded = {
            let mut seq = self.stamp.lock();
            *seq += 1;
            let v = self.value.load(Ordering::SeqCst);
            cx.emit(EventKind::Load, self.index, None, Some(v));
            v
        };
        cx.rec.flush();
        // The work between read and write, in slices so a pause or reset is still prompt.
        let total = window.as_nanos() as f64;
        let mut done = 0.0;
        while done < total {
            cx.check_cancel()?;
            if done > 0.0 {
                between(cx)?;
            }
            let speed = cx.conductor.speed();
            let this = (work::SLICE.as_nanos() as f64).min((total - done) / speed);
            work::burn(Duration::from_nanos(this.max(1.0) as u64));
            done += this * speed;
        }
        let mut seq = self.stamp.lock();
        *seq += 1;
        let stored = loaded.wrapping_add(1);
        self.value.store(stored, Ordering::SeqCst);
        cx.emit(EventKind::Store, self.index, None, Some(stored));
        Ok(())
    }

    pub fn value(&self) -> u32 {
        self.value.load(Ordering::SeqCst)
    }

    pub fn view(&self) -> View {
        View::of(*self.stamp.lock(), [], [])
    }
}
