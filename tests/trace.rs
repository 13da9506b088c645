//! `threadlab trace`: real Python programs (tests/fixtures/py/) run under the tracer on the
//! machine's python3, one per construct, held to each primitive's promises on the recorded
//! events; deadlocks, exit codes, output, pause and step, and no interpreter left behind.
//! Every run and every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use threadlab::cmd::trace::execute;
use threadlab::scenario::model::{ResIdx, ThreadIdx};
use threadlab::trace::invariants::{self, ResourceFacts};
use threadlab::trace::summary::ResourceFigures;
use threadlab::vocab::deadlock::Blame;
use threadlab::vocab::event::{Event, EventKind, State};
use threadlab::watch::child::{Output, Spawn};
use threadlab::watch::{End, Traced, Tracing};

mod common;

/// No fixture runs longer than this, even on a loaded machine.
const LIMIT: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/py")
        .join(name)
}

fn temp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("threadlab-trace-test-{}-{tag}", std::process::id()))
}

fn spawn(name: &str, args: &[&str], output: &Path) -> Spawn {
    Spawn {
        script: fixture(name),
        args: args.iter().map(Into::into).collect(),
        output: Output::File(output.to_path_buf()),
        paused: false,
    }
}

/// Runs a fixture to its end; its output is returned too.
fn traced(name: &str) -> (Traced, String) {
    let out = temp(name);
    let t = execute(&spawn(name, &[], &out), Some(LIMIT)).expect("python3 3.8+ runs the tracer");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    std::fs::remove_file(&out).ok();
    (t, text)
}

fn completed(t: &Traced) {
    assert_eq!(
        t.end,
        Some(End::Exited {
            code: Some(0),
            signal: None
        }),
        "{:?}",
        t.deadlock
    );
}

fn sorted(t: &Traced) -> Vec<Event> {
    let mut e = t.events.clone();
    e.sort_by_key(|e| e.t_ns);
    e
}

/// Every primitive's promises hold on the run's events.
fn facts(t: &Traced) -> Vec<ResourceFacts> {
    invariants::check(&t.scenario, &sorted(t)).unwrap_or_else(|e| panic!("{e}"))
}

fn res(t: &Traced, name: &str) -> ResIdx {
    t.scenario
        .resource_index(name)
        .unwrap_or_else(|| panic!("no resource {name}: {:?}", t.scenario.resources))
}

fn lane(t: &Traced, name: &str) -> ThreadIdx {
    t.scenario.thread_index(name).unwrap_or_else(|| {
        let names: Vec<&str> = t.scenario.threads.iter().map(|x| x.name.as_str()).collect();
        panic!("no lane {name}: {names:?}")
    })
}

fn count(t: &Traced, thread: Option<ThreadIdx>, kind: EventKind, r: Option<ResIdx>) -> usize {
    t.events
        .iter()
        .filter(|e| thread.is_none_or(|x| e.thread == x) && e.kind == kind)
        .filter(|e| r.is_none() || e.resource == r)
        .count()
}

#[test]
fn threads_are_lanes_that_start_finish_and_are_joined() {
    let (t, out) = traced("threads.py");
    completed(&t);
    facts(&t);
    let main = lane(&t, "MainThread");
    for n in 0..3 {
        let g = lane(&t, &format!("greeter-{n}"));
        assert_eq!(count(&t, Some(g), EventKind::Start, None), 1);
        assert_eq!(count(&t, Some(g), EventKind::Done, None), 1);
        // A join that waited passes only after the thread is done, and names it; a join of a
        // thread already done does not wait at all.
        let done = t
            .events
            .iter()
            .position(|e| e.thread == g && e.kind == EventKind::Done);
        let joined = t
            .events
            .iter()
            .position(|e| e.thread == main && e.kind == EventKind::Pass && e.by == Some(g));
        let waited = t.scenario.resource_index(&format!("greeter-{n}.join"));
        match (waited, joined) {
            (Some(_), Some(j)) => assert!(done.unwrap() < j),
            (None, None) => {}
            other => panic!("a join that waits passes: {other:?}"),
        }
    }
    assert!(out.contains("all joined"), "{out}");
}

#[test]
fn a_lock_has_one_holder_at_a_time() {
    let (t, out) = traced("lock.py");
    completed(&t);
    let guard = res(&t, "guard");
    let f = &facts(&t)[guard as usize];
    assert_eq!(f.most_holders, 1);
    assert_eq!(count(&t, None, EventKind::Acquire, Some(guard)), 200);
    assert_eq!(count(&t, None, EventKind::Release, Some(guard)), 200);
    assert!(out.contains("counter 200"), "{out}");
    // Each acquire names the `with guard:` line.
    let line = t.scenario.threads[lane(&t, "adder-0") as usize]
        .steps
        .iter()
        .map(|s| s.line)
        .collect::<Vec<_>>();
    assert_eq!(line, vec![11]);
}

#[test]
fn an_rlock_is_taken_again_by_its_holder_only() {
    let (t, _) = traced("rlock.py");
    completed(&t);
    let nested = res(&t, "nested");
    let f = &facts(&t)[nested as usize];
    assert_eq!(f.most_depth, 4);
    assert_eq!(f.most_holders, 1);
}

#[test]
fn a_semaphore_never_lets_more_in_than_its_permits() {
    let (t, _) = traced("semaphore.py");
    completed(&t);
    let slots = res(&t, "slots");
    let f = &facts(&t)[slots as usize];
    assert!(f.most_holders <= 3 && f.most_holders >= 1, "{f:?}");
    assert_eq!(count(&t, None, EventKind::Acquire, Some(slots)), 8);
    // Eight visitors let go together, each staying 50 ms, cannot all get in at once.
    assert!(count(&t, None, EventKind::Block, Some(slots)) >= 1);
}

#[test]
fn an_event_lets_its_waiters_pass_only_once_set() {
    let (t, out) = traced("event.py");
    completed(&t);
    let go = res(&t, "go");
    facts(&t);
    let events = sorted(&t);
    let set = events
        .iter()
        .position(|e| e.kind == EventKind::Set && e.resource == Some(go))
        .expect("main sets it");
    assert_eq!(events[set].thread, lane(&t, "MainThread"));
    let passes: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].kind == EventKind::Pass && events[i].resource == Some(go))
        .collect();
    assert_eq!(passes.len(), 3);
    assert!(passes.iter().all(|&i| i > set));
    assert_eq!(out.matches("off").count(), 3);
}

#[test]
fn a_condition_gives_its_lock_back_while_waiting() {
    let (t, out) = traced("condition.py");
    completed(&t);
    let changed = res(&t, "changed");
    let f = &facts(&t)[changed as usize];
    assert_eq!(f.most_holders, 1);
    // Each notify sets what the waiters wait on; the waiter passes only after one.
    let wait = res(&t, "changed.wait");
    assert_eq!(
        count(&t, Some(lane(&t, "producer")), EventKind::Set, Some(wait)),
        5
    );
    assert!(out.contains("consumed 5"), "{out}");
}

#[test]
fn barrier_generations_are_whole() {
    let (t, _) = traced("barrier.py");
    completed(&t);
    let meet = res(&t, "meet");
    let f = &facts(&t)[meet as usize];
    assert_eq!(f.trips, 3);
    // Generations are whole: at every point, no more threads have passed than there were
    // complete groups of three arrivals (the next group may arrive while the last passes).
    let (mut arrived, mut passed) = (0, 0);
    for e in sorted(&t).iter().filter(|e| e.resource == Some(meet)) {
        match e.kind {
            EventKind::Arrive => arrived += 1,
            EventKind::Pass => passed += 1,
            _ => {}
        }
        assert!(
            passed <= arrived / 3 * 3,
            "{passed} passed after {arrived} arrivals"
        );
    }
    assert_eq!((arrived, passed), (9, 9));
}

#[test]
fn a_queue_never_holds_more_than_its_maxsize() {
    let (t, out) = traced("queue_workers.py");
    completed(&t);
    let jobs = res(&t, "jobs");
    let f = &facts(&t)[jobs as usize];
    assert_eq!((f.puts, f.takes), (12, 12));
    assert!(f.most_fill <= 2, "{f:?}");
    assert!(out.contains("jobs done"));
}

#[test]
fn a_thread_pool_is_its_worker_lanes() {
    let (t, out) = traced("pool.py");
    completed(&t);
    facts(&t);
    let workers = t
        .scenario
        .threads
        .iter()
        .filter(|x| x.name.starts_with("ThreadPoolExecutor"))
        .count();
    assert!((1..=3).contains(&workers), "{workers}");
    assert!(
        out.contains("total 55") && out.contains("map [0, 1, 4, 9]"),
        "{out}"
    );
    // The main thread waits on futures and passes each once it is done.
    let main = lane(&t, "MainThread");
    assert!(count(&t, Some(main), EventKind::Pass, None) >= 7);
}

#[test]
fn asyncio_tasks_are_lanes_on_their_loop() {
    let (t, out) = traced("asyncio_tasks.py");
    completed(&t);
    let facts = facts(&t);
    let lp = res(&t, "loop@MainThread");
    for name in ["MainThread/producer", "MainThread/consumer"] {
        let l = lane(&t, name);
        assert_eq!(count(&t, Some(l), EventKind::Start, None), 1);
        assert_eq!(count(&t, Some(l), EventKind::Done, None), 1);
        // Tied to the loop of the thread that runs it; it computes only holding the loop,
        // which the invariants above check.
        assert_eq!(t.scenario.threads[l as usize].event_loop, Some(lp));
        assert!(count(&t, Some(l), EventKind::Acquire, Some(lp)) >= 2);
    }
    // The loop's thread idles in select while every task awaits, and never then.
    let main = lane(&t, "MainThread");
    let mut holder = None;
    let mut idled = 0;
    for e in sorted(&t) {
        match (e.kind, e.resource) {
            (EventKind::Acquire, Some(r)) if r == lp => holder = Some(e.thread),
            (EventKind::Release, Some(r)) if r == lp => holder = None,
            (EventKind::Sleep, None) if e.thread == main => {
                idled += 1;
                assert_eq!(holder, None, "idle at {} while a task runs", e.t_ns);
            }
            _ => {}
        }
    }
    assert!(idled > 0, "the loop's thread never idled");
    let lock = res(&t, "lock");
    assert_eq!(facts[lock as usize].most_holders, 1);
    let q = res(&t, "q");
    assert!(facts[q as usize].most_fill <= 2);
    assert_eq!(facts[q as usize].puts, 6);
    assert!(out.contains("seen [0, 1, 2, 3, 4]"), "{out}");
}

/// A task ended by `CancelledError` (cancelled by another task, or by `wait_for`'s timeout)
/// reads cancelled, as the engine's tasks do; a task that returned reads done.
#[test]
fn a_cancelled_python_task_reads_cancelled_and_a_finished_one_done() {
    let (t, out) = traced("asyncio_cancel.py");
    completed(&t);
    assert!(out.contains("timed out"), "{out}");
    let last_state = |name: &str| {
        let l = lane(&t, name);
        sorted(&t)
            .iter()
            .filter(|e| e.thread == l)
            .rev()
            .find_map(|e| State::after(e, &t.scenario))
    };
    assert_eq!(last_state("MainThread/finisher"), Some(State::Done));
    for name in ["MainThread/victim", "MainThread/slow"] {
        assert_eq!(last_state(name), Some(State::Cancelled), "{name}");
        let l = lane(&t, name);
        assert_eq!(count(&t, Some(l), EventKind::Cancelled, None), 1, "{name}");
        assert_eq!(count(&t, Some(l), EventKind::Done, None), 0, "{name}");
    }
}

#[test]
fn processes_are_lanes_of_the_process_that_starts_them() {
    let (t, out) = traced("processes.py");
    completed(&t);
    for n in 0..2 {
        let p = lane(&t, &format!("napper-{n}"));
        assert_eq!(count(&t, Some(p), EventKind::Start, None), 1);
        assert_eq!(count(&t, Some(p), EventKind::Done, None), 1);
    }
    assert!(out.contains("exit codes [0, 0]"), "{out}");
}

fn threadlab(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_threadlab"));
    c.args(args).stdin(Stdio::null()).env("NO_COLOR", "1");
    c
}

/// `threadlab trace FIXTURE --headless ARGS…`: its exit code, stdout and stderr.
fn trace_headless(name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let script = fixture(name);
    let mut all = vec!["trace", script.to_str().unwrap(), "--headless"];
    all.extend_from_slice(args);
    let out = threadlab(&all).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_deadlock_exits_3_naming_threads_locks_and_lines() {
    let (code, stdout, stderr) = trace_headless("deadlock.py", &[]);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("left waits for knife held by right, right waits for fork held by left")
            || stdout
                .contains("right waits for fork held by left, left waits for knife held by right"),
        "{stdout}"
    );
    assert!(
        stderr.contains("left is stuck at") && stderr.contains("deadlock.py:13"),
        "{stderr}"
    );
    assert!(stderr.contains("deadlock.py:20"), "{stderr}");
}

/// A join on a queue waits for task-dones: the deadlock says so, and an unbounded queue is
/// called unbounded, never a capacity of four billion.
#[test]
fn a_join_nobody_will_mark_done_is_named_for_what_it_waits_for() {
    let (code, stdout, stderr) = trace_headless("forgotten_task_done.py", &["--for", "20s"]);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "MainThread waits for jobs, which no thread left can mark its items done (task_done)"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("capacity unbounded"), "{stdout}");
    assert!(!stdout.contains("4294967295"), "{stdout}");
}

#[test]
fn a_deadlocked_interpreter_is_killed() {
    let out = temp("deadlock-kill");
    let mut t = Tracing::start(&spawn("deadlock.py", &[], &out), Some(LIMIT)).unwrap();
    let pid = t.child().pid();
    assert_eq!(t.run_to_end(), End::Deadlock);
    assert!(gone(pid as i32, Duration::from_secs(5)));
    std::fs::remove_file(&out).ok();
}

/// Whether no process `pid` is left (reaped, or a zombie nobody runs) within `limit`.
fn gone(pid: i32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if common::gone(pid as u32) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The script's output and python3's, both streams into one file, and both exit codes.
fn both(name: &str) -> ((Option<i32>, String), (Option<i32>, String)) {
    let plain = temp(&format!("{name}-plain"));
    let f = std::fs::File::create(&plain).unwrap();
    let status = Command::new("python3")
        .arg(fixture(name))
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .status()
        .expect("python3 runs");
    let traced_out = temp(&format!("{name}-traced"));
    let ours = threadlab(&[
        "trace",
        fixture(name).to_str().unwrap(),
        "--headless",
        "--json",
        "--output",
        traced_out.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let read = |p: &Path| {
        let s = std::fs::read_to_string(p).unwrap();
        std::fs::remove_file(p).ok();
        s
    };
    (
        (status.code(), read(&plain)),
        (ours.status.code(), read(&traced_out)),
    )
}

#[test]
fn output_is_the_scripts_own_and_exit_codes_are_documented() {
    // Completed: the same output, exit 0.
    let ((py, a), (ours, b)) = both("threads.py");
    assert_eq!((py, ours), (Some(0), Some(0)));
    let lines = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(lines(&a), lines(&b));
    // An uncaught exception: the same traceback, byte for byte; python3 exits 1, so do we.
    let ((py, a), (ours, b)) = both("raises.py");
    assert_eq!((py, ours), (Some(1), Some(1)));
    assert_eq!(a, b);
    // A syntax error: the same message; 1 both.
    let ((py, a), (ours, b)) = both("syntax.py");
    assert_eq!((py, ours), (Some(1), Some(1)));
    assert_eq!(a, b);
    // Its own status: the same output and the same status as python3's, and stderr says
    // which status it was.
    let ((py, a), (ours, b)) = both("exits.py");
    assert_eq!((py, ours), (Some(7), Some(7)));
    assert_eq!(a, b);
    let out = threadlab(&["trace", fixture("exits.py").to_str().unwrap(), "--headless"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited with status 7"));
}

#[test]
fn a_program_that_never_ends_is_stopped_by_for() {
    let start = Instant::now();
    let out = threadlab(&[
        "trace",
        fixture("forever.py").to_str().unwrap(),
        "--headless",
        "--for",
        "300ms",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(start.elapsed() < LIMIT);
}

#[test]
fn piped_input_reaches_the_script_and_a_missing_python_is_a_usage_error() {
    let mut c = threadlab(&["trace", fixture("stdin.py").to_str().unwrap(), "--headless"]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hello").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("read 5"));

    let out = threadlab(&[
        "trace",
        fixture("threads.py").to_str().unwrap(),
        "--headless",
    ])
    .env("THREADLAB_PYTHON", "/nonexistent/python3")
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot run") && err.contains("help:"), "{err}");

    // An interpreter too old for the tracer is refused before the script runs.
    let old = temp("python3.6");
    std::fs::write(&old, "#!/bin/sh\necho 3.6\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = threadlab(&[
        "trace",
        fixture("threads.py").to_str().unwrap(),
        "--headless",
    ])
    .env("THREADLAB_PYTHON", &old)
    .output()
    .unwrap();
    std::fs::remove_file(&old).ok();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Python 3.6") && err.contains("3.8 or later"),
        "{err}"
    );

    let out = threadlab(&["trace", "no-such-script.py", "--headless"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn read_count(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn pause_holds_the_programs_own_progress_and_step_lets_one_operation_pass() {
    let counted = temp("progress-count");
    let out = temp("progress-out");
    let mut t = Tracing::start(
        &spawn("progress.py", &[counted.to_str().unwrap()], &out),
        Some(LIMIT),
    )
    .unwrap();
    let poll_until = |t: &mut Tracing, what: &dyn Fn(&Tracing) -> bool| {
        let until = Instant::now() + LIMIT;
        while !what(t) {
            assert!(Instant::now() < until, "bounded wait ran out");
            assert_eq!(t.poll(Duration::from_millis(10)), None, "the program ended");
        }
    };
    poll_until(&mut t, &|_| read_count(&counted) > 0);
    t.pause();
    poll_until(&mut t, &|t| {
        t.events().iter().any(|e| e.kind == EventKind::Hold)
    });
    let held = read_count(&counted);
    let events_held = t.events().len();
    // Held: for a while, the program neither counts nor passes an operation.
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        t.poll(Duration::from_millis(10));
    }
    assert_eq!(read_count(&counted), held);
    assert_eq!(t.events().len(), events_held);
    // One step: exactly one operation (an acquire or a release of the guard) passes.
    t.step(None);
    poll_until(&mut t, &|t| {
        t.events()[events_held..]
            .iter()
            .any(|e| matches!(e.kind, EventKind::Acquire | EventKind::Release))
    });
    let until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < until {
        t.poll(Duration::from_millis(10));
    }
    let passed = t.events()[events_held..]
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Acquire | EventKind::Release))
        .count();
    assert_eq!(passed, 1);
    assert!(read_count(&counted) <= held + 1);
    t.resume();
    poll_until(&mut t, &|_| read_count(&counted) > held + 10);
    drop(t);
    std::fs::remove_file(&counted).ok();
    std::fs::remove_file(&out).ok();
}

/// The python3 child of process `parent`, once it has one.
fn child_of(parent: u32) -> Option<i32> {
    let until = Instant::now() + LIMIT;
    while Instant::now() < until {
        let running_script = |pid: &u32| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.contains("forever.py"))
        };
        if let Some(pid) = common::children_of(parent).into_iter().find(running_script) {
            return Some(pid as i32);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
#[cfg(target_os = "linux")]
fn no_python_outlives_threadlab_on_a_signal() {
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGKILL] {
        let mut tl = threadlab(&[
            "trace",
            fixture("forever.py").to_str().unwrap(),
            "--headless",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let py = child_of(tl.id()).expect("threadlab starts python3");
        // SAFETY: signalling the threadlab process this test started.
        unsafe { libc::kill(tl.id() as i32, sig) };
        tl.wait().unwrap();
        assert!(
            gone(py, Duration::from_secs(5)),
            "python3 outlived signal {sig}"
        );
    }
}

#[test]
fn threads_that_all_wait_for_what_nobody_can_give_are_a_deadlock() {
    let out = threadlab(&["trace", fixture("stuck.py").to_str().unwrap(), "--headless"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("MainThread waits for q, which no thread left can fill")
            || stdout.contains("helper waits for done, which no thread left can set"),
        "{stdout}"
    );
    assert!(
        stderr.contains("MainThread is stuck at") && stderr.contains("stuck.py:15"),
        "{stderr}"
    );
    assert!(
        stderr.contains("helper is stuck at") && stderr.contains("stuck.py:10"),
        "{stderr}"
    );
}

#[test]
fn a_traced_program_exports_as_a_chrome_trace_with_its_threads_as_tracks() {
    let out = temp("export.json");
    let status = threadlab(&[
        "export",
        fixture("condition.py").to_str().unwrap(),
        "--format",
        "chrome",
        "-o",
        out.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(status.status.code(), Some(0));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    std::fs::remove_file(&out).ok();
    let names: Vec<&str> = json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    for lane in ["MainThread", "consumer", "producer"] {
        assert!(names.contains(&lane), "{names:?}");
    }
}

#[test]
fn timers_lifo_and_priority_queues_bounded_and_asyncio_semaphores_keep_their_promises() {
    let (t, out) = traced("more.py");
    completed(&t);
    let facts = facts(&t);
    // The timer's call sets the event from the timer's own thread, which the main thread
    // waited for.
    let fired = res(&t, "fired");
    assert_eq!(facts[fired as usize].sets, 1);
    assert_eq!(facts[fired as usize].passes, 1);
    assert!(facts[res(&t, "pq") as usize].most_fill <= 3);
    // The release that raised gave nothing back, so nothing says it did.
    let bs = res(&t, "bs");
    assert_eq!(count(&t, None, EventKind::Release, Some(bs)), 1);
    assert!(facts[res(&t, "sem") as usize].most_holders <= 2);
    let ((py, a), (ours, b)) = both("more.py");
    assert_eq!((py, ours), (Some(0), Some(0)));
    assert_eq!(a, b);
    assert!(out.contains("bounded ValueError"), "{out}");
}

#[test]
fn a_program_that_prints_a_lot_keeps_every_line_off_the_json() {
    let out = threadlab(&[
        "trace",
        fixture("noisy.py").to_str().unwrap(),
        "--headless",
        "--json",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(summary["outcome"], "completed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("line ")).count(),
        20000
    );
}

/// Run time stops while the gate holds the program: a run paused for over a second spans
/// about the run time of one never paused, and no gap between its events is the pause.
#[test]
fn a_pause_leaves_no_hole_in_run_time() {
    let span = |t: &Traced| {
        let e = sorted(t);
        e.last().unwrap().t_ns - e.first().unwrap().t_ns
    };
    let (free, _) = traced("paced.py");
    completed(&free);
    let out = temp("paced-out");
    let mut t = Tracing::start(&spawn("paced.py", &[], &out), Some(LIMIT)).unwrap();
    let until = Instant::now() + LIMIT;
    while count_kind(t.events(), EventKind::Acquire) < 5 {
        assert!(Instant::now() < until, "bounded wait ran out");
        assert_eq!(t.poll(Duration::from_millis(5)), None, "the program ended");
    }
    let paused_at = Instant::now();
    t.pause();
    while !t.events().iter().any(|e| e.kind == EventKind::Hold) {
        assert!(Instant::now() < until, "bounded wait ran out");
        t.poll(Duration::from_millis(5));
    }
    let held_at = t.now_ns();
    while paused_at.elapsed() < Duration::from_millis(1200) {
        t.poll(Duration::from_millis(20));
    }
    // The clock the view draws stands still too.
    assert!(t.now_ns() - held_at < 50_000_000);
    let pause = paused_at.elapsed().as_nanos() as u64;
    t.resume();
    assert!(
        matches!(t.run_to_end(), End::Exited { code: Some(0), .. }),
        "the program ran to its end"
    );
    let held = t.into_parts();
    std::fs::remove_file(&out).ok();
    let events = sorted(&held);
    let widest = events
        .windows(2)
        .map(|w| w[1].t_ns - w[0].t_ns)
        .max()
        .unwrap();
    assert!(
        widest < pause / 2,
        "a gap of {widest} ns in run time for a pause of {pause} ns"
    );
    assert!(
        span(&held) < span(&free) + pause / 2,
        "paused run spans {} ns, unpaused {} ns, pause {pause} ns",
        span(&held),
        span(&free)
    );
}

fn count_kind(events: &[Event], kind: EventKind) -> usize {
    events.iter().filter(|e| e.kind == kind).count()
}

/// Locks made several to a line are named by their own targets, not numbered copies of one.
#[test]
fn locks_made_on_one_line_have_their_own_names() {
    let (t, _) = traced("one_line.py");
    completed(&t);
    facts(&t);
    let names: Vec<&str> = t
        .scenario
        .resources
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    for name in ["a", "b", "forks[0]", "forks[1]", "forks[2]"] {
        let r = res(&t, name);
        assert_eq!(
            count(&t, Some(lane(&t, "diner")), EventKind::Acquire, Some(r)),
            1,
            "{name} in {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n.contains('#')), "{names:?}");
}

/// `trace --record FILE` saves what `replay FILE` opens and `export FILE` draws: the same
/// lanes, resources, events, outcome and deadlock, with no scenario file behind it.
#[test]
fn a_recorded_trace_replays_and_exports_as_it_ran() {
    let rec = temp("deadlock.rec.json");
    let script = fixture("deadlock.py");
    let json_of = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    };
    let live = threadlab(&[
        "trace",
        script.to_str().unwrap(),
        "--json",
        "--record",
        rec.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(
        live.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let replayed = threadlab(&["replay", rec.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(
        replayed.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let (live, replayed) = (json_of(&live), json_of(&replayed));
    for key in ["outcome", "deadlock", "threads", "resources"] {
        assert_eq!(live[key], replayed[key], "{key}");
    }
    // The recording keeps the program's source, for the code pane, and its lanes.
    let loaded = threadlab::vocab::recording::Recording::load(&rec).unwrap();
    assert!(loaded.scenario.source.contains("both_hold.wait()"));
    let lanes: Vec<&str> = loaded
        .scenario
        .threads
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    for lane in ["MainThread", "left", "right"] {
        assert!(lanes.contains(&lane), "{lanes:?}");
    }
    assert!(
        loaded
            .scenario
            .threads
            .iter()
            .flat_map(|t| &t.steps)
            .any(|s| s.line == 13),
        "a step on the line where left is stuck"
    );
    let svg = temp("deadlock.svg");
    let out = threadlab(&[
        "export",
        rec.to_str().unwrap(),
        "--format",
        "svg",
        "-o",
        svg.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.contains("left") && drawn.contains("right"));
    std::fs::remove_file(&svg).ok();
    // A damaged model is refused with a reason, not a panic.
    let text = std::fs::read_to_string(&rec).unwrap();
    std::fs::write(
        &rec,
        text.replace("\"kind\":\"mutex\"", "\"kind\":\"spoon\""),
    )
    .unwrap();
    let bad = threadlab(&["replay", rec.to_str().unwrap(), "--headless"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown kind `spoon`"));
    std::fs::remove_file(&rec).ok();
}

/// Tasks are drawn beneath the thread that runs their loop, even when lanes made before
/// their first step sit in between.
#[test]
fn tasks_are_grouped_under_their_loops_thread() {
    let (t, _) = traced("loop_in_thread.py");
    completed(&t);
    facts(&t);
    let names: Vec<&str> = t.scenario.threads.iter().map(|x| x.name.as_str()).collect();
    let at = |n: &str| lane(&t, n) as usize;
    let server = at("server");
    let tasks = [at("server/Task-1"), at("server/slow"), at("server/fast")];
    let mut expected = tasks.to_vec();
    expected.sort();
    assert_eq!(expected, [server + 1, server + 2, server + 3], "{names:?}");
    assert!(at("ticker") > server + 3, "{names:?}");
    let lp = res(&t, "loop@server");
    for x in tasks {
        assert_eq!(t.scenario.threads[x].event_loop, Some(lp));
    }
    // The events moved with their lanes: every task's first event is its start.
    for x in tasks {
        let first = sorted(&t)
            .into_iter()
            .find(|e| e.thread as usize == x)
            .unwrap();
        assert_eq!(first.kind, EventKind::Start, "{}", names[x]);
    }
    let ticker = at("ticker");
    assert_eq!(
        count(
            &t,
            Some(ticker as ThreadIdx),
            EventKind::Acquire,
            Some(res(&t, "guard"))
        ),
        3
    );
}

/// Waits a program makes through the library (a result of `Executor.map`, the next of
/// `as_completed`, `Future.exception`, `wait_for`, `to_thread`, an awaited task,
/// `asyncio.wait`) are drawn as waits for what they wait on: from the wait's start until
/// after the helper that ends it has seen it waiting, the lane is never drawn running.
#[test]
fn waits_made_through_the_library_are_drawn_as_waits() {
    let (t, out) = traced("library_waits.py");
    completed(&t);
    assert!(t.deadlock.is_none(), "{:?}", t.deadlock);
    for line in [
        "map [1]",
        "as_completed [2]",
        "exception None",
        "wait_for 4",
        "to_thread 5",
        "task 4",
        "wait [4]",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let events = sorted(&t);
    let markers: Vec<ResIdx> = (0..t.scenario.resources.len() as ResIdx)
        .filter(|&r| t.scenario.resource_name(r).starts_with("marker"))
        .collect();
    // Each helper makes its marker on one line; Python may give a new marker the id of one
    // already gone, and then the model reads them as one resource: so not counted.
    assert!(!markers.is_empty(), "{:?}", t.scenario.resources);
    for (waiter, what) in [
        ("mapper", "map(after_waiting)"),
        ("collector", "as_completed()"),
        ("checker", "after_waiting()"),
        ("MainThread/wf", "wait_for()"),
        ("MainThread/tt", "to_thread()"),
        ("MainThread/joiner", "sleeper"),
        ("MainThread/waiter", "wait()"),
    ] {
        let w = lane(&t, waiter);
        // A future may take the id of one gone before it, and its resource with it: `what`
        // or `what#N`.
        let is_what = |r: ResIdx| {
            let name = t.scenario.resource_name(r);
            name == what || name.strip_prefix(what).is_some_and(|n| n.starts_with('#'))
        };
        let block = events
            .iter()
            .position(|e| {
                e.thread == w && e.kind == EventKind::Block && e.resource.is_some_and(is_what)
            })
            .unwrap_or_else(|| panic!("{waiter} never waits on {what}"));
        let next = events[block + 1..]
            .iter()
            .position(|e| e.thread == w)
            .map(|i| block + 1 + i)
            .unwrap_or_else(|| panic!("{waiter}'s wait never ends"));
        // The helper sets a marker only once it has seen the waiter waiting: that set lies
        // inside the drawn wait.
        assert!(
            events[block..next]
                .iter()
                .any(|e| e.kind == EventKind::Set
                    && e.resource.is_some_and(|m| markers.contains(&m))),
            "{waiter}'s wait on {what} ends before its helper saw it waiting: {:?}",
            &events[block..=next]
        );
        // Nothing but the loop's hand-back says anything of the waiter in between.
        assert!(
            events[block + 1..next]
                .iter()
                .filter(|e| e.thread == w)
                .all(|e| e.kind == EventKind::Release),
            "{waiter}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The campaign: random real Python programs of the kind a class is taught (locks, RLock,
// Condition, Semaphore, Event, Barrier, queues, pools, daemon threads, exceptions in threads,
// exit codes, asyncio), each run by python3 and by `threadlab trace --headless`; both must end
// the same way, print the same lines (as a multiset: threads print in racy orders), hang only
// where python3 hangs (a built-in deadlock, which threadlab must report), and leave no process
// behind.

/// xorshift64*: the same programs for the same seed on any machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// How a generated program ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    Normally,
    Exit(u8),
    /// `os._exit` from a thread while the main thread sleeps.
    OsExit(u8),
    /// An exception out of `asyncio.run`.
    Raises,
    /// Two threads take two locks in opposite orders, each holding its first, or a pool
    /// worker takes a Lock it holds beside idle workers: python3 hangs.
    Deadlocks,
}

/// One block of a program: a function `block_N` that uses one construct and says what it saw
/// in lines that do not depend on the schedule.
fn block(rng: &mut Rng, i: usize) -> String {
    let n = rng.range(2, 5);
    let body = match rng.below(35) {
        0 => {
            let (m, rlock) = (rng.range(5, 60), rng.chance(50));
            let (kind, inner) = if rlock {
                ("RLock", "with lock:\n                    ")
            } else {
                ("Lock", "")
            };
            format!(
                "    lock = threading.{kind}()
    total = [0]
    def work():
        for _ in range({m}):
            with lock:
                {inner}total[0] += 1
    ts = [threading.Thread(target=work) for _ in range({n})]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    say('lock', {i}, total[0])
"
            )
        }
        1 => {
            let (items, cap) = (rng.range(1, 8), rng.range(1, 3));
            format!(
                "    cv = threading.Condition()
    buf, got = [], []
    def producer(k):
        for j in range({items}):
            with cv:
                cv.wait_for(lambda: len(buf) < {cap})
                buf.append(k * 100 + j)
                cv.notify_all()
    def consumer():
        for _ in range({n} * {items}):
            with cv:
                while not buf:
                    cv.wait()
                got.append(buf.pop(0))
                cv.notify_all()
    c = threading.Thread(target=consumer)
    c.start()
    ps = [threading.Thread(target=producer, args=(k,)) for k in range({n})]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    c.join()
    say('condition', {i}, len(got), sum(got))
"
            )
        }
        2 => {
            let k = rng.range(1, 3);
            let kind = if rng.chance(50) {
                "Semaphore"
            } else {
                "BoundedSemaphore"
            };
            let ms = rng.range(0, 5);
            format!(
                "    sem = threading.{kind}({k})
    guard = threading.Lock()
    inside, most = [0], [0]
    def work():
        with sem:
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep({ms} / 1000)
            with guard:
                inside[0] -= 1
    ts = [threading.Thread(target=work) for _ in range({n})]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    say('semaphore', {i}, most[0] <= {k}, inside[0])
"
            )
        }
        3 => format!(
            "    ev = threading.Event()
    seen = []
    def waiter(j):
        ev.wait()
        seen.append(j)
    ts = [threading.Thread(target=waiter, args=(j,)) for j in range({n})]
    for t in ts:
        t.start()
    say('early', {i}, ev.wait(0.01))
    ev.set()
    for t in ts:
        t.join()
    say('event', {i}, sorted(seen), ev.is_set())
"
        ),
        4 => {
            let rounds = rng.range(1, 3);
            let action = if rng.chance(50) {
                ", action=lambda: None"
            } else {
                ""
            };
            format!(
                "    b = threading.Barrier({n}{action})
    hits = []
    def work(j):
        for r in range({rounds}):
            b.wait()
            hits.append(r)
    ts = [threading.Thread(target=work, args=(j,)) for j in range({n})]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    say('barrier', {i}, sorted(hits))
"
            )
        }
        5 => {
            let maxsize = rng.range(0, 3);
            let items = rng.range(1, 10);
            let consumers = rng.range(1, 3);
            let kind = ["Queue", "LifoQueue", "PriorityQueue"][rng.below(3) as usize];
            // Only a FIFO queue hands every item out before the stop marks put after them.
            let join = if kind != "Queue" || rng.chance(50) {
                "q.join()"
            } else {
                "pass"
            };
            format!(
                "    q = queue.{kind}({maxsize})
    out = []
    lk = threading.Lock()
    def producer(k):
        for j in range({items}):
            q.put(k * 100 + j)
    def consumer():
        while True:
            x = q.get()
            if x < 0:
                q.task_done()
                break
            with lk:
                out.append(x)
            q.task_done()
    cs = [threading.Thread(target=consumer) for _ in range({consumers})]
    ps = [threading.Thread(target=producer, args=(k,)) for k in range({n})]
    for t in cs + ps:
        t.start()
    for p in ps:
        p.join()
    {join}
    for _ in cs:
        q.put(-1)
    for c in cs:
        c.join()
    say('queue', {i}, len(out), sum(out))
"
            )
        }
        6 => {
            let (workers, count) = (rng.range(1, 4), rng.range(1, 8));
            let bad = if rng.chance(40) {
                rng.below(count) as i64
            } else {
                -1
            };
            let use_ = match rng.below(3) {
                0 => "        try:
            say('map', list(ex.map(task, range(COUNT))))
        except ValueError as e:
            say('map raised', e)
",
                1 => "        fs = [ex.submit(task, x) for x in range(COUNT)]
        for f in fs:
            try:
                say('result', f.result())
            except ValueError as e:
                say('raised', e)
",
                _ => "        fs = [ex.submit(task, x) for x in range(COUNT)]
        done = sorted(repr(f.exception()) if f.exception() else str(f.result()) for f in as_completed(fs))
        say('as_completed', done)
",
            }
            .replace("COUNT", &count.to_string());
            format!(
                "    def task(x):
        time.sleep((x % 3) / 1000)
        if x == {bad}:
            raise ValueError('bad %d' % x)
        return x * x
    with ThreadPoolExecutor(max_workers={workers}) as ex:
{use_}    say('pool', {i})
"
            )
        }
        7 => format!(
            "    def forever():
        while True:
            time.sleep(0.05)
    threading.Thread(target=forever, daemon=True).start()
    say('daemon', {i})
"
        ),
        8 => format!(
            "    def boom():
        raise RuntimeError('boom {i}')
    t = threading.Thread(target=boom, name='boom{i}')
    t.start()
    t.join()
    say('after boom', {i})
"
        ),
        9 => format!(
            "    lock = threading.Lock()
    held, done = threading.Event(), threading.Event()
    def holder():
        with lock:
            held.set()
            done.wait()
    t = threading.Thread(target=holder)
    t.start()
    held.wait()
    say('try', {i}, lock.acquire(timeout=0.02), lock.acquire(blocking=False))
    done.set()
    t.join()
    say('free', {i}, lock.acquire(timeout=5))
    lock.release()
"
        ),
        10 => format!(
            "    q = queue.Queue()
    try:
        q.get(timeout=0.02)
    except queue.Empty:
        say('empty', {i})
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    t.join(0.02)
    say('alive', {i}, t.is_alive())
    stop.set()
    t.join()
    say('alive', {i}, t.is_alive())
"
        ),
        11 => {
            let ms = rng.range(0, 20);
            format!(
                "    async def job(j):
        await asyncio.sleep(({ms} + j) / 1000)
        return j * 2
    async def amain():
        return await asyncio.gather(*(job(j) for j in range({n})))
    say('gather', {i}, asyncio.run(amain()))
"
            )
        }
        12 => {
            let (maxsize, items) = (rng.range(0, 2), rng.range(1, 6));
            format!(
                "    async def amain():
        q = asyncio.Queue({maxsize})
        got = []
        async def producer(k):
            for j in range({items}):
                await q.put(k * 10 + j)
        async def consumer():
            while True:
                x = await q.get()
                got.append(x)
                q.task_done()
        c = asyncio.create_task(consumer())
        await asyncio.gather(*(producer(k) for k in range({n})))
        await q.join()
        c.cancel()
        try:
            await c
        except asyncio.CancelledError:
            pass
        return sorted(got)
    say('aqueue', {i}, asyncio.run(amain()))
"
            )
        }
        13 => {
            let k = rng.range(1, 3);
            format!(
                "    async def amain():
        lock, sem = asyncio.Lock(), asyncio.Semaphore({k})
        total, inside, most = [0], [0], [0]
        async def work():
            async with sem:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                await asyncio.sleep(0.001)
                inside[0] -= 1
            async with lock:
                v = total[0]
                await asyncio.sleep(0)
                total[0] = v + 1
        await asyncio.gather(*(work() for _ in range({n})))
        return total[0], most[0] <= {k}
    say('alock', {i}, asyncio.run(amain()))
"
            )
        }
        14 => format!(
            "    def blocking(x):
        time.sleep(0.005)
        return x + 1
    async def amain():
        try:
            await asyncio.wait_for(asyncio.sleep(5), 0.02)
        except asyncio.TimeoutError:
            say('timed out', {i})
        r = await asyncio.wait_for(asyncio.to_thread(blocking, {n}), 10)
        ev = asyncio.Event()
        async def setter():
            await asyncio.sleep(0.005)
            ev.set()
        t = asyncio.create_task(setter())
        await ev.wait()
        await t
        return r
    say('to_thread', {i}, asyncio.run(amain()))
"
        ),
        16 => format!(
            "    fired = threading.Event()
    t = threading.Timer(0.01, fired.set)
    t.start()
    never = threading.Timer(30, fired.clear)
    never.start()
    never.cancel()
    t.join()
    never.join()
    say('timer', {i}, fired.is_set())
"
        ),
        17 => format!(
            "    import multiprocessing as mp
    q = mp.Queue()
    ps = [mp.Process(target=q.put, args=(j,)) for j in range({n})]
    for p in ps:
        p.start()
    got = sorted(q.get(timeout=20) for _ in ps)
    for p in ps:
        p.join()
    say('processes', {i}, got, [p.exitcode for p in ps])
"
        ),
        18 => format!(
            "    def quits():
        sys.exit(5)
    t = threading.Thread(target=quits)
    t.start()
    t.join()
    sys.stderr.write('stderr {i}\\n')
    say('thread exit', {i})
"
        ),
        19 => format!(
            "    b = threading.Barrier({n} + 1)
    broken = []
    def work():
        try:
            b.wait()
        except threading.BrokenBarrierError:
            broken.append(1)
    ts = [threading.Thread(target=work) for _ in range({n})]
    for t in ts:
        t.start()
    while b.n_waiting < {n}:
        time.sleep(0.001)
    b.abort()
    for t in ts:
        t.join()
    say('broken', {i}, len(broken), b.broken)
"
        ),
        20 => format!(
            "    cv = threading.Condition()
    with cv:
        say('cv timeout', {i}, cv.wait(0.01), cv.wait_for(lambda: False, 0.01))
    sem = threading.Semaphore(0)
    say('sem timeout', {i}, sem.acquire(timeout=0.01), sem.acquire(False))
"
        ),
        21 => format!(
            "    q = queue.SimpleQueue()
    def put(j):
        time.sleep(0.002)
        q.put(j)
    ts = [threading.Thread(target=put, args=(j,)) for j in range({n})]
    for t in ts:
        t.start()
    got = sorted(q.get() for _ in ts)
    for t in ts:
        t.join()
    say('simple', {i}, got, q.empty())
"
        ),
        22 => format!(
            "    from concurrent.futures import wait, FIRST_COMPLETED
    gate = threading.Event()
    def slow(x):
        gate.wait()
        return x
    with ThreadPoolExecutor({n} + 1) as ex:
        fs = [ex.submit(slow, j) for j in range({n})]
        quick = ex.submit(abs, -{i})
        done, pending = wait([quick] + fs, return_when=FIRST_COMPLETED)
        say('first', {i}, quick in done)
        gate.set()
        done, pending = wait(fs)
        say('all', {i}, len(done), len(pending))
"
        ),
        23 => format!(
            "    import multiprocessing as mp
    with mp.Pool(2) as pool:
        say('pool map', {i}, pool.map(abs, range(-{n}, 0)))
"
        ),
        24 => format!(
            "    def task():
        raise ArithmeticError('in pool {i}')
    with ThreadPoolExecutor(1) as ex:
        f = ex.submit(task)
        try:
            f.result()
        except ArithmeticError as e:
            say('caught', {i}, e)
    local = threading.local()
    def own(j):
        local.v = j
        time.sleep(0.001)
        assert local.v == j
    ts = [threading.Thread(target=own, args=(j,)) for j in range({n})]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    say('local', {i})
"
        ),
        26 => format!(
            "    signal = threading.Lock()
    signal.acquire()
    permits = threading.Semaphore(0)
    def giver(j):
        time.sleep((j + 20) / 1000)
        permits.release()
        if j == 0:
            signal.release()
    ts = [threading.Thread(target=giver, args=(j,)) for j in range({n})]
    for t in ts:
        t.start()
    signal.acquire()
    for _ in ts:
        permits.acquire()
    for t in ts:
        t.join()
    say('signals', {i}, signal.locked())
    signal.release()
"
        ),
        27 => format!(
            "    a, b = threading.Lock(), threading.Lock()
    both = threading.Barrier(2)
    tries = []
    def one(first, second):
        with first:
            both.wait()
            got = second.acquire(timeout=0.05)
            if got:
                second.release()
            tries.append(got)
    ts = [threading.Thread(target=one, args=(a, b)), threading.Thread(target=one, args=(b, a))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    say('backed off', {i}, len(tries))
"
        ),
        28 => format!(
            "    lock = threading.Lock()
    cv = threading.Condition(lock)
    ready = []
    def maker(j):
        with lock:
            ready.append(j)
            cv.notify()
    ts = [threading.Thread(target=maker, args=(j,)) for j in range({n})]
    with cv:
        for t in ts:
            t.start()
        while len(ready) < {n}:
            cv.wait()
    for t in ts:
        t.join()
    say('shared lock', {i}, sorted(ready))
"
        ),
        29 => format!(
            "    done = threading.Event()
    inner = []
    def outer():
        t = threading.Thread(target=inner.append, args=(1,))
        t.start()
        t.join()
        done.set()
    o = threading.Thread(target=outer)
    o.start()
    done.wait()
    o.join()
    with ThreadPoolExecutor(2) as ex:
        called = threading.Event()
        f = ex.submit(pow, 2, {n})
        f.add_done_callback(lambda f: called.set())
        called.wait()
        say('nested', {i}, inner, f.result())
"
        ),
        30 => format!(
            "    rl = threading.RLock()
    def deep(k):
        with rl:
            return 0 if k == 0 else 1 + deep(k - 1)
    results = []
    ts = [threading.Thread(target=lambda: results.append(deep({n}))) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    rl.acquire()
    rl.acquire()
    rl.release()
    rl.release()
    say('rlock depth', {i}, results)
"
        ),
        // Waits for the world outside the program, made deterministic: a socket pair, a
        // pipe read through select, a listening socket, a child python3.
        31 => format!(
            "    a, b = socket.socketpair()
    def echo():
        while True:
            data = b.recv(16)
            if not data:
                break
            b.sendall(data.upper())
        b.close()
    t = threading.Thread(target=echo)
    t.start()
    got = []
    for j in range({n}):
        a.sendall(b'm%d' % j)
        got.append(a.recv(16).decode())
    a.close()
    t.join()
    say('echo', {i}, got)
"
        ),
        32 => format!(
            "    r, w = os.pipe()
    def writer():
        for j in range({n}):
            os.write(w, b'x' * (j + 1))
            time.sleep(0.001)
        os.close(w)
    t = threading.Thread(target=writer)
    t.start()
    total = 0
    while True:
        select.select([r], [], [])
        chunk = os.read(r, 64)
        if not chunk:
            break
        total += len(chunk)
    os.close(r)
    t.join()
    say('pipe', {i}, total)
"
        ),
        33 => format!(
            "    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen({n})
    def client(j):
        with socket.create_connection(srv.getsockname()) as c:
            c.sendall(b'%d' % j)
    ts = [threading.Thread(target=client, args=(j,)) for j in range({n})]
    for t in ts:
        t.start()
    got = []
    for _ in range({n}):
        conn, _ = srv.accept()
        with conn:
            data = b''
            while True:
                chunk = conn.recv(16)
                if not chunk:
                    break
                data += chunk
        got.append(int(data))
    for t in ts:
        t.join()
    srv.close()
    say('served', {i}, sorted(got))
"
        ),
        34 => {
            let how = rng.below(3);
            format!(
                "    code = 'import sys; print(sum(map(int, sys.stdin.read().split()))); sys.exit({n})'
    if {how} == 0:
        r = subprocess.run([sys.executable, '-c', code], input='1 2 {n}', capture_output=True, text=True)
        out, rc = r.stdout, r.returncode
    elif {how} == 1:
        p = subprocess.Popen([sys.executable, '-c', code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        out, _ = p.communicate('1 2 {n}')
        rc = p.returncode
    else:
        rd, wr = os.pipe()
        p = subprocess.Popen([sys.executable, '-c', code], stdin=rd, stdout=subprocess.PIPE, text=True)
        os.close(rd)
        os.write(wr, b'1 2 {n}')
        os.close(wr)
        rc = p.wait()
        out = p.stdout.read()
        p.stdout.close()
    say('child', {i}, out.strip(), rc)
"
            )
        }
        _ => format!(
            "    async def bad(j):
        await asyncio.sleep(0)
        if j % 2:
            raise KeyError(j)
        return j
    async def amain():
        rs = await asyncio.gather(*(bad(j) for j in range({n})), return_exceptions=True)
        return [repr(r) for r in rs]
    say('agather', {i}, asyncio.run(amain()))
"
        ),
    };
    format!("def block_{i}():\n{body}\n\n")
}

/// A random program, and how it ends.
fn program(seed: u64) -> (String, Ending) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut text = String::from(
        "import asyncio\nimport os\nimport queue\nimport select\nimport socket\nimport subprocess\n\
         import sys\nimport threading\nimport time\n\
         from concurrent.futures import ThreadPoolExecutor, as_completed\n\n\n\
         def say(*a):\n    sys.stdout.write(' '.join(map(str, a)) + '\\n')\n    sys.stdout.flush()\n\n\n",
    );
    let blocks = rng.range(1, 5) as usize;
    for i in 0..blocks {
        text += &block(&mut rng, i);
    }
    let ending = match rng.below(12) {
        0 => Ending::Exit(rng.range(0, 9) as u8),
        3 => Ending::OsExit(rng.range(0, 9) as u8),
        1 => Ending::Raises,
        2 => Ending::Deadlocks,
        _ => Ending::Normally,
    };
    for i in 0..blocks {
        text += &format!("block_{i}()\n");
    }
    text += match ending {
        Ending::Normally => "say('end')\n".to_string(),
        Ending::Exit(c) => format!("sys.exit({c})\n"),
        Ending::OsExit(c) => format!(
            "import os\nthreading.Thread(target=os._exit, args=({c},)).start()\ntime.sleep(30)\n"
        ),
        Ending::Raises => "async def fails():\n    await asyncio.sleep(0)\n    raise LookupError('the end')\nasyncio.run(fails())\n".to_string(),
        // A pool worker takes a Lock it holds while its pool's other workers idle.
        Ending::Deadlocks if rng.chance(50) => "lock = threading.Lock()
def again():
    with lock:
        with lock:
            pass
ex = ThreadPoolExecutor(3)
for f in [ex.submit(time.sleep, 0.01) for _ in range(3)]:
    f.result()
ex.submit(again).result()
"
        .to_string(),
        Ending::Deadlocks => "a, b = threading.Lock(), threading.Lock()
both = threading.Barrier(2)
def one():
    with a:
        both.wait()
        with b:
            pass
def two():
    with b:
        both.wait()
        with a:
            pass
ts = [threading.Thread(target=one), threading.Thread(target=two)]
for t in ts:
    t.start()
for t in ts:
    t.join()
"
        .to_string(),
    }
    .as_str();
    (text, ending)
}

/// How one run of a program ended: its exit code (`None`: killed at the time bound), its
/// stdout and its stderr.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to its end or to `bound`, then kills its process group.
fn run_bounded(mut cmd: Command, bound: Duration) -> Ran {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        out.read_to_end(&mut s).ok();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        err.read_to_end(&mut s).ok();
        s
    });
    let until = Instant::now() + bound;
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s.code().or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                s.signal().map(|n| 128 + n)
            });
        }
        if Instant::now() >= until {
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // A killed python3's group is gone with it; the pipes close.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    Ran {
        code,
        stdout: String::from_utf8_lossy(&reader.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

fn lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

/// Processes still running whose command line names `path`.
fn left_behind(path: &Path) -> Vec<u32> {
    let needle = path.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let zombie = common::stat(pid).is_some_and(|(_, _, s)| s == 'Z');
        if !zombie && String::from_utf8_lossy(&cmdline).contains(&needle) {
            out.push(pid);
        }
    }
    out
}

/// Runs program `seed` both ways; what differs, if anything.
fn disagreement(seed: u64) -> Option<String> {
    let (text, ending) = program(seed);
    let dir = temp(&format!("campaign-{seed}"));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join(format!("prog_{seed}.py"));
    std::fs::write(&script, &text).unwrap();
    // python3 hangs only on the built-in deadlock; a shorter bound says so, still long enough
    // for everything before it to have run and printed on a loaded machine.
    let py_bound = if ending == Ending::Deadlocks {
        Duration::from_secs(10)
    } else {
        LIMIT
    };
    let mut py = Command::new("python3");
    py.arg(&script).current_dir(&dir);
    let py = run_bounded(py, py_bound);
    let mut tl = Command::new(env!("CARGO_BIN_EXE_threadlab"));
    tl.args(["trace", "--headless", "--for", "40s"])
        .arg(&script)
        .current_dir(&dir);
    let tl = run_bounded(tl, Duration::from_secs(60));
    let mut problems = Vec::new();
    match (py.code, tl.code) {
        (None, Some(3)) if ending == Ending::Deadlocks => {}
        (Some(a), Some(b)) if a == b => {}
        (a, b) => problems.push(format!("exit: python3 {a:?}, threadlab {b:?}")),
    }
    // threadlab's report follows the program's own output on stdout.
    let header = format!("{} (prog_{seed})\n", script.display());
    let program_out = match tl.stdout.rfind(&header) {
        Some(at) if at == 0 || tl.stdout.as_bytes()[at - 1] == b'\n' => &tl.stdout[..at],
        _ => {
            problems.push("no report on stdout".into());
            tl.stdout.as_str()
        }
    };
    if lines(program_out) != lines(&py.stdout) {
        problems.push(format!(
            "stdout differs:\n--- python3\n{}--- threadlab\n{program_out}",
            py.stdout
        ));
    }
    // Every line python3 wrote to stderr, and besides them only threadlab's own words.
    let mut extra = lines(&tl.stderr);
    for l in lines(&py.stderr) {
        match extra.iter().position(|x| *x == l) {
            Some(i) => {
                extra.remove(i);
            }
            None => problems.push(format!("stderr lacks {l:?}")),
        }
    }
    if ending != Ending::Deadlocks {
        for l in extra {
            if !(l.starts_with("error: ") || l.starts_with("warning: ")) {
                problems.push(format!("stderr has more: {l:?}"));
            }
        }
    }
    let mut left = left_behind(&script);
    for _ in 0..200 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        left = left_behind(&script);
    }
    if !left.is_empty() {
        problems.push(format!("processes left behind: {left:?}"));
        for pid in left {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
    if problems.is_empty() {
        std::fs::remove_dir_all(&dir).ok();
        None
    } else {
        Some(format!(
            "program {seed} ({}):\n{}\n{text}",
            script.display(),
            problems.join("\n")
        ))
    }
}

/// Runs programs `seeds` two at a time; every disagreement found.
fn campaign(seeds: std::ops::Range<u64>) -> Vec<String> {
    let next = std::sync::atomic::AtomicU64::new(seeds.start);
    let found = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if seed >= seeds.end {
                        break;
                    }
                    if let Some(d) = disagreement(seed) {
                        eprintln!("{d}");
                        found.lock().unwrap().push(d);
                    }
                }
            });
        }
    });
    found.into_inner().unwrap()
}

#[test]
fn random_programs_end_and_print_as_under_python3() {
    let found = campaign(0..6);
    assert!(found.is_empty(), "{}", found.join("\n\n"));
}

/// `THREADLAB_CAMPAIGN=N cargo test --test trace -- --ignored campaign --nocapture` runs N
/// programs (300 if not said).
#[test]
#[ignore]
fn campaign_of_random_programs_against_python3() {
    let n = std::env::var("THREADLAB_CAMPAIGN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let start = Instant::now();
    let found = campaign(1000..1000 + n);
    eprintln!(
        "{n} programs in {:.0?}: {} disagreements",
        start.elapsed(),
        found.len()
    );
    assert!(found.is_empty(), "{} of {n} disagree", found.len());
}

/// A Lock or a Semaphore is owned by no thread in Python: taken by one and given back by
/// another, it is a signal. The thread waiting on what it took itself is no deadlock, and the
/// permit given back by another thread is no longer held.
#[test]
fn a_lock_released_by_another_thread_is_a_signal_not_a_deadlock() {
    let (t, out) = traced("signal_lock.py");
    completed(&t);
    assert!(t.deadlock.is_none(), "{:?}", t.deadlock);
    assert!(
        out.contains("released by another") && out.contains("sem too"),
        "{out}"
    );
    let report = threadlab::cmd::trace::report(&t);
    let sem = report
        .summary
        .resources
        .iter()
        .find_map(|r| match r {
            ResourceFigures::Semaphore {
                name, most_holders, ..
            } if name == "sem" => Some(*most_holders),
            _ => None,
        })
        .expect("sem's figures");
    assert_eq!(sem, 1, "a 1-permit semaphore is held at most once");
}

/// Waits for the world outside the program (a socket, a pipe, select, a child process, the
/// keyboard, a signal) are drawn as sleeping on I/O, never as running: the main thread ends each only
/// once the waiter is in it, after setting a marker, so the marker's set lies inside a drawn
/// sleep of the waiter; none of them is ever a deadlock. A read with its data already there is
/// no wait.
#[test]
fn waits_for_the_world_outside_are_drawn_as_sleeping_on_io() {
    let (t, out) = traced("outside_waits.py");
    completed(&t);
    assert!(t.deadlock.is_none(), "{:?}", t.deadlock);
    let waiters = [
        ("recv", "recv b'hi'"),
        ("accept", "accept b'ok'"),
        ("sendall", "sendall None"),
        ("os.read", "os.read b'p'"),
        ("select", "select 1"),
        ("selector", "selector 1"),
        ("run", "run 0"),
        ("Popen.wait", "Popen.wait 0"),
        ("waitpid", "waitpid 0"),
        ("input", "input typed"),
        ("readline", "readline line"),
        ("MainThread", "pause woke"),
    ];
    let events = sorted(&t);
    let markers: Vec<ResIdx> = (0..t.scenario.resources.len() as ResIdx)
        .filter(|&r| t.scenario.resource_name(r).starts_with("marker"))
        .collect();
    assert!(!markers.is_empty(), "{:?}", t.scenario.resources);
    for (waiter, said) in waiters {
        assert!(out.contains(said), "{said}: {out}");
        let w = lane(&t, waiter);
        let mine: Vec<usize> = (0..events.len())
            .filter(|&i| events[i].thread == w)
            .collect();
        // A drawn sleep of the waiter, from its Sleep to its next event, with a marker set
        // inside it: the waiter was drawn sleeping while it really waited.
        let caught = mine.windows(2).any(|p| {
            let (from, to) = (p[0], p[1]);
            State::after(&events[from], &t.scenario) == Some(State::Sleeping)
                && events[to].kind == EventKind::Run
                && events[from..to].iter().any(|e| {
                    e.kind == EventKind::Set && e.resource.is_some_and(|m| markers.contains(&m))
                })
        });
        assert!(
            caught,
            "{waiter} was not drawn sleeping while it waited: {:?}",
            mine.iter().map(|&i| &events[i]).collect::<Vec<_>>()
        );
        // Nothing a waiter thread waits for is a primitive of the program's (the main thread
        // joins them).
        assert!(
            waiter == "MainThread" || mine.iter().all(|&i| events[i].kind != EventKind::Block),
            "{waiter} is drawn waiting on something of the program's"
        );
    }
    assert!(out.contains("ready b'there' b'there'"), "{out}");
    let ready = lane(&t, "ready");
    assert_eq!(count(&t, Some(ready), EventKind::Sleep, None), 0);
}

/// A wait the library makes on a primitive of its own without a timeout (a pool's idle
/// worker waiting for a task) can be ended only by a thread of the program: with every other
/// thread waiting for good, it waits for good too. A worker that takes a Lock it holds while
/// its pool idles, and a main thread waiting on a queue nobody fills beside an idle pool, are
/// reported as python3 hangs on them, instead of running until `--for`.
#[test]
fn idle_pool_workers_do_not_hide_a_deadlock() {
    // Whichever worker the pool hands the work to waits for the lock it holds itself.
    let (t, out) = traced("pool_self_deadlock.py");
    assert_eq!(t.end, Some(End::Deadlock), "{out}");
    let d = t.deadlock.as_ref().expect("a deadlock");
    let lock = res(&t, "lock");
    assert!(
        matches!(d.cycle.as_slice(), [e] if e.resource == lock
            && e.blame == Blame::HeldBy(e.thread)
            && t.scenario.thread_name(e.thread).starts_with("ThreadPoolExecutor-")
            && d.stuck.contains(&e.thread)),
        "{d:?}"
    );
    let (t, out) = traced("idle_pool_stuck.py");
    assert_eq!(t.end, Some(End::Deadlock), "{out}");
    let d = t.deadlock.as_ref().expect("a deadlock");
    assert!(d.stuck.contains(&lane(&t, "MainThread")), "{d:?}");
}

/// The interpreter's exit wakes a pool's idle workers: once the main thread has finished,
/// their waits no longer count, however long the exit takes before it wakes them.
#[test]
fn an_idle_pool_at_the_interpreters_exit_is_no_deadlock() {
    let (t, out) = traced("idle_pool_at_exit.py");
    completed(&t);
    assert!(t.deadlock.is_none(), "{:?}", t.deadlock);
    assert_eq!(out.trim(), "8");
}

/// A server waiting for a client that never comes is no deadlock (python3 waits for good
/// too): the run goes on until `--for`, and its end is the moment it was stopped, so the
/// server's wait is drawn until then instead of ending where it began; the report says
/// where it waits for the world outside.
#[test]
fn a_wait_for_the_world_outside_runs_until_for_and_is_drawn_to_the_end() {
    let out = temp("accept_forever");
    let t = execute(
        &spawn("accept_forever.py", &[], &out),
        Some(Duration::from_secs(2)),
    )
    .expect("python3 runs the tracer");
    std::fs::remove_file(&out).ok();
    assert_eq!(t.end, Some(End::TimeUp), "{:?}", t.deadlock);
    assert!(t.deadlock.is_none());
    let server = lane(&t, "server");
    let events = sorted(&t);
    let last = events
        .iter()
        .rev()
        .find(|e| e.thread == server)
        .expect("the server's events");
    assert_eq!(
        State::after(last, &t.scenario),
        Some(State::Sleeping),
        "{last:?}"
    );
    assert!(
        t.end_ns > last.t_ns,
        "the run ends where the wait began: {} ≤ {}",
        t.end_ns,
        last.t_ns
    );
    // The report says where it waits, and that it is no deadlock.
    let (code, stdout, stderr) = trace_headless("accept_forever.py", &["--for", "2s"]);
    assert_eq!(code, Some(4), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("waiting outside: server waits at")
            && stderr.contains("accept_forever.py:12 in accept()"),
        "{stderr}"
    );
    assert!(!stderr.contains("MainThread"), "{stderr}");
}
