//! Engine benchmarks: what recording costs a worker, and how many events it can take.
//!
//! `cargo bench --bench engine`. Figures and the machine they ran on go in BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use threadlab::engine::clock::RunClock;
use threadlab::engine::conductor::Conductor;
use threadlab::engine::primitives::{Cx, mutex::Mutex};
use threadlab::engine::recorder::{Recorder, Sink};

fn main() {
    divan::main();
    for (what, pauses) in [
        ("8 busy threads", &PAUSE),
        (
            "512 threads working 2 ms and sleeping 10 ms by turns",
            &PAUSE_512,
        ),
    ] {
        let mut pauses = pauses.lock().clone();
        if !pauses.is_empty() {
            pauses.sort();
            eprintln!(
                "pause: {} pauses of {what}, median {:?}, max {:?}",
                pauses.len(),
                pauses[pauses.len() / 2],
                pauses[pauses.len() - 1]
            );
        }
    }
}

/// The baseline: a raw parking_lot mutex, locked and unlocked by one thread.
#[divan::bench]
fn raw_parking_lot_lock_unlock(bencher: divan::Bencher) {
    let m = parking_lot::Mutex::new(0u64);
    bencher.bench_local(|| {
        *m.lock() += 1;
    });
}

/// The same through the engine's instrumented mutex: two events recorded per iteration, while
/// a reader drains them as the UI would.
#[divan::bench]
fn instrumented_lock_unlock(bencher: divan::Bencher) {
    let mut one = OneThread::new();
    bencher.bench_local(|| one.lock_unlock());
    one.finish();
}

/// One worker's side of the engine, with a reader draining what it records.
struct OneThread {
    conductor: Conductor,
    sink: Arc<Sink>,
    reader: Reader,
    rec: Recorder,
    names: Vec<String>,
    m: Mutex,
}

impl OneThread {
    fn new() -> OneThread {
        let clock = Arc::new(RunClock::new());
        let sink = Sink::new(clock.clone(), 1, 1);
        OneThread {
            conductor: Conductor::new(1, clock, 1.0, false),
            reader: Reader::spawn(sink.clone()),
            rec: Recorder::new(0, sink.clone()),
            sink,
            names: vec!["T1".to_string()],
            m: Mutex::new(0, 1, false),
        }
    }

    #[inline]
    fn lock_unlock(&mut self) {
        let mut cx = Cx {
            me: 0,
            rec: &mut self.rec,
            conductor: &self.conductor,
            names: &self.names,
        };
        divan::black_box(&self.m).lock(&mut cx).unwrap();
        self.m.unlock(&mut cx).unwrap();
    }

    fn finish(self) {
        drop(self.rec);
        self.reader.finish();
        assert_eq!(self.sink.dropped(), 0, "the reader kept up");
    }
}

/// Recording overhead as one stable figure: raw and instrumented lock+unlock measured in the
/// same run, in alternating blocks (which goes first alternates too), so whatever else the
/// machine is doing weighs on both alike. Prints the median ratio of the rounds and its spread;
/// `instrumented_lock_unlock` and `raw_parking_lot_lock_unlock` above are the absolute context.
#[divan::bench(sample_count = 1, sample_size = 1)]
fn recording_overhead() {
    const ROUNDS: usize = 101;
    const ITERATIONS: u32 = 20_000;
    let mut one = OneThread::new();
    let raw_m = parking_lot::Mutex::new(0u64);
    let raw = || {
        let start = Instant::now();
        for _ in 0..ITERATIONS {
            *divan::black_box(&raw_m).lock() += 1;
        }
        start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS)
    };
    let mut instrumented = || {
        let start = Instant::now();
        for _ in 0..ITERATIONS {
            one.lock_unlock();
        }
        start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS)
    };
    // Warm both paths (caches, the channel's blocks, the reader) before anything counts.
    raw();
    instrumented();
    let (mut raws, mut instrs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (r, i) = if round % 2 == 0 {
            let r = raw();
            (r, instrumented())
        } else {
            let i = instrumented();
            (raw(), i)
        };
        raws.push(r);
        instrs.push(i);
        ratios.push(i / r);
    }
    one.finish();
    for v in [&mut raws, &mut instrs, &mut ratios] {
        v.sort_by(f64::total_cmp);
    }
    let q = |v: &[f64], p: usize| v[(v.len() - 1) * p / 100];
    eprintln!(
        "recording_overhead: {ROUNDS} interleaved rounds of {ITERATIONS}: instrumented / raw \
         {:.1}x (medians); per round median {:.1}x (quartiles {:.1}-{:.1}, min {:.1}, max {:.1}); \
         raw median {:.2} ns (quartiles {:.2}-{:.2}), instrumented median {:.1} ns ({:.1}-{:.1})",
        q(&instrs, 50) / q(&raws, 50),
        q(&ratios, 50),
        q(&ratios, 25),
        q(&ratios, 75),
        ratios[0],
        ratios[ROUNDS - 1],
        q(&raws, 50),
        q(&raws, 25),
        q(&raws, 75),
        q(&instrs, 50),
        q(&instrs, 25),
        q(&instrs, 75),
    );
}

/// Several threads hammering instrumented operations at once; prints events per second.
#[divan::bench(args = [2, 8], sample_count = 3, sample_size = 1)]
fn event_throughput(threads: usize) {
    const ITERATIONS: usize = 200_000;
    let clock = Arc::new(RunClock::new());
    let conductor = Arc::new(Conductor::new(threads, clock.clone(), 1.0, false));
    let sink = Sink::new(clock, threads, threads);
    let reader = Reader::spawn(sink.clone());
    let names: Arc<Vec<String>> = Arc::new((0..threads).map(|i| format!("T{i}")).collect());
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (conductor, sink, names) = (conductor.clone(), sink.clone(), names.clone());
            std::thread::spawn(move || {
                let m = Mutex::new(t as u16, threads, false);
                let mut rec = Recorder::new(t as u16, sink);
                for _ in 0..ITERATIONS {
                    let mut cx = Cx {
                        me: t as u16,
                        rec: &mut rec,
                        conductor: &conductor,
                        names: &names,
                    };
                    m.lock(&mut cx).unwrap();
                    m.unlock(&mut cx).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = start.elapsed();
    let received = reader.finish();
    let events = (threads * ITERATIONS * 2) as f64;
    eprintln!(
        "event_throughput threads={threads}: {:.1} M events/s recorded, {} received, {} dropped",
        events / elapsed.as_secs_f64() / 1e6,
        received,
        sink.dropped()
    );
}

/// Drains events on its own thread, the way the UI or headless runner does.
struct Reader {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<usize>,
}

impl Reader {
    fn spawn(sink: Arc<Sink>) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut total = 0;
                let mut buf = Vec::new();
                loop {
                    sink.wait(&mut buf, Duration::from_millis(5));
                    total += buf.len();
                    buf.clear();
                    if stop.load(Ordering::Relaxed) {
                        sink.drain(&mut buf);
                        return total + buf.len();
                    }
                }
            })
        };
        Reader { stop, handle }
    }

    fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

fn parse(source: &str) -> Arc<threadlab::scenario::model::Scenario> {
    Arc::new(threadlab::scenario::parse_source("bench", "bench", source).expect("bench scenario"))
}

/// Pause latency: from `pause()` to every running thread held at a gate (wall time).
#[divan::bench(sample_count = 20, sample_size = 1)]
fn pause_latency() {
    let s = parse(
        "title \"p\"\nmutex A\nthread w count=8 { repeat 200 { work \"3ms\"; lock A; sleep \"2ms\"; unlock A } }\n",
    );
    PAUSE.lock().push(pause_once(s));
}

/// The same with 512 threads, each busy a sixth of the time: about 85 of them want a core at
/// any moment, on a machine with 2.
#[divan::bench(sample_count = 20, sample_size = 1)]
fn pause_latency_512() {
    let s = parse(
        "title \"p\"\nmutex A\nthread w count=512 { repeat 45 { work \"2ms\"; lock A; unlock A; sleep \"10ms\" } }\n",
    );
    PAUSE_512.lock().push(pause_once(s));
}

/// Start `s`, let it run, pause it, and return how long until every thread is held or blocked.
fn pause_once(s: Arc<threadlab::scenario::model::Scenario>) -> Duration {
    use threadlab::engine::{Run, RunOptions};
    use threadlab::vocab::event::EventKind;
    let n = s.threads.len();
    let run = Run::start(s, RunOptions::default());
    let mut events = Vec::new();
    run.wait_events(&mut events, Duration::from_millis(100));
    std::thread::sleep(Duration::from_millis(100));
    let mut last = vec![EventKind::Start; n];
    run.drain_events(&mut events);
    for e in events.drain(..) {
        last[e.thread as usize] = e.kind;
    }
    let start = Instant::now();
    run.pause();
    // Threads blocked on A stay blocked; every other thread reaches its gate.
    let deadline = start + Duration::from_secs(5);
    loop {
        for e in events.drain(..) {
            last[e.thread as usize] = e.kind;
        }
        let settled = last
            .iter()
            .all(|k| matches!(k, EventKind::Hold | EventKind::Block));
        if settled || Instant::now() > deadline {
            break;
        }
        run.wait_events(&mut events, Duration::from_millis(1));
    }
    let latency = start.elapsed();
    run.stop();
    latency
}

/// Reset latency: a deadlocked run's threads all joined, 200 times in a row.
#[divan::bench(sample_count = 1, sample_size = 1)]
fn reset_latency_200_deadlocks() {
    use threadlab::engine::{Phase, Run, RunOptions};
    let s = Arc::new(threadlab::scenario::load("deadlock").unwrap());
    let threads_before = std::fs::read_dir("/proc/self/task").unwrap().count();
    let mut joins = Vec::new();
    for _ in 0..200 {
        let run = Run::start(
            s.clone(),
            RunOptions {
                start_paused: true,
                speed: 4.0,
            },
        );
        run.step(0).unwrap();
        run.wait_step_done(Duration::from_secs(5));
        run.step(1).unwrap();
        run.wait_step_done(Duration::from_secs(5));
        run.resume();
        let deadline = Instant::now() + Duration::from_secs(10);
        while run.phase() != Phase::Deadlock && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        joins.push(run.stop());
    }
    joins.sort();
    let threads_after = std::fs::read_dir("/proc/self/task").unwrap().count();
    eprintln!(
        "reset: 200 deadlocked runs, join median {:?}, p99 {:?}, max {:?}; threads before {threads_before}, after {threads_after}",
        joins[100], joins[197], joins[199]
    );
}

static PAUSE: parking_lot::Mutex<Vec<Duration>> = parking_lot::Mutex::new(Vec::new());
static PAUSE_512: parking_lot::Mutex<Vec<Duration>> = parking_lot::Mutex::new(Vec::new());

/// Reset latency with 512 threads: two of them deadlocked over two locks and 510 queued
/// behind the first, every thread joined; 20 runs, each started afresh.
#[divan::bench(sample_count = 1, sample_size = 1)]
fn reset_latency_512_threads() {
    use threadlab::engine::{Phase, Run, RunOptions};
    let s = parse(
        "title \"r\"\nmutex A\nmutex B\n\
         thread x { lock A; sleep \"300ms\"; lock B; unlock B; unlock A }\n\
         thread y { lock B; sleep \"300ms\"; lock A; unlock A; unlock B }\n\
         thread w count=510 { sleep \"5ms\"; lock A; unlock A }\n",
    );
    let threads_before = std::fs::read_dir("/proc/self/task").unwrap().count();
    let (mut joins, mut starts, mut deadlocks) = (Vec::new(), Vec::new(), 0);
    for _ in 0..20 {
        let started = Instant::now();
        let run = Run::start(s.clone(), RunOptions::default());
        starts.push(started.elapsed());
        let deadline = Instant::now() + Duration::from_secs(20);
        while run.phase() != Phase::Deadlock && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        deadlocks += usize::from(run.phase() == Phase::Deadlock);
        joins.push(run.stop());
    }
    joins.sort();
    starts.sort();
    let threads_after = std::fs::read_dir("/proc/self/task").unwrap().count();
    eprintln!(
        "reset: 20 runs of 512 threads ({deadlocks} found deadlocked), spawn median {:?}, join median {:?}, p99 {:?} (max of 20); threads before {threads_before}, after {threads_after}",
        starts[10], joins[10], joins[19]
    );
}

/// The c10k lesson (10,000 tasks and 512 threads, all waiting): started, paused half a second
/// in, and reset, 10 times: how long starting, the pause call and joining everything took.
#[divan::bench(sample_count = 1, sample_size = 1)]
fn pause_and_reset_c10k() {
    use threadlab::engine::{Run, RunOptions};
    let s = Arc::new(threadlab::scenario::load("c10k").unwrap());
    let threads_before = std::fs::read_dir("/proc/self/task").unwrap().count();
    let (mut starts, mut pauses, mut joins) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..10 {
        let started = Instant::now();
        let run = Run::start(s.clone(), RunOptions::default());
        starts.push(started.elapsed());
        std::thread::sleep(Duration::from_millis(500));
        let paused = Instant::now();
        run.pause();
        pauses.push(paused.elapsed());
        joins.push(run.stop());
    }
    for v in [&mut starts, &mut pauses, &mut joins] {
        v.sort();
    }
    let threads_after = std::fs::read_dir("/proc/self/task").unwrap().count();
    eprintln!(
        "c10k: 10 runs, start median {:?} max {:?}; pause call median {:?} max {:?}; join median {:?} max {:?}; threads before {threads_before}, after {threads_after}",
        starts[5], starts[9], pauses[5], pauses[9], joins[5], joins[9]
    );
}
