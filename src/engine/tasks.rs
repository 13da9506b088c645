//! Tasks on an event loop: asyncio's model, on a tokio current-thread runtime.
//!
//! Every `task` of a scenario is a tokio task on one OS thread, the loop. A task holds the loop
//! from the moment it is polled until it awaits: its `work` burns that thread's CPU and a
//! blocking `sleep` parks that thread, so no other task moves meanwhile. An awaited `sleep`
//! gives the loop back; its timer runs on a thread of its own (standing in for the OS delivering
//! a timer or an I/O completion), so it ends on time even while a blocking call holds the loop.
//! From then on the task is ready, and it waits until the loop is free to poll it.
//!
//! A task also awaits asyncio's own primitives (`primitives::asyncio`), other tasks (`gather`,
//! `wait`, `wait-for`) and calls on the executor's worker threads (`to-thread`): each gives the
//! loop up, waits without holding any thread, and is ready once what it awaited is there. A
//! task another cancels stops with `CancelledError` at the await it is in, as soon as the loop
//! gets to it, and runs no step after.
//!
//! The conductor reaches tasks too. A task at a step boundary holds the loop, so it waits at the
//! ordinary gate and parks the loop with it, as a paused program would: a ready task cannot be
//! stepped until the running one awaits. An awaiting task's timer waits at the async gate,
//! which parks nothing.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::runtime::{Builder, Handle};

use super::conductor::{Flow, Halt};
use super::primitives::Primitive;
use super::primitives::asyncio::{Asyncio, Handed, Now};
use super::primitives::event_loop::EventLoop;
use super::recorder::Recorder;
use super::script::{Shared, cx, end, group_finished, panicked, work_step};
use crate::scenario::model::{Op, ResIdx, Tasks, ThreadIdx};
use crate::vocab::event::{EventKind, NO_STEP};

/// Start the loop's thread, running `tasks` until every one has ended.
pub(super) fn spawn_loop(shared: Arc<Shared>, tasks: Vec<ThreadIdx>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("tl-loop".into())
        .spawn(move || run_loop(&shared, &tasks))
        .expect("the OS refused to start a thread")
}

fn run_loop(shared: &Arc<Shared>, tasks: &[ThreadIdx]) {
    let runtimes = Builder::new_current_thread()
        .enable_time()
        .build()
        .and_then(|rt| {
            let timers = Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("tl-loop-timers")
                .enable_time()
                .build()?;
            Ok((rt, timers))
        });
    let (rt, timers) = match runtimes {
        Ok(both) => both,
        Err(e) => {
            for &me in tasks {
                let mut rec = Recorder::new(me, shared.sink.clone());
                let why = format!("the event loop could not start: {e}");
                end(shared, me, &mut rec, Err(Halt::Failed(why)));
            }
            return;
        }
    };
    let timer_handle = timers.handle().clone();
    shared.starting_tasks.begin();
    rt.block_on(async {
        let running: Vec<_> = tasks
            .iter()
            .map(|&me| {
                let mut rec = Recorder::new(me, shared.sink.clone());
                // gather(): every task is created at once and is ready until the loop polls it.
                if shared.scenario.threads[me as usize].after.is_empty() {
                    become_ready(shared, me, &mut rec);
                }
                tokio::spawn(task(shared.clone(), me, rec, timer_handle.clone()))
            })
            .collect();
        for handle in running {
            // A task catches its own panics; nothing is left to report here.
            let _ = handle.await;
        }
    });
    // `asyncio.run` ends by shutting the loop's executor down: its idle workers stop.
    for step in shared.scenario.threads.iter().flat_map(|t| &t.steps) {
        if let Op::ToThread { executor, .. } = step.op
            && let Primitive::Pool(pool) = &shared.primitives[executor as usize]
        {
            pool.close();
        }
    }
    // Dropping a runtime joins its threads: a finished run leaves none behind.
    drop(rt);
    drop(timers);
}

/// The event loop a task runs on, and its index as a resource.
fn event_loop(shared: &Shared, me: ThreadIdx) -> (ResIdx, &EventLoop) {
    let r = shared.scenario.threads[me as usize]
        .event_loop
        .expect("a task runs on an event loop");
    match &shared.primitives[r as usize] {
        Primitive::EventLoop(l) => (r, l),
        _ => unreachable!("the parser points tasks at the event loop"),
    }
}

/// A new task: ready, waiting for the loop to poll it for the first time.
fn become_ready(shared: &Shared, me: ThreadIdx, rec: &mut Recorder) {
    rec.emit(EventKind::Start, None, None, None);
    ready(shared, me, rec);
}

/// The task can run and waits for the loop. To the conductor it is blocked on the loop: a step
/// in progress ends here, and it cannot be stepped until the loop runs it.
fn ready(shared: &Shared, me: ThreadIdx, rec: &mut Recorder) {
    let (r, lp) = event_loop(shared, me);
    shared.conductor.set_awaiting_tasks(me, false);
    lp.ready(&mut cx(shared, me, rec));
    shared.conductor.blocking(me, r);
}

/// One task, from start to done, failed or cancelled.
async fn task(shared: Arc<Shared>, me: ThreadIdx, mut rec: Recorder, timers: Handle) {
    shared.starting_tasks.started();
    let outcome = AssertUnwindSafe(run_task(&shared, me, &mut rec, &timers))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(panicked(panic)));
    // A cancelled task ends at the await it was in; any other end belongs to no step.
    if !matches!(outcome, Err(Halt::TaskCancelled(_))) {
        rec.step = NO_STEP;
    }
    let (_, lp) = event_loop(&shared, me);
    // A task that ends gives the loop back.
    lp.leave(&mut cx(&shared, me, &mut rec));
    if matches!(outcome, Err(Halt::TaskCancelled(_))) {
        // `CancelledError` leaves every `async with` block it passes through.
        for p in &shared.primitives {
            if let Primitive::Asyncio(p) = p {
                p.give_back(&mut cx(&shared, me, &mut rec));
            }
        }
        announce_ready(&shared);
    }
    lp.ended(me);
    end(&shared, me, &mut rec, outcome);
    // Tasks awaiting this one look again.
    shared.conductor.wake_tasks();
}

/// The task's await is over and the loop polls it again: it goes on holding the loop, unless
/// it was cancelled meanwhile, in which case `CancelledError` is raised where it awaited.
fn resume(shared: &Shared, me: ThreadIdx, rec: &mut Recorder) -> Flow {
    let (_, lp) = event_loop(shared, me);
    shared.conductor.set_awaiting_tasks(me, false);
    shared.conductor.unblocked(me);
    if let Some(by) = lp.cancelled(me) {
        return Err(Halt::TaskCancelled(by));
    }
    lp.enter(&mut cx(shared, me, rec));
    Ok(())
}

/// The asyncio primitive a task's step works on.
fn asyncio(shared: &Shared, r: ResIdx) -> Result<&Asyncio, Halt> {
    match &shared.primitives[r as usize] {
        Primitive::Asyncio(p) => Ok(p),
        _ => Err(Halt::Failed(format!(
            "a task awaits asyncio's primitives only, and {} is a threading one",
            shared.scenario.resource_name(r)
        ))),
    }
}

/// The task gives the loop up and awaits its turn on `r`, until a task hands it over; then it
/// is ready, and goes on once the loop polls it. Cancelled meanwhile, it leaves the queue.
async fn await_turn(
    shared: &Shared,
    me: ThreadIdx,
    r: ResIdx,
    p: &Asyncio,
    rec: &mut Recorder,
) -> Result<Handed, Halt> {
    let (_, lp) = event_loop(shared, me);
    let conductor = &shared.conductor;
    lp.leave(&mut cx(shared, me, rec));
    cx(shared, me, rec).block(r);
    let waited = conductor
        .until_async(|| p.is_handed(me) || lp.cancelled(me).is_some())
        .await;
    if let Err(halt) = waited {
        conductor.unblocked(me);
        return Err(halt);
    }
    // Cancelled, even after its turn came: `CancelledError` is raised at the await, so what
    // it was handed (a permit, the lock, a queue's wake-up) goes on to the next waiter, as
    // CPython's cancelled waiters pass theirs on; it never took it.
    let handed = match lp.cancelled(me) {
        Some(_) => None,
        None => p.take_handed(me),
    };
    let Some(handed) = handed else {
        p.leave(&mut cx(shared, me, rec));
        announce_ready(shared);
        conductor.unblocked(me);
        return Err(Halt::TaskCancelled(lp.cancelled(me).flatten()));
    };
    // Made ready by whoever handed it over (`announce_ready`); now the loop runs it.
    resume(shared, me, rec)?;
    Ok(handed)
}

/// Tasks whose wait on an asyncio primitive a step just ended are ready from that moment, as
/// CPython's resolved future schedules its task at once, while the task that ended it still
/// holds the loop. Said on each woken task's own lane, before anything it does next.
fn announce_ready(shared: &Shared) {
    for p in &shared.primitives {
        if let Primitive::Asyncio(p) = p {
            for t in p.newly_handed() {
                let mut rec = Recorder::new(t, shared.sink.clone());
                rec.step = shared.conductor.pc(t);
                ready(shared, t, &mut rec);
                rec.flush();
            }
        }
    }
}

/// The task gives the loop up until `done` says so (tasks it awaits have ended, a call on a
/// worker thread returned), then is ready and goes on once the loop polls it.
async fn await_until(
    shared: &Shared,
    me: ThreadIdx,
    rec: &mut Recorder,
    done: impl Fn() -> bool,
) -> Flow {
    let (_, lp) = event_loop(shared, me);
    shared
        .conductor
        .until_async(|| done() || lp.cancelled(me).is_some())
        .await?;
    ready(shared, me, rec);
    resume(shared, me, rec)
}

/// Until run time `end`, on the loop's own timers: a loop that a blocking call holds does not
/// see its timers run out, as asyncio's do not.
async fn run_time_until(shared: &Shared, end: u64) {
    while let Some(left) = shared.conductor.left_until(end) {
        tokio::time::sleep(left.min(Duration::from_millis(5))).await;
    }
}

/// The task awaits other tasks: to the conductor it waits on its loop, so a step granted to
/// it ends here and it cannot be stepped until what it awaits has ended.
fn await_tasks(shared: &Shared, me: ThreadIdx) {
    let (r, _) = event_loop(shared, me);
    shared.conductor.set_awaiting_tasks(me, true);
    shared.conductor.blocking(me, r);
}

/// Asks every task of `tasks` that has not ended to stop (`t.cancel()`).
fn cancel(shared: &Shared, me: ThreadIdx, tasks: Tasks, rec: &mut Recorder) {
    let (_, lp) = event_loop(shared, me);
    for t in tasks.members().filter(|&t| t != me) {
        if !shared.conductor.is_finished(t) && lp.cancel(t, Some(me)) {
            rec.emit(EventKind::Cancel, None, None, Some(t as u32));
            for p in &shared.primitives {
                if let Primitive::Asyncio(p) = p {
                    p.cancelling(t);
                }
            }
        }
    }
    rec.flush();
    shared.conductor.wake_tasks();
}

async fn run_task(
    shared: &Arc<Shared>,
    me: ThreadIdx,
    rec: &mut Recorder,
    timers: &Handle,
) -> Flow {
    let spec = &shared.scenario.threads[me as usize];
    let conductor = &shared.conductor;
    let (_, lp) = event_loop(shared, me);
    if !spec.after.is_empty() {
        conductor.awaits_group(me, true);
        let started = conductor
            .until_async(|| group_finished(shared, &spec.after) || lp.cancelled(me).is_some())
            .await;
        conductor.awaits_group(me, false);
        started?;
        become_ready(shared, me, rec);
    }
    // The first poll: from here on the task holds the loop except while it awaits.
    resume(shared, me, rec)?;
    for (i, step) in spec.steps.iter().enumerate() {
        let i = i as u32;
        rec.step = i;
        conductor.before_step(me, i, rec)?;
        match step.op {
            Op::Work(d) => work_step(shared, me, i, d, None, rec)?,
            Op::BlockingSleep(d) => {
                rec.emit(EventKind::Sleep, None, None, None);
                rec.flush();
                conductor.sleep(me, i, d, rec)?;
            }
            Op::Sleep(d) => {
                lp.leave(&mut cx(shared, me, rec));
                rec.emit(EventKind::Sleep, None, None, None);
                rec.flush();
                // The recorder travels with the timer and comes back with it, so the task's
                // events stay in order.
                let mut away = std::mem::replace(rec, Recorder::new(me, shared.sink.clone()));
                let on_timer = shared.clone();
                let timer = timers.spawn(async move {
                    let shared = &on_timer;
                    let (_, lp) = event_loop(shared, me);
                    let cancelled = || lp.cancelled(me).is_some();
                    let slept = shared
                        .conductor
                        .sleep_async(me, i, d, &mut away, cancelled)
                        .await;
                    if slept.is_ok() && !cancelled() {
                        ready(shared, me, &mut away);
                    }
                    (slept, away)
                });
                let (slept, back) = timer.await.map_err(|e| match e.try_into_panic() {
                    Ok(panic) => panicked(panic),
                    Err(_) => Halt::Cancelled,
                })?;
                *rec = back;
                slept?;
                resume(shared, me, rec)?;
            }
            Op::Acquire(r) | Op::Lock(r) => {
                let p = asyncio(shared, r)?;
                if let Now::Queued = p.acquire(&mut cx(shared, me, rec)) {
                    let h = await_turn(shared, me, r, p, rec).await?;
                    rec.emit(EventKind::Acquire, Some(r), h.by, None);
                }
            }
            Op::Release(r) | Op::Unlock(r) => {
                asyncio(shared, r)?.release(&mut cx(shared, me, rec))?
            }
            Op::Wait(r) => {
                let p = asyncio(shared, r)?;
                if let Now::Queued = p.wait(&mut cx(shared, me, rec)) {
                    let h = await_turn(shared, me, r, p, rec).await?;
                    rec.emit(EventKind::Pass, Some(r), h.by, None);
                }
            }
            Op::Set(r) => asyncio(shared, r)?.set(&mut cx(shared, me, rec)),
            Op::Clear(r) => asyncio(shared, r)?.clear(&mut cx(shared, me, rec)),
            Op::Put(r) | Op::PutSentinel(r) => {
                let p = asyncio(shared, r)?;
                let sentinel = matches!(step.op, Op::PutSentinel(_));
                // `while q.full(): await putter`: a woken putter whose room another task took
                // first waits again.
                while let Now::Queued = p.put(&mut cx(shared, me, rec), sentinel) {
                    await_turn(shared, me, r, p, rec).await?;
                }
            }
            Op::Take(r) => {
                let p = asyncio(shared, r)?;
                // `while q.empty(): await getter`, as for a put.
                let mut by = None;
                let item = loop {
                    match p.get(&mut cx(shared, me, rec), by) {
                        Now::Done(item) => break item,
                        Now::Queued => by = await_turn(shared, me, r, p, rec).await?.by,
                    }
                };
                // `item = await q.get(); if item is None: break`.
                if item.is_some_and(|n| p.is_sentinel(n)) {
                    conductor.after_step(me, i);
                    break;
                }
            }
            Op::TaskDone(r) => asyncio(shared, r)?.task_done(&mut cx(shared, me, rec))?,
            Op::Join(r) => {
                let p = asyncio(shared, r)?;
                if let Now::Queued = p.join(&mut cx(shared, me, rec)) {
                    let h = await_turn(shared, me, r, p, rec).await?;
                    rec.emit(EventKind::Pass, Some(r), h.by, None);
                }
            }
            Op::Gather(tasks) | Op::WaitTasks { tasks, .. } => {
                let first = matches!(step.op, Op::WaitTasks { first: true, .. });
                let ended = || {
                    let mut ended = tasks.members().filter(|&t| conductor.is_finished(t));
                    if first {
                        ended.next().is_some()
                    } else {
                        ended.count() == tasks.count as usize
                    }
                };
                if !ended() {
                    lp.leave(&mut cx(shared, me, rec));
                    rec.emit(EventKind::Sleep, None, None, None);
                    rec.flush();
                    await_tasks(shared, me);
                    await_until(shared, me, rec, ended).await?;
                }
                // FIRST_COMPLETED names the task that ended first among those that have.
                let by = first.then(|| lp.first_ended(tasks)).flatten();
                rec.emit(EventKind::Pass, None, by, None);
            }
            Op::Cancel(tasks) => cancel(shared, me, tasks, rec),
            Op::WaitTasksFor { tasks, timeout } => {
                let ended = || tasks.members().all(|t| conductor.is_finished(t));
                if !ended() {
                    lp.leave(&mut cx(shared, me, rec));
                    rec.emit(EventKind::Sleep, None, None, None);
                    rec.flush();
                    await_tasks(shared, me);
                    let end = shared.clock.now() + timeout.as_nanos() as u64;
                    let in_time = tokio::select! {
                        waited = conductor.until_async(|| ended() || lp.cancelled(me).is_some()) => {
                            waited?;
                            true
                        }
                        () = run_time_until(shared, end) => false,
                    };
                    ready(shared, me, rec);
                    resume(shared, me, rec)?;
                    if !in_time && !ended() {
                        // The timeout cancels what it waited for, waits for it to stop, and
                        // raises TimeoutError, which the task catches and goes on.
                        rec.emit(EventKind::Timeout, None, None, Some(tasks.first as u32));
                        cancel(shared, me, tasks, rec);
                        lp.leave(&mut cx(shared, me, rec));
                        rec.emit(EventKind::Sleep, None, None, None);
                        rec.flush();
                        await_tasks(shared, me);
                        await_until(shared, me, rec, ended).await?;
                    }
                }
            }
            Op::ToThread { executor, call } => {
                let Primitive::Pool(pool) = &shared.primitives[executor as usize] else {
                    unreachable!("the parser points to-thread at the executor")
                };
                let n = pool.submit_call(&mut cx(shared, me, rec), call);
                lp.leave(&mut cx(shared, me, rec));
                cx(shared, me, rec).block(executor);
                let waited = conductor
                    .until_async(|| pool.is_finished(n) || lp.cancelled(me).is_some())
                    .await;
                if let Err(halt) = waited {
                    conductor.unblocked(me);
                    return Err(halt);
                }
                if !pool.is_finished(n) {
                    // The call goes on on its thread; nobody will collect its result.
                    conductor.unblocked(me);
                    return Err(Halt::TaskCancelled(lp.cancelled(me).flatten()));
                }
                ready(shared, me, rec);
                resume(shared, me, rec)?;
                pool.call_done(&mut cx(shared, me, rec), n);
            }
            op => {
                return Err(Halt::Failed(format!(
                    "a task cannot `{}`; tasks await, work and block their loop",
                    op.keyword()
                )));
            }
        }
        announce_ready(shared);
        conductor.after_step(me, i);
    }
    Ok(())
}
