//! The syllabus lessons beyond locks: condition variables (the right `while`, the buggy `if`,
//! lost wake-ups, notify_all) and an event's clear and timeout, run on real threads and held to
//! what each one teaches, from recorded events only (orders and counts, never absolute times).

use std::process::Command;
use std::sync::Arc;

use threadlab::engine::{Phase, Run, RunOptions};
use threadlab::scenario::model::{Op, Scenario, ThreadIdx};
use threadlab::trace::invariants;
use threadlab::vocab::event::{Event, EventKind};

mod common;
use common::{builtin, fast, op_of, run_to_end};

/// The schedule condition-if's about text gives: consumer-1 waits, the producer appends and
/// consumer-2 queues for the lock before the notify, so consumer-2 gets the lock first.
const BARGE: &str = "consumer-1,consumer-1,producer,producer,producer,consumer-2,producer,producer";

struct Ran {
    phase: Phase,
    events: Vec<Event>,
    failures: Vec<Option<String>>,
    deadlock: Option<String>,
}

fn run(scenario: &Arc<Scenario>) -> Ran {
    run_with(scenario, fast())
}

fn run_with(scenario: &Arc<Scenario>, options: RunOptions) -> Ran {
    let run = Run::start(scenario.clone(), options);
    let (phase, events) = run_to_end(&run);
    assert_eq!(run.dropped_events(), 0);
    invariants::check(scenario, &events).unwrap_or_else(|e| panic!("{}: {e}", scenario.name));
    let failures = (0..scenario.threads.len() as ThreadIdx)
        .map(|t| run.failure(t))
        .collect();
    Ran {
        phase,
        events,
        failures,
        deadlock: run.deadlock().map(|d| d.describe(scenario)),
    }
}

fn res(s: &Scenario, name: &str) -> u16 {
    s.resource_index(name).expect("resource exists")
}

fn threadlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(args)
        .output()
        .expect("threadlab runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every condition wait in `events`: it gives the lock back before it waits, someone else
/// takes the lock while it waits (the notifier must), and it takes the lock back after the
/// notice and before its next step. Returns how many waits it saw.
fn waits_release_and_retake(s: &Scenario, events: &[Event], cond: &str, lock: &str) -> usize {
    let (c, m) = (res(s, cond), res(s, lock));
    let mut seen = 0;
    for (i, e) in events.iter().enumerate() {
        if !(e.kind == EventKind::Block && e.resource == Some(c)) {
            continue;
        }
        seen += 1;
        let t = e.thread;
        let who = s.thread_name(t);
        let pass = events[i..]
            .iter()
            .position(|p| p.thread == t && p.kind == EventKind::Pass && p.resource == Some(c))
            .map(|k| i + k)
            .unwrap_or_else(|| panic!("{who}'s wait on {cond} never ended"));
        // The lock went back just before the wait, by this thread, in this step.
        let released = events[..i]
            .iter()
            .rev()
            .find(|p| p.thread == t && p.resource == Some(m))
            .unwrap_or_else(|| panic!("{who} waited without touching {lock}"));
        assert_eq!(released.kind, EventKind::Release, "{who} kept {lock}");
        assert_eq!(released.step, e.step);
        // While it waited, another thread held the lock: the wait really gave it away.
        assert!(
            events[i..pass]
                .iter()
                .any(|p| p.thread != t && p.kind == EventKind::Acquire && p.resource == Some(m)),
            "nobody else took {lock} while {who} waited on {cond}"
        );
        // After the notice, the same step takes the lock back before anything else.
        let next = events[pass + 1..]
            .iter()
            .find(|p| p.thread == t && p.resource.is_some())
            .unwrap_or_else(|| panic!("{who} never came back from its wait"));
        let retake = events[pass + 1..]
            .iter()
            .find(|p| p.thread == t && p.kind == EventKind::Acquire)
            .expect("the lock is taken back");
        assert_eq!(retake.resource, Some(m), "{who} went on without {lock}");
        assert_eq!(retake.step, e.step, "{who} re-took {lock} in a later step");
        assert!(
            next.resource == Some(m) || next.resource == Some(c),
            "{who} touched something else before re-taking {lock}"
        );
    }
    seen
}

#[test]
fn condition_with_while_never_fails_and_every_wait_gives_the_lock_back_and_retakes_it() {
    let s = builtin("condition");
    let mut waits = 0;
    for _ in 0..3 {
        let ran = run(&s);
        assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
        assert!(
            ran.failures.iter().all(Option::is_none),
            "{:?}",
            ran.failures
        );
        let items = res(&s, "items");
        let count = |k| {
            ran.events
                .iter()
                .filter(|e| e.kind == k && e.resource == Some(items))
                .count()
        };
        assert_eq!((count(EventKind::Put), count(EventKind::Take)), (6, 6));
        waits += waits_release_and_retake(&s, &ran.events, "not-empty", "m");
    }
    // The consumers start on an empty list: they wait in every run.
    assert!(waits >= 3, "{waits} waits in three runs");
}

#[test]
fn condition_with_while_survives_the_schedule_that_breaks_the_if() {
    let (code, out, err) = threadlab(&[
        "run",
        "condition",
        "--headless",
        "--json",
        "--schedule",
        BARGE,
    ]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn condition_if_fails_with_index_error_under_its_schedule_every_time() {
    let about = &builtin("condition-if").about;
    assert!(
        about
            .split_whitespace()
            .collect::<String>()
            .contains(&BARGE.replace(' ', "")),
        "the about text gives the schedule"
    );
    for _ in 0..3 {
        let (code, out, err) = threadlab(&[
            "run",
            "condition-if",
            "--headless",
            "--json",
            "--schedule",
            BARGE,
        ]);
        assert_eq!(code, 1, "{out}{err}");
        let json: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(json["outcome"], "failed");
        let failed: Vec<(&str, &str)> = json["threads"]
            .as_array()
            .expect("threads")
            .iter()
            .filter_map(|t| Some((t["name"].as_str()?, t["failure"].as_str()?)))
            .collect();
        assert_eq!(
            failed,
            [("consumer-1", "IndexError: pop from empty list")],
            "the woken consumer pops the list the other emptied"
        );
    }
}

#[test]
fn a_failed_pop_is_shown_in_the_log_and_summary() {
    let (code, out, _) = threadlab(&["run", "condition-if", "--headless", "--schedule", BARGE]);
    assert_eq!(code, 1);
    assert!(
        out.contains("failed: IndexError: pop from empty list"),
        "{out}"
    );
}

#[test]
fn a_notify_before_anyone_waits_is_lost_and_the_late_waiter_deadlocks() {
    let s = builtin("lost-wakeup");
    // At 1x the waiter arrives 280 ms of the wall clock after the notice: no loaded machine
    // delays the notifier that long (at 4x the margin would be 70 ms).
    let ran = run_with(&s, RunOptions::default());
    assert_eq!(ran.phase, Phase::Deadlock);
    assert_eq!(
        ran.deadlock.as_deref(),
        Some("worker waits for ready, which no thread left can notify")
    );
    let ready = res(&s, "ready");
    let notify = ran
        .events
        .iter()
        .position(|e| e.kind == EventKind::Notify && e.resource == Some(ready))
        .expect("the loader notifies");
    assert_eq!(ran.events[notify].item, Some(0), "the notice woke nobody");
    let wait = ran
        .events
        .iter()
        .position(|e| e.kind == EventKind::Block && e.resource == Some(ready))
        .expect("the worker waits");
    assert!(notify < wait, "the notice came before the wait");
    // The wait still gave the lock back: the deadlock is on the notice, not the lock.
    let m = res(&s, "m");
    assert!(
        ran.events[..wait]
            .iter()
            .rev()
            .find(|e| e.resource == Some(m))
            .is_some_and(|e| e.kind == EventKind::Release)
    );
}

#[test]
fn notify_all_wakes_every_waiter_and_they_take_the_lock_back_one_at_a_time() {
    let s = builtin("notify-all");
    let ran = run(&s);
    assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
    let (c, m) = (res(&s, "jobs-ready"), res(&s, "m"));
    let boss = s.thread_index("boss").expect("boss");
    let notifies: Vec<&Event> = ran
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Notify)
        .collect();
    assert_eq!(notifies.len(), 1);
    // notify_all wakes every thread waiting at that instant (all three, unless the machine
    // was too busy to start one before the boss came; that one then finds the jobs at once).
    let waiting = ran
        .events
        .iter()
        .take_while(|e| e.kind != EventKind::Notify)
        .filter(|e| e.kind == EventKind::Block && e.resource == Some(c))
        .count();
    assert!(waiting >= 1, "nobody waited for the jobs");
    assert_eq!(
        notifies[0].item,
        Some(waiting as u32),
        "notify_all woke every waiter"
    );
    let passes: Vec<&Event> = ran
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Pass && e.resource == Some(c))
        .collect();
    assert_eq!(passes.len(), waiting);
    assert!(passes.iter().all(|p| p.by == Some(boss)));
    // Woken together, they hold the lock one after another: acquires and releases alternate.
    let mut holder: Option<ThreadIdx> = None;
    for e in ran.events.iter().filter(|e| e.resource == Some(m)) {
        match e.kind {
            EventKind::Acquire => {
                assert_eq!(holder, None, "two holders of m");
                holder = Some(e.thread);
            }
            EventKind::Release => holder = None,
            _ => {}
        }
    }
    assert_eq!(
        waits_release_and_retake(&s, &ran.events, "jobs-ready", "m"),
        waiting
    );
    let jobs = res(&s, "jobs");
    let popped = ran
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Take && e.resource == Some(jobs))
        .count();
    assert_eq!(popped, 3, "every worker got a job");
}

#[test]
fn an_event_wait_with_a_timeout_gives_up_and_goes_on_and_clear_resets_it() {
    let s = builtin("event-timeout");
    // At 1x: the first wait gives up 230 ms before the server answers, a margin no busy
    // machine eats.
    let ran = run_with(
        &s,
        RunOptions {
            speed: 1.0,
            start_paused: false,
        },
    );
    assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
    let reply = res(&s, "reply");
    let (client, server, checker) = (
        s.thread_index("client").expect("client"),
        s.thread_index("server").expect("server"),
        s.thread_index("checker").expect("checker"),
    );
    let ends: Vec<(ThreadIdx, EventKind, Option<ThreadIdx>)> = ran
        .events
        .iter()
        .filter(|e| {
            e.resource == Some(reply) && matches!(e.kind, EventKind::Pass | EventKind::Timeout)
        })
        .map(|e| (e.thread, e.kind, e.by))
        .collect();
    // The first wait (150 ms) gives up before the server answers (400 ms), the second is still
    // waiting when it does, and the checker, after the clear, gives up again.
    assert_eq!(
        ends,
        [
            (client, EventKind::Timeout, None),
            (client, EventKind::Pass, Some(server)),
            (checker, EventKind::Timeout, None),
        ]
    );
    // Giving up is not failing: the client went on to its next steps.
    let first_timeout = ran
        .events
        .iter()
        .position(|e| e.thread == client && e.kind == EventKind::Timeout)
        .expect("timeout");
    assert!(
        ran.events[first_timeout..]
            .iter()
            .any(|e| e.thread == client
                && e.kind == EventKind::Sleep
                && matches!(op_of(&s, e), Some(Op::Sleep(_))))
    );
    let kinds: Vec<EventKind> = ran
        .events
        .iter()
        .filter(|e| {
            e.resource == Some(reply) && matches!(e.kind, EventKind::Set | EventKind::Clear)
        })
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [EventKind::Set, EventKind::Clear]);
}

#[test]
fn the_event_state_and_lost_notices_show_in_the_summary_and_log() {
    let (code, out, _) = threadlab(&["run", "lost-wakeup", "--headless"]);
    assert_eq!(code, 3);
    assert!(
        out.contains("notified 1 time (1 with nobody waiting)"),
        "{out}"
    );
    let (code, out, _) = threadlab(&["run", "notify-all", "--headless", "--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let cond = &json["resources"][1];
    assert_eq!(cond["kind"], "condition");
    assert_eq!(cond["lost_notifies"], 0);
}

fn check(source: &str) -> String {
    let path = std::env::temp_dir().join(format!("threadlab-syllabus-{}.kdl", std::process::id()));
    std::fs::write(&path, source).expect("write");
    let (code, out, err) = threadlab(&["check", path.to_str().expect("utf-8")]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 2, "{out}{err}");
    err
}

#[test]
fn check_points_at_condition_misuse() {
    // wait and notify without the condition's lock, each pointed at line and column.
    let err = check(
        "mutex m\ncondition c lock=m\nthread a {\n    wait c\n    lock m\n    notify c\n    unlock m\n    notify-all c\n}\n",
    );
    assert!(err.contains("would `wait c` without holding `m`"), "{err}");
    assert!(err.contains(":4:5]"), "{err}");
    assert!(
        err.contains("would `notify-all c` without holding `m`"),
        "{err}"
    );
    assert!(err.contains(":8:5]"), "{err}");
    assert!(
        err.contains("RuntimeError: cannot wait on un-acquired lock"),
        "{err}"
    );
    assert!(
        !err.contains("`notify c`"),
        "the held notify is fine: {err}"
    );

    // notify of an undeclared condition.
    let err = check(
        "mutex m\ncondition ready lock=m\nthread a {\n    lock m\n    notify redy\n    unlock m\n}\n",
    );
    assert!(err.contains("`redy` is not declared"), "{err}");
    assert!(err.contains(":5:12]"), "{err}");
    assert!(err.contains("did you mean `notify ready`?"), "{err}");

    // A condition on something that is not a mutex, a predicate on no list, a timeout on a
    // condition wait.
    let err = check("semaphore s permits=1\ncondition c lock=s\nthread a { work \"1ms\" }\n");
    assert!(err.contains("`s` is a semaphore, not a mutex"), "{err}");
    let err = check(
        "mutex m\ncondition c lock=m\nlist items\nthread a {\n    lock m\n    wait c while-empty=itms\n    unlock m\n}\n",
    );
    assert!(err.contains("did you mean while-empty=items?"), "{err}");
    let err = check(
        "mutex m\ncondition c lock=m\nthread a {\n    lock m\n    wait c timeout=\"1s\"\n    unlock m\n}\n",
    );
    assert!(err.contains("`wait … timeout=` works on an event"), "{err}");
    let err = check("list items\nthread a {\n    pop itemz\n}\n");
    assert!(err.contains("did you mean `pop items`?"), "{err}");
}

#[test]
fn the_program_waits_for_ordinary_threads_and_stops_its_daemon_mid_work() {
    let s = builtin("daemon");
    let ran = run(&s);
    assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
    let [main, saver, heartbeat] =
        ["main", "saver", "heartbeat"].map(|n| s.thread_index(n).expect("thread"));
    let end = |t: ThreadIdx| {
        ran.events
            .iter()
            .rfind(|e| e.thread == t)
            .copied()
            .expect("events")
    };
    assert_eq!(end(main).kind, EventKind::Done);
    assert_eq!(end(saver).kind, EventKind::Done);
    let stop = end(heartbeat);
    assert_eq!(
        stop.kind,
        EventKind::Stop,
        "the daemon is stopped, not done"
    );
    // Mid-work: far from the end of its fifty beats.
    let steps = s.threads[heartbeat as usize].steps.len() as u32;
    assert!(
        stop.step < steps - 1,
        "stopped at step {} of {steps}",
        stop.step
    );
    // Not when main ended, but when the last ordinary thread did: the saver was waited for.
    assert!(stop.t_ns >= end(saver).t_ns && end(saver).t_ns >= end(main).t_ns);
    assert!(
        ran.events
            .iter()
            .any(|e| e.thread == heartbeat && e.t_ns > end(main).t_ns && e.kind == EventKind::Run),
        "the daemon kept beating after main ended, while the saver wrote"
    );
}

#[test]
fn a_daemon_stuck_for_good_is_stopped_at_the_end_and_no_deadlock() {
    let source = "mutex m\ncondition c lock=m\nthread d daemon=#true {\n    lock m\n    wait c\n    unlock m\n}\nthread main {\n    sleep \"50ms\"\n}\n";
    let s =
        Arc::new(threadlab::scenario::parse_source("stuck", "stuck.kdl", source).expect("parses"));
    let ran = run(&s);
    assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
    assert_eq!(ran.deadlock, None);
    let d = s.thread_index("d").expect("d");
    let last = ran.events.iter().rfind(|e| e.thread == d).expect("events");
    assert_eq!(last.kind, EventKind::Stop);
    assert!(ran.failures.iter().all(Option::is_none));
}

#[test]
fn join_returns_after_the_last_task_done_and_sentinels_stop_the_workers() {
    let s = builtin("queue-join");
    for _ in 0..2 {
        let ran = run(&s);
        assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
        let jobs = res(&s, "jobs");
        let boss = s.thread_index("boss").expect("boss");
        let facts = invariants::check(&s, &ran.events).expect("invariants");
        assert!(facts[jobs as usize].most_fill <= 4, "over capacity");
        let join = ran
            .events
            .iter()
            .position(|e| e.thread == boss && e.kind == EventKind::Pass && e.resource == Some(jobs))
            .expect("join returns");
        let done: Vec<&Event> = ran.events[..join]
            .iter()
            .filter(|e| e.kind == EventKind::TaskDone)
            .collect();
        assert_eq!(
            done.len(),
            8,
            "join returned after {} of 8 task-dones",
            done.len()
        );
        assert_eq!(done.last().and_then(|e| e.item), Some(0));
        assert_eq!(ran.events[join].by, done.last().map(|e| e.thread));
        // Join waited past the moment the queue was empty: the last take came before the
        // last task-done.
        let last_take = ran.events[..join]
            .iter()
            .rposition(|e| e.kind == EventKind::Take)
            .expect("takes");
        assert!(ran.events[last_take].t_ns <= done[7].t_ns);
        for w in ["worker-1", "worker-2"] {
            let t = s.thread_index(w).expect("worker");
            let mine: Vec<&Event> = ran.events.iter().filter(|e| e.thread == t).collect();
            let take = mine
                .iter()
                .rfind(|e| e.kind == EventKind::Take)
                .expect("takes");
            assert_eq!(take.item, Some(0), "{w} stopped on a sentinel");
            assert_eq!(mine.last().map(|e| e.kind), Some(EventKind::Done));
            let steps = s.threads[t as usize].steps.len() as u32;
            assert!(take.step < steps - 3, "{w}'s loop ran to its end");
        }
    }
}

/// A sentinel is served in put order, as `q.put(None)` is: a second producer still putting
/// after the first one's sentinel leaves its items behind it, the pitfall of one sentinel and
/// several producers. Only a priority queue serves its sentinel after every item.
#[test]
fn a_sentinel_is_served_in_put_order_and_last_only_in_a_priority_queue() {
    for (put, taken) in [
        ("put q", vec![1, 0]),
        ("put q priority=1", vec![1, 2, 3, 0]),
    ] {
        let source = format!(
            "buffer q capacity=4\nthread first {{\n    {put}\n    put q sentinel=#true\n}}\n\
             thread second after=first {{\n    {put}\n    {put}\n}}\n\
             thread consumer after=second {{\n    repeat 4 {{\n        take q\n    }}\n}}\n"
        );
        let s = Arc::new(
            threadlab::scenario::parse_source("order", "order.kdl", &source).expect("parses"),
        );
        let ran = run(&s);
        assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
        let consumer = s.thread_index("consumer").expect("consumer");
        let took: Vec<u32> = ran
            .events
            .iter()
            .filter(|e| e.thread == consumer && e.kind == EventKind::Take)
            .filter_map(|e| e.item)
            .collect();
        assert_eq!(took, taken, "{put}");
    }
}

#[test]
fn a_take_with_a_timeout_gives_up_on_an_empty_queue_and_goes_on() {
    let source = "buffer q capacity=2\nthread late {\n    sleep \"300ms\"\n    put q\n}\nthread eager {\n    take q timeout=\"50ms\"\n    work \"1ms\"\n    take q\n}\n";
    let s = Arc::new(threadlab::scenario::parse_source("get", "get.kdl", source).expect("parses"));
    let ran = run(&s);
    assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
    let eager = s.thread_index("eager").expect("eager");
    let kinds: Vec<(EventKind, u32)> = ran
        .events
        .iter()
        .filter(|e| e.thread == eager && e.resource.is_some())
        .map(|e| (e.kind, e.step))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Block, 0),
            (EventKind::Timeout, 0),
            (EventKind::Block, 2),
            (EventKind::Take, 2)
        ]
    );
}

#[test]
fn check_points_at_queue_misuse() {
    let err = check(
        "buffer q capacity=2\nthread a {\n    put q\n    take q\n    task-done q\n    task-done q\n}\n",
    );
    assert!(err.contains("`task-done q` would run more often"), "{err}");
    assert!(err.contains(":6:5]"), "{err}");
    assert!(
        err.contains("ValueError: task_done() called too many times"),
        "{err}"
    );
    let err = check("buffer q capacity=2\nthread a {\n    put q sentinel=\"yes\"\n}\n");
    assert!(err.contains("`sentinel=` must be #true or #false"), "{err}");
}

/// The pool's events of one collecting step (by its source line), as task numbers.
fn collected_at(s: &Scenario, events: &[Event], line: u32) -> Vec<u32> {
    events
        .iter()
        .filter(|e| {
            e.kind == EventKind::Pass
                && s.threads[e.thread as usize]
                    .steps
                    .get(e.step as usize)
                    .map(|st| st.line)
                    == Some(line)
        })
        .filter_map(|e| e.item)
        .collect()
}

fn line_of(s: &Scenario, needle: &str) -> u32 {
    s.source
        .lines()
        .position(|l| l.trim_start().starts_with(needle))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("no line starting {needle}"))
}

/// Tasks in the order they finished (done or raised).
fn finish_order(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::TaskDone | EventKind::Raise))
        .filter_map(|e| e.item)
        .collect()
}

#[test]
fn futures_map_in_submission_order_as_completed_in_finishing_order_and_the_exception_at_result() {
    let s = builtin("futures");
    for _ in 0..2 {
        let ran = run(&s);
        // The last step re-raises the task's exception: the run ends failed, by design.
        let main = s.thread_index("main").expect("main");
        assert_eq!(
            ran.failures[main as usize].as_deref(),
            Some("ValueError: 7")
        );
        assert!(
            ran.failures
                .iter()
                .enumerate()
                .all(|(t, f)| t == main as usize || f.is_none()),
            "a worker whose task raised does not fail: {:?}",
            ran.failures
        );
        let mapped = collected_at(&s, &ran.events, line_of(&s, "map ex"));
        assert_eq!(mapped, [1, 2, 3], "map yields in submission order");
        let completed = collected_at(&s, &ran.events, line_of(&s, "as-completed ex"));
        let finished: Vec<u32> = finish_order(&ran.events)
            .into_iter()
            .filter(|n| (4..=6).contains(n))
            .collect();
        assert_eq!(
            completed, finished,
            "as_completed yields in finishing order"
        );
        assert_eq!(
            collected_at(&s, &ran.events, line_of(&s, "result ex task=7")),
            [7]
        );
        // Workers take whatever is next: every task once, in submission order, and its work
        // runs on the worker that took it, between the take and the finish.
        let takes: Vec<(ThreadIdx, u32)> = ran
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Take)
            .map(|e| (e.thread, e.item.expect("task")))
            .collect();
        assert_eq!(
            takes.iter().map(|&(_, n)| n).collect::<Vec<_>>(),
            (1..=7).collect::<Vec<_>>()
        );
        for &(w, n) in &takes {
            let from = ran
                .events
                .iter()
                .position(|e| e.thread == w && e.kind == EventKind::Take && e.item == Some(n))
                .expect("take");
            let to = ran.events[from..]
                .iter()
                .position(|e| {
                    matches!(e.kind, EventKind::TaskDone | EventKind::Raise) && e.item == Some(n)
                })
                .map(|k| from + k)
                .expect("finish");
            assert_eq!(
                ran.events[to].thread, w,
                "task {n} finished by another worker"
            );
            assert!(
                ran.events[from..to]
                    .iter()
                    .any(|e| e.thread == w && e.kind == EventKind::Run),
                "task {n}'s work did not run on its worker"
            );
        }
    }
}

#[test]
fn the_log_says_which_task_a_result_belongs_to_and_when_it_arrives() {
    let s = builtin("futures");
    let ran = run(&s);
    let mut trace = threadlab::trace::timeline::Trace::new(s.clone());
    trace.push(&ran.events);
    let lines: Vec<String> = ran
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Pass)
        .map(|e| trace.describe(threadlab::i18n::Lang::En, e))
        .collect();
    assert!(
        lines[0].starts_with("main: result of task 1 (submitted 1st) arrives 1st, run by worker-"),
        "{lines:?}"
    );
    assert!(
        lines[3].contains("(submitted 4th) arrives 4th")
            || lines[3].contains("(submitted 5th) arrives 4th")
            || lines[3].contains("(submitted 6th) arrives 4th"),
        "{lines:?}"
    );
}

#[test]
fn the_pool_lesson_is_a_real_pool() {
    let s = builtin("pool");
    let ran = run(&s);
    assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
    let collected = collected_at(&s, &ran.events, line_of(&s, "as-completed ex"));
    assert_eq!(
        collected,
        finish_order(&ran.events),
        "results in finishing order"
    );
    assert_eq!(collected.len(), 9);
    // Three workers share nine tasks, whichever is next: none runs more than one at a time,
    // and each took at least one.
    for w in ["worker-1", "worker-2", "worker-3"] {
        let t = s.thread_index(w).expect("worker");
        let took = ran
            .events
            .iter()
            .filter(|e| e.thread == t && e.kind == EventKind::Take)
            .count();
        assert!(took >= 1, "{w} took no task");
    }
}

#[test]
fn check_points_at_pool_misuse() {
    let err = check("pool ex\nthread main {\n    submit ex\n}\n");
    assert!(err.contains("`submit` needs `work=`"), "{err}");
    assert!(err.contains(":3:5]"), "{err}");
    let err = check("pool ex\nthread main {\n    submit ex work=\"1ms\" raises=\"ValueEror\"\n}\n");
    assert!(err.contains("did you mean raises=\"ValueError\"?"), "{err}");
    let err = check("pool ex\nthread main {\n    result ex\n}\n");
    assert!(err.contains("`result` needs `task=`"), "{err}");
}

#[test]
fn a_priority_queue_gives_the_lowest_priority_first_and_equals_in_put_order() {
    let source = "buffer jobs capacity=5\nthread boss {\n    put jobs priority=3\n    put jobs priority=1\n    put jobs priority=2\n    put jobs priority=1\n    put jobs priority=0\n}\nthread worker after=boss {\n    repeat 5 {\n        take jobs\n    }\n}\n";
    let s =
        Arc::new(threadlab::scenario::parse_source("prio", "prio.kdl", source).expect("parses"));
    let ran = run(&s);
    assert_eq!(ran.phase, Phase::Finished, "{:?}", ran.deadlock);
    let taken: Vec<u32> = ran
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Take)
        .filter_map(|e| e.item)
        .collect();
    assert_eq!(taken, [5, 2, 4, 3, 1]);
    let err = check("buffer q capacity=2\nthread a {\n    put q priority=1 sentinel=#true\n}\n");
    assert!(err.contains("not both"), "{err}");
}
