//! A real Python program, watched: `threadlab trace script.py`. The interpreter runs the
//! script unmodified under a tracer shipped in this binary ([`child`]); its records become the
//! run's vocabulary through a model that grows with the program ([`model`]); this file drives
//! one traced run to its end: the script exits, a deadlock is found, or time is up.
//!
//! The real interpreter does all the waiting. What the tracer cannot see is not drawn as if
//! known: between two traced operations a lane is "running", whether it computes, waits for
//! the GIL or waits on something untraced (a socket, a file, a subprocess).

pub mod child;
pub mod model;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::RecvTimeoutError;

use crate::engine::clock::RunClock;
use crate::scenario::model::{Scenario, ThreadIdx};
use crate::vocab::deadlock::Deadlock;
use crate::vocab::event::{Event, EventKind};
use child::{Child, Spawn, StartError};
use model::{Model, Record};

/// How long nothing must happen, with every live lane waiting, before the program is judged
/// stuck (waits that only untraced code could end look the same for that long).
pub const QUIET: Duration = Duration::from_millis(300);

/// How long `--for` lets an interpreter take to start (to its first record) when it is
/// shorter: the program's run time begins there.
const STARTING: Duration = Duration::from_secs(10);

/// How a traced run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The interpreter exited: its exit code, or the signal that ended it.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// Its lanes wait for each other: the interpreter was killed.
    Deadlock,
    /// `--for` ran out: the interpreter was killed.
    TimeUp,
}

/// One traced run in progress.
pub struct Tracing {
    child: Child,
    model: Model,
    events: Vec<Event>,
    /// Run time: the tracer stamps records on the monotonic clock from this clock's origin,
    /// and the clock stops while the gate holds the program, so a pause leaves no hole.
    clock: RunClock,
    for_: Option<Duration>,
    last_record: Instant,
    /// A step was granted and its thread has not been held again: run time goes on.
    stepping: bool,
    /// Run time of the first record: the run starts there, not while the interpreter starts.
    base_ns: Option<u64>,
    /// Run time when threadlab stopped the program (a deadlock, `--for`): its lanes waited
    /// until then, after their last record.
    stopped_ns: Option<u64>,
    deadlock: Option<Deadlock>,
    end: Option<End>,
}

impl Tracing {
    /// Starts `spec.script` under the tracer.
    pub fn start(spec: &Spawn, for_: Option<Duration>) -> Result<Tracing, StartError> {
        let source = std::fs::read(&spec.script).map_err(|e| StartError {
            message: rust_i18n::t!(
                "replay_truth.python.read_script",
                path = spec.script.display(),
                why = e
            )
            .into_owned(),
            help: rust_i18n::t!("replay_truth.python.script_help").into_owned(),
        })?;
        let source = String::from_utf8_lossy(&source);
        let clock = RunClock::new();
        if spec.paused {
            clock.stop();
        }
        let child = Child::spawn(spec, clock.origin())?;
        let script = spec.script.to_string_lossy();
        Ok(Tracing {
            child,
            model: Model::new(&script, &source),
            events: Vec::new(),
            clock,
            for_,
            last_record: Instant::now(),
            stepping: false,
            base_ns: None,
            stopped_ns: None,
            deadlock: None,
            end: None,
        })
    }

    pub fn child(&self) -> &Child {
        &self.child
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Every event so far, in the order the tracer wrote them.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn deadlock(&self) -> Option<&Deadlock> {
        self.deadlock.as_ref()
    }

    /// Run time now; once the run has ended, its end: the moment threadlab stopped it, or
    /// its last record's time.
    pub fn now_ns(&self) -> u64 {
        let last = self.model.last_t_ns;
        match (self.end, self.base_ns) {
            (None, Some(base)) => self.clock.now().saturating_sub(base).max(last),
            _ => self.stopped_ns.unwrap_or(last).max(last),
        }
    }

    /// Closes the gate: each thread stops at its next traced operation, and run time stops.
    pub fn pause(&mut self) {
        self.child.pause();
        self.stepping = false;
        self.clock.stop();
    }

    /// Opens the gate; run time goes on.
    pub fn resume(&mut self) {
        self.child.resume();
        self.stepping = false;
        self.clock.start();
    }

    /// While paused, lets one held thread (the one whose ident is `ident`, or any) pass one
    /// operation; run time goes on until a thread is held again.
    pub fn step(&mut self, ident: Option<u64>) {
        self.child.pause();
        self.stepping = true;
        self.clock.start();
        self.child.step(ident);
    }

    /// Takes the records that arrive within `wait` and judges whether the run has ended.
    pub fn poll(&mut self, wait: Duration) -> Option<End> {
        if self.end.is_some() {
            return self.end;
        }
        let mut blocked = false;
        match self.child.records().recv_timeout(wait) {
            Ok(line) => {
                blocked |= self.take(line);
                while let Ok(line) = self.child.records().try_recv() {
                    blocked |= self.take(line);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // Every process holding the pipe has gone: the interpreter is ending.
                let status = self.child.wait_for(Duration::from_secs(5));
                let end = match status {
                    Some(s) => exited(s),
                    None => {
                        self.child.kill();
                        End::Exited {
                            code: None,
                            signal: Some(libc::SIGKILL),
                        }
                    }
                };
                return self.finish(end);
            }
        }
        let quiet = self.last_record.elapsed() >= QUIET;
        if (blocked || quiet)
            && let Some(d) = self.model.deadlock(quiet)
        {
            self.deadlock = Some(d);
            self.stop();
            return self.finish(End::Deadlock);
        }
        // Run time, as drawn, starts at the program's first record: the interpreter's own
        // start (seconds on a busy machine) is not the program's time. An interpreter that
        // has not started after `STARTING` is stopped all the same.
        let (ran, limit) = match self.base_ns {
            Some(base) => (self.clock.now().saturating_sub(base), self.for_),
            None => (self.clock.now(), self.for_.map(|l| l.max(STARTING))),
        };
        if let Some(limit) = limit
            && ran >= limit.as_nanos() as u64
        {
            self.stop();
            return self.finish(End::TimeUp);
        }
        if let Some(s) = self.child.try_wait() {
            // Forked children may still hold the pipe: they end with the group.
            self.drain(Duration::from_millis(500));
            self.child.kill();
            return self.finish(exited(s));
        }
        None
    }

    /// Polls until the run ends.
    pub fn run_to_end(&mut self) -> End {
        loop {
            if let Some(end) = self.poll(Duration::from_millis(20)) {
                return end;
            }
        }
    }

    /// Whether the record was a block (the moment a cycle can close).
    fn take(&mut self, record: Option<Record>) -> bool {
        self.last_record = Instant::now();
        let Some(mut r) = record else {
            self.model.skipped += 1;
            return false;
        };
        let run = self.clock.wall_to_run(r.t_ns);
        let base = *self.base_ns.get_or_insert(run);
        r.t_ns = run.saturating_sub(base);
        let from = self.events.len();
        self.model.absorb(&r, &mut self.events);
        let new = &self.events[from..];
        if self.stepping && new.iter().any(|e| e.kind == EventKind::Hold) {
            // The step is over: a thread is held at the gate again.
            self.stepping = false;
            self.clock.stop();
        }
        new.iter().any(|e| e.kind == EventKind::Block)
    }

    fn drain(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.child.records().recv_timeout(left) {
                Ok(line) => {
                    self.take(line);
                }
                Err(_) => break,
            }
        }
    }

    /// Kills the program, noting the run time it is stopped at: a lane waiting at its last
    /// record is drawn waiting until then, not cut off where it began to wait.
    fn stop(&mut self) {
        if let Some(base) = self.base_ns {
            self.stopped_ns = Some(self.clock.now().saturating_sub(base));
        }
        self.child.kill();
    }

    fn finish(&mut self, end: End) -> Option<End> {
        self.drain(Duration::from_millis(200));
        self.end = Some(end);
        self.end
    }

    /// The model and every event, once the run has ended.
    pub fn into_parts(self) -> Traced {
        Traced {
            scenario: self.model.snapshot(),
            failures: self.model.failures().to_vec(),
            skipped: self.model.skipped,
            end_ns: self.stopped_ns.unwrap_or(0).max(self.model.last_t_ns),
            events: self.events,
            deadlock: self.deadlock,
            outside: self.model.outside_waits(),
            end: self.end,
        }
    }
}

/// What a finished traced run left.
#[derive(Debug, Clone)]
pub struct Traced {
    pub scenario: Arc<Scenario>,
    pub events: Vec<Event>,
    pub failures: Vec<Option<String>>,
    pub deadlock: Option<Deadlock>,
    /// The lanes waiting for the world outside the program when it ended, each with what it
    /// waits in (`accept()`).
    pub outside: Vec<(ThreadIdx, String)>,
    pub end: Option<End>,
    pub end_ns: u64,
    /// Records that were not drawn (lanes past the most a run has, lines that were not
    /// records).
    pub skipped: u64,
}

impl Traced {
    /// Each stuck lane of the deadlock with the script line of its last operation.
    pub fn stuck_at(&self) -> Vec<(String, Option<u32>)> {
        let Some(d) = &self.deadlock else {
            return Vec::new();
        };
        d.stuck.iter().map(|&t| self.lane_at(t)).collect()
    }

    /// A lane's name and the script line of its last operation.
    pub fn lane_at(&self, t: ThreadIdx) -> (String, Option<u32>) {
        let line = self
            .events
            .iter()
            .rev()
            .filter(|e| e.thread == t)
            .find_map(|e| self.scenario.threads[t as usize].steps.get(e.step as usize))
            .map(|s| s.line);
        (self.scenario.thread_name(t).to_string(), line)
    }
}

fn exited(s: std::process::ExitStatus) -> End {
    use std::os::unix::process::ExitStatusExt;
    End::Exited {
        code: s.code(),
        signal: s.signal(),
    }
}
