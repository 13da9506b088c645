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
    let text = deadlock.describe(scenario);
    let w = width.max(1) as usize;
    2 + text.chars().count().div_ceil(w) as u16
}

impl Widget for DeadlockBanner<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let style = self.theme.alarm();
        buf.set_style(area, style);
        let headline = if area.width >= 50 {
            "DEADLOCK: these threads wait for each other forever"
        } else {
            "DEADLOCK"
        };
        let lines = vec![
            Line::from(headline),
            Line::from(self.deadlock.describe(self.scenario)),
            Line::from("No thread can ever move again.  r restarts  ·  Esc menu"),
        ];
        Paragraph::new(lines)
            .style(style)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .render(area, buf);
    }
}
