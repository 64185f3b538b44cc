//! S3 bucket CORS (S3-FEATURES.md §8): the `CORSConfiguration` document that PutBucketCors takes and
//! GetBucketCors answers ([`CorsConfiguration::parse`], [`CorsConfiguration::to_xml`]), and its
//! evaluation against a request: [`preflight`] for an `OPTIONS` request, [`actual`] for any other request
//! that carries `Origin`. Pure: no I/O, no clock. The server keeps the configuration as JSON in the
//! bucket's configuration (the types are serde `Serialize`/`Deserialize`).
//!
//! # Wiring it into the HTTP server
//! - `PUT /{bucket}?cors` (IAM `s3:PutBucketCORS`, Content-MD5 or a checksum required):
//!   [`CorsConfiguration::parse`] the body, store it (replacing any previous one), answer 200 with no body.
//! - `GET /{bucket}?cors` (`s3:GetBucketCORS`): none stored is 404 `NoSuchCORSConfiguration` (AWS adds a
//!   `BucketName` element: `S3Error::from_code(S3ErrorCode::NoSuchCORSConfiguration).with_extra("BucketName", ..)`);
//!   otherwise 200 with [`CorsConfiguration::to_xml`].
//! - `DELETE /{bucket}?cors` (`s3:PutBucketCORS`): 204, whether or not a configuration existed.
//! - `OPTIONS` on a bucket or an object: [`preflight`]. `Ok` is 200 with an empty body and the headers;
//!   `Err` is the error document. S3 answers a preflight before, and without, authentication (ceph
//!   s3-tests send unsigned OPTIONS, also to presigned URLs, and expect 400/200).
//! - Any other request with `Origin`: [`actual`]; when it returns headers, add them to the response, error
//!   responses included (s3-tests `test_cors_origin_response`: a 404 GET from an allowed origin carries
//!   them). The request itself is never refused for CORS reasons (S3-FEATURES.md §12 item 1).
//!
//! # Decisions on points S3's documentation leaves open
//! - **Origin matching is case-sensitive**, byte for byte. No AWS page says either way; LocalStack
//!   (`services/s3/cors.py`, a case-sensitive regex) and versitygw (`auth/bucket_cors.go`, byte
//!   comparison) both compare exactly, RFC 6454 §5 compares serialized origins as identical strings, and
//!   browsers serialize scheme and host in lower case (WHATWG Fetch §3.2), so a configuration written in
//!   lower case matches every browser.
//! - **`*` in an origin or a header pattern stands for any run of characters, the empty one included**,
//!   and the pattern is anchored at both ends: ceph s3-tests `test_cors_origin_response` (not marked
//!   `fails_on_aws`) expects `start*end` to match `startend` and `prefix*` to match `prefix`.
//!   `http://*.example.com` therefore matches `http://a.example.com` but not `https://a.example.com`.
//! - **No `Vary` on an actual response when no rule matches** (or the bucket has no configuration):
//!   LocalStack's AWS-validated `test_cors_match_origins` (recorded against S3, 2023-07-31) shows a GET
//!   from a non-matching origin answered with no CORS headers and no `Vary`. [`actual`] returns `None`.
//! - **Preflight checks, in order**: `Origin` (missing → 400 `BadRequest`), then the configuration
//!   (none → 403 `AccessForbidden` "CORS is not enabled", even when `Access-Control-Request-Method` is
//!   missing: LocalStack `test_cors_http_options_no_config`, recorded against S3, answers `Origin` alone
//!   with that 403 and `<Method>OPTIONS</Method>`), then `Access-Control-Request-Method`, then the rules.
//! - **A preflight for a method S3 does not know (`PATCH`, `OPTIONS`, lower-case `get`) is 400
//!   `BadRequest` "Invalid Access-Control-Request-Method: PATCH"** (versitygw
//!   `s3api/controllers/options.go`; Scality CloudServer's `routeOPTIONS` identically), not a 403: the
//!   method is compared exactly, as both do (browsers send standard methods upper-cased, Fetch §2.2).
//!   **A missing (or empty) one on a configured bucket is the same 400 with `null`**: "Invalid
//!   Access-Control-Request-Method: null" (CloudServer's text; Huawei OBS documents the same answer; ceph
//!   s3-tests expect 400) [unverified against AWS; versitygw answers 403 instead].
//! - **`ResourceType` is `BUCKET` whenever the bucket has no configuration**, even for an object URL
//!   (LocalStack's recording above); when rules are evaluated and none matches it names the resource
//!   ([`ResourceType`]). `<Method>` is the requested method, or `OPTIONS` when none was sent.
//! - A rule whose origins include a bare `*` answers `Access-Control-Allow-Origin: *` and no
//!   `Access-Control-Allow-Credentials`, whichever of its origins matched (LocalStack, S3-FEATURES.md §8.3).
//! - A requested header list is split on `,`, each name trimmed and lower-cased, empty entries ignored
//!   (RFC 9110 §5.6.1). A rule without `AllowedHeader` allows no requested header (LocalStack
//!   `test_put_cors_default_values`, recorded against S3).
//!
//! # Validation (PutBucketCors)
//! Structure first, as a schema check: anything but a well-formed `CORSConfiguration` of 1 to
//! [`MAX_RULES`] `CORSRule`s, each with at least one `AllowedOrigin` and one `AllowedMethod`, at most one
//! `ID` and one `MaxAgeSeconds` (an `xs:int`) and no other element, is 400 `MalformedXML` (more than 100
//! rules: the code is unverified). A body over [`MAX_DOCUMENT_BYTES`] is 400 `MaxMessageLengthExceeded`
//! (the server's answer for any oversized XML body). Then, rule by rule in document order, each rule's
//! origins, methods, allowed headers and expose headers, 400 `InvalidRequest` (messages: versitygw
//! `s3err/invalid-argument.go`, vgw-1870, LocalStack `test_put_cors_invalid_rules`):
//! - `AllowedOrigin "<o>" can not have more than one wildcard.`
//! - `Found unsupported HTTP method in CORS config. Unsupported method is <M>` (methods are case-sensitive;
//!   an empty one gives an empty `<M>`, vgw-1863);
//! - `AllowedHeader "<h>" contains invalid character.` (not an RFC 9110 token; empty is allowed) and
//!   `AllowedHeader "<h>" can not have more than one wildcard.`;
//! - `ExposeHeader "<h>" contains invalid character.` [unverified wording; versitygw refuses the same
//!   values]. Values are otherwise not checked as header names (boto3#2972: `GET` was accepted). This keeps
//!   every value [`CorsHeaders`] carries a valid HTTP header value.
//!
//! Not checked, S3's answer being unverified: an `ID` over 255 characters (the API reference's limit),
//! duplicate `ID`s, a negative `MaxAgeSeconds`, a `*` in an `ExposeHeader`.
//!
//! An empty `AllowedOrigin` is accepted (LocalStack `test_put_cors_empty_origin`, recorded against S3).
//! Texts are kept exactly as sent (origins and headers are compared as given); methods and
//! `MaxAgeSeconds` are trimmed.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::s3::xml::{self, S3_XMLNS, XML_DECL};
use crate::s3::{S3Error, S3ErrorCode};

/// The largest PutBucketCors body S3 accepts, in bytes (64 KB; S3 API `PutBucketCors`).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// The most `CORSRule`s one configuration may hold (S3 API `CORSConfiguration`).
pub const MAX_RULES: usize = 100;

/// The `Vary` value S3 sends with every CORS answer.
pub const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// A preflight without `Origin` (400 `BadRequest`; LocalStack and versitygw, matching AWS captures).
pub const MSG_MISSING_ORIGIN: &str = "Insufficient information. Origin request header needed.";

/// A preflight to a bucket without a CORS configuration (403 `AccessForbidden`).
pub const MSG_NOT_ENABLED: &str = "CORSResponse: CORS is not enabled for this bucket.";

/// A preflight no rule allows (403 `AccessForbidden`). "evalution" is AWS's spelling, kept on purpose.
pub const MSG_NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/// A bucket's CORS configuration: its rules, in order (the first matching rule wins).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfiguration {
    /// The `CORSRule`s, in document order.
    pub rules: Vec<CorsRule>,
}

/// One `CORSRule`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    /// `ID`, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `AllowedOrigin`s: exact origins, patterns with one `*`, or `*` (any origin). At least one.
    pub allowed_origins: Vec<String>,
    /// `AllowedMethod`s. At least one.
    pub allowed_methods: Vec<CorsMethod>,
    /// `AllowedHeader`s: names a preflight may request, each with at most one `*`, compared without
    /// regard to case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    /// `ExposeHeader`s: response headers the browser may show the page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// `MaxAgeSeconds`: how long a browser may cache the preflight answer (an `xs:int`, as S3's model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

/// A method a `CORSRule` may allow: S3 knows these five (`OPTIONS` is implicit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CorsMethod {
    /// `GET`.
    Get,
    /// `PUT`.
    Put,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
    /// `HEAD`.
    Head,
}

impl CorsMethod {
    /// Every method, in S3's documentation order.
    pub const ALL: [Self; 5] = [Self::Get, Self::Put, Self::Post, Self::Delete, Self::Head];

    /// The method as written on the wire and in the configuration (`GET`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Post => "POST",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
        }
    }

    /// The method named exactly `s` (case-sensitive, as S3: `get` is not a method), or `None`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// What a preflight addresses, for the `<ResourceType>` of a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// The bucket itself (`OPTIONS /bucket`).
    Bucket,
    /// An object (`OPTIONS /bucket/key`).
    Object,
}

impl ResourceType {
    /// `BUCKET` or `OBJECT`, as S3 writes it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bucket => "BUCKET",
            Self::Object => "OBJECT",
        }
    }
}

/// The CORS headers to add to a response, in order, as `(name, value)`. Every value is a valid HTTP
/// header value (the origin comes from the request; configured names are validated tokens).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsHeaders(Vec<(&'static str, String)>);

impl CorsHeaders {
    /// The headers S3 sends when `rule` matched a request from `origin` that asked for
    /// `requested_headers` (already lower-cased; empty on an actual request):
    /// `Access-Control-Allow-Origin`, `Access-Control-Allow-Credentials` (unless the rule allows any
    /// origin), `Access-Control-Allow-Methods`, `Access-Control-Allow-Headers` (if any were requested),
    /// `Access-Control-Expose-Headers` (if the rule has some), `Access-Control-Max-Age` (if set), `Vary`.
    #[must_use]
    pub fn for_rule(rule: &CorsRule, origin: &str, requested_headers: &[String]) -> Self {
        let any_origin = rule.allows_any_origin();
        let mut h = Vec::with_capacity(7);
        let allow_origin = if any_origin { "*" } else { origin };
        h.push(("Access-Control-Allow-Origin", allow_origin.to_owned()));
        if !any_origin {
            h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
        }
        let methods: Vec<&str> = rule.allowed_methods.iter().map(|m| m.as_str()).collect();
        h.push(("Access-Control-Allow-Methods", methods.join(", ")));
        if !requested_headers.is_empty() {
            h.push(("Access-Control-Allow-Headers", requested_headers.join(", ")));
        }
        let expose: Vec<&str> = rule
            .expose_headers
            .iter()
            .map(String::as_str)
            .filter(|e| !e.is_empty())
            .collect();
        if !expose.is_empty() {
            h.push(("Access-Control-Expose-Headers", expose.join(", ")));
        }
        if let Some(age) = rule.max_age_seconds {
            h.push(("Access-Control-Max-Age", age.to_string()));
        }
        h.push(("Vary", VARY.to_owned()));
        Self(h)
    }

    /// The headers, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.0.iter().map(|(n, v)| (*n, v.as_str()))
    }

    /// The value of header `name` (compared without regard to case), if present.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The headers as a slice, in order.
    #[must_use]
    pub fn as_slice(&self) -> &[(&'static str, String)] {
        &self.0
    }

    /// The headers, in order.
    #[must_use]
    pub fn into_vec(self) -> Vec<(&'static str, String)> {
        self.0
    }
}

impl IntoIterator for CorsHeaders {
    type Item = (&'static str, String);
    type IntoIter = std::vec::IntoIter<(&'static str, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl CorsConfiguration {
    /// Parses and validates a PutBucketCors body (see the module documentation for every refusal).
    ///
    /// # Errors
    /// 400 `MaxMessageLengthExceeded` for a body over [`MAX_DOCUMENT_BYTES`]; 400 `MalformedXML` for
    /// anything that is not a well-formed `CORSConfiguration` of 1 to [`MAX_RULES`] rules, each with an
    /// `AllowedOrigin` and an `AllowedMethod`; 400 `InvalidRequest` with S3's message for an origin or
    /// allowed header with two wildcards, an unsupported method, or a header name with an invalid
    /// character.
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(S3Error::from_code(S3ErrorCode::MaxMessageLengthExceeded));
        }
        let root = xml::parse_tree(body, "CORSConfiguration")?;
        let nodes = root.children_only(&["CORSRule"])?;
        if nodes.is_empty() || nodes.len() > MAX_RULES {
            return Err(xml::malformed());
        }
        let raw = nodes
            .iter()
            .map(RawRule::from_node)
            .collect::<Result<Vec<_>, _>>()?;
        let rules = raw
            .into_iter()
            .map(RawRule::validate)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { rules })
    }

    /// The GetBucketCors document: `CORSConfiguration` in S3's namespace, each rule's elements in
    /// botocore's model order (`ID`, `AllowedHeader`, `AllowedMethod`, `AllowedOrigin`, `ExposeHeader`,
    /// `MaxAgeSeconds`), every text XML-escaped. [`CorsConfiguration::parse`] reads it back unchanged.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut x = String::with_capacity(256);
        x.push_str(XML_DECL);
        let _ = write!(x, r#"<CORSConfiguration xmlns="{S3_XMLNS}">"#);
        for r in &self.rules {
            x.push_str("<CORSRule>");
            if let Some(id) = &r.id {
                element(&mut x, "ID", id);
            }
            for h in &r.allowed_headers {
                element(&mut x, "AllowedHeader", h);
            }
            for m in &r.allowed_methods {
                element(&mut x, "AllowedMethod", m.as_str());
            }
            for o in &r.allowed_origins {
                element(&mut x, "AllowedOrigin", o);
            }
            for e in &r.expose_headers {
                element(&mut x, "ExposeHeader", e);
            }
            if let Some(age) = r.max_age_seconds {
                let _ = write!(x, "<MaxAgeSeconds>{age}</MaxAgeSeconds>");
            }
            x.push_str("</CORSRule>");
        }
        x.push_str("</CORSConfiguration>");
        x
    }

    /// The first rule that allows a request from `origin` with `method` (the actual method, or a
    /// preflight's `Access-Control-Request-Method`) and `requested_headers` (lower-cased names, empty
    /// for an actual request; see [`requested_headers`]): its origins match `origin`, its methods include
    /// `method`, and every requested name matches one of its allowed headers.
    #[must_use]
    pub fn matching_rule(
        &self,
        origin: &str,
        method: CorsMethod,
        requested_headers: &[String],
    ) -> Option<&CorsRule> {
        self.rules
            .iter()
            .find(|r| r.allows(origin, method, requested_headers))
    }
}

impl CorsRule {
    /// Whether one of the rule's origins is the bare `*` (then S3 answers `Access-Control-Allow-Origin: *`
    /// and no `Access-Control-Allow-Credentials`).
    #[must_use]
    pub fn allows_any_origin(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }

    /// Whether this rule allows `origin` (case-sensitive, `*` wildcard), `method` and every name in
    /// `requested_headers` (lower-cased; matched case-insensitively against the allowed headers).
    #[must_use]
    pub fn allows(&self, origin: &str, method: CorsMethod, requested_headers: &[String]) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| wildcard_match(o.as_bytes(), origin.as_bytes()))
            && self.allowed_methods.contains(&method)
            && requested_headers.iter().all(|name| {
                self.allowed_headers.iter().any(|pattern| {
                    wildcard_match(
                        pattern.to_ascii_lowercase().as_bytes(),
                        name.to_ascii_lowercase().as_bytes(),
                    )
                })
            })
    }
}

/// Evaluates a preflight (`OPTIONS`) request against the bucket's configuration (`None`: the bucket has
/// none). `origin`, `request_method` and `request_headers` are the request's `Origin`,
/// `Access-Control-Request-Method` and `Access-Control-Request-Headers` (an empty header counts as
/// absent); `resource` is what the URL names. `Ok` carries the headers of the 200 answer (empty body).
///
/// # Errors
/// In this order (S3-FEATURES.md §8.3; see the module documentation for the sources):
/// - no `Origin`: 400 `BadRequest` [`MSG_MISSING_ORIGIN`];
/// - no configuration (or one without rules): 403 `AccessForbidden` [`MSG_NOT_ENABLED`] with `<Method>` (the requested method,
///   or `OPTIONS`) and `<ResourceType>BUCKET`;
/// - `Access-Control-Request-Method` missing or not one of S3's five methods: 400 `BadRequest`
///   `Invalid Access-Control-Request-Method: <M>` (`null` when missing);
/// - no rule matches: 403 `AccessForbidden` [`MSG_NOT_ALLOWED`] with `<Method>` and `<ResourceType>`
///   (`resource`).
pub fn preflight(
    config: Option<&CorsConfiguration>,
    origin: Option<&str>,
    request_method: Option<&str>,
    request_headers: Option<&str>,
    resource: ResourceType,
) -> Result<CorsHeaders, S3Error> {
    let origin = origin.filter(|o| !o.is_empty());
    let request_method = request_method.filter(|m| !m.is_empty());
    let Some(origin) = origin else {
        return Err(S3Error::with_code(
            S3ErrorCode::BadRequest,
            MSG_MISSING_ORIGIN,
        ));
    };
    let Some(config) = config.filter(|c| !c.rules.is_empty()) else {
        return Err(forbidden(
            MSG_NOT_ENABLED,
            request_method.unwrap_or("OPTIONS"),
            ResourceType::Bucket,
        ));
    };
    let Some(method) = request_method.and_then(CorsMethod::parse) else {
        return Err(S3Error::with_code(
            S3ErrorCode::BadRequest,
            format!(
                "Invalid Access-Control-Request-Method: {}",
                request_method.unwrap_or("null")
            ),
        ));
    };
    let requested = requested_headers(request_headers.unwrap_or(""));
    config
        .matching_rule(origin, method, &requested)
        .map(|rule| CorsHeaders::for_rule(rule, origin, &requested))
        .ok_or_else(|| forbidden(MSG_NOT_ALLOWED, method.as_str(), resource))
}

/// Evaluates an actual (non-`OPTIONS`) request: the CORS headers to add to its response, or `None` when
/// it carries no `Origin` (not a CORS request), the bucket has no configuration, `method` is not one of
/// S3's five, or no rule matches. `None` means no CORS headers at all, not even `Vary` (LocalStack
/// `test_cors_match_origins`, recorded against S3). The request proceeds either way.
///
/// `method` is the request's method; when a (non-browser) client also sends an
/// `Access-Control-Request-Method` header on the actual request, S3 matches that one instead (LocalStack
/// `test_cors_match_methods`, recorded against S3), so pass it then. Requested headers are not checked
/// on an actual request (its real headers are not, LocalStack `test_cors_match_headers`); browsers never
/// send `Access-Control-Request-Headers` outside a preflight (a forbidden request-header, Fetch §2.2.2).
#[must_use]
pub fn actual(
    config: Option<&CorsConfiguration>,
    origin: Option<&str>,
    method: &str,
) -> Option<CorsHeaders> {
    let origin = origin.filter(|o| !o.is_empty())?;
    let method = CorsMethod::parse(method)?;
    let rule = config?.matching_rule(origin, method, &[])?;
    Some(CorsHeaders::for_rule(rule, origin, &[]))
}

/// Splits an `Access-Control-Request-Headers` value into lower-cased names, in order: split on `,`, each
/// trimmed of spaces and tabs, empty entries dropped (RFC 9110 §5.6.1).
#[must_use]
pub fn requested_headers(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|h| h.trim_matches([' ', '\t']))
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

/// 403 `AccessForbidden` with S3's `<Method>` and `<ResourceType>` elements.
fn forbidden(message: &'static str, method: &str, resource: ResourceType) -> S3Error {
    S3Error::with_code(S3ErrorCode::AccessForbidden, message)
        .with_extra("Method", method)
        .with_extra("ResourceType", resource.as_str())
}

/// A rule as read, before the semantic checks.
struct RawRule {
    id: Option<String>,
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    max_age: Option<i32>,
}

impl RawRule {
    /// Reads one `CORSRule` element (structure only: `MalformedXML`).
    fn from_node(node: &xml::Node) -> Result<Self, S3Error> {
        node.no_text()?;
        let mut r = Self {
            id: None,
            origins: Vec::new(),
            methods: Vec::new(),
            headers: Vec::new(),
            expose: Vec::new(),
            max_age: None,
        };
        for f in &node.children {
            f.leaf()?;
            let text = f.text.clone();
            match f.name.as_str() {
                "ID" => xml::set_once(&mut r.id, text)?,
                "AllowedOrigin" => r.origins.push(text),
                "AllowedMethod" => r.methods.push(text.trim().to_owned()),
                "AllowedHeader" => r.headers.push(text),
                "ExposeHeader" => r.expose.push(text),
                "MaxAgeSeconds" => {
                    let age = text.trim().parse::<i32>().map_err(|_| xml::malformed())?;
                    xml::set_once(&mut r.max_age, age)?;
                }
                _ => return Err(xml::malformed()),
            }
        }
        if r.origins.is_empty() || r.methods.is_empty() {
            return Err(xml::malformed());
        }
        Ok(r)
    }

    /// The semantic checks (`InvalidRequest`), in the order of the module documentation.
    fn validate(self) -> Result<CorsRule, S3Error> {
        if let Some(o) = self.origins.iter().find(|o| o.matches('*').count() > 1) {
            return Err(S3Error::invalid_request(format!(
                "AllowedOrigin \"{o}\" can not have more than one wildcard."
            )));
        }
        let allowed_methods = self
            .methods
            .iter()
            .map(|m| {
                CorsMethod::parse(m).ok_or_else(|| {
                    S3Error::invalid_request(format!(
                        "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for h in &self.headers {
            if !is_token_or_empty(h) {
                return Err(S3Error::invalid_request(format!(
                    "AllowedHeader \"{h}\" contains invalid character."
                )));
            }
            if h.matches('*').count() > 1 {
                return Err(S3Error::invalid_request(format!(
                    "AllowedHeader \"{h}\" can not have more than one wildcard."
                )));
            }
        }
        if let Some(e) = self.expose.iter().find(|e| !is_token_or_empty(e)) {
            return Err(S3Error::invalid_request(format!(
                "ExposeHeader \"{e}\" contains invalid character."
            )));
        }
        Ok(CorsRule {
            id: self.id,
            allowed_origins: self.origins,
            allowed_methods,
            allowed_headers: self.headers,
            expose_headers: self.expose,
            max_age_seconds: self.max_age,
        })
    }
}

/// An RFC 9110 §5.6.2 token (a header field name), or the empty string.
fn is_token_or_empty(s: &str) -> bool {
    s.bytes().all(crate::aws::sigv4::canonical::is_token_byte)
}

/// Whether `text` matches `pattern`, where each `*` stands for any run of bytes (the empty one
/// included) and the rest must match exactly; anchored at both ends. Iterative with one backtrack point,
/// so O(len(pattern) × len(text)) at worst, whatever the number of `*` (a stored configuration that did
/// not come through [`CorsConfiguration::parse`] may hold several).
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Appends `<name>escaped text</name>`.
fn element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", xml::escape_text(text));
}

#[cfg(test)]
mod tests;
