//! Helpers the integration tests share: loading lessons, building scenarios in code, and
//! running to the end with every wait bounded.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use threadlab::engine::{Phase, Run, RunOptions};
use threadlab::scenario::model::{Op, Resource, ResourceKind, Scenario, Step, ThreadSpec};
use threadlab::vocab::event::{Event, EventRecord};

/// The longest any test run may take before the test fails instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(30);

pub fn builtin(name: &str) -> Arc<Scenario> {
    Arc::new(threadlab::scenario::load(name).expect("built-in loads"))
}

/// 4x: every timed step a quarter as long; orders and invariants are unchanged.
pub fn fast() -> RunOptions {
    RunOptions {
        speed: 4.0,
        start_paused: false,
    }
}

/// A scenario built in code, so the engine can be tested apart from the language.
pub fn scenario(resources: &[(&str, ResourceKind)], threads: &[(&str, Vec<Op>)]) -> Arc<Scenario> {
    Arc::new(Scenario {
        name: "coded".into(),
        origin: "coded".into(),
        source: "".into(),
        title: "coded".into(),
        about: String::new(),
        title_zh: None,
        about_zh: None,
        resources: resources
            .iter()
            .map(|(name, kind)| Resource {
                name: name.to_string(),
                kind: *kind,
                line: 1,
            })
            .collect(),
        threads: threads
            .iter()
            .map(|(name, ops)| ThreadSpec {
                name: name.to_string(),
                group: name.to_string(),
                line: 1,
                gil: None,
                after: Vec::new(),
                event_loop: None,
                daemon: false,
                steps: ops.iter().map(|&op| Step { op, line: 1 }).collect(),
            })
            .collect(),
    })
}

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
