//! What a run did: events, and everything computed from them.

pub mod card;
pub mod cards;
pub mod export;
pub mod footprint;
pub mod gather;
pub mod gil;
pub mod groups;
pub mod invariants;
pub mod machine;
pub mod order;
pub mod replay;
pub mod resources;
pub mod summary;
pub mod text;
pub mod timeline;

pub use order::Reorder;
pub use resources::ResourceState;
pub use summary::{RunEnd, Summary, SummaryBuilder};
pub use timeline::{StateSpan, Trace, TraceLimits};

pub mod testing;
