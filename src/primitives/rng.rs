//! Secure random bytes from the operating system.

use std::fmt;

use rand::TryRng;
use rand::rngs::SysRng;

/// The operating system's random number generator failed. On supported platforms this does not happen
/// once the system has booted, but it is reported rather than ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngError;

impl fmt::Display for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system's random number generator failed")
    }
}

impl std::error::Error for RngError {}

/// Fills `buf` with bytes from the operating system's CSPRNG.
///
/// # Errors
/// [`RngError`] if the operating system cannot provide randomness.
pub fn fill_random(buf: &mut [u8]) -> Result<(), RngError> {
    SysRng.try_fill_bytes(buf).map_err(|_| RngError)
}

/// `N` random bytes from the operating system's CSPRNG.
///
/// # Errors
/// [`RngError`] if the operating system cannot provide randomness.
pub fn random_array<const N: usize>() -> Result<[u8; N], RngError> {
    let mut a = [0u8; N];
    fill_random(&mut a)?;
    Ok(a)
}

/// A random identifier from `N` random bytes: URL-safe base64 without padding that starts with a
/// letter or digit, so that it never reads as a command-line option (`-…`) or a hidden name (`.…`).
///
/// # Errors
/// [`RngError`] if the operating system cannot provide randomness.
pub fn random_id<const N: usize>() -> Result<String, RngError> {
    use base64::Engine as _;
    // The first character comes from the first byte's top six bits: 62 of 64 values are alphanumeric,
    // so this rarely draws twice.
    loop {
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_array::<N>()?);
        if id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()) {
            return Ok(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_start_with_a_letter_or_digit() {
        for _ in 0..2_000 {
            let id = random_id::<24>().expect("rng");
            assert_eq!(id.len(), 32);
            assert!(id.as_bytes()[0].is_ascii_alphanumeric(), "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
    }

    #[test]
    fn random_bytes_differ() {
        let a = random_array::<32>().expect("rng");
        let b = random_array::<32>().expect("rng");
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
