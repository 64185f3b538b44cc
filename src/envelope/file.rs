//! Files: an S3EC object body in one file and its metadata in a sidecar, written atomically.
//!
//! A local encrypted object is a pair that can be uploaded as-is as an S3 object the official clients
//! read:
//!
//! | file | content |
//! |---|---|
//! | `OUT` | the object body, byte for byte (`ciphertext ‖ tag`) |
//! | `OUT.metadata.json` | the S3 user metadata: a JSON object of mapkey → value, without the `x-amz-meta-` prefix |
//! | `OUT.instruction` (optional) | the instruction file body (`docs/FORMAT.md` §1): with it, the V3 keys `x-amz-c`, `x-amz-d`, `x-amz-i` stay in `OUT.metadata.json` and the rest move here |
//!
//! Outputs go through [`crate::fsutil`]: a regular file (or nothing) at the destination is replaced
//! atomically; a device, FIFO or socket is written through, never replaced; a symbolic link is followed,
//! never replaced. Encryption stages the body and its sidecar(s) as temporary files beside them and
//! replaces the whole group with one journaled commit ([`crate::fsutil::commit_group`]), so at every
//! instant the old pair or the new pair is on disk. Decryption into a file streams into a temporary file
//! while authenticating and renames it over the destination only if the tag verifies; into a stream it
//! authenticates the whole body first and then decrypts (two passes over a seekable input), so no
//! unauthenticated plaintext is ever released.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use zeroize::Zeroizing;

use super::EnvelopeError;
use super::metadata::{MetadataMap, merge_instruction_file, split_for_instruction_file};
use super::stream::{Decryptor, Encryptor};
use crate::fsutil::{self, Destination, Staged};
use crate::primitives::{GcmStream, TAG_LEN};

/// Suffix of the metadata sidecar.
pub const METADATA_SUFFIX: &str = ".metadata.json";
/// Suffix of the instruction file (the S3EC default suffix).
pub const INSTRUCTION_SUFFIX: &str = ".instruction";

/// `path` with `suffix` appended to its file name.
#[must_use]
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn staged_json(dest: &Path, map: &MetadataMap) -> io::Result<Staged> {
    let mut tmp = Staged::new_private(dest)?;
    serde_json::to_writer_pretty(tmp.file_mut(), map).map_err(io::Error::other)?;
    tmp.file_mut().write_all(b"\n")?;
    Ok(tmp)
}

/// A sidecar destination: nothing or a regular file (through a link), never a device or FIFO.
fn sidecar_destination(path: &Path) -> io::Result<Destination> {
    match Destination::of(path)? {
        Destination::Special(p) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", p.display()),
        )),
        d => Ok(d),
    }
}

/// Writes a metadata document to `dest` atomically (or through it, if it is a device or FIFO).
///
/// # Errors
/// I/O errors; `dest` is unchanged on error.
pub fn write_metadata(dest: &Path, map: &MetadataMap) -> io::Result<()> {
    match Destination::of(dest)? {
        Destination::Special(p) => {
            let mut f = OpenOptions::new().write(true).open(p)?;
            serde_json::to_writer_pretty(&mut f, map).map_err(io::Error::other)?;
            f.write_all(b"\n")
        }
        d => staged_json(d.path(), map)?.commit(),
    }
}

/// Reads the metadata of the encrypted object at `body`: its sidecar, merged with its instruction file if
/// there is one.
///
/// # Errors
/// [`EnvelopeError::Io`] if the sidecar is missing or unreadable; [`EnvelopeError::MalformedMetadata`].
pub fn read_metadata(body: &Path) -> Result<MetadataMap, EnvelopeError> {
    // A replacement of this object that was interrupted after its commit point is completed first.
    if let Ok(Destination::Regular(p)) = Destination::of(body) {
        fsutil::recover(&p)?;
    }
    let sidecar = with_suffix(body, METADATA_SUFFIX);
    let text = std::fs::read_to_string(&sidecar).map_err(|e| {
        EnvelopeError::Io(io::Error::new(
            e.kind(),
            format!("metadata sidecar {}: {e}", sidecar.display()),
        ))
    })?;
    let object = parse_map(&text, &sidecar)?;
    let instruction = with_suffix(body, INSTRUCTION_SUFFIX);
    match std::fs::read_to_string(&instruction) {
        Ok(t) => merge_instruction_file(&object, &parse_map(&t, &instruction)?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(object),
        Err(e) => Err(e.into()),
    }
}

/// Parses a metadata JSON document (an object of strings).
///
/// # Errors
/// [`EnvelopeError::MalformedMetadata`].
pub fn parse_map(text: &str, origin: &Path) -> Result<MetadataMap, EnvelopeError> {
    serde_json::from_str(text).map_err(|e| EnvelopeError::MalformedMetadata {
        key: origin.display().to_string(),
        reason: format!("not a JSON object of strings: {e}"),
    })
}

/// Encrypts `input` into the body file `output` and its sidecar(s), plus a copy of the metadata at
/// `metadata_copy` if given. Returns the plaintext length.
///
/// A regular `output` is replaced together with its sidecars in one journaled commit (the old pair or the
/// new pair, never a mix); a device or FIFO `output` is written through after the sidecars are committed.
///
/// # Errors
/// I/O errors (a directory or a dangling link at a destination is refused before anything is written);
/// on error no destination has changed.
pub fn encrypt_file(
    encryptor: Encryptor,
    input: &mut dyn Read,
    output: &Path,
    instruction_file: bool,
    metadata_copy: Option<&Path>,
) -> Result<u64, EnvelopeError> {
    let metadata = encryptor.metadata();
    let body = Destination::of(output)?;
    let meta_path = sidecar_destination(&with_suffix(output, METADATA_SUFFIX))?;
    let inst_path = sidecar_destination(&with_suffix(output, INSTRUCTION_SUFFIX))?;
    let copy = metadata_copy.map(Destination::of).transpose()?;
    if let Destination::Regular(p) = &body {
        fsutil::recover(p)?;
    }
    let (object, instruction) = if instruction_file {
        split_for_instruction_file(&metadata)
    } else {
        (metadata.clone(), MetadataMap::new())
    };
    let mut sidecars = vec![staged_json(meta_path.path(), &object)?];
    if instruction_file {
        sidecars.push(staged_json(inst_path.path(), &instruction)?);
    }
    if let Some(c) = &copy
        && !matches!(c, Destination::Special(_))
    {
        sidecars.push(staged_json(c.path(), &metadata)?);
    }
    // A stale instruction file would be merged into the new metadata on decryption.
    let removals: Vec<PathBuf> = match (&inst_path, instruction_file) {
        (Destination::Regular(p), false) => vec![p.clone()],
        _ => Vec::new(),
    };
    let n;
    match body {
        Destination::Special(p) => {
            fsutil::commit_group(sidecars, &removals)?;
            if let Some(Destination::Special(c)) = &copy {
                write_metadata(c, &metadata)?;
            }
            let mut f = OpenOptions::new().write(true).open(p)?;
            n = encrypt_pump(encryptor, input, &mut f)?;
        }
        Destination::Missing(p) | Destination::Regular(p) => {
            let mut staged = Staged::new_private(&p)?;
            n = encrypt_pump(encryptor, input, staged.file_mut())?;
            if let Some(Destination::Special(c)) = &copy {
                write_metadata(c, &metadata)?;
            }
            let mut group = vec![staged];
            group.extend(sidecars);
            fsutil::commit_group(group, &removals)?;
        }
    }
    Ok(n)
}

/// Encrypts `input` to a stream `output` (for `-`): the body is written as it is produced.
///
/// # Errors
/// I/O errors.
pub fn encrypt_stream(
    encryptor: Encryptor,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<u64, EnvelopeError> {
    let mut stream = encryptor.into_stream();
    stream.set_parallel(false);
    let mut steps = Steps::new(input, 0);
    let n = pump_on_this_thread(&mut steps, output, &mut encrypt_step(&mut stream))?;
    output.write_all(&stream.tag())?;
    output.flush()?;
    Ok(n)
}

/// Decrypts the body read from `input` into the regular file (or new file) `output`, authenticating
/// while writing to a temporary file that replaces `output` only if the tag verifies. Returns the
/// plaintext length. For a device or FIFO use [`decrypt_seekable_to_stream`] or [`decrypt_to_stream`].
///
/// # Errors
/// [`EnvelopeError::Authentication`] (nothing is written to `output`); I/O errors, including an `output`
/// that is a directory, a dangling link or not a regular file.
pub fn decrypt_file(
    decryptor: &Decryptor,
    input: &mut dyn Read,
    output: &Path,
) -> Result<u64, EnvelopeError> {
    let dest = match Destination::of(output)? {
        Destination::Special(p) => {
            return Err(EnvelopeError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", p.display()),
            )));
        }
        d => d,
    };
    let mut tmp = Staged::new_private(dest.path())?;
    let n = decrypt_into(decryptor, input, tmp.file_mut())?;
    tmp.commit()?;
    Ok(n)
}

/// Decrypts a seekable body to a stream: the whole body is authenticated first (one pass of GHASH),
/// then decrypted and written (a second pass of CTR), so nothing unauthenticated is released and nothing
/// is staged. Returns the plaintext length.
///
/// # Errors
/// [`EnvelopeError::Authentication`] before any byte is written; I/O errors.
pub fn decrypt_seekable_to_stream<R: Read + Seek>(
    decryptor: &Decryptor,
    input: R,
    output: &mut dyn Write,
) -> Result<u64, EnvelopeError> {
    let mut reader = decryptor.reader_seekable(io::BufReader::with_capacity(1 << 20, input))?;
    let n = io::copy(&mut reader, output)?;
    output.flush()?;
    Ok(n)
}

/// Decrypts a non-seekable `input` (stdin) to a stream: the plaintext goes through an anonymous
/// temporary file (unlinked from the start, so nothing is left if the process dies) and is copied to
/// `output` only after the tag verifies.
///
/// # Errors
/// As [`decrypt_file`].
pub fn decrypt_to_stream(
    decryptor: &Decryptor,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<u64, EnvelopeError> {
    let mut tmp = tempfile::tempfile()?;
    let n = decrypt_into(decryptor, input, &mut tmp)?;
    io::Seek::seek(&mut tmp, io::SeekFrom::Start(0))?;
    io::copy(&mut BufReader::new(tmp), output)?;
    output.flush()?;
    Ok(n)
}

/// One pass: decrypt (unauthenticated) into `sink` while hashing, then verify. The caller discards `sink`
/// on error.
fn decrypt_into(
    decryptor: &Decryptor,
    input: &mut dyn Read,
    sink: &mut File,
) -> Result<u64, EnvelopeError> {
    let mut stream = decryptor.stream();
    stream.set_parallel(false);
    let mut steps = Steps::new(input, TAG_LEN);
    let n = pump(&mut steps, sink, &mut |buf: &mut [u8]| {
        stream
            .decrypt_unauthenticated(buf)
            .map_err(|_| EnvelopeError::Authentication)
    })?;
    // The bytes held back at the end of the input are the tag: exactly TAG_LEN of them, or the body is
    // truncated.
    let tag: [u8; TAG_LEN] = steps
        .held()
        .try_into()
        .map_err(|_| EnvelopeError::Authentication)?;
    stream
        .verify(&tag)
        .map_err(|_| EnvelopeError::Authentication)?;
    Ok(n)
}

/// Encrypts all of `input` into `output` and appends the tag. Returns the plaintext length.
fn encrypt_pump(
    encryptor: Encryptor,
    input: &mut dyn Read,
    output: &mut File,
) -> Result<u64, EnvelopeError> {
    let mut stream = encryptor.into_stream();
    stream.set_parallel(false);
    let mut steps = Steps::new(input, 0);
    let n = pump(&mut steps, output, &mut encrypt_step(&mut stream))?;
    output.write_all(&stream.tag())?;
    Ok(n)
}

fn encrypt_step(stream: &mut GcmStream) -> impl FnMut(&mut [u8]) -> Result<(), EnvelopeError> {
    |buf: &mut [u8]| {
        let at = stream.len();
        stream
            .encrypt(buf)
            .map_err(|_| EnvelopeError::BadLength(at + buf.len() as u64))
    }
}

// The file paths' pipeline. Each step reads up to `FILE_STEP` bytes straight into a buffer, transforms
// them in place (one pass of the stitched AES-GCM kernel while the step is still in this core's cache)
// and writes the buffer as it is: no intermediate copy, no `BufWriter`, one `read` and one `write`
// system call per step. With more than one core a second thread writes step i while this one reads
// and transforms step i + 1 (the write, which allocates and fills the destination's pages, is the
// costliest part, as it is for `cp`). At most `PIPELINE_DEPTH + 1` buffers exist: memory is bounded by
// `(PIPELINE_DEPTH + 1) × FILE_STEP` whatever the file size.
//
// Where a step's bytes land matters. The kernel copies a file's pages into the buffer with `rep movsb`,
// which on AMD Zen 3 runs about 4× slower when the destination sits 1 to 31 bytes past a page boundary
// than when it is page-aligned (measured: 220 ms against 58 ms of system time to `read` 256 MiB from
// tmpfs in 1 MiB steps). A heap allocation of 1 MiB starts 16 bytes past a page, so every read landed
// there; [`StepBuf`] places each read on a page boundary instead.

/// Bytes read, transformed and written per step of the file paths.
const FILE_STEP: usize = 1 << 20;
/// Steps queued for the writing thread.
const PIPELINE_DEPTH: usize = 2;

/// Alignment of every read's destination in a [`StepBuf`].
const READ_ALIGN: usize = 4096;

/// One step's buffer: `FILE_STEP` bytes placed so that the bytes read from the input start on a page
/// boundary (after the `hold` bytes carried over from the previous step, which precede it).
struct StepBuf {
    mem: Zeroizing<Vec<u8>>,
    at: usize,
}

impl StepBuf {
    fn new(hold: usize) -> Self {
        let mem = Zeroizing::new(vec![0u8; FILE_STEP + READ_ALIGN]);
        let misalignment = (mem.as_ptr() as usize + hold) % READ_ALIGN;
        let at = (READ_ALIGN - misalignment) % READ_ALIGN;
        Self { mem, at }
    }

    fn step(&mut self) -> &mut [u8] {
        &mut self.mem[self.at..self.at + FILE_STEP]
    }
}

/// The input cut into steps, holding back its last `hold` bytes (the tag, when decrypting): they are
/// known to be the tail only once the input ends.
struct Steps<'a> {
    input: &'a mut dyn Read,
    hold: usize,
    held: [u8; TAG_LEN],
    held_len: usize,
    done: bool,
}

impl<'a> Steps<'a> {
    fn new(input: &'a mut dyn Read, hold: usize) -> Self {
        debug_assert!(hold <= TAG_LEN);
        Self {
            input,
            hold: hold.min(TAG_LEN),
            held: [0; TAG_LEN],
            held_len: 0,
            done: false,
        }
    }

    /// Fills `buf` with the next step (the bytes held back from the last step first) and returns how
    /// many bytes of it are ready; after the last step [`Steps::done`] is true.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        buf[..self.held_len].copy_from_slice(&self.held[..self.held_len]);
        let mut filled = self.held_len;
        while filled < buf.len() {
            match self.input.read(&mut buf[filled..]) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(k) => filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let ready = filled.saturating_sub(self.hold);
        self.held_len = filled - ready;
        self.held[..self.held_len].copy_from_slice(&buf[ready..filled]);
        Ok(ready)
    }

    /// The bytes held back at the end of the input (fewer than `hold` if the input was that short).
    fn held(&self) -> &[u8] {
        &self.held[..self.held_len]
    }

    /// A buffer for [`Steps::fill`] whose reads land on page boundaries.
    fn buffer(&self) -> StepBuf {
        StepBuf::new(self.hold)
    }
}

/// The in-place transform of one step (encryption, or decryption while hashing).
type Step<'a> = dyn FnMut(&mut [u8]) -> Result<(), EnvelopeError> + 'a;

/// Reads every step of `steps`, transforms it with `step` and writes it to `output`, on two threads when
/// there is more than one core. Returns the number of bytes transformed.
fn pump(
    steps: &mut Steps<'_>,
    output: &mut File,
    step: &mut Step<'_>,
) -> Result<u64, EnvelopeError> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if cores < 2 {
        return pump_on_this_thread(steps, output, step);
    }
    let mut first = steps.buffer();
    let ready = steps.fill(first.step())?;
    step(&mut first.step()[..ready])?;
    if steps.done {
        // One step: a thread would cost more than it saves.
        output.write_all(&first.step()[..ready])?;
        return Ok(ready as u64);
    }
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<(StepBuf, usize)>(PIPELINE_DEPTH);
        let (free_tx, free_rx) = mpsc::sync_channel::<StepBuf>(PIPELINE_DEPTH + 1);
        let writer = scope.spawn(move || -> io::Result<()> {
            for (mut buf, len) in full_rx {
                output.write_all(&buf.step()[..len])?;
                // The reading side may be gone (it failed or finished); the buffer is then dropped.
                let _ = free_tx.send(buf);
            }
            Ok(())
        });
        let mut total = ready as u64;
        let mut made = 1;
        let fed = (|| -> Result<(), EnvelopeError> {
            if full_tx.send((first, ready)).is_err() {
                return Ok(());
            }
            while !steps.done {
                let mut buf = match free_rx.try_recv() {
                    Ok(b) => b,
                    Err(_) if made <= PIPELINE_DEPTH => {
                        made += 1;
                        steps.buffer()
                    }
                    Err(_) => match free_rx.recv() {
                        Ok(b) => b,
                        // The writer stopped: its error is reported below.
                        Err(_) => return Ok(()),
                    },
                };
                let ready = steps.fill(buf.step())?;
                step(&mut buf.step()[..ready])?;
                total += ready as u64;
                if ready > 0 && full_tx.send((buf, ready)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        })();
        drop(full_tx);
        let written = writer
            .join()
            .map_err(|_| io::Error::other("the file writer thread panicked"))?;
        fed?;
        written?;
        Ok(total)
    })
}

/// [`pump`] on the calling thread, into any writer.
fn pump_on_this_thread(
    steps: &mut Steps<'_>,
    output: &mut dyn Write,
    step: &mut Step<'_>,
) -> Result<u64, EnvelopeError> {
    let mut buf = steps.buffer();
    let mut total = 0u64;
    while !steps.done {
        let ready = steps.fill(buf.step())?;
        step(&mut buf.step()[..ready])?;
        output.write_all(&buf.step()[..ready])?;
        total += ready as u64;
    }
    Ok(total)
}
