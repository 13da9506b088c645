//! Every lesson card there is, in the order the run view draws them (`trace::card` is their
//! shape). A new kind of card is one builder in its own file and one line here.

use crate::engine::footprint::Footprint;
use crate::trace::card::{Builder, Card};
use crate::trace::timeline::Trace;

/// One builder per kind of card. A lesson matches at most a few.
const BUILDERS: &[Builder] = &[crate::trace::gil::card, crate::trace::gather::card];

/// The cards of the run in `trace`, as of `now_ns`; then, for a run of tasks beside threads,
/// what starting each cost, as the engine measured it live (`footprint`: not in the trace).
pub fn cards(trace: &Trace, now_ns: u64, cores: usize, footprint: Option<&Footprint>) -> Vec<Card> {
    BUILDERS
        .iter()
        .filter_map(|b| b(trace, now_ns, cores))
        .chain(footprint.map(crate::trace::footprint::card))
        .collect()
}
