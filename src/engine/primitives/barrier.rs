//! `barrier gate parties=3`: threads wait until `parties` of them have arrived; the arrival
//! that completes the party trips the barrier and releases everyone, and the next arrivals start
//! a new generation.

use parking_lot::{Condvar, Mutex};

use super::{Cx, View};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Barrier {
    index: ResIdx,
    parties: usize,
    pub(super) state: Mutex<State>,
    pub(super) cv: Condvar,
}

pub(super) struct State {
    seq: u64,
    arrived: Vec<ThreadIdx>,
    generation: u64,
    /// Who tripped the most recent generation.
    tripped_by: Option<ThreadIdx>,
}

impl Barrier {
    pub fn new(index: ResIdx, parties: u32) -> Barrier {
        Barrier {
            index,
            parties: parties.max(1) as usize,
            state: Mutex::new(State {
                seq: 0,
                arrived: Vec::new(),
                generation: 0,
                tripped_by: None,
            }),
            cv: Condvar::new(),
        }
    }

    pub fn wait(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.state.lock();
        cx.emit(EventKind::Arrive, self.index, None, None);
        s.arrived.push(me);
        s.seq += 1;
        if s.arrived.len() >= self.parties {
            s.generation += 1;
            s.tripped_by = Some(me);
            s.arrived.clear();
            cx.emit(EventKind::Pass, self.index, None, None);
            self.cv.notify_all();
            return Ok(());
        }
        let generation = s.generation;
        cx.block(self.index);
        let flow = loop {
            if s.generation != generation {
                break Ok(());
            }
            if cx.conductor.cancelled() {
                s.arrived.retain(|&w| w != me);
                break Err(Halt::Cancelled);
            }
            self.cv.wait(&mut s);
        };
        cx.conductor.unblocked(me);
        flow?;
        let by = s.tripped_by;
        cx.emit(EventKind::Pass, self.index, by, None);
        Ok(())
    }

    pub fn view(&self) -> View {
        let s = self.state.lock();
        View {
            seq: s.seq,
            holders: Vec::new(),
            waiters: s.arrived.clone(),
            full: false,
        }
    }
}
