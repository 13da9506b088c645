//! The one theme: colours, emphasis and glyphs for everything the UI draws.
//!
//! Every thread state has a colour AND a glyph, so a lane still reads on a monochrome terminal,
//! a washed-out projector or a black-and-white printout. `NO_COLOR` selects the monochrome
//! theme; `--ascii` swaps the glyphs for plain ASCII.

use ratatui::style::{Color, Modifier, Style};

use crate::vocab::event::{Hue, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeKind {
    /// For a dark terminal (the default).
    Dark,
    /// For a light terminal and most projectors.
    Light,
    /// No colour at all: glyphs and bold/reverse only.
    Mono,
}

impl ThemeKind {
    pub const ALL: [ThemeKind; 3] = [ThemeKind::Dark, ThemeKind::Light, ThemeKind::Mono];

    pub fn name(self) -> &'static str {
        match self {
            ThemeKind::Dark => "dark",
            ThemeKind::Light => "light",
            ThemeKind::Mono => "mono",
        }
    }

    /// The theme called `name` (`--theme light`).
    pub fn from_name(name: &str) -> Option<ThemeKind> {
        ThemeKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The glyph set: Unicode block and box-drawing characters, or plain ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyphs {
    pub ascii: bool,
}

impl Glyphs {
    /// The glyph that fills a lane cell for a thread in `state`: the headless timeline's,
    /// so a class reads both alike.
    pub fn state(self, state: State) -> char {
        state.row().glyph(self.ascii)
    }

    /// Marks the selected thread and the current line.
    pub fn pointer(self) -> &'static str {
        self.pick(">", "▶")
    }

    /// Says more of a list is above.
    pub fn up(self) -> &'static str {
        if self.ascii { "^" } else { "▲" }
    }

    /// Says more of a list is below.
    pub fn down(self) -> &'static str {
        if self.ascii { "v" } else { "▼" }
    }

    /// Marks a thread the run pauses at when it blocks (a breakpoint).
    pub fn breakpoint(self) -> &'static str {
        if self.ascii { "*" } else { "●" }
    }

    /// Marks, on a race's lane, an increment another thread's write then threw away.
    pub fn lost(self) -> char {
        self.pick('x', '✗')
    }

    /// Marks the history cursor on the time axis.
    pub fn cursor(self) -> char {
        self.pick('^', '▲')
    }

    pub fn tick(self) -> char {
        self.pick('|', '╵')
    }

    pub fn axis(self) -> char {
        self.pick('-', '─')
    }

    pub fn gauge_full(self) -> char {
        self.pick('#', '■')
    }

    pub fn gauge_empty(self) -> char {
        self.pick('.', '□')
    }

    pub fn border_set(self) -> ratatui::symbols::border::Set<'static> {
        self.pick(ASCII_BORDER, ratatui::symbols::border::ROUNDED)
    }

    /// The plain ASCII form or the Unicode one, as this set draws.
    fn pick<T>(self, ascii: T, unicode: T) -> T {
        if self.ascii { ascii } else { unicode }
    }
}

const ASCII_BORDER: ratatui::symbols::border::Set<'static> = ratatui::symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// The light theme's page and ink.
const PAPER: Color = Color::Indexed(231);
const INK: Color = Color::Indexed(16);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub kind: ThemeKind,
    pub glyphs: Glyphs,
}

impl Theme {
    pub fn new(kind: ThemeKind, ascii: bool) -> Theme {
        Theme {
            kind,
            glyphs: Glyphs { ascii },
        }
    }

    /// The theme asked for (`--theme`), else this environment's: monochrome when `NO_COLOR`
    /// is set (to anything non-empty, as no-color.org asks), dark otherwise. A theme asked for
    /// on the command line wins over `NO_COLOR`, as no-color.org also asks.
    pub fn chosen(asked: Option<ThemeKind>, ascii: bool) -> Theme {
        let no_color = || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let kind = asked.unwrap_or_else(|| {
            if no_color() {
                ThemeKind::Mono
            } else {
                ThemeKind::Dark
            }
        });
        Theme::new(kind, ascii)
    }

    /// The next theme in the `t` cycle.
    pub fn next(self) -> Theme {
        let i = ThemeKind::ALL
            .iter()
            .position(|k| *k == self.kind)
            .unwrap_or(0);
        Theme::new(
            ThemeKind::ALL[(i + 1) % ThemeKind::ALL.len()],
            self.glyphs.ascii,
        )
    }

    fn color(self, dark: Color, light: Color) -> Option<Color> {
        match self.kind {
            ThemeKind::Dark => Some(dark),
            ThemeKind::Light => Some(light),
            ThemeKind::Mono => None,
        }
    }

    fn fg(self, dark: Color, light: Color) -> Style {
        match self.color(dark, light) {
            Some(c) => Style::new().fg(c),
            None => Style::new(),
        }
    }

    /// What every cell starts from. The light theme brings its own white page and black ink,
    /// so it reads the same on a dark terminal as on a white one; the others draw on the
    /// terminal's own colours.
    pub fn base(self) -> Style {
        match self.kind {
            ThemeKind::Light => Style::new().fg(INK).bg(PAPER),
            ThemeKind::Dark | ThemeKind::Mono => Style::new(),
        }
    }

    /// Plain text.
    pub fn text(self) -> Style {
        Style::new()
    }

    /// Secondary text: labels, axis, hints.
    pub fn dim(self) -> Style {
        self.fg(Color::Indexed(250), Color::Indexed(240))
    }

    pub fn title(self) -> Style {
        self.fg(Color::Indexed(87), Color::Indexed(25))
            .add_modifier(Modifier::BOLD)
    }

    pub fn border(self) -> Style {
        self.fg(Color::Indexed(244), Color::Indexed(245))
    }

    /// The selected row of a list or the selected lane's name.
    pub fn selected(self) -> Style {
        match self.kind {
            ThemeKind::Dark => Style::new()
                .bg(Color::Indexed(238))
                .add_modifier(Modifier::BOLD),
            ThemeKind::Light => Style::new()
                .bg(Color::Indexed(253))
                .add_modifier(Modifier::BOLD),
            ThemeKind::Mono => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        }
    }

    /// Keys in the footer and help overlay.
    pub fn key(self) -> Style {
        self.fg(Color::Indexed(220), Color::Indexed(90))
            .add_modifier(Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        self.fg(Color::Indexed(203), Color::Indexed(124))
            .add_modifier(Modifier::BOLD)
    }

    pub fn warning(self) -> Style {
        self.fg(Color::Indexed(214), Color::Indexed(94))
    }

    /// The deadlock banner: impossible to miss.
    pub fn alarm(self) -> Style {
        match self.kind {
            ThemeKind::Mono => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            _ => Style::new()
                .fg(Color::Indexed(231))
                .bg(Color::Indexed(160))
                .add_modifier(Modifier::BOLD),
        }
    }

    /// Threads and resources caught in a deadlock cycle.
    pub fn in_cycle(self) -> Style {
        match self.kind {
            ThemeKind::Mono => Style::new()
                .add_modifier(Modifier::REVERSED | Modifier::BOLD | Modifier::UNDERLINED),
            _ => Style::new()
                .fg(Color::Indexed(231))
                .bg(Color::Indexed(160))
                .add_modifier(Modifier::BOLD),
        }
    }

    /// The colour of a thread state, used for its lane cells and its label.
    pub fn state(self, state: State) -> Style {
        self.hue(state.row().hue)
    }

    /// A lost update's mark on a race lane: the alarm's colours, as it is the race's damage.
    pub fn lost(self) -> Style {
        self.hue(Hue::Alarm).add_modifier(Modifier::REVERSED)
    }

    fn hue(self, hue: Hue) -> Style {
        // Fixed entries of the 256-colour palette, not the 16 a terminal re-colours, so the
        // contrast measured in the tests is the contrast shown.
        let (dark, light) = match hue {
            Hue::Green => (83, 22),
            Hue::Blue => (75, 19),
            Hue::Red | Hue::Alarm => (203, 124),
            Hue::Amber => (220, 94),
            Hue::Magenta => (207, 90),
            Hue::Cyan => (87, 23),
            Hue::Orange => (208, 130),
            Hue::Grey => (250, 240),
            Hue::Faint => (246, 242),
            Hue::Teal => (43, 29),
            Hue::Violet => (141, 55),
            Hue::Rose => (175, 125),
        };
        let style = self.fg(Color::Indexed(dark), Color::Indexed(light));
        match hue {
            Hue::Alarm => style.add_modifier(Modifier::BOLD),
            _ => style,
        }
    }

    /// The big state word beside a lane: bold, so it reads from the back of the room.
    pub fn state_label(self, state: State) -> Style {
        self.state(state).add_modifier(Modifier::BOLD)
    }

    /// The run-state badge in the header (RUNNING, PAUSED, ...), drawn as a solid block.
    pub fn badge(self, badge: Badge) -> Style {
        let bg = Color::Indexed(match badge {
            Badge::Running => 34,
            Badge::Paused => 220,
            Badge::Stepping => 44,
            Badge::Deadlock | Badge::Failed => 160,
            Badge::Done => 25,
        });
        match self.kind {
            ThemeKind::Mono => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            _ => Style::new()
                .fg(
                    if matches!(badge, Badge::Deadlock | Badge::Failed | Badge::Done) {
                        Color::Indexed(231)
                    } else {
                        Color::Indexed(16)
                    },
                )
                .bg(bg)
                .add_modifier(Modifier::BOLD),
        }
    }
}

/// What the header's run-state badge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Badge {
    Running,
    Paused,
    Stepping,
    Deadlock,
    Done,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::event::STATES;

    fn states() -> impl Iterator<Item = State> {
        STATES.iter().map(|row| row.state)
    }

    #[test]
    fn mono_uses_no_colour() {
        let t = Theme::new(ThemeKind::Mono, false);
        for s in states() {
            assert_eq!(t.state(s).fg, None);
            assert_eq!(t.state(s).bg, None);
        }
        assert_eq!(t.alarm().bg, None);
    }

    #[test]
    fn colour_themes_give_every_waiting_state_a_colour() {
        for kind in [ThemeKind::Dark, ThemeKind::Light] {
            let t = Theme::new(kind, false);
            for s in states() {
                assert!(t.state(s).fg.is_some(), "{kind:?} {s:?}");
            }
        }
    }

    /// A colour's sRGB, as xterm and every terminal since draws the 256-colour palette's fixed
    /// part (16-255); the themes use nothing else.
    fn rgb(c: Color) -> [f64; 3] {
        let n = match c {
            Color::Indexed(n) if n >= 16 => n,
            Color::Rgb(r, g, b) => return [r, g, b].map(f64::from),
            other => panic!("{other:?} depends on the terminal's palette"),
        };
        if n >= 232 {
            let v = f64::from(8 + (n - 232) * 10);
            return [v, v, v];
        }
        let i = n - 16;
        let step = |k: u8| f64::from(if k == 0 { 0 } else { 55 + 40 * k });
        [step(i / 36), step((i / 6) % 6), step(i % 6)]
    }

    /// WCAG 2 relative luminance and contrast ratio.
    fn contrast(a: Color, b: Color) -> f64 {
        let lum = |c: Color| {
            let [r, g, b] = rgb(c).map(|v| {
                let v = v / 255.0;
                if v <= 0.04045 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            });
            0.2126 * r + 0.7152 * g + 0.0722 * b
        };
        let (x, y) = (lum(a), lum(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    /// Every pair of ink and page a theme draws text in reads at WCAG's 4.5:1, and borders at
    /// 3:1. The light theme brings its own page; the dark one draws on the terminal's, taken
    /// as any of the usual dark backgrounds with their usual light-grey ink.
    #[test]
    fn every_theme_draws_text_at_wcag_contrast() {
        let dark_pages = [
            Color::Indexed(16),
            Color::Rgb(0x1e, 0x1e, 0x1e),
            Color::Rgb(0x28, 0x2c, 0x34),
        ];
        for kind in [ThemeKind::Dark, ThemeKind::Light] {
            let t = Theme::new(kind, false);
            let (pages, ink): (Vec<Color>, Color) = match kind {
                ThemeKind::Light => (vec![PAPER], INK),
                _ => (dark_pages.to_vec(), Color::Rgb(0xd4, 0xd4, 0xd4)),
            };
            let mut text: Vec<(String, Style)> = vec![
                ("text".into(), t.text()),
                ("dim".into(), t.dim()),
                ("title".into(), t.title()),
                ("key".into(), t.key()),
                ("error".into(), t.error()),
                ("warning".into(), t.warning()),
                ("alarm".into(), t.alarm()),
                ("in_cycle".into(), t.in_cycle()),
                ("selected".into(), t.selected()),
                ("lost".into(), t.lost()),
            ];
            for s in states() {
                text.push((format!("state {s:?}"), t.state_label(s)));
            }
            for b in [
                Badge::Running,
                Badge::Paused,
                Badge::Stepping,
                Badge::Deadlock,
                Badge::Done,
                Badge::Failed,
            ] {
                text.push((format!("badge {b:?}"), t.badge(b)));
            }
            for page in &pages {
                let pair = |style: Style| {
                    let (fg, bg) = (style.fg.unwrap_or(ink), style.bg.unwrap_or(*page));
                    if style.add_modifier.contains(Modifier::REVERSED) {
                        (bg, fg)
                    } else {
                        (fg, bg)
                    }
                };
                for (what, style) in &text {
                    let (fg, bg) = pair(*style);
                    let c = contrast(fg, bg);
                    assert!(c >= 4.5, "{kind:?} {what} on {page:?}: {c:.2}");
                }
                let (fg, bg) = pair(t.border());
                let c = contrast(fg, bg);
                assert!(c >= 3.0, "{kind:?} border on {page:?}: {c:.2}");
            }
        }
    }

    #[test]
    fn the_light_theme_paints_its_own_page_and_the_others_do_not() {
        assert_eq!(Theme::new(ThemeKind::Light, false).base().bg, Some(PAPER));
        assert_eq!(Theme::new(ThemeKind::Dark, false).base(), Style::new());
        assert_eq!(Theme::new(ThemeKind::Mono, false).base(), Style::new());
    }

    #[test]
    fn cycling_visits_every_theme() {
        let mut t = Theme::new(ThemeKind::Dark, true);
        let mut seen = vec![];
        for _ in 0..3 {
            seen.push(t.kind);
            t = t.next();
        }
        assert_eq!(seen, ThemeKind::ALL);
        assert_eq!(t.kind, ThemeKind::Dark);
        assert!(t.glyphs.ascii);
    }
}
