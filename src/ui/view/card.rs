//! A lesson's comparison card (`trace::card`): its figures as a small table under headings,
//! then what they mean. One widget for every kind of card.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::cells;
use crate::trace::card::{Card, Figure};
use crate::ui::theme::Theme;
use crate::ui::view::{fmt_clock, framed};

pub struct CardView<'a> {
    pub card: &'a Card,
    pub theme: Theme,
    /// Why the figures cannot show what the lesson says (a busy machine), said after them.
    pub warning: Option<&'a str>,
}

/// A figure as the card shows it: times as the clock shows them, "…" while still growing.
fn shown(figure: &Figure) -> String {
    match figure {
        Figure::Missing => "-".to_string(),
        Figure::Count(n) => n.to_string(),
        Figure::Time { ns, so_far } => {
            format!("{}{}", fmt_clock(*ns), if *so_far { "…" } else { "" })
        }
        Figure::Text(s) => s.clone(),
    }
}

/// What the figures mean: the headline bright, the note dim, and the `warning` that the machine
/// could not show it, wrapped to the card.
fn meaning(card: &Card, warning: Option<&str>, theme: Theme) -> Paragraph<'static> {
    let mut spans = Vec::new();
    if let Some(h) = &card.headline {
        spans.push(Span::styled(h.clone(), theme.title()));
    }
    spans.push(Span::styled(card.note.clone(), theme.dim()));
    if let Some(w) = warning {
        spans.push(Span::styled(format!("  {w}"), theme.warning()));
    }
    Paragraph::new(Line::from(spans)).wrap(Wrap { trim: true })
}

/// Rows `card` takes on screen at `width` cells wide: its borders, the headings, a row per
/// group and its meaning (with the `warning`), wrapped.
pub fn height(card: &Card, width: u16, warning: Option<&str>) -> u16 {
    let inner = width.saturating_sub(2).max(1);
    let most = if warning.is_some() { 6 } else { 4 };
    let meaning = meaning(
        card,
        warning,
        Theme::new(crate::ui::theme::ThemeKind::Mono, false),
    )
    .line_count(inner)
    .min(most) as u16;
    card.rows.len() as u16 + 3 + meaning
}

/// Rows `cards` take one above the other at `width` cells wide, the first with the `warning`.
pub fn stack_height(cards: &[Card], width: u16, warning: Option<&str>) -> u16 {
    cards
        .iter()
        .enumerate()
        .map(|(i, c)| height(c, width, warning.filter(|_| i == 0)))
        .sum()
}

/// `cards` one above the other from the top of the area, as many as fit; the first says the
/// `warning`, where the figures are measured and where a small screen has no other room.
pub struct CardStack<'a> {
    pub cards: &'a [Card],
    pub theme: Theme,
    pub warning: Option<&'a str>,
}

impl Widget for CardStack<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut at = area;
        for (i, card) in self.cards.iter().enumerate() {
            if at.is_empty() {
                break;
            }
            let warning = self.warning.filter(|_| i == 0);
            let h = height(card, at.width, warning).min(at.height);
            CardView {
                card,
                theme: self.theme,
                warning,
            }
            .render(Rect { height: h, ..at }, buf);
            at.y += h;
            at.height -= h;
        }
    }
}

impl Widget for CardView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let card = self.card;
        let inner = framed(card.title.as_str(), theme, area, buf);
        if inner.is_empty() {
            return;
        }
        let cells: Vec<Vec<String>> = card
            .rows
            .iter()
            .map(|r| r.cells.iter().map(shown).collect())
            .collect();
        let label_w = card
            .rows
            .iter()
            .map(|r| cells::width(&r.label))
            .max()
            .unwrap_or(0)
            + 2;
        // Each column as wide as its heading or its widest figure, whichever is wider.
        let widths: Vec<usize> = (0..card.columns.len())
            .map(|c| {
                cells
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|s| cells::width(s))
                    .chain([cells::width(&card.columns[c])])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |label: &str, figures: &[String]| -> String {
            let mut out = cells::pad(label, label_w);
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(&cells::pad_left(
                    figures.get(i).map_or("", String::as_str),
                    *w,
                ));
            }
            out
        };
        let mut lines = vec![Line::styled(line("", &card.columns), theme.dim())];
        for (row, figures) in card.rows.iter().zip(&cells) {
            lines.push(Line::styled(line(&row.label, figures), theme.text()));
        }
        let table_h = (lines.len() as u16).min(inner.height);
        Paragraph::new(lines).render(
            Rect {
                height: table_h,
                ..inner
            },
            buf,
        );
        meaning(card, self.warning, theme).render(
            Rect {
                y: inner.y + table_h,
                height: inner.height - table_h,
                ..inner
            },
            buf,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::card::CardRow;

    fn card() -> Card {
        Card {
            title: " a vs b ".into(),
            columns: vec!["n".into(), "wall".into()],
            rows: vec![
                CardRow {
                    label: "first".into(),
                    cells: vec![
                        Figure::Count(3),
                        Figure::Time {
                            ns: 1_500_000_000,
                            so_far: false,
                        },
                    ],
                },
                CardRow {
                    label: "second".into(),
                    cells: vec![Figure::Count(1), Figure::Missing],
                },
            ],
            headline: Some("2.00× sooner".into()),
            note: "  why".into(),
        }
    }

    #[test]
    fn figures_line_up_under_their_headings() {
        let c = card();
        let area = Rect::new(0, 0, 40, height(&c, 40, None));
        let mut buf = Buffer::empty(area);
        CardView {
            card: &c,
            theme: Theme::new(crate::ui::theme::ThemeKind::Mono, false),
            warning: None,
        }
        .render(area, &mut buf);
        let row = |y: u16| -> String {
            (1..area.width - 1)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        };
        assert_eq!(row(1).trim_end(), "        n    wall", "{:?}", row(1));
        assert_eq!(row(2).trim_end(), "first   3  1.500s", "{:?}", row(2));
        assert_eq!(row(3).trim_end(), "second  1       -", "{:?}", row(3));
        assert!(row(4).contains("2.00× sooner  why"), "{:?}", row(4));
    }

    #[test]
    fn draws_nothing_outside_a_tiny_area() {
        let c = card();
        for area in [Rect::ZERO, Rect::new(0, 0, 1, 1)] {
            let mut buf = Buffer::empty(Rect::new(0, 0, 1, 1));
            CardView {
                card: &c,
                theme: Theme::new(crate::ui::theme::ThemeKind::Dark, true),
                warning: Some("busy"),
            }
            .render(area, &mut buf);
        }
    }
}
