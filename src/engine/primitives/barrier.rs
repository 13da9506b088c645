//! `barrier gate parties=3`: threads wait until `parties` of them have arrived; the arrival
//! that completes the party trips the barrier and releases everyone, and the next arrivals start
//! a new generation.

use super::{Core, Cx, View, Watched};
use crate::engine::conductor::Flow;
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Barrier {
    index: ResIdx,
    parties: usize,
    pub(super) core: Core<State>,
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
            core: Core::new(State {
                seq: 0,
                arrived: Vec::new(),
                generation: 0,
                tripped_by: None,
            }),
        }
    }

    pub fn wait(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.core.lock();
        cx.emit(EventKind::Arrive, self.index, None, None);
        s.arrived.push(me);
        s.seq += 1;
        if s.arrived.len() >= self.parties {
            s.generation += 1;
            s.tripped_by = Some(me);
            s.arrived.clear();
            cx.emit(EventKind::Pass, self.index, None, None);
            self.core.cv.notify_all();
            return Ok(());
        }
        let generation = s.generation;
        let by = self.core.await_hand_over(
            cx,
            self.index,
            &mut s,
            |s| (s.generation != generation).then_some(s.tripped_by),
            |s| s.arrived.retain(|&w| w != me),
        )?;
        cx.emit(EventKind::Pass, self.index, by, None);
        Ok(())
    }
}

impl Watched for State {
    fn view(&self) -> View {
        View::of(self.seq, [], self.arrived.iter().copied())
    }
}
