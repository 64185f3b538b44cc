//! Building the SigV4 canonical request: URI path encoding and normalisation, the canonical query string,
//! canonical headers. Everything here is pure string work on untrusted input: no indexing that can panic,
//! and every refusal is a [`CanonError`] that the caller turns into the right [`super::SigV4Error`].

use std::fmt::Write as _;

use super::{Canonicalization, UriEncoding};

/// Why a request could not be put into canonical form. The message is safe to show to the client: it
/// quotes request text only through [`quoted`].
#[derive(Debug)]
pub(crate) struct CanonError(pub(crate) String);

/// The canonical request (SigV4 "Task 1"):
///
/// ```text
/// METHOD \n CanonicalURI \n CanonicalQuery \n (name:value \n)* \n name;name;… \n PayloadHash
/// ```
///
/// `signed` must already be lowercase, sorted and free of duplicates; every name in it must occur in
/// `headers` (compared case-insensitively).
pub(crate) fn canonical_request(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    signed: &[String],
    payload_hash: &str,
    canon: Canonicalization,
) -> Result<String, CanonError> {
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(CanonError(format!(
            "the HTTP method {} is not a valid token",
            quoted(method)
        )));
    }
    if payload_hash.is_empty() || payload_hash.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Err(CanonError(format!(
            "the payload hash {} is not a visible ASCII string",
            quoted(payload_hash)
        )));
    }
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, q),
        None => (uri, ""),
    };
    let mut out = String::with_capacity(256 + uri.len());
    out.push_str(&method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(&canonical_uri(path, canon)?);
    out.push('\n');
    out.push_str(&canonical_query(query));
    out.push('\n');
    for name in signed {
        out.push_str(name);
        out.push(':');
        out.push_str(&canonical_header_value(name, headers)?);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

/// Checks a header name given to the signer: an RFC 9110 token.
pub(crate) fn check_header_name(name: &str) -> Result<(), CanonError> {
    if !name.is_empty() && name.bytes().all(is_token_byte) {
        Ok(())
    } else {
        Err(CanonError(format!(
            "header name {} is not a valid HTTP token",
            quoted(name)
        )))
    }
}

/// Checks a header value: no control characters other than horizontal tab (a CR or LF would let one
/// header pose as several in the canonical request).
pub(crate) fn check_header_value(name: &str, value: &str) -> Result<(), CanonError> {
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        Err(CanonError(format!(
            "the value of header {} contains a control character",
            quoted(name)
        )))
    } else {
        Ok(())
    }
}

/// Whether `name` is a valid name for the `SignedHeaders` list: a token in lowercase.
pub(crate) fn is_lowercase_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| is_token_byte(b) && !b.is_ascii_uppercase())
}

/// Percent-encodes `bytes` per RFC 3986 as SigV4 requires: unreserved characters (`A–Z a–z 0–9 - . _ ~`)
/// stay, every other byte becomes `%XX` with uppercase hex; `/` stays when `keep_slash`.
pub(crate) fn uri_encode(bytes: &[u8], keep_slash: bool, out: &mut String) {
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            push_pct(out, b);
        }
    }
}

/// Quotes untrusted text for an error message: at most 64 characters, control characters replaced.
pub(crate) fn quoted(s: &str) -> String {
    let mut q = String::from("'");
    for (i, c) in s.chars().enumerate() {
        if i == 64 {
            q.push('…');
            break;
        }
        q.push(if c.is_control() { '?' } else { c });
    }
    q.push('\'');
    q
}

/// The canonical URI of `path` (the part of the request target before `?`).
///
/// - [`UriEncoding::Double`] (generic services): the path as sent is URI-encoded once more, so `%3A`
///   becomes `%253A` and a raw space becomes `%20` (botocore: `quote(path, safe='/~')`).
/// - [`UriEncoding::Single`] (S3): the path as sent is kept; only bytes that should have been encoded and
///   were not (a raw space, non-ASCII) are encoded, and a `%` that does not start a `%XX` escape becomes
///   `%25`.
///
/// With `normalize_path`, `.` and `..` segments are removed and empty segments collapsed first (RFC 3986
/// §5.2.4 plus AWS's `//` rule, as botocore's `remove_dot_segments`).
fn canonical_uri(path: &str, canon: Canonicalization) -> Result<String, CanonError> {
    if !path.is_empty() && !path.starts_with('/') {
        return Err(CanonError(format!(
            "the request path {} does not start with '/'",
            quoted(path)
        )));
    }
    let normalized;
    let path = if canon.normalize_path {
        normalized = remove_dot_segments(path);
        normalized.as_str()
    } else {
        path
    };
    let path = if path.is_empty() { "/" } else { path };
    let mut out = String::with_capacity(path.len() + 16);
    match canon.uri_encoding {
        UriEncoding::Double => uri_encode(path.as_bytes(), true, &mut out),
        UriEncoding::Single => {
            let bytes = path.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                let escape = b == b'%'
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
                if is_unreserved(b) || b == b'/' || escape {
                    out.push(char::from(b));
                } else {
                    push_pct(&mut out, b);
                }
            }
        }
    }
    Ok(out)
}

/// Removes `.` and `..` segments and empty segments; keeps a leading `/`, and a trailing `/` when any
/// segment remains (botocore `remove_dot_segments`).
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical query string: `&`-separated pairs split at the first `=`, each side percent-decoded and
/// re-encoded with [`uri_encode`] (so `%7E` and `~` sign alike), sorted by encoded key then value, every
/// pair written `key=value` even when the value is empty. Empty pairs (`a=1&&b=2`) are dropped.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let mut ek = String::with_capacity(k.len());
            uri_encode(&percent_decode(k), false, &mut ek);
            let mut ev = String::with_capacity(v.len());
            uri_encode(&percent_decode(v), false, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits is kept literally. `+` is not a space here.
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&c| hex_val(c)),
                bytes.get(i + 2).and_then(|&c| hex_val(c)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// The canonical value of header `name`: every occurrence (case-insensitive name match), in order, each
/// trimmed of spaces and tabs with inner runs collapsed to one space, joined with `,`.
fn canonical_header_value(name: &str, headers: &[(&str, &str)]) -> Result<String, CanonError> {
    let mut out = String::new();
    let mut found = false;
    for (n, v) in headers {
        if !n.eq_ignore_ascii_case(name) {
            continue;
        }
        check_header_value(name, v)?;
        if found {
            out.push(',');
        }
        found = true;
        let mut words = v.split([' ', '\t']).filter(|w| !w.is_empty());
        if let Some(first) = words.next() {
            out.push_str(first);
            for w in words {
                out.push(' ');
                out.push_str(w);
            }
        }
    }
    if found {
        Ok(out)
    } else {
        Err(CanonError(format!(
            "header {} is listed in SignedHeaders but absent from the request",
            quoted(name)
        )))
    }
}

fn push_pct(out: &mut String, b: u8) {
    // Writing to a String cannot fail.
    let _ = write!(out, "%{b:02X}");
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 9110 `tchar` (a byte of a header field name).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENERIC: Canonicalization = Canonicalization::GENERIC;
    const S3: Canonicalization = Canonicalization::S3;

    fn uri(path: &str, canon: Canonicalization) -> String {
        canonical_uri(path, canon).expect("valid path")
    }

    #[test]
    fn dot_segments_follow_botocore() {
        for (input, expected) in [
            ("", ""),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("//example//", "/example/"),
            ("/a/b/.", "/a/b"),
            ("/a/../../b/", "/b/"),
            ("/..", "/"),
        ] {
            assert_eq!(remove_dot_segments(input), expected, "{input:?}");
        }
    }

    #[test]
    fn generic_paths_are_double_encoded_and_s3_paths_are_not() {
        assert_eq!(uri("", GENERIC), "/");
        assert_eq!(uri("/a%3Ab c/ሴ", GENERIC), "/a%253Ab%20c/%E1%88%B4");
        assert_eq!(uri("/a%3Ab c/ሴ", S3), "/a%3Ab%20c/%E1%88%B4");
        assert_eq!(uri("/100%/x%4", S3), "/100%25/x%254");
        assert_eq!(uri("//a/./b", S3), "//a/./b");
        assert_eq!(uri("/@x+y=z", GENERIC), "/%40x%2By%3Dz");
        assert!(canonical_uri("http://host/", GENERIC).is_err());
        assert!(canonical_uri("*", GENERIC).is_err());
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(
            canonical_query("b=2&a=&c&a=1&%7E=%7e&sp=a%20b+c&&"),
            "a=&a=1&b=2&c=&sp=a%20b%2Bc&~=~"
        );
        assert_eq!(canonical_query("x=%zz%4"), "x=%25zz%254");
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let headers = [
            ("My-Header", "  a   b\t c  "),
            ("other", "x"),
            ("my-header", ""),
            ("MY-HEADER", "d"),
        ];
        assert_eq!(
            canonical_header_value("my-header", &headers).expect("present"),
            "a b c,,d"
        );
        assert!(canonical_header_value("absent", &headers).is_err());
        assert!(canonical_header_value("bad", &[("bad", "a\r\nx-amz-date: 1")]).is_err());
    }

    #[test]
    fn quoted_truncates_and_hides_control_characters() {
        assert_eq!(quoted("a\nb"), "'a?b'");
        assert_eq!(quoted(&"x".repeat(100)).chars().count(), 64 + 3);
    }
}
