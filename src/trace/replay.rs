//! A recording and the trace it replays into: what its events compute to (its timeline and its
//! summary, as a live run of it would have shown them), and the recording a live view's trace
//! makes. The file itself is `vocab::recording`.

use crate::error::Error;
use crate::scenario::model::ThreadIdx;
use crate::trace::summary::{RunEnd, Summary, SummaryBuilder};
use crate::trace::timeline::{Trace, TraceLimits};
use crate::vocab::deadlock::Deadlock;
use crate::vocab::outcome::Outcome;
use crate::vocab::recording::{Recording, recording_error};

impl Recording {
    /// A recording of what a live view saw: its trace (which must still hold every event) and
    /// how the run stood when it was left.
    pub fn from_trace(
        trace: &Trace,
        end_ns: u64,
        outcome: Option<Outcome>,
        deadlock: Option<Deadlock>,
        dropped_events: u64,
        speed: f64,
    ) -> Result<Recording, Error> {
        if trace.events_evicted() > 0 || trace.events_too_late() > 0 {
            return Err(recording_error(
                format!(
                    "this run produced {} events, more than a recording keeps exactly ({})",
                    trace.events_seen(),
                    trace.limits().max_events
                ),
                "record a shorter run: use --for to stop it sooner",
            ));
        }
        let scenario = trace.scenario().clone();
        Ok(Recording {
            events: trace.events_before(u64::MAX, usize::MAX),
            failures: (0..scenario.threads.len())
                .map(|t| trace.failure(t as ThreadIdx).map(str::to_string))
                .collect(),
            scenario,
            end_ns: end_ns.max(trace.end_ns()),
            outcome,
            deadlock,
            dropped_events,
            speed: speed.clamp(0.1, 4.0),
        })
    }

    /// A timeline of the whole recording, with room for every event.
    pub fn trace(&self) -> Trace {
        let limits = TraceLimits {
            max_events: self.events.len().max(TraceLimits::default().max_events),
            ..TraceLimits::default()
        };
        let mut trace = Trace::with_limits(self.scenario.clone(), limits);
        trace.push(&self.events);
        for (t, reason) in self.failures.iter().enumerate() {
            if let Some(reason) = reason {
                trace.note_failure(t as ThreadIdx, reason.clone());
            }
        }
        trace
    }

    /// The run's summary, computed again from the events.
    pub fn summary(&self) -> Summary {
        let mut builder = SummaryBuilder::new(self.scenario.clone());
        builder.extend(&self.events);
        builder.finish(&RunEnd {
            run_time_ns: self.end_ns,
            outcome: self.outcome,
            deadlock: self.deadlock.clone(),
            failures: self.failures.clone(),
            dropped_events: self.dropped_events,
        })
    }
}
