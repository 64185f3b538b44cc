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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_differ() {
        let a = random_array::<32>().expect("rng");
        let b = random_array::<32>().expect("rng");
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
