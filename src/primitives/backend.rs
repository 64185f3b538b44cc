//! Run-time CPU feature detection and backend selection.
//!
//! The report mirrors the decisions the RustCrypto crates make internally (`aes` picks VAES-512, VAES-256,
//! AES-NI or its fixsliced software code; `polyval` picks PCLMULQDQ/PMULL or software), including the
//! build-time overrides `--cfg aes_backend="soft"` and `--cfg polyval_backend="soft"` that CI uses to force the
//! portable path on this machine.

use std::fmt;

/// CPU features relevant to s3crypt's primitives, detected at run time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CpuFeatures {
    /// x86 AES-NI.
    pub aes_ni: bool,
    /// x86 carry-less multiplication (GHASH).
    pub pclmulqdq: bool,
    /// x86 AVX.
    pub avx: bool,
    /// x86 AVX2.
    pub avx2: bool,
    /// x86 AVX-512 Foundation.
    pub avx512f: bool,
    /// x86 AVX-512 Vector Length extensions.
    pub avx512vl: bool,
    /// x86 AVX-512 Byte/Word instructions.
    pub avx512bw: bool,
    /// x86 vector AES (VAES).
    pub vaes: bool,
    /// x86 vector carry-less multiplication (VPCLMULQDQ).
    pub vpclmulqdq: bool,
    /// x86 SHA extensions (SHA-NI).
    pub sha_ni: bool,
    /// ARMv8 AES instructions.
    pub armv8_aes: bool,
    /// ARMv8 PMULL (polynomial multiply long, GHASH).
    pub armv8_pmull: bool,
    /// ARMv8 SHA-256 instructions.
    pub armv8_sha2: bool,
    /// ARMv8.2 SHA3 extension (includes the SHA-512 instructions).
    pub armv8_sha3: bool,
}

impl CpuFeatures {
    /// Detects the features of the CPU this process runs on.
    #[must_use]
    pub fn detect() -> Self {
        #[allow(unused_mut)]
        let mut f = Self::default();
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        {
            f.aes_ni = std::arch::is_x86_feature_detected!("aes");
            f.pclmulqdq = std::arch::is_x86_feature_detected!("pclmulqdq");
            f.avx = std::arch::is_x86_feature_detected!("avx");
            f.avx2 = std::arch::is_x86_feature_detected!("avx2");
            f.avx512f = std::arch::is_x86_feature_detected!("avx512f");
            f.avx512vl = std::arch::is_x86_feature_detected!("avx512vl");
            f.avx512bw = std::arch::is_x86_feature_detected!("avx512bw");
            f.vaes = std::arch::is_x86_feature_detected!("vaes");
            f.vpclmulqdq = std::arch::is_x86_feature_detected!("vpclmulqdq");
            f.sha_ni = std::arch::is_x86_feature_detected!("sha");
        }
        #[cfg(target_arch = "aarch64")]
        {
            f.armv8_aes = std::arch::is_aarch64_feature_detected!("aes");
            f.armv8_pmull = std::arch::is_aarch64_feature_detected!("pmull");
            f.armv8_sha2 = std::arch::is_aarch64_feature_detected!("sha2");
            f.armv8_sha3 = std::arch::is_aarch64_feature_detected!("sha3");
        }
        f
    }

    /// The features as `(name, detected)` pairs for this architecture, in display order.
    #[must_use]
    pub fn list(&self) -> Vec<(&'static str, bool)> {
        if cfg!(target_arch = "aarch64") {
            vec![
                ("ARMv8 AES", self.armv8_aes),
                ("ARMv8 PMULL", self.armv8_pmull),
                ("ARMv8 SHA2", self.armv8_sha2),
                ("ARMv8 SHA3/SHA512", self.armv8_sha3),
            ]
        } else if cfg!(any(target_arch = "x86_64", target_arch = "x86")) {
            vec![
                ("AES-NI", self.aes_ni),
                ("PCLMULQDQ", self.pclmulqdq),
                ("AVX", self.avx),
                ("AVX2", self.avx2),
                ("AVX-512F", self.avx512f),
                ("AVX-512VL", self.avx512vl),
                ("AVX-512BW", self.avx512bw),
                ("VAES", self.vaes),
                ("VPCLMULQDQ", self.vpclmulqdq),
                ("SHA-NI", self.sha_ni),
            ]
        } else {
            Vec::new()
        }
    }
}

/// The environment variable that forces a [`Backend`] for the whole process (`vaes512`, `vaes256`, `aesni`,
/// `rustcrypto`, or `auto`). CI uses it to run the test suite on every tier of this machine.
pub const BACKEND_ENV: &str = "S3CRYPT_BACKEND";

/// An implementation of the hot-path primitives ([`super::Aes256Gcm`], [`super::Aes256Ctr`],
/// [`super::Ghash`]), fastest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// s3crypt's x86-64 kernels on 512-bit vectors: VAES + VPCLMULQDQ with AVX-512F/BW, 32 blocks per
    /// stitched iteration.
    Vaes512,
    /// s3crypt's x86-64 kernels on 256-bit vectors: VAES + VPCLMULQDQ with AVX2.
    Vaes256,
    /// s3crypt's x86-64 kernels on 128-bit vectors: AES-NI + PCLMULQDQ, 8 blocks per iteration.
    AesNi,
    /// The RustCrypto crates (`aes-gcm`, `aes`, `ctr`, `ghash`). Portable: uses AES-NI/VAES/PCLMULQDQ on
    /// x86 and AES/PMULL on ARMv8 when present, constant-time software otherwise.
    RustCrypto,
}

/// A [`Backend`] was requested that this CPU (or build) cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsupportedBackend(pub Backend);

impl fmt::Display for UnsupportedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "backend {} is not supported on this CPU", self.0)
    }
}

impl std::error::Error for UnsupportedBackend {}

impl Backend {
    /// Every backend, fastest first.
    pub const ALL: [Self; 4] = [Self::Vaes512, Self::Vaes256, Self::AesNi, Self::RustCrypto];

    /// The backend's stable name, as printed by `s3crypt cpu` and accepted by [`BACKEND_ENV`].
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Vaes512 => "vaes512",
            Self::Vaes256 => "vaes256",
            Self::AesNi => "aesni",
            Self::RustCrypto => "rustcrypto",
        }
    }

    /// Parses a name printed by [`Backend::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether this CPU and build can run the backend.
    #[must_use]
    pub fn is_supported(self) -> bool {
        match self.tier() {
            Some(t) => simd_supported(t),
            None => matches!(self, Self::RustCrypto),
        }
    }

    /// The backends this machine can run, fastest first (always ends with [`Backend::RustCrypto`]).
    #[must_use]
    pub fn available() -> Vec<Self> {
        Self::ALL.into_iter().filter(|b| b.is_supported()).collect()
    }

    /// The fastest backend this machine can run.
    #[must_use]
    pub fn best() -> Self {
        Self::ALL
            .into_iter()
            .find(|b| b.is_supported())
            .unwrap_or(Self::RustCrypto)
    }

    /// The hand-written kernel tier behind this backend, if it is one.
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn tier(self) -> Option<super::simd::Tier> {
        use super::simd::Tier;
        match self {
            Self::Vaes512 => Some(Tier::Vaes512),
            Self::Vaes256 => Some(Tier::Vaes256),
            Self::AesNi => Some(Tier::AesNi),
            Self::RustCrypto => None,
        }
    }

    /// No hand-written kernels off x86-64.
    #[cfg(not(target_arch = "x86_64"))]
    pub(crate) fn tier(self) -> Option<NoTier> {
        match self {
            Self::RustCrypto => None,
            _ => Some(NoTier),
        }
    }
}

/// Stands in for the kernel tier on targets without hand-written kernels.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoTier;

#[cfg(target_arch = "x86_64")]
fn simd_supported(t: super::simd::Tier) -> bool {
    t.supported()
}

#[cfg(not(target_arch = "x86_64"))]
fn simd_supported(_: NoTier) -> bool {
    false
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`BACKEND_ENV`] asked for, and what this process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendChoice {
    /// The variable is unset, empty or `auto`: the fastest supported backend.
    Auto,
    /// A supported backend was forced.
    Forced(Backend),
    /// The variable names a backend this CPU cannot run, or no backend at all; the fastest supported
    /// backend runs instead, and `s3crypt cpu` says so.
    Ignored,
}

fn choose() -> (Backend, BackendChoice) {
    match std::env::var(BACKEND_ENV) {
        Err(_) => (Backend::best(), BackendChoice::Auto),
        Ok(v) if v.is_empty() || v == "auto" => (Backend::best(), BackendChoice::Auto),
        Ok(v) => match Backend::from_name(&v) {
            Some(b) if b.is_supported() => (b, BackendChoice::Forced(b)),
            _ => (Backend::best(), BackendChoice::Ignored),
        },
    }
}

fn chosen() -> (Backend, BackendChoice) {
    static CHOICE: std::sync::OnceLock<(Backend, BackendChoice)> = std::sync::OnceLock::new();
    *CHOICE.get_or_init(choose)
}

/// The backend the hot-path primitives use in this process: the one [`BACKEND_ENV`] forces, else the
/// fastest this CPU supports. Decided once, on first use.
#[must_use]
pub fn active_backend() -> Backend {
    chosen().0
}

/// How [`active_backend`] was chosen.
#[must_use]
pub fn backend_choice() -> BackendChoice {
    chosen().1
}

/// The arithmetic ceiling of AES-256-GCM in one kernel tier on this CPU, from
/// [`KernelCeiling::per_tier`] (or [`kernel_ceiling`] for the 512-bit tier).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct KernelCeiling {
    /// The tier probed: [`Backend::Vaes512`], [`Backend::Vaes256`] or [`Backend::AesNi`].
    pub backend: Backend,
    /// Bytes per second of AES-256 rounds alone (the most any AES-256 mode can reach in this tier).
    pub aes_bytes_per_sec: f64,
    /// Bytes per second of AES-256 rounds with the interleaved GHASH multiplies of the stitched kernel
    /// (the most an AES-256-GCM built that way can reach in this tier).
    pub aes_ghash_bytes_per_sec: f64,
    /// The bytes of AES-256 one probe iteration covers: the tier's batch (vectors × lanes × 16).
    pub batch_bytes: usize,
}

impl KernelCeiling {
    /// Measures, for about `seconds` per figure, how fast this CPU's vector units run the arithmetic of
    /// AES-256 and of stitched AES-256-GCM with no memory traffic, in every hand-written kernel tier this
    /// CPU supports (fastest first: `vaes512`, `vaes256`, `aesni`), with each tier's own vector width and
    /// batch. Empty off x86-64 or without AES-NI. The ratio of a tier's real GCM throughput to its
    /// `aes_ghash_bytes_per_sec` shows how close the kernel comes to what the units allow.
    #[must_use]
    pub fn per_tier(seconds: f64) -> Vec<Self> {
        Backend::ALL
            .into_iter()
            .filter_map(|b| Self::measure(b, seconds))
            .collect()
    }

    /// The ceiling of one tier, or `None` if `backend` is not a supported kernel tier.
    fn measure(backend: Backend, seconds: f64) -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            let tier = backend.tier()?;
            let (aes, ghash) = super::simd::ceiling(tier, seconds)?;
            Some(Self {
                backend,
                aes_bytes_per_sec: aes,
                aes_ghash_bytes_per_sec: ghash,
                batch_bytes: super::simd::ceiling_batch_bytes(tier),
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (backend, seconds);
            None
        }
    }
}

/// Measures, for about `seconds` each, how fast this CPU's VAES/VPCLMULQDQ units can run the arithmetic of
/// AES-256 and of stitched AES-256-GCM on 512-bit vectors with no memory traffic. `None` without VAES-512
/// (and off x86-64); [`KernelCeiling::per_tier`] measures every tier. `s3crypt bench` prints it beside the
/// real kernels.
#[must_use]
pub fn kernel_ceiling(seconds: f64) -> Option<KernelCeiling> {
    KernelCeiling::measure(Backend::Vaes512, seconds)
}

/// Which implementation each primitive uses on this machine and build.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BackendReport {
    /// The detected CPU features.
    pub features: CpuFeatures,
    /// The selected hot-path backend.
    pub backend: Backend,
    /// `(primitive, implementation)` rows.
    pub primitives: Vec<(&'static str, String)>,
}

impl BackendReport {
    /// Builds the report for this process.
    #[must_use]
    pub fn current() -> Self {
        let features = CpuFeatures::detect();
        let backend = active_backend();
        let aes = aes_impl(&features);
        let ghash = ghash_impl(&features);
        let sha256 = sha256_impl(&features);
        let sha512 = sha512_impl(&features);
        let choice = match backend_choice() {
            BackendChoice::Auto => "fastest supported".to_owned(),
            BackendChoice::Forced(b) => format!("forced by {BACKEND_ENV}={b}"),
            BackendChoice::Ignored => format!(
                "{BACKEND_ENV}={} is not supported here; fastest supported",
                std::env::var(BACKEND_ENV).unwrap_or_default()
            ),
        };
        let (gcm, ctr, gh) = match kernel_description(backend) {
            Some(k) => (
                format!("{backend} (s3crypt kernels: {k}, stitched AES + GHASH)"),
                format!("{backend} (s3crypt kernels: {k})"),
                format!("{backend} (s3crypt kernels: {k})"),
            ),
            None => (
                format!("{backend} (AES: {aes}; GHASH: {ghash})"),
                format!("{backend} (AES: {aes})"),
                format!("{backend} ({ghash})"),
            ),
        };
        let available: Vec<_> = Backend::available().iter().map(|b| b.name()).collect();
        let primitives = vec![
            ("hot-path backend", format!("{backend} ({choice})")),
            ("backends available", available.join(", ")),
            ("aes-256-gcm", gcm),
            ("aes-256-ctr", ctr),
            ("ghash", gh),
            ("sha-256", format!("sha2 ({sha256})")),
            (
                "hmac-sha256 / hkdf-sha256",
                format!("hmac + hkdf over sha2 ({sha256})"),
            ),
            ("hkdf-sha512", format!("hkdf over sha2 ({sha512})")),
            ("md5", "md-5 (software)".to_owned()),
            ("random", "operating system (getrandom)".to_owned()),
        ];
        Self {
            features,
            backend,
            primitives,
        }
    }
}

/// What the hand-written kernels of `b` run on, or `None` for the RustCrypto backend.
fn kernel_description(b: Backend) -> Option<&'static str> {
    match b {
        Backend::Vaes512 => Some("VAES + VPCLMULQDQ, 512-bit vectors, 32 blocks per iteration"),
        Backend::Vaes256 => Some("VAES + VPCLMULQDQ, 256-bit vectors, 16 blocks per iteration"),
        Backend::AesNi => Some("AES-NI + PCLMULQDQ, 8 blocks per iteration"),
        Backend::RustCrypto => None,
    }
}

/// The AES implementation the `aes` crate selects (mirrors its dispatch order).
fn aes_impl(f: &CpuFeatures) -> &'static str {
    if cfg!(aes_backend = "soft") {
        return "software fixslice (forced by --cfg aes_backend=\"soft\")";
    }
    if cfg!(any(target_arch = "x86_64", target_arch = "x86")) {
        if f.avx512f && f.vaes {
            return "VAES-512";
        }
        if f.vaes {
            return "VAES-256";
        }
        if f.aes_ni {
            return "AES-NI";
        }
    }
    if cfg!(target_arch = "aarch64") && f.armv8_aes {
        return "ARMv8 AES";
    }
    "software fixslice"
}

/// The GHASH (POLYVAL) implementation the `polyval` crate selects.
fn ghash_impl(f: &CpuFeatures) -> &'static str {
    if cfg!(polyval_backend = "soft") {
        return "software (forced by --cfg polyval_backend=\"soft\")";
    }
    if cfg!(any(target_arch = "x86_64", target_arch = "x86")) && f.avx && f.pclmulqdq {
        return "PCLMULQDQ";
    }
    // polyval keys its ARMv8 path on the "aes" feature, which implies PMULL.
    if cfg!(target_arch = "aarch64") && f.armv8_aes {
        return "ARMv8 PMULL";
    }
    "software"
}

/// The SHA-512 compression function `sha2` selects (AVX2 on x86, the SHA3 extension on ARMv8.2).
fn sha512_impl(f: &CpuFeatures) -> &'static str {
    if cfg!(sha2_backend = "soft") {
        return "software (forced)";
    }
    if cfg!(any(target_arch = "x86_64", target_arch = "x86")) && f.avx2 {
        return "AVX2";
    }
    if cfg!(target_arch = "aarch64") && f.armv8_sha3 {
        return "ARMv8 SHA512";
    }
    "software"
}

fn sha256_impl(f: &CpuFeatures) -> &'static str {
    if cfg!(sha2_backend = "soft") {
        return "software (forced)";
    }
    if f.sha_ni {
        return "SHA-NI";
    }
    if f.armv8_sha2 {
        return "ARMv8 SHA2";
    }
    "software"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every supported kernel tier gets a ceiling, and each figure is a finite positive rate (what the
    /// probe returns, not how fast it is: the machine may be loaded).
    #[test]
    fn ceilings_cover_every_supported_tier() {
        let c = KernelCeiling::per_tier(0.002);
        let want: Vec<Backend> = [Backend::Vaes512, Backend::Vaes256, Backend::AesNi]
            .into_iter()
            .filter(|b| cfg!(target_arch = "x86_64") && b.is_supported())
            .collect();
        let got: Vec<Backend> = c.iter().map(|k| k.backend).collect();
        assert_eq!(got, want);
        for k in &c {
            for rate in [k.aes_bytes_per_sec, k.aes_ghash_bytes_per_sec] {
                assert!(rate.is_finite() && rate > 0.0, "{k:?}");
            }
        }
        assert_eq!(
            kernel_ceiling(0.002).map(|k| k.backend),
            want.first().copied().filter(|b| *b == Backend::Vaes512)
        );
    }

    #[test]
    fn report_names_every_primitive() {
        let r = BackendReport::current();
        let names: Vec<_> = r.primitives.iter().map(|(n, _)| *n).collect();
        for want in ["aes-256-gcm", "aes-256-ctr", "ghash", "sha-256", "md5"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(r.backend.is_supported());
        assert!(Backend::RustCrypto.is_supported());
    }

    /// The report mirrors the `aes` crate's dispatch; check it against the crate's own answer, so a
    /// forced-software build (CI step 4) provably runs the software path.
    #[test]
    fn report_agrees_with_the_aes_crate() {
        if cfg!(aes_backend = "soft") {
            // CI's software leg also sets S3CRYPT_BACKEND=rustcrypto, so the software AES really runs.
            assert_eq!(active_backend(), Backend::RustCrypto);
        }
        let r = BackendReport::current();
        if r.backend != Backend::RustCrypto {
            return;
        }
        let gcm = &r
            .primitives
            .iter()
            .find(|(n, _)| *n == "aes-256-gcm")
            .expect("gcm row")
            .1;
        let software = gcm.contains("AES: software");
        assert_eq!(software, !aes::hardware_accelerated(), "{gcm}");
        if cfg!(aes_backend = "soft") {
            assert!(
                software,
                "--cfg aes_backend=\"soft\" must select the software AES: {gcm}"
            );
        }
        if cfg!(polyval_backend = "soft") {
            assert!(gcm.contains("GHASH: software"), "{gcm}");
        }
    }

    /// When CI forces a backend, the process really runs it (a typo or an unsupported tier fails here
    /// instead of silently testing the default).
    #[test]
    fn forced_backend_is_the_active_one() {
        if let Ok(v) = std::env::var(BACKEND_ENV)
            && !v.is_empty()
            && v != "auto"
        {
            assert_eq!(
                active_backend().name(),
                v,
                "{BACKEND_ENV}={v} did not take effect"
            );
            assert_eq!(backend_choice(), BackendChoice::Forced(active_backend()));
        }
    }

    #[test]
    fn names_round_trip_and_best_is_supported() {
        for b in Backend::ALL {
            assert_eq!(Backend::from_name(b.name()), Some(b));
        }
        assert_eq!(Backend::from_name("nope"), None);
        assert!(Backend::best().is_supported());
        assert_eq!(Backend::available().last(), Some(&Backend::RustCrypto));
        if !cfg!(target_arch = "x86_64") {
            assert_eq!(Backend::available(), vec![Backend::RustCrypto]);
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn features_listed_for_x86() {
        let names: Vec<_> = CpuFeatures::detect()
            .list()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for want in [
            "AES-NI",
            "PCLMULQDQ",
            "AVX2",
            "AVX-512F",
            "VAES",
            "VPCLMULQDQ",
        ] {
            assert!(names.contains(&want));
        }
    }
}
