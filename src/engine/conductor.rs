//! The conductor: run, pause, step, speed, cancel.
//!
//! Workers meet the conductor at every step boundary and between the slices of long steps (the
//! gate). While the run is running the gate is one atomic load. While it is paused a worker
//! parks on the conductor's condition variable until it is resumed, granted a step, or the run
//! is cancelled. Run time runs while the run is running or some thread is carrying out a step it
//! was granted, and stops otherwise.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::breaks::{Breakpoint, Hit, Stops};
use super::clock::RunClock;
use super::recorder::Recorder;
use crate::scenario::model::{ResIdx, Scenario, ThreadIdx};
use crate::vocab::event::{Event, EventKind};

thread_local! {
    /// Whether the OS thread is running a daemon scenario thread.
    static IN_DAEMON: Cell<bool> = const { Cell::new(false) };
}

/// Why a worker stops before finishing its script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// The run was reset or stopped.
    Cancelled,
    /// A runtime error in the scenario (the thread becomes failed with this reason).
    Failed(String),
    /// A daemon thread stopped where it was, because every other thread has ended (Python's
    /// daemon threads at interpreter exit).
    Stopped,
    /// A task stopped by `CancelledError` at its await: cancelled by that task, or by a
    /// `wait-for`'s timeout.
    TaskCancelled(Option<ThreadIdx>),
}

pub type Flow = Result<(), Halt>;

const NOT_BLOCKED: u32 = u32::MAX;
/// A sleeping thread or task looks at the gate at least this often. Pause, speed and cancel
/// wake sleepers at once; this is only a floor, kept long so that thousands of sleepers do not
/// cost the machine a wake-up each every few milliseconds.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

/// How long a step waits for its thread to stop at its gate before calling it not ready. A
/// thread running when the run paused gets there within a slice of work or of sleep; one just
/// started (a `--schedule` steps a run the moment it starts) gets there once the machine first
/// schedules it, which a busy machine can put off for far longer than a slice.
pub(super) const GATE_WAIT: Duration = Duration::from_secs(2);

/// What a worker is doing, as far as the conductor needs to know.
pub struct Conductor {
    paused: AtomicBool,
    cancelled: AtomicBool,
    speed_bits: AtomicU64,
    control: Mutex<Control>,
    /// Workers wait here: for a resume, a grant, a speed change or the cancel.
    cv: Condvar,
    /// The teacher's side waits here for threads to stop or a granted step to end. Apart from
    /// `cv` so that each of hundreds of threads reaching its gate on a pause wakes only the
    /// teacher, not every other held thread (which made a pause cost threads² wake-ups).
    seen: Condvar,
    clock: Arc<RunClock>,
    /// Per thread: the step it is at (executing, or about to start).
    pc: Vec<AtomicU32>,
    /// Per thread: the resource it is blocked on, or NOT_BLOCKED.
    blocked_on: Vec<AtomicU32>,
    /// Per task: it has begun to await other tasks (gather, wait) and is not ready again yet.
    awaiting_tasks: Vec<AtomicBool>,
    /// Per thread: done or failed.
    finished: Vec<AtomicBool>,
    /// Per thread: not started, waiting for its `after=` group to finish.
    awaiting_group: Vec<AtomicBool>,
    /// Threads not finished yet, and of those the ones that are not daemons: whether a run is
    /// over is asked on every frame and at every thread's end, and must not cost a pass over
    /// thousands of lanes.
    unfinished: AtomicUsize,
    unfinished_users: AtomicUsize,
    /// Per thread: the run time its sleep ends, while it sleeps (0 otherwise); when it acts
    /// next, for "step next".
    due: Vec<AtomicU64>,
    /// Per thread: a daemon thread, which the run does not wait for.
    daemon: Vec<bool>,
    /// Every thread but the daemons has ended: the daemons are being stopped.
    daemons_stopped: AtomicBool,
    watcher: std::sync::OnceLock<std::thread::Thread>,
    /// Breakpoints and a step by event; `stopping` says whether any is armed, read at every
    /// step so a run without them pays one relaxed load.
    stops: Mutex<Stops>,
    stopping: Arc<AtomicBool>,
    /// Wakes tasks on an event loop waiting at an async gate: they cannot park their thread on
    /// `cv`, which is every other task's thread too.
    tasks: tokio::sync::Notify,
    /// Wakes tasks in [`Conductor::until_async`] (waiting for a group to finish, or for an
    /// asyncio primitive), apart from `tasks` so that each of ten thousand tasks ending does
    /// not wake every sleeping task's timer.
    finishes: tokio::sync::Notify,
    /// Called when the run pauses by itself: another run driven together with it pauses too.
    along: Mutex<Option<Along>>,
}

/// What else pauses when a run pauses by itself.
pub type Along = Box<dyn Fn() + Send + Sync>;

struct Control {
    paused: bool,
    /// Per thread: the step it may carry out while the run is paused.
    grants: Vec<Option<u32>>,
    /// Per thread: parked at the gate right now.
    held: Vec<bool>,
    last_stepped: Option<ThreadIdx>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    UnknownThread(String),
    Blocked {
        thread: String,
        resource: String,
    },
    /// A task that is ready but whose event loop is running another task.
    LoopBusy {
        task: String,
        event_loop: String,
        running: Option<String>,
    },
    Finished(String),
    AlreadyStepping(String),
    NotReady(String),
    NoneReady,
    Cancelled,
    /// A thread of a child process: the teacher's controls pause and resume it, but its
    /// steps are its own process's to grant.
    OtherProcess {
        thread: String,
        process: String,
    },
}

/// In the reader's language: a step refused is told to the person who asked for it.
impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use rust_i18n::t;
        let text = match self {
            StepError::UnknownThread(t) => t!("classroom.step.unknown", who = t),
            StepError::Blocked { thread, resource } => {
                t!("classroom.step.blocked", who = thread, res = resource)
            }
            StepError::LoopBusy {
                task,
                event_loop,
                running: Some(running),
            } => t!(
                "classroom.step.loop_busy",
                who = task,
                res = event_loop,
                running = running
            ),
            StepError::LoopBusy {
                task, event_loop, ..
            } => t!("classroom.step.loop_waits", who = task, res = event_loop),
            StepError::Finished(t) => t!("classroom.step.finished", who = t),
            StepError::AlreadyStepping(t) => t!("classroom.step.stepping", who = t),
            StepError::NotReady(t) => t!("classroom.step.not_ready", who = t),
            StepError::NoneReady => t!("classroom.step.none_ready"),
            StepError::Cancelled => t!("classroom.step.cancelled"),
            StepError::OtherProcess { thread, process } => t!(
                "processes.step.other_process",
                who = thread,
                process = process
            ),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for StepError {}

impl Conductor {
    pub fn new(threads: usize, clock: Arc<RunClock>, speed: f64, start_paused: bool) -> Conductor {
        clock.set_speed(clamp_speed(speed));
        if start_paused {
            clock.stop();
        }
        Conductor {
            paused: AtomicBool::new(start_paused),
            cancelled: AtomicBool::new(false),
            speed_bits: AtomicU64::new(clamp_speed(speed).to_bits()),
            control: Mutex::new(Control {
                paused: start_paused,
                grants: vec![None; threads],
                held: vec![false; threads],
                last_stepped: None,
            }),
            cv: Condvar::new(),
            seen: Condvar::new(),
            clock,
            pc: (0..threads).map(|_| AtomicU32::new(0)).collect(),
            blocked_on: (0..threads).map(|_| AtomicU32::new(NOT_BLOCKED)).collect(),
            awaiting_tasks: (0..threads).map(|_| AtomicBool::new(false)).collect(),
            finished: (0..threads).map(|_| AtomicBool::new(false)).collect(),
            awaiting_group: (0..threads).map(|_| AtomicBool::new(false)).collect(),
            unfinished: AtomicUsize::new(threads),
            unfinished_users: AtomicUsize::new(threads),
            due: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            daemon: vec![false; threads],
            daemons_stopped: AtomicBool::new(false),
            watcher: std::sync::OnceLock::new(),
            stops: Mutex::new(Stops::default()),
            stopping: Arc::new(AtomicBool::new(false)),
            tasks: tokio::sync::Notify::new(),
            finishes: tokio::sync::Notify::new(),
            along: Mutex::new(None),
        }
    }

    /// Which threads are daemons (`daemon[t]`), which the run does not wait for.
    pub fn with_daemons(mut self, daemon: &[bool]) -> Conductor {
        for (t, d) in self.daemon.iter_mut().enumerate() {
            *d = daemon.get(t).copied().unwrap_or(false);
        }
        let users = self.daemon.iter().filter(|d| !**d).count();
        self.unfinished_users.store(users, Ordering::Relaxed);
        self
    }

    /// Wake everyone waiting for the conductor: parked threads and tasks at async gates.
    fn wake(&self) {
        self.wake_threads();
        self.tasks.notify_waiters();
        self.finishes.notify_waiters();
    }

    /// Wake the threads parked at their gates, and the teacher.
    fn wake_threads(&self) {
        self.cv.notify_all();
        self.seen.notify_all();
    }

    /// Tell the teacher's side only: a thread stopped where it can be seen, or a step ended.
    fn tell(&self) {
        self.seen.notify_all();
    }

    /// Whether the thread asking must stop: the run was cancelled, or it is a daemon thread
    /// and every other thread has ended. Waits ask without saying who they are, so a daemon
    /// thread says so once, at its start ([`Conductor::enter_daemon`]).
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
            || (self.daemons_stopped.load(Ordering::Acquire) && IN_DAEMON.with(Cell::get))
    }

    /// Called on a daemon thread's own OS thread before its first step.
    pub fn enter_daemon(&self) {
        IN_DAEMON.with(|d| d.set(true));
    }

    /// Whether thread `t` is a daemon that was stopped because the others ended (rather than
    /// cancelled with the whole run).
    pub fn daemon_stopped(&self, t: ThreadIdx) -> bool {
        self.daemon.get(t as usize).copied().unwrap_or(false)
            && self.daemons_stopped.load(Ordering::Acquire)
            && !self.cancelled.load(Ordering::Acquire)
    }

    pub fn speed(&self) -> f64 {
        f64::from_bits(self.speed_bits.load(Ordering::Relaxed))
    }

    pub fn set_speed(&self, speed: f64) {
        let speed = clamp_speed(speed);
        // Sleepers recompute their remaining time; under the lock, so the clock's rate and the
        // speed sleepers read change together.
        let _c = self.control.lock();
        self.speed_bits.store(speed.to_bits(), Ordering::Relaxed);
        self.clock.set_speed(speed);
        self.wake();
    }

    pub fn is_paused(&self) -> bool {
        self.control.lock().paused
    }

    pub fn pc(&self, t: ThreadIdx) -> u32 {
        self.pc[t as usize].load(Ordering::Acquire)
    }

    /// Task `t` begins or ends an await on other tasks.
    pub fn set_awaiting_tasks(&self, t: ThreadIdx, awaiting: bool) {
        self.awaiting_tasks[t as usize].store(awaiting, Ordering::Release);
    }

    pub fn is_awaiting_tasks(&self, t: ThreadIdx) -> bool {
        self.awaiting_tasks[t as usize].load(Ordering::Acquire)
    }

    pub fn blocked_on(&self, t: ThreadIdx) -> Option<ResIdx> {
        match self.blocked_on[t as usize].load(Ordering::Acquire) {
            NOT_BLOCKED => None,
            r => Some(r as ResIdx),
        }
    }

    pub fn is_finished(&self, t: ThreadIdx) -> bool {
        self.finished[t as usize].load(Ordering::Acquire)
    }

    pub fn all_finished(&self) -> bool {
        self.unfinished.load(Ordering::Acquire) == 0
    }

    /// The thread currently carrying out a granted step, if any.
    pub fn stepping(&self) -> Option<ThreadIdx> {
        let c = self.control.lock();
        c.grants
            .iter()
            .position(|g| g.is_some())
            .map(|i| i as ThreadIdx)
    }

    pub fn pause(&self) {
        let mut c = self.control.lock();
        c.paused = true;
        self.paused.store(true, Ordering::Release);
        self.update_clock(&c);
        // Threads and the teacher, not the timers of tasks that await: a timer comes to its
        // gate by itself within a sleep slice (`SLEEP_SLICE`), and waking ten thousand of
        // them made a pause cost the caller a tenth of a second.
        self.wake_threads();
    }

    pub fn resume(&self) {
        self.let_go();
        self.wake();
    }

    /// The run goes on: its clock starts, and its held threads go on once woken.
    fn let_go(&self) {
        let mut c = self.control.lock();
        c.paused = false;
        c.grants.iter_mut().for_each(|g| *g = None);
        self.paused.store(false, Ordering::Release);
        self.update_clock(&c);
    }

    /// Resume this run and `other` at one moment: both clocks start before either run's
    /// threads are woken, as a woken thread may take the processor from the one waking it
    /// (and the other run would wait its turn, its clock stopped).
    pub fn resume_with(&self, other: &Conductor) {
        self.let_go();
        other.let_go();
        self.wake();
        other.wake();
    }

    /// Wait until the run is paused or resumed, its speed changes or it is cancelled, or
    /// `timeout` passes; returns what it is then (paused, speed, cancelled). `seen` is what
    /// the caller last saw: how a child process is kept in step with the teacher's controls.
    pub fn await_change(&self, seen: (bool, f64), timeout: Duration) -> (bool, f64, bool) {
        let mut c = self.control.lock();
        let now = |c: &Control| (c.paused, self.speed(), self.cancelled());
        if now(&c) == (seen.0, seen.1, false) {
            self.cv.wait_for(&mut c, timeout);
        }
        now(&c)
    }

    /// Cancel every wait: the run is being reset or stopped.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        let _c = self.control.lock();
        self.wake();
    }

    fn update_clock(&self, c: &Control) {
        if !c.paused || c.grants.iter().any(Option::is_some) {
            self.clock.start();
        } else {
            self.clock.stop();
        }
    }

    // ---- the watcher's side -----------------------------------------------------------

    /// Register the thread to wake when a deadlock may have begun.
    pub fn set_watcher(&self, watcher: std::thread::Thread) {
        let _ = self.watcher.set(watcher);
    }

    /// Ask the watcher to look again: a thread blocked or finished, or a change left threads
    /// waiting, the moments a deadlock can begin.
    pub fn poke_watcher(&self) {
        if let Some(w) = self.watcher.get() {
            w.unpark();
        }
    }

    // ---- the worker's side -------------------------------------------------------------

    /// Called by a worker before step `step`: records where it is, then passes the gate.
    pub fn before_step(&self, me: ThreadIdx, step: u32, rec: &mut Recorder) -> Result<bool, Halt> {
        self.pc[me as usize].store(step, Ordering::Release);
        if self.stopping.load(Ordering::Relaxed) {
            let hit = self.stops.lock().on_step(me, step);
            if let Some(hit) = hit {
                self.stopped_at_hit(hit);
            }
        }
        self.gate(me, step, rec)
    }

    /// The gate: returns at once while running; otherwise parks until the thread may go on.
    /// Returns whether the thread was held, so a step cut in two can say again what it does.
    pub fn gate(&self, me: ThreadIdx, step: u32, rec: &mut Recorder) -> Result<bool, Halt> {
        if let Some(open) = self.open_gate() {
            return open;
        }
        let mut c = self.control.lock();
        let mut held = false;
        let result = loop {
            if let Some(passed) = self.look(&mut c, me, step, &mut held, rec) {
                break passed;
            }
            self.cv.wait(&mut c);
        };
        c.held[me as usize] = false;
        result
    }

    /// The gate while the run is running: one atomic load.
    fn open_gate(&self) -> Option<Result<bool, Halt>> {
        if self.paused.load(Ordering::Acquire) {
            None
        } else if self.cancelled() {
            Some(Err(Halt::Cancelled))
        } else {
            Some(Ok(false))
        }
    }

    /// One look at a closed gate: `Some` once the worker may go on (or must stop), `None` while
    /// it must wait. The first wait is recorded as a hold, and the teacher's side told.
    fn look(
        &self,
        c: &mut Control,
        me: ThreadIdx,
        step: u32,
        held: &mut bool,
        rec: &mut Recorder,
    ) -> Option<Result<bool, Halt>> {
        if self.cancelled() {
            return Some(Err(Halt::Cancelled));
        }
        if !c.paused || c.grants[me as usize] == Some(step) {
            return Some(Ok(*held));
        }
        if !*held {
            *held = true;
            c.held[me as usize] = true;
            rec.emit(EventKind::Hold, None, None, None);
            rec.flush();
            self.tell();
        }
        None
    }

    /// Called by a worker when it has finished step `step`: a granted step is over.
    pub fn after_step(&self, me: ThreadIdx, step: u32) {
        if !self.paused.load(Ordering::Acquire) {
            return;
        }
        let mut c = self.control.lock();
        if c.grants[me as usize] == Some(step) {
            c.grants[me as usize] = None;
            self.update_clock(&c);
            self.wake();
        }
    }

    /// Called by a worker about to wait on a primitive. A granted step ends here: "a step that
    /// blocks ends when the thread is blocked".
    pub fn blocking(&self, me: ThreadIdx, on: ResIdx) {
        self.blocked_on[me as usize].store(on as u32, Ordering::Release);
        self.poke_watcher();
        if !self.paused.load(Ordering::Acquire) {
            return;
        }
        let mut c = self.control.lock();
        if c.grants[me as usize].take().is_some() {
            self.update_clock(&c);
        }
        self.tell();
    }

    pub fn unblocked(&self, me: ThreadIdx) {
        self.blocked_on[me as usize].store(NOT_BLOCKED, Ordering::Release);
    }

    /// `me` has ended. True for the one call whose thread was the program's last that is not
    /// a daemon, with daemons still running: from then on they stop, so every wait must be
    /// woken for them to notice.
    pub fn finish(&self, me: ThreadIdx) -> bool {
        let mut c = self.control.lock();
        if !self.finished[me as usize].swap(true, Ordering::AcqRel) {
            if !self.daemon[me as usize] {
                self.unfinished_users.fetch_sub(1, Ordering::AcqRel);
            }
            self.unfinished.fetch_sub(1, Ordering::AcqRel);
        }
        // The last thread that is not a daemon ends the program: its daemons stop.
        let daemons_stop = self.unfinished_users.load(Ordering::Acquire) == 0
            && !self.all_finished()
            && !self.daemons_stopped.swap(true, Ordering::AcqRel);
        c.grants[me as usize] = None;
        if self.all_finished() {
            // The run is over: its clock stops at its last moment.
            self.clock.stop();
        } else {
            self.update_clock(&c);
        }
        if daemons_stop || self.all_finished() {
            self.wake();
        } else {
            // Only those waiting for someone to finish: the teacher, and tasks started `after=`.
            self.tell();
            self.finishes.notify_waiters();
        }
        drop(c);
        self.poke_watcher();
        daemons_stop
    }

    /// An off-CPU wait of `nominal` run time: pauses do not count and speed changes stretch
    /// what is left on the wall clock, because the run clock already says so; cut short by
    /// cancellation.
    pub fn sleep(&self, me: ThreadIdx, step: u32, nominal: Duration, rec: &mut Recorder) -> Flow {
        let end = self.clock.now() + nominal.as_nanos() as u64;
        self.due[me as usize].store(end, Ordering::Relaxed);
        let slept = (|| {
            while let Some(left) = self.left_until(end) {
                {
                    let mut c = self.control.lock();
                    if self.cancelled() {
                        return Err(Halt::Cancelled);
                    }
                    self.cv.wait_for(&mut c, left.min(SLEEP_SLICE));
                }
                if self.left_until(end).is_some() && self.gate(me, step, rec)? {
                    rec.restate(EventKind::Sleep);
                }
            }
            Ok(())
        })();
        self.due[me as usize].store(0, Ordering::Relaxed);
        slept
    }

    /// How long on the wall clock until run time reaches `end` at today's speed, if it has not.
    pub(super) fn left_until(&self, end: u64) -> Option<Duration> {
        let now = self.clock.now();
        (now < end).then(|| Duration::from_nanos(((end - now) as f64 / self.speed()) as u64))
    }

    // ---- a task's side (on an event loop) -----------------------------------------------

    /// The gate for a task's timer while the task awaits: it waits without parking a thread.
    pub async fn gate_async(
        &self,
        me: ThreadIdx,
        step: u32,
        rec: &mut Recorder,
    ) -> Result<bool, Halt> {
        if let Some(open) = self.open_gate() {
            return open;
        }
        let mut held = false;
        let result = loop {
            // Registered before looking, so a wake between the look and the wait is not lost.
            let notified = self.tasks.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(passed) = self.look(&mut self.control.lock(), me, step, &mut held, rec) {
                break passed;
            }
            notified.await;
        };
        self.control.lock().held[me as usize] = false;
        result
    }

    /// Wake every task waiting in [`Conductor::until_async`]: something it waits for changed
    /// (an asyncio primitive handed over, a task was cancelled, a call on a worker thread
    /// returned).
    pub fn wake_tasks(&self) {
        self.finishes.notify_waiters();
        // A cancelled task may be in an awaited sleep: its timer looks again now.
        self.tasks.notify_waiters();
    }

    /// Wait until `done` says so, the run is cancelled, or forever; for a task waiting for
    /// threads or tasks to finish (`after=`) or for an asyncio primitive. Woken whenever
    /// anything finishes, and by [`Conductor::wake_tasks`].
    pub async fn until_async(&self, done: impl Fn() -> bool) -> Flow {
        loop {
            let notified = self.finishes.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.cancelled() {
                return Err(Halt::Cancelled);
            }
            if done() {
                return Ok(());
            }
            notified.await;
        }
    }

    /// An awaited sleep of `nominal` run time, like [`Conductor::sleep`] but without holding a
    /// thread; cut short, within a slice, once `stop` says so (the task was cancelled).
    pub async fn sleep_async(
        &self,
        me: ThreadIdx,
        step: u32,
        nominal: Duration,
        rec: &mut Recorder,
        stop: impl Fn() -> bool,
    ) -> Flow {
        let end = self.clock.now() + nominal.as_nanos() as u64;
        self.due[me as usize].store(end, Ordering::Relaxed);
        let slept = async {
            loop {
                // Registered before looking, so a pause or speed change between the look and
                // the wait still wakes the timer.
                let notified = self.tasks.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let Some(left) = self.left_until(end) else {
                    break;
                };
                if self.cancelled() {
                    return Err(Halt::Cancelled);
                }
                if stop() {
                    return Ok(());
                }
                tokio::select! {
                    () = tokio::time::sleep(left.min(SLEEP_SLICE)) => {}
                    () = notified => {}
                }
                if self.left_until(end).is_some() && self.gate_async(me, step, rec).await? {
                    rec.restate(EventKind::Sleep);
                }
            }
            Ok(())
        }
        .await;
        self.due[me as usize].store(0, Ordering::Relaxed);
        slept
    }

    // ---- the teacher's side ------------------------------------------------------------

    /// Pause whenever one of `breakpoints` fires, from now on (replacing those set before).
    pub fn set_breakpoints(&self, breakpoints: Vec<Breakpoint>, scenario: &Scenario) {
        let mut stops = self.stops.lock();
        stops.set(breakpoints, scenario);
        self.stopping.store(stops.armed(), Ordering::Relaxed);
    }

    /// Ask the quiz's questions about `scenario` from now on, or (`None`) stop asking.
    pub fn set_quiz(&self, scenario: Option<&Scenario>) {
        let mut stops = self.stops.lock();
        stops.set_quiz(scenario);
        self.stopping.store(stops.armed(), Ordering::Relaxed);
    }

    /// Run on until the next thing that happens in the run, whoever does it, and pause there:
    /// sleeps and work go on in run time meanwhile, so stepping does not distort time.
    pub fn step_event(&self) {
        self.arm_next_event();
        self.resume();
    }

    /// [`Conductor::step_event`] in this run and `other`, let go at one moment
    /// ([`Conductor::resume_with`]).
    pub fn step_event_with(&self, other: &Conductor) {
        self.arm_next_event();
        other.arm_next_event();
        self.resume_with(other);
    }

    fn arm_next_event(&self) {
        let mut stops = self.stops.lock();
        stops.arm_next_event();
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Set while events must be shown to [`Conductor::on_event`].
    pub fn stopping(&self) -> Arc<AtomicBool> {
        self.stopping.clone()
    }

    /// A thread recorded `event` while stops are armed: pause the run if it fires one.
    pub fn on_event(&self, event: &Event) {
        let hit = self.stops.lock().on_event(event);
        if let Some(hit) = hit {
            self.stopped_at_hit(hit);
        }
    }

    /// The hit is published only once this run and the one driven along with it have paused:
    /// a reader who finds it finds both paused, and a resume sent on reading it is not undone
    /// by a pause still to come.
    fn stopped_at_hit(&self, hit: Hit) {
        self.stopping
            .store(self.stops.lock().armed(), Ordering::Relaxed);
        self.pause_by_itself();
        self.stops.lock().publish(hit);
    }

    /// Pause because the run itself says so (a breakpoint, the end of a step by event, a
    /// deadlock), and with it whatever is driven together with it: two runs compared keep one
    /// time axis even when one of them can go no further.
    pub fn pause_by_itself(&self) {
        self.pause();
        if let Some(along) = &*self.along.lock() {
            along();
        }
    }

    /// From now on, `along` is called whenever the run pauses by itself.
    pub fn set_along(&self, along: Along) {
        *self.along.lock() = Some(along);
    }

    /// Pause because a run driven together with this one paused by itself: a step by event
    /// under way here is called off, so it does not stop the run later at an event of its own.
    pub fn pause_along(&self) {
        {
            let mut stops = self.stops.lock();
            stops.disarm_next_event();
            self.stopping.store(stops.armed(), Ordering::Relaxed);
        }
        self.pause();
    }

    /// Why the run last paused by itself, once.
    pub fn take_hit(&self) -> Option<Hit> {
        self.stops.lock().take_hit()
    }

    /// Let thread `t` carry out exactly its next step (pausing the run first if it is running).
    pub fn step(
        &self,
        t: ThreadIdx,
        name: impl Fn(ThreadIdx) -> String,
        res: impl Fn(ResIdx) -> String,
    ) -> Result<(), StepError> {
        let i = t as usize;
        if i >= self.pc.len() {
            return Err(StepError::UnknownThread(t.to_string()));
        }
        let mut c = self.control.lock();
        if !c.paused {
            c.paused = true;
            self.paused.store(true, Ordering::Release);
            self.update_clock(&c);
            self.wake();
        }
        if c.grants[i].is_some() {
            return Err(StepError::AlreadyStepping(name(t)));
        }
        let deadline = Instant::now() + GATE_WAIT;
        loop {
            if self.cancelled() {
                return Err(StepError::Cancelled);
            }
            if self.is_finished(t) {
                return Err(StepError::Finished(name(t)));
            }
            if let Some(r) = self.blocked_on(t) {
                return Err(StepError::Blocked {
                    thread: name(t),
                    resource: res(r),
                });
            }
            if c.held[i] {
                break;
            }
            if self.seen.wait_until(&mut c, deadline).timed_out() {
                return Err(StepError::NotReady(name(t)));
            }
        }
        c.grants[i] = Some(self.pc(t));
        c.last_stepped = Some(t);
        self.update_clock(&c);
        self.wake();
        Ok(())
    }

    /// Every thread has stopped where it can be seen: held at its gate, blocked, finished or
    /// not started until its group finishes. Until then a thread still finishing a slice of
    /// work would be passed over by [`Conductor::next_ready`].
    pub fn all_stopped(&self) -> bool {
        self.stopped_among(|_| true)
    }

    /// [`Conductor::all_stopped`], for the threads for which `here` holds: the threads of a
    /// child process stop in its own conductor, not in this one.
    pub fn stopped_among(&self, here: impl Fn(ThreadIdx) -> bool) -> bool {
        let c = self.control.lock();
        (0..self.pc.len()).all(|i| {
            let t = i as ThreadIdx;
            !here(t)
                || c.held[i]
                || self.blocked_on(t).is_some()
                || self.is_finished(t)
                || self.awaiting_group[i].load(Ordering::Acquire)
        })
    }

    /// Thread `t` waits for its `after=` group (`true`), or has stopped waiting.
    pub fn awaits_group(&self, t: ThreadIdx, waiting: bool) {
        self.awaiting_group[t as usize].store(waiting, Ordering::Release);
    }

    /// The thread to step next: whoever acts next in run time. A thread held between steps or
    /// in its work acts now, one held in a sleep when the sleep ends; among those acting at
    /// the same moment, turns go round from the one stepped last.
    pub fn next_ready(&self) -> Option<ThreadIdx> {
        let c = self.control.lock();
        let n = self.pc.len();
        let now = self.clock.now();
        let start = c.last_stepped.map_or(0, |t| t as usize + 1);
        (0..n)
            .map(|k| (start + k) % n)
            .filter(|&i| {
                let t = i as ThreadIdx;
                c.held[i]
                    && c.grants[i].is_none()
                    && !self.is_finished(t)
                    && self.blocked_on(t).is_none()
            })
            .min_by_key(|&i| self.due[i].load(Ordering::Relaxed).max(now))
            .map(|i| i as ThreadIdx)
    }

    /// Wait until no granted step is in progress and, while the run stays paused, the thread
    /// stepped last has stopped again: held before its next step, blocked, or finished. Only
    /// then is it ready to be stepped again, so "step next ready" takes turns.
    pub fn wait_step_done(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut c = self.control.lock();
        let done = |c: &Control| {
            let stopped = |t: ThreadIdx| {
                c.held[t as usize] || self.blocked_on(t).is_some() || self.is_finished(t)
            };
            !c.grants.iter().any(Option::is_some)
                && (!c.paused || c.last_stepped.is_none_or(stopped))
        };
        while !done(&c) && !self.cancelled() {
            if self.seen.wait_until(&mut c, deadline).timed_out() {
                return done(&c);
            }
        }
        true
    }
}

fn clamp_speed(speed: f64) -> f64 {
    if speed.is_finite() {
        speed.clamp(0.1, 4.0)
    } else {
        1.0
    }
}
