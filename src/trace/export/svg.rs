//! The timeline as an SVG picture for a slide: a title, one lane per thread, a time axis and a
//! legend. Every state has a colour AND a fill pattern AND (where there is room) its glyph from
//! the text timeline, so the picture reads on a washed-out projector and printed in black and
//! white.

use std::fmt::Write as _;

use rust_i18n::t;

use crate::cells;
use crate::i18n;
use crate::scenario::model::ThreadIdx;
use crate::trace::text::fmt_run_time;
use crate::vocab::event::{Hue, STATES, StateRow, Texture};
use crate::vocab::recording::Recording;

const WIDTH: u32 = 1200;
/// The margin left of the lanes, at least; wider when a thread's name needs it.
const LEFT: u32 = 130;
/// The advance of one terminal cell at the sizes used here: an ASCII glyph takes one, a CJK
/// glyph (and most emoji) two, as in the terminal. Every text whose room is reckoned is given
/// exactly that length (`textLength`), so the layout holds whatever font the viewer has.
const CELL_W: u32 = 8;
/// Monospace fonts with CJK glyphs first, so a wide glyph really is two cells wide.
const FONTS: &str = "'Noto Sans Mono CJK SC', 'Sarasa Mono SC', 'Source Han Mono SC', \
                     'DejaVu Sans Mono', 'WenQuanYi Zen Hei Mono', monospace";
const RIGHT: u32 = 30;
const TOP: u32 = 70;
const LANE_H: u32 = 26;
const LANE_GAP: u32 = 8;
const LEGEND_ROW: u32 = 26;

/// The background colour of a hue on paper.
fn fill(hue: Hue) -> &'static str {
    match hue {
        Hue::Green => "#2e7d32",
        Hue::Blue => "#bbdefb",
        Hue::Red => "#ef9a9a",
        Hue::Amber => "#ffe082",
        Hue::Magenta => "#ce93d8",
        Hue::Cyan => "#80deea",
        Hue::Orange => "#ffab40",
        Hue::Grey => "#eeeeee",
        Hue::Faint => "#ffffff",
        Hue::Alarm => "#000000",
        Hue::Teal => "#80cbc4",
        Hue::Violet => "#b39ddb",
        Hue::Rose => "#f8bbd0",
    }
}

/// The ink a hue's texture and glyph are drawn in: white on the dark fills, black elsewhere.
fn ink(hue: Hue) -> &'static str {
    match hue {
        Hue::Green | Hue::Alarm => "#fff",
        _ => "#000",
    }
}

/// A texture's marks in an 8×8 tile, drawn in `ink` over the background.
fn marks(texture: Texture, ink: &str) -> String {
    let line = |d: &str, w: &str| {
        format!(r#"<path d="{d}" fill="none" stroke="{ink}" stroke-width="{w}"/>"#)
    };
    let dot =
        |x: u8, y: u8, r: &str| format!(r#"<circle cx="{x}" cy="{y}" r="{r}" fill="{ink}"/>"#);
    match texture {
        Texture::Solid => String::new(),
        Texture::Waves => line("M0 4 Q2 1 4 4 T8 4", "0.8"),
        Texture::Hatch => line("M-2 2 L2 -2 M0 8 L8 0 M6 10 L10 6", "1.2"),
        Texture::BackHatch => line("M-2 6 L2 10 M0 0 L8 8 M6 -2 L10 2", "1.2"),
        Texture::Cross => line("M0 0 L8 8 M8 0 L0 8", "0.8"),
        Texture::Bars => line("M2 0 V8 M6 0 V8", "1"),
        Texture::Rungs => line("M0 2 H8 M0 6 H8", "1"),
        Texture::Grid => line("M0 0.5 H8 M0.5 0 V8", "0.8"),
        Texture::Plus => line("M4 1.5 V6.5 M1.5 4 H6.5", "1"),
        Texture::Zigzag => line("M0 6 L2 2 L4 6 L6 2 L8 6", "0.9"),
        Texture::Slashes => line("M1 7 L3 5 M5 3 L7 1", "1.2"),
        Texture::Diamonds => line("M4 1 L7 4 L4 7 L1 4 Z", "0.8"),
        Texture::Checks => format!(
            r#"<rect x="0.5" y="0.5" width="3" height="3" fill="{ink}"/><rect x="4.5" y="4.5" width="3" height="3" fill="{ink}"/>"#
        ),
        Texture::Dots => dot(2, 2, "1.1") + &dot(6, 6, "1.1"),
        Texture::Rings => format!(
            r#"<circle cx="4" cy="4" r="2.2" fill="none" stroke="{ink}" stroke-width="0.8"/>"#
        ),
        Texture::Specks => r##"<circle cx="4" cy="4" r="0.8" fill="#555"/>"##.to_string(),
    }
}

/// Escapes text for SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// The `textLength` that gives `text` its width in cells, so wide glyphs take two.
fn text_length(text: &str) -> String {
    format!(
        r#" textLength="{}" lengthAdjust="spacingAndGlyphs""#,
        CELL_W * cells::width(text) as u32
    )
}

/// Where each legend entry `widths` wide goes, left to right from `(x, y)` and on to a new row
/// where the page ends.
fn legend_places(widths: &[u32], x: u32, y: u32) -> Vec<(u32, u32)> {
    let mut at = (x, y);
    widths
        .iter()
        .map(|&w| {
            if at.0 > x && at.0 + w > WIDTH - 20 {
                at = (x, at.1 + LEGEND_ROW);
            }
            let place = at;
            at.0 += w + 16;
            place
        })
        .collect()
}

/// The SVG document for a recording.
pub fn render(rec: &Recording) -> String {
    let trace = rec.trace();
    let s = &*rec.scenario;
    let end_ns = rec.end_ns.max(trace.end_ns()).max(1);
    let lanes = s.threads.len() as u32;
    let name_cells = s.threads.iter().map(|t| cells::width(&t.name)).max();
    let left = (20 + CELL_W * name_cells.unwrap_or(0) as u32).clamp(LEFT, WIDTH / 2);
    let plot_w = WIDTH - left - RIGHT;
    let lanes_h = lanes * (LANE_H + LANE_GAP);
    let axis_y = TOP + lanes_h;
    let legend_y = axis_y + 50;
    // The legend: the states drawn, each a swatch and words, in as many rows as the page's
    // width needs.
    let mut used = [false; STATES.len()];
    for t in 0..s.threads.len() {
        for sp in trace.spans(t as ThreadIdx, 0, end_ns) {
            used[sp.state.index()] = true;
        }
    }
    let legend = t!("classroom.svg.legend");
    let legend_x = 20 + CELL_W * cells::width(&legend) as u32 + 16;
    let entries: Vec<(&StateRow, String)> = STATES
        .iter()
        .zip(used)
        .filter(|(row, used)| *used && !row.is_blank())
        .map(|(g, _)| {
            let words = g.state.legend_in(s);
            let text = if g.ascii.is_ascii_alphabetic() {
                format!("{}: {words}", g.ascii)
            } else {
                format!(" {words}")
            };
            (g, text)
        })
        .collect();
    let widths: Vec<u32> = entries
        .iter()
        .map(|(_, text)| 28 + CELL_W * cells::width(text) as u32)
        .collect();
    let places = legend_places(&widths, legend_x, legend_y);
    let height = places.last().map_or(legend_y, |&(_, y)| y) + 40;
    let x_of = |ns: u64| left as f64 + plot_w as f64 * ns as f64 / end_ns as f64;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="{FONTS}">"##
    );
    let _ = writeln!(
        out,
        "<title>{}</title>",
        escape(&format!("{} ({})", s.shown_title(), s.name))
    );
    out.push_str("<defs>\n");
    for row in STATES.iter().filter(|row| !row.is_blank()) {
        let _ = writeln!(
            out,
            r##"<pattern id="p-{}" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="{}"/>{}</pattern>"##,
            row.name,
            fill(row.hue),
            marks(row.texture, ink(row.hue))
        );
    }
    out.push_str("</defs>\n");
    let _ = writeln!(
        out,
        r##"<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    );

    let outcome = match rec.outcome {
        Some(o) => t!(
            "classroom.svg.outcome",
            outcome = t!(format!("classroom.svg.{}", o.name())),
            time = fmt_run_time(end_ns)
        )
        .into_owned(),
        None => fmt_run_time(end_ns),
    };
    let _ = writeln!(
        out,
        r##"<text x="20" y="32" font-size="22" font-weight="bold">{}</text>"##,
        escape(s.shown_title())
    );
    let _ = writeln!(
        out,
        r##"<text x="20" y="54" font-size="14" fill="#333">{} — {}</text>"##,
        escape(&s.name),
        escape(&outcome)
    );

    for (i, th) in s.threads.iter().enumerate() {
        let y = TOP + i as u32 * (LANE_H + LANE_GAP);
        let _ = writeln!(
            out,
            r##"<g class="lane" data-thread="{}">"##,
            escape(&th.name)
        );
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" font-size="14" text-anchor="end"{}>{}</text>"##,
            left - 10,
            y + LANE_H / 2 + 5,
            text_length(&th.name),
            escape(&th.name)
        );
        let _ = writeln!(
            out,
            r##"<rect x="{left}" y="{y}" width="{plot_w}" height="{LANE_H}" fill="none" stroke="#999" stroke-width="0.5"/>"##
        );
        for sp in trace.spans(i as ThreadIdx, 0, end_ns) {
            if sp.state.row().is_blank() {
                continue;
            }
            let x0 = x_of(sp.start_ns);
            let w = (x_of(sp.end_ns) - x0).max(0.5);
            let row = sp.state.row();
            let _ = writeln!(
                out,
                r##"<rect x="{x0:.2}" y="{y}" width="{w:.2}" height="{LANE_H}" fill="url(#p-{})" stroke="#000" stroke-width="0.4"><title>{}</title></rect>"##,
                row.name,
                escape(&t!(
                    "classroom.svg.span",
                    who = th.name,
                    state = sp.state.words(i18n::current(), s, i as ThreadIdx, None),
                    from = fmt_run_time(sp.start_ns),
                    to = fmt_run_time(sp.end_ns)
                ))
            );
            let glyph = row.ascii;
            if w >= 16.0 && (glyph.is_ascii_alphabetic() || glyph == '!') {
                let fill = ink(row.hue);
                let _ = writeln!(
                    out,
                    r##"<text x="{:.2}" y="{}" font-size="13" font-weight="bold" text-anchor="middle" fill="{fill}">{glyph}</text>"##,
                    x0 + w / 2.0,
                    y + LANE_H / 2 + 5,
                );
            }
        }
        out.push_str("</g>\n");
    }

    // Time axis: 0, the quarters, the end.
    let _ = writeln!(
        out,
        r##"<g class="axis"><line x1="{left}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#000"/>"##,
        left + plot_w
    );
    for q in 0..=4u64 {
        let ns = end_ns * q / 4;
        let x = x_of(ns);
        let label = if q == 0 {
            "0".to_string()
        } else {
            fmt_run_time(ns)
        };
        let anchor = match q {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = writeln!(
            out,
            r##"<line x1="{x:.2}" y1="{axis_y}" x2="{x:.2}" y2="{}" stroke="#000"/><text x="{x:.2}" y="{}" font-size="12" text-anchor="{anchor}">{}</text>"##,
            axis_y + 6,
            axis_y + 20,
            escape(&label)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="#333">{}</text></g>"##,
        left + plot_w / 2,
        axis_y + 36,
        escape(&t!("classroom.svg.run_time"))
    );

    let _ = writeln!(out, r##"<g class="legend">"##);
    let _ = writeln!(
        out,
        r##"<text x="20" y="{}" font-size="13" font-weight="bold"{}>{}</text>"##,
        legend_y + 14,
        text_length(&legend),
        escape(&legend)
    );
    for ((g, text), (x, y)) in entries.into_iter().zip(places) {
        let _ = writeln!(
            out,
            r##"<rect x="{x}" y="{y}" width="22" height="18" fill="url(#p-{})" stroke="#000" stroke-width="0.5"/><text x="{}" y="{}" font-size="13"{}>{}</text>"##,
            g.name,
            x + 28,
            y + 14,
            text_length(&text),
            escape(&text)
        );
    }
    out.push_str("</g>\n</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A legend of every state, in words as long as Chinese makes them, stays on the page.
    #[test]
    fn a_long_legend_goes_on_in_rows() {
        let widths = vec![28 + CELL_W * 16; STATES.len()];
        let places = legend_places(&widths, 100, 500);
        for (&(x, _), w) in places.iter().zip(&widths) {
            assert!(x + w <= WIDTH - 20, "{places:?}");
        }
        assert!(places.last().unwrap().1 > 500, "more than one row");
        assert_eq!(legend_places(&[50, 50], 100, 500), [(100, 500), (166, 500)]);
    }

    /// A black-and-white print tells states apart by texture alone: no two states drawn share
    /// one, and each texture's marks show on its own fill.
    #[test]
    fn every_state_drawn_has_a_texture_of_its_own() {
        let drawn: Vec<_> = STATES.iter().filter(|row| !row.is_blank()).collect();
        for (i, a) in drawn.iter().enumerate() {
            for b in &drawn[i + 1..] {
                assert_ne!(a.texture, b.texture, "{} and {}", a.name, b.name);
            }
            if a.texture != Texture::Solid {
                let marks = marks(a.texture, ink(a.hue));
                assert!(!marks.is_empty(), "{}", a.name);
                if a.texture != Texture::Specks {
                    assert!(
                        marks.contains(ink(a.hue)) && ink(a.hue) != fill(a.hue),
                        "{}'s marks vanish into its fill",
                        a.name
                    );
                }
            }
        }
    }
}
