//! Frame render: the run view with 16 threads and 10 minutes of recorded history, at 200×50.
//!
//! `cargo bench --bench ui`. The history is synthetic, at a real rate: 16 threads contending
//! for one lock, each changing state every 5 ms or so for 10 minutes (about 1.9 million
//! events), as a busy lock-heavy lesson would.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use threadlab::engine::Phase;
use threadlab::trace::testing::{Contention, contention_scenario};
use threadlab::ui::app::{App, Live, Menu};
use threadlab::ui::theme::{Theme, ThemeKind};
use threadlab::ui::view;

const THREADS: usize = 16;
const MINUTES: u64 = 10;
const EVERY_NS: u64 = 5_000_000;

fn main() {
    divan::main();
}

fn busy_app() -> App {
    let mut app = App::new(Menu::default(), Theme::new(ThemeKind::Dark, false));
    app.open(contention_scenario(THREADS), 1.0);
    let end = MINUTES * 60 * 1_000_000_000;
    // Gaps of 1 ns to 625 µs, 312 µs on average: each thread changes state every 5 ms.
    let mut stream = Contention::new(THREADS, 3).with_max_gap(2 * EVERY_NS / THREADS as u64);
    stream.track_waiters(false);
    let mut batch = Vec::new();
    loop {
        let e = stream.next().expect("endless").event;
        let t = e.t_ns;
        batch.push(e);
        if batch.len() >= 4096 || t >= end {
            app.observe(live(t), &batch, Vec::new());
            batch.clear();
        }
        if t >= end {
            break;
        }
    }
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
