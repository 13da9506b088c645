//! Run time: a clock that stops while a run is paused.
//!
//! Workers stamp events with raw monotonic ticks (cheap, never contended, and strictly ordered
//! under a primitive's lock: see the recorder for how). The conductor logs when the clock stopped and started again, and
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
    stamper: Stamper,
    /// The stamper's origin on the system's monotonic clock, which every process reads alike:
    /// how the stamps of a child process's events are put on this clock.
    origin_mono: u64,
    /// Nanoseconds per raw tick.
    ns_per_tick: f64,
    rates: Mutex<Rates>,
}

/// Takes raw stamps: a copy of the clock's origin, kept by each recorder so that stamping an
/// event reads nothing shared.
#[derive(Debug, Clone, Copy)]
pub struct Stamper {
    origin: Instant,
    /// The counter's reading at `origin`, when raw ticks are counter ticks.
    tsc_origin: Option<u64>,
    /// The fewest raw ticks that make a whole nanosecond: two stamps this far apart stay
    /// apart, in order, once they are nanoseconds of run time at 1x.
    pub step: u64,
}

impl Stamper {
    /// Raw ticks since the run began, pauses included, read after every earlier instruction
    /// has completed: later than anything this thread saw happen before it asked.
    #[inline]
    pub fn now(&self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if let Some(origin) = self.tsc_origin {
            return tsc().saturating_sub(origin);
        }
        self.origin.elapsed().as_nanos() as u64
    }

    /// Like [`Stamper::now`], but the processor may read the counter a little early, before
    /// instructions just ahead of it have completed (a lock just taken): about half the cost.
    /// Only for a stamp that is then put in order by other means (see `Recorder::emit_locked`).
    #[inline]
    pub fn now_unordered(&self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if let Some(origin) = self.tsc_origin {
            // SAFETY: the instruction exists on every x86_64 processor and touches no memory.
            return unsafe { std::arch::x86_64::_rdtsc() }.saturating_sub(origin);
        }
        self.origin.elapsed().as_nanos() as u64
    }
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

/// How run time advances against raw ticks: segments in order, each starting at a raw tick with
/// the run time reached there and the rate run time advances at from then on, which is the run's
/// speed while it runs and 0 while it stands still. At 0.1x a 5 ms sleep takes 50 ms of the wall
/// clock but 5 ms of run time, so the axis, the cells and the clock all speak run time.
struct Rates {
    /// Never empty; the first segment starts at raw tick 0.
    segments: Vec<Segment>,
    /// The speed run time advances at whenever it is not stopped.
    speed: f64,
    stopped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    raw: u64,
    /// Run time at `raw`, in raw ticks.
    run: f64,
    rate: f64,
}

impl Default for Rates {
    fn default() -> Rates {
        Rates {
            segments: vec![Segment {
                raw: 0,
                run: 0.0,
                rate: 1.0,
            }],
            speed: 1.0,
            stopped: false,
        }
    }
}

/// Now on the system's monotonic clock (`Instant`'s, on Linux), in nanoseconds.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
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
            origin_mono: mono_ns(),
            stamper: Stamper {
                origin: Instant::now(),
                #[cfg(target_arch = "x86_64")]
                tsc_origin: rate.map(|_| tsc()),
                #[cfg(not(target_arch = "x86_64"))]
                tsc_origin: None,
                step: rate.map_or(1, |ns_per_tick| (1.0 / ns_per_tick).ceil().max(1.0) as u64),
            },
            ns_per_tick: rate.unwrap_or(1.0),
            rates: Mutex::new(Rates::default()),
        }
    }

    /// Raw ticks since the run began, pauses included.
    #[inline]
    pub fn raw_now(&self) -> u64 {
        self.stamper.now()
    }

    /// What stamps this clock's raw ticks, to keep beside a hot path.
    pub fn stamper(&self) -> Stamper {
        self.stamper
    }

    /// A raw stamp as nanoseconds on the system's monotonic clock.
    pub fn raw_to_mono(&self, raw: u64) -> u64 {
        self.origin_mono + self.ns(raw as f64)
    }

    /// The raw stamp of an instant on the system's monotonic clock (the run's start for one
    /// before it).
    pub fn mono_to_raw(&self, mono: u64) -> u64 {
        (mono.saturating_sub(self.origin_mono) as f64 / self.ns_per_tick) as u64
    }

    /// Raw ticks (of run time or raw time) in nanoseconds; never decreasing, so order is kept.
    fn ns(&self, ticks: f64) -> u64 {
        (ticks * self.ns_per_tick) as u64
    }

    /// Stop run time (idempotent).
    pub fn stop(&self) {
        let now = self.raw_now();
        let mut r = self.rates.lock();
        if !r.stopped {
            r.stopped = true;
            r.change(now, 0.0);
        }
    }

    /// Start run time again (idempotent).
    pub fn start(&self) {
        let now = self.raw_now();
        let mut r = self.rates.lock();
        if r.stopped {
            r.stopped = false;
            let speed = r.speed;
            r.change(now, speed);
        }
    }

    /// From now on run time advances `speed` times as fast as the wall clock while it runs.
    pub fn set_speed(&self, speed: f64) {
        let now = self.raw_now();
        let mut r = self.rates.lock();
        r.speed = speed;
        if !r.stopped {
            r.change(now, speed);
        }
    }

    /// Run time now.
    pub fn now(&self) -> u64 {
        self.to_run(self.raw_now())
    }

    /// The instant raw tick 0 stands for.
    pub fn origin(&self) -> Instant {
        self.stamper.origin
    }

    /// Map a stamp taken elsewhere on the monotonic clock, in nanoseconds since [`origin`]
    /// (a traced interpreter's), to run time in nanoseconds, so a pause stops its time too.
    ///
    /// [`origin`]: RunClock::origin
    pub fn wall_to_run(&self, ns: u64) -> u64 {
        self.to_run((ns as f64 / self.ns_per_tick) as u64)
    }

    /// Map a raw stamp to run time in nanoseconds.
    pub fn to_run(&self, raw: u64) -> u64 {
        let run = self.rates.lock().map(raw);
        self.ns(run)
    }

    /// Move the events (raw stamps) at which run time stood still, in a pause open or since
    /// closed, from `events[start..]` to `still`, keeping the order of the rest.
    pub fn take_still(&self, events: &mut Vec<Event>, start: usize, still: &mut Vec<Event>) {
        let r = self.rates.lock();
        if !r.ever_stopped() {
            return;
        }
        let mut kept = start;
        for i in start..events.len() {
            let e = events[i];
            if r.stands_still_at(e.t_ns) {
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
        let r = self.rates.lock();
        for e in events {
            e.t_ns = self.ns(r.map(e.t_ns));
        }
    }
}

impl Rates {
    /// Run time advances at `rate` from raw tick `raw` on.
    fn change(&mut self, raw: u64, rate: f64) {
        let last = *self.segments.last().expect("never empty");
        let raw = raw.max(last.raw);
        let at = Segment {
            raw,
            run: last.run + (raw - last.raw) as f64 * last.rate,
            rate,
        };
        if at.raw == last.raw {
            *self.segments.last_mut().expect("never empty") = Segment {
                run: last.run,
                ..at
            };
        } else {
            self.segments.push(at);
        }
    }

    fn segment_at(&self, raw: u64) -> &Segment {
        let last = self.segments.last().expect("never empty");
        if raw >= last.raw {
            return last;
        }
        let i = self.segments.partition_point(|s| s.raw <= raw);
        &self.segments[i.saturating_sub(1)]
    }

    /// Run time in raw ticks at raw tick `raw`; never decreasing in `raw`.
    fn map(&self, raw: u64) -> f64 {
        let s = self.segment_at(raw);
        s.run + raw.saturating_sub(s.raw) as f64 * s.rate
    }

    fn ever_stopped(&self) -> bool {
        self.segments.iter().any(|s| s.rate == 0.0)
    }

    /// Whether run time stood still at `raw` (a pause, open or since closed).
    fn stands_still_at(&self, raw: u64) -> bool {
        self.segment_at(raw).rate == 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_are_cut_out_and_order_is_kept() {
        let mut r = Rates::default();
        for (at, rate) in [(100, 0.0), (150, 1.0), (300, 0.0), (400, 1.0), (500, 0.0)] {
            r.change(at, rate);
        }
        let stamps = [50, 100, 120, 150, 200, 300, 350, 400, 450, 500, 900];
        let mapped: Vec<f64> = stamps.iter().map(|&raw| r.map(raw)).collect();
        assert_eq!(
            mapped,
            vec![
                50., 100., 100., 100., 150., 250., 250., 250., 300., 350., 350.
            ]
        );
        let still: Vec<bool> = stamps.iter().map(|&raw| r.stands_still_at(raw)).collect();
        assert_eq!(
            still,
            [
                false, true, true, false, false, true, true, false, false, true, true
            ]
        );
    }

    /// At a speed below 1x run time advances slower than the wall clock, and a pause at any
    /// speed stops it; the order of stamps is kept throughout.
    #[test]
    fn speed_scales_run_time() {
        let mut r = Rates::default();
        r.change(100, 0.1);
        r.change(1100, 0.0);
        r.change(1200, 2.0);
        let stamps = [0, 100, 600, 1100, 1150, 1200, 1300];
        let mapped: Vec<f64> = stamps.iter().map(|&raw| r.map(raw)).collect();
        assert_eq!(mapped, vec![0., 100., 150., 200., 200., 200., 400.]);
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
