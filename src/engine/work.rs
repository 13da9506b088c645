//! Calibrated CPU work: `work "100ms"` is a fixed amount of real computation that takes about
//! 100 ms on an idle core of this machine. Under contention it takes longer, and that difference
//! is exactly what the GIL lesson measures, so the amount must not depend on how long it took.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How much computation one work slice is: short enough that a pause, a cancel or a GIL drop
/// request is noticed promptly, long enough that the checks between slices cost nothing.
pub const SLICE: Duration = Duration::from_micros(100);

/// Iterations of the mixing loop per nanosecond on an idle core.
fn iterations_per_ns() -> f64 {
    *RATE.get_or_init(calibrate)
}

static RATE: OnceLock<f64> = OnceLock::new();

/// Fastest of several short trials: on a shared machine the fastest is the one least disturbed.
fn calibrate() -> f64 {
    const TRIAL: u64 = 200_000;
    let mut best = f64::MAX;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..15 {
        let start = Instant::now();
        seed = spin(seed, TRIAL);
        let ns = start.elapsed().as_nanos().max(1) as f64;
        best = best.min(ns);
    }
    black_box(seed);
    TRIAL as f64 / best
}

/// This process's calibration: how a child process is handed its parent's, so that `work` is
/// the same amount of computation in every process of a run.
pub fn rate() -> f64 {
    iterations_per_ns()
}

/// Take `rate` (another process's [`rate`]) as this process's calibration, if it has none yet.
pub fn adopt_rate(rate: f64) {
    if rate.is_finite() && rate > 0.0 {
        let _ = RATE.set(rate);
    }
}

/// Prime the calibration before threads start, so the first `work` does not pay for it.
pub fn warm_up() {
    iterations_per_ns();
}

/// The mixing loop: cheap per iteration, impossible to optimise away, no memory traffic.
#[inline(never)]
fn spin(mut x: u64, iterations: u64) -> u64 {
    for _ in 0..iterations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = black_box(x);
    }
    x
}

/// Do `nominal` worth of calibrated computation.
pub fn burn(nominal: Duration) {
    let iterations = (nominal.as_nanos() as f64 * iterations_per_ns()) as u64;
    black_box(spin(0x2545_F491_4F6C_DD1D, iterations.max(1)));
}
