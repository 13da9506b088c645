//! Taking over the terminal and giving it back, on every path out.
//!
//! Three layers, as gitui does it: a drop guard (normal exits and `?` errors), a panic hook that
//! restores before the panic message is printed (so the message lands on the normal screen and
//! is readable), and the runner's signal handling (SIGTERM, SIGHUP, SIGINT), which ends the
//! loop so the guard runs. In raw mode Ctrl-C arrives as a key, handled by the key table.

use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::thread::ThreadId;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::{cursor, event, execute, terminal};

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Whether the terminal is currently taken over (raw mode, alternate screen).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The thread that draws: only a panic there takes the UI down.
static UI_THREAD: OnceLock<Mutex<Option<ThreadId>>> = OnceLock::new();
/// Panic messages from other threads while the terminal was taken over: printing them then
/// would scribble over the screen, so they wait here and are printed once it is restored.
static DEFERRED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

/// Owns the terminal while the UI runs; restores it when dropped.
pub struct TerminalGuard {
    pub terminal: Tui,
}

impl TerminalGuard {
    /// Raw mode, alternate screen, hidden cursor, mouse reporting; installs the panic hook.
    pub fn init() -> io::Result<TerminalGuard> {
        install_panic_hook();
        *UI_THREAD
            .get_or_init(|| Mutex::new(None))
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(std::thread::current().id());
        // The theme alone decides colour: NO_COLOR picks the mono theme, and a theme a teacher
        // asks for after that (`--theme`, `t`) is drawn as asked, which crossterm would
        // otherwise strip of every colour where NO_COLOR is set.
        ratatui::crossterm::style::force_color_output(true);
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut stdout = io::stdout();
        if let Err(e) = execute!(
            stdout,
            terminal::EnterAlternateScreen,
            cursor::Hide,
            event::EnableMouseCapture
        ) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Gives the terminal back: mouse off, main screen, cursor shown, raw mode off. Idempotent,
/// and safe to call from a panic hook. Prints any panic messages held back meanwhile.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut stdout = io::stdout();
        // Each step is tried even if an earlier one fails: a half-restored terminal is worse.
        let _ = execute!(stdout, event::DisableMouseCapture);
        let _ = execute!(stdout, terminal::LeaveAlternateScreen);
        let _ = execute!(stdout, cursor::Show);
        let _ = terminal::disable_raw_mode();
        let _ = stdout.flush();
    }
    let deferred = std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(|e| e.into_inner()));
    for message in deferred {
        eprintln!("{message}");
    }
}

fn is_ui_thread() -> bool {
    let current = std::thread::current().id();
    UI_THREAD
        .get()
        .and_then(|m| *m.lock().unwrap_or_else(|e| e.into_inner()))
        .is_none_or(|t| t == current)
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) && !is_ui_thread() {
                // A scenario thread panicked: the engine marks it failed and the UI stays up.
                // Keep the message for later rather than print over the screen.
                let thread = std::thread::current();
                let name = thread.name().unwrap_or("<unnamed>");
                DEFERRED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("thread '{name}' {info}"));
                return;
            }
            restore();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_without_init_is_harmless() {
        restore();
        restore();
        assert!(!ACTIVE.load(Ordering::SeqCst));
    }
}
