//! Abuse: what a careless or hostile user types and feeds. Command lines with numbers out of
//! range (negative, zero, huge, not numbers), `-` where a file is written, recordings edited
//! field by field to absurd values, and real Python programs whose waits can give up, whose
//! timers sleep, whose pools are left by `with`, whose status is their own, and whose thread
//! names are unreasonable. Each must end with a clear message and a documented exit code,
//! never a panic and never a hang (every child process is bounded by a deadline).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use threadlab::vocab::recording::Recording;

/// No command here should take longer than this, even on a loaded 2-core machine.
const LIMIT: Duration = Duration::from_secs(60);

fn threadlab(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_threadlab"));
    c.args(args)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    c
}

/// Runs a command to its end or kills it at `LIMIT` (a hang fails the test, it never blocks it).
fn finish(mut c: Command) -> Output {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("threadlab starts");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).ok();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).ok();
        v
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{c:?} still running after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A refusal: exit 2, one short message on stderr that names `what`, nothing on stdout, no
/// panic.
fn refused(args: &[&str], what: &str) -> String {
    let out = finish(threadlab(args));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}\n{err}");
    assert!(!err.contains("panicked"), "{args:?}\n{err}");
    assert!(err.contains(what), "{args:?} should name {what:?}:\n{err}");
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed {}",
        text(&out.stdout)
    );
    assert!(
        err.len() < 400,
        "{args:?}: a refusal is one short paragraph:\n{err}"
    );
    err
}

// ---- command lines ----------------------------------------------------------------------------

#[test]
fn numbers_out_of_range_are_refused_by_value() {
    // Negative numbers reach the parser that explains them (not clap's "unexpected argument").
    let e = refused(&["run", "deadlock", "--headless", "--for", "-1s"], "-1s");
    assert!(e.contains("negative"), "{e}");
    refused(
        &["run", "deadlock", "--headless", "--for", "-.5s"],
        "negative",
    );
    refused(&["run", "deadlock", "--headless", "--speed", "-1"], "-1");
    refused(&["compare", "deadlock", "race", "--speed", "-2"], "-2");
    refused(&["run", "deadlock", "--headless", "--speed", "NaN"], "NaN");
    refused(&["run", "deadlock", "--headless", "--speed", "inf"], "inf");
    // Quoted as typed, not as a float printed out in full.
    refused(
        &["run", "deadlock", "--headless", "--speed", "1e-300"],
        "1e-300",
    );
    refused(&["run", "deadlock", "--headless", "--for", "0s"], "0s");
    refused(
        &[
            "run",
            "deadlock",
            "--headless",
            "--for",
            "18446744073709551616ms",
        ],
        "too long",
    );
    refused(
        &[
            "export", "deadlock", "--format", "svg", "-o", "x.svg", "--for", "-3s",
        ],
        "-3s",
    );
    // A flag where a value was due is named as what it is, not called negative.
    let e = refused(
        &["run", "deadlock", "--headless", "--for", "--json"],
        "--json",
    );
    assert!(!e.contains("negative"), "{e}");
}

#[test]
fn bench_threads_are_from_one_to_a_runs_limit() {
    // 0 threads once ran a bench of nothing for minutes; a count past the limit failed only
    // after building a scenario out of it.
    for n in [
        "0",
        "-3",
        "513",
        "100000",
        "99999999999999999999999",
        "x",
        "",
    ] {
        refused(&["bench", "gil", "--threads", n], "--threads");
    }
    refused(&["bench", "gil", "--work", "-5ms"], "negative");
}

#[test]
fn a_dash_is_no_file_to_write() {
    let script = python_fixture("timer.py");
    let script = script.to_str().unwrap();
    for args in [
        &["run", "deadlock", "--headless", "--events", "-"][..],
        &["run", "deadlock", "--headless", "--record", "-"],
        &["trace", script, "--headless", "--events", "-"],
        &["trace", script, "--headless", "--record", "-"],
        &["trace", script, "--headless", "--output", "-"],
    ] {
        let e = refused(args, "`-`");
        assert!(e.contains("file name"), "{e}");
    }
    assert!(!Path::new("-").exists(), "a file named - was written");
}

#[test]
fn a_file_that_cannot_be_read_says_so() {
    let missing =
        std::env::temp_dir().join(format!("threadlab-abuse-{}-none.rec", std::process::id()));
    let out = finish(threadlab(&[
        "replay",
        missing.to_str().unwrap(),
        "--headless",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("readable"), "{err}");
    assert!(!err.contains("writable"), "{err}");
}

// ---- recordings edited by hand ----------------------------------------------------------------

/// Every value a hand edit might leave in a field.
fn absurd(v: &Value) -> Vec<Value> {
    let mut out = vec![
        Value::Null,
        Value::from(0),
        Value::from(-1),
        Value::from(u64::MAX),
        Value::from(i64::MAX),
        Value::from(1e300),
        Value::from(""),
        Value::from("\u{200b}"),
    ];
    if let Value::Number(n) = v
        && let Some(x) = n.as_u64()
    {
        out.push(Value::from(x.saturating_add(1)));
        out.push(Value::from(x.saturating_mul(1_000_000)));
    }
    out
}

/// Every path to a leaf of `v`.
fn leaves(v: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                path.push(Value::from(k.clone()));
                leaves(x, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(Value::from(i));
                leaves(x, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match k {
        Value::String(s) => &mut v[s.as_str()],
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

#[test]
fn a_recording_edited_field_by_field_loads_or_is_refused_but_never_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs");
    let mut tried = 0;
    let mut loaded = 0;
    for name in [
        "deadlock.json",
        "producer-consumer.json",
        "event-loop.json",
        "rwlock.json",
    ] {
        let original: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        let mut paths = Vec::new();
        leaves(&original, &mut Vec::new(), &mut paths);
        for path in &paths {
            let here = at(&mut original.clone(), path).clone();
            for value in absurd(&here) {
                let mut edited = original.clone();
                *at(&mut edited, path) = value.clone();
                tried += 1;
                // Whatever loads is reported, drawn and exported like any recording.
                if let Ok(rec) = Recording::from_json(&edited.to_string()) {
                    loaded += 1;
                    let report = rec.report();
                    let text = threadlab::headless::render(&report, &Default::default());
                    assert!(!text.is_empty(), "{name} {path:?} = {value}");
                    serde_json::to_string(&report.summary).unwrap();
                    threadlab::trace::export::chrome::to_string(&rec);
                    threadlab::trace::export::svg::render(&rec);
                }
            }
        }
    }
    // Most edits are caught; some (a name, a count) are harmless and load.
    assert!(tried > 500, "{tried}");
    assert!(loaded > 0 && loaded < tried, "{loaded} of {tried}");
}

#[test]
fn a_recording_claiming_every_event_was_dropped_is_replayed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs");
    let mut rec: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("deadlock.json")).unwrap()).unwrap();
    rec["run"]["dropped_events"] = Value::from(u64::MAX);
    let path = temp("dropped.json");
    std::fs::write(&path, rec.to_string()).unwrap();
    let out = finish(threadlab(&["replay", path.to_str().unwrap(), "--headless"]));
    std::fs::remove_file(&path).ok();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"));
}

// ---- real Python -------------------------------------------------------------------------------

fn python_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/py")
        .join(name)
}

fn temp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("threadlab-abuse-{}-{tag}", std::process::id()))
}

/// An exit code and the output of both streams.
type Ended = (Option<i32>, String);

/// `python3 SCRIPT` and `threadlab trace SCRIPT --headless --json --output FILE`: each exit
/// code, each output (both streams), and threadlab's JSON summary.
fn beside_python(name: &str) -> (Ended, Ended, Value) {
    let script = python_fixture(name);
    let plain = temp(&format!("{name}-plain"));
    let f = std::fs::File::create(&plain).unwrap();
    let mut py = Command::new("python3");
    py.arg(&script)
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f);
    let py = finish_status(py);
    let kept = temp(&format!("{name}-traced"));
    let ours = finish(threadlab(&[
        "trace",
        script.to_str().unwrap(),
        "--headless",
        "--json",
        "--output",
        kept.to_str().unwrap(),
    ]));
    let read = |p: &Path| {
        let s = std::fs::read_to_string(p).unwrap_or_default();
        std::fs::remove_file(p).ok();
        s
    };
    let summary: Value = serde_json::from_slice(&ours.stdout)
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", text(&ours.stderr)));
    (
        (py, read(&plain)),
        (ours.status.code(), read(&kept)),
        summary,
    )
}

fn finish_status(mut c: Command) -> Option<i32> {
    let mut child = c.spawn().expect("python3 runs");
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("python3 still running after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Milliseconds a lane of the summary spent in `state`.
fn state_ms(summary: &Value, lane: &str, state: &str) -> f64 {
    let t = summary["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == lane)
        .unwrap_or_else(|| panic!("no lane {lane}: {summary}"));
    t["state_ms"][state].as_f64().unwrap_or(0.0)
}

fn sorted_lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

#[test]
fn a_barrier_wait_that_can_time_out_is_no_deadlock() {
    // Two of three parties wait with a timeout, then the main thread waits at a barrier whose
    // own default timeout lets it give up: python3 prints "broken" three times; nothing here
    // is a deadlock, however long the waits are quiet.
    let ((py, a), (ours, b), summary) = beside_python("barrier_timeout.py");
    assert_eq!((py, ours), (Some(0), Some(0)), "{b}\n{summary}");
    assert_eq!(sorted_lines(&a), sorted_lines(&b));
    assert_eq!(summary["outcome"], "completed", "{summary}");
    // The waits are drawn as waits at the barrier, not as computing.
    for lane in ["Thread-1 (wait_briefly)", "Thread-2 (wait_briefly)"] {
        assert!(
            state_ms(&summary, lane, "waiting_barrier") >= 300.0,
            "{lane}: {summary}"
        );
        // Relative, not absolute: a busy machine stretches what little it computes.
        assert!(
            state_ms(&summary, lane, "running") < state_ms(&summary, lane, "waiting_barrier"),
            "{lane}: {summary}"
        );
    }
    assert!(
        state_ms(&summary, "MainThread", "waiting_barrier") >= 300.0,
        "{summary}"
    );
}

#[test]
fn a_timer_sleeps_and_a_pool_left_by_with_is_waited_for() {
    let ((py, a), (ours, b), summary) = beside_python("timer_and_pool.py");
    assert_eq!((py, ours), (Some(0), Some(0)), "{b}\n{summary}");
    assert_eq!(a, b);
    // The timer's lane sleeps its interval; the cancelled one barely starts.
    assert!(
        state_ms(&summary, "fires", "sleeping") >= 200.0,
        "{summary}"
    );
    assert!(
        state_ms(&summary, "fires", "running") < state_ms(&summary, "fires", "sleeping"),
        "{summary}"
    );
    // Leaving the `with` block waits for the worker's 300 ms of sleep, and so does wait(): a
    // wait, not running.
    // Joins and futures are waits for an event: the timer's 300 ms, the pool's, wait()'s.
    let waited = state_ms(&summary, "MainThread", "waiting_condition");
    assert!(waited >= 800.0, "{summary}");
    assert!(
        state_ms(&summary, "MainThread", "running") < waited / 2.0,
        "{summary}"
    );
    // The workers sleep in the time.sleep submitted to them (called by the library, for the
    // program).
    for worker in ["pool_0", "waited_0"] {
        assert!(
            state_ms(&summary, worker, "sleeping") >= 200.0,
            "{worker}: {summary}"
        );
        assert!(
            state_ms(&summary, worker, "running") < state_ms(&summary, worker, "sleeping"),
            "{worker}: {summary}"
        );
    }
}

#[test]
fn a_program_exits_with_its_own_status() {
    // A thread calls os._exit(5) while the main thread waits: python3 exits 5, and so does
    // threadlab trace; stderr says so.
    let ((py, a), (ours, b), summary) = beside_python("os_exit.py");
    assert_eq!((py, ours), (Some(5), Some(5)), "{b}\n{summary}");
    assert_eq!(a, b);
    assert_eq!(summary["outcome"], "failed", "{summary}");
    let out = finish(threadlab(&[
        "trace",
        python_fixture("os_exit.py").to_str().unwrap(),
        "--headless",
    ]));
    assert_eq!(out.status.code(), Some(5));
    assert!(
        text(&out.stderr).contains("exited with status 5"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn thread_names_of_any_length_or_character_keep_the_report_readable() {
    let ((py, a), (ours, b), _) = beside_python("odd_names.py");
    assert_eq!((py, ours), (Some(0), Some(0)), "{b}");
    assert_eq!(a, b);
    let out = finish(threadlab(&[
        "trace",
        python_fixture("odd_names.py").to_str().unwrap(),
        "--headless",
        "--output",
        temp("odd-names-out").to_str().unwrap(),
    ]));
    std::fs::remove_file(temp("odd-names-out")).ok();
    assert_eq!(out.status.code(), Some(0));
    let report = text(&out.stdout);
    // Only the row that carries the 3,000-letter name is that long; no row is padded to it.
    for line in report.lines().filter(|l| !l.contains("aaaaaaaaaa")) {
        assert!(
            line.chars().count() < 200,
            "{} chars: {line:?}",
            line.chars().count()
        );
    }
    // A tab or newline in a name never splits a row.
    assert!(report.contains("tab here"), "{report}");
    assert!(report.contains("new line"), "{report}");
}

#[test]
fn a_file_given_to_replay_as_the_wrong_kind_says_which_kind_it_is() {
    let events = temp("wrong-kind-events.jsonl");
    let recording = temp("wrong-kind-recording.json");
    let out = finish(threadlab(&[
        "run",
        "deadlock",
        "--headless",
        "--events",
        events.to_str().unwrap(),
        "--record",
        recording.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let (ev, rec) = (events.to_str().unwrap(), recording.to_str().unwrap());
    // An events file without its scenario, a recording given a scenario, a scenario and a
    // script given as recordings: each named for what it is, with the command that reads it.
    let e = refused(&["replay", ev, "--headless"], "is an events file");
    assert!(e.contains("--scenario"), "{e}");
    let e = refused(
        &["replay", rec, "--scenario", "deadlock", "--headless"],
        "is a recording",
    );
    assert!(e.contains("leave out --scenario"), "{e}");
    let kdl = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/deadlock.kdl");
    let e = refused(
        &["replay", kdl.to_str().unwrap(), "--headless"],
        "not a recording",
    );
    assert!(e.contains("threadlab run"), "{e}");
    let py = python_fixture("os_exit.py");
    let e = refused(
        &["replay", py.to_str().unwrap(), "--headless"],
        "not a recording",
    );
    assert!(e.contains("threadlab trace"), "{e}");
    // Each still replays as what it is.
    let out = finish(threadlab(&[
        "replay",
        ev,
        "--scenario",
        "deadlock",
        "--headless",
    ]));
    assert!(
        !text(&out.stderr).contains("error"),
        "{}",
        text(&out.stderr)
    );
    let out = finish(threadlab(&["replay", rec, "--headless"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    std::fs::remove_file(&events).ok();
    std::fs::remove_file(&recording).ok();
}

#[test]
fn a_traceback_through_a_traced_call_is_python3s_own() {
    // Exceptions raised inside the primitives the tracer wraps (a thread's queue.Empty, a
    // future's result, a BoundedSemaphore released once too often) are printed, by the
    // interpreter, by threading and by the traceback module, without a frame of the tracer.
    let ((py, a), (ours, b), _) = beside_python("tracebacks.py");
    assert_eq!((py, ours), (Some(1), Some(1)), "{b}");
    assert_eq!(a, b);
    assert!(
        a.contains("ValueError: Semaphore released too many times"),
        "{a}"
    );
    assert!(!b.contains("sitecustomize"), "{b}");
}

#[test]
fn a_queue_wait_that_ends_in_an_exception_is_over() {
    // The consumer's get ends in an exception, then it computes for 600 ms where the tracer
    // sees nothing while the main thread joins it: python3 prints both lines and exits 0; a
    // lane left waiting on the queue would have been called a deadlock after 300 ms.
    let ((py, a), (ours, b), summary) = beside_python("queue_refuses.py");
    assert_eq!((py, ours), (Some(0), Some(0)), "{b}\n{summary}");
    assert_eq!(a, b);
    assert_eq!(summary["outcome"], "completed", "{summary}");
}

#[test]
fn a_wait_that_raises_instead_of_waiting_is_no_deadlock() {
    // A thread that joins itself (RuntimeError, at once) was drawn waiting for itself: a cycle
    // of one, called a deadlock and killed. Each traced wait now ends with its exception.
    let ((py, a), (ours, b), summary) = beside_python("waits_that_raise.py");
    assert_eq!((py, ours), (Some(0), Some(0)), "{b}\n{summary}");
    assert_eq!(a, b);
    assert_eq!(summary["outcome"], "completed", "{summary}");
}

#[test]
fn a_task_made_of_an_asyncio_coroutine_is_a_lane_of_its_loop_and_ends_when_cancelled() {
    // `create_task(q.get())` runs asyncio's own code: it was no lane of its own, so its
    // records made a stray lane outside its loop that never ended, waiting on forever.
    let ((py, a), (ours, b), summary) = beside_python("cancelled_waits.py");
    assert_eq!((py, ours), (Some(0), Some(0)), "{b}\n{summary}");
    assert_eq!(a, b);
    let lanes = summary["threads"].as_array().unwrap();
    let waits: Vec<&Value> = lanes
        .iter()
        .filter(|t| t["name"] != "MainThread" && t["name"] != "MainThread/Task-1")
        .collect();
    assert_eq!(waits.len(), 3, "{summary}");
    for t in waits {
        assert!(
            t["name"].as_str().unwrap().starts_with("MainThread/"),
            "{t}"
        );
        assert_eq!(t["final_state"], "cancelled", "{t}");
    }
}

#[test]
fn trace_never_writes_over_its_script_or_one_output_over_another() {
    // `--output` is opened before python3 starts: naming the script there once emptied it.
    let dir = temp("outputs");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("script.py");
    let source = "print('still here')\n";
    std::fs::write(&script, source).unwrap();
    let link = dir.join("link.py");
    std::os::unix::fs::symlink(&script, &link).ok();
    let s = script.to_str().unwrap();
    let other = dir.join("out.txt");
    let o = other.to_str().unwrap();
    for args in [
        &["trace", s, "--headless", "--output", s][..],
        &["trace", s, "--headless", "--events", s],
        &["trace", s, "--headless", "--record", s],
        &["trace", link.to_str().unwrap(), "--headless", "--output", s],
    ] {
        refused(args, "would destroy it");
        assert_eq!(
            std::fs::read_to_string(&script).unwrap(),
            source,
            "{args:?}"
        );
    }
    for args in [
        &["trace", s, "--headless", "--output", o, "--events", o][..],
        &["trace", s, "--headless", "--events", o, "--record", o],
    ] {
        refused(args, "one would overwrite the other");
    }
    assert!(!other.exists(), "a refused run wrote {o}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unbounded_queue_reads_unbounded() {
    let kept = temp("unbounded-out");
    let out = finish(threadlab(&[
        "trace",
        python_fixture("tracebacks.py").to_str().unwrap(),
        "--headless",
        "--output",
        kept.to_str().unwrap(),
    ]));
    std::fs::remove_file(&kept).ok();
    let report = text(&out.stdout);
    assert!(report.contains("capacity unbounded"), "{report}");
    assert!(!report.contains(&u32::MAX.to_string()), "{report}");
}
