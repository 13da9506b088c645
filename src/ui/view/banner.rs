//! The deadlock banner: the cycle spelled out, impossible to miss from the back of the room.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::engine::deadlock::Deadlock;
use crate::scenario::model::Scenario;
use crate::ui::theme::Theme;

pub struct DeadlockBanner<'a> {
    pub deadlock: &'a Deadlock,
    pub scenario: &'a Scenario,
    pub theme: Theme,
}

/// Rows the banner wants at this width.
pub fn wanted_height(deadlock: &Deadlock, scenario: &Scenario, width: u16) -> u16 {
    let w = width.max(1) as usize;
    lines(deadlock, scenario, width)
        .iter()
        .map(|l| Line::from(l.as_str()).width().div_ceil(w).max(1) as u16)
        .sum()
}

/// What went wrong, the cycle in words, and who can never move again.
fn lines(deadlock: &Deadlock, scenario: &Scenario, width: u16) -> [String; 3] {
    let headline = if width >= 50 {
        format!("DEADLOCK: {}", deadlock.headline())
    } else {
        "DEADLOCK".to_string()
    };
    const SHOWN: usize = 6;
    let mut names: Vec<&str> = deadlock
        .stuck
        .iter()
        .take(SHOWN)
        .map(|&t| scenario.thread_name(t))
        .collect();
    let more = deadlock.stuck.len().saturating_sub(SHOWN);
    let more = (more > 0).then(|| format!("{more} more"));
    names.extend(more.as_deref());
    let who = match names.as_slice() {
        [one] => format!("{one} can"),
        [init @ .., last] => format!("{} and {last} can", init.join(", ")),
        [] => "No thread can".to_string(),
    };
    [
        headline,
        deadlock.describe(scenario),
        format!("{who} never move again.  r restarts  ·  Esc menu"),
    ]
}

impl Widget for DeadlockBanner<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let style = self.theme.alarm();
        buf.set_style(area, style);
        let lines: Vec<Line> = lines(self.deadlock, self.scenario, area.width)
            .into_iter()
            .map(Line::from)
            .collect();
        Paragraph::new(lines)
            .style(style)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .render(area, buf);
    }
}
