//! Running an Object Lambda transformation: the function gets AWS's event, fetches the object through
//! a presigned `inputS3Url` on the supporting access point, and answers GetObject with
//! WriteGetObjectResponse ([`super::super::write_get_object_response`]) or HeadObject and List with
//! its return value (S3-FEATURES §3.2–3.4).
//!
//! - `inputS3Url` is signed with temporary credentials of the **caller** (its identity policies, its
//!   ARN), valid 61 seconds, so the caller's own permissions on the supporting access point apply and
//!   the function cannot act as a confused deputy. s3crypt revokes those credentials when the
//!   invocation ends: a URL kept by a function stops working then (AWS lets it live its 61 s).
//! - GetObject waits for whichever comes first: the function's WriteGetObjectResponse (its answer,
//!   streamed to the caller), or the end of the invocation (500 `LambdaResponseNotReceived`, never a
//!   hang; the function's own timeout bounds the wait, and [`WRITE_WINDOW`] bounds it again).
//! - HeadObject and List read `{statusCode, errorCode, errorMessage, headers | listResultXml |
//!   listBucketResult}` from the return value; anything else is 400 `LambdaInvalidResponse`.
//! - A function error or crash is 500 `LambdaResponseNotReceived` for GetObject (S3's documented
//!   behaviour when the function ends without an answer) and 400 `LambdaInvocationFailed` for
//!   HeadObject and List; an unknown function is 404 `LambdaNotFound`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::iam::context::Principal;
use crate::iam::policy::{ParseOptions, Policy};
use crate::iam::sessions::Sessions;
use crate::lambda::{EnvProvider, EnvVar, FunctionConfig, LambdaError, LambdaHost, RegistryError};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::object_lambda::event::{
    Event, FunctionAnswer, Operation, UserIdentity, head_headers, list_bucket_result_xml,
};
use crate::server::{Reply, S3Service};

/// How long S3 gives a function to send its whole WriteGetObjectResponse.
pub const WRITE_WINDOW: Duration = Duration::from_secs(60);
/// The lifetime of `inputS3Url` (AWS: 61 seconds).
pub const INPUT_URL_LIFETIME: Duration = Duration::from_secs(61);
/// How long an execution role's credentials live (a warm process keeps them).
const ROLE_SESSION: Duration = Duration::from_secs(12 * 3600);

/// What the server needs to run functions (set by `s3crypt serve` once its listener is bound).
#[derive(Debug)]
pub struct ObjectLambdaRuntime {
    /// The functions and their processes.
    pub host: Arc<LambdaHost>,
    /// The HTTPS endpoint functions reach this server at (`https://localhost:PORT`).
    pub endpoint: String,
    /// The account's IAM users, for `userIdentity.principalId` (`AIDA…`); without it, a user's
    /// principal id is its ARN.
    pub accounts: Option<crate::iam::users::AccountStore>,
}

impl ObjectLambdaRuntime {
    /// The user id (`AIDA…`) of IAM user `name`, if the account store knows it.
    #[must_use]
    pub fn user_id(&self, name: &str) -> Option<String> {
        let users = self.accounts.as_ref()?.list_users().ok()?;
        users
            .into_iter()
            .find(|u| u.user_name == name)
            .map(|u| u.user_id)
    }
}

/// The execution role of a function without `--role-policy`: only WriteGetObjectResponse (the
/// minimum of AWS's `AmazonS3ObjectLambdaExecutionRolePolicy`).
pub const DEFAULT_ROLE_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
"Action": "s3-object-lambda:WriteGetObjectResponse", "Resource": "*"}]}"#;

/// The principal of `function`'s execution role session (`arn:aws:sts::ACCOUNT:assumed-role/
/// s3crypt-lambda-NAME/NAME`).
#[must_use]
pub fn execution_role(account: &str, function: &str) -> Principal {
    Principal::assumed_role(account, &format!("s3crypt-lambda-{function}"), function, "")
}

/// The environment of a function's process: credentials of its execution role (bounded by its role
/// policy), this endpoint for S3 (`AWS_ENDPOINT_URL_S3`), host-prefix injection off (so
/// WriteGetObjectResponse reaches this host rather than `ROUTE.host`), and the CA bundle.
#[must_use]
pub fn function_environment(
    sessions: Arc<Sessions>,
    account: String,
    endpoint: String,
    ca_bundle: Option<String>,
) -> EnvProvider {
    Arc::new(move |f: &FunctionConfig| {
        let policy_text = f.role_policy.as_deref().unwrap_or(DEFAULT_ROLE_POLICY);
        let mut vars = vec![
            EnvVar::public("AWS_ENDPOINT_URL_S3", &endpoint),
            EnvVar::public("AWS_DISABLE_HOST_PREFIX_INJECTION", "true"),
        ];
        if let Some(ca) = &ca_bundle {
            for name in [
                "AWS_CA_BUNDLE",
                "REQUESTS_CA_BUNDLE",
                "SSL_CERT_FILE",
                "NODE_EXTRA_CA_CERTS",
            ] {
                vars.push(EnvVar::public(name, ca));
            }
        }
        let policies = match Policy::parse(policy_text, &ParseOptions::IDENTITY) {
            Ok(p) => vec![p],
            Err(e) => {
                tracing::warn!(function = %f.name, error = %e, "the role policy does not parse; the function gets no credentials");
                return vars;
            }
        };
        match sessions.issue(execution_role(&account, &f.name), policies, ROLE_SESSION) {
            Ok(creds) => {
                vars.push(EnvVar::public("AWS_ACCESS_KEY_ID", &creds.access_key_id));
                vars.push(EnvVar::secret(
                    "AWS_SECRET_ACCESS_KEY",
                    creds.secret_access_key.expose_secret(),
                ));
                vars.push(EnvVar::secret(
                    "AWS_SESSION_TOKEN",
                    creds.session_token.expose_secret(),
                ));
            }
            Err(e) => {
                tracing::warn!(function = %f.name, error = %e, "no credentials for the function");
            }
        }
        vars
    })
}

/// One transformed request.
#[derive(Debug)]
pub(crate) struct Transform<'a> {
    /// The configured `FunctionArn` (ARN, partial ARN or name, maybe qualified).
    pub function: &'a str,
    /// The configured `FunctionPayload`.
    pub payload: &'a str,
    /// The Object Lambda access point's ARN.
    pub access_point_arn: &'a str,
    /// The supporting access point's ARN and alias.
    pub supporting_access_point_arn: &'a str,
    /// The supporting access point's alias (how `inputS3Url` addresses it).
    pub supporting_alias: &'a str,
    /// The operation.
    pub operation: Operation,
    /// The object key (GetObject, HeadObject).
    pub key: &'a str,
    /// The caller's query parameters (authentication parameters are dropped).
    pub query: &'a [(String, String)],
    /// The caller's URL as received (scheme, host, path, query).
    pub url: String,
    /// The caller's headers.
    pub headers: &'a [(String, String)],
    /// The request id.
    pub request_id: &'a str,
    /// The caller.
    pub principal: &'a Principal,
    /// The caller's IAM user id (`AIDA…`), when it is a user.
    pub user_id: Option<String>,
    /// The caller's identity policies (bound the `inputS3Url` session).
    pub identity_policies: Vec<Policy>,
}

fn lambda_error(code: S3ErrorCode) -> S3Error {
    S3Error::from_code(code)
}

fn identity_of(p: &Principal, user_id: Option<String>) -> UserIdentity {
    let (kind, principal_id, session_issuer) = if p.is_root() {
        ("Root", p.account.clone(), None)
    } else if let Some(role) = p.role_arn() {
        let session = p.arn.rsplit('/').next().unwrap_or_default();
        let role_name = role.rsplit('/').next().unwrap_or_default();
        ("AssumedRole", format!("{role_name}:{session}"), Some(role))
    } else {
        ("IAMUser", user_id.unwrap_or_else(|| p.arn.clone()), None)
    };
    UserIdentity {
        kind,
        principal_id,
        arn: p.arn.clone(),
        account_id: p.account.clone(),
        access_key_id: p.access_key_id.clone(),
        user_name: p.user_name.clone(),
        session_issuer,
    }
}

/// `?a=b&c=d` of the query pairs that are not authentication parameters, SigV4-encoded.
pub(crate) fn query_string(query: &[(String, String)], keep: impl Fn(&str) -> bool) -> String {
    let parts: Vec<String> = query
        .iter()
        .filter(|(k, _)| !crate::s3::object_lambda::event::is_auth_query(k) && keep(k))
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::aws::sigv4::uri_encode(k, false),
                crate::aws::sigv4::uri_encode(v, false)
            )
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

impl S3Service {
    /// Runs `t` through its function and answers the caller.
    ///
    /// # Errors
    /// S3's Object Lambda errors (see the module documentation); 501 `NotImplemented` when this
    /// server has no Lambda runtime (a library user that did not call
    /// [`S3Service::set_object_lambda_runtime`]).
    pub(crate) async fn run_transformation(&self, t: Transform<'_>) -> Result<Reply, S3Error> {
        let Some(rt) = self.object_lambda_runtime() else {
            return Err(S3Error::with_code(
                S3ErrorCode::NotImplemented,
                "This s3crypt server runs no Lambda functions (start it with s3crypt serve)",
            ));
        };
        if rt.host.registry().get(t.function).is_err() {
            return Err(lambda_error(S3ErrorCode::LambdaNotFound));
        }
        let region = self.options().region.clone();
        let credentials = self
            .sessions()
            .issue(
                t.principal.clone(),
                t.identity_policies.clone(),
                INPUT_URL_LIFETIME,
            )
            .map_err(|e| S3Error::internal_because("issuing the inputS3Url credentials", e))?;
        let session_key = credentials.access_key_id.clone();
        let (method, target) = match t.operation {
            Operation::GetObject | Operation::HeadObject => (
                if t.operation == Operation::GetObject {
                    "GET"
                } else {
                    "HEAD"
                },
                format!(
                    "{}/{}/{}{}",
                    rt.endpoint,
                    t.supporting_alias,
                    crate::aws::sigv4::uri_encode(t.key, true),
                    // GET/HEAD presign only versionId: a Range or partNumber reaches the function in
                    // userRequest, and the function applies it.
                    query_string(t.query, |k| k == "versionId")
                ),
            ),
            Operation::ListObjects | Operation::ListObjectsV2 => (
                "GET",
                format!(
                    "{}/{}{}",
                    rt.endpoint,
                    t.supporting_alias,
                    query_string(t.query, |_| true)
                ),
            ),
        };
        let input_url = crate::aws::presign::presign_url(
            method,
            &target,
            &credentials.credentials(),
            &region,
            "s3",
            SystemTime::now(),
            INPUT_URL_LIFETIME.as_secs(),
            &[],
        )
        .map_err(|e| S3Error::internal_because("presigning inputS3Url", e));
        let input_url = match input_url {
            Ok(u) => u,
            Err(e) => {
                self.sessions().revoke(&session_key);
                return Err(e);
            }
        };
        let slot = if t.operation == Operation::GetObject {
            Some(
                self.output_routes()
                    .open(&t.principal.account, WRITE_WINDOW)
                    .map_err(|e| S3Error::internal_because("opening an output route", e))?,
            )
        } else {
            None
        };
        let identity = identity_of(t.principal, t.user_id.clone());
        let event = Event {
            request_id: t.request_id,
            operation: t.operation,
            input_s3_url: &input_url,
            output: slot.as_ref().map(|s| (s.route.as_str(), s.token.as_str())),
            access_point_arn: t.access_point_arn,
            supporting_access_point_arn: t.supporting_access_point_arn,
            payload: t.payload,
            url: t.url.clone(),
            headers: t.headers,
            identity: &identity,
        }
        .to_json();
        // What the function's output must not carry into the log: the caller session's token and
        // secret-derived signature in `inputS3Url`, and the output token.
        let mut secrets: Vec<zeroize::Zeroizing<String>> = vec![
            zeroize::Zeroizing::new(credentials.session_token.expose_secret().to_owned()),
            zeroize::Zeroizing::new(crate::aws::sigv4::uri_encode(
                credentials.session_token.expose_secret(),
                false,
            )),
        ];
        if let Some(signature) = input_url.split("X-Amz-Signature=").nth(1) {
            secrets.push(zeroize::Zeroizing::new(signature.to_owned()));
        }
        if let Some(slot) = &slot {
            secrets.push(zeroize::Zeroizing::new(slot.token.clone()));
        }
        drop(credentials);
        let host = Arc::clone(&rt.host);
        let function = t.function.to_owned();
        let sessions = Arc::clone(self.sessions());
        let request_id = t.request_id.to_owned();
        let access_point = t.access_point_arn.to_owned();
        // The invocation runs on its own task: for GetObject the caller's answer (the function's
        // WriteGetObjectResponse) streams while the function still runs.
        let mut invocation = tokio::spawn(async move {
            let result = host.invoke(&function, event).await;
            sessions.revoke(&session_key);
            match &result {
                Ok(inv) => tracing::info!(
                    target: "s3crypt::object_lambda",
                    request_id = %request_id,
                    access_point = %access_point,
                    function = %function,
                    lambda_request_id = %inv.request_id,
                    function_error = inv.function_error.as_deref().unwrap_or(""),
                    logs = %redact(&inv.logs, &secrets),
                    "invocation ended"
                ),
                Err(e) => tracing::warn!(
                    target: "s3crypt::object_lambda",
                    request_id = %request_id,
                    access_point = %access_point,
                    function = %function,
                    error = %e,
                    "invocation failed"
                ),
            }
            result
        });
        if let Some(mut slot) = slot {
            let outcome = tokio::select! {
                biased;
                forwarded = &mut slot.response => Ok(forwarded),
                ended = &mut invocation => Err(ended),
            };
            return match outcome {
                Ok(Ok(forwarded)) => Ok(forwarded.into_reply(t.request_id)),
                // The route closed without an answer (its window passed).
                Ok(Err(_)) => Err(lambda_error(S3ErrorCode::LambdaResponseNotReceived)),
                Err(ended) => {
                    // The function may have answered just before it returned.
                    if let Ok(forwarded) = slot.response.try_recv() {
                        return Ok(forwarded.into_reply(t.request_id));
                    }
                    Err(match ended {
                        Ok(Err(LambdaError::Registry(RegistryError::FunctionNotFound(_)))) => {
                            lambda_error(S3ErrorCode::LambdaNotFound)
                        }
                        _ => lambda_error(S3ErrorCode::LambdaResponseNotReceived),
                    })
                }
            };
        }
        let invocation = match invocation.await {
            Ok(Ok(inv)) if inv.function_error.is_none() => inv,
            Ok(Err(LambdaError::Registry(RegistryError::FunctionNotFound(_)))) => {
                return Err(lambda_error(S3ErrorCode::LambdaNotFound));
            }
            _ => return Err(lambda_error(S3ErrorCode::LambdaInvocationFailed)),
        };
        let answer = FunctionAnswer::parse(&invocation.payload)
            .map_err(|e| S3Error::with_code(S3ErrorCode::LambdaInvalidResponse, e.to_string()))?;
        answer_caller(t.operation, &answer, t.request_id)
    }
}

/// `logs` with every occurrence of each of `secrets` replaced by `[REDACTED]`.
fn redact(logs: &str, secrets: &[zeroize::Zeroizing<String>]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(logs.to_owned(), |l, s| l.replace(s.as_str(), "[REDACTED]"))
}

/// The caller's answer from a HeadObject or List function's return value.
fn answer_caller(
    operation: Operation,
    answer: &FunctionAnswer,
    request_id: &str,
) -> Result<Reply, S3Error> {
    let invalid = |m: &str| S3Error::with_code(S3ErrorCode::LambdaInvalidResponse, m.to_owned());
    if answer.status_code >= 300 {
        // The function's refusal, as it gave it (a HEAD answer has no body).
        if operation == Operation::HeadObject {
            return Ok(Reply::empty(answer.status_code, Vec::new()));
        }
        return Ok(super::super::write_get_object_response::error_reply(
            answer.status_code,
            answer.error_code.as_deref().unwrap_or_default(),
            answer.error_message.as_deref().unwrap_or_default(),
            request_id,
        ));
    }
    match operation {
        Operation::HeadObject => {
            let headers = answer
                .headers
                .as_ref()
                .ok_or_else(|| invalid("a HeadObject answer needs headers"))?;
            let headers = head_headers(headers);
            if !headers.iter().any(|(n, _)| n == "content-length") {
                return Err(invalid("a HeadObject answer needs Content-Length"));
            }
            Ok(Reply::empty(answer.status_code, headers))
        }
        Operation::ListObjects | Operation::ListObjectsV2 => {
            match (&answer.list_result_xml, &answer.list_bucket_result) {
                (Some(xml), None) => Ok(Reply::xml(answer.status_code, xml.clone())),
                (None, Some(result)) => {
                    let xml = list_bucket_result_xml(result, operation == Operation::ListObjectsV2)
                        .map_err(|e| invalid(&e.to_string()))?;
                    Ok(Reply::xml(answer.status_code, xml))
                }
                _ => Err(invalid(
                    "a List answer needs exactly one of listResultXml and listBucketResult",
                )),
            }
        }
        Operation::GetObject => Err(invalid("GetObject answers with WriteGetObjectResponse")),
    }
}
