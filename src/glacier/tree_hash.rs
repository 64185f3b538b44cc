//! Glacier's SHA-256 tree hash (Glacier Developer Guide, "Computing Checksums"): the SHA-256 of each
//! 1 MiB chunk (the last may be shorter), then the hashes of adjacent pairs concatenated, level by level,
//! an odd one out carried up unchanged, until one hash is left. No data at all hashes like the empty
//! string (what botocore's `calculate_tree_hash` sends for an empty body).
//!
//! Clients send it as `x-amz-sha256-tree-hash` on UploadArchive; the server recomputes it over the body
//! it received and refuses a mismatch.

use crate::primitives::hash::{SHA256_LEN, Sha256, sha256};

/// The chunk size of the leaves: 1 MiB.
pub const CHUNK: usize = 1024 * 1024;

/// The tree hash of `data`.
#[must_use]
pub fn tree_hash(data: &[u8]) -> [u8; SHA256_LEN] {
    let mut level: Vec<[u8; SHA256_LEN]> = data.chunks(CHUNK).map(sha256).collect();
    if level.is_empty() {
        return sha256(&[]);
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => {
                    let mut h = Sha256::new();
                    h.update(a);
                    h.update(b);
                    h.finalize()
                }
                [a] => *a,
                _ => sha256(&[]),
            })
            .collect();
    }
    level[0]
}

/// The tree hash of `data` as Glacier prints it: 64 lowercase hex digits.
#[must_use]
pub fn tree_hash_hex(data: &[u8]) -> String {
    hex::encode(tree_hash(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from botocore (the venv of tests/interop):
    //   python -c "import io; from botocore.utils import calculate_tree_hash as t; \
    //              print(t(io.BytesIO(b''))); print(t(io.BytesIO(b'\0' * (1024*1024+1))))"
    // and so on for the other rows (the 3 MiB + 5 row is bytes(i % 251 for i in range(n))).
    #[test]
    fn glacier_tree_hash_matches_botocore() {
        let patterned: Vec<u8> = (0..3 * CHUNK + 5).map(|i| (i % 251) as u8).collect();
        let cases: [(&[u8], &str); 4] = [
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                &[0u8; CHUNK + 1],
                "28638dab8d5e1754a4ecb38b0ebe6df66c844f94aed142d4d0283d208bb786cd",
            ),
            (
                &patterned,
                "c9e0c11a00161b193e0a1b3692ec553d4033a887f2086a7cadd4cd722d87f09f",
            ),
        ];
        for (data, expected) in cases {
            assert_eq!(tree_hash_hex(data), expected, "{} bytes", data.len());
        }
    }

    #[test]
    fn glacier_tree_hash_of_one_chunk_is_its_sha256() {
        let data = vec![7u8; CHUNK];
        assert_eq!(tree_hash(&data), sha256(&data));
        let mut two = data.clone();
        two.push(1);
        let mut h = Sha256::new();
        h.update(&sha256(&data));
        h.update(&sha256(&[1]));
        assert_eq!(tree_hash(&two), h.finalize());
    }
}
