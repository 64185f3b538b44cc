//! HTTP byte ranges (`Range: bytes=…`, RFC 9110 §14) with S3's semantics, shared by ranged GETs of SSE
//! objects and ranged decryption of client-side encrypted objects.

use std::fmt;
use std::str::FromStr;

/// A parsed `bytes=` range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=A-B`: bytes A through B inclusive.
    FromTo(u64, u64),
    /// `bytes=A-`: from A to the end.
    From(u64),
    /// `bytes=-N`: the last N bytes.
    Suffix(u64),
}

/// Why a range cannot be served.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeError {
    /// Not of the form `bytes=A-B`, `bytes=A-` or `bytes=-N` (S3 then ignores the header; s3crypt's CLI
    /// refuses it instead of silently returning everything).
    Malformed(String),
    /// No byte of the range is inside the object: HTTP 416 `InvalidRange`.
    Unsatisfiable {
        /// The range as given.
        range: ByteRange,
        /// The object's length.
        length: u64,
    },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(s) => write!(
                f,
                "malformed range {s:?}: expected bytes=A-B, bytes=A- or bytes=-N"
            ),
            Self::Unsatisfiable { range, length } => {
                write!(
                    f,
                    "the range {range} is not satisfiable for an object of {length} bytes (416 InvalidRange)"
                )
            }
        }
    }
}

impl std::error::Error for RangeError {}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FromTo(a, b) => write!(f, "bytes={a}-{b}"),
            Self::From(a) => write!(f, "bytes={a}-"),
            Self::Suffix(n) => write!(f, "bytes=-{n}"),
        }
    }
}

impl FromStr for ByteRange {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RangeError::Malformed(s.to_owned());
        let spec = s.trim().strip_prefix("bytes=").ok_or_else(bad)?;
        if spec.contains(',') {
            return Err(bad()); // multiple ranges: S3 does not support them either
        }
        let (a, b) = spec.split_once('-').ok_or_else(bad)?;
        let num = |t: &str| -> Result<u64, RangeError> {
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse().map_err(|_| bad())
        };
        match (a.trim(), b.trim()) {
            ("", n) => Ok(Self::Suffix(num(n)?)),
            (a, "") => Ok(Self::From(num(a)?)),
            (a, b) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return Err(bad());
                }
                Ok(Self::FromTo(a, b))
            }
        }
    }
}

impl ByteRange {
    /// The half-open byte interval `[start, end)` this range selects in an object of `length` bytes:
    /// ends past the object are clipped, suffixes longer than the object select all of it.
    ///
    /// # Errors
    /// [`RangeError::Unsatisfiable`] if the range selects no byte.
    pub fn resolve(self, length: u64) -> Result<(u64, u64), RangeError> {
        let unsat = Err(RangeError::Unsatisfiable {
            range: self,
            length,
        });
        match self {
            Self::FromTo(a, b) if a < length => Ok((a, b.saturating_add(1).min(length))),
            Self::From(a) if a < length => Ok((a, length)),
            Self::Suffix(n) if n > 0 && length > 0 => Ok((length.saturating_sub(n), length)),
            _ => unsat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_resolve_like_s3() {
        let r = |s: &str| s.parse::<ByteRange>();
        assert_eq!(r("bytes=0-9").and_then(|x| x.resolve(100)), Ok((0, 10)));
        assert_eq!(
            r("bytes=90-200").and_then(|x| x.resolve(100)),
            Ok((90, 100))
        );
        assert_eq!(r("bytes=99-").and_then(|x| x.resolve(100)), Ok((99, 100)));
        assert_eq!(r("bytes=-10").and_then(|x| x.resolve(100)), Ok((90, 100)));
        assert_eq!(r("bytes=-1000").and_then(|x| x.resolve(100)), Ok((0, 100)));
        assert!(matches!(
            r("bytes=100-").and_then(|x| x.resolve(100)),
            Err(RangeError::Unsatisfiable { .. })
        ));
        assert!(matches!(
            r("bytes=100-200").and_then(|x| x.resolve(100)),
            Err(RangeError::Unsatisfiable { .. })
        ));
        assert!(matches!(
            r("bytes=-0").and_then(|x| x.resolve(100)),
            Err(RangeError::Unsatisfiable { .. })
        ));
        assert!(matches!(
            r("bytes=0-0").and_then(|x| x.resolve(0)),
            Err(RangeError::Unsatisfiable { .. })
        ));
        for bad in [
            "",
            "0-9",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=9-0",
            "bytes=0-1,3-4",
            "bytes=+1-2",
            "items=0-1",
        ] {
            assert!(matches!(r(bad), Err(RangeError::Malformed(_))), "{bad}");
        }
        assert!(
            r("bytes=18446744073709551615-")
                .and_then(|x| x.resolve(10))
                .is_err()
        );
    }
}
