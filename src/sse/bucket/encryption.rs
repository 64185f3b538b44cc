//! Bucket default encryption: the `ServerSideEncryptionConfiguration` document of `PutBucketEncryption` and
//! `GetBucketEncryption` (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html>), including the SSE-C block of April 2026 (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/blocking-unblocking-s3-c-encryption-gpb.html>).
//!
//! The XML is tokenised by `quick-xml` (with namespace resolution); this module only walks the events
//! against the schema, so every element, namespace and character reference is handled by the XML library.
//!
//! What is refused (status / code). Every schema error (`MalformedXML`) is reported before the one semantic
//! error (`InvalidArgument`), so a document with both gets `MalformedXML`:
//! 1. not well-formed XML, a DTD, a wrong root element, an element outside the S3 namespace (a document
//!    with no namespace is accepted, as S3 does), an unknown or repeated element, text inside a container
//!    → 400 `MalformedXML`;
//! 2. zero or several `<Rule>`, an empty `<Rule/>` → 400 `MalformedXML` (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html>);
//! 3. `<ApplyServerSideEncryptionByDefault>` without `<SSEAlgorithm>`, an algorithm other than `AES256`,
//!    `aws:kms`, `aws:kms:dsse` → 400 `MalformedXML` (the value fails the schema enum: LocalStack and
//!    Scality, which copy AWS, answer so; `aws:fsx` and `aws:backup` are in the API enum but are not defaults
//!    a general-purpose bucket can have, so they are refused the same way);
//! 4. a `<BucketKeyEnabled>` that is not an `xs:boolean`, an `<EncryptionType>` other than `SSE-C` / `NONE`,
//!    an empty `<BlockedEncryptionTypes/>`, `SSE-C` together with `NONE`, or an empty `<KMSMasterKeyID/>`
//!    with a KMS algorithm → 400 `MalformedXML`;
//! 5. `AES256` with a `<KMSMasterKeyID>`, even an empty one → 400 `InvalidArgument` "a KMSMasterKeyID is not
//!    applicable if the default sse algorithm is not aws:kms or aws:kms:dsse" (AWS's text as captured by
//!    LocalStack, 2026-02-21).

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::sse::S3Error;

/// The namespace of S3's XML documents. A `PutBucketEncryption` body may use it or no namespace at all.
pub const S3_XML_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// AWS's message for `AES256` with a `KMSMasterKeyID` (400 `InvalidArgument`, <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html>).
const KMS_KEY_NOT_APPLICABLE: &str = "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse";

/// The encryption S3 applies to a PUT that carries no encryption header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultSse {
    /// SSE-S3, `AES256`: the floor since 2023-01-05 (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html>).
    S3,
    /// SSE-KMS, `aws:kms`.
    Kms {
        /// `KMSMasterKeyID` (key id, key ARN or alias; S3 does not validate it at PUT time). `None`: the
        /// AWS-managed `aws/s3` key.
        key_id: Option<String>,
        /// `BucketKeyEnabled`: derive object keys from a bucket-level key.
        bucket_key: bool,
    },
    /// DSSE-KMS, `aws:kms:dsse` (two layers of encryption; no bucket keys, <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html>).
    DsseKms {
        /// `KMSMasterKeyID`; `None`: the AWS-managed `aws/s3` key.
        key_id: Option<String>,
    },
}

impl DefaultSse {
    /// The `SSEAlgorithm` value: `AES256`, `aws:kms` or `aws:kms:dsse`.
    #[must_use]
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::S3 => "AES256",
            Self::Kms { .. } => "aws:kms",
            Self::DsseKms { .. } => "aws:kms:dsse",
        }
    }

    /// The configured KMS key, if any.
    #[must_use]
    pub fn kms_key_id(&self) -> Option<&str> {
        match self {
            Self::S3 => None,
            Self::Kms { key_id, .. } | Self::DsseKms { key_id } => key_id.as_deref(),
        }
    }

    /// Whether new objects use an S3 Bucket Key (only ever with `aws:kms`).
    #[must_use]
    pub fn bucket_key(&self) -> bool {
        matches!(
            self,
            Self::Kms {
                bucket_key: true,
                ..
            }
        )
    }
}

/// An `EncryptionType` of `BlockedEncryptionTypes` (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/blocking-unblocking-s3-c-encryption-gpb.html>).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockedType {
    /// `SSE-C`: writes with customer-provided keys are refused with 403 `AccessDenied`.
    SseC,
    /// `NONE`: nothing is blocked (how SSE-C is unblocked).
    None,
}

impl BlockedType {
    /// The XML value: `SSE-C` or `NONE`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SseC => "SSE-C",
            Self::None => "NONE",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "SSE-C" => Some(Self::SseC),
            "NONE" => Some(Self::None),
            _ => None,
        }
    }
}

/// A bucket's default-encryption configuration: one rule, as S3 allows exactly one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketEncryption {
    /// What a PUT without encryption headers gets.
    pub default: DefaultSse,
    /// `BlockedEncryptionTypes`: `[SseC]`, `[None]`, or empty when a `PutBucketEncryption` body did not state
    /// it (see [`BucketEncryption::applied_over`]). Never holds both values, never a value twice.
    pub blocked: Vec<BlockedType>,
}

impl BucketEncryption {
    /// A new bucket as S3 creates it since April 2026: SSE-S3 default, SSE-C writes blocked.
    #[must_use]
    pub fn new_bucket_default() -> Self {
        Self {
            default: DefaultSse::S3,
            blocked: vec![BlockedType::SseC],
        }
    }

    /// Parses a `PutBucketEncryption` body (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html>). The module documentation lists what is refused
    /// and with which error; any input returns, none panics.
    ///
    /// A rule without `<ApplyServerSideEncryptionByDefault>` (AWS's own "unblock SSE-C" example is
    /// `<Rule><BlockedEncryptionTypes>…NONE…</BlockedEncryptionTypes></Rule>`) gets the SSE-S3 default.
    /// `<BucketKeyEnabled>` is accepted with every algorithm but kept only for `aws:kms`: S3 accepts it with
    /// `AES256` and reports no bucket key on the objects.
    ///
    /// # Errors
    /// 400 `MalformedXML` ([`S3Error::malformed_xml`]) for a document that is not well-formed or does not
    /// match the schema; 400 `InvalidArgument` for `AES256` with a `KMSMasterKeyID`.
    pub fn parse_xml(xml: &str) -> Result<Self, S3Error> {
        let rules = read_rules(xml)?;
        let [rule] = <[RawRule; 1]>::try_from(rules).map_err(|_| S3Error::malformed_xml())?;
        rule.validate()
    }

    /// The `GetBucketEncryption` body. It always carries `BucketKeyEnabled` (as S3's does) and carries
    /// `BlockedEncryptionTypes` whenever [`BucketEncryption::blocked`] is not empty.
    ///
    /// Every value [`BucketEncryption::parse_xml`] returns round-trips: `parse_xml(&c.to_xml()) == Ok(c)`.
    /// (A key id built by hand with surrounding whitespace, an empty key id, or characters XML 1.0 cannot
    /// carry would not; `parse_xml` never produces those.)
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(384);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str("<ServerSideEncryptionConfiguration xmlns=\"");
        out.push_str(S3_XML_NAMESPACE);
        out.push_str("\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>");
        out.push_str(self.default.algorithm());
        out.push_str("</SSEAlgorithm>");
        if let Some(key_id) = self.default.kms_key_id() {
            out.push_str("<KMSMasterKeyID>");
            out.push_str(&escape(key_id));
            out.push_str("</KMSMasterKeyID>");
        }
        out.push_str("</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>");
        out.push_str(if self.default.bucket_key() {
            "true"
        } else {
            "false"
        });
        out.push_str("</BucketKeyEnabled>");
        if !self.blocked.is_empty() {
            out.push_str("<BlockedEncryptionTypes>");
            for blocked in &self.blocked {
                out.push_str("<EncryptionType>");
                out.push_str(blocked.as_str());
                out.push_str("</EncryptionType>");
            }
            out.push_str("</BlockedEncryptionTypes>");
        }
        out.push_str("</Rule></ServerSideEncryptionConfiguration>");
        out
    }

    /// Whether SSE-C writes are refused (403 `AccessDenied`, <https://docs.aws.amazon.com/AmazonS3/latest/userguide/blocking-unblocking-s3-c-encryption-gpb.html>).
    #[must_use]
    pub fn blocks_sse_c(&self) -> bool {
        self.blocked.contains(&BlockedType::SseC)
    }

    /// The configuration a bucket holds after `PutBucketEncryption` with `self` as body on a bucket that held
    /// `current`: `self`, except that a body which does not state `BlockedEncryptionTypes` keeps the current
    /// block. Captures of AWS since April 2026 show that a configuration written without the element still
    /// reads back with `SSE-C` blocked (terraform-provider-aws#47320), so omitting it does not unblock.
    #[must_use]
    pub fn applied_over(mut self, current: &Self) -> Self {
        if self.blocked.is_empty() {
            self.blocked.clone_from(&current.blocked);
        }
        self
    }
}

/// The schema's elements, as a position in the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Configuration,
    Rule,
    ApplyDefault,
    SseAlgorithm,
    KmsMasterKeyId,
    BucketKeyEnabled,
    Blocked,
    EncryptionType,
}

impl Node {
    /// The element `local_name` as a child of `parent` (`None`: the document root), if the schema has it.
    fn child(parent: Option<Self>, local_name: &str) -> Option<Self> {
        Some(match (parent, local_name) {
            (None, "ServerSideEncryptionConfiguration") => Self::Configuration,
            (Some(Self::Configuration), "Rule") => Self::Rule,
            (Some(Self::Rule), "ApplyServerSideEncryptionByDefault") => Self::ApplyDefault,
            (Some(Self::Rule), "BucketKeyEnabled") => Self::BucketKeyEnabled,
            (Some(Self::Rule), "BlockedEncryptionTypes") => Self::Blocked,
            (Some(Self::ApplyDefault), "SSEAlgorithm") => Self::SseAlgorithm,
            (Some(Self::ApplyDefault), "KMSMasterKeyID") => Self::KmsMasterKeyId,
            (Some(Self::Blocked), "EncryptionType") => Self::EncryptionType,
            _ => return None,
        })
    }

    /// Elements that hold text rather than elements.
    fn is_leaf(self) -> bool {
        matches!(
            self,
            Self::SseAlgorithm
                | Self::KmsMasterKeyId
                | Self::BucketKeyEnabled
                | Self::EncryptionType
        )
    }
}

/// One `<Rule>` as written, before its values are checked.
#[derive(Debug, Default)]
struct RawRule {
    apply_default: Option<RawDefault>,
    bucket_key_enabled: Option<String>,
    blocked: Option<Vec<String>>,
}

/// One `<ApplyServerSideEncryptionByDefault>` as written.
#[derive(Debug, Default)]
struct RawDefault {
    algorithm: Option<String>,
    kms_master_key_id: Option<String>,
}

impl RawRule {
    fn validate(self) -> Result<BucketEncryption, S3Error> {
        if self.apply_default.is_none()
            && self.bucket_key_enabled.is_none()
            && self.blocked.is_none()
        {
            return Err(S3Error::malformed_xml());
        }
        let bucket_key = match self.bucket_key_enabled.as_deref() {
            None => false,
            Some(value) => parse_xs_boolean(value).ok_or_else(S3Error::malformed_xml)?,
        };
        let mut blocked = Vec::new();
        if let Some(values) = self.blocked {
            if values.is_empty() {
                return Err(S3Error::malformed_xml());
            }
            for value in values {
                let ty = BlockedType::parse(&value).ok_or_else(S3Error::malformed_xml)?;
                if !blocked.contains(&ty) {
                    blocked.push(ty);
                }
            }
            if blocked.len() > 1 {
                // `SSE-C` and `NONE` at once: contradictory, so refused rather than guessed at.
                return Err(S3Error::malformed_xml());
            }
        }
        // Schema errors (MalformedXML) above come before the one semantic error (InvalidArgument) here.
        let default = match self.apply_default {
            None => DefaultSse::S3,
            Some(raw) => raw.validate(bucket_key)?,
        };
        Ok(BucketEncryption { default, blocked })
    }
}

impl RawDefault {
    fn validate(self, bucket_key: bool) -> Result<DefaultSse, S3Error> {
        let algorithm = self.algorithm.ok_or_else(S3Error::malformed_xml)?;
        let key_id = |id: Option<String>| match id {
            Some(id) if id.is_empty() => Err(S3Error::malformed_xml()),
            other => Ok(other),
        };
        match algorithm.as_str() {
            "AES256" if self.kms_master_key_id.is_some() => {
                Err(S3Error::invalid_argument(KMS_KEY_NOT_APPLICABLE))
            }
            "AES256" => Ok(DefaultSse::S3),
            "aws:kms" => Ok(DefaultSse::Kms {
                key_id: key_id(self.kms_master_key_id)?,
                bucket_key,
            }),
            "aws:kms:dsse" => Ok(DefaultSse::DsseKms {
                key_id: key_id(self.kms_master_key_id)?,
            }),
            _ => Err(S3Error::malformed_xml()),
        }
    }
}

/// `xs:boolean`: `true`, `false`, `1`, `0`.
fn parse_xs_boolean(value: &str) -> Option<bool> {
    match value {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// XML's whitespace (`S` production): space, tab, CR, LF.
fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn trim_xml(s: &str) -> &str {
    s.trim_matches(is_xml_space)
}

/// Walks the document's events against the schema and collects the rules as written. Everything that is
/// not well-formed or not in the schema is 400 `MalformedXML`.
fn read_rules(xml: &str) -> Result<Vec<RawRule>, S3Error> {
    let malformed = |_| S3Error::malformed_xml();
    // A UTF-8 byte-order mark is part of the encoding, not of the document.
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;

    let mut open: Vec<Node> = Vec::new();
    let mut rules: Vec<RawRule> = Vec::new();
    let mut text = String::new();
    let mut root_closed = false;
    let mut first_event = true;
    loop {
        let (namespace, event) = reader.read_resolved_event().map_err(malformed)?;
        let in_s3_namespace = match namespace {
            ResolveResult::Unbound => true,
            ResolveResult::Bound(ns) => ns.as_ref() == S3_XML_NAMESPACE,
            ResolveResult::Unknown(_) => false,
        };
        let at_start = std::mem::replace(&mut first_event, false);
        let in_leaf = open.last().is_some_and(|node| node.is_leaf());
        match event {
            // The declaration only where XML allows it: first thing in the document.
            Event::Decl(_) if at_start => {}
            // A DTD could declare entities; S3's schema has none and a parser that expands them is a risk.
            Event::Decl(_) | Event::DocType(_) => return Err(S3Error::malformed_xml()),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Start(element) => {
                if root_closed || in_leaf || !in_s3_namespace {
                    return Err(S3Error::malformed_xml());
                }
                // Attributes are not in the schema and are ignored (xmlns declarations are attributes too),
                // but they must be well-formed.
                for attribute in element.attributes() {
                    attribute.map_err(|_| S3Error::malformed_xml())?;
                }
                let node = Node::child(open.last().copied(), element.local_name().as_ref())
                    .ok_or_else(S3Error::malformed_xml)?;
                open_element(node, &mut rules)?;
                open.push(node);
                text.clear();
            }
            Event::End(_) => {
                let node = open.pop().ok_or_else(S3Error::malformed_xml)?;
                if node.is_leaf() {
                    close_leaf(node, trim_xml(&text), &mut rules)?;
                }
                text.clear();
                root_closed = open.is_empty();
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                if in_leaf {
                    text.push_str(&content);
                } else if !trim_xml(&content).is_empty() {
                    return Err(S3Error::malformed_xml());
                }
            }
            Event::CData(c) if in_leaf => text.push_str(&c.xml10_content()),
            Event::GeneralRef(r) if in_leaf => {
                if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
                    text.push(c);
                } else {
                    text.push_str(
                        resolve_predefined_entity(&r).ok_or_else(S3Error::malformed_xml)?,
                    );
                }
            }
            // Character data outside a leaf, or an `Empty` event (not produced with expand_empty_elements).
            Event::CData(_) | Event::GeneralRef(_) | Event::Empty(_) => {
                return Err(S3Error::malformed_xml());
            }
            Event::Eof => break,
        }
    }
    if !root_closed || !open.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    Ok(rules)
}

/// Records that `node` was opened; a container the schema allows once that appears twice is refused.
fn open_element(node: Node, rules: &mut Vec<RawRule>) -> Result<(), S3Error> {
    match node {
        Node::Rule => rules.push(RawRule::default()),
        Node::ApplyDefault => {
            let rule = rules.last_mut().ok_or_else(S3Error::malformed_xml)?;
            if rule.apply_default.replace(RawDefault::default()).is_some() {
                return Err(S3Error::malformed_xml());
            }
        }
        Node::Blocked => {
            let rule = rules.last_mut().ok_or_else(S3Error::malformed_xml)?;
            if rule.blocked.replace(Vec::new()).is_some() {
                return Err(S3Error::malformed_xml());
            }
        }
        Node::Configuration
        | Node::SseAlgorithm
        | Node::KmsMasterKeyId
        | Node::BucketKeyEnabled
        | Node::EncryptionType => {}
    }
    Ok(())
}

/// Stores a leaf's (trimmed) text; a leaf the schema allows once that appears twice is refused.
fn close_leaf(node: Node, value: &str, rules: &mut [RawRule]) -> Result<(), S3Error> {
    let rule = rules.last_mut().ok_or_else(S3Error::malformed_xml)?;
    let once = |slot: &mut Option<String>| match slot.replace(value.to_owned()) {
        None => Ok(()),
        Some(_) => Err(S3Error::malformed_xml()),
    };
    match node {
        Node::SseAlgorithm => once(
            &mut rule
                .apply_default
                .get_or_insert_with(RawDefault::default)
                .algorithm,
        ),
        Node::KmsMasterKeyId => once(
            &mut rule
                .apply_default
                .get_or_insert_with(RawDefault::default)
                .kms_master_key_id,
        ),
        Node::BucketKeyEnabled => once(&mut rule.bucket_key_enabled),
        Node::EncryptionType => {
            rule.blocked
                .get_or_insert_with(Vec::new)
                .push(value.to_owned());
            Ok(())
        }
        Node::Configuration | Node::Rule | Node::ApplyDefault | Node::Blocked => Ok(()),
    }
}
