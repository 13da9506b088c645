//! Static checks on a parsed scenario: mistakes that are certain before anything runs, and the
//! limits that keep a classroom machine responsive.

use std::collections::HashSet;
use std::time::Duration;

use rust_i18n::t;

use super::Problem;
use super::limits::{MAX_THREAD_TIME, human};
use super::model::{Guard, Op, ProcIdx, ResIdx, ResourceKind};
use super::parse::{Parsed, Span};

pub(crate) fn check(parsed: &Parsed) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    tasks(parsed, &mut problems);
    flow(parsed, &mut problems);
    barriers(parsed, &mut problems);
    buffers(parsed, &mut problems);
    events(parsed, &mut problems);
    thread_time(parsed, &mut problems);
    processes(parsed, &mut problems);
    mp_queues(parsed, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A task only awaits, computes and blocks its event loop; the blocking primitives are for
/// threads, and only a task has a loop to block.
fn tasks(parsed: &Parsed, problems: &mut Vec<Problem>) {
    let s = &parsed.scenario;
    let mut reported: HashSet<Span> = HashSet::new();
    for (t, thread) in s.threads.iter().enumerate() {
        for (i, step) in thread.steps.iter().enumerate() {
            let span = parsed.step_spans[t][i];
            let asyncio = step.op.resource().map(|r| &s.resources[r as usize]);
            let problem = match (thread.is_task(), step.op) {
                (true, Op::Work(_) | Op::Sleep(_) | Op::BlockingSleep(_)) => continue,
                (true, op) if op.tasks().is_some() || matches!(op, Op::ToThread { .. }) => {
                    continue;
                }
                (
                    true,
                    Op::Acquire(_)
                    | Op::Release(_)
                    | Op::Lock(_)
                    | Op::Unlock(_)
                    | Op::Wait(_)
                    | Op::Set(_)
                    | Op::Clear(_)
                    | Op::Put(_)
                    | Op::PutSentinel(_)
                    | Op::Take(_)
                    | Op::TaskDone(_)
                    | Op::Join(_),
                ) if asyncio.is_some_and(|r| r.asyncio) => continue,
                (false, op) if op.tasks().is_some() || matches!(op, Op::ToThread { .. }) => {
                    Problem::new(
                        "scenario::task-step-in-thread",
                        t!(
                            "asyncio.check.task_step_in_thread",
                            thread = thread.group,
                            keyword = op.keyword()
                        ),
                    )
                    .at(span, t!("asyncio.check.in_a_thread"))
                    .help(t!("asyncio.check.task_step_in_thread_help"))
                }
                (false, op) if asyncio.is_some_and(|r| r.asyncio) => {
                    let r = asyncio.expect("guarded");
                    Problem::new(
                        "scenario::asyncio-in-thread",
                        t!(
                            "asyncio.check.asyncio_in_thread",
                            thread = thread.group,
                            keyword = op.keyword(),
                            kind = r.keyword(),
                            name = r.name
                        ),
                    )
                    .at(span, t!("asyncio.check.asyncio_in_thread_label"))
                    .help(t!(
                        "asyncio.check.asyncio_in_thread_help",
                        threading = r.kind.keyword(),
                        name = r.name
                    ))
                }
                (true, op)
                    if asyncio.is_some_and(|r| {
                        matches!(
                            r.kind,
                            ResourceKind::Semaphore { .. }
                                | ResourceKind::Mutex
                                | ResourceKind::Event
                                | ResourceKind::Buffer { .. }
                        )
                    }) =>
                {
                    let r = asyncio.expect("guarded");
                    let declared = match r.kind {
                        ResourceKind::Semaphore { permits } => {
                            format!("async-semaphore {} permits={permits}", r.name)
                        }
                        ResourceKind::Buffer { capacity } => {
                            format!("async-queue {} capacity={capacity}", r.name)
                        }
                        ResourceKind::Mutex => format!("async-lock {}", r.name),
                        _ => format!("async-event {}", r.name),
                    };
                    // Giving a primitive back never waits; taking or waiting for one would
                    // stop the loop.
                    let gives = matches!(
                        op,
                        Op::Unlock(_)
                            | Op::Release(_)
                            | Op::Set(_)
                            | Op::Clear(_)
                            | Op::TaskDone(_)
                    );
                    let message = if gives {
                        "asyncio.check.threading_in_task_gives"
                    } else {
                        "asyncio.check.threading_in_task"
                    };
                    Problem::new(
                        "scenario::thread-primitive-in-task",
                        t!(
                            message,
                            task = thread.group,
                            keyword = op.keyword(),
                            kind = r.kind.keyword(),
                            name = r.name
                        ),
                    )
                    .at(span, t!("asyncio.check.threading_in_task_label"))
                    .help(t!(
                        "asyncio.check.threading_in_task_help",
                        declared = declared
                    ))
                }
                (false, Op::BlockingSleep(_)) => Problem::new(
                    "scenario::blocking-in-thread",
                    t!("classroom.check.blocking_in_thread"),
                )
                .at(span, t!("classroom.check.in_a_thread"))
                .help(t!("classroom.check.blocking_in_thread_help")),
                (false, _) => continue,
                (true, op) => {
                    let keyword = op.keyword();
                    Problem::new(
                        "scenario::step-in-task",
                        t!(
                            "classroom.check.step_in_task",
                            task = thread.group,
                            keyword = keyword
                        ),
                    )
                    .at(span, t!("classroom.check.not_a_task_step"))
                    .help(t!("classroom.check.step_in_task_help"))
                }
            };
            if reported.insert(span) {
                problems.push(problem);
            }
        }
    }
}

/// Follows each thread's script counting the locks it holds (an rlock may be held several
/// times; a mutex locked twice deadlocks at run time, which is a lesson, not a mistake) and the
/// permits, and flags an `unlock` or `release` of something the thread cannot be holding there.
/// One pass covers every run: a `lock … timeout=` that gives up gives back everything and
/// starts again where the thread held nothing, so each retry holds what this pass holds.
fn flow(parsed: &Parsed, problems: &mut Vec<Problem>) {
    let s = &parsed.scenario;
    // Threads of one `count=` group share their spans: report each mistake once.
    let mut reported: HashSet<Span> = HashSet::new();
    for (t, thread) in s.threads.iter().enumerate() {
        let mut held = vec![0u32; s.resources.len()];
        let mut permits = vec![0u32; s.resources.len()];
        // Where each resource was last given back, to explain a second unlock.
        let mut last_given_back: Vec<Option<u32>> = vec![None; s.resources.len()];
        for (i, step) in thread.steps.iter().enumerate() {
            let span = parsed.step_spans[t][i];
            let who = if thread.group == thread.name {
                t!("classroom.check.thread", name = thread.name)
            } else {
                t!("classroom.check.each_thread", group = thread.group)
            };
            match step.op {
                Op::Lock(r) | Op::Read(r) | Op::Write(r) | Op::TryLock { resource: r, .. } => {
                    held[r as usize] += 1
                }
                Op::Acquire(r) => permits[r as usize] += 1,
                Op::CondWait { cond: r, .. } | Op::Notify(r) | Op::NotifyAll(r) => {
                    let ResourceKind::Condition { lock } = s.resources[r as usize].kind else {
                        continue;
                    };
                    if held[lock as usize] > 0 || !reported.insert(span) {
                        continue;
                    }
                    let keyword = step.op.keyword();
                    let (cond, lock) = (s.resource_name(r), s.resource_name(lock));
                    let python = if keyword == "wait" { "wait" } else { "notify" };
                    problems.push(
                        Problem::new(
                            "scenario::not-held",
                            rust_i18n::t!(
                                "syllabus.check.cond_not_held",
                                who = who,
                                step = keyword,
                                cond = cond,
                                lock = lock
                            ),
                        )
                        .at(
                            span,
                            rust_i18n::t!("syllabus.check.cond_not_held_label", lock = lock),
                        )
                        .help(rust_i18n::t!(
                            "syllabus.check.cond_not_held_help",
                            python = python,
                            cond = cond,
                            lock = lock
                        )),
                    );
                }
                Op::Unlock(r) if held[r as usize] > 0 => {
                    held[r as usize] -= 1;
                    last_given_back[r as usize] = Some(step.line);
                }
                Op::Release(r) if permits[r as usize] > 0 => {
                    permits[r as usize] -= 1;
                    last_given_back[r as usize] = Some(step.line);
                }
                Op::Unlock(r) | Op::Release(r) => {
                    if !reported.insert(span) {
                        continue;
                    }
                    let name = s.resource_name(r);
                    let rwlock =
                        matches!(s.resources[r as usize].kind, ResourceKind::RwLock { .. });
                    let (taking, what, elsewhere) = if matches!(step.op, Op::Unlock(_)) {
                        (
                            if rwlock { "read" } else { "lock" },
                            t!("classroom.check.the_lock", name = name),
                            t!("classroom.check.lock_elsewhere"),
                        )
                    } else {
                        (
                            "acquire",
                            t!("classroom.check.a_permit", name = name),
                            t!("classroom.check.permit_elsewhere"),
                        )
                    };
                    let keyword = step.op.keyword();
                    let help = match last_given_back[r as usize] {
                        Some(line) => t!(
                            "classroom.check.given_back",
                            name = name,
                            line = line,
                            keyword = keyword,
                            taking = taking
                        ),
                        None => t!(
                            "classroom.check.add_taking",
                            name = name,
                            taking = taking,
                            elsewhere = elsewhere
                        ),
                    };
                    problems.push(
                        Problem::new(
                            "scenario::not-held",
                            t!(
                                "classroom.check.not_held",
                                who = who,
                                keyword = keyword,
                                name = name,
                                what = what
                            ),
                        )
                        .at(span, t!("classroom.check.not_held_here", name = name))
                        .help(help),
                    );
                }
                _ => {}
            }
        }
    }
}

/// A barrier trips when `parties` threads have arrived: if fewer threads ever wait on it, or
/// the arrivals do not make whole rounds, someone waits forever.
fn barriers(parsed: &Parsed, problems: &mut Vec<Problem>) {
    let s = &parsed.scenario;
    for (r, res) in s.resources.iter().enumerate() {
        let ResourceKind::Barrier { parties } = res.kind else {
            continue;
        };
        let waits_here = |op: &Op| matches!(op, Op::Wait(b) if *b as usize == r);
        let waiters = s
            .threads
            .iter()
            .filter(|t| t.steps.iter().any(|st| waits_here(&st.op)))
            .count() as u32;
        let arrivals: u64 = s
            .threads
            .iter()
            .map(|t| t.steps.iter().filter(|st| waits_here(&st.op)).count() as u64)
            .sum();
        let span = parsed.resource_spans[r];
        let name = &res.name;
        // An unused barrier strands no one.
        if waiters == 0 {
            continue;
        }
        if waiters < parties {
            let key = if waiters == 1 {
                "classroom.check.barrier_short_one"
            } else {
                "classroom.check.barrier_short"
            };
            problems.push(
                Problem::new(
                    "scenario::barrier-never-trips",
                    t!(key, name = name, parties = parties, waiters = waiters),
                )
                .at(span, t!("classroom.check.needs_parties", parties = parties))
                .help(t!(
                    "classroom.check.barrier_short_help",
                    waiters = waiters,
                    name = name
                )),
            );
        } else if !arrivals.is_multiple_of(parties as u64) {
            let left = arrivals % parties as u64;
            problems.push(
                Problem::new(
                    "scenario::barrier-never-trips",
                    t!(
                        "classroom.check.barrier_rounds",
                        name = name,
                        arrivals = arrivals,
                        parties = parties
                    ),
                )
                .at(span, t!("classroom.check.opens_every", parties = parties))
                .help(t!(
                    "classroom.check.barrier_rounds_help",
                    left = left,
                    name = name,
                    parties = parties
                )),
            );
        }
    }
}

/// A problem with what the steps do to resource `r`: labelled at the step (`at`), and at where
/// `r` is declared.
fn about_resource(
    parsed: &Parsed,
    r: usize,
    code: &'static str,
    message: impl Into<String>,
    at: (Span, impl Into<String>),
    help: impl Into<String>,
) -> Problem {
    Problem::new(code, message)
        .at(at.0, at.1)
        .also(
            parsed.resource_spans[r],
            t!("classroom.check.declared_here"),
        )
        .help(help)
}

/// A `take` from a buffer that nothing ever puts into can only wait forever.
fn buffers(parsed: &Parsed, problems: &mut Vec<Problem>) {
    let s = &parsed.scenario;
    for (r, res) in s.resources.iter().enumerate() {
        // An mp-queue's items come from threads of any process, all of them in the file.
        if !matches!(
            res.kind,
            ResourceKind::Buffer { .. } | ResourceKind::MpQueue
        ) {
            continue;
        }
        let mut first_take = None;
        let mut any_put = false;
        // Every put (item or sentinel) adds an unfinished task; a `task-done` beyond them all
        // is Python's "ValueError: task_done() called too many times" on every run.
        let mut puts = 0u64;
        let mut too_many_done = None;
        for (t, thread) in s.threads.iter().enumerate() {
            for (i, step) in thread.steps.iter().enumerate() {
                match step.op {
                    op if op.puts() == Some(r as u16) => {
                        any_put = true;
                        puts += 1;
                    }
                    Op::Take(b) if b as usize == r && first_take.is_none() => {
                        first_take = Some(parsed.step_spans[t][i]);
                    }
                    _ => {}
                }
            }
        }
        // Counted over whole scripts only where every script runs to its end: a sentinel
        // may stop a consumer's loop early, and so may cancelling a consumer task.
        let cancels = |t: usize| {
            s.threads
                .iter()
                .flat_map(|u| u.steps.iter())
                .any(|st| match st.op {
                    Op::Cancel(g) | Op::WaitTasksFor { tasks: g, .. } => g.contains(t as u16),
                    _ => false,
                })
        };
        let whole = !s
            .threads
            .iter()
            .flat_map(|t| t.steps.iter())
            .any(|st| matches!(st.op, Op::PutSentinel(b) if b as usize == r))
            && !(0..s.threads.len()).any(|t| {
                cancels(t)
                    && s.threads[t]
                        .steps
                        .iter()
                        .any(|st| st.op == Op::TaskDone(r as u16))
            });
        let mut done = 0u64;
        for (t, thread) in s.threads.iter().enumerate() {
            // Within a thread, each task-done answers a take before it.
            let (mut taken, mut own) = (0u64, 0u64);
            for (i, step) in thread.steps.iter().enumerate() {
                if step.op.takes() == Some(r as u16) {
                    taken += 1;
                }
                if step.op == Op::TaskDone(r as u16) {
                    done += 1;
                    own += 1;
                    if (own > taken || (whole && done > puts)) && too_many_done.is_none() {
                        too_many_done = Some(parsed.step_spans[t][i]);
                    }
                }
            }
        }
        if let Some(span) = too_many_done {
            let name = &res.name;
            problems.push(about_resource(
                parsed,
                r,
                "scenario::task-done-too-often",
                t!(
                    "syllabus.check.task_done_too_often",
                    name = name,
                    puts = puts
                ),
                (span, t!("syllabus.check.task_done_label")),
                t!("syllabus.check.task_done_help", name = name),
            ));
        }
        if let (Some(span), false) = (first_take, any_put) {
            let name = &res.name;
            problems.push(about_resource(
                parsed,
                r,
                "scenario::take-without-put",
                t!("classroom.check.take_without_put", name = name),
                (span, t!("classroom.check.item_never_comes")),
                t!("classroom.check.take_without_put_help", name = name),
            ));
        }
    }
}

/// A `wait` for an event that no thread ever sets can only wait forever.
fn events(parsed: &Parsed, problems: &mut Vec<Problem>) {
    let s = &parsed.scenario;
    for (r, res) in s.resources.iter().enumerate() {
        if res.kind != ResourceKind::Event {
            continue;
        }
        let steps = || {
            s.threads.iter().enumerate().flat_map(|(t, th)| {
                th.steps
                    .iter()
                    .enumerate()
                    .map(move |(i, st)| (t, i, st.op))
            })
        };
        if steps().any(|(.., op)| op == Op::Set(r as u16)) {
            continue;
        }
        if let Some((t, i, _)) = steps().find(|(.., op)| *op == Op::Wait(r as u16)) {
            let name = &res.name;
            problems.push(about_resource(
                parsed,
                r,
                "scenario::event-never-set",
                t!("classroom.check.event_never_set", name = name),
                (
                    parsed.step_spans[t][i],
                    t!("classroom.check.signal_never_comes"),
                ),
                t!("classroom.check.event_never_set_help", name = name),
            ));
        }
    }
}

/// No thread may be scripted to work and sleep for longer than [`MAX_THREAD_TIME`].
fn thread_time(parsed: &Parsed, problems: &mut Vec<Problem>) {
    let s = &parsed.scenario;
    let mut reported: HashSet<Span> = HashSet::new();
    for (t, thread) in s.threads.iter().enumerate() {
        let total = thread
            .steps
            .iter()
            .filter_map(|st| st.op.duration())
            .fold(Duration::ZERO, Duration::saturating_add);
        if total > MAX_THREAD_TIME && reported.insert(parsed.thread_spans[t]) {
            problems.push(
                Problem::new(
                    "scenario::too-long",
                    t!(
                        "classroom.check.too_long",
                        name = thread.group,
                        total = human(total)
                    ),
                )
                .at(parsed.thread_spans[t], t!("classroom.check.runs_too_long"))
                .help(t!(
                    "classroom.check.too_long_help",
                    most = human(MAX_THREAD_TIME)
                )),
            );
        }
    }
}

/// Processes share no memory: every resource but an `mp-queue` lives in one process, so the
/// threads of two processes cannot both use it, nor run under one GIL; a thread in a child
/// process cannot wait `after=` threads it cannot see.
fn processes(parsed: &Parsed, problems: &mut Vec<Problem>) {
    let s = &parsed.scenario;
    if s.processes.is_empty() {
        return;
    }
    let process_words = |p: Option<ProcIdx>| match p {
        Some(p) => t!(
            "processes.check.process",
            name = s.processes[p as usize].name
        )
        .into_owned(),
        None => t!("processes.check.main_process").into_owned(),
    };
    // Per resource: the first process seen using it, and where.
    let mut first: Vec<Option<(Option<ProcIdx>, Span)>> = vec![None; s.resources.len()];
    let mut reported: HashSet<ResIdx> = HashSet::new();
    for (t, thread) in s.threads.iter().enumerate() {
        let mut uses: Vec<(ResIdx, Span)> = Vec::new();
        if let Some(g) = thread.gil {
            uses.push((g, parsed.thread_spans[t]));
        }
        for (i, step) in thread.steps.iter().enumerate() {
            let span = parsed.step_spans[t][i];
            if let Some(r) = step.op.resource() {
                uses.push((r, span));
                if let ResourceKind::Condition { lock } = s.resources[r as usize].kind {
                    uses.push((lock, span));
                }
            }
            if let Op::CondWait {
                guard: Guard::While(l) | Guard::If(l),
                ..
            } = step.op
            {
                uses.push((l, span));
            }
        }
        for (r, span) in uses {
            let res = &s.resources[r as usize];
            if res.kind == ResourceKind::MpQueue {
                continue;
            }
            match first[r as usize] {
                None => first[r as usize] = Some((thread.process, span)),
                Some((p, at)) if p != thread.process && reported.insert(r) => {
                    let (code, message, help) = if matches!(res.kind, ResourceKind::Gil { .. }) {
                        (
                            "scenario::shared-gil",
                            t!("processes.check.shared_gil", name = res.name),
                            t!("processes.check.shared_gil_help"),
                        )
                    } else {
                        (
                            "scenario::shared-memory",
                            t!(
                                "processes.check.shared_memory",
                                kind = res.kind.keyword(),
                                name = res.name
                            ),
                            t!("processes.check.shared_memory_help"),
                        )
                    };
                    problems.push(
                        Problem::new(code, message)
                            .at(
                                span,
                                t!(
                                    "processes.check.used_in",
                                    what = process_words(thread.process)
                                ),
                            )
                            .also(at, t!("processes.check.used_in", what = process_words(p)))
                            .help(help),
                    );
                }
                Some(_) => {}
            }
        }
        if let Some(p) = thread.process
            && let Some(&other) = thread
                .after
                .iter()
                .find(|&&a| s.threads[a as usize].process != Some(p))
        {
            problems.push(
                Problem::new(
                    "scenario::after-across-processes",
                    t!(
                        "processes.check.after_across",
                        thread = thread.name,
                        other = s.thread_name(other)
                    ),
                )
                .at(
                    parsed.thread_spans[t],
                    t!("processes.check.used_in", what = process_words(Some(p))),
                )
                .help(t!("processes.check.after_across_help")),
            );
        }
    }
}

/// An mp-queue is a plain pipe: no priorities, and a take waits until an item comes.
fn mp_queues(parsed: &Parsed, problems: &mut Vec<Problem>) {
    let s = &parsed.scenario;
    let mut reported: HashSet<Span> = HashSet::new();
    for (t, thread) in s.threads.iter().enumerate() {
        for (i, step) in thread.steps.iter().enumerate() {
            let (Op::PutPriority { resource: r, .. } | Op::TakeFor { resource: r, .. }) = step.op
            else {
                continue;
            };
            let span = parsed.step_spans[t][i];
            if s.resources[r as usize].kind == ResourceKind::MpQueue && reported.insert(span) {
                problems.push(
                    Problem::new(
                        "scenario::wrong-kind",
                        t!("processes.check.plain_queue", name = s.resource_name(r)),
                    )
                    .at(span, t!("processes.check.not_on_an_mp_queue"))
                    .help(t!("processes.check.plain_queue_help")),
                );
            }
        }
    }
}
