//! A lesson's comparison card: a small table of figures measured from the run's own trace
//! (groups of threads or tasks, a figure or two each), and one line that says what they mean.
//!
//! A lesson gets a card by having a builder (a [`Builder`]: from the trace, the time shown and
//! the machine's cores to a [`Card`], `None` when the scenario is not that kind of lesson) in
//! the list in `trace::cards`. The run view draws every card that list gives, beside the
//! resources, with one widget; builders only measure and word. Figures are read from the lanes, so they hold however long
//! the run, and grow live while a group is still running ("…").

use crate::scenario::model::ThreadIdx;
use crate::trace::timeline::Trace;
use crate::vocab::event::State;

/// One card: a title, the headings of its figure columns, a row per group, and what the
/// figures mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub title: String,
    /// Headings of the figure columns (the label column has none).
    pub columns: Vec<String>,
    pub rows: Vec<CardRow>,
    /// The figures' meaning once they are in ("1.93× faster"), drawn bright; `None` while a
    /// group is still running.
    pub headline: Option<String>,
    /// Drawn dim after the headline: what a perfect machine would give, or, before the figures
    /// are in, what the card will show.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CardRow {
    pub label: String,
    pub cells: Vec<Figure>,
}

/// One figure in a card, formatted by whoever draws it.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// Not measured yet (the group has not started).
    Missing,
    /// A count.
    Count(usize),
    /// A stretch of run time; `so_far` while the group is still running.
    Time { ns: u64, so_far: bool },
    /// Already in words.
    Text(String),
}

/// A group of threads over a run, read from its lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupSpan {
    pub threads: usize,
    pub started: bool,
    pub finished: bool,
    /// First start to last end (or to `now_ns` while still running).
    pub wall_ns: u64,
    /// Time spent in the states counted, summed over the group's threads.
    pub counted_ns: u64,
}

/// A card builder: the trace, the time shown, the machine's cores.
pub type Builder = fn(&Trace, u64, usize) -> Option<Card>;

impl GroupSpan {
    /// Counted time per unit of wall time: cores kept busy, or waits at once.
    pub fn at_once(&self) -> f64 {
        if self.wall_ns == 0 {
            0.0
        } else {
            self.counted_ns as f64 / self.wall_ns as f64
        }
    }

    /// The wall time as a figure: missing before the start, "so far" while running.
    pub fn wall(&self) -> Figure {
        if self.started {
            Figure::Time {
                ns: self.wall_ns,
                so_far: !self.finished,
            }
        } else {
            Figure::Missing
        }
    }
}

/// How `threads` spent the run up to `now_ns`: their span from first start to last end, and
/// the time they spent in states `counts` picks.
pub fn group_span(
    trace: &Trace,
    threads: &[ThreadIdx],
    now_ns: u64,
    counts: impl Fn(State) -> bool,
) -> GroupSpan {
    let mut first_start: Option<u64> = None;
    let mut last_end: u64 = 0;
    let mut finished = true;
    let mut counted = 0;
    for &t in threads {
        // One past now, so a thread that ended exactly now still shows its (empty) final span.
        let spans = trace.spans(t, 0, now_ns.saturating_add(1));
        let Some(first) = spans.first() else {
            finished = false;
            continue;
        };
        first_start = Some(first_start.map_or(first.start_ns, |s| s.min(first.start_ns)));
        match spans.iter().find(|s| s.state.is_final()) {
            Some(end) => last_end = last_end.max(end.start_ns),
            None => {
                finished = false;
                last_end = last_end.max(now_ns);
            }
        }
        counted += spans
            .iter()
            .filter(|s| counts(s.state))
            .map(|s| s.end_ns.saturating_sub(s.start_ns))
            .sum::<u64>();
    }
    GroupSpan {
        threads: threads.len(),
        started: first_start.is_some(),
        finished: finished && first_start.is_some(),
        wall_ns: first_start.map_or(0, |s| last_end.saturating_sub(s)),
        counted_ns: counted,
    }
}
