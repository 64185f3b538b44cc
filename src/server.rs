//! `s3crypt serve`: an S3-compatible HTTPS endpoint over the SSE engine, for unmodified S3 clients
//! (boto3, the AWS CLI, the AWS SDKs, rclone, browsers with presigned URLs).
//!
//! | piece                         | module                    |
//! |-------------------------------|---------------------------|
//! | listeners, limits, shutdown   | `listen` ([`serve`])      |
//! | local CA and TLS config       | [`tls`]                   |
//! | bucket, key and operation     | `request`                 |
//! | who is calling                | [`auth`]                  |
//! | bodies with back-pressure     | `body`                    |
//! | bucket operations             | `bucket`                  |
//! | object operations             | `object`                  |
//! | multipart uploads             | `multipart`               |
//! | POST Object (browser forms)   | `post`                    |
//! | Glacier vaults (`/-/vaults…`) | `glacier`                 |
//!
//! A request goes: connection (TLS or plain, a slot out of [`ServerOptions::max_connections`]) →
//! headers within [`ServerOptions::header_read_timeout`] → bucket, key and operation (path-style
//! `/BUCKET/KEY` or virtual-hosted `BUCKET.DOMAIN/KEY`) → the body of a non-data request is read
//! whole (at most [`ServerOptions::max_xml_body`]); object data is streamed → SigV4 (or anonymous) →
//! the operation on a worker thread, which asks the one policy engine ([`crate::iam::authorize()`])
//! through the SSE engine → the response (object data streamed back) → one access log line
//! (`tracing`, target `s3crypt::access`).
//!
//! Every error is S3's XML with S3's code and status; an operation this server does not implement is
//! `501 NotImplemented`, never a hang or an HTML page.

mod access_log;
pub mod auth;
mod body;
mod bucket;
pub(crate) mod conn;
mod control;
mod glacier;
mod listen;
mod multipart;
mod object;
pub mod object_lambda;
mod post;
mod request;
pub mod tls;
mod versioning;
pub mod vpc_endpoint;
pub mod write_get_object_response;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hyper::body::Incoming;

pub use self::access_log::DeliveryOptions;
use self::auth::Connection;
pub use self::auth::{Identity, IdentitySource, StaticKeys};
use self::body::ResponseBody;
pub use self::listen::{Listeners, serve};
pub use self::object_lambda::invoke::{
    ObjectLambdaRuntime, function_environment as object_lambda_environment,
};
use self::request::{Op, S3Request};
use crate::aws::sigv4::SignableRequest;
use crate::iam::context::RequestContext;
use crate::s3::access_point::AccessPoint;
use crate::s3::cors::CorsConfiguration;
use crate::s3::{S3Error, S3ErrorCode};
use crate::sse::engine::SseEngine;
use crate::sse::headers::Headers;

/// The documented default HTTPS address of `s3crypt serve`.
pub const DEFAULT_HTTPS_ADDR: &str = "127.0.0.1:9443";

/// Limits and settings of the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    /// The region the endpoint is in (credential scopes must name it; `GetBucketLocation`).
    pub region: String,
    /// Names under which buckets are addressed virtual-hosted style (`BUCKET.localhost`).
    pub domains: Vec<String>,
    /// Time for a request's headers (and a TLS handshake) to arrive; also the keep-alive idle limit.
    pub header_read_timeout: Duration,
    /// Time a request body may pause between pieces before the request fails with
    /// `RequestTimeout`.
    pub body_idle_timeout: Duration,
    /// Time a response write may stall before the connection is dropped.
    pub write_timeout: Duration,
    /// Connections served at once; more are answered 503 `SlowDown` and closed.
    pub max_connections: usize,
    /// A connection's read buffer: the largest request line and header section (a larger one is
    /// answered 431), and the largest piece a body is read in. S3's own 8 KiB limit on the header
    /// section of writes is checked by the engine (`RequestHeaderSectionTooLarge`).
    pub max_header_bytes: usize,
    /// The most request headers.
    pub max_headers: usize,
    /// The largest non-object request body (XML, policies).
    pub max_xml_body: usize,
    /// The largest single PUT (S3: 5 GiB).
    pub max_object_size: u64,
    /// Time in-flight requests get to finish on shutdown.
    pub shutdown_grace: Duration,
    /// Server access log delivery.
    pub access_logs: DeliveryOptions,
    /// The VPC endpoints this process serves (one HTTPS listener each; [`vpc_endpoint`]).
    pub vpc_endpoints: Vec<vpc_endpoint::VpcEndpoint>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            domains: vec!["localhost".to_owned()],
            header_read_timeout: Duration::from_secs(20),
            body_idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_xml_body: 1024 * 1024,
            max_object_size: 5 * 1024 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(10),
            access_logs: DeliveryOptions::default(),
            vpc_endpoints: Vec::new(),
        }
    }
}

/// The S3 endpoint: the engine, the access keys, the options.
#[derive(Debug)]
pub struct S3Service {
    engine: Arc<SseEngine>,
    identities: Arc<dyn IdentitySource>,
    options: ServerOptions,
    access_logs: access_log::Delivery,
    /// Bucket → (read at, its CORS configuration), for [`CORS_CONFIG_TTL`].
    cors: std::sync::Mutex<CorsCache>,
    /// The Glacier vaults served on the same listeners ([`S3Service::with_glacier`]).
    glacier: Option<Arc<crate::glacier::Glacier>>,
    /// The policies of [`ServerOptions::vpc_endpoints`] ([`S3Service::with_vpc_endpoint_policies`]).
    vpc_policies: Option<Arc<vpc_endpoint::EndpointPolicies>>,
    /// Temporary credentials issued by this process ([`S3Service::sessions`]).
    sessions: Arc<crate::iam::sessions::Sessions>,
    /// Object Lambda GetObjects waiting for their function's WriteGetObjectResponse.
    output_routes: Arc<write_get_object_response::OutputRoutes>,
    /// The functions that run Object Lambda transformations ([`S3Service::set_object_lambda_runtime`]).
    object_lambda: std::sync::OnceLock<ObjectLambdaRuntime>,
}

type CorsCache = std::collections::HashMap<String, (Instant, Option<Arc<CorsConfiguration>>)>;

/// The bucket configuration document holding a bucket's CORS configuration (JSON).
pub(crate) const CORS_CONFIG: &str = "cors";
/// How long a bucket's CORS configuration is used before it is read again (another process may change
/// it; this one forgets its copy at once on its own changes).
const CORS_CONFIG_TTL: Duration = Duration::from_secs(2);

/// A successful answer, before the common headers are added.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: ResponseBody,
    /// Bytes of the body, for the access log.
    pub(crate) length: u64,
}

impl Reply {
    /// An answer with an XML document.
    pub(crate) fn xml(status: u16, xml: String) -> Self {
        let length = xml.len() as u64;
        Self {
            status,
            headers: vec![("Content-Type".to_owned(), "application/xml".to_owned())],
            body: body::full(xml),
            length,
        }
    }

    /// An answer without a body.
    pub(crate) fn empty(status: u16, headers: Vec<(String, String)>) -> Self {
        Self {
            status,
            headers,
            body: body::empty(),
            length: 0,
        }
    }
}

/// What an operation handler gets.
pub(crate) struct Call {
    pub(crate) req: S3Request,
    pub(crate) ctx: RequestContext,
    pub(crate) headers: Headers,
    /// The body, for operations whose body is read whole.
    pub(crate) body: Vec<u8>,
    /// How the body is protected (`None`: anonymous).
    pub(crate) payload: Option<crate::aws::presign::Payload>,
    /// The HTTP method.
    pub(crate) method: String,
}

impl S3Service {
    /// An endpoint over `engine`, authenticating with `identities`.
    #[must_use]
    pub fn new(
        engine: Arc<SseEngine>,
        identities: Arc<dyn IdentitySource>,
        options: ServerOptions,
    ) -> Self {
        let sessions = Arc::new(crate::iam::sessions::Sessions::new());
        let identities: Arc<dyn IdentitySource> = Arc::new(auth::SessionKeys {
            sessions: Arc::clone(&sessions),
            inner: identities,
        });
        let access_logs = access_log::Delivery::start(
            Arc::clone(&engine),
            options.region.clone(),
            options.access_logs.clone(),
        );
        Self {
            engine,
            identities,
            options,
            access_logs,
            cors: std::sync::Mutex::default(),
            glacier: None,
            vpc_policies: None,
            sessions,
            output_routes: Arc::new(write_get_object_response::OutputRoutes::new()),
            object_lambda: std::sync::OnceLock::new(),
        }
    }

    /// The output routes of Object Lambda GetObjects waiting for WriteGetObjectResponse.
    #[must_use]
    pub fn output_routes(&self) -> &Arc<write_get_object_response::OutputRoutes> {
        &self.output_routes
    }

    /// The temporary credentials this endpoint accepts besides its identities: those it issues here
    /// (execution roles of Lambda functions, Object Lambda's `inputS3Url` sessions) are valid on it
    /// until they expire.
    #[must_use]
    pub fn sessions(&self) -> &Arc<crate::iam::sessions::Sessions> {
        &self.sessions
    }

    /// Runs Object Lambda transformations with `runtime`'s functions (once; later calls are ignored).
    /// Without it, transformed requests answer 501 `NotImplemented`.
    pub fn set_object_lambda_runtime(&self, runtime: ObjectLambdaRuntime) {
        if self.object_lambda.set(runtime).is_err() {
            tracing::warn!("the Object Lambda runtime is already set");
        }
    }

    /// The runtime of [`S3Service::set_object_lambda_runtime`], if set.
    #[must_use]
    pub fn object_lambda_runtime(&self) -> Option<&ObjectLambdaRuntime> {
        self.object_lambda.get()
    }

    /// The same endpoint enforcing the VPC endpoint policies kept in `policies` on requests through
    /// [`ServerOptions::vpc_endpoints`]; without it those endpoints have no policy (allow all, as
    /// AWS's default endpoint policy).
    #[must_use]
    pub fn with_vpc_endpoint_policies(
        mut self,
        policies: Arc<vpc_endpoint::EndpointPolicies>,
    ) -> Self {
        self.vpc_policies = Some(policies);
        self
    }

    /// The VPC endpoint a connection came through, if any.
    fn vpc_endpoint_of(&self, conn: Connection) -> Option<&vpc_endpoint::VpcEndpoint> {
        conn.vpce.and_then(|i| self.options.vpc_endpoints.get(i))
    }

    /// Adds what a request through a VPC endpoint carries: `aws:SourceVpce`, `aws:SourceVpc` and the
    /// endpoint's policy.
    ///
    /// # Errors
    /// 500 `InternalError` when the stored endpoint policy cannot be read (the request is refused
    /// rather than let through without its endpoint's policy).
    pub(crate) fn add_vpc_endpoint(
        &self,
        conn: Connection,
        ctx: &mut RequestContext,
    ) -> Result<(), S3Error> {
        let Some(vpce) = self.vpc_endpoint_of(conn) else {
            return Ok(());
        };
        ctx.source_vpce = Some(vpce.id.clone());
        ctx.source_vpc = Some(vpce.vpc.clone());
        if let Some(policies) = &self.vpc_policies {
            ctx.vpc_endpoint_policy = policies
                .policy(&vpce.id)
                .map_err(|e| S3Error::internal_because("the VPC endpoint policy", e))?;
        }
        Ok(())
    }

    /// The same endpoint also serving the Glacier vault API (`/{accountId}/vaults…`) from `vaults`;
    /// without it Glacier requests are answered `ServiceUnavailableException`.
    #[must_use]
    pub fn with_glacier(mut self, vaults: Arc<crate::glacier::Glacier>) -> Self {
        self.glacier = Some(vaults);
        self
    }

    /// The CORS configuration of `bucket` (cached for a moment).
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 500 for a damaged configuration.
    pub(crate) fn cors_config(
        &self,
        bucket: &str,
    ) -> Result<Option<Arc<CorsConfiguration>>, S3Error> {
        if let Some(c) = self.cached_cors(bucket) {
            return Ok(c);
        }
        let store = self.engine.object_store();
        store.head_bucket(bucket)?;
        let config = store
            .bucket_config(bucket, CORS_CONFIG)?
            .map(|doc| serde_json::from_str::<CorsConfiguration>(&doc).map(Arc::new))
            .transpose()
            .map_err(|e| S3Error::internal_because("the bucket's CORS configuration", e))?;
        let mut cache = self
            .cors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(bucket.to_owned(), (Instant::now(), config.clone()));
        Ok(config)
    }

    /// The CORS configuration of `bucket` if the cache holds a fresh one (never blocks on I/O).
    fn cached_cors(&self, bucket: &str) -> Option<Option<Arc<CorsConfiguration>>> {
        self.cors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(bucket)
            .filter(|(at, _)| at.elapsed() < CORS_CONFIG_TTL)
            .map(|(_, c)| c.clone())
    }

    /// Forgets the cached CORS configuration of `bucket` (after this process changed it).
    pub(crate) fn forget_cors(&self, bucket: &str) {
        self.cors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(bucket);
    }

    /// Delivers every open batch of server access logs now (waiting at most `wait`).
    pub fn flush_access_logs(&self, wait: Duration) {
        self.access_logs.flush(wait);
    }

    /// Delivers every open batch of server access logs and stops their delivery: call once the
    /// listeners are closed.
    pub fn close_access_logs(&self) {
        self.access_logs.close();
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    pub(crate) fn engine(&self) -> &SseEngine {
        &self.engine
    }

    /// Answers one request.
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: hyper::Request<Incoming>,
        conn: Connection,
    ) -> hyper::Response<ResponseBody> {
        let started = Instant::now();
        let request_id = request_id();
        let (parts, incoming) = req.into_parts();
        let method = parts.method.as_str().to_owned();
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if glacier::is_glacier(&target, &headers) {
            return glacier::handle(self, &method, &target, headers, incoming, conn).await;
        }
        let received = SystemTime::now();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        // CORS for an actual request: S3 matches `Access-Control-Request-Method` when a (non-browser)
        // client sends one, the request's own method otherwise.
        let cors_origin = header("origin");
        let cors_method = header("access-control-request-method").unwrap_or_else(|| method.clone());
        let facts = access_log::RequestFacts {
            request_uri: format!("{method} {target} {:?}", parts.version),
            referer: header("referer"),
            user_agent: header("user-agent"),
            host: header("host"),
            decoded_length: header("x-amz-decoded-content-length").and_then(|v| v.parse().ok()),
            signature: access_log::signature_of(header("authorization").as_deref(), &target),
        };
        let mut log = AccessLog {
            request_id: request_id.clone(),
            op: "-",
            s3_op: None,
            principal: "anonymous".to_owned(),
            requester: None,
            status: 0,
            error_code: None,
            bytes_out: 0,
            bytes_in: content_length(&headers),
            tls: conn.tls,
            remote: conn.peer.to_string(),
            key: String::new(),
            bucket: String::new(),
            access_point: None,
        };
        let mut resource = "/".to_owned();
        // A refused request whose body was not read leaves the connection in an unknown state (a
        // client waiting for `100 Continue` sends the body, or the next request, later): close it.
        let has_body = log.bytes_in > 0
            || headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
        let outcome = Arc::clone(&self)
            .run(
                &method,
                &target,
                headers,
                incoming,
                conn,
                &mut log,
                &mut resource,
            )
            .await;
        let mut response = match outcome {
            Ok(reply) => {
                log.status = reply.status;
                log.bytes_out = reply.length;
                let mut r = hyper::Response::new(reply.body);
                *r.status_mut() = hyper::StatusCode::from_u16(reply.status)
                    .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
                append_headers(&mut r, reply.headers);
                r
            }
            Err(e) => {
                log.error_code = Some(e.code().as_str());
                if e.code() == S3ErrorCode::InternalError {
                    tracing::warn!(
                        target: "s3crypt::server",
                        request_id = %request_id,
                        error = %e.detail(),
                        "internal error"
                    );
                }
                let rendered = e
                    .with_resource(resource)
                    .with_request_id(request_id.clone())
                    .render(&method);
                log.status = rendered.status;
                log.bytes_out = rendered.body.len() as u64;
                let mut r = hyper::Response::new(body::full(rendered.body));
                *r.status_mut() = hyper::StatusCode::from_u16(rendered.status)
                    .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
                append_headers(&mut r, rendered.headers);
                if has_body {
                    r.headers_mut().insert(
                        hyper::header::CONNECTION,
                        hyper::header::HeaderValue::from_static("close"),
                    );
                }
                r
            }
        };
        if let (Some(origin), Some(bucket), false) = (
            &cors_origin,
            (!log.bucket.is_empty()).then(|| log.bucket.clone()),
            log.s3_op == Some(Op::Preflight),
        ) {
            let config = match self.cached_cors(&bucket) {
                Some(c) => c,
                None => {
                    let svc = Arc::clone(&self);
                    blocking(move || svc.cors_config(&bucket))
                        .await
                        .ok()
                        .flatten()
                }
            };
            if let Some(cors) =
                crate::s3::cors::actual(config.as_deref(), Some(origin), &cors_method)
            {
                append_headers(
                    &mut response,
                    cors.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
                );
            }
        }
        let extra = [
            ("x-amz-request-id", request_id.clone()),
            ("x-amz-id-2", request_id.clone()),
            ("server", "s3crypt".to_owned()),
        ];
        for (n, v) in extra {
            if !response.headers().contains_key(n)
                && let Ok(v) = hyper::header::HeaderValue::from_str(&v)
            {
                response
                    .headers_mut()
                    .insert(hyper::header::HeaderName::from_static(n), v);
            }
        }
        log.emit(started.elapsed());
        if log.bucket.is_empty() {
            return response;
        }
        // One server-access-log record when the bucket's logging is on (as configured when the request
        // is answered), finished when the body has been sent (or abandoned).
        let target = match self.access_logs.cached_target(&log.bucket) {
            Some(t) => t,
            None => {
                let (svc, bucket) = (Arc::clone(&self), log.bucket.clone());
                blocking(move || Ok(svc.access_logs.load_target(&bucket)))
                    .await
                    .ok()
                    .flatten()
            }
        };
        let Some(target) = target else {
            return response;
        };
        let object_size = log.object_size(&facts, response.headers());
        let record = s3crypt_access_log_record(&log, &facts, conn, received, object_size);
        let turn_around = started.elapsed();
        let delivery = Arc::clone(&self);
        let (parts, body) = response.into_parts();
        let body = access_log::Observed::new(body, move |sent| {
            let mut record = record;
            record.bytes_sent = sent;
            record.total_time_ms = Some(millis(started.elapsed()));
            record.turn_around_time_ms = Some(millis(turn_around));
            delivery.access_logs.record(record, target);
        });
        hyper::Response::from_parts(parts, http_body_util::BodyExt::boxed(body))
    }

    #[allow(clippy::too_many_arguments)]
    async fn run(
        self: Arc<Self>,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        incoming: Incoming,
        conn: Connection,
        log: &mut AccessLog,
        resource: &mut String,
    ) -> Result<Reply, S3Error> {
        // S3's limit on the request header section, for every request (the engine checks writes
        // again with the same limit).
        let section: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        if section > crate::sse::engine::MAX_HEADER_SECTION {
            return Err(
                S3Error::from_code(S3ErrorCode::RequestHeaderSectionTooLarge).with_extra(
                    "MaxSizeAllowed",
                    crate::sse::engine::MAX_HEADER_SECTION.to_string(),
                ),
            );
        }
        let host = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.clone());
        let mut req = request::resolve(
            method,
            target,
            host.as_deref(),
            &headers,
            &self.options.domains,
        )?;
        let olap = Arc::clone(&self)
            .object_lambda_of(&mut req, &headers, conn)
            .await?;
        let access_point = match olap {
            Some(_) => None,
            None => Arc::clone(&self).access_point_of(&mut req, conn).await?,
        };
        log.access_point = match &olap {
            Some(route) => Some(route.olap.arn()),
            None => access_point.as_ref().map(AccessPoint::arn),
        };
        *resource = req.resource();
        log.op = req.op.name();
        log.s3_op = Some(req.op);
        log.bucket = req.bucket.clone().unwrap_or_default();
        log.key = req.key.clone().unwrap_or_default();
        if req.op == Op::Preflight {
            return self.preflight(req, &headers).await;
        }
        if req.op == Op::PostObject {
            return post::post_object(self, req, &headers, incoming, conn, &mut log.principal)
                .await;
        }
        let (body, mut stream) = if req.op.streams_body() {
            (Vec::new(), Some(incoming))
        } else {
            let collected = body::collect(
                incoming,
                self.options.max_xml_body,
                self.options.body_idle_timeout,
            )
            .await
            .map_err(request_timeout)?;
            let Some(b) = collected else {
                return Err(S3Error::with_code(
                    S3ErrorCode::MaxMessageLengthExceeded,
                    "Your request was too big.",
                ));
            };
            (b, None)
        };
        let signable = SignableRequest {
            method,
            uri: target,
            headers: &headers,
            body: &body,
        };
        let authenticated = auth::authenticate(
            &signable,
            &req.query,
            stream.is_none(),
            self.identities.as_ref(),
            &self.options.region,
            conn,
            SystemTime::now(),
            req.op == Op::WriteGetObjectResponse || olap.is_some(),
        )?;
        if let Some(p) = authenticated.context.caller.principal() {
            log.principal.clone_from(&p.arn);
            log.requester = Some(p.arn.clone());
        }
        let mut authenticated = authenticated;
        self.add_vpc_endpoint(conn, &mut authenticated.context)?;
        if let Some(ap) = &access_point {
            // Access points take signed requests over HTTPS only.
            if authenticated.context.caller.principal().is_none()
                || !authenticated.context.secure_transport
            {
                return Err(S3Error::access_denied(
                    "Access points only accept requests signed with SigV4 over HTTPS.",
                ));
            }
            authenticated.context.access_point = Some(self.engine.access_point_ref(ap)?);
        }
        if let Some(route) = &olap
            && let Some((action, transformation)) =
                self.object_lambda_checks(route, &req, &headers, &mut authenticated.context)?
        {
            let function_arn = crate::s3::object_lambda::function_arn(
                &transformation.function,
                &route.olap.region,
                &route.olap.account,
            )
            .unwrap_or_else(|| transformation.function.clone());
            let invocation = object_lambda::ObjectLambdaInvocation {
                olap: route.olap.clone(),
                supporting: route.supporting.clone(),
                transformation,
                function_arn,
                action,
                context: authenticated.context,
                method: method.to_owned(),
                target: target.to_owned(),
                host,
                headers,
                query: req.query.clone(),
                key: req.key.clone(),
                request_id: log.request_id.clone(),
                region: self.options.region.clone(),
            };
            return self.object_lambda_transform(invocation).await;
        }
        // (`stream.take()` only for WriteGetObjectResponse: other streamed operations keep their body.)
        if req.op == Op::WriteGetObjectResponse
            && let Some(incoming) = stream.take()
        {
            write_get_object_response::handle(
                &self.output_routes,
                &authenticated.context,
                &headers,
                incoming,
                self.options.body_idle_timeout,
            )
            .await?;
            return Ok(Reply::empty(200, Vec::new()));
        }
        if stream.is_none() {
            object::check_whole_body(&Headers::new(headers.iter().cloned()), &body)?;
        }
        let call = Call {
            req,
            ctx: authenticated.context,
            headers: Headers::new(headers),
            body,
            payload: authenticated.payload,
            method: method.to_owned(),
        };
        match (call.req.op, stream) {
            (Op::GetObject, _) => object::get(self, call).await,
            (Op::PutObject, Some(incoming)) => {
                let reader = body::BodyReader::spawn(incoming, self.options.body_idle_timeout);
                let svc = Arc::clone(&self);
                blocking(move || object::put(&svc, call, reader)).await
            }
            (Op::UploadPart, Some(incoming)) => {
                let reader = body::BodyReader::spawn(incoming, self.options.body_idle_timeout);
                let svc = Arc::clone(&self);
                blocking(move || multipart::upload(&svc, call, reader)).await
            }
            (op, _) => {
                let svc = Arc::clone(&self);
                blocking(move || dispatch(&svc, op, call)).await
            }
        }
    }
}

impl S3Service {
    /// The access point a data-plane request addresses instead of a bucket, if any: by alias
    /// (`NAME-…-s3alias` as the bucket name) or by virtual host `NAME-ACCOUNT.DOMAIN` (what botocore
    /// makes of an access point ARN with a custom endpoint) when no bucket has that name. The request is
    /// rewritten to the access point's bucket.
    ///
    /// # Errors
    /// 400 `InvalidRequest` for an operation that cannot go through an access point; 403
    /// `AccessDenied` for a VPC-origin access point reached other than through a VPC endpoint of its
    /// VPC.
    async fn access_point_of(
        self: Arc<Self>,
        req: &mut request::S3Request,
        conn: Connection,
    ) -> Result<Option<AccessPoint>, S3Error> {
        let Some(bucket) = req.bucket.clone() else {
            return Ok(None);
        };
        let by_alias = crate::s3::access_point::is_alias(&bucket);
        let by_host = !by_alias
            && bucket.rsplit_once('-').is_some_and(|(name, account)| {
                crate::s3::access_point::is_valid_name(name)
                    && crate::s3::access_point::is_account_id(account)
            });
        if !by_alias && !by_host {
            return Ok(None);
        }
        let svc = Arc::clone(&self);
        let found = blocking(move || {
            if by_alias {
                return svc.engine.access_point_by_alias(&bucket);
            }
            if svc.engine.object_store().head_bucket(&bucket).is_ok() {
                return Ok(None);
            }
            let Some((name, account)) = bucket.rsplit_once('-') else {
                return Ok(None);
            };
            Ok(svc.engine.access_point(account, name).ok())
        })
        .await?;
        let Some(ap) = found else {
            return Ok(None);
        };
        if !req.op.via_access_point() {
            return Err(S3Error::invalid_request(
                "This operation cannot be made through an access point.",
            ));
        }
        if !self.reachable(&ap, conn) {
            return Err(S3Error::access_denied("Access Denied"));
        }
        req.bucket = Some(ap.bucket.clone());
        Ok(Some(ap))
    }

    /// Whether access point `ap` may be reached on `conn`: an Internet-origin one from anywhere, a
    /// VPC-origin one only through a VPC endpoint of its VPC.
    pub(crate) fn reachable(&self, ap: &AccessPoint, conn: Connection) -> bool {
        match &ap.network_origin {
            crate::s3::access_point::NetworkOrigin::Internet => true,
            crate::s3::access_point::NetworkOrigin::Vpc(vpc) => {
                self.vpc_endpoint_of(conn).is_some_and(|e| &e.vpc == vpc)
            }
        }
    }

    /// A CORS preflight (`OPTIONS`): evaluated against the bucket's CORS configuration, without
    /// authentication, as S3 does.
    async fn preflight(
        self: Arc<Self>,
        req: request::S3Request,
        headers: &[(String, String)],
    ) -> Result<Reply, S3Error> {
        use crate::s3::cors::{ResourceType, preflight};
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let origin = header("origin");
        let method = header("access-control-request-method");
        let requested = header("access-control-request-headers");
        let resource = if req.key.is_some() {
            ResourceType::Object
        } else {
            ResourceType::Bucket
        };
        let bucket = req.bucket.clone().unwrap_or_default();
        let svc = Arc::clone(&self);
        // Without `Origin` S3 answers 400 before it looks at the bucket.
        let config = if origin.is_some() {
            blocking(move || svc.cors_config(&bucket)).await?
        } else {
            None
        };
        let allowed = preflight(
            config.as_deref(),
            origin.as_deref(),
            method.as_deref(),
            requested.as_deref(),
            resource,
        )?;
        Ok(Reply::empty(
            200,
            allowed
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect(),
        ))
    }
}

/// Runs a blocking operation on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, S3Error> + Send + 'static,
) -> Result<T, S3Error> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(S3Error::internal_because("the request handler failed", e)))
}

/// The operations that run whole on a worker thread.
fn dispatch(svc: &S3Service, op: Op, call: Call) -> Result<Reply, S3Error> {
    match op {
        Op::ListBuckets => bucket::list_buckets(svc, &call),
        Op::CreateBucket => bucket::create(svc, &call),
        Op::HeadBucket => bucket::head(svc, &call),
        Op::DeleteBucket => bucket::delete(svc, &call),
        Op::GetBucketLocation => bucket::location(svc, &call),
        Op::ListObjects | Op::ListObjectsV2 => bucket::list_objects(svc, &call),
        Op::GetBucketEncryption
        | Op::PutBucketEncryption
        | Op::DeleteBucketEncryption
        | Op::GetBucketPolicy
        | Op::PutBucketPolicy
        | Op::DeleteBucketPolicy
        | Op::GetBucketPolicyStatus
        | Op::GetPublicAccessBlock
        | Op::PutPublicAccessBlock
        | Op::DeletePublicAccessBlock
        | Op::GetBucketOwnershipControls
        | Op::PutBucketOwnershipControls
        | Op::DeleteBucketOwnershipControls
        | Op::GetBucketAcl
        | Op::PutBucketAcl => bucket::config(svc, op, &call),
        Op::GetBucketVersioning => versioning::get_bucket_versioning(svc, &call),
        Op::CreateAccessPoint
        | Op::GetAccessPoint
        | Op::ListAccessPoints
        | Op::DeleteAccessPoint
        | Op::PutAccessPointPolicy
        | Op::GetAccessPointPolicy
        | Op::DeleteAccessPointPolicy
        | Op::GetAccessPointPolicyStatus
        | Op::CreateAccessPointForObjectLambda
        | Op::GetAccessPointForObjectLambda
        | Op::ListAccessPointsForObjectLambda
        | Op::DeleteAccessPointForObjectLambda
        | Op::GetAccessPointConfigurationForObjectLambda
        | Op::PutAccessPointConfigurationForObjectLambda
        | Op::PutAccessPointPolicyForObjectLambda
        | Op::GetAccessPointPolicyForObjectLambda
        | Op::DeleteAccessPointPolicyForObjectLambda
        | Op::GetAccessPointPolicyStatusForObjectLambda => control::dispatch(svc, op, &call),
        Op::GetBucketLogging | Op::PutBucketLogging => bucket::logging(svc, op, &call),
        Op::PutBucketVersioning => versioning::put_bucket_versioning(svc, &call),
        Op::ListObjectVersions => versioning::list_versions(svc, &call),
        Op::GetObjectLockConfiguration | Op::PutObjectLockConfiguration => {
            versioning::object_lock_configuration(svc, op, &call)
        }
        Op::GetObjectRetention
        | Op::PutObjectRetention
        | Op::GetObjectLegalHold
        | Op::PutObjectLegalHold => versioning::object_lock_state(svc, op, &call),
        Op::GetBucketCors | Op::PutBucketCors | Op::DeleteBucketCors => {
            bucket::cors(svc, op, &call)
        }
        Op::Preflight => Err(S3Error::internal("a preflight dispatched as an operation")),
        Op::DeleteObjects => object::delete_many(svc, &call),
        Op::CopyObject => object::copy(svc, &call),
        Op::HeadObject => object::head(svc, &call),
        Op::DeleteObject => object::delete(svc, &call),
        Op::GetObjectAcl | Op::PutObjectAcl => object::acl(svc, op, &call),
        Op::ListMultipartUploads => multipart::list_uploads(svc, &call),
        Op::CreateMultipartUpload => multipart::create(svc, &call),
        Op::UploadPartCopy => multipart::upload_copy(svc, &call),
        Op::CompleteMultipartUpload => multipart::complete(svc, &call),
        Op::AbortMultipartUpload => multipart::abort(svc, &call),
        Op::ListParts => multipart::list_parts(svc, &call),
        Op::GetObject
        | Op::PutObject
        | Op::UploadPart
        | Op::PostObject
        | Op::WriteGetObjectResponse => {
            Err(S3Error::internal("streamed operation dispatched whole"))
        }
    }
}

fn request_timeout(fault: body::BodyFault) -> S3Error {
    match fault {
        body::BodyFault::Timeout => S3Error::from_code(S3ErrorCode::RequestTimeout),
        body::BodyFault::Incomplete => S3Error::from_code(S3ErrorCode::IncompleteBody),
    }
}

fn content_length(headers: &[(String, String)]) -> u64 {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn append_headers(r: &mut hyper::Response<ResponseBody>, headers: Vec<(String, String)>) {
    use hyper::header::{HeaderName, HeaderValue};
    for (n, v) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            r.headers_mut().append(n, v);
        }
    }
}

/// A request id as S3 prints them: 16 uppercase hex digits.
fn request_id() -> String {
    crate::primitives::random_array::<8>()
        .map(hex::encode_upper)
        .unwrap_or_else(|_| "0000000000000000".to_owned())
}

/// The S3 server-access-log record of a request (without the bytes sent and the times, filled in
/// when the body is done).
fn s3crypt_access_log_record(
    log: &AccessLog,
    facts: &access_log::RequestFacts,
    conn: Connection,
    received: SystemTime,
    object_size: Option<u64>,
) -> crate::s3::access_log::LogRecord {
    let (signature_version, authentication_type) = facts.signature.unzip();
    crate::s3::access_log::LogRecord {
        bucket_owner: String::new(),
        bucket: log.bucket.clone(),
        time: time::OffsetDateTime::from(received),
        remote_ip: conn.peer.ip().to_string(),
        requester: log.requester.clone(),
        request_id: log.request_id.clone(),
        operation: log.s3_op.map_or("-", request::Op::log_operation).to_owned(),
        key: (!log.key.is_empty()).then(|| log.key.clone()),
        request_uri: Some(
            crate::s3::access_log::redact_request_uri(&facts.request_uri).into_owned(),
        ),
        http_status: Some(log.status),
        error_code: log.error_code.map(str::to_owned),
        bytes_sent: 0,
        object_size,
        total_time_ms: None,
        turn_around_time_ms: None,
        referer: facts.referer.clone(),
        user_agent: facts.user_agent.clone(),
        version_id: version_in(&facts.request_uri),
        host_id: log.request_id.clone(),
        signature_version: signature_version.map(str::to_owned),
        cipher_suite: conn.cipher_suite.map(str::to_owned),
        authentication_type: authentication_type.map(str::to_owned),
        host_header: facts.host.clone(),
        tls_version: conn.tls_version.map(str::to_owned),
        access_point_arn: log.access_point.clone(),
        acl_required: false,
        extra: Vec::new(),
    }
}

/// The `versionId` of a request target's query, decoded (the access log's `Version Id` field).
fn version_in(target: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    query.split('&').find_map(|p| {
        let v = p.strip_prefix("versionId=")?;
        String::from_utf8(crate::aws::sigv4::canonical::percent_decode(v)).ok()
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One access log record; never holds a secret (keys and headers are not logged, only names).
struct AccessLog {
    request_id: String,
    op: &'static str,
    /// The operation, once resolved.
    s3_op: Option<Op>,
    principal: String,
    /// The authenticated caller's ARN (`None`: anonymous or not authenticated).
    requester: Option<String>,
    status: u16,
    /// The S3 error code of a failed request.
    error_code: Option<&'static str>,
    bytes_in: u64,
    bytes_out: u64,
    tls: bool,
    remote: String,
    bucket: String,
    key: String,
    /// The access point the request came through (its ARN).
    access_point: Option<String>,
}

impl AccessLog {
    /// The object size for the server access log: the body of a write, the whole object of a read
    /// (from `Content-Range` for a range), `None` otherwise.
    fn object_size(
        &self,
        facts: &access_log::RequestFacts,
        response: &hyper::HeaderMap,
    ) -> Option<u64> {
        let header = |n: hyper::header::HeaderName| {
            response
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match self.s3_op? {
            Op::PutObject | Op::UploadPart | Op::PostObject if self.error_code.is_none() => {
                Some(facts.decoded_length.unwrap_or(self.bytes_in))
            }
            Op::GetObject | Op::HeadObject if self.error_code.is_none() => {
                header(hyper::header::CONTENT_RANGE)
                    .and_then(|r| r.rsplit_once('/').and_then(|(_, t)| t.parse().ok()))
                    .or_else(|| header(hyper::header::CONTENT_LENGTH)?.parse().ok())
            }
            _ => None,
        }
    }

    fn emit(&self, took: Duration) {
        tracing::info!(
            target: "s3crypt::access",
            request_id = %self.request_id,
            remote = %self.remote,
            tls = self.tls,
            principal = %self.principal,
            operation = self.op,
            bucket = %self.bucket,
            key = %self.key,
            access_point = self.access_point.as_deref().unwrap_or("-"),
            status = self.status,
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            duration_ms = took.as_secs_f64() * 1e3,
        );
    }
}
