//! `threadlab bench gil`: the GIL lesson's figures for this machine, from real runs; and
//! `threadlab bench fidelity`: every lesson's time and outcome in threadlab beside its Python
//! twin's under CPython.
//!
//! Four runs of the same calibrated CPU work — one thread doing all of it, N threads under the
//! GIL, N threads free — and the convoy: an I/O-bound thread's wake-up latency next to a
//! CPU-bound thread under the GIL, and alone. Wall times come from the recorded events, CPU
//! time from the kernel's accounting of this process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::cli::BenchWhat;
use crate::console::{out, outln};
use crate::error::Error;
use crate::vocab::outcome::Exit;

use crate::engine::{Run, RunOptions};
use crate::scenario::model::{Op, Scenario};
use crate::trace::gil::{self, PhaseFigures};
use crate::vocab::event::{Event, EventKind};
use crate::vocab::outcome::Outcome;

#[derive(Debug, Clone, Serialize)]
pub struct GilBench {
    pub cores: usize,
    pub threads: usize,
    pub work_per_thread_ms: u64,
    pub interval_ms: f64,
    pub alone: Measured,
    pub under_gil: Measured,
    pub free: Measured,
    /// Under the GIL relative to one thread doing all the work alone (1.0 = no gain, no loss).
    pub gil_vs_alone: f64,
    /// Wall time under the GIL divided by wall time free.
    pub free_speedup: f64,
    pub ideal_speedup: f64,
    pub convoy_with_cpu: Latency,
    pub convoy_alone: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub wall_ms: f64,
    /// Cores busy on average, from the kernel's CPU time for this process.
    pub cpu_busy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub wakeups: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

const WAKEUPS: usize = 200;
const IO_SLEEP: Duration = Duration::from_millis(2);

pub fn gil(threads: usize, work: Duration, interval: Duration) -> Result<GilBench, String> {
    let cores = gil::cores();
    let n = threads.max(1);
    let ms = |d: Duration| format!("{}us", d.as_micros());
    let alone = measure(&format!(
        "thread alone {{ work \"{}\" }}",
        ms(work * n as u32)
    ))?;
    let under_gil = measure(&format!(
        "gil py interval=\"{}\"\nthread cpu count={n} gil=py {{ work \"{}\" }}",
        ms(interval),
        ms(work)
    ))?;
    let free = measure(&format!(
        "thread free count={n} {{ work \"{}\" }}",
        ms(work)
    ))?;
    let io = format!(
        "thread io gil=py {{ repeat {WAKEUPS} {{ sleep \"{}\"; work \"50us\" }} }}",
        ms(IO_SLEEP)
    );
    let convoy_with_cpu = convoy(&format!(
        "gil py interval=\"{}\"\n{io}\nthread cpu gil=py {{ work \"{}\" }}",
        ms(interval),
        ms(IO_SLEEP * WAKEUPS as u32 * 4)
    ))?;
    let convoy_alone = convoy(&format!("gil py interval=\"{}\"\n{io}", ms(interval)))?;
    Ok(GilBench {
        cores,
        threads: n,
        work_per_thread_ms: work.as_millis() as u64,
        interval_ms: interval.as_secs_f64() * 1e3,
        gil_vs_alone: under_gil.wall_ms / alone.wall_ms,
        free_speedup: under_gil.wall_ms / free.wall_ms,
        ideal_speedup: n.min(cores) as f64,
        alone,
        under_gil,
        free,
        convoy_with_cpu,
        convoy_alone,
    })
}

fn load(body: &str) -> Result<Arc<Scenario>, String> {
    let source = format!("title \"bench\"\n{body}\n");
    crate::scenario::parse_source("bench", "bench", &source)
        .map(Arc::new)
        .map_err(|e| format!("{e:?}"))
}

/// Run to the end, bounded; every event in time order.
fn run_all(scenario: &Arc<Scenario>) -> Result<Vec<Event>, String> {
    let mut run = Run::start(scenario.clone(), RunOptions::default());
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !run.is_finished() {
        run.wait_events(&mut events, Duration::from_millis(50));
        if Instant::now() > deadline {
            return Err("a benchmark run did not finish within two minutes".into());
        }
    }
    // The last thread may have handed over its last events after the last drain.
    run.end();
    run.drain_events(&mut events);
    events.sort_by_key(|e| e.t_ns);
    Ok(events)
}

fn measure(body: &str) -> Result<Measured, String> {
    let scenario = load(body)?;
    let cpu_before = process_cpu();
    let events = run_all(&scenario)?;
    let cpu = process_cpu().saturating_sub(cpu_before);
    let all: Vec<u16> = (0..scenario.threads.len() as u16).collect();
    let PhaseFigures { wall_ms, .. } = gil::figures(&scenario, &events, &all)
        .ok_or("a benchmark run ended without every thread finishing")?;
    Ok(Measured {
        wall_ms,
        cpu_busy: cpu.as_secs_f64() * 1e3 / wall_ms,
    })
}

/// Wake-up latency of the thread `io`: from the end of each sleep to having the GIL again.
fn convoy(body: &str) -> Result<Latency, String> {
    let scenario = load(body)?;
    let events = run_all(&scenario)?;
    let io = scenario.thread_index("io").ok_or("no io thread")?;
    let steps = &scenario.threads[io as usize].steps;
    let mut latencies = Vec::new();
    let mut woke_at = None;
    for e in events.iter().filter(|e| e.thread == io) {
        match e.kind {
            EventKind::Sleep => {
                if let Some(Op::Sleep(d)) = steps.get(e.step as usize).map(|s| s.op) {
                    woke_at = Some(e.t_ns + d.as_nanos() as u64);
                }
            }
            EventKind::Acquire => {
                if let Some(at) = woke_at.take() {
                    latencies.push(e.t_ns.saturating_sub(at));
                }
            }
            _ => {}
        }
    }
    if latencies.is_empty() {
        return Err("the I/O thread never woke".into());
    }
    latencies.sort_unstable();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
    Ok(Latency {
        wakeups: latencies.len(),
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
    })
}

/// CPU time used by this process so far (all threads, user and system).
fn process_cpu() -> Duration {
    // Fields 14 and 15 of /proc/self/stat, in clock ticks (USER_HZ, 100 on Linux).
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

impl GilBench {
    /// The figures as a teacher reads them, with the targets beside them.
    pub fn report(&self) -> String {
        let n = self.threads;
        let mut out = String::new();
        out += &format!(
            "threadlab bench gil — {} cores, {n} threads × {} ms of calibrated CPU work, switch interval {} ms\n\n",
            self.cores, self.work_per_thread_ms, self.interval_ms
        );
        out += "                                 wall       CPU busy\n";
        let row = |label: &str, m: &Measured| {
            format!(
                "  {label:<30} {:>7.0} ms  {:>5.2} cores\n",
                m.wall_ms, m.cpu_busy
            )
        };
        out += &row("one thread, all the work", &self.alone);
        out += &row(&format!("{n} threads under the GIL"), &self.under_gil);
        out += &row(&format!("{n} threads free"), &self.free);
        out += &format!(
            "\n  under the GIL vs one thread alone: {:.2}×   (target 0.9–1.1×: the GIL gives no speedup)\n",
            self.gil_vs_alone
        );
        out += &format!(
            "  free threads speedup:              {:.2}×   (ideal {:.1}×; target ≥ {:.1}×)\n",
            self.free_speedup,
            self.ideal_speedup,
            self.ideal_speedup * 0.9
        );
        out += &format!(
            "\nconvoy — an I/O thread waking from {} sleeps of {} ms:\n",
            self.convoy_with_cpu.wakeups,
            IO_SLEEP.as_millis()
        );
        out += &format!(
            "  next to a CPU-bound thread   p50 {:>6.2} ms   p99 {:>6.2} ms   (target p50 within 20% of {} ms)\n",
            self.convoy_with_cpu.p50_ms, self.convoy_with_cpu.p99_ms, self.interval_ms
        );
        out += &format!(
            "  alone                        p50 {:>6.2} ms   p99 {:>6.2} ms   (target p50 under 1 ms)\n",
            self.convoy_alone.p50_ms, self.convoy_alone.p99_ms
        );
        out
    }
}

/// `threadlab bench gil [--threads N] [--work D] [--json]`.
pub fn run(
    what: BenchWhat,
    threads: Option<usize>,
    work: Duration,
    json: bool,
) -> Result<Exit, Error> {
    if what == BenchWhat::Fidelity {
        return fidelity(json);
    }
    if what == BenchWhat::TraceOverhead {
        return trace_overhead(json);
    }
    let threads = threads.unwrap_or_else(crate::trace::gil::cores);
    let figures = gil(threads, work, Duration::from_millis(5))
        .map_err(|e| Error::internal("bench", format!("bench failed: {e}")))?;
    if json {
        outln(&serde_json::to_string_pretty(&figures).expect("figures serialize"));
    } else {
        out(&figures.report());
    }
    Ok(Exit::Success)
}

/// One lesson run in threadlab and as its Python twin under CPython, at the same speed.
#[derive(Debug, Clone, Serialize)]
pub struct FidelityRow {
    pub lesson: String,
    pub models: &'static str,
    /// threadlab's run time, first event to last (ms).
    pub threadlab_ms: f64,
    pub threadlab_outcome: Outcome,
    /// The twin's run time, first event to last (ms), from its `--events` log.
    pub python_ms: Option<f64>,
    /// How the twin ended: `completed` (exit 0), `deadlock` (exit 3), or `failed`.
    pub python_outcome: Outcome,
    /// CPython's time over threadlab's, for a lesson both completed.
    pub ratio: Option<f64>,
    /// Both ended the same way.
    pub agree: bool,
    /// For a lesson that compares (the same work under one GIL, then free or in processes):
    /// the speed-up threadlab's run shows (start-up of processes included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup: Option<f64>,
    /// The same figure from the twin's events under CPython.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python_speedup: Option<f64>,
    /// What a perfect machine would give: min(threads or processes, cores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ideal_speedup: Option<f64>,
}

/// Whether `python3` can be started here.
pub fn python3_found() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The longest a twin may run before it is killed and counted as failed.
const TWIN_LIMIT: Duration = Duration::from_secs(120);

/// Runs `scenario` headless and its Python twin under `python3`, both at `speed`.
pub fn fidelity_of(scenario: Arc<Scenario>, speed: f64) -> Result<FidelityRow, String> {
    let plan = crate::session::RunPlan {
        scenario: scenario.name.clone(),
        speed,
        for_: Some(Duration::from_secs(120)),
        ..Default::default()
    };
    let report = crate::headless::execute(scenario.clone(), &plan).map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!(
        "threadlab-fidelity-{}-{}",
        std::process::id(),
        scenario.name
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let program = dir.join("twin.py");
    let events = dir.join("events.jsonl");
    std::fs::write(&program, crate::trace::export::python::render(&scenario))
        .map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new("python3")
        .arg(&program)
        .arg("--speed")
        .arg(speed.to_string())
        .arg("--events")
        .arg(&events)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start python3: {e}"))?;
    let deadline = Instant::now() + TWIN_LIMIT;
    let code = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let python_ms = std::fs::read_to_string(&events).ok().and_then(|text| {
        let stamps: Vec<u64> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("t_us")?.as_u64())
            .collect();
        Some((stamps.iter().max()? - stamps.iter().min()?) as f64 / 1000.0)
    });
    let python_speedup = crate::vocab::recording::Recording::from_events(&events, &scenario)
        .ok()
        .and_then(|r| gil::compare(&scenario, &r.events))
        .map(|card| card.speedup);
    let _ = std::fs::remove_dir_all(&dir);
    let python_outcome = match code {
        0 => Outcome::Completed,
        3 => Outcome::Deadlock,
        _ => Outcome::Failed,
    };
    let threadlab_ms = report.summary.run_time_ms;
    let both_completed =
        report.outcome == Outcome::Completed && python_outcome == Outcome::Completed;
    Ok(FidelityRow {
        lesson: scenario.name.clone(),
        models: scenario.models.keyword(),
        threadlab_ms,
        threadlab_outcome: report.outcome,
        python_ms,
        python_outcome,
        ratio: python_ms
            .filter(|_| both_completed)
            .map(|p| p / threadlab_ms.max(1e-9)),
        agree: report.outcome == python_outcome,
        speedup: report.summary.gil.as_ref().map(|card| card.speedup),
        python_speedup,
        ideal_speedup: report.summary.gil.as_ref().map(|card| card.ideal),
    })
}

/// The fidelity table as a teacher reads it.
pub fn fidelity_report(rows: &[FidelityRow], speed: f64) -> String {
    let mut out = format!(
        "threadlab bench fidelity — every built-in lesson in threadlab and as its Python twin under python3, at {speed}x, {} cores\n\n",
        gil::cores()
    );
    out += "  lesson                 threads   threadlab     CPython    ratio  outcome\n";
    for r in rows {
        let ms = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.0} ms"));
        let ratio = r.ratio.map_or("—".to_string(), |x| format!("{x:.2}"));
        let outcome = if r.agree {
            format!("both {}", r.threadlab_outcome.name())
        } else {
            format!(
                "DIFFER: threadlab {}, CPython {}",
                r.threadlab_outcome.name(),
                r.python_outcome.name()
            )
        };
        out += &format!(
            "  {:<22} {:<8} {:>10} {:>11} {:>8}  {outcome}\n",
            r.lesson,
            r.models,
            ms(Some(r.threadlab_ms)),
            ms(r.python_ms),
            ratio
        );
    }
    let compared: Vec<&FidelityRow> = rows.iter().filter(|r| r.speedup.is_some()).collect();
    if !compared.is_empty() {
        out += "\n  the same CPU work under one GIL, then free (gil) or in processes (processes, start-up included):\n";
    }
    for r in compared {
        let x = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.2}×"));
        out += &format!(
            "  {:<22} speed-up  threadlab {:>6}   CPython {:>6}   (ideal {})\n",
            r.lesson,
            x(r.speedup),
            x(r.python_speedup),
            x(r.ideal_speedup)
        );
    }
    out
}

/// `threadlab bench fidelity`: every built-in, in threadlab and under CPython.
fn fidelity(json: bool) -> Result<Exit, Error> {
    if !python3_found() {
        return Err(Error::new(
            "bench::no-python",
            "`bench fidelity` runs each lesson's Python twin under python3, and python3 is not on PATH",
        )
        .help("install Python 3.8 or later; `threadlab export LESSON --format python` works without it"));
    }
    let speed = 1.0;
    let mut rows = Vec::new();
    for b in crate::scenario::builtin::all() {
        let scenario = crate::scenario::load(b.name)
            .map(Arc::new)
            .map_err(|e| Error::internal("bench", format!("{}: {e}", b.name)))?;
        let row = fidelity_of(scenario, speed)
            .map_err(|e| Error::internal("bench", format!("bench failed on {}: {e}", b.name)))?;
        rows.push(row);
    }
    if json {
        outln(&serde_json::to_string_pretty(&rows).expect("rows serialize"));
    } else {
        out(&fidelity_report(&rows, speed));
    }
    Ok(Exit::Success)
}

/// The Python side of `bench trace-overhead`: N uncontended acquire/release pairs of one
/// `threading.Lock`, as a `with` block and as explicit calls, timed by the program itself.
const LOCK_LOOP: &str = r#"import sys, threading, time
n = int(sys.argv[1])
lock = threading.Lock()
def timed(body):
    t0 = time.perf_counter_ns()
    body()
    return (time.perf_counter_ns() - t0) / n
def with_block():
    for _ in range(n):
        with lock:
            pass
def calls():
    for _ in range(n):
        lock.acquire()
        lock.release()
with_block()
print(timed(with_block), timed(calls))
"#;

/// Lock pairs per measured loop.
const LOCK_PAIRS: u32 = 50_000;

#[derive(Debug, Clone, Serialize)]
pub struct TraceOverhead {
    pub python: String,
    pub pairs: u32,
    /// Nanoseconds per `with lock: pass`, plain python3 and under the tracer.
    pub plain_with_ns: f64,
    pub traced_with_ns: f64,
    /// Nanoseconds per `lock.acquire(); lock.release()`.
    pub plain_calls_ns: f64,
    pub traced_calls_ns: f64,
    /// Records the tracer wrote during the traced run.
    pub traced_events: usize,
}

/// `threadlab bench trace-overhead`: what the tracer adds to an uncontended Lock
/// acquire/release, measured by the Python program itself, plain and traced.
fn trace_overhead(json: bool) -> Result<Exit, Error> {
    match measure_trace_overhead() {
        Ok(f) if json => {
            outln(&serde_json::to_string_pretty(&f).expect("figures serialize"));
            Ok(Exit::Success)
        }
        Ok(f) => {
            outln(&format!(
                "python {}, {} uncontended acquire/release pairs of one threading.Lock\n\
                 with lock: pass          plain {:>8.0} ns   traced {:>8.0} ns   ({:.1}x)\n\
                 acquire(); release()     plain {:>8.0} ns   traced {:>8.0} ns   ({:.1}x)\n\
                 records read by threadlab: {}",
                f.python,
                f.pairs,
                f.plain_with_ns,
                f.traced_with_ns,
                f.traced_with_ns / f.plain_with_ns,
                f.plain_calls_ns,
                f.traced_calls_ns,
                f.traced_calls_ns / f.plain_calls_ns,
                f.traced_events
            ));
            Ok(Exit::Success)
        }
        Err(e) => Err(Error::internal("bench", format!("bench failed: {e}"))),
    }
}

fn measure_trace_overhead() -> Result<TraceOverhead, String> {
    use crate::watch::child::{Output, Spawn, check_python, python};
    let (major, minor) = check_python().map_err(|e| e.message)?;
    let dir = std::env::temp_dir().join(format!("threadlab-bench-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let script = dir.join("lock_loop.py");
    let traced_out = dir.join("traced.txt");
    let result = (|| {
        std::fs::write(&script, LOCK_LOOP).map_err(|e| e.to_string())?;
        let parse = |text: &str| -> Result<(f64, f64), String> {
            let mut it = text.split_whitespace().map(str::parse::<f64>);
            match (it.next(), it.next()) {
                (Some(Ok(a)), Some(Ok(b))) => Ok((a, b)),
                _ => Err(format!("the lock loop printed {text:?}")),
            }
        };
        let plain = std::process::Command::new(python())
            .arg(&script)
            .arg(LOCK_PAIRS.to_string())
            .output()
            .map_err(|e| e.to_string())?;
        let (plain_with_ns, plain_calls_ns) = parse(&String::from_utf8_lossy(&plain.stdout))?;
        let spec = Spawn {
            script: script.clone(),
            args: vec![LOCK_PAIRS.to_string().into()],
            output: Output::File(traced_out.clone()),
            paused: false,
        };
        let traced =
            super::trace::execute(&spec, Some(Duration::from_secs(600))).map_err(|e| e.message)?;
        let text = std::fs::read_to_string(&traced_out).map_err(|e| e.to_string())?;
        let (traced_with_ns, traced_calls_ns) = parse(&text)?;
        Ok(TraceOverhead {
            python: format!("{major}.{minor}"),
            pairs: LOCK_PAIRS,
            plain_with_ns,
            traced_with_ns,
            plain_calls_ns,
            traced_calls_ns,
            traced_events: traced.events.len(),
        })
    })();
    std::fs::remove_dir_all(&dir).ok();
    result
}
