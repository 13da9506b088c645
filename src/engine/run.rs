//! A run: a scenario's threads spawned as real OS threads (its tasks on an event loop thread,
//! see `tasks.rs`), conducted, watched and joined.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Sender, TryRecvError};
use parking_lot::{Condvar, Mutex};

use super::breaks::{Breakpoint, Hit};
use super::clock::RunClock;
use super::conductor::{Conductor, GATE_WAIT, StepError};
use super::deadlock::{self, Snapshot};
use super::footprint::{Footprint, Starting};
use super::primitives::{Primitive, View, mp_queue};
use super::recorder::Sink;
use super::script::{HOLDS_NOTHING, Shared, worker};
use super::work;
use crate::scenario::model::{Op, ProcIdx, ResourceKind, Scenario, ThreadIdx};
use crate::vocab::deadlock::Deadlock;
use crate::vocab::event::Event;

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
            conductor: Conductor::new(n, clock.clone(), options.speed, options.start_paused)
                .with_daemons(
                    &scenario
                        .threads
                        .iter()
                        .map(|t| t.daemon)
                        .collect::<Vec<_>>(),
                ),
            primitives: (0..scenario.resources.len())
                .map(|i| Primitive::new(i as u16, &scenario))
                .collect(),
            sink: Sink::new(clock.clone(), n, scenario.resources.len()),
            clock,
            failures: Mutex::new(vec![None; n]),
            deadlock: Mutex::new(None),
            finished: (Mutex::new(()), Condvar::new()),
            holds_since: (0..n).map(|_| AtomicU32::new(HOLDS_NOTHING)).collect(),
            homes: super::homes::Homes::new(scenario.processes.len()),
            // Threads of a child process start there, not here.
            starting_threads: Starting::new(
                scenario
                    .threads
                    .iter()
                    .filter(|t| !t.is_task() && t.process.is_none())
                    .count(),
            ),
            starting_tasks: Starting::new(scenario.threads.iter().filter(|t| t.is_task()).count()),
            scenario,
        });
        {
            let weak = Arc::downgrade(&shared);
            shared
                .sink
                .watch(shared.conductor.stopping(), move |event| {
                    if let Some(shared) = weak.upgrade() {
                        shared.conductor.on_event(event);
                    }
                });
        }
        // A child process's threads run there; here, one host thread per process relays them.
        let (tasks, threads): (Vec<usize>, Vec<usize>) = (0..n)
            .filter(|&i| shared.scenario.threads[i].process.is_none())
            .partition(|&i| shared.scenario.threads[i].is_task());
        shared.starting_threads.begin();
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
        shared.starting_threads.open();
        if !tasks.is_empty() {
            // Every thread in before the loop and its tasks are made, so that each side's
            // memory is its own. Only then: threads that compute from their first step take
            // turns on the cores as they start, and a run of threads alone need not wait.
            shared
                .starting_threads
                .wait(Instant::now() + Duration::from_secs(5));
            let tasks = tasks.into_iter().map(|i| i as ThreadIdx).collect();
            workers.push(super::tasks::spawn_loop(shared.clone(), tasks));
        }
        for p in 0..shared.scenario.processes.len() {
            let shared = shared.clone();
            workers.push(
                std::thread::Builder::new()
                    .name(format!("tl-process-{p}"))
                    .spawn(move || super::process::host(shared, p as u16, options.start_paused))
                    .expect("the OS refused to start a thread"),
            );
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

    /// Whether every thread has stopped where it can be seen: held at its gate, blocked,
    /// finished, or not started until its group finishes. Once it has and the run has [`Run::settled`], a drain gets everything a paused
    /// run shows.
    pub fn all_stopped(&self) -> bool {
        self.shared.conductor.all_stopped()
    }

    /// Every event recorded since the last drain, waiting up to `timeout` for the first, each
    /// stamped on the system's monotonic clock: what a child process hands its parent.
    pub fn drain_mono(&self, out: &mut Vec<Event>, timeout: Duration) {
        let start = out.len();
        self.shared.sink.drain_raw(out, timeout);
        for e in &mut out[start..] {
            e.t_ns = self.shared.clock.raw_to_mono(e.t_ns);
        }
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

    /// The child processes stopped now by a signal (SIGSTOP…), each with its pid. Their threads
    /// cannot move, yet the run is no deadlock while they may be continued: it waits for them.
    pub fn stopped_processes(&self) -> Vec<(ProcIdx, u32)> {
        self.shared.homes.stopped()
    }

    /// What this run's threads are doing now, as a judge that sees every process reads it (a
    /// child process's answer to its parent's deadlock watcher).
    pub fn snapshot(&self) -> Snapshot {
        snapshot(&self.shared)
    }

    pub fn pause(&self) {
        self.shared.conductor.pause();
    }

    pub fn resume(&self) {
        self.shared.conductor.resume();
    }

    /// Pause whenever one of `breakpoints` fires, from now on (replacing those set before).
    pub fn set_breakpoints(&self, breakpoints: Vec<Breakpoint>) {
        self.shared
            .conductor
            .set_breakpoints(breakpoints, &self.shared.scenario);
    }

    /// Pause where the next thing could go more than one way, and again when it went (the
    /// quiz), from now on; or stop doing so. Asked before the run starts, it sees every
    /// waiter.
    pub fn set_quiz(&self, on: bool) {
        let scenario = on.then_some(&*self.shared.scenario);
        self.shared.conductor.set_quiz(scenario);
    }

    /// Whenever this run pauses by itself (a breakpoint, the end of a step by event, a
    /// deadlock), `other` pauses at once too, its own step by event called off: two runs
    /// driven together stay at one moment of run time (`compare`). Neither keeps the other
    /// alive.
    pub fn pause_along(&self, other: &Run) {
        let other = Arc::downgrade(&other.shared);
        self.shared.conductor.set_along(Box::new(move || {
            if let Some(other) = other.upgrade() {
                other.conductor.pause_along();
            }
        }));
    }

    /// Run on to the next event in run time, whoever's it is, and pause there.
    pub fn step_event(&self) {
        self.shared.conductor.step_event();
    }

    /// Resume this run and `other` at one moment: neither runs ahead while the other waits to
    /// be let go (`compare`).
    pub fn resume_with(&self, other: &Run) {
        self.shared.conductor.resume_with(&other.shared.conductor);
    }

    /// [`Run::step_event`] in this run and `other`, let go at one moment: with
    /// [`Run::pause_along`], both run on to the next event of either and pause there.
    pub fn step_event_with(&self, other: &Run) {
        self.shared
            .conductor
            .step_event_with(&other.shared.conductor);
    }

    /// Why the run last paused by itself (a breakpoint, or the end of a step by event), once;
    /// its event's stamp in run time.
    pub fn take_hit(&self) -> Option<Hit> {
        let mut hit = self.shared.conductor.take_hit()?;
        if let Some(e) = hit.event.as_mut() {
            e.t_ns = self.shared.clock.to_run(e.t_ns);
        }
        Some(hit)
    }

    /// Let `thread` carry out exactly its next step; a step that blocks ends once it is blocked.
    pub fn step(&self, thread: ThreadIdx) -> Result<(), StepError> {
        let s = &self.shared;
        if thread as usize >= s.names.len() {
            return Err(StepError::UnknownThread(thread.to_string()));
        }
        if let Some(process) = s.scenario.process_of(thread) {
            return Err(StepError::OtherProcess {
                thread: s.names[thread as usize].clone(),
                process: process.to_string(),
            });
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

    /// Step the thread that acts next in run time (see [`Conductor::next_ready`]).
    pub fn step_next_ready(&self) -> Result<ThreadIdx, StepError> {
        let c = &self.shared.conductor;
        if !c.is_paused() {
            c.pause();
        }
        // Only this process's threads can be stepped: a child process's never stop here.
        let s = &self.shared.scenario;
        let stopped = || c.stopped_among(|t| s.threads[t as usize].process.is_none());
        // Give threads that were running a moment to reach their gates: the one that acts
        // next may be among them.
        let start = Instant::now();
        while !stopped() && start.elapsed() < Duration::from_millis(100) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Nobody is ready only once every thread has stopped: one still on its way to its
        // gate (a busy machine may not have run it yet) will be.
        loop {
            let stopped = stopped();
            if let Some(t) = c.next_ready() {
                return self.step(t).map(|()| t);
            }
            if stopped || c.all_finished() || start.elapsed() >= GATE_WAIT {
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

    /// What starting the run's threads and its tasks cost, for those that have all started.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            threads: self.shared.starting_threads.cost(),
            tasks: self.shared.starting_tasks.cost(),
        }
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
    let pcs: Vec<u32> = (0..n).map(|t| c.pc(t)).collect();
    // Where a back-off would start each script again. `holds_since` only ever moves forward
    // too, so a stale read only widens what is possible.
    let holds_since: Vec<Option<u32>> = shared
        .holds_since
        .iter()
        .map(|since| Some(since.load(Ordering::Acquire)).filter(|&s| s != HOLDS_NOTHING))
        .collect();
    let first: Vec<_> = shared.primitives.iter().map(Primitive::view).collect();
    if deadlock::find(&shared.scenario, &first, &finished, &pcs, &holds_since).is_none() {
        return watch_across(shared);
    }
    // Confirm against a second reading: if no primitive changed in between, there was an
    // instant at which every primitive was as read, so the deadlock is real.
    let second: Vec<_> = shared.primitives.iter().map(Primitive::view).collect();
    // A waiter's step says what it waits for: it must be the step it was at when it was
    // read waiting, not one it had just left.
    let moved = (0..n).any(|t| c.pc(t) != pcs[t as usize]);
    if moved || first.iter().zip(&second).any(|(a, b)| a.seq != b.seq) {
        return Watch::Changing;
    }
    let Some(found) = deadlock::find(&shared.scenario, &second, &finished, &pcs, &holds_since)
    else {
        return Watch::Changing;
    };
    // The finder counts a task at a gather or a wait as awaiting from the step on. One that
    // has not begun that await (held at its gate, or not polled yet) is not stuck yet: it is
    // named once it is, and beginning the await looks again.
    if found
        .stuck
        .iter()
        .any(|&t| await_not_begun(shared, &pcs, t))
    {
        return Watch::Clear;
    }
    *shared.deadlock.lock() = Some(found);
    c.pause_by_itself();
    Watch::Deadlock
}

/// Whether task `t` of this process has started and is at a step that awaits other tasks
/// without having begun to. (One that waits for its `after=` group to finish first is stuck
/// behind it, whatever its first step.)
fn await_not_begun(shared: &Shared, pcs: &[u32], t: ThreadIdx) -> bool {
    let (s, c) = (&shared.scenario, &shared.conductor);
    let spec = &s.threads[t as usize];
    spec.process.is_none()
        && s.starts_after(t).all(|g| c.is_finished(g))
        && matches!(
            spec.steps.get(pcs[t as usize] as usize).map(|st| st.op),
            Some(Op::Gather(_) | Op::WaitTasks { .. })
        )
        && !c.is_awaiting_tasks(t)
}

/// What the threads of this process are doing, read as the finder reads it: the threads first,
/// then the primitives, as [`watch`] reads them; an mp-queue with the threads of this process
/// waiting on it, and what its pipe lets through.
fn snapshot(shared: &Shared) -> Snapshot {
    let c = &shared.conductor;
    let n = shared.names.len() as ThreadIdx;
    let finished = (0..n).map(|t| c.is_finished(t)).collect();
    let pcs = (0..n).map(|t| c.pc(t)).collect();
    let holds_since = shared
        .holds_since
        .iter()
        .map(|since| Some(since.load(Ordering::Acquire)).filter(|&s| s != HOLDS_NOTHING))
        .collect();
    let (views, pipes): (Vec<View>, _) = shared
        .primitives
        .iter()
        .map(|p| match p {
            Primitive::MpQueue(q) => (q.waiting(), Some(q.pipe_state())),
            p => (p.view(), None),
        })
        .unzip();
    Snapshot {
        finished,
        pcs,
        holds_since,
        views,
        pipes,
    }
}

/// One look at the threads of every process together, for a run whose threads pass items
/// through mp-queues: whether some wait for an item, or for room, that no thread of any
/// process left will give. Each child answers for its own threads ([`Homes::look`]); a
/// deadlock is reported only when a second round of answers, and a second reading here, show
/// nothing changed anywhere. Every process then stood as read at one instant: this process's
/// second reading, which comes after every child's first answer and before any second one.
///
/// [`Homes::look`]: super::homes::Homes::look
fn watch_across(shared: &Shared) -> Watch {
    let s = &shared.scenario;
    if mp_queue::in_child() || !s.resources.iter().any(|r| r.kind == ResourceKind::MpQueue) {
        return Watch::Clear;
    }
    let cancelled = || shared.conductor.cancelled();
    let own = snapshot(shared);
    let (answers, _) = shared.homes.look(cancelled);
    if Snapshot::whole(s, &own, &answers).find(s).is_none() {
        return Watch::Clear;
    }
    let own_again = snapshot(shared);
    let (again, all_answered) = shared.homes.look(cancelled);
    // A child still starting is waited for, so that the report names every thread that can
    // never move, its own among them.
    if own_again != own || again != answers || !all_answered {
        return Watch::Changing;
    }
    let Some(found) = Snapshot::whole(s, &own_again, &again).find(s) else {
        return Watch::Changing;
    };
    {
        let mut d = shared.deadlock.lock();
        if d.is_some() {
            return Watch::Deadlock;
        }
        *d = Some(found);
    }
    shared.conductor.pause_by_itself();
    Watch::Deadlock
}
