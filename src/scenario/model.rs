//! The scenario model: what a parsed, checked `.kdl` file means.
//!
//! The parser (`parse.rs`) builds it, the checker (`check.rs`) vets it, the engine runs it and the
//! trace and UI read names and source lines from it. `repeat` blocks are unrolled by the parser,
//! so a thread's script is a flat list of steps and "the step a thread is at" is just an index.

use std::sync::Arc;
use std::time::Duration;

/// The most OS threads a scenario may have: 512 start, pause and reset within their budgets on
/// a 2-core machine (BENCHMARKS.md), each on a small stack.
pub const MAX_THREADS: usize = 512;
/// The most tasks a scenario may have, all on its one event loop thread.
pub const MAX_TASKS: usize = 10_000;

/// Index of a thread in [`Scenario::threads`].
pub type ThreadIdx = u16;
/// Index of a resource in [`Scenario::resources`].
pub type ResIdx = u16;

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Short name: the built-in's name (`deadlock`) or the file stem.
    pub name: String,
    /// Where it came from: `builtin:deadlock` or the path as given.
    pub origin: String,
    /// The full source text, for the code view and diagnostics.
    pub source: Arc<str>,
    /// The title in English: what summaries, JSON and traces carry in every language.
    pub title: String,
    /// What the class should look for, in a teacher's words.
    pub about: String,
    /// The title for a Chinese classroom (`title "..." zh="..."`), if the file gives one.
    pub title_zh: Option<String>,
    /// The about text for a Chinese classroom (`about "..." zh="..."`), if the file gives one.
    pub about_zh: Option<String>,
    /// What kind of threads the lesson stands for (`threads "python"` or `threads "native"`).
    pub models: ThreadModel,
    /// A traced Python program's model (`threadlab trace`): its source is the script, not a
    /// scenario, so its lanes and resources cannot be read again from the source.
    pub traced: bool,
    pub resources: Vec<Resource>,
    /// Threads after `count=` expansion: `worker count=3` gives worker-1, worker-2, worker-3.
    pub threads: Vec<ThreadSpec>,
    /// The child processes the scenario starts (`process NAME { thread ... }`), after
    /// `count=` expansion. Threads outside every `process` block run in threadlab's own.
    pub processes: Vec<ProcessSpec>,
}

/// Index of a process in [`Scenario::processes`].
pub type ProcIdx = u16;

/// `process worker count=2 after=cpu { thread main { work "1s" } }`: a real OS process of its
/// own, with its own memory and (under `threads "python"`) its own GIL. Its threads talk to
/// other processes only through an `mp-queue`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSpec {
    /// Unique name (`worker-2`).
    pub name: String,
    /// 1-based source line of the `process` node.
    pub line: u32,
    /// Threads that must all be done or failed before the process is started.
    pub after: Vec<ThreadIdx>,
}

/// What a scenario's threads stand for, declared at the top of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadModel {
    /// `threads "python"`: CPython threads. Every thread runs its CPU work under one GIL: the
    /// one the file declares, or else one the parser adds (named [`IMPLICIT_GIL`], 5 ms switch
    /// interval, CPython's default), so only one thread computes at a time.
    Python,
    /// `threads "native"` (and a file that says nothing): OS threads that compute in parallel,
    /// as in free-threaded Python (3.13t), Rust, Java or C. Only threads that name a GIL
    /// (`gil=py`) take turns.
    #[default]
    Native,
}

/// The name of the GIL `threads "python"` adds when the file declares none.
pub const IMPLICIT_GIL: &str = "GIL";

impl ThreadModel {
    /// The word that declares it: `threads "python"`.
    pub fn keyword(self) -> &'static str {
        match self {
            ThreadModel::Python => "python",
            ThreadModel::Native => "native",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub name: String,
    pub kind: ResourceKind,
    /// 1-based source line of the declaration.
    pub line: u32,
    /// Declared `async-semaphore`, `async-lock`, `async-event` or `async-queue`: asyncio's own
    /// primitive, which only tasks use and which a waiting task awaits, so its loop runs
    /// other tasks meanwhile. Its `kind` is the threading primitive it behaves like.
    pub asyncio: bool,
}

impl Resource {
    /// The keyword that declared it: `semaphore`, or `async-semaphore` for asyncio's.
    pub fn keyword(&self) -> &'static str {
        if !self.asyncio {
            return self.kind.keyword();
        }
        match self.kind {
            ResourceKind::Semaphore { .. } => "async-semaphore",
            ResourceKind::Mutex => "async-lock",
            ResourceKind::Event => "async-event",
            ResourceKind::Buffer { .. } => "async-queue",
            _ => self.kind.keyword(),
        }
    }
}

/// The capacity of a queue with no bound (Python's `maxsize=0`), which only a traced program
/// has: a scenario's buffer holds at most 10,000.
pub const UNBOUNDED: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResourceKind {
    /// `mutex A`: one holder at a time; waiters queue in arrival order.
    Mutex,
    /// `semaphore pool permits=3`.
    Semaphore { permits: u32 },
    /// `barrier gate parties=3`: trips when `parties` threads have arrived.
    Barrier { parties: u32 },
    /// `buffer queue capacity=3`: a bounded FIFO guarded by a mutex and two condition variables.
    /// A traced program's `queue.Queue()` has no bound: its capacity is [`UNBOUNDED`].
    Buffer { capacity: u32 },
    /// `gil interval="5ms"`: a CPython-style global interpreter lock.
    Gil { interval: Duration },
    /// `rlock R`: a reentrant lock (Python's `RLock`); its holder may lock it again, and it is
    /// free once every `lock` has had its `unlock`.
    RLock,
    /// `event ready`: a flag threads `wait` for until some thread `set`s it (Python's `Event`).
    Event,
    /// `rwlock R`: many readers (`read R`) or one writer (`write R`); `unlock R` gives it back.
    /// Fair by default; `prefer="readers"` lets readers in past a waiting writer, which can
    /// starve it.
    RwLock { prefer_readers: bool },
    /// `counter hits`: a shared number that `increment` reads, works on and writes back in
    /// separate steps, so increments without a lock can lose each other's updates.
    Counter,
    /// `event-loop main`: one OS thread running the scenario's `task`s, asyncio-style, on a
    /// tokio current-thread runtime. A task runs until it awaits; the loop then runs another.
    EventLoop,
    /// `condition ready lock=L`: Python's `threading.Condition(L)`. `wait` gives back the lock
    /// and sleeps until notified, then takes the lock again; `notify` / `notify-all` wake one
    /// waiter or all of them, and are lost if nobody waits yet.
    Condition { lock: ResIdx },
    /// `pool ex`: a thread pool's task queue and futures (Python's `ThreadPoolExecutor`).
    /// Its workers are the threads that `run-next` it.
    Pool,
    /// `list items`: a plain Python list shared by threads, with no waiting of its own:
    /// `append` adds an item, `pop` takes the oldest and fails, as `items.pop(0)` raises
    /// `IndexError`, when there is none.
    List,
    /// `mp-queue q`: Python's `multiprocessing.Queue`, an OS pipe that threads of every
    /// process may `put` into and `take` from; each item is bytes through the kernel, taken
    /// by exactly one taker.
    MpQueue,
}

impl ResourceKind {
    /// The keyword that declares this kind in a scenario file.
    pub fn keyword(&self) -> &'static str {
        match self {
            ResourceKind::Mutex => "mutex",
            ResourceKind::Semaphore { .. } => "semaphore",
            ResourceKind::Barrier { .. } => "barrier",
            ResourceKind::Buffer { .. } => "buffer",
            ResourceKind::Gil { .. } => "gil",
            ResourceKind::RLock => "rlock",
            ResourceKind::Event => "event",
            ResourceKind::RwLock { .. } => "rwlock",
            ResourceKind::Counter => "counter",
            ResourceKind::EventLoop => "event-loop",
            ResourceKind::Condition { .. } => "condition",
            ResourceKind::List => "list",
            ResourceKind::Pool => "pool",
            ResourceKind::MpQueue => "mp-queue",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThreadSpec {
    /// Unique display name (`T1`, `worker-3`).
    pub name: String,
    /// The `thread` node's name before `count=` expansion (`worker`).
    pub group: String,
    /// 1-based source line of the `thread` node.
    pub line: u32,
    /// The GIL this thread's CPU work runs under (`gil=py`), if any.
    pub gil: Option<ResIdx>,
    /// Threads that must all be done or failed before this one starts (`after=cpu` names a
    /// group): how a scenario runs phases, such as the same work first under the GIL, then free.
    pub after: Vec<ThreadIdx>,
    /// For a `task` node: the event loop it runs on, as a task among tasks rather than an OS
    /// thread of its own.
    pub event_loop: Option<ResIdx>,
    /// `daemon=#true`: the run does not wait for it; once every other thread has ended it is
    /// stopped wherever it is (Python's `Thread(daemon=True)` at the end of the program).
    pub daemon: bool,
    /// The child process this thread runs in (`process NAME { thread ... }`); `None`: in
    /// threadlab's own process.
    pub process: Option<ProcIdx>,
    pub steps: Vec<Step>,
}

impl ThreadSpec {
    /// Whether this lane is a task on an event loop rather than an OS thread.
    pub fn is_task(&self) -> bool {
        self.event_loop.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub op: Op,
    /// 1-based source line of the step, for the code view and `"line"` in event logs.
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Lock a mutex or an rlock.
    Lock(ResIdx),
    /// `lock A timeout="30ms"`: lock a mutex, but give up after waiting `timeout`. A thread
    /// that gives up backs off: it gives back everything it holds (locks, rlock levels,
    /// rwlock shares, permits; latest first), sleeps a random time up to `backoff` (or up to
    /// `timeout` when none is given) and starts again from the step after which it last held
    /// nothing. So every retry holds what the first pass held at each step, and what `check`
    /// verifies along the script holds on every retry.
    TryLock {
        resource: ResIdx,
        timeout: Duration,
        backoff: Option<Duration>,
        /// `jitter=#false`: back off for exactly that time, not a random time up to it.
        /// Threads that back off alike meet again alike: the livelock lesson.
        jitter: bool,
    },
    /// Unlock a mutex, an rlock or an rwlock.
    Unlock(ResIdx),
    Acquire(ResIdx),
    Release(ResIdx),
    /// Arrive at a barrier and wait for the rest of its parties, or wait for an event to be set.
    Wait(ResIdx),
    /// Set an event, releasing everyone waiting for it.
    Set(ResIdx),
    /// `clear ready`: make an event false again; later waits wait.
    Clear(ResIdx),
    /// `wait ready timeout="100ms"`: wait for an event, but give up after `timeout` and go on
    /// (Python's `ready.wait(0.1)` returning False).
    WaitFor {
        resource: ResIdx,
        timeout: Duration,
    },
    /// Take an rwlock shared, alongside other readers.
    Read(ResIdx),
    /// Take an rwlock exclusive.
    Write(ResIdx),
    /// Read a counter, work on the value a moment, write it back plus one.
    Increment(ResIdx),
    Put(ResIdx),
    Take(ResIdx),
    /// CPU-bound: a fixed amount of real computation, calibrated to take this long on an idle core.
    Work(Duration),
    /// Off-CPU wait standing in for I/O. In a task it is an await (`await asyncio.sleep`):
    /// the loop runs other tasks meanwhile.
    Sleep(Duration),
    /// `sleep "1s" blocking=#true` in a task: a call that blocks without awaiting
    /// (`time.sleep`), so the whole event loop stops with it.
    BlockingSleep(Duration),
    /// `wait C`, `wait C while-empty=items`, `wait C if-empty=items` on a condition: give back
    /// its lock, sleep until notified, take the lock again. The guard is the predicate check
    /// around it, written the right way (`while`) or the buggy way (`if`).
    CondWait {
        cond: ResIdx,
        guard: Guard,
    },
    /// `notify C`: wake the longest-waiting thread on the condition, if any.
    Notify(ResIdx),
    /// `notify-all C`: wake every thread waiting on the condition.
    NotifyAll(ResIdx),
    /// `put q sentinel=#true`: put the shutdown marker (Python's `q.put(None)`); a thread that
    /// takes it stops its script there, as `if item is None: break` leaves a consumer's loop.
    PutSentinel(ResIdx),
    /// `put q priority=2`: put an item into a buffer used as a `queue.PriorityQueue`: a take
    /// takes the lowest priority first (in put order among equals).
    PutPriority {
        resource: ResIdx,
        priority: u32,
    },
    /// `take q timeout="100ms"`: take an item, but give up after `timeout` and go on (Python's
    /// `q.get(timeout=0.1)` raising `queue.Empty`, caught).
    TakeFor {
        resource: ResIdx,
        timeout: Duration,
    },
    /// `task-done q`: one taken item is finished (`q.task_done()`); more than were put fails.
    TaskDone(ResIdx),
    /// `join q`: wait until every item put has been marked done (`q.join()`).
    Join(ResIdx),
    /// `submit ex work="100ms" [raises="ValueError"]`: queue a task with its own work (and
    /// the exception it raises at its end) and go on with its future.
    Submit {
        pool: ResIdx,
        work: Duration,
        raises: Option<u8>,
    },
    /// `run-next ex`: a worker takes whatever task is next, runs its work and completes its
    /// future; on a shut-down, empty pool the worker stops its script.
    RunNext(ResIdx),
    /// `result ex task=N [timeout="D"]`: wait for task N's future (`f.result(timeout)`); its
    /// exception, or a timeout, fails the thread as Python's raises.
    Result {
        pool: ResIdx,
        task: u32,
        timeout: Option<Duration>,
    },
    /// `as-completed ex`: collect every uncollected future in the order the tasks finish.
    AsCompleted(ResIdx),
    /// `map ex`: collect every uncollected future in the order they were submitted.
    Map(ResIdx),
    /// `shutdown ex`: no more submits; idle workers stop once the queue is empty.
    Shutdown(ResIdx),
    /// `append items`: add the next item to a list.
    Append(ResIdx),
    /// `pop items`: take the oldest item of a list; an empty list fails the thread.
    Pop(ResIdx),
    /// `gather fetch`: a task awaits every task of a group (`await asyncio.gather(*fetch)`).
    Gather(Tasks),
    /// `wait fetch return-when="FIRST_COMPLETED"`: a task awaits the first of a group to end
    /// (or, with `ALL_COMPLETED`, all of them), as `asyncio.wait` does; the rest go on.
    WaitTasks {
        tasks: Tasks,
        first: bool,
    },
    /// `cancel fetch`: `t.cancel()` for every task of a group that has not ended; each stops
    /// with `CancelledError` at the await it is in.
    Cancel(Tasks),
    /// `wait-for slow timeout="500ms"`: `asyncio.wait_for(slow, 0.5)`: await the group's
    /// tasks, and at the timeout cancel them, wait for them to stop and go on past the
    /// `TimeoutError`.
    WaitTasksFor {
        tasks: Tasks,
        timeout: Duration,
    },
    /// `to-thread "1s"`: `await asyncio.to_thread(blocking_call)`: a blocking call of this long
    /// runs on a worker thread of the loop's executor while the task awaits it.
    ToThread {
        executor: ResIdx,
        call: Duration,
    },
}

/// The tasks of one `task` node after `count=`, which are numbered one after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tasks {
    pub first: ThreadIdx,
    pub count: ThreadIdx,
}

impl Tasks {
    pub fn members(self) -> impl Iterator<Item = ThreadIdx> {
        self.first..self.first + self.count
    }

    pub fn contains(self, t: ThreadIdx) -> bool {
        (self.first..self.first + self.count).contains(&t)
    }
}

/// The exceptions a pool's task may raise (`raises="ValueError"`), by index.
pub const EXCEPTIONS: &[&str] = &[
    "ValueError",
    "KeyError",
    "IndexError",
    "ZeroDivisionError",
    "RuntimeError",
    "ConnectionError",
    "TimeoutError",
];

/// The predicate check around a condition wait: on the emptiness of a list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Guard {
    /// `wait C`: waits once, whatever the data says.
    None,
    /// `while not items: C.wait()`: waits until the list has an item, checking again after
    /// every wake-up.
    While(ResIdx),
    /// `if not items: C.wait()`: checks once; after a wake-up it goes on even if another
    /// thread took the item first.
    If(ResIdx),
}

impl Op {
    /// The keyword of this step in a scenario file.
    pub fn keyword(&self) -> &'static str {
        match self {
            Op::Lock(_) | Op::TryLock { .. } => "lock",
            Op::Unlock(_) => "unlock",
            Op::Acquire(_) => "acquire",
            Op::Release(_) => "release",
            Op::Wait(_) => "wait",
            Op::Set(_) => "set",
            Op::Clear(_) => "clear",
            Op::WaitFor { .. } => "wait",
            Op::Read(_) => "read",
            Op::Write(_) => "write",
            Op::Increment(_) => "increment",
            Op::Put(_) => "put",
            Op::Take(_) => "take",
            Op::Work(_) => "work",
            Op::Sleep(_) | Op::BlockingSleep(_) => "sleep",
            Op::CondWait { .. } => "wait",
            Op::Notify(_) => "notify",
            Op::NotifyAll(_) => "notify-all",
            Op::Append(_) => "append",
            Op::PutSentinel(_) | Op::PutPriority { .. } => "put",
            Op::TakeFor { .. } => "take",
            Op::TaskDone(_) => "task-done",
            Op::Join(_) => "join",
            Op::Submit { .. } => "submit",
            Op::RunNext(_) => "run-next",
            Op::Result { .. } => "result",
            Op::AsCompleted(_) => "as-completed",
            Op::Map(_) => "map",
            Op::Shutdown(_) => "shutdown",
            Op::Pop(_) => "pop",
            Op::Gather(_) => "gather",
            Op::WaitTasks { .. } => "wait",
            Op::Cancel(_) => "cancel",
            Op::WaitTasksFor { .. } => "wait-for",
            Op::ToThread { .. } => "to-thread",
        }
    }

    pub fn resource(&self) -> Option<ResIdx> {
        match *self {
            Op::Lock(r)
            | Op::TryLock { resource: r, .. }
            | Op::Unlock(r)
            | Op::Acquire(r)
            | Op::Release(r)
            | Op::Wait(r)
            | Op::Set(r)
            | Op::Clear(r)
            | Op::WaitFor { resource: r, .. }
            | Op::Read(r)
            | Op::Write(r)
            | Op::Increment(r)
            | Op::Put(r)
            | Op::Take(r)
            | Op::CondWait { cond: r, .. }
            | Op::Notify(r)
            | Op::NotifyAll(r)
            | Op::Append(r)
            | Op::Pop(r)
            | Op::PutSentinel(r)
            | Op::PutPriority { resource: r, .. }
            | Op::TakeFor { resource: r, .. }
            | Op::TaskDone(r)
            | Op::Join(r)
            | Op::Submit { pool: r, .. }
            | Op::RunNext(r)
            | Op::Result { pool: r, .. }
            | Op::AsCompleted(r)
            | Op::Map(r)
            | Op::Shutdown(r) => Some(r),
            Op::Work(_)
            | Op::Sleep(_)
            | Op::BlockingSleep(_)
            | Op::Gather(_)
            | Op::WaitTasks { .. }
            | Op::Cancel(_)
            | Op::WaitTasksFor { .. }
            | Op::ToThread { .. } => None,
        }
    }

    /// The tasks this step awaits or cancels.
    pub fn tasks(&self) -> Option<Tasks> {
        match *self {
            Op::Gather(g)
            | Op::WaitTasks { tasks: g, .. }
            | Op::Cancel(g)
            | Op::WaitTasksFor { tasks: g, .. } => Some(g),
            _ => None,
        }
    }

    /// The buffer this step puts into, sentinel or item.
    pub fn puts(&self) -> Option<ResIdx> {
        match *self {
            Op::Put(r) | Op::PutSentinel(r) | Op::PutPriority { resource: r, .. } => Some(r),
            _ => None,
        }
    }

    /// The buffer this step takes from, with or without a timeout.
    pub fn takes(&self) -> Option<ResIdx> {
        match *self {
            Op::Take(r) | Op::TakeFor { resource: r, .. } => Some(r),
            _ => None,
        }
    }

    /// Nominal duration of a timed step at 1x speed.
    pub fn duration(&self) -> Option<Duration> {
        match *self {
            Op::Work(d) | Op::Sleep(d) | Op::BlockingSleep(d) => Some(d),
            _ => None,
        }
    }
}

impl Scenario {
    /// The title in the language shown now (the English one where no translation is given).
    pub fn shown_title(&self) -> &str {
        shown(&self.title, &self.title_zh)
    }

    /// The about text in the language shown now (the English one where no translation is
    /// given).
    pub fn shown_about(&self) -> &str {
        shown(&self.about, &self.about_zh)
    }

    pub fn thread_index(&self, name: &str) -> Option<ThreadIdx> {
        self.threads
            .iter()
            .position(|t| t.name == name)
            .map(|i| i as ThreadIdx)
    }

    /// The names of the groups (`task` nodes) that `tasks` is made of, in order.
    pub fn group_names(&self, tasks: Tasks) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for t in tasks.members() {
            let g = self.threads[t as usize].group.as_str();
            if names.last() != Some(&g) {
                names.push(g);
            }
        }
        names
    }

    /// Whether buffer `r` is a `queue.PriorityQueue`: some put gives it a priority. Its
    /// sentinel then comes out after every item (the Python twin puts `(inf, …)`); in a plain
    /// queue a sentinel is served in put order, as `q.put(None)` is.
    pub fn is_priority_queue(&self, r: ResIdx) -> bool {
        self.threads
            .iter()
            .flat_map(|t| &t.steps)
            .any(|s| matches!(s.op, Op::PutPriority { resource, .. } if resource == r))
    }

    pub fn resource_index(&self, name: &str) -> Option<ResIdx> {
        self.resources
            .iter()
            .position(|r| r.name == name)
            .map(|i| i as ResIdx)
    }

    pub fn thread_name(&self, t: ThreadIdx) -> &str {
        &self.threads[t as usize].name
    }

    pub fn resource_name(&self, r: ResIdx) -> &str {
        &self.resources[r as usize].name
    }

    /// Whether resource `r` is the GIL `threads "python"` added, which the file never declares.
    pub fn is_implied(&self, r: ResIdx) -> bool {
        let res = &self.resources[r as usize];
        self.models == ThreadModel::Python
            && (res.name == IMPLICIT_GIL || self.process_gil(r).is_some())
            && self
                .source_line(res.line)
                .is_some_and(|l| l.trim_start().starts_with("threads"))
    }

    /// What the threads stand for, in words of the language shown now.
    pub fn models_words(&self) -> String {
        let gil_of = |g: ResIdx| self.resource_name(g).to_string();
        let mut groups: Vec<&str> = Vec::new();
        let mut gil = None;
        for t in self.threads.iter().filter(|t| t.gil.is_some()) {
            gil = gil.or(t.gil);
            if !groups.contains(&t.group.as_str()) {
                groups.push(&t.group);
            }
        }
        match (self.models, gil) {
            (ThreadModel::Python, Some(_)) => {
                rust_i18n::t!("python_truth.models_python").into_owned()
            }
            (_, None) => rust_i18n::t!("python_truth.models_native").into_owned(),
            (ThreadModel::Native, Some(g)) => rust_i18n::t!(
                "python_truth.models_native_gil",
                threads = groups.join(", "),
                gil = gil_of(g)
            )
            .into_owned(),
        }
    }

    /// The child process whose own GIL resource `r` is (`worker-1.GIL`, which `threads
    /// "python"` adds for it).
    pub fn process_gil(&self, r: ResIdx) -> Option<&ProcessSpec> {
        let name = &self.resources[r as usize].name;
        self.processes
            .iter()
            .find(|p| name.strip_prefix(p.name.as_str()) == Some(&format!(".{IMPLICIT_GIL}")))
    }

    /// The process a thread runs in, by name; `None` for threadlab's own.
    pub fn process_of(&self, t: ThreadIdx) -> Option<&str> {
        let p = self.threads[t as usize].process?;
        Some(&self.processes[p as usize].name)
    }

    /// The threads that must all have ended before thread `t` starts: its own `after=`, and
    /// its process's.
    pub fn starts_after(&self, t: ThreadIdx) -> impl Iterator<Item = ThreadIdx> + '_ {
        let spec = &self.threads[t as usize];
        let process = spec
            .process
            .map_or(&[][..], |p| self.processes[p as usize].after.as_slice());
        spec.after.iter().chain(process).copied()
    }

    /// What child process `p` runs: its threads alone, as threads of a scenario of their own
    /// (every resource kept, at the same index), and for each of them its index here.
    pub fn process_part(&self, p: ProcIdx) -> (Scenario, Vec<ThreadIdx>) {
        let members: Vec<ThreadIdx> = (0..self.threads.len() as ThreadIdx)
            .filter(|&t| self.threads[t as usize].process == Some(p))
            .collect();
        let local = |t: &ThreadIdx| members.iter().position(|m| m == t).map(|i| i as ThreadIdx);
        let threads = members
            .iter()
            .map(|&t| {
                let spec = &self.threads[t as usize];
                ThreadSpec {
                    after: spec.after.iter().filter_map(local).collect(),
                    process: None,
                    ..spec.clone()
                }
            })
            .collect();
        let part = Scenario {
            threads,
            processes: Vec::new(),
            ..self.clone()
        };
        (part, members)
    }

    /// One line of the source text (1-based), without its line break.
    pub fn source_line(&self, line: u32) -> Option<&str> {
        self.source.lines().nth((line as usize).checked_sub(1)?)
    }
}

fn shown<'a>(en: &'a str, zh: &'a Option<String>) -> &'a str {
    match (crate::i18n::current(), zh) {
        (crate::i18n::Lang::Zh, Some(zh)) => zh,
        _ => en,
    }
}
