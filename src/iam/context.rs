//! The request context: the authenticated caller (or anonymous), how it authenticated, the transport and
//! the network path a request took. Built by the protocol layer (S3 endpoint, KMS server, CLI) and read by
//! the policy engine for principals and global condition keys (`aws:SecureTransport`, `aws:SourceIp`,
//! `aws:PrincipalArn`, `aws:username`, `aws:MultiFactorAuthPresent`, `aws:SourceVpce`, `s3:authType`,
//! `s3:signatureAge`, `s3:DataAccessPointArn`, …).

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// An authenticated identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The 12-digit account the identity belongs to.
    pub account: String,
    /// The identity's ARN: `arn:aws:iam::ACCOUNT:root` for the account root,
    /// `arn:aws:iam::ACCOUNT:user/NAME` for an IAM user.
    pub arn: String,
    /// The IAM user name (`aws:username`); `None` for the account root and for roles.
    pub user_name: Option<String>,
    /// The access key id the request was signed with.
    pub access_key_id: String,
}

impl Principal {
    /// The account root of `account`.
    #[must_use]
    pub fn root(account: &str, access_key_id: &str) -> Self {
        Self {
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:root"),
            user_name: None,
            access_key_id: access_key_id.to_string(),
        }
    }

    /// An IAM user of `account`.
    #[must_use]
    pub fn user(account: &str, name: &str, access_key_id: &str) -> Self {
        Self {
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:user/{name}"),
            user_name: Some(name.to_string()),
            access_key_id: access_key_id.to_string(),
        }
    }

    /// A session of IAM role `role` of `account` (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`),
    /// as temporary credentials of an execution role are.
    #[must_use]
    pub fn assumed_role(account: &str, role: &str, session: &str, access_key_id: &str) -> Self {
        Self {
            account: account.to_string(),
            arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            user_name: None,
            access_key_id: access_key_id.to_string(),
        }
    }

    /// Whether this is the account root (`arn:aws:iam::ACCOUNT:root`).
    #[must_use]
    pub fn is_root(&self) -> bool {
        self.arn == format!("arn:aws:iam::{}:root", self.account)
    }

    /// For a role session (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`), the role's ARN
    /// (`arn:aws:iam::ACCOUNT:role/ROLE`), which resource policies name to grant its sessions.
    #[must_use]
    pub fn role_arn(&self) -> Option<String> {
        let rest = self
            .arn
            .strip_prefix(&format!("arn:aws:sts::{}:assumed-role/", self.account))?;
        let (role, session) = rest.split_once('/')?;
        (!role.is_empty() && !session.is_empty())
            .then(|| format!("arn:aws:iam::{}:role/{role}", self.account))
    }
}

/// Who made a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No credentials (or no signature) were presented.
    Anonymous,
    /// A request whose signature verified.
    Principal(Principal),
    /// An AWS service acting on its own behalf (`logging.s3.amazonaws.com`), matched by `Service`
    /// principals in resource policies.
    Service(String),
}

impl Caller {
    /// The caller a principal string names, for layers that only know a string: empty or `*` is
    /// anonymous; an ARN with an account is that principal (the account root for `…:root`, with the user
    /// name for `…:user/[PATH/]NAME`; no access key); anything else is a service principal
    /// (`logging.s3.amazonaws.com`).
    #[must_use]
    pub fn from_arn(s: &str) -> Self {
        if s.is_empty() || s == "*" {
            return Self::Anonymous;
        }
        match crate::iam::arn::Arn::parse(s) {
            Some(arn) if crate::iam::arn::is_account_id(arn.account) => {
                if arn.service == "iam" && arn.resource == "root" {
                    return Self::Principal(Principal::root(arn.account, ""));
                }
                let user_name = arn
                    .resource
                    .strip_prefix("user/")
                    .filter(|_| arn.service == "iam")
                    .and_then(|path| path.rsplit('/').next())
                    .map(str::to_owned);
                Self::Principal(Principal {
                    account: arn.account.to_owned(),
                    arn: s.to_owned(),
                    user_name,
                    access_key_id: String::new(),
                })
            }
            _ => Self::Service(s.to_owned()),
        }
    }

    /// The principal, if the caller is authenticated.
    #[must_use]
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Self::Anonymous | Self::Service(_) => None,
            Self::Principal(p) => Some(p),
        }
    }
}

/// How the request authenticated (`s3:authType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthType {
    /// No authentication.
    None,
    /// SigV4 in the `Authorization` header (`REST-HEADER`).
    Header,
    /// SigV4 in the query string: a presigned URL (`REST-QUERY-STRING`).
    Presigned,
    /// A browser-based POST upload (`POST`).
    Post,
}

impl AuthType {
    /// The `s3:authType` condition value; `None` for an unauthenticated request.
    #[must_use]
    pub fn condition_value(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Header => Some("REST-HEADER"),
            Self::Presigned => Some("REST-QUERY-STRING"),
            Self::Post => Some("POST"),
        }
    }
}

/// The access point a request came through (filled in by the access-point layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessPointRef {
    /// `arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME` (`s3:DataAccessPointArn`).
    pub arn: String,
    /// The access point owner's account (`s3:DataAccessPointAccount`).
    pub account: String,
    /// `Internet` or `VPC` (`s3:AccessPointNetworkOrigin`).
    pub network_origin: String,
    /// The access point's policy, if it has one (the access point's gate in [`crate::iam::authorize()`]).
    pub policy: Option<std::sync::Arc<crate::iam::policy::Policy>>,
}

/// Everything about a request that is not its operation: caller, authentication, transport, path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// The caller.
    pub caller: Caller,
    /// How the caller authenticated.
    pub auth: AuthType,
    /// Whether the request arrived over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The client's address (`aws:SourceIp`), when known.
    pub source_ip: Option<IpAddr>,
    /// When the request was received (`aws:CurrentTime`, `aws:EpochTime`).
    pub now: SystemTime,
    /// Age of the signature when the request arrived (`s3:signatureAge`), for signed requests.
    pub signature_age: Option<Duration>,
    /// Whether the credentials were MFA-authenticated (`aws:MultiFactorAuthPresent`); `None` when the
    /// key is absent from the context (long-term access keys).
    pub mfa_present: Option<bool>,
    /// The access point the request came through, if any.
    pub access_point: Option<AccessPointRef>,
    /// The VPC endpoint the request came through (`aws:SourceVpce`), if any.
    pub source_vpce: Option<String>,
    /// The VPC of that endpoint (`aws:SourceVpc`), if any.
    pub source_vpc: Option<String>,
    /// That endpoint's policy, if it has one: a gate of every request through it
    /// ([`crate::iam::Authorization::new`] takes it from here).
    pub vpc_endpoint_policy: Option<std::sync::Arc<crate::iam::policy::Policy>>,
    /// The caller's identity policies (an IAM user's inline policies); empty for account roots and
    /// anonymous callers.
    pub identity_policies: std::sync::Arc<[crate::iam::policy::Policy]>,
    /// The AWS service that made the request on the caller's behalf (`aws:CalledVia`,
    /// `aws:CalledViaFirst`, `aws:CalledViaLast`), e.g. `s3-object-lambda.amazonaws.com` for the
    /// supporting access point's part of a request through an Object Lambda access point.
    pub called_via: Option<String>,
}

impl RequestContext {
    /// A context for `caller` at `now`, with no transport facts yet (not TLS, no address).
    #[must_use]
    pub fn new(caller: Caller, auth: AuthType, now: SystemTime) -> Self {
        Self {
            caller,
            auth,
            secure_transport: false,
            source_ip: None,
            now,
            signature_age: None,
            mfa_present: None,
            access_point: None,
            source_vpce: None,
            source_vpc: None,
            vpc_endpoint_policy: None,
            identity_policies: std::sync::Arc::from(Vec::new()),
            called_via: None,
        }
    }

    /// An anonymous request at the current time.
    #[must_use]
    pub fn anonymous() -> Self {
        Self::new(Caller::Anonymous, AuthType::None, SystemTime::now())
    }

    /// A request by `principal`, signed in the header, at the current time.
    #[must_use]
    pub fn signed_by(principal: Principal) -> Self {
        Self::new(
            Caller::Principal(principal),
            AuthType::Header,
            SystemTime::now(),
        )
    }

    /// The same context with `aws:SecureTransport` set.
    #[must_use]
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.secure_transport = tls;
        self
    }

    /// The same context with a source address.
    #[must_use]
    pub fn with_source_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(ip);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_user_principals() {
        let r = Principal::root("111122223333", "AKIAROOT");
        assert!(r.is_root());
        assert_eq!(r.arn, "arn:aws:iam::111122223333:root");
        let u = Principal::user("111122223333", "alice", "AKIAALICE");
        assert!(!u.is_root());
        assert_eq!(u.user_name.as_deref(), Some("alice"));
        assert_eq!(u.arn, "arn:aws:iam::111122223333:user/alice");
    }

    #[test]
    fn auth_type_values() {
        assert_eq!(AuthType::Header.condition_value(), Some("REST-HEADER"));
        assert_eq!(
            AuthType::Presigned.condition_value(),
            Some("REST-QUERY-STRING")
        );
        assert_eq!(AuthType::None.condition_value(), None);
    }
}
