//! asyncio's own primitives for tasks, lesson by lesson: a semaphore that limits requests, a
//! queue between producer and consumer tasks, gather against wait and wait_for, and a blocking
//! call moved to a thread. Runs go at 4x; only orders and invariants over recorded events are
//! asserted. Then `check`'s refusals, at their exact line and column.

use std::collections::HashMap;
use std::sync::Arc;

use threadlab::engine::Phase;
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
                if e.by.is_some() {
                    // Handed over by a task that was inside and just left.
                    assert!(!inside[..inside.len() - 1].contains(&e.by.unwrap()));
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
                assert_ne!(holding_loop, Some(e.thread), "a waiting task gave the loop up");
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
        text.contains("task `fetch` cannot `acquire` semaphore `limit`: it would block the whole event loop"),
        "{text}"
    );
    assert!(text.contains("declare `async-semaphore limit permits=3`"), "{text}");
    let text = refusal("event-loop\nbuffer q capacity=2\ntask p {\n    sleep \"1ms\"\n    put q\n}\n");
    assert!(text.contains("[test.kdl:5:5]"), "{text}");
    assert!(text.contains("declare `async-queue q capacity=2`"), "{text}");
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
    let text = refusal("event-loop\ntask main {\n    gather fetch\n}\ntask fetch {\n    sleep \"1ms\"\n}\n");
    assert!(text.contains("[test.kdl:3:12]"), "{text}");
    assert!(text.contains("no task group fetch is declared above"), "{text}");
    let text = refusal(
        "event-loop\ntask fetch {\n    sleep \"1ms\"\n}\ntask main {\n    wait fetch return-when=\"FIRST\"\n}\n",
    );
    assert!(text.contains("[test.kdl:6:16]"), "{text}");
    assert!(text.contains("return-when is \"FIRST_COMPLETED\" or \"ALL_COMPLETED\""), "{text}");
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
    assert_eq!(taken, (1..=12).collect::<Vec<u32>>(), "once each, in put order");
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
    assert_eq!(joined.by.map(|b| s.threads[b as usize].group.as_str()), Some("consumer"));
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
