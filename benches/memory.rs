//! Memory: an hour of events from 16 busy threads through the trace store, in a process of its
//! own so nothing else has touched the heap. `cargo bench --bench memory`.
//!
//! The budget it checks: resident memory stays under 64 MB and flat (within 4 MB) once the
//! store is full, however long the run.

use threadlab::trace::testing::{Contention, contention_scenario};
use threadlab::trace::timeline::Trace;

fn main() {
    memory_one_hour_16_threads();
    memory_30_minutes_512_threads();
}

/// An hour of events from 16 threads contending for one lock (each changing state about every
/// 5 ms: 3 200 events a second of run time, 11.5 million in all) through the trace store,
/// drained in 20 ms batches as the UI drains them; resident memory sampled every six minutes
/// of run time.
fn memory_one_hour_16_threads() {
    const THREADS: usize = 16;
    const HOUR_NS: u64 = 3_600 * 1_000_000_000;
    const SIX_MIN_NS: u64 = 360 * 1_000_000_000;
    let mut trace = Trace::new(contention_scenario(THREADS));
    // Gaps of 1 ns to 625 µs, 312 µs on average: 3 200 events a second.
    let stream = Contention::new(THREADS, 8).with_max_gap(625_000);
    let started = std::time::Instant::now();
    let samples = fill(&mut trace, stream, 64, HOUR_NS, SIX_MIN_NS, 0.0);
    let fmt: Vec<String> = samples.iter().map(|(_, m)| format!("{m:.0}")).collect();
    eprintln!(
        "memory: {} events over one hour of run time in {:.1?}; RSS every 6 min (MB): {}",
        trace.events_seen(),
        started.elapsed(),
        fmt.join(" ")
    );
    let (low, peak) = settled(&samples, SIX_MIN_NS);
    assert!(peak <= 64.0, "RSS {peak:.0} MB over 64 MB");
    assert!(peak - low <= 4.0, "RSS not flat: {low:.0}..{peak:.0} MB");
}

/// Pushes `stream`'s events into `trace` in batches of `batch_len` until `end_ns` of run time,
/// as the UI drains them; resident memory above `base` MB at the start, every `every_ns` of run
/// time, and at the end.
fn fill(
    trace: &mut Trace,
    mut stream: Contention,
    batch_len: usize,
    end_ns: u64,
    every_ns: u64,
    base: f64,
) -> Vec<(u64, f64)> {
    stream.track_waiters(false);
    let mut batch = Vec::with_capacity(batch_len);
    let mut samples = Vec::new();
    let mut next_sample = 0;
    loop {
        let e = stream.next().expect("endless").event;
        let at = e.t_ns;
        batch.push(e);
        if batch.len() == batch_len {
            trace.push(&batch);
            batch.clear();
        }
        if at >= next_sample {
            samples.push((at, rss_mb() - base));
            next_sample += every_ns;
        }
        if at >= end_ns {
            break;
        }
    }
    trace.push(&batch);
    samples.push((trace.end_ns(), rss_mb() - base));
    samples
}

/// The lowest and highest samples from `from_ns` of run time on, once the store is full.
fn settled(samples: &[(u64, f64)], from_ns: u64) -> (f64, f64) {
    let full = samples
        .iter()
        .filter(|(at, _)| *at >= from_ns)
        .map(|(_, m)| *m);
    let low = full.clone().fold(f64::MAX, f64::min);
    let peak = full.fold(0.0, f64::max);
    (low, peak)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Half an hour of events from 512 threads of one `count=` group contending for one lock (each
/// changing state about every 50 ms: 10 000 events a second, 18 million in all); resident
/// memory sampled every three minutes. Every lane fills its spans within four minutes, so
/// from the sixth on the store is as big as it gets.
fn memory_30_minutes_512_threads() {
    const THREADS: usize = 512;
    const END_NS: u64 = 1_800 * 1_000_000_000;
    const THREE_MIN_NS: u64 = 180 * 1_000_000_000;
    let source = "title \"512\"\nmutex M\n\
        thread T count=512 { lock M; work \"1ms\"; unlock M; sleep \"1ms\" }\n";
    let scenario = threadlab::scenario::parse_source("512", "512.kdl", source).unwrap();
    let before = rss_mb();
    let mut trace = Trace::new(std::sync::Arc::new(scenario));
    let stream = Contention::new(THREADS, 8).with_max_gap(2 * 50_000_000 / THREADS as u64);
    let started = std::time::Instant::now();
    let samples = fill(&mut trace, stream, 256, END_NS, THREE_MIN_NS, before);
    let fmt: Vec<String> = samples.iter().map(|(_, m)| format!("{m:.0}")).collect();
    eprintln!(
        "memory: {} events from 512 threads over 30 min of run time in {:.1?}; RSS above the start every 3 min (MB): {}",
        trace.events_seen(),
        started.elapsed(),
        fmt.join(" ")
    );
    let (low, peak) = settled(&samples, 2 * THREE_MIN_NS);
    assert!(peak <= 128.0, "RSS {peak:.0} MB over 128 MB");
    assert!(peak - low <= 8.0, "RSS not flat: {low:.0}..{peak:.0} MB");
}
