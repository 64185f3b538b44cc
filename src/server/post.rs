//! POST Object: browser-based uploads with a `multipart/form-data` form and a signed POST policy
//! (AWS Signature Version 4).
//!
//! The form's fields before `file` are read whole (at most [`MAX_PRE_DATA`] bytes, S3's 20 KiB);
//! fields after `file` are ignored, as S3 ignores them. With `policy` and the `x-amz-*` signature
//! fields the form is signed: `x-amz-signature` must be `hex(HMAC-SHA256(signing key, policy))` over
//! the policy text as received, the policy must not have expired, every condition must hold and every
//! field (except `x-amz-signature`, `file`, `policy` and `x-ignore-*`; the bucket counts as a field)
//! must be covered by a condition. Without them the POST is anonymous and the bucket policy decides.
//! Then the `file` part streams from the socket into the SSE engine on a worker thread, its size
//! checked against `content-length-range` while it streams (nothing is stored when it is outside).

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use super::auth::{Connection, IdentitySource};
use super::body::{self, BodyFault, BodyReader};
use super::object::FirstError;
use super::request::S3Request;
use super::{Reply, S3Service, blocking, object};
use crate::aws::sigv4::{self, Scope};
use crate::iam::context::{AuthType, Caller, RequestContext};
use crate::s3::{S3Error, S3ErrorCode, xml};
use crate::sse::headers::Headers;

/// The most bytes of form fields before the `file` part (S3: 20 KiB,
/// `MaxPostPreDataLengthExceeded`).
pub(crate) const MAX_PRE_DATA: usize = 20 * 1024;

/// The form fields that sign a POST, with the names S3 uses when one is missing.
const SIGNATURE_FIELDS: [(&str, &str); 5] = [
    ("x-amz-algorithm", "X-Amz-Algorithm"),
    ("x-amz-credential", "X-Amz-Credential"),
    ("x-amz-date", "X-Amz-Date"),
    ("x-amz-signature", "X-Amz-Signature"),
    ("policy", "Policy"),
];

/// Form fields passed to the engine as request headers (besides `x-amz-meta-*` and the SSE fields).
const HEADER_FIELDS: [&str; 8] = [
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
];

/// The form fields read before `file`, in order, with their names as sent.
#[derive(Debug, Default)]
struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// The first field named `name` (ASCII case-insensitive).
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The `file` part: its name parameter and its data, not yet read.
struct FilePart {
    filename: Option<String>,
    field: multer::Field<'static>,
    multipart: multer::Multipart<'static>,
}

/// Answers `POST /BUCKET` (POST Object).
///
/// # Errors
/// 412 `PreconditionFailed` (not `multipart/form-data`), 400 `MalformedPOSTRequest`,
/// `MaxPostPreDataLengthExceeded`, `InvalidArgument` (a missing field, no file), `InvalidRequest`
/// (SigV2), `InvalidPolicyDocument`, `EntityTooSmall`, `EntityTooLarge`, 403 `AccessDenied` (policy
/// expired or a condition failed), `SignatureDoesNotMatch`, `InvalidAccessKeyId`, and the engine's
/// errors.
pub(crate) async fn post_object(
    svc: Arc<S3Service>,
    req: S3Request,
    headers: &[(String, String)],
    incoming: Incoming,
    conn: Connection,
    principal: &mut String,
) -> Result<Reply, S3Error> {
    let bucket = req
        .bucket
        .clone()
        .ok_or_else(|| S3Error::internal("POST Object without a bucket"))?;
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    let content_type = header("content-type").unwrap_or_default();
    let boundary = boundary(content_type)?;
    let idle = svc.options().body_idle_timeout;
    let (form, file) = read_form(incoming, boundary, idle).await?;
    let now = SystemTime::now();
    let mut checked = check_form(
        &form,
        file.as_ref().and_then(|f| f.filename.as_deref()),
        &bucket,
        svc.identities.as_ref(),
        &svc.options().region,
        conn,
        now,
    )?;
    svc.add_vpc_endpoint(conn, &mut checked.context)?;
    let Some(file) = file else {
        return Err(S3Error::invalid_argument(
            "POST requires exactly one file upload per request.",
        )
        .with_extra("ArgumentName", "file")
        .with_extra("ArgumentValue", "0"));
    };
    if let Some(p) = checked.context.caller.principal() {
        principal.clone_from(&p.arn);
    }
    let engine_headers = engine_headers(&form)?;
    object::check_acl_header(&engine_headers)?;
    let reader = spawn_file(file, idle);
    let errors = FirstError::default();
    let mut body = FileBody {
        inner: reader,
        seen: 0,
        min: checked.range.0,
        max: checked.range.1.min(svc.options().max_object_size),
        drain_limit: svc.options().max_object_size,
        errors: errors.clone(),
    };
    let key = checked.key.clone();
    let ctx = checked.context;
    let worker = Arc::clone(&svc);
    let worker_bucket = bucket.clone();
    let resp = blocking(move || {
        worker
            .engine()
            .put_object(&ctx, &worker_bucket, &key, &engine_headers, &mut body)
            .map_err(|e| errors.take().unwrap_or(e))
    })
    .await?;
    let etag = object::header(&resp, "etag").unwrap_or_default().to_owned();
    let location = location(conn.tls, header("host"), &bucket, &checked.key);
    let mut out = object::wire_headers(&resp);
    out.push(("Location".to_owned(), location.clone()));
    if let Some(redirect) = form
        .get("success_action_redirect")
        .or_else(|| form.get("redirect"))
        .filter(|r| r.starts_with("http://") || r.starts_with("https://"))
    {
        let sep = if redirect.contains('?') { '&' } else { '?' };
        let target = format!(
            "{redirect}{sep}bucket={}&key={}&etag={}",
            form_encode(&bucket),
            form_encode(&checked.key),
            form_encode(&etag)
        );
        out.retain(|(n, _)| !n.eq_ignore_ascii_case("location"));
        out.push(("Location".to_owned(), target));
        return Ok(Reply::empty(303, out));
    }
    match form.get("success_action_status").map(str::trim) {
        Some("200") => Ok(Reply::empty(200, out)),
        Some("201") => {
            let doc = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                xml::escape_text(&location),
                xml::escape_text(&bucket),
                xml::escape_text(&checked.key),
                xml::escape_text(&etag),
            );
            let mut reply = Reply::xml(201, doc);
            reply.headers.extend(out);
            Ok(reply)
        }
        _ => Ok(Reply::empty(204, out)),
    }
}

/// The boundary of a `multipart/form-data` Content-Type.
///
/// # Errors
/// 412 `PreconditionFailed` for another type, 400 `MalformedPOSTRequest` without a boundary.
fn boundary(content_type: &str) -> Result<String, S3Error> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return Err(S3Error::with_code(
            S3ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )
        .with_extra(
            "Condition",
            "Bucket POST must be of the enclosure-type multipart/form-data",
        ));
    }
    multer::parse_boundary(content_type).map_err(|_| malformed())
}

fn malformed() -> S3Error {
    S3Error::from_code(S3ErrorCode::MalformedPOSTRequest)
}

fn too_much_pre_data() -> S3Error {
    S3Error::from_code(S3ErrorCode::MaxPostPreDataLengthExceeded)
        .with_extra("MaxPostPreDataLengthBytes", MAX_PRE_DATA.to_string())
}

fn body_error(e: &multer::Error) -> S3Error {
    match e {
        multer::Error::StreamReadFailed(_)
        | multer::Error::IncompleteStream
        | multer::Error::IncompleteFieldData { .. } => {
            S3Error::from_code(S3ErrorCode::IncompleteBody)
        }
        _ => malformed(),
    }
}

/// Reads the fields up to the `file` part (`None` when the form has none).
async fn read_form(
    incoming: Incoming,
    boundary: String,
    idle: Duration,
) -> Result<(Form, Option<FilePart>), S3Error> {
    let timeout = || S3Error::from_code(S3ErrorCode::RequestTimeout);
    let mut multipart = multer::Multipart::new(incoming.into_data_stream(), boundary);
    let mut form = Form::default();
    let mut size = 0usize;
    loop {
        let next = tokio::time::timeout(idle, multipart.next_field())
            .await
            .map_err(|_| timeout())?
            .map_err(|e| body_error(&e))?;
        let Some(mut field) = next else {
            return Ok((form, None));
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name.eq_ignore_ascii_case("file") {
            let filename = field.file_name().map(str::to_owned);
            return Ok((
                form,
                Some(FilePart {
                    filename,
                    field,
                    multipart,
                }),
            ));
        }
        size += name.len();
        let mut value = Vec::new();
        loop {
            let chunk = tokio::time::timeout(idle, field.chunk())
                .await
                .map_err(|_| timeout())?
                .map_err(|e| body_error(&e))?;
            let Some(chunk) = chunk else { break };
            size += chunk.len();
            if size > MAX_PRE_DATA {
                return Err(too_much_pre_data());
            }
            value.extend_from_slice(&chunk);
        }
        if size > MAX_PRE_DATA {
            return Err(too_much_pre_data());
        }
        let value = String::from_utf8(value).map_err(|_| malformed())?;
        form.fields.push((name, value));
    }
}

/// What the checks of the form established.
struct Checked {
    context: RequestContext,
    /// The object key (`${filename}` replaced).
    key: String,
    /// `content-length-range`, inclusive (`(0, u64::MAX)` without one).
    range: (u64, u64),
}

fn missing_field(name: &str) -> S3Error {
    S3Error::invalid_argument(format!(
        "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
    ))
    .with_extra("ArgumentName", name)
    .with_extra("ArgumentValue", "")
}

fn credential_error(message: impl Into<String>, credential: &str) -> S3Error {
    S3Error::invalid_argument(message.into())
        .with_extra("ArgumentName", "X-Amz-Credential")
        .with_extra("ArgumentValue", credential)
}

/// Checks the form: the required fields, the signature and the policy; builds the request context.
fn check_form(
    form: &Form,
    filename: Option<&str>,
    bucket: &str,
    identities: &dyn IdentitySource,
    region: &str,
    conn: Connection,
    now: SystemTime,
) -> Result<Checked, S3Error> {
    if form.get("AWSAccessKeyId").is_some() || form.get("signature").is_some() {
        // Signature Version 2, refused as the rest of the endpoint refuses it.
        return Err(S3Error::invalid_request(
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    let Some(raw_key) = form.get("key") else {
        return Err(missing_field("key"));
    };
    // `${filename}` is replaced by the file's name when the file part has one (S3 keeps it
    // literally otherwise).
    let key = match filename {
        Some(f) => raw_key.replace("${filename}", f),
        None => raw_key.to_owned(),
    };
    let base = |caller, auth| {
        RequestContext::new(caller, auth, now)
            .with_tls(conn.tls)
            .with_source_ip(conn.peer.ip())
    };
    if SIGNATURE_FIELDS.iter().all(|(n, _)| form.get(n).is_none()) {
        return Ok(Checked {
            context: base(Caller::Anonymous, AuthType::None),
            key,
            range: (0, u64::MAX),
        });
    }
    if let Some((_, shown)) = SIGNATURE_FIELDS.iter().find(|(n, _)| form.get(n).is_none()) {
        return Err(missing_field(shown));
    }
    let field = |n: &str| form.get(n).unwrap_or_default().trim();
    let algorithm = field("x-amz-algorithm");
    if algorithm != sigv4::ALGORITHM {
        return Err(S3Error::invalid_argument(format!(
            "X-Amz-Algorithm only supports \"{}\"",
            sigv4::ALGORITHM
        ))
        .with_extra("ArgumentName", "X-Amz-Algorithm")
        .with_extra("ArgumentValue", algorithm));
    }
    let credential = field("x-amz-credential");
    let (access_key_id, scope) = parse_credential(credential, region)?;
    let date = field("x-amz-date");
    let Some(signed_at) = sigv4::parse_amz_date(date) else {
        return Err(S3Error::invalid_argument(
            "X-Amz-Date must be formated via ISO8601 Long format",
        )
        .with_extra("ArgumentName", "X-Amz-Date")
        .with_extra("ArgumentValue", date));
    };
    let Some(identity) = identities.identity(access_key_id) else {
        return Err(S3Error::from_code(S3ErrorCode::InvalidAccessKeyId)
            .with_extra("AWSAccessKeyId", access_key_id));
    };
    let policy_b64 = form.get("policy").unwrap_or_default();
    let provided = field("x-amz-signature");
    let key_bytes = sigv4::signing_key(identity.credentials.secret_access_key(), &scope);
    let expected = sigv4::signature(&key_bytes, policy_b64);
    if !crate::primitives::ct_eq(expected.as_bytes(), provided.as_bytes()) {
        let bytes: Vec<String> = policy_b64.bytes().map(|b| format!("{b:02x}")).collect();
        return Err(S3Error::from_code(S3ErrorCode::SignatureDoesNotMatch)
            .with_extra("AWSAccessKeyId", access_key_id)
            .with_extra("StringToSign", policy_b64)
            .with_extra("SignatureProvided", provided)
            .with_extra("StringToSignBytes", bytes.join(" ")));
    }
    let policy = PostPolicy::parse(policy_b64)?;
    if policy.expiration <= now {
        return Err(S3Error::access_denied(
            "Invalid according to Policy: Policy expired.",
        ));
    }
    let range = policy.check(form, bucket, &key)?;
    let mut context = base(Caller::Principal(identity.principal), AuthType::Post);
    let signed_secs = u64::try_from(signed_at).unwrap_or(0);
    context.signature_age = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|n| n.checked_sub(Duration::from_secs(signed_secs)));
    context.identity_policies = Arc::from(identity.policies);
    Ok(Checked {
        context,
        key,
        range,
    })
}

/// `AKID/YYYYMMDD/REGION/s3/aws4_request` → the key id and the scope.
fn parse_credential<'a>(credential: &'a str, region: &str) -> Result<(&'a str, Scope), S3Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, cred_region, service, terminal] = parts.as_slice() else {
        return Err(credential_error(
            "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
            credential,
        ));
    };
    if akid.is_empty() {
        return Err(credential_error(
            "a non-empty Access Key (AKID) must be provided in the credential.",
            credential,
        ));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(credential_error(
            format!(
                "incorrect date format \"{date}\". This date in the credential must be in the format \"yyyyMMdd\"."
            ),
            credential,
        ));
    }
    if *cred_region != region {
        return Err(credential_error(
            format!("the region '{cred_region}' is wrong; expecting '{region}'"),
            credential,
        )
        .with_extra("Region", region));
    }
    if *service != "s3" {
        return Err(credential_error(
            format!("incorrect service \"{service}\". This endpoint belongs to \"s3\"."),
            credential,
        ));
    }
    if *terminal != "aws4_request" {
        return Err(credential_error(
            format!("incorrect terminal \"{terminal}\". This endpoint uses \"aws4_request\"."),
            credential,
        ));
    }
    Ok((akid, Scope::new(*date, *cred_region, "s3")))
}

/// One condition of a POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// `{"field": "v"}` or `["eq", "$field", "v"]`; `field` is `None` without the `$`.
    Eq {
        field: Option<String>,
        value: String,
        shown: String,
    },
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith {
        field: Option<String>,
        prefix: String,
        shown: String,
    },
    /// `["content-length-range", min, max]`; `None` when the bounds are not numbers.
    Range {
        bounds: Option<(u64, u64)>,
        shown: String,
    },
}

/// A decoded POST policy.
#[derive(Debug)]
struct PostPolicy {
    expiration: SystemTime,
    conditions: Vec<Condition>,
}

fn invalid_policy(message: &str) -> S3Error {
    S3Error::with_code(
        S3ErrorCode::InvalidPolicyDocument,
        format!("Invalid Policy: {message}"),
    )
}

fn condition_failed(shown: &str) -> S3Error {
    S3Error::access_denied(format!(
        "Invalid according to Policy: Policy Condition failed: {shown}"
    ))
}

/// A condition as S3 prints it: `["eq", "$key", "v"]`.
fn show(items: &[serde_json::Value]) -> String {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// A `content-length-range` bound: a JSON integer or a string of digits.
fn bound(v: &serde_json::Value) -> Result<Option<u64>, S3Error> {
    match v {
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Ok(Some(u)),
            (None, Some(_)) => Err(invalid_policy(
                "Invalid content-length-range: the bounds must not be negative.",
            )),
            _ => Err(invalid_policy("Invalid JSON.")),
        },
        serde_json::Value::String(s) => Ok(s.trim().parse().ok()),
        _ => Ok(None),
    }
}

impl PostPolicy {
    /// Decodes the base64 JSON policy.
    ///
    /// # Errors
    /// 400 `InvalidPolicyDocument`.
    fn parse(b64: &str) -> Result<Self, S3Error> {
        let raw = B64
            .decode(b64.trim())
            .map_err(|_| invalid_policy("invalid Base64 encoding."))?;
        let doc: serde_json::Value =
            serde_json::from_slice(&raw).map_err(|_| invalid_policy("Invalid JSON."))?;
        let serde_json::Value::Object(top) = doc else {
            return Err(invalid_policy("Invalid JSON."));
        };
        if let Some(other) = top
            .keys()
            .find(|k| k.as_str() != "expiration" && k.as_str() != "conditions")
        {
            return Err(invalid_policy(&format!(
                "Unexpected: '{}'",
                other.to_ascii_lowercase()
            )));
        }
        let expiration = match top.get("expiration") {
            None => return Err(invalid_policy("Policy missing expiration.")),
            Some(serde_json::Value::String(s)) => s
                .ends_with('Z')
                .then(|| crate::aws::clock::parse_rfc3339(s))
                .flatten()
                .ok_or_else(|| invalid_policy(&format!("Invalid 'expiration' value: '{s}'")))?,
            Some(v) => {
                return Err(invalid_policy(&format!(
                    "Invalid 'expiration' value: '{v}'"
                )));
            }
        };
        let list = match top.get("conditions") {
            None => return Err(invalid_policy("Policy missing conditions.")),
            Some(serde_json::Value::Array(list)) => list,
            Some(_) => {
                return Err(invalid_policy(
                    "Invalid 'conditions' value: must be a List.",
                ));
            }
        };
        let conditions = list
            .iter()
            .map(Self::condition)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            expiration,
            conditions,
        })
    }

    fn condition(c: &serde_json::Value) -> Result<Condition, S3Error> {
        let field_of = |name: &str| name.strip_prefix('$').map(str::to_ascii_lowercase);
        match c {
            serde_json::Value::Object(map) => {
                let mut it = map.iter();
                let (Some((name, value)), None) = (it.next(), it.next()) else {
                    return Err(invalid_policy(
                        "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                    ));
                };
                let value = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => return Err(invalid_policy("Invalid JSON.")),
                    _ => {
                        return Err(invalid_policy(
                            "Invalid Simple-Condition: value must be a string.",
                        ));
                    }
                };
                let shown = show(&["eq".into(), format!("${name}").into(), value.clone().into()]);
                Ok(Condition::Eq {
                    field: Some(name.to_ascii_lowercase()),
                    value,
                    shown,
                })
            }
            serde_json::Value::Array(items) => {
                let Some(op) = items.first() else {
                    return Err(invalid_policy(
                        "Invalid Condition: missing operation identifier.",
                    ));
                };
                let Some(op) = op.as_str() else {
                    return Err(invalid_policy("Invalid JSON."));
                };
                let op = op.to_ascii_lowercase();
                let shown = show(items);
                if !matches!(op.as_str(), "eq" | "starts-with" | "content-length-range") {
                    return Err(invalid_policy(&format!(
                        "Invalid Condition: unknown operation '{op}'."
                    )));
                }
                if items.len() != 3 {
                    return Err(invalid_policy(&format!(
                        "Invalid {op}: wrong number of arguments."
                    )));
                }
                if op == "content-length-range" {
                    let bounds = match (bound(&items[1])?, bound(&items[2])?) {
                        (Some(min), Some(max)) => Some((min, max)),
                        _ => None,
                    };
                    return Ok(Condition::Range { bounds, shown });
                }
                let (Some(name), Some(value)) = (items[1].as_str(), items[2].as_str()) else {
                    return Err(invalid_policy("Invalid JSON."));
                };
                let field = field_of(name);
                let value = value.to_owned();
                Ok(if op == "eq" {
                    Condition::Eq {
                        field,
                        value,
                        shown,
                    }
                } else {
                    Condition::StartsWith {
                        field,
                        prefix: value,
                        shown,
                    }
                })
            }
            _ => Err(invalid_policy(
                "Invalid condition test: must be a List or Object.",
            )),
        }
    }

    /// Checks the conditions (in policy order) and that every field is covered; returns the
    /// `content-length-range` (the tightest when there are several).
    ///
    /// # Errors
    /// 403 `AccessDenied` "Invalid according to Policy: …".
    fn check(&self, form: &Form, bucket: &str, key: &str) -> Result<(u64, u64), S3Error> {
        let value = |field: &str| -> Option<&str> {
            match field {
                "bucket" => Some(bucket),
                "key" => Some(key),
                f => form.get(f),
            }
        };
        let mut covered: HashSet<&str> = HashSet::new();
        let mut range = (0u64, u64::MAX);
        for c in &self.conditions {
            match c {
                Condition::Eq {
                    field,
                    value: want,
                    shown,
                } => {
                    let Some(f) = field else {
                        return Err(condition_failed(shown));
                    };
                    covered.insert(f);
                    if value(f) != Some(want.as_str()) {
                        return Err(condition_failed(shown));
                    }
                }
                Condition::StartsWith {
                    field,
                    prefix,
                    shown,
                } => {
                    let Some(f) = field else {
                        return Err(condition_failed(shown));
                    };
                    covered.insert(f);
                    let Some(v) = value(f) else {
                        return Err(condition_failed(shown));
                    };
                    let ok = if f == "content-type" {
                        // A list of types: each must start with the prefix.
                        v.split(',').all(|t| t.trim().starts_with(prefix.as_str()))
                    } else {
                        v.starts_with(prefix.as_str())
                    };
                    if !ok {
                        return Err(condition_failed(shown));
                    }
                }
                Condition::Range { bounds, shown } => {
                    let Some((min, max)) = bounds else {
                        return Err(condition_failed(shown));
                    };
                    range = (range.0.max(*min), range.1.min(*max));
                }
            }
        }
        let exempt = |n: &str| {
            matches!(n, "x-amz-signature" | "file" | "policy") || n.starts_with("x-ignore-")
        };
        let mut inputs: Vec<&str> = vec!["bucket"];
        inputs.extend(form.fields.iter().map(|(n, _)| n.as_str()));
        if let Some(extra) = inputs.into_iter().find(|n| {
            let lower = n.to_ascii_lowercase();
            !exempt(&lower) && !covered.contains(lower.as_str())
        }) {
            return Err(S3Error::access_denied(format!(
                "Invalid according to Policy: Extra input fields: {extra}"
            )));
        }
        Ok(range)
    }
}

/// The form fields the engine sees as request headers: the object's headers, `x-amz-meta-*`, the
/// SSE fields, `acl` as `x-amz-acl`.
///
/// # Errors
/// 501 `NotImplemented` for checksum and tagging fields (not verified or stored by this server).
fn engine_headers(form: &Form) -> Result<Headers, S3Error> {
    let mut out = Vec::new();
    for (name, value) in &form.fields {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("x-amz-checksum-") || lower == "tagging" {
            return Err(S3Error::not_implemented(format!(
                "A header or query you provided implies functionality that is not implemented ({lower})."
            )));
        }
        let pass = HEADER_FIELDS.contains(&lower.as_str())
            || lower.starts_with("x-amz-meta-")
            || lower.starts_with("x-amz-server-side-encryption");
        if pass {
            out.push((lower, value.clone()));
        } else if lower == "acl" {
            out.push(("x-amz-acl".to_owned(), value.clone()));
        }
    }
    Ok(Headers::new(out))
}

/// The object's URL: `SCHEME://HOST/BUCKET/KEY` (or `SCHEME://BUCKET.DOMAIN/KEY`), the key
/// percent-encoded (`/` too, as S3 writes it).
fn location(tls: bool, host: Option<&str>, bucket: &str, key: &str) -> String {
    let scheme = if tls { "https" } else { "http" };
    let host = host.unwrap_or("localhost");
    let virtual_hosted = host
        .to_ascii_lowercase()
        .starts_with(&format!("{}.", bucket.to_ascii_lowercase()));
    // S3 encodes `/` in the key of a POST response's Location (unlike listings' encoding-type=url).
    let key = crate::aws::sigv4::uri_encode(key, false);
    if virtual_hosted {
        format!("{scheme}://{host}/{key}")
    } else {
        format!(
            "{scheme}://{host}/{}/{key}",
            crate::aws::sigv4::uri_encode(bucket, false)
        )
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (space as `+`).
fn form_encode(s: &str) -> String {
    crate::aws::sigv4::uri_encode(s, false).replace("%20", "+")
}

/// Starts pulling the `file` part into a bounded channel; the worker thread reads it.
fn spawn_file(file: FilePart, idle: Duration) -> BodyReader {
    let (tx, rx) = mpsc::channel::<Result<Bytes, BodyFault>>(body::DEPTH);
    let FilePart {
        mut field,
        multipart,
        ..
    } = file;
    tokio::spawn(async move {
        let _multipart = multipart;
        loop {
            let piece = match tokio::time::timeout(idle, field.chunk()).await {
                Err(_) => Err(BodyFault::Timeout),
                Ok(Ok(None)) => return,
                Ok(Ok(Some(b))) if b.is_empty() => continue,
                Ok(Ok(Some(b))) => Ok(b),
                Ok(Err(_)) => Err(BodyFault::Incomplete),
            };
            let failed = piece.is_err();
            if tx.send(piece).await.is_err() || failed {
                return;
            }
        }
    });
    BodyReader::from_channel(rx)
}

/// The file's bytes with their size checked: end-of-file only when the size is within
/// `[min, max]`, so the engine never stores a file outside `content-length-range`.
struct FileBody {
    inner: BodyReader,
    seen: u64,
    min: u64,
    max: u64,
    /// How far past `max` the rest of the file is read to report its size.
    drain_limit: u64,
    errors: FirstError,
}

impl FileBody {
    fn fail(&self, e: S3Error) -> io::Error {
        self.errors.set(e);
        io::Error::new(io::ErrorKind::InvalidData, "the POST file was refused")
    }

    fn read_error(&self, e: &io::Error) -> io::Error {
        self.fail(if e.kind() == io::ErrorKind::TimedOut {
            S3Error::from_code(S3ErrorCode::RequestTimeout)
        } else {
            S3Error::from_code(S3ErrorCode::IncompleteBody)
        })
    }
}

impl Read for FileBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| self.read_error(&e))?;
        if n == 0 {
            if buf.is_empty() || self.seen >= self.min {
                return Ok(0);
            }
            return Err(self.fail(
                S3Error::with_code(
                    S3ErrorCode::EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed size",
                )
                .with_extra("ProposedSize", self.seen.to_string())
                .with_extra("MinSizeAllowed", self.min.to_string()),
            ));
        }
        self.seen += n as u64;
        if self.seen > self.max {
            // S3 reports the whole file's size: the rest is read (and dropped) to count it, up to
            // the largest object the server takes.
            let mut scratch = vec![0u8; 64 * 1024];
            while self.seen <= self.drain_limit {
                match self.inner.read(&mut scratch) {
                    Ok(0) => break,
                    Ok(m) => self.seen += m as u64,
                    Err(e) => return Err(self.read_error(&e)),
                }
            }
            return Err(self.fail(
                S3Error::with_code(
                    S3ErrorCode::EntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed size",
                )
                .with_extra("ProposedSize", self.seen.to_string())
                .with_extra("MaxSizeAllowed", self.max.to_string()),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> Form {
        Form {
            fields: fields
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn policy(json: &str) -> Result<PostPolicy, S3Error> {
        PostPolicy::parse(&B64.encode(json))
    }

    const SIGNED: [(&str, &str); 3] = [
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", "AK/20260101/us-east-1/s3/aws4_request"),
        ("x-amz-date", "20260101T000000Z"),
    ];

    fn signed_conditions() -> &'static str {
        r#"{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": "AK/20260101/us-east-1/s3/aws4_request"}, {"x-amz-date": "20260101T000000Z"}"#
    }

    #[test]
    fn conditions_match_cover_and_print_as_s3_does() {
        let p = policy(&format!(
            r#"{{"expiration": "2030-01-01T00:00:00.000Z", "conditions": [{{"bucket": "b"}}, ["starts-with", "$key", "user/"], ["content-length-range", 5, "10"], ["content-length-range", 1, 8], {}]}}"#,
            signed_conditions()
        ))
        .expect("policy");
        let mut fields = vec![("key", "user/x")];
        fields.extend(SIGNED);
        let f = form(&fields);
        assert_eq!(p.check(&f, "b", "user/x").expect("ok"), (5, 8));
        let e = p.check(&f, "b", "other/x").expect_err("prefix");
        assert_eq!(e.code(), S3ErrorCode::AccessDenied);
        assert_eq!(
            e.message(),
            r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/"]"#
        );
        let e = p.check(&f, "c", "user/x").expect_err("bucket");
        assert_eq!(
            e.message(),
            r#"Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "b"]"#
        );
        fields.push(("X-Extra", "1"));
        fields.push(("x-ignore-submit", "1"));
        let e = p.check(&form(&fields), "b", "user/x").expect_err("extra");
        assert_eq!(
            e.message(),
            "Invalid according to Policy: Extra input fields: X-Extra"
        );
    }

    #[test]
    fn the_bucket_is_an_input_field() {
        let p = policy(&format!(
            r#"{{"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "$key", "k"], {}]}}"#,
            signed_conditions()
        ))
        .expect("policy");
        let mut fields = vec![("key", "k")];
        fields.extend(SIGNED);
        let e = p.check(&form(&fields), "b", "k").expect_err("bucket");
        assert_eq!(
            e.message(),
            "Invalid according to Policy: Extra input fields: bucket"
        );
    }

    #[test]
    fn malformed_policies_are_invalid_policy_documents() {
        for (json, message) in [
            ("{", "Invalid Policy: Invalid JSON."),
            (
                r#"{"conditions": []}"#,
                "Invalid Policy: Policy missing expiration.",
            ),
            (
                r#"{"expiration": "2030-01-01T00:00:00Z"}"#,
                "Invalid Policy: Policy missing conditions.",
            ),
            (
                r#"{"expiration": "2030-01-01T00:00:00+02:00", "conditions": []}"#,
                "Invalid Policy: Invalid 'expiration' value: '2030-01-01T00:00:00+02:00'",
            ),
            (
                r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [{"a": "1", "b": "2"}]}"#,
                "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
            ),
            (
                r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [{"a": 1}]}"#,
                "Invalid Policy: Invalid Simple-Condition: value must be a string.",
            ),
            (
                r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [], "Statement": []}"#,
                "Invalid Policy: Unexpected: 'statement'",
            ),
        ] {
            let e = policy(json).expect_err(json);
            assert_eq!(e.code(), S3ErrorCode::InvalidPolicyDocument, "{json}");
            assert_eq!(e.message(), message, "{json}");
        }
        let e = PostPolicy::parse("%%%").expect_err("b64");
        assert_eq!(e.code(), S3ErrorCode::InvalidPolicyDocument);
    }

    #[test]
    fn credentials_name_their_fault() {
        assert!(parse_credential("AK/20260101/us-east-1/s3/aws4_request", "us-east-1").is_ok());
        let e = parse_credential("AK/20260101/eu-west-1/s3/aws4_request", "us-east-1")
            .expect_err("region");
        assert_eq!(e.code(), S3ErrorCode::InvalidArgument);
        assert_eq!(
            e.message(),
            "the region 'eu-west-1' is wrong; expecting 'us-east-1'"
        );
        assert!(parse_credential("AK/2026/us-east-1/s3/aws4_request", "us-east-1").is_err());
        assert!(parse_credential("/20260101/us-east-1/s3/aws4_request", "us-east-1").is_err());
        assert!(parse_credential("AK/20260101/us-east-1/kms/aws4_request", "us-east-1").is_err());
    }

    #[test]
    fn only_multipart_form_data_is_a_post_object() {
        let e = boundary("application/x-www-form-urlencoded").expect_err("type");
        assert_eq!(e.code(), S3ErrorCode::PreconditionFailed);
        assert_eq!(e.status(), 412);
        let e = boundary("multipart/form-data").expect_err("boundary");
        assert_eq!(e.code(), S3ErrorCode::MalformedPOSTRequest);
        assert_eq!(
            boundary("multipart/form-data; boundary=xyz").expect("ok"),
            "xyz"
        );
    }

    #[test]
    fn locations_encode_the_key() {
        assert_eq!(
            location(false, Some("127.0.0.1:9000"), "b", "a/b c"),
            "http://127.0.0.1:9000/b/a%2Fb%20c"
        );
        assert_eq!(
            location(true, Some("b.localhost:9443"), "b", "k"),
            "https://b.localhost:9443/k"
        );
        assert_eq!(form_encode("\"e t\"/"), "%22e+t%22%2F");
    }
}
