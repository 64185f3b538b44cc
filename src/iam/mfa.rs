//! Virtual MFA devices of the account root (IAM's `CreateVirtualMFADevice`, `EnableMFADevice`,
//! `ListVirtualMFADevices`, `DeactivateMFADevice`, `DeleteVirtualMFADevice`), and verification of their
//! one-time codes: the device half of MFA Delete.
//!
//! ```text
//! HOME/iam/            created with mode 0700
//!   mfa.json           format tag, devices with their seeds and last accepted time step (mode 0600,
//!                      replaced atomically)
//!   mfa.lock           held (flock) by a process while it reads-modifies-writes mfa.json
//! ```
//!
//! Codes are RFC 6238 TOTP with IAM's parameters: HMAC-SHA-1, 6 digits, 30-second steps, from time 0
//! (computed by the `totp-rs` crate). [`MfaStore::verify`] accepts the code of the current step and of
//! the steps just before and after it ([`WINDOW_STEPS`] = 1, RFC 6238 §5.2's one step of network delay,
//! which also absorbs a clock skew of up to 30 s either way), compared in constant time.
//!
//! A code is accepted at most once (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of
//! the OTP after successful validation"): the store records the last accepted time step of each device
//! and refuses any code whose step is not later. This is stricter than "each step once": after the code
//! of step `n` was accepted, an unused code of step `n - 1` is refused too. Every verification is a
//! transaction on `mfa.lock` (lock, reload, check, write the new step, unlock), so a code accepted by
//! one process cannot be replayed to another process sharing the home.
//!
//! `mfa.json` holds the seeds in clear text, protected by its mode: a file that its group or other
//! users may access is refused ([`MfaError::Permissions`]). A seed leaves the store once, in the
//! [`NewVirtualMfaDevice`] that [`MfaStore::create_virtual_mfa_device`] returns (as IAM returns
//! `Base32StringSeed` only from the create call); listings never include it.
//!
//! ```
//! use std::time::Duration;
//! use s3crypt::aws::clock::ManualClock;
//! use s3crypt::iam::mfa::{AssignmentStatus, MfaStore, totp_code};
//!
//! # fn main() -> Result<(), s3crypt::iam::mfa::MfaError> {
//! let home = tempfile::tempdir().expect("tempdir");
//! let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
//! let store = MfaStore::open(home.path())?.with_clock(clock.clone());
//! let device = store.create_virtual_mfa_device("root-account-mfa-device")?;
//! assert_eq!(device.serial_number, "arn:aws:iam::000000000000:mfa/root-account-mfa-device");
//!
//! // Enabling needs two consecutive codes (what the authenticator app shows now and 30 s later).
//! let now = 1_700_000_000;
//! let code1 = totp_code(&device.seed, now - 30);
//! let code2 = totp_code(&device.seed, now);
//! store.enable_mfa_device(&device.serial_number, &code1, &code2)?;
//!
//! // A later code verifies once; the same code again is refused.
//! let later = Duration::from_secs(now + 30);
//! let code = totp_code(&device.seed, now + 30);
//! store.verify(&device.serial_number, &code, later)?;
//! assert!(store.verify(&device.serial_number, &code, later).is_err());
//! assert_eq!(store.list_virtual_mfa_devices(AssignmentStatus::Assigned)?.len(), 1);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::aws::clock::{Clock, SystemClock};
use crate::fsutil::{create_private_dir, lock_exclusive, shared_mode, write_atomic};
use crate::iam::users::{AccountStore, IamStoreError, LOCK_WAIT, iso8601};
use crate::primitives::{RngError, fill_random};

/// The format tag of `mfa.json`.
pub const FORMAT: &str = "s3crypt/iam-mfa/v1";
/// The length of a device's seed: 160 bits, RFC 4226 §4's recommended HMAC-SHA-1 key length (IAM's
/// `Base32StringSeed` decodes to 20 bytes too).
pub const SEED_BYTES: usize = 20;
/// Digits of a code (IAM's `authenticationCodeType`: exactly 6 digits).
pub const CODE_DIGITS: u8 = 6;
/// The TOTP time step (RFC 6238 §5.2's recommended 30 s; what authenticator apps assume when the
/// `otpauth://` URI gives no `period`).
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one: codes of steps `n - 1`, `n` and `n + 1` verify at
/// step `n`, so a code is usable from 30 s before its own step until 30 s after it ends.
pub const WINDOW_STEPS: u64 = 1;
/// The issuer named in the `otpauth://` URI.
pub const ISSUER: &str = "s3crypt";

/// The largest `mfa.json` loaded.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// IAM's longest virtual MFA device name.
const MAX_NAME_CHARS: usize = 226;

/// Why an MFA device operation failed. No variant's `Display` or `Debug` contains a seed or a code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MfaError {
    /// An I/O error on `path`.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `mfa.json` exists but is not a valid device file.
    #[error(
        "{} is corrupt ({reason}); refusing to replace it. Restore it from a backup or move it away.",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `mfa.json` may be accessed by its group or by other users.
    #[error(
        "{} has mode {mode:o}; it must be readable by its owner only (chmod 600)",
        path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Another process held the lock for longer than [`LOCK_WAIT`].
    #[error("{} is held by another s3crypt process; gave up", path.display())]
    Busy {
        /// The lock file.
        path: PathBuf,
    },
    /// A device of that name exists already (IAM's `EntityAlreadyExists`, with IAM's message).
    #[error("MFADevice entity at the same path and name already exists.")]
    DeviceExists(String),
    /// No virtual MFA device has that serial number (IAM's `NoSuchEntity`).
    #[error("VirtualMFADevice with serial {0} does not exist.")]
    NoSuchDevice(String),
    /// The device is enabled already (IAM's `EntityAlreadyExists`, with IAM's message).
    #[error("MFA Device is already in use.")]
    AlreadyEnabled(String),
    /// The device is not enabled for the root user (IAM's `NoSuchEntity` for deactivation).
    #[error("MFA Device with serial number {0} is not enabled for the root user.")]
    NotEnabled(String),
    /// The device is still enabled and cannot be deleted (IAM's `DeleteConflict`).
    #[error("MFA Device is still in use.")]
    DeleteConflict(String),
    /// The code is wrong, outside the window, not consecutive (enabling), or was accepted already (IAM's
    /// `InvalidAuthenticationCode`, with IAM's message). Deliberately one variant: the caller learns
    /// nothing about which.
    #[error("Authentication code for device is not valid.")]
    InvalidAuthenticationCode,
    /// A code that is not exactly 6 ASCII digits (IAM's `ValidationError`).
    #[error("the authentication code must be exactly 6 digits")]
    MalformedCode,
    /// A device name outside IAM's rules: 1–226 characters of `A-Z a-z 0-9 + = , . @ _ -`.
    #[error(
        "invalid virtual MFA device name {0:?}: a name is 1 to 226 characters of letters, digits and +=,.@_-"
    )]
    InvalidName(String),
    /// Reading the account (its id and root ARN) failed.
    #[error(transparent)]
    Account(#[from] IamStoreError),
    /// The operating system's random number generator failed.
    #[error("cannot generate the seed: {0}")]
    Rng(#[from] RngError),
}

impl MfaError {
    /// The IAM error code a client would see (`EntityAlreadyExists`, `NoSuchEntity`,
    /// `DeleteConflict`, `InvalidAuthenticationCode`, `ValidationError`, `ServiceFailure`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::DeviceExists(_) | Self::AlreadyEnabled(_) => "EntityAlreadyExists",
            Self::NoSuchDevice(_) | Self::NotEnabled(_) => "NoSuchEntity",
            Self::DeleteConflict(_) => "DeleteConflict",
            Self::InvalidAuthenticationCode => "InvalidAuthenticationCode",
            Self::MalformedCode | Self::InvalidName(_) => "ValidationError",
            Self::Account(e) => e.code(),
            Self::Io { .. }
            | Self::Corrupt { .. }
            | Self::Permissions { .. }
            | Self::Busy { .. }
            | Self::Rng(_) => "ServiceFailure",
        }
    }
}

/// A virtual MFA device's TOTP seed (the HMAC-SHA-1 key): zeroized on drop, `Debug` prints
/// `MfaSeed([REDACTED])`, the bytes only through [`MfaSeed::expose_secret`], the base32 text only
/// through [`MfaSeed::to_base32`]. Equality is constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MfaSeed([u8; SEED_BYTES]);

impl MfaSeed {
    /// Wraps seed bytes.
    #[must_use]
    pub fn new(bytes: [u8; SEED_BYTES]) -> Self {
        Self(bytes)
    }

    /// A new random seed from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`RngError`] if the operating system cannot provide randomness.
    pub fn generate() -> Result<Self, RngError> {
        let mut seed = Self([0; SEED_BYTES]);
        fill_random(&mut seed.0)?;
        Ok(seed)
    }

    /// Parses the RFC 4648 base32 text (upper case, without padding) of a 20-byte seed.
    #[must_use]
    pub fn from_base32(text: &str) -> Option<Self> {
        let secret = totp_rs::Secret::try_from_base32(text).ok()?;
        let bytes: [u8; SEED_BYTES] = secret.as_ref().try_into().ok()?;
        Some(Self(bytes))
    }

    /// The seed's bytes.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8; SEED_BYTES] {
        &self.0
    }

    /// The seed as RFC 4648 base32 without padding (32 characters), as IAM's `Base32StringSeed` and
    /// the `secret` parameter of an `otpauth://` URI.
    #[must_use]
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(totp_rs::Secret::from(self.0).to_base32())
    }
}

impl PartialEq for MfaSeed {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for MfaSeed {}

impl fmt::Debug for MfaSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MfaSeed([REDACTED])")
    }
}

impl Serialize for MfaSeed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base32())
    }
}

impl<'de> Deserialize<'de> for MfaSeed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        Self::from_base32(&text)
            .ok_or_else(|| serde::de::Error::custom("a seed must be the base32 text of 20 bytes"))
    }
}

/// A device just created: the only time its seed leaves the store.
#[derive(Debug)]
#[non_exhaustive]
pub struct NewVirtualMfaDevice {
    /// The serial number: `arn:aws:iam::ACCOUNT:mfa/NAME`.
    pub serial_number: String,
    /// The seed (IAM's `Base32StringSeed` is [`MfaSeed::to_base32`]).
    pub seed: MfaSeed,
    /// The account the device belongs to.
    pub account_id: String,
    /// When it was created (ISO 8601, seconds).
    pub create_date: String,
}

impl NewVirtualMfaDevice {
    /// The Key URI an authenticator app enrols from (the content of IAM's `QRCodePNG`):
    /// `otpauth://totp/s3crypt:NAME@ACCOUNT?secret=BASE32&issuer=s3crypt`. No `algorithm`, `digits`
    /// or `period` parameters, as IAM: the defaults (SHA-1, 6, 30) are this store's parameters.
    #[must_use]
    pub fn otpauth_uri(&self) -> Zeroizing<String> {
        let name = self
            .serial_number
            .rsplit_once('/')
            .map_or(self.serial_number.as_str(), |(_, n)| n);
        let label = format!("{ISSUER}:{name}@{}", self.account_id);
        let label = percent_encoding::utf8_percent_encode(&label, URI_COMPONENT);
        Zeroizing::new(format!(
            "otpauth://totp/{label}?secret={}&issuer={ISSUER}",
            self.seed.to_base32().as_str()
        ))
    }
}

/// Characters escaped in the otpauth label: everything but unreserved characters and `:`, `@`.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@');

/// Which devices [`MfaStore::list_virtual_mfa_devices`] lists (IAM's `AssignmentStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AssignmentStatus {
    /// Devices enabled for a user.
    Assigned,
    /// Devices not enabled.
    Unassigned,
    /// All devices.
    #[default]
    Any,
}

/// One device of a listing (IAM's `VirtualMFADevice` without its seed or QR code).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VirtualMfaDeviceSummary {
    /// The serial number (the device's ARN).
    pub serial_number: String,
    /// The user it is enabled for (the root's ARN), if it is enabled.
    pub user_arn: Option<String>,
    /// When it was enabled (ISO 8601), if it is enabled.
    pub enable_date: Option<String>,
    /// When it was created (ISO 8601).
    pub create_date: String,
}

/// The account's virtual MFA devices, persisted in `HOME/iam/mfa.json` and shared by every process
/// using the home.
#[derive(Debug)]
pub struct MfaStore {
    dir: PathBuf,
    file: PathBuf,
    lock: PathBuf,
    accounts: AccountStore,
    clock: Arc<dyn Clock>,
}

impl MfaStore {
    /// Opens the store of `home` (nothing is created until the first change), on the system clock.
    ///
    /// # Errors
    /// The errors of opening the account store ([`MfaError::Account`]).
    pub fn open(home: &Path) -> Result<Self, MfaError> {
        let dir = home.join("iam");
        Ok(Self {
            file: dir.join("mfa.json"),
            lock: dir.join("mfa.lock"),
            dir,
            accounts: AccountStore::open(home)?,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same store on `clock` (used by [`MfaStore::enable_mfa_device`]).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The path of `mfa.json`.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Creates virtual device `name` with a new random seed; its serial number is
    /// `arn:aws:iam::ACCOUNT:mfa/NAME` (the account root is generated on first use, as by
    /// `AccountStore::ensure_root`).
    ///
    /// # Errors
    /// [`MfaError::InvalidName`], [`MfaError::DeviceExists`]; the errors of a change.
    pub fn create_virtual_mfa_device(&self, name: &str) -> Result<NewVirtualMfaDevice, MfaError> {
        check_name(name)?;
        let account_id = self.accounts.ensure_root(None)?.account_id;
        let serial_number = format!("arn:aws:iam::{account_id}:mfa/{name}");
        let seed = MfaSeed::generate()?;
        let create_date = iso8601(self.clock.now());
        self.transact(|state| {
            if state.device(&serial_number).is_some() {
                return Err(MfaError::DeviceExists(name.to_owned()));
            }
            state.devices.push(StoredDevice {
                serial_number: serial_number.clone(),
                seed: seed.clone(),
                create_date: create_date.clone(),
                user_arn: None,
                enable_date: None,
                last_step: None,
            });
            Ok(())
        })?;
        Ok(NewVirtualMfaDevice {
            serial_number,
            seed,
            account_id,
            create_date,
        })
    }

    /// Enables device `serial_number` for the account root, as IAM's `EnableMFADevice`: `code1` and
    /// `code2` must be the codes of two consecutive steps (`code1` the earlier), the later within the
    /// verification window of the store clock's now. Both codes count as used.
    ///
    /// # Errors
    /// [`MfaError::MalformedCode`], [`MfaError::NoSuchDevice`], [`MfaError::AlreadyEnabled`],
    /// [`MfaError::InvalidAuthenticationCode`]; the errors of a change.
    pub fn enable_mfa_device(
        &self,
        serial_number: &str,
        code1: &str,
        code2: &str,
    ) -> Result<(), MfaError> {
        check_code(code1)?;
        check_code(code2)?;
        let root_arn = self.accounts.ensure_root(None)?.arn;
        let now = self.clock.now();
        self.transact(|state| {
            let device = state
                .device_mut(serial_number)
                .ok_or_else(|| MfaError::NoSuchDevice(serial_number.to_owned()))?;
            if device.user_arn.is_some() {
                return Err(MfaError::AlreadyEnabled(serial_number.to_owned()));
            }
            let step2 = matching_step(&device.seed, code2, now, device.last_step)
                .ok_or(MfaError::InvalidAuthenticationCode)?;
            let step1 = step2
                .checked_sub(1)
                .filter(|s| device.last_step.is_none_or(|last| *s > last))
                .ok_or(MfaError::InvalidAuthenticationCode)?;
            if !code_matches(&device.seed, code1, step1) {
                return Err(MfaError::InvalidAuthenticationCode);
            }
            device.user_arn = Some(root_arn.clone());
            device.enable_date = Some(iso8601(now));
            device.last_step = Some(step2);
            Ok(())
        })
    }

    /// Verifies `code` of the enabled device `serial_number` at time `now` (since the Unix epoch):
    /// accepted if it is the code of a step within [`WINDOW_STEPS`] of now's and later than the last
    /// step accepted for this device, which it then becomes (persisted before this returns).
    ///
    /// # Errors
    /// [`MfaError::MalformedCode`], [`MfaError::NoSuchDevice`], [`MfaError::NotEnabled`],
    /// [`MfaError::InvalidAuthenticationCode`] (wrong, outside the window, or used already); the errors
    /// of a change.
    pub fn verify(&self, serial_number: &str, code: &str, now: Duration) -> Result<(), MfaError> {
        check_code(code)?;
        self.transact(|state| {
            let device = state
                .device_mut(serial_number)
                .ok_or_else(|| MfaError::NoSuchDevice(serial_number.to_owned()))?;
            if device.user_arn.is_none() {
                return Err(MfaError::NotEnabled(serial_number.to_owned()));
            }
            let step = matching_step(&device.seed, code, now, device.last_step)
                .ok_or(MfaError::InvalidAuthenticationCode)?;
            device.last_step = Some(step);
            Ok(())
        })
    }

    /// The devices (no seeds), in creation order, filtered by assignment status.
    ///
    /// # Errors
    /// The errors of loading `mfa.json`.
    pub fn list_virtual_mfa_devices(
        &self,
        status: AssignmentStatus,
    ) -> Result<Vec<VirtualMfaDeviceSummary>, MfaError> {
        let state = self.load()?;
        Ok(state
            .devices
            .iter()
            .filter(|d| match status {
                AssignmentStatus::Assigned => d.user_arn.is_some(),
                AssignmentStatus::Unassigned => d.user_arn.is_none(),
                AssignmentStatus::Any => true,
            })
            .map(|d| VirtualMfaDeviceSummary {
                serial_number: d.serial_number.clone(),
                user_arn: d.user_arn.clone(),
                enable_date: d.enable_date.clone(),
                create_date: d.create_date.clone(),
            })
            .collect())
    }

    /// Disables device `serial_number` for the root (IAM's `DeactivateMFADevice`); it stays stored,
    /// unassigned, and can be enabled again (with two new consecutive codes) or deleted.
    ///
    /// # Errors
    /// [`MfaError::NoSuchDevice`], [`MfaError::NotEnabled`]; the errors of a change.
    pub fn deactivate_mfa_device(&self, serial_number: &str) -> Result<(), MfaError> {
        self.transact(|state| {
            let device = state
                .device_mut(serial_number)
                .ok_or_else(|| MfaError::NoSuchDevice(serial_number.to_owned()))?;
            if device.user_arn.take().is_none() {
                return Err(MfaError::NotEnabled(serial_number.to_owned()));
            }
            device.enable_date = None;
            Ok(())
        })
    }

    /// Deletes device `serial_number` and its seed (IAM's `DeleteVirtualMFADevice`); an enabled device
    /// must be deactivated first.
    ///
    /// # Errors
    /// [`MfaError::NoSuchDevice`], [`MfaError::DeleteConflict`]; the errors of a change.
    pub fn delete_virtual_mfa_device(&self, serial_number: &str) -> Result<(), MfaError> {
        self.transact(|state| {
            let at = state
                .devices
                .iter()
                .position(|d| d.serial_number == serial_number)
                .ok_or_else(|| MfaError::NoSuchDevice(serial_number.to_owned()))?;
            if state.devices[at].user_arn.is_some() {
                return Err(MfaError::DeleteConflict(serial_number.to_owned()));
            }
            state.devices.remove(at);
            Ok(())
        })
    }

    /// Loads `mfa.json` (an empty store if it does not exist).
    fn load(&self) -> Result<StoredDevices, MfaError> {
        let mut f = match File::open(&self.file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(StoredDevices::default());
            }
            Err(e) => return Err(self.io(&self.file)(e)),
        };
        let meta = f.metadata().map_err(self.io(&self.file))?;
        if let Some(mode) = shared_mode(&meta) {
            return Err(MfaError::Permissions {
                path: self.file.clone(),
                mode,
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(self.corrupt(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        // Sized up front so that reading never reallocates and leaves an unzeroized copy behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(
            usize::try_from(meta.len()).unwrap_or(0).saturating_add(1),
        ));
        f.read_to_end(&mut bytes).map_err(self.io(&self.file))?;
        let state: StoredDevices =
            serde_json::from_slice(&bytes).map_err(|e| self.corrupt(e.to_string()))?;
        if state.format != FORMAT {
            return Err(self.corrupt(format!("format {:?}, expected {FORMAT:?}", state.format)));
        }
        Ok(state)
    }

    /// Runs one change: lock `mfa.lock`, reload, apply `change`, write, unlock. Nothing is written if
    /// `change` fails.
    fn transact<T>(
        &self,
        change: impl FnOnce(&mut StoredDevices) -> Result<T, MfaError>,
    ) -> Result<T, MfaError> {
        create_private_dir(&self.dir).map_err(self.io(&self.dir))?;
        let _held = lock_exclusive(&self.lock, LOCK_WAIT).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                MfaError::Busy {
                    path: self.lock.clone(),
                }
            } else {
                self.io(&self.lock)(e)
            }
        })?;
        let mut state = self.load()?;
        let out = change(&mut state)?;
        let bytes = Zeroizing::new(
            serde_json::to_vec_pretty(&state).map_err(|e| self.corrupt(e.to_string()))?,
        );
        write_atomic(&self.file, &bytes).map_err(|e| {
            let (path, source) = e.into_parts();
            MfaError::Io { path, source }
        })?;
        Ok(out)
    }

    fn io<'a>(&self, path: &'a Path) -> impl FnOnce(std::io::Error) -> MfaError + 'a {
        move |source| MfaError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn corrupt(&self, reason: String) -> MfaError {
        MfaError::Corrupt {
            path: self.file.clone(),
            reason,
        }
    }
}

/// The 6-digit code of `seed` at `unix_seconds` (RFC 6238 TOTP, HMAC-SHA-1, 30 s steps): what an
/// authenticator app shows. For tests and tools; the store never needs it.
#[must_use]
pub fn totp_code(seed: &MfaSeed, unix_seconds: u64) -> String {
    totp(seed.expose_secret(), CODE_DIGITS)
        .generate(unix_seconds)
        .to_string()
}

/// `mfa.json`.
#[derive(Clone, Serialize, Deserialize)]
struct StoredDevices {
    format: String,
    devices: Vec<StoredDevice>,
}

impl Default for StoredDevices {
    fn default() -> Self {
        Self {
            format: FORMAT.to_owned(),
            devices: Vec::new(),
        }
    }
}

impl StoredDevices {
    fn device(&self, serial_number: &str) -> Option<&StoredDevice> {
        self.devices
            .iter()
            .find(|d| d.serial_number == serial_number)
    }

    fn device_mut(&mut self, serial_number: &str) -> Option<&mut StoredDevice> {
        self.devices
            .iter_mut()
            .find(|d| d.serial_number == serial_number)
    }
}

/// One device of `mfa.json`.
#[derive(Clone, Serialize, Deserialize)]
struct StoredDevice {
    serial_number: String,
    /// Base32 in the file.
    seed: MfaSeed,
    create_date: String,
    /// The ARN of the user it is enabled for (always the root), `None` while unassigned.
    user_arn: Option<String>,
    enable_date: Option<String>,
    /// The last time step whose code was accepted (by enabling or verification); only later steps'
    /// codes are accepted.
    last_step: Option<u64>,
}

/// The TOTP generator of `key`: SHA-1, `digits` digits, 30 s steps (the window is applied here, not
/// by the crate, so that the accepted step is known and compared with the last one).
fn totp(key: &[u8], digits: u8) -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(digits)
        .with_step_duration(STEP_SECONDS)
        .with_skew(0)
        .with_secret(key)
        .build_noncompliant()
}

/// The step within the window of `now` whose code is `code` and that is later than `last`, if any.
/// Every step of the window is computed and compared (constant-time compare), matched or not.
fn matching_step(seed: &MfaSeed, code: &str, now: Duration, last: Option<u64>) -> Option<u64> {
    let current = now.as_secs() / STEP_SECONDS;
    let mut found = None;
    for step in current.saturating_sub(WINDOW_STEPS)..=current.saturating_add(WINDOW_STEPS) {
        if code_matches(seed, code, step) && last.is_none_or(|l| step > l) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Whether `code` is the code of `step`, compared in constant time.
fn code_matches(seed: &MfaSeed, code: &str, step: u64) -> bool {
    let expected = Zeroizing::new(totp_code(seed, step.saturating_mul(STEP_SECONDS)));
    expected.as_bytes().ct_eq(code.as_bytes()).into()
}

/// IAM's `authenticationCodeType`: exactly 6 ASCII digits.
fn check_code(code: &str) -> Result<(), MfaError> {
    if code.len() == usize::from(CODE_DIGITS) && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(MfaError::MalformedCode)
    }
}

/// IAM's `VirtualMFADeviceName`: 1–226 characters of `[\w+=,.@-]`.
fn check_name(name: &str) -> Result<(), MfaError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        let shown: String = name.chars().take(64).collect();
        Err(MfaError::InvalidName(shown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::clock::ManualClock;

    /// RFC 6238 Appendix B's SHA-1 seed.
    const RFC_SEED: &[u8; 20] = b"12345678901234567890";
    const T0: u64 = 1_700_000_010; // inside step 56_666_667

    fn home() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    fn store(home: &Path, clock: &ManualClock) -> MfaStore {
        MfaStore::open(home)
            .expect("open")
            .with_clock(clock.clone())
    }

    fn at(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// A device created and enabled at T0 with the codes of steps T0-30 and T0.
    fn enabled(home: &Path) -> (MfaStore, ManualClock, NewVirtualMfaDevice) {
        let clock = ManualClock::new(at(T0));
        let s = store(home, &clock);
        let d = s.create_virtual_mfa_device("root-mfa").expect("create");
        s.enable_mfa_device(
            &d.serial_number,
            &totp_code(&d.seed, T0 - 30),
            &totp_code(&d.seed, T0),
        )
        .expect("enable");
        (s, clock, d)
    }

    #[test]
    fn rfc6238_appendix_b_sha1() {
        // (time, 8-digit code) from RFC 6238 Appendix B, mode SHA1.
        for (t, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp(RFC_SEED, 8).generate(t).to_string(), code, "T={t}");
            // The 6-digit code is the same truncation modulo 10^6.
            assert_eq!(totp_code(&MfaSeed::new(*RFC_SEED), t), code[2..], "T={t}");
        }
        assert_eq!(totp_code(&MfaSeed::new(*RFC_SEED), 59), "287082");
    }

    #[test]
    fn create_names_and_duplicates() {
        let h = home();
        let s = store(h.path(), &ManualClock::new(at(T0)));
        let d = s.create_virtual_mfa_device("phone").expect("create");
        assert_eq!(d.serial_number, "arn:aws:iam::000000000000:mfa/phone");
        assert_eq!(d.seed.to_base32().len(), 32);
        let dup = s.create_virtual_mfa_device("phone").expect_err("duplicate");
        assert_eq!(dup.code(), "EntityAlreadyExists");
        assert_eq!(
            dup.to_string(),
            "MFADevice entity at the same path and name already exists."
        );
        for bad in ["", "a/b", "sp ace", &"x".repeat(227)] {
            assert_eq!(
                s.create_virtual_mfa_device(bad).expect_err(bad).code(),
                "ValidationError"
            );
        }
        let uri = d.otpauth_uri();
        assert!(uri.starts_with("otpauth://totp/s3crypt:phone@000000000000?secret="));
        assert!(uri.ends_with("&issuer=s3crypt"));
        assert!(uri.contains(d.seed.to_base32().as_str()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(s.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn enable_needs_two_consecutive_codes() {
        let h = home();
        let clock = ManualClock::new(at(T0));
        let s = store(h.path(), &clock);
        let d = s.create_virtual_mfa_device("phone").expect("create");
        let code = |t: u64| totp_code(&d.seed, t);
        let sn = d.serial_number.as_str();
        let refused = |c1: &str, c2: &str| {
            let e = s.enable_mfa_device(sn, c1, c2).expect_err("refused");
            assert_eq!(e.code(), "InvalidAuthenticationCode");
            assert_eq!(
                e.to_string(),
                "Authentication code for device is not valid."
            );
        };
        refused(&code(T0), &code(T0)); // the same code twice
        refused(&code(T0), &code(T0 - 30)); // reversed
        refused(&code(T0 - 60), &code(T0)); // not consecutive
        refused(&code(T0 - 90), &code(T0 - 60)); // too old
        let wrong = if code(T0) == "000000" {
            "111111"
        } else {
            "000000"
        };
        refused(&code(T0 - 30), wrong);
        assert_eq!(
            s.enable_mfa_device(sn, "12345", &code(T0))
                .expect_err("short")
                .code(),
            "ValidationError"
        );
        assert!(
            s.list_virtual_mfa_devices(AssignmentStatus::Assigned)
                .expect("list")
                .is_empty()
        );
        // The app's codes now and 30 s later (both within the window of the next step).
        s.enable_mfa_device(sn, &code(T0), &code(T0 + 30))
            .expect("enable");
        let again = s
            .enable_mfa_device(sn, &code(T0 + 30), &code(T0 + 60))
            .expect_err("enabled already");
        assert_eq!(again.code(), "EntityAlreadyExists");
        let listed = s
            .list_virtual_mfa_devices(AssignmentStatus::Assigned)
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].user_arn.as_deref(),
            Some("arn:aws:iam::000000000000:root")
        );
        // Enabling used code2's step: its code cannot be used again.
        assert_eq!(
            s.verify(sn, &code(T0 + 30), at(T0))
                .expect_err("used")
                .code(),
            "InvalidAuthenticationCode"
        );
    }

    #[test]
    fn window_is_one_step_each_side() {
        let h = home();
        let (s, _clock, d) = enabled(h.path());
        let sn = &d.serial_number;
        let now = T0 + 300; // step n
        // Step n+2 and n-2 are outside.
        for t in [now + 60, now - 60] {
            assert_eq!(
                s.verify(sn, &totp_code(&d.seed, t), at(now))
                    .expect_err("outside")
                    .code(),
                "InvalidAuthenticationCode"
            );
        }
        // n-1, then n, then n+1: each later than the last accepted.
        for t in [now - 30, now, now + 30] {
            s.verify(sn, &totp_code(&d.seed, t), at(now))
                .expect("inside");
        }
    }

    #[test]
    fn a_code_is_accepted_once() {
        let h = home();
        let (s, _clock, d) = enabled(h.path());
        let sn = &d.serial_number;
        let now = T0 + 120;
        let code = totp_code(&d.seed, now);
        s.verify(sn, &code, at(now)).expect("first use");
        for later in [now, now + 1, now + 29] {
            assert_eq!(
                s.verify(sn, &code, at(later)).expect_err("replay").code(),
                "InvalidAuthenticationCode"
            );
        }
        // An older, unused code of the window is refused too once a later one was accepted.
        assert!(
            s.verify(sn, &totp_code(&d.seed, now - 30), at(now))
                .is_err()
        );
        s.verify(sn, &totp_code(&d.seed, now + 30), at(now + 30))
            .expect("next step");
    }

    #[test]
    fn replay_is_refused_by_another_store_on_the_same_home() {
        let h = home();
        let (s, clock, d) = enabled(h.path());
        let other = store(h.path(), &clock);
        let now = T0 + 600;
        let code = totp_code(&d.seed, now);
        s.verify(&d.serial_number, &code, at(now)).expect("first");
        assert!(other.verify(&d.serial_number, &code, at(now)).is_err());
        // The other store sees the device, enabled, without its seed in the listing.
        let listed = other
            .list_virtual_mfa_devices(AssignmentStatus::Any)
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert!(listed[0].enable_date.is_some());
    }

    #[test]
    fn verify_needs_an_enabled_known_device() {
        let h = home();
        let clock = ManualClock::new(at(T0));
        let s = store(h.path(), &clock);
        let d = s.create_virtual_mfa_device("phone").expect("create");
        let code = totp_code(&d.seed, T0);
        assert_eq!(
            s.verify(&d.serial_number, &code, at(T0))
                .expect_err("unassigned")
                .code(),
            "NoSuchEntity"
        );
        assert_eq!(
            s.verify("arn:aws:iam::000000000000:mfa/nope", &code, at(T0))
                .expect_err("unknown")
                .code(),
            "NoSuchEntity"
        );
        assert_eq!(
            s.verify(&d.serial_number, "12a456", at(T0))
                .expect_err("malformed")
                .code(),
            "ValidationError"
        );
    }

    #[test]
    fn deactivate_and_delete() {
        let h = home();
        let (s, _clock, d) = enabled(h.path());
        let sn = &d.serial_number;
        assert_eq!(
            s.delete_virtual_mfa_device(sn).expect_err("in use").code(),
            "DeleteConflict"
        );
        s.deactivate_mfa_device(sn).expect("deactivate");
        assert_eq!(
            s.deactivate_mfa_device(sn).expect_err("twice").code(),
            "NoSuchEntity"
        );
        assert_eq!(
            s.list_virtual_mfa_devices(AssignmentStatus::Unassigned)
                .expect("list")
                .len(),
            1
        );
        assert!(
            s.verify(sn, &totp_code(&d.seed, T0 + 900), at(T0 + 900))
                .is_err()
        );
        s.delete_virtual_mfa_device(sn).expect("delete");
        assert!(
            s.list_virtual_mfa_devices(AssignmentStatus::Any)
                .expect("list")
                .is_empty()
        );
        assert_eq!(
            s.delete_virtual_mfa_device(sn).expect_err("gone").code(),
            "NoSuchEntity"
        );
        // The name is free again.
        s.create_virtual_mfa_device("root-mfa").expect("recreate");
    }

    #[test]
    fn persisted_across_store_instances() {
        let h = home();
        let (_s, clock, d) = enabled(h.path());
        drop(_s);
        let reopened = store(h.path(), &clock);
        let listed = reopened
            .list_virtual_mfa_devices(AssignmentStatus::Assigned)
            .expect("list");
        assert_eq!(listed[0].serial_number, d.serial_number);
        // The seed was persisted: the reopened store verifies the app's next code.
        reopened
            .verify(&d.serial_number, &totp_code(&d.seed, T0 + 30), at(T0 + 30))
            .expect("verify");
        // The enabling codes' steps were persisted as used.
        assert!(
            reopened
                .verify(&d.serial_number, &totp_code(&d.seed, T0), at(T0))
                .is_err()
        );
    }

    #[test]
    fn shared_file_mode_is_refused() {
        let h = home();
        let (s, _clock, _d) = enabled(h.path());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
            let e = s
                .list_virtual_mfa_devices(AssignmentStatus::Any)
                .expect_err("shared");
            assert!(matches!(e, MfaError::Permissions { mode: 0o644, .. }));
        }
    }

    #[test]
    fn secrets_are_not_in_debug_or_errors() {
        let h = home();
        let (s, _clock, d) = enabled(h.path());
        let b32 = d.seed.to_base32();
        let seed_hex = hex::encode(d.seed.expose_secret());
        let debug = format!("{d:?} {:?} {s:?}", d.seed);
        assert!(debug.contains("MfaSeed([REDACTED])"));
        assert!(!debug.contains(b32.as_str()));
        assert!(!debug.contains(&seed_hex));
        let code = totp_code(&d.seed, T0 + 3000);
        let e = s
            .verify(&d.serial_number, &code, at(T0))
            .expect_err("outside the window");
        let text = format!("{e} {e:?}");
        assert!(!text.contains(&code) && !text.contains(b32.as_str()));
        let listed = format!(
            "{:?}",
            s.list_virtual_mfa_devices(AssignmentStatus::Any)
                .expect("list")
        );
        assert!(!listed.contains(b32.as_str()));
        // The seed round-trips through base32, with constant-time equality.
        assert_eq!(MfaSeed::from_base32(&b32), Some(d.seed.clone()));
        assert_eq!(MfaSeed::from_base32("AAAA"), None);
    }
}
