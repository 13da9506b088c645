//! Rendering and state tests for the TUI, drawn into a `TestBackend`.
//!
//! Real runs have real, varying times, so the run-view snapshots are drawn from recordings
//! (the format `run --record` writes and `replay` reads) made once from real runs of each
//! built-in, stepped to a fixed point, and kept in tests/fixtures/runs/.
//! `cargo test --test ui -- --ignored record_run_fixtures` records them again after the engine
//! or a built-in changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;
use threadlab::engine::{Phase, Run, RunOptions};
use threadlab::scenario::model::{Scenario, ThreadIdx};
use threadlab::ui::app::{App, Effect, Live, Menu, MenuEntry, Screen};
use threadlab::ui::keys::{Action, Context};
use threadlab::ui::theme::{Theme, ThemeKind};
use threadlab::ui::view;
use threadlab::vocab::Outcome;
use threadlab::vocab::event::{Event, EventKind, NO_STEP};
use threadlab::vocab::recording::Recording;

const CORE: [&str; 7] = [
    "deadlock",
    "fixed-order",
    "semaphore",
    "barrier",
    "producer-consumer",
    "gil",
    "event-loop-blocking",
];

fn builtin(name: &str) -> Arc<Scenario> {
    Arc::new(threadlab::scenario::load(name).expect("a built-in scenario"))
}

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runs")
        .join(format!("{name}.json"))
}

/// An app showing `name`'s recorded run where the recording stopped: deadlocked, finished,
/// or paused part-way (a recording with no outcome).
fn recorded_app(name: &str, theme: Theme) -> App {
    let path = fixture_path(name);
    let rec = Recording::load(&path)
        .unwrap_or_else(|e| panic!("{e}\n  (record with --ignored record_run_fixtures)"));
    let mut app = App::new(menu(), theme);
    app.cores = 2;
    app.show_recording(&rec);
    app
}

fn menu() -> Menu {
    let mut entries: Vec<MenuEntry> = CORE
        .iter()
        .map(|n| MenuEntry {
            name: n.to_string(),
            group: threadlab::scenario::builtin::find(n)
                .unwrap()
                .topic
                .key()
                .into(),
            origin: "built-in".into(),
            scenario: Ok(builtin(n)).into(),
        })
        .collect();
    // The diagnostic's wording belongs to the language; here only its place on screen matters.
    entries.push(MenuEntry {
        name: "broken".into(),
        group: threadlab::ui::FILES_GROUP.into(),
        origin: "scenarios/broken.kdl".into(),
        scenario: Err(
            "scenario::unknown-step\n\n  x unknown step `lok`\n   ,-[scenarios/broken.kdl:6:5]\n 6 |     lok A\n   :     ^^^\n   `----\n  help: did you mean `lock`?"
                .into(),
        )
        .into(),
    });
    Menu {
        entries,
        selected: 0,
    }
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::render(app, f.area(), f.buffer_mut()))
        .unwrap();
    t
}

fn screen_text(app: &App, w: u16, h: u16) -> String {
    draw(app, w, h).backend().to_string()
}

// ---- recording ---------------------------------------------------------------------------

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn record(name: &str) -> Recording {
    // `LESSON-done`: the lesson let run to its end (the compare view's snapshots).
    let to_the_end = name.ends_with("-done");
    let scenario = builtin(name.trim_end_matches("-done"));
    // The GIL's hand-offs are the picture, and the loop frozen by a blocking call: let those
    // run a while, then pause.
    let free_run = match name {
        "gil" => Some(120_000_000),
        "event-loop-blocking" => Some(700_000_000),
        _ => None,
    };
    let run = Run::start(
        scenario.clone(),
        RunOptions {
            speed: 1.0,
            start_paused: free_run.is_none(),
        },
    );
    let mut events = Vec::new();
    if to_the_end {
        run.resume();
        wait_until("the end", Duration::from_secs(20), || {
            run.phase() == Phase::Finished
        });
    } else if let Some(ns) = free_run {
        wait_until("run time", Duration::from_secs(10), || run.now_ns() > ns);
        run.pause();
    } else if name == "deadlock" {
        for t in [0, 1, 0, 1, 0, 1] {
            run.step(t).unwrap();
            assert!(run.wait_step_done(Duration::from_secs(10)));
        }
        wait_until("the deadlock", Duration::from_secs(10), || {
            run.phase() == Phase::Deadlock
        });
    } else {
        for _ in 0..scenario.threads.len() * 2 + 2 {
            if run.step_next_ready().is_err() {
                break;
            }
            assert!(run.wait_step_done(Duration::from_secs(10)));
        }
    }
    wait_until("the last holds", Duration::from_secs(10), || {
        run.all_stopped() && run.settled()
    });
    run.drain_events(&mut events);
    events.sort_by_key(|e| e.t_ns);
    let outcome = match run.phase() {
        Phase::Deadlock => Some(Outcome::Deadlock),
        Phase::Finished => Some(Outcome::Completed),
        _ => None,
    };
    let rec = Recording {
        failures: (0..scenario.threads.len())
            .map(|t| run.failure(t as ThreadIdx))
            .collect(),
        scenario,
        events,
        end_ns: run.now_ns(),
        outcome,
        deadlock: run.deadlock(),
        dropped_events: run.dropped_events(),
        speed: 1.0,
    };
    run.stop();
    rec
}

#[test]
#[ignore = "records tests/fixtures/runs from real runs; run by hand"]
fn record_run_fixtures() {
    for name in CORE.iter().chain(&["fixed-order-done"]) {
        record(name).save(&fixture_path(name), &[]).unwrap();
    }
}

/// The lessons whose screens say what a lane alone cannot (an rlock's count, readers and
/// writers, a loop's blocking call, lost updates, the event loop's card, a try-lock's
/// back-off), each recorded up to the moment that shows it.
const SAYS: [&str; 5] = [
    "reentrant-rlock",
    "rwlock",
    "race",
    "event-loop",
    "livelock",
];

/// Whether `name`'s recording has reached its moment.
fn shows_its_point(name: &str, events: &[Event]) -> bool {
    let any = |f: &dyn Fn(&Event) -> bool| events.iter().any(f);
    match name {
        // The teller holds the account twice.
        "reentrant-rlock" => any(&|e| e.kind == EventKind::Acquire && e.item == Some(2)),
        // The readers are inside and the writer has queued behind them.
        "rwlock" => any(&|e| e.kind == EventKind::Block && e.thread == 3),
        // A try-lock has given up and backed off.
        "livelock" => any(&|e| e.kind == EventKind::Sleep && e.item.is_some()),
        // The race and the event loop are shown finished.
        _ => false,
    }
}

/// A real run of `name`, paused at its moment or run to its end.
fn record_until_it_shows(name: &str) -> Recording {
    let scenario = builtin(name);
    let run = Run::start(
        scenario.clone(),
        RunOptions {
            speed: 1.0,
            start_paused: false,
        },
    );
    let mut events = Vec::new();
    wait_until("the lesson's moment", Duration::from_secs(30), || {
        run.drain_events(&mut events);
        shows_its_point(name, &events) || matches!(run.phase(), Phase::Finished | Phase::Deadlock)
    });
    run.pause();
    wait_until("the last holds", Duration::from_secs(10), || {
        run.all_stopped() && run.settled()
    });
    run.drain_events(&mut events);
    events.sort_by_key(|e| e.t_ns);
    let rec = Recording {
        failures: (0..scenario.threads.len())
            .map(|t| run.failure(t as ThreadIdx))
            .collect(),
        scenario,
        events,
        end_ns: run.now_ns(),
        outcome: match run.phase() {
            Phase::Deadlock => Some(Outcome::Deadlock),
            Phase::Finished => Some(Outcome::Completed),
            _ => None,
        },
        deadlock: run.deadlock(),
        dropped_events: run.dropped_events(),
        speed: 1.0,
    };
    run.stop();
    rec
}

#[test]
#[ignore = "records tests/fixtures/runs for the screens that say what a lane cannot; run by hand"]
fn record_saying_fixtures() {
    for name in SAYS {
        record_until_it_shows(name)
            .save(&fixture_path(name), &[])
            .unwrap();
    }
}

// ---- snapshots ---------------------------------------------------------------------------

#[test]
fn run_view_says_what_a_lane_cannot_show() {
    // A finished run is seen whole, as the run view fits it at its end.
    let app = |name: &str, w: u16, h: u16| {
        let mut app = recorded_app(name, Theme::new(ThemeKind::Dark, false));
        app.resize(Rect::new(0, 0, w, h));
        if app.run.as_ref().unwrap().live.phase == Phase::Finished {
            app.update(Action::Fit);
        }
        app
    };
    for name in SAYS {
        for (w, h) in [(80, 24), (120, 40)] {
            insta::assert_snapshot!(
                format!("says_{name}_{w}x{h}"),
                screen_text(&app(name, w, h), w, h)
            );
        }
    }
    // What each screen must say, whatever the run's timing.
    let text = |name: &str| screen_text(&app(name, 120, 40), 120, 40);
    let rlock = text("reentrant-rlock");
    assert!(rlock.contains("held by teller ×2"), "{rlock}");
    assert!(rlock.contains("holds account ×2"), "{rlock}");
    let rw = text("rwlock");
    assert!(rw.contains("3 reading"), "{rw}");
    assert!(!rw.contains("/64"), "{rw}");
    assert!(rw.contains("r reading"), "{rw}");
    let blocking = text("event-loop-blocking");
    assert!(blocking.contains("X blocking call"), "{blocking}");
    assert!(blocking.contains("Z starved"), "{blocking}");
    let race = text("race");
    assert!(race.contains("✗ lost update"), "{race}");
    let marks = race
        .lines()
        .filter(|l| l.contains("adder") && l.contains('✗'))
        .count();
    assert!(
        marks > 0,
        "the free adders' lost updates are marked on their lanes:\n{race}"
    );
    let lp = text("event-loop");
    assert!(lp.contains("gathered: done"), "{lp}");
    let livelock = text("livelock");
    assert!(livelock.contains("gave up on B after"), "{livelock}");
    assert!(livelock.contains("put A down, backs off"), "{livelock}");
}

/// A replay's help and footer say what the keys do to a recording, and leave out the keys
/// that only change a live run.
#[test]
fn replay_help_shows_replay_keys() {
    let rec = Recording::load(&fixture_path("deadlock")).unwrap();
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.replay(&rec);
    assert_eq!(app.context(), Context::Replay);
    app.help = true;
    let help = screen_text(&app, 80, 24);
    insta::assert_snapshot!("help_replay_80x24", help);
    assert!(help.contains("play the recording"), "{help}");
    assert!(
        !help.contains("pause whenever the selected thread blocks"),
        "{help}"
    );
    assert!(!help.contains("quiz"), "{help}");
}

#[test]
fn run_view_of_each_core_scenario() {
    for name in CORE {
        let app = recorded_app(name, Theme::new(ThemeKind::Dark, false));
        insta::assert_snapshot!(format!("run_{name}_80x24"), screen_text(&app, 80, 24));
        insta::assert_snapshot!(format!("run_{name}_120x40"), screen_text(&app, 120, 40));
    }
}

#[test]
fn run_view_in_ascii_with_a_history_cursor() {
    let mut app = recorded_app("deadlock", Theme::new(ThemeKind::Mono, true));
    app.update(Action::HistoryStart);
    for _ in 0..3 {
        app.update(Action::HistoryForward);
    }
    let text = screen_text(&app, 80, 24);
    insta::assert_snapshot!("run_deadlock_ascii_cursor_80x24", text);
    // The Display of a TestBackend quotes each row; the rows themselves must be plain ASCII.
    assert!(text.is_ascii(), "{text}");
    app.help = true;
    let help = screen_text(&app, 80, 24);
    // Nothing is drawn outside ASCII; a word in another script (the language key's "中文")
    // is text, which a terminal that cannot draw boxes may still show.
    assert!(
        help.chars().all(|c| c.is_ascii() || c.is_alphabetic()),
        "{help}"
    );
}

#[test]
fn menu_view() {
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    insta::assert_snapshot!("menu_80x24", screen_text(&app, 80, 24));
    insta::assert_snapshot!("menu_120x40", screen_text(&app, 120, 40));
    app.menu.selected = app.menu.entries.len() - 1;
    insta::assert_snapshot!("menu_broken_80x24", screen_text(&app, 80, 24));
}

#[test]
fn help_overlay() {
    let mut app = recorded_app("semaphore", Theme::new(ThemeKind::Dark, false));
    app.update(Action::Help);
    insta::assert_snapshot!("help_run_80x24", screen_text(&app, 80, 24));
    // Any key closes it, and does nothing else.
    assert!(app.update(Action::Restart).is_empty());
    assert!(!app.help);
}

// ---- every size --------------------------------------------------------------------------

#[test]
fn every_widget_survives_tiny_and_empty_areas() {
    let theme = Theme::new(ThemeKind::Dark, false);
    for name in ["deadlock", "gil", "producer-consumer"] {
        let app = recorded_app(name, theme);
        let run = app.run.as_ref().unwrap();
        let resources = run.trace.resources_at(run.view_ns());
        for area in [
            Rect::ZERO,
            Rect::new(0, 0, 1, 1),
            Rect::new(0, 0, 2, 3),
            Rect::new(0, 0, 7, 2),
        ] {
            let mut buf = Buffer::empty(Rect::new(0, 0, area.width.max(1), area.height.max(1)));
            view::lanes::Lanes {
                run,
                theme,
                resources: &resources,
            }
            .render(area, &mut buf);
            view::resources::Resources {
                run,
                theme,
                states: &resources,
            }
            .render(area, &mut buf);
            view::code::Code { run, theme }.render(area, &mut buf);
            view::log::Log { run, theme }.render(area, &mut buf);
            for card in view::run::run_cards(run, 2) {
                view::card::CardView {
                    card: &card,
                    theme,
                    warning: Some("only 0.3 of 2 cores were free"),
                }
                .render(area, &mut buf);
            }
            view::help::Help {
                context: Context::Run,
                theme,
            }
            .render(area, &mut buf);
            if let Some(d) = &run.live.deadlock {
                view::banner::DeadlockBanner {
                    deadlock: d,
                    scenario: &run.scenario,
                    theme,
                }
                .render(area, &mut buf);
            }
            view::render(&app, area, &mut buf);
            // A buffer smaller than the area (a widget must clip to what it is given).
            let mut small = Buffer::empty(Rect::new(0, 0, 1, 1));
            view::lanes::Lanes {
                run,
                theme,
                resources: &resources,
            }
            .render(Rect::new(0, 0, 10, 10), &mut small);
        }
    }
}

#[test]
fn every_screen_size_renders() {
    let mut apps = vec![App::new(menu(), Theme::new(ThemeKind::Dark, false))];
    let mut with_help = recorded_app("semaphore", Theme::new(ThemeKind::Light, true));
    with_help.help = true;
    apps.push(with_help);
    for name in CORE {
        apps.push(recorded_app(name, Theme::new(ThemeKind::Dark, false)));
    }
    for app in &apps {
        for w in (0..=130).step_by(7) {
            for h in (0..=45).step_by(4) {
                let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
                view::render(app, Rect::new(0, 0, w, h), &mut buf);
            }
        }
    }
}

#[test]
fn too_small_says_how_large_it_must_be() {
    let app = recorded_app("deadlock", Theme::new(ThemeKind::Dark, false));
    let text = screen_text(&app, 40, 10);
    assert!(text.contains("Terminal too small"), "{text}");
    assert!(text.contains("needs 60×16"), "{text}");
    let menu = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    assert!(screen_text(&menu, 30, 6).contains("needs 40×10"));
    assert!(!screen_text(&menu, 40, 10).contains("too small"));
}

// ---- state changes -----------------------------------------------------------------------

#[test]
fn the_deadlock_is_spelled_out_and_its_threads_marked() {
    let app = recorded_app("deadlock", Theme::new(ThemeKind::Dark, false));
    let text = screen_text(&app, 120, 40);
    assert!(text.contains("DEADLOCK"));
    assert!(text.contains("T1 waits for B held by T2"), "{text}");
    assert!(text.contains("BLOCKED on B") && text.contains("BLOCKED on A"));
}

#[test]
fn the_twin_key_shows_the_python_twin_with_each_thread_on_its_python_line() {
    let mut app = recorded_app("deadlock", Theme::new(ThemeKind::Dark, true));
    app.update(Action::Twin);
    let text = screen_text(&app, 120, 40);
    assert!(text.contains("Python twin: deadlock.py"), "{text}");
    // Deadlocked: T1 waits in `lock B`, T2 in `lock A`; in Python, each on its acquire.
    let marked = |call: &str, thread: &str| {
        text.lines()
            .any(|l| l.contains(call) && l.contains(thread) && l.contains('>'))
    };
    assert!(marked("B.acquire()", "T1"), "{text}");
    assert!(marked("A.acquire()", "T2"), "{text}");
    app.update(Action::Twin);
    let text = screen_text(&app, 120, 40);
    assert!(
        !text.contains("Python twin") && text.contains("lock B"),
        "{text}"
    );
}

#[test]
fn a_busy_machine_is_named_beside_the_lesson() {
    let mut app = recorded_app("semaphore", Theme::new(ThemeKind::Dark, false));
    let quiet = screen_text(&app, 120, 40);
    assert!(!quiet.contains("cores were free"), "{quiet}");
    let run = app.run.as_mut().unwrap();
    let needs = threadlab::trace::machine::needs(&run.scenario);
    run.machine = Some(threadlab::trace::machine::Machine {
        cores: 2,
        load_at_start: Some(3.5),
        free_at_start: Some(0.0),
        free_during: Some(0.3),
        needs,
        warning: threadlab::trace::machine::assess(2, needs, Some(0.0), Some(0.3)),
    });
    let busy = screen_text(&app, 120, 40);
    assert!(busy.contains("only 0.0 of 2 cores were free"), "{busy}");
}

#[test]
fn keys_drive_the_app() {
    let mut app = recorded_app("semaphore", Theme::new(ThemeKind::Dark, false));
    assert_eq!(app.update(Action::StepSelected), vec![Effect::Step(0)]);
    app.update(Action::Down);
    assert_eq!(app.run.as_ref().unwrap().selected, 1);
    app.update(Action::Select(4));
    assert_eq!(app.update(Action::StepSelected), vec![Effect::Step(4)]);
    assert_eq!(app.update(Action::StepNext), vec![Effect::StepNext]);
    assert_eq!(app.update(Action::PauseResume), vec![Effect::Resume]);
    assert_eq!(app.update(Action::Faster), vec![Effect::SetSpeed(1.5)]);
    app.update(Action::Slower);
    assert_eq!(app.update(Action::Slower), vec![Effect::SetSpeed(0.75)]);
    // The history cursor moves a cell at a time and never past either end.
    let per = app.run.as_ref().unwrap().ns_per_cell();
    app.update(Action::HistoryStart);
    assert_eq!(app.run.as_ref().unwrap().cursor, Some(0));
    app.update(Action::HistoryBack);
    assert_eq!(app.run.as_ref().unwrap().cursor, Some(0));
    app.update(Action::HistoryForward);
    assert_eq!(app.run.as_ref().unwrap().cursor, Some(per));
    app.update(Action::HistoryEnd);
    assert_eq!(app.run.as_ref().unwrap().cursor, None);
    let zoom = app.run.as_ref().unwrap().zoom;
    app.update(Action::ZoomOut);
    assert_eq!(app.run.as_ref().unwrap().zoom, zoom + 1);
    // Restart keeps the scenario, forgets the run.
    assert_eq!(app.update(Action::Restart), vec![Effect::Restart]);
    let run = app.run.as_ref().unwrap();
    assert_eq!(run.trace.end_ns(), 0);
    assert_eq!(run.scenario.name, "semaphore");
    assert_eq!(app.update(Action::Back), vec![Effect::Stop]);
    assert_eq!(app.screen, Screen::Menu);
    assert_eq!(app.update(Action::Quit), vec![Effect::Stop]);
    assert!(app.quit);
}

#[test]
fn the_menu_opens_scenarios_and_not_broken_files() {
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.update(Action::Up);
    assert_eq!(app.menu.selected, app.menu.entries.len() - 1);
    assert!(
        app.update(Action::Open).is_empty(),
        "a broken file does not open"
    );
    assert_eq!(app.screen, Screen::Menu);
    app.update(Action::Down);
    let effects = app.update(Action::Open);
    assert!(matches!(&effects[..], [Effect::Start(s)] if s.name == "deadlock"));
    assert_eq!(app.screen, Screen::Run);
}

/// Built-ins are parsed only when looked at, yet a run opened from the command line still
/// selects its own row, and each row's scenario is the lesson of that name.
#[test]
fn the_menu_finds_a_built_in_it_has_not_parsed() {
    let entries = threadlab::ui::menu_entries_from(Path::new("no-such-folder"), &[]);
    assert!(entries.iter().all(|e| !e.scenario.is_broken()));
    let mut app = App::new(
        Menu {
            entries,
            selected: 0,
        },
        Theme::new(ThemeKind::Dark, false),
    );
    app.open(builtin("philosophers"), 1.0);
    let selected = &app.menu.entries[app.menu.selected];
    assert_eq!(selected.name, "philosophers");
    let s = selected.scenario.as_ref().expect("a built-in parses");
    assert_eq!(s.name, "philosophers");
    let b = threadlab::scenario::builtin::find("philosophers").unwrap();
    assert_eq!(s.title, b.title);
}

#[test]
fn a_broken_file_is_listed_with_its_diagnostic() {
    let dir = std::env::temp_dir().join(format!("threadlab-ui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("broken.kdl");
    std::fs::write(&bad, "title \"x\"\nthread T1 {\n    lok A\n}\n").unwrap();
    let missing = dir.join("missing.kdl");
    let entries = threadlab::ui::menu_entries(&[bad.clone(), missing]);
    std::fs::remove_dir_all(&dir).unwrap();
    for name in CORE {
        assert!(
            entries.iter().any(|e| e.name == name && e.scenario.is_ok()),
            "{name}"
        );
    }
    let broken = entries.iter().find(|e| e.name == "broken").unwrap();
    let diagnostic = broken.scenario.as_ref().unwrap_err();
    assert!(diagnostic.contains("broken.kdl"), "{diagnostic}");
    let missing = entries.iter().find(|e| e.name == "missing").unwrap();
    assert!(missing.scenario.is_err());
}

/// The app fits a run's zoom to the lane width `ui::layout` gives, without asking the views:
/// it must be the width the lanes view draws, at every size, long names or short.
#[test]
fn the_app_fits_to_the_lane_cells_the_view_draws() {
    for name in ["semaphore", "deadlock", "gil"] {
        let app = recorded_app(name, Theme::new(ThemeKind::Dark, false));
        let run = app.run.as_ref().unwrap();
        for (w, h) in [(59, 30), (60, 15), (60, 16), (80, 24), (120, 40), (250, 60)] {
            let size = Rect::new(0, 0, w, h);
            let drawn = if w < 60 || h < 16 {
                0
            } else {
                view::lanes::geometry(run, view::run::areas_of(&app, size).unwrap().lanes).cells_w
            };
            assert_eq!(
                threadlab::ui::layout::lane_cells(&run.scenario, size),
                drawn,
                "{name} at {w}×{h}"
            );
        }
    }
}

/// A left click at column `x`, row `y`, as the live loop hands it to the app.
fn click(app: &mut App, x: u16, y: u16) -> Vec<Effect> {
    let hit = view::hit(app, ratatui::layout::Position::new(x, y));
    app.click(hit)
}

#[test]
fn clicks_choose_menu_rows_and_lanes() {
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.size = Rect::new(0, 0, 100, 30);
    // Rows start inside the list's border under topic headings: row 2 is "Locks", rows 3 and
    // 4 its lessons, row 5 "Coordination", row 6 the third entry.
    assert!(click(&mut app, 5, 2).is_empty());
    assert_eq!(app.menu.selected, 0, "a heading chooses nothing");
    assert!(click(&mut app, 5, 6).is_empty());
    assert_eq!(app.menu.selected, 2);
    // Clicking the chosen row again opens it.
    let effects = click(&mut app, 5, 6);
    assert!(matches!(&effects[..], [Effect::Start(s)] if s.name == CORE[2]));
    assert_eq!(app.screen, Screen::Run);

    let mut app = recorded_app("semaphore", Theme::new(ThemeKind::Dark, false));
    app.size = Rect::new(0, 0, 120, 40);
    // Header, then the lanes panel's border, then one lane per thread.
    click(&mut app, 4, 2 + 3);
    assert_eq!(app.run.as_ref().unwrap().selected, 3);
    click(&mut app, 4, 0);
    assert_eq!(
        app.run.as_ref().unwrap().selected,
        3,
        "the header selects nothing"
    );
}

#[test]
fn the_gil_card_compares_the_two_phases() {
    use threadlab::trace::card::group_span;
    use threadlab::trace::gil::phases;
    use threadlab::vocab::event::State;
    let s = builtin("gil");
    let (under, free) = phases(&s).expect("gil is a comparison");
    assert_eq!((under.len(), free.len()), (2, 2));
    // A synthetic run: under the GIL the two take turns for 2 s; free, both run for 1 s.
    use EventKind::*;
    let e = |ms: u64, t: u16, kind, res| Event {
        t_ns: ms * 1_000_000,
        thread: t,
        kind,
        resource: res,
        by: None,
        step: if kind == Start || kind == Done {
            NO_STEP
        } else {
            0
        },
        item: None,
    };
    let events = vec![
        e(0, 0, Start, None),
        e(0, 0, Acquire, Some(0)),
        e(0, 0, Run, None),
        e(0, 1, Start, None),
        e(0, 1, Block, Some(0)),
        e(1000, 0, Release, Some(0)),
        e(1000, 0, Done, None),
        e(1000, 1, Acquire, Some(0)),
        e(1000, 1, Run, None),
        e(2000, 1, Release, Some(0)),
        e(2000, 1, Done, None),
        e(2000, 2, Start, None),
        e(2000, 2, Run, None),
        e(2000, 3, Start, None),
        e(2000, 3, Run, None),
        e(3000, 2, Done, None),
        e(3000, 3, Done, None),
    ];
    let mut trace = threadlab::trace::timeline::Trace::new(s.clone());
    trace.push(&events);
    let running = |s: State| s == State::Running;
    let g = group_span(&trace, &under, 3_000_000_000, running);
    let f = group_span(&trace, &free, 3_000_000_000, running);
    assert!(g.finished && f.finished, "{g:?} {f:?}");
    assert_eq!(g.wall_ns, 2_000_000_000);
    assert_eq!(f.wall_ns, 1_000_000_000);
    assert!((g.at_once() - 1.0).abs() < 0.01, "{g:?}");
    assert!((f.at_once() - 2.0).abs() < 0.01, "{f:?}");

    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.cores = 2;
    app.open(s, 1.0);
    let live = Live {
        phase: Phase::Finished,
        now_ns: 3_000_000_000,
        speed: 1.0,
        deadlock: None,
        dropped: 0,
        breakpoints: Vec::new(),
        quizzing: false,
    };
    app.observe(live, &events, vec![]);
    let text = screen_text(&app, 120, 40);
    assert!(text.contains("speedup 2.00×"), "{text}");
    assert!(text.contains("ideal 2×"), "{text}");
}

/// Names in Chinese, Japanese and Korean take two cells a glyph: lane labels, the resource panel
/// and the code markers keep every name whole and every column after it aligned.
#[test]
fn wide_names_keep_their_numbers_and_their_columns() {
    let source = r#"
title "工人与锁"
mutex 锁
thread 工人 count=3 {
    lock 锁
    work "1ms"
    unlock 锁
}
thread スレッド {
    sleep "1ms"
}
thread 스레드 {
    sleep "1ms"
}
"#;
    let scenario = Arc::new(threadlab::scenario::parse_source("wide", "wide.kdl", source).unwrap());
    let run = Run::start(scenario.clone(), RunOptions::default());
    let mut events = Vec::new();
    wait_until("the run to finish", Duration::from_secs(20), || {
        run.drain_events(&mut events);
        run.phase() == Phase::Finished
    });
    wait_until("every event", Duration::from_secs(10), || run.settled());
    run.drain_events(&mut events);
    events.sort_by_key(|e| e.t_ns);
    let rec = Recording {
        failures: vec![None; scenario.threads.len()],
        scenario: scenario.clone(),
        events,
        end_ns: run.now_ns(),
        outcome: Some(Outcome::Completed),
        deadlock: None,
        dropped_events: run.dropped_events(),
        speed: 1.0,
    };
    run.stop();
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.show_recording(&rec);
    for (w, h) in [(120, 40), (80, 24)] {
        let terminal = draw(&app, w, h);
        let buf = terminal.backend().buffer();
        // A wide glyph's second cell is covered by the glyph: read rows as a terminal shows them.
        let rows: Vec<String> = (0..h)
            .map(|y| {
                let mut row = String::new();
                let mut x = 0;
                while x < w {
                    let symbol = buf[(x, y)].symbol();
                    row.push_str(symbol);
                    x += unicode_width::UnicodeWidthStr::width(symbol).max(1) as u16;
                }
                row
            })
            .collect();
        let screen = rows.join("\n");
        for name in ["工人-1", "工人-2", "工人-3", "スレッド", "스레드"] {
            assert!(screen.contains(name), "{name} is cut at {w}x{h}:\n{screen}");
        }
        // Each lane's state words start in the same cell column, whatever the name's script.
        let lane_rows: Vec<(u16, &str)> = ["工人-1", "工人-3", "スレッド", "스레드"]
            .iter()
            .map(|name| {
                let y = rows.iter().position(|r| r.contains(name)).unwrap() as u16;
                (y, *name)
            })
            .collect();
        let done_column = |y: u16| {
            (0..w).find(|&x| {
                let cell = buf[(x, y)].symbol();
                cell == "D" && buf[(x + 1, y)].symbol() == "O" && buf[(x + 2, y)].symbol() == "N"
            })
        };
        let columns: Vec<Option<u16>> = lane_rows.iter().map(|&(y, _)| done_column(y)).collect();
        assert!(
            columns.windows(2).all(|p| p[0] == p[1]) && columns[0].is_some(),
            "lane labels misaligned at {w}x{h}: {columns:?}\n{screen}"
        );
    }
}

// ---- driving a lesson: start paused, the whole run, nothing drawn that did not happen ------

/// The lanes as drawn at `w`×`h`: each lane row's time cells, the axis row's cells, and the
/// column of the cell holding now.
fn lane_rows(app: &App, w: u16, h: u16) -> (Vec<String>, String, usize) {
    let terminal = draw(app, w, h);
    let buf = terminal.backend().buffer();
    let run = app.run.as_ref().unwrap();
    let areas = view::run::areas_of(app, Rect::new(0, 0, w, h)).unwrap();
    let g = view::lanes::geometry(run, areas.lanes);
    let row = |y: u16| -> String {
        (g.cells_x..g.cells_x + g.cells_w)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect()
    };
    let lanes = (0..g.rows).map(|dy| row(g.inner.y + dy)).collect();
    let axis = row(g.inner.y + g.rows);
    let start = run.window_start(g.cells_w);
    let now = ((run.end_ns() - start) / run.ns_per_cell()) as usize;
    (lanes, axis, now)
}

/// The labels written along an axis row, left to right.
fn axis_labels(axis: &str, theme: Theme) -> Vec<String> {
    axis.split(|c| c == theme.glyphs.tick() || c == theme.glyphs.axis())
        .filter(|w| !w.trim().is_empty())
        .map(|w| w.trim().to_string())
        .collect()
}

#[test]
fn lanes_never_draw_past_now_and_axis_labels_never_repeat() {
    let theme = Theme::new(ThemeKind::Dark, false);
    for name in CORE {
        let mut app = recorded_app(name, theme);
        // Every zoom from the finest to well past the run's length.
        for zoom in 0..12 {
            app.run.as_mut().unwrap().zoom = zoom;
            for (w, h) in [(80, 24), (120, 40), (200, 50)] {
                let (lanes, axis, now) = lane_rows(&app, w, h);
                for row in &lanes {
                    let future: String = row.chars().skip(now + 1).collect();
                    assert!(
                        future.trim().is_empty(),
                        "{name} at {w}×{h}, zoom {zoom}: drawn past now (cell {now}):\n{row}"
                    );
                }
                let labels = axis_labels(&axis, theme);
                assert!(
                    !labels.is_empty(),
                    "{name} at {w}×{h}: no axis labels\n{axis}"
                );
                let mut seen = labels.clone();
                seen.sort();
                seen.dedup();
                assert_eq!(
                    seen.len(),
                    labels.len(),
                    "{name} at {w}×{h}, zoom {zoom}: a label repeats: {axis}"
                );
            }
        }
    }
}

/// Long enough at the default zoom (1 ms a cell) to overflow any lane, with its steps far
/// enough down the file that a code pane showing line 1 would miss them.
const FINISHING: &str = r#"title "Two threads that finish"
about "A sleeps long, B sleeps short; both end."
// padding so the steps sit below the first screenful of source
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
// .
thread A {
    work "2ms"
    sleep "250ms"
    work "2ms"
}

thread B {
    work "2ms"
    sleep "20ms"
    work "2ms"
}
"#;

/// Runs `source` on real threads until every thread has ended, and shows it in an app sized
/// `w`×`h` as the live loop would: events while running, then the end.
fn finished_app(source: &str, w: u16, h: u16) -> App {
    let scenario =
        Arc::new(threadlab::scenario::parse_source("finishing", "finishing.kdl", source).unwrap());
    let run = Run::start(scenario.clone(), RunOptions::default());
    wait_until("the run to end", Duration::from_secs(20), || {
        run.is_finished()
    });
    let mut events = Vec::new();
    run.drain_events(&mut events);
    events.sort_by_key(|e| e.t_ns);
    let end = events.iter().map(|e| e.t_ns).max().unwrap_or(0);
    run.stop();
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.resize(Rect::new(0, 0, w, h));
    app.open(scenario, 1.0);
    let live = |phase| Live {
        phase,
        now_ns: end,
        ..Live::new(1.0)
    };
    app.observe(live(Phase::Running), &events, Vec::new());
    app.observe(live(Phase::Finished), &[], Vec::new());
    app
}

#[test]
fn a_finished_run_is_shown_whole_and_its_source_stays_where_the_threads_ended() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = finished_app(FINISHING, w, h);
        let theme = app.theme;
        let run = app.run.as_ref().unwrap();
        assert!(run.fitted, "{w}×{h}: not fitted at DONE");
        let (lanes, axis, now) = lane_rows(&app, w, h);
        // The first event's time is on the axis: the window starts at 0s and A's lane is drawn
        // from its first cell, and the end is in view too.
        assert_eq!(
            axis_labels(&axis, theme).first().map(String::as_str),
            Some("0s")
        );
        let began = run.trace.spans(0, 0, u64::MAX)[0].start_ns;
        let first_drawn = lanes[0].chars().position(|c| c != ' ').unwrap();
        assert!(
            first_drawn as u64 <= began / run.ns_per_cell() + 1,
            "{w}×{h}: A began at {began}ns but its lane at cell {first_drawn}: {}",
            lanes[0]
        );
        assert!(
            now < lanes[0].chars().count(),
            "{w}×{h}: the end is off the right edge"
        );

        // The source pane shows where the threads ended (their last steps), not line 1.
        let terminal = draw(&app, w, h);
        let buf = terminal.backend().buffer();
        let code = view::run::areas_of(&app, Rect::new(0, 0, w, h))
            .unwrap()
            .code;
        let shown: Vec<u32> = (code.y + 1..code.bottom().saturating_sub(1))
            .filter_map(|y| {
                let row: String = (code.x + 1..code.right().saturating_sub(1))
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect();
                row.split_whitespace().next()?.parse().ok()
            })
            .collect();
        for t in &run.scenario.threads {
            let last = t.steps.last().unwrap().line;
            assert!(
                shown.contains(&last),
                "{w}×{h}: {}'s last line {last} is not in the code pane: {shown:?}",
                t.name
            );
        }
        assert!(!shown.contains(&1), "{w}×{h}: the pane jumped to line 1");

        // The zoom keys still work after the fit, and the fit is taken back by them.
        let zoom = app.run.as_ref().unwrap().zoom;
        app.update(Action::ZoomIn);
        let run = app.run.as_ref().unwrap();
        assert_eq!(run.zoom, zoom - 1);
        assert!(!run.fitted);
        // And the key fits again, any time.
        app.update(Action::Fit);
        assert_eq!(app.run.as_ref().unwrap().zoom, zoom);
    }
}

#[test]
fn open_paused_and_restart_while_paused_start_paused() {
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    let effects = app.update(Action::OpenPaused);
    assert!(matches!(&effects[..], [Effect::Start(s)] if s.name == CORE[0]));
    assert!(app.run.as_ref().unwrap().paused_start);
    // Opened plainly: runs at once, and a restart while running runs at once.
    app.update(Action::Back);
    app.update(Action::Open);
    assert!(!app.run.as_ref().unwrap().paused_start);
    app.update(Action::Restart);
    assert!(!app.run.as_ref().unwrap().paused_start);
    // A restart while paused stays paused, at 0s.
    let mut app = recorded_app("semaphore", Theme::new(ThemeKind::Dark, false));
    assert_eq!(app.run.as_ref().unwrap().live.phase, Phase::Paused);
    assert_eq!(app.update(Action::Restart), vec![Effect::Restart]);
    let run = app.run.as_ref().unwrap();
    assert!(run.paused_start);
    assert_eq!(run.end_ns(), 0);
}

#[test]
fn replay_keys_go_through_the_app_like_live_keys() {
    let path = fixture_path("deadlock");
    let rec = Recording::load(&path).expect("the fixture loads");
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.replay(&rec);
    assert!(app.replaying());
    let cursor = |app: &App| app.run.as_ref().and_then(|r| r.cursor);
    assert_eq!(cursor(&app), Some(0));

    // The step key walks the recording one event at a time: no engine is asked to move.
    let mut at = 0;
    for _ in 0..3 {
        assert!(app.update(Action::StepNext).is_empty());
        let now = cursor(&app).expect("a replay looks back");
        assert!(now > at, "the step key did not move the cursor on");
        at = now;
    }
    // Space plays; the clock moves the cursor on while playing.
    assert!(app.update(Action::PauseResume).is_empty());
    let playing = |app: &App| {
        app.run
            .as_ref()
            .and_then(|r| r.replay.as_ref())
            .is_some_and(|r| r.playing)
    };
    assert!(playing(&app));
    let deadline = Instant::now() + Duration::from_secs(10);
    while cursor(&app).is_some_and(|c| c == at) {
        assert!(Instant::now() < deadline, "playing never moved the cursor");
        app.tick_replay();
        std::thread::yield_now();
    }
    // Restart plays again from the start.
    assert!(app.update(Action::Restart).is_empty());
    assert_eq!(cursor(&app), Some(0));
    // Keys that are not replay's still are the app's: back to the menu.
    app.update(Action::Back);
    assert_eq!(app.screen, Screen::Menu);
}

/// A projector at a big font cannot show every lesson: the list says how many are hidden
/// above and below it, and Home and End go to the first and the last.
#[test]
fn the_menu_says_what_it_cannot_show_and_home_and_end_reach_both_ends() {
    use threadlab::ui::keys::Action;
    let entries = threadlab::ui::menu_entries(&[]);
    let n = entries.len();
    let mut app = App::new(
        Menu {
            entries,
            selected: 0,
        },
        Theme::new(ThemeKind::Dark, false),
    );
    let top = screen_text(&app, 80, 24);
    assert!(top.contains("▼") && top.contains("more"), "{top}");
    assert!(!top.contains("▲"), "{top}");
    app.update(Action::Last);
    assert_eq!(app.menu.selected, n - 1);
    let bottom = screen_text(&app, 80, 24);
    assert!(bottom.contains("▲") && !bottom.contains("▼"), "{bottom}");
    app.update(Action::First);
    assert_eq!(app.menu.selected, 0);
}

/// The resource panel says what the syllabus's resources are: an event set or clear, a pool's
/// queue and finished tasks, a condition and a list by their kinds.
#[test]
fn the_resource_panel_shows_events_pools_conditions_and_lists() {
    let source = |name: &str| {
        threadlab::scenario::builtin::find(name)
            .expect("built-in")
            .source
    };
    let text = screen_text(&finished_app(source("event-timeout"), 120, 40), 120, 40);
    let row = text
        .lines()
        .find(|l| l.contains("reply") && l.contains("event"))
        .unwrap_or_else(|| panic!("no event row:\n{text}"));
    // The server cleared it at the end.
    assert!(row.contains("clear"), "{row}");
    let text = screen_text(&finished_app(source("pool"), 120, 40), 120, 40);
    let row = text
        .lines()
        .find(|l| l.contains(" pool "))
        .unwrap_or_else(|| panic!("no pool row:\n{text}"));
    assert!(row.contains("0 queued, 9 finished"), "{row}");
    let text = screen_text(&finished_app(source("condition"), 120, 40), 120, 40);
    assert!(text.contains("condition"), "{text}");
    assert!(text.contains("list"), "{text}");
}

/// 512 threads, 510 of one `count=` group, start with the group folded into one lane whose label counts them by
/// state; the fold key unfolds the selected group and folds it again, the selection moves over
/// a folded group in one step, and a deadlock marks the folded group its threads are in.
#[test]
fn a_big_group_starts_folded_and_the_fold_key_opens_it() {
    // The w come for A once x holds it, and x and y hold their first locks long enough for
    // all 510 to queue before the two deadlock, however slowly a busy machine starts them.
    let source = "title \"big\"\nmutex A\nmutex B\nevent held\n\
        thread x { lock A; set held; sleep \"1500ms\"; lock B; unlock B; unlock A }\n\
        thread w count=510 { wait held; lock A; unlock A }\n\
        thread y { lock B; sleep \"1500ms\"; lock A; unlock A; unlock B }\n";
    let scenario = Arc::new(threadlab::scenario::parse_source("big", "big.kdl", source).unwrap());
    let run = Run::start(scenario.clone(), RunOptions::default());
    wait_until("the deadlock", Duration::from_secs(30), || {
        run.phase() == Phase::Deadlock
    });
    let deadlock = run.deadlock();
    let mut events = Vec::new();
    wait_until("every event", Duration::from_secs(10), || run.settled());
    run.drain_events(&mut events);
    run.stop();
    events.sort_by_key(|e| e.t_ns);
    let end = events.iter().map(|e| e.t_ns).max().unwrap_or(0);
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.resize(Rect::new(0, 0, 200, 50));
    app.open(scenario, 1.0);
    let live = Live {
        phase: Phase::Deadlock,
        now_ns: end,
        deadlock,
        ..Live::new(1.0)
    };
    app.observe(live, &events, Vec::new());

    let lanes_text = |app: &App| {
        let text = screen_text(app, 200, 50);
        let from = text.find("Threads").unwrap();
        let to = text.find("big.kdl").unwrap();
        text[from..to].to_string()
    };
    let text = lanes_text(&app);
    assert!(text.contains("510 w"), "{text}");
    // Every one of the 510 ends up blocked on A behind x, who waits for y.
    assert!(text.contains("510 blocked"), "{text}");
    assert!(!text.contains("w-1 "), "{text}");
    // The folded group is drawn blocked from when its members blocked on, like a lane.
    let (lanes, _, now) = lane_rows(&app, 200, 50);
    assert!(
        lanes.iter().any(|l| l.chars().nth(now) == Some('L')),
        "{lanes:?}"
    );

    // x, the folded group, y: one step each.
    app.update(Action::Down);
    assert_eq!(app.run.as_ref().unwrap().selected, 1);
    app.update(Action::Down);
    assert_eq!(app.run.as_ref().unwrap().selected, 511);
    app.update(Action::Up);
    app.update(Action::Fold);
    let text = lanes_text(&app);
    assert!(text.contains("w-1 ") && !text.contains("510 w"), "{text}");
    app.update(Action::Fold);
    assert!(lanes_text(&app).contains("510 w"));
    // A thread in no group says so instead.
    app.update(Action::Up);
    app.update(Action::Fold);
    assert!(app.run.as_ref().unwrap().notice.is_some());
}

/// A run with tasks and threads gets the cost-of-waiting card beside the lanes, with each
/// side's figures as measured; a run without both has none.
#[test]
fn the_cost_of_waiting_card_shows_both_sides() {
    use threadlab::engine::footprint::{Cost, Footprint};
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.open(builtin("c10k"), 1.0);
    let figures = Footprint {
        threads: Some(Cost {
            count: 512,
            start_ms: 34.2,
            rss_kib: 7232,
            kib_each: 14.125,
        }),
        tasks: Some(Cost {
            count: 10_000,
            start_ms: 21.0,
            rss_kib: 25_368,
            kib_each: 2.5368,
        }),
    };
    app.observe_footprint(figures);
    let text = screen_text(&app, 160, 50);
    assert!(text.contains("Cost of waiting"), "{text}");
    for want in [
        "10000 tasks",
        "512 threads",
        "24.8 MiB",
        "7.1 MiB",
        "14.1 KiB",
        "2.5 KiB",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.open(builtin("event-loop"), 1.0);
    app.observe_footprint(figures);
    assert!(!screen_text(&app, 160, 50).contains("Cost of waiting"));
}

/// A `.py` in the scenarios folder is a menu entry of its own kind: marked Python, previewed
/// with its source, opened traced (Enter, or `p` held at its first call), and when it cannot
/// start, the menu shows why in its place.
#[test]
fn a_python_program_is_listed_opened_traced_and_its_failure_shown() {
    let dir = std::env::temp_dir().join(format!("threadlab-ui-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("counter.py"),
        "import threading\nguard = threading.Lock()\n",
    )
    .unwrap();
    let entries = threadlab::ui::menu_entries_from(&dir, &[]);
    let at = entries
        .iter()
        .position(|e| e.name == "counter.py")
        .expect("listed");
    let script = entries[at].scenario.program_path().unwrap().to_path_buf();
    assert_eq!(script, dir.join("counter.py"));
    let mut app = App::new(
        Menu {
            entries,
            selected: at,
        },
        Theme::new(ThemeKind::Dark, false),
    );
    let screen = screen_text(&app, 100, 40);
    assert!(
        screen
            .lines()
            .any(|l| l.contains("counter.py") && l.contains("Python")),
        "{screen}"
    );
    assert!(screen.contains("guard = threading.Lock()"), "{screen}");
    assert_eq!(
        app.update(Action::Open),
        vec![Effect::Trace {
            script: script.clone(),
            paused: false
        }]
    );
    assert_eq!(
        app.update(Action::OpenPaused),
        vec![Effect::Trace {
            script,
            paused: true
        }]
    );
    app.program_failed("cannot run `python3`: not found".into());
    assert_eq!(app.screen, Screen::Menu);
    let screen = screen_text(&app, 100, 40);
    assert!(screen.contains("cannot run `python3`"), "{screen}");
    // Known not to start, it is not opened again until the menu is read again.
    assert!(app.update(Action::Open).is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

// ---- compare -----------------------------------------------------------------------------

/// The compare view of two recorded runs, each half shown where its recording stopped, fitted
/// to one axis as the view fits it once a run is done.
fn recorded_pair(names: [&str; 2], theme: Theme, w: u16, h: u16) -> threadlab::ui::pair::Pair {
    let recs = names.map(|n| Recording::load(&fixture_path(n)).expect("a recorded run"));
    let scenarios = [recs[0].scenario.clone(), recs[1].scenario.clone()];
    let mut pair = threadlab::ui::pair::Pair::new(scenarios, 1.0, false, theme);
    for (half, rec) in pair.halves.iter_mut().zip(&recs) {
        half.cores = 2;
        half.show_recording(rec);
    }
    pair.resize(Rect::new(0, 0, w, h));
    pair.update(Action::Fit);
    pair
}

fn compare_text(pair: &threadlab::ui::pair::Pair, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::compare::render(pair, f.area(), f.buffer_mut()))
        .unwrap();
    t.backend().to_string()
}

#[test]
fn compare_deadlock_and_fixed_order_at_the_end() {
    let theme = Theme::new(ThemeKind::Dark, false);
    for (w, h) in [(80, 24), (120, 40)] {
        let pair = recorded_pair(["deadlock", "fixed-order-done"], theme, w, h);
        let text = compare_text(&pair, w, h);
        // Both titles, each with its own outcome; both runs' lanes; both runs in the log.
        for title in ["Deadlock:", "Fixed lock order"] {
            assert!(text.contains(title), "{title} at {w}x{h}:\n{text}");
        }
        assert!(text.contains("DEADLOCK") && text.contains("DONE"), "{text}");
        assert!(text.contains("T1 waits for B held by T2"), "{text}");
        // The log ends with the later run's last events, each marked with its run.
        assert!(text.contains("│2 0."), "{text}");
        // One time axis: the two axes are the same row of cells.
        let axes: Vec<&str> = text.lines().filter(|l| l.contains("╵0s")).collect();
        assert_eq!(axes.len(), 2, "{text}");
        assert_eq!(axes[0], axes[1], "two different axes:\n{text}");
        insta::assert_snapshot!(format!("compare_deadlock_fixed_order_{w}x{h}"), text);
    }
    // One history cursor over both: at 0s the log holds both runs' starts, each marked.
    let mut pair = recorded_pair(["deadlock", "fixed-order-done"], theme, 120, 40);
    pair.update(Action::HistoryStart);
    pair.update(Action::HistoryForward);
    let text = compare_text(&pair, 120, 40);
    for run in ["│1 0.0", "│2 0.0"] {
        let started = text
            .lines()
            .any(|l| l.contains(run) && l.contains("T1 started"));
        assert!(started, "{run}:\n{text}");
    }
    assert!(text.contains("viewing 10ms"), "{text}");
    assert!(
        text.contains("T2   not started"),
        "at 10ms the second T2 waits:\n{text}"
    );
}

#[test]
fn compare_too_small_or_empty_never_draws_garbage() {
    let theme = Theme::new(ThemeKind::Dark, false);
    let pair = recorded_pair(["deadlock", "fixed-order-done"], theme, 80, 24);
    for (w, h) in [(1, 1), (59, 24), (80, 19), (60, 20), (200, 50)] {
        let text = compare_text(&pair, w, h);
        if w < 60 || h < 20 {
            assert!(w < 20 || text.contains("too small"), "{text}");
        } else {
            assert!(text.contains("Fixed lock order"), "{w}x{h}:\n{text}");
        }
    }
    let mut buf = Buffer::empty(Rect::ZERO);
    view::compare::render(&pair, Rect::ZERO, &mut buf);
}

/// Five forks' lanes in a half of 80x24 do not all fit: the panel shows what it can and says
/// how many it leaves out.
#[test]
fn compare_folds_lanes_that_do_not_fit_and_says_so() {
    let theme = Theme::new(ThemeKind::Dark, false);
    let scenarios = [builtin("philosophers"), builtin("philosophers-ordered")];
    let mut pair = threadlab::ui::pair::Pair::new(scenarios, 1.0, true, theme);
    pair.resize(Rect::new(0, 0, 80, 24));
    let text = compare_text(&pair, 80, 24);
    assert_eq!(text.matches("of 5: a taller terminal").count(), 2, "{text}");
    let tall = compare_text(&pair, 120, 50);
    assert!(!tall.contains("a taller terminal"), "{tall}");
}

/// The help lists the compare view's keys from the key table, with what each does to both runs.
#[test]
fn compare_help_says_what_each_key_does_to_both_runs() {
    let theme = Theme::new(ThemeKind::Dark, false);
    let mut pair = recorded_pair(["deadlock", "fixed-order-done"], theme, 80, 24);
    pair.update(Action::Help);
    let help = compare_text(&pair, 80, 24);
    for said in [
        "one step in each run",
        "next event of either",
        "start both again",
        "pause both runs at once",
    ] {
        assert!(help.contains(said), "{said}:\n{help}");
    }
    for (keys, _) in threadlab::ui::keys::help_lines(Context::Compare) {
        assert!(help.contains(&keys), "{keys}:\n{help}");
    }
    // Keys that choose one thread have no meaning with two runs: not bound here.
    for id in ["step", "select", "break", "quiz", "twin"] {
        let b = threadlab::ui::keys::BINDINGS
            .iter()
            .find(|b| b.id == id)
            .unwrap();
        assert!(!b.contexts.contains(&Context::Compare), "{id}");
    }
    // Any key closes the help; quit still quits, both runs.
    pair.update(Action::Fit);
    assert!(!pair.help);
    pair.update(Action::Help);
    let effects = pair.update(Action::Quit);
    assert!(pair.quit && !pair.help);
    assert_eq!(effects, [vec![Effect::Stop], vec![Effect::Stop]]);
}

/// One key reaches both runs: space holds both if either moves, else lets go both that can;
/// a restart restarts both, paused ones staying paused; zoom and axis stay shared.
#[test]
fn compare_keys_drive_both_runs_together() {
    let theme = Theme::new(ThemeKind::Dark, false);
    // The two lessons' own zooms differ; the pair draws both at the finer.
    let scenarios = [builtin("deadlock"), builtin("event-loop")];
    let zooms = scenarios
        .each_ref()
        .map(|s| threadlab::ui::app::default_zoom(s));
    assert_ne!(zooms[0], zooms[1]);
    let mut pair = threadlab::ui::pair::Pair::new(scenarios, 1.0, false, theme);
    pair.resize(Rect::new(0, 0, 120, 40));
    let set = |pair: &mut threadlab::ui::pair::Pair, phases: [Phase; 2]| {
        for (half, phase) in pair.halves.iter_mut().zip(phases) {
            half.run.as_mut().unwrap().live.phase = phase;
        }
    };
    let runs = |pair: &threadlab::ui::pair::Pair| -> Vec<(usize, u64)> {
        pair.runs().map(|r| (r.zoom, r.window_start(80))).collect()
    };
    assert_eq!(runs(&pair)[0], runs(&pair)[1]);
    assert_eq!(runs(&pair)[0].0, zooms[0].min(zooms[1]));
    let pause = vec![Effect::Pause];
    let resume = vec![Effect::Resume];
    use Phase::*;
    for (phases, want) in [
        ([Running, Running], [pause.clone(), pause.clone()]),
        ([Running, Paused], [pause.clone(), vec![]]),
        ([Stepping(0), Deadlock], [pause.clone(), vec![]]),
        ([Paused, Paused], [resume.clone(), resume.clone()]),
        ([Deadlock, Paused], [vec![], resume.clone()]),
        ([Deadlock, Finished], [vec![], vec![]]),
    ] {
        set(&mut pair, phases);
        assert_eq!(pair.update(Action::PauseResume), want, "{phases:?}");
    }
    // Neither can move: each says why, marked with its run.
    let notice = pair.shown_notice().expect("why nothing moves");
    assert!(
        notice.starts_with("1: ") && notice.contains("2: "),
        "{notice}"
    );

    set(&mut pair, [Paused, Paused]);
    pair.update(Action::ZoomOut);
    let zoom = pair.halves[0].run.as_ref().unwrap().zoom;
    assert_eq!(
        pair.update(Action::Restart),
        [vec![Effect::Restart], vec![Effect::Restart]]
    );
    for run in pair.runs() {
        assert!(run.paused_start, "a paused pair restarts paused");
        assert_eq!(run.zoom, zoom, "a zoom chosen by hand is kept, for both");
        assert_eq!(run.live.now_ns, 0);
    }
    // s and e go to the runs that can still move.
    set(&mut pair, [Finished, Paused]);
    assert_eq!(
        pair.update(Action::StepNext),
        [vec![], vec![Effect::StepNext]]
    );
    assert_eq!(
        pair.update(Action::StepEvent),
        [vec![], vec![Effect::StepEvent]]
    );
}

/// The menu's compare key: `c` on one lesson, Enter (or p, paused) on another opens both; `c`
/// again never minds; a file that does not load cannot be compared.
#[test]
fn the_menu_compares_the_chosen_lesson_with_the_next_one_opened() {
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.update(Action::CompareWith);
    assert_eq!(app.compare_from, Some(0));
    let text = screen_text(&app, 80, 24);
    assert!(text.contains("compare deadlock with"), "{text}");
    app.update(Action::Down);
    let effects = app.update(Action::OpenPaused);
    assert_eq!(
        effects,
        vec![Effect::Compare(
            [builtin("deadlock"), builtin("fixed-order")],
            true
        )]
    );
    assert_eq!(app.compare_from, None);
    assert_eq!(
        app.screen,
        Screen::Menu,
        "the menu stays until the pair opens"
    );
    // Twice: never mind, and Enter opens the one lesson as ever.
    app.update(Action::CompareWith);
    app.update(Action::CompareWith);
    assert_eq!(app.compare_from, None);
    assert!(matches!(app.update(Action::Open)[..], [Effect::Start(_)]));
    // The broken file is not offered.
    app.update(Action::Back);
    app.screen = Screen::Menu;
    app.menu.selected = app.menu.entries.len() - 1;
    app.update(Action::CompareWith);
    assert_eq!(app.compare_from, None);
}
/// asyncio's primitives are named by the keyword that declares them, and the log says which
/// task cancelled which.
#[test]
fn the_resource_panel_names_asyncio_primitives() {
    let source = threadlab::scenario::builtin::find("async-queue")
        .expect("built-in")
        .source;
    let text = screen_text(&finished_app(source, 140, 40), 140, 40);
    let row = text
        .lines()
        .find(|l| l.contains("jobs") && l.contains("async-queue"))
        .unwrap_or_else(|| panic!("no async-queue row:\n{text}"));
    assert!(row.contains("put 12 taken 12"), "{row}");
    assert!(
        text.contains("was cancelled by supervisor: CancelledError at its await"),
        "{text}"
    );
}

/// A task cancelled at its await (by another task's `wait`, or a `wait-for` timeout) reads
/// CANCELLED on its lane, in its own glyph and in the legend; a task that finished reads DONE.
#[test]
fn a_cancelled_task_reads_cancelled_and_a_finished_one_done() {
    let source = threadlab::scenario::builtin::find("gather-vs-wait")
        .expect("built-in")
        .source;
    let text = screen_text(&finished_app(source, 160, 40), 160, 40);
    let lane = |name: &str| {
        text.lines()
            .find(|l| l.contains(&format!(" {name} ")) && l.contains('│'))
            .unwrap_or_else(|| panic!("no lane {name}:\n{text}"))
            .to_string()
    };
    for name in ["b-medium", "b-slow", "c-slow"] {
        let row = lane(name);
        assert!(row.contains("⊘ CANCELLED"), "{name}: {row}");
        assert!(!row.contains("DONE"), "{name}: {row}");
    }
    for name in ["a-fast", "b-fast", "first-wins", "impatient"] {
        let row = lane(name);
        assert!(row.contains("DONE"), "{name}: {row}");
        assert!(
            !row.contains("CANCELLED") && !row.contains('⊘'),
            "{name}: {row}"
        );
    }
    assert!(
        text.contains("⊘⊘ cancelled"),
        "the legend names it:\n{text}"
    );
    // Where the legend cannot hold every state, it keeps the ones the lanes draw: the
    // cancelled consumers' glyph is explained at 80 columns, not cut off for states (paused,
    // failed) no lane shows.
    let source = threadlab::scenario::builtin::find("async-queue")
        .expect("built-in")
        .source;
    let text = screen_text(&finished_app(source, 80, 24), 80, 24);
    assert!(text.contains("⊘ CANCELLED"), "{text}");
    let legend = text
        .lines()
        .find(|l| l.contains("sleeping (I/O)"))
        .unwrap_or_else(|| panic!("no legend:\n{text}"));
    assert!(legend.contains("⊘ cancelled"), "{legend}");
    assert!(!legend.contains("failed"), "{legend}");
}

#[test]
fn long_names_are_whole_where_there_is_room_and_keep_their_number_where_cut() {
    let source = r#"
title "long names"
buffer queue capacity=2
thread producer-fast count=2 {
    work "1ms"
    put queue
}
thread consumer-slow-worker-of-queue count=2 {
    take queue
}
"#;
    for (w, h) in [(120, 40), (80, 24)] {
        let app = finished_app(source, w, h);
        let run = app.run.as_ref().unwrap();
        let areas = view::run::areas_of(&app, Rect::new(0, 0, w, h)).unwrap();
        let g = view::lanes::geometry(run, areas.lanes);
        let terminal = draw(&app, w, h);
        let buf = terminal.backend().buffer();
        let names: Vec<String> = (0..g.rows / g.lane_h)
            .map(|lane| {
                let y = g.inner.y + lane * g.lane_h;
                (g.inner.x..g.inner.x + g.name_w)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .trim_start_matches(['▶', ' '])
                    .trim_end()
                    .to_string()
            })
            .collect();
        // The producers' names fit whole at 80 columns too: the name column takes the room.
        assert_eq!(
            names[..2],
            ["producer-fast-1", "producer-fast-2"],
            "{w}x{h}"
        );
        for (name, n) in names[2..].iter().zip(["-1", "-2"]) {
            let whole = format!("consumer-slow-worker-of-queue{n}");
            assert!(
                *name == whole || (name.contains('…') && name.ends_with(n)),
                "{w}x{h}: {name:?} is neither whole nor cut keeping its number"
            );
        }
        assert_ne!(names[2], names[3], "{w}x{h}: two lanes read the same");
    }
}

#[test]
fn the_history_cursor_never_covers_part_of_a_time_label() {
    let theme = Theme::new(ThemeKind::Dark, false);
    let mut app = recorded_app("semaphore", theme);
    let (w, h) = (80, 24);
    let (_, plain, _) = lane_rows(&app, w, h);
    let shown: Vec<String> = axis_labels(&plain, theme);
    let run = app.run.as_ref().unwrap();
    let areas = view::run::areas_of(&app, Rect::new(0, 0, w, h)).unwrap();
    let g = view::lanes::geometry(run, areas.lanes);
    let (start, per) = (run.window_start(g.cells_w), run.ns_per_cell());
    for cell in 0..u64::from(g.cells_w) {
        app.run.as_mut().unwrap().cursor = Some(start + cell * per);
        let (_, axis, _) = lane_rows(&app, w, h);
        for label in axis
            .split(|c| c == theme.glyphs.cursor())
            .flat_map(|part| axis_labels(part, theme))
        {
            assert!(
                shown.contains(&label),
                "the cursor at cell {cell} leaves {label:?} of {shown:?}: {axis}"
            );
        }
    }
}

// ---- the screen at the cursor ------------------------------------------------------------------

/// The cells of every lane drawn right of the cell holding `at` (lanes of one row each, as
/// at 80x24), as the characters drawn there.
fn drawn_after(app: &App, w: u16, h: u16, at: u64) -> String {
    let terminal = draw(app, w, h);
    let buf = terminal.backend().buffer();
    let run = app.run.as_ref().unwrap();
    let lanes = view::run::areas_of(app, Rect::new(0, 0, w, h))
        .unwrap()
        .lanes;
    let g = view::lanes::geometry(run, lanes);
    let start = run.window_start(g.cells_w);
    let first = ((at - start) / run.ns_per_cell() + 1) as u16;
    let mut out = String::new();
    for lane in 0..run.scenario.threads.len() as u16 {
        let y = g.inner.y + lane * g.lane_h;
        for x in g.cells_x + first..g.cells_x + g.cells_w {
            out.push_str(buf[(x, y)].symbol());
        }
    }
    out.trim().to_string()
}

/// The style of the first letter of lane `lane`'s name.
fn name_style(app: &App, w: u16, h: u16, lane: u16) -> (Option<Color>, Option<Color>) {
    let terminal = draw(app, w, h);
    let run = app.run.as_ref().unwrap();
    let lanes = view::run::areas_of(app, Rect::new(0, 0, w, h))
        .unwrap()
        .lanes;
    let g = view::lanes::geometry(run, lanes);
    let style = terminal.backend().buffer()[(g.inner.x + 2, g.inner.y + lane * g.lane_h)].style();
    (style.fg, style.bg)
}

/// Replay and a look back describe the run as it stood at the cursor: before the deadlock no
/// banner, no DEADLOCK badge, no thread or resource in the cycle's colour and nothing drawn
/// past the cursor; from the instant the last thread of the cycle blocked, all of it.
#[test]
fn the_screen_describes_the_run_at_the_cursor_not_at_its_end() {
    let rec = Recording::load(&fixture_path("deadlock")).unwrap();
    for (w, h) in [(80, 24), (120, 40)] {
        for look_back in [false, true] {
            let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
            app.cores = 2;
            if look_back {
                app.show_recording(&rec);
                app.update(Action::HistoryStart);
            } else {
                app.replay(&rec);
            }
            let run = app.run.as_ref().unwrap();
            let at = run.deadlock_ns().expect("the recording ends in a deadlock");
            assert!(at > 0 && at <= run.end_ns());
            let theme = app.theme;
            for cursor in [0, at / 2, at - 1] {
                app.run.as_mut().unwrap().cursor = Some(cursor);
                let shown = screen_text(&app, w, h);
                let case = format!("{w}x{h}, cursor {cursor} of {at} (look back: {look_back})");
                for word in ["DEADLOCK", "never move again", "wait for each other"] {
                    assert!(
                        !shown.contains(word),
                        "{case}: {word:?} before the deadlock\n{shown}"
                    );
                }
                for lane in 0..2 {
                    assert_ne!(
                        name_style(&app, w, h, lane),
                        (theme.in_cycle().fg, theme.in_cycle().bg),
                        "{case}: lane {lane}'s name in the cycle's colour before the deadlock"
                    );
                }
                let after = drawn_after(&app, w, h, cursor);
                assert!(
                    after.is_empty(),
                    "{case}: drawn past the cursor: {after:?}\n{shown}"
                );
            }
            for cursor in [Some(at), None] {
                app.run.as_mut().unwrap().cursor = cursor;
                let shown = screen_text(&app, w, h);
                let case = format!("{w}x{h}, cursor {cursor:?}, deadlock at {at}");
                assert!(shown.contains("DEADLOCK"), "{case}\n{shown}");
                assert!(shown.contains("can never move again"), "{case}\n{shown}");
                assert!(
                    shown.contains("T1 waits for B held by T2"),
                    "{case}\n{shown}"
                );
                for lane in 0..2 {
                    let cycle = theme.in_cycle();
                    assert_eq!(name_style(&app, w, h, lane), (cycle.fg, cycle.bg), "{case}");
                }
            }
        }
    }
}

/// A thread's failure is said, in the badge and on its own line, only from the moment it
/// failed; and a finished run is DONE only at its end.
#[test]
fn a_failure_and_the_end_are_said_only_from_when_they_happened() {
    use threadlab::trace::testing::ev;
    let scenario = Arc::new(
        threadlab::scenario::parse_source(
            "failing",
            "failing.kdl",
            "title \"failing\"\nthread A { work \"50ms\" }\nthread B { work \"100ms\" }\n",
        )
        .unwrap(),
    );
    let ms = 1_000_000;
    let events = [
        ev(0, 0, EventKind::Start),
        ev(0, 1, EventKind::Start),
        ev(1, 0, EventKind::Run),
        ev(1, 1, EventKind::Run),
        ev(50 * ms, 0, EventKind::Fail),
        ev(100 * ms, 1, EventKind::Done),
    ];
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.cores = 2;
    app.open(scenario, 1.0);
    let live = |phase| Live {
        phase,
        now_ns: 100 * ms,
        ..Live::new(1.0)
    };
    app.observe(live(Phase::Running), &events, Vec::new());
    app.observe(
        live(Phase::Finished),
        &[],
        vec![(0, "division by zero".to_string())],
    );
    let failed = "A failed: division by zero";
    let cases = [
        (Some(10 * ms), false, false),
        (Some(50 * ms - 1), false, false),
        (Some(50 * ms), true, false),
        (Some(99 * ms), true, false),
        (None, true, true),
    ];
    for (cursor, has_failed, is_done) in cases {
        app.run.as_mut().unwrap().cursor = cursor;
        for (w, h) in [(80, 24), (120, 40)] {
            let shown = screen_text(&app, w, h);
            let case = format!("{w}x{h} at {cursor:?}");
            assert_eq!(shown.contains(failed), has_failed, "{case}\n{shown}");
            assert_eq!(shown.contains(" DONE"), is_done, "{case}\n{shown}");
            assert_eq!(shown.contains("WITH FAILURES"), is_done, "{case}\n{shown}");
            assert_eq!(shown.contains("PAUSED"), !is_done, "{case}\n{shown}");
        }
    }
}
