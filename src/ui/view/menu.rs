//! The menu: every scenario on the left, the chosen one's title and about text on the right.
//! A file with a mistake is listed with its diagnostic, never hidden.

use crate::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::ui::app::App;
use crate::ui::keys::Context;
use crate::ui::view::{fit, footer, framed, side_by_side, too_small};

pub const MIN_SIZE: (u16, u16) = (40, 10);

struct Areas {
    header: Rect,
    list: Rect,
    preview: Rect,
    footer: Rect,
}

fn areas(app: &App, area: Rect) -> Areas {
    let [header, body, foot] = area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ]));
    // Wide enough for the longest name (a pointer, a mark and a blank before it, the borders
    // around), where a third of the width is less.
    let longest = app
        .menu
        .entries
        .iter()
        .map(|e| cells::width(&e.name) as u16 + 5)
        .max()
        .unwrap_or(0);
    let [list, preview] = side_by_side(body, 3, (longest.clamp(22, 36), 36));
    Areas {
        header,
        list,
        preview,
        footer: foot,
    }
}

/// A line of the list: a topic heading, or an entry (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row<'a> {
    Heading(&'a str),
    Entry(usize),
}

/// The list's lines: each entry under the heading of its group.
fn rows(app: &App) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    let mut group = None;
    for (i, entry) in app.menu.entries.iter().enumerate() {
        if group != Some(entry.group.as_str()) {
            group = Some(entry.group.as_str());
            rows.push(Row::Heading(&entry.group));
        }
        rows.push(Row::Entry(i));
    }
    rows
}

/// First line shown when the list is `height` tall, so the selection stays in view.
fn first_row(rows: &[Row], selected: usize, height: usize) -> usize {
    let at = rows
        .iter()
        .position(|r| *r == Row::Entry(selected))
        .unwrap_or(0);
    if height == 0 {
        0
    } else {
        at.saturating_sub(height - 1)
    }
}

/// The entry under a mouse click.
pub fn row_at(app: &App, pos: Position) -> Option<usize> {
    let area = app.size;
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        return None;
    }
    let list = areas(app, area).list;
    let inner = Rect {
        x: list.x + 1,
        y: list.y + 1,
        width: list.width.saturating_sub(2),
        height: list.height.saturating_sub(2),
    };
    if !inner.contains(pos) {
        return None;
    }
    let rows = rows(app);
    let first = first_row(&rows, app.menu.selected, inner.height as usize);
    match rows.get(first + (pos.y - inner.y) as usize) {
        Some(Row::Entry(i)) => Some(*i),
        _ => None,
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    let theme = app.theme;
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        too_small(area, buf, MIN_SIZE, theme);
        return;
    }
    let a = areas(app, area);
    Line::from(vec![
        Span::styled(" threadlab ", theme.title()),
        Span::styled(rust_i18n::t!("menu.tagline"), theme.dim()),
    ])
    .render(a.header, buf);

    let inner = framed(rust_i18n::t!("menu.scenarios"), theme, a.list, buf);
    let lines = rows(app);
    let first = first_row(&lines, app.menu.selected, inner.height as usize);
    for (row, line) in lines
        .iter()
        .skip(first)
        .take(inner.height as usize)
        .enumerate()
    {
        let i = match *line {
            Row::Heading(heading) => {
                buf.set_stringn(
                    inner.x,
                    inner.y + row as u16,
                    crate::i18n::text(heading),
                    inner.width as usize,
                    theme.dim().add_modifier(Modifier::BOLD),
                );
                continue;
            }
            Row::Entry(i) => i,
        };
        let entry = &app.menu.entries[i];
        let selected = i == app.menu.selected;
        let pointer = if selected {
            theme.glyphs.pointer()
        } else {
            " "
        };
        let (mark, style) = if entry.scenario.is_broken() {
            (if theme.glyphs.ascii { "x" } else { "✗" }, theme.error())
        } else {
            (" ", theme.text())
        };
        let style = if selected {
            style.patch(theme.selected())
        } else {
            style
        };
        let tag = if entry.origin == "built-in" {
            String::new()
        } else if entry.scenario.program_path().is_some() {
            rust_i18n::t!("tracing.menu.tag").into_owned()
        } else {
            rust_i18n::t!("menu.file").into_owned()
        };
        let w = inner.width as usize;
        let name_w = w.saturating_sub(3 + cells::width(&tag) + 1);
        let text = format!(
            "{pointer}{mark} {}{}{tag}",
            cells::pad(&fit(&entry.name, name_w), name_w),
            if tag.is_empty() { "" } else { " " }
        );
        buf.set_stringn(inner.x, inner.y + row as u16, text, w, style);
    }
    // What the list cannot show, said on its borders: a projector at a big font hides the
    // lower groups, and a class should know they are there.
    let entries_in = |rows: &[Row]| rows.iter().filter(|r| matches!(r, Row::Entry(_))).count();
    let hidden_above = entries_in(&lines[..first.min(lines.len())]);
    let shown_end = (first + inner.height as usize).min(lines.len());
    let hidden_below = entries_in(&lines[shown_end..]);
    // The top border holds the title: the count above goes right of it, in words where
    // they fit beside it, else as the arrow and the number.
    let title_w = cells::width(&rust_i18n::t!("menu.scenarios")) as u16 + 1;
    for (count, y, key, arrow, beside) in [
        (
            hidden_above,
            a.list.y,
            "menu.more_above",
            theme.glyphs.up(),
            title_w,
        ),
        (
            hidden_below,
            a.list.y + a.list.height.saturating_sub(1),
            "menu.more_below",
            theme.glyphs.down(),
            0,
        ),
    ] {
        if count == 0 {
            continue;
        }
        let words = format!(" {arrow} {} ", rust_i18n::t!(key, count = count));
        let text = if cells::width(&words) as u16 + beside + 2 <= a.list.width {
            words
        } else {
            format!(" {arrow} {count} ")
        };
        let w = cells::width(&text) as u16;
        if w + beside + 2 <= a.list.width {
            let x = a.list.x + a.list.width - w - 1;
            buf.set_stringn(x, y, &text, w as usize, theme.dim());
        }
    }
    if app.menu.entries.is_empty() {
        buf.set_stringn(
            inner.x,
            inner.y,
            &rust_i18n::t!("menu.none_found"),
            inner.width as usize,
            theme.dim(),
        );
    }

    preview(app, a.preview, buf);
    match app.compare_from.and_then(|i| app.menu.entries.get(i)) {
        Some(first) => Line::styled(
            format!(
                " {}",
                rust_i18n::t!("compare.menu.choose", first = first.name)
            ),
            theme.warning(),
        )
        .render(a.footer, buf),
        None => footer(Context::Menu, a.footer, buf, theme),
    }
}

fn preview(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = app.theme;
    let Some(entry) = app.menu.entries.get(app.menu.selected) else {
        framed("", theme, area, buf);
        return;
    };
    let inner = framed(format!(" {} ", entry.name), theme, area, buf);
    let lines: Vec<Line> = match &*entry.scenario {
        Ok(s) if entry.scenario.program_path().is_some() => program_preview(s, inner, &theme),
        Ok(s) => {
            let lanes = |task: bool| -> Vec<&str> {
                s.threads
                    .iter()
                    .filter(|t| t.is_task() == task)
                    .map(|t| t.name.as_str())
                    .collect()
            };
            let (threads, tasks) = (lanes(false), lanes(true));
            let resources: Vec<String> = s
                .resources
                .iter()
                .map(|r| {
                    let keyword = r.keyword();
                    let kind = crate::scenario::kind_word(keyword);
                    format!("{kind} {}", r.name)
                })
                .collect();
            let mut lines = vec![
                Line::styled(s.shown_title().to_string(), theme.title()),
                Line::styled(s.models_words(), theme.dim()),
                Line::raw(""),
            ];
            for para in crate::ui::view::reflow(s.shown_about()) {
                let rows = crate::ui::view::wrap(&para, inner.width);
                lines.extend(rows.into_iter().map(Line::raw));
                lines.push(Line::raw(""));
            }
            lines.pop();
            lines.push(Line::raw(""));
            // The labels are one column: each padded to the widest in this language.
            let labels = [
                rust_i18n::t!("menu.threads"),
                rust_i18n::t!("menu.tasks"),
                rust_i18n::t!("menu.resources"),
                rust_i18n::t!("menu.from"),
            ];
            let label_w = labels.iter().map(|l| cells::width(l)).max().unwrap_or(0) + 2;
            let label = |i: usize| Span::styled(cells::pad(&labels[i], label_w), theme.dim());
            for (i, names) in [(0, threads), (1, tasks)] {
                if !names.is_empty() {
                    let names = names.join(&rust_i18n::t!("classroom.menu.list_sep"));
                    lines.push(Line::from(vec![label(i), Span::raw(names)]));
                }
            }
            lines.push(Line::from(vec![
                label(2),
                Span::raw(if resources.is_empty() {
                    rust_i18n::t!("menu.none").into_owned()
                } else {
                    resources.join(&rust_i18n::t!("classroom.menu.list_sep"))
                }),
            ]));
            let origin = if entry.origin == "built-in" {
                rust_i18n::t!("classroom.menu.built_in").into_owned()
            } else {
                entry.origin.clone()
            };
            lines.push(Line::from(vec![label(3), Span::raw(origin)]));
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                rust_i18n::t!("menu.enter_to_run"),
                theme.key().remove_modifier(Modifier::BOLD),
            ));
            lines
        }
        Err(diagnostic) => {
            let mut lines = vec![
                Line::styled(rust_i18n::t!("menu.mistake"), theme.error()),
                Line::raw(""),
            ];
            lines.extend(diagnostic.lines().map(|l| Line::raw(l.to_string())));
            lines
        }
    };
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

/// A Python program's preview: what Enter does with it, and the top of its source.
fn program_preview(
    s: &crate::scenario::model::Scenario,
    inner: Rect,
    theme: &crate::ui::theme::Theme,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(s.origin.clone(), theme.title()), Line::raw("")];
    for para in crate::ui::view::reflow(&rust_i18n::t!("tracing.menu.about")) {
        lines.extend(
            crate::ui::view::wrap(&para, inner.width)
                .into_iter()
                .map(Line::raw),
        );
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        rust_i18n::t!("tracing.menu.enter").into_owned(),
        theme.key().remove_modifier(Modifier::BOLD),
    ));
    lines.push(Line::raw(""));
    // As much of the script as the panel has room for.
    let room = (inner.height as usize).saturating_sub(lines.len());
    lines.extend(
        s.source
            .lines()
            .take(room)
            .map(|l| Line::styled(l.replace('\t', "    "), theme.dim())),
    );
    lines
}
