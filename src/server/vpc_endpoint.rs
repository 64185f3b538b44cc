//! VPC endpoints, locally: an extra HTTPS listener (`s3crypt serve --vpc-endpoint vpce-ID=ADDR`, for
//! example on 127.0.0.2) stands for an interface VPC endpoint of S3. A request that arrives there
//! carries `aws:SourceVpce` (the endpoint id) and `aws:SourceVpc` (its VPC) into every policy, is
//! checked against the endpoint's policy, and is the only way into an access point whose
//! `VpcConfiguration` names that VPC (S3-FEATURES.md §2.1–§2.3; UG:access-points-vpc,
//! UG:example-bucket-policies-vpc-endpoint).
//!
//! The endpoint policy is a resource-style policy (it has a `Principal`) of at most 20,480 characters,
//! as VPC endpoint policies are. Without one the endpoint allows everything, like AWS's default
//! endpoint policy (`"Principal": "*", "Action": "*", "Resource": "*"`). Policies are set with
//! `s3crypt vpc-endpoint put-policy` and kept in the home:
//!
//! ```text
//! HOME/vpc-endpoints/          mode 0700
//!   vpce-1a2b3c4d.json         the endpoint policy (replaced atomically)
//! ```
//!
//! A running server rereads a policy at most [`POLICY_TTL`] after it changed: another process's change
//! is obeyed within that time.
//!
//! Differences from AWS: an endpoint here is a listener, not a network interface in a subnet, so its
//! "VPC" is a name given on the command line (by default `vpc-` followed by the endpoint id's suffix);
//! it speaks HTTPS only; `aws:SourceIp` is absent from requests through it (AWS gives the private
//! address as `aws:VpcSourceIp`, which this server does not model); private DNS names are not
//! served.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fsutil::{create_private_dir, write_atomic};
use crate::iam::policy::{ParseOptions, Policy, PolicyError, PolicyKind};

/// How long a server trusts the endpoint policy it read.
pub const POLICY_TTL: Duration = Duration::from_secs(2);

/// The largest endpoint policy, in bytes (VPC endpoint policies: 20,480 characters).
pub const MAX_POLICY_BYTES: usize = 20_480;

/// A VPC endpoint served by this process: its id, its VPC and the address it listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VpcEndpoint {
    /// `vpce-…` (`aws:SourceVpce`).
    pub id: String,
    /// `vpc-…` (`aws:SourceVpc`; an access point's `VpcConfiguration/VpcId`).
    pub vpc: String,
    /// The listener's address (port 0 picks one).
    pub addr: SocketAddr,
}

/// Why an endpoint specification or policy was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VpcEndpointError {
    /// `--vpc-endpoint` is not `vpce-ID=ADDR[,vpc=VPC-ID]`.
    #[error(
        "--vpc-endpoint {spec:?}: {reason} (expected vpce-ID=ADDR[,vpc=vpc-ID], e.g. vpce-1a2b3c4d=127.0.0.2:8443)"
    )]
    Spec {
        /// What was given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An endpoint id is not `vpce-` and 1–32 lowercase letters or digits.
    #[error("{0:?} is not a VPC endpoint id (vpce- and 1-32 lowercase letters or digits)")]
    Id(String),
    /// The policy document was refused.
    #[error("the endpoint policy: {0}")]
    Policy(#[from] PolicyError),
    /// The policy file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Whether `s` is `PREFIX-` followed by 1–32 lowercase letters or digits.
fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        (1..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Whether `s` is a VPC endpoint id (`vpce-1a2b3c4d`).
#[must_use]
pub fn is_endpoint_id(s: &str) -> bool {
    is_id(s, "vpce-")
}

/// Whether `s` is a VPC id (`vpc-1a2b3c4d`).
#[must_use]
pub fn is_vpc_id(s: &str) -> bool {
    is_id(s, "vpc-")
}

impl VpcEndpoint {
    /// Parses `vpce-ID=ADDR[,vpc=VPC-ID]`. The address must be a loopback address: these listeners
    /// stand for endpoints inside a VPC and are never exposed.
    ///
    /// # Errors
    /// [`VpcEndpointError::Spec`] naming what is wrong.
    pub fn parse(spec: &str) -> Result<Self, VpcEndpointError> {
        let bad = |reason: &str| VpcEndpointError::Spec {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (id, rest) = spec
            .split_once('=')
            .ok_or_else(|| bad("missing '=' between the endpoint id and the address"))?;
        if !is_endpoint_id(id) {
            return Err(bad(
                "the endpoint id must be vpce- and 1-32 lowercase letters or digits",
            ));
        }
        let mut parts = rest.split(',');
        let addr: SocketAddr = parts
            .next()
            .unwrap_or_default()
            .parse()
            .map_err(|_| bad("the address must be IP:PORT"))?;
        if !addr.ip().is_loopback() {
            return Err(bad(
                "the address must be a loopback address (127.0.0.0/8 or ::1)",
            ));
        }
        let mut vpc = None;
        for part in parts {
            match part.split_once('=') {
                Some(("vpc", v)) if is_vpc_id(v) && vpc.is_none() => vpc = Some(v.to_owned()),
                Some(("vpc", _)) => {
                    return Err(bad(
                        "vpc= must be given once, as vpc- and 1-32 lowercase letters or digits",
                    ));
                }
                _ => return Err(bad(&format!("unknown option {part:?}"))),
            }
        }
        let vpc = vpc.unwrap_or_else(|| format!("vpc-{}", &id["vpce-".len()..]));
        Ok(Self {
            id: id.to_owned(),
            vpc,
            addr,
        })
    }
}

/// The parse options of an endpoint policy: a resource-style policy of at most
/// [`MAX_POLICY_BYTES`].
const POLICY_OPTIONS: ParseOptions = ParseOptions {
    kind: PolicyKind::Resource,
    max_bytes: MAX_POLICY_BYTES,
};

/// Checks an endpoint policy document.
///
/// # Errors
/// [`VpcEndpointError::Policy`] when it is not a valid resource policy of at most 20,480 bytes.
pub fn parse_policy(json: &str) -> Result<Policy, VpcEndpointError> {
    Ok(Policy::parse(json, &POLICY_OPTIONS)?)
}

/// A cached policy: when it was read, and the policy (`None`: the endpoint has none).
type Cached = (Instant, Option<Arc<Policy>>);

/// The endpoint policies kept in a home (`HOME/vpc-endpoints/ID.json`), read through a short cache.
#[derive(Debug)]
pub struct EndpointPolicies {
    dir: PathBuf,
    cache: Mutex<HashMap<String, Cached>>,
}

impl EndpointPolicies {
    /// The policies of the home `home` (the directory is made when a policy is first stored).
    #[must_use]
    pub fn new(home: &Path) -> Self {
        Self {
            dir: home.join("vpc-endpoints"),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn path(&self, id: &str) -> Result<PathBuf, VpcEndpointError> {
        if !is_endpoint_id(id) {
            return Err(VpcEndpointError::Id(id.to_owned()));
        }
        Ok(self.dir.join(format!("{id}.json")))
    }

    /// The stored policy document of endpoint `id`, if it has one.
    ///
    /// # Errors
    /// [`VpcEndpointError::Id`] for a bad id, [`VpcEndpointError::Io`] when the file cannot be read.
    pub fn get_text(&self, id: &str) -> Result<Option<String>, VpcEndpointError> {
        let path = self.path(id)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(VpcEndpointError::Io { path, source }),
        }
    }

    /// Stores (`Some`) or removes (`None`) the policy of endpoint `id`, after checking it.
    ///
    /// # Errors
    /// [`VpcEndpointError::Policy`] for a refused document, [`VpcEndpointError::Io`] when it cannot be
    /// stored.
    pub fn put(&self, id: &str, policy: Option<&str>) -> Result<(), VpcEndpointError> {
        let path = self.path(id)?;
        let io = |source| VpcEndpointError::Io {
            path: path.clone(),
            source,
        };
        match policy {
            Some(json) => {
                parse_policy(json)?;
                create_private_dir(&self.dir).map_err(io)?;
                write_atomic(&path, json.as_bytes()).map_err(|e| io(e.into_parts().1))?;
            }
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            },
        }
        if let Ok(mut c) = self.cache.lock() {
            c.remove(id);
        }
        Ok(())
    }

    /// The policy of endpoint `id` as the server enforces it (cached for [`POLICY_TTL`]).
    ///
    /// # Errors
    /// As [`EndpointPolicies::get_text`], and [`VpcEndpointError::Policy`] when the stored document no
    /// longer parses (a server then refuses the endpoint's requests rather than dropping its policy).
    pub fn policy(&self, id: &str) -> Result<Option<Arc<Policy>>, VpcEndpointError> {
        if let Ok(c) = self.cache.lock()
            && let Some((at, p)) = c.get(id)
            && at.elapsed() < POLICY_TTL
        {
            return Ok(p.clone());
        }
        let policy = self
            .get_text(id)?
            .map(|text| parse_policy(&text).map(Arc::new))
            .transpose()?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(id.to_owned(), (Instant::now(), policy.clone()));
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let e = VpcEndpoint::parse("vpce-1a2b3c4d=127.0.0.2:8443").expect("spec");
        assert_eq!(e.id, "vpce-1a2b3c4d");
        assert_eq!(e.vpc, "vpc-1a2b3c4d");
        assert_eq!(e.addr, "127.0.0.2:8443".parse().expect("addr"));
        let e = VpcEndpoint::parse("vpce-01=127.0.0.3:0,vpc=vpc-abc").expect("spec");
        assert_eq!(e.vpc, "vpc-abc");
        assert!(VpcEndpoint::parse("[::1]:0").is_err());
        for bad in [
            "vpce-1a2b",
            "vpce-=127.0.0.2:1",
            "vpce-ABC=127.0.0.2:1",
            "vpc-1=127.0.0.2:1",
            "vpce-1=127.0.0.2",
            "vpce-1=10.0.0.2:443",
            "vpce-1=0.0.0.0:443",
            "vpce-1=127.0.0.2:1,vpc=VPC-1",
            "vpce-1=127.0.0.2:1,vpc=vpc-1,vpc=vpc-2",
            "vpce-1=127.0.0.2:1,subnet=x",
            "vpce-123456789012345678901234567890123=127.0.0.2:1",
        ] {
            assert!(VpcEndpoint::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(VpcEndpoint::parse("vpce-1=[::1]:0").is_ok());
    }

    #[test]
    fn policies_are_checked_stored_and_removed() {
        let home = tempfile::tempdir().expect("tmp");
        let p = EndpointPolicies::new(home.path());
        assert!(p.policy("vpce-1").expect("none").is_none());
        assert!(
            matches!(
                p.put(
                    "vpce-1",
                    Some(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
                ),
                Err(VpcEndpointError::Policy(_))
            ),
            "a policy without Principal is not an endpoint policy"
        );
        assert!(matches!(p.put("../x", None), Err(VpcEndpointError::Id(_))));
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        p.put("vpce-1", Some(doc)).expect("put");
        assert_eq!(p.get_text("vpce-1").expect("get").as_deref(), Some(doc));
        assert!(p.policy("vpce-1").expect("policy").is_some());
        let big = format!(
            "{{\"Statement\":[],\"Id\":\"{}\"}}",
            "x".repeat(MAX_POLICY_BYTES)
        );
        assert!(p.put("vpce-1", Some(&big)).is_err());
        p.put("vpce-1", None).expect("delete");
        assert!(p.policy("vpce-1").expect("gone").is_none());
        p.put("vpce-1", None).expect("deleting twice is fine");
    }
}
