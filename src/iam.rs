//! Identity and access: who is calling ([`context::RequestContext`]) and whether they may
//! (the policy engine, shared by identity policies, bucket policies, access-point policies and KMS key
//! policies).
//!
//! Every operation of the SSE engine, the S3 endpoint and the KMS server takes a request context; none
//! hard-codes a principal.

pub mod arn;
pub mod authorize;
pub mod context;
pub mod policy;

pub use authorize::{
    AccessPointGate, Authorization, PolicySource, ResourceModel, Verdict, authorize,
};
pub use context::{AccessPointRef, AuthType, Caller, Principal, RequestContext};
pub use policy::{
    ConditionKeys, Decision, Effect, ParseOptions, Policy, PolicyError, PolicyKind, Request,
};
