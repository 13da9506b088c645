//! `pool ex`: a thread pool's task queue and its futures (Python's `ThreadPoolExecutor`).
//! `submit` queues a numbered task carrying its own work (and, if scripted, the exception it
//! raises) and returns its future at once; a worker's `run-next` takes whatever task is next,
//! runs it and completes its future; `result`, `as-completed` and `map` wait for futures. The
//! pool is real: workers are the scenario's own threads, each task's work is real computation
//! on whichever worker took it, and a result arrives when that worker finishes it.
//!
//! Events: `put` (a submit, item = task), `take` (a worker takes it), `task_done` (it finished,
//! item = task) or `raise` (it raised), and `pass` (a future's result collected, item = task,
//! `by` = the worker that ran it). A shut-down pool with no task left stops its idle workers.

use std::collections::VecDeque;
use std::time::Duration;

use super::{Core, Cx, Patience, View, Watched};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{EXCEPTIONS, ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

pub struct Pool {
    index: ResIdx,
    /// The event loop's executor: tasks hand it blocking calls (`to-thread`), and its workers
    /// start with the first call, as CPython's ThreadPoolExecutor starts its threads.
    executor: bool,
    pub(super) core: Core<State>,
}

/// A submitted task.
#[derive(Debug, Clone, Copy)]
struct Task {
    work: Duration,
    /// A blocking call handed over by `to-thread` (`await asyncio.to_thread(f)`): the worker
    /// waits in it off the CPU, as a blocking I/O call does, rather than computing.
    call: bool,
    raises: Option<u8>,
    /// The worker that ran it and whether it raised, once finished.
    finished: Option<(ThreadIdx, bool)>,
    collected: bool,
}

pub(super) struct State {
    seq: u64,
    /// Task numbers (from 1, in submit order) not yet taken by a worker.
    queue: VecDeque<u32>,
    tasks: Vec<Task>,
    /// Finished tasks in the order they finished: `as_completed`'s order.
    finish_order: Vec<u32>,
    shut: bool,
    /// Workers waiting for a task, and threads waiting for a result.
    idle: Vec<ThreadIdx>,
    /// Threads waiting for results: who, the tasks still wanted, and whether any of them
    /// will do (`as-completed`) or only the first (in order).
    awaiting: Vec<(ThreadIdx, Vec<u32>, bool)>,
}

impl State {
    fn finished(&self, n: u32) -> bool {
        self.tasks
            .get(n as usize - 1)
            .is_some_and(|t| t.finished.is_some())
    }
}

/// What a worker got from the pool.
pub enum Next {
    /// A task to run: its number, its work, the exception it raises.
    Task(u32, Duration, Option<u8>),
    /// A blocking call from `to-thread`: its number and how long it blocks.
    Call(u32, Duration),
    /// The pool is shut down and empty: the worker stops.
    Shutdown,
}

/// Which futures a collecting step waits for, and in what order.
#[derive(Debug, Clone, Copy)]
pub enum Collect {
    /// `result ex task=N`: that one.
    One(u32),
    /// `map`: every uncollected future, in submission order.
    InOrder,
    /// `as-completed`: every uncollected future, in completion order.
    AsCompleted,
}

impl Pool {
    pub fn new(index: ResIdx, executor: bool) -> Pool {
        Pool {
            index,
            executor,
            core: Core::new(State {
                seq: 0,
                queue: VecDeque::new(),
                tasks: Vec::new(),
                finish_order: Vec::new(),
                shut: false,
                idle: Vec::new(),
                awaiting: Vec::new(),
            }),
        }
    }

    /// `executor.submit(task)`: queue it and go on with its future.
    pub fn submit(&self, cx: &mut Cx, work: Duration, raises: Option<u8>) -> Flow {
        let mut s = self.core.lock();
        if s.shut {
            return Err(Halt::Failed(
                "RuntimeError: cannot schedule new futures after shutdown".into(),
            ));
        }
        self.enqueue(cx, &mut s, work, false, raises);
        Ok(())
    }

    /// `executor.shutdown()`: no more submits; idle workers stop once the queue is empty.
    pub fn shutdown(&self, cx: &mut Cx) -> Flow {
        let mut s = self.core.lock();
        s.shut = true;
        s.seq += 1;
        cx.emit(EventKind::Set, self.index, None, None);
        self.core.cv.notify_all();
        Ok(())
    }

    /// A worker takes whatever task is next, waiting while there is none.
    pub fn next(&self, cx: &mut Cx) -> Result<Next, Halt> {
        let me = cx.me;
        let mut s = self.core.lock();
        let mut blocked = false;
        let flow = loop {
            if let Some(n) = s.queue.pop_front() {
                break Ok(Some(n));
            }
            if s.shut {
                break Ok(None);
            }
            if cx.conductor.cancelled() {
                break Err(Halt::Cancelled);
            }
            if !blocked {
                blocked = true;
                s.idle.push(me);
                s.seq += 1;
                cx.block(self.index);
            }
            self.core.cv.wait(&mut s);
        };
        if blocked {
            s.idle.retain(|&w| w != me);
            s.seq += 1;
            cx.conductor.unblocked(me);
        }
        match flow? {
            Some(n) => {
                let task = s.tasks[n as usize - 1];
                cx.emit(EventKind::Take, self.index, None, Some(n));
                if task.call {
                    return Ok(Next::Call(n, task.work));
                }
                Ok(Next::Task(n, task.work, task.raises))
            }
            None => Ok(Next::Shutdown),
        }
    }

    /// The worker finished task `n`: its future is done (with its exception, if it raised).
    pub fn complete(&self, cx: &mut Cx, n: u32) {
        let mut s = self.core.lock();
        let raised = s.tasks[n as usize - 1].raises.is_some();
        s.tasks[n as usize - 1].finished = Some((cx.me, raised));
        s.finish_order.push(n);
        s.seq += 1;
        let kind = if raised {
            EventKind::Raise
        } else {
            EventKind::TaskDone
        };
        cx.emit(kind, self.index, None, Some(n));
        self.core.cv.notify_all();
        // A task awaiting this call on the event loop waits there, not on the condition
        // variable.
        cx.conductor.wake_tasks();
    }

    /// `loop.run_in_executor(None, call)`: queue a blocking call of `call` for a worker, and
    /// return its number, whose future the task then awaits.
    pub fn submit_call(&self, cx: &mut Cx, call: Duration) -> u32 {
        let mut s = self.core.lock();
        self.enqueue(cx, &mut s, call, true, None)
    }

    /// Queue a task (a submit's, or a blocking call's) for the next idle worker; its number.
    fn enqueue(
        &self,
        cx: &mut Cx,
        s: &mut State,
        work: Duration,
        call: bool,
        raises: Option<u8>,
    ) -> u32 {
        s.tasks.push(Task {
            work,
            call,
            raises,
            finished: None,
            collected: false,
        });
        let n = s.tasks.len() as u32;
        s.queue.push_back(n);
        s.seq += 1;
        cx.emit(EventKind::Put, self.index, None, Some(n));
        self.core.cv.notify_all();
        n
    }

    /// The worker that finished call `n`, once it has; its result is then collected.
    pub fn call_done(&self, cx: &mut Cx, n: u32) -> Option<ThreadIdx> {
        let mut s = self.core.lock();
        let (by, _) = s.tasks.get(n as usize - 1)?.finished?;
        s.tasks[n as usize - 1].collected = true;
        s.seq += 1;
        cx.emit(EventKind::Pass, self.index, Some(by), Some(n));
        Some(by)
    }

    /// Whether this is the event loop's executor (see [`Pool::until_called`]).
    pub fn is_executor(&self) -> bool {
        self.executor
    }

    /// Wait, without having started, until a first task or call has been submitted: true.
    /// False if the pool was closed first, and no worker is needed. A submit, the close, and
    /// the run's cancelling (or its daemons' stopping) each wake the wait.
    pub fn until_called(
        &self,
        conductor: &crate::engine::conductor::Conductor,
    ) -> Result<bool, Halt> {
        let mut s = self.core.lock();
        while s.tasks.is_empty() {
            if s.shut {
                return Ok(false);
            }
            if conductor.cancelled() {
                return Err(Halt::Cancelled);
            }
            self.core.cv.wait(&mut s);
        }
        Ok(true)
    }

    /// The event loop is closing (`asyncio.run` shuts its default executor down): idle workers
    /// stop once no call is left. Said by no thread, so it records nothing.
    pub fn close(&self) {
        let mut s = self.core.lock();
        s.shut = true;
        s.seq += 1;
        self.core.cv.notify_all();
    }

    /// Whether call `n` has returned.
    pub fn is_finished(&self, n: u32) -> bool {
        self.core.lock().finished(n)
    }

    /// Wait for futures and collect their results, one `pass` each, in the order `which`
    /// says. A future whose task raised re-raises here, failing the collecting thread as
    /// `f.result()` does; a `timeout` that runs out first raises `TimeoutError`.
    pub fn collect(&self, cx: &mut Cx, which: Collect, timeout: Option<Duration>) -> Flow {
        let me = cx.me;
        let mut s = self.core.lock();
        let wanted: Vec<u32> = match which {
            Collect::One(n) => {
                if n == 0 || n as usize > s.tasks.len() {
                    return Err(Halt::Failed(format!(
                        "no task {n} has been submitted ({} so far)",
                        s.tasks.len()
                    )));
                }
                vec![n]
            }
            Collect::InOrder | Collect::AsCompleted => (1..=s.tasks.len() as u32)
                .filter(|&n| !s.tasks[n as usize - 1].collected)
                .collect(),
        };
        let mut patience = Patience::new(timeout);
        let mut left = wanted;
        let mut blocked = false;
        let unblock = |s: &mut State, cx: &mut Cx| {
            s.awaiting.retain(|a| a.0 != me);
            s.seq += 1;
            cx.conductor.unblocked(me);
        };
        while !left.is_empty() {
            // The next result: the first wanted one if in order, else whichever finished first.
            let ready = match which {
                Collect::AsCompleted => s.finish_order.iter().copied().find(|n| left.contains(n)),
                _ => Some(left[0]).filter(|&n| s.tasks[n as usize - 1].finished.is_some()),
            };
            if let Some(n) = ready {
                if blocked {
                    blocked = false;
                    unblock(&mut s, cx);
                }
                left.retain(|&m| m != n);
                let (by, raised) = s.tasks[n as usize - 1].finished.unwrap_or((me, false));
                s.tasks[n as usize - 1].collected = true;
                s.seq += 1;
                cx.emit(EventKind::Pass, self.index, Some(by), Some(n));
                if raised {
                    let name = s.tasks[n as usize - 1]
                        .raises
                        .and_then(|e| EXCEPTIONS.get(e as usize))
                        .copied()
                        .unwrap_or("Exception");
                    // As CPython prints it when `result()` re-raises what task n raised
                    // (`raise ValueError(n)`); the log has told which task raised it.
                    return Err(Halt::Failed(format!("{name}: {n}")));
                }
                continue;
            }
            if cx.conductor.cancelled() {
                if blocked {
                    unblock(&mut s, cx);
                }
                return Err(Halt::Cancelled);
            }
            if !blocked {
                blocked = true;
                let any = matches!(which, Collect::AsCompleted);
                s.awaiting.push((me, left.clone(), any));
                s.seq += 1;
                cx.block(self.index);
            }
            if !patience.wait(cx, &self.core.cv, &mut s) {
                unblock(&mut s, cx);
                cx.emit(EventKind::Timeout, self.index, None, left.first().copied());
                return Err(Halt::Failed(format!(
                    "TimeoutError: task {} was not done within the timeout",
                    left.first().copied().unwrap_or(0)
                )));
            }
        }
        Ok(())
    }
}

impl Watched for State {
    /// Idle workers wait for a submit (or a shutdown); a collecting thread waits for a worker
    /// to finish a task. A collector with a timeout still counts: it fails at the end of it,
    /// but only a finished task lets it go on.
    fn view(&self) -> View {
        // A collector whose result is in, woken but not yet running, is no longer waiting.
        let mut waiters: Vec<ThreadIdx> = self
            .awaiting
            .iter()
            .filter(|(_, left, any)| {
                if *any {
                    !left.iter().any(|&n| self.finished(n))
                } else {
                    !left.first().is_some_and(|&n| self.finished(n))
                }
            })
            .map(|a| a.0)
            .collect();
        if self.queue.is_empty() && !self.shut {
            waiters.extend(self.idle.iter().copied());
        }
        View::of(self.seq, [], waiters)
    }
}
