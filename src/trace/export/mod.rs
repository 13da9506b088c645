//! Exports of a finished run: Trace Event Format JSON for Perfetto and chrome://tracing, and an
//! SVG picture of the timeline for slides. Both read a [`Recording`](crate::vocab::recording::Recording),
//! so a live run, a headless run and a replayed file export the same way. And the Python twin of
//! a scenario, which needs no run at all.

pub mod chrome;
pub mod python;
pub mod svg;
