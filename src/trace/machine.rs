//! What the machine could give a run: its cores, how many of them other programs left free at
//! the start (the load average) and during the run (the whole machine's CPU time from
//! `/proc/stat`, less this process's own from `getrusage`), and whether that was enough for
//! what the lesson shows. A lesson whose free threads should compute side by side needs as
//! many free cores as it has such threads; a busy classroom machine makes "half the time" come
//! out as 1.15×, and the class deserves to be told why.

use std::time::Instant;

use serde::Serialize;

use crate::scenario::model::{Op, Scenario};

/// How far below what the lesson needs the free cores may fall before the lesson's figures stop
/// meaning what its text says: half a core.
const SLACK: f64 = 0.5;

/// The machine, as a run saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    pub cores: usize,
    /// The one-minute load average just before the run: threads wanting a core.
    pub load_at_start: Option<f64>,
    /// Cores other programs left free at the start.
    pub free_at_start: Option<f64>,
    /// Cores other programs left free, on average, during the run.
    pub free_during: Option<f64>,
    /// Cores the lesson needs to show what it says: its threads that compute at once.
    pub needs: f64,
    /// Set when the machine could not give what the lesson needs.
    pub warning: Option<Shortfall>,
}

/// Why a lesson's figures cannot show on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shortfall {
    /// Fewer cores than the lesson's threads that should compute at once.
    TooFewCores,
    /// Enough cores, but other programs kept them busy.
    Busy,
}

impl Machine {
    /// The warning in words, in the language shown now, if there is one.
    pub fn warning_text(&self) -> Option<String> {
        let w = self.warning?;
        let free = self
            .free_at_start
            .into_iter()
            .chain(self.free_during)
            .fold(f64::MAX, f64::min);
        Some(
            rust_i18n::t!(
                w.key(),
                free = format!("{:.1}", if free == f64::MAX { 0.0 } else { free }),
                cores = self.cores,
                needs = match w {
                    Shortfall::Busy => self.needs.min(self.cores as f64),
                    Shortfall::TooFewCores => self.needs.min(2.0),
                }
            )
            .into_owned(),
        )
    }
}

impl Shortfall {
    /// The key of the words for it.
    pub fn key(self) -> &'static str {
        match self {
            Shortfall::TooFewCores => "python_truth.machine_too_few_cores",
            Shortfall::Busy => "python_truth.machine_busy",
        }
    }
}

/// Cores the lesson's point needs: as many as its threads that compute outside any GIL and its
/// child processes that compute (at most all of them at once), or one where all computing is
/// under one GIL or on an event loop.
pub fn needs(scenario: &Scenario) -> f64 {
    let computes = |t: &&crate::scenario::model::ThreadSpec| {
        t.steps
            .iter()
            .any(|s| matches!(s.op, Op::Work(_) | Op::Increment(_)))
    };
    // A child process computes beside the others whatever its threads run under: each
    // process has its own GIL.
    let mut processes: Vec<u16> = scenario
        .threads
        .iter()
        .filter(computes)
        .filter_map(|t| t.process)
        .collect();
    processes.dedup();
    let free = scenario
        .threads
        .iter()
        .filter(computes)
        .filter(|t| t.gil.is_none() && !t.is_task() && t.process.is_none())
        .count()
        + processes.len();
    let any = scenario.threads.iter().filter(computes).count();
    match (free, any) {
        (0, 0) => 0.0,
        (0, _) => 1.0,
        (n, _) => n as f64,
    }
}

/// The decision, from figures alone (so it can be tested with any machine's figures).
pub fn assess(
    cores: usize,
    needs: f64,
    free_at_start: Option<f64>,
    free_during: Option<f64>,
) -> Option<Shortfall> {
    if needs <= 0.0 {
        return None;
    }
    if (cores as f64) < needs.min(2.0) {
        return Some(Shortfall::TooFewCores);
    }
    let want = needs.min(cores as f64) - SLACK;
    let short = |free: Option<f64>| free.is_some_and(|f| f < want);
    (short(free_at_start) || short(free_during)).then_some(Shortfall::Busy)
}

/// A reading of the machine's and this process's CPU counters.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    at: Instant,
    /// Whole machine, in clock ticks: (busy, all).
    machine: Option<(u64, u64)>,
    /// This process, user and system, in microseconds.
    own_us: u64,
    cores: usize,
    load: Option<f64>,
}

/// Reads the counters now.
pub fn sample() -> Sample {
    Sample {
        at: Instant::now(),
        machine: proc_stat(),
        own_us: own_cpu_us(),
        cores: crate::trace::gil::cores(),
        load: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok()),
    }
}

impl Sample {
    /// The machine over the run from this sample to `end`, for `scenario`.
    pub fn until(&self, end: &Sample, scenario: &Scenario) -> Machine {
        let cores = self.cores;
        let free_at_start = self
            .load
            .map(|l| (cores as f64 - l).clamp(0.0, cores as f64));
        let free_during = match (self.machine, end.machine) {
            (Some((b0, a0)), Some((b1, a1))) if a1 > a0 => {
                let busy_cores = (b1 - b0) as f64 / (a1 - a0) as f64 * cores as f64;
                let wall_us = end.at.duration_since(self.at).as_micros().max(1) as f64;
                let own_cores = end.own_us.saturating_sub(self.own_us) as f64 / wall_us;
                Some((cores as f64 - (busy_cores - own_cores).max(0.0)).clamp(0.0, cores as f64))
            }
            _ => None,
        };
        let needs = needs(scenario);
        Machine {
            cores,
            load_at_start: self.load,
            free_at_start,
            free_during,
            needs,
            warning: assess(cores, needs, free_at_start, free_during),
        }
    }
}

/// The first line of `/proc/stat`: (busy, all) ticks since boot; `None` off Linux.
fn proc_stat() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    let all: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((all - idle, all))
}

/// CPU time this process has used, user and system.
fn own_cpu_us() -> u64 {
    // SAFETY: getrusage writes into the struct it is given and reads nothing else.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return 0;
        }
        u
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lesson_of_two_free_threads_needs_two_free_cores() {
        assert_eq!(assess(2, 2.0, Some(2.0), Some(1.9)), None);
        assert_eq!(assess(2, 2.0, Some(0.8), Some(1.9)), Some(Shortfall::Busy));
        assert_eq!(assess(2, 2.0, Some(2.0), Some(1.2)), Some(Shortfall::Busy));
        assert_eq!(
            assess(1, 2.0, Some(1.0), Some(1.0)),
            Some(Shortfall::TooFewCores)
        );
        // Three free threads on two cores: the lesson shows two at once, and says so.
        assert_eq!(assess(2, 3.0, Some(2.0), Some(2.0)), None);
    }

    #[test]
    fn a_lesson_under_one_gil_needs_one_core_and_a_lesson_that_computes_nothing_none() {
        assert_eq!(assess(2, 1.0, Some(0.6), Some(0.7)), None);
        assert_eq!(assess(2, 1.0, Some(0.2), None), Some(Shortfall::Busy));
        assert_eq!(assess(1, 1.0, Some(1.0), Some(1.0)), None);
        assert_eq!(assess(2, 0.0, Some(0.0), Some(0.0)), None);
        // Figures that could not be read never warn on their own.
        assert_eq!(assess(2, 2.0, None, None), None);
    }

    #[test]
    fn needs_counts_the_threads_that_compute_outside_a_gil() {
        let lesson = |name: &str| crate::scenario::load(name).expect("a built-in");
        assert_eq!(needs(&lesson("gil")), 2.0);
        assert_eq!(needs(&lesson("semaphore")), 1.0);
        assert_eq!(needs(&lesson("race")), 3.0);
        assert_eq!(needs(&lesson("deadlock")), 1.0);
        assert_eq!(needs(&lesson("event-loop")), 1.0);
        assert_eq!(needs(&lesson("processes")), 2.0);
        assert_eq!(needs(&lesson("process-pool")), 3.0);
    }
}
