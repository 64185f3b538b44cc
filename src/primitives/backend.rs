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

/// An implementation of the hot-path primitives ([`super::Aes256Gcm`], [`super::Aes256Ctr`],
/// [`super::Ghash`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// The RustCrypto crates (`aes-gcm`, `aes`, `ctr`, `ghash`). Portable: uses AES-NI/VAES/PCLMULQDQ on
    /// x86 and AES/PMULL on ARMv8 when present, constant-time software otherwise.
    RustCrypto,
}

impl Backend {
    /// The backend's stable name, as printed by `s3crypt cpu`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::RustCrypto => "rustcrypto",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The backend the hot-path primitives use in this process.
#[must_use]
pub fn active_backend() -> Backend {
    Backend::RustCrypto
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
        let primitives = vec![
            (
                "aes-256-gcm",
                format!("{backend} (AES: {aes}; GHASH: {ghash})"),
            ),
            ("aes-256-ctr", format!("{backend} (AES: {aes})")),
            ("ghash", format!("{backend} ({ghash})")),
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

    #[test]
    fn report_names_every_primitive() {
        let r = BackendReport::current();
        let names: Vec<_> = r.primitives.iter().map(|(n, _)| *n).collect();
        for want in ["aes-256-gcm", "aes-256-ctr", "ghash", "sha-256", "md5"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert_eq!(r.backend, Backend::RustCrypto);
    }

    /// The report mirrors the `aes` crate's dispatch; check it against the crate's own answer, so a
    /// forced-software build (CI step 4) provably runs the software path.
    #[test]
    fn report_agrees_with_the_aes_crate() {
        let r = BackendReport::current();
        let gcm = &r.primitives[0].1;
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
