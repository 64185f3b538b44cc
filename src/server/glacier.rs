//! The Glacier vault API (`2012-06-01`, rest-json) on the S3 listeners, for unmodified Glacier clients
//! (boto3's `glacier` client).
//!
//! A request is Glacier's when its path is `/{accountId}/vaults…` with `accountId` `-` or 12 digits, or
//! when it carries `x-amz-glacier-version` ([`is_glacier`]); S3 never sees it. It is authenticated with
//! SigV4 for the signing name `glacier` (never skipped: an unsigned request is
//! `MissingAuthenticationTokenException`), `-` becomes the signer's account, and the operation runs on
//! a worker thread against [`Glacier`], which authorizes it. Errors are Glacier's JSON
//! (`{"code", "message", "type"}`, which botocore's rest-json parser reads the code from). Glacier
//! operations this server does not implement (jobs, multipart uploads, notifications, tags, data
//! retrieval policies, provisioned capacity) are `501 NotImplemented`; any other path under `vaults`
//! is `400 UnknownOperationException`.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use hyper::body::Incoming;

use super::S3Service;
use super::auth::{Connection, IdentitySource};
use super::body::{self, ResponseBody};
use crate::aws::presign::{self, Payload, S3Policy};
use crate::aws::sigv4::{SigV4Error, SignableRequest};
use crate::glacier::{Glacier, GlacierError, GlacierErrorCode, MAX_ARCHIVE_BYTES};
use crate::iam::context::{AuthType, Caller, RequestContext};

/// The Glacier operations served.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    ListVaults(Option<usize>, Option<String>),
    CreateVault(String),
    DescribeVault(String),
    DeleteVault(String),
    UploadArchive(String),
    DeleteArchive(String, String),
    SetVaultAccessPolicy(String),
    GetVaultAccessPolicy(String),
    DeleteVaultAccessPolicy(String),
    InitiateVaultLock(String),
    CompleteVaultLock(String, String),
    AbortVaultLock(String),
    GetVaultLock(String),
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Self::ListVaults(..) => "ListVaults",
            Self::CreateVault(_) => "CreateVault",
            Self::DescribeVault(_) => "DescribeVault",
            Self::DeleteVault(_) => "DeleteVault",
            Self::UploadArchive(_) => "UploadArchive",
            Self::DeleteArchive(..) => "DeleteArchive",
            Self::SetVaultAccessPolicy(_) => "SetVaultAccessPolicy",
            Self::GetVaultAccessPolicy(_) => "GetVaultAccessPolicy",
            Self::DeleteVaultAccessPolicy(_) => "DeleteVaultAccessPolicy",
            Self::InitiateVaultLock(_) => "InitiateVaultLock",
            Self::CompleteVaultLock(..) => "CompleteVaultLock",
            Self::AbortVaultLock(_) => "AbortVaultLock",
            Self::GetVaultLock(_) => "GetVaultLock",
        }
    }
}

/// A successful answer.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    json: Option<String>,
}

impl Answer {
    fn empty(status: u16, headers: Vec<(String, String)>) -> Self {
        Self {
            status,
            headers,
            json: None,
        }
    }

    fn json(value: &impl serde::Serialize) -> Result<Self, GlacierError> {
        Ok(Self {
            status: 200,
            headers: Vec::new(),
            json: Some(
                serde_json::to_string(value)
                    .map_err(|_| GlacierError::internal("the answer cannot be rendered"))?,
            ),
        })
    }
}

/// Whether a request is for the Glacier API: the path is `/{-|12 digits}/vaults[/…]`, or the request
/// carries `x-amz-glacier-version`.
pub(crate) fn is_glacier(target: &str, headers: &[(String, String)]) -> bool {
    if headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-glacier-version"))
    {
        return true;
    }
    let path = target.split('?').next().unwrap_or_default();
    let mut segments = path.trim_start_matches('/').split('/');
    let account = segments.next().unwrap_or_default();
    let is_account =
        account == "-" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
    is_account && segments.next() == Some("vaults")
}

/// Answers one Glacier request.
pub(crate) async fn handle(
    svc: Arc<S3Service>,
    method: &str,
    target: &str,
    headers: Vec<(String, String)>,
    incoming: Incoming,
    conn: Connection,
) -> hyper::Response<ResponseBody> {
    let started = Instant::now();
    let request_id = super::request_id();
    let has_body = super::content_length(&headers) > 0
        || headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
    let mut op_name = "-";
    let mut principal = "anonymous".to_owned();
    let outcome = run(
        svc,
        method,
        target,
        headers,
        incoming,
        conn,
        &mut op_name,
        &mut principal,
    )
    .await;
    let (status, headers, body, code) = match outcome {
        Ok(a) => {
            let mut headers = a.headers;
            if a.json.is_some() {
                headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
            }
            (a.status, headers, a.json.unwrap_or_default(), None)
        }
        Err(e) => {
            let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
            if has_body {
                headers.push(("Connection".to_owned(), "close".to_owned()));
            }
            (
                e.code().status(),
                headers,
                e.to_json(),
                Some(e.code().as_str()),
            )
        }
    };
    tracing::info!(
        target: "s3crypt::access",
        request_id = %request_id,
        remote = %conn.peer,
        tls = conn.tls,
        principal = %principal,
        service = "glacier",
        operation = op_name,
        status,
        error_code = code.unwrap_or("-"),
        duration_ms = started.elapsed().as_secs_f64() * 1e3,
    );
    let mut r = hyper::Response::new(body::full(body));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let mut all = headers;
    all.push(("x-amzn-RequestId".to_owned(), request_id));
    super::append_headers(&mut r, all);
    r
}

#[allow(clippy::too_many_arguments)]
async fn run(
    svc: Arc<S3Service>,
    method: &str,
    target: &str,
    headers: Vec<(String, String)>,
    incoming: Incoming,
    conn: Connection,
    op_name: &mut &'static str,
    principal: &mut String,
) -> Result<Answer, GlacierError> {
    let (account, op) = route(method, target)?;
    *op_name = op.name();
    let glacier = svc.glacier.clone().ok_or_else(|| {
        GlacierError::new(
            GlacierErrorCode::ServiceUnavailable,
            "Glacier vaults are not enabled on this endpoint",
        )
    })?;
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let upload = matches!(op, Op::UploadArchive(_));
    let limit = if upload {
        MAX_ARCHIVE_BYTES
    } else {
        svc.options.max_xml_body
    };
    if super::content_length(&headers) > limit as u64 {
        return Err(too_large(limit));
    }
    let auth = |body: &[u8], defer: bool| {
        authenticate(
            method,
            target,
            &headers,
            body,
            svc.identities.as_ref(),
            &svc.options.region,
            conn,
            defer,
        )
    };
    // An archive is read only once its signature verified (over the signed x-amz-content-sha256,
    // which Glacier requires), so no anonymous client makes the server hold 64 MiB; a small body is
    // read first and hashed into the signature.
    let signed_hash = if upload {
        if header("x-amz-content-sha256").is_none() {
            return Err(GlacierError::new(
                GlacierErrorCode::MissingParameterValue,
                "Missing x-amz-content-sha256",
            ));
        }
        let (ctx, payload) = auth(&[], true)?;
        let Payload::Sha256(hash) = payload else {
            return Err(GlacierError::new(
                GlacierErrorCode::InvalidParameterValue,
                "x-amz-content-sha256 must be the hex SHA-256 of the archive",
            ));
        };
        Some((ctx, hash))
    } else {
        None
    };
    let body = body::collect(incoming, limit, svc.options.body_idle_timeout)
        .await
        .map_err(|fault| match fault {
            body::BodyFault::Timeout => GlacierError::new(
                GlacierErrorCode::RequestTimeout,
                "The body did not arrive in time",
            ),
            body::BodyFault::Incomplete => GlacierError::new(
                GlacierErrorCode::InvalidParameterValue,
                "The body ended early",
            ),
        })?
        .ok_or_else(|| too_large(limit))?;
    let ctx = match signed_hash {
        Some((ctx, hash)) => {
            let computed = hex::encode(crate::primitives::hash::sha256(&body));
            if !crate::primitives::ct_eq(computed.as_bytes(), hash.as_bytes()) {
                return Err(sig_error(&SigV4Error::ContentSha256Mismatch {
                    client: hash,
                    computed,
                }));
            }
            ctx
        }
        None => {
            let (ctx, payload) = auth(&body, false)?;
            if !matches!(payload, Payload::Signed) {
                return Err(GlacierError::new(
                    GlacierErrorCode::InvalidParameterValue,
                    "x-amz-content-sha256 must be the SHA-256 of the body",
                ));
            }
            ctx
        }
    };
    if let Some(p) = ctx.caller.principal() {
        principal.clone_from(&p.arn);
    }
    let account = match account.as_str() {
        "-" => ctx
            .caller
            .principal()
            .map(|p| p.account.clone())
            .unwrap_or_default(),
        a => a.to_owned(),
    };
    let tree_hash = header("x-amz-sha256-tree-hash");
    let description = header("x-amz-archive-description");
    blocking(move || {
        operate(
            &glacier,
            &ctx,
            &account,
            op,
            &body,
            tree_hash.as_deref(),
            description.as_deref(),
        )
    })
    .await
}

/// Runs `f` on tokio's blocking pool.
async fn blocking(
    f: impl FnOnce() -> Result<Answer, GlacierError> + Send + 'static,
) -> Result<Answer, GlacierError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(GlacierError::internal("the request handler failed")))
}

fn too_large(limit: usize) -> GlacierError {
    GlacierError::new(
        GlacierErrorCode::InvalidParameterValue,
        format!("Invalid Content-Length: the body must be at most {limit} bytes"),
    )
}

/// Runs the operation (on a worker thread).
fn operate(
    g: &Glacier,
    ctx: &RequestContext,
    account: &str,
    op: Op,
    body: &[u8],
    tree_hash: Option<&str>,
    description: Option<&str>,
) -> Result<Answer, GlacierError> {
    let loc = |v: String| vec![("Location".to_owned(), v)];
    match op {
        Op::ListVaults(limit, marker) => {
            Answer::json(&g.list_vaults(ctx, account, marker.as_deref(), limit)?)
        }
        Op::CreateVault(v) => Ok(Answer::empty(201, loc(g.create_vault(ctx, account, &v)?))),
        Op::DescribeVault(v) => Answer::json(&g.describe_vault(ctx, account, &v)?),
        Op::DeleteVault(v) => {
            g.delete_vault(ctx, account, &v)?;
            Ok(Answer::empty(204, Vec::new()))
        }
        Op::UploadArchive(v) => {
            let a = g.upload_archive(ctx, account, &v, body, tree_hash, description)?;
            Ok(Answer::empty(
                201,
                vec![
                    ("Location".to_owned(), a.location),
                    ("x-amz-sha256-tree-hash".to_owned(), a.checksum),
                    ("x-amz-archive-id".to_owned(), a.archive_id),
                ],
            ))
        }
        Op::DeleteArchive(v, id) => {
            g.delete_archive(ctx, account, &v, &id)?;
            Ok(Answer::empty(204, Vec::new()))
        }
        Op::SetVaultAccessPolicy(v) => {
            g.set_access_policy(ctx, account, &v, &policy_of(body)?)?;
            Ok(Answer::empty(204, Vec::new()))
        }
        Op::GetVaultAccessPolicy(v) => Answer::json(&serde_json::json!({
            "Policy": g.access_policy(ctx, account, &v)?
        })),
        Op::DeleteVaultAccessPolicy(v) => {
            g.delete_access_policy(ctx, account, &v)?;
            Ok(Answer::empty(204, Vec::new()))
        }
        Op::InitiateVaultLock(v) => {
            let id = g.initiate_lock(ctx, account, &v, &policy_of(body)?)?;
            Ok(Answer::empty(201, vec![("x-amz-lock-id".to_owned(), id)]))
        }
        Op::CompleteVaultLock(v, id) => {
            g.complete_lock(ctx, account, &v, &id)?;
            Ok(Answer::empty(204, Vec::new()))
        }
        Op::AbortVaultLock(v) => {
            g.abort_lock(ctx, account, &v)?;
            Ok(Answer::empty(204, Vec::new()))
        }
        Op::GetVaultLock(v) => Answer::json(&g.lock(ctx, account, &v)?),
    }
}

/// The `Policy` member of a `{"Policy": "…"}` body.
fn policy_of(body: &[u8]) -> Result<String, GlacierError> {
    let missing = || {
        GlacierError::new(
            GlacierErrorCode::MissingParameterValue,
            "Required parameter missing: Policy",
        )
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(missing());
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        GlacierError::new(
            GlacierErrorCode::InvalidParameterValue,
            "The request body is not valid JSON",
        )
    })?;
    match value.get("Policy") {
        Some(serde_json::Value::String(p)) => Ok(p.clone()),
        None | Some(serde_json::Value::Null) => Err(missing()),
        Some(_) => Err(GlacierError::new(
            GlacierErrorCode::InvalidParameterValue,
            "Policy must be a string",
        )),
    }
}

/// The account segment and the operation of a Glacier path.
fn route(method: &str, target: &str) -> Result<(String, Op), GlacierError> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
        })
        .collect::<Result<_, _>>()
        .map_err(|_| {
            GlacierError::new(
                GlacierErrorCode::InvalidParameterValue,
                "The path is not UTF-8",
            )
        })?;
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let unknown = || {
        GlacierError::new(
            GlacierErrorCode::UnknownOperation,
            format!("No Glacier operation is {method} {}", printable(path)),
        )
    };
    let not_implemented = |what: &str| {
        GlacierError::new(
            GlacierErrorCode::NotImplemented,
            format!("s3crypt does not implement Glacier {what}"),
        )
    };
    let [account, "vaults", rest @ ..] = s.as_slice() else {
        return Err(unknown());
    };
    let v = |name: &str| name.to_owned();
    let op = match (method, rest) {
        ("GET", []) => {
            let (limit, marker) = list_query(query)?;
            Op::ListVaults(limit, marker)
        }
        ("PUT", [name]) => Op::CreateVault(v(name)),
        ("GET", [name]) => Op::DescribeVault(v(name)),
        ("DELETE", [name]) => Op::DeleteVault(v(name)),
        ("POST", [name, "archives"]) => Op::UploadArchive(v(name)),
        ("DELETE", [name, "archives", id]) => Op::DeleteArchive(v(name), v(id)),
        ("PUT", [name, "access-policy"]) => Op::SetVaultAccessPolicy(v(name)),
        ("GET", [name, "access-policy"]) => Op::GetVaultAccessPolicy(v(name)),
        ("DELETE", [name, "access-policy"]) => Op::DeleteVaultAccessPolicy(v(name)),
        ("POST", [name, "lock-policy"]) => Op::InitiateVaultLock(v(name)),
        ("POST", [name, "lock-policy", id]) => Op::CompleteVaultLock(v(name), v(id)),
        ("DELETE", [name, "lock-policy"]) => Op::AbortVaultLock(v(name)),
        ("GET", [name, "lock-policy"]) => Op::GetVaultLock(v(name)),
        (_, [_, "jobs", ..]) => return Err(not_implemented("jobs (retrievals, inventories)")),
        (_, [_, "multipart-uploads", ..]) => {
            return Err(not_implemented("multipart archive uploads"));
        }
        (_, [_, "notification-configuration"]) => {
            return Err(not_implemented("vault notifications"));
        }
        (_, [_, "tags"]) => return Err(not_implemented("vault tags")),
        _ => return Err(unknown()),
    };
    Ok(((*account).to_owned(), op))
}

/// ListVaults' query: `limit` and `marker`.
fn list_query(query: &str) -> Result<(Option<usize>, Option<String>), GlacierError> {
    let mut limit = None;
    let mut marker = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_encoding::percent_decode_str(&v.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        match k {
            "limit" => {
                limit = Some(v.parse::<usize>().map_err(|_| {
                    GlacierError::new(
                        GlacierErrorCode::InvalidParameterValue,
                        "The limit must be a number",
                    )
                })?);
            }
            "marker" => marker = Some(v),
            _ => {}
        }
    }
    Ok((limit, marker))
}

fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(200)
        .collect()
}

/// SigV4 for the signing name `glacier`: the context the policies see and how the body is protected
/// (with `defer`, a hex `x-amz-content-sha256` is returned as [`Payload::Sha256`] for the caller to
/// check against the body it reads next).
#[allow(clippy::too_many_arguments)]
fn authenticate(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
    identities: &dyn IdentitySource,
    region: &str,
    conn: Connection,
    defer: bool,
) -> Result<(RequestContext, Payload), GlacierError> {
    let mut policy = S3Policy::new(region);
    policy.service = "glacier".to_owned();
    policy.defer_body_hash = defer;
    let req = SignableRequest {
        method,
        uri: target,
        headers,
        body,
    };
    let now = SystemTime::now();
    let auth = presign::verify_s3(
        &req,
        |id| identities.identity(id).map(|i| i.credentials),
        &policy,
        now,
    )
    .map_err(|e| sig_error(&e))?;
    let identity = identities.identity(&auth.access_key_id).ok_or_else(|| {
        // Deleted between the two lookups.
        sig_error(&SigV4Error::UnrecognizedClient {
            access_key_id: auth.access_key_id.clone(),
        })
    })?;
    let mut ctx = RequestContext::new(Caller::Principal(identity.principal), AuthType::Header, now)
        .with_tls(conn.tls)
        .with_source_ip(conn.peer.ip());
    ctx.signature_age = Some(auth.signature_age);
    ctx.identity_policies = Arc::from(identity.policies);
    Ok((ctx, auth.payload))
}

/// A SigV4 failure as Glacier answers it (the JSON services' codes and messages; 403 except for a
/// malformed signature; a body that is not the signed hash is a bad parameter, as a bad tree hash is).
fn sig_error(e: &SigV4Error) -> GlacierError {
    if let SigV4Error::ContentSha256Mismatch { .. } = e {
        return GlacierError::new(
            GlacierErrorCode::InvalidParameterValue,
            "The x-amz-content-sha256 header does not match the SHA-256 of the body",
        );
    }
    let wire = e.kms();
    let code = match wire.code {
        "MissingAuthenticationTokenException" => GlacierErrorCode::MissingAuthenticationToken,
        "UnrecognizedClientException" => GlacierErrorCode::UnrecognizedClient,
        "InvalidSignatureException" => GlacierErrorCode::InvalidSignature,
        _ => GlacierErrorCode::IncompleteSignature,
    };
    GlacierError::new(code, wire.message)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Attacker-chosen paths and bodies are refused with a typed error, never a panic.
        #[test]
        fn glacier_route_and_bodies_never_panic(
            method in prop_oneof![Just("GET"), Just("PUT"), Just("POST"), Just("DELETE"), Just("X")],
            pieces in proptest::collection::vec(
                prop_oneof![
                    Just("/".to_owned()), Just("-".to_owned()), Just("vaults".to_owned()), Just("archives".to_owned()), Just("lock-policy".to_owned()),
                    Just("access-policy".to_owned()), Just("?".to_owned()), Just("&".to_owned()), Just("=".to_owned()), Just("%".to_owned()), Just("%ff".to_owned()),
                    Just("limit=9999999999999999999999".to_owned()), Just("marker=".to_owned()), Just("..".to_owned()),
                    Just("123456789012".to_owned()), "[ -~]{0,8}",
                ],
                0..12,
            ),
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let target: String = pieces.concat();
            let _ = is_glacier(&target, &[]);
            let _ = route(method, &target);
            let _ = policy_of(&body);
        }
    }

    #[test]
    fn glacier_routes() {
        assert!(is_glacier("/-/vaults", &[]));
        assert!(is_glacier("/123456789012/vaults/v?x=1", &[]));
        assert!(!is_glacier("/-/other", &[]));
        assert!(!is_glacier("/12345678901/vaults", &[]));
        assert!(!is_glacier("/bucket/vaults", &[]));
        let h = [("X-Amz-Glacier-Version".to_owned(), "2012-06-01".to_owned())];
        assert!(is_glacier("/bucket", &h));
        let r = |m: &str, t: &str| route(m, t).map(|(_, op)| op);
        assert_eq!(
            r("POST", "/-/vaults/v/lock-policy/L1"),
            Ok(Op::CompleteVaultLock("v".into(), "L1".into()))
        );
        assert_eq!(
            r("DELETE", "/-/vaults/v%2Dx/archives/abc"),
            Ok(Op::DeleteArchive("v-x".into(), "abc".into()))
        );
        let code = |m: &str, t: &str| r(m, t).expect_err("refused").code();
        assert_eq!(
            code("POST", "/-/vaults/v/jobs"),
            GlacierErrorCode::NotImplemented
        );
        assert_eq!(
            code("POST", "/-/vaults/v/multipart-uploads"),
            GlacierErrorCode::NotImplemented
        );
        assert_eq!(
            code("PATCH", "/-/vaults/v"),
            GlacierErrorCode::UnknownOperation
        );
        assert_eq!(code("GET", "/x/y"), GlacierErrorCode::UnknownOperation);
        assert_eq!(
            code("GET", "/-/vaults?limit=x"),
            GlacierErrorCode::InvalidParameterValue
        );
    }
}
