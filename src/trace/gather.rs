//! The event-loop lesson's comparison: tasks started together on one loop (asyncio.gather)
//! against tasks that start after them and do the same waits one by one.
//!
//! A scenario compares when two or more tasks start together on an event loop and a later group
//! of tasks on the same loop starts `after` all of them. A group's span is its first start to
//! its last finish; its awaiting time is the time its tasks spent in awaits (sleeping without
//! holding the loop), so awaiting divided by span is how many waits were going on at once.

use rust_i18n::t;
use serde::Serialize;

use crate::scenario::model::{Scenario, ThreadIdx};
use crate::trace::card::{Card, CardRow, Figure, GroupSpan, group_span};
use crate::trace::timeline::Trace;
use crate::vocab::event::State;

/// One group's figures, as `--json` gives them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFigures {
    pub tasks: usize,
    pub wall_ms: f64,
    /// Time the group's tasks spent awaiting, summed.
    pub awaiting_ms: f64,
    /// Awaiting time per unit of wall time: how many waits overlapped, on average.
    pub waits_at_once: f64,
}

/// The event-loop lesson's figures: the tasks started together, the ones that went one by one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatherComparison {
    pub together: GroupFigures,
    pub one_by_one: GroupFigures,
    /// The one-by-one span divided by the gathered span.
    pub speedup: f64,
}

impl GroupFigures {
    /// A group's figures from its first start, last finish and time spent awaiting.
    pub fn new(
        tasks: usize,
        first_start_ns: u64,
        last_end_ns: u64,
        awaiting_ns: u64,
    ) -> Option<Self> {
        let wall = last_end_ns.checked_sub(first_start_ns)?.max(1);
        Some(GroupFigures {
            tasks,
            wall_ms: wall as f64 / 1e6,
            awaiting_ms: awaiting_ns as f64 / 1e6,
            waits_at_once: awaiting_ns as f64 / wall as f64,
        })
    }
}

impl GatherComparison {
    pub fn new(together: GroupFigures, one_by_one: GroupFigures) -> Self {
        GatherComparison {
            speedup: one_by_one.wall_ms / together.wall_ms.max(1e-9),
            together,
            one_by_one,
        }
    }
}

/// The tasks that start together on a loop, and the tasks on that loop that start after all of
/// them.
pub fn phases(scenario: &Scenario) -> Option<(Vec<ThreadIdx>, Vec<ThreadIdx>)> {
    let threads =
        || (0..scenario.threads.len() as ThreadIdx).map(|t| (t, &scenario.threads[t as usize]));
    let together: Vec<ThreadIdx> = threads()
        .filter(|(_, s)| s.is_task() && s.after.is_empty())
        .map(|(t, _)| t)
        .collect();
    let loop_of = scenario
        .threads
        .get(*together.first()? as usize)?
        .event_loop;
    if together.len() < 2
        || together
            .iter()
            .any(|&t| scenario.threads[t as usize].event_loop != loop_of)
    {
        return None;
    }
    let later: Vec<ThreadIdx> = threads()
        .filter(|(_, s)| {
            s.event_loop == loop_of
                && !s.after.is_empty()
                && together.iter().all(|t| s.after.contains(t))
        })
        .map(|(t, _)| t)
        .collect();
    (!later.is_empty()).then_some((together, later))
}

/// The card: each group's tasks, span, awaiting and waits at once, then how much sooner the
/// gathered waits were over.
pub fn card(trace: &Trace, now_ns: u64, _cores: usize) -> Option<Card> {
    let (together, later) = phases(trace.scenario())?;
    let awaiting = |s: State| s == State::Sleeping;
    let a = group_span(trace, &together, now_ns, awaiting);
    let b = group_span(trace, &later, now_ns, awaiting);
    let row = |label: String, s: &GroupSpan| CardRow {
        label,
        cells: vec![
            Figure::Count(s.threads),
            s.wall(),
            if s.started {
                Figure::Time {
                    ns: s.counted_ns,
                    so_far: !s.finished,
                }
            } else {
                Figure::Missing
            },
            if s.started {
                Figure::Text(format!("{:.1}", s.at_once()))
            } else {
                Figure::Missing
            },
        ],
    };
    let (headline, note) = if a.finished && b.finished && a.wall_ns > 0 {
        (
            Some(
                t!(
                    "screen.gather.sooner",
                    times = format!("{:.2}", b.wall_ns as f64 / a.wall_ns as f64)
                )
                .into_owned(),
            ),
            t!("screen.gather.meaning").into_owned(),
        )
    } else {
        (None, t!("screen.gather.later").into_owned())
    };
    Some(Card {
        title: t!("screen.gather.title").into_owned(),
        columns: vec![
            t!("screen.gather.tasks").into_owned(),
            t!("screen.gather.span").into_owned(),
            t!("screen.gather.awaiting").into_owned(),
            t!("screen.gather.at_once").into_owned(),
        ],
        rows: vec![
            row(t!("screen.gather.together").into_owned(), &a),
            row(t!("screen.gather.one_by_one").into_owned(), &b),
        ],
        headline,
        note,
    })
}
