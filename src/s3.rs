//! The S3 protocol vocabulary shared by every S3-facing part of s3crypt: error codes with their HTTP
//! status and S3's default message, and the XML error document S3 sends.
//!
//! | you want to…                                  | use                                  |
//! |-----------------------------------------------|--------------------------------------|
//! | fail an S3 operation                          | [`S3Error`] (`S3Error::no_such_key()`, `S3Error::invalid_argument(..)`, …) |
//! | name an S3 error code and its status          | [`S3ErrorCode`]                      |
//! | fail with a server fault, keeping the cause   | [`S3Error::internal`] (generic message to the client, cause in `source()`) |
//! | render or parse an S3 XML body                | [`xml`] (`render_*`, `parse_*`)        |
//! | Block Public Access settings, public policies | [`public_access::PublicAccessBlock`], [`public_access::is_public`] |
//! | server access log records, logging configuration, log object keys, log queries | [`access_log`] ([`access_log::LogRecord`], [`access_log::parse_line`], [`access_log::LoggingConfig`], [`access_log::Summary`]) |
//! | bucket CORS: parse/render, preflight, actual  | [`cors::CorsConfiguration`], [`cors::preflight`], [`cors::actual`] |
//! | access point names, ARNs, aliases, S3 Control documents | [`access_point`] |
//! | versioning and MFA Delete documents, ListObjectVersions, `x-amz-mfa` | [`versioning`] |
//! | Object Lock configuration, retention, legal hold, their rules | [`object_lock`] |
//! | Object Lambda access point names, ARNs, aliases, configurations, S3 Control documents | [`object_lambda`] |

pub mod access_log;
pub mod access_point;
pub mod cors;
pub mod error;
pub mod object_lambda;
pub mod object_lock;
pub mod public_access;
pub mod versioning;
pub mod xml;

pub use error::{S3Error, S3ErrorCode};
