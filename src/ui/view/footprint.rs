//! The cost-of-waiting card: what starting the run's tasks and its threads cost, measured in the
//! run (`engine::footprint`): start-up time and resident memory, in all and for each.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};
use rust_i18n::t;

use crate::cells;
use crate::engine::footprint::{Cost, Footprint};
use crate::ui::theme::Theme;
use crate::ui::view::framed;

/// Rows the card takes: its border, a heading row and one row each for tasks and threads.
pub const HEIGHT: u16 = 5;

pub struct FootprintCard {
    pub figures: Footprint,
    pub theme: Theme,
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn row(what: String, c: Option<Cost>) -> [String; 4] {
    match c {
        Some(c) => [
            what,
            format!("{:.0} ms", c.start_ms),
            mib(c.rss_kib),
            format!("{:.1} KiB", c.kib_each),
        ],
        None => [what, "…".into(), "…".into(), "…".into()],
    }
}

impl Widget for FootprintCard {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let inner = framed(t!("scale.card"), self.theme, area, buf);
        if inner.is_empty() {
            return;
        }
        let f = self.figures;
        let rows = [
            [
                String::new(),
                t!("scale.start").into_owned(),
                t!("scale.memory").into_owned(),
                t!("scale.each").into_owned(),
            ],
            row(
                t!("scale.tasks", n = f.tasks.map_or(0, |c| c.count)).into_owned(),
                f.tasks,
            ),
            row(
                t!("scale.threads", n = f.threads.map_or(0, |c| c.count)).into_owned(),
                f.threads,
            ),
        ];
        let widths: Vec<usize> = (0..4)
            .map(|i| rows.iter().map(|r| cells::width(&r[i])).max().unwrap_or(0))
            .collect();
        let lines: Vec<Line> = rows
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let text = format!(
                    "{}  {}  {}  {}",
                    cells::pad(&r[0], widths[0]),
                    cells::pad_left(&r[1], widths[1]),
                    cells::pad_left(&r[2], widths[2]),
                    cells::pad_left(&r[3], widths[3]),
                );
                if k == 0 {
                    Line::styled(text, self.theme.dim())
                } else {
                    Line::styled(text, self.theme.text())
                }
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}
