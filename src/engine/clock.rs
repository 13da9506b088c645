//! Run time: a clock that stops while a run is paused.
//!
//! Workers stamp events with raw monotonic ticks (cheap, never contended, and strictly ordered
//! under a primitive's lock). The conductor logs when the clock stopped and started again, and
//! the recorder maps raw stamps to run time when it drains events. The mapping never goes
//! backwards, so the order of events is kept; events inside a pause all land on its first
//! instant, and the recorder hands those on in their raw order.
//!
//! A stamp is the costliest part of recording an event, so where the kernel itself keeps time
//! with the processor's time-stamp counter (clocksource `tsc`: it found the counter invariant
//! and in step across cores), a raw tick is a counter tick, read in a few nanoseconds; the
//! counter's rate is measured once per process against the monotonic clock. Elsewhere a raw
//! tick is a nanosecond of `Instant`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::vocab::event::Event;

pub struct RunClock {
    origin: Instant,
    /// The counter's reading at `origin`, when raw ticks are counter ticks.
    tsc_origin: Option<u64>,
    /// Nanoseconds per raw tick.
    ns_per_tick: f64,
    pauses: Mutex<Pauses>,
}

/// The processor's time-stamp counter, read after every earlier instruction has completed, so
/// a stamp taken under a lock is later than the lock's hand-over.
#[cfg(target_arch = "x86_64")]
fn tsc() -> u64 {
    // SAFETY: both instructions exist on every x86_64 processor and touch no memory.
    unsafe {
        std::arch::x86_64::_mm_lfence();
        std::arch::x86_64::_rdtsc()
    }
}

/// Nanoseconds per counter tick, if this process may stamp with the counter.
fn tsc_rate() -> Option<f64> {
    static RATE: OnceLock<Option<f64>> = OnceLock::new();
    *RATE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let source = std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .ok()?;
            if source.trim() != "tsc" {
                return None;
            }
            // Each end is the counter read on both sides of one clock read; over 2 ms, an end
            // off by the bracket's width (tens of ns) moves the rate by a few parts per million.
            let pair = || {
                let before = tsc();
                let at = Instant::now();
                let after = tsc();
                (before + (after - before) / 2, at, after - before)
            };
            let bracketed = |tries: usize| {
                (0..tries)
                    .map(|_| pair())
                    .min_by_key(|&(_, _, width)| width)
                    .expect("tries")
            };
            let (t0, i0, _) = bracketed(16);
            while i0.elapsed() < Duration::from_millis(2) {
                std::hint::spin_loop();
            }
            let (t1, i1, _) = bracketed(16);
            let ticks = t1.checked_sub(t0).filter(|&t| t > 0)?;
            Some((i1 - i0).as_nanos() as f64 / ticks as f64)
        }
        #[cfg(not(target_arch = "x86_64"))]
        None
    })
}

#[derive(Default)]
struct Pauses {
    /// Closed pauses as (raw start, raw end), in order.
    closed: Vec<(u64, u64)>,
    /// Total raw time inside `closed`, for the fast path.
    closed_total: u64,
    /// The raw start of the pause in progress.
    open: Option<u64>,
}

impl Default for RunClock {
    fn default() -> Self {
        Self::new()
    }
}

impl RunClock {
    pub fn new() -> RunClock {
        let rate = tsc_rate();
        RunClock {
            origin: Instant::now(),
            #[cfg(target_arch = "x86_64")]
            tsc_origin: rate.map(|_| tsc()),
            #[cfg(not(target_arch = "x86_64"))]
            tsc_origin: None,
            ns_per_tick: rate.unwrap_or(1.0),
            pauses: Mutex::new(Pauses::default()),
        }
    }

    /// Raw ticks since the run began, pauses included.
    #[inline]
    pub fn raw_now(&self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if let Some(origin) = self.tsc_origin {
            return tsc().saturating_sub(origin);
        }
        self.origin.elapsed().as_nanos() as u64
    }

    /// Raw ticks (of run time or raw time) in nanoseconds; never decreasing, so order is kept.
    fn ns(&self, ticks: u64) -> u64 {
        if self.tsc_origin.is_none() {
            return ticks;
        }
        (ticks as f64 * self.ns_per_tick) as u64
    }

    /// Stop run time (idempotent).
    pub fn stop(&self) {
        let now = self.raw_now();
        let mut p = self.pauses.lock();
        if p.open.is_none() {
            p.open = Some(now);
        }
    }

    /// Start run time again (idempotent).
    pub fn start(&self) {
        let now = self.raw_now();
        let mut p = self.pauses.lock();
        if let Some(start) = p.open.take() {
            let end = now.max(start);
            p.closed.push((start, end));
            p.closed_total += end - start;
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.pauses.lock().open.is_some()
    }

    /// Run time now.
    pub fn now(&self) -> u64 {
        self.to_run(self.raw_now())
    }

    /// Map a raw stamp to run time in nanoseconds.
    pub fn to_run(&self, raw: u64) -> u64 {
        let run = self.pauses.lock().map(raw);
        self.ns(run)
    }

    /// Move the events (raw stamps) at which run time stood still, in a pause open or since
    /// closed, from `events[start..]` to `still`, keeping the order of the rest.
    pub fn take_still(&self, events: &mut Vec<Event>, start: usize, still: &mut Vec<Event>) {
        let p = self.pauses.lock();
        if p.open.is_none() && p.closed.is_empty() {
            return;
        }
        let mut kept = start;
        for i in start..events.len() {
            let e = events[i];
            if p.contains(e.t_ns) {
                still.push(e);
            } else {
                events[kept] = e;
                kept += 1;
            }
        }
        events.truncate(kept);
    }

    /// Turn the raw stamps of a drained batch into run time in nanoseconds, under one lock.
    pub fn map_events(&self, events: &mut [Event]) {
        let p = self.pauses.lock();
        for e in events {
            e.t_ns = self.ns(p.map(e.t_ns));
        }
    }
}

impl Pauses {
    fn contains(&self, raw: u64) -> bool {
        if self.open.is_some_and(|open| raw >= open) {
            return true;
        }
        match self.closed.last() {
            None => false,
            Some(&(_, end)) if raw >= end => false,
            Some(_) => {
                let i = self.closed.partition_point(|&(_, end)| end <= raw);
                self.closed.get(i).is_some_and(|&(start, _)| raw >= start)
            }
        }
    }

    fn map(&self, raw: u64) -> u64 {
        if let Some(open) = self.open
            && raw >= open
        {
            return open - self.closed_total;
        }
        match self.closed.last() {
            Some(&(_, end)) if raw >= end => raw - self.closed_total,
            None => raw,
            Some(_) => {
                // A stamp from before the latest pause ended: walk back to the pauses before it.
                let i = self.closed.partition_point(|&(_, end)| end <= raw);
                let before: u64 = self.closed[..i].iter().map(|(s, e)| e - s).sum();
                match self.closed.get(i) {
                    Some(&(start, _)) if raw >= start => start - before,
                    _ => raw - before,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_are_cut_out_and_order_is_kept() {
        let p = Pauses {
            closed: vec![(100, 150), (300, 400)],
            closed_total: 150,
            open: Some(500),
        };
        let stamps = [50, 100, 120, 150, 200, 300, 350, 400, 450, 500, 900];
        let mapped: Vec<u64> = stamps.iter().map(|&r| p.map(r)).collect();
        assert_eq!(
            mapped,
            vec![50, 100, 100, 100, 150, 250, 250, 250, 300, 350, 350]
        );
        assert!(mapped.windows(2).all(|w| w[0] <= w[1]));
    }

    /// Run time in nanoseconds keeps pace with the monotonic clock, whatever a raw tick is.
    #[test]
    fn run_time_keeps_pace_with_the_monotonic_clock() {
        let clock = RunClock::new();
        let start = Instant::now();
        let run_start = clock.now();
        std::thread::sleep(Duration::from_millis(50));
        let run = clock.now() - run_start;
        let wall = start.elapsed().as_nanos() as u64;
        // Both spans are taken with two reads each, a few microseconds apart at most.
        let off = run.abs_diff(wall);
        assert!(
            off < wall / 100,
            "run time {run} ns against {wall} ns of the monotonic clock"
        );
    }
}
