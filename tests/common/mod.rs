//! Helpers the integration tests share: loading lessons, building scenarios in code, and
//! running to the end with every wait bounded.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use threadlab::engine::{Phase, Run, RunOptions};
use threadlab::scenario::model::{Op, Scenario, ThreadIdx};
use threadlab::trace::invariants::{self, ResourceFacts};
use threadlab::trace::machine::{self, Machine};
use threadlab::vocab::event::{Event, EventKind, EventRecord, State};

/// The longest any test run may take before the test fails instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(30);

pub fn builtin(name: &str) -> Arc<Scenario> {
    Arc::new(threadlab::scenario::load(name).expect("built-in loads"))
}

/// 4x: every timed step takes a quarter of its length on the wall clock; run time, orders and
/// invariants are unchanged.
pub fn fast() -> RunOptions {
    RunOptions {
        speed: 4.0,
        start_paused: false,
    }
}

#[allow(unused_imports)] // each test file uses a different subset
pub use threadlab::scenario::testing::scenario;

/// Run until finished or deadlocked (bounded by [`LIMIT`]); every event in time order.
pub fn run_to_end(run: &Run) -> (Phase, Vec<Event>) {
    let mut events = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while !matches!(run.phase(), Phase::Finished | Phase::Deadlock) {
        run.wait_events(&mut events, Duration::from_millis(20));
        assert!(
            Instant::now() < deadline,
            "run did not end within {LIMIT:?}"
        );
    }
    // Every thread hands over what it recorded within a step slice of the run ending.
    while !run.settled() {
        run.wait_events(&mut events, Duration::from_millis(5));
        assert!(
            Instant::now() < deadline,
            "threads did not hand over their events within {LIMIT:?}"
        );
    }
    run.drain_events(&mut events);
    events.sort_by_key(|e| e.t_ns);
    (run.phase(), events)
}

/// Starts `scenario` paused, steps `threads` in this order (each step waited for, bounded by
/// [`LIMIT`]), then lets it run freely: a schedule that forces one interleaving.
pub fn run_scheduled(scenario: &Arc<Scenario>, options: RunOptions, threads: &[ThreadIdx]) -> Run {
    let run = Run::start(
        scenario.clone(),
        RunOptions {
            start_paused: true,
            ..options
        },
    );
    for &t in threads {
        run.step(t).expect("a scheduled thread can take its step");
        assert!(run.wait_step_done(LIMIT), "step of thread {t} did not end");
    }
    run.resume();
    run
}

// ---- lessons run to the end -------------------------------------------------------------

/// Lessons whose point is a race between CPU-bound and waiting threads need the cores they
/// would have in class, so lesson runs take turns instead of competing.
pub static ONE_AT_A_TIME: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// What a lesson's run did: how it ended, every event in time order, the invariants' facts
/// and the deadlock as the report words it.
pub struct LessonRun {
    pub phase: Phase,
    pub events: Vec<Event>,
    pub facts: Vec<ResourceFacts>,
    pub deadlock: Option<String>,
    /// What the machine could give the run: a lesson whose point is a matter of timing can
    /// show it only where the machine gave it the cores it needs, and says so where it did not.
    pub machine: Machine,
}

/// Runs `scenario` to the end, in turn with other lesson runs; no event is dropped, no thread
/// fails and every invariant holds.
pub fn run_with(scenario: &Arc<Scenario>, options: RunOptions) -> LessonRun {
    let _turn = ONE_AT_A_TIME.lock();
    let before = machine::sample();
    let run = Run::start(scenario.clone(), options);
    let (phase, events) = run_to_end(&run);
    let machine = before.until(&machine::sample(), scenario);
    assert_eq!(run.dropped_events(), 0);
    for t in 0..scenario.threads.len() as ThreadIdx {
        assert_eq!(run.failure(t), None, "{}", scenario.thread_name(t));
    }
    let facts = invariants::check(scenario, &events).unwrap_or_else(|e| panic!("{e}"));
    let deadlock = run.deadlock().map(|d| d.describe(scenario));
    LessonRun {
        phase,
        events,
        facts,
        deadlock,
        machine,
    }
}

/// [`run_with`] at 4x.
pub fn run(scenario: &Arc<Scenario>) -> LessonRun {
    run_with(scenario, fast())
}

pub fn resource(scenario: &Scenario, name: &str) -> usize {
    scenario.resource_index(name).expect("resource exists") as usize
}

pub fn thread(scenario: &Scenario, name: &str) -> ThreadIdx {
    scenario.thread_index(name).expect("thread exists")
}

/// The step an event belongs to, if any.
pub fn op_of(scenario: &Scenario, e: &Event) -> Option<Op> {
    scenario.threads[e.thread as usize]
        .steps
        .get(e.step as usize)
        .map(|s| s.op)
}

// ---- threads of this process ---------------------------------------------------------------

/// Names of this process's threads, from /proc/self/task/*/comm.
pub fn task_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
                .map(|s| s.trim_end().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Engine threads are named `tl-<thread>` and `tl-watcher`.
pub fn engine_threads() -> usize {
    task_names().iter().filter(|n| n.starts_with("tl-")).count()
}

/// A joined thread leaves /proc a moment after `join` returns; wait (bounded) for that.
pub fn wait_engine_threads_gone() -> usize {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let n = engine_threads();
        if n == 0 || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Threads that burn CPU until dropped, so a run's threads lose their core at awkward
/// moments, as on a busy classroom machine.
pub struct Hogs {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Hogs {
    pub fn start(n: usize) -> Hogs {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|i| {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .name(format!("hog-{i}"))
                    .spawn(move || {
                        let mut x = 1u64;
                        while !stop.load(Ordering::Relaxed) {
                            for _ in 0..10_000 {
                                x = std::hint::black_box(x.wrapping_mul(6364136223846793005) + 1);
                            }
                        }
                    })
                    .expect("a hog thread starts")
            })
            .collect();
        Hogs { stop, threads }
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---- events files --------------------------------------------------------------------------

/// A scratch path for an events file, unique to this test process and `tag`.
pub fn temp_events_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("threadlab-{}-{tag}.jsonl", std::process::id()))
}

/// Every line of an events file, which is then removed.
pub fn read_events(path: &Path) -> Vec<EventRecord> {
    let text = std::fs::read_to_string(path).expect("events file written");
    let _ = std::fs::remove_file(path);
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

// ---- child processes, as the OS shows them --------------------------------------------------

/// (parent pid, process group, state) of a live process, from /proc/PID/stat.
pub fn stat(pid: u32) -> Option<(u32, u32, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let mut words = rest.split(' ');
    let state = words.next()?.chars().next()?;
    let ppid = words.next()?.parse().ok()?;
    let pgid = words.next()?.parse().ok()?;
    Some((ppid, pgid, state))
}

/// Whether `pid` is gone (or a zombie nobody runs: a container's init may not reap).
pub fn gone(pid: u32) -> bool {
    stat(pid).is_none_or(|(_, _, state)| state == 'Z')
}

pub fn wait_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pids.iter().all(|&p| gone(p)) {
        assert!(
            Instant::now() < deadline,
            "child processes still running: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Live processes whose parent is `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&p| stat(p).is_some_and(|(ppid, _, st)| ppid == parent && st != 'Z'))
                .collect()
        })
        .unwrap_or_default()
}

/// Intervals during which `thread` was computing.
pub fn running_spans(s: &Scenario, events: &[Event], thread: ThreadIdx) -> Vec<(u64, u64)> {
    let mut spans = Vec::new();
    let mut since = None;
    for e in events.iter().filter(|e| e.thread == thread) {
        let Some(next) = State::after(e, s) else {
            continue;
        };
        if let Some(start) = since.take() {
            spans.push((start, e.t_ns));
        }
        if next == State::Running && e.kind == EventKind::Run {
            since = Some(e.t_ns);
        }
    }
    spans
}

/// How long two sets of intervals overlap in all.
pub fn overlap(a: &[(u64, u64)], b: &[(u64, u64)]) -> u64 {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| (x.0.max(y.0), x.1.min(y.1))))
        .filter(|(from, to)| to > from)
        .map(|(from, to)| to - from)
        .sum()
}
