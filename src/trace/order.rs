//! Putting a drained event stream back into time order.
//!
//! A run hands over events in order per thread but only roughly in order across threads, and an
//! event stamped just before a drain can show up in the next batch. Anything that needs the true
//! global order (summary figures such as "most holders at once", the `--events` file) passes the
//! stream through a [`Reorder`]: events are held until the stream has moved a safe distance
//! (`slack`, in run time) past them, then released oldest first.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use crate::vocab::event::Event;

/// A bounded reordering buffer over an event stream.
#[derive(Debug, Clone)]
pub struct Reorder {
    slack_ns: u64,
    max_pending: usize,
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    latest_ns: u64,
    released_ns: u64,
    late: u64,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    t_ns: u64,
    /// Arrival order, so events at the same instant keep their per-thread order.
    seq: u64,
    event: Event,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.t_ns, self.seq) == (other.t_ns, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.t_ns, self.seq).cmp(&(other.t_ns, other.seq))
    }
}

impl Default for Reorder {
    /// Half a second of run time, at most 131 072 events held (4 MB).
    fn default() -> Reorder {
        Reorder::new(Duration::from_millis(500), 1 << 17)
    }
}

impl Reorder {
    /// Holds events until the stream is `slack` past them, or until more than `max_pending`
    /// are held (then the oldest go first regardless, so memory stays bounded).
    pub fn new(slack: Duration, max_pending: usize) -> Reorder {
        Reorder {
            slack_ns: slack.as_nanos().min(u64::MAX as u128) as u64,
            max_pending: max_pending.max(1),
            heap: BinaryHeap::new(),
            seq: 0,
            latest_ns: 0,
            released_ns: 0,
            late: 0,
        }
    }

    pub fn push(&mut self, event: Event) {
        if event.t_ns < self.released_ns {
            self.late += 1;
        }
        self.latest_ns = self.latest_ns.max(event.t_ns);
        self.heap.push(Reverse(Pending {
            t_ns: event.t_ns,
            seq: self.seq,
            event,
        }));
        self.seq += 1;
    }

    pub fn extend(&mut self, events: &[Event]) {
        for &e in events {
            self.push(e);
        }
    }

    /// The oldest held event, if the stream has moved far enough past it.
    pub fn pop_ready(&mut self) -> Option<Event> {
        let watermark = self.latest_ns.saturating_sub(self.slack_ns);
        let Reverse(oldest) = self.heap.peek()?;
        if oldest.t_ns < watermark || self.heap.len() > self.max_pending {
            self.pop_any()
        } else {
            None
        }
    }

    /// The oldest held event, ready or not (to flush at the end of a stream).
    pub fn pop_any(&mut self) -> Option<Event> {
        let Reverse(p) = self.heap.pop()?;
        self.released_ns = self.released_ns.max(p.t_ns);
        Some(p.event)
    }

    /// Events held right now.
    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Events that arrived after something later had already been released: they come out of
    /// order. Zero unless a batch was held up for longer than the slack.
    pub fn late(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::testing::ev;
    use crate::vocab::event::EventKind;

    #[test]
    fn releases_in_time_order_once_past_the_slack() {
        let mut r = Reorder::new(Duration::from_nanos(100), 1000);
        r.extend(&[
            ev(50, 1, EventKind::Run),
            ev(10, 0, EventKind::Run),
            ev(10, 0, EventKind::Sleep),
        ]);
        assert_eq!(r.pop_ready(), None, "nothing is 100 ns old yet");
        r.push(ev(200, 1, EventKind::Done));
        let out: Vec<_> = std::iter::from_fn(|| r.pop_ready()).collect();
        assert_eq!(
            out.iter().map(|e| (e.t_ns, e.kind)).collect::<Vec<_>>(),
            [
                (10, EventKind::Run),
                (10, EventKind::Sleep),
                (50, EventKind::Run)
            ]
        );
        assert_eq!(r.pop_any().map(|e| e.t_ns), Some(200));
        assert_eq!(r.late(), 0);
        r.push(ev(5, 0, EventKind::Done));
        assert_eq!(r.late(), 1);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut r = Reorder::new(Duration::from_secs(3600), 8);
        for i in 0..100 {
            r.push(ev(i, 0, EventKind::Run));
            while r.pop_ready().is_some() {}
            assert!(r.pending() <= 8);
        }
    }
}
