//! `rwlock R`: readers share it (`read R`), a writer has it alone (`write R`), `unlock R` gives
//! it back.
//!
//! Fair, in arrival order: a reader gets in at once only while no writer holds it and nobody is
//! queued. So once a writer queues, readers that come later wait behind it, and the writer gets
//! in as soon as the readers already inside leave. When the lock frees up it goes to the front
//! of the queue: one writer, or every reader up to the next queued writer, together.
//!
//! `prefer="readers"` drops that rule for readers, as a lock that only counts readers does: a
//! reader gets in whenever no writer holds the lock, queued writers or not, and a writer that
//! lets go lets every queued reader in. Writers still go in turn among themselves. A steady
//! stream of overlapping readers then keeps a writer out for as long as it lasts: the
//! starvation the fair rule prevents.

use std::collections::VecDeque;

use super::{Core, Cx, View, Watched};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct RwLock {
    index: ResIdx,
    prefer_readers: bool,
    pub(super) core: Core<State>,
}

pub(super) struct State {
    seq: u64,
    readers: Vec<ThreadIdx>,
    writer: Option<ThreadIdx>,
    /// Queued threads, and whether each wants to write.
    waiters: VecDeque<(ThreadIdx, bool)>,
    /// Per thread: granted while queued, and by whom (`Some(None)`: granted, nobody to name).
    granted: Vec<Option<Option<ThreadIdx>>>,
}

impl State {
    fn free_for(&self, write: bool, prefer_readers: bool) -> bool {
        self.writer.is_none()
            && if write {
                self.readers.is_empty() && self.waiters.is_empty()
            } else {
                prefer_readers || self.waiters.is_empty()
            }
    }

    /// Hand the lock to the front of the queue, if it can have it now; preferring readers,
    /// first to every queued reader.
    fn grant(&mut self, by: ThreadIdx, prefer_readers: bool) -> bool {
        let mut any = false;
        if prefer_readers && self.writer.is_none() {
            let mut still = VecDeque::with_capacity(self.waiters.len());
            for (t, write) in self.waiters.drain(..) {
                if write {
                    still.push_back((t, write));
                } else {
                    self.readers.push(t);
                    self.granted[t as usize] = Some(Some(by));
                    any = true;
                }
            }
            self.waiters = still;
        }
        while let Some(&(t, write)) = self.waiters.front() {
            let fits = self.writer.is_none() && (!write || self.readers.is_empty());
            if !fits {
                break;
            }
            self.waiters.pop_front();
            if write {
                self.writer = Some(t);
            } else {
                self.readers.push(t);
            }
            self.granted[t as usize] = Some(Some(by));
            any = true;
            if write {
                break;
            }
        }
        any
    }
}

impl RwLock {
    pub fn new(index: ResIdx, threads: usize, prefer_readers: bool) -> RwLock {
        RwLock {
            index,
            prefer_readers,
            core: Core::new(State {
                seq: 0,
                readers: Vec::new(),
                writer: None,
                waiters: VecDeque::new(),
                granted: vec![None; threads],
            }),
        }
    }

    pub fn read(&self, cx: &mut Cx) -> Flow {
        self.acquire(cx, false)
    }

    pub fn write(&self, cx: &mut Cx) -> Flow {
        self.acquire(cx, true)
    }

    fn acquire(&self, cx: &mut Cx, write: bool) -> Flow {
        let me = cx.me;
        let mut s = self.core.lock();
        if s.free_for(write, self.prefer_readers) {
            if write {
                s.writer = Some(me);
            } else {
                s.readers.push(me);
            }
            s.seq += 1;
            cx.emit(EventKind::Acquire, self.index, None, None);
            return Ok(());
        }
        s.waiters.push_back((me, write));
        s.seq += 1;
        let by = self.core.await_hand_over(
            cx,
            self.index,
            &mut s,
            |s| s.granted[me as usize].take(),
            |s| s.waiters.retain(|&(w, _)| w != me),
        )?;
        cx.emit(EventKind::Acquire, self.index, by, None);
        Ok(())
    }

    pub fn unlock(&self, cx: &mut Cx) -> Flow {
        let me = cx.me;
        let mut s = self.core.lock();
        if s.writer == Some(me) {
            s.writer = None;
        } else if let Some(at) = s.readers.iter().position(|&r| r == me) {
            s.readers.swap_remove(at);
        } else {
            return Err(Halt::Failed(format!(
                "{} unlocked an rwlock it neither reads nor writes",
                cx.name(me)
            )));
        }
        cx.emit(EventKind::Release, self.index, None, None);
        s.seq += 1;
        if s.grant(me, self.prefer_readers) {
            self.core.handed_on(cx, !s.waiters.is_empty());
        }
        Ok(())
    }

    /// Queued threads that want to write, for a view that tells readers from writers.
    pub fn waiting_writers(&self) -> Vec<ThreadIdx> {
        let s = self.core.lock();
        s.waiters.iter().filter(|w| w.1).map(|w| w.0).collect()
    }
}

impl Watched for State {
    fn view(&self) -> View {
        View::of(
            self.seq,
            self.writer.into_iter().chain(self.readers.iter().copied()),
            self.waiters.iter().map(|&(t, _)| t),
        )
    }
}
