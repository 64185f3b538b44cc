//! The `Condition` element: operators, condition keys and their values, policy variables.
//!
//! Semantics (IAM UG reference_policies_elements_condition, …_condition_operators,
//! reference_policies_condition-single-vs-multivalued-context-keys, reference_policies_variables):
//! - several operators in one `Condition`, and several keys under one operator, must all hold (AND);
//!   several values for one key are alternatives (OR);
//! - key names match case-insensitively; values are compared as the operator says;
//! - a key missing from the request makes a positive operator false and a negated one (`StringNotEquals`,
//!   `StringNotEqualsIgnoreCase`, `StringNotLike`, `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`,
//!   `ArnNotEquals`, `ArnNotLike`) true; any `…IfExists` operator is true on a missing key;
//! - `Null: true` holds when the key is missing (or an empty set), `Null: false` when it is present;
//! - `ForAnyValue:` holds when at least one request value satisfies the operator, and is false for a
//!   missing key or an empty set; `ForAllValues:` holds when every request value does, and is true for a
//!   missing key or an empty set. Under a set operator a negated operator is applied to each request value
//!   (`ForAllValues:StringNotEquals`: no request value is among the policy's values);
//! - a single-valued operator applied to a multi-valued key holds when any request value matches (and its
//!   negation when none does);
//! - `ArnEquals` and `ArnLike` are the same operator: each of the six ARN fields is matched separately, with
//!   wildcards;
//! - policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'default'}`, `${*}`, `${?}`, `${$}`)
//!   are substituted in `String…` and `Arn…` values of policies with `Version` `2012-10-17`; a variable
//!   whose key is missing (and has no default) makes that value match nothing.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::PolicyError;
use crate::iam::arn::{Token, arn_tokens_match, tokens_match};
use crate::iam::context::{Caller, RequestContext};

/// Request-specific condition keys (`s3:prefix`, `s3:x-amz-server-side-encryption`,
/// `kms:EncryptionContext:dept`, …), each with a set of values. Names are case-insensitive. Global keys
/// (`aws:SourceIp`, `aws:username`, `s3:authType`, …) come from the [`RequestContext`] and need not be
/// added; a key added here overrides the context's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConditionKeys {
    entries: BTreeMap<String, Vec<String>>,
}

impl ConditionKeys {
    /// No keys.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The same keys with `value` added to `key`'s values.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// The same keys with `key` set to exactly `values` (possibly the empty set, which is not the same as
    /// a missing key for `ForAllValues` / `ForAnyValue`).
    #[must_use]
    pub fn with_values<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.set(key, values);
        self
    }

    /// Adds `value` to `key`'s values.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.entries
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.into());
    }

    /// Sets `key` to exactly `values`.
    pub fn set<I, S>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entries.insert(
            key.to_ascii_lowercase(),
            values.into_iter().map(Into::into).collect(),
        );
    }

    /// Adds an optional value (nothing when `None`): handy for request headers.
    #[must_use]
    pub fn with_opt(mut self, key: &str, value: Option<&str>) -> Self {
        if let Some(v) = value {
            self.insert(key, v);
        }
        self
    }

    /// Adds the KMS encryption-context keys: `kms:EncryptionContext:<k>` for each pair and
    /// `kms:EncryptionContextKeys` (the set of context keys).
    #[must_use]
    pub fn with_encryption_context<'a, I>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut keys = Vec::new();
        for (k, v) in pairs {
            self.insert(&format!("kms:EncryptionContext:{k}"), v);
            keys.push(k.to_owned());
        }
        self.set("kms:EncryptionContextKeys", keys);
        self
    }

    /// The values of `key`, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// Where condition keys and policy variables are looked up: the caller-supplied keys first, then the
/// global keys the [`RequestContext`] defines.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lookup<'a> {
    pub(crate) context: &'a RequestContext,
    pub(crate) keys: &'a ConditionKeys,
}

impl<'a> Lookup<'a> {
    /// The values of `name` (any case), `None` when the request has no such key.
    pub(crate) fn get(&self, name: &str) -> Option<Cow<'a, [String]>> {
        if let Some(v) = self.keys.get(name) {
            return Some(Cow::Borrowed(v));
        }
        global_key(self.context, &name.to_ascii_lowercase()).map(|v| Cow::Owned(vec![v]))
    }
}

/// The global (and S3 request-context) keys derived from the request context.
fn global_key(ctx: &RequestContext, name: &str) -> Option<String> {
    let principal = ctx.caller.principal();
    let ap = ctx.access_point.as_ref();
    match name {
        "aws:securetransport" => Some(ctx.secure_transport.to_string()),
        // Through a VPC endpoint the client's address is private: `aws:VpcSourceIp`, not
        // `aws:SourceIp` (which applies on the public endpoint only).
        "aws:sourceip" if ctx.source_vpce.is_none() => ctx.source_ip.map(|ip| ip.to_string()),
        "aws:vpcsourceip" if ctx.source_vpce.is_some() => ctx.source_ip.map(|ip| ip.to_string()),
        "aws:currenttime" => OffsetDateTime::from(ctx.now)
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok()),
        "aws:epochtime" => ctx
            .now
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs().to_string()),
        "aws:principalarn" => principal.map(|p| p.arn.clone()),
        "aws:principalaccount" => principal.map(|p| p.account.clone()),
        "aws:principaltype" => match &ctx.caller {
            Caller::Anonymous => Some("Anonymous".into()),
            Caller::Principal(p) if p.is_root() => Some("Account".into()),
            Caller::Principal(p) if p.role_arn().is_some() => Some("AssumedRole".into()),
            Caller::Principal(_) => Some("User".into()),
            Caller::Service(_) => None,
        },
        "aws:principalisawsservice" => Some(matches!(ctx.caller, Caller::Service(_)).to_string()),
        "aws:principalservicename" => match &ctx.caller {
            Caller::Service(s) => Some(s.clone()),
            _ => None,
        },
        "aws:username" => principal.and_then(|p| p.user_name.clone()),
        // IAM's unique id is not modelled: the account for the root, the access key id for a user.
        "aws:userid" => principal.map(|p| {
            if p.is_root() {
                p.account.clone()
            } else {
                p.access_key_id.clone()
            }
        }),
        "aws:multifactorauthpresent" => ctx.mfa_present.map(|b| b.to_string()),
        "aws:sourcevpce" => ctx.source_vpce.clone(),
        "aws:sourcevpc" => ctx.source_vpc.clone(),
        "aws:calledvia" | "aws:calledviafirst" | "aws:calledvialast" => ctx.called_via.clone(),
        "s3:authtype" | "s3-object-lambda:authtype" => {
            ctx.auth.condition_value().map(str::to_owned)
        }
        "s3:signatureage" | "s3-object-lambda:signatureage" => {
            ctx.signature_age.map(|d| d.as_millis().to_string())
        }
        "s3:dataaccesspointarn" => ap.map(|a| a.arn.clone()),
        "s3:dataaccesspointaccount" => ap.map(|a| a.account.clone()),
        "s3:accesspointnetworkorigin" => ap.map(|a| a.network_origin.clone()),
        _ => None,
    }
}

/// A condition operator, without its `ForAnyValue:` / `ForAllValues:` prefix and `IfExists` suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // The variants are IAM's operator names.
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// The value type an operator compares (and the type of a condition key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueType {
    /// Strings (also sets of strings).
    String,
    /// Integers or decimals.
    Numeric,
    /// ISO 8601 dates or epoch seconds.
    Date,
    /// `true` / `false`.
    Bool,
    /// Base64-encoded bytes.
    Binary,
    /// IPv4 / IPv6 addresses and CIDR blocks.
    IpAddress,
    /// ARNs.
    Arn,
}

impl ValueType {
    /// The type's name as messages print it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Numeric => "numeric",
            Self::Date => "date",
            Self::Bool => "boolean",
            Self::Binary => "binary",
            Self::IpAddress => "IP address",
            Self::Arn => "ARN",
        }
    }
}

const OPERATORS: &[(&str, Operator)] = &[
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        Operator::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("NumericEquals", Operator::NumericEquals),
    ("NumericNotEquals", Operator::NumericNotEquals),
    ("NumericLessThan", Operator::NumericLessThan),
    ("NumericLessThanEquals", Operator::NumericLessThanEquals),
    ("NumericGreaterThan", Operator::NumericGreaterThan),
    (
        "NumericGreaterThanEquals",
        Operator::NumericGreaterThanEquals,
    ),
    ("DateEquals", Operator::DateEquals),
    ("DateNotEquals", Operator::DateNotEquals),
    ("DateLessThan", Operator::DateLessThan),
    ("DateLessThanEquals", Operator::DateLessThanEquals),
    ("DateGreaterThan", Operator::DateGreaterThan),
    ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
    ("Bool", Operator::Bool),
    ("BinaryEquals", Operator::BinaryEquals),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("ArnEquals", Operator::ArnEquals),
    ("ArnLike", Operator::ArnLike),
    ("ArnNotEquals", Operator::ArnNotEquals),
    ("ArnNotLike", Operator::ArnNotLike),
    ("Null", Operator::Null),
];

impl Operator {
    /// IAM's name of the operator.
    #[must_use]
    pub fn name(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("", |(name, _)| name)
    }

    /// Whether the operator is the negation of a positive one (true on a missing key).
    #[must_use]
    pub fn is_negated(self) -> bool {
        use Operator as O;
        matches!(
            self,
            O::StringNotEquals
                | O::StringNotEqualsIgnoreCase
                | O::StringNotLike
                | O::NumericNotEquals
                | O::DateNotEquals
                | O::NotIpAddress
                | O::ArnNotEquals
                | O::ArnNotLike
        )
    }

    /// The type of values the operator compares; `None` for `Null`.
    #[must_use]
    pub fn value_type(self) -> Option<ValueType> {
        use Operator as O;
        Some(match self {
            O::StringEquals
            | O::StringNotEquals
            | O::StringEqualsIgnoreCase
            | O::StringNotEqualsIgnoreCase
            | O::StringLike
            | O::StringNotLike => ValueType::String,
            O::NumericEquals
            | O::NumericNotEquals
            | O::NumericLessThan
            | O::NumericLessThanEquals
            | O::NumericGreaterThan
            | O::NumericGreaterThanEquals => ValueType::Numeric,
            O::DateEquals
            | O::DateNotEquals
            | O::DateLessThan
            | O::DateLessThanEquals
            | O::DateGreaterThan
            | O::DateGreaterThanEquals => ValueType::Date,
            O::Bool => ValueType::Bool,
            O::BinaryEquals => ValueType::Binary,
            O::IpAddress | O::NotIpAddress => ValueType::IpAddress,
            O::ArnEquals | O::ArnLike | O::ArnNotEquals | O::ArnNotLike => ValueType::Arn,
            O::Null => return None,
        })
    }

    /// The positive comparison of one request value with one policy value (negation is applied by the
    /// caller).
    fn compare(self, actual: &str, expected: &[Token]) -> bool {
        use Operator as O;
        let text = || tokens_text(expected);
        match self {
            O::StringEquals | O::StringNotEquals => actual == text(),
            O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase => {
                actual.to_lowercase() == text().to_lowercase()
            }
            O::StringLike | O::StringNotLike => tokens_match(expected, actual, false),
            O::ArnEquals | O::ArnLike | O::ArnNotEquals | O::ArnNotLike => {
                arn_tokens_match(expected, actual)
            }
            O::NumericEquals
            | O::NumericNotEquals
            | O::NumericLessThan
            | O::NumericLessThanEquals
            | O::NumericGreaterThan
            | O::NumericGreaterThanEquals => match (parse_number(actual), parse_number(&text())) {
                (Some(a), Some(e)) => self.ordered(a.partial_cmp(&e)),
                _ => false,
            },
            O::DateEquals
            | O::DateNotEquals
            | O::DateLessThan
            | O::DateLessThanEquals
            | O::DateGreaterThan
            | O::DateGreaterThanEquals => match (parse_date(actual), parse_date(&text())) {
                (Some(a), Some(e)) => self.ordered(Some(a.cmp(&e))),
                _ => false,
            },
            O::Bool => actual.eq_ignore_ascii_case(&text()),
            O::BinaryEquals => match (B64.decode(actual), B64.decode(text())) {
                (Ok(a), Ok(e)) => a == e,
                _ => false,
            },
            O::IpAddress | O::NotIpAddress => {
                match (actual.parse::<IpAddr>(), Cidr::parse(&text())) {
                    (Ok(ip), Some(cidr)) => cidr.contains(ip),
                    _ => false,
                }
            }
            O::Null => false,
        }
    }

    /// Reads an ordering of (request value, policy value) for the numeric and date operators.
    fn ordered(self, ord: Option<std::cmp::Ordering>) -> bool {
        use Operator as O;
        use std::cmp::Ordering::{Equal, Greater, Less};
        match (self, ord) {
            (_, None) => false,
            (
                O::NumericEquals | O::NumericNotEquals | O::DateEquals | O::DateNotEquals,
                Some(o),
            ) => o == Equal,
            (O::NumericLessThan | O::DateLessThan, Some(o)) => o == Less,
            (O::NumericLessThanEquals | O::DateLessThanEquals, Some(o)) => o != Greater,
            (O::NumericGreaterThan | O::DateGreaterThan, Some(o)) => o == Greater,
            (O::NumericGreaterThanEquals | O::DateGreaterThanEquals, Some(o)) => o != Less,
            _ => false,
        }
    }
}

/// `ForAnyValue:` or `ForAllValues:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOperator {
    /// At least one request value satisfies the operator.
    ForAnyValue,
    /// Every request value satisfies the operator.
    ForAllValues,
}

/// One key under one operator, with its any-of values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    operator: Operator,
    set: Option<SetOperator>,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

impl Condition {
    /// The operator.
    #[must_use]
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The set operator prefix, if any.
    #[must_use]
    pub fn set_operator(&self) -> Option<SetOperator> {
        self.set
    }

    /// Whether the operator has the `IfExists` suffix.
    #[must_use]
    pub fn if_exists(&self) -> bool {
        self.if_exists
    }

    /// The condition key as written.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The policy's values as written (booleans and numbers in their JSON text).
    #[must_use]
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// The operator's name as written in the policy (`ForAnyValue:StringLikeIfExists`).
    #[must_use]
    pub fn operator_name(&self) -> String {
        let set = match self.set {
            Some(SetOperator::ForAnyValue) => "ForAnyValue:",
            Some(SetOperator::ForAllValues) => "ForAllValues:",
            None => "",
        };
        let suffix = if self.if_exists { "IfExists" } else { "" };
        format!("{set}{}{suffix}", self.operator.name())
    }

    /// Parses one operator block (`"StringEquals": {"key": value-or-values, …}`).
    pub(crate) fn parse_block(
        op_name: &str,
        keys: &serde_json::Value,
    ) -> Result<Vec<Self>, PolicyError> {
        let (operator, set, if_exists) = parse_operator(op_name)
            .ok_or_else(|| PolicyError::InvalidConditionType(op_name.to_owned()))?;
        let serde_json::Value::Object(keys) = keys else {
            return Err(PolicyError::InvalidJson);
        };
        let mut out = Vec::with_capacity(keys.len());
        for (key, values) in keys {
            let mut values = condition_values(values)?;
            if key.is_empty() || key.chars().any(char::is_whitespace) {
                return Err(PolicyError::InvalidConditionKey);
            }
            if values.is_empty() {
                return Err(PolicyError::ConditionValue(format!(
                    "Condition {op_name} has no value for {key}"
                )));
            }
            if matches!(operator, Operator::Bool | Operator::Null) {
                for value in &mut values {
                    value.make_ascii_lowercase();
                    if value != "true" && value != "false" {
                        return Err(PolicyError::ConditionValue(format!(
                            "Condition {op_name} on {key} takes true or false"
                        )));
                    }
                }
            }
            check_values(operator, op_name, key, &values)?;
            out.push(Self {
                operator,
                set,
                if_exists,
                key: key.clone(),
                values,
            });
        }
        Ok(out)
    }

    /// Whether the condition holds for the request (see the module documentation).
    pub(crate) fn holds(&self, lookup: &Lookup<'_>, variables: bool) -> bool {
        let actual = lookup.get(&self.key);
        let actual: Option<&[String]> = actual.as_deref().filter(|v| !v.is_empty());
        if self.operator == Operator::Null {
            let absent = actual.is_none();
            return self.values.iter().any(|v| (v == "true") == absent);
        }
        let expected: Vec<Vec<Token>> = self
            .values
            .iter()
            .filter_map(|v| self.expand(v, lookup, variables))
            .collect();
        // The positive operator on one request value: equal to (like, in) any policy value.
        let positive = |a: &str| expected.iter().any(|e| self.operator.compare(a, e));
        let one = |a: &str| positive(a) != self.operator.is_negated();
        match (self.set, actual) {
            (_, None) if self.if_exists => true,
            (None, None) => self.operator.is_negated(),
            (None, Some(vals)) => vals.iter().any(|a| positive(a)) != self.operator.is_negated(),
            (Some(SetOperator::ForAnyValue), None) => false,
            (Some(SetOperator::ForAnyValue), Some(vals)) => vals.iter().any(|a| one(a)),
            (Some(SetOperator::ForAllValues), None) => true,
            (Some(SetOperator::ForAllValues), Some(vals)) => vals.iter().all(|a| one(a)),
        }
    }

    /// A policy value as tokens: wildcards only for `StringLike` / `Arn…`, policy variables substituted
    /// for string and ARN operators.
    fn expand(&self, value: &str, lookup: &Lookup<'_>, variables: bool) -> Option<Vec<Token>> {
        let wildcards = matches!(
            self.operator,
            Operator::StringLike
                | Operator::StringNotLike
                | Operator::ArnEquals
                | Operator::ArnLike
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
        );
        let substitute = variables
            && matches!(
                self.operator.value_type(),
                Some(ValueType::String | ValueType::Arn)
            );
        expand_pattern(value, wildcards, substitute.then_some(lookup))
    }
}

/// `Token`s of a policy string: `*` and `?` are wildcards when `wildcards`; `${…}` variables are
/// substituted (as literal text) when a lookup is given. `None` when a variable's key is missing and has
/// no default: the value then matches nothing.
pub(crate) fn expand_pattern(
    value: &str,
    wildcards: bool,
    lookup: Option<&Lookup<'_>>,
) -> Option<Vec<Token>> {
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some(c) = rest.chars().next() {
        if let (Some(lookup), Some(body)) = (lookup, rest.strip_prefix("${"))
            && let Some(end) = body.find('}')
        {
            let inner = &body[..end];
            rest = &body[end + 1..];
            match inner {
                "*" | "?" | "$" => out.extend(inner.chars().map(Token::Literal)),
                _ => {
                    let (name, default) = match inner.split_once(',') {
                        Some((name, default)) => {
                            let default = default.trim();
                            let default = default
                                .strip_prefix('\'')
                                .and_then(|d| d.strip_suffix('\''))
                                .unwrap_or(default);
                            (name.trim(), Some(default))
                        }
                        None => (inner.trim(), None),
                    };
                    let found = lookup.get(name);
                    let text = match found.as_deref() {
                        // IAM substitutes single-valued keys only.
                        Some([one]) => one.clone(),
                        _ => default?.to_owned(),
                    };
                    out.extend(text.chars().map(Token::Literal));
                }
            }
            continue;
        }
        out.push(match c {
            '*' if wildcards => Token::AnyRun,
            '?' if wildcards => Token::AnyOne,
            c => Token::Literal(c),
        });
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

/// The text of tokens (wildcards written back as `*` and `?`).
fn tokens_text(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Literal(c) => *c,
            Token::AnyRun => '*',
            Token::AnyOne => '?',
        })
        .collect()
}

/// `[ForAnyValue:|ForAllValues:]Operator[IfExists]`; `Null` takes neither prefix nor suffix.
fn parse_operator(name: &str) -> Option<(Operator, Option<SetOperator>, bool)> {
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (Some(SetOperator::ForAnyValue), rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (Some(SetOperator::ForAllValues), rest)
    } else {
        (None, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let op = OPERATORS.iter().find(|(n, _)| *n == base)?.1;
    if op == Operator::Null && (if_exists || set.is_some()) {
        return None;
    }
    Some((op, set, if_exists))
}

/// A condition value: a string, boolean or number (read as its JSON text), or a list of them.
fn condition_values(value: &serde_json::Value) -> Result<Vec<String>, PolicyError> {
    use serde_json::Value;
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PolicyError::InvalidJson),
    };
    match value {
        Value::Array(list) => list.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// Refuses values the operator can never compare (a policy must not silently never match).
fn check_values(
    operator: Operator,
    op_name: &str,
    key: &str,
    values: &[String],
) -> Result<(), PolicyError> {
    let (ok, what): (fn(&str) -> bool, &str) = match operator.value_type() {
        Some(ValueType::Numeric) => (|v| parse_number(v).is_some(), "numbers"),
        Some(ValueType::Date) => (
            |v| v.contains("${") || parse_date(v).is_some(),
            "dates (ISO 8601 or epoch seconds)",
        ),
        Some(ValueType::IpAddress) => (|v| Cidr::parse(v).is_some(), "IP addresses or CIDR blocks"),
        Some(ValueType::Binary) => (|v| B64.decode(v).is_ok(), "base64 values"),
        _ => return Ok(()),
    };
    if values.iter().all(|v| ok(v)) {
        Ok(())
    } else {
        Err(PolicyError::ConditionValue(format!(
            "Condition {op_name} on {key} takes {what}"
        )))
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let valid = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.'));
    valid.then(|| s.parse::<f64>().ok()).flatten()
}

/// An instant in nanoseconds since the epoch: RFC 3339 / ISO 8601 (`2026-12-01T00:00:00Z`), a date
/// (`2026-12-01`, midnight UTC) or integer epoch seconds.
fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .map(|secs| i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let date =
        time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp_nanos())
}

/// An address block (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Clone, Copy, Debug)]
struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Self> {
        let (addr, bits) = match s.trim().split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => b.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (bits <= max).then_some(Self { net, bits })
    }

    fn contains(self, ip: IpAddr) -> bool {
        let ip = match (self.net, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            _ => ip,
        };
        let prefix = |a: u128, b: u128, width: u32| {
            let bits = u32::from(self.bits);
            bits == 0 || (a ^ b) >> (width - bits) == 0
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                prefix(u128::from(u32::from(n)), u128::from(u32::from(a)), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix(u128::from(n), u128::from(a), 128),
            _ => false,
        }
    }
}

/// The type of a condition key this crate knows (global `aws:` keys, S3's keys of the Service Authorization
/// Reference <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>, KMS's keys, Glacier's
/// `glacier:ArchiveAgeInDays`); `None` for an unknown key. Tag keys (`aws:RequestTag/…`, `s3:ExistingObjectTag/…`,
/// …) and `kms:EncryptionContext:…` are strings.
#[must_use]
pub fn key_type(key: &str) -> Option<ValueType> {
    use ValueType as T;
    let lower = key.to_ascii_lowercase();
    const PREFIXES: &[&str] = &[
        "aws:requesttag/",
        "aws:resourcetag/",
        "aws:principaltag/",
        "s3:existingobjecttag/",
        "s3:requestobjecttag/",
        "s3:buckettag/",
        "s3:accesspointtag/",
        "kms:encryptioncontext:",
        "glacier:resourcetag/",
    ];
    if PREFIXES
        .iter()
        .any(|p| lower.len() > p.len() && lower.starts_with(p))
    {
        return Some(T::String);
    }
    const KEYS: &[(&str, ValueType)] = &[
        ("aws:securetransport", T::Bool),
        ("aws:sourceip", T::IpAddress),
        ("aws:vpcsourceip", T::IpAddress),
        ("aws:currenttime", T::Date),
        ("aws:epochtime", T::Date),
        ("aws:tokenissuetime", T::Date),
        ("aws:principalarn", T::Arn),
        ("aws:sourcearn", T::Arn),
        ("aws:principalaccount", T::String),
        ("aws:principalorgid", T::String),
        ("aws:principaltype", T::String),
        ("aws:principalisawsservice", T::Bool),
        ("aws:principalservicename", T::String),
        ("aws:username", T::String),
        ("aws:userid", T::String),
        ("aws:multifactorauthpresent", T::Bool),
        ("aws:multifactorauthage", T::Numeric),
        ("aws:sourcevpce", T::String),
        ("aws:sourcevpc", T::String),
        ("aws:sourceaccount", T::String),
        ("aws:sourceorgid", T::String),
        ("aws:resourceaccount", T::String),
        ("aws:calledvia", T::String),
        ("aws:calledviafirst", T::String),
        ("aws:calledvialast", T::String),
        ("aws:viaawsservice", T::Bool),
        ("aws:referer", T::String),
        ("aws:useragent", T::String),
        ("aws:requestedregion", T::String),
        ("aws:tagkeys", T::String),
        ("s3:accessgrantscope", T::String),
        ("s3:accessgrantsinstancearn", T::Arn),
        ("s3:accessgrantslocationscope", T::String),
        ("s3:accesspointnetworkorigin", T::String),
        ("s3:dataaccesspointaccount", T::String),
        ("s3:dataaccesspointarn", T::Arn),
        ("s3:existingjoboperation", T::String),
        ("s3:existingjobpriority", T::Numeric),
        ("s3:inventoryaccessibleoptionalfields", T::String),
        ("s3:jobsuspendedcause", T::String),
        ("s3:objectcreationoperation", T::Bool),
        ("s3:requestjoboperation", T::String),
        ("s3:requestjobpriority", T::Numeric),
        ("s3:requestobjecttagkeys", T::String),
        ("s3:resourceaccount", T::String),
        ("s3:tlsversion", T::Numeric),
        ("s3:annotation-prefix", T::String),
        ("s3:authtype", T::String),
        ("s3:delimiter", T::String),
        ("s3:deliverysourcearn", T::Arn),
        ("s3:destinationregion", T::String),
        ("s3:if-match", T::String),
        ("s3:if-none-match", T::String),
        ("s3:isreplicationpauserequest", T::Bool),
        ("s3:locationconstraint", T::String),
        ("s3:logtype", T::String),
        ("s3:max-annotation-results", T::Numeric),
        ("s3:max-keys", T::Numeric),
        ("s3:object-lock-legal-hold", T::String),
        ("s3:object-lock-mode", T::String),
        ("s3:object-lock-remaining-retention-days", T::Numeric),
        ("s3:object-lock-retain-until-date", T::Date),
        ("s3:prefix", T::String),
        ("s3:resourcearnbeingauthorized", T::Arn),
        ("s3:signatureage", T::Numeric),
        ("s3:signatureversion", T::String),
        ("s3:versionid", T::String),
        ("s3:x-amz-acl", T::String),
        ("s3:x-amz-bucket-namespace", T::String),
        ("s3:x-amz-content-sha256", T::String),
        ("s3:x-amz-copy-source", T::String),
        ("s3:x-amz-grant-full-control", T::String),
        ("s3:x-amz-grant-read", T::String),
        ("s3:x-amz-grant-read-acp", T::String),
        ("s3:x-amz-grant-write", T::String),
        ("s3:x-amz-grant-write-acp", T::String),
        ("s3:x-amz-metadata-directive", T::String),
        ("s3:x-amz-object-annotation-directive", T::String),
        ("s3:x-amz-object-if-match", T::String),
        ("s3:x-amz-object-ownership", T::String),
        ("s3:x-amz-server-side-encryption", T::String),
        ("s3:x-amz-server-side-encryption-aws-kms-key-id", T::Arn),
        (
            "s3:x-amz-server-side-encryption-customer-algorithm",
            T::String,
        ),
        ("s3:x-amz-storage-class", T::String),
        ("s3:x-amz-website-redirect-location", T::String),
        ("kms:encryptioncontextkeys", T::String),
        ("kms:viaservice", T::String),
        ("kms:calleraccount", T::String),
        ("kms:encryptionalgorithm", T::String),
        ("kms:grantisforawsresource", T::Bool),
        ("kms:grantoperations", T::String),
        ("kms:granteeprincipal", T::String),
        ("kms:retiringprincipal", T::String),
        ("kms:requestalias", T::String),
        ("kms:resourcealiases", T::String),
        ("kms:keyorigin", T::String),
        ("kms:keyspec", T::String),
        ("kms:keyusage", T::String),
        ("kms:multiregion", T::Bool),
        ("kms:bypasspolicylockoutsafetycheck", T::Bool),
        ("kms:schedulekeydeletionpendingwindowindays", T::Numeric),
        ("kms:rotationperiodindays", T::Numeric),
        ("kms:signingalgorithm", T::String),
        ("kms:macalgorithm", T::String),
        ("kms:messagetype", T::String),
        ("kms:validto", T::Date),
        ("kms:expirationmodel", T::String),
        ("kms:wrappingalgorithm", T::String),
        ("kms:wrappingkeyspec", T::String),
        ("kms:datakeypairspec", T::String),
        // Glacier (SAR list_amazons3glacier).
        ("glacier:archiveageindays", T::Numeric),
    ];
    KEYS.iter().find(|(k, _)| *k == lower).map(|(_, t)| *t)
}

/// Whether an operator comparing `op` values may be used on a key of type `key`: string operators also
/// on ARN keys, date and numeric operators on `aws:EpochTime`-like dates, `Null` on anything.
#[must_use]
pub fn operator_applies(op: Operator, key_name: &str, key: ValueType) -> bool {
    match op.value_type() {
        None => true,
        Some(ValueType::String) => matches!(key, ValueType::String | ValueType::Arn),
        Some(ValueType::Numeric) => {
            key == ValueType::Numeric || key_name.eq_ignore_ascii_case("aws:EpochTime")
        }
        Some(t) => t == key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glacier_archive_age_in_days_is_numeric() {
        assert_eq!(
            key_type("glacier:ArchiveAgeInDays"),
            Some(ValueType::Numeric)
        );
        assert_eq!(
            key_type("glacier:ResourceTag/team"),
            Some(ValueType::String)
        );
        assert!(operator_applies(
            Operator::NumericLessThan,
            "glacier:ArchiveAgeInDays",
            ValueType::Numeric
        ));
    }

    #[test]
    fn cidr_blocks() {
        let c = Cidr::parse("192.0.2.0/24").expect("cidr");
        assert!(c.contains("192.0.2.77".parse().expect("ip")));
        assert!(!c.contains("192.0.3.1".parse().expect("ip")));
        assert!(c.contains("::ffff:192.0.2.1".parse().expect("ip")));
        let c = Cidr::parse("2001:db8::/32").expect("cidr");
        assert!(c.contains("2001:db8:1::1".parse().expect("ip")));
        assert!(!c.contains("2001:db9::1".parse().expect("ip")));
        assert!(
            Cidr::parse("0.0.0.0/0").is_some_and(|c| c.contains("8.8.8.8".parse().expect("ip")))
        );
        for bad in ["10.0.0.0/33", "10.0.0/8", "x", "10.0.0.0/", "::/129"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn dates_and_numbers() {
        assert_eq!(parse_date("1970-01-01T00:00:10Z"), Some(10_000_000_000));
        assert_eq!(parse_date("10"), Some(10_000_000_000));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000_000_000));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_number("1.5"), Some(1.5));
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn operator_names_round_trip() {
        for (name, op) in OPERATORS {
            assert_eq!(op.name(), *name);
            assert_eq!(parse_operator(name), Some((*op, None, false)));
        }
        assert_eq!(
            parse_operator("ForAllValues:StringLikeIfExists"),
            Some((Operator::StringLike, Some(SetOperator::ForAllValues), true))
        );
        assert_eq!(parse_operator("NullIfExists"), None);
        assert_eq!(parse_operator("ForAnyValue:Null"), None);
        assert_eq!(parse_operator("stringequals"), None);
    }
}
