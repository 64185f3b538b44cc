//! Key management: AWS KMS wire support (for now, SigV4 request signing and verification).

pub mod sigv4;
