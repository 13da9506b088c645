//! `event-loop main`: who the loop is running, as the trace and the teacher see it.
//!
//! The loop itself is a tokio current-thread runtime on one OS thread (see `engine::tasks`);
//! this is its bookkeeping. A task holds the loop from the moment the loop polls it until it
//! awaits or ends, and is ready (waiting for the loop) from the moment its await is over until
//! the loop gets round to it. Both changes are stamped under one lock, like every primitive's,
//! so the trace orders them as they happened.

use parking_lot::Mutex;

use super::{Cx, View};
use crate::scenario::model::{ResIdx, Tasks, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct EventLoop {
    index: ResIdx,
    state: Mutex<State>,
    /// Per task: asked to stop (`t.cancel()`), and by whom (`None`: a `wait-for`'s timeout
    /// on behalf of no task but the waiter, which is named all the same).
    cancels: Mutex<Vec<Option<Option<ThreadIdx>>>>,
    /// Tasks in the order they ended, for `asyncio.wait`'s FIRST_COMPLETED.
    ended: Mutex<Vec<ThreadIdx>>,
}

#[derive(Default)]
struct State {
    seq: u64,
    running: Option<ThreadIdx>,
    /// The task that ran last, which is the one a newly running task took over from.
    last: Option<ThreadIdx>,
}

impl EventLoop {
    pub fn new(index: ResIdx, threads: usize) -> EventLoop {
        EventLoop {
            index,
            state: Mutex::new(State::default()),
            cancels: Mutex::new(vec![None; threads]),
            ended: Mutex::new(Vec::new()),
        }
    }

    /// `t.cancel()` by `by`: `t` stops with `CancelledError` at its await. Whether this asked
    /// (a task already asked is not asked again).
    pub fn cancel(&self, t: ThreadIdx, by: Option<ThreadIdx>) -> bool {
        let mut c = self.cancels.lock();
        if c[t as usize].is_some() {
            return false;
        }
        c[t as usize] = Some(by);
        true
    }

    /// Task `t` has ended (done, failed or cancelled).
    pub fn ended(&self, t: ThreadIdx) {
        self.ended.lock().push(t);
    }

    /// The first of `tasks` to end, if any has.
    pub fn first_ended(&self, tasks: Tasks) -> Option<ThreadIdx> {
        self.ended
            .lock()
            .iter()
            .copied()
            .find(|&t| tasks.contains(t))
    }

    /// Whether task `t` was asked to stop, and by whom.
    pub fn cancelled(&self, t: ThreadIdx) -> Option<Option<ThreadIdx>> {
        self.cancels.lock()[t as usize]
    }

    /// The task now running on the loop, if any.
    pub fn running(&self) -> Option<ThreadIdx> {
        self.state.lock().running
    }

    /// The task can run again (its await is over, or it was just created) and waits for the
    /// loop.
    pub fn ready(&self, cx: &mut Cx) {
        let mut s = self.state.lock();
        s.seq += 1;
        cx.emit(EventKind::Block, self.index, None, None);
        cx.rec.flush();
    }

    /// The loop polls the task: it runs until its next await.
    pub fn enter(&self, cx: &mut Cx) {
        let mut s = self.state.lock();
        s.seq += 1;
        s.running = Some(cx.me);
        let by = s.last.filter(|&t| t != cx.me);
        cx.emit(EventKind::Acquire, self.index, by, None);
    }

    /// The task awaits or ends: the loop may run another.
    pub fn leave(&self, cx: &mut Cx) {
        let mut s = self.state.lock();
        if s.running != Some(cx.me) {
            return;
        }
        s.seq += 1;
        s.running = None;
        s.last = Some(cx.me);
        cx.emit(EventKind::Release, self.index, None, None);
        cx.rec.flush();
    }

    /// Nobody waits on the loop in the deadlock sense: a ready task waits only for the task
    /// running now to await or end, which it always does; tasks that await something (an
    /// asyncio primitive, another task) wait on that, not on the loop.
    pub fn view(&self) -> View {
        let s = self.state.lock();
        View::of(s.seq, s.running, [])
    }
}
