//! Tasks on an event loop: asyncio's model, on a tokio current-thread runtime.
//!
//! Every `task` of a scenario is a tokio task on one OS thread, the loop. A task holds the loop
//! from the moment it is polled until it awaits: its `work` burns that thread's CPU and a
//! blocking `sleep` parks that thread, so no other task moves meanwhile. An awaited `sleep`
//! gives the loop back; its timer runs on a thread of its own (standing in for the OS delivering
//! a timer or an I/O completion), so it ends on time even while a blocking call holds the loop.
//! From then on the task is ready, and it waits until the loop is free to poll it.
//!
//! The conductor reaches tasks too. A task at a step boundary holds the loop, so it waits at the
//! ordinary gate and parks the loop with it, as a paused program would: a ready task cannot be
//! stepped until the running one awaits. An awaiting task's timer waits at the async gate,
//! which parks nothing.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread::JoinHandle;

use futures_util::FutureExt;
use tokio::runtime::{Builder, Handle};

use super::conductor::{Flow, Halt};
use super::primitives::Primitive;
use super::primitives::event_loop::EventLoop;
use super::recorder::Recorder;
use super::script::{Shared, cx, end, group_finished, panicked, work_step};
use crate::scenario::model::{Op, ResIdx, ThreadIdx};
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
    rec.step = NO_STEP;
    // A task that ends gives the loop back.
    event_loop(&shared, me)
        .1
        .leave(&mut cx(&shared, me, &mut rec));
    end(&shared, me, &mut rec, outcome);
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
        conductor
            .until_async(|| group_finished(shared, &spec.after))
            .await?;
        become_ready(shared, me, rec);
    }
    // The first poll: from here on the task holds the loop except while it awaits.
    conductor.unblocked(me);
    lp.enter(&mut cx(shared, me, rec));
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
                    let slept = shared.conductor.sleep_async(me, i, d, &mut away).await;
                    if slept.is_ok() {
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
                conductor.unblocked(me);
                lp.enter(&mut cx(shared, me, rec));
            }
            op => {
                return Err(Halt::Failed(format!(
                    "a task cannot `{}`; tasks await, work and block their loop",
                    op.keyword()
                )));
            }
        }
        conductor.after_step(me, i);
    }
    Ok(())
}
