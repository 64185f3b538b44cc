//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts, ListMultipartUploads. Each part is encrypted on arrival; completion
//! joins the stored parts without re-encrypting them (`sse::engine::multipart`).

use super::body::BodyReader;
use super::object::{
    check_acl_header, copy_source, header, stored_headers, streamed_body, wire_headers,
};
use super::{Call, Reply, S3Service};
use crate::aws::clock::parse_rfc3339;
use crate::range::ByteRange;
use crate::s3::S3Error;
use crate::s3::xml::{self, Owner};

fn bucket_key(call: &Call) -> Result<(&str, &str), S3Error> {
    match (&call.req.bucket, &call.req.key) {
        (Some(b), Some(k)) => Ok((b, k)),
        _ => Err(S3Error::internal(
            "multipart operation without bucket and key",
        )),
    }
}

fn upload_id(call: &Call) -> Result<&str, S3Error> {
    call.req
        .param("uploadId")
        .filter(|u| !u.is_empty())
        .ok_or_else(S3Error::no_such_upload)
}

/// `partNumber`: 1..=10000.
fn part_number(call: &Call) -> Result<u32, S3Error> {
    let v = call.req.param("partNumber").unwrap_or_default();
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
            .with_extra("ArgumentName", "partNumber")
            .with_extra("ArgumentValue", v)
        })
}

/// A bounded listing parameter (`max-parts`, `max-uploads`): 0..=2147483647, capped at 1,000.
fn max_param(call: &Call, name: &str) -> Result<usize, S3Error> {
    let Some(v) = call.req.param(name) else {
        return Ok(1000);
    };
    let n: i64 = v.trim().parse().map_err(|_| {
        S3Error::invalid_argument(format!(
            "Provided {name} not an integer or within integer range"
        ))
        .with_extra("ArgumentName", name.to_owned())
        .with_extra("ArgumentValue", v)
    })?;
    if !(0..=i64::from(i32::MAX)).contains(&n) {
        return Err(S3Error::invalid_argument(format!(
            "Argument {name} must be an integer between 0 and 2147483647"
        ))
        .with_extra("ArgumentName", name.to_owned())
        .with_extra("ArgumentValue", v));
    }
    Ok(usize::try_from(n).unwrap_or(1000).min(1000))
}

fn owner_of(call: &Call) -> String {
    call.ctx
        .caller
        .principal()
        .map(|p| p.account.clone())
        .unwrap_or_default()
}

/// CreateMultipartUpload.
pub(crate) fn create(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    check_acl_header(&call.headers)?;
    let (id, resp) = svc
        .engine()
        .create_multipart_upload(&call.ctx, bucket, key, &call.headers)?;
    let mut reply = Reply::xml(200, xml::render_initiate_multipart_upload(bucket, key, &id));
    reply.headers.extend(
        wire_headers(&resp)
            .into_iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("etag")),
    );
    if let Some(alg) = call.headers.get("x-amz-checksum-algorithm") {
        reply
            .headers
            .push(("x-amz-checksum-algorithm".to_owned(), alg.trim().to_owned()));
    }
    Ok(reply)
}

/// UploadPart: the body streams through its checks into the part's encryptor.
pub(crate) fn upload(svc: &S3Service, call: Call, body: BodyReader) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(&call)?;
    let id = upload_id(&call)?;
    let n = part_number(&call)?;
    let streamed = streamed_body(svc, &call, body)?;
    let (resp, checksum) = streamed.run(|body| {
        svc.engine()
            .upload_part(&call.ctx, bucket, key, id, n, &call.headers, body)
    })?;
    Ok(Reply::empty(200, stored_headers(&resp, checksum)))
}

/// UploadPartCopy: a (range of a) source object becomes a part.
pub(crate) fn upload_copy(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    let id = upload_id(call)?;
    let n = part_number(call)?;
    let (src_bucket, src_key, src_version) = copy_source(&call.headers)?;
    if src_bucket.starts_with("arn:") {
        return Err(S3Error::not_implemented(
            "UploadPartCopy from an access point ARN is not implemented by this server; name the bucket and key.",
        ));
    }
    let range = match call.headers.get("x-amz-copy-source-range") {
        None => None,
        Some(r) => Some(r.trim().parse::<ByteRange>().map_err(|_| {
            S3Error::invalid_argument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
                .with_extra("ArgumentName", "x-amz-copy-source-range")
                .with_extra("ArgumentValue", r)
        })?),
    };
    let resp = svc.engine().upload_part_copy(
        &call.ctx,
        bucket,
        key,
        id,
        n,
        (&src_bucket, &src_key, src_version.as_deref()),
        range,
        &call.headers,
    )?;
    let etag = header(&resp, "etag").unwrap_or_default().to_owned();
    let modified = header(&resp, "last-modified")
        .and_then(parse_rfc3339)
        .unwrap_or_else(std::time::SystemTime::now);
    let mut reply = Reply::xml(200, xml::render_copy_part(modified, &etag));
    reply
        .headers
        .extend(wire_headers(&resp).into_iter().filter(|(n, _)| {
            !n.eq_ignore_ascii_case("etag") && !n.eq_ignore_ascii_case("last-modified")
        }));
    Ok(reply)
}

/// CompleteMultipartUpload.
pub(crate) fn complete(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    let id = upload_id(call)?;
    let parts = xml::parse_complete_multipart_upload(&call.body)?;
    let list: Vec<(u32, String)> = parts
        .iter()
        .map(|p| (p.part_number, p.etag.clone()))
        .collect();
    let resp =
        svc.engine()
            .complete_multipart_upload(&call.ctx, bucket, key, id, &list, &call.headers)?;
    let etag = header(&resp, "etag").unwrap_or_default().to_owned();
    let host = call.headers.get("host").unwrap_or("localhost");
    let scheme = if call.ctx.secure_transport {
        "https"
    } else {
        "http"
    };
    let location = format!(
        "{scheme}://{host}/{bucket}/{}",
        crate::aws::sigv4::uri_encode(key, true)
    );
    let mut reply = Reply::xml(
        200,
        xml::render_complete_multipart_upload(&xml::CompleteMultipartUploadOutput {
            location: &location,
            bucket,
            key,
            etag: &etag,
            checksums: &[],
            checksum_type: None,
        }),
    );
    reply.headers.extend(
        wire_headers(&resp)
            .into_iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("etag")),
    );
    Ok(reply)
}

/// AbortMultipartUpload.
pub(crate) fn abort(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    let id = upload_id(call)?;
    svc.engine()
        .abort_multipart_upload(&call.ctx, bucket, key, id)?;
    Ok(Reply::empty(204, Vec::new()))
}

/// ListParts, paged by `part-number-marker` and `max-parts`.
pub(crate) fn list_parts(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    let id = upload_id(call)?;
    let max = max_param(call, "max-parts")?;
    let marker: u32 = match call.req.param("part-number-marker") {
        None | Some("") => 0,
        Some(v) => v.trim().parse().map_err(|_| {
            S3Error::invalid_argument(
                "Provided part-number-marker not an integer or within integer range",
            )
            .with_extra("ArgumentName", "part-number-marker")
            .with_extra("ArgumentValue", v)
        })?,
    };
    let parts = svc.engine().list_parts(&call.ctx, bucket, key, id)?;
    let after: Vec<_> = parts.iter().filter(|p| p.part_number > marker).collect();
    let page: Vec<_> = after.iter().take(max).collect();
    let truncated = after.len() > page.len();
    let entries: Vec<xml::PartEntry<'_>> = page
        .iter()
        .map(|p| xml::PartEntry {
            part_number: p.part_number,
            last_modified: parse_rfc3339(&p.last_modified).unwrap_or(std::time::UNIX_EPOCH),
            etag: &p.etag,
            size: p.size,
        })
        .collect();
    let account = owner_of(call);
    let next = page.last().map_or(0, |p| p.part_number);
    Ok(Reply::xml(
        200,
        xml::render_list_parts(&xml::ListPartsPage {
            bucket,
            key,
            upload_id: id,
            initiator: Owner {
                id: &account,
                display_name: &account,
            },
            owner: Owner {
                id: &account,
                display_name: &account,
            },
            part_number_marker: marker,
            next_part_number_marker: next,
            max_parts: max,
            is_truncated: truncated,
            parts: &entries,
        }),
    ))
}

/// ListMultipartUploads, filtered by `prefix`, rolled up by `delimiter`, paged by `key-marker`,
/// `upload-id-marker` and `max-uploads`.
pub(crate) fn list_uploads(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = call
        .req
        .bucket
        .as_deref()
        .ok_or_else(|| S3Error::internal("ListMultipartUploads without a bucket"))?;
    let encoding_url = super::bucket::encoding_url(call)?;
    let max = max_param(call, "max-uploads")?;
    let prefix = call.req.param("prefix").unwrap_or_default();
    let delimiter = call.req.param("delimiter").filter(|d| !d.is_empty());
    let key_marker = call.req.param("key-marker").unwrap_or_default();
    let id_marker = call.req.param("upload-id-marker").unwrap_or_default();
    let mut uploads = svc.engine().list_multipart_uploads(&call.ctx, bucket)?;
    uploads.sort_by(|a, b| {
        (a.key.as_str(), a.initiated, a.upload_id.as_str()).cmp(&(
            b.key.as_str(),
            b.initiated,
            b.upload_id.as_str(),
        ))
    });
    let mut entries = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut next = ("", "");
    for u in &uploads {
        if !u.key.starts_with(prefix) {
            continue;
        }
        let after_marker = u.key.as_str() > key_marker
            || (u.key == key_marker && !id_marker.is_empty() && u.upload_id.as_str() > id_marker);
        if !key_marker.is_empty() && !after_marker {
            continue;
        }
        let rolled = delimiter.and_then(|d| {
            u.key[prefix.len()..]
                .find(d)
                .map(|i| u.key[..prefix.len() + i + d.len()].to_owned())
        });
        if let Some(p) = &rolled
            && prefixes.last() == Some(p)
        {
            continue;
        }
        if entries.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        match rolled {
            Some(p) => prefixes.push(p),
            None => entries.push(u),
        }
        next = (u.key.as_str(), u.upload_id.as_str());
    }
    let account = owner_of(call);
    let rendered: Vec<xml::UploadEntry<'_>> = entries
        .iter()
        .map(|u| xml::UploadEntry {
            key: &u.key,
            upload_id: &u.upload_id,
            initiator: Owner {
                id: &account,
                display_name: &account,
            },
            owner: Owner {
                id: &account,
                display_name: &account,
            },
            initiated: u.initiated,
        })
        .collect();
    let (next_key, next_id) = if truncated { next } else { ("", "") };
    Ok(Reply::xml(
        200,
        xml::render_list_multipart_uploads(&xml::ListUploadsPage {
            bucket,
            key_marker,
            upload_id_marker: id_marker,
            next_key_marker: next_key,
            next_upload_id_marker: next_id,
            prefix: (!prefix.is_empty()).then_some(prefix),
            delimiter,
            max_uploads: max,
            encoding_url,
            is_truncated: truncated,
            uploads: &rendered,
            common_prefixes: &prefixes,
        }),
    ))
}
