//! The files a person names on the command line: inputs read without ever blocking and never
//! past a limit, and outputs that never overwrite an input. Every command reads and writes
//! through here, so a named pipe, a directory, a device or a mistyped `-o` behaves the same
//! everywhere.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Why a file could not be read or written.
#[derive(Debug)]
pub enum FileError {
    /// The path could not be opened.
    Open(PathBuf, io::Error),
    /// An input is not a regular file (a pipe, a directory, a device): `what` says which.
    NotRegular(PathBuf, &'static str),
    /// An input is larger than its limit (`size` is what was seen: the size, or limit + 1).
    TooBig(PathBuf, u64),
    /// Reading or writing failed part way.
    Io(PathBuf, io::Error),
    /// An output names a file the same command reads (same device and inode).
    WouldOverwrite { output: PathBuf, input: PathBuf },
}

impl FileError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Open(p, _)
            | FileError::NotRegular(p, _)
            | FileError::TooBig(p, _)
            | FileError::Io(p, _) => p,
            FileError::WouldOverwrite { output, .. } => output,
        }
    }

    /// What to do about it, for a `help:` line.
    pub fn help(&self) -> &'static str {
        match self {
            FileError::Open(..) => "check the path, and that its directory exists and is writable",
            FileError::NotRegular(..) => {
                "give the path of a file: threadlab reads whole files, not pipes, devices or directories"
            }
            FileError::TooBig(..) => "is this the right file?",
            FileError::Io(..) => "check the disk and the path",
            FileError::WouldOverwrite { .. } => "give the output a file name of its own",
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Open(p, e) => write!(f, "cannot open `{}`: {e}", p.display()),
            FileError::NotRegular(p, what) => write!(f, "`{}` is {what}, not a file", p.display()),
            FileError::TooBig(p, size) => write!(f, "`{}` is {}", p.display(), human_size(*size)),
            FileError::Io(p, e) => write!(f, "`{}`: {e}", p.display()),
            FileError::WouldOverwrite { output, input } if output == input => write!(
                f,
                "`{}` is this command's input: writing there would destroy it",
                output.display()
            ),
            FileError::WouldOverwrite { output, input } => write!(
                f,
                "`{}` is the same file as the input `{}`: writing there would destroy it",
                output.display(),
                input.display()
            ),
        }
    }
}

impl std::error::Error for FileError {}

/// `1.0 MiB`, `812 bytes`.
pub fn human_size(len: u64) -> String {
    if len >= 1 << 20 {
        format!("{:.1} MiB", len as f64 / (1u64 << 20) as f64)
    } else {
        format!("{len} bytes")
    }
}

/// What a file is, in words, when it is not a regular file.
fn not_regular(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// Reads the whole of the regular file at `path`, refusing anything larger than `limit` bytes.
///
/// The file is opened without blocking and only then looked at, through the open descriptor:
/// a named pipe (which would block until a writer comes) or a device is refused before a
/// single byte is read, even if it replaced a regular file after the path was checked. At most
/// `limit + 1` bytes are ever read, so a file that grows while being read cannot run away.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let owned = || path.to_path_buf();
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| FileError::Open(owned(), e))?;
    let meta = file.metadata().map_err(|e| FileError::Io(owned(), e))?;
    if let Some(what) = not_regular(&meta) {
        return Err(FileError::NotRegular(owned(), what));
    }
    if meta.len() > limit {
        return Err(FileError::TooBig(owned(), meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::Io(owned(), e))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooBig(owned(), bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads at most `n` bytes from the start of the regular file at `path`; `None` for anything
/// that is not a readable regular file (never blocks, like [`read_limited`]).
pub fn read_head(path: &Path, n: u64) -> Option<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if not_regular(&file.metadata().ok()?).is_some() {
        return None;
    }
    let mut head = Vec::new();
    file.take(n).read_to_end(&mut head).ok()?;
    Some(head)
}

/// Opens `path` for writing from the start, refusing it if it is the same file as any of
/// `inputs` (same device and inode, so a symlink or hard link to an input is caught too).
///
/// Nothing is truncated before that check. Regular files are truncated; other outputs
/// (`/dev/null`, a terminal, a pipe with a reader) are written as they are. Opening does not
/// block on a named pipe that nobody reads: that is an error, not a hang.
pub fn create(path: &Path, inputs: &[&Path]) -> Result<File, FileError> {
    let owned = || path.to_path_buf();
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| FileError::Open(owned(), e))?;
    let meta = file.metadata().map_err(|e| FileError::Io(owned(), e))?;
    for input in inputs {
        if let Ok(im) = std::fs::metadata(input)
            && im.dev() == meta.dev()
            && im.ino() == meta.ino()
        {
            return Err(FileError::WouldOverwrite {
                output: owned(),
                input: input.to_path_buf(),
            });
        }
    }
    // Writes should wait for a slow reader like any other write, so blocking comes back on.
    // SAFETY: fcntl on a descriptor this function owns, with flags it just read.
    let fd = file.as_raw_fd();
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(FileError::Io(owned(), io::Error::last_os_error()));
    }
    if meta.file_type().is_file() {
        file.set_len(0).map_err(|e| FileError::Io(owned(), e))?;
    }
    Ok(file)
}

/// Whether two paths name the same file: the same device and inode when both exist, else the
/// same absolute path (an output not written yet).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => ma.dev() == mb.dev() && ma.ino() == mb.ino(),
        _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("threadlab-files-{}-{tag}", std::process::id()))
    }

    #[test]
    fn devices_and_directories_are_refused_unread() {
        for (path, what) in [("/dev/zero", "a character device"), ("/", "a directory")] {
            match read_limited(Path::new(path), 10) {
                Err(FileError::NotRegular(_, w)) => assert_eq!(w, what),
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    #[test]
    fn reads_up_to_the_limit_and_no_further() {
        let path = temp("limit");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_limited(&path, 10).unwrap().len(), 10);
        assert!(matches!(
            read_limited(&path, 9),
            Err(FileError::TooBig(_, 10))
        ));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn an_output_over_an_input_is_refused_before_truncating_it() {
        let input = temp("input");
        let link = temp("link");
        std::fs::write(&input, b"precious").unwrap();
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&input, &link).unwrap();
        for output in [&input, &link] {
            let err = create(output, &[&input]).unwrap_err();
            assert!(matches!(err, FileError::WouldOverwrite { .. }), "{err}");
        }
        assert_eq!(std::fs::read(&input).unwrap(), b"precious");
        assert!(same_file(&link, &input));
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_file(&input);
    }
}
