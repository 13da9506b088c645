//! The Python twins: every built-in lesson exported as Python, run under `python3` and held to
//! what threadlab's own run of the lesson does (finished or deadlocked) and to the promises of
//! each primitive, read from the twin's `--events` log. Both run at 4x; every run is bounded.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use threadlab::engine::{Phase, Run};
use threadlab::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx};
use threadlab::trace::export::python;
use threadlab::trace::invariants;
use threadlab::vocab::event::{Event, EventKind, EventRecord, NO_STEP};

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

/// Runs that load the machine (a twin, threadlab's own run of a lesson) share it with each
/// other and take the read side; the test that measures how long lessons take, in both
/// programs, takes the write side and so has the machine to itself within this binary.
static MACHINE: parking_lot::RwLock<()> = parking_lot::RwLock::new(());

/// Run the twin of `scenario`; its exit code, stderr and events.
fn run_twin(scenario: &Scenario, speed: &str) -> (i32, String, Vec<EventRecord>) {
    let _shared = MACHINE.read();
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

/// A twin's events as threadlab's own: lanes and resources by name, each event at the first
/// step of its lane on its scenario line.
fn as_events(scenario: &Scenario, records: &[EventRecord]) -> Result<Vec<Event>, String> {
    let thread = |name: &str| {
        scenario
            .thread_index(name)
            .ok_or_else(|| format!("an event of {name}, no lane of {}", scenario.name))
    };
    records
        .iter()
        .map(|r| {
            let t = thread(&r.thread)?;
            let resource = match r.resource.as_deref() {
                Some(name) => Some(
                    scenario
                        .resources
                        .iter()
                        .position(|res| res.name == name)
                        .ok_or_else(|| format!("{name} is not declared in {}", scenario.name))?
                        as ResIdx,
                ),
                None => None,
            };
            let step = scenario.threads[t as usize]
                .steps
                .iter()
                .position(|s| Some(s.line) == r.line)
                .map_or(NO_STEP, |k| k as u32);
            Ok(Event {
                t_ns: r.t_us * 1000,
                thread: t,
                kind: r.event,
                resource,
                by: r.by.as_deref().map(thread).transpose()?,
                step,
                item: r.item,
            })
        })
        .collect()
}

/// What every primitive promises (`threadlab::trace::invariants`, the checks of threadlab's own
/// runs), held on a twin's events in log order: each event is logged under the lock that
/// orders it, or after the change it reports, so the order is the true one. CPython's GIL and
/// event loop say nothing of themselves, so what only they would show is not asked of the twin.
fn check_invariants(scenario: &Scenario, records: &[EventRecord]) -> Result<(), String> {
    let mut last = 0;
    for r in records {
        if r.t_us < last {
            return Err(format!("time goes back at {r:?}"));
        }
        last = r.t_us;
    }
    let events = as_events(scenario, records)?;
    let mut seen = scenario.clone();
    for t in &mut seen.threads {
        t.gil = None;
        t.event_loop = None;
    }
    invariants::check(&seen, &events)?;
    check_pools(scenario, records)
}

/// A pool's promises: each task is taken by one worker after it was submitted and finished by
/// that worker; a result arrives after its task finished, saying who ran it; `map` hands
/// results over in submission order and `as-completed` in the order the tasks finished.
fn check_pools(scenario: &Scenario, records: &[EventRecord]) -> Result<(), String> {
    for pool in scenario
        .resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Pool)
    {
        let on: Vec<&EventRecord> = records
            .iter()
            .filter(|r| r.resource.as_deref() == Some(pool.name.as_str()))
            .collect();
        let mut put: Vec<u32> = Vec::new();
        let mut taken: HashMap<u32, &str> = HashMap::new();
        let mut finished: Vec<(u32, &str)> = Vec::new();
        // Per collecting step (its line): the tasks it handed over, in order.
        let mut collected: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for e in &on {
            let at = format!(
                "{} {} {} at {} µs",
                e.thread,
                e.event.name(),
                pool.name,
                e.t_us
            );
            let n = e.item;
            match e.event {
                EventKind::Put => put.push(n.ok_or(format!("{at}: no task"))?),
                EventKind::Take => {
                    let n = n.ok_or(format!("{at}: no task"))?;
                    if !put.contains(&n) || taken.insert(n, &e.thread).is_some() {
                        return Err(format!("{at}: task {n} not waiting to be taken"));
                    }
                }
                EventKind::TaskDone | EventKind::Raise => {
                    let n = n.ok_or(format!("{at}: no task"))?;
                    if taken.get(&n) != Some(&e.thread.as_str()) {
                        return Err(format!("{at}: finished task {n}, which it did not take"));
                    }
                    finished.push((n, &e.thread));
                }
                EventKind::Pass => {
                    let n = n.ok_or(format!("{at}: no task"))?;
                    let Some(&(_, ran)) = finished.iter().find(|f| f.0 == n) else {
                        return Err(format!("{at}: the result of task {n} before it finished"));
                    };
                    if e.by.as_deref() != Some(ran) {
                        return Err(format!(
                            "{at}: says task {n} was run by {:?}, not {ran}",
                            e.by
                        ));
                    }
                    collected.entry(e.line.unwrap_or(0)).or_default().push(n);
                }
                _ => {}
            }
        }
        for t in &scenario.threads {
            for s in &t.steps {
                let Some(got) = collected.get(&s.line) else {
                    continue;
                };
                let order = |n: &u32| finished.iter().position(|f| f.0 == *n);
                let ok = match s.op {
                    Op::Map(_) => got.is_sorted(),
                    Op::AsCompleted(_) => got.is_sorted_by_key(order),
                    _ => true,
                };
                if !ok {
                    return Err(format!(
                        "{} on line {} handed over tasks {got:?}; finished in the order {:?}",
                        s.op.keyword(),
                        s.line,
                        finished.iter().map(|f| f.0).collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// What threadlab's own run of `scenario` ended as, as the twin's exit code says it: 0
/// finished, 1 a thread failed (whatever followed), 3 deadlocked.
fn threadlab_exit(scenario: &Arc<Scenario>) -> i32 {
    let _shared = MACHINE.read();
    let run = Run::start(scenario.clone(), fast());
    let (phase, _) = run_to_end(&run);
    let failed = (0..scenario.threads.len()).any(|t| run.failure(t as ThreadIdx).is_some());
    match (failed, phase) {
        (true, _) => 1,
        (false, Phase::Finished) => 0,
        (false, Phase::Deadlock) => 3,
        (false, other) => panic!("{}: threadlab's run ended {other:?}", scenario.name),
    }
}

/// Lessons that end one way or another by a race, in threadlab as in CPython: a woken consumer
/// that checks with `if` fails only when the other consumer takes the item first.
const RACES: &[&str] = &["condition-if"];

#[test]
fn every_lessons_twin_ends_as_threadlab_does_and_keeps_every_primitives_promise() {
    let mut report = BTreeMap::new();
    let mut wrong = Vec::new();
    for b in threadlab::scenario::builtin::all() {
        let scenario = builtin(b.name);
        assert_eq!(
            python::unsupported(&scenario),
            None,
            "every built-in has a twin"
        );
        let expected = threadlab_exit(&scenario);
        // A deadlock lesson's head start (T1 computing while T2 takes its first lock) must
        // outlast the moment a busy machine takes to start the next CPython thread: at 4x it
        // sometimes does not, and CPython then finishes. At 1x it always does.
        let speed = if expected == 3 { "1" } else { "4" };
        let (code, err, events) = run_twin(&scenario, speed);
        report.insert(b.name, (expected, code));
        let agree = code == expected || (RACES.contains(&b.name) && [0, 1].contains(&code));
        if !agree {
            wrong.push(format!(
                "{}: threadlab exited {expected}, the twin {code}:\n{err}",
                b.name
            ));
            continue;
        }
        if let Err(e) = check_invariants(&scenario, &events) {
            wrong.push(format!("{}: {e}", b.name));
        }
        for t in &scenario.threads {
            let end = events
                .iter()
                .rev()
                .find(|e| e.thread == t.name)
                .map(|e| e.event);
            // A daemon still running when the program ends is stopped there; a thread left
            // waiting by a deadlock, or by what a failed thread holds, has no end.
            let ended = match end {
                Some(EventKind::Stop) => t.daemon,
                Some(EventKind::Done) => true,
                // A task cancelled at its await ends with CancelledError, as asyncio's do.
                Some(EventKind::Cancelled) => t.is_task(),
                _ => code != 0,
            };
            if !ended {
                wrong.push(format!("{}: {} ended {end:?}", b.name, t.name));
            }
        }
        let failed: Vec<&str> = events
            .iter()
            .filter(|e| e.event == EventKind::Fail)
            .map(|e| e.thread.as_str())
            .collect();
        match code {
            0 if !failed.is_empty() => {
                wrong.push(format!("{}: exited 0, {failed:?} failed", b.name))
            }
            1 if failed.is_empty() => wrong.push(format!("{}: exited 1, nobody failed", b.name)),
            3 if !err.contains("waits for") => wrong.push(format!(
                "{}: a deadlock reported without who waits: {err}",
                b.name
            )),
            _ => {}
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

/// CPython's run of each sleep-bound lesson's twin takes as long as threadlab's run of the same
/// lesson, within a factor of 1.6 either way, measured here, side by side: the median ratio of
/// three pairs of runs at 1x (one slow run on a busy machine moves the median no more than it
/// should). On a quiet machine they come within ±15% (BENCHMARKS.md); the bound is loose enough
/// for a loaded test machine and still fails a twin that waits twice or half as long as its
/// lesson. The other tests' twins wait meanwhile: they would measure this binary's own load.
#[test]
fn sleep_bound_lessons_take_as_long_in_cpython_as_in_threadlab() {
    python3();
    let _alone = MACHINE.write();
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
            (1.0 / 1.6..=1.6).contains(&median),
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

/// The one thing the twin refuses: futures shared between threads, which it names in the
/// function of the one thread that submits them.
#[test]
fn a_pool_shared_between_submitting_threads_is_refused_with_its_reason() {
    let file = scratch("shared-pool.kdl");
    std::fs::write(
        &file,
        "pool ex\nthread a {\n    submit ex work=\"1ms\"\n}\nthread b {\n    submit ex work=\"1ms\"\n    shutdown ex\n}\nthread w {\n    repeat 3 {\n        run-next ex\n    }\n}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .arg("export")
        .arg(&file)
        .args(["--format", "python", "-o", "-"])
        .output()
        .expect("threadlab runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shares them between threads"), "{err}");
}

/// The `if` bug, when it shows in CPython, shows as in threadlab: a consumer woken by a notify
/// finds that the other consumer took the item first, pops an empty list and dies of
/// IndexError, holding the lock, so the producer waits for it for good (exit 1, the failure
/// first). It is a race that CPython's scheduling decides: on a busy machine most runs at 4x
/// fail, on a quiet one few do. So the twin runs at most eight times, and every failure it
/// shows must be this one; eight clean runs say nothing against the lesson (the outcome test
/// accepts both endings for it).
#[test]
fn the_condition_if_twin_fails_when_the_other_consumer_takes_the_item_first() {
    let scenario = builtin("condition-if");
    for _ in 0..8 {
        let (code, err, events) = run_twin(&scenario, "4");
        if code == 0 {
            continue;
        }
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("IndexError: pop from empty list"), "{err}");
        assert!(
            err.contains("producer waits for m, held by consumer-"),
            "{err}"
        );
        let at = |e: &EventRecord| events.iter().position(|x| std::ptr::eq(x, e)).unwrap();
        let fail = events.iter().find(|e| e.event == EventKind::Fail).unwrap();
        let woken = events[..at(fail)]
            .iter()
            .rfind(|e| e.thread == fail.thread && e.event == EventKind::Pass)
            .expect("the failed consumer had been woken");
        assert_eq!(woken.by.as_deref(), Some("producer"));
        let notify = events[..at(woken)]
            .iter()
            .rfind(|e| e.event == EventKind::Notify)
            .unwrap();
        let stolen = events[at(notify)..at(fail)]
            .iter()
            .any(|e| e.event == EventKind::Take && e.thread != fail.thread);
        assert!(stolen, "nobody took the item first: {events:#?}");
        check_invariants(&scenario, &events).unwrap();
        return;
    }
    eprintln!("condition-if: in eight runs of its twin CPython never let the race show");
}

/// The words no built-in uses run in Python too, as threadlab runs them: a priority queue
/// and its sentinel, a get that times out, a result that times out, a task that raises with
/// nobody asking, a plain condition wait, and a daemon that is stopped.
#[test]
fn every_syllabus_word_runs_in_python_as_in_threadlab() {
    let file = scratch("words.kdl");
    std::fs::write(
        &file,
        r#"title "Every syllabus word, once"
about "A priority queue, a get and a result that time out, a plain wait, a daemon."
buffer q capacity=4
buffer empty capacity=1
pool ex
mutex m
condition c lock=m
list xs
thread boss {
    put q priority=3
    put q priority=1
    put q priority=2
    put q sentinel=#true
    submit ex work="150ms"
    submit ex work="5ms" raises="KeyError"
    shutdown ex
    result ex task=1 timeout="10ms"
}
thread picky {
    sleep "50ms"
    repeat 4 {
        take q
        task-done q
    }
    work "5ms"
}
thread impatient {
    take empty timeout="20ms"
    work "5ms"
}
thread worker {
    repeat 3 {
        run-next ex
    }
}
thread waiter {
    lock m
    wait c
    pop xs
    unlock m
}
thread notifier {
    sleep "400ms"
    lock m
    append xs
    notify-all c
    unlock m
}
thread beat daemon=#true {
    repeat 100 {
        work "10ms"
        sleep "10ms"
    }
}
"#,
    )
    .unwrap();
    let scenario = Arc::new(threadlab::scenario::load(file.to_str().unwrap()).expect("loads"));
    let text = python::render(&scenario);
    for idiom in [
        "q = PriorityQueue(\"q\", maxsize=4)",
        "q.put(priority=3)",
        "q.put(None)",
        "if item is None:",
        "item = empty.get(timeout=0.02)",
        "except queue.Empty:",
        "f2 = ex.submit(task, 2, 0.005, KeyError)",
        "f1.result(timeout=0.01)",
        "c.wait()",
        "c.notify_all()",
        "x = xs.pop(0)",
        "start(beat, \"beat\", daemon=True)",
    ] {
        assert!(text.contains(idiom), "{idiom} not in:\n{text}");
    }
    let expected = threadlab_exit(&scenario);
    assert_eq!(expected, 1, "threadlab: the boss's result times out");
    let (code, err, events) = run_twin(&scenario, "2");
    assert_eq!(code, expected, "{err}");
    assert!(err.contains("TimeoutError"), "{err}");
    check_invariants(&scenario, &events).unwrap();
    let of = |lane: &str, kind: EventKind| -> Vec<&EventRecord> {
        events
            .iter()
            .filter(|e| e.thread == lane && e.event == kind)
            .collect()
    };
    // Lowest priority first, the sentinel last; after it picky's script ends.
    let taken: Vec<Option<u32>> = of("picky", EventKind::Take)
        .iter()
        .map(|e| e.item)
        .collect();
    assert_eq!(taken, [Some(2), Some(3), Some(1), Some(0)]);
    assert!(of("picky", EventKind::Run).is_empty());
    assert_eq!(of("picky", EventKind::Done).len(), 1);
    assert_eq!(of("impatient", EventKind::Timeout).len(), 1);
    assert_eq!(of("impatient", EventKind::Done).len(), 1);
    assert_eq!(of("boss", EventKind::Timeout)[0].item, Some(1));
    assert_eq!(of("worker", EventKind::Raise)[0].item, Some(2));
    assert_eq!(of("worker", EventKind::Done).len(), 1);
    assert_eq!(
        of("waiter", EventKind::Pass)[0].by.as_deref(),
        Some("notifier")
    );
    assert_eq!(
        of("beat", EventKind::Stop).len(),
        1,
        "the daemon is stopped"
    );
}

/// The run view's `y` puts each thread on the Python line its step became: every step of
/// every lesson has one, in the lesson part of the program, and the program's own `KDL_LINE`
/// table says the same.
#[test]
fn every_step_of_every_lesson_has_its_python_line() {
    for b in threadlab::scenario::builtin::all() {
        let scenario = builtin(b.name);
        let twin = python::twin(&scenario);
        let lines: Vec<&str> = twin.text.lines().collect();
        let lesson = lines
            .iter()
            .position(|l| l.starts_with("# The lesson: "))
            .unwrap();
        let table = lines
            .iter()
            .find(|l| l.starts_with("KDL_LINE = {"))
            .unwrap();
        for t in &scenario.threads {
            for s in &t.steps {
                let py = twin.python_line(s.line).unwrap_or_else(|| {
                    panic!(
                        "{}: {} on line {} has no Python line",
                        b.name,
                        s.op.keyword(),
                        s.line
                    )
                });
                assert!(py > lesson, "{}: line {py} is in the harness", b.name);
                assert!(table.contains(&format!("{py}: {}", s.line)), "{}", b.name);
            }
        }
        let at = |kdl: &str| {
            let k = scenario
                .source
                .lines()
                .position(|l| l.trim_start().starts_with(kdl))
                .unwrap_or_else(|| panic!("{}: no `{kdl}`", b.name));
            let py = lines[twin.python_line(k as u32 + 1).unwrap() - 1];
            py.split("  #").next().unwrap().trim()
        };
        match b.name {
            "condition" => assert_eq!(at("wait not-empty"), "while not items:"),
            "condition-if" => assert_eq!(at("wait not-empty"), "if not items:"),
            "notify-all" => assert_eq!(at("notify-all"), "jobs_ready.notify_all()"),
            "queue-join" => assert_eq!(at("take jobs"), "job = jobs.get()"),
            "futures" => assert_eq!(at("as-completed"), "for f in as_completed([f4, f5, f6]):"),
            "pool" => assert_eq!(at("run-next"), "if not ex.run_next():"),
            _ => {}
        }
    }
}

/// A CPython run of a lesson's twin opens in threadlab: `replay EVENTS --scenario LESSON` reads
/// the twin's events file against the lesson and reports it like any run, and a line that is
/// not an event is refused with where it is.
#[test]
fn a_twins_cpython_run_replays_in_threadlab_against_its_lesson() {
    python3();
    let s = builtin("semaphore");
    let (code, err, records) = run_twin(&s, "4");
    assert_eq!(code, 0, "{err}");
    let events = scratch("semaphore.jsonl");
    let bin = env!("CARGO_BIN_EXE_threadlab");
    let out = Command::new(bin)
        .args(["replay", "--headless", "--json", "--scenario", "semaphore"])
        .arg(&events)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["outcome"], "completed", "{summary}");
    // Never more than the three permits held at once, as the lesson promises.
    assert_eq!(summary["resources"][0]["most_holders"], 3, "{summary}");
    assert_eq!(
        summary["events_recorded"].as_u64(),
        Some(records.len() as u64),
        "{summary}"
    );

    let broken = scratch("semaphore-broken.jsonl");
    std::fs::write(&broken, "{\"t_us\": 1}\n").unwrap();
    let out = Command::new(bin)
        .args(["replay", "--headless", "--scenario", "semaphore"])
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("semaphore-broken.jsonl:1"), "{err}");
}
