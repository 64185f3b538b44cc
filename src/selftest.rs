//! Known-answer self-test over the published test vectors in `test-vectors/`.
//!
//! Each suite parses one vector file, runs every case through s3crypt's own primitives (never a cipher
//! crate directly) and returns a [`Tally`]. A suite that loads zero cases is an error, so a vector file
//! that silently stops matching the parser fails loudly. `cargo test` (tests/vectors.rs) asserts the exact
//! counts; `s3crypt selftest` prints them.
//!
//! The suites' vector files (about 1 MB) are embedded in the build ([`Suite::run_embedded`],
//! [`VectorSource::Embedded`]), so an installed binary proves itself from any directory; a directory laid
//! out as `test-vectors/` can still be given instead ([`Suite::run`], `s3crypt selftest --vectors DIR`),
//! for example to run vectors newer than the build.
//!
//! | suite | file | what must hold |
//! |---|---|---|
//! | NIST CAVP GCM encrypt | `nist/gcmEncryptExtIV256.rsp` | ciphertext and tag match; opening succeeds |
//! | NIST CAVP GCM decrypt | `nist/gcmDecrypt256.rsp` | `PT` cases open to PT; `FAIL` cases are rejected |
//! | Wycheproof AES-GCM | `wycheproof/aes_gcm_test.json` | AES-256/IV96/Tag128 groups: valid match, invalid rejected |
//! | Wycheproof HKDF-SHA256, HMAC-SHA256 | `wycheproof/hkdf_sha256_test.json`, `hmac_sha256_test.json` | valid match, invalid rejected |
//! | Wycheproof C2SP chunked AES-256-GCM | `wycheproof/c2sp_chunked_encryption_aes_256_gcm_test.json` | full and raw mode; valid decrypt and re-encrypt byte-for-byte, invalid rejected |
//! | RFC 5869, RFC 1321, SP 800-38A, RFC 3686 | `rfc/*.txt` | outputs match |
//! | OpenSSL cross-check | `openssl/openssl_kat.json` | GCM and CTR at every boundary size, GCM→CTR ranges, HKDF-SHA256/512 |

mod nist;
mod openssl;
mod records;
mod rfc;
mod wycheproof;

use std::fmt;
use std::path::{Path, PathBuf};

/// The outcome of one suite.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tally {
    /// Cases that ran (valid + invalid).
    pub cases: usize,
    /// Cases that must succeed, and did with the expected output.
    pub valid: usize,
    /// Cases that must be rejected, and were.
    pub rejected: usize,
    /// Cases outside s3crypt's scope (for example AES-128 keys), counted but not run.
    pub skipped: usize,
}

impl Tally {
    fn pass(&mut self) {
        self.cases += 1;
        self.valid += 1;
    }

    fn reject(&mut self) {
        self.cases += 1;
        self.rejected += 1;
    }
}

/// A suite could not be loaded, or a case gave the wrong answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum SelftestError {
    /// The vector file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The vector file is malformed, or loaded no cases.
    Parse {
        /// The suite.
        suite: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A case gave the wrong answer: the build is broken.
    Mismatch {
        /// The suite.
        suite: &'static str,
        /// The case identifier (count, tcId, index).
        case: String,
        /// What differed.
        reason: String,
    },
}

impl fmt::Display for SelftestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Parse { suite, reason } => write!(f, "{suite}: malformed vector file: {reason}"),
            Self::Mismatch {
                suite,
                case,
                reason,
            } => write!(f, "{suite}: case {case} FAILED: {reason}"),
        }
    }
}

impl std::error::Error for SelftestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One suite: a name, the vector file relative to the vectors directory, and its runner.
#[derive(Clone, Copy)]
pub struct Suite {
    /// Human-readable name, printed with the counts.
    pub name: &'static str,
    /// Path of the vector file, relative to `test-vectors/`.
    pub file: &'static str,
    /// The vector file as it was when this build was compiled (embedded with `include_str!`).
    embedded: &'static str,
    run: fn(&str) -> Result<Tally, SelftestError>,
}

impl fmt::Debug for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suite")
            .field("name", &self.name)
            .field("file", &self.file)
            .finish()
    }
}

impl Suite {
    /// Runs the suite over the file found in `vectors_dir`.
    ///
    /// # Errors
    /// [`SelftestError`] if the file is missing or malformed, loads no cases, or any case fails.
    pub fn run(&self, vectors_dir: &Path) -> Result<Tally, SelftestError> {
        let path = vectors_dir.join(self.file);
        let text =
            std::fs::read_to_string(&path).map_err(|source| SelftestError::Io { path, source })?;
        self.run_text(&text)
    }

    /// Runs the suite over the copy of its vector file embedded in this build, so an installed binary
    /// checks itself anywhere, without the source tree.
    ///
    /// # Errors
    /// [`SelftestError`] if any case fails (or, for a build from a broken tree, the file is malformed).
    pub fn run_embedded(&self) -> Result<Tally, SelftestError> {
        self.run_text(self.embedded)
    }

    /// Runs the suite from `source`.
    ///
    /// # Errors
    /// As [`Suite::run`] and [`Suite::run_embedded`].
    pub fn run_from(&self, source: &VectorSource) -> Result<Tally, SelftestError> {
        match source {
            VectorSource::Embedded => self.run_embedded(),
            VectorSource::Dir(dir) => self.run(dir),
        }
    }

    /// The embedded copy of the vector file.
    #[must_use]
    pub fn embedded_text(&self) -> &'static str {
        self.embedded
    }

    /// Runs the suite over `text`, the content of its vector file.
    ///
    /// # Errors
    /// As [`Suite::run`].
    pub fn run_text(&self, text: &str) -> Result<Tally, SelftestError> {
        let tally = (self.run)(text)?;
        if tally.cases == 0 {
            return Err(SelftestError::Parse {
                suite: self.name,
                reason: "no test cases were loaded".into(),
            });
        }
        Ok(tally)
    }
}

/// A [`Suite`] whose vector file, `test-vectors/$file`, is embedded in the build.
macro_rules! suite {
    ($name:expr, $file:literal, $run:path) => {
        Suite {
            name: $name,
            file: $file,
            embedded: include_str!(concat!("../test-vectors/", $file)),
            run: $run,
        }
    };
}

/// Every suite, in the order `s3crypt selftest` runs them.
pub const SUITES: &[Suite] = &[
    suite!(
        "NIST CAVP GCM-256 encrypt (IV96/Tag128)",
        "nist/gcmEncryptExtIV256.rsp",
        nist::gcm_encrypt
    ),
    suite!(
        "NIST CAVP GCM-256 decrypt (IV96/Tag128)",
        "nist/gcmDecrypt256.rsp",
        nist::gcm_decrypt
    ),
    suite!(
        "Wycheproof AES-GCM",
        "wycheproof/aes_gcm_test.json",
        wycheproof::aes_gcm
    ),
    suite!(
        "Wycheproof HKDF-SHA256",
        "wycheproof/hkdf_sha256_test.json",
        wycheproof::hkdf_sha256
    ),
    suite!(
        "Wycheproof HMAC-SHA256",
        "wycheproof/hmac_sha256_test.json",
        wycheproof::hmac_sha256
    ),
    suite!(
        "Wycheproof C2SP chunked AES-256-GCM",
        "wycheproof/c2sp_chunked_encryption_aes_256_gcm_test.json",
        wycheproof::chunked
    ),
    suite!(
        "RFC 5869 HKDF-SHA256",
        "rfc/rfc5869-hkdf-sha256.txt",
        rfc::hkdf_sha256
    ),
    suite!("RFC 1321 MD5", "rfc/rfc1321-md5.txt", rfc::md5),
    suite!(
        "NIST SP 800-38A CTR-AES256",
        "rfc/sp800-38a-ctr-aes256.txt",
        rfc::ctr
    ),
    suite!(
        "RFC 3686 AES-256-CTR",
        "rfc/rfc3686-aes256-ctr.txt",
        rfc::ctr
    ),
    suite!(
        "OpenSSL cross-check (GCM, CTR, ranges, HKDF)",
        "openssl/openssl_kat.json",
        openssl::kat
    ),
];

/// Looks a suite up by its vector file (relative to `test-vectors/`).
#[must_use]
pub fn suite(file: &str) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.file == file)
}

/// Where the vector files come from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VectorSource {
    /// The copies embedded in this build (the default of `s3crypt selftest`): the same bytes as the
    /// source tree's `test-vectors/` when the build was compiled.
    Embedded,
    /// Files under a directory laid out as `test-vectors/`.
    Dir(PathBuf),
}

impl fmt::Display for VectorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embedded => f.write_str("the vectors embedded in this build"),
            Self::Dir(d) => write!(f, "{}", d.display()),
        }
    }
}

/// The vectors directory: `dir` if given, else `./test-vectors` if it exists, else the one in the source
/// tree this binary was built from.
#[must_use]
pub fn default_vectors_dir() -> PathBuf {
    let local = PathBuf::from("test-vectors");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors")
}

fn hex_field(
    suite: &'static str,
    case: &str,
    name: &str,
    value: &str,
) -> Result<Vec<u8>, SelftestError> {
    hex::decode(value.trim()).map_err(|e| SelftestError::Parse {
        suite,
        reason: format!("case {case}: field {name} is not hex: {e}"),
    })
}

fn mismatch(
    suite: &'static str,
    case: impl fmt::Display,
    reason: impl Into<String>,
) -> SelftestError {
    SelftestError::Mismatch {
        suite,
        case: case.to_string(),
        reason: reason.into(),
    }
}

fn parse_err(suite: &'static str, reason: impl Into<String>) -> SelftestError {
    SelftestError::Parse {
        suite,
        reason: reason.into(),
    }
}

fn array<const N: usize>(
    suite: &'static str,
    case: &str,
    name: &str,
    v: &[u8],
) -> Result<[u8; N], SelftestError> {
    v.try_into().map_err(|_| {
        parse_err(
            suite,
            format!("case {case}: {name} must be {N} bytes, got {}", v.len()),
        )
    })
}
