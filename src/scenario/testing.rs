//! Scenarios written inline, for the tests of every room above the language: unit tests,
//! `tests/` and `benches/` build them here, so the engine can be tested apart from the language.

use std::sync::Arc;
use std::time::Duration;

use crate::scenario::model::{Op, Resource, ResourceKind, Scenario, Step, ThreadSpec};

/// A scenario with these resources and threads; step lines are numbered from 10 per thread
/// (thread i's step j is on line 10*(i+1)+j) so tests can tell them apart.
pub fn scenario(resources: &[(&str, ResourceKind)], threads: &[(&str, Vec<Op>)]) -> Arc<Scenario> {
    Arc::new(Scenario {
        name: "test".into(),
        origin: "test".into(),
        source: Arc::from(""),
        title: "A test scenario".into(),
        about: String::new(),
        title_zh: None,
        about_zh: None,
        models: Default::default(),
        traced: false,
        resources: resources
            .iter()
            .enumerate()
            .map(|(i, (name, kind))| Resource {
                name: name.to_string(),
                kind: *kind,
                line: i as u32 + 1,
                asyncio: false,
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
                event_loop: None,
                daemon: false,
                process: None,
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
        processes: Vec::new(),
    })
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
