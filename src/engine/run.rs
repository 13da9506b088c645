//! A run: a scenario's threads spawned as real OS threads (its tasks on an event loop thread,
//! see `tasks.rs`), conducted, watched and joined.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Sender, TryRecvError};
use parking_lot::{Condvar, Mutex};

use super::clock::RunClock;
use super::conductor::{Conductor, Flow, Halt, StepError};
use super::deadlock;
use super::primitives::{Cx, Primitive, gil::Gil};
use super::recorder::{Recorder, Sink};
use super::work;
use crate::scenario::model::{Op, ResIdx, Scenario, ThreadIdx};
use crate::vocab::deadlock::Deadlock;
use crate::vocab::event::{Event, EventKind};

/// The watcher is woken whenever a thread blocks or finishes, and whenever a change leaves
/// threads waiting; it also looks this often regardless, so a deadlock that began without
/// anyone saying so is still found.
const WATCH_PERIOD: Duration = Duration::from_millis(50);
/// How soon the watcher looks again when a look was inconclusive (the graph was changing).
const WATCH_RETRY: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOptions {
    /// 0.1 to 4: stretches every timed step uniformly.
    pub speed: f64,
    /// Start with every thread held before its first step.
    pub start_paused: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            speed: 1.0,
            start_paused: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    Paused,
    /// Paused, with this thread carrying out one step.
    Stepping(ThreadIdx),
    /// A deadlock was detected; the run is paused.
    Deadlock,
    /// Every thread is done or failed.
    Finished,
}

pub(super) struct Shared {
    pub(super) scenario: Arc<Scenario>,
    pub(super) names: Vec<String>,
    pub(super) conductor: Conductor,
    pub(super) primitives: Vec<Primitive>,
    pub(super) sink: Arc<Sink>,
    clock: Arc<RunClock>,
    failures: Mutex<Vec<Option<String>>>,
    deadlock: Mutex<Option<Deadlock>>,
    /// Signalled whenever a thread finishes, for threads that start `after` a group.
    finished: (Mutex<()>, Condvar),
    /// Per thread: the step a `timeout=` back-off would start again from (the step that took
    /// the first of what it holds), or [`HOLDS_NOTHING`]. The deadlock watcher reads it to
    /// know how far back a thread's script can still come round.
    holds_since: Vec<AtomicU32>,
}

/// `holds_since` of a thread that holds nothing.
const HOLDS_NOTHING: u32 = u32::MAX;

pub struct Run {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    watcher: Option<JoinHandle<()>>,
    stop_watcher: Option<Sender<()>>,
}

impl Run {
    /// Spawn one OS thread per scenario thread, and a watcher for deadlocks.
    pub fn start(scenario: Arc<Scenario>, options: RunOptions) -> Run {
        work::warm_up();
        let n = scenario.threads.len();
        let clock = Arc::new(RunClock::new());
        let shared = Arc::new(Shared {
            names: scenario.threads.iter().map(|t| t.name.clone()).collect(),
            conductor: Conductor::new(n, clock.clone(), options.speed, options.start_paused),
            primitives: scenario
                .resources
                .iter()
                .enumerate()
                .map(|(i, r)| Primitive::new(i as u16, r, n))
                .collect(),
            sink: Sink::new(clock.clone(), n),
            clock,
            failures: Mutex::new(vec![None; n]),
            deadlock: Mutex::new(None),
            finished: (Mutex::new(()), Condvar::new()),
            holds_since: (0..n).map(|_| AtomicU32::new(HOLDS_NOTHING)).collect(),
            scenario,
        });
        let (tasks, threads): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| shared.scenario.threads[i].is_task());
        let mut workers: Vec<JoinHandle<()>> = threads
            .into_iter()
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("tl-{}", shared.names[i]))
                    .spawn(move || worker(&shared, i as ThreadIdx))
                    .expect("the OS refused to start a thread")
            })
            .collect();
        if !tasks.is_empty() {
            let tasks = tasks.into_iter().map(|i| i as ThreadIdx).collect();
            workers.push(super::tasks::spawn_loop(shared.clone(), tasks));
        }
        let (stop_tx, stop_rx) = channel::bounded::<()>(0);
        let watcher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tl-watcher".into())
                .spawn(move || {
                    let c = &shared.conductor;
                    c.set_watcher(std::thread::current());
                    // Look first: threads may have blocked before the watcher was there to be
                    // told.
                    loop {
                        if !matches!(stop_rx.try_recv(), Err(TryRecvError::Empty)) {
                            break;
                        }
                        if c.all_finished() {
                            break;
                        }
                        let wait = match watch(&shared) {
                            Watch::Deadlock => break,
                            Watch::Changing => WATCH_RETRY,
                            Watch::Clear => WATCH_PERIOD,
                        };
                        std::thread::park_timeout(wait);
                    }
                })
                .expect("the OS refused to start a thread")
        };
        Run {
            shared,
            workers,
            watcher: Some(watcher),
            stop_watcher: Some(stop_tx),
        }
    }

    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.shared.scenario
    }

    /// Append every event recorded since the last call; never blocks.
    pub fn drain_events(&self, out: &mut Vec<Event>) {
        self.shared.sink.drain(out);
    }

    /// Whether every thread has handed over everything it recorded so far, so that a drain now
    /// gets all of it: once a run is deadlocked or finished, every thread settles within a
    /// step slice (it reaches its gate, blocks or ends, and hands over before each).
    pub fn settled(&self) -> bool {
        self.shared.sink.settled()
    }

    /// Like `drain_events`, but wait up to `timeout` for the first batch.
    pub fn wait_events(&self, out: &mut Vec<Event>, timeout: Duration) -> bool {
        self.shared.sink.wait(out, timeout)
    }

    pub fn phase(&self) -> Phase {
        let c = &self.shared.conductor;
        if self.shared.deadlock.lock().is_some() {
            Phase::Deadlock
        } else if c.all_finished() {
            Phase::Finished
        } else if !c.is_paused() {
            Phase::Running
        } else if let Some(t) = c.stepping() {
            Phase::Stepping(t)
        } else {
            Phase::Paused
        }
    }

    pub fn deadlock(&self) -> Option<Deadlock> {
        self.shared.deadlock.lock().clone()
    }

    pub fn pause(&self) {
        self.shared.conductor.pause();
    }

    pub fn resume(&self) {
        self.shared.conductor.resume();
    }

    /// Let `thread` carry out exactly its next step; a step that blocks ends once it is blocked.
    pub fn step(&self, thread: ThreadIdx) -> Result<(), StepError> {
        let s = &self.shared;
        if thread as usize >= s.names.len() {
            return Err(StepError::UnknownThread(thread.to_string()));
        }
        s.conductor
            .step(
                thread,
                |t| s.names[t as usize].clone(),
                |r| s.scenario.resource_name(r).to_string(),
            )
            .map_err(
                |e| match (e, &s.scenario.threads[thread as usize].event_loop) {
                    (StepError::Blocked { thread, resource }, Some(r)) => StepError::LoopBusy {
                        task: thread,
                        event_loop: resource,
                        running: match &s.primitives[*r as usize] {
                            Primitive::EventLoop(l) => {
                                l.running().map(|t| s.names[t as usize].clone())
                            }
                            _ => None,
                        },
                    },
                    (e, _) => e,
                },
            )
    }

    /// Step the next thread that is ready (round robin from the one stepped last).
    pub fn step_next_ready(&self) -> Result<ThreadIdx, StepError> {
        let c = &self.shared.conductor;
        if !c.is_paused() {
            c.pause();
        }
        // Give threads that were running a moment to reach their gates.
        let deadline = Instant::now() + Duration::from_millis(100);
        loop {
            if let Some(t) = c.next_ready() {
                return self.step(t).map(|()| t);
            }
            if Instant::now() >= deadline || c.all_finished() {
                return Err(StepError::NoneReady);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Wait until the step in progress has ended (the thread stopped again, or blocked).
    pub fn wait_step_done(&self, timeout: Duration) -> bool {
        self.shared.conductor.wait_step_done(timeout)
    }

    pub fn set_speed(&self, speed: f64) {
        self.shared.conductor.set_speed(speed);
    }

    pub fn speed(&self) -> f64 {
        self.shared.conductor.speed()
    }

    /// Run time now: time spent paused does not count.
    pub fn now_ns(&self) -> u64 {
        self.shared.clock.now()
    }

    pub fn dropped_events(&self) -> u64 {
        self.shared.sink.dropped()
    }

    pub fn failure(&self, thread: ThreadIdx) -> Option<String> {
        self.shared
            .failures
            .lock()
            .get(thread as usize)
            .cloned()
            .flatten()
    }

    pub fn is_finished(&self) -> bool {
        self.shared.conductor.all_finished()
    }

    /// Every event workers have handed over. Once the run is ended and drained, this equals
    /// the events drained plus [`Run::dropped_events`]: nothing is lost uncounted.
    pub fn recorded_events(&self) -> u64 {
        self.shared.sink.recorded()
    }

    /// Cancel every wait and join every thread, and drop the run with whatever it recorded
    /// that nobody drained; returns how long the joining took. For a reset: a reader that
    /// wants the whole run uses [`Run::end`].
    pub fn stop(mut self) -> Duration {
        self.end()
    }

    /// Cancel every wait and join every thread; returns how long the joining took. Nothing is
    /// recorded from here on, and everything recorded until now stays to be drained: after
    /// `end`, one `drain_events` gets every event not drained yet, and `dropped_events`,
    /// `failure`, `deadlock` and `is_finished` say how the run ended (a thread cancelled here
    /// is not finished). Pause first to stop run time where the reader decided to stop.
    pub fn end(&mut self) -> Duration {
        let start = Instant::now();
        self.shared.sink.close();
        self.shared.conductor.cancel();
        for p in &self.shared.primitives {
            p.wake_all();
        }
        {
            let _g = self.shared.finished.0.lock();
            self.shared.finished.1.notify_all();
        }
        self.stop_watcher.take();
        if let Some(w) = &self.watcher {
            w.thread().unpark();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
        self.shared.sink.all_handed_over();
        start.elapsed()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if !self.workers.is_empty() || self.watcher.is_some() {
            self.end();
        }
    }
}

/// One scenario thread, from start to done, failed or cancelled.
fn worker(shared: &Shared, me: ThreadIdx) {
    let mut rec = Recorder::new(me, shared.sink.clone());
    let outcome = catch_unwind(AssertUnwindSafe(|| run_script(shared, me, &mut rec)))
        .unwrap_or_else(|panic| Err(panicked(panic)));
    rec.step = crate::vocab::event::NO_STEP;
    // A thread that ends gives up the GIL, as a CPython thread does when it exits.
    if let Some(gil) = gil_of(shared, me) {
        gil.drop_gil(&mut cx(shared, me, &mut rec));
    }
    end(shared, me, &mut rec, outcome);
}

/// A worker's panic, as the failure it stands for.
pub(super) fn panicked(panic: Box<dyn std::any::Any + Send>) -> Halt {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Halt::Failed(format!("panicked: {what}"))
}

/// The end of a thread or a task: done, failed or cancelled, said once to everyone waiting.
pub(super) fn end(shared: &Shared, me: ThreadIdx, rec: &mut Recorder, outcome: Flow) {
    // A thread that was cancelled, or whose end came after the run was closed (so that its end
    // was not recorded), did not finish in this run: after `Run::end`, "finished" still means
    // every thread came to an end that its events show.
    let ended = match outcome {
        Ok(()) => rec.emit(EventKind::Done, None, None, None),
        Err(Halt::Failed(reason)) => {
            shared.failures.lock()[me as usize] = Some(reason);
            let recorded = rec.emit(EventKind::Fail, None, None, None);
            if !recorded {
                shared.failures.lock()[me as usize] = None;
            }
            recorded
        }
        Err(Halt::Cancelled) => false,
    };
    if !ended {
        return;
    }
    rec.flush();
    shared.conductor.finish(me);
    let _g = shared.finished.0.lock();
    shared.finished.1.notify_all();
}

pub(super) fn cx<'a>(shared: &'a Shared, me: ThreadIdx, rec: &'a mut Recorder) -> Cx<'a> {
    Cx {
        me,
        rec,
        conductor: &shared.conductor,
        names: &shared.names,
    }
}

fn gil_of(shared: &Shared, me: ThreadIdx) -> Option<&Gil> {
    let r = shared.scenario.threads[me as usize].gil?;
    match shared.primitives.get(r as usize)? {
        Primitive::Gil(g) => Some(g),
        _ => None,
    }
}

fn run_script(shared: &Shared, me: ThreadIdx, rec: &mut Recorder) -> Flow {
    let spec = &shared.scenario.threads[me as usize];
    wait_for_group(shared, &spec.after)?;
    let conductor = &shared.conductor;
    let gil = gil_of(shared, me);
    rec.emit(EventKind::Start, None, None, None);
    if let Some(g) = gil {
        g.take(&mut cx(shared, me, rec))?;
    }
    // What the thread holds, for backing off after a `timeout=`.
    let mut held = Held {
        taken: Vec::new(),
        since: 0,
        published: &shared.holds_since[me as usize],
    };
    let mut at = 0;
    while let Some(step) = spec.steps.get(at) {
        let i = at as u32;
        at += 1;
        rec.step = i;
        conductor.before_step(me, i, rec)?;
        match step.op {
            Op::Work(d) => work_step(shared, me, i, d, gil, rec)?,
            Op::Sleep(d) => {
                // I/O happens without the GIL; the thread needs it back to go on.
                if let Some(g) = gil {
                    g.drop_gil(&mut cx(shared, me, rec));
                }
                rec.emit(EventKind::Sleep, None, None, None);
                rec.flush();
                conductor.sleep(me, i, d, rec)?;
                if let Some(g) = gil {
                    g.take(&mut cx(shared, me, rec))?;
                }
            }
            op => {
                // Blocking on a primitive releases the GIL, as CPython's lock waits do.
                if let Some(g) = gil {
                    g.drop_gil(&mut cx(shared, me, rec));
                }
                if let Op::TryLock {
                    resource,
                    timeout,
                    backoff,
                    jitter,
                } = op
                {
                    if try_lock(shared, me, resource, timeout, rec)? {
                        held.took(resource, i as usize);
                    } else {
                        let most = backoff.unwrap_or(timeout);
                        let pause = if jitter { random_up_to(most, me) } else { most };
                        at = back_off(shared, me, i, &mut held, pause, rec)?;
                    }
                } else {
                    sync_step(shared, me, op, rec)?;
                    match op {
                        Op::Lock(r) | Op::Read(r) | Op::Write(r) | Op::Acquire(r) => {
                            held.took(r, i as usize)
                        }
                        Op::Unlock(r) | Op::Release(r) => held.gave_back(r),
                        _ => {}
                    }
                }
                if let Some(g) = gil {
                    g.take(&mut cx(shared, me, rec))?;
                }
            }
        }
        conductor.after_step(me, i);
    }
    Ok(())
}

pub(super) fn work_step(
    shared: &Shared,
    me: ThreadIdx,
    step: u32,
    nominal: Duration,
    gil: Option<&Gil>,
    rec: &mut Recorder,
) -> Flow {
    let conductor = &shared.conductor;
    rec.emit(EventKind::Run, None, None, None);
    rec.flush();
    let total = nominal.as_nanos() as f64;
    let slice = work::SLICE.as_nanos() as f64;
    let mut done = 0.0;
    while done < total {
        if conductor.gate(me, step, rec)? {
            rec.emit(EventKind::Run, None, None, None);
            rec.flush();
        }
        if let Some(g) = gil
            && g.drop_requested()
        {
            g.switch(&mut cx(shared, me, rec))?;
            rec.emit(EventKind::Run, None, None, None);
            rec.flush();
        }
        let speed = conductor.speed();
        let this = slice.min((total - done) / speed);
        work::burn(Duration::from_nanos(this.max(1.0) as u64));
        done += this * speed;
    }
    Ok(())
}

fn try_lock(
    shared: &Shared,
    me: ThreadIdx,
    r: ResIdx,
    timeout: Duration,
    rec: &mut Recorder,
) -> Result<bool, Halt> {
    match &shared.primitives[r as usize] {
        Primitive::Mutex(m) => m.lock_for(&mut cx(shared, me, rec), timeout),
        _ => Err(Halt::Failed(format!(
            "`lock … timeout=` cannot be used on {}",
            shared.scenario.resource_name(r)
        ))),
    }
}

/// Everything a thread holds (locks, rlock levels, rwlock shares, permits), in the order it took
/// them, and where it last held nothing. A back-off gives all of it back and starts again from
/// there, so the thread re-runs its steps holding exactly what it held the first time, and
/// never gives back what it does not hold: what `check` verifies along the script holds on
/// every retry.
struct Held<'a> {
    taken: Vec<ResIdx>,
    /// The step that took the first of them.
    since: usize,
    /// Where the watcher reads `since` (written only when the thread goes from holding nothing
    /// to holding something and back, so a busy thread pays nothing per lock).
    published: &'a AtomicU32,
}

impl Held<'_> {
    fn took(&mut self, r: ResIdx, step: usize) {
        if self.taken.is_empty() {
            self.since = step;
            self.published.store(step as u32, Ordering::Release);
        }
        self.taken.push(r);
    }

    fn gave_back(&mut self, r: ResIdx) {
        if let Some(k) = self.taken.iter().rposition(|&h| h == r) {
            self.taken.remove(k);
            if self.taken.is_empty() {
                self.published.store(HOLDS_NOTHING, Ordering::Release);
            }
        }
    }
}

/// After a lock timed out: give back everything held (latest first), sleep `pause`, and return
/// the step to start again from: the one after which the thread last held nothing (or the lock
/// that timed out, if it holds nothing).
fn back_off(
    shared: &Shared,
    me: ThreadIdx,
    step: u32,
    held: &mut Held,
    pause: Duration,
    rec: &mut Recorder,
) -> Result<usize, Halt> {
    let restart = if held.taken.is_empty() {
        step as usize
    } else {
        held.since
    };
    // `published` keeps naming `restart` until the thread is back there and takes it again:
    // until then the watcher must count the steps from `restart` on as still to come.
    while let Some(r) = held.taken.pop() {
        let mut cx = cx(shared, me, rec);
        match &shared.primitives[r as usize] {
            Primitive::Mutex(m) => m.unlock(&mut cx)?,
            Primitive::RwLock(l) => l.unlock(&mut cx)?,
            Primitive::Semaphore(s) => s.release(&mut cx)?,
            _ => {}
        }
    }
    rec.emit(EventKind::Sleep, None, None, None);
    rec.flush();
    shared.conductor.sleep(me, step, pause, rec)?;
    Ok(restart)
}

/// A random duration in (0, max]: random back-off is what keeps two polite threads from
/// stepping aside in lockstep forever.
fn random_up_to(max: Duration, me: ThreadIdx) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // Each RandomState is freshly keyed: enough randomness for a back-off.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u16(me);
    let frac = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(frac.max(0.05))
}

fn sync_step(shared: &Shared, me: ThreadIdx, op: Op, rec: &mut Recorder) -> Flow {
    let r = op.resource().expect("a sync step names a resource");
    let prim = &shared.primitives[r as usize];
    let mut cx = cx(shared, me, rec);
    let wrong = || {
        Halt::Failed(format!(
            "`{}` cannot be used on {}",
            op.keyword(),
            shared.scenario.resource_name(r)
        ))
    };
    match (op, prim) {
        (Op::Lock(_), Primitive::Mutex(m)) => m.lock(&mut cx),
        (Op::Unlock(_), Primitive::Mutex(m)) => m.unlock(&mut cx),
        (Op::Acquire(_), Primitive::Semaphore(s)) => s.acquire(&mut cx),
        (Op::Release(_), Primitive::Semaphore(s)) => s.release(&mut cx),
        (Op::Wait(_), Primitive::Barrier(b)) => b.wait(&mut cx),
        (Op::Wait(_), Primitive::Event(e)) => e.wait(&mut cx),
        (Op::Set(_), Primitive::Event(e)) => e.set(&mut cx),
        (Op::Read(_), Primitive::RwLock(l)) => l.read(&mut cx),
        (Op::Write(_), Primitive::RwLock(l)) => l.write(&mut cx),
        (Op::Unlock(_), Primitive::RwLock(l)) => l.unlock(&mut cx),
        (Op::Increment(_), Primitive::Counter(c)) => c.increment(&mut cx),
        (Op::Put(_), Primitive::Buffer(b)) => b.put(&mut cx),
        (Op::Take(_), Primitive::Buffer(b)) => b.take(&mut cx),
        _ => Err(wrong()),
    }
}

/// Whether every thread of an `after=` group is done or failed.
pub(super) fn group_finished(shared: &Shared, group: &[ThreadIdx]) -> bool {
    group.iter().all(|&t| shared.conductor.is_finished(t))
}

/// Threads that start `after` a group wait here until the whole group has finished.
fn wait_for_group(shared: &Shared, group: &[ThreadIdx]) -> Flow {
    if group.is_empty() {
        return Ok(());
    }
    let (lock, cv) = &shared.finished;
    let mut g = lock.lock();
    loop {
        if shared.conductor.cancelled() {
            return Err(Halt::Cancelled);
        }
        if group_finished(shared, group) {
            return Ok(());
        }
        cv.wait_for(&mut g, Duration::from_millis(50));
    }
}

enum Watch {
    /// A deadlock was found and the run paused: nothing left to watch.
    Deadlock,
    /// It looked like one, but the graph changed while it was read: look again soon.
    Changing,
    Clear,
}

/// One look at the wait-for graph.
fn watch(shared: &Shared) -> Watch {
    if shared.deadlock.lock().is_some() {
        return Watch::Deadlock;
    }
    let c = &shared.conductor;
    let n = shared.names.len() as ThreadIdx;
    // Read before the primitives: threads only ever finish and move forward, so these may lag
    // behind the views, which can hide a deadlock for one look but never invent one.
    let finished: Vec<bool> = (0..n).map(|t| c.is_finished(t)).collect();
    // Where each thread's script may still come round from: back-offs start again earlier.
    // `holds_since` only ever moves forward too, so a stale read only widens what is possible.
    let pcs: Vec<u32> = (0..n)
        .map(|t| {
            let since = shared.holds_since[t as usize].load(Ordering::Acquire);
            let since = (since != HOLDS_NOTHING).then_some(since);
            deadlock::earliest_step(&shared.scenario, t as usize, c.pc(t), since)
        })
        .collect();
    let first: Vec<_> = shared.primitives.iter().map(Primitive::view).collect();
    if deadlock::find(&shared.scenario, &first, &finished, &pcs).is_none() {
        return Watch::Clear;
    }
    // Confirm against a second reading: if no primitive changed in between, there was an
    // instant at which every primitive was as read, so the deadlock is real.
    let second: Vec<_> = shared.primitives.iter().map(Primitive::view).collect();
    if first.iter().zip(&second).any(|(a, b)| a.seq != b.seq) {
        return Watch::Changing;
    }
    let Some(found) = deadlock::find(&shared.scenario, &second, &finished, &pcs) else {
        return Watch::Changing;
    };
    *shared.deadlock.lock() = Some(found);
    c.pause();
    Watch::Deadlock
}
