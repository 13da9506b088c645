//! The traced Python process: started with the tracer shipped in this binary, in a private
//! temporary folder, in a process group of its own that never outlives threadlab; its records
//! arrive on a pipe of their own; the gate file holds it between operations.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, unbounded};

use super::model::Record;
use crate::children::{never_outlive_threadlab, unwatch_group, watch_group};

/// The tracer, written to the private folder at each run: nothing goes into the user's project.
pub const TRACER: &str = include_str!("tracer.py");

/// The oldest Python the tracer supports.
pub const MIN_PYTHON: (u32, u32) = (3, 8);

/// The fd the tracer writes its records to.
const RECORD_FD: i32 = 3;

/// Where the script's own output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Straight through to threadlab's own stdout and stderr.
    Inherit,
    /// Both into threadlab's stderr (when stdout carries JSON).
    Stderr,
    /// Both into this file.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Spawn {
    pub script: PathBuf,
    pub args: Vec<OsString>,
    pub output: Output,
    /// Start with the gate closed: nothing passes an operation until a step or a resume.
    pub paused: bool,
}

/// Why the program could not be started (exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    pub message: String,
    pub help: String,
}

/// The interpreter: `THREADLAB_PYTHON` if set, else `python3` on the PATH.
pub fn python() -> OsString {
    std::env::var_os("THREADLAB_PYTHON").unwrap_or_else(|| "python3".into())
}

/// The interpreter's version, or why it cannot be used.
pub fn check_python() -> Result<(u32, u32), StartError> {
    let py = python();
    let shown = Path::new(&py).display().to_string();
    let out = Command::new(&py)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| StartError {
            message: rust_i18n::t!("replay_truth.python.cannot_run", python = shown, why = e)
                .into_owned(),
            help: rust_i18n::t!("replay_truth.python.install").into_owned(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .trim()
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    match version {
        Some(v) if out.status.success() && v >= MIN_PYTHON => Ok(v),
        Some((a, b)) => Err(StartError {
            message: rust_i18n::t!(
                "replay_truth.python.too_old",
                python = shown,
                version = format!("{a}.{b}")
            )
            .into_owned(),
            help: rust_i18n::t!("replay_truth.python.newer").into_owned(),
        }),
        None => Err(StartError {
            message: rust_i18n::t!("replay_truth.python.no_version", python = shown).into_owned(),
            help: rust_i18n::t!("replay_truth.python.set_python").into_owned(),
        }),
    }
}

/// A running traced program.
pub struct Child {
    proc: std::process::Child,
    pgid: i32,
    dir: PathBuf,
    gate: File,
    records: Receiver<Option<Record>>,
    status: Option<ExitStatus>,
    slot: Option<usize>,
}

impl Child {
    /// Starts the program; its records are stamped in nanoseconds since `origin`.
    pub fn spawn(spec: &Spawn, origin: Instant) -> Result<Child, StartError> {
        check_python()?;
        let dir = private_dir().map_err(|e| StartError {
            message: rust_i18n::t!("replay_truth.python.temp", why = e).into_owned(),
            help: rust_i18n::t!("replay_truth.python.check_tmpdir").into_owned(),
        })?;
        let tracer = dir.join("sitecustomize.py");
        let gate_path = dir.join("gate");
        let setup = (|| -> std::io::Result<File> {
            std::fs::write(&tracer, TRACER)?;
            let gate = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&gate_path)?;
            gate.set_len(64)?;
            Ok(gate)
        })();
        let gate = setup.map_err(|e| StartError {
            message: rust_i18n::t!("replay_truth.python.write_tracer", why = e).into_owned(),
            help: rust_i18n::t!("replay_truth.python.check_tmpdir").into_owned(),
        })?;
        if spec.paused {
            gate.write_at(&[1], 0).ok();
        }
        let (read_fd, write_fd) = pipe().map_err(|e| StartError {
            message: rust_i18n::t!("replay_truth.python.pipe", why = e).into_owned(),
            help: String::new(),
        })?;
        // python3 runs the script itself; the tracer is loaded first, as sitecustomize.
        let mut cmd = Command::new(python());
        cmd.arg(&spec.script)
            .args(&spec.args)
            .env("THREADLAB_TRACE_FD", RECORD_FD.to_string())
            .env("THREADLAB_TRACE_GATE", &gate_path)
            .env("THREADLAB_T0", monotonic_ns(origin).to_string());
        let mut path = std::ffi::OsString::from(dir.as_os_str());
        if let Some(before) = std::env::var_os("PYTHONPATH") {
            cmd.env("THREADLAB_PYTHONPATH", &before);
            path.push(":");
            path.push(before);
        }
        cmd.env("PYTHONPATH", path);
        // A script reading its stdin from the terminal would stop its whole group (it is not
        // the terminal's foreground group): it reads end-of-file instead; piped input passes.
        use std::io::IsTerminal;
        if std::io::stdin().is_terminal() {
            cmd.stdin(Stdio::null());
        }
        match &spec.output {
            Output::Inherit => {}
            Output::Stderr => {
                use std::os::fd::AsFd;
                let err = std::io::stderr()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| StartError {
                        message: rust_i18n::t!("replay_truth.python.pass_output", why = e)
                            .into_owned(),
                        help: String::new(),
                    })?;
                cmd.stdout(Stdio::from(err));
            }
            Output::File(path) => {
                let f = File::create(path).map_err(|e| StartError {
                    message: rust_i18n::t!(
                        "replay_truth.python.write_output",
                        path = path.display(),
                        why = e
                    )
                    .into_owned(),
                    help: rust_i18n::t!("replay_truth.python.output_help").into_owned(),
                })?;
                let g = f.try_clone().map_err(|e| StartError {
                    message: e.to_string(),
                    help: String::new(),
                })?;
                cmd.stdout(f).stderr(g);
            }
        }
        let wfd = write_fd.as_raw();
        never_outlive_threadlab(&mut cmd, move || {
            // SAFETY: fcntl and dup2 are async-signal-safe, on an fd this process holds.
            unsafe {
                if wfd == RECORD_FD {
                    let flags = libc::fcntl(wfd, libc::F_GETFD);
                    libc::fcntl(wfd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                } else if libc::dup2(wfd, RECORD_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
        let proc = cmd.spawn().map_err(|e| StartError {
            message: rust_i18n::t!(
                "replay_truth.python.cannot_start",
                python = Path::new(&python()).display(),
                why = e
            )
            .into_owned(),
            help: rust_i18n::t!("replay_truth.python.install").into_owned(),
        })?;
        drop(write_fd);
        let pgid = proc.id() as i32;
        let slot = watch_group(pgid);
        let (tx, rx) = unbounded();
        let file = File::from(read_fd.0);
        std::thread::Builder::new()
            .name("trace-records".into())
            .spawn(move || {
                let mut reader = BufReader::with_capacity(1 << 16, file);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            // Parsed here, beside the reader, so the program is not held
                            // up by a full pipe while the model takes the last records.
                            if tx.send(Record::parse(&line)).is_err() {
                                break;
                            }
                        }
                    }
                }
            })
            .map_err(|e| StartError {
                message: rust_i18n::t!("replay_truth.python.thread", why = e).into_owned(),
                help: String::new(),
            })?;
        Ok(Child {
            proc,
            pgid,
            dir,
            gate,
            records: rx,
            status: None,
            slot,
        })
    }

    /// The records as the tracer writes them (`None` for a line that was not one);
    /// disconnected once every process holding the pipe has ended.
    pub fn records(&self) -> &Receiver<Option<Record>> {
        &self.records
    }

    /// Closes the gate: each thread stops at its next traced operation.
    pub(crate) fn pause(&self) {
        self.gate.write_at(&[1], 0).ok();
    }

    /// Opens the gate.
    pub(crate) fn resume(&self) {
        self.gate.write_at(&[0], 0).ok();
    }

    /// While paused, lets one held thread (the one whose ident is `ident`, or any) pass one
    /// operation.
    pub(crate) fn step(&self, ident: Option<u64>) {
        let mut buf = [0u8; 8];
        self.gate.read_at(&mut buf, 8).ok();
        let granted = u64::from_le_bytes(buf) + 1;
        self.gate
            .write_at(&ident.unwrap_or(0).to_le_bytes(), 16)
            .ok();
        self.gate.write_at(&granted.to_le_bytes(), 8).ok();
    }

    /// The interpreter's exit status, once it has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.proc.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `limit` for the interpreter to end.
    pub fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.try_wait()
    }

    /// Ends the interpreter and everything it started.
    pub fn kill(&mut self) {
        // SAFETY: a plain kill of the child's own process group.
        unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
        if self.status.is_none() {
            self.status = self.proc.wait().ok();
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc.id()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
        if let Some(i) = self.slot {
            unwatch_group(i);
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// `at` on the monotonic clock (CLOCK_MONOTONIC, which both `Instant` and Python's
/// `time.monotonic_ns` read), in nanoseconds.
fn monotonic_ns(at: Instant) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let now = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
    now.saturating_sub(at.elapsed().as_nanos() as u64).max(1)
}

fn private_dir() -> std::io::Result<PathBuf> {
    let base = std::env::temp_dir();
    for n in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "threadlab-trace-{}-{nanos}-{n}",
            std::process::id()
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free name"))
}

struct Fd(OwnedFd);

impl Fd {
    fn as_raw(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.0.as_raw_fd()
    }
}

/// A pipe whose two ends close on exec; the child gets its end by `dup2` to [`RECORD_FD`].
fn pipe() -> std::io::Result<(Fd, Fd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe writes two fds into the array.
    #[cfg(target_os = "linux")]
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    #[cfg(not(target_os = "linux"))]
    let rc = unsafe {
        let rc = libc::pipe(fds.as_mut_ptr());
        if rc == 0 {
            libc::fcntl(fds[0], libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(fds[1], libc::F_SETFD, libc::FD_CLOEXEC);
        }
        rc
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just made and are owned here alone.
    unsafe {
        Ok((
            Fd(OwnedFd::from_raw_fd(fds[0])),
            Fd(OwnedFd::from_raw_fd(fds[1])),
        ))
    }
}
