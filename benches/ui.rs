//! Frame render: the run view with 16 threads and 10 minutes of recorded history, at 200×50.
//!
//! `cargo bench --bench ui`. The history is synthetic, at a real rate: every thread changes
//! state every 5 ms for 10 minutes (about 1.9 million events), as a busy lock-heavy lesson would.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use threadlab::engine::Phase;
use threadlab::ui::app::{App, Live, Menu};
use threadlab::ui::theme::{Theme, ThemeKind};
use threadlab::ui::view;
use threadlab::vocab::event::{Event, EventKind};

const THREADS: u16 = 16;
const MINUTES: u64 = 10;
const EVERY_NS: u64 = 5_000_000;

fn main() {
    divan::main();
}

fn busy_app() -> App {
    let source = "title \"busy\"\nmutex A\nthread w count=16 { repeat 1000 { lock A; work \"2ms\"; unlock A; sleep \"3ms\" } }\n";
    let scenario = Arc::new(threadlab::scenario::parse_source("busy", "busy", source).unwrap());
    let mut app = App::new(Menu::default(), Theme::new(ThemeKind::Dark, false));
    app.open(scenario, 1.0);
    let end = MINUTES * 60 * 1_000_000_000;
    let mut batch = Vec::new();
    let mut t = 0;
    let mut round = 0u32;
    while t < end {
        for thread in 0..THREADS {
            // Each thread walks lock → work → unlock → sleep, offset from the others.
            let phase = (round + thread as u32) % 4;
            let (kind, resource) = match phase {
                0 => (EventKind::Acquire, Some(0)),
                1 => (EventKind::Run, None),
                2 => (EventKind::Release, Some(0)),
                _ => (EventKind::Sleep, None),
            };
            batch.push(Event {
                t_ns: t + thread as u64 * 1000,
                thread,
                kind,
                resource,
                by: None,
                step: (round % 4000).min(3999),
                item: None,
            });
        }
        if batch.len() >= 4096 {
            app.observe(live(t), &batch, Vec::new());
            batch.clear();
        }
        t += EVERY_NS;
        round += 1;
    }
    app.observe(live(end), &batch, Vec::new());
    app
}

fn live(now_ns: u64) -> Live {
    Live {
        phase: Phase::Running,
        now_ns,
        speed: 1.0,
        deadlock: None,
        dropped: 0,
        breakpoints: Vec::new(),
        quizzing: false,
    }
}

#[divan::bench(sample_count = 200)]
fn run_view_16_threads_10_minutes_200x50(bencher: divan::Bencher) {
    let app = busy_app();
    let area = Rect::new(0, 0, 200, 50);
    let mut buf = Buffer::empty(area);
    bencher.bench_local(|| {
        buf.reset();
        view::render(&app, area, &mut buf);
    });
}
