//! Recordings: a finished run saved to a file (the scenario's source and every event), so a run
//! prepared before class replays exactly in front of it, and exports need not run anything.
//!
//! The file is one JSON object:
//! `{"format":"threadlab-recording","version":1,"threadlab":"0.1.0","scenario":{name,origin,source[,traced]},
//! "run":{end_ns,outcome,…},"events":[{t_ns,thread,event,resource,by,step,item},…]}`.
//! Events name threads and resources (readable, and robust to reordering in the source) and
//! keep the step index (a `repeat` unrolls to many steps on one line, so a line is not enough).
//! Loading re-parses the source and checks every name and index against it: a file from
//! another version, or damaged, is refused with a message that says which. A traced Python
//! program's source is its script, so its recording also carries the lanes and resources the
//! program grew (`traced`), and loading checks the events against those.

use std::fmt;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::scenario::model::{
    Op, ResIdx, Resource, ResourceKind, Scenario, Step, ThreadIdx, ThreadSpec,
};
use crate::vocab::deadlock::{Blame, Deadlock, WaitEdge, Want};
use crate::vocab::event::{Event, EventKind, EventRecord, NO_STEP};
use crate::vocab::outcome::Outcome;

/// The `format` field of every recording.
pub const FORMAT: &str = crate::scenario::RECORDING_FORMAT;
/// The recording format this build writes and reads.
pub const VERSION: u32 = 1;
/// Recordings larger than this are refused: a recording holds at most the trace's exact log
/// (250 000 events by default), which is well under 64 MiB of JSON.
pub const MAX_BYTES: u64 = 64 << 20;

/// A finished run: the scenario it ran and everything it did, in time order.
#[derive(Debug, Clone)]
pub struct Recording {
    pub scenario: Arc<Scenario>,
    /// Sorted by `t_ns`; equal times keep the order they were recorded in.
    pub events: Vec<Event>,
    /// Run time the recording covers.
    pub end_ns: u64,
    pub outcome: Option<Outcome>,
    pub deadlock: Option<Deadlock>,
    /// Failure reason per thread, indexed by thread.
    pub failures: Vec<Option<String>>,
    pub dropped_events: u64,
    pub speed: f64,
}

/// The code of every error about a recording file.
const RECORDING: &str = "recording";

/// An error about a recording, with what to do about it.
pub(crate) fn recording_error(message: impl Into<String>, help: &str) -> Error {
    Error::new(RECORDING, message).help(help)
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    format: String,
    version: u32,
    /// The threadlab version that wrote it (informational).
    threadlab: String,
    scenario: SourceV1,
    run: RunV1,
    events: Vec<EventV1>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceV1 {
    name: String,
    origin: String,
    source: String,
    /// A traced program's lanes and resources (its source is the Python script, which says
    /// what the code pane shows but not what the lanes were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traced: Option<TracedV1>,
}

/// What a traced Python program grew into while it ran.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TracedV1 {
    resources: Vec<TracedResourceV1>,
    threads: Vec<TracedLaneV1>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TracedResourceV1 {
    name: String,
    /// `mutex`, `rlock`, `semaphore`, `barrier`, `buffer`, `event` or `event-loop`.
    kind: String,
    /// Permits, parties or capacity, for the kinds that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u32>,
    line: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TracedLaneV1 {
    name: String,
    group: String,
    /// The event loop a task runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_loop: Option<String>,
    steps: Vec<TracedStepV1>,
}

/// A line of the script the lane did an operation at, and what the first one there was.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TracedStepV1 {
    line: u32,
    /// `lock`, `unlock`, `wait`, `set`, `put`, `take` or `sleep`.
    op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
}

impl TracedV1 {
    fn of(s: &Scenario) -> TracedV1 {
        let res = |r: ResIdx| s.resource_name(r).to_string();
        TracedV1 {
            resources: s
                .resources
                .iter()
                .map(|r| {
                    let (kind, size) = match r.kind {
                        ResourceKind::Mutex => ("mutex", None),
                        ResourceKind::RLock => ("rlock", None),
                        ResourceKind::Semaphore { permits } => ("semaphore", Some(permits)),
                        ResourceKind::Barrier { parties } => ("barrier", Some(parties)),
                        ResourceKind::Buffer { capacity } => ("buffer", Some(capacity)),
                        ResourceKind::EventLoop => ("event-loop", None),
                        // The tracer's model makes no other kind; an event is the plainest.
                        _ => ("event", None),
                    };
                    TracedResourceV1 {
                        name: r.name.clone(),
                        kind: kind.into(),
                        size,
                        line: r.line,
                    }
                })
                .collect(),
            threads: s
                .threads
                .iter()
                .map(|t| TracedLaneV1 {
                    name: t.name.clone(),
                    group: t.group.clone(),
                    event_loop: t.event_loop.map(res),
                    steps: t
                        .steps
                        .iter()
                        .map(|st| {
                            let (op, r) = match st.op {
                                Op::Lock(r) => ("lock", Some(r)),
                                Op::Unlock(r) => ("unlock", Some(r)),
                                Op::Wait(r) => ("wait", Some(r)),
                                Op::Set(r) => ("set", Some(r)),
                                Op::Put(r) => ("put", Some(r)),
                                Op::Take(r) => ("take", Some(r)),
                                _ => ("sleep", None),
                            };
                            TracedStepV1 {
                                line: st.line,
                                op: op.into(),
                                resource: r.map(res),
                            }
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The model again, or what in the file does not make one.
    fn scenario(&self, source: &SourceV1) -> Result<Scenario, String> {
        let mut resources = Vec::with_capacity(self.resources.len());
        for r in &self.resources {
            let size = || {
                r.size
                    .ok_or_else(|| format!("resource `{}` ({}) has no size", r.name, r.kind))
            };
            let kind = match r.kind.as_str() {
                "mutex" => ResourceKind::Mutex,
                "rlock" => ResourceKind::RLock,
                "semaphore" => ResourceKind::Semaphore { permits: size()? },
                "barrier" => ResourceKind::Barrier { parties: size()? },
                "buffer" => ResourceKind::Buffer { capacity: size()? },
                "event" => ResourceKind::Event,
                "event-loop" => ResourceKind::EventLoop,
                other => {
                    return Err(format!(
                        "resource `{}` is of unknown kind `{other}`",
                        r.name
                    ));
                }
            };
            if resources.iter().any(|x: &Resource| x.name == r.name) {
                return Err(format!("resource `{}` is named twice", r.name));
            }
            resources.push(Resource {
                name: r.name.clone(),
                kind,
                line: r.line,
                asyncio: false,
            });
        }
        let find = |name: &str| {
            resources
                .iter()
                .position(|r| r.name == name)
                .map(|i| i as ResIdx)
                .ok_or_else(|| format!("`{name}` is not one of its resources"))
        };
        if self.threads.len() > crate::scenario::model::MAX_THREADS {
            return Err(format!("it has {} lanes", self.threads.len()));
        }
        let mut threads = Vec::with_capacity(self.threads.len());
        for t in &self.threads {
            if threads.iter().any(|x: &ThreadSpec| x.name == t.name) {
                return Err(format!("lane `{}` is named twice", t.name));
            }
            let mut steps = Vec::with_capacity(t.steps.len());
            for st in &t.steps {
                let r = || find(st.resource.as_deref().unwrap_or_default());
                let op = match st.op.as_str() {
                    "lock" => Op::Lock(r()?),
                    "unlock" => Op::Unlock(r()?),
                    "wait" => Op::Wait(r()?),
                    "set" => Op::Set(r()?),
                    "put" => Op::Put(r()?),
                    "take" => Op::Take(r()?),
                    "sleep" => Op::Sleep(std::time::Duration::ZERO),
                    other => {
                        return Err(format!("lane `{}` has an unknown step `{other}`", t.name));
                    }
                };
                steps.push(Step { op, line: st.line });
            }
            threads.push(ThreadSpec {
                name: t.name.clone(),
                group: t.group.clone(),
                line: steps.first().map_or(0, |s| s.line),
                process: None,
                gil: None,
                after: Vec::new(),
                event_loop: t.event_loop.as_deref().map(find).transpose()?,
                daemon: false,
                steps,
            });
        }
        Ok(Scenario {
            name: source.name.clone(),
            origin: source.origin.clone(),
            source: Arc::from(source.source.as_str()),
            title: source.origin.clone(),
            about: String::new(),
            title_zh: None,
            about_zh: None,
            models: Default::default(),
            traced: true,
            resources,
            threads,
            processes: Vec::new(),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunV1 {
    end_ns: u64,
    /// `completed`, `deadlock`, `timeout`, `failed`, or null.
    outcome: Option<String>,
    speed: f64,
    dropped_events: u64,
    #[serde(default)]
    failures: Vec<FailureV1>,
    #[serde(default)]
    deadlock: Option<DeadlockV1>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailureV1 {
    thread: String,
    reason: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlockV1 {
    cycle: Vec<EdgeV1>,
    stuck: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeV1 {
    thread: String,
    resource: String,
    /// Set only when `blame` is "held_by"; recordings written before `blame` have only this.
    held_by: Option<String>,
    /// "held_by", "only_from" or "nobody" (see `Blame::name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blame: Option<String>,
    /// The thread blamed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    /// What would end the wait (see `Want::name`); recordings written before it was kept
    /// have none, and read the commonest wait on the resource's kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    want: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventV1 {
    t_ns: u64,
    thread: String,
    event: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    /// Index into the thread's (unrolled) script; absent for start and done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item: Option<u32>,
}

impl Recording {
    fn to_file(&self) -> FileV1 {
        let s = &*self.scenario;
        let name = |t: ThreadIdx| s.thread_name(t).to_string();
        FileV1 {
            format: FORMAT.into(),
            version: VERSION,
            threadlab: env!("CARGO_PKG_VERSION").into(),
            scenario: SourceV1 {
                name: s.name.clone(),
                origin: s.origin.clone(),
                source: s.source.to_string(),
                traced: s.traced.then(|| TracedV1::of(s)),
            },
            run: RunV1 {
                end_ns: self.end_ns,
                outcome: self.outcome.map(|o| o.name().to_string()),
                speed: self.speed,
                dropped_events: self.dropped_events,
                failures: self
                    .failures
                    .iter()
                    .enumerate()
                    .filter_map(|(t, r)| {
                        Some(FailureV1 {
                            thread: name(t as ThreadIdx),
                            reason: r.clone()?,
                        })
                    })
                    .collect(),
                deadlock: self.deadlock.as_ref().map(|d| DeadlockV1 {
                    cycle: d
                        .cycle
                        .iter()
                        .map(|e| EdgeV1 {
                            thread: name(e.thread),
                            resource: s.resource_name(e.resource).to_string(),
                            held_by: match e.blame {
                                Blame::HeldBy(h) => Some(name(h)),
                                _ => None,
                            },
                            blame: Some(e.blame.name().to_string()),
                            by: e.blame.by().map(name),
                            want: Some(e.want.name().to_string()),
                        })
                        .collect(),
                    stuck: d.stuck.iter().map(|&t| name(t)).collect(),
                }),
            },
            events: self
                .events
                .iter()
                .map(|e| EventV1 {
                    t_ns: e.t_ns,
                    thread: name(e.thread),
                    event: e.kind,
                    resource: e.resource.map(|r| s.resource_name(r).to_string()),
                    by: e.by.map(name),
                    step: (e.step != NO_STEP).then_some(e.step),
                    item: e.item,
                })
                .collect(),
        }
    }

    /// The recording as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_file()).expect("a recording always serializes")
    }

    /// Writes the recording to `path`, unless it is one of `inputs` (the scenario file the run
    /// was read from): a recording never overwrites what it records.
    pub fn save(&self, path: &Path, inputs: &[&Path]) -> Result<(), Error> {
        let fail = |e: &dyn fmt::Display| {
            recording_error(
                rust_i18n::t!("errors.write_recording", why = e),
                &rust_i18n::t!("errors.record_help"),
            )
        };
        let file = crate::files::create(path, inputs).map_err(|e| fail(&e))?;
        let mut out = BufWriter::new(file);
        let io = |e: std::io::Error| fail(&format!("{}: {e}", path.display()));
        serde_json::to_writer(&mut out, &self.to_file()).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
        out.flush().map_err(io)
    }

    /// Reads a recording from `path`: a regular file of at most [`MAX_BYTES`] (no more than
    /// one byte past that is ever read).
    pub fn load(path: &Path) -> Result<Recording, Error> {
        let shown = path.display();
        let bytes = crate::files::read_limited(path, MAX_BYTES).map_err(|e| {
            if e.code == crate::files::TOO_BIG {
                recording_error(
                    format!("{e}; a recording may be at most {} MiB", MAX_BYTES >> 20),
                    "is this the right file?",
                )
            } else {
                let help = e.help.as_deref().unwrap_or_default();
                recording_error(rust_i18n::t!("errors.read_recording", why = e), help)
            }
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let (line, column) = crate::scenario::not_utf8_at(e.as_bytes());
            recording_error(
                format!(
                    "cannot read the recording {shown}: it is not UTF-8 text (at {shown}:{line}:{column})"
                ),
                "a recording is a JSON text file written by `threadlab run --record`",
            )
        })?;
        if !crate::scenario::looks_like_json(text.as_bytes())
            && let Some(kind) = path.extension().and_then(|x| x.to_str())
            && let Some(command) = match kind {
                "kdl" => Some("run"),
                "py" => Some("trace"),
                _ => None,
            }
        {
            return Err(recording_error(
                rust_i18n::t!("abuse.source_not_recording", path = shown),
                &rust_i18n::t!(
                    "abuse.source_not_recording_help",
                    path = shown,
                    command = command
                ),
            ));
        }
        if is_events_file(&text) {
            return Err(recording_error(
                rust_i18n::t!("abuse.events_not_recording", path = shown),
                &rust_i18n::t!("abuse.events_not_recording_help", path = shown),
            ));
        }
        Recording::from_json(&text).map_err(|e| e.within(shown))
    }

    /// A run's events file (`run --events`, or a Python twin's `--events`) read against the
    /// scenario it is a run of: the same checks as a recording's (every thread and resource
    /// named in the scenario, times in order). A line number becomes the step of that thread
    /// on that line, the next one at or after its last step (a `repeat` has one per round).
    /// The outcome is completed when every thread is done, failed when one failed, and
    /// otherwise not known: a twin stopped by its watchdog leaves no verdict in its events.
    pub fn from_events(path: &Path, scenario: &Scenario) -> Result<Recording, Error> {
        let shown = path.display();
        let bytes = crate::files::read_limited(path, MAX_BYTES).map_err(|e| {
            let help = e.help.as_deref().unwrap_or_default();
            recording_error(rust_i18n::t!("errors.read_recording", why = e), help)
        })?;
        let text = String::from_utf8_lossy(&bytes);
        if looks_like_json_recording(&text) {
            return Err(recording_error(
                rust_i18n::t!("abuse.recording_not_events", path = shown),
                &rust_i18n::t!("abuse.recording_not_events_help", path = shown),
            ));
        }
        let damaged = |detail: String| {
            recording_error(
                rust_i18n::t!("errors.not_recording", detail = detail),
                &rust_i18n::t!("errors.not_recording_help"),
            )
        };
        let mut cursor: Vec<usize> = vec![0; scenario.threads.len()];
        let mut events = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let r: EventRecord = serde_json::from_str(line)
                .map_err(|e| damaged(format!("{shown}:{}: {e}", i + 1)))?;
            let step = match (scenario.thread_index(&r.thread), r.line) {
                (Some(t), Some(line)) => {
                    let steps = &scenario.threads[t as usize].steps;
                    let from = cursor[t as usize];
                    let found = (from..steps.len())
                        .chain(0..from)
                        .find(|&k| steps[k].line == line);
                    if let Some(k) = found {
                        cursor[t as usize] = k;
                    }
                    found.map(|k| k as u32)
                }
                _ => None,
            };
            events.push(EventV1 {
                t_ns: r.t_us.saturating_mul(1000),
                thread: r.thread,
                event: r.event,
                resource: r.resource,
                by: r.by,
                step,
                item: r.item,
            });
        }
        events.sort_by_key(|e| e.t_ns);
        let ended = |kind: EventKind| {
            scenario
                .threads
                .iter()
                .all(|t| events.iter().any(|e| e.thread == t.name && e.event == kind))
        };
        let failed = events.iter().any(|e| e.event == EventKind::Fail);
        let outcome = if failed {
            Some(Outcome::Failed)
        } else if ended(EventKind::Done) {
            Some(Outcome::Completed)
        } else {
            None
        };
        let file = FileV1 {
            format: FORMAT.into(),
            version: VERSION,
            threadlab: env!("CARGO_PKG_VERSION").into(),
            scenario: SourceV1 {
                name: scenario.name.clone(),
                origin: scenario.origin.clone(),
                source: scenario.source.to_string(),
                traced: scenario.traced.then(|| TracedV1::of(scenario)),
            },
            run: RunV1 {
                end_ns: events.last().map_or(0, |e| e.t_ns),
                outcome: outcome.map(|o| o.name().to_string()),
                speed: 1.0,
                dropped_events: 0,
                failures: Vec::new(),
                deadlock: None,
            },
            events,
        };
        let text = serde_json::to_string(&file).expect("a recording always serializes");
        Recording::from_json(&text).map_err(|e| e.within(shown))
    }

    /// Parses recording text, checking it against the scenario it carries.
    pub fn from_json(text: &str) -> Result<Recording, Error> {
        let damaged = |detail: String| {
            recording_error(
                rust_i18n::t!("errors.not_recording", detail = detail),
                &rust_i18n::t!("errors.not_recording_help"),
            )
        };
        let header: Header = serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| damaged(e.to_string()))
            .and_then(|v| {
                serde_json::from_value(v).map_err(|_| {
                    damaged("it has no \"format\" and \"version\" at the top".to_string())
                })
            })?;
        if header.format != FORMAT {
            return Err(damaged(format!(
                "its format is `{}`, not `{FORMAT}`",
                header.format
            )));
        }
        if header.version != VERSION {
            return Err(recording_error(
                format!(
                    "this recording is format version {}, and this threadlab ({}) reads version {VERSION}",
                    header.version,
                    env!("CARGO_PKG_VERSION")
                ),
                "replay it with the threadlab that made it, or record the run again",
            ));
        }
        let file: FileV1 = serde_json::from_str(text).map_err(|e| damaged(e.to_string()))?;
        let scenario = match &file.scenario.traced {
            Some(traced) => traced
                .scenario(&file.scenario)
                .map_err(|e| damaged(format!("its traced program's model is damaged: {e}")))?,
            None => crate::scenario::parse_source(
                &file.scenario.name,
                &file.scenario.origin,
                &file.scenario.source,
            )
            .map_err(|report| {
                damaged(format!(
                    "its scenario does not parse: {}",
                    crate::scenario::render_plain(report.as_ref(), 100).trim()
                ))
            })?,
        };
        let s = &scenario;
        let thread = |name: &str, i: usize| {
            s.thread_index(name).ok_or_else(|| {
                damaged(format!(
                    "event {i} names thread `{name}`, which is not in its scenario"
                ))
            })
        };
        let resource = |name: &str, i: usize| {
            s.resource_index(name).ok_or_else(|| {
                damaged(format!(
                    "event {i} names resource `{name}`, which is not in its scenario"
                ))
            })
        };
        let bad_time = |detail: String| {
            recording_error(
                format!("the recording's times are impossible: {detail}"),
                "a recording's events are in time order and within its run (run.end_ns); \
                 was it edited by hand? Record the run again with `threadlab run SCENARIO --record FILE`",
            )
        };
        let longest = crate::scenario::duration::MAX_RUN;
        if file.run.end_ns > longest.as_nanos() as u64 {
            return Err(bad_time(format!(
                "the run ends at {}, and no run lasts more than {}",
                shown_ns(file.run.end_ns),
                crate::scenario::duration::format(longest)
            )));
        }
        let mut events = Vec::with_capacity(file.events.len());
        let mut last = 0;
        for (i, e) in file.events.iter().enumerate() {
            let t = thread(&e.thread, i)?;
            let step = match e.step {
                Some(n) if (n as usize) < s.threads[t as usize].steps.len() => n,
                Some(n) => {
                    return Err(damaged(format!(
                        "event {i} is at step {n} of {}, which has {} steps",
                        e.thread,
                        s.threads[t as usize].steps.len()
                    )));
                }
                None => NO_STEP,
            };
            if e.t_ns < last {
                return Err(bad_time(format!(
                    "event {i} ({} {}) is at {}, before the event ahead of it at {}",
                    e.thread,
                    e.event.name(),
                    shown_ns(e.t_ns),
                    shown_ns(last)
                )));
            }
            if e.t_ns > file.run.end_ns {
                return Err(bad_time(format!(
                    "event {i} ({} {}) is at {}, after the run's end at {}",
                    e.thread,
                    e.event.name(),
                    shown_ns(e.t_ns),
                    shown_ns(file.run.end_ns)
                )));
            }
            last = e.t_ns;
            events.push(Event {
                t_ns: e.t_ns,
                thread: t,
                kind: e.event,
                resource: e.resource.as_deref().map(|r| resource(r, i)).transpose()?,
                by: e.by.as_deref().map(|b| thread(b, i)).transpose()?,
                step,
                item: e.item,
            });
        }
        let outcome = match file.run.outcome.as_deref() {
            None => None,
            Some(name) => Some(
                Outcome::from_name(name)
                    .ok_or_else(|| damaged(format!("unknown outcome `{name}`")))?,
            ),
        };
        let mut failures = vec![None; s.threads.len()];
        for f in &file.run.failures {
            let t = thread(&f.thread, 0)?;
            failures[t as usize] = Some(f.reason.clone());
        }
        let deadlock = match &file.run.deadlock {
            None => None,
            Some(d) => Some(Deadlock {
                cycle: d
                    .cycle
                    .iter()
                    .map(|e| {
                        let held_by = e.held_by.as_deref().map(|h| thread(h, 0)).transpose()?;
                        let blame = match e.blame.as_deref() {
                            // Written before blame had kinds: a named thread was a holder.
                            None => held_by.map_or(Blame::Nobody, Blame::HeldBy),
                            Some(kind) => {
                                let by = e.by.as_deref().map(|b| thread(b, 0)).transpose()?;
                                Blame::from_name(kind, by)
                                    .filter(|b| match b {
                                        Blame::HeldBy(h) => held_by.is_none_or(|x| x == *h),
                                        _ => held_by.is_none(),
                                    })
                                    .ok_or_else(|| {
                                        damaged(format!(
                                            "its deadlock blames `{kind}` with by {:?} and \
                                             held_by {:?}",
                                            e.by, e.held_by
                                        ))
                                    })?
                            }
                        };
                        let r = resource(&e.resource, 0)?;
                        let want = match e.want.as_deref() {
                            None => Want::of_kind(scenario.resources[r as usize].kind),
                            Some(w) => Want::from_name(w).ok_or_else(|| {
                                damaged(format!("its deadlock wants `{w}`, which is no want"))
                            })?,
                        };
                        Ok(WaitEdge {
                            thread: thread(&e.thread, 0)?,
                            resource: r,
                            want,
                            blame,
                        })
                    })
                    .collect::<Result<_, Error>>()?,
                stuck: d
                    .stuck
                    .iter()
                    .map(|n| thread(n, 0))
                    .collect::<Result<_, _>>()?,
            }),
        };
        if !(0.1..=4.0).contains(&file.run.speed) {
            return Err(damaged(format!(
                "speed {:?} is out of range",
                file.run.speed
            )));
        }
        Ok(Recording {
            scenario: Arc::new(scenario),
            end_ns: file.run.end_ns,
            events,
            outcome,
            deadlock,
            failures,
            dropped_events: file.run.dropped_events,
            speed: file.run.speed,
        })
    }
}

/// Whether `text` is JSON Lines of events (`run --events`): its first line is one object with
/// a time and an event, which a recording (one object holding the run) never is.
fn is_events_file(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .is_some_and(|v| v.get("t_us").is_some() && v.get("event").is_some())
}

/// Whether `text` is a recording (its header says so), given where an events file was due.
fn looks_like_json_recording(text: &str) -> bool {
    crate::scenario::looks_like_json(text.as_bytes())
        && serde_json::from_str::<Header>(text).is_ok_and(|h| h.format == FORMAT)
}

/// Whether `path` looks like a recording rather than a scenario file: it is a regular file and
/// its first non-blank character opens a JSON object (KDL never starts with `{`).
pub fn looks_like_recording(path: &Path) -> bool {
    crate::files::read_head(path, 256).is_some_and(|head| crate::scenario::looks_like_json(&head))
}

/// A run time as a person reads it: `1.250s`, or nanoseconds when it is beyond any run.
fn shown_ns(ns: u64) -> String {
    if ns > crate::scenario::duration::MAX_RUN.as_nanos() as u64 {
        format!("{ns} ns")
    } else {
        format!("{:.3}s", ns as f64 / 1e9)
    }
}
