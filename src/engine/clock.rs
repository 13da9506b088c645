//! Run time: a clock that stops while a run is paused.
//!
//! Workers stamp events with raw monotonic time (cheap, never contended, and strictly ordered
//! under a primitive's lock). The conductor logs when the clock stopped and started again, and
//! the recorder maps raw stamps to run time when it drains events. The mapping never goes
//! backwards, so the order of events is kept; events inside a pause all land on its first
//! instant, and the recorder hands those on in their raw order.

use std::time::Instant;

use parking_lot::Mutex;

use crate::vocab::event::Event;

pub struct RunClock {
    origin: Instant,
    pauses: Mutex<Pauses>,
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
        RunClock {
            origin: Instant::now(),
            pauses: Mutex::new(Pauses::default()),
        }
    }

    /// Raw nanoseconds since the run began, pauses included.
    pub fn raw_now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
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

    /// Map a raw stamp to run time.
    pub fn to_run(&self, raw: u64) -> u64 {
        let p = self.pauses.lock();
        p.map(raw)
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

    /// Turn the raw stamps of a drained batch into run time, under one lock.
    pub fn map_events(&self, events: &mut [Event]) {
        let p = self.pauses.lock();
        for e in events {
            e.t_ns = p.map(e.t_ns);
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
}
