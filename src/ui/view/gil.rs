//! The GIL comparison card: the same CPU-bound work under the GIL, then free, side by side.
//!
//! Built from the trace alone (so it holds however long the run), with the same definitions
//! as the summary's `trace::gil`: a phase's wall time runs from its first thread's start to its
//! last thread's end; CPU busy is the time its threads spent running divided by that wall time
//! (so 2.0 means two cores were busy on average); the speedup is t_gil / t_free, shown beside
//! the ideal, min(threads, cores).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use rust_i18n::t;

use crate::cells;
use crate::scenario::model::ThreadIdx;
use crate::trace::timeline::Trace;
use crate::ui::app::RunState;
use crate::ui::theme::Theme;
use crate::ui::view::{fmt_clock, framed};
use crate::vocab::event::State;

pub struct GilCard<'a> {
    pub run: &'a RunState,
    pub cores: usize,
    pub theme: Theme,
}

/// The two phases of a GIL comparison, as the headless summary finds them.
pub use crate::trace::gil::phases;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PhaseStats {
    pub threads: usize,
    pub started: bool,
    pub finished: bool,
    /// First start to last end (or to `now_ns` while still running).
    pub wall_ns: u64,
    /// Time spent running, summed over the phase's threads.
    pub busy_ns: u64,
}

impl PhaseStats {
    /// Average number of cores kept busy.
    pub fn cores_busy(&self) -> f64 {
        if self.wall_ns == 0 {
            0.0
        } else {
            self.busy_ns as f64 / self.wall_ns as f64
        }
    }
}

pub fn phase_stats(trace: &Trace, threads: &[ThreadIdx], now_ns: u64) -> PhaseStats {
    let mut first_start: Option<u64> = None;
    let mut last_end: u64 = 0;
    let mut finished = true;
    let mut busy = 0;
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
        busy += spans
            .iter()
            .filter(|s| s.state == State::Running)
            .map(|s| s.end_ns.saturating_sub(s.start_ns))
            .sum::<u64>();
    }
    PhaseStats {
        threads: threads.len(),
        started: first_start.is_some(),
        finished: finished && first_start.is_some(),
        wall_ns: first_start.map_or(0, |s| last_end.saturating_sub(s)),
        busy_ns: busy,
    }
}

/// Rows the card wants.
pub const HEIGHT: u16 = 6;

impl Widget for GilCard<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let Some((under, free)) = phases(&self.run.scenario) else {
            return;
        };
        // The processes lesson compares with processes, each with a GIL of its own.
        let in_processes = crate::trace::gil::processes_of(&self.run.scenario, &free).is_some();
        let title = if in_processes {
            rust_i18n::t!("processes.card.title")
        } else {
            rust_i18n::t!("panel.gil")
        };
        let inner = framed(title, theme, area, buf);
        if inner.is_empty() {
            return;
        }
        let now = self.run.view_ns();
        let g = phase_stats(&self.run.trace, &under, now);
        let f = phase_stats(&self.run.trace, &free, now);
        let row = |label: &str, s: &PhaseStats| -> Line<'static> {
            let (wall, busy) = if !s.started {
                ("-".to_string(), "-".to_string())
            } else {
                let more = if s.finished { "" } else { "…" };
                (
                    format!("{}{more}", fmt_clock(s.wall_ns)),
                    t!(
                        "classroom.gil.cores",
                        cores = format!("{:.2}", s.cores_busy())
                    )
                    .into_owned(),
                )
            };
            Line::from(vec![
                Span::styled(cells::pad(label, 14), theme.text()),
                Span::raw(format!(
                    "{}  {}  {}",
                    cells::pad_left(&s.threads.to_string(), 7),
                    cells::pad_left(&wall, 9),
                    cells::pad_left(&busy, 10)
                )),
            ])
        };
        let ideal = free.len().min(self.cores).max(1);
        let speedup = if g.finished && f.finished && f.wall_ns > 0 {
            Line::from(vec![
                Span::styled(
                    t!(
                        "classroom.gil.speedup",
                        times = format!("{:.2}", g.wall_ns as f64 / f.wall_ns as f64)
                    )
                    .into_owned(),
                    theme.title(),
                ),
                Span::styled(
                    t!(
                        "classroom.gil.ideal",
                        ideal = ideal,
                        threads = free.len(),
                        cores = self.cores
                    )
                    .into_owned(),
                    theme.dim(),
                ),
            ])
        } else {
            Line::styled(
                t!("classroom.gil.speedup_later", ideal = ideal).into_owned(),
                theme.dim(),
            )
        };
        let lines = vec![
            Line::styled(
                format!(
                    "{}{}  {}  {}",
                    cells::pad("", 14),
                    cells::pad_left(&t!("classroom.gil.threads"), 7),
                    cells::pad_left(&t!("classroom.gil.wall"), 9),
                    cells::pad_left(&t!("classroom.gil.busy"), 10)
                ),
                theme.dim(),
            ),
            row(&t!("classroom.gil.under"), &g),
            row(
                &if in_processes {
                    t!("processes.card.processes")
                } else {
                    t!("classroom.gil.free")
                },
                &f,
            ),
            speedup,
        ];
        Paragraph::new(lines).render(inner, buf);
    }
}
