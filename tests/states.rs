//! Thread states come from one table: every legend that can show a state lists it, every paint
//! and word is the table's, and a wait is described in its resource's own terms.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use common::{builtin, fast, run_to_end, scenario};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use threadlab::engine::Run;
use threadlab::i18n::Lang;
use threadlab::scenario::model::{Op, ResourceKind, Scenario};
use threadlab::trace::export::svg;
use threadlab::ui::keys::Context;
use threadlab::ui::layout::state_words;
use threadlab::ui::theme::{Theme, ThemeKind};
use threadlab::ui::view::help::Help;
use threadlab::ui::view::lanes::legend_states;
use threadlab::vocab::event::{Event, STATES, State, StateTracker};
use threadlab::vocab::recording::Recording;

type LessonRuns = Vec<(&'static str, Arc<Scenario>, Vec<Event>)>;

/// Every built-in lesson, run to its end on real threads: the scenario and its events. Run
/// once for every test that reads them (each run takes its lesson's time).
fn lessons() -> &'static LessonRuns {
    static RUNS: OnceLock<LessonRuns> = OnceLock::new();
    RUNS.get_or_init(|| {
        threadlab::scenario::builtin::all()
            .iter()
            .map(|b| {
                let s = builtin(b.name);
                let run = Run::start(s.clone(), fast());
                let (_, events) = run_to_end(&run);
                (b.name, s, events)
            })
            .collect()
    })
}

/// The rows of the states the events put any thread in (done is drawn as nothing).
fn states_shown(s: &Scenario, events: &[Event]) -> BTreeSet<usize> {
    let mut states = StateTracker::new();
    events
        .iter()
        .filter_map(|e| states.after(e, s))
        .filter(|st| !st.row().is_blank())
        .map(State::index)
        .collect()
}

fn buffer_text(buf: &Buffer) -> String {
    let w = buf.area.width as usize;
    buf.content
        .chunks(w)
        .map(|line| line.iter().map(|c| c.symbol()).collect::<String>() + "\n")
        .collect()
}

#[test]
fn the_table_has_one_row_per_state_with_its_own_glyph_and_stable_name() {
    for (i, row) in STATES.iter().enumerate() {
        assert_eq!(row.state.index(), i, "{} sits in its own row", row.name);
        assert_eq!(row.state.name(), row.name);
        assert!(row.ascii.is_ascii(), "{}", row.name);
    }
    for ascii in [false, true] {
        let glyphs: BTreeSet<char> = STATES.iter().map(|r| r.glyph(ascii)).collect();
        assert_eq!(
            glyphs.len(),
            STATES.len(),
            "ascii={ascii}: glyphs are distinct"
        );
    }
    // Machine output: summaries and JSON key on these names, so they never change.
    let names: Vec<&str> = STATES.iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        [
            "running",
            "reading",
            "writing",
            "sleeping",
            "blocking",
            "blocked",
            "waiting_semaphore",
            "waiting_barrier",
            "waiting_condition",
            "waiting_gil",
            "ready",
            "starved",
            "held",
            "starting",
            "failed",
            "cancelled",
            "done"
        ]
    );
}

#[test]
fn the_help_legend_lists_every_state() {
    let area = Rect::new(0, 0, 100, 80);
    let mut buf = Buffer::empty(area);
    Help {
        context: Context::Run,
        theme: Theme::new(ThemeKind::Mono, false),
    }
    .render(area, &mut buf);
    let text = buffer_text(&buf);
    for row in &STATES {
        let g = row.glyph;
        assert!(
            text.contains(&format!(" {g}{g}{g}  {}", row.legend())),
            "help lacks {}:\n{text}",
            row.name
        );
    }
}

#[test]
fn every_lane_legend_shows_every_state_its_lanes_show() {
    let mut seen_in = Vec::new();
    for &(name, ref s, ref events) in lessons() {
        let legend: BTreeSet<usize> = legend_states(s).into_iter().map(State::index).collect();
        let shown = states_shown(s, events);
        for i in &shown {
            assert!(
                legend.contains(i),
                "{name}: lanes show {} but the legend lacks it",
                STATES[*i].name
            );
        }
        seen_in.push((name, shown));
    }
    // The lessons whose waits the legend once left out do wait, so the check above bites.
    let shows = |lesson: &str, st: State| {
        seen_in
            .iter()
            .any(|(n, shown)| *n == lesson && shown.contains(&st.index()))
    };
    assert!(shows("event", State::Condition(0)));
    assert!(shows("reentrant-rlock", State::Locked(0)));
    assert!(shows("rwlock", State::Locked(0)));
    assert!(shows("event-loop", State::Ready(0)));
    // What a lane once could not show: readers and writers inside an rwlock, and a task's
    // blocking call on its loop.
    assert!(shows("rwlock", State::Reading(0)));
    assert!(shows("rwlock", State::Writing(0)));
    assert!(shows("writer-starvation", State::Reading(0)));
    assert!(shows("event-loop-blocking", State::Blocking(0)));
    assert!(
        !shows("event-loop", State::Blocking(0)),
        "an await is no blocking call"
    );
}

/// A reader's lane reads as reading (not sleeping) from its read to its unlock, a writer's as
/// writing, and no reader is inside while a writer is.
#[test]
fn rwlock_lanes_show_reading_and_writing_exactly_while_inside() {
    let s = builtin("rwlock");
    let run = Run::start(s.clone(), fast());
    let (_, events) = run_to_end(&run);
    let table = s.resource_index("table").unwrap();
    let mut states = StateTracker::new();
    let mut inside: Vec<Option<bool>> = vec![None; s.threads.len()];
    let mut sorted = events.clone();
    sorted.sort_by_key(|e| e.t_ns);
    for e in &sorted {
        let Some(st) = states.after(e, &s) else {
            continue;
        };
        let t = e.thread as usize;
        match (e.kind, e.resource) {
            (threadlab::vocab::event::EventKind::Acquire, Some(r)) if r == table => {
                inside[t] = Some(matches!(st, State::Writing(_)));
                assert!(
                    matches!(st, State::Reading(_) | State::Writing(_)),
                    "{} inside as {st:?}",
                    s.thread_name(e.thread)
                );
            }
            (threadlab::vocab::event::EventKind::Release, Some(r)) if r == table => {
                inside[t] = None;
                assert_eq!(st, State::Running);
            }
            _ => {}
        }
        if matches!(st, State::Running | State::Sleeping) {
            assert_eq!(
                inside[t],
                None,
                "{} is inside, not {st:?}",
                s.thread_name(e.thread)
            );
        }
        let writers = inside.iter().filter(|i| **i == Some(true)).count();
        let readers = inside.iter().filter(|i| **i == Some(false)).count();
        assert!(writers == 0 || (writers == 1 && readers == 0), "{inside:?}");
    }
}

/// The tickers of the blocking lesson starve while report holds the loop in its blocking call,
/// and only then: every starved cell is a cell where report blocks.
#[test]
fn tasks_starve_exactly_while_their_loop_is_blocked() {
    let s = builtin("event-loop-blocking");
    let run = Run::start(s.clone(), fast());
    let (_, events) = run_to_end(&run);
    let mut trace = threadlab::trace::Trace::new(s.clone());
    trace.push(&events);
    let end = trace.end_ns();
    let report = s.thread_index("report").unwrap();
    let cells = 400;
    let theirs = trace.lane_cells(report, 0, end, cells);
    let mut starved = 0;
    for t in 0..s.threads.len() as u16 {
        if t == report {
            continue;
        }
        for (i, c) in trace.lane_cells(t, 0, end, cells).into_iter().enumerate() {
            if matches!(c, Some(State::Starved(_))) {
                starved += 1;
                assert!(
                    matches!(theirs[i], Some(State::Blocking(_))),
                    "cell {i}: starved while report is {:?}",
                    theirs[i]
                );
            }
        }
    }
    assert!(
        starved > cells / 4,
        "the tickers starve for most of a second: {starved}"
    );
    assert!(
        legend_states(&s)
            .iter()
            .any(|st| matches!(st, State::Starved(_)))
    );
}

#[test]
fn the_svg_paints_each_state_as_its_row() {
    let mut painted = BTreeSet::new();
    for &(name, ref s, ref events) in lessons() {
        let rec = Recording {
            scenario: s.clone(),
            end_ns: events.last().map_or(1, |e| e.t_ns),
            events: events.clone(),
            outcome: None,
            deadlock: None,
            failures: vec![None; s.threads.len()],
            dropped_events: 0,
            speed: 4.0,
        };
        let text = svg::render(&rec);
        // Each lane's spans, in order, are filled with the pattern named after their rows.
        let trace = rec.trace();
        let end_ns = rec.end_ns.max(trace.end_ns()).max(1);
        let lanes: Vec<&str> = text.split(r#"<g class="lane""#).skip(1).collect();
        assert_eq!(lanes.len(), s.threads.len(), "{name}");
        for (t, lane) in lanes.iter().enumerate() {
            let lane = lane.split("</g>").next().unwrap_or("");
            let paints: Vec<&str> = lane
                .split(r#"fill="url(#p-"#)
                .skip(1)
                .filter_map(|r| r.split(')').next())
                .collect();
            let rows: Vec<&str> = trace
                .spans(t as u16, 0, end_ns)
                .iter()
                .map(|sp| sp.state.row())
                .filter(|row| !row.is_blank())
                .map(|row| row.name)
                .collect();
            assert_eq!(paints, rows, "{name}: lane {t}");
            painted.extend(paints.iter().map(|p| p.to_string()));
        }
        for i in states_shown(s, events) {
            assert!(
                text.contains(&format!(r#"<pattern id="p-{}""#, STATES[i].name)),
                "{name}: no paint for {}",
                STATES[i].name
            );
        }
    }
    assert!(
        painted.contains("ready"),
        "tasks waiting for their loop are painted as ready"
    );
    // Every pattern differs from every other, so a printout tells all states apart.
    let s = builtin("deadlock");
    let rec = Recording {
        failures: vec![None; s.threads.len()],
        scenario: s,
        events: Vec::new(),
        end_ns: 1,
        outcome: None,
        deadlock: None,
        dropped_events: 0,
        speed: 1.0,
    };
    let text = svg::render(&rec);
    let looks: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("<pattern id="))
        .map(|l| l.split_once(' ').map_or("", |(_, rest)| rest).to_string())
        .collect();
    let distinct: BTreeSet<&String> = looks.iter().collect();
    assert_eq!(looks.len(), STATES.iter().filter(|r| !r.is_blank()).count());
    assert_eq!(distinct.len(), looks.len(), "{looks:#?}");
}

#[test]
fn a_wait_is_said_in_its_resource_terms() {
    let s = scenario(
        &[
            ("go", ResourceKind::Event),
            ("q", ResourceKind::Buffer { capacity: 1 }),
            ("L", ResourceKind::RLock),
            (
                "W",
                ResourceKind::RwLock {
                    prefer_readers: false,
                },
            ),
        ],
        &[
            ("waiter", vec![Op::Wait(0)]),
            ("producer", vec![Op::Put(1)]),
            ("consumer", vec![Op::Take(1)]),
            ("writer", vec![Op::Lock(2), Op::Write(3)]),
        ],
    );
    let words = |st: State, t: u16, step: Option<u32>| st.words(Lang::En, &s, t, step);
    assert_eq!(
        words(State::Condition(0), 0, Some(0)),
        "waiting for event go"
    );
    assert_eq!(words(State::Condition(0), 0, None), "waiting for event go");
    assert_eq!(
        words(State::Condition(1), 1, Some(0)),
        "waiting on q (full)"
    );
    assert_eq!(
        words(State::Condition(1), 2, Some(0)),
        "waiting on q (empty)"
    );
    assert_eq!(words(State::Condition(1), 2, None), "waiting on q");
    assert_eq!(words(State::Locked(2), 3, Some(0)), "blocked on L");
    assert_eq!(words(State::Locked(3), 3, Some(1)), "blocked on W");
    assert_eq!(
        state_words(&s, 0, State::Condition(0), Some(0)),
        "WAITING for event go"
    );
    assert_eq!(
        state_words(&s, 1, State::Condition(1), Some(0)),
        "WAITING on q (full)"
    );

    // On real threads: the event lesson's waiters end their waits named for the event.
    let s = builtin("event");
    let run = Run::start(s.clone(), fast());
    let (_, events) = run_to_end(&run);
    let event = s
        .resources
        .iter()
        .position(|r| matches!(r.kind, ResourceKind::Event))
        .expect("the event lesson has an event");
    let said: Vec<String> = events
        .iter()
        .filter_map(|e| Some((e, State::after(e, &s)?)))
        .filter(|(_, st)| *st == State::Condition(event as u16))
        .map(|(e, st)| st.words(Lang::En, &s, e.thread, Some(e.step)))
        .collect();
    assert!(!said.is_empty(), "somebody waits for the event");
    assert_eq!(State::Condition(0).legend_in(&s), "waiting for event");
    assert_eq!(
        State::Condition(0).legend_in(&builtin("producer-consumer")),
        "waiting on buffer"
    );
    for w in said {
        assert_eq!(w, format!("waiting for event {}", s.resources[event].name));
    }
}
