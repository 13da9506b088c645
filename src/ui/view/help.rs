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
    /// The help's lines for a popup of at most `room` inner rows: the lane legend goes in whole
    /// or not at all (the lanes panel keeps its own legend of what it shows). Also whether the
    /// closing hint found a row of its own.
    fn lines(&self, room: u16) -> (Vec<Line<'static>>, bool) {
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
        // Keys, the legend's blank, heading and rows, and the closing blank and hint: in one
        // column, or side by side in two where one would not fit.
        let halves = STATES.len().div_ceil(2);
        let one_column = lines.len() + STATES.len() + 4 <= room as usize;
        let legend_fits = one_column || lines.len() + halves + 4 <= room as usize;
        // The closing hint always shows; the pointer to the lanes' legend only with room for both.
        if self.context != Context::Menu && !legend_fits && lines.len() + 2 <= room as usize {
            lines.push(Line::styled(
                rust_i18n::t!("help.legend_elsewhere"),
                theme.dim(),
            ));
        }
        if self.context != Context::Menu && legend_fits {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                rust_i18n::t!("help.lanes_show"),
                theme.title(),
            ));
            let entry = |row: &crate::vocab::event::StateRow, width: usize| {
                let g = theme.glyphs.state(row.state);
                vec![
                    Span::styled(format!(" {g}{g}{g}  "), theme.state(row.state)),
                    Span::raw(cells::pad(&row.legend(), width)),
                ]
            };
            if one_column {
                for row in &STATES {
                    lines.push(Line::from(entry(row, 0)));
                }
            } else {
                let (left, right) = STATES.split_at(halves);
                let width = left
                    .iter()
                    .map(|r| cells::width(&r.legend()))
                    .max()
                    .unwrap_or(0)
                    + 2;
                for (i, row) in left.iter().enumerate() {
                    let mut spans = entry(row, width);
                    if let Some(other) = right.get(i) {
                        spans.extend(entry(other, 0));
                    }
                    lines.push(Line::from(spans));
                }
            }
        }
        if lines.len() + 2 <= room as usize {
            lines.push(Line::raw(""));
        }
        // Without a row of its own, the closing hint goes in the bottom border (`render`).
        let hint_fits = lines.len() < room as usize;
        if hint_fits {
            lines.push(Line::styled(rust_i18n::t!("help.any_key"), theme.dim()));
        }
        (lines, hint_fits)
    }
}

impl Widget for Help {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let room = area.height.saturating_sub(2);
        let (lines, hint_in_lines) = self.lines(room);
        let hint_in_border = !hint_in_lines;
        let want_w = lines.iter().map(|l| l.width()).max().unwrap_or(0) as u16 + 4;
        // Clamped to the screen, as every popup must be; as tall as its lines once wrapped.
        let w = want_w.min(area.width);
        let text = Paragraph::new(lines).wrap(Wrap { trim: false });
        let want_h = text.line_count(w.saturating_sub(2)) as u16 + 2;
        let h = want_h.min(area.height);
        let popup = Rect {
            x: area.x + (area.width - w) / 2,
            y: area.y + (area.height - h) / 2,
            width: w,
            height: h,
        };
        Clear.render(popup, buf);
        let mut block = panel(rust_i18n::t!("panel.keys"), self.theme);
        if hint_in_border {
            block = block.title_bottom(Line::styled(
                rust_i18n::t!("help.any_key"),
                self.theme.dim(),
            ));
        }
        let inner = block.inner(popup);
        block.render(popup, buf);
        text.render(inner, buf);
    }
}
