use proptest::prelude::*;

use super::*;

const NS: &str = r#"xmlns="http://s3.amazonaws.com/doc/2006-03-01/""#;

fn doc(rules: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><CORSConfiguration {NS}>{rules}</CORSConfiguration>"#
    )
}

fn rule(inner: &str) -> String {
    format!("<CORSRule>{inner}</CORSRule>")
}

fn parse(rules: &str) -> Result<CorsConfiguration, S3Error> {
    CorsConfiguration::parse(doc(rules).as_bytes())
}

#[track_caller]
fn assert_err(r: Result<CorsConfiguration, S3Error>, code: S3ErrorCode, message: &str) {
    match r {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(e.message(), message, "{e:?}");
        }
    }
}

#[track_caller]
fn assert_malformed(r: Result<CorsConfiguration, S3Error>) {
    assert_err(
        r,
        S3ErrorCode::MalformedXML,
        S3ErrorCode::MalformedXML.default_message(),
    );
}

fn simple(origins: &[&str], methods: &[CorsMethod]) -> CorsRule {
    CorsRule {
        allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
        allowed_methods: methods.to_vec(),
        ..CorsRule::default()
    }
}

fn config(rules: Vec<CorsRule>) -> CorsConfiguration {
    CorsConfiguration { rules }
}

fn headers(h: &CorsHeaders) -> Vec<(&'static str, &str)> {
    h.iter().collect()
}

#[track_caller]
fn assert_forbidden(e: &S3Error, message: &str, method: &str, resource: &str) {
    assert_eq!(e.code(), S3ErrorCode::AccessForbidden);
    assert_eq!(e.status(), 403);
    assert_eq!(e.message(), message);
    assert_eq!(
        e.extras(),
        &[
            ("Method".to_owned(), method.to_owned()),
            ("ResourceType".to_owned(), resource.to_owned()),
        ]
    );
}

// ------------------------------------------------------------------------------------------------
// Parsing
// ------------------------------------------------------------------------------------------------

#[test]
fn parses_a_full_rule() {
    let c = parse(&rule(
        "<ID>r1</ID><AllowedOrigin>http://www.example.com</AllowedOrigin><AllowedOrigin>*</AllowedOrigin>\
         <AllowedMethod>PUT</AllowedMethod><AllowedMethod> GET </AllowedMethod>\
         <AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>Authorization</AllowedHeader>\
         <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds> 3000 </MaxAgeSeconds>",
    ))
    .expect("accepted");
    assert_eq!(
        c,
        config(vec![CorsRule {
            id: Some("r1".into()),
            allowed_origins: vec!["http://www.example.com".into(), "*".into()],
            allowed_methods: vec![CorsMethod::Put, CorsMethod::Get],
            allowed_headers: vec!["x-amz-*".into(), "Authorization".into()],
            expose_headers: vec!["ETag".into()],
            max_age_seconds: Some(3000),
        }])
    );
}

#[test]
fn namespace_is_optional_and_prefixes_are_accepted() {
    let plain = "<CORSConfiguration><CORSRule><AllowedOrigin>a</AllowedOrigin>\
                 <AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
    let c = CorsConfiguration::parse(plain.as_bytes()).expect("accepted");
    assert_eq!(c, config(vec![simple(&["a"], &[CorsMethod::Get])]));
    let prefixed = format!(
        r#"<s3:CORSConfiguration xmlns:s3="{S3_XMLNS}"><s3:CORSRule><s3:AllowedOrigin>a</s3:AllowedOrigin><s3:AllowedMethod>GET</s3:AllowedMethod></s3:CORSRule></s3:CORSConfiguration>"#
    );
    assert_eq!(
        CorsConfiguration::parse(prefixed.as_bytes()).expect("accepted"),
        c
    );
}

#[test]
fn empty_origin_is_accepted() {
    let c = parse(&rule(
        "<AllowedOrigin></AllowedOrigin><AllowedMethod>GET</AllowedMethod>",
    ))
    .expect("accepted");
    assert_eq!(c.rules[0].allowed_origins, vec![String::new()]);
}

#[test]
fn structural_errors_are_malformed_xml() {
    let ok = "<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod>";
    assert_malformed(parse(""));
    assert_malformed(parse(&rule("")));
    assert_malformed(parse(&rule("<AllowedMethod>GET</AllowedMethod>")));
    assert_malformed(parse(&rule("<AllowedOrigin>a</AllowedOrigin>")));
    assert_malformed(parse(&rule(&format!("{ok}<Unknown>x</Unknown>"))));
    assert_malformed(parse(&rule(&format!("{ok}<ID>a</ID><ID>b</ID>"))));
    assert_malformed(parse(&rule(&format!(
        "{ok}<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds>"
    ))));
    assert_malformed(parse(&rule(&format!(
        "{ok}<MaxAgeSeconds>x</MaxAgeSeconds>"
    ))));
    assert_malformed(parse(&rule(&format!(
        "{ok}<MaxAgeSeconds></MaxAgeSeconds>"
    ))));
    assert_malformed(parse(&rule(&format!(
        "{ok}<MaxAgeSeconds>2147483648</MaxAgeSeconds>"
    ))));
    assert_malformed(parse(&rule(&format!("{ok}text"))));
    assert_malformed(parse(&rule(
        "<AllowedOrigin><x/></AllowedOrigin><AllowedMethod>GET</AllowedMethod>",
    )));
    assert_malformed(parse(&format!("{}<Other/>", rule(ok))));
    assert_malformed(CorsConfiguration::parse(b""));
    assert_malformed(CorsConfiguration::parse(b"not xml"));
    assert_malformed(CorsConfiguration::parse(b"<CORSConfiguration>"));
    assert_malformed(CorsConfiguration::parse(
        format!("<Other>{}</Other>", rule(ok)).as_bytes(),
    ));
    assert_malformed(CorsConfiguration::parse(b"\xff\xfe"));
    assert_malformed(CorsConfiguration::parse(
        format!(
            "<!DOCTYPE x><CORSConfiguration>{}</CORSConfiguration>",
            rule(ok)
        )
        .as_bytes(),
    ));
}

#[test]
fn negative_and_signed_max_age_parse_as_xs_int() {
    let c = parse(&rule(
        "<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>0</MaxAgeSeconds>",
    ))
    .expect("accepted");
    assert_eq!(c.rules[0].max_age_seconds, Some(0));
    let c = parse(&rule(
        "<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds>",
    ))
    .expect("accepted");
    assert_eq!(c.rules[0].max_age_seconds, Some(-1));
}

#[test]
fn rule_count_limit() {
    let one = rule("<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod>");
    let c = parse(&one.repeat(MAX_RULES)).expect("accepted");
    assert_eq!(c.rules.len(), MAX_RULES);
    assert_malformed(parse(&one.repeat(MAX_RULES + 1)));
}

#[test]
fn document_size_limit() {
    let one = rule("<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod>");
    let head = doc(&one);
    // Pad with a comment to exactly the limit: accepted; one byte more: refused.
    let pad = MAX_DOCUMENT_BYTES - head.len() - "<!---->".len();
    let exact = format!("{head}<!--{}-->", " ".repeat(pad));
    assert_eq!(exact.len(), MAX_DOCUMENT_BYTES);
    assert!(CorsConfiguration::parse(exact.as_bytes()).is_ok());
    let over = format!("{head}<!--{}-->", " ".repeat(pad + 1));
    assert_err(
        CorsConfiguration::parse(over.as_bytes()),
        S3ErrorCode::MaxMessageLengthExceeded,
        "Your request was too big.",
    );
}

#[test]
fn origin_with_two_wildcards_is_invalid_request() {
    assert_err(
        parse(&rule(
            "<AllowedOrigin>*example*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>",
        )),
        S3ErrorCode::InvalidRequest,
        "AllowedOrigin \"*example*.com\" can not have more than one wildcard.",
    );
}

#[test]
fn unsupported_methods_are_invalid_request() {
    for (m, shown) in [
        ("MYMETHOD", "MYMETHOD"),
        ("OPTIONS", "OPTIONS"),
        ("PATCH", "PATCH"),
        ("get", "get"),
        ("", ""),
    ] {
        assert_err(
            parse(&rule(&format!(
                "<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>{m}</AllowedMethod>"
            ))),
            S3ErrorCode::InvalidRequest,
            &format!("Found unsupported HTTP method in CORS config. Unsupported method is {shown}"),
        );
    }
}

#[test]
fn invalid_allowed_headers_are_invalid_request() {
    for h in ["x amz", "x-amz-é", "a:b", "(x)", "a\tb"] {
        assert_err(
            parse(&rule(&format!(
                "<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>{h}</AllowedHeader>"
            ))),
            S3ErrorCode::InvalidRequest,
            &format!("AllowedHeader \"{h}\" contains invalid character."),
        );
    }
    assert_err(
        parse(&rule(
            "<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader>",
        )),
        S3ErrorCode::InvalidRequest,
        "AllowedHeader \"x-*-*\" can not have more than one wildcard.",
    );
    // An empty AllowedHeader is accepted (versitygw); so is one `*`.
    assert!(parse(&rule(
        "<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader/><AllowedHeader>*</AllowedHeader>",
    ))
    .is_ok());
}

#[test]
fn invalid_expose_header_is_invalid_request() {
    assert_err(
        parse(&rule(
            "<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>a&#13;&#10;b</ExposeHeader>",
        )),
        S3ErrorCode::InvalidRequest,
        "ExposeHeader \"a\r\nb\" contains invalid character.",
    );
    // Any token is accepted, even a method name (boto3#2972).
    assert!(parse(&rule(
        "<AllowedOrigin>a</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>GET</ExposeHeader>",
    ))
    .is_ok());
}

#[test]
fn structure_is_checked_before_semantics_and_rules_in_order() {
    // The first rule has a bad method, the second lacks an origin: the schema error wins.
    let bad_method = rule("<AllowedOrigin>a</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>");
    let no_origin = rule("<AllowedMethod>GET</AllowedMethod>");
    assert_malformed(parse(&format!("{bad_method}{no_origin}")));
    // Two semantic errors: the first rule's is reported.
    let bad_origin = rule("<AllowedOrigin>**</AllowedOrigin><AllowedMethod>GET</AllowedMethod>");
    assert_err(
        parse(&format!("{bad_method}{bad_origin}")),
        S3ErrorCode::InvalidRequest,
        "Found unsupported HTTP method in CORS config. Unsupported method is PATCH",
    );
}

#[test]
fn to_xml_round_trips_and_carries_the_namespace() {
    let c = config(vec![
        CorsRule {
            id: Some("id <&> \"'\r".into()),
            allowed_origins: vec!["http://*.example.com".into(), "*".into(), String::new()],
            allowed_methods: CorsMethod::ALL.to_vec(),
            allowed_headers: vec!["x-amz-*".into(), "Authorization".into()],
            expose_headers: vec!["ETag".into(), "x-amz-request-id".into()],
            max_age_seconds: Some(3000),
        },
        simple(&[" spaced origin "], &[CorsMethod::Head]),
    ]);
    let x = c.to_xml();
    assert!(x.starts_with(XML_DECL), "{x}");
    assert!(
        x.contains(r#"<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#),
        "{x}"
    );
    assert!(
        x.contains("<CORSRule><ID>id &lt;&amp;&gt; &quot;&apos;&#13;</ID><AllowedHeader>x-amz-*</AllowedHeader>"),
        "{x}"
    );
    assert!(
        x.contains("<MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>"),
        "{x}"
    );
    assert_eq!(CorsConfiguration::parse(x.as_bytes()).expect("accepted"), c);
}

#[test]
fn serde_json_round_trips_with_method_names() {
    let c = config(vec![CorsRule {
        id: Some("r".into()),
        allowed_origins: vec!["*".into()],
        allowed_methods: vec![CorsMethod::Get, CorsMethod::Delete],
        allowed_headers: vec!["*".into()],
        expose_headers: vec![],
        max_age_seconds: Some(10),
    }]);
    let json = serde_json::to_string(&c).expect("accepted");
    assert!(
        json.contains(r#""allowed_methods":["GET","DELETE"]"#),
        "{json}"
    );
    assert!(!json.contains("expose_headers"), "{json}");
    let back: CorsConfiguration = serde_json::from_str(&json).expect("accepted");
    assert_eq!(back, c);
    // Absent optional fields deserialize to their defaults.
    let minimal: CorsConfiguration =
        serde_json::from_str(r#"{"rules":[{"allowed_origins":["a"],"allowed_methods":["PUT"]}]}"#)
            .expect("accepted");
    assert_eq!(minimal, config(vec![simple(&["a"], &[CorsMethod::Put])]));
}

#[test]
fn method_names() {
    for m in CorsMethod::ALL {
        assert_eq!(CorsMethod::parse(m.as_str()), Some(m));
    }
    assert_eq!(CorsMethod::parse("get"), None);
    assert_eq!(CorsMethod::parse("OPTIONS"), None);
    assert_eq!(CorsMethod::parse("PATCH"), None);
    assert_eq!(CorsMethod::parse(""), None);
}

// ------------------------------------------------------------------------------------------------
// Matching
// ------------------------------------------------------------------------------------------------

#[test]
fn wildcard_matching() {
    let m = |p: &str, t: &str| wildcard_match(p.as_bytes(), t.as_bytes());
    assert!(m("http://*.example.com", "http://a.example.com"));
    assert!(m("http://*.example.com", "http://a.b.example.com"));
    assert!(!m("http://*.example.com", "https://a.example.com"));
    assert!(!m("http://*.example.com", "http://a.example.com.evil"));
    assert!(m("start*end", "startend"));
    assert!(m("start*end", "start12end"));
    assert!(!m("start*end", "0start12end"));
    assert!(m("prefix*", "prefix"));
    assert!(m("*suffix", "foo.suffix"));
    assert!(!m("*suffix", "foo.suffix.get"));
    assert!(m("*", ""));
    assert!(m("", ""));
    assert!(!m("", "a"));
    assert!(!m("abc", "ab"));
    assert!(m("a*b*c", "aXbYc"));
    assert!(m("a**", "a"));
    assert!(!m("a*b*c", "aXbY"));
}

#[test]
fn origin_matching_is_case_sensitive() {
    let c = config(vec![simple(
        &["http://www.example.com"],
        &[CorsMethod::Get],
    )]);
    assert!(actual(Some(&c), Some("http://www.example.com"), "GET").is_some());
    assert!(actual(Some(&c), Some("http://WWW.example.com"), "GET").is_none());
    assert!(actual(Some(&c), Some("https://www.example.com"), "GET").is_none());
    assert!(actual(Some(&c), Some("http://www.example.com:80"), "GET").is_none());
    assert!(actual(Some(&c), Some("http://www.example.com/"), "GET").is_none());
}

#[test]
fn first_matching_rule_wins() {
    let mut first = simple(&["http://a.example.com"], &[CorsMethod::Put]);
    first.max_age_seconds = Some(1);
    let mut second = simple(&["*"], &[CorsMethod::Get, CorsMethod::Put]);
    second.max_age_seconds = Some(2);
    let mut third = simple(&["http://a.example.com"], &[CorsMethod::Get]);
    third.max_age_seconds = Some(3);
    let c = config(vec![first, second, third]);
    let put = actual(Some(&c), Some("http://a.example.com"), "PUT").expect("accepted");
    assert_eq!(put.get("Access-Control-Max-Age"), Some("1"));
    assert_eq!(
        put.get("access-control-allow-origin"),
        Some("http://a.example.com")
    );
    // GET: the first rule does not allow the method; the second (any origin) wins over the third.
    let get = actual(Some(&c), Some("http://a.example.com"), "GET").expect("accepted");
    assert_eq!(get.get("Access-Control-Max-Age"), Some("2"));
    assert_eq!(get.get("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(get.get("Access-Control-Allow-Credentials"), None);
}

#[test]
fn bare_star_allows_any_origin_without_credentials() {
    let c = config(vec![simple(&["*"], &[CorsMethod::Get])]);
    let h = preflight(
        Some(&c),
        Some("http://random:1234"),
        Some("GET"),
        None,
        ResourceType::Object,
    )
    .expect("accepted");
    assert_eq!(
        headers(&h),
        vec![
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", "GET"),
            ("Vary", VARY),
        ]
    );
    // A rule listing `*` beside a specific origin still answers `*`.
    let c = config(vec![simple(&["http://a", "*"], &[CorsMethod::Get])]);
    let h = actual(Some(&c), Some("http://a"), "GET").expect("accepted");
    assert_eq!(h.get("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(h.get("Access-Control-Allow-Credentials"), None);
}

#[test]
fn full_header_set_in_order() {
    let c = config(vec![CorsRule {
        id: None,
        allowed_origins: vec!["https://localhost:4200".into()],
        allowed_methods: vec![CorsMethod::Get, CorsMethod::Put],
        allowed_headers: vec!["*".into()],
        expose_headers: vec!["x-amz-id-2".into(), "x-amz-request-id".into()],
        max_age_seconds: Some(3000),
    }]);
    let h = preflight(
        Some(&c),
        Some("https://localhost:4200"),
        Some("PUT"),
        Some("X-Amz-Request-Payer, ,content-type,"),
        ResourceType::Object,
    )
    .expect("accepted");
    assert_eq!(
        headers(&h),
        vec![
            ("Access-Control-Allow-Origin", "https://localhost:4200"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Allow-Methods", "GET, PUT"),
            (
                "Access-Control-Allow-Headers",
                "x-amz-request-payer, content-type"
            ),
            (
                "Access-Control-Expose-Headers",
                "x-amz-id-2, x-amz-request-id"
            ),
            ("Access-Control-Max-Age", "3000"),
            ("Vary", VARY),
        ]
    );
    // The actual request gets the same headers, minus Allow-Headers.
    let a = actual(Some(&c), Some("https://localhost:4200"), "GET").expect("accepted");
    let mut expected = h.clone().into_vec();
    expected.retain(|(n, _)| *n != "Access-Control-Allow-Headers");
    assert_eq!(a.into_vec(), expected);
    assert_eq!(h.as_slice().len(), 7);
}

#[test]
fn max_age_zero_is_sent() {
    let mut r = simple(&["*"], &[CorsMethod::Get]);
    r.max_age_seconds = Some(0);
    let h = actual(Some(&config(vec![r])), Some("o"), "GET").expect("accepted");
    assert_eq!(h.get("Access-Control-Max-Age"), Some("0"));
}

#[test]
fn header_wildcard_and_case_insensitive_headers() {
    let mut r = simple(&["*"], &[CorsMethod::Put]);
    r.allowed_headers = vec!["x-amz-*".into(), "Content-Type".into()];
    let c = config(vec![r]);
    let pf = |h: &str| {
        preflight(
            Some(&c),
            Some("o"),
            Some("PUT"),
            Some(h),
            ResourceType::Object,
        )
    };
    let ok = pf("X-AMZ-Date, content-TYPE").expect("accepted");
    assert_eq!(
        ok.get("Access-Control-Allow-Headers"),
        Some("x-amz-date, content-type")
    );
    assert!(pf("x-amz-").is_ok(), "`*` matches the empty string");
    assert!(
        pf("x-amz-meta-a,x-amz-meta-b").is_ok(),
        "no space after the comma"
    );
    let e = pf("x-amz-date, authorization").expect_err("refused");
    assert_forbidden(&e, MSG_NOT_ALLOWED, "PUT", "OBJECT");
    // Only empty entries: as if nothing were requested.
    let none = pf(" , ,").expect("accepted");
    assert_eq!(none.get("Access-Control-Allow-Headers"), None);
}

#[test]
fn rule_without_allowed_headers_allows_no_requested_header() {
    let c = config(vec![simple(&["*"], &[CorsMethod::Get])]);
    let e = preflight(
        Some(&c),
        Some("o"),
        Some("GET"),
        Some("x-amz-meta-header2"),
        ResourceType::Object,
    )
    .expect_err("refused");
    assert_forbidden(&e, MSG_NOT_ALLOWED, "GET", "OBJECT");
}

#[test]
fn requested_header_splitting() {
    assert_eq!(
        requested_headers(" A ,\tb,,c\t, "),
        vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]
    );
    assert!(requested_headers("").is_empty());
}

// ------------------------------------------------------------------------------------------------
// Preflight refusals
// ------------------------------------------------------------------------------------------------

fn localhost_config() -> CorsConfiguration {
    let mut r = simple(
        &["https://localhost:4200"],
        &[CorsMethod::Get, CorsMethod::Put],
    );
    r.allowed_headers = vec!["x-amz-date".into()];
    config(vec![r])
}

#[test]
fn preflight_without_origin_is_bad_request() {
    let c = localhost_config();
    for (cfg, origin) in [(Some(&c), None), (None, None), (Some(&c), Some(""))] {
        let e =
            preflight(cfg, origin, Some("GET"), None, ResourceType::Object).expect_err("refused");
        assert_eq!(e.code(), S3ErrorCode::BadRequest);
        assert_eq!(e.status(), 400);
        assert_eq!(e.message(), MSG_MISSING_ORIGIN);
        assert!(e.extras().is_empty());
    }
}

#[test]
fn preflight_without_configuration_is_forbidden_for_the_bucket() {
    let e =
        preflight(None, Some("o"), Some("PUT"), None, ResourceType::Object).expect_err("refused");
    assert_forbidden(&e, MSG_NOT_ENABLED, "PUT", "BUCKET");
    let e = preflight(None, Some("o"), None, None, ResourceType::Object).expect_err("refused");
    assert_forbidden(&e, MSG_NOT_ENABLED, "OPTIONS", "BUCKET");
    let empty = CorsConfiguration::default();
    let e = preflight(
        Some(&empty),
        Some("o"),
        Some("GET"),
        None,
        ResourceType::Object,
    )
    .expect_err("refused");
    assert_forbidden(&e, MSG_NOT_ENABLED, "GET", "BUCKET");
    let e =
        preflight(None, Some("o"), Some("PATCH"), None, ResourceType::Bucket).expect_err("refused");
    assert_forbidden(&e, MSG_NOT_ENABLED, "PATCH", "BUCKET");
    let x = e.to_xml();
    assert!(
        x.contains("<Code>AccessForbidden</Code><Message>CORSResponse: CORS is not enabled for this bucket.</Message><Method>PATCH</Method><ResourceType>BUCKET</ResourceType>"),
        "{x}"
    );
}

#[test]
fn preflight_with_invalid_or_missing_method_is_bad_request() {
    let c = localhost_config();
    for (m, shown) in [
        (Some("PATCH"), "PATCH"),
        (Some("OPTIONS"), "OPTIONS"),
        (Some("get"), "get"),
        (None, "null"),
        (Some(""), "null"),
    ] {
        let e = preflight(
            Some(&c),
            Some("https://localhost:4200"),
            m,
            None,
            ResourceType::Object,
        )
        .expect_err("refused");
        assert_eq!(e.code(), S3ErrorCode::BadRequest);
        assert_eq!(
            e.message(),
            format!("Invalid Access-Control-Request-Method: {shown}")
        );
    }
}

#[test]
fn preflight_denied_per_origin_method_and_header() {
    let c = localhost_config();
    let pf = |origin: &str, method: &str, hdrs: Option<&str>, res: ResourceType| {
        preflight(Some(&c), Some(origin), Some(method), hdrs, res)
    };
    assert!(
        pf(
            "https://localhost:4200",
            "PUT",
            Some("X-Amz-Date"),
            ResourceType::Object
        )
        .is_ok()
    );
    let e = pf("http://localhost:4200", "PUT", None, ResourceType::Object).expect_err("refused");
    assert_forbidden(&e, MSG_NOT_ALLOWED, "PUT", "OBJECT");
    let e = pf(
        "https://localhost:4200",
        "DELETE",
        None,
        ResourceType::Bucket,
    )
    .expect_err("refused");
    assert_forbidden(&e, MSG_NOT_ALLOWED, "DELETE", "BUCKET");
    let e = pf(
        "https://localhost:4200",
        "GET",
        Some("x-amz-date,x-amz-request-payer"),
        ResourceType::Object,
    )
    .expect_err("refused");
    assert_forbidden(&e, MSG_NOT_ALLOWED, "GET", "OBJECT");
    assert!(e.message().contains("evalution"));
}

// ------------------------------------------------------------------------------------------------
// Actual requests
// ------------------------------------------------------------------------------------------------

#[test]
fn actual_request_outcomes() {
    let c = localhost_config();
    let o = Some("https://localhost:4200");
    assert!(actual(Some(&c), o, "GET").is_some());
    assert!(
        actual(Some(&c), None, "GET").is_none(),
        "no Origin: not CORS"
    );
    assert!(actual(Some(&c), Some(""), "GET").is_none());
    assert!(actual(None, o, "GET").is_none(), "no configuration");
    assert!(
        actual(Some(&c), o, "DELETE").is_none(),
        "method not allowed"
    );
    assert!(actual(Some(&c), o, "PATCH").is_none(), "unknown method");
    assert!(actual(Some(&c), o, "OPTIONS").is_none());
    assert!(
        actual(Some(&c), Some("http://localhost:4200"), "GET").is_none(),
        "no Vary either"
    );
}

// ------------------------------------------------------------------------------------------------
// Never panics
// ------------------------------------------------------------------------------------------------

const VALID: &str = r#"<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><ID>a</ID><AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>5</MaxAgeSeconds></CORSRule></CORSConfiguration>"#;

#[test]
fn mutated_valid_documents_never_panic() {
    // Deterministic mutations of a valid document: every single-byte deletion, and every byte replaced
    // by a handful of troublesome values.
    let base = VALID.as_bytes();
    for i in 0..base.len() {
        let mut cut = base.to_vec();
        cut.remove(i);
        let _ = CorsConfiguration::parse(&cut);
        for b in [0u8, b'<', b'>', b'&', b'*', b'/', 0xff, b' '] {
            let mut m = base.to_vec();
            m[i] = b;
            let _ = CorsConfiguration::parse(&m);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = CorsConfiguration::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_xmlish_text(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("<CORSConfiguration>"), Just("</CORSConfiguration>"), Just("<CORSRule>"),
                Just("</CORSRule>"), Just("<AllowedOrigin>"), Just("</AllowedOrigin>"),
                Just("<AllowedMethod>"), Just("</AllowedMethod>"), Just("<AllowedHeader>"),
                Just("</AllowedHeader>"), Just("<ExposeHeader>"), Just("</ExposeHeader>"),
                Just("<MaxAgeSeconds>"), Just("</MaxAgeSeconds>"), Just("<ID>"), Just("</ID>"),
                Just("GET"), Just("PATCH"), Just("*"), Just("-1"), Just("99999999999"), Just("&amp;"),
                Just("&#x1;"), Just("<![CDATA["), Just("]]>"), Just(" "), Just("<"), Just("/>"),
            ],
            0..40,
        )
    ) {
        let _ = CorsConfiguration::parse(pieces.concat().as_bytes());
    }

    #[test]
    fn mutated_document_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut bytes = VALID.as_bytes().to_vec();
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let _ = CorsConfiguration::parse(&bytes);
    }

    #[test]
    fn evaluation_never_panics(
        pattern in "[a-z*.:/]{0,12}",
        origin in "\\PC{0,16}",
        method in "[A-Za-z]{0,7}",
        hdrs in "[a-zA-Z*, -]{0,24}",
    ) {
        let mut r = simple(&[pattern.as_str()], &CorsMethod::ALL);
        r.allowed_headers = vec![pattern.clone()];
        let c = config(vec![r]);
        let _ = preflight(Some(&c), Some(&origin), Some(&method), Some(&hdrs), ResourceType::Object);
        let _ = actual(Some(&c), Some(&origin), &method);
    }

    #[test]
    fn valid_configurations_round_trip(
        id in proptest::option::of("[^\u{0}]{0,16}"),
        origin in "[^\u{0}*]{0,8}\\*?[^\u{0}*]{0,8}",
        header in "[a-zA-Z0-9-]{0,8}\\*?[a-z]{0,4}",
        expose in "[a-zA-Z0-9-]{0,12}",
        age in proptest::option::of(any::<i32>()),
        methods in proptest::sample::subsequence(CorsMethod::ALL.to_vec(), 1..=5),
    ) {
        let c = config(vec![CorsRule {
            id,
            allowed_origins: vec![origin],
            allowed_methods: methods,
            allowed_headers: vec![header],
            expose_headers: vec![expose],
            max_age_seconds: age,
        }]);
        prop_assert_eq!(CorsConfiguration::parse(c.to_xml().as_bytes()).expect("accepted"), c);
    }
}
