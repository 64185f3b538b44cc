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

use super::EnvelopeError;
use super::metadata::{MetadataMap, merge_instruction_file, split_for_instruction_file};
use super::stream::{Decryptor, Encryptor, STREAM_CHUNK};
use crate::fsutil::{self, Destination, Staged};

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
            let f = OpenOptions::new().write(true).open(p)?;
            let mut w = encryptor.writer(io::BufWriter::with_capacity(1 << 20, f));
            n = io::copy(input, &mut w)?;
            w.finish()?.flush()?;
        }
        Destination::Missing(p) | Destination::Regular(p) => {
            let staged = Staged::new_private(&p)?;
            let mut w = encryptor.writer(io::BufWriter::with_capacity(1 << 20, staged));
            n = io::copy(input, &mut w)?;
            let staged = w.finish()?.into_inner().map_err(|e| e.into_error())?;
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
    let mut w = encryptor.writer(output);
    let n = io::copy(input, &mut w)?;
    w.finish()?;
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
    let mut reader = decryptor.reader_delayed_authentication(input);
    let mut w = io::BufWriter::with_capacity(1 << 20, sink);
    let mut buf = vec![0u8; STREAM_CHUNK];
    let mut n = 0u64;
    loop {
        let got = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(EnvelopeError::Authentication);
            }
            Err(e) => return Err(e.into()),
        };
        w.write_all(&buf[..got])?;
        n += got as u64;
    }
    w.flush()?;
    Ok(n)
}
