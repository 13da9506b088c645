//! What one scenario thread does, on its own OS thread or as a task on the event loop: its
//! script step by step, each step on its primitive, and its end (done, failed or cancelled).
//! `Shared` is what every thread of a run and the run's handle hold in common.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::clock::RunClock;
use super::conductor::{Conductor, Flow, Halt};
use super::primitives::pool::{Collect, Next};
use super::primitives::{Cx, Primitive, counter::WINDOW, gil::Gil, mutex::Mutex as LockPrimitive};
use super::recorder::{Recorder, Sink};
use super::work;
use crate::scenario::model::{Guard, Op, ResIdx, ResourceKind, Scenario, ThreadIdx};
use crate::vocab::deadlock::Deadlock;
use crate::vocab::event::EventKind;

pub(super) struct Shared {
    pub(super) scenario: Arc<Scenario>,
    pub(super) names: Vec<String>,
    pub(super) conductor: Conductor,
    pub(super) primitives: Vec<Primitive>,
    pub(super) sink: Arc<Sink>,
    pub(super) clock: Arc<RunClock>,
    pub(super) failures: Mutex<Vec<Option<String>>>,
    pub(super) deadlock: Mutex<Option<Deadlock>>,
    /// Signalled whenever a thread finishes, for threads that start `after` a group.
    pub(super) finished: (Mutex<()>, Condvar),
    /// Per thread: the step a `timeout=` back-off would start again from (the step that took
    /// the first of what it holds), or [`HOLDS_NOTHING`]. The deadlock watcher reads it to
    /// know how far back a thread's script can still come round.
    pub(super) holds_since: Vec<AtomicU32>,
    /// The run's line to each of its child processes.
    pub(super) homes: super::homes::Homes,
    /// The scenario's OS threads and its tasks, being started and measured.
    pub(super) starting_threads: super::footprint::Starting,
    pub(super) starting_tasks: super::footprint::Starting,
}

/// `holds_since` of a thread that holds nothing.
pub(super) const HOLDS_NOTHING: u32 = u32::MAX;

/// One scenario thread, from start to done, failed or cancelled.
pub(super) fn worker(shared: &Shared, me: ThreadIdx) {
    shared.starting_threads.started();
    shared.starting_threads.wait_open();
    let mut rec = Recorder::new(me, shared.sink.clone());
    if shared.scenario.threads[me as usize].daemon {
        shared.conductor.enter_daemon();
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| run_script(shared, me, &mut rec)))
        .unwrap_or_else(|panic| Err(panicked(panic)));
    // A daemon stopped where it was: its end belongs to the step it was in.
    let stopped_at = rec.step;
    let outcome = match outcome {
        Err(Halt::Cancelled) if shared.conductor.daemon_stopped(me) => Err(Halt::Stopped),
        other => other,
    };
    rec.step = crate::vocab::event::NO_STEP;
    // A thread that ends gives up the GIL, as a CPython thread does when it exits.
    if let Some(gil) = gil_of(shared, me) {
        gil.drop_gil(&mut cx(shared, me, &mut rec));
    }
    if matches!(outcome, Err(Halt::Stopped)) {
        rec.step = stopped_at;
    }
    end(shared, me, &mut rec, outcome);
}

/// A worker's panic, as the failure it stands for.
pub(super) fn panicked(panic: Box<dyn std::any::Any + Send>) -> Halt {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Halt::Failed(format!("panicked: {what}"))
}

/// The end of a thread or a task: done, failed or cancelled, said once to everyone waiting.
pub(super) fn end(shared: &Shared, me: ThreadIdx, rec: &mut Recorder, outcome: Flow) {
    // A thread that was cancelled, or whose end came after the run was closed (so that its end
    // was not recorded), did not finish in this run: after `Run::end`, "finished" still means
    // every thread came to an end that its events show.
    let ended = match outcome {
        Ok(()) => rec.emit(EventKind::Done, None, None, None),
        Err(Halt::Failed(reason)) => {
            shared.failures.lock()[me as usize] = Some(reason);
            let recorded = rec.emit(EventKind::Fail, None, None, None);
            if !recorded {
                shared.failures.lock()[me as usize] = None;
            }
            recorded
        }
        Err(Halt::Stopped) => rec.emit(EventKind::Stop, None, None, None),
        Err(Halt::TaskCancelled(by)) => rec.emit(EventKind::Cancelled, None, by, None),
        Err(Halt::Cancelled) => false,
    };
    if !ended {
        return;
    }
    rec.flush();
    // The program's last thread has ended: wake every wait, so its daemons see they stop.
    if shared.conductor.finish(me) {
        for p in &shared.primitives {
            p.wake_all();
        }
    }
    let _g = shared.finished.0.lock();
    shared.finished.1.notify_all();
}

pub(super) fn cx<'a>(shared: &'a Shared, me: ThreadIdx, rec: &'a mut Recorder) -> Cx<'a> {
    Cx {
        me,
        rec,
        conductor: &shared.conductor,
        names: &shared.names,
    }
}

fn gil_of(shared: &Shared, me: ThreadIdx) -> Option<&Gil> {
    let r = shared.scenario.threads[me as usize].gil?;
    match shared.primitives.get(r as usize)? {
        Primitive::Gil(g) => Some(g),
        _ => None,
    }
}

fn run_script(shared: &Shared, me: ThreadIdx, rec: &mut Recorder) -> Flow {
    let spec = &shared.scenario.threads[me as usize];
    shared.conductor.awaits_group(me, !spec.after.is_empty());
    let started = wait_for_group(shared, &spec.after);
    shared.conductor.awaits_group(me, false);
    started?;
    // A worker of the event loop's executor is started by the first call handed to it, as
    // CPython's ThreadPoolExecutor starts its threads.
    if let Some(Op::RunNext(r)) = spec.steps.first().map(|s| s.op)
        && let Primitive::Pool(pool) = &shared.primitives[r as usize]
        && pool.is_executor()
        && !pool.until_called(&shared.conductor)?
    {
        return Ok(());
    }
    let conductor = &shared.conductor;
    let gil = gil_of(shared, me);
    rec.emit(EventKind::Start, None, None, None);
    // A thread under a GIL holds it while it computes: from the first of a run of CPU steps
    // (work, an increment) to the next step that leaves the CPU (I/O, a lock, the end). Holding it
    // only there is what CPython does that a lesson can see, and it lets a paused thread leave
    // the others free to be stepped through any interleaving.
    let mut holding = false;
    let cpu_step = |at: usize| {
        spec.steps.get(at).is_some_and(|s| match s.op {
            Op::Work(_) => true,
            Op::Increment(_) => gil.is_some(),
            _ => false,
        })
    };
    // What the thread holds, for backing off after a `timeout=`.
    let mut held = Held {
        taken: Vec::new(),
        since: 0,
        published: &shared.holds_since[me as usize],
    };
    let mut at = 0;
    while let Some(step) = spec.steps.get(at) {
        let i = at as u32;
        at += 1;
        rec.step = i;
        // Leaving the CPU: give the GIL up before the gate, so a paused thread holds none.
        if holding && !cpu_step(at - 1) {
            if let Some(g) = gil {
                g.drop_gil(&mut cx(shared, me, rec));
            }
            holding = false;
        }
        conductor.before_step(me, i, rec)?;
        match step.op {
            Op::Work(_) | Op::Increment(_) if gil.is_some() => {
                let g = gil.expect("guarded");
                if !holding {
                    g.take(&mut cx(shared, me, rec))?;
                    holding = true;
                }
                match step.op {
                    Op::Work(d) => work_step(shared, me, i, d, gil, rec)?,
                    Op::Increment(r) => increment_under_gil(shared, me, r, g, rec)?,
                    _ => unreachable!("guarded"),
                }
            }
            Op::Work(d) => work_step(shared, me, i, d, None, rec)?,
            Op::RunNext(r) => {
                let Primitive::Pool(pool) = &shared.primitives[r as usize] else {
                    return Err(Halt::Failed(format!(
                        "`run-next` cannot be used on {}",
                        shared.scenario.resource_name(r)
                    )));
                };
                // Waiting for a task leaves the CPU (the GIL was given back before the gate);
                // the task's own work is computing, under the GIL.
                match pool.next(&mut cx(shared, me, rec))? {
                    // A shut-down pool with nothing queued: the worker's loop ends.
                    Next::Shutdown => {
                        conductor.after_step(me, i);
                        break;
                    }
                    // A blocking call waits off the CPU, without the GIL, as blocking I/O
                    // does in CPython.
                    Next::Call(n, call) => {
                        rec.emit(EventKind::Sleep, None, None, None);
                        rec.flush();
                        conductor.sleep(me, i, call, rec)?;
                        pool.complete(&mut cx(shared, me, rec), n);
                    }
                    Next::Task(n, work, _) => {
                        if let Some(g) = gil {
                            g.take(&mut cx(shared, me, rec))?;
                            holding = true;
                        }
                        work_step(shared, me, i, work, gil, rec)?;
                        pool.complete(&mut cx(shared, me, rec), n);
                    }
                }
            }
            Op::Sleep(d) => {
                // I/O happens without the GIL.
                rec.emit(EventKind::Sleep, None, None, None);
                rec.flush();
                conductor.sleep(me, i, d, rec)?;
            }
            op => {
                if let Op::TryLock {
                    resource,
                    timeout,
                    backoff,
                    jitter,
                } = op
                {
                    if try_lock(shared, me, resource, timeout, rec)? {
                        held.took(resource, i as usize);
                    } else {
                        let most = backoff.unwrap_or(timeout);
                        let pause = if jitter { random_up_to(most, me) } else { most };
                        at = back_off(shared, me, i, &mut held, pause, rec)?;
                    }
                } else {
                    sync_step(shared, me, op, rec)?;
                    // `item = q.get(); if item is None: break`: a sentinel ends the script.
                    let sentinel = |r: ResIdx| match &shared.primitives[r as usize] {
                        Primitive::Buffer(b) => b.took_sentinel(me),
                        Primitive::MpQueue(q) => q.took_sentinel(me),
                        _ => false,
                    };
                    if op.takes().is_some_and(sentinel) {
                        conductor.after_step(me, i);
                        break;
                    }
                    match op {
                        Op::Lock(r) | Op::Read(r) | Op::Write(r) | Op::Acquire(r) => {
                            held.took(r, i as usize)
                        }
                        Op::Unlock(r) | Op::Release(r) => held.gave_back(r),
                        _ => {}
                    }
                }
            }
        }
        conductor.after_step(me, i);
    }
    Ok(())
}

pub(super) fn work_step(
    shared: &Shared,
    me: ThreadIdx,
    step: u32,
    nominal: Duration,
    gil: Option<&Gil>,
    rec: &mut Recorder,
) -> Flow {
    let conductor = &shared.conductor;
    rec.emit(EventKind::Run, None, None, None);
    rec.flush();
    let total = nominal.as_nanos() as f64;
    let slice = work::SLICE.as_nanos() as f64;
    let mut done = 0.0;
    while done < total {
        if conductor.gate(me, step, rec)? {
            rec.restate(EventKind::Run);
        }
        if let Some(g) = gil
            && g.drop_requested()
        {
            g.switch(&mut cx(shared, me, rec))?;
            rec.emit(EventKind::Run, None, None, None);
            rec.flush();
        }
        let speed = conductor.speed();
        let this = slice.min((total - done) / speed);
        work::burn(Duration::from_nanos(this.max(1.0) as u64));
        done += this * speed;
    }
    Ok(())
}

/// `hits += 1` in a thread under the GIL: the read, the add and the write run holding the GIL.
/// A switch can fall between read and write only if a drop request is pending at the one
/// check inside the increment, as CPython's eval loop may switch between two bytecodes: rare,
/// because the increment is short beside the work around it.
fn increment_under_gil(
    shared: &Shared,
    me: ThreadIdx,
    r: ResIdx,
    g: &Gil,
    rec: &mut Recorder,
) -> Flow {
    let Primitive::Counter(c) = &shared.primitives[r as usize] else {
        return sync_step(shared, me, Op::Increment(r), rec);
    };
    c.increment(
        &mut cx(shared, me, rec),
        super::primitives::counter::GIL_WINDOW,
        |cx| {
            if g.drop_requested() {
                g.switch(cx)?;
                cx.rec.emit(EventKind::Run, None, None, None);
                cx.rec.flush();
            }
            Ok(())
        },
    )
}

fn try_lock(
    shared: &Shared,
    me: ThreadIdx,
    r: ResIdx,
    timeout: Duration,
    rec: &mut Recorder,
) -> Result<bool, Halt> {
    match &shared.primitives[r as usize] {
        Primitive::Mutex(m) => m.lock_for(&mut cx(shared, me, rec), timeout),
        _ => Err(Halt::Failed(format!(
            "`lock … timeout=` cannot be used on {}",
            shared.scenario.resource_name(r)
        ))),
    }
}

/// Everything a thread holds (locks, rlock levels, rwlock shares, permits), in the order it took
/// them, and where it last held nothing. A back-off gives all of it back and starts again from
/// there, so the thread re-runs its steps holding exactly what it held the first time, and
/// never gives back what it does not hold: what `check` verifies along the script holds on
/// every retry.
struct Held<'a> {
    taken: Vec<ResIdx>,
    /// The step that took the first of them.
    since: usize,
    /// Where the watcher reads `since` (written only when the thread goes from holding nothing
    /// to holding something and back, so a busy thread pays nothing per lock).
    published: &'a AtomicU32,
}

impl Held<'_> {
    fn took(&mut self, r: ResIdx, step: usize) {
        if self.taken.is_empty() {
            self.since = step;
            self.published.store(step as u32, Ordering::Release);
        }
        self.taken.push(r);
    }

    fn gave_back(&mut self, r: ResIdx) {
        if let Some(k) = self.taken.iter().rposition(|&h| h == r) {
            self.taken.remove(k);
            if self.taken.is_empty() {
                self.published.store(HOLDS_NOTHING, Ordering::Release);
            }
        }
    }
}

/// After a lock timed out: give back everything held (latest first), sleep `pause`, and return
/// the step to start again from: the one after which the thread last held nothing (or the lock
/// that timed out, if it holds nothing).
fn back_off(
    shared: &Shared,
    me: ThreadIdx,
    step: u32,
    held: &mut Held,
    pause: Duration,
    rec: &mut Recorder,
) -> Result<usize, Halt> {
    let restart = if held.taken.is_empty() {
        step as usize
    } else {
        held.since
    };
    // `published` keeps naming `restart` until the thread is back there and takes it again:
    // until then the watcher must count the steps from `restart` on as still to come.
    while let Some(r) = held.taken.pop() {
        let mut cx = cx(shared, me, rec);
        match &shared.primitives[r as usize] {
            Primitive::Mutex(m) => m.unlock(&mut cx)?,
            Primitive::RwLock(l) => l.unlock(&mut cx)?,
            Primitive::Semaphore(s) => s.release(&mut cx)?,
            _ => {}
        }
    }
    // The back-off's length goes with its sleep, so the log can say how long it steps aside.
    let us = u32::try_from(pause.as_micros()).unwrap_or(u32::MAX);
    rec.emit(EventKind::Sleep, None, None, Some(us));
    rec.flush();
    shared.conductor.sleep(me, step, pause, rec)?;
    Ok(restart)
}

/// A random duration in (0, max]: random back-off is what keeps two polite threads from
/// stepping aside in lockstep forever.
fn random_up_to(max: Duration, me: ThreadIdx) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // Each RandomState is freshly keyed: enough randomness for a back-off.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u16(me);
    let frac = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(frac.max(0.05))
}

fn sync_step(shared: &Shared, me: ThreadIdx, op: Op, rec: &mut Recorder) -> Flow {
    let r = op.resource().expect("a sync step names a resource");
    let prim = &shared.primitives[r as usize];
    let mut cx = cx(shared, me, rec);
    let wrong = || {
        Halt::Failed(format!(
            "`{}` cannot be used on {}",
            op.keyword(),
            shared.scenario.resource_name(r)
        ))
    };
    match (op, prim) {
        (Op::Lock(_), Primitive::Mutex(m)) => m.lock(&mut cx),
        (Op::Unlock(_), Primitive::Mutex(m)) => m.unlock(&mut cx),
        (Op::Acquire(_), Primitive::Semaphore(s)) => s.acquire(&mut cx),
        (Op::Release(_), Primitive::Semaphore(s)) => s.release(&mut cx),
        (Op::Wait(_), Primitive::Barrier(b)) => b.wait(&mut cx),
        (Op::Wait(_), Primitive::Event(e)) => e.wait(&mut cx),
        (Op::Set(_), Primitive::Event(e)) => e.set(&mut cx),
        (Op::Clear(_), Primitive::Event(e)) => e.clear(&mut cx),
        // The thread goes on either way; the recorded `timeout` (or `pass`) says which.
        (Op::WaitFor { timeout, .. }, Primitive::Event(e)) => {
            e.wait_for(&mut cx, Some(timeout)).map(|_| ())
        }
        (Op::Read(_), Primitive::RwLock(l)) => l.read(&mut cx),
        (Op::Write(_), Primitive::RwLock(l)) => l.write(&mut cx),
        (Op::Unlock(_), Primitive::RwLock(l)) => l.unlock(&mut cx),
        (Op::Increment(_), Primitive::Counter(c)) => c.increment(&mut cx, WINDOW, |_| Ok(())),
        (Op::Put(_), Primitive::Buffer(b)) => b.put(&mut cx),
        (Op::Take(_), Primitive::Buffer(b)) => b.take(&mut cx),
        (Op::PutSentinel(_), Primitive::Buffer(b)) => b.put_sentinel(&mut cx),
        (Op::PutPriority { priority, .. }, Primitive::Buffer(b)) => {
            b.put_with_priority(&mut cx, priority)
        }
        // Given up or not, the thread goes on; the recorded `timeout` says which.
        (Op::TakeFor { timeout, .. }, Primitive::Buffer(b)) => {
            b.take_for(&mut cx, timeout).map(|_| ())
        }
        (Op::TaskDone(_), Primitive::Buffer(b)) => b.task_done(&mut cx),
        (Op::Join(_), Primitive::Buffer(b)) => b.join(&mut cx),
        (Op::Submit { work, raises, .. }, Primitive::Pool(p)) => p.submit(&mut cx, work, raises),
        (Op::Result { task, timeout, .. }, Primitive::Pool(p)) => {
            p.collect(&mut cx, Collect::One(task), timeout)
        }
        (Op::Map(_), Primitive::Pool(p)) => p.collect(&mut cx, Collect::InOrder, None),
        (Op::AsCompleted(_), Primitive::Pool(p)) => p.collect(&mut cx, Collect::AsCompleted, None),
        (Op::Shutdown(_), Primitive::Pool(p)) => p.shutdown(&mut cx),
        (Op::Append(_), Primitive::List(l)) => l.append(&mut cx),
        (Op::Pop(_), Primitive::List(l)) => l.pop(&mut cx),
        (Op::Put(_), Primitive::MpQueue(q)) => q.put(&mut cx),
        (Op::PutSentinel(_), Primitive::MpQueue(q)) => q.put_sentinel(&mut cx),
        (Op::Take(_), Primitive::MpQueue(q)) => q.take(&mut cx),
        (Op::CondWait { guard, .. }, Primitive::Condition(c)) => {
            let lock = condition_lock(shared, r).ok_or_else(wrong)?;
            let list = |l: ResIdx| match &shared.primitives[l as usize] {
                Primitive::List(list) => Ok(list),
                _ => Err(wrong()),
            };
            match guard {
                Guard::None => c.wait(&mut cx, lock),
                // `while not items: C.wait()`: every wake-up checks again, under the lock.
                Guard::While(l) => {
                    let list = list(l)?;
                    while list.is_empty() {
                        c.wait(&mut cx, lock)?;
                    }
                    Ok(())
                }
                // `if not items: C.wait()`: one check, before the wait only.
                Guard::If(l) => {
                    if list(l)?.is_empty() {
                        c.wait(&mut cx, lock)?;
                    }
                    Ok(())
                }
            }
        }
        (Op::Notify(_) | Op::NotifyAll(_), Primitive::Condition(c)) => {
            let lock = condition_lock(shared, r).ok_or_else(wrong)?;
            c.notify(&mut cx, lock, matches!(op, Op::NotifyAll(_)))
        }
        _ => Err(wrong()),
    }
}

/// The mutex a condition is bound to.
fn condition_lock(shared: &Shared, cond: ResIdx) -> Option<&LockPrimitive> {
    let ResourceKind::Condition { lock } = shared.scenario.resources.get(cond as usize)?.kind
    else {
        return None;
    };
    match shared.primitives.get(lock as usize)? {
        Primitive::Mutex(m) => Some(m),
        _ => None,
    }
}

/// Whether every thread of an `after=` group is done or failed.
pub(super) fn group_finished(shared: &Shared, group: &[ThreadIdx]) -> bool {
    group.iter().all(|&t| shared.conductor.is_finished(t))
}

/// Threads that start `after` a group wait here until the whole group has finished.
pub(super) fn wait_for_group(shared: &Shared, group: &[ThreadIdx]) -> Flow {
    if group.is_empty() {
        return Ok(());
    }
    let (lock, cv) = &shared.finished;
    let mut g = lock.lock();
    loop {
        if shared.conductor.cancelled() {
            return Err(Halt::Cancelled);
        }
        if group_finished(shared, group) {
            return Ok(());
        }
        cv.wait_for(&mut g, Duration::from_millis(50));
    }
}
