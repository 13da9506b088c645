//! Drawing. Everything here reads the [`App`] and writes cells; nothing changes state.

pub mod banner;
pub mod card;
pub mod code;
pub mod compare;
pub mod fold;
pub mod help;
pub mod lanes;
pub mod log;
pub mod menu;
pub mod resources;
pub mod run;

use crate::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use crate::ui::app::{App, Hit, Screen};
use crate::ui::keys::{self, Context};
use crate::ui::theme::Theme;

/// Draws the whole screen.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    match app.screen {
        Screen::Menu => menu::render(app, area, buf),
        Screen::Run => run::render(app, area, buf),
    }
    finish(app.theme, app.help.then(|| app.context()), area, buf);
}

/// What every screen ends with: the help overlay for `help`'s screen when it is open, ASCII
/// where the theme asks for it, and the theme's page and ink under every cell left blank.
pub fn finish(theme: Theme, help: Option<Context>, area: Rect, buf: &mut Buffer) {
    if let Some(context) = help
        && area.width >= 20
        && area.height >= 6
    {
        help::Help { context, theme }.render(area, buf);
    }
    if theme.glyphs.ascii {
        asciify(area, buf);
    }
    on_base(theme, area, buf);
}

/// Every cell left in the terminal's own colours takes the theme's page and ink instead (the
/// light theme's white page, under popups too); cells that chose a colour keep it.
fn on_base(theme: Theme, area: Rect, buf: &mut Buffer) {
    let base = theme.base();
    let (Some(ink), Some(paper)) = (base.fg, base.bg) else {
        return;
    };
    let area = area.intersection(buf.area);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            if cell.fg == Color::Reset {
                cell.fg = ink;
            }
            if cell.bg == Color::Reset {
                cell.bg = paper;
            }
        }
    }
}

/// `--ascii` promises a screen drawn in plain ASCII, whatever the text drawn (an about text
/// with a dash, a key label with an arrow): a last pass swaps everything else for its nearest
/// ASCII. Words in the reader's own script (Chinese, its punctuation) are text, not drawing,
/// and stay.
pub fn asciify(area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    let script = |c: char| {
        c.is_alphabetic()
            || ('\u{3000}'..='\u{303F}').contains(&c)
            || ('\u{FF00}'..='\u{FFEF}').contains(&c)
    };
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            if cell.symbol().is_ascii() || cell.symbol().chars().all(script) {
                continue;
            }
            let ascii = match cell.symbol() {
                "…" => "~",
                "×" => "x",
                "·" | "•" => ".",
                "←" => "<",
                "→" => ">",
                "↑" | "▲" => "^",
                "↓" => "v",
                "▶" => ">",
                "■" | "█" => "#",
                "□" => ".",
                "—" | "–" | "─" => "-",
                "│" => "|",
                "‘" | "’" => "'",
                "“" | "”" => "\"",
                _ => "?",
            };
            cell.set_symbol(ascii);
        }
    }
}

/// What to draw when the terminal is below a usable size: how large it must be.
pub fn too_small(area: Rect, buf: &mut Buffer, need: (u16, u16), theme: Theme) {
    if area.is_empty() {
        return;
    }
    let text = vec![
        Line::styled(rust_i18n::t!("screen.too_small"), theme.error()),
        Line::raw(rust_i18n::t!(
            "screen.now",
            size = format!("{}×{}", area.width, area.height)
        )),
        Line::raw(rust_i18n::t!(
            "screen.needs",
            size = format!("{}×{}", need.0, need.1)
        )),
    ];
    let top = area.height.saturating_sub(text.len() as u16) / 2;
    let inner = Rect {
        y: area.y + top,
        height: area.height - top,
        ..area
    };
    Paragraph::new(text)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(inner, buf);
}

/// `area` as a left column of `tenths` tenths of its width, kept within `cells` (and the
/// width), and the rest beside it: the menu's list and preview, the run's code and panels.
pub fn side_by_side(area: Rect, tenths: u16, cells: (u16, u16)) -> [Rect; 2] {
    let share = (u32::from(area.width) * u32::from(tenths) / 10) as u16;
    let left = share.clamp(cells.0, cells.1).min(area.width);
    area.layout(&Layout::horizontal([
        Constraint::Length(left),
        Constraint::Fill(1),
    ]))
}

/// A bordered panel in the theme's style.
pub fn panel<'a>(title: impl Into<Line<'a>>, theme: Theme) -> Block<'a> {
    Block::new()
        .borders(Borders::ALL)
        .border_set(theme.glyphs.border_set())
        .border_style(theme.border())
        .title(title.into().style(theme.title()))
}

/// Draws a [`panel`] clipped to the buffer and gives the area inside its border, empty when
/// nothing fits, so every panel clips and measures itself the same way.
pub fn framed<'a>(title: impl Into<Line<'a>>, theme: Theme, area: Rect, buf: &mut Buffer) -> Rect {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return area;
    }
    let block = panel(title, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// The footer: key hints from the key table, as many as fit.
pub fn footer(context: Context, area: Rect, buf: &mut Buffer, theme: Theme) {
    if area.is_empty() {
        return;
    }
    let mut hints = keys::footer_hints(context);
    let width = |h: &[(String, String)]| -> usize {
        h.iter()
            .map(|(k, t)| cells::width(k) + cells::width(t) + 3)
            .sum()
    };
    // Help and quit (the table's last two) always show: drop hints before them until it fits.
    while width(&hints) > area.width as usize && hints.len() > 2 {
        hints.remove(hints.len() - 3);
    }
    let mut spans: Vec<Span> = Vec::new();
    for (keys, hint) in hints {
        spans.push(Span::styled(format!(" {keys}"), theme.key()));
        spans.push(Span::styled(format!(" {hint} "), theme.dim()));
    }
    Line::from(spans).render(area, buf);
}

/// A one-line notice in the footer's place (a refused step, what a traced run's pause does):
/// where the row is too short it ends after a whole word and says so with `…`.
pub fn notice(text: &str, area: Rect, buf: &mut Buffer, theme: Theme) {
    let room = usize::from(area.width).saturating_sub(1);
    Line::styled(
        format!(" {}", cells::fit_words(text, room)),
        theme.warning(),
    )
    .render(area, buf);
}

/// Run time as a class reads it: `0s`, `250ms`, `1.25s`, `2m05s`.
pub fn fmt_ns(ns: u64) -> String {
    let ms = ns / 1_000_000;
    if ns == 0 {
        "0s".into()
    } else if ns < 1_000_000 {
        format!("{}us", ns / 1_000)
    } else if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let s = format!("{:.2}", ms as f64 / 1000.0);
        format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// A time-axis label for a tick at `ns`, ticks being whole multiples of `per` apart: written
/// exactly, with as many decimals as `per` needs, so neighbouring ticks never read the same
/// ("7.88s" twice) and none is rounded to a time it is not. Trailing zeros are dropped.
pub fn fmt_tick(ns: u64, per: u64) -> String {
    /// Decimals of `unit` needed to write any multiple of `per` exactly (down to 1 ns).
    fn decimals(per: u64, unit: u64) -> usize {
        let mut d = 0;
        let mut step = unit;
        while step > 1 && !per.is_multiple_of(step) {
            step /= 10;
            d += 1;
        }
        d
    }
    fn trimmed(value: u64, unit: u64, d: usize) -> String {
        let whole = value / unit;
        let frac = value % unit;
        if d == 0 || frac == 0 {
            return whole.to_string();
        }
        let digits = format!("{frac:0width$}", width = unit.ilog10() as usize);
        format!("{whole}.{}", digits[..d].trim_end_matches('0'))
    }
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    if ns == 0 {
        "0s".into()
    } else if ns < MS {
        format!("{}us", trimmed(ns, US, decimals(per, US)))
    } else if ns < S {
        format!("{}ms", trimmed(ns, MS, decimals(per, MS)))
    } else if ns < 60 * S {
        format!("{}s", trimmed(ns, S, decimals(per, S)))
    } else {
        let m = ns / (60 * S);
        let rest = trimmed(ns % (60 * S), S, decimals(per, S));
        let pad = if ns % (60 * S) < 10 * S { "0" } else { "" };
        format!("{m}m{pad}{rest}s")
    }
}

/// Like [`fmt_ns`] but with a fixed number of decimals, so the header does not jitter.
pub fn fmt_clock(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s < 60.0 {
        format!("{s:.3}s")
    } else {
        format!("{}m{:06.3}s", (s / 60.0) as u64, s % 60.0)
    }
}

/// About text as paragraphs: a scenario file wraps its prose at the file's width, so lines
/// are joined back into paragraphs (a blank line separates two) for the panel to wrap.
pub fn reflow(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            // Chinese and Japanese put no space between words, so a break between two wide
            // characters joins without one.
            let wide =
                |c: Option<char>| c.is_some_and(|c| cells::width(c.encode_utf8(&mut [0; 4])) == 2);
            let cjk_join = wide(current.chars().last()) && wide(line.chars().next());
            if !current.is_empty() && !cjk_join {
                current.push(' ');
            }
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.iter().map(|p| breakable(p)).collect()
}

/// A zero-width space: where a line may break without a space (ratatui wraps there).
const BREAK: char = '\u{200B}';

/// `text` with a break allowed between two wide characters, as Chinese and Japanese wrap
/// anywhere between characters; never before closing punctuation (，。、） …) or after
/// opening punctuation (（「 …), which stay with their neighbour.
fn breakable(text: &str) -> String {
    let wide = |c: char| cells::width(c.encode_utf8(&mut [0; 4])) == 2;
    let closing = |c: char| "，。、；：？！）」』》〉】”’…—".contains(c);
    let opening = |c: char| "（「『《〈【“‘".contains(c);
    let mut out = String::with_capacity(text.len() * 2);
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if let Some(p) = prev
            && wide(p)
            && wide(c)
            && !closing(c)
            && !opening(p)
        {
            out.push(BREAK);
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// `text` (a paragraph from [`reflow`]) as lines of at most `width` cells: broken at spaces
/// and between wide characters, a piece wider than a line broken where it must. Counted in
/// cells, so a wide character never hangs over the edge.
pub fn wrap(text: &str, width: u16) -> Vec<String> {
    let w = width.max(2) as usize;
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut col = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        for (i, piece) in word.split(BREAK).enumerate() {
            let gap = usize::from(col > 0 && i == 0);
            let n = cells::width(piece);
            if col > 0 && col + gap + n > w {
                lines.push(std::mem::take(&mut line));
                col = 0;
            } else if gap == 1 {
                line.push(' ');
                col += 1;
            }
            for c in piece.chars() {
                let cw = cells::width(c.encode_utf8(&mut [0; 4]));
                if col + cw > w {
                    lines.push(std::mem::take(&mut line));
                    col = 0;
                }
                line.push(c);
                col += cw;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Rows `lines` take in a panel `width` cells wide, wrapped exactly as the panel wraps them
/// (ratatui counts them with the same wrapping it draws with, wide characters included).
pub fn wrapped_rows<'a>(lines: impl IntoIterator<Item = &'a str>, width: u16) -> u16 {
    let lines: Vec<Line> = lines.into_iter().map(Line::raw).collect();
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .line_count(width.max(1))
        .min(u16::MAX as usize) as u16
}

pub use crate::cells::fit;

/// What a click at `pos` lands on, from the same layout that draws the screen.
pub fn hit(app: &App, pos: Position) -> Hit {
    let found = match app.screen {
        Screen::Menu => menu::row_at(app, pos).map(Hit::MenuRow),
        Screen::Run => run::lane_at(app, pos).map(Hit::Lane),
    };
    found.unwrap_or(Hit::Nothing)
}

/// The rule between a lane's label and its cells, `h` rows down from `(x, y)`.
pub fn lane_rule(theme: Theme, x: u16, y: u16, h: u16, buf: &mut Buffer) {
    for dy in 0..h {
        buf.set_stringn(
            x,
            y + dy,
            if theme.glyphs.ascii { "|" } else { "│" },
            1,
            theme.border(),
        );
    }
}

/// How a lane's name is drawn: in the cycle's colour when `caught` in a deadlock, else
/// highlighted when `selected`, with the selection pointer before it (or a space).
pub fn name_look(theme: Theme, caught: bool, selected: bool) -> (Style, &'static str) {
    let style = if caught {
        theme.in_cycle()
    } else if selected {
        theme.selected()
    } else {
        theme.text().add_modifier(Modifier::BOLD)
    };
    let pointer = if selected {
        theme.glyphs.pointer()
    } else {
        " "
    };
    (style, pointer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_naturally() {
        for (ns, shown) in [
            (0, "0s"),
            (250_000_000, "250ms"),
            (1_250_000_000, "1.25s"),
            (2_000_000_000, "2s"),
            (125_000_000_000, "2m05s"),
            (500_000, "500us"),
        ] {
            assert_eq!(fmt_ns(ns), shown);
        }
        assert_eq!(fmt_clock(1_234_567_890), "1.235s");
    }

    /// The time a tick label says, read back: "7.8855s", "12.5ms", "500us", "1m05.5s".
    fn read_tick(label: &str) -> u64 {
        fn exact(number: &str, unit: u64) -> u64 {
            let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
            let mut ns = whole.parse::<u64>().unwrap() * unit;
            let mut place = unit;
            for d in frac.chars() {
                place /= 10;
                ns += u64::from(d.to_digit(10).unwrap()) * place;
            }
            ns
        }
        if let Some((m, s)) = label.split_once('m')
            && s.len() > 1
            && s.ends_with('s')
        {
            return m.parse::<u64>().unwrap() * 60_000_000_000
                + exact(s.strip_suffix('s').unwrap(), 1_000_000_000);
        }
        if let Some(n) = label.strip_suffix("us") {
            exact(n, 1_000)
        } else if let Some(n) = label.strip_suffix("ms") {
            exact(n, 1_000_000)
        } else {
            exact(label.strip_suffix('s').unwrap(), 1_000_000_000)
        }
    }

    #[test]
    fn tick_labels_are_exact_so_neighbours_never_read_the_same() {
        use crate::ui::app::ZOOM_LEVELS_NS;
        // Around places where rounding to a fixed number of decimals repeats or lies: just
        // under a second, at 7.88 s, just under and over a minute.
        let around = [
            0,
            999_000_000,
            7_880_000_000,
            59_990_000_000,
            125_000_000_000,
        ];
        for per in ZOOM_LEVELS_NS {
            for base in around {
                let first = base / per * per;
                let mut last: Option<String> = None;
                for k in 0..40 {
                    let ns = first + k * per;
                    let label = fmt_tick(ns, per);
                    assert_eq!(read_tick(&label), ns, "{label} at {per}ns/cell");
                    assert_ne!(last.as_deref(), Some(label.as_str()), "{per}ns/cell");
                    last = Some(label);
                }
            }
        }
        assert_eq!(fmt_tick(7_885_000_000, 500_000), "7.885s");
        assert_eq!(fmt_tick(7_880_000_000, 500_000), "7.88s");
        assert_eq!(fmt_tick(12_500_000, 100_000), "12.5ms");
        assert_eq!(fmt_tick(125_500_000_000, 100_000_000), "2m05.5s");
        assert_eq!(fmt_tick(0, 1_000_000), "0s");
        // Any spacing, not only the zoom ladder's, is written exactly.
        assert_eq!(fmt_tick(1_234_567, 7), "1.234567ms");
        assert_eq!(fmt_tick(1_500, 1), "1.5us");
    }

    #[test]
    fn reflow_joins_wrapped_prose() {
        let about = "  One two\n  three.\n\n  Four\n";
        assert_eq!(reflow(about), vec!["One two three.", "Four"]);
        // Chinese breaks between characters, never before its closing punctuation, and no
        // wide character crosses the edge.
        let zh = &reflow("线程一，线程二。线程三")[0];
        assert_eq!(wrap(zh, 8), ["线程一，", "线程二。", "线程三"]);
        assert_eq!(wrap(zh, 7), ["线程", "一，线", "程二。", "线程三"]);
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        for width in 2..12 {
            for line in wrap(&reflow("T1 和 T2 都需要锁 A 和锁 B，但顺序相反")[0], width)
            {
                assert!(cells::width(&line) <= width as usize, "{line:?} at {width}");
            }
        }
        assert_eq!(wrapped_rows(["aaa bbb ccc"], 7), 2);
        assert_eq!(wrapped_rows(["aaa", "b"], 7), 2);
    }
}
