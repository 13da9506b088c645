//! The child's side of a scenario's `process`: threadlab started again by its parent (see
//! `process.rs`) to run that process's threads with the ordinary engine, its events written
//! to stdout as lines stamped on the system's monotonic clock, its controls read from stdin.

use std::io::{BufRead, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use super::primitives::mp_queue;
use super::run::{Run, RunOptions};
use crate::scenario::model::{ProcIdx, ResIdx};
use crate::vocab::event::EventKind;

/// How long a drain waits for events before it looks whether the run is over, or whether the
/// parent's deadlock watcher asked for an answer (it waits for this process's).
const DRAIN_WAIT: Duration = Duration::from_millis(5);

/// What the parent said a child is to run.
#[derive(Debug, Clone)]
pub struct ChildPlan {
    pub process: ProcIdx,
    pub speed: f64,
    pub paused: bool,
    /// Per mp-queue: the resource, and the read and write ends it inherited.
    pub queues: Vec<(ResIdx, i32, i32)>,
    /// The language its failures are told in.
    pub lang: crate::i18n::Lang,
    /// The parent's calibration of `work` (iterations per ns), so work is the same in both.
    pub rate: f64,
}

impl ChildPlan {
    /// The words `process::spawn` passes: process, speed, `paused`/`running`, `r:read:write,...`,
    /// language, calibration.
    pub fn from_args(args: &[String]) -> Option<ChildPlan> {
        let [process, speed, paused, queues, lang, rate] = args else {
            return None;
        };
        let queues = queues
            .split(',')
            .filter(|q| !q.is_empty())
            .map(|q| {
                let mut it = q.split(':').map(str::parse::<i32>);
                match (it.next(), it.next(), it.next()) {
                    (Some(Ok(r)), Some(Ok(rd)), Some(Ok(wr))) => Some((r as ResIdx, rd, wr)),
                    _ => None,
                }
            })
            .collect::<Option<Vec<_>>>()?;
        Some(ChildPlan {
            process: process.parse().ok()?,
            speed: speed.parse().ok()?,
            paused: paused == "paused",
            queues,
            lang: crate::i18n::Lang::from_code(lang)?,
            rate: rate.parse().ok()?,
        })
    }
}

/// The child's side: reads its scenario from stdin, runs its process's threads, and writes
/// every event (and why a thread failed) to stdout until all of them have ended. Returns
/// the exit code.
pub fn serve(plan: ChildPlan) -> i32 {
    crate::i18n::set(plan.lang);
    super::work::adopt_rate(plan.rate);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut header = String::new();
    let mut read_line = |input: &mut std::io::StdinLock| -> Option<String> {
        header.clear();
        input.read_line(&mut header).ok()?;
        Some(header.trim_end().to_string())
    };
    let (Some(name), Some(origin), Some(len)) = (
        read_line(&mut input),
        read_line(&mut input),
        read_line(&mut input).and_then(|l| l.parse::<usize>().ok()),
    ) else {
        return 2;
    };
    let mut source = vec![0u8; len];
    if input.read_exact(&mut source).is_err() {
        return 2;
    }
    let Ok(source) = String::from_utf8(source) else {
        return 2;
    };
    let Ok(scenario) = crate::scenario::parse_source(&name, &origin, &source) else {
        return 2;
    };
    if plan.process as usize >= scenario.processes.len() {
        return 2;
    }
    let (part, members) = scenario.process_part(plan.process);
    mp_queue::inherit(plan.queues, members);
    let run = Arc::new(Run::start(
        Arc::new(part),
        RunOptions {
            speed: plan.speed,
            start_paused: plan.paused,
        },
    ));
    drop(input);
    // The watcher's looks: what this process's threads do at the moment it asked, answered
    // once the events up to that moment are written.
    let (asked_tx, asked) = crossbeam::channel::unbounded::<(u64, super::deadlock::Snapshot)>();
    {
        let run = run.clone();
        // The parent's controls, a line each; its end (threadlab gone) ends this process.
        let _ = std::thread::Builder::new()
            .name("tl-parent".into())
            .spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    match line.split_once(' ') {
                        Some(("speed", x)) => {
                            if let Ok(x) = x.parse() {
                                run.set_speed(x);
                            }
                        }
                        Some(("look", round)) => {
                            if let Ok(round) = round.parse() {
                                let _ = asked_tx.send((round, run.snapshot()));
                            }
                        }
                        _ if line == "pause" => run.pause(),
                        _ if line == "resume" => run.resume(),
                        _ => {}
                    }
                }
                std::process::exit(1);
            });
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut events = Vec::new();
    let mut told_deadlock = false;
    loop {
        let over = run.is_finished() && run.settled();
        let answers: Vec<_> = asked.try_iter().collect();
        events.clear();
        run.drain_mono(&mut events, DRAIN_WAIT);
        for e in &events {
            if e.kind == EventKind::Fail
                && let Some(why) = run.failure(e.thread)
            {
                let _ = writeln!(out, "f {} {}", e.thread, why.replace('\n', " "));
            }
            let opt = |x: Option<u32>| x.map_or_else(|| "-".to_string(), |x| x.to_string());
            let _ = writeln!(
                out,
                "e {} {} {} {} {} {} {}",
                e.t_ns,
                e.thread,
                e.kind.name(),
                opt(e.resource.map(u32::from)),
                opt(e.by.map(u32::from)),
                e.step,
                opt(e.item)
            );
        }
        for (round, snapshot) in answers {
            let _ = writeln!(out, "s {round} {}", snapshot.to_words());
        }
        // Its own deadlock, once its events up to it are home: the parent's run stops on it.
        if !told_deadlock && let Some(d) = run.deadlock() {
            told_deadlock = true;
            let edges: Vec<String> = d
                .cycle
                .iter()
                .map(|e| {
                    let by = e
                        .blame
                        .by()
                        .map_or_else(|| "-".to_string(), |b| b.to_string());
                    format!(
                        "{}:{}:{}:{}:{by}",
                        e.thread,
                        e.resource,
                        e.want.name(),
                        e.blame.name()
                    )
                })
                .collect();
            let stuck: Vec<String> = d.stuck.iter().map(|t| t.to_string()).collect();
            let _ = writeln!(out, "d {} {}", stuck.join(","), edges.join(","));
        }
        if out.flush().is_err() {
            return 1;
        }
        if over {
            return 0;
        }
    }
}
