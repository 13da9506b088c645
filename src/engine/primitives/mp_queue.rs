//! `mp-queue q`: Python's `multiprocessing.Queue`, the way processes that share no memory pass
//! items: an OS pipe. A `put` writes one 8-byte record (the item's number and who put it)
//! into the kernel's pipe buffer; a `take` reads one. Writes that small are atomic, and every
//! reader reads exactly one record, so each item reaches exactly one taker in whichever
//! process it runs. threadlab makes the pipe before it starts its child processes, and each
//! child inherits both ends.
//!
//! Items are numbered by who put them, `(putter + 1) * 1000 + n` for the putter's n-th put
//! (the putter counted across the whole scenario), since no process sees another's count.

use std::io::{Error, ErrorKind};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::{Cx, View};
use crate::engine::conductor::{Flow, Halt};
use crate::scenario::model::{ResIdx, ThreadIdx};
use crate::vocab::event::EventKind;

/// The item number of a sentinel (`q.put(None)`), as in a buffer.
pub const SENTINEL: u32 = 0;
/// How long a waiting taker (or a putter waiting for room) sleeps in the kernel before it
/// looks whether the run was cancelled.
const POLL_MS: i32 = 20;

/// What a child process was handed by its parent: the ends of each queue's pipe, and the
/// scenario's number of each of its own threads.
struct Inherited {
    queues: Vec<(ResIdx, RawFd, RawFd)>,
    members: Vec<ThreadIdx>,
}

static INHERITED: OnceLock<Inherited> = OnceLock::new();

/// In a child process, before its run starts: the pipes it inherited (resource, read end,
/// write end) and, per thread of its own, that thread's number in the whole scenario.
pub fn inherit(queues: Vec<(ResIdx, RawFd, RawFd)>, members: Vec<ThreadIdx>) {
    let _ = INHERITED.set(Inherited { queues, members });
}

/// Whether this process is a child of a run, which sees only its own threads: then only the
/// run can tell whether a wait on an mp-queue ends.
pub fn in_child() -> bool {
    INHERITED.get().is_some()
}

/// This process's thread `t` as the whole scenario numbers it.
fn global(t: ThreadIdx) -> ThreadIdx {
    INHERITED
        .get()
        .and_then(|i| i.members.get(t as usize).copied())
        .unwrap_or(t)
}

pub struct MpQueue {
    index: ResIdx,
    /// The read and write ends, or why the OS would not make them (said by the first step
    /// that uses the queue).
    pipe: Result<(OwnedFd, OwnedFd), String>,
    state: Mutex<State>,
}

struct State {
    seq: u64,
    /// Threads of this process waiting for an item (the pipe was empty) or for room (it was
    /// full), in the order they came.
    waiters: Vec<ThreadIdx>,
    /// Per thread: how many items it has put.
    puts: Vec<u32>,
    /// Per thread: the last item it took was a sentinel.
    took_sentinel: Vec<bool>,
}

impl MpQueue {
    /// The queue's pipe: the one inherited from the parent, or a new one.
    pub fn new(index: ResIdx, threads: usize) -> MpQueue {
        let inherited = INHERITED
            .get()
            .and_then(|i| i.queues.iter().find(|q| q.0 == index));
        let pipe = match inherited {
            // SAFETY: the parent passed these fds to this process for this queue alone.
            Some(&(_, r, w)) => unsafe { Ok((OwnedFd::from_raw_fd(r), OwnedFd::from_raw_fd(w))) },
            None => pipe().map_err(|e| format!("cannot make a pipe: {e}")),
        };
        MpQueue {
            index,
            pipe,
            state: Mutex::new(State {
                seq: 0,
                waiters: Vec::new(),
                puts: vec![0; threads],
                took_sentinel: vec![false; threads],
            }),
        }
    }

    /// The read and write ends, for a child process to inherit.
    pub fn fds(&self) -> Option<(RawFd, RawFd)> {
        let (r, w) = self.pipe.as_ref().ok()?;
        Some((r.as_raw_fd(), w.as_raw_fd()))
    }

    fn ends(&self) -> Result<(RawFd, RawFd), Halt> {
        self.fds()
            .ok_or_else(|| Halt::Failed(self.pipe.as_ref().err().cloned().unwrap_or_default()))
    }

    pub fn put(&self, cx: &mut Cx) -> Flow {
        let item = {
            let mut s = self.state.lock();
            let n = &mut s.puts[cx.me as usize];
            *n += 1;
            (global(cx.me) as u32 + 1) * 1000 + *n
        };
        self.send(cx, item)
    }

    pub fn put_sentinel(&self, cx: &mut Cx) -> Flow {
        self.send(cx, SENTINEL)
    }

    /// Stamped before the bytes go, so the take that reads them (in whichever process) is
    /// stamped after; recorded only once they are in, so a putter that finds room and loses
    /// it to a putter of another process records nothing until its own bytes go in. A full
    /// pipe makes the putter wait, as `put` on a full `multiprocessing.Queue` pipe does, until
    /// some process takes an item (or the run is cancelled).
    fn send(&self, cx: &mut Cx, item: u32) -> Flow {
        let (_, write) = self.ends()?;
        let mut record = [0u8; 8];
        record[..4].copy_from_slice(&item.to_le_bytes());
        record[4..].copy_from_slice(&(global(cx.me) as u32).to_le_bytes());
        self.wait_for(cx, write, libc::POLLOUT, |s, cx| {
            let at = cx.rec.stamp_ahead();
            let written = try_write(write, &record);
            if let Ok(true) = written {
                s.seq += 1;
                cx.emit_at(EventKind::Put, self.index, None, Some(item), at);
            } else {
                cx.rec.forget_stamp();
            }
            written
        })
    }

    /// Take the next item, waiting until some process puts one.
    pub fn take(&self, cx: &mut Cx) -> Flow {
        let (read, _) = self.ends()?;
        self.wait_for(cx, read, libc::POLLIN, |s, cx| match try_read(read)? {
            None => Ok(false),
            Some((item, putter)) => {
                s.seq += 1;
                s.took_sentinel[cx.me as usize] = item == SENTINEL;
                cx.emit(EventKind::Take, self.index, Some(putter), Some(item));
                Ok(true)
            }
        })
    }

    /// Try `attempt` (with the state locked) until it succeeds; between tries, wait in the
    /// kernel for `fd` to become ready for `events`, looking between polls whether the run was
    /// cancelled. A thread that has to wait is a waiter of the queue until it gets through.
    fn wait_for(
        &self,
        cx: &mut Cx,
        fd: RawFd,
        events: i16,
        mut attempt: impl FnMut(&mut State, &mut Cx) -> Result<bool, Error>,
    ) -> Flow {
        let mut blocked = false;
        let flow = loop {
            {
                let mut s = self.state.lock();
                match attempt(&mut s, cx) {
                    Ok(true) => {
                        leave(&mut s, cx.me);
                        break Ok(());
                    }
                    Ok(false) => {}
                    Err(e) => break Err(Halt::Failed(format!("cannot use the pipe: {e}"))),
                }
                if !blocked {
                    // Said while the state is locked, as every primitive does: a look that
                    // sees the waiter finds its block handed over.
                    blocked = true;
                    s.seq += 1;
                    s.waiters.push(cx.me);
                    cx.block(self.index);
                }
            }
            if let Err(h) = cx.check_cancel() {
                break Err(h);
            }
            let mut fd = libc::pollfd {
                fd,
                events,
                revents: 0,
            };
            // SAFETY: one pollfd, alive for the call.
            unsafe { libc::poll(&mut fd, 1, POLL_MS) };
        };
        if blocked {
            leave(&mut self.state.lock(), cx.me);
            cx.conductor.unblocked(cx.me);
        }
        flow
    }

    /// Whether the last item thread `t` took was a sentinel: its script stops there.
    pub fn took_sentinel(&self, t: ThreadIdx) -> bool {
        self.state.lock().took_sentinel[t as usize]
    }

    /// What the wait-for graph of one process sees: only that it changed. Its items may come
    /// from any process, so a process that sees only its own threads never calls its waiters
    /// stuck; the run that sees every process asks [`MpQueue::waiting`].
    pub fn view(&self) -> View {
        View {
            seq: self.state.lock().seq,
            ..View::default()
        }
    }

    /// The queue as a judge of every process reads it: with the threads of this process
    /// waiting on it, for an item or for room. What the pipe lets through is read apart
    /// ([`MpQueue::pipe_state`]), at the one instant the judge puts every process together.
    pub fn waiting(&self) -> View {
        let s = self.state.lock();
        View {
            seq: s.seq,
            waiters: s.waiters.clone(),
            ..View::default()
        }
    }

    /// The pipe as it is now: whether a record waits in it, and whether a put would go in.
    pub fn pipe_state(&self) -> Pipe {
        let Ok((read, write)) = self.ends() else {
            return Pipe {
                item: false,
                room: true,
            };
        };
        Pipe {
            item: ready(read, libc::POLLIN),
            room: ready(write, libc::POLLOUT),
        }
    }
}

/// `t` is no longer waiting on the queue.
fn leave(s: &mut State, t: ThreadIdx) {
    if s.waiters.contains(&t) {
        s.waiters.retain(|&w| w != t);
        s.seq += 1;
    }
}

/// What a pipe would let through at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pipe {
    /// A taker would get an item.
    pub item: bool,
    /// A putter would get its item in.
    pub room: bool,
}

/// Whether `fd` is ready for `events` now, without waiting.
fn ready(fd: RawFd, events: i16) -> bool {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one pollfd, alive for the call; a zero timeout never waits.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & events != 0
}

/// Writes one record if the pipe has room for it now; false if it is full.
fn try_write(write: RawFd, record: &[u8; 8]) -> Result<bool, Error> {
    loop {
        // SAFETY: writes 8 bytes from a live buffer to an fd this queue owns.
        let n = unsafe { libc::write(write, record.as_ptr().cast(), 8) };
        if n == 8 {
            return Ok(true);
        }
        if n >= 0 {
            return Err(Error::other(format!("a record of {n} bytes written")));
        }
        let e = Error::last_os_error();
        match e.kind() {
            ErrorKind::Interrupted => continue,
            ErrorKind::WouldBlock => return Ok(false),
            _ => return Err(e),
        }
    }
}

/// One record, if one is there: the read end does not block, and every record is read
/// whole (8-byte writes and reads of a pipe are never split).
fn try_read(read: RawFd) -> Result<Option<(u32, ThreadIdx)>, Error> {
    let mut record = [0u8; 8];
    loop {
        // SAFETY: reads at most 8 bytes into a live buffer from an fd this queue owns.
        let n = unsafe { libc::read(read, record.as_mut_ptr().cast(), 8) };
        if n == 8 {
            let item = u32::from_le_bytes(record[..4].try_into().unwrap_or_default());
            let putter = u32::from_le_bytes(record[4..].try_into().unwrap_or_default());
            return Ok(Some((item, putter as ThreadIdx)));
        }
        if n >= 0 {
            return Err(Error::other(format!("a record of {n} bytes")));
        }
        let e = Error::last_os_error();
        match e.kind() {
            ErrorKind::Interrupted => continue,
            ErrorKind::WouldBlock => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// A pipe whose ends close on exec (a child gets them by name, not by accident), and do not
/// block.
fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the array.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if rc != 0 {
        return Err(Error::last_os_error());
    }
    // SAFETY: both fds were just made and are owned here alone.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // Neither end blocks: a putter on a full pipe waits in `poll`, where it can be cancelled.
    Ok((read, write))
}
