//! Recording without changing what is recorded.
//!
//! Each worker keeps its own small buffer of events and hands it over in batches through a
//! bounded channel with `try_send`, so a worker never blocks on whoever reads the events. A
//! worker flushes before anything that lets time pass (a wait, a sleep, CPU work, being held),
//! so readers see a state as soon as a thread enters it. If the reader falls so far behind
//! that the channel is full, the batch is dropped and counted, never waited for.
//!
//! Stamps keep cause before effect. A plain stamp reads the counter only after every earlier
//! instruction has completed, which costs as much as the rest of recording an event. An event
//! recorded with its primitive's state locked (`emit_locked`, what every primitive does) reads
//! the counter without waiting, and is put in order by data instead: it is stamped later than
//! the last event on the same primitive (kept in `Sink::floors`, read and written under that
//! lock) and than this thread's own last event. Whatever a thread learned through a primitive,
//! it learned under that primitive's lock, from a thread whose event there was stamped first.
//!
//! Nothing recorded is lost without being counted: every batch handed over is counted in
//! `recorded`, and is either in the channel (the receiver lives as long as the run, so a reader
//! that drains after joining the workers gets every last one) or counted in `dropped`. Once the
//! run is closed (stopped), nothing more is recorded: what threads do while being torn down is
//! not part of the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam::channel::{self, Receiver, Sender, TrySendError};
use crossbeam::utils::CachePadded;
use parking_lot::Mutex;

use super::clock::{RunClock, Stamper};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::{Event, EventKind};

/// Batches in flight before the reader is considered lost and batches are dropped.
const CHANNEL_BATCHES: usize = 1 << 14;
/// A busy thread hands over its events at least this often (in events).
const BATCH_EVENTS: usize = 256;
/// Room in a fresh buffer: most hand-overs are of a few events (a thread about to wait).
const FIRST_BATCH: usize = 8;
/// Drained batches kept for workers to fill again, so a busy worker does not allocate (and
/// fault in) a fresh buffer, nor the reader free one, for every batch.
const SPARE_BATCHES: usize = 64;

pub struct Sink {
    tx: Sender<Vec<Event>>,
    rx: Receiver<Vec<Event>>,
    /// Emptied batches on their way back to the workers.
    spare_tx: Sender<Vec<Event>>,
    spare_rx: Receiver<Vec<Event>>,
    dropped: AtomicU64,
    /// Events handed over so far: each either reaches a reader or is counted in `dropped`.
    recorded: AtomicU64,
    /// Read at every event: kept on a line of its own, away from the counters flushes write.
    closed: CachePadded<AtomicBool>,
    /// Per resource: the stamp of the last event recorded on it with its state locked.
    floors: Vec<CachePadded<AtomicU64>>,
    /// Per thread: a raw instant no later than its oldest event not handed over yet, or
    /// `u64::MAX` while it holds none. Before the smallest of these, every event recorded is
    /// in the channel.
    pending_since: Vec<CachePadded<AtomicU64>>,
    /// Every worker is joined: everything recorded is in the channel.
    all_in: AtomicBool,
    /// Events stamped while run time stood still, with their raw stamps, until every event
    /// stamped before them has arrived (see `drain`).
    paused: Mutex<Vec<Event>>,
    pub clock: Arc<RunClock>,
    watch: std::sync::OnceLock<Watch>,
}

/// Who is shown every event as it is stamped, while `on` is set.
struct Watch {
    on: Arc<AtomicBool>,
    show: Box<dyn Fn(&Event) + Send + Sync>,
}

impl Sink {
    pub fn new(clock: Arc<RunClock>, threads: usize, resources: usize) -> Arc<Sink> {
        // Each lane may hand over several small batches before a reader comes round: ten
        // thousand tasks starting at once hand over three each within milliseconds.
        let (tx, rx) = channel::bounded(CHANNEL_BATCHES.max(threads * 8));
        let (spare_tx, spare_rx) = channel::bounded(SPARE_BATCHES);
        Arc::new(Sink {
            tx,
            rx,
            spare_tx,
            spare_rx,
            dropped: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
            closed: CachePadded::new(AtomicBool::new(false)),
            floors: (0..resources)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
            pending_since: (0..threads)
                .map(|_| CachePadded::new(AtomicU64::new(u64::MAX)))
                .collect(),
            all_in: AtomicBool::new(false),
            paused: Mutex::new(Vec::new()),
            clock,
            watch: std::sync::OnceLock::new(),
        })
    }

    /// Show every event to `show` as it is stamped (raw stamp), whenever `on` is set: how
    /// breakpoints see what threads do. Set once per run.
    pub fn watch(&self, on: Arc<AtomicBool>, show: impl Fn(&Event) + Send + Sync + 'static) {
        let _ = self.watch.set(Watch {
            on,
            show: Box::new(show),
        });
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Every event workers have handed over: what readers drained plus what was dropped, once
    /// the workers are joined and the channel drained.
    pub fn recorded(&self) -> u64 {
        self.recorded.load(Ordering::Relaxed)
    }

    /// The run is being stopped: record nothing from now on.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Whether no thread holds an event it has not handed over: a drain now gets everything
    /// recorded so far.
    pub fn settled(&self) -> bool {
        self.all_in.load(Ordering::SeqCst)
            || self
                .pending_since
                .iter()
                .all(|p| p.load(Ordering::SeqCst) == u64::MAX)
    }

    /// Every worker has been joined: the next drain takes everything.
    pub fn all_handed_over(&self) {
        self.all_in.store(true, Ordering::SeqCst);
    }

    /// Append every batch handed over so far, with stamps turned into run time.
    pub fn drain(&self, out: &mut Vec<Event>) -> bool {
        let start = out.len();
        let complete_before = self.complete_before();
        for batch in self.rx.try_iter() {
            self.take(batch, out);
        }
        self.map(out, start, complete_before)
    }

    /// Append every batch handed over so far, waiting up to `timeout` for the first, with
    /// their raw stamps: what a child process sends its parent, which puts them on its clock.
    pub fn drain_raw(&self, out: &mut Vec<Event>, timeout: std::time::Duration) {
        if let Ok(batch) = self.rx.recv_timeout(timeout) {
            self.take(batch, out);
        }
        for batch in self.rx.try_iter() {
            self.take(batch, out);
        }
    }

    /// Append a batch and hand the emptied buffer back for a worker to fill again.
    fn take(&self, mut batch: Vec<Event>, out: &mut Vec<Event>) {
        out.extend_from_slice(&batch);
        batch.clear();
        let _ = self.spare_tx.try_send(batch);
    }

    /// An empty buffer for a worker's next batch: a drained one if there is one, else a small
    /// one that grows to a busy worker's batches. Ten thousand tasks each handing over a
    /// couple of events must not each leave a whole batch's worth in the channel.
    fn spare(&self, room: usize) -> Vec<Event> {
        self.spare_rx
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(room))
    }

    /// Like `drain`, but wait up to `timeout` for the first batch.
    pub fn wait(&self, out: &mut Vec<Event>, timeout: std::time::Duration) -> bool {
        let start = out.len();
        if let Ok(batch) = self.rx.recv_timeout(timeout) {
            self.take(batch, out);
        }
        let complete_before = self.complete_before();
        for batch in self.rx.try_iter() {
            self.take(batch, out);
        }
        self.map(out, start, complete_before)
    }

    /// A raw instant before which every event recorded is already in the channel. Read before
    /// draining it, so the drain gets all of them.
    fn complete_before(&self) -> u64 {
        if self.all_in.load(Ordering::SeqCst) {
            return u64::MAX;
        }
        let now = self.clock.raw_now();
        self.pending_since
            .iter()
            .map(|p| p.load(Ordering::SeqCst))
            .fold(now, u64::min)
    }

    /// Turn raw stamps into run time. Events stamped while run time stood still (threads
    /// finishing their step after a pause) all land on one instant, so only their raw order
    /// can say which came first, and a batch drained later may hold an earlier one. They are
    /// held back until every event stamped before them has arrived, then handed on in raw
    /// order: at one instant, readers keep the order events arrive in.
    fn map(&self, out: &mut Vec<Event>, start: usize, complete_before: u64) -> bool {
        let mut paused = self.paused.lock();
        self.clock.take_still(out, start, &mut paused);
        if !paused.is_empty() {
            paused.sort_by_key(|e| e.t_ns);
            let ready = paused.partition_point(|e| e.t_ns < complete_before);
            out.extend(paused.drain(..ready));
        }
        drop(paused);
        self.clock.map_events(&mut out[start..]);
        out.len() > start
    }
}

/// One worker's side of the recorder.
pub struct Recorder {
    pub thread: ThreadIdx,
    /// The step being executed, stamped on every event.
    pub step: u32,
    buf: Vec<Event>,
    /// The run clock's stamper, kept here: stamping an event reads nothing shared.
    stamper: Stamper,
    /// The stamp of this thread's last event: every next one is later by a nanosecond at least.
    last: u64,
    sink: Arc<Sink>,
}

impl Recorder {
    pub fn new(thread: ThreadIdx, sink: Arc<Sink>) -> Recorder {
        Recorder {
            thread,
            step: crate::vocab::event::NO_STEP,
            // A buffer is taken at the first event after each hand-over, not held meanwhile:
            // ten thousand tasks asleep hold none.
            buf: Vec::new(),
            stamper: sink.clock.stamper(),
            last: 0,
            sink,
        }
    }

    /// Record an event; false if the run is closed and nothing is recorded any more.
    #[inline]
    pub fn emit(
        &mut self,
        kind: EventKind,
        resource: Option<ResIdx>,
        by: Option<ThreadIdx>,
        item: Option<u32>,
    ) -> bool {
        self.record(kind, resource, by, item, false, None)
            .inspect(|event| self.show(event))
            .is_some()
    }

    /// Record an event on `r` while holding `r`'s state locked: stamped as cheaply as the
    /// counter can be read, and later than every event already recorded on `r` the same way.
    #[inline]
    pub fn emit_locked(
        &mut self,
        kind: EventKind,
        r: ResIdx,
        by: Option<ThreadIdx>,
        item: Option<u32>,
    ) -> bool {
        self.record(kind, Some(r), by, item, true, None)
            .inspect(|event| self.show(event))
            .is_some()
    }

    /// A stamp for an event on `r` that is recorded only if what it tells of comes to pass
    /// (`emit_locked_at`), read before the deed: a put into a pipe another process may fill
    /// first is stamped before its bytes go in, so the take that reads them is stamped after,
    /// and is recorded only once they are in. Between this and `emit_locked_at` or
    /// `forget_stamp` the caller holds `r`'s state locked.
    pub fn stamp_ahead(&mut self) -> u64 {
        if self.buf.is_empty() {
            // Published before the stamp is taken, as `record` publishes it.
            self.pending(self.stamper.now());
        }
        self.stamper.now()
    }

    /// The deed a `stamp_ahead` was taken for did not come to pass: nothing is recorded.
    pub fn forget_stamp(&mut self) {
        if self.buf.is_empty() {
            self.pending(u64::MAX);
        }
    }

    /// Record an event on `r`, with `r`'s state locked, at the stamp `stamp_ahead` gave (or
    /// later, to stay after the events already recorded on `r` and by this thread).
    pub fn emit_locked_at(
        &mut self,
        kind: EventKind,
        r: ResIdx,
        by: Option<ThreadIdx>,
        item: Option<u32>,
        at: u64,
    ) -> bool {
        self.record(kind, Some(r), by, item, true, Some(at))
            .inspect(|event| self.show(event))
            .is_some()
    }

    /// Show `event` to whoever watches every event, while one is armed (breakpoints).
    #[inline]
    fn show(&self, event: &Event) {
        if let Some(watch) = self.sink.watch.get()
            && watch.on.load(Ordering::Relaxed)
        {
            (watch.show)(event);
        }
    }

    /// Record an event that happened elsewhere (in a child process), already stamped with a
    /// raw stamp of this run's clock; false if the run is closed.
    pub fn relay(&mut self, event: Event) -> bool {
        if self.sink.closed.load(Ordering::Acquire) {
            return false;
        }
        if self.buf.is_empty() {
            self.pending(self.sink.clock.raw_now().min(event.t_ns));
        }
        self.show(&event);
        self.buf.push(event);
        true
    }

    /// Say again what the thread is doing after it was held in the middle of a step: the same
    /// state, so nothing that watches for changes is shown it.
    pub fn restate(&mut self, kind: EventKind) {
        self.record(kind, None, None, None, false, None);
        self.flush();
    }

    /// The event recorded, or `None` if the run is closed. `locked`: the caller holds the
    /// state of `resource` locked (see `emit_locked`). `ahead`: stamped no earlier than this
    /// instead of now, if `stamp_ahead` gave it (and published this thread's events as pending
    /// before it read it).
    #[inline]
    fn record(
        &mut self,
        kind: EventKind,
        resource: Option<ResIdx>,
        by: Option<ThreadIdx>,
        item: Option<u32>,
        locked: bool,
        ahead: Option<u64>,
    ) -> Option<Event> {
        if self.sink.closed.load(Ordering::Acquire) {
            if ahead.is_some() {
                self.forget_stamp();
            }
            return None;
        }
        let first = self.buf.is_empty();
        if first {
            // Published before the stamp is taken, so a reader that finds no pending events
            // here knows this event will be stamped after it looked.
            if ahead.is_none() {
                self.pending(self.stamper.now());
            }
            if self.buf.capacity() == 0 {
                self.buf = self.sink.spare(FIRST_BATCH);
            }
        }
        let floor = resource
            .filter(|_| locked)
            .and_then(|r| self.sink.floors.get(r as usize));
        // The first event of a batch reads the counter in order: after `pending` is published.
        let counter = if let Some(at) = ahead {
            at
        } else if first || floor.is_none() {
            self.stamper.now()
        } else {
            self.stamper.now_unordered()
        };
        let step = self.stamper.step;
        let mut t_ns = counter.max(self.last + step);
        if let Some(floor) = floor {
            // Relaxed: the caller's lock orders this against every other access to it.
            t_ns = t_ns.max(floor.load(Ordering::Relaxed) + step);
            floor.store(t_ns, Ordering::Relaxed);
        }
        self.last = t_ns;
        let event = Event {
            t_ns,
            thread: self.thread,
            kind,
            resource,
            by,
            step: self.step,
            item,
        };
        self.buf.push(event);
        if self.buf.len() >= BATCH_EVENTS {
            self.flush();
            // A busy worker fills its next batch too: a whole one now, as it always had.
            self.buf = self.sink.spare(BATCH_EVENTS);
        }
        Some(event)
    }

    /// Hand the buffered events over without waiting; count them if they cannot be taken.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.buf);
        self.sink
            .recorded
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        match self.sink.tx.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(batch)) | Err(TrySendError::Disconnected(batch)) => {
                self.sink
                    .dropped
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
        }
        self.pending(u64::MAX);
    }

    fn pending(&self, since: u64) {
        if let Some(p) = self.sink.pending_since.get(self.thread as usize) {
            p.store(since, Ordering::SeqCst);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamps(sink: &Sink) -> Vec<(ThreadIdx, u64)> {
        let mut out = Vec::new();
        for batch in sink.rx.try_iter() {
            out.extend(batch.iter().map(|e| (e.thread, e.t_ns)));
        }
        out
    }

    /// What the cheap stamp relies on: an event on a primitive is stamped after the last one
    /// recorded there, even when this thread's counter read comes out earlier (as a read made
    /// before the lock was really taken would).
    #[test]
    fn an_event_on_a_primitive_is_stamped_after_the_last_one_there() {
        let sink = Sink::new(Arc::new(RunClock::new()), 2, 2);
        let mut a = Recorder::new(0, sink.clone());
        let mut b = Recorder::new(1, sink.clone());
        a.emit_locked(EventKind::Release, 0, None, None);
        a.flush();
        let (_, released) = stamps(&sink)[0];
        // Another thread's event there, stamped far ahead of any counter read to come.
        let ahead = released + (1 << 40);
        sink.floors[0].store(ahead, Ordering::Relaxed);
        b.emit_locked(EventKind::Acquire, 0, Some(0), None);
        // A later event of the same thread, on a primitive nobody else used, and one stamped
        // the ordinary way: both after the thread's own last event.
        b.emit_locked(EventKind::Acquire, 1, None, None);
        b.emit(EventKind::Run, None, None, None);
        b.flush();
        let got: Vec<u64> = stamps(&sink).into_iter().map(|(_, t)| t).collect();
        assert_eq!(got.len(), 3);
        assert!(got[0] > ahead, "{got:?} after {ahead}");
        assert!(got[1] > got[0] && got[2] > got[1], "{got:?}");
        // The floor of the other primitive moved, the first one's is the acquire's.
        assert_eq!(sink.floors[0].load(Ordering::Relaxed), got[0]);
        assert_eq!(sink.floors[1].load(Ordering::Relaxed), got[1]);
    }
}
