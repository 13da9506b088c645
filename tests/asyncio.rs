//! asyncio's own primitives for tasks, lesson by lesson: a semaphore that limits requests, a
//! queue between producer and consumer tasks, gather against wait and wait_for, and a blocking
//! call moved to a thread. Runs go at 4x; only orders and invariants over recorded events are
//! asserted. Then `check`'s refusals, at their exact line and column.

use std::collections::HashMap;
use std::sync::Arc;

use threadlab::engine::{Phase, RunOptions};
use threadlab::scenario::{self, model::Op, model::Scenario, model::ThreadIdx};
use threadlab::vocab::event::{Event, EventKind};

mod common;
use common::*;

fn parse(source: &str) -> Result<Scenario, miette::Report> {
    scenario::parse_source("test", "test.kdl", source)
}

fn refusal(source: &str) -> String {
    let err = parse(source).expect_err("check refuses it");
    scenario::render_plain(err.as_ref(), 200)
}

fn of(events: &[Event], t: ThreadIdx) -> impl Iterator<Item = &Event> {
    events.iter().filter(move |e| e.thread == t)
}

/// The tasks of a group, by their group name.
fn group(s: &Scenario, name: &str) -> Vec<ThreadIdx> {
    (0..s.threads.len() as ThreadIdx)
        .filter(|&t| s.threads[t as usize].group == name)
        .collect()
}

// ---- async-semaphore -------------------------------------------------------------------------

#[test]
fn never_more_tasks_inside_the_async_semaphore_than_it_has_permits() {
    let s = builtin("async-semaphore");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let limit = resource(&s, "limit") as u16;
    let mut inside: Vec<ThreadIdx> = Vec::new();
    let mut most = 0;
    let mut waited = Vec::new();
    for e in out.events.iter().filter(|e| e.resource == Some(limit)) {
        match e.kind {
            EventKind::Acquire => {
                inside.push(e.thread);
                most = most.max(inside.len());
                if let Some(by) = e.by {
                    // Handed over by a task that was inside and just left.
                    assert!(!inside[..inside.len() - 1].contains(&by));
                }
            }
            EventKind::Release => inside.retain(|&t| t != e.thread),
            EventKind::Block => waited.push(e.thread),
            _ => {}
        }
        assert!(inside.len() <= 3, "{} inside at {}", inside.len(), e.t_ns);
    }
    assert_eq!(most, 3, "three requests at once");
    assert_eq!(waited.len(), 7, "seven tasks waited for a permit");
    // First come, first served: permits are handed out in the order the waiters arrived.
    let handed: Vec<ThreadIdx> = out
        .events
        .iter()
        .filter(|e| e.resource == Some(limit) && e.kind == EventKind::Acquire && e.by.is_some())
        .map(|e| e.thread)
        .collect();
    assert_eq!(handed, waited);
}

/// While tasks wait on the semaphore, the loop runs others: a waiting task gives the loop up
/// (it is not holding it), and other tasks take the loop while it waits.
#[test]
fn a_task_waiting_on_the_async_semaphore_leaves_the_loop_to_others() {
    let s = builtin("async-semaphore");
    let out = run(&s);
    let limit = resource(&s, "limit") as u16;
    let main = resource(&s, "main") as u16;
    let mut holding_loop: Option<ThreadIdx> = None;
    let mut entered_while_someone_waits = 0;
    let mut waiting: Vec<ThreadIdx> = Vec::new();
    for e in &out.events {
        match (e.kind, e.resource) {
            (EventKind::Acquire, Some(r)) if r == main => {
                assert_eq!(holding_loop, None, "one task at a time on the loop");
                holding_loop = Some(e.thread);
                if waiting.iter().any(|&w| w != e.thread) {
                    entered_while_someone_waits += 1;
                }
            }
            (EventKind::Release, Some(r)) if r == main => holding_loop = None,
            (EventKind::Block, Some(r)) if r == limit => {
                assert_ne!(
                    holding_loop,
                    Some(e.thread),
                    "a waiting task gave the loop up"
                );
                waiting.push(e.thread);
            }
            (EventKind::Acquire, Some(r)) if r == limit && e.by.is_some() => {
                waiting.retain(|&w| w != e.thread)
            }
            _ => {}
        }
    }
    assert!(entered_while_someone_waits > 0);
}

// ---- check ------------------------------------------------------------------------------------

/// A threading primitive awaited in a task would block the whole loop: refused where the step
/// is, with the asyncio declaration to write instead.
#[test]
fn check_refuses_a_threading_primitive_in_a_task() {
    let text = refusal(
        "event-loop main\nsemaphore limit permits=3\ntask fetch {\n    acquire limit\n    release limit\n}\n",
    );
    assert!(text.contains("[test.kdl:4:5]"), "{text}");
    assert!(
        text.contains(
            "task `fetch` cannot `acquire` semaphore `limit`: it would block the whole event loop"
        ),
        "{text}"
    );
    assert!(
        text.contains("declare `async-semaphore limit permits=3`"),
        "{text}"
    );
    let text =
        refusal("event-loop\nbuffer q capacity=2\ntask p {\n    sleep \"1ms\"\n    put q\n}\n");
    assert!(text.contains("[test.kdl:5:5]"), "{text}");
    assert!(
        text.contains("declare `async-queue q capacity=2`"),
        "{text}"
    );
}

/// And asyncio's primitives belong to tasks: a thread that uses one is refused.
#[test]
fn check_refuses_an_asyncio_primitive_in_a_thread() {
    let text = refusal("async-lock L\nthread T1 {\n    lock L\n    unlock L\n}\n");
    assert!(text.contains("[test.kdl:3:5]"), "{text}");
    assert!(
        text.contains("thread `T1` cannot `lock` async-lock `L`"),
        "{text}"
    );
    assert!(text.contains("for threads declare `mutex L`"), "{text}");
}

/// Awaiting tasks is for tasks, and names tasks declared above.
#[test]
fn check_refuses_task_steps_in_threads_and_unknown_groups() {
    let text = refusal(
        "event-loop\ntask fetch {\n    sleep \"1ms\"\n}\nthread T1 {\n    gather fetch\n}\n",
    );
    assert!(text.contains("[test.kdl:6:5]"), "{text}");
    assert!(text.contains("thread `T1` cannot `gather`"), "{text}");
    let text = refusal(
        "event-loop\ntask main {\n    gather fetch\n}\ntask fetch {\n    sleep \"1ms\"\n}\n",
    );
    assert!(text.contains("[test.kdl:3:12]"), "{text}");
    assert!(
        text.contains("no task group fetch is declared above"),
        "{text}"
    );
    let text = refusal(
        "event-loop\ntask fetch {\n    sleep \"1ms\"\n}\ntask main {\n    wait fetch return-when=\"FIRST\"\n}\n",
    );
    assert!(text.contains("[test.kdl:6:16]"), "{text}");
    assert!(
        text.contains("return-when is \"FIRST_COMPLETED\" or \"ALL_COMPLETED\""),
        "{text}"
    );
    let text = refusal(
        "event-loop\ntask slow {\n    sleep \"1s\"\n}\ntask main {\n    wait-for slow\n}\n",
    );
    assert!(text.contains("[test.kdl:6:5]"), "{text}");
    assert!(text.contains("`wait-for` needs `timeout=`"), "{text}");
}

// ---- async-queue ------------------------------------------------------------------------------

/// Every item put is taken exactly once, after its put, in the order the items went in, and the
/// queue never holds more than its capacity.
#[test]
fn async_queue_items_are_delivered_once_in_order() {
    let s = builtin("async-queue");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let jobs = resource(&s, "jobs") as u16;
    let mut put_at: HashMap<u32, u64> = HashMap::new();
    let mut taken: Vec<u32> = Vec::new();
    let mut inside = 0i64;
    for e in out.events.iter().filter(|e| e.resource == Some(jobs)) {
        match e.kind {
            EventKind::Put => {
                let n = e.item.expect("a put numbers its item");
                assert!(put_at.insert(n, e.t_ns).is_none(), "item {n} put twice");
                inside += 1;
            }
            EventKind::Take => {
                let n = e.item.expect("a take names its item");
                assert!(put_at.contains_key(&n), "item {n} taken before it was put");
                taken.push(n);
                inside -= 1;
            }
            _ => {}
        }
        assert!((0..=3).contains(&inside), "{inside} items in a queue of 3");
    }
    assert_eq!(put_at.len(), 12);
    assert_eq!(
        taken,
        (1..=12).collect::<Vec<u32>>(),
        "once each, in put order"
    );
}

/// `join` goes on only after the last `task_done`; then the consumers, still awaiting `get`,
/// are cancelled there and do nothing more.
#[test]
fn async_queue_join_waits_for_every_task_done_then_the_consumers_are_cancelled() {
    let s = builtin("async-queue");
    let out = run(&s);
    let jobs = resource(&s, "jobs") as u16;
    let sup = thread(&s, "supervisor");
    let last_done = out
        .events
        .iter()
        .filter(|e| e.resource == Some(jobs) && e.kind == EventKind::TaskDone)
        .map(|e| e.t_ns)
        .max()
        .expect("items were done");
    let joined = of(&out.events, sup)
        .find(|e| e.resource == Some(jobs) && e.kind == EventKind::Pass)
        .expect("join went on");
    assert!(joined.t_ns >= last_done);
    assert_eq!(
        joined.by.map(|b| s.threads[b as usize].group.as_str()),
        Some("consumer")
    );
    for c in group(&s, "consumer") {
        let cancelled = of(&out.events, c)
            .find(|e| e.kind == EventKind::Cancelled)
            .unwrap_or_else(|| panic!("{} was cancelled", s.thread_name(c)));
        assert_eq!(cancelled.by, Some(sup));
        assert!(cancelled.t_ns >= joined.t_ns);
        assert!(
            matches!(op_of(&s, cancelled), Some(Op::Take(_))),
            "cancelled at its await on get"
        );
        assert_eq!(
            of(&out.events, c).last().map(|e| e.kind),
            Some(EventKind::Cancelled),
            "nothing after its cancellation"
        );
    }
}

// ---- gather-vs-wait ---------------------------------------------------------------------------

fn ended_at(events: &[Event], t: ThreadIdx) -> (EventKind, u64) {
    let e = of(events, t)
        .find(|e| {
            matches!(
                e.kind,
                EventKind::Done | EventKind::Cancelled | EventKind::Fail
            )
        })
        .expect("every task ends");
    (e.kind, e.t_ns)
}

/// gather goes on only after all three have ended; wait(FIRST_COMPLETED) right after the first,
/// and exactly the others are cancelled, each at its await, none running a step after the
/// cancel; wait_for cancels the slow task at its timeout and goes on after it has stopped.
#[test]
fn gather_waits_for_all_wait_takes_the_first_and_wait_for_times_out() {
    let s = builtin("gather-vs-wait");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let ev = &out.events;
    let pass_of = |t: ThreadIdx| {
        of(ev, t)
            .find(|e| e.kind == EventKind::Pass && e.resource.is_none())
            .unwrap_or_else(|| panic!("{} went on", s.thread_name(t)))
            .t_ns
    };

    // gather: after the last of the three.
    let gathered = pass_of(thread(&s, "gather-all"));
    for name in ["a-fast", "a-medium", "a-slow"] {
        let (kind, at) = ended_at(ev, thread(&s, name));
        assert_eq!(kind, EventKind::Done, "{name}");
        assert!(at <= gathered, "{name} ended before gather went on");
    }

    // wait FIRST_COMPLETED: the first to end, then exactly the others are cancelled.
    let first_wins = thread(&s, "first-wins");
    let b: Vec<ThreadIdx> = ["b-fast", "b-medium", "b-slow"]
        .iter()
        .map(|n| thread(&s, n))
        .collect();
    let went_on = of(ev, first_wins)
        .find(|e| e.kind == EventKind::Pass)
        .expect("wait went on");
    let first = went_on.by.expect("wait names the first to end");
    let (kind, first_end) = ended_at(ev, first);
    assert_eq!(kind, EventKind::Done);
    assert!(first_end <= went_on.t_ns);
    let asked: Vec<ThreadIdx> = of(ev, first_wins)
        .filter(|e| e.kind == EventKind::Cancel)
        .map(|e| e.item.expect("a cancel names its task") as ThreadIdx)
        .collect();
    let others: Vec<ThreadIdx> = b.iter().copied().filter(|&t| t != first).collect();
    assert_eq!(asked, others, "exactly the pending ones are cancelled");
    let cancel_at = of(ev, first_wins)
        .find(|e| e.kind == EventKind::Cancel)
        .unwrap()
        .t_ns;
    for &t in &others {
        let (kind, at) = ended_at(ev, t);
        assert_eq!(kind, EventKind::Cancelled, "{}", s.thread_name(t));
        assert!(at >= cancel_at);
        let cancelled = of(ev, t).find(|e| e.kind == EventKind::Cancelled).unwrap();
        assert_eq!(cancelled.by, Some(first_wins));
        assert!(
            matches!(op_of(&s, cancelled), Some(Op::Sleep(_))),
            "at its await"
        );
        assert!(
            !of(ev, t)
                .any(|e| e.t_ns >= cancel_at
                    && matches!(e.kind, EventKind::Run | EventKind::Acquire)),
            "{} ran nothing after the cancel",
            s.thread_name(t)
        );
    }

    // wait_for: the slow task is cancelled at the timeout, and the waiter goes on after it.
    let impatient = thread(&s, "impatient");
    let slow = thread(&s, "c-slow");
    let order: Vec<(ThreadIdx, EventKind)> = ev
        .iter()
        .filter(|e| {
            (e.thread == impatient && matches!(e.kind, EventKind::Timeout | EventKind::Cancel))
                || (e.thread == slow && e.kind == EventKind::Cancelled)
                || (e.thread == impatient && e.kind == EventKind::Run)
        })
        .map(|e| (e.thread, e.kind))
        .collect();
    assert_eq!(
        order,
        [
            (impatient, EventKind::Timeout),
            (impatient, EventKind::Cancel),
            (slow, EventKind::Cancelled),
            (impatient, EventKind::Run),
        ]
    );
    let slow_cancelled = of(ev, slow)
        .find(|e| e.kind == EventKind::Cancelled)
        .unwrap();
    assert_eq!(slow_cancelled.by, Some(impatient));
    // Cancelled well before its own 2 s were up: at the 500 ms timeout, not at its end.
    let slept_from = of(ev, slow)
        .find(|e| e.kind == EventKind::Sleep)
        .unwrap()
        .t_ns;
    let timed_out = of(ev, impatient)
        .find(|e| e.kind == EventKind::Timeout)
        .unwrap()
        .t_ns;
    assert!(slow_cancelled.t_ns - slept_from < 2_000_000_000);
    assert!(timed_out >= slept_from);
}

/// The log says who cancelled whom, and where the waits went on, in both languages.
#[test]
fn the_log_tells_cancellations_and_awaits_on_tasks() {
    use threadlab::i18n::Lang;
    let s = builtin("gather-vs-wait");
    let out = run(&s);
    let mut trace = threadlab::trace::timeline::Trace::new(s.clone());
    trace.push(&out.events);
    let said = |lang: Lang, t: &str, kind: EventKind| {
        let e = of(&out.events, thread(&s, t))
            .find(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("{t} {kind:?}"));
        trace.describe(lang, e)
    };
    assert_eq!(
        said(Lang::En, "b-slow", EventKind::Cancelled),
        "b-slow was cancelled by first-wins: CancelledError at its await"
    );
    assert!(said(Lang::Zh, "b-slow", EventKind::Cancelled).contains("CancelledError"));
    assert_eq!(
        said(Lang::En, "gather-all", EventKind::Sleep),
        "gather-all awaits every task of a-fast, a-medium, a-slow (asyncio.gather)"
    );
    assert_eq!(
        said(Lang::En, "impatient", EventKind::Timeout),
        "impatient gave up on c-slow after 500ms: TimeoutError, and c-slow is cancelled"
    );
    assert_eq!(
        said(Lang::En, "first-wins", EventKind::Pass),
        "first-wins goes on: b-fast finished first"
    );
}

// ---- to-thread --------------------------------------------------------------------------------

/// Times at which a task other than `except` was given the loop, in `from..to`.
fn loop_turns(s: &Scenario, events: &[Event], from: u64, to: u64, except: ThreadIdx) -> usize {
    let main = resource(s, "main") as u16;
    events
        .iter()
        .filter(|e| {
            e.resource == Some(main)
                && e.kind == EventKind::Acquire
                && e.thread != except
                && e.t_ns > from
                && e.t_ns < to
        })
        .count()
}

/// The blocking call made on the loop holds it: no task is given the loop while it lasts, and
/// the tickers wait ready. Moved with to_thread, it runs on the executor's worker thread (a
/// lane of its own, started by the call), and the loop runs the tickers meanwhile.
#[test]
fn to_thread_keeps_the_loop_free_and_the_blocking_call_does_not() {
    let s = builtin("to-thread");
    // At 1x the offloaded call lasts half a second of the wall clock: at 4x, a loaded machine
    // that stalls the whole process for a tenth of a second could end it before the tickers
    // had their turns.
    let out = run_with(&s, RunOptions::default());
    assert_eq!(out.phase, Phase::Finished);
    let ev = &out.events;

    let blocking = thread(&s, "fetch-blocking");
    let call = of(ev, blocking)
        .find(|e| e.kind == EventKind::Sleep && matches!(op_of(&s, e), Some(Op::BlockingSleep(_))))
        .expect("the blocking call");
    let after = of(ev, blocking)
        .find(|e| e.t_ns > call.t_ns && e.kind != EventKind::Sleep)
        .expect("it came back")
        .t_ns;
    assert_eq!(
        loop_turns(&s, ev, call.t_ns, after, blocking),
        0,
        "nothing ran on the loop during the blocking call"
    );
    // Ready and waiting for the loop at some moment of the call: blocked on it before the call
    // ended, and not given it until after the call began (a ticker may have turned ready just
    // before the call took the loop, or during it).
    let main = Some(resource(&s, "main") as u16);
    let frozen = group(&s, "tick")
        .into_iter()
        .filter(|&t| {
            let mine: Vec<&Event> = of(ev, t).filter(|e| e.resource == main).collect();
            mine.iter().enumerate().any(|(i, e)| {
                e.kind == EventKind::Block
                    && e.t_ns < after
                    && mine[i + 1..]
                        .iter()
                        .find(|g| g.kind == EventKind::Acquire)
                        .is_none_or(|g| g.t_ns > call.t_ns)
            })
        })
        .count();
    assert!(frozen > 0, "a ticker turned ready and waited for the loop");

    let offloaded = thread(&s, "fetch-in-thread");
    let worker = thread(&s, "asyncio_0");
    assert!(
        !s.threads[worker as usize].is_task(),
        "a real OS thread's lane"
    );
    let executor = resource(&s, "executor") as u16;
    let submitted = of(ev, offloaded)
        .find(|e| e.kind == EventKind::Put && e.resource == Some(executor))
        .expect("the call was handed to the executor")
        .t_ns;
    let started = of(ev, worker)
        .find(|e| e.kind == EventKind::Start)
        .expect("the worker started")
        .t_ns;
    assert!(
        started >= submitted,
        "the worker starts with the first call"
    );
    let slept = of(ev, worker)
        .find(|e| e.kind == EventKind::Sleep)
        .expect("the worker made the call")
        .t_ns;
    let returned = of(ev, worker)
        .find(|e| e.kind == EventKind::TaskDone && e.resource == Some(executor))
        .expect("the call returned")
        .t_ns;
    let collected = of(ev, offloaded)
        .find(|e| e.kind == EventKind::Pass && e.resource == Some(executor))
        .expect("the task got its result");
    assert_eq!(collected.by, Some(worker));
    assert!(collected.t_ns >= returned);
    assert!(
        loop_turns(&s, ev, slept, returned, offloaded) >= 2,
        "the tickers ran on the loop while the call was in progress"
    );
}

/// Every new lesson runs through its events file and summary in JSON the way the others do:
/// a cancelled task is marked so, the asyncio primitive says its keyword.
#[test]
fn json_summary_marks_cancelled_tasks_and_asyncio_kinds() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(["run", "async-queue", "--headless", "--json", "--speed", "4"])
        .output()
        .expect("threadlab runs");
    assert!(
        out.status.success(),
        "{:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let threads = json["threads"].as_array().unwrap();
    let consumer = threads.iter().find(|t| t["name"] == "consumer-1").unwrap();
    assert_eq!(consumer["cancelled"], true);
    assert_eq!(consumer["final_state"], "cancelled");
    let producer = threads.iter().find(|t| t["name"] == "producer-1").unwrap();
    assert!(producer.get("cancelled").is_none());
    assert_eq!(producer["final_state"], "done");
    let jobs = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "jobs")
        .unwrap();
    assert_eq!(jobs["kind"], "async-queue");
}

// ---- the deadlock watcher ----------------------------------------------------------------------

fn run_source(source: &str) -> (Phase, Vec<Event>, Option<String>, Arc<Scenario>) {
    let s = Arc::new(parse(source).expect("a valid scenario"));
    let run = threadlab::engine::Run::start(s.clone(), fast());
    let (phase, events) = run_to_end(&run);
    let said = run.deadlock().map(|d| d.describe(&s));
    run.stop();
    (phase, events, said, s)
}

/// A task awaiting a queue that no task left will fill is stuck, and named; so are two tasks
/// that each hold an asyncio lock and await the other's, a cycle on one thread.
#[test]
fn the_deadlock_watcher_knows_asyncio_waits() {
    let (phase, _, said, _) = run_source(
        "event-loop\nasync-queue q capacity=2\ntask producer {\n    put q\n}\ntask consumer {\n    take q\n    take q\n}\n",
    );
    assert_eq!(phase, Phase::Deadlock);
    let said = said.expect("reported");
    assert!(said.contains("consumer waits for q"), "{said}");

    let (phase, _, said, _) = run_source(
        "event-loop\nasync-lock a\nasync-lock b\ntask left {\n    lock a\n    sleep \"20ms\"\n    lock b\n    unlock b\n    unlock a\n}\ntask right {\n    lock b\n    sleep \"20ms\"\n    lock a\n    unlock a\n    unlock b\n}\n",
    );
    assert_eq!(phase, Phase::Deadlock);
    let said = said.expect("reported");
    assert!(said.contains("left") && said.contains("right"), "{said}");
    assert!(said.contains("held by"), "{said}");
}

/// An asyncio event lets every waiting task go on when set, naming the setter; a wait after
/// `clear` waits again.
#[test]
fn an_async_event_releases_every_waiter_and_names_the_setter() {
    let (phase, events, _, s) = run_source(
        "event-loop\nasync-event go\ntask waiter count=3 {\n    wait go\n    work \"1ms\"\n}\ntask starter {\n    sleep \"30ms\"\n    set go\n    clear go\n    sleep \"200ms\"\n    set go\n}\ntask late {\n    sleep \"120ms\"\n    wait go\n}\n",
    );
    assert_eq!(phase, Phase::Finished);
    let go = resource(&s, "go") as u16;
    let starter = thread(&s, "starter");
    let sets: Vec<u64> = of(&events, starter)
        .filter(|e| e.kind == EventKind::Set)
        .map(|e| e.t_ns)
        .collect();
    for w in group(&s, "waiter") {
        let passed = of(&events, w)
            .find(|e| e.kind == EventKind::Pass && e.resource == Some(go))
            .expect("went on");
        assert_eq!(passed.by, Some(starter));
        assert!(passed.t_ns >= sets[0] && passed.t_ns < sets[1]);
    }
    let late = thread(&s, "late");
    let passed = of(&events, late)
        .find(|e| e.kind == EventKind::Pass)
        .expect("went on");
    assert!(
        passed.t_ns >= sets[1],
        "after the clear it waited for the second set"
    );
}

/// Stepping a task whose step awaits other tasks ends the step when it starts to await, as a
/// step that blocks ends when the thread blocks (the tasks it awaits are paused meanwhile, so
/// otherwise the step could never end); the run then goes on to its end.
#[test]
fn a_stepped_await_on_tasks_ends_when_the_task_starts_waiting() {
    use std::time::Duration;
    use threadlab::engine::Run;
    let s = Arc::new(
        parse("event-loop\ntask fetch {\n    sleep \"50ms\"\n    work \"1ms\"\n}\ntask main {\n    gather fetch\n    work \"1ms\"\n}\n")
            .unwrap(),
    );
    let (fetch, main) = (thread(&s, "fetch"), thread(&s, "main"));
    let run = Run::start(
        s.clone(),
        RunOptions {
            start_paused: true,
            ..fast()
        },
    );
    let mut events = Vec::new();
    let held = |run: &Run, events: &mut Vec<Event>, t: ThreadIdx| {
        let from = events.len();
        for _ in 0..500 {
            run.wait_events(events, Duration::from_millis(20));
            if events[from..]
                .iter()
                .any(|e| e.thread == t && e.kind == EventKind::Hold)
            {
                return;
            }
        }
        panic!("{} never came to its step", s.thread_name(t));
    };
    held(&run, &mut events, fetch);
    run.step(fetch).expect("fetch holds the loop");
    assert!(run.wait_step_done(LIMIT));
    held(&run, &mut events, main);
    run.step(main).expect("main holds the loop");
    assert!(
        run.wait_step_done(Duration::from_secs(5)),
        "the stepped gather ended when main began to await"
    );
    run.resume();
    let (phase, rest) = run_to_end(&run);
    assert_eq!(phase, Phase::Finished);
    events.extend(rest);
    events.sort_by_key(|e| e.t_ns);
    let awaited = of(&events, main)
        .find(|e| e.kind == EventKind::Sleep)
        .expect("gather awaited")
        .t_ns;
    assert!(awaited < ended_at(&events, fetch).1);
}

/// A task gathering tasks that wait for what only it would do afterwards can never go on:
/// the run is a deadlock, found and reported, not a run that hangs with nothing to say.
#[test]
fn a_gather_on_tasks_waiting_for_the_gatherer_is_a_deadlock() {
    let s = Arc::new(
        parse(
            "event-loop main\nasync-event go\ntask waiter count=2 {\n    wait go\n}\n\
             task boss {\n    gather waiter\n    set go\n}\n",
        )
        .unwrap(),
    );
    let out = run(&s);
    assert_eq!(out.phase, Phase::Deadlock, "{:?}", out.deadlock);
    let said = out.deadlock.unwrap();
    assert!(said.contains("waits for go"), "{said}");
}
