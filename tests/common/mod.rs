//! Helpers the integration tests share: loading lessons, building scenarios in code, and
//! running to the end with every wait bounded.
#![allow(dead_code)] // each test file uses a different subset

use std::sync::Arc;
use std::time::{Duration, Instant};

use threadlab::engine::{Phase, Run, RunOptions};
use threadlab::scenario::model::{Op, Resource, ResourceKind, Scenario, Step, ThreadSpec};
use threadlab::vocab::event::Event;

/// The longest any test run may take before the test fails instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(30);

pub fn builtin(name: &str) -> Arc<Scenario> {
    Arc::new(threadlab::scenario::load(name).expect("built-in loads"))
}

/// 4x: every timed step a quarter as long; orders and invariants are unchanged.
pub fn fast() -> RunOptions {
    RunOptions {
        speed: 4.0,
        start_paused: false,
    }
}

/// A scenario built in code, so the engine can be tested apart from the language.
pub fn scenario(resources: &[(&str, ResourceKind)], threads: &[(&str, Vec<Op>)]) -> Arc<Scenario> {
    Arc::new(Scenario {
        name: "coded".into(),
        origin: "coded".into(),
        source: "".into(),
        title: "coded".into(),
        about: String::new(),
        title_zh: None,
        about_zh: None,
        resources: resources
            .iter()
            .map(|(name, kind)| Resource {
                name: name.to_string(),
                kind: *kind,
                line: 1,
            })
            .collect(),
        threads: threads
            .iter()
            .map(|(name, ops)| ThreadSpec {
                name: name.to_string(),
                group: name.to_string(),
                line: 1,
                gil: None,
                after: Vec::new(),
                event_loop: None,
                steps: ops.iter().map(|&op| Step { op, line: 1 }).collect(),
            })
            .collect(),
    })
}

/// Run until finished or deadlocked (bounded by [`LIMIT`]); every event in time order.
pub fn run_to_end(run: &Run) -> (Phase, Vec<Event>) {
    let mut events = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while !matches!(run.phase(), Phase::Finished | Phase::Deadlock) {
        run.wait_events(&mut events, Duration::from_millis(20));
        assert!(
            Instant::now() < deadline,
            "run did not end within {LIMIT:?}"
        );
    }
    // Every thread hands over what it recorded within a step slice of the run ending.
    while !run.settled() {
        run.wait_events(&mut events, Duration::from_millis(5));
        assert!(
            Instant::now() < deadline,
            "threads did not hand over their events within {LIMIT:?}"
        );
    }
    run.drain_events(&mut events);
    events.sort_by_key(|e| e.t_ns);
    (run.phase(), events)
}
