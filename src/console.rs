//! What commands print on stdout and stderr. A reader that goes away (`threadlab list | head
//! -1`) ends the output quietly, as for any Unix tool: no panic, no message, and the command's
//! own exit code. Any other failure to write stdout (a full disk) is remembered, so the command
//! can end with an error instead of claiming success.

use std::io::{self, Write};
use std::sync::OnceLock;

static STDOUT_FAILED: OnceLock<String> = OnceLock::new();

/// Writes `text` to stdout as it is.
pub fn out(text: &str) {
    let mut stdout = io::stdout().lock();
    let result = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    if let Err(e) = result
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        let _ = STDOUT_FAILED.set(e.to_string());
    }
}

/// Writes `text` and a line break to stdout.
pub fn outln(text: &str) {
    out(&format!("{text}\n"));
}

/// Writes `text` and a line break to stderr; a closed stderr is ignored (there is nowhere
/// left to say anything).
pub fn errln(text: &str) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// Why writing to stdout failed, other than its reader going away.
pub fn stdout_failed() -> Option<&'static str> {
    STDOUT_FAILED.get().map(String::as_str)
}
