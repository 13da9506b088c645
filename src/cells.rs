//! Text measured in terminal cells, the unit a screen and a monospaced report are laid out in.
//!
//! A thread named 工人-1 is four characters but six cells wide; counting characters cuts its
//! number off a lane label and misaligns every column after it. Everything that pads, truncates
//! or measures text for a person to read goes through here. Rust's `{:<w$}` pads by characters,
//! so it is never used on names.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Cells `text` takes in a terminal.
pub fn width(text: &str) -> usize {
    text.width()
}

/// `text` cut to at most `cells` cells, ending in `…` where it was cut.
pub fn fit(text: &str, cells: usize) -> String {
    if width(text) <= cells {
        return text.to_string();
    }
    if cells == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > cells - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` followed by spaces up to `cells` cells (unchanged if it is already that wide).
pub fn pad(text: &str, cells: usize) -> String {
    let w = width(text);
    let mut out = String::with_capacity(text.len() + cells.saturating_sub(w));
    out.push_str(text);
    out.extend(std::iter::repeat_n(' ', cells.saturating_sub(w)));
    out
}

/// Spaces before `text` up to `cells` cells.
pub fn pad_left(text: &str, cells: usize) -> String {
    let mut out: String = std::iter::repeat_n(' ', cells.saturating_sub(width(text))).collect();
    out.push_str(text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_glyphs_take_two_cells() {
        assert_eq!(width("T1"), 2);
        assert_eq!(width("工人-1"), 6);
        assert_eq!(width("스레드"), 6);
    }

    #[test]
    fn fit_cuts_by_cells_and_marks_the_cut() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(fit("工人-12", 6), "工人-…");
        // A wide glyph that would straddle the edge is left out rather than half drawn.
        assert_eq!(fit("工人工人", 4), "工…");
        assert!(width(&fit("线程线程线程", 5)) <= 5);
    }

    #[test]
    fn pad_fills_to_cells() {
        assert_eq!(pad("工人", 6), "工人  ");
        assert_eq!(width(&pad("工人-1", 8)), 8);
        assert_eq!(pad("toolong", 3), "toolong");
        assert_eq!(pad_left("锁", 4), "  锁");
    }
}
