//! The scenario's source, with a marker per thread on the line of the step it is at, so the
//! class sees which line each thread is stuck on; or, when asked, the lesson's Python twin with
//! each marker on the Python line that step became.

use crate::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::scenario::model::ThreadIdx;
use crate::ui::app::RunState;
use crate::ui::theme::Theme;
use crate::ui::view::framed;
use crate::vocab::event::State;

pub struct Code<'a> {
    pub run: &'a RunState,
    pub theme: Theme,
}

/// Each thread's source line (1-based) and state at the viewed instant. A finished thread
/// keeps the line it ended on (its last step, or the step it failed at), so at the end of a
/// run the pane stays where the threads were instead of jumping to the top.
pub fn lines_at(run: &RunState) -> Vec<(ThreadIdx, u32, State)> {
    let view = run.view_ns();
    let scenario = &run.scenario;
    let mut out = Vec::new();
    let steps = run.trace.steps_at(view);
    for (i, spec) in scenario.threads.iter().enumerate() {
        let t = i as ThreadIdx;
        let Some(state) = run.trace.state_at(t, view) else {
            continue;
        };
        let step = steps.get(i).copied().flatten().or(match state {
            State::Done => spec.steps.len().checked_sub(1).map(|s| s as u32),
            _ => None,
        });
        let line = step
            .and_then(|s| spec.steps.get(s as usize))
            .map_or(spec.line, |s| s.line);
        out.push((t, line, state));
    }
    out
}

/// The first line to show so the markers (the selected thread's first) are in view.
fn first_line(
    marks: &[(ThreadIdx, u32, State)],
    selected: ThreadIdx,
    height: usize,
    total: usize,
) -> usize {
    if total <= height || height == 0 {
        return 1;
    }
    let lines: Vec<usize> = marks.iter().map(|m| m.1 as usize).collect();
    let (lo, hi) = match (lines.iter().min(), lines.iter().max()) {
        (Some(lo), Some(hi)) => (*lo, *hi),
        _ => return 1,
    };
    let centre = if hi - lo < height {
        (lo + hi) / 2
    } else {
        marks
            .iter()
            .find(|m| m.0 == selected)
            .map_or(lo, |m| m.1 as usize)
    };
    centre
        .saturating_sub(height / 2)
        .clamp(1, total + 1 - height)
}

impl Widget for Code<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let run = self.run;
        let theme = self.theme;
        let scenario = &run.scenario;
        let (source, title): (&str, String) = match &run.twin {
            Some(twin) => (
                &twin.text,
                format!(
                    " {}: {}.py ",
                    rust_i18n::t!("python_truth.twin_title"),
                    scenario.name
                ),
            ),
            None => (&scenario.source, format!(" {} ", scenario.origin)),
        };
        let inner = framed(title, theme, area, buf);
        if inner.is_empty() {
            return;
        }
        let mut lines = lines_at(run);
        if let Some(twin) = &run.twin {
            // Each step's line in the twin; a thread not yet at a step marks nothing.
            for m in &mut lines {
                m.1 = twin.python_line(m.1).map_or(0, |l| l as u32);
            }
            lines.retain(|m| m.1 > 0);
        }
        // Markers for the threads still under way.
        let marks: Vec<_> = lines.iter().copied().filter(|m| !m.2.is_final()).collect();
        let (cycle, _) = run.cycle();
        let source_lines: Vec<&str> = source.lines().collect();
        let total = source_lines.len();
        let height = inner.height as usize;
        // The window follows the threads under way; once none is, where they all ended.
        let anchors = if marks.is_empty() { &lines } else { &marks };
        let first = first_line(anchors, run.selected, height, total);
        let number_w = total.to_string().len();
        for (row, line_no) in (first..first + height).enumerate() {
            let Some(&text) = source_lines.get(line_no - 1) else {
                break;
            };
            let here: Vec<&(ThreadIdx, u32, State)> =
                marks.iter().filter(|m| m.1 as usize == line_no).collect();
            let mut spans = vec![Span::styled(format!("{line_no:>number_w$} "), theme.dim())];
            let text_style = if here.is_empty() {
                theme.text()
            } else {
                theme.text().add_modifier(Modifier::BOLD)
            };
            // As many markers as fit in half the width; the rest as "+N".
            let budget = (inner.width as usize).saturating_sub(number_w + 2) / 2;
            let mut tail = Vec::new();
            let mut tail_w = 0;
            for (k, (t, _, state)) in here.iter().enumerate() {
                let style = if cycle.contains(t) {
                    theme.in_cycle()
                } else {
                    theme.state_label(*state)
                };
                let text = format!(
                    " {}{}",
                    theme.glyphs.state(*state),
                    scenario.thread_name(*t)
                );
                let rest = here.len() - k - 1;
                let more_w = if rest > 0 {
                    4 + rest.to_string().len()
                } else {
                    0
                };
                if tail_w + cells::width(&text) + more_w > budget {
                    let more = format!(" +{}", here.len() - k);
                    tail_w += more.len();
                    tail.push(Span::styled(more, theme.dim()));
                    break;
                }
                tail_w += cells::width(&text);
                tail.push(Span::styled(text, style));
            }
            let pointer = if here.is_empty() {
                " "
            } else {
                theme.glyphs.pointer()
            };
            let avail = (inner.width as usize).saturating_sub(number_w + 2 + tail_w);
            // Half the indentation: a narrow panel is better spent on the step itself.
            let mut body = text.trim_start();
            let indent = (text.len() - body.len()).div_ceil(2);
            if cells::width(body) + 2 > avail
                && let Some(i) = body.find("//")
            {
                // A comment that does not fit is dropped whole rather than cut to "//…".
                body = &body[..i];
            }
            let code =
                crate::ui::view::fit(&format!("{:indent$}{}", "", body.trim_end()), avail.max(1));
            spans.push(Span::styled(pointer.to_string(), theme.key()));
            spans.push(Span::styled(cells::pad(&code, avail), text_style));
            spans.extend(tail);
            Line::from(spans).render(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_keeps_markers_in_view() {
        let m = |t, l| (t, l, State::Running);
        assert_eq!(first_line(&[m(0, 3)], 0, 10, 5), 1);
        assert_eq!(first_line(&[m(0, 30), m(1, 34)], 0, 10, 50), 27);
        // Too far apart: follow the selected thread.
        assert_eq!(first_line(&[m(0, 5), m(1, 45)], 1, 10, 50), 40);
        assert_eq!(first_line(&[], 0, 10, 50), 1);
        assert_eq!(first_line(&[m(0, 50)], 0, 10, 50), 41);
    }
}
