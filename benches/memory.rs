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
    let mut stream = Contention::new(THREADS, 8).with_max_gap(625_000);
    stream.track_waiters(false);
    let mut batch = Vec::with_capacity(64);
    let mut samples = Vec::new();
    let mut next_sample = 0;
    let started = std::time::Instant::now();
    loop {
        let e = stream.next().expect("endless").event;
        let at = e.t_ns;
        batch.push(e);
        if batch.len() == 64 {
            trace.push(&batch);
            batch.clear();
        }
        if at >= next_sample {
            samples.push((at, rss_mb()));
            next_sample += SIX_MIN_NS;
        }
        if at >= HOUR_NS {
            break;
        }
    }
    trace.push(&batch);
    samples.push((trace.end_ns(), rss_mb()));
    let fmt: Vec<String> = samples.iter().map(|(_, m)| format!("{m:.0}")).collect();
    eprintln!(
        "memory: {} events over one hour of run time in {:.1?}; RSS every 6 min (MB): {}",
        trace.events_seen(),
        started.elapsed(),
        fmt.join(" ")
    );
    let full: Vec<f64> = samples
        .iter()
        .filter(|(at, _)| *at >= SIX_MIN_NS)
        .map(|(_, m)| *m)
        .collect();
    let peak = full.iter().copied().fold(0.0, f64::max);
    let low = full.iter().copied().fold(f64::MAX, f64::min);
    assert!(peak <= 64.0, "RSS {peak:.0} MB over 64 MB");
    assert!(peak - low <= 4.0, "RSS not flat: {low:.0}..{peak:.0} MB");
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
    let mut stream = Contention::new(THREADS, 8).with_max_gap(2 * 50_000_000 / THREADS as u64);
    stream.track_waiters(false);
    let mut batch = Vec::with_capacity(256);
    let mut samples = Vec::new();
    let mut next_sample = 0;
    let started = std::time::Instant::now();
    loop {
        let e = stream.next().expect("endless").event;
        let at = e.t_ns;
        batch.push(e);
        if batch.len() == 256 {
            trace.push(&batch);
            batch.clear();
        }
        if at >= next_sample {
            samples.push((at, rss_mb() - before));
            next_sample += THREE_MIN_NS;
        }
        if at >= END_NS {
            break;
        }
    }
    trace.push(&batch);
    samples.push((trace.end_ns(), rss_mb() - before));
    let fmt: Vec<String> = samples.iter().map(|(_, m)| format!("{m:.0}")).collect();
    eprintln!(
        "memory: {} events from 512 threads over 30 min of run time in {:.1?}; RSS above the start every 3 min (MB): {}",
        trace.events_seen(),
        started.elapsed(),
        fmt.join(" ")
    );
    let full: Vec<f64> = samples
        .iter()
        .filter(|(at, _)| *at >= 2 * THREE_MIN_NS)
        .map(|(_, m)| *m)
        .collect();
    let peak = full.iter().copied().fold(0.0, f64::max);
    let low = full.iter().copied().fold(f64::MAX, f64::min);
    assert!(peak <= 128.0, "RSS {peak:.0} MB over 128 MB");
    assert!(peak - low <= 8.0, "RSS not flat: {low:.0}..{peak:.0} MB");
}
