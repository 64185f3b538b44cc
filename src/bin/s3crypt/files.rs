//! File outputs of the CLI: aliasing checks, stale temporaries, and writing bytes to a path, a device or
//! stdout without ever replacing what is not a regular file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::AsFd as _;
use std::path::Path;

use s3crypt::fsutil::{self, Destination, FileId, Staged};

/// The identity of a regular file at `path` (devices, FIFOs and missing files have none: reading and
/// writing the same device loses nothing).
pub(crate) fn regular_id(path: &Path) -> anyhow::Result<Option<FileId>> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(FileId::of_path(path)?),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("checking {}", path.display()))),
    }
}

fn fd_id(fd: std::os::fd::BorrowedFd<'_>) -> Option<FileId> {
    let f = File::from(fd.try_clone_to_owned().ok()?);
    let m = f.metadata().ok()?;
    if m.is_file() {
        FileId::of_file(&f).ok()
    } else {
        None
    }
}

/// The identity of the regular file on stdout, if it is one (`> file`).
pub(crate) fn stdout_id() -> Option<FileId> {
    fd_id(io::stdout().as_fd())
}

/// The identity of the regular file on stdin, if it is one (`< file`).
pub(crate) fn stdin_id() -> Option<FileId> {
    fd_id(io::stdin().as_fd())
}

/// The identity of an input named on the command line (`-` is stdin).
pub(crate) fn input_id(path: &str) -> anyhow::Result<Option<FileId>> {
    if path == "-" {
        Ok(stdin_id())
    } else {
        regular_id(Path::new(path))
    }
}

/// The identity of an output named on the command line (`-` is stdout).
pub(crate) fn output_id(path: &str) -> anyhow::Result<Option<FileId>> {
    if path == "-" {
        Ok(stdout_id())
    } else {
        regular_id(Path::new(path))
    }
}

/// Completes interrupted commits and removes the temporary files killed runs left in the directory of
/// `dest`, and says so on stderr.
pub(crate) fn clean_beside(dest: &Path) {
    let dir = Destination::of(dest).map_or_else(
        |_| fsutil::parent_dir(dest).to_owned(),
        |d| fsutil::parent_dir(d.path()).to_owned(),
    );
    match fsutil::clean_stale(&dir) {
        Ok(c) => {
            for j in &c.completed {
                eprintln!(
                    "s3crypt: completed an interrupted replacement ({})",
                    j.display()
                );
            }
            for (p, len) in &c.removed {
                eprintln!(
                    "s3crypt: removed {} ({len} bytes), a temporary file left by an interrupted run",
                    p.display()
                );
            }
        }
        Err(e) => eprintln!(
            "s3crypt: warning: could not check {} for stale temporary files: {e}",
            dir.display()
        ),
    }
}

/// Writes `bytes` (already authenticated) to `path`: stdout for `-`, written through for a device or
/// FIFO, otherwise replaced atomically.
pub(crate) fn write_bytes(path: &str, bytes: &[u8]) -> anyhow::Result<()> {
    if path == "-" {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
        return Ok(());
    }
    match Destination::of(Path::new(path))? {
        Destination::Special(p) => {
            let mut f = OpenOptions::new().write(true).open(&p)?;
            f.write_all(bytes)?;
            f.flush()?;
        }
        d => {
            clean_beside(d.path());
            let mut s = Staged::new_private(d.path())?;
            s.file_mut().write_all(bytes)?;
            s.commit()?;
        }
    }
    Ok(())
}
