//! The files a person names on the command line: inputs read without ever blocking and never
//! past a limit, and outputs that never overwrite an input. Every command reads and writes
//! through here, so a named pipe, a directory, a device or a mistyped `-o` behaves the same
//! everywhere.

use rust_i18n::t;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::error::Error;

/// The code of the error for an input larger than its limit; whoever set the limit says what
/// it is for.
pub const TOO_BIG: &str = "file::too-big";

/// A file could not be opened: to be read (it must exist and be readable) or to be written
/// (its directory must exist and be writable).
fn open_failed(path: &Path, e: io::Error, reading: bool) -> Error {
    let help = if reading {
        t!("abuse.read_help")
    } else {
        t!("errors.open_help")
    };
    Error::new(
        "file::open",
        t!("errors.open", path = path.display(), why = e),
    )
    .help(help)
}

/// Reading or writing failed part way.
pub fn io_failed(path: &Path, e: io::Error) -> Error {
    Error::new("file::io", t!("errors.io", path = path.display(), why = e))
        .help(t!("errors.io_help"))
}

/// An output names a file the same command reads (same device and inode).
pub fn would_overwrite(output: &Path, input: &Path) -> Error {
    let message = if output == input {
        t!("errors.is_input", path = output.display())
    } else {
        t!(
            "errors.same_as_input",
            path = output.display(),
            input = input.display()
        )
    };
    Error::new("file::would-overwrite", message).help(t!("errors.own_name"))
}

/// An input is larger than its limit (`size` is what was seen: the size, or limit + 1).
fn too_big(path: &Path, size: u64) -> Error {
    Error::new(
        TOO_BIG,
        t!(
            "errors.too_big",
            path = path.display(),
            size = human_size(size)
        ),
    )
    .help(t!("errors.right_file"))
}

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
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| open_failed(path, e, true))?;
    let meta = file.metadata().map_err(|e| io_failed(path, e))?;
    if let Some(what) = not_regular(&meta) {
        return Err(Error::new(
            "file::not-regular",
            format!("`{}` is {what}, not a file", path.display()),
        )
        .help("give the path of a file: threadlab reads whole files, not pipes, devices or directories"));
    }
    if meta.len() > limit {
        return Err(too_big(path, meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_failed(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_big(path, bytes.len() as u64));
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
pub fn create(path: &Path, inputs: &[&Path]) -> Result<File, Error> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| open_failed(path, e, false))?;
    let meta = file.metadata().map_err(|e| io_failed(path, e))?;
    for input in inputs {
        if let Ok(im) = std::fs::metadata(input)
            && im.dev() == meta.dev()
            && im.ino() == meta.ino()
        {
            return Err(would_overwrite(path, input));
        }
    }
    // Writes should wait for a slow reader like any other write, so blocking comes back on.
    // SAFETY: fcntl on a descriptor this function owns, with flags it just read.
    let fd = file.as_raw_fd();
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io_failed(path, io::Error::last_os_error()));
    }
    if meta.file_type().is_file() {
        file.set_len(0).map_err(|e| io_failed(path, e))?;
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
    use std::path::PathBuf;

    fn temp(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("threadlab-files-{}-{tag}", std::process::id()))
    }

    #[test]
    fn devices_and_directories_are_refused_unread() {
        for (path, what) in [("/dev/zero", "a character device"), ("/", "a directory")] {
            let e = read_limited(Path::new(path), 10).unwrap_err();
            assert_eq!(e.code, "file::not-regular");
            assert!(e.message.contains(what), "{path}: {e}");
        }
    }

    #[test]
    fn reads_up_to_the_limit_and_no_further() {
        let path = temp("limit");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_limited(&path, 10).unwrap().len(), 10);
        let e = read_limited(&path, 9).unwrap_err();
        assert_eq!(e.code, TOO_BIG);
        assert!(e.message.ends_with("is 10 bytes"), "{e}");
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
            assert_eq!(err.code, "file::would-overwrite", "{err}");
        }
        assert_eq!(std::fs::read(&input).unwrap(), b"precious");
        assert!(same_file(&link, &input));
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_file(&input);
    }
}
