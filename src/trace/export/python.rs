//! The Python twin of a scenario: a standard-library Python 3.8+ program that does what the
//! scenario does, on CPython's own threads and primitives, for a class to read and run.
//!
//! The program is the lesson's threads written out as functions (one per `thread` group, `count=`
//! members sharing it), led by a harness (`python_harness.py`) that wraps each standard
//! primitive to log the same events as `threadlab run --events`, calibrates `work` as a Python
//! loop, and watches for a deadlock. Every lesson line of the program is mapped to its scenario
//! line (`KDL_LINE`), so the events carry the scenario's `line` as threadlab's do.

use std::collections::HashSet;
use std::time::Duration;

use crate::scenario::model::{
    EXCEPTIONS, Guard, Op, ResIdx, Resource, ResourceKind, Scenario, Tasks, ThreadModel,
    ThreadSpec, UNBOUNDED,
};

const HARNESS: &str = include_str!("python_harness.py");

/// Names the program itself defines or imports: a lesson's names must not shadow them.
const RESERVED: &[&str] = &[
    "False",
    "None",
    "True",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "print",
    "range",
    "set",
    "list",
    "dict",
    "int",
    "str",
    "len",
    "type",
    "id",
    "argparse",
    "asyncio",
    "collections",
    "concurrent",
    "json",
    "os",
    "queue",
    "random",
    "sys",
    "threading",
    "time",
    "work",
    "sleep",
    "async_sleep",
    "back_off",
    "Lock",
    "RLock",
    "Semaphore",
    "Barrier",
    "Event",
    "Queue",
    "PriorityQueue",
    "List",
    "Condition",
    "Future",
    "ThreadPoolExecutor",
    "as_completed",
    "task",
    "item",
    "f",
    "RWLock",
    "Counter",
    "start",
    "join",
    "create_tasks",
    "start_event_loop",
    "finish",
    "main",
    "OPTIONS",
    "SPEED",
    "KDL_LINE",
    "value",
    "AsyncSemaphore",
    "AsyncLock",
    "AsyncEvent",
    "AsyncQueue",
    "gather",
    "wait",
    "wait_for",
    "to_thread",
    "LANES",
    "t",
    "done",
    "pending",
];

/// Why the twin cannot express `scenario`, if it cannot. The program names each future by its
/// submit (`f1 = ex.submit(...)`) in the function of the one thread that submits, so a pool's
/// tasks must be submitted by one thread (not a `count=` group) and collected by that thread;
/// `export --format python` refuses anything else with this reason rather than write a program
/// that does something else.
pub fn unsupported(scenario: &Scenario) -> Option<String> {
    for (r, res) in scenario.resources.iter().enumerate() {
        if res.kind != ResourceKind::Pool {
            continue;
        }
        let uses = |t: &ThreadSpec, collect: bool| {
            t.steps.iter().any(|s| match s.op {
                Op::Submit { pool, .. } => !collect && pool as usize == r,
                Op::Result { pool, .. } => collect && pool as usize == r,
                Op::Map(p) | Op::AsCompleted(p) => collect && p as usize == r,
                _ => false,
            })
        };
        let submitters: Vec<&ThreadSpec> =
            scenario.threads.iter().filter(|t| uses(t, false)).collect();
        let one = submitters.len() <= 1;
        let same = scenario
            .threads
            .iter()
            .filter(|t| uses(t, true))
            .all(|t| submitters.first().is_some_and(|s| s.name == t.name));
        if !one || !same {
            return Some(format!(
                "the Python twin names each future of pool `{}` by its submit in the one thread \
                 that submits (f1 = ex.submit(...)), so its tasks must be submitted and their \
                 results collected by one thread; `{}` shares them between threads, so it has \
                 no Python twin",
                res.name, scenario.name
            ));
        }
    }
    None
}

/// The Python program for `scenario`.
pub fn render(scenario: &Scenario) -> String {
    twin(scenario).text
}

/// The Python program for `scenario`, with where each scenario line went.
pub struct Twin {
    pub text: String,
    /// (Python line, scenario line), 1-based, of every line of the program that is a step, in
    /// program order: a thread at the step on scenario line L is at the first Python line here
    /// with L (the members of a `count=` group share one function, and a `repeat` one loop).
    pub lines: Vec<(usize, u32)>,
}

impl Twin {
    /// The Python line a thread at the step on scenario line `kdl_line` is at.
    pub fn python_line(&self, kdl_line: u32) -> Option<usize> {
        self.lines
            .iter()
            .find(|&&(_, k)| k == kdl_line)
            .map(|&(py, _)| py)
    }
}

/// What the lesson's threads stand for, said at the top of the lesson part.
fn model_note(scenario: &Scenario, out: &mut Program) {
    let lines: &[&str] = match scenario.models {
        ThreadModel::Python => &[
            "# threads \"python\": the lesson stands for CPython threads, and so does this program:",
            "# only one thread runs Python code at a time, under CPython's GIL.",
        ],
        ThreadModel::Native => &[
            "# threads \"native\": the lesson stands for threads that compute at the same time (a",
            "# free-threaded python3.13t, Rust, Java). Under an ordinary CPython this program's work",
            "# still takes turns on the GIL; run it with python3.13t to see the lesson's free threads.",
        ],
    };
    for line in lines {
        out.line(line);
    }
    out.blank(1);
}

/// Every step of every thread of `scenario`.
fn steps(scenario: &Scenario) -> impl Iterator<Item = Op> + '_ {
    scenario
        .threads
        .iter()
        .flat_map(|t| t.steps.iter().map(|s| s.op))
}

/// The Python program for `scenario`, keeping where each step went.
pub fn twin(scenario: &Scenario) -> Twin {
    let mut out = Program::default();
    out.docstring(scenario);
    for line in HARNESS.lines() {
        out.line(line);
    }
    out.blank(2);
    out.line(
        "# ---------------------------------------------------------------------------------------------",
    );
    out.line(&format!("# The lesson: {}", scenario.title));
    out.line(
        "# ---------------------------------------------------------------------------------------------",
    );
    out.blank(1);
    model_note(scenario, &mut out);

    let mut taken: HashSet<String> = RESERVED.iter().map(|s| s.to_string()).collect();
    let res_names: Vec<String> = scenario
        .resources
        .iter()
        .map(|r| ident(&r.name, &mut taken))
        .collect();
    for (r, res) in scenario.resources.iter().enumerate() {
        let var = &res_names[r];
        let name = py_str(&res.name);
        let comment = trailing_comment(scenario, res.line);
        if res.asyncio || executor_of(scenario, r as ResIdx) {
            match asyncio_decl(res, var, &name) {
                Some(decl) => out.line(&with_comment(decl, comment)),
                None => out.line(&format!(
                    "# {}: the event loop's default executor, which asyncio.to_thread hands calls to.",
                    res.name
                )),
            }
            continue;
        }
        let decl = match res.kind {
            ResourceKind::Mutex => format!("{var} = Lock({name})"),
            ResourceKind::RLock => format!("{var} = RLock({name})"),
            ResourceKind::Semaphore { permits } => format!("{var} = Semaphore({name}, {permits})"),
            ResourceKind::Barrier { parties } => format!("{var} = Barrier({name}, {parties})"),
            ResourceKind::Buffer { capacity } => {
                let class = if scenario.is_priority_queue(r as ResIdx) {
                    "PriorityQueue"
                } else {
                    "Queue"
                };
                format!("{var} = {class}({name}, maxsize={})", maxsize(capacity))
            }
            ResourceKind::Event => format!("{var} = Event({name})"),
            ResourceKind::Counter => format!("{var} = Counter({name})"),
            ResourceKind::RwLock { prefer_readers } => {
                if prefer_readers {
                    format!("{var} = RWLock({name}, prefer_readers=True)")
                } else {
                    format!("{var} = RWLock({name})")
                }
            }
            ResourceKind::Gil { .. } if scenario.process_gil(r as ResIdx).is_some() => {
                out.line(&format!(
                    "# {}: the process's own, as every CPython process has its own GIL.",
                    res.name
                ));
                continue;
            }
            ResourceKind::Gil { interval } if scenario.is_implied(r as ResIdx) => {
                format!("sys.setswitchinterval({})", secs(interval))
            }
            ResourceKind::Gil { interval } => {
                out.line(&format!(
                    "# gil {}: CPython has a GIL of its own, so this program declares none. Every",
                    res.name
                ));
                out.line("# thread below runs Python code under CPython's GIL, with or without gil= in the");
                out.line("# lesson (a free-threaded build, python3.13t, has none at all). The nearest honest");
                out.line("# thing is CPython's switch interval set to the lesson's:");
                format!("sys.setswitchinterval({})", secs(interval))
            }
            ResourceKind::EventLoop => {
                out.line(&format!(
                    "# event-loop {}: asyncio's event loop, run on a thread of its own named {}.",
                    res.name, name
                ));
                continue;
            }
            ResourceKind::Condition { lock } => {
                format!("{var} = Condition({name}, {})", res_names[lock as usize])
            }
            ResourceKind::List => format!("{var} = List({name})"),
            ResourceKind::MpQueue => format!("{var} = MpQueue({name})"),
            ResourceKind::Pool => {
                let workers = scenario
                    .threads
                    .iter()
                    .filter(|t| t.steps.iter().any(|s| s.op == Op::RunNext(r as ResIdx)))
                    .count();
                out.line(&format!(
                    "# {}'s worker threads are the lesson's threads that run its tasks, below.",
                    res.name
                ));
                format!("{var} = ThreadPoolExecutor({name}, max_workers={workers})")
            }
        };
        out.line(&with_comment(decl, comment));
    }
    if scenario
        .resources
        .iter()
        .any(|r| r.kind == ResourceKind::Pool)
    {
        out.blank(2);
        out.line("def task(n, seconds, error=None):");
        out.line("    \"\"\"A submitted task: its own CPU work, then its number as its result, or raise.\"\"\"");
        out.line("    work(seconds)");
        out.line("    if error is not None:");
        out.line("        raise error(n)");
        out.line("    return n");
    }

    let groups = groups(scenario, &mut taken);
    lanes_line(scenario, &mut out);
    for (gi, g) in groups.iter().enumerate() {
        if g.same_as.is_some() {
            continue;
        }
        out.blank(2);
        let spec = &scenario.threads[g.first];
        if let Some(comment) = trailing_comment(scenario, spec.line) {
            out.line(&format!("# {comment}"));
        }
        if let Some(gil) = spec.gil
            && scenario.models == ThreadModel::Native
        {
            out.line(&format!(
                "# gil={}: CPython runs every thread's Python code under its GIL anyway.",
                scenario.resource_name(gil)
            ));
        }
        let shared: Vec<&str> = groups
            .iter()
            .filter(|o| o.same_as == Some(gi))
            .flat_map(|o| o.lanes.iter().map(String::as_str))
            .collect();
        let doc = match g.lanes.len() {
            1 if !shared.is_empty() => format!(
                "The thread {}, and its copy in each process of the block: {}.",
                g.lanes[0],
                shared.join(", ")
            ),
            1 => format!(
                "The {} {}.",
                if g.task { "task" } else { "thread" },
                g.lanes[0]
            ),
            n => format!(
                "Each of the {n} {} {}.",
                if g.task { "tasks" } else { "threads" },
                g.lanes.join(", ")
            ),
        };
        out.line(&format!(
            "{}def {}():",
            if g.task { "async " } else { "" },
            g.func
        ));
        out.line(&format!("    \"\"\"{doc}\"\"\""));
        let mut lane = Lane::new(scenario, spec, &res_names);
        lane.task_vars = task_vars(&groups);
        lane.emit(&mut out, 0, spec.steps.len(), 1, None, false);
    }

    out.blank(2);
    main(scenario, &groups, &mut out);
    out.blank(2);
    let map: Vec<String> = out
        .kdl
        .iter()
        .map(|(py, kdl)| format!("{py}: {kdl}"))
        .collect();
    out.line("# Which scenario line each lesson line above stands for, for the events' \"line\".");
    out.line(&format!("KDL_LINE = {{{}}}", map.join(", ")));
    lane_numbers(scenario, &mut out);
    out.blank(2);
    out.line("if __name__ == \"__main__\":");
    out.line("    main()");
    Twin {
        text: out.text,
        lines: out.kdl,
    }
}

#[derive(Default)]
struct Program {
    text: String,
    lines: usize,
    /// (Python line, scenario line) of every line that is a step.
    kdl: Vec<(usize, u32)>,
}

impl Program {
    fn line(&mut self, text: &str) {
        self.text.push_str(text.trim_end());
        self.text.push('\n');
        self.lines += 1;
    }

    fn step(&mut self, text: &str, kdl_line: u32) {
        self.line(text);
        self.kdl.push((self.lines, kdl_line));
    }

    fn blank(&mut self, n: usize) {
        for _ in 0..n {
            self.line("");
        }
    }

    fn docstring(&mut self, scenario: &Scenario) {
        self.line("#!/usr/bin/env python3");
        self.line(&format!("\"\"\"{}", doc_text(&scenario.title)));
        self.line("");
        for line in dedent(&scenario.about) {
            self.line(&doc_text(&line));
        }
        self.line("");
        self.line(&format!(
            "The Python twin of threadlab's lesson `{}`, written by",
            doc_text(&scenario.name)
        ));
        self.line(&format!(
            "`threadlab export {} --format python`: standard library only, Python 3.8 or later.",
            doc_text(&scenario.name)
        ));
        self.line("");
        self.line("    python3 THIS.py                  exit 0 when every thread finished, 3 on a deadlock");
        self.line("    python3 THIS.py --events FILE    also write each event, as `threadlab run --events`");
        self.line("    python3 THIS.py --speed 4        every work and sleep four times shorter");
        self.line("\"\"\"");
    }
}

/// One `thread` or `task` node: its members share one function.
struct Group {
    name: String,
    func: String,
    /// The variable `main` keeps the started lanes' names in.
    var: String,
    first: usize,
    lanes: Vec<String>,
    task: bool,
    after: Vec<usize>,
    /// A thread of a `process count=N` block after the first process: the group of the first,
    /// whose function it runs too.
    same_as: Option<usize>,
}

fn groups(scenario: &Scenario, taken: &mut HashSet<String>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (i, t) in scenario.threads.iter().enumerate() {
        // The loop's executor threads are asyncio's own: `to_thread` starts them.
        if executor_worker(scenario, t) {
            continue;
        }
        if let Some(g) = groups.last_mut()
            && g.name == t.group
            && g.task == t.is_task()
        {
            g.lanes.push(t.name.clone());
            continue;
        }
        let mut after: Vec<usize> = Vec::new();
        for &a in &t.after {
            let group = &scenario.threads[a as usize].group;
            if let Some(gi) = groups.iter().position(|g| &g.name == group)
                && !after.contains(&gi)
            {
                after.push(gi);
            }
        }
        let kind = if t.is_task() { "tasks" } else { "threads" };
        let same_as = process_twin(scenario, &groups, i);
        let func = match same_as {
            Some(g) => groups[g].func.clone(),
            None => ident(&block_name(scenario, i).unwrap_or(t.group.clone()), taken),
        };
        let var = ident(&format!("{func}_{kind}"), taken);
        groups.push(Group {
            same_as,
            name: t.group.clone(),
            func,
            var,
            first: i,
            lanes: vec![t.name.clone()],
            task: t.is_task(),
            after,
        });
    }
    groups
}

/// For thread `t` of the first process of a `process NAME count=N` block, whose function the
/// copies in the other processes share: `NAME.thread` (`worker.loop`, not `worker-1.loop`).
fn block_name(scenario: &Scenario, t: usize) -> Option<String> {
    let (local, process) = local_name(scenario, t)?;
    let copied = (t + 1..scenario.threads.len()).any(|u| same_in_another_process(scenario, t, u));
    let block = process.rsplit_once('-').map_or(process, |(b, _)| b);
    copied.then(|| format!("{block}{local}"))
}

/// Thread `t`'s name within its child process, and that process's name.
fn local_name(scenario: &Scenario, t: usize) -> Option<(&str, &str)> {
    let process = scenario.process_of(t as u16)?;
    Some((scenario.threads[t].group.strip_prefix(process)?, process))
}

/// Whether threads `t` and `u` are the same thread of one `process` block in two of its
/// processes: the same name within each, the same steps, from the same line.
fn same_in_another_process(scenario: &Scenario, t: usize, u: usize) -> bool {
    let (Some((a, p)), Some((b, q))) = (local_name(scenario, t), local_name(scenario, u)) else {
        return false;
    };
    let (x, y) = (&scenario.threads[t], &scenario.threads[u]);
    a == b && p != q && x.steps == y.steps && x.line == y.line
}

/// For thread `t` of a child process: the earlier group, in another process, that is the same
/// thread of the same `process` block (same name within its process, same steps), if any.
fn process_twin(scenario: &Scenario, groups: &[Group], t: usize) -> Option<usize> {
    groups
        .iter()
        .position(|g| g.same_as.is_none() && same_in_another_process(scenario, g.first, t))
}

fn main(scenario: &Scenario, groups: &[Group], out: &mut Program) {
    let after_note = |g: &Group| {
        let names: Vec<&str> = g.after.iter().map(|&a| groups[a].name.as_str()).collect();
        format!("# {} starts once {} finished", g.name, names.join(" and "))
    };
    // Lanes in child processes have their ends made before any process starts, so whichever
    // process waits for one can.
    let in_children: Vec<String> = groups
        .iter()
        .filter(|g| scenario.threads[g.first].process.is_some())
        .flat_map(|g| g.lanes.iter().map(|n| py_str(n)))
        .collect();
    // Groups free to start go first: one waiting for its `after=` group must not hold up a
    // group declared below it that waits for nothing.
    let waits = |g: &&Group| {
        !g.after.is_empty()
            || scenario.threads[g.first]
                .process
                .is_some_and(|p| !scenario.processes[p as usize].after.is_empty())
    };
    let in_order: Vec<&Group> = groups
        .iter()
        .filter(|g| !waits(g))
        .chain(groups.iter().filter(waits))
        .collect();
    let event_loop = scenario
        .resources
        .iter()
        .find(|r| r.kind == ResourceKind::EventLoop);
    if let Some(l) = event_loop {
        out.line("async def event_loop():");
        out.line("    \"\"\"The tasks, all made at once and gathered, as asyncio.gather runs them.\"\"\"");
        let (global, cancels) = awaited_tasks(scenario, groups);
        if let Some(global) = global {
            out.line(&global);
        }
        // A cancelled task ends with CancelledError, which gather would raise here.
        let returning = if cancels {
            ", return_exceptions=True"
        } else {
            ""
        };
        // Every task is created before any runs, a group waiting for its `after=` groups
        // too (it waits inside its task), so a task may await or cancel it from the start;
        // `after=` names groups declared above, which are made first.
        let mut started: Vec<&Group> = Vec::new();
        for g in groups.iter().filter(|g| g.task) {
            let waits: Vec<String> = g
                .after
                .iter()
                .map(|&a| {
                    let dep = &groups[a];
                    if dep.task {
                        dep.var.clone()
                    } else {
                        format!("threads_finished({})", lanes_tuple(dep))
                    }
                })
                .collect();
            let names: Vec<String> = g.lanes.iter().map(|n| py_str(n)).collect();
            if waits.is_empty() {
                out.line(&format!(
                    "    {} = create_tasks({}, {})",
                    g.var,
                    g.func,
                    names.join(", ")
                ));
            } else {
                out.line(&format!(
                    "    {} = create_tasks({}, {}, after=[{}])  {}",
                    g.var,
                    g.func,
                    names.join(", "),
                    waits.join(", "),
                    after_note(g)
                ));
            }
            started.push(g);
        }
        let all: Vec<String> = started.iter().map(|g| format!("*{}", g.var)).collect();
        out.line(&format!(
            "    await asyncio.gather({}{returning})",
            all.join(", ")
        ));
        out.blank(2);
        let _ = l;
    }
    out.line("def main():");
    if !in_children.is_empty() {
        out.line(&format!("    in_processes({})", in_children.join(", ")));
    }
    if let Some(l) = event_loop {
        out.line(&format!(
            "    start_event_loop({}, event_loop)",
            py_str(&l.name)
        ));
    }
    let mut finish: Vec<String> = Vec::new();
    let mut processes_started: (Vec<u16>, Vec<String>) = (Vec::new(), Vec::new());
    for g in in_order {
        if let Some(p) = scenario.threads[g.first].process {
            start_process(scenario, groups, p, &mut processes_started, out);
            continue;
        }
        if g.task {
            finish.push(lanes_tuple(g));
            continue;
        }
        if !g.after.is_empty() {
            let what: Vec<String> = g
                .after
                .iter()
                .map(|&a| join_of(scenario, &groups[a]))
                .collect();
            out.line(&format!("    join({})  {}", what.join(", "), after_note(g)));
        }
        let names: Vec<String> = g.lanes.iter().map(|n| py_str(n)).collect();
        let daemon = if scenario.threads[g.first].daemon {
            ", daemon=True"
        } else {
            ""
        };
        out.line(&format!(
            "    {} = start({}, {}{daemon})",
            g.var,
            g.func,
            names.join(", ")
        ));
        finish.push(g.var.clone());
    }
    // Every lane may be in a child process, which `finish` waits for apart.
    if finish.is_empty() {
        finish.push("()".into());
    }
    out.line(&format!("    finish({})", finish.join(" + ")));
}

/// What `join` waits for to see group `g` finished: the names `start` gave its threads in
/// this process, or its lanes' names (tasks, threads of a child process), whose ends every
/// process sees.
fn join_of(scenario: &Scenario, g: &Group) -> String {
    if !g.task && scenario.threads[g.first].process.is_none() {
        return g.var.clone();
    }
    lanes_tuple(g)
}

/// The names of group `g`'s lanes, as a Python tuple.
fn lanes_tuple(g: &Group) -> String {
    let names: Vec<String> = g.lanes.iter().map(|n| py_str(n)).collect();
    match names.len() {
        1 => format!("({},)", names[0]),
        _ => format!("({})", names.join(", ")),
    }
}

/// `main`'s start of child process `p`, once, where its first group comes: after the groups it
/// waits for (`joined`: those already waited for), each of its groups with its lanes, on
/// threads of the new process.
fn start_process(
    scenario: &Scenario,
    groups: &[Group],
    p: u16,
    (started, joined): &mut (Vec<u16>, Vec<String>),
    out: &mut Program,
) {
    if started.contains(&p) {
        return;
    }
    started.push(p);
    let process = &scenario.processes[p as usize];
    let mut waits: Vec<&Group> = Vec::new();
    for &a in &process.after {
        let group = &scenario.threads[a as usize].group;
        if let Some(g) = groups.iter().find(|g| &g.name == group)
            && !waits.iter().any(|w| w.name == g.name)
        {
            waits.push(g);
        }
    }
    // A group already waited for (a `count=` block's earlier process) is over.
    waits.retain(|g| !joined.contains(&g.var));
    joined.extend(waits.iter().map(|g| g.var.clone()));
    if !waits.is_empty() {
        let what: Vec<String> = waits.iter().map(|g| join_of(scenario, g)).collect();
        let names: Vec<&str> = waits.iter().map(|g| g.name.as_str()).collect();
        out.line(&format!(
            "    join({})  # {} starts once {} finished",
            what.join(", "),
            process.name,
            names.join(" and ")
        ));
    }
    let parts: Vec<String> = groups
        .iter()
        .filter(|g| scenario.threads[g.first].process == Some(p))
        .map(|g| {
            let names: Vec<String> = g.lanes.iter().map(|n| py_str(n)).collect();
            format!("({}, ({},))", g.func, names.join(", "))
        })
        .collect();
    out.line(&format!(
        "    start_process({}, {})",
        py_str(&process.name),
        parts.join(", ")
    ));
}

/// Each lane's number in the scenario, which an mp-queue's items are numbered by (no process
/// sees another's count).
fn lane_numbers(scenario: &Scenario, out: &mut Program) {
    if !scenario
        .resources
        .iter()
        .any(|r| r.kind == ResourceKind::MpQueue)
    {
        return;
    }
    let lanes: Vec<String> = scenario
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{}: {i}", py_str(&t.name)))
        .collect();
    out.line("# Each lane's number, which an mp-queue numbers its items by.");
    out.line(&format!("LANE_INDEX = {{{}}}", lanes.join(", ")));
}

/// One lane's script, written out as Python.
struct Lane<'a> {
    scenario: &'a Scenario,
    spec: &'a ThreadSpec,
    res: &'a [String],
    /// What the thread holds before each step (and after the last), latest last.
    held: Vec<Vec<ResIdx>>,
    /// Stretches from where the thread last held nothing to where it holds nothing again, around
    /// each `lock … timeout=`: a retry starts the stretch again.
    retries: Vec<(usize, usize)>,
    /// Per step: the futures it names, by task number: a submit's own, a `result`'s, and the
    /// ones still uncollected for `map` and `as-completed`.
    futures: Vec<Vec<u32>>,
    /// Each task group's name and the variable its tasks are kept in, for steps that await or
    /// cancel them.
    task_vars: Vec<(String, String)>,
}

impl<'a> Lane<'a> {
    fn new(scenario: &'a Scenario, spec: &'a ThreadSpec, res: &'a [String]) -> Lane<'a> {
        let mut held = vec![Vec::new()];
        let mut now: Vec<ResIdx> = Vec::new();
        for s in &spec.steps {
            match s.op {
                Op::Lock(r)
                | Op::TryLock { resource: r, .. }
                | Op::Read(r)
                | Op::Write(r)
                | Op::Acquire(r) => now.push(r),
                Op::Unlock(r) | Op::Release(r) => {
                    if let Some(p) = now.iter().rposition(|&h| h == r) {
                        now.remove(p);
                    }
                }
                _ => {}
            }
            held.push(now.clone());
        }
        let n = spec.steps.len();
        let mut retries: Vec<(usize, usize)> = Vec::new();
        for (k, s) in spec.steps.iter().enumerate() {
            if !matches!(s.op, Op::TryLock { .. }) {
                continue;
            }
            let start = (0..=k).rev().find(|&i| held[i].is_empty()).unwrap_or(0);
            let end = (k..n).find(|&e| held[e + 1].is_empty()).unwrap_or(n - 1);
            if !retries.contains(&(start, end)) {
                retries.push((start, end));
            }
        }
        // The thread submitting to a pool is the only one (see `unsupported`), so its submits
        // are the pool's tasks 1, 2, 3... in order.
        let mut submitted: Vec<Vec<u32>> = vec![Vec::new(); scenario.resources.len()];
        let mut uncollected: Vec<Vec<u32>> = vec![Vec::new(); scenario.resources.len()];
        let futures = spec
            .steps
            .iter()
            .map(|s| match s.op {
                Op::Submit { pool, .. } => {
                    let n = submitted[pool as usize].len() as u32 + 1;
                    submitted[pool as usize].push(n);
                    uncollected[pool as usize].push(n);
                    vec![n]
                }
                Op::Result { pool, task, .. } => {
                    uncollected[pool as usize].retain(|&n| n != task);
                    vec![task]
                }
                Op::Map(p) | Op::AsCompleted(p) => std::mem::take(&mut uncollected[p as usize]),
                _ => Vec::new(),
            })
            .collect();
        Lane {
            scenario,
            spec,
            res,
            held,
            retries,
            futures,
            task_vars: Vec::new(),
        }
    }

    /// The variable of task `n`'s future from pool `pool`.
    fn future(&self, pool: ResIdx, n: u32) -> String {
        let pools = self
            .scenario
            .resources
            .iter()
            .filter(|r| r.kind == ResourceKind::Pool)
            .count();
        if pools > 1 {
            format!("{}_f{n}", self.res[pool as usize])
        } else {
            format!("f{n}")
        }
    }

    /// The futures a collecting step waits for, as a Python list.
    fn future_list(&self, pool: ResIdx, i: usize) -> String {
        let names: Vec<String> = self.futures[i]
            .iter()
            .map(|&n| self.future(pool, n))
            .collect();
        format!("[{}]", names.join(", "))
    }

    /// The name a thread gives what it takes from `r`: `job` from `jobs`, else `item`.
    fn item_of(&self, r: ResIdx) -> String {
        let var = &self.res[r as usize];
        match var.strip_suffix('s') {
            Some(one)
                if !one.is_empty()
                    && !self.res.iter().any(|v| v == one)
                    && !RESERVED.contains(&one)
                    && !one.ends_with('_') =>
            {
                one.to_string()
            }
            _ => "item".to_string(),
        }
    }

    /// How `lock`/`unlock` of mutex `r` reads: through the one condition bound to it, if any
    /// (`not_empty.acquire()` takes the condition's lock, as Python writes it).
    fn lock_var(&self, r: ResIdx) -> &str {
        let mut bound =
            self.scenario.resources.iter().enumerate().filter(
                |(_, res)| matches!(res.kind, ResourceKind::Condition { lock } if lock == r),
            );
        match (bound.next(), bound.next()) {
            (Some((c, _)), None) => &self.res[c],
            _ => &self.res[r as usize],
        }
    }

    /// Whether buffer `r` is ever given a sentinel: a take from it may end the thread.
    fn gets_sentinels(&self, r: ResIdx) -> bool {
        steps(self.scenario).any(|op| op == Op::PutSentinel(r))
    }

    /// Steps `a..b` at `depth` levels of indentation; `inside` is the retry stretch being
    /// written; `tail` says a `break` here ends the thread (a loop the script ends with).
    fn emit(
        &self,
        out: &mut Program,
        a: usize,
        b: usize,
        depth: usize,
        inside: Option<usize>,
        tail: bool,
    ) {
        let pad = "    ".repeat(depth);
        let mut i = a;
        while i < b {
            if let Some((p, k)) = self.repeat_at(i, b, inside) {
                let last = depth == 1 && i + p * k == self.spec.steps.len();
                out.line(&format!("{pad}for _ in range({k}):"));
                self.emit(out, i, i + p, depth + 1, None, last);
                i += p * k;
                continue;
            }
            if let Some(&(s, e)) = self
                .retries
                .iter()
                .find(|&&(s, e)| s == i && e < b && inside != Some(s))
            {
                out.line(&format!(
                    "{pad}while True:  # a retry after backing off starts here again"
                ));
                self.emit(out, s, e + 1, depth + 1, Some(s), false);
                out.line(&format!("{pad}    break"));
                i = e + 1;
                continue;
            }
            self.step(out, i, &pad, tail);
            i += 1;
        }
    }

    /// The shortest run of steps at `i` that repeats back to back (an unrolled `repeat`), as
    /// (length, times), when it can be written as a loop: no retry stretch crosses a round.
    fn repeat_at(&self, i: usize, b: usize, inside: Option<usize>) -> Option<(usize, usize)> {
        let steps = &self.spec.steps;
        for p in 1..=(b - i) / 2 {
            let mut k = 1;
            while i + (k + 1) * p <= b && steps[i..i + p] == steps[i + k * p..i + (k + 1) * p] {
                k += 1;
            }
            if k < 2 {
                continue;
            }
            let end = i + k * p;
            let has_try = (i..end).any(|j| matches!(steps[j].op, Op::TryLock { .. }));
            // Each future has a name of its own, so steps naming futures are written out.
            let names_futures = (i..end).any(|j| !self.futures[j].is_empty());
            if names_futures {
                continue;
            }
            let whole = self.retries.iter().all(|&(s, e)| {
                e < i
                    || s >= end
                    || (Some(s) == inside && !has_try)
                    || (Some(s) != inside && s >= i && e < end && (s - i) / p == (e - i) / p)
            });
            if whole {
                return Some((p, k));
            }
        }
        None
    }

    fn step(&self, out: &mut Program, i: usize, pad: &str, tail: bool) {
        let step = self.spec.steps[i];
        let line = step.line;
        let comment = trailing_comment(self.scenario, line);
        let r = |r: ResIdx| self.res[r as usize].as_str();
        // What ends the thread from inside its script: `break` out of the loop it ends with.
        let leave = if tail { "break" } else { "return" };
        // A step written as several lines: (extra indentation, code), each line the step's.
        let block = |out: &mut Program, lines: &[(usize, String)]| {
            let codes: Vec<&str> = lines.iter().map(|(_, c)| c.as_str()).collect();
            let comment = comment.and_then(|c| unsaid(c, &codes));
            for (k, (indent, code)) in lines.iter().enumerate() {
                let code = code.clone();
                let text = if k == 0 {
                    with_comment(code, comment)
                } else {
                    code
                };
                out.step(&format!("{pad}{}{text}", "    ".repeat(*indent)), line);
            }
        };
        // asyncio's own primitives are awaited where a task may wait on them.
        let aw = |x: ResIdx| {
            if self.scenario.resources[x as usize].asyncio {
                "await "
            } else {
                ""
            }
        };
        let text = match step.op {
            Op::Lock(x) => format!("{}{}.acquire()", aw(x), self.lock_var(x)),
            Op::Unlock(x) if self.scenario.resources[x as usize].kind == ResourceKind::Mutex => {
                format!("{}.release()", self.lock_var(x))
            }
            Op::Acquire(x) => format!("{}{}.acquire()", aw(x), r(x)),
            Op::Unlock(x) | Op::Release(x) => format!("{}.release()", r(x)),
            Op::Read(x) => format!("{}.acquire_read()", r(x)),
            Op::Write(x) => format!("{}.acquire_write()", r(x)),
            Op::Wait(x) => format!("{}{}.wait()", aw(x), r(x)),
            Op::Set(x) => format!("{}.set()", r(x)),
            Op::Clear(x) => format!("{}.clear()", r(x)),
            Op::WaitFor { resource, timeout } => {
                format!("{}.wait(timeout={})", r(resource), secs(timeout))
            }
            Op::Put(x) => format!("{}{}.put()", aw(x), r(x)),
            Op::PutSentinel(x) => format!("{}{}.put(None)", aw(x), r(x)),
            Op::PutPriority { resource, priority } => {
                format!("{}.put(priority={priority})", r(resource))
            }
            Op::Take(x) if self.gets_sentinels(x) => {
                let item = self.item_of(x);
                block(
                    out,
                    &[
                        (0, format!("{item} = {}{}.get()", aw(x), r(x))),
                        (
                            0,
                            format!("if {item} is None:  # the sentinel: no more work"),
                        ),
                        (1, leave.to_string()),
                    ],
                );
                return;
            }
            Op::Take(x) => format!("{}{}.get()", aw(x), r(x)),
            Op::TakeFor { resource, timeout } => {
                let item = self.item_of(resource);
                let mut lines = vec![
                    (0, "try:".to_string()),
                    (
                        1,
                        format!("{item} = {}.get(timeout={})", r(resource), secs(timeout)),
                    ),
                    (0, "except queue.Empty:".to_string()),
                    (1, "pass  # nothing came in time: go on".to_string()),
                ];
                if self.gets_sentinels(resource) {
                    lines.push((0, "else:".to_string()));
                    lines.push((
                        1,
                        format!("if {item} is None:  # the sentinel: no more work"),
                    ));
                    lines.push((2, leave.to_string()));
                }
                block(out, &lines);
                return;
            }
            Op::TaskDone(x) => format!("{}.task_done()", r(x)),
            Op::Join(x) => format!("{}{}.join()", aw(x), r(x)),
            Op::Work(d) => format!("work({})", secs(d)),
            Op::CondWait { cond, guard } => {
                let wait = format!("{}.wait()", r(cond));
                let (check, list) = match guard {
                    Guard::None => {
                        block(out, &[(0, wait)]);
                        return;
                    }
                    Guard::While(l) => ("while", l),
                    Guard::If(l) => ("if", l),
                };
                block(out, &[(0, format!("{check} not {}:", r(list))), (1, wait)]);
                return;
            }
            Op::Notify(x) => format!("{}.notify()", r(x)),
            Op::NotifyAll(x) => format!("{}.notify_all()", r(x)),
            Op::Append(x) => format!("{}.append()", r(x)),
            Op::Pop(x) => format!("{} = {}.pop(0)", self.item_of(x), r(x)),
            Op::Submit { pool, work, raises } => {
                let n = self.futures[i][0];
                let error = match raises {
                    Some(e) => format!(
                        ", {}",
                        EXCEPTIONS.get(e as usize).copied().unwrap_or("Exception")
                    ),
                    None => String::new(),
                };
                format!(
                    "{} = {}.submit(task, {n}, {}{error})",
                    self.future(pool, n),
                    r(pool),
                    secs(work)
                )
            }
            Op::RunNext(x) => {
                block(
                    out,
                    &[
                        (0, format!("if not {}.run_next():", r(x))),
                        (1, format!("{leave}  # shut down, and no task left")),
                    ],
                );
                return;
            }
            Op::Result {
                pool,
                task,
                timeout,
            } => {
                let f = self.future(pool, task);
                match timeout {
                    Some(t) => format!("{f}.result(timeout={})", secs(t)),
                    None => format!("{f}.result()"),
                }
            }
            Op::AsCompleted(x) => {
                let list = self.future_list(x, i);
                block(
                    out,
                    &[
                        (0, format!("for f in as_completed({list}):")),
                        (1, "f.result()".to_string()),
                    ],
                );
                return;
            }
            Op::Map(x) => {
                let list = self.future_list(x, i);
                let head = format!("for f in {list}:");
                let head = match comment {
                    Some(_) => head,
                    None => format!("{head}  # in submission order, as ex.map gives them"),
                };
                block(out, &[(0, head), (1, "f.result()".to_string())]);
                return;
            }
            Op::Shutdown(x) => format!("{}.shutdown(wait=False)", r(x)),
            Op::Gather(_)
            | Op::WaitTasks { .. }
            | Op::Cancel(_)
            | Op::WaitTasksFor { .. }
            | Op::ToThread { .. } => {
                block(out, &self.asyncio_step(step.op));
                return;
            }
            Op::Sleep(d) if self.spec.is_task() => format!("await async_sleep({})", secs(d)),
            Op::Sleep(d) => format!("sleep({})", secs(d)),
            Op::BlockingSleep(d) => {
                let text = format!("sleep({})", secs(d));
                let note = comment.unwrap_or("time.sleep: blocks the whole loop, no await");
                out.step(&format!("{pad}{}", with_comment(text, Some(note))), line);
                return;
            }
            Op::Increment(x) => {
                let c = r(x);
                out.step(
                    &format!(
                        "{pad}{}",
                        with_comment(format!("value = {c}.load()"), comment)
                    ),
                    line,
                );
                // Under a GIL the read and the write are as close as CPython's bytecodes; free
                // threads hold the value a visible moment, as the lesson draws them.
                let window = if self.spec.gil.is_some() {
                    crate::engine::primitives::counter::GIL_WINDOW
                } else {
                    crate::engine::primitives::counter::WINDOW
                };
                out.step(
                    &format!(
                        "{pad}work({})  # a moment between the read and the write",
                        secs(window)
                    ),
                    line,
                );
                out.step(&format!("{pad}{c}.store(value + 1)"), line);
                return;
            }
            Op::TryLock {
                resource,
                timeout,
                backoff,
                jitter,
            } => {
                let text = format!("if not {}.acquire(timeout={}):", r(resource), secs(timeout));
                out.step(&format!("{pad}{}", with_comment(text, comment)), line);
                for &h in self.held[i].iter().rev() {
                    out.step(
                        &format!("{pad}    {}.release()  # give back what it holds", r(h)),
                        line,
                    );
                }
                let back = secs(backoff.unwrap_or(timeout));
                let call = if jitter {
                    format!("back_off({back})")
                } else {
                    format!("back_off({back}, jitter=False)")
                };
                out.step(&format!("{pad}    {call}"), line);
                out.line(&format!("{pad}    continue"));
                return;
            }
        };
        block(out, &[(0, text)]);
    }
}

/// What a step's scenario comment says beyond the code it annotates: a comment that writes the
/// step's Python itself (`not_empty.acquire()`, `f7.result(): the error arrives here`) would
/// only repeat it, so the code part is dropped (up to the call's closing parenthesis, then any
/// of the step's further lines it repeats), and the rest kept.
fn unsaid<'c>(comment: &'c str, codes: &[&str]) -> Option<&'c str> {
    let first = codes.first()?;
    let joined = codes.join(" ");
    let head = |code: &str| code.find('(').map(|k| code[..=k].to_string());
    let trim = |s: &'c str| s.trim_start_matches([':', ';', ' ', ',']);
    let mut rest = if let Some(after) = head(&joined).and_then(|h| comment.strip_prefix(&h)) {
        trim(after.find(')').map_or("", |k| &after[k + 1..]))
    } else if let Some(after) = comment.strip_prefix(first) {
        trim(after)
    } else if let Some(after) = first
        .split_once(" = ")
        .and_then(|(var, _)| comment.strip_prefix(var))
        .filter(|r| r.is_empty() || r.starts_with(':'))
    {
        trim(after)
    } else {
        return Some(comment);
    };
    for code in &codes[1..] {
        let code = code.split("  #").next().unwrap_or(code).trim();
        if let Some(r) = rest.strip_prefix(code) {
            rest = trim(r);
        }
    }
    (!rest.is_empty()).then_some(rest)
}

fn with_comment(code: String, comment: Option<&str>) -> String {
    match comment {
        Some(c) => format!("{code}  # {c}"),
        None => code,
    }
}

/// The `//` comment at the end of a scenario line, if any (not one inside a quoted string).
fn trailing_comment(scenario: &Scenario, line: u32) -> Option<&str> {
    let text = scenario.source_line(line)?;
    let mut quoted = false;
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        match c {
            '"' if prev != '\\' => quoted = !quoted,
            '/' if !quoted && prev == '/' => {
                let c = text[i + 1..].trim();
                return (!c.is_empty()).then_some(c);
            }
            _ => {}
        }
        prev = c;
    }
    None
}

/// A Python identifier for a scenario name, unique among `taken`.
fn ident(name: &str, taken: &mut HashSet<String>) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert(0, '_');
    }
    while taken.contains(&id) {
        id.push('_');
    }
    taken.insert(id.clone());
    id
}

/// A Python string literal.
fn py_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Text safe inside a `"""` docstring.
fn doc_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"")
}

/// Seconds as a Python number: `0.1`, `1.0`.
fn secs(d: Duration) -> String {
    let s = format!("{}", d.as_secs_f64());
    if s.contains('.') { s } else { s + ".0" }
}

/// The about text without its common indentation, trailing blank lines dropped.
fn dedent(text: &str) -> Vec<String> {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end().to_string())
        .collect();
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// asyncio's steps on other tasks and on the loop's executor, as a task's twin writes them.
impl Lane<'_> {
    /// The tasks of `tasks` as one Python expression: a group's list, or the lists together.
    fn tasks_expr(&self, tasks: Tasks, star: bool) -> String {
        let vars: Vec<&str> = self
            .scenario
            .group_names(tasks)
            .into_iter()
            .filter_map(|g| {
                self.task_vars
                    .iter()
                    .find(|(name, _)| name == g)
                    .map(|(_, var)| var.as_str())
            })
            .collect();
        match (vars.as_slice(), star) {
            ([one], false) => one.to_string(),
            (_, true) => vars
                .iter()
                .map(|v| format!("*{v}"))
                .collect::<Vec<_>>()
                .join(", "),
            (_, false) => format!(
                "[{}]",
                vars.iter()
                    .map(|v| format!("*{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn asyncio_step(&self, op: Op) -> Vec<(usize, String)> {
        match op {
            Op::Gather(t) => vec![(0, format!("await gather({})", self.tasks_expr(t, true)))],
            Op::WaitTasks { tasks, first } => {
                let when = if first {
                    "FIRST_COMPLETED"
                } else {
                    "ALL_COMPLETED"
                };
                vec![(
                    0,
                    format!(
                        "done, pending = await wait({}, return_when=asyncio.{when})",
                        self.tasks_expr(tasks, false)
                    ),
                )]
            }
            Op::Cancel(t) => vec![
                (0, format!("for t in {}:", self.tasks_expr(t, false))),
                (
                    1,
                    "t.cancel()  # CancelledError at the await it is in".into(),
                ),
            ],
            Op::WaitTasksFor { tasks, timeout } => {
                let aw = if tasks.count == 1 {
                    format!("{}[0]", self.tasks_expr(tasks, false))
                } else {
                    format!("asyncio.gather({})", self.tasks_expr(tasks, true))
                };
                vec![
                    (0, "try:".into()),
                    (
                        1,
                        format!("await wait_for({aw}, timeout={})", secs(timeout)),
                    ),
                    (0, "except TimeoutError:".into()),
                    (
                        1,
                        "pass  # cancelled at the timeout: go on without it".into(),
                    ),
                ]
            }
            Op::ToThread { call, .. } => vec![(
                0,
                format!(
                    "await to_thread(sleep, {})  # a blocking call, off the loop",
                    secs(call)
                ),
            )],
            _ => Vec::new(),
        }
    }
}

/// Whether resource `r` is the executor `to-thread` hands its calls to.
fn executor_of(scenario: &Scenario, r: ResIdx) -> bool {
    steps(scenario).any(|op| matches!(op, Op::ToThread { executor, .. } if executor == r))
}

/// Whether `t` is one of the executor's worker threads, which asyncio starts by itself.
fn executor_worker(scenario: &Scenario, t: &ThreadSpec) -> bool {
    t.steps
        .first()
        .is_some_and(|s| matches!(s.op, Op::RunNext(r) if executor_of(scenario, r)))
}

/// asyncio's primitive `res` declared, or `None` for the executor, which asyncio has.
fn asyncio_decl(res: &Resource, var: &str, name: &str) -> Option<String> {
    if !res.asyncio {
        return None;
    }
    Some(match res.kind {
        ResourceKind::Semaphore { permits } => format!("{var} = AsyncSemaphore({name}, {permits})"),
        ResourceKind::Event => format!("{var} = AsyncEvent({name})"),
        ResourceKind::Buffer { capacity } => {
            format!("{var} = AsyncQueue({name}, maxsize={})", maxsize(capacity))
        }
        _ => format!("{var} = AsyncLock({name})"),
    })
}

/// Each task group's name and its variable.
fn task_vars(groups: &[Group]) -> Vec<(String, String)> {
    groups
        .iter()
        .filter(|g| g.task)
        .map(|g| (g.name.clone(), g.var.clone()))
        .collect()
}

/// The `global` line that lets tasks await or cancel other groups' tasks, if any does, and
/// whether any task is cancelled.
fn awaited_tasks(scenario: &Scenario, groups: &[Group]) -> (Option<String>, bool) {
    let awaits = steps(scenario).any(|op| op.tasks().is_some());
    let cancels = steps(scenario).any(|op| matches!(op, Op::Cancel(_) | Op::WaitTasksFor { .. }));
    let vars: Vec<&str> = groups
        .iter()
        .filter(|g| g.task)
        .map(|g| g.var.as_str())
        .collect();
    let global = (awaits && !vars.is_empty()).then(|| format!("    global {}", vars.join(", ")));
    (global, cancels)
}

/// Where a task cancels others, the lanes in threadlab's order: a cancel's event names the task
/// it cancels by its place here.
fn lanes_line(scenario: &Scenario, out: &mut Program) {
    if !steps(scenario).any(|op| matches!(op, Op::Cancel(_) | Op::WaitTasksFor { .. })) {
        return;
    }
    let names: Vec<String> = scenario.threads.iter().map(|t| py_str(&t.name)).collect();
    out.blank(1);
    out.line(
        "# threadlab's lanes in order: a cancel's event names the task it cancels by its place.",
    );
    out.line(&format!("LANES = ({},)", names.join(", ")));
}

/// Python's `maxsize` for a queue of `capacity`: 0 is Python's word for no bound.
fn maxsize(capacity: u32) -> u32 {
    if capacity == UNBOUNDED { 0 } else { capacity }
}

#[cfg(test)]
mod tests {
    use super::unsaid;

    #[test]
    fn a_comment_that_repeats_the_python_keeps_only_what_it_adds() {
        let wait = ["while not items:", "not_empty.wait()"];
        assert_eq!(unsaid("while not items: not_empty.wait()", &wait), None);
        let wait_if = ["if not items:", "not_empty.wait()"];
        assert_eq!(
            unsaid("if not items: not_empty.wait()   <- the bug", &wait_if),
            Some("<- the bug")
        );
        let result = ["f7.result()"];
        assert_eq!(
            unsaid("f7.result(): the ValueError arrives here", &result),
            Some("the ValueError arrives here")
        );
        let submit = ["f2 = ex.submit(task, 2, 0.04)"];
        assert_eq!(unsaid("f2: a short one", &submit), Some("a short one"));
        let take = [
            "job = jobs.get()",
            "if job is None:  # the sentinel",
            "break",
        ];
        assert_eq!(
            unsaid("job = jobs.get(); if job is None: break", &take),
            None
        );
        assert_eq!(
            unsaid("handling the item", &["sleep(0.1)"]),
            Some("handling the item")
        );
    }
}
