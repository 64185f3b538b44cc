//! The event S3 Object Lambda sends to a function, and the answers it reads back from HeadObject and
//! List functions (S3-FEATURES §3.2, §3.4; AWS's "Event context format and usage").
//!
//! The event is JSON:
//! `{"xAmzRequestId", "<op>Context": {...}, "configuration": {accessPointArn, supportingAccessPointArn,
//! payload}, "userRequest": {url, headers}, "userIdentity": {...}, "protocolVersion": "1.00"}` where
//! `<op>Context` is `getObjectContext` (`inputS3Url`, `outputRoute`, `outputToken`),
//! `headObjectContext`, `listObjectsContext` or `listObjectsV2Context` (`inputS3Url` only).
//! `userRequest.headers` keeps the caller's header case, joins repeated headers with `,`, and drops
//! the authentication headers; `userRequest.url` has no authentication query parameters.

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The Object Lambda protocol version s3crypt speaks.
pub const PROTOCOL_VERSION: &str = "1.00";

/// The operation a function transforms, and its context object's name in the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// GetObject: the function answers with WriteGetObjectResponse.
    GetObject,
    /// HeadObject: the function returns the headers.
    HeadObject,
    /// ListObjects (V1).
    ListObjects,
    /// ListObjectsV2.
    ListObjectsV2,
}

impl Operation {
    /// The event key of this operation's context object.
    #[must_use]
    pub fn context_key(self) -> &'static str {
        match self {
            Self::GetObject => "getObjectContext",
            Self::HeadObject => "headObjectContext",
            Self::ListObjects => "listObjectsContext",
            Self::ListObjectsV2 => "listObjectsV2Context",
        }
    }
}

/// Who made the request, as CloudTrail's `userIdentity` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserIdentity {
    /// `Root`, `IAMUser` or `AssumedRole`.
    pub kind: &'static str,
    /// The principal's unique id (`AIDA…` for a user, the account for the root, `ROLE:SESSION`).
    pub principal_id: String,
    /// The principal's ARN.
    pub arn: String,
    /// Its account.
    pub account_id: String,
    /// The access key the request was signed with.
    pub access_key_id: String,
    /// The IAM user name, for `IAMUser`.
    pub user_name: Option<String>,
    /// For a role session: the role's ARN (`sessionContext.sessionIssuer`).
    pub session_issuer: Option<String>,
}

/// Everything an event carries.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// The request id of the caller's request.
    pub request_id: &'a str,
    /// The transformed operation.
    pub operation: Operation,
    /// The presigned URL through the supporting access point.
    pub input_s3_url: &'a str,
    /// GetObject only: the WriteGetObjectResponse route and token.
    pub output: Option<(&'a str, &'a str)>,
    /// The Object Lambda access point's ARN.
    pub access_point_arn: &'a str,
    /// The supporting access point's ARN.
    pub supporting_access_point_arn: &'a str,
    /// The transformation's `FunctionPayload` (empty when none).
    pub payload: &'a str,
    /// The caller's URL, without authentication query parameters.
    pub url: String,
    /// The caller's headers, as received.
    pub headers: &'a [(String, String)],
    /// The caller.
    pub identity: &'a UserIdentity,
}

/// Whether a request header is authentication material that never reaches the function.
fn is_auth_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("x-amz-security-token")
        || name.eq_ignore_ascii_case("x-amz-content-sha256")
        || name.eq_ignore_ascii_case("x-amz-date")
}

/// Whether a query parameter is authentication material (a presigned caller's).
#[must_use]
pub fn is_auth_query(name: &str) -> bool {
    [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(name))
}

impl Event<'_> {
    /// The event as JSON.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut headers = Map::new();
        for (name, value) in self.headers.iter().filter(|(n, _)| !is_auth_header(n)) {
            // Repeated headers are joined with `,`; the first spelling of the name is kept.
            let existing = headers
                .iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v);
            match existing {
                Some(Value::String(v)) => {
                    v.push(',');
                    v.push_str(value);
                }
                _ => {
                    headers.insert(name.clone(), Value::String(value.clone()));
                }
            }
        }
        let mut context = json!({ "inputS3Url": self.input_s3_url });
        if let Some((route, token)) = self.output {
            context["outputRoute"] = json!(route);
            context["outputToken"] = json!(token);
        }
        let id = self.identity;
        let mut identity = json!({
            "type": id.kind,
            "principalId": id.principal_id,
            "arn": id.arn,
            "accountId": id.account_id,
            "accessKeyId": id.access_key_id,
        });
        if let Some(name) = &id.user_name {
            identity["userName"] = json!(name);
        }
        if let Some(issuer) = &id.session_issuer {
            let role = issuer.rsplit('/').next().unwrap_or_default();
            identity["sessionContext"] = json!({
                "attributes": {"mfaAuthenticated": "false"},
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": id.principal_id.split(':').next().unwrap_or_default(),
                    "arn": issuer,
                    "accountId": id.account_id,
                    "userName": role,
                },
            });
        }
        let event = json!({
            "xAmzRequestId": self.request_id,
            (self.operation.context_key()): context,
            "configuration": {
                "accessPointArn": self.access_point_arn,
                "supportingAccessPointArn": self.supporting_access_point_arn,
                "payload": self.payload,
            },
            "userRequest": {"url": self.url, "headers": headers},
            "userIdentity": identity,
            "protocolVersion": PROTOCOL_VERSION,
        });
        serde_json::to_vec(&event).unwrap_or_default()
    }
}

/// What a HeadObject or List function returns (S3-FEATURES §3.4).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FunctionAnswer {
    /// The status for the caller (required).
    pub status_code: u16,
    /// An error code for the caller.
    #[serde(default)]
    pub error_code: Option<String>,
    /// An error message for the caller.
    #[serde(default)]
    pub error_message: Option<String>,
    /// HeadObject: the headers for the caller.
    #[serde(default)]
    pub headers: Option<Map<String, Value>>,
    /// List: the result XML, forwarded verbatim.
    #[serde(default)]
    pub list_result_xml: Option<String>,
    /// List: the typed result.
    #[serde(default)]
    pub list_bucket_result: Option<Value>,
}

/// Why a function's answer cannot be used (400 `LambdaInvalidResponse` for the caller).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the function's answer is invalid: {0}")]
pub struct InvalidAnswer(pub String);

impl FunctionAnswer {
    /// Parses a function's return payload.
    ///
    /// # Errors
    /// [`InvalidAnswer`] for anything but a JSON object with a `statusCode` between 100 and 599.
    pub fn parse(payload: &[u8]) -> Result<Self, InvalidAnswer> {
        let answer: Self =
            serde_json::from_slice(payload).map_err(|e| InvalidAnswer(e.to_string()))?;
        if !(100..=599).contains(&answer.status_code) {
            return Err(InvalidAnswer(format!(
                "statusCode {} is not an HTTP status",
                answer.status_code
            )));
        }
        if let Some(code) = &answer.error_code
            && !is_error_code(code)
        {
            return Err(InvalidAnswer(format!(
                "errorCode {code:?} is not an error code"
            )));
        }
        Ok(answer)
    }
}

/// `^[A-Z][a-zA-Z]+$`, what an error code forwarded to a caller must look like.
#[must_use]
pub fn is_error_code(code: &str) -> bool {
    let mut chars = code.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && code.len() >= 2
        && code.len() <= 128
        && chars.all(|c| c.is_ascii_alphabetic())
}

/// The HeadObject headers a function may set (S3-FEATURES §3.4), besides `x-amz-meta-*`.
const HEAD_HEADERS: &[&str] = &[
    "content-length",
    "accept-ranges",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-range",
    "content-type",
    "etag",
    "expires",
    "last-modified",
    "x-amz-archive-status",
    "x-amz-delete-marker",
    "x-amz-expiration",
    "x-amz-missing-meta",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-legal-hold",
    "x-amz-object-lock-retain-until-date",
    "x-amz-mp-parts-count",
    "x-amz-replication-status",
    "x-amz-request-charged",
    "x-amz-restore",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-storage-class",
    "x-amz-tagging-count",
    "x-amz-version-id",
];

/// The HeadObject headers of a function's answer that reach the caller: the allowed names with
/// string or number values, lower-cased; anything else (including CR/LF in a value) is dropped.
#[must_use]
pub fn head_headers(headers: &Map<String, Value>) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            let allowed = HEAD_HEADERS.contains(&lower.as_str())
                || (lower.starts_with("x-amz-meta-") && lower.len() > "x-amz-meta-".len());
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            let clean = lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && value
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
            (allowed && clean).then_some((lower, value))
        })
        .collect()
}

/// The `ListBucketResult` XML of a List function's typed `listBucketResult` (S3-FEATURES §3.4):
/// V1 with `marker`/`nextMarker`, V2 with `startAfter`, the continuation tokens and `keyCount`.
///
/// # Errors
/// [`InvalidAnswer`] when a required field is missing or a field has the wrong type.
pub fn list_bucket_result_xml(result: &Value, v2: bool) -> Result<String, InvalidAnswer> {
    use crate::s3::xml::escape_text;
    let bad = |what: &str| InvalidAnswer(format!("listBucketResult: {what}"));
    let obj = result.as_object().ok_or_else(|| bad("not an object"))?;
    let text = |o: &Map<String, Value>, name: &str| -> Result<Option<String>, InvalidAnswer> {
        match o.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(bad(&format!("{name} is not a scalar"))),
        }
    };
    let required = |o: &Map<String, Value>, name: &str| {
        text(o, name)?.ok_or_else(|| bad(&format!("{name} is required")))
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    let element = |xml: &mut String, tag: &str, value: &str| {
        xml.push_str(&format!("<{tag}>{}</{tag}>", escape_text(value)));
    };
    element(&mut xml, "Name", &required(obj, "name")?);
    let optional: &[(&str, &str)] = if v2 {
        &[
            ("prefix", "Prefix"),
            ("startAfter", "StartAfter"),
            ("continuationToken", "ContinuationToken"),
            ("nextContinuationToken", "NextContinuationToken"),
            ("delimiter", "Delimiter"),
            ("encodingType", "EncodingType"),
        ]
    } else {
        &[
            ("prefix", "Prefix"),
            ("marker", "Marker"),
            ("nextMarker", "NextMarker"),
            ("delimiter", "Delimiter"),
            ("encodingType", "EncodingType"),
        ]
    };
    for (field, tag) in optional {
        if let Some(v) = text(obj, field)? {
            element(&mut xml, tag, &v);
        }
    }
    if v2 {
        element(&mut xml, "KeyCount", &required(obj, "keyCount")?);
    }
    element(&mut xml, "MaxKeys", &required(obj, "maxKeys")?);
    element(&mut xml, "IsTruncated", &required(obj, "isTruncated")?);
    let list = |name: &str| -> Result<Vec<&Map<String, Value>>, InvalidAnswer> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_object()
                        .ok_or_else(|| bad(&format!("{name}: not objects")))
                })
                .collect(),
            Some(_) => Err(bad(&format!("{name} is not a list"))),
        }
    };
    for item in list("contents")? {
        xml.push_str("<Contents>");
        element(&mut xml, "Key", &required(item, "key")?);
        for (field, tag) in [
            ("lastModified", "LastModified"),
            ("eTag", "ETag"),
            ("checksumAlgorithm", "ChecksumAlgorithm"),
        ] {
            if let Some(v) = text(item, field)? {
                element(&mut xml, tag, &v);
            }
        }
        element(&mut xml, "Size", &required(item, "size")?);
        match item.get("owner") {
            None | Some(Value::Null) => {}
            Some(Value::Object(owner)) => {
                xml.push_str("<Owner>");
                element(&mut xml, "ID", &required(owner, "id")?);
                element(&mut xml, "DisplayName", &required(owner, "displayName")?);
                xml.push_str("</Owner>");
            }
            Some(_) => return Err(bad("owner is not an object")),
        }
        if let Some(v) = text(item, "storageClass")? {
            element(&mut xml, "StorageClass", &v);
        }
        xml.push_str("</Contents>");
    }
    for item in list("commonPrefixes")? {
        xml.push_str("<CommonPrefixes>");
        element(&mut xml, "Prefix", &required(item, "prefix")?);
        xml.push_str("</CommonPrefixes>");
    }
    xml.push_str("</ListBucketResult>");
    Ok(xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> UserIdentity {
        UserIdentity {
            kind: "IAMUser",
            principal_id: "AIDAEXAMPLE".into(),
            arn: "arn:aws:iam::000000000000:user/ana".into(),
            account_id: "000000000000".into(),
            access_key_id: "AKIAEXAMPLE".into(),
            user_name: Some("ana".into()),
            session_issuer: None,
        }
    }

    #[test]
    fn get_object_event_has_aws_shape() {
        let headers = vec![
            ("Host".to_owned(), "x--ol-s3.localhost".to_owned()),
            (
                "Authorization".to_owned(),
                "AWS4-HMAC-SHA256 secret".to_owned(),
            ),
            ("X-Amz-Security-Token".to_owned(), "tok".to_owned()),
            ("Accept".to_owned(), "a".to_owned()),
            ("accept".to_owned(), "b".to_owned()),
        ];
        let id = identity();
        let event = Event {
            request_id: "REQ",
            operation: Operation::GetObject,
            input_s3_url: "https://ap-000000000000.localhost/k?X-Amz-Signature=s",
            output: Some(("route", "token")),
            access_point_arn: "arn:aws:s3-object-lambda:us-east-1:000000000000:accesspoint/ol",
            supporting_access_point_arn: "arn:aws:s3:us-east-1:000000000000:accesspoint/ap",
            payload: "{\"columns\":[]}",
            url: "https://ol.localhost/k".into(),
            headers: &headers,
            identity: &id,
        };
        let v: Value = serde_json::from_slice(&event.to_json()).expect("test input");
        assert_eq!(v["protocolVersion"], "1.00");
        assert_eq!(v["xAmzRequestId"], "REQ");
        assert_eq!(v["getObjectContext"]["outputRoute"], "route");
        assert_eq!(v["getObjectContext"]["outputToken"], "token");
        assert_eq!(v["configuration"]["payload"], "{\"columns\":[]}");
        assert_eq!(v["userRequest"]["headers"]["Accept"], "a,b");
        assert_eq!(v["userRequest"]["headers"]["Host"], "x--ol-s3.localhost");
        let text = String::from_utf8(event.to_json()).expect("test input");
        assert!(
            !text.contains("secret") && !text.contains("tok\""),
            "{text}"
        );
        assert_eq!(v["userIdentity"]["type"], "IAMUser");
        assert_eq!(v["userIdentity"]["userName"], "ana");
        assert!(v["userIdentity"].get("sessionContext").is_none());
    }

    #[test]
    fn list_v2_event_uses_its_own_context_key_and_role_sessions_name_their_issuer() {
        let mut id = identity();
        id.kind = "AssumedRole";
        id.user_name = None;
        id.principal_id = "AROAEXAMPLE:s1".into();
        id.session_issuer = Some("arn:aws:iam::000000000000:role/reader".into());
        let event = Event {
            request_id: "R",
            operation: Operation::ListObjectsV2,
            input_s3_url: "u",
            output: None,
            access_point_arn: "a",
            supporting_access_point_arn: "s",
            payload: "",
            url: "x".into(),
            headers: &[],
            identity: &id,
        };
        let v: Value = serde_json::from_slice(&event.to_json()).expect("test input");
        assert!(v.get("listObjectsV2Context").is_some());
        assert!(v.get("listObjectsContext").is_none());
        assert!(v["listObjectsV2Context"].get("outputRoute").is_none());
        let issuer = &v["userIdentity"]["sessionContext"]["sessionIssuer"];
        assert_eq!(issuer["userName"], "reader");
        assert_eq!(issuer["principalId"], "AROAEXAMPLE");
    }

    #[test]
    fn answers_are_checked() {
        assert!(FunctionAnswer::parse(b"not json").is_err());
        assert!(FunctionAnswer::parse(b"[]").is_err());
        assert!(FunctionAnswer::parse(b"{}").is_err());
        assert!(FunctionAnswer::parse(br#"{"statusCode": 99}"#).is_err());
        assert!(FunctionAnswer::parse(br#"{"statusCode": 403, "errorCode": "no way"}"#).is_err());
        let a = FunctionAnswer::parse(
            br#"{"statusCode": 200, "headers": {"Content-Length": 12, "X-Amz-Meta-A": "b",
                "Set-Cookie": "x", "ETag": "\"e\r\nx: y\""}}"#,
        )
        .expect("test input");
        let h = head_headers(a.headers.as_ref().expect("test input"));
        assert_eq!(
            h,
            vec![
                ("content-length".to_owned(), "12".to_owned()),
                ("x-amz-meta-a".to_owned(), "b".to_owned()),
            ]
        );
        let l = FunctionAnswer::parse(br#"{"statusCode": 200, "listResultXml": "<x/>"}"#)
            .expect("test input");
        assert_eq!(l.list_result_xml.as_deref(), Some("<x/>"));
    }

    #[test]
    fn typed_list_results_become_s3_xml() {
        let v: Value = serde_json::from_str(
            r#"{"name": "b", "prefix": "p/", "keyCount": 1, "maxKeys": 1000, "isTruncated": false,
                "contents": [{"key": "p/a&b", "size": 3, "eTag": "\"e\"",
                              "owner": {"id": "i", "displayName": "d"}}],
                "commonPrefixes": [{"prefix": "p/q/"}]}"#,
        )
        .expect("test input");
        let xml = list_bucket_result_xml(&v, true).expect("test input");
        assert!(
            xml.contains("<Name>b</Name><Prefix>p/</Prefix><KeyCount>1</KeyCount>"),
            "{xml}"
        );
        assert!(
            xml.contains("<Key>p/a&amp;b</Key><ETag>&quot;e&quot;</ETag><Size>3</Size>"),
            "{xml}"
        );
        assert!(
            xml.contains("<Owner><ID>i</ID><DisplayName>d</DisplayName></Owner>"),
            "{xml}"
        );
        assert!(
            xml.contains("<CommonPrefixes><Prefix>p/q/</Prefix></CommonPrefixes>"),
            "{xml}"
        );
        assert!(
            list_bucket_result_xml(&v, false)
                .expect("test input")
                .contains("<MaxKeys>1000</MaxKeys>")
        );
        for broken in [
            r#"{"maxKeys": 1, "isTruncated": false}"#,
            r#"{"name": "b", "maxKeys": 1, "isTruncated": false, "contents": [{"key": "k"}]}"#,
            r#"{"name": "b", "maxKeys": 1, "isTruncated": false, "contents": "x"}"#,
            r#"{"name": {}, "maxKeys": 1, "isTruncated": false}"#,
            r#"[]"#,
        ] {
            let v: Value = serde_json::from_str(broken).expect("test input");
            assert!(list_bucket_result_xml(&v, false).is_err(), "{broken}");
        }
        let v: Value = serde_json::from_str(r#"{"name": "b", "maxKeys": 1, "isTruncated": false}"#)
            .expect("test input");
        assert!(
            list_bucket_result_xml(&v, true).is_err(),
            "V2 needs keyCount"
        );
    }
}
