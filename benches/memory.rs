//! Memory: an hour of events from 16 busy threads through the trace store, in a process of its
//! own so nothing else has touched the heap. `cargo bench --bench memory`.

use std::sync::Arc;

fn main() {
    memory_one_hour_16_threads();
}

fn parse(source: &str) -> Arc<threadlab::scenario::model::Scenario> {
    Arc::new(threadlab::scenario::parse_source("bench", "bench", source).expect("bench scenario"))
}

/// Memory: an hour of events from 16 busy threads (one state change per thread every 5 ms)
/// through the trace store; resident memory sampled as it goes.
fn memory_one_hour_16_threads() {
    use threadlab::trace::timeline::Trace;
    use threadlab::vocab::event::{Event, EventKind};
    let s = parse(
        "title \"m\"\nmutex A\nthread w count=16 { repeat 1000 { lock A; work \"2ms\"; unlock A; sleep \"3ms\" } }\n",
    );
    let mut trace = Trace::new(s);
    let hour: u64 = 3600 * 1_000_000_000;
    let mut samples = Vec::new();
    let mut batch = Vec::with_capacity(4096);
    let mut t = 0;
    let mut round = 0u32;
    while t < hour {
        for thread in 0..16u16 {
            let (kind, resource) = match (round + thread as u32) % 4 {
                0 => (EventKind::Acquire, Some(0)),
                1 => (EventKind::Run, None),
                2 => (EventKind::Release, Some(0)),
                _ => (EventKind::Sleep, None),
            };
            batch.push(Event {
                t_ns: t + thread as u64 * 1000,
                thread,
                kind,
                resource,
                by: None,
                step: round % 4000,
                item: None,
            });
        }
        if batch.len() >= 4096 {
            trace.push(&batch);
            batch.clear();
        }
        if round.is_multiple_of(72_000) {
            samples.push(rss_mb());
        }
        t += 5_000_000;
        round += 1;
    }
    samples.push(rss_mb());
    let fmt: Vec<String> = samples.iter().map(|m| format!("{m:.0}")).collect();
    eprintln!(
        "memory: {} events over one hour of run time; RSS every 6 min (MB): {}",
        round as u64 * 16,
        fmt.join(" ")
    );
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
