//! ARNs and IAM wildcard matching.
//!
//! IAM matches actions case-insensitively and resources, ARNs and `StringLike` values case-sensitively,
//! with `*` (any run of characters, none included) and `?` (exactly one character). A pattern that went
//! through policy-variable substitution is a list of [`Token`]s, so a substituted user name containing `*`
//! matches only a literal `*` (IAM UG reference_policies_variables: substituted values are not wildcards).

/// One element of a wildcard pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// A character that must match itself.
    Literal(char),
    /// `*`: any run of characters, including none.
    AnyRun,
    /// `?`: exactly one character.
    AnyOne,
}

/// The tokens of `pattern` read with `*` and `?` as wildcards.
#[must_use]
pub fn wildcard_tokens(pattern: &str) -> Vec<Token> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Token::AnyRun,
            '?' => Token::AnyOne,
            c => Token::Literal(c),
        })
        .collect()
}

/// Whether `input` matches `pattern` (`*` and `?` wildcards), case-sensitively.
#[must_use]
pub fn wildcard_match(pattern: &str, input: &str) -> bool {
    tokens_match(&wildcard_tokens(pattern), input, false)
}

/// Whether `input` matches the tokens, optionally ignoring ASCII case. Linear backtracking over the last
/// `*` only, so no input is exponential.
#[must_use]
pub fn tokens_match(pattern: &[Token], input: &str, ignore_case: bool) -> bool {
    let input: Vec<char> = input.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < input.len() {
        match pattern.get(p) {
            Some(Token::AnyRun) => {
                star = Some((p, i));
                p += 1;
            }
            Some(Token::AnyOne) => {
                p += 1;
                i += 1;
            }
            Some(&Token::Literal(c)) if eq(c, input[i]) => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((star_p, star_i)) => {
                    p = star_p + 1;
                    i = star_i + 1;
                    star = Some((star_p, star_i + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|t| *t == Token::AnyRun)
}

/// ARN matching as `ArnLike` / `ArnEquals` do it: the six colon-separated fields (`arn`, partition,
/// service, region, account, resource) are matched one by one, each with wildcards; a value that is not
/// an ARN matches nothing (IAM UG reference_policies_elements_condition_operators, "ARN condition
/// operators").
#[must_use]
pub fn arn_tokens_match(pattern: &[Token], input: &str) -> bool {
    let Some(fields) = split_arn(input) else {
        return false;
    };
    let mut parts: Vec<&[Token]> = Vec::with_capacity(6);
    let mut rest = pattern;
    while parts.len() < 5 {
        match rest.iter().position(|t| *t == Token::Literal(':')) {
            Some(at) => {
                parts.push(&rest[..at]);
                rest = &rest[at + 1..];
            }
            None => return false,
        }
    }
    parts.push(rest);
    parts
        .iter()
        .zip(fields.iter())
        .all(|(p, f)| tokens_match(p, f, false))
}

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    /// `s3`, `kms`, `iam`, …
    pub service: &'a str,
    /// The region; empty for global services and S3 bucket ARNs.
    pub region: &'a str,
    /// The 12-digit account; empty for S3 bucket ARNs.
    pub account: &'a str,
    /// Everything after the fifth colon.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `s` into its fields; `None` unless it starts with `arn:` and has six fields.
    #[must_use]
    pub fn parse(s: &'a str) -> Option<Self> {
        let [arn, partition, service, region, account, resource] = split_arn(s)?;
        (arn == "arn" && !partition.is_empty() && !service.is_empty()).then_some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

fn split_arn(s: &str) -> Option<[&str; 6]> {
    let mut parts = s.splitn(6, ':');
    let out = [
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    ];
    (out[0] == "arn").then_some(out)
}

/// Whether `s` is a 12-digit AWS account id.
#[must_use]
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account an account principal names: `111122223333` or `arn:PARTITION:iam::111122223333:root`.
#[must_use]
pub fn account_principal(s: &str) -> Option<&str> {
    if is_account_id(s) {
        return Some(s);
    }
    let arn = Arn::parse(s)?;
    (arn.service == "iam" && arn.region.is_empty() && arn.resource == "root")
        .then_some(arn.account)
        .filter(|a| is_account_id(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (pattern, input, expected) in [
            ("*", "", true),
            ("*", "anything/at/all", true),
            ("s3:*", "s3:putobject", true),
            ("s3:get*", "s3:putobject", false),
            ("b/*", "b/k", true),
            ("b/*", "b", false),
            ("b/pre*", "b/prefix/x", true),
            ("b/pre*", "b/pr", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("é?", "éü", true),
            ("**", "x", true),
        ] {
            assert_eq!(
                wildcard_match(pattern, input),
                expected,
                "{pattern} vs {input}"
            );
        }
        assert!(tokens_match(
            &wildcard_tokens("s3:Get*"),
            "S3:GETOBJECT",
            true
        ));
        assert!(!wildcard_match("s3:Get*", "S3:GETOBJECT"));
    }

    #[test]
    fn arns_and_accounts() {
        let arn = Arn::parse("arn:aws:s3:::bucket/a:b").expect("arn");
        assert_eq!(
            (arn.service, arn.account, arn.resource),
            ("s3", "", "bucket/a:b")
        );
        assert_eq!(Arn::parse("arn:aws:iam::111122223333"), None);
        assert_eq!(Arn::parse("not an arn"), None);
        assert_eq!(account_principal("111122223333"), Some("111122223333"));
        assert_eq!(
            account_principal("arn:aws:iam::111122223333:root"),
            Some("111122223333")
        );
        assert_eq!(
            account_principal("arn:aws:iam::111122223333:user/alice"),
            None
        );
        let p = wildcard_tokens("arn:aws:kms:*:111122223333:key/*");
        assert!(arn_tokens_match(
            &p,
            "arn:aws:kms:eu-west-1:111122223333:key/k"
        ));
        assert!(!arn_tokens_match(
            &p,
            "arn:aws:kms:eu-west-1:444455556666:key/k"
        ));
        // `*` does not cross a field boundary in ARN matching.
        assert!(!arn_tokens_match(
            &wildcard_tokens("arn:*:key/k"),
            "arn:aws:kms:r:1:key/k"
        ));
    }
}
