//! Bucket versioning and MFA Delete on the wire: the `VersioningConfiguration` document, the
//! `ListVersionsResult` of ListObjectVersions, the `x-amz-mfa` header, and S3's answers for a bad
//! version id. Pure: no I/O; the store keeps versions ([`crate::store::Versioning`]) and the server
//! decides who may change them.
//!
//! Facts (`../shared/reference/S3-FEATURES.md` §4, §5): a bucket starts unversioned and, once enabled,
//! moves only between `Enabled` and `Suspended`; GetBucketVersioning of a never-configured bucket has
//! no `Status`; `MfaDelete` appears once it was set; a malformed version id is 400 `InvalidArgument`
//! "Invalid version id specified"; the `x-amz-mfa` value is `SERIAL CODE`.

use crate::s3::xml::{self, Doc, Owner};
use crate::s3::{S3Error, S3ErrorCode};
use crate::store::{ObjectInfo, Versioning};

/// The body of PutBucketVersioning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersioningConfiguration {
    /// `Status`: `Enabled` or `Suspended`; `None` when absent (the state does not change).
    pub status: Option<Versioning>,
    /// `MfaDelete`: `Enabled` (true) or `Disabled`; `None` when absent.
    pub mfa_delete: Option<bool>,
}

impl VersioningConfiguration {
    /// Parses a `VersioningConfiguration`.
    ///
    /// # Errors
    /// 400 `MalformedXML` for a document that is not one; 400
    /// `IllegalVersioningConfigurationException` for a `Status` other than `Enabled`/`Suspended` or an
    /// `MfaDelete` other than `Enabled`/`Disabled`.
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let root = xml::parse_tree(body, "VersioningConfiguration")?;
        let mut status = None;
        let mut mfa = None;
        for c in root.children_only(&["Status", "MfaDelete"])? {
            c.leaf()?;
            let illegal =
                || S3Error::from_code(S3ErrorCode::IllegalVersioningConfigurationException);
            match c.name.as_str() {
                "Status" => {
                    let v = match c.text.trim() {
                        "Enabled" => Versioning::Enabled,
                        "Suspended" => Versioning::Suspended,
                        _ => return Err(illegal()),
                    };
                    xml::set_once(&mut status, v)?;
                }
                _ => {
                    let v = match c.text.trim() {
                        "Enabled" => true,
                        "Disabled" => false,
                        _ => return Err(illegal()),
                    };
                    xml::set_once(&mut mfa, v)?;
                }
            }
        }
        Ok(Self {
            status,
            mfa_delete: mfa,
        })
    }
}

/// The GetBucketVersioning document: no `Status` for a never-versioned bucket, `MfaDelete` only once
/// it was configured.
#[must_use]
pub fn render_versioning(state: Versioning, mfa_delete: Option<bool>) -> String {
    let mut d = Doc::new("VersioningConfiguration");
    match state {
        Versioning::Enabled => d.text("Status", "Enabled"),
        Versioning::Suspended => d.text("Status", "Suspended"),
        Versioning::Unversioned => {}
    }
    if let Some(on) = mfa_delete {
        d.text("MfaDelete", if on { "Enabled" } else { "Disabled" });
    }
    d.finish("VersioningConfiguration")
}

/// One page of ListObjectVersions, as the server computed it.
#[derive(Clone, Copy, Debug)]
pub struct ListVersionsPage<'a> {
    /// `Name`.
    pub bucket: &'a str,
    /// `Prefix`.
    pub prefix: &'a str,
    /// `KeyMarker` as asked.
    pub key_marker: &'a str,
    /// `VersionIdMarker` as asked.
    pub version_id_marker: &'a str,
    /// `Delimiter`, if asked.
    pub delimiter: Option<&'a str>,
    /// `MaxKeys`.
    pub max_keys: usize,
    /// `EncodingType=url`: keys and prefixes URL-encoded.
    pub url: bool,
    /// Whether more follow.
    pub is_truncated: bool,
    /// `NextKeyMarker`, when truncated.
    pub next_key_marker: Option<&'a str>,
    /// `NextVersionIdMarker`, when truncated after a version.
    pub next_version_id_marker: Option<&'a str>,
    /// Versions and delete markers, by key then newest first, with the plaintext size and S3 ETag.
    pub versions: &'a [ObjectInfo],
    /// `CommonPrefixes`.
    pub common_prefixes: &'a [String],
    /// The bucket owner.
    pub owner: Owner<'a>,
}

/// `ListVersionsResult`: `Version` and `DeleteMarker` elements in listing order.
#[must_use]
pub fn render_list_versions(page: &ListVersionsPage<'_>) -> String {
    let mut d = Doc::new("ListVersionsResult");
    d.text("Name", page.bucket);
    d.key("Prefix", page.prefix, page.url);
    d.key("KeyMarker", page.key_marker, page.url);
    d.text("VersionIdMarker", page.version_id_marker);
    if page.is_truncated {
        if let Some(k) = page.next_key_marker {
            d.key("NextKeyMarker", k, page.url);
        }
        d.opt("NextVersionIdMarker", page.next_version_id_marker);
    }
    d.num("MaxKeys", page.max_keys);
    if let Some(delim) = page.delimiter {
        d.key("Delimiter", delim, page.url);
    }
    d.text(
        "IsTruncated",
        if page.is_truncated { "true" } else { "false" },
    );
    if page.url {
        d.text("EncodingType", "url");
    }
    for v in page.versions {
        let name = if v.is_delete_marker {
            "DeleteMarker"
        } else {
            "Version"
        };
        d.open(name);
        d.key("Key", &v.key, page.url);
        d.text("VersionId", &v.version_id);
        d.text("IsLatest", if v.is_latest { "true" } else { "false" });
        d.time("LastModified", v.last_modified);
        if !v.is_delete_marker {
            d.text("ETag", &v.etag);
            d.num("Size", v.size);
            d.text("StorageClass", "STANDARD");
        }
        d.owner("Owner", page.owner);
        d.close(name);
    }
    d.common_prefixes(page.common_prefixes, page.url);
    d.finish("ListVersionsResult")
}

/// 400 `InvalidArgument` "Invalid version id specified" (`ArgumentName` `versionId`), S3's answer for a
/// version id it could not have issued.
#[must_use]
pub fn invalid_version_id(id: &str) -> S3Error {
    S3Error::invalid_argument("Invalid version id specified")
        .with_extra("ArgumentName", "versionId")
        .with_extra("ArgumentValue", id)
}

/// A version id from the query, checked: `None` when absent.
///
/// # Errors
/// [`invalid_version_id`] for an id of a shape no store issues (empty included).
pub fn parse_version_id(id: Option<&str>) -> Result<Option<&str>, S3Error> {
    match id {
        None => Ok(None),
        Some(v) if crate::store::is_valid_version_id(v) => Ok(Some(v)),
        Some(v) => Err(invalid_version_id(v)),
    }
}

/// The parts of an `x-amz-mfa` header: the device serial and the code.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaHeader {
    /// The device serial (for a virtual device, its ARN).
    pub serial: String,
    /// The one-time code as sent.
    pub code: String,
}

impl std::fmt::Debug for MfaHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A code is single-use, but still not for logs.
        f.debug_struct("MfaHeader")
            .field("serial", &self.serial)
            .field("code", &"<redacted>")
            .finish()
    }
}

/// Parses `x-amz-mfa: SERIAL CODE`.
///
/// # Errors
/// 400 `InvalidArgument` "Mfa header is invalid -- the header should be formatted as
/// {serialNumber}(space){tokenCode}" (`ArgumentName` `x-amz-mfa`) for anything else.
pub fn parse_mfa_header(value: &str) -> Result<MfaHeader, S3Error> {
    let invalid = || {
        S3Error::invalid_argument(
            "Mfa header is invalid -- the header should be formatted as {serialNumber}(space){tokenCode}",
        )
        .with_extra("ArgumentName", "x-amz-mfa")
    };
    let mut parts = value.split(' ').filter(|p| !p.is_empty());
    let (Some(serial), Some(code), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let serial_ok = (9..=256).contains(&serial.len())
        && serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=/:,.@-".contains(&b));
    if !serial_ok || code.is_empty() || code.len() > 16 {
        return Err(invalid());
    }
    Ok(MfaHeader {
        serial: serial.to_owned(),
        code: code.to_owned(),
    })
}

/// 403 `AccessDenied` "Mfa Authentication must be used for this request": MFA Delete is on and the
/// request has no `x-amz-mfa`.
#[must_use]
pub fn mfa_required() -> S3Error {
    S3Error::access_denied("Mfa Authentication must be used for this request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_configurations() {
        let c = VersioningConfiguration::parse(
            br#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>"#,
        )
        .expect("ok");
        assert_eq!(c.status, Some(Versioning::Enabled));
        assert_eq!(c.mfa_delete, Some(false));
        let c = VersioningConfiguration::parse(
            b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
        )
        .expect("ok");
        assert_eq!(c.status, Some(Versioning::Suspended));
        assert_eq!(c.mfa_delete, None);
        for bad in [
            &b"<VersioningConfiguration><Status>enabled</Status></VersioningConfiguration>"[..],
            b"<VersioningConfiguration><Status>Off</Status></VersioningConfiguration>",
            b"<VersioningConfiguration><MfaDelete>On</MfaDelete></VersioningConfiguration>",
        ] {
            assert_eq!(
                VersioningConfiguration::parse(bad).expect_err("bad").code(),
                S3ErrorCode::IllegalVersioningConfigurationException
            );
        }
        for bad in [
            &b"<VersioningConfiguration><Status>Enabled</Status><Status>Enabled</Status></VersioningConfiguration>"[..],
            b"<VersioningConfiguration><Other/></VersioningConfiguration>",
            b"<Versioning/>",
            b"not xml",
        ] {
            assert_eq!(
                VersioningConfiguration::parse(bad).expect_err("bad").code(),
                S3ErrorCode::MalformedXML
            );
        }
    }

    #[test]
    fn renders_state() {
        let never = render_versioning(Versioning::Unversioned, None);
        assert!(never.ends_with(
            "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></VersioningConfiguration>"
        ));
        let on = render_versioning(Versioning::Enabled, Some(true));
        assert!(on.contains("<Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>"));
        let back = VersioningConfiguration::parse(on.as_bytes()).expect("round trip");
        assert_eq!(back.status, Some(Versioning::Enabled));
        assert_eq!(back.mfa_delete, Some(true));
    }

    #[test]
    fn mfa_header() {
        let h = parse_mfa_header("arn:aws:iam::111122223333:mfa/root-device 123456").expect("ok");
        assert_eq!(h.serial, "arn:aws:iam::111122223333:mfa/root-device");
        assert_eq!(h.code, "123456");
        assert!(!format!("{h:?}").contains("123456"));
        for bad in [
            "",
            "123456",
            "arn:aws:iam::111122223333:mfa/root-device",
            "arn:aws:iam::111122223333:mfa/x 1 2",
            "short 123456",
            "arn:aws:iam::111122223333:mfa/r\u{e9}v 123456",
        ] {
            let e = parse_mfa_header(bad).expect_err(bad);
            assert_eq!(e.code(), S3ErrorCode::InvalidArgument, "{bad}");
            assert_eq!(e.extras()[0], ("ArgumentName".into(), "x-amz-mfa".into()));
        }
    }

    #[test]
    fn version_ids() {
        assert_eq!(parse_version_id(None).expect("none"), None);
        assert_eq!(parse_version_id(Some("null")).expect("null"), Some("null"));
        assert_eq!(
            parse_version_id(Some("AbC-_09")).expect("ok"),
            Some("AbC-_09")
        );
        for bad in ["", "../x", "a/b", ".hidden", &"x".repeat(65)] {
            let e = parse_version_id(Some(bad)).expect_err(bad);
            assert_eq!(e.code(), S3ErrorCode::InvalidArgument);
            assert_eq!(e.message(), "Invalid version id specified");
        }
    }
}
