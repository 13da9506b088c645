//! What a run's threads and tasks cost the machine to start and to keep waiting: the process's
//! resident memory (from `/proc/self/status`) before they were made and once every one of them
//! had started, and how long making them took on the wall clock. Measured live, in the run
//! itself, for the lesson that sets ten thousand waits as tasks beside waits as threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use serde::Serialize;

/// The cost of one kind of lane: how many, how long it took from creating the first to the
/// last having started, and the resident memory that added, in all and for each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cost {
    pub count: usize,
    pub start_ms: f64,
    pub rss_kib: i64,
    pub kib_each: f64,
}

/// The run's threads and tasks, each measured if the run has any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Footprint {
    pub threads: Option<Cost>,
    pub tasks: Option<Cost>,
}

/// Resident memory of this process in KiB; 0 where `/proc` does not say.
pub fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// One kind of lane being started: counts them in and measures once the last is in.
pub(super) struct Starting {
    expected: usize,
    started: AtomicUsize,
    begun: Mutex<Option<(Instant, i64)>>,
    done: Mutex<Option<Cost>>,
    all_in: Condvar,
    /// Whether every one has been created, so they may go on.
    open: Mutex<bool>,
    opened: Condvar,
}

impl Starting {
    pub(super) fn new(expected: usize) -> Starting {
        Starting {
            expected,
            started: AtomicUsize::new(0),
            begun: Mutex::new(None),
            done: Mutex::new(None),
            all_in: Condvar::new(),
            open: Mutex::new(false),
            opened: Condvar::new(),
        }
    }

    /// Just before the first is created.
    pub(super) fn begin(&self) {
        *self.begun.lock() = Some((Instant::now(), rss_kib()));
    }

    /// One has started (on its own thread, or polled for the first time); the last measures.
    pub(super) fn started(&self) {
        if self.started.fetch_add(1, Ordering::AcqRel) + 1 != self.expected {
            return;
        }
        let Some((t0, rss0)) = *self.begun.lock() else {
            return;
        };
        let rss = rss_kib() - rss0;
        let mut done = self.done.lock();
        *done = Some(Cost {
            count: self.expected,
            start_ms: t0.elapsed().as_secs_f64() * 1e3,
            rss_kib: rss,
            kib_each: rss as f64 / self.expected.max(1) as f64,
        });
        self.all_in.notify_all();
    }

    /// Every one has been created: let them go on.
    pub(super) fn open(&self) {
        *self.open.lock() = true;
        self.opened.notify_all();
    }

    /// Wait until every one has been created. Threads that computed as soon as they were made
    /// would take turns on the cores with the thread still making the rest, and 512 of them
    /// took seconds to make on a busy 2-core machine.
    pub(super) fn wait_open(&self) {
        let mut open = self.open.lock();
        while !*open {
            self.opened.wait(&mut open);
        }
    }

    /// Wait until every one has started, or `deadline`.
    pub(super) fn wait(&self, deadline: Instant) {
        let mut done = self.done.lock();
        while done.is_none() && self.expected > 0 {
            if self.all_in.wait_until(&mut done, deadline).timed_out() {
                return;
            }
        }
    }

    pub(super) fn cost(&self) -> Option<Cost> {
        *self.done.lock()
    }
}
