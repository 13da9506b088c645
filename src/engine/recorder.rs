//! Recording without changing what is recorded.
//!
//! Each worker keeps its own small buffer of events and hands it over in batches through a
//! bounded channel with `try_send`, so a worker never blocks on whoever reads the events. A
//! worker flushes before anything that lets time pass (a wait, a sleep, CPU work, being held),
//! so readers see a state as soon as a thread enters it. If the reader falls so far behind
//! that the channel is full, the batch is dropped and counted, never waited for.
//!
//! Nothing recorded is lost without being counted: every batch handed over is counted in
//! `recorded`, and is either in the channel (the receiver lives as long as the run, so a reader
//! that drains after joining the workers gets every last one) or counted in `dropped`. Once the
//! run is closed (stopped), nothing more is recorded: what threads do while being torn down is
//! not part of the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam::channel::{self, Receiver, Sender, TrySendError};

use super::clock::RunClock;
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::trace::event::{Event, EventKind};

/// Batches in flight before the reader is considered lost and batches are dropped.
const CHANNEL_BATCHES: usize = 1 << 14;
/// A busy thread hands over its events at least this often (in events).
const BATCH_EVENTS: usize = 256;

pub struct Sink {
    tx: Sender<Vec<Event>>,
    rx: Receiver<Vec<Event>>,
    dropped: AtomicU64,
    /// Events handed over so far: each either reaches a reader or is counted in `dropped`.
    recorded: AtomicU64,
    closed: AtomicBool,
    pub clock: Arc<RunClock>,
}

impl Sink {
    pub fn new(clock: Arc<RunClock>) -> Arc<Sink> {
        let (tx, rx) = channel::bounded(CHANNEL_BATCHES);
        Arc::new(Sink {
            tx,
            rx,
            dropped: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            clock,
        })
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

    /// Append every batch handed over so far, with stamps turned into run time.
    pub fn drain(&self, out: &mut Vec<Event>) -> bool {
        let start = out.len();
        for batch in self.rx.try_iter() {
            out.extend_from_slice(&batch);
        }
        self.clock.map_events(&mut out[start..]);
        out.len() > start
    }

    /// Like `drain`, but wait up to `timeout` for the first batch.
    pub fn wait(&self, out: &mut Vec<Event>, timeout: std::time::Duration) -> bool {
        let start = out.len();
        if let Ok(batch) = self.rx.recv_timeout(timeout) {
            out.extend_from_slice(&batch);
        }
        for batch in self.rx.try_iter() {
            out.extend_from_slice(&batch);
        }
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
    sink: Arc<Sink>,
}

impl Recorder {
    pub fn new(thread: ThreadIdx, sink: Arc<Sink>) -> Recorder {
        Recorder {
            thread,
            step: crate::trace::event::NO_STEP,
            buf: Vec::with_capacity(BATCH_EVENTS),
            sink,
        }
    }

    pub fn emit(
        &mut self,
        kind: EventKind,
        resource: Option<ResIdx>,
        by: Option<ThreadIdx>,
        item: Option<u32>,
    ) {
        if self.sink.closed.load(Ordering::Acquire) {
            return;
        }
        self.buf.push(Event {
            t_ns: self.sink.clock.raw_now(),
            thread: self.thread,
            kind,
            resource,
            by,
            step: self.step,
            item,
        });
        if self.buf.len() >= BATCH_EVENTS {
            self.flush();
        }
    }

    /// Hand the buffered events over without waiting; count them if they cannot be taken.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH_EVENTS));
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
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}
