//! What the tracer's records mean in the run's vocabulary: a scenario-like model that grows as
//! the Python program makes threads, tasks, processes and primitives, and the [`Event`]s of
//! its lanes, so that the timeline, summaries, exports and deadlock words read a traced program
//! exactly as they read a scenario.
//!
//! Each lane's "steps" are the distinct Python lines it has run an operation at, in the order
//! it first reached them: an event's step is its line, and the code view and `"line"` in event
//! logs show the script's own line numbers.

use std::collections::HashMap;
use std::sync::Arc;

use crate::scenario::model::{
    MAX_THREADS, Op, ResIdx, Resource, ResourceKind, Scenario, Step, ThreadIdx, ThreadSpec,
    UNBOUNDED,
};
use crate::vocab::deadlock::{Blame, Deadlock, WaitEdge, Want};
use crate::vocab::event::{Event, EventKind, NO_STEP};

/// One line the tracer wrote: `t_ns pid who name op kind oid arg file line`, tab-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub t_ns: u64,
    pub pid: u32,
    /// A thread's ident, or `task:<id>` for an asyncio task.
    pub who: String,
    pub name: String,
    pub op: String,
    pub kind: String,
    pub oid: u64,
    pub arg: String,
    pub file: String,
    pub line: u32,
    /// Where on its line the call that made an object starts (1-based; 0: not said).
    pub col: u32,
}

impl Record {
    /// Reads one record; `None` for a line that is not one (it is skipped and counted).
    pub fn parse(line: &str) -> Option<Record> {
        let f: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        if f.len() != 10 && f.len() != 11 {
            return None;
        }
        Some(Record {
            t_ns: f[0].parse().ok()?,
            pid: f[1].parse().ok()?,
            who: f[2].to_string(),
            name: f[3].to_string(),
            op: f[4].to_string(),
            kind: f[5].to_string(),
            oid: f[6].parse().ok()?,
            arg: f[7].to_string(),
            file: f[8].to_string(),
            line: f[9].parse().ok()?,
            col: match f.get(10) {
                Some(c) => c.parse().ok()?,
                None => 0,
            },
        })
    }

    /// A wait with a timeout: it ends by itself, so it never makes a deadlock.
    fn timed(&self) -> bool {
        self.arg.starts_with('~')
    }
}

/// What a lane is waiting for right now, for the wait-for reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wait {
    resource: ResIdx,
    /// What another lane would have to do to `resource` to end the wait.
    want: Want,
    /// A join waits for this lane to finish.
    lane: Option<ThreadIdx>,
    timed: bool,
}

#[derive(Debug, Clone, Default)]
struct Lane {
    done: bool,
    wait: Option<Wait>,
    /// Its latest state is a traced wait or sleep: an "await" said after it (its task gave
    /// the loop back there) is that same wait.
    parked: bool,
    /// Its wait on this resource is one the library makes on a primitive of its own without a
    /// timeout, in the first process: only that process's threads can end it, so it counts
    /// toward a deadlock while its main thread lives (whose exit wakes such waits).
    /// The queue it waits on (the tracer's id of it), for the items pending there.
    inside: Option<(ResIdx, u64)>,
    /// In a call that waits for the world outside the program (a socket, a pipe, a child
    /// process, the keyboard), and what it is (`accept()`): drawn as sleeping on I/O, never
    /// part of a deadlock.
    outside: Option<String>,
    /// Steps by (file, line): only lines of the script itself become steps.
    steps: HashMap<u32, u32>,
}

/// The growing model of one traced program.
pub struct Model {
    scenario: Scenario,
    /// The script's path as the tracer reports it in records.
    script_file: String,
    script_given: String,
    source_lines: Vec<String>,
    root_pid: Option<u32>,
    /// The first process's main thread.
    main_lane: Option<ThreadIdx>,
    /// Items put on each of the library's queues an inside wait is on (a pool's work queue)
    /// and not yet taken: while there are any, an idle worker of it may be about to wake, so
    /// it does not wait for good.
    inside_pending: HashMap<u64, u32>,
    lanes: Vec<Lane>,
    /// Lanes by process and thread ident (or task id).
    by_who: HashMap<u32, HashMap<String, ThreadIdx>>,
    /// A Thread or Process object (by pid and id) to its lane, once it has started.
    by_object: HashMap<(u32, u64), ThreadIdx>,
    /// A Thread or Process object's name, known from its `spawn` before its lane exists.
    object_names: HashMap<(u32, u64), String>,
    /// Objects made so far at each (process, line, column): the index a comprehension's
    /// target takes (`forks[0]`, `forks[1]`...).
    made_at: HashMap<(u32, u32, u32), u32>,
    /// Event loops by process and loop object.
    loops: HashMap<(u32, u64), ResIdx>,
    resources: HashMap<(u32, &'static str, u64), ResIdx>,
    /// What waits the library makes for the program are drawn on (`map() results`, `task
    /// fetch`), by process and name.
    awaited: HashMap<(u32, String), ResIdx>,
    /// The lane resource a join waits on, per joined lane.
    join_res: HashMap<ThreadIdx, ResIdx>,
    holders: HashMap<ResIdx, Vec<ThreadIdx>>,
    /// The program's `threading.Lock`s: owned by no thread, so any thread may release one.
    plain_locks: std::collections::HashSet<ResIdx>,
    depth: HashMap<(ResIdx, ThreadIdx), u32>,
    puts: HashMap<ResIdx, u32>,
    takes: HashMap<ResIdx, u32>,
    setter: HashMap<ResIdx, ThreadIdx>,
    notifier: HashMap<ResIdx, ThreadIdx>,
    /// Futures set before the record that made them arrived: by whom, and when.
    early_sets: HashMap<(u32, u64), (ThreadIdx, u64)>,
    failures: Vec<Option<String>>,
    /// Records of lanes past [`MAX_THREADS`] and lines that were not records.
    pub skipped: u64,
    pub last_t_ns: u64,
}

impl Model {
    /// A model for the script at `script` (as passed to the tracer) whose text is `source`.
    pub fn new(script: &str, source: &str) -> Model {
        let name = std::path::Path::new(script)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| script.to_string());
        Model {
            scenario: Scenario {
                models: Default::default(),
                traced: true,
                name,
                origin: script.to_string(),
                source: Arc::from(source),
                title: script.to_string(),
                about: String::new(),
                title_zh: None,
                about_zh: None,
                resources: Vec::new(),
                threads: Vec::new(),
                processes: Vec::new(),
            },
            script_file: script.to_string(),
            script_given: script.to_string(),
            source_lines: source.lines().map(str::to_string).collect(),
            root_pid: None,
            main_lane: None,
            inside_pending: HashMap::new(),
            lanes: Vec::new(),
            by_who: HashMap::new(),
            by_object: HashMap::new(),
            object_names: HashMap::new(),
            made_at: HashMap::new(),
            loops: HashMap::new(),
            resources: HashMap::new(),
            awaited: HashMap::new(),
            join_res: HashMap::new(),
            holders: HashMap::new(),
            plain_locks: Default::default(),
            depth: HashMap::new(),
            puts: HashMap::new(),
            takes: HashMap::new(),
            setter: HashMap::new(),
            notifier: HashMap::new(),
            early_sets: HashMap::new(),
            failures: Vec::new(),
            skipped: 0,
            last_t_ns: 0,
        }
    }

    fn is_script(&self, file: &str) -> bool {
        file == self.script_file || file == self.script_given
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Each lane's failure (an exception that ended it), by lane.
    pub fn failures(&self) -> &[Option<String>] {
        &self.failures
    }

    /// The thread ident the gate knows lane `t` by (`None` for a task or a process, whose
    /// operations pass on other threads' idents or in other processes).
    pub fn ident_of(&self, t: ThreadIdx) -> Option<u64> {
        self.by_who
            .values()
            .flat_map(|m| m.iter())
            .filter(|(_, lane)| **lane == t)
            .find_map(|(who, _)| who.parse().ok())
    }

    /// The lane a record is about, made when it is first seen.
    fn lane(&mut self, r: &Record) -> Option<ThreadIdx> {
        if let Some(&t) = self.by_who.get(&r.pid).and_then(|m| m.get(&r.who)) {
            // Python gives a finished thread's ident to the next thread it starts, and a
            // finished task's id may go to a new task.
            let reused = r.op == "start" || r.who.starts_with("task:");
            if !(reused && self.lanes[t as usize].done) {
                return Some(t);
            }
        }
        let root = *self.root_pid.get_or_insert(r.pid);
        // A task's lane is made at its loop's first step of it (`on_loop`); one seen here
        // first runs on a loop the tracer cannot see into, and is tied to none.
        let event_loop = None;
        let base = if r.name.is_empty() { "thread" } else { &r.name };
        let name = if r.pid == root {
            base.to_string()
        } else {
            format!("{}/{base}", r.pid)
        };
        let t = self.add_lane(name, event_loop)?;
        self.by_who
            .entry(r.pid)
            .or_default()
            .insert(r.who.clone(), t);
        Some(t)
    }

    fn add_lane(&mut self, name: String, event_loop: Option<ResIdx>) -> Option<ThreadIdx> {
        if self.scenario.threads.len() >= MAX_THREADS {
            return None;
        }
        let mut unique = name.clone();
        let mut n = 2;
        while self.scenario.thread_index(&unique).is_some() {
            unique = format!("{name}#{n}");
            n += 1;
        }
        let t = self.scenario.threads.len() as ThreadIdx;
        self.scenario.threads.push(ThreadSpec {
            name: unique.clone(),
            group: name,
            line: 0,
            gil: None,
            after: Vec::new(),
            event_loop,
            steps: Vec::new(),
            daemon: false,
            process: None,
        });
        self.lanes.push(Lane::default());
        self.failures.push(None);
        Some(t)
    }

    fn add_resource(&mut self, name: String, kind: ResourceKind, line: u32) -> ResIdx {
        let mut unique = name.clone();
        let mut n = 2;
        while self.scenario.resource_index(&unique).is_some() {
            unique = format!("{name}#{n}");
            n += 1;
        }
        let r = self.scenario.resources.len() as ResIdx;
        self.scenario.resources.push(Resource {
            name: unique,
            kind,
            line,
            asyncio: false,
        });
        r
    }

    /// The name the program gives an object: the target of the assignment on the line that
    /// made it (`lock_a = threading.Lock()` gives `lock_a`; `a, b = Lock(), Lock()` gives
    /// `a` and `b`; `forks = [Lock() for _ in range(5)]` gives `forks[0]`..`forks[4]`), else
    /// its kind and where it was made (`lock@12:9`).
    fn object_name(&mut self, r: &Record, kind: &str) -> String {
        let n = self.made_at.entry((r.pid, r.line, r.col)).or_insert(0);
        let nth = *n;
        *n += 1;
        if self.is_script(&r.file)
            && let Some(text) = self.source_lines.get((r.line as usize).wrapping_sub(1))
            && let Some(name) = assigned_name(text, r.col, nth)
        {
            return name;
        }
        match (r.line, r.col) {
            (0, _) => kind.to_string(),
            (l, 0) => format!("{kind}@{l}"),
            (l, c) => format!("{kind}@{l}:{c}"),
        }
    }

    fn kind_of(r: &Record) -> (&'static str, ResourceKind) {
        let n = |s: &str| s.trim_start_matches('~').parse::<u32>().ok();
        match r.kind.as_str() {
            "lock" => ("lock", ResourceKind::Mutex),
            "rlock" => ("rlock", ResourceKind::RLock),
            "condition" => ("condition", ResourceKind::Mutex),
            "semaphore" => (
                "semaphore",
                ResourceKind::Semaphore {
                    permits: n(&r.arg).unwrap_or(1),
                },
            ),
            "barrier" => (
                "barrier",
                ResourceKind::Barrier {
                    parties: n(&r.arg).unwrap_or(1),
                },
            ),
            "queue" => (
                "queue",
                ResourceKind::Buffer {
                    capacity: n(&r.arg).filter(|&c| c > 0).unwrap_or(UNBOUNDED),
                },
            ),
            "future" => ("future", ResourceKind::Event),
            "gather" => ("gather", ResourceKind::Event),
            _ => ("event", ResourceKind::Event),
        }
    }

    /// The resource a record is about, made when first seen (a primitive made by the library
    /// itself, before tracing, or outside the script is named by its kind and line).
    fn resource(&mut self, r: &Record) -> ResIdx {
        let (kind, rk) = Model::kind_of(r);
        let key = (r.pid, kind, r.oid);
        if let Some(&x) = self.resources.get(&key) {
            return x;
        }
        let name = if kind == "future" && r.op == "new" && !r.arg.is_empty() {
            format!("{}()", r.arg)
        } else {
            self.object_name(r, kind)
        };
        let rk = match (kind, r.op.as_str()) {
            // Permits and parties are only known from the record that made it.
            ("semaphore", "new") | ("barrier", "new") | ("queue", "new") => rk,
            ("semaphore", _) => ResourceKind::Semaphore { permits: u32::MAX },
            ("barrier", _) => ResourceKind::Barrier { parties: u32::MAX },
            ("queue", _) => ResourceKind::Buffer {
                capacity: UNBOUNDED,
            },
            _ => rk,
        };
        let line = if self.is_script(&r.file) { r.line } else { 0 };
        let x = self.add_resource(name, rk, line);
        self.resources.insert(key, x);
        if r.kind == "lock" {
            self.plain_locks.insert(x);
        }
        x
    }

    /// What the model knows of the object that had the id of a new one, `res`.
    fn forget(&mut self, r: &Record, res: ResIdx) {
        let wait = self
            .resources
            .get(&(r.pid, "condition-wait", r.oid))
            .copied();
        for x in std::iter::once(res).chain(wait) {
            self.holders.remove(&x);
            self.depth.retain(|&(held, _), _| held != x);
            self.setter.remove(&x);
            self.notifier.remove(&x);
        }
    }

    /// The resource a condition's waiters wait on (its lock is the condition itself).
    fn condition_wait(&mut self, r: &Record, cond: ResIdx) -> ResIdx {
        let key = (r.pid, "condition-wait", r.oid);
        if let Some(&x) = self.resources.get(&key) {
            return x;
        }
        let name = format!("{}.wait", self.scenario.resource_name(cond));
        let line = self.scenario.resources[cond as usize].line;
        let x = self.add_resource(name, ResourceKind::Event, line);
        self.resources.insert(key, x);
        x
    }

    /// What a join of lane `t` waits on. It is named as Python spells the call (`worker.join`,
    /// as a condition's waiters wait on `cond.wait`): a name reads the same in every language,
    /// where words made up here would stay English on a Chinese screen.
    fn join_resource(&mut self, t: ThreadIdx) -> ResIdx {
        if let Some(&r) = self.join_res.get(&t) {
            return r;
        }
        let name = format!("{}.join", self.scenario.thread_name(t));
        let r = self.add_resource(name, ResourceKind::Event, 0);
        self.join_res.insert(t, r);
        r
    }

    fn step(&mut self, t: ThreadIdx, r: &Record, op: Op) -> u32 {
        if !self.is_script(&r.file) || r.line == 0 {
            return NO_STEP;
        }
        let lane = &mut self.lanes[t as usize];
        if let Some(&s) = lane.steps.get(&r.line) {
            return s;
        }
        let spec = &mut self.scenario.threads[t as usize];
        let s = spec.steps.len() as u32;
        spec.steps.push(Step { op, line: r.line });
        if spec.line == 0 {
            spec.line = r.line;
        }
        lane.steps.insert(r.line, s);
        s
    }

    /// Takes one record, appending the events it means to `out`.
    pub fn absorb(&mut self, r: &Record, out: &mut Vec<Event>) {
        let from = out.len();
        self.absorb_one(r, out);
        for e in &out[from..] {
            let Some(lane) = self.lanes.get_mut(e.thread as usize) else {
                continue;
            };
            match e.kind {
                EventKind::Sleep | EventKind::Block => lane.parked = true,
                // A task giving its loop back, or held at the gate, is still where it was.
                EventKind::Hold | EventKind::Release | EventKind::Set | EventKind::Arrive => {}
                _ => lane.parked = false,
            }
        }
    }

    fn absorb_one(&mut self, r: &Record, out: &mut Vec<Event>) {
        self.last_t_ns = self.last_t_ns.max(r.t_ns);
        if r.op == "script" {
            // Code objects name the script as python3 was given it (3.8) or absolute (3.9+).
            self.script_file = r.file.clone();
            self.script_given = r.arg.clone();
            return;
        }
        if r.op == "start"
            && r.kind == "process"
            && let Some(&p) = self.by_object.get(&(0, r.oid))
        {
            // A child process's first record: its main thread is the lane its parent made
            // for it when it started it (a forked child keeps the object's id).
            self.by_who
                .entry(r.pid)
                .or_default()
                .insert(r.who.clone(), p);
            return;
        }
        // Objects are made before any lane uses them; their record says where.
        if r.op == "new" {
            let known = self
                .resources
                .contains_key(&(r.pid, Model::kind_of(r).0, r.oid));
            let res = self.resource(r);
            if known {
                // Python gave a new object the id of one gone: the same resource, but nobody
                // holds it, and no set or notify of the old one counts for it.
                self.forget(r, res);
            }
            if r.kind == "future"
                && let Some((by, t_ns)) = self.early_sets.remove(&(r.pid, r.oid))
            {
                self.setter.entry(res).or_insert(by);
                out.push(Event {
                    t_ns,
                    thread: by,
                    kind: EventKind::Set,
                    resource: Some(res),
                    by: None,
                    step: NO_STEP,
                    item: None,
                });
            }
            return;
        }
        if r.op == "spawn" {
            self.object_names.insert((r.pid, r.oid), r.arg.clone());
        }
        if r.kind == "loop" {
            return self.on_loop(r, out);
        }
        let lanes_before = self.scenario.threads.len();
        let Some(t) = self.lane(r) else {
            self.skipped += 1;
            return;
        };
        let new_lane = self.scenario.threads.len() > lanes_before;
        if !new_lane && r.op == "start" && r.kind == "task" {
            // A task's start is said with its end; it started with its first record.
            return;
        }
        let ev = |kind: EventKind, resource: Option<ResIdx>, step: u32| Event {
            t_ns: r.t_ns,
            thread: t,
            kind,
            resource,
            by: None,
            step,
            item: None,
        };
        if new_lane && r.op != "start" {
            out.push(ev(EventKind::Start, None, NO_STEP));
        }
        let lane = t as usize;
        if matches!(r.kind.as_str(), "other" | "inside" | "outside") {
            return self.on_await(t, r, out);
        }
        if matches!(
            r.op.as_str(),
            "sleep" | "block" | "done" | "cancelled" | "fail"
        ) {
            // A task gives its loop back where it awaits (just before the await, a few
            // interpreter steps ahead of the loop seeing it) and where it ends.
            self.leave_loop(t, r.t_ns, out);
        }
        match (r.op.as_str(), r.kind.as_str()) {
            ("start", _) => {
                if r.oid != 0 {
                    self.by_object.insert((r.pid, r.oid), t);
                } else if r.kind == "thread" && Some(r.pid) == self.root_pid {
                    self.main_lane.get_or_insert(t);
                }
                out.push(ev(EventKind::Start, None, NO_STEP));
            }
            ("done", "thread" | "task") | ("cancelled", "task") => {
                self.lanes[lane].done = true;
                self.lanes[lane].wait = None;
                // Finishing is what a join of this lane waits for.
                if let Some(&j) = self.join_res.get(&t) {
                    self.setter.entry(j).or_insert(t);
                    out.push(ev(EventKind::Set, Some(j), NO_STEP));
                }
                let kind = if self.failures[lane].is_some() {
                    EventKind::Fail
                } else if r.op == "cancelled" {
                    EventKind::Cancelled
                } else {
                    EventKind::Done
                };
                out.push(ev(kind, None, NO_STEP));
            }
            ("fail", _) => {
                self.failures[lane] = Some(r.arg.clone());
            }
            ("hold", _) => {
                let s = self.step(t, r, Op::Sleep(std::time::Duration::ZERO));
                out.push(ev(EventKind::Hold, None, s));
            }
            ("sleep", _) => {
                // Said with its length while every call on its line sleeps as long; a line
                // whose sleeps differ is said without one (a length of zero: not known).
                let d = r
                    .arg
                    .parse::<f64>()
                    .ok()
                    .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok())
                    .unwrap_or_default();
                let s = self.step(t, r, Op::Sleep(d));
                if let Some(step) = self.scenario.threads[t as usize].steps.get_mut(s as usize)
                    && matches!(step.op, Op::Sleep(before) if before != d)
                {
                    step.op = Op::Sleep(std::time::Duration::ZERO);
                }
                out.push(ev(EventKind::Sleep, None, s));
            }
            ("woke", _) => {
                let s = self.step(t, r, Op::Sleep(std::time::Duration::ZERO));
                out.push(ev(EventKind::Run, None, s));
            }
            ("spawn", "process") => {
                // A process is a lane of its own in the process that starts it: it runs from
                // its start until a join sees it finished.
                let name = r.arg.clone();
                if let Some(p) = self.add_lane(name, None) {
                    self.by_object.insert((r.pid, r.oid), p);
                    self.by_object.insert((0, r.oid), p);
                    let mut e = ev(EventKind::Start, None, NO_STEP);
                    e.thread = p;
                    out.push(e);
                }
            }
            ("spawn" | "pstart", _) => {}
            ("join", "thread" | "process") => {
                let Some(&target) = self.by_object.get(&(r.pid, r.oid)) else {
                    return;
                };
                if self.lanes[target as usize].done {
                    // Finished already, as far as the records say: the join does not wait.
                    return;
                }
                let res = self.join_resource(target);
                let s = self.step(t, r, Op::Wait(res));
                self.lanes[lane].wait = Some(Wait {
                    resource: res,
                    want: Want::Set,
                    lane: Some(target),
                    timed: r.timed(),
                });
                out.push(ev(EventKind::Block, Some(res), s));
            }
            ("joined" | "timeout", "thread" | "process") => {
                let Some(&target) = self.by_object.get(&(r.pid, r.oid)) else {
                    return;
                };
                let waited = self.lanes[lane]
                    .wait
                    .is_some_and(|w| w.lane == Some(target));
                self.lanes[lane].wait = None;
                if r.kind == "process" && r.op == "joined" && !self.lanes[target as usize].done {
                    // A process's lane ends when its parent sees it has ended.
                    self.lanes[target as usize].done = true;
                    let j = self.join_resource(target);
                    self.setter.entry(j).or_insert(target);
                    let mut e = ev(EventKind::Set, Some(j), NO_STEP);
                    e.thread = target;
                    out.push(e);
                    let mut e = ev(EventKind::Done, None, NO_STEP);
                    e.thread = target;
                    out.push(e);
                }
                if !waited {
                    return;
                }
                let res = self.join_resource(target);
                let s = self.step(t, r, Op::Wait(res));
                let kind = if r.op == "joined" {
                    EventKind::Pass
                } else {
                    EventKind::Timeout
                };
                let mut e = ev(kind, Some(res), s);
                if kind == EventKind::Pass {
                    e.by = Some(target);
                }
                out.push(e);
            }
            (op, "lock" | "rlock" | "condition" | "semaphore") => {
                let res = self.resource(r);
                let is_rlock = r.kind == "rlock";
                match op {
                    "acquire" => {
                        let s = self.step(t, r, Op::Lock(res));
                        self.lanes[lane].wait = None;
                        let mut e = ev(EventKind::Acquire, Some(res), s);
                        let holders = self.holders.entry(res).or_default();
                        if is_rlock {
                            let d = self.depth.entry((res, t)).or_default();
                            *d += 1;
                            e.item = Some(*d);
                            if !holders.contains(&t) {
                                holders.push(t);
                            }
                        } else {
                            holders.push(t);
                        }
                        out.push(e);
                    }
                    "release" => {
                        let s = self.step(t, r, Op::Unlock(res));
                        let mut e = ev(EventKind::Release, Some(res), s);
                        let holders = self.holders.entry(res).or_default();
                        if is_rlock {
                            let d = self.depth.entry((res, t)).or_default();
                            *d = d.saturating_sub(1);
                            e.item = Some(*d);
                            if *d == 0 {
                                holders.retain(|&h| h != t);
                            }
                        } else if let Some(i) = holders.iter().position(|&h| h == t) {
                            holders.remove(i);
                        } else if !holders.is_empty() {
                            // Python lets any thread release a Lock or a Semaphore.
                            holders.remove(0);
                        }
                        out.push(e);
                    }
                    "block" => {
                        let s = self.step(t, r, Op::Lock(res));
                        self.lanes[lane].wait = Some(Wait {
                            resource: res,
                            want: Want::of_kind(self.scenario.resources[res as usize].kind),
                            lane: None,
                            timed: r.timed(),
                        });
                        out.push(ev(EventKind::Block, Some(res), s));
                    }
                    "timeout" => {
                        let s = self.step(t, r, Op::Lock(res));
                        self.lanes[lane].wait = None;
                        out.push(ev(EventKind::Timeout, Some(res), s));
                    }
                    "wait" => {
                        // Condition.wait gives the lock back, waits for a notify, then takes
                        // the lock again before it returns.
                        let w = self.condition_wait(r, res);
                        let s = self.step(t, r, Op::Wait(w));
                        if let Some(h) = self.holders.get_mut(&res) {
                            h.retain(|&x| x != t);
                        }
                        out.push(ev(EventKind::Release, Some(res), s));
                        self.lanes[lane].wait = Some(Wait {
                            resource: w,
                            want: Want::Notify,
                            lane: None,
                            timed: r.timed(),
                        });
                        out.push(ev(EventKind::Block, Some(w), s));
                    }
                    "woken" | "timeout_wait" => {
                        let w = self.condition_wait(r, res);
                        let s = self.step(t, r, Op::Wait(w));
                        self.lanes[lane].wait = None;
                        let mut e = ev(EventKind::Pass, Some(w), s);
                        e.by = self.notifier.get(&w).copied();
                        if e.by.is_none() {
                            e.kind = EventKind::Timeout;
                        }
                        out.push(e);
                        self.holders.entry(res).or_default().push(t);
                        out.push(ev(EventKind::Acquire, Some(res), s));
                    }
                    "notify" => {
                        let w = self.condition_wait(r, res);
                        let s = self.step(t, r, Op::Set(w));
                        self.notifier.entry(w).or_insert(t);
                        self.setter.entry(w).or_insert(t);
                        out.push(ev(EventKind::Set, Some(w), s));
                    }
                    _ => {}
                }
            }
            (op, "event" | "future" | "gather") => {
                if r.kind == "future"
                    && op == "set"
                    && !self.resources.contains_key(&(r.pid, "future", r.oid))
                {
                    // A future not known yet: a pool's worker may finish it before `submit`
                    // has returned and said it made it. Kept until it is made; a future nobody
                    // made in the program's code (one `map` made itself) stays unknown.
                    if self.early_sets.len() >= 10_000 {
                        self.early_sets.clear();
                    }
                    self.early_sets.insert((r.pid, r.oid), (t, r.t_ns));
                    return;
                }
                let res = self.resource(r);
                let s = self.step(t, r, Op::Wait(res));
                match op {
                    "set" => {
                        self.setter.entry(res).or_insert(t);
                        out.push(ev(EventKind::Set, Some(res), s));
                    }
                    "block" => {
                        self.lanes[lane].wait = Some(Wait {
                            resource: res,
                            want: Want::Set,
                            lane: None,
                            timed: r.timed(),
                        });
                        out.push(ev(EventKind::Block, Some(res), s));
                    }
                    "pass" => {
                        self.lanes[lane].wait = None;
                        // A wait that ends with no traced set (a gather, a future the
                        // library finished) is not drawn as passing a set: the lane goes on.
                        let waits_for_loop = self.scenario.threads[lane]
                            .event_loop
                            .filter(|lp| !self.holders.get(lp).is_some_and(|h| h.contains(&t)));
                        match (self.setter.get(&res).copied(), waits_for_loop) {
                            (Some(by), _) => {
                                let mut e = ev(EventKind::Pass, Some(res), s);
                                e.by = Some(by);
                                out.push(e);
                            }
                            // A task whose gather ended runs once its loop gets to it.
                            (None, Some(lp)) => out.push(ev(EventKind::Block, Some(lp), s)),
                            (None, None) => out.push(ev(EventKind::Run, None, s)),
                        }
                    }
                    "timeout" => {
                        self.lanes[lane].wait = None;
                        out.push(ev(EventKind::Timeout, Some(res), s));
                    }
                    _ => {}
                }
            }
            (op, "barrier") => {
                let res = self.resource(r);
                let s = self.step(t, r, Op::Wait(res));
                match op {
                    "arrive" => {
                        self.lanes[lane].wait = Some(Wait {
                            resource: res,
                            want: Want::Arrive,
                            lane: None,
                            timed: r.timed(),
                        });
                        out.push(ev(EventKind::Arrive, Some(res), s));
                        // As in a scenario: one who arrives before the last waits at the barrier.
                        if r.arg.ends_with("wait") {
                            out.push(ev(EventKind::Block, Some(res), s));
                        }
                    }
                    "pass" | "broken" => {
                        self.lanes[lane].wait = None;
                        out.push(ev(EventKind::Pass, Some(res), s));
                    }
                    _ => {}
                }
            }
            (op, "queue") => {
                let res = self.resource(r);
                match op {
                    "put" => {
                        let s = self.step(t, r, Op::Put(res));
                        self.lanes[lane].wait = None;
                        let n = self.puts.entry(res).or_default();
                        *n += 1;
                        let mut e = ev(EventKind::Put, Some(res), s);
                        e.item = Some(*n);
                        out.push(e);
                    }
                    "take" => {
                        let s = self.step(t, r, Op::Take(res));
                        self.lanes[lane].wait = None;
                        let n = self.takes.entry(res).or_default();
                        *n += 1;
                        let mut e = ev(EventKind::Take, Some(res), s);
                        e.item = Some(*n);
                        out.push(e);
                    }
                    "block" => {
                        // A full queue's put waits for a get, a join for task-dones, a get
                        // for an item.
                        let (op, want) = if r.arg.ends_with("put") {
                            (Op::Put(res), Want::Take)
                        } else if r.arg == "join" {
                            (Op::Join(res), Want::TaskDone)
                        } else {
                            (Op::Take(res), Want::Put)
                        };
                        let s = self.step(t, r, op);
                        self.lanes[lane].wait = Some(Wait {
                            resource: res,
                            want,
                            lane: None,
                            timed: r.timed(),
                        });
                        out.push(ev(EventKind::Block, Some(res), s));
                    }
                    "pass" | "timeout" => {
                        let s = self.step(t, r, Op::Take(res));
                        self.lanes[lane].wait = None;
                        out.push(ev(EventKind::Run, None, s));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// A wait the library makes for the program (`await`), or its end (`awaited`): drawn as a
    /// wait on what it is for. Untraced code ends it, so it is judged as a wait with a
    /// timeout, never part of a deadlock; except an "inside" wait (a primitive of the
    /// library's own, without a timeout, in the first process), which only that process's
    /// threads can end. A wait for the world outside ("outside") is drawn as sleeping on I/O.
    /// A task's wait ends when its loop next runs it.
    fn on_await(&mut self, t: ThreadIdx, r: &Record, out: &mut Vec<Event>) {
        let lane = t as usize;
        let ev = |kind: EventKind, resource: Option<ResIdx>, step: u32| Event {
            t_ns: r.t_ns,
            thread: t,
            kind,
            resource,
            by: None,
            step,
            item: None,
        };
        // One more (or one fewer) item on the queue `q`.
        let pending = |m: &mut Model, q: u64, more: bool| {
            let n = m.inside_pending.entry(q).or_default();
            *n = if more { *n + 1 } else { n.saturating_sub(1) };
        };
        match r.op.as_str() {
            "put" | "take" if Some(r.pid) == self.root_pid => pending(self, r.oid, r.op == "put"),
            // A new queue with the id of one gone: nothing of the old one is on it.
            "made" => {
                self.inside_pending.remove(&r.oid);
            }
            "put" | "take" => {}
            "await" => {
                if self.lanes[lane].parked || self.lanes[lane].done {
                    return;
                }
                self.leave_loop(t, r.t_ns, out);
                if r.kind == "outside" {
                    self.lanes[lane].outside = Some(r.arg.clone());
                    let s = self.step(t, r, Op::Sleep(std::time::Duration::ZERO));
                    out.push(ev(EventKind::Sleep, None, s));
                    return;
                }
                let res = self.awaited_resource(r);
                let s = self.step(t, r, Op::Wait(res));
                let inside = r.kind == "inside" && Some(r.pid) == self.root_pid;
                self.lanes[lane].inside = inside.then_some((res, r.oid));
                self.lanes[lane].wait = Some(Wait {
                    resource: res,
                    want: Want::Set,
                    lane: None,
                    timed: !inside,
                });
                out.push(ev(EventKind::Block, Some(res), s));
            }
            "awaited" if r.kind == "outside" => {
                if self.lanes[lane].outside.take().is_none() {
                    return;
                }
                let s = self.step(t, r, Op::Sleep(std::time::Duration::ZERO));
                out.push(ev(EventKind::Run, None, s));
            }
            "awaited" => {
                let Some(w) = self.lanes[lane].wait else {
                    return;
                };
                if !self.awaited.values().any(|&x| x == w.resource) {
                    return;
                }
                if let Some((res, q)) = self.lanes[lane].inside.take()
                    && res == w.resource
                {
                    // It took what was put for it.
                    pending(self, q, false);
                }
                self.lanes[lane].wait = None;
                let s = self.step(t, r, Op::Wait(w.resource));
                out.push(ev(EventKind::Run, None, s));
            }
            _ => {}
        }
    }

    fn awaited_resource(&mut self, r: &Record) -> ResIdx {
        // Named as the call awaited, which reads the same in every language.
        let name = if r.arg.is_empty() { "result()" } else { &r.arg };
        if let Some(&x) = self.awaited.get(&(r.pid, name.to_string())) {
            return x;
        }
        let x = self.add_resource(name.to_string(), ResourceKind::Event, 0);
        self.awaited.insert((r.pid, name.to_string()), x);
        x
    }

    /// A deadlock, if the program can no longer move: a cycle of lanes each waiting (without a
    /// timeout) for a lock another holds or for another to finish — certain as soon as it is
    /// seen — or, when `quiet` (nothing has happened for a while), every live lane waiting
    /// without a timeout, so that nothing the tracer sees can ever wake one.
    pub fn deadlock(&self, quiet: bool) -> Option<Deadlock> {
        // A main thread that has finished is running the interpreter's exit, which wakes the
        // library's own waits (an idle pool worker's): those no longer count.
        let main_lives = self.main_lane.is_some_and(|m| !self.lanes[m as usize].done);
        // An inside wait counts while the main thread lives and nothing put for it waits to
        // be taken.
        let waiting = |t: usize| {
            self.lanes[t].wait.filter(|w| {
                !w.timed
                    && !self.lanes[t].done
                    && match self.lanes[t].inside {
                        Some((res, q)) if res == w.resource => {
                            main_lives && self.inside_pending.get(&q).is_none_or(|&n| n == 0)
                        }
                        _ => true,
                    }
            })
        };
        // Whom a waiting lane waits for, if one lane alone can end its wait.
        let blame = |t: usize| -> Option<(WaitEdge, Option<ThreadIdx>)> {
            let w = waiting(t)?;
            let kind = self.scenario.resources[w.resource as usize].kind;
            let owner = match (w.lane, kind) {
                (Some(l), _) => Some(l),
                (None, ResourceKind::Mutex | ResourceKind::RLock) => self
                    .holders
                    .get(&w.resource)
                    .and_then(|h| h.first().copied()),
                _ => None,
            };
            let blame = match (w.lane, owner) {
                (Some(l), _) => Blame::OnlyFrom(l),
                (None, Some(h)) => Blame::HeldBy(h),
                (None, None) => Blame::Nobody,
            };
            Some((
                WaitEdge {
                    thread: t as ThreadIdx,
                    resource: w.resource,
                    want: w.want,
                    blame,
                },
                owner,
            ))
        };
        // A Lock is owned by no thread: any lane that still moves may release it. A lane that
        // waits for a Lock it took itself is the lock used as a signal (taken by one thread,
        // released by another), so that wait is certain only when no other lane moves.
        let nobody_else_moves = |cycle: &[WaitEdge]| {
            (0..self.lanes.len()).all(|t| {
                self.lanes[t].done
                    || waiting(t).is_some()
                    || cycle.iter().any(|e| e.thread as usize == t)
            })
        };
        // Follow the one-owner edges from each waiting lane; coming back to a lane on the
        // path closes a cycle.
        for start in 0..self.lanes.len() {
            let mut path: Vec<WaitEdge> = Vec::new();
            let mut at = start;
            while let Some((edge, owner)) = blame(at) {
                if let Some(i) = path.iter().position(|e| e.thread as usize == at) {
                    let cycle = path[i..].to_vec();
                    let releasable =
                        cycle.len() == 1 && self.plain_locks.contains(&cycle[0].resource);
                    if releasable && !nobody_else_moves(&cycle) {
                        break;
                    }
                    return Some(self.with_stuck(cycle));
                }
                path.push(edge);
                match owner {
                    Some(o) => at = o as usize,
                    None => break,
                }
            }
        }
        if !quiet {
            return None;
        }
        let live: Vec<usize> = (0..self.lanes.len())
            .filter(|&t| !self.lanes[t].done)
            .collect();
        if live.is_empty() || !live.iter().all(|&t| waiting(t).is_some()) {
            return None;
        }
        // Everyone waits: show the chain from the first lane until it reaches a lane that
        // waits for what no single lane provides.
        let mut path: Vec<WaitEdge> = Vec::new();
        let mut at = live[0];
        while let Some((mut edge, owner)) = blame(at) {
            match owner {
                Some(o) if !self.lanes[o as usize].done => {
                    path.push(edge);
                    at = o as usize;
                }
                _ => {
                    edge.blame = Blame::Nobody;
                    path.push(edge);
                    break;
                }
            }
            if path.len() > self.lanes.len() {
                break;
            }
        }
        let path = path.split_off(path.len().saturating_sub(1));
        // Everyone alive waits for good.
        Some(Deadlock {
            cycle: path,
            stuck: live.iter().map(|&t| t as ThreadIdx).collect(),
        })
    }

    fn with_stuck(&self, cycle: Vec<WaitEdge>) -> Deadlock {
        // Everyone waiting without a timeout on a lane in the cycle is stuck behind it, and
        // so on; a fixpoint over the one-owner edges.
        let mut stuck: Vec<ThreadIdx> = cycle.iter().map(|e| e.thread).collect();
        loop {
            let before = stuck.len();
            for t in 0..self.lanes.len() {
                let Some(w) = self.lanes[t].wait.filter(|w| !w.timed) else {
                    continue;
                };
                let owner = w.lane.or_else(|| {
                    self.holders
                        .get(&w.resource)
                        .and_then(|h| h.first().copied())
                });
                if owner.is_some_and(|o| stuck.contains(&o)) && !stuck.contains(&(t as ThreadIdx)) {
                    stuck.push(t as ThreadIdx);
                }
            }
            if stuck.len() == before {
                break;
            }
        }
        Deadlock { cycle, stuck }
    }

    /// The lanes now in a wait for the world outside the program, each with what it waits in
    /// (`accept()`).
    pub fn outside_waits(&self) -> Vec<(ThreadIdx, String)> {
        (0..self.lanes.len())
            .filter(|&t| !self.lanes[t].done)
            .filter_map(|t| Some((t as ThreadIdx, self.lanes[t].outside.clone()?)))
            .collect()
    }

    /// The script line of an event, if it happened on one.
    pub fn line_of(&self, e: &Event) -> Option<u32> {
        self.scenario.threads[e.thread as usize]
            .steps
            .get(e.step as usize)
            .map(|s| s.line)
    }

    /// The model as it stands, for a view or a report.
    pub fn snapshot(&self) -> Arc<Scenario> {
        Arc::new(self.scenario.clone())
    }

    /// An event loop's record: its thread idles in `select` or wakes (`idle`, `busy`), or
    /// runs one step of a task (`enter` .. `leave`; `arg` is the loop thread's ident). A
    /// task's lane is made at its first step, named by its loop's thread and drawn beneath it,
    /// and holds the loop while it runs.
    fn on_loop(&mut self, r: &Record, out: &mut Vec<Event>) {
        let lane_of = |m: &Model, who: &str| m.by_who.get(&r.pid).and_then(|l| l.get(who)).copied();
        let event = |thread: ThreadIdx, kind: EventKind, resource: Option<ResIdx>| Event {
            t_ns: r.t_ns,
            thread,
            kind,
            resource,
            by: None,
            step: NO_STEP,
            item: None,
        };
        match r.op.as_str() {
            "idle" | "busy" => {
                if let Some(t) = lane_of(self, &r.who) {
                    let kind = if r.op == "idle" {
                        EventKind::Sleep
                    } else {
                        EventKind::Run
                    };
                    out.push(event(t, kind, None));
                }
            }
            "enter" => {
                let Some(thread) = lane_of(self, &r.arg) else {
                    return;
                };
                let lp = match self.loops.get(&(r.pid, r.oid)) {
                    Some(&lp) => lp,
                    None => {
                        let name = format!("loop@{}", self.scenario.thread_name(thread));
                        let lp = self.add_resource(name, ResourceKind::EventLoop, 0);
                        self.loops.insert((r.pid, r.oid), lp);
                        lp
                    }
                };
                let known = lane_of(self, &r.who).filter(|&t| !self.lanes[t as usize].done);
                let t = match known {
                    Some(t) => t,
                    None => {
                        let Some(t) = self.task_lane(r, thread, lp, out) else {
                            self.skipped += 1;
                            return;
                        };
                        out.push(event(t, EventKind::Start, None));
                        t
                    }
                };
                if self.scenario.threads[t as usize].event_loop.is_none() {
                    self.scenario.threads[t as usize].event_loop = Some(lp);
                }
                // Run again: a wait said by an "await" is over.
                if let Some(w) = self.lanes[t as usize].wait
                    && self.awaited.values().any(|&x| x == w.resource)
                {
                    self.lanes[t as usize].wait = None;
                }
                let holders = self.holders.entry(lp).or_default();
                if !holders.contains(&t) {
                    holders.clear();
                    holders.push(t);
                    out.push(event(t, EventKind::Acquire, Some(lp)));
                }
            }
            "leave" => {
                if let Some(t) = lane_of(self, &r.who) {
                    self.leave_loop(t, r.t_ns, out);
                }
            }
            _ => {}
        }
    }

    /// Lane `t`, a task, gives back the loop it holds, if it holds it.
    fn leave_loop(&mut self, t: ThreadIdx, t_ns: u64, out: &mut Vec<Event>) {
        let Some(lp) = self.scenario.threads[t as usize].event_loop else {
            return;
        };
        let holders = self.holders.entry(lp).or_default();
        if let Some(i) = holders.iter().position(|&h| h == t) {
            holders.remove(i);
            out.push(Event {
                t_ns,
                thread: t,
                kind: EventKind::Release,
                resource: Some(lp),
                by: None,
                step: NO_STEP,
                item: None,
            });
        }
    }

    /// A lane for the task `r` is about, on loop `lp` run by lane `thread`: named
    /// `thread/task` and placed after that thread's lane and its tasks so far.
    fn task_lane(
        &mut self,
        r: &Record,
        thread: ThreadIdx,
        lp: ResIdx,
        out: &mut [Event],
    ) -> Option<ThreadIdx> {
        let owner = self.scenario.thread_name(thread).to_string();
        let base = if r.name.is_empty() { "task" } else { &r.name };
        let made = self.add_lane(format!("{owner}/{base}"), Some(lp))? as usize;
        self.scenario.threads[made].group = owner.clone();
        let at = self
            .scenario
            .threads
            .iter()
            .enumerate()
            .take(made)
            .filter(|(i, s)| *i == thread as usize || (s.is_task() && s.group == owner))
            .map(|(i, _)| i + 1)
            .max()
            .unwrap_or(made);
        self.move_lane(made, at, out);
        self.by_who
            .entry(r.pid)
            .or_default()
            .insert(r.who.clone(), at as ThreadIdx);
        Some(at as ThreadIdx)
    }

    /// Moves the last lane, `from`, to `to`, the lanes from `to` on one further along, in the
    /// model and in the events so far.
    fn move_lane(&mut self, from: usize, to: usize, out: &mut [Event]) {
        if from == to {
            return;
        }
        let f = |t: ThreadIdx| -> ThreadIdx {
            match t as usize {
                x if x == from => to as ThreadIdx,
                x if x >= to && x < from => t + 1,
                _ => t,
            }
        };
        let spec = self.scenario.threads.remove(from);
        self.scenario.threads.insert(to, spec);
        let lane = self.lanes.remove(from);
        self.lanes.insert(to, lane);
        let failure = self.failures.remove(from);
        self.failures.insert(to, failure);
        for l in &mut self.lanes {
            if let Some(w) = &mut l.wait {
                w.lane = w.lane.map(f);
            }
        }
        for m in self.by_who.values_mut() {
            m.values_mut().for_each(|t| *t = f(*t));
        }
        self.by_object.values_mut().for_each(|t| *t = f(*t));
        self.join_res = self.join_res.drain().map(|(t, r)| (f(t), r)).collect();
        for h in self.holders.values_mut() {
            h.iter_mut().for_each(|t| *t = f(*t));
        }
        self.depth = self
            .depth
            .drain()
            .map(|((r, t), n)| ((r, f(t)), n))
            .collect();
        self.setter.values_mut().for_each(|t| *t = f(*t));
        self.notifier.values_mut().for_each(|t| *t = f(*t));
        self.early_sets.values_mut().for_each(|(t, _)| *t = f(*t));
        for s in &mut self.scenario.threads {
            s.after.iter_mut().for_each(|t| *t = f(*t));
        }
        for e in out.iter_mut() {
            e.thread = f(e.thread);
            e.by = e.by.map(f);
        }
    }
}

/// The target an object made on `line` is assigned to: `col` (1-based, 0 when the
/// interpreter does not say) is where the call that made it starts, `nth` how many objects
/// were made at that place before it. `None` when the line does not say.
fn assigned_name(line: &str, col: u32, nth: u32) -> Option<String> {
    let eq = assignment(line)?;
    let (lhs, rhs) = (&line[..eq], &line[eq + 1..]);
    let lhs = lhs
        .split_once(':')
        .map_or(lhs, |(target, _annotation)| target);
    let targets: Vec<&str> = top_level(unwrap_display(lhs.trim()), ',')
        .into_iter()
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .map(|t| t.strip_prefix("self.").unwrap_or(t))
        .collect();
    if targets.is_empty()
        || !targets.iter().all(|t| {
            t.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        })
    {
        return None;
    }
    let rhs_at = eq + 1;
    let body = rhs.trim();
    let body_at = rhs_at + (rhs.len() - rhs.trim_start().len());
    let inner = unwrap_display(body);
    let listed = inner.len() != body.len();
    let inner_at = body_at + usize::from(listed);
    // A comprehension: every object its element makes is one item of the one target.
    if listed && targets.len() == 1 && top_level(inner, ' ').iter().any(|(_, w)| *w == "for") {
        let element = inner_at + (inner.len() - inner.trim_start().len());
        return (col == 0 || element + 1 == col as usize).then(|| format!("{}[{nth}]", targets[0]));
    }
    let items: Vec<(usize, &str)> = top_level(if listed { inner } else { body }, ',')
        .into_iter()
        .map(|(at, item)| {
            let lead = item.len() - item.trim_start().len();
            (
                at + lead + if listed { inner_at } else { body_at },
                item.trim(),
            )
        })
        .filter(|(_, item)| !item.is_empty())
        .collect();
    // Which item the call is: the one starting where the call starts (a call nested in an
    // item, `Condition(Lock())`'s lock, is not the item), or, not knowing where it starts,
    // the nth object of a line whose every item makes one.
    let item = if col > 0 {
        items.iter().position(|&(at, _)| at + 1 == col as usize)?
    } else {
        nth as usize % items.len().max(1)
    };
    match (targets.len(), items.len()) {
        (1, 1) => Some(targets[0].to_string()),
        (1, _) if listed => Some(format!("{}[{item}]", targets[0])),
        (t, i) if t == i => Some(targets[item].to_string()),
        _ => None,
    }
}

/// Where the `=` of an assignment statement is, if the line is one (not `==`, `<=`, `+=`,
/// a keyword argument or a string's).
fn assignment(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    for (i, &c) in b.iter().enumerate() {
        if let Some(q) = quote {
            if c == q && b.get(i.wrapping_sub(1)) != Some(&b'\\') {
                quote = None;
            }
            continue;
        }
        match c {
            b'#' => return None,
            b'\'' | b'"' => quote = Some(c),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'=' if depth == 0 => {
                let before = i.checked_sub(1).map(|j| b[j]);
                let after = b.get(i + 1).copied();
                let op = before.is_some_and(|p| b"=!<>+-*/%&|^@:".contains(&p));
                return (!op && after != Some(b'=')).then_some(i);
            }
            _ => {}
        }
    }
    None
}

/// `(a, b)` or `[a, b]` without its brackets, when they enclose the whole text.
fn unwrap_display(text: &str) -> &str {
    let t = text.trim();
    for (open, close) in [('(', ')'), ('[', ']')] {
        if t.starts_with(open) && t.ends_with(close) && closes_at_end(t) {
            return &t[1..t.len() - 1];
        }
    }
    t
}

/// Whether the bracket that opens `t` is the one that closes it.
fn closes_at_end(t: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in t.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + c.len_utf8() == t.len();
                }
            }
            _ => {}
        }
    }
    false
}

/// `text` split at each `sep` outside brackets and strings, each piece with its byte offset.
fn top_level(text: &str, sep: char) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push((start, &text[start..i]));
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push((start, &text[start..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: u64, who: &str, op: &str, kind: &str, oid: u64, line: u32) -> Record {
        Record {
            t_ns: t,
            pid: 1,
            who: who.to_string(),
            name: who.to_string(),
            op: op.to_string(),
            kind: kind.to_string(),
            oid,
            arg: String::new(),
            file: "s.py".to_string(),
            line,
            col: 0,
        }
    }

    #[test]
    fn a_lock_cycle_is_a_deadlock_named_by_threads_and_assignments() {
        let src = "a = threading.Lock()\nb = threading.Lock()\n";
        let mut m = Model::new("s.py", src);
        let mut out = Vec::new();
        for r in [
            rec(1, "T1", "new", "lock", 10, 1),
            rec(2, "T1", "new", "lock", 11, 2),
            rec(3, "T1", "acquire", "lock", 10, 5),
            rec(4, "T2", "acquire", "lock", 11, 9),
            rec(5, "T1", "block", "lock", 11, 6),
        ] {
            m.absorb(&r, &mut out);
        }
        assert!(m.deadlock(true).is_none(), "T2 still runs");
        m.absorb(&rec(6, "T2", "block", "lock", 10, 10), &mut out);
        let d = m.deadlock(false).expect("a cycle");
        assert_eq!(
            d.describe(m.scenario()),
            "T1 waits for b held by T2, T2 waits for a held by T1"
        );
        assert_eq!(m.line_of(out.last().unwrap()), Some(10));
    }

    #[test]
    fn a_wait_the_library_makes_is_drawn_as_one_and_is_never_a_deadlock() {
        let mut m = Model::new("s.py", "");
        let mut out = Vec::new();
        let mut r = rec(1, "T1", "await", "other", 1, 3);
        r.arg = "work() results".to_string();
        m.absorb(&r, &mut out);
        let e = out.last().unwrap();
        assert_eq!(e.kind, EventKind::Block);
        assert_eq!(
            m.scenario().resource_name(e.resource.unwrap()),
            "work() results"
        );
        // Only code the tracer does not see can end it.
        assert!(m.deadlock(true).is_none());
        r.op = "awaited".to_string();
        m.absorb(&r, &mut out);
        assert_eq!(out.last().unwrap().kind, EventKind::Run);
    }

    /// A sleep is said with the length the program gave while every call on its line gives
    /// the same one, and without one once they differ: never a length it did not sleep.
    #[test]
    fn a_traced_sleep_keeps_its_length_while_its_line_sleeps_alike() {
        use std::time::Duration;
        let mut m = Model::new("s.py", "");
        let mut out = Vec::new();
        let sleep = |t: u64, secs: &str| Record {
            arg: secs.to_string(),
            ..rec(t, "T1", "sleep", "", 0, 4)
        };
        let op = |m: &Model| m.scenario().threads[0].steps[0].op;
        m.absorb(&sleep(1, "0.5"), &mut out);
        assert_eq!(op(&m), Op::Sleep(Duration::from_millis(500)));
        m.absorb(&sleep(2, "0.5"), &mut out);
        assert_eq!(op(&m), Op::Sleep(Duration::from_millis(500)));
        m.absorb(&sleep(3, "0.25"), &mut out);
        assert_eq!(op(&m), Op::Sleep(Duration::ZERO));
        m.absorb(&sleep(4, "0.5"), &mut out);
        assert_eq!(op(&m), Op::Sleep(Duration::ZERO));
    }

    #[test]
    fn a_wait_for_the_world_outside_is_drawn_sleeping_and_is_never_a_deadlock() {
        let mut m = Model::new("s.py", "");
        let mut out = Vec::new();
        let mut r = rec(1, "T1", "await", "outside", 1, 3);
        r.arg = "recv()".to_string();
        m.absorb(&r, &mut out);
        assert_eq!(out.last().unwrap().kind, EventKind::Sleep);
        assert!(m.deadlock(true).is_none(), "only the world outside ends it");
        r.op = "awaited".to_string();
        m.absorb(&r, &mut out);
        assert_eq!(out.last().unwrap().kind, EventKind::Run);
        // Said once: a second end is no event.
        let n = out.len();
        m.absorb(&r, &mut out);
        assert_eq!(out.len(), n);
    }

    #[test]
    fn an_inside_wait_counts_toward_a_deadlock_while_the_main_thread_lives() {
        let mut m = Model::new("s.py", "");
        let mut out = Vec::new();
        m.absorb(&rec(1, "M", "start", "thread", 0, 0), &mut out);
        let mut idle = rec(2, "W", "await", "inside", 1, 0);
        idle.arg = "work_queue.get()".to_string();
        m.absorb(&idle, &mut out);
        assert!(m.deadlock(true).is_none(), "the main thread still runs");
        m.absorb(&rec(3, "M", "block", "event", 7, 4), &mut out);
        assert!(m.deadlock(false).is_none(), "judged only once all is quiet");
        let d = m
            .deadlock(true)
            .expect("nobody is left to give the worker a task");
        assert_eq!(d.stuck.len(), 2);
        // A task put for it and not yet taken: the worker is about to wake.
        let mut put = rec(4, "M", "put", "inside", 1, 0);
        put.arg = "work_queue.get()".to_string();
        m.absorb(&put, &mut out);
        assert!(m.deadlock(true).is_none(), "a task waits to be taken");
        put.op = "take".to_string();
        m.absorb(&put, &mut out);
        assert!(
            m.deadlock(true).is_some(),
            "taken by another: still nobody's"
        );
        // What is left on another pool's queue (the word to stop no worker takes) is not for it.
        put.op = "put".to_string();
        put.oid = 2;
        m.absorb(&put, &mut out);
        assert!(m.deadlock(true).is_some(), "left on another queue");
        // Nor is what was left on a queue gone whose id a new one has.
        put.oid = 1;
        m.absorb(&put, &mut out);
        assert!(m.deadlock(true).is_none());
        put.op = "made".to_string();
        m.absorb(&put, &mut out);
        assert!(m.deadlock(true).is_some(), "a new queue is empty");
        // A finished main thread is the interpreter's exit, which wakes idle workers.
        let mut done = rec(4, "M", "done", "thread", 0, 0);
        done.name = "M".to_string();
        m.absorb(&done, &mut out);
        assert!(m.deadlock(true).is_none());
        // "other": code the tracer does not see may end it.
        let mut m = Model::new("s.py", "");
        m.absorb(&rec(1, "M", "start", "thread", 0, 0), &mut out);
        idle.kind = "other".to_string();
        m.absorb(&idle, &mut out);
        m.absorb(&rec(3, "M", "block", "event", 7, 4), &mut out);
        assert!(m.deadlock(true).is_none());
    }

    #[test]
    fn a_lock_its_own_taker_waits_for_is_a_deadlock_only_once_nobody_else_moves() {
        let mut m = Model::new("s.py", "signal = threading.Lock()\n");
        let mut out = Vec::new();
        for r in [
            rec(1, "T1", "new", "lock", 10, 1),
            rec(2, "T1", "acquire", "lock", 10, 2),
            rec(3, "T2", "sleep", "", 0, 5),
            rec(4, "T1", "block", "lock", 10, 3),
        ] {
            m.absorb(&r, &mut out);
        }
        assert!(m.deadlock(false).is_none(), "T2 may release it");
        m.absorb(&rec(5, "T2", "done", "thread", 0, 0), &mut out);
        let d = m.deadlock(false).expect("nobody else is left");
        assert_eq!(d.cycle.len(), 1);
    }

    #[test]
    fn a_new_object_with_a_dead_ones_id_is_held_by_nobody() {
        let mut m = Model::new("s.py", "lock = threading.Lock()\n");
        let mut out = Vec::new();
        for r in [
            rec(1, "T1", "new", "lock", 10, 1),
            rec(2, "T1", "acquire", "lock", 10, 1),
            rec(3, "T1", "new", "lock", 10, 1),
            rec(4, "T2", "acquire", "lock", 10, 1),
            rec(5, "T1", "block", "lock", 10, 1),
        ] {
            m.absorb(&r, &mut out);
        }
        // The first lock, gone, was T1's; the second is T2's alone, so T1 waits for T2.
        assert_eq!(m.holders.get(&0), Some(&vec![1]));
    }

    #[test]
    fn records_parse_and_bad_lines_do_not() {
        let r = Record::parse("5\t7\t99\tw1\tacquire\tlock\t3\t\tx.py\t4\n").unwrap();
        assert_eq!((r.t_ns, r.pid, r.line), (5, 7, 4));
        assert_eq!(Record::parse("garbage"), None);
        assert_eq!(
            Record::parse("x\t7\t99\tw1\tacquire\tlock\t3\t\tx.py\t4"),
            None
        );
    }

    #[test]
    fn objects_made_on_one_line_are_named_by_their_own_targets() {
        let line = "    a, b = threading.Lock(), threading.Lock()";
        assert_eq!(assigned_name(line, 12, 0).as_deref(), Some("a"));
        assert_eq!(assigned_name(line, 30, 0).as_deref(), Some("b"));
        // Not knowing the column, the nth object of the line is the nth target.
        assert_eq!(assigned_name(line, 0, 1).as_deref(), Some("b"));
        let line = "(left, right) = (Lock(), Lock())";
        assert_eq!(assigned_name(line, 18, 0).as_deref(), Some("left"));
        assert_eq!(assigned_name(line, 26, 0).as_deref(), Some("right"));
        let line = "forks = [threading.Lock() for _ in range(5)]";
        assert_eq!(assigned_name(line, 10, 3).as_deref(), Some("forks[3]"));
        let line = "pair = [Lock(), Lock()]";
        assert_eq!(assigned_name(line, 17, 0).as_deref(), Some("pair[1]"));
        let line = "self.cv: Condition = Condition(Lock())";
        assert_eq!(assigned_name(line, 22, 0).as_deref(), Some("cv"));
        // The lock made inside the condition's call is not the condition.
        assert_eq!(assigned_name(line, 32, 0), None);
        assert_eq!(assigned_name("if x == Lock():", 9, 0), None);
        assert_eq!(assigned_name("f(x=Lock())", 5, 0), None);
        assert_eq!(assigned_name("n += Lock()", 6, 0), None);
    }

    #[test]
    fn two_locks_on_one_line_are_two_names_never_a_numbered_one() {
        let src = "import threading\na, b = threading.Lock(), threading.Lock()\nx = [threading.Lock(), 1]; y = threading.Lock()\n";
        let mut m = Model::new("s.py", src);
        let mut out = Vec::new();
        for (oid, line, col) in [(10, 2, 8), (11, 2, 26), (12, 3, 6), (13, 3, 32)] {
            let mut r = rec(1, "T1", "new", "lock", oid, line);
            r.col = col;
            m.absorb(&r, &mut out);
        }
        let names: Vec<&str> = m
            .scenario
            .resources
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "lock@3:6", "lock@3:32"]);
    }
}
