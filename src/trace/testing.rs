//! Small builders for trace tests: scenarios and events written inline.

use std::sync::Arc;
use std::time::Duration;

use crate::scenario::model::{Op, ResIdx, Resource, ResourceKind, Scenario, Step, ThreadIdx, ThreadSpec};
use crate::trace::event::{Event, EventKind, NO_STEP};

/// A scenario with these resources and threads; step lines are numbered from 10 per thread
/// (thread i's step j is on line 10*(i+1)+j) so tests can tell them apart.
pub fn scenario(resources: &[(&str, ResourceKind)], threads: &[(&str, Vec<Op>)]) -> Arc<Scenario> {
    Arc::new(Scenario {
        name: "test".into(),
        origin: "test".into(),
        source: Arc::from(""),
        title: "A test scenario".into(),
        about: String::new(),
        resources: resources
            .iter()
            .enumerate()
            .map(|(i, (name, kind))| Resource {
                name: name.to_string(),
                kind: *kind,
                line: i as u32 + 1,
            })
            .collect(),
        threads: threads
            .iter()
            .enumerate()
            .map(|(i, (name, ops))| ThreadSpec {
                name: name.to_string(),
                group: name.to_string(),
                line: 10 * (i as u32 + 1) - 1,
                gil: None,
                after: Vec::new(),
                steps: ops
                    .iter()
                    .enumerate()
                    .map(|(j, &op)| Step {
                        op,
                        line: 10 * (i as u32 + 1) + j as u32,
                    })
                    .collect(),
            })
            .collect(),
    })
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An event with no resource, outside any step.
pub fn ev(t_ns: u64, thread: ThreadIdx, kind: EventKind) -> Event {
    Event {
        t_ns,
        thread,
        kind,
        resource: None,
        by: None,
        step: NO_STEP,
        item: None,
    }
}

/// Builder-style tweaks for test events.
pub trait EventExt {
    fn res(self, r: ResIdx) -> Event;
    fn by(self, t: ThreadIdx) -> Event;
    fn step(self, s: u32) -> Event;
    fn item(self, n: u32) -> Event;
}

impl EventExt for Event {
    fn res(mut self, r: ResIdx) -> Event {
        self.resource = Some(r);
        self
    }
    fn by(mut self, t: ThreadIdx) -> Event {
        self.by = Some(t);
        self
    }
    fn step(mut self, s: u32) -> Event {
        self.step = s;
        self
    }
    fn item(mut self, n: u32) -> Event {
        self.item = Some(n);
        self
    }
}

/// The classic deadlock: T1 locks A then B, T2 locks B then A.
pub fn deadlock_scenario() -> Arc<Scenario> {
    scenario(
        &[("A", ResourceKind::Mutex), ("B", ResourceKind::Mutex)],
        &[
            (
                "T1",
                vec![Op::Lock(0), Op::Work(ms(100)), Op::Lock(1), Op::Unlock(1), Op::Unlock(0)],
            ),
            (
                "T2",
                vec![Op::Lock(1), Op::Work(ms(100)), Op::Lock(0), Op::Unlock(0), Op::Unlock(1)],
            ),
        ],
    )
}

/// Events of the deadlock scenario running into its deadlock, in ms.
pub fn deadlock_events() -> Vec<Event> {
    use EventKind::*;
    const MS: u64 = 1_000_000;
    vec![
        ev(0, 0, Start),
        ev(0, 1, Start),
        ev(MS, 0, Acquire).res(0).step(0),
        ev(MS, 1, Acquire).res(1).step(0),
        ev(2 * MS, 0, Run).step(1),
        ev(2 * MS, 1, Run).step(1),
        ev(100 * MS, 0, Block).res(1).step(2),
        ev(101 * MS, 1, Block).res(0).step(2),
    ]
}
