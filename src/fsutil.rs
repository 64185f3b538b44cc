//! Filesystem helpers shared by every persistent store and every file output: private directories,
//! atomic replacement of one file or of a group of files, destinations that are not regular files,
//! outputs that alias inputs, and the temporary files an interrupted run leaves behind.
//!
//! # Temporary files
//! Every temporary file s3crypt creates is named `.s3crypt-tmp-<random>` and lives in the directory of
//! the file it will replace, so that it is renamed into place without copying and never holds data
//! outside the destination's directory. While a process writes one it holds an exclusive advisory lock
//! on it ([`File::try_lock`]); a file of that name that nobody holds was left by a killed run, and
//! [`clean_stale`] removes it.
//!
//! # Group commits
//! An encrypted object is a body and its sidecar(s). [`commit_group`] replaces all of them so that at
//! every instant the old group or the new group is on disk: the new files are written and synced as
//! temporary files, then a journal `.s3crypt-commit-<hash of the first destination's name>` naming every
//! rename is written atomically (the commit point), then the renames run and the journal is removed.
//! A run that dies after the commit point leaves the journal; [`recover`] (called before any read or
//! write of the group) and [`clean_stale`] roll it forward.
//!
//! # Files shared by several processes
//! Several s3crypt processes may use one home at once (a server and CLI commands). A small state file that
//! is read, changed and written back (the KMS's `state.json`, the SSE-S3 `roots.json`) is changed only
//! while holding an exclusive advisory lock on a lock file beside it ([`lock_exclusive`], a bounded wait),
//! re-reading the file first if another process replaced it. Readers take no lock: every replacement is
//! an atomic rename, so a reader sees the old or the new file whole, and [`FileStamp`] (device, inode,
//! size, times) tells it cheaply whether the file changed since it last read it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::primitives::hash::sha256;

/// The name prefix of every temporary file s3crypt creates.
pub const TEMP_PREFIX: &str = ".s3crypt-tmp-";
/// The name prefix of a group commit's journal.
pub const JOURNAL_PREFIX: &str = ".s3crypt-commit-";
/// An unlocked temporary file untouched for this long belongs to a writer that is gone. (A writer creates
/// its temporary file and locks it a moment later: a younger unlocked one may be in that moment.)
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// A failed [`write_atomic`]: the file it names is unchanged (or, if the rename happened and only the
/// directory sync failed, replaced but possibly not yet durable).
#[derive(Debug)]
pub struct AtomicWriteError {
    path: PathBuf,
    source: io::Error,
}

impl AtomicWriteError {
    /// The file that was being replaced.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The I/O error kind, for callers that branch on it.
    #[must_use]
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    /// The path and the I/O error, for callers with an error type of their own.
    #[must_use]
    pub fn into_parts(self) -> (PathBuf, io::Error) {
        (self.path, self.source)
    }
}

impl std::fmt::Display for AtomicWriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write {}", self.path.display())
    }
}

impl std::error::Error for AtomicWriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Creates `dir` (and parents) with mode 0700 if it does not exist.
///
/// # Errors
/// The I/O error of creating a directory.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
}

/// The permission bits of a file that its group or other users may access (any of `0o077` set), or
/// `None` for an owner-only file (and always on platforms without Unix permissions). Stores of secrets
/// (KMS root key, SSE-S3 roots, IAM credentials) refuse to load a file for which this is `Some`.
#[must_use]
pub fn shared_mode(meta: &fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Writes `bytes` to `path` atomically with owner-only permissions: a locked temporary file in the same
/// directory, fsync, rename, fsync of the directory ([`Staged`]). This is the crate's one way to replace
/// a small file; larger outputs stream into a [`Staged`] and groups of files use [`commit_group`].
///
/// # Errors
/// [`AtomicWriteError`] naming `path`, with the I/O error as its source.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    let wrap = |source| AtomicWriteError {
        path: path.to_owned(),
        source,
    };
    let mut staged = Staged::new_private(path).map_err(wrap)?;
    staged.file_mut().write_all(bytes).map_err(wrap)?;
    staged.commit().map_err(wrap)
}

/// The directory a path's file lives in (`.` for a bare file name).
#[must_use]
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// What is at a destination path, after following symbolic links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Nothing: a new regular file will be created at this path.
    Missing(PathBuf),
    /// A regular file at this path (the link target if the given path was a symbolic link): it is
    /// replaced atomically.
    Regular(PathBuf),
    /// A device, FIFO or socket: it is opened and written through, never replaced.
    Special(PathBuf),
}

impl Destination {
    /// Classifies `path`. A symbolic link is followed, so the link itself is never replaced.
    ///
    /// # Errors
    /// `IsADirectory` for a directory; `NotFound` for a dangling symbolic link (s3crypt does not create
    /// files through links); other I/O errors.
    pub fn of(path: &Path) -> io::Result<Self> {
        let link = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Self::Missing(path.to_owned()));
            }
            Err(e) => return Err(e),
        };
        let (resolved, meta) = if link.file_type().is_symlink() {
            // `/dev/stdout` -> `/proc/self/fd/1` -> `pipe:[…]`: a target that exists but has no path.
            // It can only be written through.
            if fs::canonicalize(path).is_err()
                && let Ok(m) = fs::metadata(path)
            {
                return if m.is_dir() {
                    Err(io::Error::new(
                        io::ErrorKind::IsADirectory,
                        format!("{} is a directory", path.display()),
                    ))
                } else {
                    Ok(Self::Special(path.to_owned()))
                };
            }
            let target = fs::canonicalize(path).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} is a symbolic link whose target cannot be resolved ({e}); \
                         s3crypt writes through links but does not create files through them",
                        path.display()
                    ),
                )
            })?;
            let meta = fs::metadata(&target)?;
            (target, meta)
        } else {
            (path.to_owned(), link)
        };
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{} is a directory", path.display()),
            ));
        }
        Ok(if meta.is_file() {
            Self::Regular(resolved)
        } else {
            Self::Special(resolved)
        })
    }

    /// The path that is written (the link target for a link).
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Self::Missing(p) | Self::Regular(p) | Self::Special(p) => p,
        }
    }
}

/// The identity of an open or existing file: device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of the file at `path` (following links), or `None` if nothing is there.
    ///
    /// # Errors
    /// I/O errors other than `NotFound`.
    pub fn of_path(path: &Path) -> io::Result<Option<Self>> {
        match fs::metadata(path) {
            Ok(m) => Ok(Some(Self::of_metadata(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The identity of an open file.
    ///
    /// # Errors
    /// I/O errors of `fstat`.
    pub fn of_file(f: &File) -> io::Result<Self> {
        Ok(Self::of_metadata(&f.metadata()?))
    }

    #[cfg(unix)]
    fn of_metadata(m: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Self {
            dev: m.dev(),
            ino: m.ino(),
        }
    }

    #[cfg(not(unix))]
    fn of_metadata(m: &fs::Metadata) -> Self {
        let _ = m;
        Self { dev: 0, ino: 0 }
    }
}

/// One version of a file that is only ever replaced by renaming a new file over it: its identity
/// (device, inode) with its size and modification and change times. A replacement gives the path a new
/// inode; size and times tell a recycled inode number apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    id: FileId,
    len: u64,
    modified: Option<std::time::SystemTime>,
    changed: Option<(i64, i64)>,
}

impl FileStamp {
    /// The stamp of the file at `path` (following links), or `None` if nothing is there.
    ///
    /// # Errors
    /// I/O errors other than `NotFound`.
    pub fn of_path(path: &Path) -> io::Result<Option<Self>> {
        match fs::metadata(path) {
            Ok(m) => Ok(Some(Self::of_metadata(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The stamp of an open file (the version that was read through it, whatever has been renamed over
    /// its path since).
    ///
    /// # Errors
    /// I/O errors of `fstat`.
    pub fn of_file(f: &File) -> io::Result<Self> {
        Ok(Self::of_metadata(&f.metadata()?))
    }

    fn of_metadata(m: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let changed = {
            use std::os::unix::fs::MetadataExt as _;
            Some((m.ctime(), m.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let changed = None;
        Self {
            id: FileId::of_metadata(m),
            len: m.len(),
            modified: m.modified().ok(),
            changed,
        }
    }
}

/// An exclusive advisory lock on a lock file, held until this is dropped (closing the file releases it).
#[derive(Debug)]
#[must_use = "the lock is released when this is dropped"]
pub struct LockGuard {
    _file: File,
}

/// Takes an exclusive advisory lock ([`File::try_lock`]) on the lock file `path` (created, owner-only,
/// if missing), waiting at most `wait` for the process that holds it. Each call opens the file anew, so
/// two holders in one process exclude each other as two processes do.
///
/// # Errors
/// `TimedOut` (naming the file) if another holder kept the lock for longer than `wait`; I/O errors
/// opening or locking the file.
pub fn lock_exclusive(path: &Path, wait: std::time::Duration) -> io::Result<LockGuard> {
    let mut opts = OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let file = opts.open(path)?;
    let deadline = std::time::Instant::now() + wait;
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(LockGuard { _file: file }),
            Err(fs::TryLockError::WouldBlock) => {
                let now = std::time::Instant::now();
                if now >= deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "another s3crypt process has held {} for more than {} s",
                            path.display(),
                            wait.as_secs_f32()
                        ),
                    ));
                }
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(std::time::Duration::from_millis(20));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Refuses a set of outputs that would overwrite one of the inputs (or each other): the same file by
/// device and inode, not just by name, so links and `./x` vs `x` are caught. Each entry is a role for the
/// message and the identity of what is there now (`None` for a file that does not exist yet).
///
/// # Errors
/// `InvalidInput`, naming both roles, before anything has been written.
pub fn refuse_aliases(
    inputs: &[(String, Option<FileId>)],
    outputs: &[(String, Option<FileId>)],
) -> io::Result<()> {
    for (i, (out_role, out_id)) in outputs.iter().enumerate() {
        let Some(out_id) = out_id else { continue };
        for (in_role, in_id) in inputs {
            if in_id.as_ref() == Some(out_id) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the {out_role} is the same file as the {in_role}; refusing to overwrite it"
                    ),
                ));
            }
        }
        for (other_role, other_id) in &outputs[i + 1..] {
            if other_id.as_ref() == Some(out_id) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the {out_role} and the {other_role} are the same file"),
                ));
            }
        }
    }
    Ok(())
}

/// A new temporary file `PREFIX<random>SUFFIX` in `dir`, owner-only, holding an exclusive advisory lock
/// for as long as it is open (what tells [`remove_if_unlocked`] that its writer is alive).
///
/// # Errors
/// I/O errors creating or locking the file.
pub fn locked_temp(dir: &Path, prefix: &str, suffix: &str) -> io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix).suffix(suffix).rand_bytes(12);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        b.permissions(fs::Permissions::from_mode(0o600));
    }
    let tmp = b.tempfile_in(dir)?;
    // Blocking, not `try_lock`: between creating the file and locking it, a cleaner may probe it
    // (its own `try_lock`, released at once); waiting for that probe beats failing the write.
    tmp.as_file().lock()?;
    Ok(tmp)
}

/// Removes the temporary file at `path` if it is a regular file that no process holds locked and that
/// was last modified at least `min_age` ago; returns its size if it was removed.
#[must_use]
pub fn remove_if_unlocked(path: &Path, min_age: std::time::Duration) -> Option<u64> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let age = meta.modified().ok().and_then(|m| m.elapsed().ok());
    if !min_age.is_zero() && age.is_none_or(|a| a < min_age) {
        return None;
    }
    let f = OpenOptions::new().read(true).open(path).ok()?;
    f.try_lock().ok()?;
    fs::remove_file(path).ok()?;
    Some(meta.len())
}

/// A new version of a file, written to a locked temporary file beside it and renamed over it by
/// [`Staged::commit`]. Dropped without a commit, the temporary file is deleted.
#[derive(Debug)]
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl Staged {
    /// Starts a new version of `dest` (which must be a path to a regular file or to nothing; see
    /// [`Destination`]), readable by the owner only.
    ///
    /// # Errors
    /// I/O errors creating or locking the temporary file.
    pub fn new_private(dest: &Path) -> io::Result<Self> {
        Self::named(dest, TEMP_PREFIX, "")
    }

    /// As [`Staged::new_private`], with the temporary file named `<prefix><random><suffix>` (a store
    /// whose own sweep recognises its temporaries by name).
    ///
    /// # Errors
    /// I/O errors creating or locking the temporary file.
    pub fn named(dest: &Path, prefix: &str, suffix: &str) -> io::Result<Self> {
        Ok(Self {
            tmp: locked_temp(parent_dir(dest), prefix, suffix)?,
            dest: dest.to_owned(),
        })
    }

    /// The temporary file, to write the new content to.
    pub fn file_mut(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// The destination.
    #[must_use]
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Syncs the new content and renames it over the destination, then syncs the directory.
    ///
    /// # Errors
    /// I/O errors; the destination is unchanged unless the rename happened.
    pub fn commit(self) -> io::Result<()> {
        self.tmp.as_file().sync_all()?;
        let dir = parent_dir(&self.dest).to_owned();
        self.tmp.persist(&self.dest).map_err(|e| e.error)?;
        sync_dir(&dir)
    }
}

impl io::Write for Staged {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.as_file_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.as_file_mut().flush()
    }
}

/// Syncs a directory, so that renames and removals in it are durable.
///
/// Concurrent callers on one directory share syncs (a group commit): a caller whose rename is done
/// waits for the next sync that *starts* after it asked, and that one sync covers every caller that
/// asked before it started. On a server where 16 writers rename into one `objects/` directory, this
/// turns 16 directory syncs into one or two; a lone caller syncs immediately as before. A failed sync
/// is reported to the caller that ran it, and every other waiter it would have covered runs its own.
///
/// # Errors
/// The I/O error of opening or syncing the directory.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    dir_group(dir).sync(|| File::open(dir).and_then(|d| d.sync_all()))
}

/// The group-commit state of one directory's syncs (see [`sync_dir`]).
#[derive(Default)]
struct GroupSync {
    state: std::sync::Mutex<GroupState>,
    done: std::sync::Condvar,
}

#[derive(Default)]
struct GroupState {
    /// Tickets handed out: a caller's ticket is taken after its rename.
    requested: u64,
    /// Every ticket up to this one is covered by a sync that succeeded.
    synced: u64,
    /// A sync is in progress.
    running: bool,
}

impl GroupSync {
    fn sync(&self, run: impl Fn() -> io::Result<()>) -> io::Result<()> {
        let lock = || {
            self.state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut s = lock();
        s.requested += 1;
        let ticket = s.requested;
        loop {
            if s.synced >= ticket {
                return Ok(());
            }
            if s.running {
                s = self
                    .done
                    .wait(s)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            // Every ticket handed out so far belongs to a rename that is already done: this sync,
            // started now, covers them all.
            s.running = true;
            let target = s.requested;
            drop(s);
            let result = run();
            s = lock();
            s.running = false;
            if result.is_ok() {
                s.synced = s.synced.max(target);
            }
            self.done.notify_all();
            result?;
        }
    }
}

/// The shared [`GroupSync`] of `dir` (by path; dropped once no caller holds it).
fn dir_group(dir: &Path) -> std::sync::Arc<GroupSync> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock, Weak};
    static GROUPS: OnceLock<Mutex<HashMap<PathBuf, Weak<GroupSync>>>> = OnceLock::new();
    let mut groups = GROUPS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(g) = groups.get(dir).and_then(Weak::upgrade) {
        return g;
    }
    if groups.len() >= 64 {
        groups.retain(|_, g| g.strong_count() > 0);
    }
    let g = Arc::new(GroupSync::default());
    groups.insert(dir.to_owned(), Arc::downgrade(&g));
    g
}

/// The journal of a group commit whose first destination is `dest`.
fn journal_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.as_encoded_bytes())
        .unwrap_or_default();
    let h = hex::encode(&sha256(name)[..16]);
    parent_dir(dest).join(format!("{JOURNAL_PREFIX}{h}"))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Journal {
    /// `(temporary file, destination)`, renamed in this order.
    renames: Vec<(PathBuf, PathBuf)>,
    /// Files removed after the renames (a stale sidecar the new group does not have).
    removals: Vec<PathBuf>,
}

/// Replaces a group of files at once: after it returns `Ok`, every staged file is at its destination and
/// every path in `removals` is gone; if the process dies part-way, the old group stays unless the commit
/// point was passed, in which case [`recover`] on `staged[0]`'s destination completes the new group.
///
/// # Errors
/// I/O errors. Before the commit point nothing has changed; after it, the error is reported and the
/// journal stays for [`recover`].
pub fn commit_group(staged: Vec<Staged>, removals: &[PathBuf]) -> io::Result<()> {
    let Some(first) = staged.first() else {
        return Ok(());
    };
    let journal_at = journal_path(first.dest());
    let mut journal = Journal {
        renames: Vec::with_capacity(staged.len()),
        removals: removals
            .iter()
            .map(|p| absolute(p))
            .collect::<io::Result<_>>()?,
    };
    let mut keep = Vec::with_capacity(staged.len());
    for s in staged {
        s.tmp.as_file().sync_all()?;
        let dest = absolute(&s.dest)?;
        // The temporary file must survive this process's drop from here on: the journal names it.
        let (file, path) = s.tmp.keep().map_err(|e| e.error)?;
        journal.renames.push((absolute(&path)?, dest));
        keep.push(file);
    }
    let text = serde_json::to_vec(&journal).map_err(io::Error::other)?;
    failpoint("commit-group-before-journal");
    let mut j = Staged::new_private(&journal_at)?;
    j.file_mut().write_all(&text)?;
    if let Err(e) = j.commit() {
        // Not committed: the old group stays; remove the new temporaries.
        for (tmp, _) in &journal.renames {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
    failpoint("commit-group-after-journal");
    let result = roll_forward(&journal);
    drop(keep);
    result?;
    fs::remove_file(&journal_at)?;
    sync_dir(parent_dir(&journal_at))
}

/// Crash injection for the tests of [`commit_group`]: with `S3CRYPT_FAILPOINT` set to `name`, the
/// process aborts here, as a `kill -9` or power loss would stop it.
fn failpoint(name: &str) {
    if std::env::var_os("S3CRYPT_FAILPOINT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}

fn absolute(p: &Path) -> io::Result<PathBuf> {
    std::path::absolute(p)
}

fn roll_forward(j: &Journal) -> io::Result<()> {
    let mut dirs: Vec<&Path> = Vec::new();
    for (tmp, dest) in &j.renames {
        match fs::rename(tmp, dest) {
            Ok(()) => {}
            // Already renamed (by an earlier, interrupted roll-forward).
            Err(e) if e.kind() == io::ErrorKind::NotFound && !tmp.exists() => {}
            Err(e) => return Err(e),
        }
        dirs.push(parent_dir(dest));
    }
    for r in &j.removals {
        match fs::remove_file(r) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        dirs.push(parent_dir(r));
    }
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        sync_dir(d)?;
    }
    Ok(())
}

/// Completes a group commit whose first destination is `dest` if a run died after its commit point.
/// Returns whether there was one.
///
/// # Errors
/// I/O errors, or a journal that cannot be parsed.
pub fn recover(dest: &Path) -> io::Result<bool> {
    recover_journal(&journal_path(dest))
}

fn recover_journal(journal_at: &Path) -> io::Result<bool> {
    let text = match fs::read(journal_at) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let j: Journal = serde_json::from_slice(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("commit journal {} is corrupt: {e}", journal_at.display()),
        )
    })?;
    // Only files that an s3crypt commit can have written: temporaries by their prefix.
    if j.renames.iter().any(|(tmp, _)| {
        !tmp.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(TEMP_PREFIX))
    }) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "commit journal {} names a file that is not an s3crypt temporary",
                journal_at.display()
            ),
        ));
    }
    roll_forward(&j)?;
    fs::remove_file(journal_at)?;
    sync_dir(parent_dir(journal_at))?;
    Ok(true)
}

/// What [`clean_stale`] did in one directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Interrupted group commits completed (their journals).
    pub completed: Vec<PathBuf>,
    /// Temporary files removed, with their sizes.
    pub removed: Vec<(PathBuf, u64)>,
}

/// Completes every interrupted group commit in `dir`, then removes the temporary files that no running
/// process holds (left by a killed run; they may hold unauthenticated plaintext).
///
/// # Errors
/// I/O errors listing `dir`; a file that cannot be removed is left and skipped.
pub fn clean_stale(dir: &Path) -> io::Result<Cleanup> {
    clean_stale_older_than(dir, std::time::Duration::ZERO)
}

/// As [`clean_stale`], removing only temporary files last modified at least `min_age` ago: for a
/// directory where other processes may be writing right now ([`STALE_AFTER`] covers the moment between
/// a writer creating its temporary file and locking it).
///
/// # Errors
/// I/O errors listing `dir`; a file that cannot be removed is left and skipped.
pub fn clean_stale_older_than(dir: &Path, min_age: std::time::Duration) -> io::Result<Cleanup> {
    let mut out = Cleanup::default();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    let mut temps = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(JOURNAL_PREFIX) && !name.starts_with(TEMP_PREFIX) {
            let path = entry.path();
            if recover_journal(&path).unwrap_or(false) {
                out.completed.push(path);
            }
        } else if name.starts_with(TEMP_PREFIX) {
            temps.push(entry.path());
        }
    }
    for path in temps {
        if let Some(len) = remove_if_unlocked(&path, min_age) {
            out.removed.push((path, len));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(dest: &Path, content: &[u8]) -> Staged {
        let mut s = Staged::new_private(dest).expect("stage");
        s.file_mut().write_all(content).expect("write");
        s
    }

    #[test]
    fn concurrent_directory_syncs_are_shared_and_each_caller_is_covered() {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::{Arc, Barrier};
        let group = Arc::new(GroupSync::default());
        let runs = Arc::new(AtomicU64::new(0));
        // Every caller must return only after some sync started after it asked.
        let started = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (group, runs, started, barrier) = (
                    group.clone(),
                    runs.clone(),
                    started.clone(),
                    barrier.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..50 {
                        let asked = started.load(Ordering::SeqCst);
                        group
                            .sync(|| {
                                runs.fetch_add(1, Ordering::SeqCst);
                                started.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                Ok(())
                            })
                            .expect("sync");
                        // Some sync started after this caller asked.
                        assert!(
                            started.load(Ordering::SeqCst) > asked,
                            "returned without a sync started after asking"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let runs = runs.load(Ordering::SeqCst);
        assert!((1..=400).contains(&runs), "{runs} syncs for 400 callers");
    }

    #[test]
    fn a_failed_directory_sync_reaches_its_caller_and_others_retry() {
        let group = GroupSync::default();
        let err = group
            .sync(|| Err(io::Error::other("disk on fire")))
            .expect_err("the failure is reported");
        assert_eq!(err.to_string(), "disk on fire");
        // The failed round covered nothing: the next caller syncs again.
        let ran = std::cell::Cell::new(false);
        group
            .sync(|| {
                ran.set(true);
                Ok(())
            })
            .expect("sync");
        assert!(ran.get());
        sync_dir(Path::new(".")).expect("a real directory syncs");
    }

    #[test]
    fn a_group_replaces_every_file_and_removes_stale_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        fs::write(&a, b"old a").expect("w");
        fs::write(&c, b"stale").expect("w");
        commit_group(
            vec![staged(&a, b"new a"), staged(&b, b"new b")],
            std::slice::from_ref(&c),
        )
        .expect("commit");
        assert_eq!(fs::read(&a).expect("r"), b"new a");
        assert_eq!(fs::read(&b).expect("r"), b"new b");
        assert!(!c.exists());
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("e").file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn recovery_rolls_an_interrupted_group_forward() {
        let dir = tempfile::tempdir().expect("tmp");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"old a").expect("w");
        fs::write(&b, b"old b").expect("w");
        // What a process that died right after the commit point leaves: kept temporaries and a journal,
        // one rename already done.
        let (_, ta) = staged(&a, b"new a").tmp.keep().expect("keep");
        let (_, tb) = staged(&b, b"new b").tmp.keep().expect("keep");
        let j = Journal {
            renames: vec![(ta.clone(), a.clone()), (tb.clone(), b.clone())],
            removals: vec![],
        };
        fs::rename(&ta, &a).expect("first rename");
        fs::write(journal_path(&a), serde_json::to_vec(&j).expect("json")).expect("journal");
        assert!(recover(&a).expect("recover"));
        assert_eq!(fs::read(&a).expect("r"), b"new a");
        assert_eq!(fs::read(&b).expect("r"), b"new b");
        assert!(!journal_path(&a).exists());
        assert!(!recover(&a).expect("again"));
    }

    #[test]
    fn a_journal_naming_other_files_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = dir.path().join("a");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").expect("w");
        let j = Journal {
            renames: vec![(victim.clone(), a.clone())],
            removals: vec![],
        };
        fs::write(journal_path(&a), serde_json::to_vec(&j).expect("json")).expect("journal");
        assert!(recover(&a).is_err());
        assert_eq!(fs::read(&victim).expect("r"), b"keep");
    }

    #[test]
    fn cleaning_removes_dead_temporaries_and_keeps_live_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let live = staged(&dir.path().join("x"), b"in progress");
        let dead = dir.path().join(format!("{TEMP_PREFIX}deadbeef"));
        fs::write(&dead, b"left by a killed run").expect("w");
        let other = dir.path().join(".not-ours.tmp");
        fs::write(&other, b"someone else's").expect("w");
        let c = clean_stale(dir.path()).expect("clean");
        assert_eq!(c.removed, vec![(dead.clone(), 20)]);
        assert!(!dead.exists());
        assert!(other.exists());
        live.commit().expect("the live temporary survived");
        assert_eq!(fs::read(dir.path().join("x")).expect("r"), b"in progress");
    }

    #[test]
    fn destinations_are_classified_through_links() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("f");
        assert_eq!(
            Destination::of(&f).expect("missing"),
            Destination::Missing(f.clone())
        );
        fs::write(&f, b"x").expect("w");
        assert!(matches!(
            Destination::of(&f).expect("f"),
            Destination::Regular(_)
        ));
        assert!(Destination::of(dir.path()).is_err());
        #[cfg(unix)]
        {
            let l = dir.path().join("l");
            std::os::unix::fs::symlink(&f, &l).expect("link");
            assert_eq!(
                Destination::of(&l).expect("l"),
                Destination::Regular(fs::canonicalize(&f).expect("canon"))
            );
            assert!(matches!(
                Destination::of(Path::new("/dev/null")).expect("null"),
                Destination::Special(_)
            ));
            let d = dir.path().join("d");
            std::os::unix::fs::symlink(dir.path().join("nowhere"), &d).expect("link");
            assert!(Destination::of(&d).is_err());
        }
    }
}
