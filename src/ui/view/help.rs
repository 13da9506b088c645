//! The help overlay, drawn from the key table (the same rows as the footer hints).

use crate::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use crate::ui::keys::{Context, help_lines};
use crate::ui::theme::Theme;
use crate::ui::view::panel;
use crate::vocab::event::STATES;

pub struct Help {
    pub context: Context,
    pub theme: Theme,
}

impl Help {
    fn lines(&self) -> Vec<Line<'static>> {
        let theme = self.theme;
        let rows = help_lines(self.context);
        let key_w = rows.iter().map(|(k, _)| cells::width(k)).max().unwrap_or(1);
        let mut lines: Vec<Line> = rows
            .into_iter()
            .map(|(keys, help)| {
                Line::from(vec![
                    Span::styled(format!(" {}  ", cells::pad_left(&keys, key_w)), theme.key()),
                    Span::raw(help),
                ])
            })
            .collect();
        if self.context == Context::Run {
            lines.push(Line::raw(""));
            lines.push(Line::styled(" What the lanes show", theme.title()));
            for row in &STATES {
                let g = theme.glyphs.state(row.state);
                lines.push(Line::from(vec![
                    Span::styled(format!(" {g}{g}{g}  "), theme.state(row.state)),
                    Span::raw(row.legend),
                ]));
            }
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(" any key closes this help", theme.dim()));
        lines
    }
}

impl Widget for Help {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let lines = self.lines();
        let want_w = lines.iter().map(|l| l.width()).max().unwrap_or(0) as u16 + 4;
        let want_h = lines.len() as u16 + 2;
        // Clamped to the screen, as every popup must be.
        let w = want_w.min(area.width);
        let h = want_h.min(area.height);
        let popup = Rect {
            x: area.x + (area.width - w) / 2,
            y: area.y + (area.height - h) / 2,
            width: w,
            height: h,
        };
        Clear.render(popup, buf);
        let block = panel(" Keys ", self.theme);
        let inner = block.inner(popup);
        block.render(popup, buf);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(inner, buf);
    }
}
