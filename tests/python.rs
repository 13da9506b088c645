//! The Python twins: every built-in lesson exported as Python, run under `python3` and held to
//! what threadlab's own run of the lesson does (finished or deadlocked) and to the promises of
//! each primitive, read from the twin's `--events` log. Both run at 4x; every run is bounded.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use threadlab::engine::{Phase, Run};
use threadlab::scenario::model::{ResourceKind, Scenario};
use threadlab::trace::export::python;
use threadlab::vocab::event::{EventKind, EventRecord};

mod common;
use common::{LIMIT, builtin, fast, run_to_end};

fn python3() -> &'static str {
    let found = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "python3 is not on PATH: tests/python.rs runs every lesson's Python twin under it; install Python 3.8 or later"
    );
    "python3"
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("threadlab-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Wait for the child at most `limit`; killed and reported if it takes longer.
fn wait_bounded(mut child: Child, limit: Duration, what: &str) -> (i32, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run the twin of `scenario`; its exit code, stderr and events.
fn run_twin(scenario: &Scenario, speed: &str) -> (i32, String, Vec<EventRecord>) {
    let program = scratch(&format!("{}.py", scenario.name));
    let events = scratch(&format!("{}.jsonl", scenario.name));
    std::fs::write(&program, python::render(scenario)).unwrap();
    let child = Command::new(python3())
        .arg(&program)
        .args(["--speed", speed, "--events"])
        .arg(&events)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, err) = wait_bounded(child, LIMIT, &format!("the twin of {}", scenario.name));
    let text = std::fs::read_to_string(&events).unwrap_or_else(|e| {
        panic!(
            "{}: no events from the twin ({e}); stderr:\n{err}",
            scenario.name
        )
    });
    let records = text
        .lines()
        .map(|l| serde_json::from_str::<EventRecord>(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (code, err, records)
}

/// What each primitive promises, checked on a twin's events in log order (each event is logged
/// under the lock that orders it, or after the change it reports, so the order is the true one).
fn check_invariants(scenario: &Scenario, events: &[EventRecord]) -> Result<(), String> {
    let kinds: HashMap<&str, ResourceKind> = scenario
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r.kind))
        .collect();
    let mut holders: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut fill: HashMap<&str, i64> = HashMap::new();
    let mut arrived: HashMap<&str, u64> = HashMap::new();
    let mut passed: HashMap<&str, u64> = HashMap::new();
    let mut last = 0;
    for e in events {
        if e.t_us < last {
            return Err(format!("time goes back at {e:?}"));
        }
        last = e.t_us;
        let Some(r) = e.resource.as_deref() else {
            continue;
        };
        let kind = *kinds
            .get(r)
            .ok_or_else(|| format!("{r} is not declared in {}", scenario.name))?;
        let at = format!("{} {} {r} at {} µs", e.thread, e.event.name(), e.t_us);
        match (kind, e.event) {
            (_, EventKind::Acquire) => holders.entry(r).or_default().push(&e.thread),
            (_, EventKind::Release) => {
                let h = holders.entry(r).or_default();
                match h.iter().position(|&t| t == e.thread) {
                    Some(p) => {
                        h.remove(p);
                    }
                    // A semaphore's permit may be given back by a thread that did not take it.
                    None if matches!(kind, ResourceKind::Semaphore { .. }) && !h.is_empty() => {
                        h.remove(0);
                    }
                    None => return Err(format!("{at}: released what it does not hold")),
                }
            }
            (ResourceKind::Buffer { capacity }, EventKind::Put | EventKind::Take) => {
                let f = fill.entry(r).or_default();
                *f += if e.event == EventKind::Put { 1 } else { -1 };
                if *f < 0 || *f > capacity as i64 {
                    return Err(format!("{at}: {f} items in a buffer of {capacity}"));
                }
            }
            (ResourceKind::Barrier { parties }, EventKind::Arrive) => {
                *arrived.entry(r).or_default() += 1;
                let _ = parties;
            }
            (ResourceKind::Barrier { parties }, EventKind::Pass) => {
                let p = passed.entry(r).or_default();
                *p += 1;
                // The i-th pass belongs to generation ceil(i / parties): all of it had arrived.
                let generation = p.div_ceil(parties as u64);
                let needed = generation * parties as u64;
                if arrived.get(r).copied().unwrap_or(0) < needed {
                    return Err(format!(
                        "{at}: passed before its generation of {parties} had all arrived"
                    ));
                }
            }
            _ => {}
        }
        let h = holders.get(r).map(|h| h.as_slice()).unwrap_or(&[]);
        let mut distinct = h.to_vec();
        distinct.sort();
        distinct.dedup();
        let ok = match kind {
            ResourceKind::Mutex => h.len() <= 1,
            ResourceKind::RLock => distinct.len() <= 1,
            ResourceKind::Semaphore { permits } => h.len() <= permits as usize,
            ResourceKind::RwLock { .. } => {
                // One writer alone, or readers only: a write is an acquire on a `write` line.
                let writing = h
                    .iter()
                    .filter(|&&t| writes(scenario, events, t, r))
                    .count();
                writing == 0 || h.len() == 1
            }
            _ => true,
        };
        if !ok {
            return Err(format!("{at}: held by {h:?} at once"));
        }
    }
    Ok(())
}

/// Whether `thread`'s latest acquire of rwlock `r` was a `write`.
fn writes(scenario: &Scenario, events: &[EventRecord], thread: &str, r: &str) -> bool {
    let Some(t) = scenario.threads.iter().find(|t| t.name == thread) else {
        return false;
    };
    let _ = events;
    let write_lines: Vec<u32> = t
        .steps
        .iter()
        .filter(|s| matches!(s.op, threadlab::scenario::model::Op::Write(x) if scenario.resource_name(x) == r))
        .map(|s| s.line)
        .collect();
    !write_lines.is_empty()
        && thread_last_acquire_line(events, thread, r).is_some_and(|l| write_lines.contains(&l))
}

fn thread_last_acquire_line(events: &[EventRecord], thread: &str, r: &str) -> Option<u32> {
    events
        .iter()
        .rev()
        .find(|e| {
            e.thread == thread && e.event == EventKind::Acquire && e.resource.as_deref() == Some(r)
        })
        .and_then(|e| e.line)
}

#[test]
fn every_lessons_twin_ends_as_threadlab_does_and_keeps_every_primitives_promise() {
    let mut report = BTreeMap::new();
    let mut wrong = Vec::new();
    for b in threadlab::scenario::builtin::all() {
        let scenario = builtin(b.name);
        // A lesson the twin cannot express is refused by export (see the test below).
        if threadlab::trace::export::python::unsupported(&scenario).is_some() {
            continue;
        }
        let run = Run::start(scenario.clone(), fast());
        let (phase, _) = run_to_end(&run);
        let expected = match phase {
            Phase::Finished => 0,
            Phase::Deadlock => 3,
            other => panic!("{}: threadlab's run ended {other:?}", b.name),
        };
        // A deadlock lesson's head start (T1 computing while T2 takes its first lock) must
        // outlast the moment a busy machine takes to start the next CPython thread: at 4x it
        // sometimes does not, and CPython then finishes. At 1x it always does.
        let speed = if expected == 3 { "1" } else { "4" };
        let (code, err, events) = run_twin(&scenario, speed);
        report.insert(b.name, (phase, code));
        if code != expected {
            wrong.push(format!(
                "{}: threadlab {phase:?}, the twin exited {code}:\n{err}",
                b.name
            ));
            continue;
        }
        if let Err(e) = check_invariants(&scenario, &events) {
            wrong.push(format!("{}: {e}", b.name));
        }
        let names: Vec<&str> = scenario.threads.iter().map(|t| t.name.as_str()).collect();
        for e in &events {
            if !names.contains(&e.thread.as_str()) {
                wrong.push(format!(
                    "{}: an event of {}, no lane of the lesson",
                    b.name, e.thread
                ));
                break;
            }
        }
        if code == 0 {
            for t in &names {
                let done = events
                    .iter()
                    .any(|e| e.thread == *t && e.event == EventKind::Done);
                if !done {
                    wrong.push(format!("{}: {t} exited 0 without finishing", b.name));
                }
            }
        } else if !err.contains("waits for") {
            wrong.push(format!(
                "{}: a deadlock reported without who waits: {err}",
                b.name
            ));
        }
    }
    assert!(wrong.is_empty(), "{}\n\n{report:?}", wrong.join("\n"));
}

#[test]
fn the_deadlock_twin_names_the_cycle_and_its_events_say_where() {
    let scenario = builtin("deadlock");
    let (code, err, events) = run_twin(&scenario, "1");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("T1 waits for B, held by T2"), "{err}");
    assert!(err.contains("T2 waits for A, held by T1"), "{err}");
    // Every step event carries the scenario line of its step: T1's `lock A` is on line 17.
    let first = events
        .iter()
        .find(|e| e.thread == "T1" && e.event == EventKind::Acquire)
        .unwrap();
    let lock_a = scenario.threads[0].steps[0].line;
    assert_eq!(first.line, Some(lock_a));
}

#[test]
fn export_format_python_writes_the_program_without_running_python() {
    let out = scratch("cli-producer-consumer.py");
    let status = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(["export", "producer-consumer", "--format", "python", "-o"])
        .arg(&out)
        // No python3 needed to write the program.
        .env("PATH", "/nonexistent")
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("#!/usr/bin/env python3\n\"\"\"Producer-consumer"),
        "{}",
        &text[..200]
    );
    assert!(text.contains("def main():"));
    assert!(Path::new(&out).exists());
}

#[test]
fn a_recording_is_refused_for_python_with_a_hint() {
    let rec = scratch("rec.json");
    let made = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args([
            "run",
            "fixed-order",
            "--headless",
            "--speed",
            "4",
            "--record",
        ])
        .arg(&rec)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    let out = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(["export"])
        .arg(&rec)
        .args(["--format", "python", "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("from a scenario"));
}

#[test]
fn hand_over_hand_retries_in_a_repeat_and_groups_across_threads_and_tasks_run_in_python() {
    // A retry inside a `repeat` starts again where the thread last held nothing (`lock A`),
    // giving back B and the permit it holds; a task group waits for threads and a thread group
    // for tasks.
    let file = scratch("hand-over-hand.kdl");
    std::fs::write(
        &file,
        r#"title "hand over hand"
about "A, then B, then C while letting A go."
mutex A
mutex B
mutex C
semaphore s permits=1
event-loop
thread climber count=3 {
    repeat 3 {
        lock A
        lock B
        unlock A
        work "2ms"
        lock C timeout="1ms"
        unlock C
        unlock B
    }
    acquire s
    lock A timeout="1ms"
    unlock A
    release s
}
task t after=climber {
    sleep "5ms"
}
thread w after=t {
    work "5ms"
}
"#,
    )
    .unwrap();
    let scenario = threadlab::scenario::load(file.to_str().unwrap()).expect("the file loads");
    let text = python::render(&scenario);
    assert!(
        text.contains("    for _ in range(3):\n        while True:"),
        "{text}"
    );
    let (code, err, events) = run_twin(&scenario, "1");
    assert_eq!(code, 0, "{err}");
    check_invariants(&scenario, &events).unwrap();
    let order: Vec<&str> = events
        .iter()
        .filter(|e| e.event == EventKind::Start)
        .map(|e| e.thread.as_str())
        .collect();
    assert_eq!(order.len(), 5);
    assert_eq!(&order[3..], ["t", "w"]);
}

/// Lessons whose run time is set by their sleeps and waits, not by how fast or how parallel
/// the CPU is: on this project's shared 2-core machine, CPU-bound lessons measure the load
/// more than either program (docs/python.md says, per lesson, why the others differ).
const SLEEP_BOUND: &[&str] = &["writer-starvation", "event-loop-blocking", "livelock"];

/// CPython's run of each sleep-bound lesson's twin takes within ±25% of threadlab's run of the
/// same lesson, measured here, side by side: the median ratio of three pairs of runs at 2x
/// (one slow run on a busy machine moves the median no more than it should).
#[test]
fn sleep_bound_lessons_take_as_long_in_cpython_as_in_threadlab() {
    python3();
    for name in SLEEP_BOUND {
        let s = builtin(name);
        let mut ratios: Vec<f64> = (0..3)
            .map(|_| {
                let row = threadlab::cmd::bench::fidelity_of(s.clone(), 1.0).unwrap();
                assert!(row.agree, "{name}: {row:?}");
                row.ratio
                    .unwrap_or_else(|| panic!("{name} did not complete: {row:?}"))
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios[1];
        eprintln!("{name}: {ratios:?}");
        assert!(
            (0.75..=1.25).contains(&median),
            "{name}: CPython took {median:.2}× threadlab's time (runs: {ratios:?})"
        );
    }
}

/// Without python3, exporting a twin still works and running one says why it cannot (exit 2).
#[test]
fn without_python3_export_works_and_bench_fidelity_says_why_it_cannot_run() {
    let empty = scratch("no-python-here");
    std::fs::create_dir_all(&empty).unwrap();
    let bin = env!("CARGO_BIN_EXE_threadlab");
    let out = scratch("semaphore-no-python.py");
    let export = Command::new(bin)
        .args(["export", "semaphore", "--format", "python", "-o"])
        .arg(&out)
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_eq!(export.status.code(), Some(0), "{export:?}");
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("def worker():")
    );
    let bench = Command::new(bin)
        .args(["bench", "fidelity"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_eq!(bench.status.code(), Some(2), "{bench:?}");
    let err = String::from_utf8_lossy(&bench.stderr);
    assert!(err.contains("python3 is not on PATH"), "{err}");
}

#[test]
fn a_lesson_the_twin_cannot_express_is_refused_with_its_reason() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(["export", "condition", "--format", "python", "-o", "-"])
        .output()
        .expect("threadlab runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the Python twin cannot express `condition` yet"),
        "{err}"
    );
}
