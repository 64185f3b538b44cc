use std::time::Duration;

use proptest::prelude::*;

use super::*;

const NS: &str = r#"xmlns="http://s3.amazonaws.com/doc/2006-03-01/""#;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// 2009-10-12T17:50:30Z, the time of the API reference's listing examples.
fn t2009() -> SystemTime {
    at(1_255_369_830)
}

fn doc(root: &str, inner: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><{root} {NS}>{inner}</{root}>"#)
}

const OWNER: Owner<'static> = Owner {
    id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",
    display_name: "mtd@amazon.com",
};

fn assert_malformed<T: std::fmt::Debug>(r: Result<T, S3Error>) {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(e) => {
            assert_eq!(e.code(), S3ErrorCode::MalformedXML);
            assert_eq!(e.status(), 400);
            assert!(
                e.message()
                    .starts_with("The XML you provided was not well-formed")
            );
        }
    }
}

// ---- helpers ---------------------------------------------------------------------------------

#[test]
fn timestamps_have_milliseconds_and_z() {
    assert_eq!(timestamp(at(1_796_191_200)), "2026-12-02T06:00:00.000Z");
    assert_eq!(
        timestamp(at(1_796_191_200) + Duration::from_millis(7)),
        "2026-12-02T06:00:00.007Z"
    );
    assert_eq!(
        timestamp(UNIX_EPOCH - Duration::from_secs(5)),
        "1970-01-01T00:00:00.000Z"
    );
}

#[test]
fn escaping_predefined_entities_and_controls() {
    assert_eq!(escape_text("plain/key.txt"), "plain/key.txt");
    assert_eq!(escape_text(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    assert_eq!(escape_text("a\rb"), "a&#13;b");
    assert_eq!(escape_text("\u{1}\u{1f}\t\n"), "&#x1;&#x1F;\t\n");
    assert_eq!(escape_text("\u{FFFE}é日本"), "&#xFFFE;é日本");
}

#[test]
fn url_encoding_keeps_only_unreserved() {
    assert_eq!(url_encode("abc-XYZ_0.9~"), "abc-XYZ_0.9~");
    assert_eq!(url_encode("a b+c/d"), "a%20b%2Bc/d");
    assert_eq!(url_encode("é"), "%C3%A9");
    assert_eq!(url_encode("\u{1}&<%"), "%01%26%3C%25");
    assert_eq!(url_encode(""), "");
}

// ---- renderers -------------------------------------------------------------------------------

#[test]
fn list_all_my_buckets() {
    let buckets = [
        BucketInfo {
            name: "examplebucket".into(),
            created: Some(at(1_796_191_200)),
        },
        BucketInfo {
            name: "undated".into(),
            created: None,
        },
    ];
    let xml = render_list_all_my_buckets(OWNER, &buckets, None, None);
    assert_eq!(
        xml,
        doc(
            "ListAllMyBucketsResult",
            "<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\
             <DisplayName>mtd@amazon.com</DisplayName></Owner><Buckets><Bucket><Name>examplebucket</Name>\
             <CreationDate>2026-12-02T06:00:00.000Z</CreationDate></Bucket><Bucket><Name>undated</Name>\
             </Bucket></Buckets>"
        )
    );
    let xml = render_list_all_my_buckets(OWNER, &[], Some("tok&"), Some("ex"));
    assert!(xml.ends_with(
        "<Buckets></Buckets><ContinuationToken>tok&amp;</ContinuationToken><Prefix>ex</Prefix>\
         </ListAllMyBucketsResult>"
    ));
}

fn entry(key: &str) -> ListEntry<'_> {
    ListEntry {
        key,
        last_modified: t2009(),
        etag: "\"fba9dede5f27731c9771645a39863328\"",
        size: 434_234,
        checksum_algorithm: None,
    }
}

fn v2_page<'a>(contents: &'a [ListEntry<'a>], prefixes: &'a [String]) -> ListV2Page<'a> {
    ListV2Page {
        bucket: "bucket",
        prefix: "",
        delimiter: None,
        max_keys: 1000,
        encoding_url: false,
        continuation_token: None,
        next_continuation_token: None,
        start_after: None,
        fetch_owner: false,
        owner: OWNER,
        contents,
        common_prefixes: prefixes,
        is_truncated: false,
    }
}

#[test]
fn list_objects_v2_api_reference_example() {
    let contents = [entry("my-image.jpg")];
    let xml = render_list_objects_v2(&v2_page(&contents, &[]));
    assert_eq!(
        xml,
        doc(
            "ListBucketResult",
            "<Name>bucket</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><KeyCount>1</KeyCount>\
             <IsTruncated>false</IsTruncated><Contents><Key>my-image.jpg</Key>\
             <LastModified>2009-10-12T17:50:30.000Z</LastModified>\
             <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>\
             <StorageClass>STANDARD</StorageClass></Contents>"
        )
    );
}

#[test]
fn list_objects_v2_every_field() {
    let mut e = entry("photos/a b+c.jpg");
    e.checksum_algorithm = Some("CRC32");
    let contents = [e];
    let prefixes = ["photos/2006/".to_owned()];
    let mut page = v2_page(&contents, &prefixes);
    page.prefix = "photos/";
    page.delimiter = Some("/");
    page.max_keys = 2;
    page.continuation_token = Some("t1");
    page.next_continuation_token = Some("t2");
    page.start_after = Some("photos/0");
    page.fetch_owner = true;
    page.is_truncated = true;
    assert_eq!(
        render_list_objects_v2(&page),
        doc(
            "ListBucketResult",
            "<Name>bucket</Name><Prefix>photos/</Prefix><Delimiter>/</Delimiter><MaxKeys>2</MaxKeys>\
             <KeyCount>2</KeyCount><IsTruncated>true</IsTruncated><ContinuationToken>t1</ContinuationToken>\
             <NextContinuationToken>t2</NextContinuationToken><StartAfter>photos/0</StartAfter>\
             <Contents><Key>photos/a b+c.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
             <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>\
             <ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>434234</Size><Owner>\
             <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\
             <DisplayName>mtd@amazon.com</DisplayName></Owner><StorageClass>STANDARD</StorageClass>\
             </Contents><CommonPrefixes><Prefix>photos/2006/</Prefix></CommonPrefixes>"
        )
    );
    page.encoding_url = true;
    let xml = render_list_objects_v2(&page);
    for part in [
        "<Prefix>photos/</Prefix><Delimiter>/</Delimiter>",
        "<EncodingType>url</EncodingType><KeyCount>2</KeyCount>",
        "<StartAfter>photos/0</StartAfter>",
        "<Key>photos/a%20b%2Bc.jpg</Key>",
        "<CommonPrefixes><Prefix>photos/2006/</Prefix></CommonPrefixes>",
        "<ContinuationToken>t1</ContinuationToken>",
    ] {
        assert!(xml.contains(part), "{part} not in {xml}");
    }
}

#[test]
fn keys_with_markup_and_controls_are_escaped() {
    let contents = [entry("a<b>&\"'\r\u{1}z")];
    let xml = render_list_objects_v2(&v2_page(&contents, &[]));
    assert!(
        xml.contains("<Key>a&lt;b&gt;&amp;&quot;&apos;&#13;&#x1;z</Key>"),
        "{xml}"
    );
    // quick-xml reads the key back (it resolves the references without enforcing XML 1.0's Char rule).
    let mut page = v2_page(&contents, &[]);
    page.encoding_url = true;
    let xml = render_list_objects_v2(&page);
    assert!(xml.contains("<Key>a%3Cb%3E%26%22%27%0D%01z</Key>"), "{xml}");
}

#[test]
fn list_objects_v1_api_reference_example() {
    let contents = [entry("my-image.jpg")];
    let page = ListV1Page {
        bucket: "bucket",
        prefix: "",
        marker: "",
        next_marker: None,
        max_keys: 1000,
        delimiter: None,
        encoding_url: false,
        owner: OWNER,
        contents: &contents,
        common_prefixes: &[],
        is_truncated: false,
    };
    assert_eq!(
        render_list_objects_v1(&page),
        doc(
            "ListBucketResult",
            "<Name>bucket</Name><Prefix></Prefix><Marker></Marker><MaxKeys>1000</MaxKeys>\
             <IsTruncated>false</IsTruncated><Contents><Key>my-image.jpg</Key>\
             <LastModified>2009-10-12T17:50:30.000Z</LastModified>\
             <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size><Owner>\
             <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\
             <DisplayName>mtd@amazon.com</DisplayName></Owner><StorageClass>STANDARD</StorageClass>\
             </Contents>"
        )
    );
}

#[test]
fn list_objects_v1_next_marker_only_with_delimiter() {
    let prefixes = ["a b/".to_owned()];
    let mut page = ListV1Page {
        bucket: "bucket",
        prefix: "",
        marker: "m",
        next_marker: Some("a b/"),
        max_keys: 1,
        delimiter: None,
        encoding_url: false,
        owner: OWNER,
        contents: &[],
        common_prefixes: &prefixes,
        is_truncated: true,
    };
    assert!(!render_list_objects_v1(&page).contains("NextMarker"));
    page.delimiter = Some("/");
    page.encoding_url = true;
    let xml = render_list_objects_v1(&page);
    assert!(
        xml.contains(
            "<Marker>m</Marker><NextMarker>a%20b/</NextMarker><MaxKeys>1</MaxKeys>\
             <Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><EncodingType>url</EncodingType>\
             <CommonPrefixes><Prefix>a%20b/</Prefix></CommonPrefixes>"
        ),
        "{xml}"
    );
    page.is_truncated = false;
    assert!(!render_list_objects_v1(&page).contains("NextMarker"));
}

#[test]
fn initiate_multipart_upload_api_reference_example() {
    assert_eq!(
        render_initiate_multipart_upload(
            "example-bucket",
            "example-object",
            "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
        ),
        doc(
            "InitiateMultipartUploadResult",
            "<Bucket>example-bucket</Bucket><Key>example-object</Key>\
             <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
        )
    );
}

#[test]
fn complete_multipart_upload_api_reference_example() {
    let out = CompleteMultipartUploadOutput {
        location: "http://Example-Bucket.s3.region.amazonaws.com/Example-Object",
        bucket: "Example-Bucket",
        key: "Example-Object",
        etag: "\"3858f62230ac3c915f300c664312c11f-9\"",
        checksums: &[],
        checksum_type: None,
    };
    assert_eq!(
        render_complete_multipart_upload(&out),
        doc(
            "CompleteMultipartUploadResult",
            "<Location>http://Example-Bucket.s3.region.amazonaws.com/Example-Object</Location>\
             <Bucket>Example-Bucket</Bucket><Key>Example-Object</Key>\
             <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>"
        )
    );
    let out = CompleteMultipartUploadOutput {
        checksums: &[("CRC32", "AAAAAA==-2"), ("BOGUS><", "x")],
        checksum_type: Some("COMPOSITE"),
        ..out
    };
    assert!(render_complete_multipart_upload(&out).ends_with(
        "<ChecksumCRC32>AAAAAA==-2</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType>\
         </CompleteMultipartUploadResult>"
    ));
}

#[test]
fn list_multipart_uploads() {
    let initiator = Owner {
        id: "arn:aws:iam::111122223333:user/user1",
        display_name: "user1",
    };
    let uploads = [UploadEntry {
        key: "my divisor",
        upload_id: "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw",
        initiator,
        owner: OWNER,
        initiated: at(1_289_422_113),
    }];
    let prefixes = ["photos/".to_owned()];
    let mut page = ListUploadsPage {
        bucket: "bucket",
        key_marker: "",
        upload_id_marker: "",
        next_key_marker: "my divisor",
        next_upload_id_marker: "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw",
        prefix: None,
        delimiter: None,
        max_uploads: 1,
        encoding_url: false,
        is_truncated: true,
        uploads: &uploads,
        common_prefixes: &[],
    };
    assert_eq!(
        render_list_multipart_uploads(&page),
        doc(
            "ListMultipartUploadsResult",
            "<Bucket>bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>\
             <NextKeyMarker>my divisor</NextKeyMarker>\
             <NextUploadIdMarker>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</NextUploadIdMarker>\
             <MaxUploads>1</MaxUploads><IsTruncated>true</IsTruncated><Upload><Key>my divisor</Key>\
             <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId><Initiator>\
             <ID>arn:aws:iam::111122223333:user/user1</ID><DisplayName>user1</DisplayName></Initiator>\
             <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\
             <DisplayName>mtd@amazon.com</DisplayName></Owner><StorageClass>STANDARD</StorageClass>\
             <Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>"
        )
    );
    page.prefix = Some("p/");
    page.delimiter = Some("/");
    page.encoding_url = true;
    page.common_prefixes = &prefixes;
    let xml = render_list_multipart_uploads(&page);
    for part in [
        "<NextKeyMarker>my%20divisor</NextKeyMarker>",
        "<Delimiter>/</Delimiter><Prefix>p/</Prefix><EncodingType>url</EncodingType><MaxUploads>",
        "<Key>my%20divisor</Key>",
        "</Upload><CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes></ListMultipartUploadsResult>",
    ] {
        assert!(xml.contains(part), "{part} not in {xml}");
    }
}

#[test]
fn list_parts_api_reference_example() {
    let stored = PartInfo {
        part_number: 2,
        etag: "\"7778aef83f66abc1fa1e8477f296d394\"".into(),
        size: 10_485_760,
    };
    let parts = [PartEntry::new(&stored, at(1_289_422_114))];
    let page = ListPartsPage {
        bucket: "example-bucket",
        key: "example-object",
        upload_id: "XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA",
        initiator: Owner {
            id: "arn:aws:iam::111122223333:user/some-user",
            display_name: "some-user",
        },
        owner: Owner {
            id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",
            display_name: "someName",
        },
        part_number_marker: 1,
        next_part_number_marker: 2,
        max_parts: 2,
        is_truncated: true,
        parts: &parts,
    };
    assert_eq!(
        render_list_parts(&page),
        doc(
            "ListPartsResult",
            "<Bucket>example-bucket</Bucket><Key>example-object</Key>\
             <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>\
             <Initiator><ID>arn:aws:iam::111122223333:user/some-user</ID>\
             <DisplayName>some-user</DisplayName></Initiator><Owner>\
             <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\
             <DisplayName>someName</DisplayName></Owner><StorageClass>STANDARD</StorageClass>\
             <PartNumberMarker>1</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>\
             <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated><Part><PartNumber>2</PartNumber>\
             <LastModified>2010-11-10T20:48:34.000Z</LastModified>\
             <ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag><Size>10485760</Size></Part>"
        )
    );
}

#[test]
fn copy_results() {
    let etag = "\"9b2cf535f27731c974343645a3985328\"";
    let inner = "<LastModified>2009-10-12T17:50:30.000Z</LastModified>\
                 <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>";
    assert_eq!(
        render_copy_object(t2009(), etag),
        doc("CopyObjectResult", inner)
    );
    assert_eq!(
        render_copy_part(t2009(), etag),
        doc("CopyPartResult", inner)
    );
}

#[test]
fn delete_result() {
    let deleted = [
        Deleted {
            key: "sample1.txt".into(),
            ..Deleted::default()
        },
        Deleted {
            key: "v.txt".into(),
            version_id: Some("v1".into()),
            delete_marker: true,
            delete_marker_version_id: Some("dm1".into()),
        },
    ];
    let errors = [DeleteFailure::new(
        "sample2.txt",
        None,
        &S3Error::from_code(S3ErrorCode::AccessDenied),
    )];
    assert_eq!(
        render_delete_result(&deleted, &errors),
        doc(
            "DeleteResult",
            "<Deleted><Key>sample1.txt</Key></Deleted><Deleted><Key>v.txt</Key>\
             <VersionId>v1</VersionId><DeleteMarker>true</DeleteMarker>\
             <DeleteMarkerVersionId>dm1</DeleteMarkerVersionId></Deleted><Error>\
             <Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        )
    );
    assert_eq!(render_delete_result(&[], &[]), doc("DeleteResult", ""));
}

#[test]
fn small_documents() {
    let decl = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
    assert_eq!(
        render_location_constraint(None),
        format!("{decl}<LocationConstraint {NS}/>")
    );
    assert_eq!(
        render_location_constraint(Some("us-east-1")),
        render_location_constraint(None)
    );
    assert_eq!(
        render_location_constraint(Some("eu-west-1")),
        format!("{decl}<LocationConstraint {NS}>eu-west-1</LocationConstraint>")
    );
    assert_eq!(
        render_policy_status(true),
        doc("PolicyStatus", "<IsPublic>true</IsPublic>")
    );
    assert_eq!(
        render_public_access_block(&PublicAccessBlock::all_on()),
        doc(
            "PublicAccessBlockConfiguration",
            "<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>\
             <BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets>"
        )
    );
    assert_eq!(
        render_ownership_controls(ObjectOwnership::BucketOwnerEnforced),
        doc(
            "OwnershipControls",
            "<Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule>"
        )
    );
}

// ---- parsers ---------------------------------------------------------------------------------

#[test]
fn complete_multipart_upload_parses_in_document_order() {
    let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Part>
    <PartNumber> 2 </PartNumber>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <ChecksumCRC32>AAAAAA==</ChecksumCRC32>
  </Part>
  <!-- a comment -->
  <Part><ETag>&quot;aaaa&quot;</ETag><PartNumber>1</PartNumber></Part>
</CompleteMultipartUpload>"#;
    let parts = parse_complete_multipart_upload(body).expect("valid");
    assert_eq!(
        parts,
        vec![
            CompletedPart {
                part_number: 2,
                etag: "\"7778aef83f66abc1fa1e8477f296d394\"".into(),
                checksums: vec![("CRC32".into(), "AAAAAA==".into())],
            },
            CompletedPart {
                part_number: 1,
                etag: "\"aaaa\"".into(),
                checksums: vec![],
            },
        ]
    );
    // No namespace, a prefixed namespace, a BOM, unquoted ETag: all accepted.
    let parts = parse_complete_multipart_upload(
        "\u{FEFF}<s3:CompleteMultipartUpload xmlns:s3=\"x\"><s3:Part><s3:PartNumber>1</s3:PartNumber>\
         <s3:ETag>abc</s3:ETag></s3:Part></s3:CompleteMultipartUpload>"
            .as_bytes(),
    )
    .expect("prefixed");
    assert_eq!(parts[0].etag, "abc");
}

#[test]
fn complete_multipart_upload_refusals() {
    for body in [
        "<CompleteMultipartUpload/>",
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>+1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>4294967296</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>99999999999999999999999999</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1.0</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber></PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag><Bogus/></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag><ChecksumMD5>x</ChecksumMD5></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag><ChecksumSHA1>x</ChecksumSHA1><ChecksumSHA1>y</ChecksumSHA1></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber><x/>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload>text<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></Complete>",
        "<Other><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></Other>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload><X/>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&bogus;</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a & b</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&#0;</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload a='1' a='2'><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "",
        "   ",
        "not xml at all",
        "<",
    ] {
        assert_malformed(parse_complete_multipart_upload(body.as_bytes()));
    }
    assert_malformed(parse_complete_multipart_upload(b"\xff\xfe<\x00C\x00"));
}

#[test]
fn doctype_and_entities_are_refused() {
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Delete><Object><Key>&lol2;</Key></Object></Delete>"#;
    assert_malformed(parse_delete(billion_laughs.as_bytes()));
    let xxe = r#"<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>"#;
    assert_malformed(parse_delete(xxe.as_bytes()));
    assert_malformed(parse_delete(
        b"<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>",
    ));
    assert_malformed(parse_delete(
        b"<Delete><Object><Key>&lol;</Key></Object></Delete>",
    ));
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let depth = 100_000;
    let body = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    assert_malformed(parse_delete(body.as_bytes()));
    // Wide but shallow is fine until MAX_ELEMENTS.
    let wide = format!(
        "<Delete>{}</Delete>",
        "<Object><Key>k</Key></Object>".repeat(MAX_ELEMENTS / 2)
    );
    assert_malformed(parse_delete(wide.as_bytes()));
    // An empty Quiet is not a boolean.
    assert_malformed(parse_delete(
        b"<Delete><Quiet></Quiet><Object><Key>k</Key></Object></Delete>",
    ));
}

#[test]
fn delete_parses() {
    let body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  <Quiet>true</Quiet>\n\
                <Object><Key> sample &amp; &lt;1&gt;.txt\r\n</Key></Object>\n\
                <Object><Key>sample2.txt</Key><VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId>\
                <ETag>\"e\"</ETag><Size>12</Size><LastModifiedTime>2026-12-02T06:00:00.000Z</LastModifiedTime></Object>\
                <Object><Key>&#x1;&#13;<![CDATA[<raw>]]></Key></Object></Delete>";
    let req = parse_delete(body.as_bytes()).expect("valid");
    assert!(req.quiet);
    assert_eq!(req.objects.len(), 3);
    assert_eq!(req.objects[0].key, " sample & <1>.txt\n");
    assert_eq!(req.objects[0].version_id, None);
    assert_eq!(
        req.objects[1],
        ObjectToDelete {
            key: "sample2.txt".into(),
            version_id: Some("OYcLXagmS.WaD..oyH4KRguB95_YhLs7".into()),
            etag: Some("\"e\"".into()),
            last_modified_time: Some("2026-12-02T06:00:00.000Z".into()),
            size: Some(12),
        }
    );
    assert_eq!(req.objects[2].key, "\u{1}\r<raw>");
    let req = parse_delete(b"<Delete><Object><Key>k</Key></Object></Delete>").expect("valid");
    assert!(!req.quiet);
    let req =
        parse_delete(b"<Delete><Quiet> 0 </Quiet><Object><Key/></Object></Delete>").expect("valid");
    assert!(!req.quiet);
    assert_eq!(req.objects[0].key, "");
}

#[test]
fn escaped_keys_round_trip_through_the_parser() {
    round_trip("a<b>&\"'\r\u{1}z é/");
    round_trip("\r\n \t\u{FFFE}\u{7F}");
}

/// Renders `key` in a `DeleteResult`, lifts the escaped text into a `Delete` body and checks the parser
/// gives `key` back.
fn round_trip(key: &str) {
    let rendered = render_delete_result(
        &[Deleted {
            key: key.into(),
            ..Deleted::default()
        }],
        &[],
    );
    let inner = rendered
        .split_once("<Key>")
        .and_then(|(_, rest)| rest.split_once("</Key>"))
        .map(|(k, _)| k)
        .expect("key element");
    let body = format!("<Delete><Object><Key>{inner}</Key></Object></Delete>");
    assert_eq!(
        parse_delete(body.as_bytes()).expect("valid").objects[0].key,
        key
    );
}

#[test]
fn delete_refusals() {
    let one = "<Object><Key>k</Key></Object>";
    for body in [
        "<Delete></Delete>".to_owned(),
        "<Delete><Quiet>true</Quiet></Delete>".to_owned(),
        format!("<Delete><Quiet>yes</Quiet>{one}</Delete>"),
        format!("<Delete><Quiet>true</Quiet><Quiet>true</Quiet>{one}</Delete>"),
        "<Delete><Object><VersionId>v</VersionId></Object></Delete>".to_owned(),
        "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>".to_owned(),
        "<Delete><Object><Key>a</Key><Size>-1</Size></Object></Delete>".to_owned(),
        "<Delete><Object><Key>a</Key><Other/></Object></Delete>".to_owned(),
        "<Delete><Object>text<Key>a</Key></Object></Delete>".to_owned(),
        format!("<Delete>{one}<Extra/></Delete>"),
        format!("<Delete>{}</Delete>", one.repeat(MAX_DELETE_OBJECTS + 1)),
    ] {
        assert_malformed(parse_delete(body.as_bytes()));
    }
    let max = format!("<Delete>{}</Delete>", one.repeat(MAX_DELETE_OBJECTS));
    assert_eq!(
        parse_delete(max.as_bytes()).expect("1000").objects.len(),
        1000
    );
}

#[test]
fn create_bucket_configuration() {
    let body = format!(
        "<CreateBucketConfiguration {NS}>\n  <LocationConstraint>eu-west-1</LocationConstraint>\n\
         </CreateBucketConfiguration>"
    );
    assert_eq!(
        parse_create_bucket_configuration(body.as_bytes())
            .expect("valid")
            .as_deref(),
        Some("eu-west-1")
    );
    for empty in [
        "<CreateBucketConfiguration/>",
        "<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>",
    ] {
        assert_eq!(
            parse_create_bucket_configuration(empty.as_bytes()).expect("valid"),
            None
        );
    }
    for bad in [
        "<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint><LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>",
        "<CreateBucketConfiguration><Location>a</Location></CreateBucketConfiguration>",
        "<CreateBucketConfiguration><LocationConstraint><x/></LocationConstraint></CreateBucketConfiguration>",
        "<LocationConstraint>a</LocationConstraint>",
    ] {
        assert_malformed(parse_create_bucket_configuration(bad.as_bytes()));
    }
}

#[test]
fn public_access_block_parse() {
    let body = "<PublicAccessBlockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                <BlockPublicAcls>true</BlockPublicAcls><RestrictPublicBuckets> true </RestrictPublicBuckets>\
                </PublicAccessBlockConfiguration>";
    assert_eq!(
        parse_public_access_block(body.as_bytes()).expect("valid"),
        PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: false,
            block_public_policy: false,
            restrict_public_buckets: true,
        }
    );
    let all = render_public_access_block(&PublicAccessBlock::all_on());
    assert_eq!(
        parse_public_access_block(all.as_bytes()).expect("round trip"),
        PublicAccessBlock::all_on()
    );
    assert_eq!(
        parse_public_access_block(b"<PublicAccessBlockConfiguration/>").expect("empty"),
        PublicAccessBlock::default()
    );
    for bad in [
        "<PublicAccessBlockConfiguration><BlockPublicAcls>TRUE</BlockPublicAcls></PublicAccessBlockConfiguration>",
        "<PublicAccessBlockConfiguration><BlockPublicAcls/></PublicAccessBlockConfiguration>",
        "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><BlockPublicAcls>false</BlockPublicAcls></PublicAccessBlockConfiguration>",
        "<PublicAccessBlockConfiguration><BlockAll>true</BlockAll></PublicAccessBlockConfiguration>",
    ] {
        assert_malformed(parse_public_access_block(bad.as_bytes()));
    }
}

#[test]
fn ownership_controls_parse() {
    for o in [
        ObjectOwnership::BucketOwnerPreferred,
        ObjectOwnership::ObjectWriter,
        ObjectOwnership::BucketOwnerEnforced,
    ] {
        assert_eq!(
            parse_ownership_controls(render_ownership_controls(o).as_bytes()).expect("ok"),
            o
        );
    }
    for bad in [
        "<OwnershipControls/>",
        "<OwnershipControls><Rule/></OwnershipControls>",
        "<OwnershipControls><Rule><ObjectOwnership>Nobody</ObjectOwnership></Rule></OwnershipControls>",
        "<OwnershipControls><Rule><ObjectOwnership>objectwriter</ObjectOwnership></Rule></OwnershipControls>",
        "<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>",
        "<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>",
    ] {
        assert_malformed(parse_ownership_controls(bad.as_bytes()));
    }
}

fn run_all_parsers(bytes: &[u8]) {
    let _ = parse_complete_multipart_upload(bytes);
    let _ = parse_delete(bytes);
    let _ = parse_create_bucket_configuration(bytes);
    let _ = parse_public_access_block(bytes);
    let _ = parse_ownership_controls(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every key without NUL survives escaping and parsing (NUL cannot be written in XML at all).
    #[test]
    fn any_key_round_trips(key in "[^\u{0}]{0,64}") {
        round_trip(&key);
    }

    #[test]
    fn parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        run_all_parsers(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_xmlish_text(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("<Delete>"), Just("</Delete>"), Just("<Object>"), Just("</Object>"),
                Just("<Key>"), Just("</Key>"), Just("<Part>"), Just("</Part>"),
                Just("<PartNumber>"), Just("</PartNumber>"), Just("<ETag>"), Just("</ETag>"),
                Just("<CompleteMultipartUpload>"), Just("</CompleteMultipartUpload>"),
                Just("&amp;"), Just("&#x1;"), Just("&#xFFFFFFFF;"), Just("&x;"), Just("<![CDATA["),
                Just("]]>"), Just("<!DOCTYPE"), Just("<?xml version=\"1.0\"?>"), Just("1"), Just("-"),
                Just(" "), Just("<"), Just(">"), Just("/>"), Just("a:"), Just("\u{FEFF}"),
            ],
            0..40,
        )
    ) {
        run_all_parsers(pieces.concat().as_bytes());
    }
}
