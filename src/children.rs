//! Child processes that never outlive threadlab: each in a process group of its own, which
//! the kernel kills when threadlab goes and the signal handler kills before a SIGTERM, SIGHUP
//! or SIGINT ends threadlab. Both kinds of child use it: a scenario's processes and a traced
//! Python program.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// Process groups of running children, for the signal handler.
static GROUPS: [AtomicI32; 32] = [const { AtomicI32::new(0) }; 32];

/// Have the signal handler of [`kill_children_on_signals`] kill process group `pgid` too;
/// the slot it took, if one was free, for [`unwatch_group`].
pub fn watch_group(pgid: i32) -> Option<usize> {
    GROUPS.iter().position(|g| {
        g.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

/// The group in `slot` has ended.
pub fn unwatch_group(slot: usize) {
    GROUPS[slot].store(0, Ordering::SeqCst);
}

/// Start `cmd`'s process in a process group of its own that never outlives threadlab: the
/// kernel kills it when the thread that started it ends (so that thread must live as long
/// as the child), and it ends at once if threadlab was already gone. `then` runs in the child
/// after that, before exec, and may make only async-signal-safe calls.
pub fn never_outlive_threadlab(
    cmd: &mut Command,
    then: impl Fn() -> std::io::Result<()> + Send + Sync + 'static,
) {
    // SAFETY: getpid is async-signal-safe and is read before the fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: between fork and exec only async-signal-safe calls are made.
    unsafe {
        cmd.pre_exec(move || {
            libc::setpgid(0, 0);
            #[cfg(target_os = "linux")]
            {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
            }
            let _ = parent;
            then()
        });
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    for g in &GROUPS {
        let pgid = g.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
    // SAFETY: signal and raise are async-signal-safe; the default action then ends threadlab
    // as the signal asked.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Kills the children's groups before a SIGTERM, SIGHUP or SIGINT ends threadlab. The
/// terminal view installs its own handlers for its run, which end through [`Child`]'s drop.
pub fn kill_children_on_signals() {
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
        // SAFETY: the handler only calls async-signal-safe functions.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}
