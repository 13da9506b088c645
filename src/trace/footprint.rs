//! The c10k lesson's card: what starting the run's tasks and its threads cost the machine, as
//! the engine measured it live in the run (`engine::footprint`): start-up time and resident
//! memory, in all and for each.

use rust_i18n::t;

use crate::engine::footprint::{Cost, Footprint};
use crate::trace::card::{Card, CardRow, Figure};

/// The card of a run with both tasks and threads to measure; their figures fill in as each
/// kind has all started.
pub fn card(f: &Footprint) -> Card {
    let row = |label: String, c: Option<Cost>| CardRow {
        label,
        cells: match c {
            Some(c) => vec![
                Figure::Text(format!("{:.0} ms", c.start_ms)),
                Figure::Text(format!("{:.1} MiB", c.rss_kib as f64 / 1024.0)),
                Figure::Text(format!("{:.1} KiB", c.kib_each)),
            ],
            None => vec![Figure::Missing; 3],
        },
    };
    let headline = match (f.tasks, f.threads) {
        (Some(tasks), Some(threads)) if tasks.kib_each > 0.0 && threads.kib_each > 0.0 => Some(
            t!(
                "scale.headline",
                times = format!("{:.0}", threads.kib_each / tasks.kib_each)
            )
            .into_owned(),
        ),
        _ => None,
    };
    Card {
        title: t!("scale.card").into_owned(),
        columns: vec![
            t!("scale.start").into_owned(),
            t!("scale.memory").into_owned(),
            t!("scale.each").into_owned(),
        ],
        rows: vec![
            row(
                t!("scale.tasks", n = f.tasks.map_or(0, |c| c.count)).into_owned(),
                f.tasks,
            ),
            row(
                t!("scale.threads", n = f.threads.map_or(0, |c| c.count)).into_owned(),
                f.threads,
            ),
        ],
        headline,
        note: t!("scale.note").into_owned(),
    }
}
