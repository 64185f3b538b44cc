#![allow(clippy::unwrap_used)]

use time::macros::datetime;

use super::*;

const USERGUIDE: &str =
    include_str!("../../../test-vectors/access-logs/aws-userguide-examples.log");
const CN_27: &str =
    include_str!("../../../test-vectors/access-logs/aws-cn-userguide-examples-27-fields.log");
const DEV_2014: &str =
    include_str!("../../../test-vectors/access-logs/aws-devguide-2014-examples-18-fields.log");

const OWNER: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";

fn sample() -> LogRecord {
    LogRecord {
        bucket_owner: OWNER.to_owned(),
        bucket: "amzn-s3-demo-bucket1".to_owned(),
        time: datetime!(2019-02-06 00:00:38 UTC),
        remote_ip: "192.0.2.3".to_owned(),
        requester: Some(OWNER.to_owned()),
        request_id: "3E57427F3EXAMPLE".to_owned(),
        operation: "REST.GET.OBJECT".to_owned(),
        key: Some("photos/2019/08/puppy.jpg".to_owned()),
        request_uri: Some(
            "GET /amzn-s3-demo-bucket1/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1".to_owned(),
        ),
        http_status: Some(200),
        error_code: None,
        bytes_sent: 2_662_992,
        object_size: Some(3_462_992),
        total_time_ms: Some(70),
        turn_around_time_ms: Some(10),
        referer: Some("http://www.amazon.com/webservices".to_owned()),
        user_agent: Some("curl/7.15.1".to_owned()),
        version_id: Some("3HL4kqtJvjVBH40Nrjfkd".to_owned()),
        host_id: "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234="
            .to_owned(),
        signature_version: Some("SigV4".to_owned()),
        cipher_suite: Some("ECDHE-RSA-AES128-GCM-SHA256".to_owned()),
        authentication_type: Some("AuthHeader".to_owned()),
        host_header: Some("amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com".to_owned()),
        tls_version: Some("TLSv1.2".to_owned()),
        access_point_arn: None,
        acl_required: false,
        extra: Vec::new(),
    }
}

// ------------------------------------------------------------------------------------------------
// AWS's documented records
// ------------------------------------------------------------------------------------------------

#[test]
fn userguide_examples_parse() {
    let records: Vec<LogRecord> = USERGUIDE.lines().map(|l| parse_line(l).unwrap()).collect();
    assert_eq!(records.len(), 5);
    for r in &records {
        assert_eq!(r.bucket_owner, OWNER);
        assert_eq!(r.bucket, "amzn-s3-demo-bucket1");
        assert_eq!(r.remote_ip, "192.0.2.3");
        assert_eq!(r.requester.as_deref(), Some(OWNER));
        assert_eq!(r.referer, None);
        assert_eq!(r.user_agent.as_deref(), Some("S3Console/0.4"));
        assert_eq!(r.version_id, None);
        assert_eq!(r.signature_version.as_deref(), Some("SigV4"));
        assert_eq!(r.authentication_type.as_deref(), Some("AuthHeader"));
        assert_eq!(r.tls_version.as_deref(), Some("TLSV1.2"));
        assert_eq!(
            r.host_header.as_deref(),
            Some("amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com")
        );
        assert!(r.extra.is_empty());
    }

    let r = &records[0];
    assert_eq!(r.time, datetime!(2019-02-06 00:00:38 UTC));
    assert_eq!(r.request_id, "3E57427F3EXAMPLE");
    assert_eq!(r.operation, "REST.GET.VERSIONING");
    assert_eq!(r.key, None);
    assert_eq!(
        r.request_uri.as_deref(),
        Some("GET /amzn-s3-demo-bucket1?versioning HTTP/1.1")
    );
    assert_eq!(r.http_status, Some(200));
    assert_eq!(r.error_code, None);
    assert_eq!(r.bytes_sent, 113);
    assert_eq!(r.object_size, None);
    assert_eq!(r.total_time_ms, Some(7));
    assert_eq!(r.turn_around_time_ms, None);
    assert_eq!(
        r.host_id,
        "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234="
    );
    assert_eq!(
        r.cipher_suite.as_deref(),
        Some("ECDHE-RSA-AES128-GCM-SHA256")
    );
    assert_eq!(
        r.access_point_arn.as_deref(),
        Some("arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP")
    );
    assert!(r.acl_required);

    let r = &records[1];
    assert_eq!(r.operation, "REST.GET.LOGGING_STATUS");
    assert_eq!(r.bytes_sent, 242);
    assert_eq!(r.total_time_ms, Some(11));
    assert_eq!(r.access_point_arn, None);
    assert!(!r.acl_required);

    let r = &records[2];
    assert_eq!(r.operation, "REST.GET.BUCKETPOLICY");
    assert_eq!(r.http_status, Some(404));
    assert_eq!(r.error_code.as_deref(), Some("NoSuchBucketPolicy"));
    assert_eq!(r.bytes_sent, 297);
    assert_eq!(r.total_time_ms, Some(38));
    assert!(r.acl_required);

    let r = &records[3];
    assert_eq!(r.time, datetime!(2019-02-06 00:01:00 UTC));
    assert_eq!(r.request_id, "7B4A0FABBEXAMPLE");
    assert_eq!(r.total_time_ms, Some(33));

    let r = &records[4];
    assert_eq!(r.time, datetime!(2019-02-06 00:01:57 UTC));
    assert_eq!(r.operation, "REST.PUT.OBJECT");
    assert_eq!(r.key.as_deref(), Some("s3-dg.pdf"));
    assert_eq!(
        r.request_uri.as_deref(),
        Some("PUT /amzn-s3-demo-bucket1/s3-dg.pdf HTTP/1.1")
    );
    assert_eq!(r.http_status, Some(200));
    assert_eq!(r.bytes_sent, 0);
    assert_eq!(r.object_size, Some(4_406_583));
    assert_eq!(r.total_time_ms, Some(41_754));
    assert_eq!(r.turn_around_time_ms, Some(28));
    assert_eq!(r.cipher_suite.as_deref(), Some("ECDHE-RSA-AES128-SHA"));
    assert!(r.acl_required);
}

#[test]
fn userguide_examples_are_reproduced_byte_for_byte() {
    // Every AWS example field is written exactly as AWS wrote it.
    for line in USERGUIDE.lines() {
        assert_eq!(parse_line(line).unwrap().to_line(), line);
    }
}

#[test]
fn cn_examples_keep_the_27th_field() {
    for line in CN_27.lines() {
        let r = parse_line(line).unwrap();
        assert_eq!(r.extra, vec!["us-east-1".to_owned()]);
        assert_eq!(r.to_line(), line);
    }
}

#[test]
fn older_18_field_records_leave_the_tail_absent() {
    let records: Vec<LogRecord> = DEV_2014.lines().map(|l| parse_line(l).unwrap()).collect();
    assert_eq!(records.len(), 5);
    let r = &records[4];
    assert_eq!(r.bucket, "mybucket");
    assert_eq!(r.time, datetime!(2014-02-06 00:01:57 UTC));
    assert_eq!(r.operation, "REST.PUT.OBJECT");
    assert_eq!(r.key.as_deref(), Some("s3-dg.pdf"));
    assert_eq!(r.object_size, Some(4_406_583));
    assert_eq!(r.version_id, None);
    assert_eq!(r.host_id, "-");
    assert_eq!(r.signature_version, None);
    assert_eq!(r.tls_version, None);
    assert!(!r.acl_required);
    assert_eq!(records[2].error_code.as_deref(), Some("NoSuchBucketPolicy"));
    // 17 fields (the 2006 format, no Version Id) are accepted too.
    let seventeen = DEV_2014.lines().next().unwrap().strip_suffix(" -").unwrap();
    assert_eq!(parse_line(seventeen).unwrap().version_id, None);
}

#[test]
fn tolerant_of_line_ends_trailing_spaces_and_quoted_dashes() {
    let line = USERGUIDE.lines().nth(2).unwrap();
    let want = parse_line(line).unwrap();
    assert_eq!(parse_line(&format!("{line} ")).unwrap(), want);
    assert_eq!(parse_line(&format!("{line}\n")).unwrap(), want);
    assert_eq!(parse_line(&format!("{line}\r\n")).unwrap(), want);
    assert_eq!(
        parse_line(&line.replace(" - \"GET", "  -  \"GET")).unwrap(),
        want
    );
    // awsdocs/amazon-s3-developer-guide#14: a `-` may be quoted.
    let quoted = line.replace(" - \"GET", " \"-\" \"GET");
    assert_eq!(parse_line(&quoted).unwrap(), want);
}

#[test]
fn aws_unescaped_quotes_are_read() {
    // cocoonlife/s3-log-parse#1: the key `"` (sent as %22, logged double-encoded) and a raw quote in
    // the Request-URI.
    let line = r#"f383580bf9c9bd19055832f1bf43164c3e6c444a758287727f8f40ab00d461bc testing-1234xxx [20/Jun/2019:03:51:36 +0000] 1.2.3.4 - 63DAF67A2BC0B6C3 REST.GET.OBJECT %2522 "GET /" HTTP/1.1" 403 AccessDenied 243 - 8 - "referer test" "curl/7.38.0" - uidORkMVUSKEFetTC9FJG1qrSdT9DlxA97GPF8m2IsJlDxHLkV5VGzmkuTb8pXIym7B/J5XZlGU= - ECDHE-RSA-AES128-GCM-SHA256 - testing-1234xxx.s3.amazonaws.com TLSv1.2"#;
    let r = parse_line(line).unwrap();
    assert_eq!(r.key.as_deref(), Some("%22"));
    assert_eq!(r.request_uri.as_deref(), Some("GET /\" HTTP/1.1"));
    assert_eq!(r.http_status, Some(403));
    assert_eq!(r.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(r.referer.as_deref(), Some("referer test"));
    assert_eq!(r.requester, None);
    assert_eq!(r.signature_version, None);
    assert_eq!(r.tls_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(r.access_point_arn, None);

    // aws-samples/siem-on-amazon-opensearch-service#34: a User-Agent ending in a raw quote.
    let line = r#"BucketOwner example-bucket [24/Dec/2020:20:00:00 +0000] 192.0.2.1 - xxxxxIDxxxx REST.GET.OBJECT aaa/fizzbuzz.txt "GET /some-path/fizzbuzz.txt HTTP/1.1" 200 - 49851 49851 23 22 "https://example,com/some/url" "Mozilla/5.0 (iPad) Safari/604.1"" - someIDstring - ECDHE-RSA-AES128-GCM-SHA256 - s3-ap-northeast-1.amazonaws.com TLSv1.2"#;
    let r = parse_line(line).unwrap();
    assert_eq!(
        r.user_agent.as_deref(),
        Some("Mozilla/5.0 (iPad) Safari/604.1\"")
    );
    assert_eq!(r.host_id, "someIDstring");
    assert_eq!(
        r.cipher_suite.as_deref(),
        Some("ECDHE-RSA-AES128-GCM-SHA256")
    );

    // A raw backslash just before the closing quote.
    let line = sample().to_line().replace("\"curl/7.15.1\"", "\"C:\\\"");
    let r = parse_line(&line).unwrap();
    assert_eq!(r.user_agent.as_deref(), Some("C:\\"));
    assert_eq!(r.version_id.as_deref(), Some("3HL4kqtJvjVBH40Nrjfkd"));
}

#[test]
fn lifecycle_records_without_request_or_status() {
    let line = format!(
        "{OWNER} amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] - - 5E5D0A1B9EXAMPLE S3.EXPIRE.OBJECT old%2Flog.txt - - - - 1048576 - - - - - hostid= - - - - - - -"
    );
    let r = parse_line(&line).unwrap();
    assert_eq!(r.operation, "S3.EXPIRE.OBJECT");
    assert_eq!(r.key.as_deref(), Some("old/log.txt"));
    assert_eq!(r.request_uri, None);
    assert_eq!(r.http_status, None);
    assert_eq!(r.total_time_ms, None);
    assert_eq!(r.object_size, Some(1_048_576));
    assert_eq!(r.user_agent, None);
    assert_eq!(r.remote_ip, "-");
}

// ------------------------------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------------------------------

#[test]
fn to_line_format() {
    let line = sample().to_line();
    assert_eq!(
        line,
        format!(
            "{OWNER} amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 {OWNER} 3E57427F3EXAMPLE \
             REST.GET.OBJECT photos/2019/08/puppy.jpg \"GET /amzn-s3-demo-bucket1/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1\" \
             200 - 2662992 3462992 70 10 \"http://www.amazon.com/webservices\" \"curl/7.15.1\" 3HL4kqtJvjVBH40Nrjfkd \
             s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 \
             ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSv1.2 - -"
        )
    );
    assert!(!line.contains('\n'));
}

#[test]
fn to_line_converts_time_to_utc_and_zero_bytes_to_dash() {
    let mut r = sample();
    r.time = datetime!(2019-02-06 01:00:38 +01:00);
    r.bytes_sent = 0;
    r.object_size = Some(0);
    let line = r.to_line();
    assert!(line.contains(" [06/Feb/2019:00:00:38 +0000] "));
    assert!(line.contains(" 200 - - 0 70 10 "));
    let back = parse_line(&line).unwrap();
    assert_eq!(back.time, datetime!(2019-02-06 00:00:38 UTC));
    assert_eq!(back.bytes_sent, 0);
    assert_eq!(back.object_size, Some(0));
}

#[test]
fn escaping_of_quoted_and_bare_fields() {
    let mut r = sample();
    r.key = Some("my dir/\"quoted\" ü\n%.txt".to_owned());
    r.user_agent = Some("agent \"x\" \\ end\n\ttab\u{7f}\u{85}\u{2028}".to_owned());
    r.referer = Some(String::new());
    r.requester = Some("arn:aws:iam::123456789012:user/with space".to_owned());
    r.error_code = Some("-".to_owned());
    r.version_id = Some(String::new());
    r.extra = vec!["us-east-1".to_owned(), "\"two words\"".to_owned()];
    let line = r.to_line();
    assert!(!line.contains(['\n', '\t', '\u{7f}', '\u{85}', '\u{2028}']));
    assert!(line.contains(" my%20dir/%22quoted%22%20%C3%BC%0A%25.txt "));
    assert!(line.contains(r#" "agent \"x\" \\ end\x0a\x09tab\x7f\u0085\u2028" "#));
    assert!(line.contains(r" arn:aws:iam::123456789012:user/with\x20space "));
    assert!(line.contains(r#" "" "agent"#));
    assert!(line.contains(r" 200 \x2d "));
    assert!(line.ends_with(r#" - - us-east-1 "two words""#));
    assert_eq!(parse_line(&line).unwrap(), r);
}

#[test]
fn dash_and_empty_values_round_trip() {
    let mut r = sample();
    r.key = Some("-".to_owned());
    r.request_uri = Some("-".to_owned());
    r.referer = Some("-".to_owned());
    r.requester = Some(String::new());
    r.bucket_owner = "-".to_owned();
    r.host_id = String::new();
    r.tls_version = Some("-".to_owned());
    let line = r.to_line();
    assert!(line.starts_with("- "));
    assert!(line.contains(" %2D \"\\x2d\" "));
    assert_eq!(parse_line(&line).unwrap(), r);

    let mut r = sample();
    r.key = Some(String::new());
    assert_eq!(parse_line(&r.to_line()).unwrap(), r);
}

/// A small deterministic PRNG (xorshift64*), so the randomized tests need no seed plumbing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap()
    }

    fn text(&mut self) -> String {
        const ALPHABET: &[char] = &[
            'a', 'Z', '0', ' ', '"', '\\', '-', '[', ']', '%', '/', '+', '\n', '\r', '\t', '\0',
            '\u{7f}', '\u{85}', 'é', '€', '😀', '\u{2028}', 'x', 'u', ':', '?', '=',
        ];
        let len = self.below(12);
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len())])
            .collect()
    }

    fn opt_text(&mut self) -> Option<String> {
        match self.below(4) {
            0 => None,
            1 => Some("-".to_owned()),
            _ => Some(self.text()),
        }
    }

    fn opt_num(&mut self) -> Option<u64> {
        match self.below(3) {
            0 => None,
            1 => Some(0),
            _ => Some(self.next() >> self.below(64)),
        }
    }
}

#[test]
fn random_records_round_trip() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let secs = i64::try_from(rng.next() % 253_402_300_799).unwrap();
        let r = LogRecord {
            bucket_owner: rng.text(),
            bucket: rng.text(),
            time: OffsetDateTime::from_unix_timestamp(secs).unwrap(),
            remote_ip: rng.text(),
            requester: rng.opt_text(),
            request_id: rng.text(),
            operation: rng.text(),
            key: rng.opt_text(),
            request_uri: rng.opt_text(),
            http_status: rng.opt_num().map(|n| u16::try_from(n % 1000).unwrap()),
            error_code: rng.opt_text(),
            bytes_sent: rng.opt_num().unwrap_or(0),
            object_size: rng.opt_num(),
            total_time_ms: rng.opt_num(),
            turn_around_time_ms: rng.opt_num(),
            referer: rng.opt_text(),
            user_agent: rng.opt_text(),
            version_id: rng.opt_text(),
            host_id: rng.text(),
            signature_version: rng.opt_text(),
            cipher_suite: rng.opt_text(),
            authentication_type: rng.opt_text(),
            host_header: rng.opt_text(),
            tls_version: rng.opt_text(),
            access_point_arn: rng.opt_text(),
            acl_required: rng.below(2) == 1,
            extra: (0..rng.below(3)).map(|i| format!("x{i}")).collect(),
        };
        let line = r.to_line();
        assert!(!line.contains(['\n', '\r']), "{line:?}");
        assert_eq!(parse_line(&line).as_ref(), Ok(&r), "{line:?}");
    }
}

#[test]
fn fuzz_parse_never_panics() {
    let seeds: Vec<String> = USERGUIDE
        .lines()
        .chain(CN_27.lines())
        .chain(DEV_2014.lines())
        .map(str::to_owned)
        .chain([sample().to_line()])
        .collect();
    let specials = [
        b'"', b'\\', b' ', b'[', b']', b'-', b'%', b'x', b'u', 0xff, 0xc3, b'\n',
    ];
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for i in 0..20_000 {
        let mut bytes: Vec<u8> = if i % 5 == 0 {
            (0..rng.below(300))
                .map(|_| rng.next().to_le_bytes()[0])
                .collect()
        } else {
            seeds[rng.below(seeds.len())].clone().into_bytes()
        };
        for _ in 0..=rng.below(8) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(bytes.len());
            match rng.below(5) {
                0 => bytes[at] = specials[rng.below(specials.len())],
                1 => bytes.insert(at, specials[rng.below(specials.len())]),
                2 => bytes.truncate(at),
                3 => {
                    bytes.remove(at);
                }
                _ => bytes[at] = rng.next().to_le_bytes()[0],
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(r) = parse_line(&text) {
            // Whatever parses must write a line that parses back to the same record.
            let again = parse_line(&r.to_line());
            assert_eq!(again.as_ref(), Ok(&r), "{text:?}");
        }
    }
}

#[test]
fn errors_name_the_field() {
    assert_eq!(
        parse_line(""),
        Err(LogParseError::MissingField {
            field: "bucket_owner"
        })
    );
    let line = USERGUIDE.lines().next().unwrap();
    let cut: String = line.split(" \"S3Console").next().unwrap().to_owned();
    assert_eq!(
        parse_line(&cut),
        Err(LogParseError::MissingField {
            field: "user_agent"
        })
    );
    // A non-numeric status is an error, though not necessarily reported on http_status: to read
    // AWS's unescaped quotes, the Request-URI ends at the first `"` followed by a status or `-`.
    assert!(parse_line(&line.replace(" 200 ", " OK ")).is_err());
    assert!(matches!(
        parse_line(&line.replace(" 200 ", " 70000 ")),
        Err(LogParseError::InvalidField {
            field: "http_status",
            ..
        })
    ));
    assert!(matches!(
        parse_line(&line.replace(" 113 ", " 1.5 ")),
        Err(LogParseError::InvalidField {
            field: "bytes_sent",
            ..
        })
    ));
    assert!(matches!(
        parse_line(&line.replace("06/Feb/2019", "31/Feb/2019")),
        Err(LogParseError::InvalidField { field: "time", .. })
    ));
    assert_eq!(
        parse_line(&line.replace("+0000]", "+0000")),
        Err(LogParseError::Unterminated { field: "time" })
    );
    assert!(matches!(
        parse_line(&line.replace(" Yes", " No")),
        Err(LogParseError::InvalidField {
            field: "acl_required",
            ..
        })
    ));
    let open = line.replace("\"S3Console/0.4\"", "\"S3Console/0.4");
    assert!(parse_line(&open).is_err());
    let e = parse_line(&line.replace(" 113 ", " x ")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "access log record has an invalid bytes_sent: \"x\""
    );
}

#[test]
fn time_offsets_are_converted_to_utc() {
    let line = USERGUIDE
        .lines()
        .next()
        .unwrap()
        .replace("06/Feb/2019:00:00:38 +0000", "06/Feb/2019:02:00:38 +0200");
    let r = parse_line(&line).unwrap();
    assert_eq!(r.time, datetime!(2019-02-06 00:00:38 UTC));
    assert_eq!(r.time.offset(), time::UtcOffset::UTC);
}

#[test]
fn record_serializes_to_json() {
    let json = serde_json::to_value(sample()).unwrap();
    assert_eq!(json["time"], "2019-02-06T00:00:38Z");
    assert_eq!(json["http_status"], 200);
    assert_eq!(json["error_code"], serde_json::Value::Null);
    assert_eq!(json["acl_required"], false);
}

// ------------------------------------------------------------------------------------------------
// Logging configuration
// ------------------------------------------------------------------------------------------------

fn config(format: KeyFormat) -> LoggingConfig {
    LoggingConfig {
        target_bucket: "amzn-s3-demo-logs".to_owned(),
        target_prefix: "logs/".to_owned(),
        key_format: format,
    }
}

#[test]
fn parse_logging_status() {
    let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <LoggingEnabled>
    <TargetBucket>amzn-s3-demo-logs</TargetBucket>
    <TargetPrefix>logs/</TargetPrefix>
  </LoggingEnabled>
</BucketLoggingStatus>"#;
    assert_eq!(
        parse_bucket_logging_status(body).unwrap(),
        Some(config(KeyFormat::Simple))
    );

    let with = |fmt: &str| {
        format!(
            "<BucketLoggingStatus><LoggingEnabled><TargetBucket>amzn-s3-demo-logs</TargetBucket>\
             <TargetPrefix>logs/</TargetPrefix><TargetObjectKeyFormat>{fmt}</TargetObjectKeyFormat>\
             </LoggingEnabled></BucketLoggingStatus>"
        )
    };
    let cases = [
        ("<SimplePrefix/>", KeyFormat::Simple),
        ("<SimplePrefix></SimplePrefix>", KeyFormat::Simple),
        (
            "<PartitionedPrefix/>",
            KeyFormat::Partitioned(DateSource::EventTime),
        ),
        (
            "<PartitionedPrefix><PartitionDateSource>EventTime</PartitionDateSource></PartitionedPrefix>",
            KeyFormat::Partitioned(DateSource::EventTime),
        ),
        (
            "<PartitionedPrefix><PartitionDateSource> DeliveryTime </PartitionDateSource></PartitionedPrefix>",
            KeyFormat::Partitioned(DateSource::DeliveryTime),
        ),
    ];
    for (fmt, want) in cases {
        let got = parse_bucket_logging_status(with(fmt).as_bytes()).unwrap();
        assert_eq!(got, Some(config(want)), "{fmt}");
    }
}

#[test]
fn parse_logging_status_disable() {
    for body in [
        r#"<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#,
        r#"<?xml version="1.0" encoding="UTF-8"?><BucketLoggingStatus xmlns="http://doc.s3.amazonaws.com/2006-03-01" />"#,
        "<BucketLoggingStatus>\n</BucketLoggingStatus>",
    ] {
        assert_eq!(
            parse_bucket_logging_status(body.as_bytes()).unwrap(),
            None,
            "{body}"
        );
    }
}

#[test]
fn parse_logging_status_refusals() {
    let malformed = [
        "",
        "<LoggingEnabled/>",
        "<BucketLoggingStatus><LoggingEnabled/></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetPrefix>p</TargetPrefix></LoggingEnabled></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket></LoggingEnabled></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket> </TargetBucket><TargetPrefix/></LoggingEnabled></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetBucket>c</TargetBucket><TargetPrefix/></LoggingEnabled></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetPrefix/><Other/></LoggingEnabled></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetPrefix/></LoggingEnabled><LoggingEnabled/></BucketLoggingStatus>",
        "<BucketLoggingStatus>text</BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetPrefix/><TargetObjectKeyFormat/></LoggingEnabled></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetPrefix/><TargetObjectKeyFormat><SimplePrefix/><PartitionedPrefix/></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetPrefix/><TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>Hourly</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetPrefix/><TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>EventTime</PartitionDateSource><PartitionDateSource>EventTime</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>",
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetPrefix/><TargetObjectKeyFormat><SimplePrefix>x</SimplePrefix></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>",
        "<!DOCTYPE x><BucketLoggingStatus/>",
    ];
    for body in malformed {
        let e = parse_bucket_logging_status(body.as_bytes()).unwrap_err();
        assert_eq!(e.code(), S3ErrorCode::MalformedXML, "{body}");
    }

    let grants = r#"<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LoggingEnabled><TargetBucket>b</TargetBucket><TargetGrants><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></TargetGrants><TargetPrefix>p</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"#;
    let e = parse_bucket_logging_status(grants.as_bytes()).unwrap_err();
    assert_eq!(e.code(), S3ErrorCode::AccessControlListNotSupported);
    assert_eq!(e.status(), 400);

    let empty_grants = "<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetGrants/><TargetPrefix>p</TargetPrefix></LoggingEnabled></BucketLoggingStatus>";
    assert!(parse_bucket_logging_status(empty_grants.as_bytes()).is_ok());
}

#[test]
fn render_logging_status_round_trips() {
    assert_eq!(
        render_bucket_logging_status(None),
        r#"<?xml version="1.0" encoding="UTF-8"?><BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#
    );
    assert_eq!(
        parse_bucket_logging_status(render_bucket_logging_status(None).as_bytes()).unwrap(),
        None
    );
    assert_eq!(
        render_bucket_logging_status(Some(&config(KeyFormat::Partitioned(
            DateSource::DeliveryTime
        )))),
        r#"<?xml version="1.0" encoding="UTF-8"?><BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LoggingEnabled><TargetBucket>amzn-s3-demo-logs</TargetBucket><TargetPrefix>logs/</TargetPrefix><TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>DeliveryTime</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>"#
    );
    for format in [
        KeyFormat::Simple,
        KeyFormat::Partitioned(DateSource::EventTime),
        KeyFormat::Partitioned(DateSource::DeliveryTime),
    ] {
        for prefix in ["", "logs/", " a <b> & \"c\" 'd' ü/\r\n"] {
            let c = LoggingConfig {
                target_prefix: prefix.to_owned(),
                ..config(format)
            };
            let xml = render_bucket_logging_status(Some(&c));
            assert_eq!(
                parse_bucket_logging_status(xml.as_bytes()).unwrap(),
                Some(c)
            );
        }
    }
}

#[test]
fn config_serde_json() {
    let c = config(KeyFormat::Partitioned(DateSource::EventTime));
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(
        json,
        r#"{"target_bucket":"amzn-s3-demo-logs","target_prefix":"logs/","key_format":{"Partitioned":"EventTime"}}"#
    );
    assert_eq!(serde_json::from_str::<LoggingConfig>(&json).unwrap(), c);
    let simple = config(KeyFormat::Simple);
    let json = serde_json::to_string(&simple).unwrap();
    assert!(json.ends_with(r#""key_format":"Simple"}"#));
    assert_eq!(
        serde_json::from_str::<LoggingConfig>(&json).unwrap(),
        simple
    );
}

#[test]
fn object_keys() {
    let delivery = datetime!(2013-11-01 21:32:16 UTC);
    let event = datetime!(2013-11-01 20:59:59 UTC);
    let key = |f| {
        config(f).object_key(
            "123456789012",
            "us-east-1",
            "amzn-s3-demo-bucket1",
            delivery,
            event,
            "E568B2907131C0C0",
        )
    };
    // API:API_PartitionedPrefix / S3-FEATURES.md §9.1.
    assert_eq!(
        key(KeyFormat::Simple),
        "logs/2013-11-01-21-32-16-E568B2907131C0C0"
    );
    assert_eq!(
        key(KeyFormat::Partitioned(DateSource::DeliveryTime)),
        "logs/123456789012/us-east-1/amzn-s3-demo-bucket1/2013/11/01/2013-11-01-21-32-16-E568B2907131C0C0"
    );
    assert_eq!(
        key(KeyFormat::Partitioned(DateSource::EventTime)),
        "logs/123456789012/us-east-1/amzn-s3-demo-bucket1/2013/11/01/2013-11-01-00-00-00-E568B2907131C0C0"
    );
    // Times are taken in UTC: 01:30 at +02:00 is the previous UTC day.
    let c = config(KeyFormat::Partitioned(DateSource::EventTime));
    let k = c.object_key(
        "1",
        "r",
        "b",
        datetime!(2024-03-01 01:30:00 +02:00),
        datetime!(2024-03-01 01:30:00 +02:00),
        "U",
    );
    assert_eq!(k, "logs/1/r/b/2024/02/29/2024-02-29-00-00-00-U");
    let k = config(KeyFormat::Simple).object_key(
        "1",
        "r",
        "b",
        datetime!(2024-03-01 01:30:00 +02:00),
        datetime!(2024-03-01 01:30:00 +02:00),
        "U",
    );
    assert_eq!(k, "logs/2024-02-29-23-30-00-U");
}

// ------------------------------------------------------------------------------------------------
// Querying
// ------------------------------------------------------------------------------------------------

#[test]
fn filter_matches() {
    let records: Vec<LogRecord> = USERGUIDE.lines().map(|l| parse_line(l).unwrap()).collect();
    let count = |f: &LogFilter| records.iter().filter(|r| f.matches(r)).count();
    assert_eq!(count(&LogFilter::default()), 5);
    let f = LogFilter {
        since: Some(datetime!(2019-02-06 00:01:00 UTC)),
        ..LogFilter::default()
    };
    assert_eq!(count(&f), 2);
    let f = LogFilter {
        until: Some(datetime!(2019-02-06 00:01:00 UTC)),
        ..LogFilter::default()
    };
    assert_eq!(count(&f), 3);
    let f = LogFilter {
        status: Some(404),
        ..LogFilter::default()
    };
    assert_eq!(count(&f), 1);
    let f = LogFilter {
        operation: Some("rest.get.versioning".to_owned()),
        ..LogFilter::default()
    };
    assert_eq!(count(&f), 2);
    let f = LogFilter {
        operation: Some("REST.GET.*".to_owned()),
        ..LogFilter::default()
    };
    assert_eq!(count(&f), 4);
    let f = LogFilter {
        requester: Some(OWNER.to_owned()),
        status: Some(200),
        ..LogFilter::default()
    };
    assert_eq!(count(&f), 4);
    let f = LogFilter {
        requester: Some("-".to_owned()),
        ..LogFilter::default()
    };
    assert_eq!(count(&f), 0);
    let mut anon = sample();
    anon.requester = None;
    assert!(f.matches(&anon));
    let f = LogFilter {
        operation: Some("REST.GET.OBJECTS".to_owned()),
        ..LogFilter::default()
    };
    assert!(!f.matches(&anon));
}

#[test]
fn summary_counts_and_renders() {
    let mut s = Summary::default();
    for line in USERGUIDE.lines() {
        s.add(&parse_line(line).unwrap());
    }
    let mut anon = sample();
    anon.requester = None;
    anon.http_status = None;
    s.add(&anon);
    assert_eq!(s.requests, 6);
    assert_eq!(s.bytes_sent, 113 + 242 + 297 + 113 + 2_662_992);
    assert_eq!(s.by_operation["REST.GET.VERSIONING"], 2);
    assert_eq!(s.by_status["200"], 4);
    assert_eq!(s.by_status["-"], 1);
    assert_eq!(s.by_requester["-"], 1);
    assert_eq!(s.by_requester[OWNER], 5);

    let text = s.render_text();
    let want = format!(
        "requests    6\n\
         bytes sent  2663757\n\
         \n\
         operation                count\n\
         REST.GET.VERSIONING          2\n\
         REST.GET.BUCKETPOLICY        1\n\
         REST.GET.LOGGING_STATUS      1\n\
         REST.GET.OBJECT              1\n\
         REST.PUT.OBJECT              1\n\
         \n\
         status  count\n\
         200         4\n\
         -           1\n\
         404         1\n\
         \n\
         requester{pad}  count\n\
         {OWNER}      5\n\
         -{pad2}      1\n",
        pad = " ".repeat(64 - 9),
        pad2 = " ".repeat(63),
    );
    assert_eq!(text, want);

    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["requests"], 6);
    assert_eq!(json["by_status"]["404"], 1);
}

#[test]
fn table_rows() {
    let row = render_table_row(&sample());
    assert_eq!(
        row,
        format!(
            "2019-02-06T00:00:38Z 200    REST.GET.OBJECT              {OWNER} photos/2019/08/puppy.jpg 2662992"
        )
    );
    let mut r = sample();
    r.requester = None;
    r.key = Some("evil\u{1b}[2J key\n".to_owned());
    r.http_status = None;
    let row = render_table_row(&r);
    assert!(row.contains(r" - "));
    assert!(row.contains(r"evil\x1b[2J\x20key\x0a "));
    assert!(!row.contains(['\u{1b}', '\n']));
    assert!(TABLE_HEADER.starts_with("TIME"));
}

#[test]
fn request_uri_redaction() {
    let uri = "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261202%2Fus-east-1%2Fs3%2Faws4_request&x-amz-security-token=FwoGZXIvYXdzEXAMPLE&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404&x-foo=bar HTTP/1.1";
    let out = redact_request_uri(uri);
    assert_eq!(
        out,
        "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261202%2Fus-east-1%2Fs3%2Faws4_request&x-amz-security-token=REDACTED&X-Amz-Signature=REDACTED&x-foo=bar HTTP/1.1"
    );
    let v2 = "GET /b/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D HTTP/1.1";
    assert!(redact_request_uri(v2).ends_with("&Signature=REDACTED HTTP/1.1"));
    let plain = "GET /b/k?versioning HTTP/1.1";
    assert!(matches!(
        redact_request_uri(plain),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(redact_request_uri("GET /b/k HTTP/1.1"), "GET /b/k HTTP/1.1");
}
