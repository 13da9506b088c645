//! The engine on real threads: invariants from recorded events, never absolute times.

use std::sync::Arc;
use std::time::{Duration, Instant};

use threadlab::engine::{Phase, Run, RunOptions};
use threadlab::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx};
use threadlab::scenario::testing::ms;
use threadlab::trace::invariants;
use threadlab::vocab::event::{Event, EventKind};
use threadlab::vocab::{Blame, Deadlock};

mod common;
use common::{LIMIT, builtin, fast, run_scheduled, run_to_end, scenario};

fn kinds_of(events: &[Event], t: ThreadIdx) -> Vec<EventKind> {
    events
        .iter()
        .filter(|e| e.thread == t)
        .map(|e| e.kind)
        .collect()
}

const A: ResIdx = 0;
const B: ResIdx = 1;

/// The classic deadlock at a test's pace: 20 ms of work between the two locks.
fn deadlock_scenario() -> Arc<Scenario> {
    threadlab::trace::testing::deadlock_working(ms(20))
}

#[test]
fn forced_schedule_always_deadlocks_and_names_the_cycle() {
    let s = deadlock_scenario();
    for _ in 0..5 {
        let run = run_scheduled(&s, RunOptions::default(), &[0, 1]);
        let (phase, events) = run_to_end(&run);
        assert_eq!(phase, Phase::Deadlock);
        let d = run.deadlock().expect("deadlock reported");
        assert_eq!(
            d.describe(&s),
            "T1 waits for B held by T2, T2 waits for A held by T1"
        );
        invariants::check(&s, &events).unwrap();
        let joined = run.stop();
        assert!(joined < Duration::from_secs(2), "joined in {joined:?}");
    }
}

#[test]
fn fixed_lock_order_never_deadlocks() {
    let s = scenario(
        &[("A", ResourceKind::Mutex), ("B", ResourceKind::Mutex)],
        &[
            (
                "T1",
                vec![
                    Op::Lock(A),
                    Op::Work(ms(2)),
                    Op::Lock(B),
                    Op::Unlock(B),
                    Op::Unlock(A),
                ],
            ),
            (
                "T2",
                vec![
                    Op::Lock(A),
                    Op::Work(ms(2)),
                    Op::Lock(B),
                    Op::Unlock(B),
                    Op::Unlock(A),
                ],
            ),
        ],
    );
    for _ in 0..20 {
        let run = Run::start(s.clone(), RunOptions::default());
        let (phase, events) = run_to_end(&run);
        assert_eq!(phase, Phase::Finished);
        invariants::check(&s, &events).unwrap();
        assert_eq!(run.dropped_events(), 0);
    }
}

#[test]
fn semaphore_never_admits_more_than_its_permits() {
    let threads: Vec<(String, Vec<Op>)> = (1..=10)
        .map(|i| {
            (
                format!("w{i}"),
                vec![Op::Acquire(0), Op::Sleep(ms(30)), Op::Release(0)],
            )
        })
        .collect();
    let threads: Vec<(&str, Vec<Op>)> = threads
        .iter()
        .map(|(n, o)| (n.as_str(), o.clone()))
        .collect();
    let s = scenario(
        &[("pool", ResourceKind::Semaphore { permits: 3 })],
        &threads,
    );
    let run = Run::start(s.clone(), RunOptions::default());
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Finished);
    let facts = invariants::check(&s, &events).unwrap();
    assert_eq!(facts[0].most_holders, 3, "three at once is reached");
    assert!(facts[0].handoffs >= 1, "some permits were handed over");
}

#[test]
fn failed_thread_does_not_stop_the_run() {
    let s = scenario(
        &[("A", ResourceKind::Mutex)],
        &[
            ("bad", vec![Op::Unlock(A)]),
            ("good", vec![Op::Lock(A), Op::Work(ms(1)), Op::Unlock(A)]),
        ],
    );
    let run = Run::start(s.clone(), RunOptions::default());
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Finished);
    assert_eq!(kinds_of(&events, 0).last(), Some(&EventKind::Fail));
    assert_eq!(kinds_of(&events, 1).last(), Some(&EventKind::Done));
    assert!(run.failure(0).unwrap().contains("does not hold"));
}

#[test]
fn pause_stops_every_thread_and_step_moves_exactly_one() {
    let s = scenario(
        &[],
        &[
            ("T1", vec![Op::Work(ms(5)); 200]),
            ("T2", vec![Op::Sleep(ms(5)); 200]),
        ],
    );
    let run = Run::start(s.clone(), RunOptions::default());
    let mut events = Vec::new();
    run.wait_events(&mut events, ms(200));
    run.pause();
    // Every thread reaches a gate; after that nothing but nothing happens.
    let deadline = Instant::now() + LIMIT;
    while events.iter().filter(|e| e.kind == EventKind::Hold).count() < 2 {
        run.wait_events(&mut events, ms(20));
        assert!(Instant::now() < deadline, "threads did not stop");
    }
    let frozen = run.now_ns();
    std::thread::sleep(ms(50));
    let mut after = Vec::new();
    run.drain_events(&mut after);
    assert!(after.is_empty(), "events while paused: {after:?}");
    assert_eq!(run.now_ns(), frozen, "run time stops while paused");

    run.step(0).unwrap();
    assert!(run.wait_step_done(LIMIT));
    std::thread::sleep(ms(30));
    run.drain_events(&mut after);
    assert!(
        after.iter().all(|e| e.thread == 0),
        "only T1 moved: {after:?}"
    );
    assert_eq!(
        after.iter().filter(|e| e.kind == EventKind::Hold).count(),
        1,
        "T1 stopped again after one step"
    );
    assert!(run.now_ns() > frozen, "run time ran during the step");
    assert_eq!(run.phase(), Phase::Paused);
    let joined = run.stop();
    assert!(joined < Duration::from_secs(2), "joined in {joined:?}");
}

#[test]
fn reset_from_a_deadlock_joins_every_thread() {
    let s = deadlock_scenario();
    for _ in 0..10 {
        let run = run_scheduled(&s, RunOptions::default(), &[0, 1]);
        let (phase, _) = run_to_end(&run);
        assert_eq!(phase, Phase::Deadlock);
        let joined = run.stop();
        assert!(joined < Duration::from_secs(2), "joined in {joined:?}");
    }
}

#[test]
fn barrier_lets_nobody_through_before_all_arrive() {
    let s = scenario(
        &[("gate", ResourceKind::Barrier { parties: 3 })],
        &[
            (
                "fast",
                vec![Op::Work(ms(1)), Op::Wait(0), Op::Work(ms(1)), Op::Wait(0)],
            ),
            (
                "mid",
                vec![Op::Work(ms(8)), Op::Wait(0), Op::Work(ms(4)), Op::Wait(0)],
            ),
            (
                "slow",
                vec![
                    Op::Sleep(ms(20)),
                    Op::Wait(0),
                    Op::Sleep(ms(10)),
                    Op::Wait(0),
                ],
            ),
        ],
    );
    for _ in 0..5 {
        let run = Run::start(s.clone(), RunOptions::default());
        let (phase, events) = run_to_end(&run);
        assert_eq!(phase, Phase::Finished);
        let facts = invariants::check(&s, &events).unwrap();
        assert_eq!(facts[0].trips, 2);
        // Passing threads name the arrival that tripped the barrier.
        assert!(
            events
                .iter()
                .filter(|e| e.kind == EventKind::Pass && e.by.is_some())
                .all(|e| e.by != Some(e.thread))
        );
    }
}

#[test]
fn buffer_keeps_fifo_order_and_bounds_and_makes_both_sides_wait() {
    let producer = |n| (0..n).map(|_| Op::Put(0)).collect::<Vec<_>>();
    let consumer = |n| {
        (0..n)
            .flat_map(|_| [Op::Take(0), Op::Sleep(ms(4))])
            .collect::<Vec<_>>()
    };
    let s = scenario(
        &[("queue", ResourceKind::Buffer { capacity: 3 })],
        &[
            ("p1", producer(10)),
            ("p2", producer(10)),
            ("c1", consumer(10)),
            ("c2", consumer(10)),
            // A late consumer that finds the buffer empty at first.
            ("late", [vec![Op::Take(0)], vec![Op::Sleep(ms(1))]].concat()),
            ("extra", vec![Op::Sleep(ms(80)), Op::Put(0)]),
        ],
    );
    let run = Run::start(s.clone(), RunOptions::default());
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Finished);
    let facts = invariants::check(&s, &events).unwrap();
    assert_eq!(facts[0].puts, 21);
    assert_eq!(facts[0].takes, 21, "every item taken exactly once");
    assert_eq!(facts[0].most_fill, 3, "producers filled the buffer");
    let blocked_producers = events
        .iter()
        .filter(|e| e.kind == EventKind::Block && e.thread < 2)
        .count();
    assert!(blocked_producers > 0, "producers waited while it was full");
}

#[test]
fn gil_lets_one_thread_compute_at_a_time_and_free_threads_overlap() {
    let mut s = Arc::unwrap_or_clone(scenario(
        &[("gil", ResourceKind::Gil { interval: ms(5) })],
        &[
            ("cpu-1", vec![Op::Work(ms(60))]),
            ("cpu-2", vec![Op::Work(ms(60))]),
            ("free-1", vec![Op::Work(ms(60))]),
            ("free-2", vec![Op::Work(ms(60))]),
        ],
    ));
    s.threads[0].gil = Some(0);
    s.threads[1].gil = Some(0);
    s.threads[2].after = vec![0, 1];
    s.threads[3].after = vec![0, 1];
    let s = Arc::new(s);
    let run = Run::start(s.clone(), RunOptions::default());
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Finished);
    let facts = invariants::check(&s, &events).unwrap();
    assert!(
        facts[0].handoffs >= 2,
        "the GIL changed hands: {:?}",
        facts[0]
    );
    assert!(
        events.iter().any(|e| e.kind == EventKind::DropRequest),
        "hand-offs follow drop requests"
    );
    // The free phase starts only after the GIL phase ended.
    let last_gil_done = events
        .iter()
        .filter(|e| e.thread < 2 && e.kind == EventKind::Done)
        .map(|e| e.t_ns)
        .max()
        .unwrap();
    let first_free_start = events
        .iter()
        .filter(|e| e.thread >= 2 && e.kind == EventKind::Start)
        .map(|e| e.t_ns)
        .min()
        .unwrap();
    assert!(first_free_start >= last_gil_done);
}

#[test]
fn step_next_ready_takes_turns() {
    let s = scenario(
        &[],
        &[
            ("T1", vec![Op::Work(ms(1)); 3]),
            ("T2", vec![Op::Work(ms(1)); 3]),
        ],
    );
    let run = Run::start(
        s,
        RunOptions {
            start_paused: true,
            ..RunOptions::default()
        },
    );
    // Both threads must have reached their first gate to count as ready.
    let mut events = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while events
        .iter()
        .filter(|e: &&Event| e.kind == EventKind::Hold)
        .count()
        < 2
    {
        run.wait_events(&mut events, ms(20));
        assert!(
            Instant::now() < deadline,
            "threads did not reach their gates"
        );
    }
    let mut order = Vec::new();
    for _ in 0..4 {
        order.push(run.step_next_ready().unwrap());
        assert!(run.wait_step_done(LIMIT));
    }
    assert_eq!(order, vec![0, 1, 0, 1]);
}

#[test]
fn a_wait_nobody_can_end_is_reported_as_the_root_not_a_cycle() {
    // Both end up waiting on an empty buffer; only T2 would ever put into it again, but T2 waits
    // for an item itself, so it is not named as one who could provide: nobody left can.
    let s = scenario(
        &[("Q", ResourceKind::Buffer { capacity: 2 })],
        &[
            ("T1", vec![Op::Put(0), Op::Take(0), Op::Take(0)]),
            ("T2", vec![Op::Take(0), Op::Take(0), Op::Put(0), Op::Put(0)]),
        ],
    );
    // T1 puts and takes its own item, then waits for another, which T2 could still put; then
    // T2 waits too, and nobody will ever put for T2.
    let run = run_scheduled(&s, RunOptions::default(), &[0, 0, 0, 1]);
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Deadlock);
    invariants::check(&s, &events).unwrap();
    let d = run.deadlock().unwrap();
    // T1 waits in a take: what it lacks is an item, whatever else its script does.
    assert_eq!(
        d.describe(&s),
        "T1 waits for Q, which no thread left can fill"
    );
    assert_eq!(links(&d), vec![edge(0, 0, Blame::Nobody)]);
    assert_eq!(d.stuck, vec![0, 1]);
}

#[test]
fn a_reader_passes_a_queued_writer_only_on_a_lock_that_prefers_readers() {
    for prefer_readers in [false, true] {
        let s = scenario(
            &[("T", ResourceKind::RwLock { prefer_readers })],
            &[
                ("R1", vec![Op::Read(0), Op::Sleep(ms(10)), Op::Unlock(0)]),
                ("W", vec![Op::Write(0), Op::Unlock(0)]),
                ("R2", vec![Op::Read(0), Op::Unlock(0)]),
            ],
        );
        // R1 reads; W queues behind it; then R2 comes to read.
        let run = run_scheduled(&s, RunOptions::default(), &[0, 1, 2]);
        let (phase, events) = run_to_end(&run);
        assert_eq!(phase, Phase::Finished);
        invariants::check(&s, &events).unwrap();
        let acquired = |t: ThreadIdx| {
            events
                .iter()
                .position(|e| e.thread == t && e.kind == EventKind::Acquire)
                .unwrap()
        };
        assert!(kinds_of(&events, 1).contains(&EventKind::Block));
        if prefer_readers {
            assert!(
                !kinds_of(&events, 2).contains(&EventKind::Block),
                "R2 walked in past the queued writer"
            );
            assert!(acquired(2) < acquired(1));
        } else {
            assert!(
                kinds_of(&events, 2).contains(&EventKind::Block),
                "R2 queued behind the writer"
            );
            assert!(acquired(1) < acquired(2));
        }
    }
}

/// A link of a cycle as the tests name it: who waits, for what, blaming whom.
fn edge(thread: ThreadIdx, resource: ResIdx, blame: Blame) -> (ThreadIdx, ResIdx, Blame) {
    (thread, resource, blame)
}

fn links(d: &Deadlock) -> Vec<(ThreadIdx, ResIdx, Blame)> {
    d.cycle
        .iter()
        .map(|e| (e.thread, e.resource, e.blame))
        .collect()
}

/// The last thing each thread recorded doing, in time order.
fn last_kind(events: &[Event], t: ThreadIdx) -> Option<EventKind> {
    events.iter().rev().find(|e| e.thread == t).map(|e| e.kind)
}

#[test]
fn a_thread_that_starts_after_a_stuck_group_is_stuck_with_it() {
    // A waits for go, which only B sets; B starts only after A has finished.
    let mut s = (*scenario(
        &[("go", ResourceKind::Event)],
        &[("A", vec![Op::Wait(0)]), ("B", vec![Op::Set(0)])],
    ))
    .clone();
    s.threads[1].after = vec![0];
    let s = Arc::new(s);
    for _ in 0..5 {
        let run = Run::start(s.clone(), fast());
        let (phase, events) = run_to_end(&run);
        assert_eq!(phase, Phase::Deadlock);
        let d = run.deadlock().unwrap();
        assert_eq!(links(&d), vec![edge(0, 0, Blame::Nobody)]);
        assert_eq!(d.stuck, vec![0, 1]);
        assert_eq!(kinds_of(&events, 1), vec![]);
        invariants::check(&s, &events).unwrap();
    }
}

#[test]
fn a_consumer_whose_item_is_taken_back_is_found_stuck_every_time() {
    // The producer puts one item and takes it back. Whether the consumer got to it first or
    // not, one of the two is left waiting on an empty buffer nobody will fill again.
    let s = scenario(
        &[("q", ResourceKind::Buffer { capacity: 1 })],
        &[
            ("C", vec![Op::Take(0)]),
            ("P", vec![Op::Sleep(ms(20)), Op::Put(0), Op::Take(0)]),
        ],
    );
    for round in 0..30 {
        let run = Run::start(s.clone(), fast());
        let (phase, events) = run_to_end(&run);
        assert_eq!(phase, Phase::Deadlock, "round {round}");
        let d = run.deadlock().unwrap();
        let [only] = d.cycle.as_slice() else {
            panic!("round {round}: {d:?}");
        };
        assert_eq!(only.blame, Blame::Nobody, "round {round}");
        assert_eq!(d.stuck, vec![only.thread], "round {round}");
        let other = 1 - only.thread;
        assert_eq!(last_kind(&events, other), Some(EventKind::Done));
        invariants::check(&s, &events).unwrap();
    }
}

#[test]
fn a_second_permit_of_the_only_one_is_a_self_deadlock_found_before_anyone_else_arrives() {
    let s = scenario(
        &[("S", ResourceKind::Semaphore { permits: 1 })],
        &[
            ("B", vec![Op::Acquire(0), Op::Acquire(0)]),
            // Long enough that the watcher, told when B blocks, always looks first.
            ("A", vec![Op::Sleep(ms(2000)), Op::Acquire(0)]),
        ],
    );
    let run = Run::start(s.clone(), RunOptions::default());
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Deadlock);
    let d = run.deadlock().unwrap();
    assert_eq!(links(&d), vec![edge(0, 0, Blame::HeldBy(0))]);
    assert!(d.is_self_deadlock());
    assert_eq!(d.stuck, vec![0]);
    assert_eq!(
        d.describe(&s),
        "B waits for a second permit of S while holding the only one"
    );
    // A was never blocked on S, and nothing says it holds anything.
    assert!(
        !events
            .iter()
            .any(|e| e.thread == 1 && e.kind == EventKind::Block),
        "{events:?}"
    );
    run.stop();
}

#[test]
fn waits_that_only_a_stuck_thread_could_end_name_it_as_such() {
    // Events: each waits for the event the other would set afterwards.
    let s = scenario(
        &[("go", ResourceKind::Event), ("done", ResourceKind::Event)],
        &[
            ("A", vec![Op::Wait(0), Op::Set(1)]),
            ("B", vec![Op::Wait(1), Op::Set(0)]),
        ],
    );
    let run = Run::start(s.clone(), fast());
    let (phase, _) = run_to_end(&run);
    assert_eq!(phase, Phase::Deadlock);
    let d = run.deadlock().unwrap();
    assert_eq!(
        links(&d),
        vec![
            edge(0, 0, Blame::OnlyFrom(1)),
            edge(1, 1, Blame::OnlyFrom(0))
        ]
    );
    assert_eq!(
        d.describe(&s),
        "A waits for go, which only B (itself stuck) could set, \
         B waits for done, which only A (itself stuck) could set"
    );

    // A barrier: A holds M and waits at the barrier for B, which waits for M.
    let s = scenario(
        &[
            ("gate", ResourceKind::Barrier { parties: 2 }),
            ("M", ResourceKind::Mutex),
        ],
        &[
            ("A", vec![Op::Lock(1), Op::Wait(0), Op::Unlock(1)]),
            ("B", vec![Op::Lock(1), Op::Wait(0), Op::Unlock(1)]),
        ],
    );
    let run = run_scheduled(&s, RunOptions::default(), &[0, 0, 1]);
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Deadlock);
    let d = run.deadlock().unwrap();
    assert_eq!(
        links(&d),
        vec![edge(0, 0, Blame::OnlyFrom(1)), edge(1, 1, Blame::HeldBy(0))]
    );
    assert_eq!(
        d.describe(&s),
        "A waits for gate, which only B (itself stuck) could reach, B waits for M held by A"
    );
    invariants::check(&s, &events).unwrap();
}

#[test]
fn a_chain_of_after_groups_through_a_task_is_stuck_behind_its_first_thread() {
    // W waits for go; only S sets it; S starts after the task X, which starts after W.
    let text = "event go\nevent-loop main\nthread W {\n  wait go\n}\n\
                task X after=W {\n  sleep \"5ms\"\n}\nthread S after=X {\n  set go\n}\n";
    let s = Arc::new(threadlab::scenario::parse_source("chain", "chain.kdl", text).unwrap());
    let run = Run::start(s.clone(), fast());
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Deadlock);
    let d = run.deadlock().unwrap();
    assert_eq!(links(&d), vec![edge(0, 0, Blame::Nobody)]);
    assert_eq!(d.stuck, vec![0, 1, 2]);
    assert!(kinds_of(&events, 1).is_empty() && kinds_of(&events, 2).is_empty());
}

/// Speed changes how long the wall clock waits, never what run time says: at 0.25x a 40 ms
/// sleep takes 160 ms of the wall clock but spans 40 ms of run time on the axis, and at 4x the
/// same. (Scheduling delays can only lengthen a span, and at 0.25x shrink by four on the axis,
/// so "well under the wall time" cannot fail by noise.)
#[test]
fn run_time_is_nominal_at_every_speed() {
    let s = scenario(
        &[],
        &[(
            "T",
            vec![Op::Sleep(ms(40)), Op::Work(ms(1)), Op::Sleep(ms(40))],
        )],
    );
    for speed in [0.25, 4.0] {
        let wall = Instant::now();
        let run = Run::start(
            s.clone(),
            RunOptions {
                speed,
                start_paused: false,
            },
        );
        let (phase, events) = run_to_end(&run);
        let wall = wall.elapsed();
        assert_eq!(phase, Phase::Finished);
        let sleeps: Vec<u64> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == EventKind::Sleep)
            .map(|(i, e)| events[i + 1].t_ns - e.t_ns)
            .collect();
        assert_eq!(sleeps.len(), 2, "{events:?}");
        for span in sleeps {
            assert!(
                span >= ms(40).as_nanos() as u64,
                "at {speed}x a 40 ms sleep spans only {span} ns of run time"
            );
        }
        if speed < 1.0 {
            assert!(
                wall >= ms(320),
                "at {speed}x the sleeps took {wall:?} of wall time"
            );
            let end = events.last().unwrap().t_ns;
            assert!(
                end < wall.as_nanos() as u64 / 2,
                "at {speed}x the run spans {end} ns of run time in {wall:?} of wall time"
            );
        }
    }
}

/// Wait (bounded) until the run pauses by itself; every event recorded meanwhile goes to `out`.
fn wait_hit(run: &Run, out: &mut Vec<Event>) -> Option<threadlab::engine::Hit> {
    let deadline = Instant::now() + LIMIT;
    loop {
        run.wait_events(out, ms(5));
        if let Some(hit) = run.take_hit() {
            return Some(hit);
        }
        if run.phase() == Phase::Finished {
            return None;
        }
        assert!(Instant::now() < deadline, "the run never paused by itself");
    }
}

/// Stepping by event runs the whole run on to its next event and pauses there: three parallel
/// 120 ms reads stepped through event by event stay parallel (each spans its 120 ms of run
/// time, and all three are under way at once), where stepping one thread at a time would have
/// drawn them one after another.
#[test]
fn stepping_by_event_keeps_parallel_sleeps_parallel() {
    let reads = ["A", "B", "C"].map(|n| (n, vec![Op::Sleep(ms(120)), Op::Work(ms(1))]));
    let s = scenario(&[], &reads);
    // At 1x: a thread the machine is slow to wake still starts its read long before another's
    // 120 ms are over.
    let run = Run::start(
        s,
        RunOptions {
            start_paused: true,
            speed: 1.0,
        },
    );
    let mut events = Vec::new();
    let mut hits = 0;
    for _ in 0..200 {
        let before = run.now_ns();
        run.step_event();
        let Some(hit) = wait_hit(&run, &mut events) else {
            break;
        };
        hits += 1;
        let e = hit.event.expect("a step by event stops at an event");
        assert!(
            e.t_ns >= before,
            "the event a step stopped at ({} ns) is before the step began ({before} ns)",
            e.t_ns
        );
        assert!(!matches!(e.kind, EventKind::Hold | EventKind::DropRequest));
    }
    let (phase, rest) = run_to_end(&run);
    assert_eq!(
        phase,
        Phase::Finished,
        "200 steps by event finish three reads"
    );
    events.extend(rest);
    events.sort_by_key(|e| e.t_ns);
    assert!(
        hits >= 6,
        "each read's start and end is its own step: {hits} steps"
    );
    let spans: Vec<(u64, u64)> = (0..3)
        .map(|t| {
            let start = events
                .iter()
                .find(|e| e.thread == t && e.kind == EventKind::Sleep)
                .expect("each thread sleeps")
                .t_ns;
            let end = events
                .iter()
                .find(|e| e.thread == t && e.kind == EventKind::Run)
                .expect("each thread works after its read")
                .t_ns;
            (start, end)
        })
        .collect();
    for &(start, end) in &spans {
        assert!(end - start >= ms(120).as_nanos() as u64, "{spans:?}");
    }
    let last_start = spans.iter().map(|s| s.0).max().unwrap();
    let first_end = spans.iter().map(|s| s.1).min().unwrap();
    assert!(
        last_start < first_end,
        "the three reads were not under way at once: {spans:?}"
    );
}

/// A breakpoint on a thread's blocking pauses the run at that very event; one on a resource at
/// its first change of hands; one on a line before the thread carries out the step there.
#[test]
fn breakpoints_pause_at_the_named_event() {
    use threadlab::engine::Breakpoint;
    let s = threadlab::scenario::load("deadlock").expect("built-in");
    let s = Arc::new(s);
    let t2 = s.thread_index("T2").unwrap();
    let a = s.resource_index("A").unwrap();
    let lock_a_in_t2 = 2;
    let line = s.threads[t2 as usize].steps[lock_a_in_t2].line;
    let cases = [
        (
            Breakpoint::Thread {
                thread: t2,
                on: Some(EventKind::Block),
            },
            Some(EventKind::Block),
        ),
        (Breakpoint::Resource(a), Some(EventKind::Acquire)),
        (Breakpoint::Line(line), None),
    ];
    for (breakpoint, kind) in cases {
        let run = Run::start(
            s.clone(),
            RunOptions {
                start_paused: true,
                ..fast()
            },
        );
        run.set_breakpoints(vec![breakpoint]);
        run.resume();
        let mut events = Vec::new();
        let hit = wait_hit(&run, &mut events).expect("the breakpoint fires");
        assert_eq!(hit.why, threadlab::engine::Why::Breakpoint(breakpoint));
        assert_eq!(hit.event.map(|e| e.kind), kind, "{breakpoint:?}");
        match breakpoint {
            Breakpoint::Thread { thread, .. } => assert_eq!(hit.thread, thread),
            Breakpoint::Resource(r) => assert_eq!(hit.event.unwrap().resource, Some(r)),
            Breakpoint::Line(_) => {
                assert_eq!((hit.thread, hit.step), (t2, lock_a_in_t2 as u32));
                // Held before the step: T2 never did anything on that line (giving back the
                // GIL its lesson implies, on the way to the step, is not part of it).
                run.pause();
                run.wait_events(&mut events, ms(50));
                run.drain_events(&mut events);
                assert!(
                    !events.iter().any(|e| e.thread == t2
                        && e.step == lock_a_in_t2 as u32
                        && e.kind != EventKind::Hold
                        && !e.resource.is_some_and(|r| s.is_implied(r))),
                    "{events:?}"
                );
            }
        }
        assert_ne!(run.phase(), Phase::Running);
        run.stop();
    }
}

/// The quiz pauses the run when a second thread queues for a taken lock (who gets it next?)
/// and again when it is handed over, and the answer is the thread that really took it: the
/// first in the queue, as the lock hands over in arrival order. The queue is built by stepping
/// (T1 takes M, then T2 and T3 queue behind it), so no machine's pace can let M go free before
/// both wait; from the question on, the run goes freely.
#[test]
fn the_quiz_asks_before_a_hand_over_with_several_waiters_and_answers_after() {
    use threadlab::engine::Why;
    const M: ResIdx = 0;
    let s = scenario(
        &[("M", ResourceKind::Mutex)],
        &[
            ("T1", vec![Op::Lock(M), Op::Work(ms(40)), Op::Unlock(M)]),
            ("T2", vec![Op::Sleep(ms(5)), Op::Lock(M), Op::Unlock(M)]),
            ("T3", vec![Op::Sleep(ms(10)), Op::Lock(M), Op::Unlock(M)]),
        ],
    );
    let run = Run::start(
        s,
        RunOptions {
            start_paused: true,
            ..fast()
        },
    );
    run.set_quiz(true);
    let mut events = Vec::new();
    // T1 takes M; T2 sleeps and queues (one waiter: no question yet); T3 sleeps and queues.
    for (t, step) in [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1)] {
        run.step(t)
            .unwrap_or_else(|e| panic!("T{} step {step}: {e:?}", t + 1));
        assert!(
            run.wait_step_done(LIMIT),
            "T{} step {step} never ended",
            t + 1
        );
        if (t, step) != (2, 1) {
            assert_eq!(run.take_hit(), None, "asked before two threads waited");
        }
    }
    let question = run
        .take_hit()
        .expect("a question when the second waiter queues");
    let Why::Question { resource, waiting } = question.why else {
        panic!("{question:?}");
    };
    assert_eq!(resource, M);
    assert_eq!(waiting, [1, 2], "the waiters in the order they came");
    run.resume();
    let answer = wait_hit(&run, &mut events).expect("an answer");
    assert_eq!(
        answer.why,
        Why::Answer {
            resource: M,
            thread: waiting[0]
        }
    );
    // Nobody took M between the question and the answer but the one the answer names.
    run.resume();
    let (phase, rest) = run_to_end(&run);
    assert_eq!(phase, Phase::Finished);
    events.extend(rest);
    events.sort_by_key(|e| e.t_ns);
    let asked = question.event.unwrap().t_ns;
    let first_after = events
        .iter()
        .find(|e| e.t_ns >= asked && e.kind == EventKind::Acquire && e.resource == Some(M))
        .expect("M is handed over");
    assert_eq!(first_after.thread, waiting[0]);
}

/// "Step next" steps whoever acts next in run time: a thread paused in the middle of a long
/// sleep acts when the sleep ends, so a thread waiting at a step boundary, which acts now, is
/// stepped first, every time, however the turns would go round.
#[test]
fn step_next_picks_whoever_acts_next_in_run_time() {
    let s = scenario(
        &[],
        &[
            ("A", vec![Op::Sleep(ms(3000)), Op::Work(ms(1))]),
            ("B", vec![Op::Work(ms(2)); 1000]),
        ],
    );
    let run = Run::start(
        s,
        RunOptions {
            speed: 1.0,
            start_paused: false,
        },
    );
    // Let A begin its sleep, then pause with A asleep and B between steps.
    let mut events = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while !events
        .iter()
        .any(|e: &Event| e.thread == 0 && e.kind == EventKind::Sleep)
    {
        run.wait_events(&mut events, ms(5));
        assert!(Instant::now() < deadline);
    }
    run.pause();
    for _ in 0..4 {
        let t = run.step_next_ready().expect("somebody is ready");
        assert_eq!(t, 1, "A is asleep for a while yet; B acts now");
        assert!(run.wait_step_done(LIMIT));
    }
    run.stop();
}

// ---- every lesson can be reset, even mid-wait ---------------------------------------------

/// At 0.1x every timed step lasts ten times as long, so a stop that waited for a sleep, a
/// timeout or a piece of work to end would take seconds, far beyond the bound, while one that
/// cuts them short stays well inside it even on a loaded machine.
#[test]
fn every_lesson_stops_promptly_mid_run() {
    for lesson in threadlab::scenario::builtin::all() {
        let name = lesson.name;
        let s = builtin(name);
        let run = Run::start(
            s,
            RunOptions {
                speed: 0.1,
                start_paused: false,
            },
        );
        let mut events = Vec::new();
        // Let it get going (some threads waiting), then reset.
        let deadline = Instant::now() + Duration::from_millis(150);
        while Instant::now() < deadline {
            run.wait_events(&mut events, Duration::from_millis(20));
        }
        let took = run.stop();
        assert!(
            took < Duration::from_secs(3),
            "{name} took {took:?} to stop"
        );
    }
}

// ---- two runs driven together ---------------------------------------------------------------

/// Two runs driven together (`compare`): when one pauses by itself at the end of a step by
/// event, the other is held at once, and its own step by event is called off, so it does not
/// pause later at an event of its own once let go.
#[test]
fn a_run_pausing_by_itself_holds_the_run_driven_along_with_it() {
    let paused = RunOptions {
        speed: 1.0,
        start_paused: true,
    };
    // A acts at once; B's first event after its start is the end of a sleep long enough for
    // A's thread to be scheduled first on a busy machine.
    let a = Run::start(scenario(&[], &[("A", vec![Op::Work(ms(1)); 50])]), paused);
    let b = Run::start(
        scenario(&[], &[("B", vec![Op::Sleep(ms(1000)), Op::Work(ms(1))])]),
        paused,
    );
    a.pause_along(&b);
    b.pause_along(&a);
    let mut events = Vec::new();
    // B goes first and is under way in its sleep, stepping by event (its next event is the
    // sleep's end), before A is let go.
    b.resume();
    let deadline = Instant::now() + LIMIT;
    while !events.iter().any(|e: &Event| e.kind == EventKind::Sleep) {
        b.wait_events(&mut events, ms(5));
        assert!(Instant::now() < deadline, "B never began its sleep");
    }
    b.step_event();
    let hit = loop {
        assert!(
            b.take_hit().is_none(),
            "B reached an event of its own first"
        );
        if let Some(hit) = a.take_hit() {
            break hit;
        }
        if a.phase() == Phase::Running {
            a.wait_events(&mut Vec::new(), ms(5));
        } else {
            a.step_event();
        }
        assert!(Instant::now() < deadline, "A never reached its event");
    };
    assert!(hit.event.is_some());
    // A paused at its event, and B with it, before any look at them could see B move on.
    assert_eq!(a.phase(), Phase::Paused);
    assert_eq!(b.phase(), Phase::Paused, "B still runs while A is held");
    let held_at = b.now_ns();
    b.wait_events(&mut events, ms(50));
    assert_eq!(b.now_ns(), held_at, "B's clock moved while it was held");
    assert!(held_at < ms(1000).as_nanos() as u64, "B was held mid-sleep");

    // Let go, B runs through its sleep and to its end without stopping by itself.
    b.resume();
    while b.phase() != Phase::Finished {
        assert!(
            b.take_hit().is_none(),
            "B stopped at its own event after all"
        );
        assert_ne!(b.phase(), Phase::Paused, "B paused by itself");
        b.wait_events(&mut events, ms(5));
        assert!(Instant::now() < deadline, "B never finished");
    }
    a.stop();
    b.stop();
}

/// How far apart two runs driven together drift in run time: let go together and held back
/// to back (space), and held by the other's step by event (e: from the worker that reached
/// the event). Prints the figures; run by hand:
/// `cargo test --test engine two_runs_stand_together -- --ignored --nocapture`.
#[test]
#[ignore = "measures; run by hand"]
fn two_runs_stand_together() {
    let work = || scenario(&[], &[("T", vec![Op::Work(ms(3)); 2000])]);
    let paused = RunOptions {
        speed: 1.0,
        start_paused: true,
    };
    let a = Run::start(work(), paused);
    let b = Run::start(work(), paused);
    a.pause_along(&b);
    b.pause_along(&a);
    // How much further one clock went than the other over a move, in ns.
    let apart = || a.now_ns() as i64 - b.now_ns() as i64;
    let mut space = Vec::new();
    let mut step = Vec::new();
    for _ in 0..200 {
        let before = apart();
        a.resume_with(&b);
        a.wait_events(&mut Vec::new(), ms(10));
        a.pause();
        b.pause();
        space.push(apart().abs_diff(before));
        let before = apart();
        a.step_event_with(&b);
        let deadline = Instant::now() + LIMIT;
        while a.phase() == Phase::Running || b.phase() == Phase::Running {
            a.wait_events(&mut Vec::new(), ms(1));
            assert!(Instant::now() < deadline, "neither reached an event");
        }
        assert!(a.take_hit().is_some() || b.take_hit().is_some());
        step.push(apart().abs_diff(before));
    }
    let show = |name: &str, v: &mut Vec<u64>| {
        v.sort();
        eprintln!(
            "{name}: median {} us, p90 {} us, p99 {} us, max {} us over {} moves",
            v[v.len() / 2] / 1000,
            v[v.len() * 9 / 10] / 1000,
            v[v.len() * 99 / 100] / 1000,
            v[v.len() - 1] / 1000,
            v.len()
        );
        v[v.len() * 9 / 10]
    };
    let space = show("space (resume both, pause both)", &mut space);
    let step = show("e (one reaches its event, the other is held)", &mut step);
    a.stop();
    b.stop();
    // Nine moves in ten keep the two clocks within a millisecond of each other.
    assert!(space < ms(1).as_nanos() as u64 && step < ms(1).as_nanos() as u64);
}

/// A deadlocked run has stopped everywhere, also where a thread or a task waits for an
/// `after=` group that will never finish: "step next" then says at once that nobody is ready,
/// instead of waiting for those to reach a gate they never will.
#[test]
fn a_lane_waiting_for_its_group_counts_as_stopped() {
    let text = "event-loop main\nmutex a\nthread A {\n    lock a\n    lock a\n}\n\
                thread B after=A {\n    work \"1ms\"\n}\ntask C after=A {\n    sleep \"1ms\"\n}\n";
    let s = Arc::new(threadlab::scenario::parse_source("t", "t.kdl", text).unwrap());
    let run = Run::start(s, fast());
    let (phase, _) = run_to_end(&run);
    assert_eq!(phase, Phase::Deadlock);
    let deadline = Instant::now() + LIMIT;
    while !run.all_stopped() {
        assert!(
            Instant::now() < deadline,
            "the run never stopped everywhere"
        );
        std::thread::sleep(ms(1));
    }
    assert!(matches!(
        run.step_next_ready(),
        Err(threadlab::engine::StepError::NoneReady)
    ));
    run.stop();
}

/// Threads handing primitives to each other with nothing in between, thousands of times: in
/// the order of their stamps the mutex never has two holders, the semaphore never more than its
/// permits, the buffer never more than it holds, and no two events on one primitive share an
/// instant, so every reader puts cause before effect.
#[test]
fn hand_overs_with_nothing_between_keep_their_order() {
    let text = "mutex A\nsemaphore S permits=2\nbuffer Q capacity=1\n\
        thread m count=3 { repeat 2000 { lock A; unlock A; } }\n\
        thread s count=3 { repeat 2000 { acquire S; release S; } }\n\
        thread p { repeat 3000 { put Q; } }\n\
        thread c { repeat 3000 { take Q; } }\n";
    let s = Arc::new(threadlab::scenario::parse_source("hammer", "hammer.kdl", text).unwrap());
    let run = Run::start(s.clone(), RunOptions::default());
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Finished);
    invariants::check(&s, &events).unwrap();
    for r in 0..s.resources.len() as u16 {
        let on_r: Vec<u64> = events
            .iter()
            .filter(|e| e.resource == Some(r))
            .map(|e| e.t_ns)
            .collect();
        assert!(on_r.len() >= 6_000, "{} events on {r}", on_r.len());
        if let Some(w) = on_r.windows(2).find(|w| w[0] >= w[1]) {
            panic!("two events on resource {r} at {} and {} ns", w[0], w[1]);
        }
    }
}
