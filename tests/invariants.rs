//! The invariant checker catches what it promises to: event logs of lessons' resources,
//! written by hand to break one rule each, are refused, and the legal ones pass.

use threadlab::scenario::model::{Op, Scenario, ThreadIdx};
use threadlab::trace::invariants;
use threadlab::vocab::event::{Event, EventKind};

mod common;
use common::*;

fn ev(t_ns: u64, thread: ThreadIdx, kind: EventKind, r: u16, by: Option<ThreadIdx>) -> Event {
    Event {
        t_ns,
        thread,
        kind,
        resource: Some(r),
        by,
        step: 0,
        item: None,
    }
}

/// Two event logs for a lesson's rwlock `table`: reader-1 reads (its step 0 is `read table`),
/// the writer queues, reader-2 walks in past it; and a reader taking it while the writer writes.
fn rwlock_passing_and_beside(s: &Scenario) -> ([Event; 3], [Event; 2]) {
    let table = resource(s, "table") as u16;
    let writer = thread(s, "writer");
    let write_step = s.threads[writer as usize]
        .steps
        .iter()
        .position(|st| st.op == Op::Write(table))
        .unwrap() as u32;
    let w = |t_ns, kind| Event {
        step: write_step,
        ..ev(t_ns, writer, kind, table, None)
    };
    (
        [
            ev(1, 0, EventKind::Acquire, table, None),
            w(2, EventKind::Block),
            ev(3, 1, EventKind::Acquire, table, None),
        ],
        [
            w(1, EventKind::Acquire),
            ev(2, 0, EventKind::Acquire, table, None),
        ],
    )
}

#[test]
fn invariants_reject_a_reader_beside_a_writer_and_a_reader_jumping_the_queue() {
    let s = builtin("rwlock");
    let (passed, beside) = rwlock_passing_and_beside(&s);
    let err = invariants::check(&s, &passed).unwrap_err();
    assert!(err.contains("ahead of writer"), "{err}");
    let err = invariants::check(&s, &beside).unwrap_err();
    assert!(err.contains("while writer was writing"), "{err}");
}

#[test]
fn invariants_let_readers_past_a_writer_only_on_a_lock_that_prefers_readers() {
    let s = builtin("writer-starvation");
    let table = resource(&s, "table") as u16;
    let (passed, beside) = rwlock_passing_and_beside(&s);
    invariants::check(&s, &passed).unwrap();
    // But a reader never waits while nobody writes or is about to.
    let waited = [
        ev(1, 0, EventKind::Acquire, table, None),
        ev(2, 1, EventKind::Block, table, None),
    ];
    let err = invariants::check(&s, &waited).unwrap_err();
    assert!(err.contains("while nobody was writing"), "{err}");
    let err = invariants::check(&s, &beside).unwrap_err();
    assert!(err.contains("while writer was writing"), "{err}");
}

#[test]
fn invariants_reject_an_event_passed_before_it_was_set_and_a_counter_that_lies() {
    let s = builtin("event");
    let ready = resource(&s, "ready") as u16;
    let early = [ev(1, 1, EventKind::Pass, ready, Some(0))];
    assert!(invariants::check(&s, &early).is_err());

    let s = builtin("race");
    let hits = resource(&s, "hits") as u16;
    let with = |e: Event, v: u32| Event { item: Some(v), ..e };
    // adder-2 reads 0 after adder-1 already stored 1: the stamps would be out of order.
    let stale_read = [
        with(ev(1, 0, EventKind::Load, hits, None), 0),
        with(ev(2, 0, EventKind::Store, hits, None), 1),
        with(ev(3, 1, EventKind::Load, hits, None), 0),
    ];
    assert!(invariants::check(&s, &stale_read).is_err());
    // A real lost update: both read 0, both store 1; one update is lost and marked.
    let lost = [
        with(ev(1, 0, EventKind::Load, hits, None), 0),
        with(ev(2, 1, EventKind::Load, hits, None), 0),
        with(ev(3, 0, EventKind::Store, hits, None), 1),
        with(ev(4, 1, EventKind::Store, hits, None), 1),
    ];
    let facts = invariants::check(&s, &lost).unwrap();
    assert_eq!(facts[hits as usize].increments, 2);
    assert_eq!(facts[hits as usize].value, 1);
    assert_eq!(facts[hits as usize].lost_updates(), 1);
    let marked = invariants::lost_updates(&s, &lost);
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].store.thread, 1);
    assert_eq!((marked[0].loaded, marked[0].value), (0, 1));
}
