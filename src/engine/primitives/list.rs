//! `list items`: a plain Python list that threads share, with no waiting of its own. `append`
//! adds the next numbered item; `pop` takes the oldest (`items.pop(0)`), and on an empty list
//! fails the thread as Python raises `IndexError`. The condition lessons guard it with a lock
//! and a condition, correctly or not.

use parking_lot::Mutex;
use std::collections::VecDeque;

use super::{Cx, View};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::ResIdx;
use crate::vocab::event::EventKind;

/// What a thread that pops an empty list dies of, word for word as CPython says it.
pub const EMPTY_POP: &str = "IndexError: pop from empty list";

pub struct List {
    index: ResIdx,
    state: Mutex<State>,
}

struct State {
    seq: u64,
    items: VecDeque<u32>,
    last_item: u32,
}

impl List {
    pub fn new(index: ResIdx) -> List {
        List {
            index,
            state: Mutex::new(State {
                seq: 0,
                items: VecDeque::new(),
                last_item: 0,
            }),
        }
    }

    pub fn append(&self, cx: &mut Cx) -> Flow {
        let mut s = self.state.lock();
        s.last_item += 1;
        let item = s.last_item;
        s.items.push_back(item);
        s.seq += 1;
        cx.emit(EventKind::Put, self.index, None, Some(item));
        Ok(())
    }

    pub fn pop(&self, cx: &mut Cx) -> Flow {
        let mut s = self.state.lock();
        let Some(item) = s.items.pop_front() else {
            return Err(Halt::Failed(EMPTY_POP.to_string()));
        };
        s.seq += 1;
        cx.emit(EventKind::Take, self.index, None, Some(item));
        Ok(())
    }

    /// `not items`, as a condition's waiter checks it.
    pub fn is_empty(&self) -> bool {
        self.state.lock().items.is_empty()
    }

    /// Nothing ever waits on a list.
    pub fn view(&self) -> View {
        View {
            seq: self.state.lock().seq,
            ..View::default()
        }
    }
}
