//! Files: an S3EC object body in one file and its metadata in a sidecar, written atomically.
//!
//! A local encrypted object is a pair that can be uploaded as-is as an S3 object the official clients
//! read:
//!
//! | file | content |
//! |---|---|
//! | `OUT` | the object body, byte for byte (`ciphertext ‖ tag`) |
//! | `OUT.metadata.json` | the S3 user metadata: a JSON object of mapkey → value, without the `x-amz-meta-` prefix |
//! | `OUT.instruction` (optional) | the instruction file body (FORMATS §1.8): with it, the V3 keys `x-amz-c`, `x-amz-d`, `x-amz-i` stay in `OUT.metadata.json` and the rest move here |
//!
//! Encryption writes temporary files next to the destination and renames them into place (sidecar
//! first, then body), so a failure never leaves a partial `OUT`. Decryption streams into a temporary file
//! while authenticating, and renames it over the destination only if the tag verifies; on any failure the
//! temporary file is deleted and the destination is untouched.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::EnvelopeError;
use super::metadata::{MetadataMap, merge_instruction_file, split_for_instruction_file};
use super::stream::{Decryptor, Encryptor, STREAM_CHUNK};
use crate::primitives::TAG_LEN;

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

fn temp_in(dest: &Path) -> io::Result<tempfile::NamedTempFile> {
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".s3crypt-")
        .suffix(".tmp")
        .tempfile_in(dir)
}

fn persist(tmp: tempfile::NamedTempFile, dest: &Path) -> io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| e.error)?;
    Ok(())
}

fn write_json_atomic(dest: &Path, map: &MetadataMap) -> io::Result<tempfile::NamedTempFile> {
    let mut tmp = temp_in(dest)?;
    serde_json::to_writer_pretty(tmp.as_file_mut(), map).map_err(io::Error::other)?;
    tmp.as_file_mut().write_all(b"\n")?;
    Ok(tmp)
}

/// Reads the metadata of the encrypted object at `body`: its sidecar, merged with its instruction file if
/// there is one.
///
/// # Errors
/// [`EnvelopeError::Io`] if the sidecar is missing or unreadable; [`EnvelopeError::MalformedMetadata`].
pub fn read_metadata(body: &Path) -> Result<MetadataMap, EnvelopeError> {
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

/// Encrypts `input` into the body file `output` and its sidecar(s). Returns the plaintext length.
///
/// # Errors
/// I/O errors; nothing is left at `output` on failure.
pub fn encrypt_file(
    encryptor: Encryptor,
    input: &mut dyn Read,
    output: &Path,
    instruction_file: bool,
) -> Result<u64, EnvelopeError> {
    let metadata = encryptor.metadata();
    let body_tmp = temp_in(output)?;
    let mut w = encryptor.writer(io::BufWriter::with_capacity(1 << 20, body_tmp));
    let n = io::copy(input, &mut w)?;
    let body_tmp = w.finish()?.into_inner().map_err(|e| e.into_error())?;
    let (object, instruction) = if instruction_file {
        split_for_instruction_file(&metadata)
    } else {
        (metadata, MetadataMap::new())
    };
    let meta_path = with_suffix(output, METADATA_SUFFIX);
    let inst_path = with_suffix(output, INSTRUCTION_SUFFIX);
    let meta_tmp = write_json_atomic(&meta_path, &object)?;
    let inst_tmp = if instruction_file {
        Some(write_json_atomic(&inst_path, &instruction)?)
    } else {
        None
    };
    if let Some(t) = inst_tmp {
        persist(t, &inst_path)?;
    } else if inst_path.exists() {
        // A stale instruction file would be merged into the new metadata on decryption.
        std::fs::remove_file(&inst_path)?;
    }
    persist(meta_tmp, &meta_path)?;
    persist(body_tmp, output)?;
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

/// Decrypts the body read from `input` into `output`, authenticating while writing to a temporary file
/// that replaces `output` only if the tag verifies. Returns the plaintext length.
///
/// # Errors
/// [`EnvelopeError::Authentication`] (nothing is written to `output`); I/O errors.
pub fn decrypt_file(
    decryptor: &Decryptor,
    input: &mut dyn Read,
    output: &Path,
) -> Result<u64, EnvelopeError> {
    let mut tmp = temp_in(output)?;
    let n = decrypt_into(decryptor, input, tmp.as_file_mut())?;
    persist(tmp, output)?;
    Ok(n)
}

/// Decrypts `input` to a stream (for `-`): the plaintext goes through an anonymous temporary file and is
/// copied to `output` only after the tag verifies.
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
    let _ = TAG_LEN;
    Ok(n)
}
