//! Child processes: each `process` of a scenario is a real OS process, threadlab itself run
//! again (`std::env::current_exe()`) with a hidden command that runs that process's threads
//! with the ordinary engine (`child.rs`).
//!
//! In the parent, one host thread per process ([`host`]) waits for the process's `after=`
//! group, starts the child in a process group of its own that dies with threadlab (the same
//! way the traced Python program is started, `children::never_outlive_threadlab`), hands
//! it the scenario on its stdin, and relays what it records into the run: each event comes
//! back as a line on the child's stdout, stamped on the system's monotonic clock, and is put
//! on the run's own clock, so the one recording holds every process's lanes; a deadlock the
//! child finds among its threads comes back too, and stops the run as any deadlock does. A
//! control thread keeps the child in step with the teacher's pause, resume and speed, and on a
//! reset or the end of the run kills the child's group; the host then reaps it. Each child
//! inherits the pipes of the scenario's `mp-queue`s, which is how its threads and others pass
//! items.
//!
//! Only the run sees every process, so only the run can tell that a thread waiting on an
//! mp-queue waits for good: the deadlock watcher asks every child what its threads are doing
//! (`homes.rs`), and each answers with a [`Snapshot`] once the events up to it are home.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::deadlock::Snapshot;
use super::primitives::Primitive;
use super::recorder::Recorder;
use super::script::{Shared, wait_for_group};
use crate::children::{never_outlive_threadlab, unwatch_group, watch_group};
use crate::scenario::model::{ProcIdx, ResIdx, ResourceKind, ThreadIdx};
use crate::vocab::deadlock::{Blame, Deadlock, WaitEdge, Want};
use crate::vocab::event::{Event, EventKind};

/// The hidden command a child process is started with.
pub const CHILD_COMMAND: &str = "process-child";
/// How often the control thread looks whether the child has ended, between changes.
const CONTROL_LOOK: Duration = Duration::from_millis(50);
/// Runs process `p` of the run as a child and relays its events until it ends or the run is
/// cancelled. Started by `Run::start` on a thread of its own, joined with the workers.
pub(super) fn host(shared: Arc<Shared>, p: ProcIdx, start_paused: bool) {
    let s = &shared.scenario;
    let members: Vec<ThreadIdx> = (0..s.threads.len() as ThreadIdx)
        .filter(|&t| s.threads[t as usize].process == Some(p))
        .collect();
    let mut lanes: Vec<Recorder> = members
        .iter()
        .map(|&t| Recorder::new(t, shared.sink.clone()))
        .collect();
    if wait_for_group(&shared, &s.processes[p as usize].after).is_err() {
        return;
    }
    let spawned_at = shared.clock.raw_now();
    let mut child = match spawn(&shared, p, start_paused) {
        Ok(child) => child,
        Err(why) => {
            for (i, &t) in members.iter().enumerate() {
                finish(&shared, &mut lanes[i], t, Some(why.clone()), spawned_at);
            }
            return;
        }
    };
    let pid = child.id();
    let slot = watch_group(pid as i32);
    for (lane, &t) in lanes.iter_mut().zip(&members) {
        lane.relay(Event {
            t_ns: spawned_at,
            thread: t,
            kind: EventKind::Spawn,
            resource: None,
            by: None,
            step: crate::vocab::event::NO_STEP,
            item: Some(pid),
        });
        lane.flush();
    }
    let ended = Arc::new(AtomicBool::new(false));
    if let Some(stdin) = child.stdin.take() {
        shared.homes.attach(p, stdin);
    }
    let control = {
        let shared = shared.clone();
        let ended = ended.clone();
        std::thread::Builder::new()
            .name(format!("tl-control-{p}"))
            .spawn(move || control(&shared, p, pid as i32, start_paused, &ended))
    };
    let mut failures: Vec<Option<String>> = vec![None; members.len()];
    let mut finished = vec![false; members.len()];
    if let Some(out) = child.stdout.take() {
        let mut reader = BufReader::new(out);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let Some(got) = parse_line(line.trim_end(), &members, s) else {
                continue;
            };
            match got {
                Line::Failure(local, why) => failures[local] = Some(why),
                Line::Answer(round, snapshot) => {
                    // Everything it recorded up to its answer is in the run before the
                    // watcher reads the answer.
                    lanes.iter_mut().for_each(Recorder::flush);
                    shared.homes.answer(p, round, snapshot);
                }
                Line::Deadlock(d) => {
                    lanes.iter_mut().for_each(Recorder::flush);
                    let mut found = shared.deadlock.lock();
                    if found.is_none() {
                        *found = Some(d);
                        drop(found);
                        shared.conductor.pause();
                    }
                }
                Line::Event(local, mut e) => {
                    e.t_ns = shared.clock.mono_to_raw(e.t_ns);
                    if e.kind == EventKind::Start {
                        e.item = Some(pid);
                    }
                    let ends =
                        matches!(e.kind, EventKind::Done | EventKind::Fail | EventKind::Stop);
                    if ends {
                        let why = (e.kind == EventKind::Fail).then(|| failures[local].take());
                        finish_with(&shared, &mut lanes[local], e, why.flatten());
                        finished[local] = true;
                    } else {
                        // A thread of the child waits: the watcher looks across processes
                        // now, not at its next round.
                        let blocks = e.kind == EventKind::Block;
                        lanes[local].relay(e);
                        if blocks {
                            shared.conductor.poke_watcher();
                        }
                    }
                }
            }
            if reader.buffer().is_empty() {
                lanes.iter_mut().for_each(Recorder::flush);
            }
        }
    }
    lanes.iter_mut().for_each(Recorder::flush);
    ended.store(true, Ordering::Release);
    let status = child.wait().ok();
    if let Ok(control) = control {
        let _ = control.join();
    }
    shared.homes.detach(p);
    if let Some(slot) = slot {
        unwatch_group(slot);
    }
    // A child that ended with lanes unfinished crashed (or was killed from outside): its
    // threads failed with it. A cancelled run records nothing more, so this says nothing then.
    let at = shared.clock.raw_now();
    let why = rust_i18n::t!(
        "processes.run.ended_early",
        status = status.map_or_else(|| "?".to_string(), |s| s.to_string())
    )
    .into_owned();
    for (i, &t) in members.iter().enumerate() {
        if !finished[i] && !shared.conductor.cancelled() {
            finish(&shared, &mut lanes[i], t, Some(why.clone()), at);
        }
    }
}

/// A lane of the child's ends with `kind` (or fails with `why`): recorded, then told to the
/// conductor and to every thread waiting `after=` it.
fn finish(shared: &Shared, lane: &mut Recorder, t: ThreadIdx, why: Option<String>, at: u64) {
    let kind = if why.is_some() {
        EventKind::Fail
    } else {
        EventKind::Done
    };
    let e = Event {
        t_ns: at,
        thread: t,
        kind,
        resource: None,
        by: None,
        step: crate::vocab::event::NO_STEP,
        item: None,
    };
    finish_with(shared, lane, e, why);
}

fn finish_with(shared: &Shared, lane: &mut Recorder, e: Event, why: Option<String>) {
    let t = e.thread;
    if e.kind == EventKind::Fail {
        shared.failures.lock()[t as usize] =
            Some(why.unwrap_or_else(|| "failed in its process".into()));
    }
    if !lane.relay(e) {
        shared.failures.lock()[t as usize] = None;
        return;
    }
    lane.flush();
    shared.conductor.finish(t);
    let _g = shared.finished.0.lock();
    shared.finished.1.notify_all();
}

/// Keeps the child's conductor in step with the run's: pause, resume, speed. Kills the child's
/// group when the run is cancelled (a reset, the end of the run, quitting).
fn control(shared: &Shared, p: ProcIdx, pgid: i32, paused: bool, ended: &AtomicBool) {
    let mut seen = (paused, shared.conductor.speed());
    loop {
        let (paused, speed, cancelled) = shared.conductor.await_change(seen, CONTROL_LOOK);
        if cancelled {
            // SAFETY: a plain kill of the child's own process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            return;
        }
        if ended.load(Ordering::Acquire) {
            return;
        }
        // A stopped child answers nothing and its threads cannot move, yet it may be continued:
        // the run waits for it, and says so instead of waiting in silence.
        let stopped = is_stopped(pgid).then_some(pgid as u32);
        if shared.homes.set_stopped(p, stopped) && stopped.is_none() {
            shared.conductor.poke_watcher();
        }
        let mut said = true;
        if paused != seen.0 {
            said = shared
                .homes
                .tell(p, if paused { "pause" } else { "resume" });
        }
        if speed != seen.1 {
            said = said && shared.homes.tell(p, &format!("speed {speed}"));
        }
        if !said {
            return;
        }
        seen = (paused, speed);
    }
}

/// Whether process `pid` is stopped by a signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) or by a
/// tracer: `T` or `t` in `/proc/PID/stat`, the field after the name in parentheses (a name
/// may itself hold a parenthesis, so the last one ends it). Without `/proc` nothing is seen
/// stopped.
fn is_stopped(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "T" || state == "t")
    })
}

/// Starts process `p`'s child: threadlab again, with the scenario on its stdin and the
/// mp-queues' pipes kept open across exec.
fn spawn(shared: &Shared, p: ProcIdx, paused: bool) -> Result<std::process::Child, String> {
    let s = &shared.scenario;
    let exe = threadlab_exe().map_err(|e| format!("cannot find threadlab itself: {e}"))?;
    let queues: Vec<(ResIdx, i32, i32)> = shared
        .primitives
        .iter()
        .enumerate()
        .filter_map(|(r, prim)| match prim {
            Primitive::MpQueue(q) => q.fds().map(|(rd, wr)| (r as ResIdx, rd, wr)),
            _ => None,
        })
        .collect();
    let words: Vec<String> = queues
        .iter()
        .map(|(r, rd, wr)| format!("{r}:{rd}:{wr}"))
        .collect();
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD_COMMAND)
        .arg(p.to_string())
        .arg(shared.conductor.speed().to_string())
        .arg(if paused { "paused" } else { "running" })
        .arg(words.join(","))
        .arg(crate::i18n::current().code())
        .arg(super::work::rate().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let keep: Vec<i32> = queues.iter().flat_map(|&(_, rd, wr)| [rd, wr]).collect();
    never_outlive_threadlab(&mut cmd, move || {
        for &fd in &keep {
            // SAFETY: fcntl on fds this process holds open.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
        }
        Ok(())
    });
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start a process: {e}"))?;
    let header = format!("{}\n{}\n{}\n", s.name, s.origin, s.source.len());
    let sent = child.stdin.as_mut().map(|stdin| {
        stdin
            .write_all(header.as_bytes())
            .and_then(|()| stdin.write_all(s.source.as_bytes()))
            .and_then(|()| stdin.flush())
    });
    if let Some(Err(e)) = sent {
        // SAFETY: a plain kill of the child just started, in its own group.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
        return Err(format!("cannot hand the process its scenario: {e}"));
    }
    Ok(child)
}

/// The threadlab binary to start a child with: `THREADLAB_EXE` if set, else this program if it
/// is threadlab, else the `threadlab` beside the folder this program is in (a test binary in
/// cargo's `target/debug/deps/` runs the engine in-process, and its children must be threadlab).
fn threadlab_exe() -> std::io::Result<std::path::PathBuf> {
    if let Some(exe) = std::env::var_os("THREADLAB_EXE") {
        return Ok(exe.into());
    }
    let me = std::env::current_exe()?;
    if me.file_stem().is_some_and(|s| s == "threadlab") {
        return Ok(me);
    }
    let beside = me
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("threadlab"));
    Ok(beside.filter(|b| b.is_file()).unwrap_or(me))
}

enum Line {
    /// A thread of the child's (its index in the child) and an event, its stamp on the
    /// monotonic clock and its threads the scenario's.
    Event(usize, Event),
    /// Why the child's thread failed, ahead of its `fail` event.
    Failure(usize, String),
    /// A deadlock among the child's threads, in the scenario's numbers.
    Deadlock(Deadlock),
    /// Its answer to the watcher's look of this round, in its own numbers.
    Answer(u64, Snapshot),
}

/// `e MONO THREAD KIND RESOURCE BY STEP ITEM` (`-` for none), `f THREAD REASON`,
/// `d STUCK,… THREAD:RESOURCE:BLAME:BY,…` (the child's deadlock), or `s ROUND SNAPSHOT` (its
/// answer to a look, [`Snapshot::to_words`]).
fn parse_line(
    line: &str,
    members: &[ThreadIdx],
    s: &crate::scenario::model::Scenario,
) -> Option<Line> {
    let (tag, rest) = line.split_once(' ')?;
    if tag == "f" {
        let (t, why) = rest.split_once(' ')?;
        let t: usize = t.parse().ok()?;
        members.get(t)?;
        return Some(Line::Failure(t, why.to_string()));
    }
    if tag == "s" {
        let (round, words) = rest.split_once(' ')?;
        let snapshot = Snapshot::from_words(words, members.len(), s.resources.len())?;
        return Some(Line::Answer(round.parse().ok()?, snapshot));
    }
    if tag == "d" {
        let (stuck, edges) = rest.split_once(' ')?;
        let thread = |t: &str| members.get(t.parse::<usize>().ok()?).copied();
        let stuck = stuck
            .split(',')
            .filter(|t| !t.is_empty())
            .map(thread)
            .collect::<Option<Vec<_>>>()?;
        let cycle = edges
            .split(',')
            .filter(|e| !e.is_empty())
            .map(|e| {
                let [t, r, want, blame, by] = e.split(':').collect::<Vec<_>>()[..] else {
                    return None;
                };
                let by = if by == "-" { None } else { Some(thread(by)?) };
                Some(WaitEdge {
                    thread: thread(t)?,
                    resource: r
                        .parse()
                        .ok()
                        .filter(|&r: &ResIdx| (r as usize) < s.resources.len())?,
                    want: Want::from_name(want)?,
                    blame: Blame::from_name(blame, by)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        return Some(Line::Deadlock(Deadlock { cycle, stuck }));
    }
    if tag != "e" {
        return None;
    }
    let w: Vec<&str> = rest.split(' ').collect();
    let [mono, t, kind, res, by, step, item] = w.as_slice() else {
        return None;
    };
    let opt = |x: &str| -> Option<Option<u32>> {
        if x == "-" {
            Some(None)
        } else {
            x.parse().ok().map(Some)
        }
    };
    let local: usize = t.parse().ok()?;
    let thread = *members.get(local)?;
    let resource = opt(res)?.map(|r| r as ResIdx);
    if resource.is_some_and(|r| r as usize >= s.resources.len()) {
        return None;
    }
    // A take from an mp-queue names its putter as the scenario numbers it already.
    let global_by = resource.is_some_and(|r| s.resources[r as usize].kind == ResourceKind::MpQueue);
    let by = match opt(by)? {
        Some(b) if global_by => Some(b as ThreadIdx).filter(|&b| (b as usize) < s.threads.len()),
        Some(b) => Some(*members.get(b as usize)?),
        None => None,
    };
    Some(Line::Event(
        local,
        Event {
            t_ns: mono.parse().ok()?,
            thread,
            kind: EventKind::from_name(kind)?,
            resource,
            by,
            step: step.parse().ok()?,
            item: opt(item)?,
        },
    ))
}
