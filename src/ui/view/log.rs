//! What happened, in words, newest at the bottom ("T2 released A", "T1 took A from T2").

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::i18n;
use crate::ui::app::{RunState, loggable};
use crate::ui::theme::Theme;
use crate::ui::view::{fit, fmt_clock, framed};
use crate::vocab::event::{Event, State};

pub struct Log<'a> {
    pub run: &'a RunState,
    pub theme: Theme,
}

impl Widget for Log<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let run = self.run;
        let theme = self.theme;
        let inner = framed(rust_i18n::t!("panel.happened"), theme, area, buf);
        if inner.is_empty() {
            return;
        }
        let rows = inner.height as usize;
        let shown = shown(run, rows);
        for (row, e) in shown.iter().enumerate() {
            event_line(run, e, None, theme, inner.width).render(
                Rect {
                    y: inner.y + row as u16,
                    height: 1,
                    ..inner
                },
                buf,
            );
        }
    }
}

/// The last `rows` events the log says, oldest first, up to the time shown. Holds are left
/// out, and so is the GIL `threads "python"` implies: the lanes show it, and its hand-overs
/// would bury the lesson's own events.
pub fn shown(run: &RunState, rows: usize) -> Vec<&Event> {
    let scenario = &run.scenario;
    let implied = |e: &&Event| e.resource.is_some_and(|r| scenario.is_implied(r));
    // Newest first, so a frame reads only what it shows; the bound keeps a frame cheap where
    // a GIL's traffic or restatements bury the lines worth saying.
    const MOST: usize = 1 << 13;
    let mut shown: Vec<&Event> = run
        .trace
        .events_back(run.view_ns())
        .take(MOST)
        .filter(|e| loggable(e) && !implied(e) && !run.trace.said_elsewhere(e))
        .take(rows)
        .collect();
    shown.reverse();
    shown
}

/// One event as a log line `width` cells wide: what happened, in the reader's language, at
/// its time, coloured by the state it leaves its thread in, after `mark` if there is one
/// (which run, when two are compared).
pub fn event_line(
    run: &RunState,
    e: &Event,
    mark: Option<Span<'static>>,
    theme: Theme,
    width: u16,
) -> Line<'static> {
    let time = format!("{} ", fmt_clock(e.t_ns));
    let style = State::after(e, &run.scenario).map_or(theme.text(), |s| match s {
        State::Running | State::Held => theme.text(),
        other => theme.state(other),
    });
    let text = run.trace.describe(i18n::current(), e);
    let lead = mark.as_ref().map_or(0, |m| m.width()) + time.len();
    let avail = (width as usize).saturating_sub(lead);
    let mut spans: Vec<Span<'static>> = mark.into_iter().collect();
    spans.push(Span::styled(time, theme.dim()));
    spans.push(Span::styled(fit(&text, avail), style));
    Line::from(spans)
}
