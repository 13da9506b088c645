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

/// `text` cut to at most `cells` cells after a whole word, ending in `…` where it was cut. A
/// text with no space in the second half of its room (Chinese, one long word) is cut as
/// [`fit`] cuts, since it breaks anywhere.
pub fn fit_words(text: &str, cells: usize) -> String {
    let cut = fit(text, cells);
    if cut == text {
        return cut;
    }
    let kept = cut.trim_end_matches('…');
    match kept.rfind(' ') {
        Some(i) if width(&kept[..i]) * 2 >= cells => {
            format!("{}…", kept[..i].trim_end_matches([',', ';', ':']))
        }
        _ => cut,
    }
}

/// A name cut to at most `cells` cells for a column of names. Names of one kind differ at
/// their end (`producer-fast-1` and `-2`, a pool's `ThreadPoolExecutor-0_3`), so where one must
/// be cut its middle is taken out and marked `…`, and its last part (from a `-`, `_`, `.`, `/`
/// or `:`, at most half the room) is kept: two names never read the same once cut unless they
/// differ only in the middle.
pub fn fit_name(name: &str, cells: usize) -> String {
    if width(name) <= cells {
        return name.to_string();
    }
    if cells < 5 {
        return fit(name, cells);
    }
    let half = (cells - 1) / 2;
    let tail_from = name
        .char_indices()
        .filter(|(_, c)| "-_./:".contains(*c))
        .map(|(i, _)| i)
        .find(|&i| width(&name[i..]) <= half)
        .unwrap_or_else(|| {
            // No part to keep whole: the last third of the room.
            let mut used = 0;
            let mut from = name.len();
            for (i, c) in name.char_indices().rev() {
                used += c.width().unwrap_or(0);
                if used > (cells - 1) / 3 {
                    break;
                }
                from = i;
            }
            from
        });
    let tail = &name[tail_from..];
    let mut out = String::new();
    let mut used = 0;
    let room = cells - 1 - width(tail);
    for c in name[..tail_from].chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out.push_str(tail);
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
    fn words_are_cut_whole() {
        assert_eq!(
            fit_words("pause holds each thread", 30),
            "pause holds each thread"
        );
        assert_eq!(fit_words("pause holds each thread", 16), "pause holds…");
        assert_eq!(fit_words("at its call; code runs", 16), "at its call…");
        assert_eq!(
            fit_words("真实 Python：暂停让每个线程停下", 16),
            fit("真实 Python：暂停让每个线程停下", 16)
        );
        assert_eq!(fit_words("abcdefghijkl", 6), "abcde…");
    }

    #[test]
    fn a_name_cut_keeps_its_end() {
        assert_eq!(fit_name("producer-fast-1", 16), "producer-fast-1");
        assert_eq!(fit_name("producer-fast-1", 13), "producer-f…-1");
        assert_eq!(fit_name("ThreadPoolExecutor-0_3", 13), "ThreadPo…-0_3");
        assert_eq!(fit_name("averyveryverylongname", 10), "averyv…ame");
        assert_eq!(fit_name("生产者-快速-一号", 11), "生产…-一号");
        assert_eq!(fit_name("abcdef", 4), "abc…");
        for cells in 0..24 {
            for name in [
                "producer-fast-12",
                "生产者-快速-一号",
                "main/fetch_page-3",
                "x",
            ] {
                let cut = fit_name(name, cells);
                assert!(width(&cut) <= cells, "{cut:?} in {cells}");
                let (a, b) = (
                    fit_name(&format!("{name}-1"), cells),
                    fit_name(&format!("{name}-2"), cells),
                );
                if cells >= 6 {
                    assert_ne!(a, b, "the end that tells them apart is kept in {cells}");
                }
            }
        }
    }

    #[test]
    fn pad_fills_to_cells() {
        assert_eq!(pad("工人", 6), "工人  ");
        assert_eq!(width(&pad("工人-1", 8)), 8);
        assert_eq!(pad("toolong", 3), "toolong");
        assert_eq!(pad_left("锁", 4), "  锁");
    }
}
