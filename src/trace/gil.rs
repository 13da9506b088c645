//! The GIL lesson's comparison: the same CPU work under the GIL and free, from recorded events.
//!
//! A scenario compares when some threads run under a GIL (`gil=py`) and a later group runs
//! `after` them without it, or in child processes started `after` them, each with a GIL of
//! its own (the processes lesson). Wall time is first start to last finish of each group (a
//! process's start-up counts: it is part of what processes cost); CPU busy is the time its
//! threads spent computing divided by that wall time (in cores).

use rust_i18n::t;
use serde::Serialize;

use crate::scenario::model::{Scenario, ThreadIdx};
use crate::trace::card::{Card, CardRow, Figure, GroupSpan, group_span};
use crate::trace::timeline::Trace;
use crate::vocab::event::{Event, State, StateTracker};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseFigures {
    pub threads: usize,
    pub wall_ms: f64,
    /// Average number of cores computing over the phase.
    pub cpu_busy: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GilComparison {
    pub under_gil: PhaseFigures,
    pub free: PhaseFigures,
    /// Wall time under the GIL divided by wall time free.
    pub speedup: f64,
    /// What a perfect machine would give: min(threads, cores).
    pub ideal: f64,
    pub cores: usize,
    /// When the second group runs in child processes: how many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<usize>,
}

impl PhaseFigures {
    /// A group's figures from its first start, last finish and time spent computing.
    pub fn new(
        threads: usize,
        first_start_ns: u64,
        last_end_ns: u64,
        computing_ns: u64,
    ) -> Option<Self> {
        let wall = last_end_ns.checked_sub(first_start_ns)?.max(1);
        Some(PhaseFigures {
            threads,
            wall_ms: wall as f64 / 1e6,
            cpu_busy: computing_ns as f64 / wall as f64,
        })
    }
}

impl GilComparison {
    /// The card for two finished phases, on this machine's cores.
    pub fn new(under_gil: PhaseFigures, free: PhaseFigures) -> Self {
        let cores = cores();
        GilComparison {
            speedup: under_gil.wall_ms / free.wall_ms.max(1e-9),
            ideal: free.threads.min(cores) as f64,
            under_gil,
            free,
            cores,
            processes: None,
        }
    }
}

/// The threads under a GIL, and the threads that start after them without one (or in
/// processes of their own started after them).
pub fn phases(scenario: &Scenario) -> Option<(Vec<ThreadIdx>, Vec<ThreadIdx>)> {
    let gil: Vec<ThreadIdx> = (0..scenario.threads.len() as ThreadIdx)
        .filter(|&t| {
            let spec = &scenario.threads[t as usize];
            spec.gil.is_some() && spec.process.is_none()
        })
        .collect();
    let after_gil =
        |after: &[ThreadIdx]| !after.is_empty() && after.iter().all(|a| gil.contains(a));
    let free: Vec<ThreadIdx> = (0..scenario.threads.len() as ThreadIdx)
        .filter(|&t| {
            let spec = &scenario.threads[t as usize];
            match spec.process {
                Some(p) => after_gil(&scenario.processes[p as usize].after),
                None => spec.gil.is_none() && after_gil(&spec.after),
            }
        })
        .collect();
    (!gil.is_empty() && !free.is_empty()).then_some((gil, free))
}

/// How many child processes the second group of [`phases`] runs in, if it runs in any.
pub fn processes_of(scenario: &Scenario, free: &[ThreadIdx]) -> Option<usize> {
    let mut ps: Vec<u16> = free
        .iter()
        .filter_map(|&t| scenario.threads[t as usize].process)
        .collect();
    ps.dedup();
    (!ps.is_empty()).then_some(ps.len())
}

/// Figures for one group of threads. `None` until every thread of the group has finished.
pub fn figures(scenario: &Scenario, events: &[Event], group: &[ThreadIdx]) -> Option<PhaseFigures> {
    let mut first_start = u64::MAX;
    let mut last_end = 0;
    let mut computing_ns = 0u64;
    let mut states = StateTracker::new();
    for &t in group {
        let mut mine: Vec<&Event> = events.iter().filter(|e| e.thread == t).collect();
        mine.sort_by_key(|e| e.t_ns);
        let mut state: Option<(State, u64)> = None;
        let mut finished = false;
        for e in mine {
            if let Some((State::Running, since)) = state {
                computing_ns += e.t_ns.saturating_sub(since);
            }
            if let Some(next) = states.after(e, scenario) {
                if matches!(
                    e.kind,
                    crate::vocab::event::EventKind::Start | crate::vocab::event::EventKind::Spawn
                ) {
                    first_start = first_start.min(e.t_ns);
                }
                if next.is_final() {
                    last_end = last_end.max(e.t_ns);
                    finished = true;
                }
                state = Some((next, e.t_ns));
            }
        }
        if !finished {
            return None;
        }
    }
    PhaseFigures::new(group.len(), first_start, last_end, computing_ns)
}

/// The comparison card, once both phases have finished.
pub fn compare(scenario: &Scenario, events: &[Event]) -> Option<GilComparison> {
    let (gil, free) = phases(scenario)?;
    Some(GilComparison {
        processes: processes_of(scenario, &free),
        ..GilComparison::new(
            figures(scenario, events, &gil)?,
            figures(scenario, events, &free)?,
        )
    })
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The GIL lesson's card: each group's threads, wall time and cores kept busy, then the
/// speedup beside the ideal, min(threads, cores).
pub fn card(trace: &Trace, now_ns: u64, cores: usize) -> Option<Card> {
    let (under, free) = phases(trace.scenario())?;
    let g = group_span(trace, &under, now_ns, |s| s == State::Running);
    let f = group_span(trace, &free, now_ns, |s| s == State::Running);
    let row = |label: String, s: &GroupSpan| CardRow {
        label,
        cells: vec![
            Figure::Count(s.threads),
            s.wall(),
            if s.started {
                Figure::Text(
                    t!("classroom.gil.cores", cores = format!("{:.2}", s.at_once())).into_owned(),
                )
            } else {
                Figure::Missing
            },
        ],
    };
    let ideal = free.len().min(cores).max(1);
    let (headline, note) = if g.finished && f.finished && f.wall_ns > 0 {
        (
            Some(
                t!(
                    "classroom.gil.speedup",
                    times = format!("{:.2}", g.wall_ns as f64 / f.wall_ns as f64)
                )
                .into_owned(),
            ),
            t!(
                "classroom.gil.ideal",
                ideal = ideal,
                threads = free.len(),
                cores = cores
            )
            .into_owned(),
        )
    } else {
        (
            None,
            t!("classroom.gil.speedup_later", ideal = ideal).into_owned(),
        )
    };
    // The processes lesson compares with processes, each with a GIL of its own.
    let in_processes = processes_of(trace.scenario(), &free).is_some();
    Some(Card {
        title: if in_processes {
            t!("processes.card.title")
        } else {
            t!("panel.gil")
        }
        .into_owned(),
        columns: vec![
            t!("classroom.gil.threads").into_owned(),
            t!("classroom.gil.wall").into_owned(),
            t!("classroom.gil.busy").into_owned(),
        ],
        rows: vec![
            row(t!("classroom.gil.under").into_owned(), &g),
            row(
                if in_processes {
                    t!("processes.card.processes")
                } else {
                    t!("classroom.gil.free")
                }
                .into_owned(),
                &f,
            ),
        ],
        headline,
        note,
    })
}
