//! Python's two ways of taking turns, lesson by lesson: threads under a GIL (and the convoy
//! an I/O thread joins behind it), and tasks on one event loop. Runs go at 4x; only orders and
//! invariants over recorded events are asserted.

use std::time::{Duration, Instant};

use threadlab::engine::{Phase, Run, RunOptions};
use threadlab::scenario::model::{Op, Scenario, ThreadIdx};
use threadlab::trace::invariants;
use threadlab::vocab::event::{Event, EventKind};

mod common;
use common::*;

#[test]
fn gil_threads_take_turns_and_free_threads_overlap() {
    let s = builtin("gil");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let gil = resource(&s, "py");
    assert_eq!(out.facts[gil].most_holders, 1);
    assert!(out.facts[gil].handoffs >= 2, "the GIL changed hands");
    let free: Vec<ThreadIdx> = (0..s.threads.len() as ThreadIdx)
        .filter(|&t| s.threads[t as usize].gil.is_none())
        .collect();
    let a = running_spans(&s, &out.events, free[0]);
    let b = running_spans(&s, &out.events, free[1]);
    assert!(
        overlap(&a, &b) > 0,
        "free threads computed at the same time"
    );
    let card = threadlab::trace::gil::compare(&s, &out.events).expect("both phases finished");
    assert_eq!(card.under_gil.threads, 2);
    assert!(
        card.under_gil.cpu_busy <= 1.05,
        "one core at a time under the GIL: {card:?}"
    );
}

#[test]
fn gil_convoy_makes_the_io_thread_wait_for_the_gil() {
    let s = builtin("gil-convoy");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let io = s.thread_index("io").unwrap();
    let waits = out
        .events
        .iter()
        .filter(|e| e.thread == io && e.kind == EventKind::Block)
        .count();
    let requests = out
        .events
        .iter()
        .filter(|e| e.thread == io && e.kind == EventKind::DropRequest)
        .count();
    assert!(waits > 0, "io waited for the GIL after waking");
    assert!(requests > 0, "and asked the holder to drop it");
}

// ---- the event loop ---------------------------------------------------------------------

/// A task's awaited sleeps, as (start, end): from its `sleep` event to the moment its timer ran
/// out and it was ready for the loop again.
fn awaits(s: &Scenario, events: &[Event], task: ThreadIdx) -> Vec<(u64, u64)> {
    let lp = s.threads[task as usize].event_loop.expect("a task");
    let mut out = Vec::new();
    let mut since = None;
    for e in events.iter().filter(|e| e.thread == task) {
        match (e.kind, op_of(s, e)) {
            (EventKind::Sleep, Some(Op::Sleep(_))) => since = since.or(Some(e.t_ns)),
            (EventKind::Block, _) if e.resource == Some(lp) => {
                if let Some(start) = since.take() {
                    out.push((start, e.t_ns));
                }
            }
            _ => {}
        }
    }
    out
}

fn task_of(s: &Scenario, group: &str) -> Vec<ThreadIdx> {
    (0..s.threads.len() as ThreadIdx)
        .filter(|&t| s.threads[t as usize].group == group)
        .collect()
}

#[test]
fn gathered_awaits_overlap_on_one_loop_and_sequential_awaits_do_not() {
    let s = builtin("event-loop");
    // The invariants include: one task on the loop at a time, tasks compute only while they
    // hold it and await only while they do not.
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let fetches = task_of(&s, "fetch");
    let waits: Vec<(u64, u64)> = fetches
        .iter()
        .map(|&t| {
            let w = awaits(&s, &out.events, t);
            assert_eq!(w.len(), 1, "{} awaits once", s.thread_name(t));
            w[0]
        })
        .collect();
    let latest_start = waits.iter().map(|w| w.0).max().unwrap();
    let earliest_end = waits.iter().map(|w| w.1).min().unwrap();
    assert!(
        latest_start < earliest_end,
        "the three gathered waits all overlap: {waits:?}"
    );
    let sequential = awaits(&s, &out.events, thread(&s, "one-by-one"));
    assert_eq!(sequential.len(), 3);
    assert!(
        sequential.windows(2).all(|w| w[0].1 <= w[1].0),
        "one-by-one's waits follow each other: {sequential:?}"
    );
    // Time the class sees: gathering costs about one wait, awaiting in turn about three.
    let span = |tasks: &[ThreadIdx]| {
        let of = |kind| {
            out.events
                .iter()
                .filter(move |e| tasks.contains(&e.thread) && e.kind == kind)
                .map(|e| e.t_ns)
        };
        of(EventKind::Done).max().unwrap() - of(EventKind::Start).min().unwrap()
    };
    let gathered = span(&fetches);
    let in_turn = span(&[thread(&s, "one-by-one")]);
    let one_wait = waits.iter().map(|w| w.1 - w.0).max().unwrap();
    assert!(gathered < 2 * one_wait, "gather: {gathered} ns");
    assert!(in_turn > 2 * one_wait, "in turn: {in_turn} ns");

    // The lesson's card and `--json` say the same, measured from the events: three waits at
    // once while gathered, one at a time after, and the gathered group done sooner.
    let mut summary = threadlab::trace::summary::SummaryBuilder::new(s.clone());
    summary.extend(&out.events);
    let g = summary
        .finish(&Default::default())
        .gather
        .expect("the event-loop lesson compares");
    assert_eq!((g.together.tasks, g.one_by_one.tasks), (3, 1));
    assert!(g.together.waits_at_once > 1.5, "{g:?}");
    assert!(g.one_by_one.waits_at_once <= 1.0, "{g:?}");
    assert!(g.speedup > 1.5, "{g:?}");
    let mut trace = threadlab::trace::Trace::new(s.clone());
    trace.push(&out.events);
    let cards = threadlab::trace::cards::cards(&trace, trace.end_ns(), 2, None);
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert!(
        cards[0].headline.is_some(),
        "both groups finished: {cards:?}"
    );
    // The log gives each await one line, its loop's release, with how long it awaits.
    for e in out.events.iter().filter(|e| fetches.contains(&e.thread)) {
        let line = trace.describe(threadlab::i18n::Lang::En, e);
        match e.kind {
            EventKind::Sleep => assert!(trace.said_elsewhere(e), "{line}"),
            EventKind::Release if e.step != threadlab::vocab::event::NO_STEP => {
                assert!(!trace.said_elsewhere(e), "{line}");
                assert!(line.contains("awaits a sleep (1s), freeing main"), "{line}");
            }
            _ => {}
        }
    }
    let midway = threadlab::trace::cards::cards(&trace, gathered / 2, 2, None);
    assert_eq!(
        midway[0].headline, None,
        "nothing to compare yet: {midway:?}"
    );
}

#[test]
fn only_lessons_that_compare_have_a_card() {
    let cards = |name: &str| {
        let s = builtin(name);
        threadlab::trace::cards::cards(&threadlab::trace::Trace::new(s), 0, 2, None).len()
    };
    assert_eq!(cards("event-loop"), 1);
    assert_eq!(cards("gil"), 1);
    for name in ["event-loop-blocking", "deadlock", "gil-convoy", "rwlock"] {
        assert_eq!(cards(name), 0, "{name}");
    }
}

#[test]
fn one_blocking_call_freezes_every_task_on_the_loop() {
    let s = builtin("event-loop-blocking");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let report = thread(&s, "report");
    let main = resource(&s, "main") as u16;
    let blocked_from = out
        .events
        .iter()
        .find(|e| {
            e.thread == report
                && e.kind == EventKind::Sleep
                && matches!(op_of(&s, e), Some(Op::BlockingSleep(_)))
        })
        .expect("report blocks")
        .t_ns;
    let blocked_until = out
        .events
        .iter()
        .find(|e| e.thread == report && e.t_ns > blocked_from && e.kind != EventKind::Sleep)
        .expect("report goes on")
        .t_ns;
    // Nobody else runs while report sleeps holding the loop.
    let intruder = out.events.iter().find(|e| {
        e.thread != report
            && (blocked_from..blocked_until).contains(&e.t_ns)
            && matches!(e.kind, EventKind::Run | EventKind::Acquire)
    });
    assert_eq!(intruder, None, "a task ran while the loop was blocked");
    // The tickers' timers run out while report still blocks, and they wait for the loop until
    // the block is over.
    for tick in task_of(&s, "tick") {
        let resumed_after = |ready: u64| {
            out.events
                .iter()
                .find(|e| {
                    e.thread == tick
                        && e.kind == EventKind::Acquire
                        && e.resource == Some(main)
                        && e.t_ns >= ready
                })
                .map(|e| e.t_ns)
        };
        let frozen = awaits(&s, &out.events, tick).into_iter().any(|(_, ready)| {
            ready < blocked_until && resumed_after(ready).is_some_and(|t| t >= blocked_until)
        });
        assert!(
            frozen,
            "{} was never left ready by the block",
            s.thread_name(tick)
        );
    }
    // The summary names the culprit: report kept the loop longest without awaiting.
    let mut summary = threadlab::trace::summary::SummaryBuilder::new(s.clone());
    summary.extend(&out.events);
    let figures = summary.finish(&Default::default());
    let lp = figures
        .resources
        .iter()
        .find(|r| r.name() == "main")
        .unwrap();
    match lp {
        threadlab::trace::summary::ResourceFigures::EventLoop {
            longest_turn_by, ..
        } => assert_eq!(longest_turn_by.as_deref(), Some("report")),
        other => panic!("{other:?}"),
    }
}

/// Wait (bounded) until `thread` has recorded an event of `kind` at `events[from..]`.
fn await_event(
    run: &Run,
    events: &mut Vec<Event>,
    from: usize,
    thread: ThreadIdx,
    kind: EventKind,
) {
    let deadline = Instant::now() + LIMIT;
    while !events[from..]
        .iter()
        .any(|e| e.thread == thread && e.kind == kind)
    {
        assert!(
            Instant::now() < deadline,
            "no {kind:?} from thread {thread}"
        );
        run.wait_events(events, Duration::from_millis(20));
    }
}

#[test]
fn stepping_tasks_follows_the_loop_a_ready_task_waits_for_the_running_one_to_await() {
    let s = builtin("event-loop");
    let run = Run::start(
        s.clone(),
        RunOptions {
            speed: 4.0,
            start_paused: true,
        },
    );
    let mut events = Vec::new();
    let fetches = task_of(&s, "fetch");
    // gather(): one task is polled first and holds the loop; the others are ready behind it.
    let first = loop {
        run.wait_events(&mut events, Duration::from_millis(20));
        if let Some(e) = events
            .iter()
            .find(|e| e.kind == EventKind::Hold && fetches.contains(&e.thread))
        {
            break e.thread;
        }
        assert!(events.len() < 10_000);
    };
    let other = *fetches.iter().find(|&&t| t != first).unwrap();
    match run.step(other) {
        Err(threadlab::engine::StepError::LoopBusy { running, .. }) => {
            assert_eq!(running.as_deref(), Some(s.thread_name(first)))
        }
        r => panic!("stepping a ready task: {r:?}"),
    }
    // Its request (work), then its await: the loop is free, and another task gets it.
    for _ in 0..2 {
        run.step(first).expect("the running task steps");
        assert!(run.wait_step_done(LIMIT));
    }
    let before = events.len();
    let next = loop {
        run.wait_events(&mut events, Duration::from_millis(20));
        if let Some(e) = events[before..]
            .iter()
            .find(|e| e.kind == EventKind::Hold && e.thread != first)
        {
            break e.thread;
        }
        assert!(events.len() < 10_000);
    };
    await_event(&run, &mut events, before, first, EventKind::Block);
    match run.step(first) {
        Err(threadlab::engine::StepError::LoopBusy { running, .. }) => {
            assert_eq!(running.as_deref(), Some(s.thread_name(next)))
        }
        r => panic!("stepping a task whose await is over while another runs: {r:?}"),
    }
    run.resume();
    let (phase, rest) = run_to_end(&run);
    assert_eq!(phase, Phase::Finished);
    events.extend(rest);
    events.sort_by_key(|e| e.t_ns);
    invariants::check(&s, &events).unwrap_or_else(|e| panic!("{e}"));
}

// ---- the GIL convoy ---------------------------------------------------------------------

/// The convoy lesson's last phase: `io` outlasts `cpu`, and once `cpu` is done each of io's
/// wake-ups (from the start of its sleep to computing again) no longer includes a wait for
/// the GIL, so it is shorter by most of a switch interval.
#[test]
fn gil_convoy_wake_ups_become_prompt_once_the_cpu_thread_is_done() {
    let s = builtin("gil-convoy");
    let io = thread(&s, "io");
    let cpu = thread(&s, "cpu");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let cpu_done = out
        .events
        .iter()
        .find(|e| e.thread == cpu && e.kind == EventKind::Done)
        .expect("cpu finishes")
        .t_ns;
    let mut ordered: Vec<&Event> = out.events.iter().filter(|e| e.thread == io).collect();
    ordered.sort_by_key(|e| e.t_ns);
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut slept = None;
    for e in ordered {
        match e.kind {
            EventKind::Sleep => slept = Some(e.t_ns),
            EventKind::Run => {
                if let Some(t) = slept.take() {
                    let side = if t < cpu_done {
                        &mut before
                    } else {
                        &mut after
                    };
                    side.push(e.t_ns - t);
                }
            }
            _ => {}
        }
    }
    assert!(
        after.len() >= 10,
        "io is still running when cpu finishes ({} wake-ups after)",
        after.len()
    );
    assert!(before.len() >= 10, "and was stuck behind it before");
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (b, a) = (median(&mut before), median(&mut after));
    let half_interval = Duration::from_micros(2500).as_nanos() as u64;
    assert!(
        a + half_interval <= b,
        "wake-ups took {} µs behind cpu and {} µs after it",
        b / 1000,
        a / 1000
    );
}
