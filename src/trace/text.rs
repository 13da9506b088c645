//! The headless text timeline: one fixed-width row per thread, a glyph per state, a time axis,
//! a legend, then the summary in words. Plain text only, never an escape code, so it reads the
//! same in a terminal, a pipe, a log file and a test.
//!
//! Glyphs and words come from the state table, [`STATES`].

use rust_i18n::t;

use crate::cells;
use crate::i18n;
use std::fmt::Write as _;
use std::time::Duration;

use crate::scenario::duration;
use crate::scenario::model::{Scenario, UNBOUNDED};
use crate::trace::summary::{ResourceFigures, Summary};
use crate::trace::timeline::Trace;
use crate::vocab::event::{STATES, State};
use crate::vocab::outcome::Outcome;

/// The glyph for a lane cell; a thread that has not started yet is blank.
fn glyph(state: Option<State>, ascii: bool) -> char {
    state.map_or(' ', |s| s.row().glyph(ascii))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// Lane width in cells.
    pub width: usize,
    /// Plain ASCII only (no block or box-drawing glyphs).
    pub ascii: bool,
}

impl Default for TextOptions {
    fn default() -> TextOptions {
        TextOptions {
            width: 72,
            ascii: false,
        }
    }
}

/// A run time for reports, to the millisecond above 10 ms: `1.204s`, `350ms`, `12.5ms`, `800us`
/// (the live view's `view::fmt_ns` rounds further, to fit a panel title).
pub fn fmt_run_time(ns: u64) -> String {
    let rounded = if ns >= 10_000_000 {
        Duration::from_millis((ns + 500_000) / 1_000_000)
    } else {
        Duration::from_micros((ns + 500) / 1_000)
    };
    duration::format(rounded)
}

/// The title line, lanes, time axis and legend for `[0, end_ns)`.
pub fn render_timeline(trace: &Trace, end_ns: u64, opts: &TextOptions) -> String {
    let s = &**trace.scenario();
    let width = opts.width.max(8);
    let end_ns = end_ns.max(1);
    let name_w = s
        .threads
        .iter()
        .map(|t| cells::width(&t.name))
        .max()
        .unwrap_or(0)
        .min(24);
    let (bar, corner_l, corner_r, rule, tick) = if opts.ascii {
        ('|', '+', '+', '-', '+')
    } else {
        ('│', '└', '┘', '─', '┴')
    };

    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", s.shown_title(), s.name);
    let mut used = [false; STATES.len()];
    let window = trace.cell_window(0, end_ns, width);
    for (i, thread) in s.threads.iter().enumerate() {
        let mut cells = trace.window_cells(i as u16, &window);
        let last = trace.state_at(i as u16, end_ns);
        // A run that ends stuck (a deadlock pauses the clock moments after the last block)
        // may have waited too briefly to win any cell; the last cell shows how it ended.
        if let (Some(cell), Some(state)) = (cells.last_mut(), last)
            && (state.waiting_on().is_some() || matches!(state, State::Failed | State::Cancelled))
        {
            *cell = Some(state);
        }
        let row: String = cells.iter().map(|&c| glyph(c, opts.ascii)).collect();
        for state in cells.into_iter().flatten() {
            used[state.index()] = true;
        }
        let last = last.map_or_else(
            || rust_i18n::t!("summary.not_started").into_owned(),
            |st| {
                st.words(
                    i18n::current(),
                    s,
                    i as u16,
                    trace.step_at(i as u16, end_ns),
                )
            },
        );
        let name = cells::pad(&cells::fit_name(&thread.name, name_w), name_w);
        let _ = writeln!(out, "{name} {bar}{row}{bar} {last}");
    }

    // The corners under the lane's bars are 0 and the end; ticks at the quarters between,
    // each labelled under it (0 flush left, the end flush right, the rest centred).
    let ticks: Vec<usize> = (1..=3).map(|q| q * width / 4).collect();
    let mut axis: Vec<char> = vec![rule; width];
    for &t in &ticks {
        axis[t] = tick;
    }
    let axis: String = axis.into_iter().collect();
    let _ = writeln!(out, "{:name_w$} {corner_l}{axis}{corner_r}", "");
    let line_w = width + 2;
    let mut labels: Vec<char> = vec![' '; line_w];
    let mut free_from = 0;
    for q in 0..=4u64 {
        let text: Vec<char> = if q == 0 {
            vec!['0']
        } else {
            fmt_run_time(end_ns * q / 4).chars().collect()
        };
        let start = match q {
            0 => 0,
            4 => line_w.saturating_sub(text.len()),
            _ => (ticks[q as usize - 1] + 1).saturating_sub(text.len() / 2),
        };
        if start < free_from || start + text.len() > line_w {
            continue;
        }
        labels[start..start + text.len()].copy_from_slice(&text);
        free_from = start + text.len() + 1;
    }
    let labels: String = labels.into_iter().collect();
    let _ = writeln!(out, "{:name_w$} {}", "", labels.trim_end());

    let legend: Vec<String> = STATES
        .iter()
        .zip(used)
        .filter(|(row, used)| *used && !row.is_blank())
        .map(|(row, _)| format!("{} {}", row.glyph(opts.ascii), row.state.legend_in(s)))
        .collect();
    let _ = writeln!(
        out,
        "{}",
        rust_i18n::t!("summary.legend", glyphs = legend.join("  "))
    );
    out
}

/// How a run ended (or that it is still running) after `run_ns` of run time, in words.
pub fn outcome_words(outcome: Option<Outcome>, run_ns: u64) -> String {
    let run = fmt_run_time(run_ns);
    match outcome {
        Some(Outcome::Completed) => rust_i18n::t!("summary.completed", run = run),
        Some(Outcome::Deadlock) => rust_i18n::t!("summary.deadlock", run = run),
        Some(Outcome::Timeout) => rust_i18n::t!("summary.timeout", run = run),
        Some(Outcome::Failed) => rust_i18n::t!("summary.failed", run = run),
        None => rust_i18n::t!("summary.running", run = run),
    }
    .into_owned()
}

/// The summary in words: outcome, deadlock cycle, each thread's time, each resource's figures.
pub fn render_summary(summary: &Summary, scenario: &Scenario) -> String {
    let mut out = String::new();
    let outcome = outcome_words(summary.outcome, (summary.run_time_ms * 1e6) as u64);
    // The heads are one column, as wide as the widest in this language.
    let heads = ["outcome", "cycle", "threads", "resources", "events"]
        .map(|h| crate::i18n::text(&format!("summary.head.{h}")));
    let more = ["head_models"].map(|h| crate::i18n::text(&format!("python_truth.{h}")));
    let head_w = heads
        .iter()
        .chain(&more)
        .map(|h| cells::width(h))
        .max()
        .unwrap_or(0)
        + 2;
    let head = |i: usize| cells::pad(&heads[i], head_w);
    let blank = cells::pad("", head_w);
    let _ = writeln!(out, "{}{outcome}", head(0));
    if let Some(d) = &summary.deadlock {
        let words = d.deadlock(scenario).words(i18n::current(), scenario);
        let _ = writeln!(out, "{}{words}", head(1));
    }
    if !summary.models_words.is_empty() {
        let _ = writeln!(
            out,
            "{}{}",
            cells::pad(&more[0], head_w),
            summary.models_words
        );
    }

    let name_w = summary
        .threads
        .iter()
        .map(|t| cells::width(&t.name))
        .chain(summary.resources.iter().map(|r| cells::width(r.name())))
        .max()
        .unwrap_or(0)
        // A longer name (a program may name a thread with 5,000 letters) is written whole on
        // its own row instead of widening every row to it.
        .min(24);
    for (i, t) in summary.threads.iter().enumerate() {
        let head = if i == 0 { head(2) } else { blank.clone() };
        let times: Vec<String> = t
            .state_ms
            .iter()
            .filter(|&(_, ns)| ns > 0)
            .map(|(state, ns)| format!("{} {}", short_words(state), fmt_run_time(ns)))
            .collect();
        let times = if times.is_empty() {
            rust_i18n::t!("summary.no_time").into_owned()
        } else {
            times.join(&t!("classroom.summary.list_sep"))
        };
        let end = match (&t.failure, t.final_state, &t.waiting_for) {
            (Some(reason), _, _) => t!("classroom.summary.failed", reason = reason).into_owned(),
            (None, "done", _) if t.stopped => rust_i18n::t!(
                "syllabus.daemon.stopped_at",
                at = fmt_run_time((t.finished_ms.unwrap_or(0.0) * 1e6) as u64)
            )
            .into_owned(),
            (None, "cancelled", _) => rust_i18n::t!(
                "asyncio.summary.cancelled_at",
                at = fmt_run_time((t.finished_ms.unwrap_or(0.0) * 1e6) as u64)
            )
            .into_owned(),
            (None, "done", _) => match t.finished_ms {
                Some(ms) => rust_i18n::t!("summary.done_at", at = fmt_run_time((ms * 1e6) as u64))
                    .into_owned(),
                None => short_words("done"),
            },
            (None, state, Some(r)) => {
                rust_i18n::t!("summary.ended_on", state = short_words(state), on = r).into_owned()
            }
            (None, state, None) => {
                rust_i18n::t!("summary.ended", state = short_words(state)).into_owned()
            }
        };
        let name = cells::pad(&t.name, name_w);
        let pid = t.pid.map_or_else(String::new, |pid| {
            t!("processes.summary.in_pid", pid = pid).into_owned()
        });
        let _ = writeln!(
            out,
            "{head}{name}  {pid}{times}{}{end}",
            t!("classroom.summary.end_sep")
        );
    }
    for (i, r) in summary.resources.iter().enumerate() {
        let head = if i == 0 { head(3) } else { blank.clone() };
        let text = match r {
            ResourceFigures::Lock {
                acquisitions,
                waits,
                most_waiters,
                ..
            } => t!(
                "classroom.summary.lock",
                acquisitions = count(*acquisitions, "acquisition"),
                waits = count(*waits, "wait"),
                most = most_waiters
            ),
            ResourceFigures::Event {
                sets,
                waits,
                most_waiters,
                ..
            } => t!(
                "classroom.summary.event",
                sets = count(*sets, "time"),
                waits = count(*waits, "wait"),
                most = most_waiters
            ),
            ResourceFigures::Pool {
                submitted,
                raised,
                collected,
                most_queued,
                ..
            } => t!(
                "syllabus.summary.pool",
                submitted = count(*submitted, "task"),
                raised = raised,
                collected = collected,
                most = most_queued
            ),
            ResourceFigures::Condition {
                notifies,
                lost_notifies,
                waits,
                most_waiters,
                ..
            } => t!(
                "syllabus.summary.condition",
                notified = count(*notifies, "time"),
                lost = lost_notifies,
                waits = count(*waits, "wait"),
                most = most_waiters
            ),
            ResourceFigures::Semaphore {
                permits,
                acquisitions,
                most_holders,
                most_waiters,
                ..
            } => t!(
                "classroom.summary.semaphore",
                permits = count(*permits as u64, "permit"),
                held = most_holders,
                acquisitions = count(*acquisitions, "acquisition"),
                most = most_waiters
            ),
            ResourceFigures::Barrier {
                parties,
                generations,
                ..
            } => t!(
                "classroom.summary.barrier",
                parties = count(*parties as u64, "party"),
                tripped = count(*generations as u64, "time")
            ),
            ResourceFigures::Buffer {
                kind: "mp-queue",
                items_put,
                items_taken,
                consumer_waits,
                ..
            } => t!(
                "processes.summary.mp_queue",
                put = items_put,
                taken = items_taken,
                consumers = count(*consumer_waits, "time")
            ),
            ResourceFigures::Buffer {
                capacity,
                most_fill,
                items_put,
                items_taken,
                producer_waits,
                consumer_waits,
                ..
            } => t!(
                "classroom.summary.buffer",
                capacity = if *capacity == UNBOUNDED {
                    t!("classroom.summary.unbounded").into_owned()
                } else {
                    capacity.to_string()
                },
                fill = most_fill,
                put = items_put,
                taken = items_taken,
                producers = count(*producer_waits, "time"),
                consumers = count(*consumer_waits, "time")
            ),
            ResourceFigures::Gil {
                acquisitions,
                hand_offs,
                drop_requests,
                ..
            } => t!(
                "classroom.summary.gil",
                acquisitions = count(*acquisitions, "acquisition"),
                hand_offs = count(*hand_offs, "hand_off"),
                drops = count(*drop_requests, "drop_request")
            ),
            ResourceFigures::Counter {
                increments,
                value,
                lost_updates,
                ..
            } => t!(
                "classroom.summary.counter",
                increments = count(*increments, "increment"),
                value = value,
                lost = count(*lost_updates, "update")
            ),
            ResourceFigures::EventLoop {
                turns,
                most_ready,
                longest_turn_ms,
                longest_turn_by,
                ..
            } => {
                let longest = match longest_turn_by {
                    Some(t) => t!(
                        "classroom.summary.longest_turn",
                        time = fmt_run_time((longest_turn_ms * 1e6) as u64),
                        who = t
                    )
                    .into_owned(),
                    None => String::new(),
                };
                t!(
                    "classroom.summary.event_loop",
                    turns = count(*turns, "turn"),
                    most = most_ready,
                    longest = longest
                )
            }
        };
        let _ = writeln!(
            out,
            "{head}{}  {}{text}",
            cells::pad(r.name(), name_w),
            t!(
                "classroom.summary.kind",
                kind = crate::scenario::kind_word(r.kind())
            )
        );
    }
    let _ = writeln!(
        out,
        "{}{}",
        head(4),
        rust_i18n::t!(
            "summary.events",
            recorded = summary.events_recorded,
            dropped = summary.events_dropped
        )
    );
    out
}

/// The whole headless report: timeline, then summary.
pub fn render(trace: &Trace, summary: &Summary, end_ns: u64, opts: &TextOptions) -> String {
    let mut out = render_timeline(trace, end_ns, opts);
    out.push('\n');
    out.push_str(&render_summary(summary, trace.scenario()));
    out
}

fn short_words(state: &str) -> String {
    STATES
        .iter()
        .find(|row| row.name == state)
        // A thread that never started has no row: its words are the summary's own.
        .map_or_else(
            || i18n::text_or(&format!("summary.{state}"), state),
            |row| row.short(),
        )
}

/// "1 wait", "3 waits": `n` with the noun's word for one or for many.
fn count(n: u64, noun: &str) -> String {
    let form = if n == 1 { "one" } else { "many" };
    crate::i18n::text(&format!("classroom.summary.noun.{noun}.{form}"))
        .replace("%{n}", &n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::summary::SummaryBuilder;
    use crate::trace::testing::{deadlock_end, deadlock_events, deadlock_scenario};

    const MS: u64 = 1_000_000;

    fn deadlock_report(opts: &TextOptions) -> String {
        let s = deadlock_scenario();
        let mut trace = Trace::new(s.clone());
        trace.push(&deadlock_events());
        let mut b = SummaryBuilder::new(s);
        b.extend(&deadlock_events());
        let end = deadlock_end(200 * MS);
        render(&trace, &b.finish(&end), 200 * MS, opts)
    }

    #[test]
    fn deadlock_report_at_fixed_width() {
        let text = deadlock_report(&TextOptions {
            width: 40,
            ascii: false,
        });
        let expected = "\
A test scenario (test)
T1 │████████████████████LLLLLLLLLLLLLLLLLLLL│ blocked on B
T2 │████████████████████LLLLLLLLLLLLLLLLLLLL│ blocked on A
   └──────────┴─────────┴─────────┴─────────┘
   0        50ms      100ms     150ms   200ms
legend: █ running  L blocked on lock  (blank: done or not started)

outcome    DEADLOCK after 200ms
cycle      T1 waits for B held by T2, T2 waits for A held by T1
models     native threads: they compute at the same time
threads    T1  running 100ms, blocked on a lock 100ms; ended blocked on a lock (B)
           T2  running 101ms, blocked on a lock 99ms; ended blocked on a lock (A)
resources  A   mutex: 1 acquisition, 1 wait, at most 1 waiting at once
           B   mutex: 1 acquisition, 1 wait, at most 1 waiting at once
events     8 recorded, 0 dropped
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_brief_final_wait_still_shows() {
        let s = deadlock_scenario();
        let mut trace = Trace::new(s.clone());
        let mut events = deadlock_events();
        // Blocked only for the last 0.1% of the run, as when a deadlock pauses the clock.
        events[6].t_ns = 199_800_000;
        events[7].t_ns = 199_900_000;
        trace.push(&events);
        let text = render_timeline(
            &trace,
            200 * MS,
            &TextOptions {
                width: 10,
                ascii: true,
            },
        );
        assert!(text.contains("T1 |#########L| blocked on B"), "{text}");
        assert!(text.contains("T2 |#########L| blocked on A"), "{text}");
    }

    #[test]
    fn ascii_safe_variant_is_plain_ascii() {
        let text = deadlock_report(&TextOptions {
            width: 72,
            ascii: true,
        });
        assert!(text.is_ascii(), "{text}");
        assert!(!text.contains('\x1b'));
        let lane = text.lines().nth(1).unwrap();
        assert_eq!(
            lane,
            format!("T1 |{}{}| blocked on B", "#".repeat(36), "L".repeat(36))
        );
        assert!(text.contains("legend: # running  L blocked on lock"));
    }

    #[test]
    fn every_row_is_the_width_asked_for() {
        for width in [8, 13, 72, 200] {
            let text = deadlock_report(&TextOptions {
                width,
                ascii: false,
            });
            let rows: Vec<&str> = text.lines().skip(1).take(3).collect();
            for row in rows {
                let inner = row
                    .chars()
                    .skip(4)
                    .take_while(|&c| c != '│' && c != '┘')
                    .count();
                assert_eq!(inner, width, "{row:?}");
            }
        }
    }

    #[test]
    fn a_thread_not_started_is_blank() {
        assert_eq!(glyph(None, false), ' ');
        assert_eq!(glyph(None, true), ' ');
    }

    #[test]
    fn run_times_for_reports() {
        for (ns, shown) in [
            (0, "0ms"),
            (1_234_567_890, "1.235s"),
            (350_400_000, "350ms"),
            (1_250_000, "1.25ms"),
            (800_000, "800us"),
        ] {
            assert_eq!(fmt_run_time(ns), shown);
        }
    }
}
