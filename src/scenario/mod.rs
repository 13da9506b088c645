//! The scenario language: KDL files a teacher can read and write.

pub mod duration;
pub mod model;
