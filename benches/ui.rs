//! Frame render: the run view with 16 threads and 10 minutes of recorded history, at 200×50;
//! with 512 threads of one `count=` group, folded and unfolded; and with 512 tasks of one
//! event loop, folded, while four others block it (their lanes starve), from a real run.
//!
//! `cargo bench --bench ui`. The history is synthetic, at a real rate: 16 threads contending
//! for one lock, each changing state every 5 ms or so for 10 minutes (about 1.9 million
//! events), as a busy lock-heavy lesson would; 512 threads each changing state every 50 ms or
//! so (about 6 million events).

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
    busy_app_of(contention_scenario(THREADS), EVERY_NS)
}

/// 512 threads made by one `count=` node, with the steps [`contention_scenario`]'s threads
/// have, so the same synthetic stream fits them.
fn group_of_512() -> std::sync::Arc<threadlab::scenario::model::Scenario> {
    let source = "title \"512\"\nmutex M\n\
        thread T count=512 { lock M; work \"1ms\"; unlock M; sleep \"1ms\" }\n";
    std::sync::Arc::new(threadlab::scenario::parse_source("512", "512.kdl", source).unwrap())
}

fn busy_app_of(
    scenario: std::sync::Arc<threadlab::scenario::model::Scenario>,
    every_ns: u64,
) -> App {
    let threads = scenario.threads.len();
    let mut app = App::new(Menu::default(), Theme::new(ThemeKind::Dark, false));
    app.open(scenario, 1.0);
    let end = MINUTES * 60 * 1_000_000_000;
    // With 16 threads, gaps of 1 ns to 625 µs, 312 µs on average: each thread changes state
    // every 5 ms.
    let mut stream = Contention::new(threads, 3).with_max_gap(2 * every_ns / threads as u64);
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

/// 512 ticker tasks and four that each block the loop in turn, run for real at 4x to the end.
fn loop_app() -> App {
    let source = "title \"loop\"\nthreads \"python\"\nevent-loop main\n\
        task tick count=512 { repeat 20 { work \"1ms\"; sleep \"20ms\" } }\n\
        task report count=4 { sleep \"50ms\"; sleep \"40ms\" blocking=#true; work \"1ms\" }\n";
    let scenario =
        std::sync::Arc::new(threadlab::scenario::parse_source("loop", "loop.kdl", source).unwrap());
    let run = threadlab::engine::Run::start(
        scenario.clone(),
        threadlab::engine::RunOptions {
            speed: 4.0,
            start_paused: false,
        },
    );
    let mut events = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !matches!(run.phase(), Phase::Finished | Phase::Deadlock) {
        run.wait_events(&mut events, std::time::Duration::from_millis(20));
        assert!(std::time::Instant::now() < deadline, "the run ends");
    }
    let mut run = run;
    run.end();
    run.drain_events(&mut events);
    events.sort_by_key(|e| e.t_ns);
    let mut app = App::new(Menu::default(), Theme::new(ThemeKind::Dark, false));
    app.open(scenario, 1.0);
    let end = events.last().map_or(0, |e| e.t_ns);
    app.observe(live(end), &events, Vec::new());
    app
}

#[divan::bench(sample_count = 100)]
fn run_view_512_tasks_folded_4_blocking_200x50(bencher: divan::Bencher) {
    let app = loop_app();
    assert!(app.run.as_ref().unwrap().folds.folded[0]);
    frames(bencher, &app);
}

/// The run view of `app` drawn at 200×50, frame after frame.
fn frames(bencher: divan::Bencher, app: &App) {
    let area = Rect::new(0, 0, 200, 50);
    let mut buf = Buffer::empty(area);
    bencher.bench_local(|| {
        buf.reset();
        view::render(app, area, &mut buf);
    });
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
    frames(bencher, &app);
}

#[divan::bench(sample_count = 100)]
fn run_view_512_threads_folded_10_minutes_200x50(bencher: divan::Bencher) {
    let app = busy_app_of(group_of_512(), 10 * EVERY_NS);
    assert!(app.run.as_ref().unwrap().folds.folded[0]);
    frames(bencher, &app);
}

#[divan::bench(sample_count = 100)]
fn run_view_512_threads_unfolded_10_minutes_200x50(bencher: divan::Bencher) {
    let mut app = busy_app_of(group_of_512(), 10 * EVERY_NS);
    app.update(threadlab::ui::keys::Action::Fold);
    assert!(!app.run.as_ref().unwrap().folds.folded[0]);
    frames(bencher, &app);
}
