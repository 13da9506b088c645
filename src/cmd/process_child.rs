//! `threadlab process-child ...`: how threadlab starts one process of a scenario's `process`
//! blocks (see `engine::process`). Hidden: its words are threadlab's own, not a person's.

use crate::engine::child::{ChildPlan, serve};
use crate::vocab::outcome::Exit;

pub fn run(args: &[String]) -> Exit {
    match ChildPlan::from_args(args).map(serve) {
        Some(0) => Exit::Success,
        Some(_) => Exit::Failed,
        None => Exit::Usage,
    }
}
