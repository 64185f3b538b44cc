//! The vault store: vaults, their archives (sealed by `archive`), access and lock policies, and the
//! authorization of every operation.
//!
//! # Layout (under the home)
//! `glacier/ACCOUNT/VAULT/vault.json` holds a vault's state (name, creation time, the archives' sizes,
//! tree hashes and upload times, the access policy, the lock policy and its state), replaced atomically
//! ([`crate::fsutil::write_atomic`]); `glacier/ACCOUNT/VAULT/archives/ARCHIVE_ID` holds each sealed
//! archive. Every change is a read-modify-write under an exclusive advisory lock on
//! `glacier/ACCOUNT/.lock`, so several processes (servers, the CLI) can share a home; readers take no
//! lock (they see one whole `vault.json` or the next).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lock::{self, LockState, VaultLock};
use super::tree_hash::tree_hash_hex;
use super::{GlacierError, GlacierErrorCode, archive};
use crate::aws::clock::{Clock, SystemClock, rfc3339};
use crate::iam::policy::{ParseOptions, PolicyKind};
use crate::iam::{
    Authorization, ConditionKeys, Policy, RequestContext, ResourceModel, Verdict, authorize,
};
use crate::sse::roots::RootKeys;

/// The largest vault access policy and vault lock policy: 20 KiB.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// The largest archive one UploadArchive may carry here: 64 MiB (Glacier: 4 GiB; larger archives need
/// multipart uploads, which this server does not implement).
pub const MAX_ARCHIVE_BYTES: usize = 64 * 1024 * 1024;

/// Vaults per account and region (Glacier's quota).
const MAX_VAULTS: usize = 1000;

/// The longest archive description (printable ASCII).
const MAX_DESCRIPTION: usize = 1024;

/// How long a change waits for another process's change.
const LOCK_WAIT: Duration = Duration::from_secs(10);

const POLICY_OPTIONS: ParseOptions = ParseOptions {
    kind: PolicyKind::Resource,
    max_bytes: MAX_POLICY_BYTES,
};

/// The Glacier vaults of a home.
#[derive(Debug)]
pub struct Glacier {
    dir: PathBuf,
    region: String,
    clock: Arc<dyn Clock>,
    roots: Mutex<RootKeys>,
}

/// DescribeVault's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VaultDescription {
    /// `arn:aws:glacier:REGION:ACCOUNT:vaults/NAME`.
    #[serde(rename = "VaultARN")]
    pub vault_arn: String,
    /// The name.
    pub vault_name: String,
    /// ISO 8601, UTC, milliseconds.
    pub creation_date: String,
    /// Always `null` here (no inventory jobs).
    pub last_inventory_date: Option<String>,
    /// Archives in the vault now.
    pub number_of_archives: u64,
    /// Their total size in bytes.
    pub size_in_bytes: u64,
}

/// One ListVaults page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VaultPage {
    /// The vaults, by name.
    pub vault_list: Vec<VaultDescription>,
    /// The ARN of the first vault of the next page, if any.
    pub marker: Option<String>,
}

/// UploadArchive's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArchiveCreated {
    /// The new archive's ID.
    #[serde(rename = "archiveId")]
    pub archive_id: String,
    /// Its tree hash (hex).
    pub checksum: String,
    /// `/ACCOUNT/vaults/NAME/archives/ID`.
    pub location: String,
}

/// GetVaultLock's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LockDescription {
    /// The lock policy.
    pub policy: String,
    /// `InProgress` or `Locked`.
    pub state: String,
    /// When the lock ID expires (`null` once `Locked`).
    pub expiration_date: Option<String>,
    /// When InitiateVaultLock ran.
    pub creation_date: String,
}

/// What `vault.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct VaultState {
    name: String,
    created_ms: u64,
    archives: BTreeMap<String, ArchiveMeta>,
    access_policy: Option<String>,
    lock: Option<VaultLock>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ArchiveMeta {
    size: u64,
    tree_hash: String,
    created_ms: u64,
    description: String,
}

/// The ARN of vault `name` of `account` in `region`.
#[must_use]
pub fn vault_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:glacier:{region}:{account}:vaults/{name}")
}

impl Glacier {
    /// The vaults under `home` (`home/glacier`), in `region`, on the system clock. Archives are sealed
    /// under the home's SSE-S3 root keys (`home/sse/roots.json`, created in a fresh home).
    ///
    /// # Errors
    /// `ServiceUnavailableException` if the root keys cannot be opened (a lost `roots.json` in a home
    /// that holds buckets or vaults is refused rather than replaced).
    pub fn open(home: &Path, region: &str) -> Result<Self, GlacierError> {
        let dir = home.join("glacier");
        let buckets = home.join("buckets");
        let non_empty = |p: &Path| std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some());
        let stored = if non_empty(&dir) {
            Some(dir.as_path())
        } else if non_empty(&buckets) {
            Some(buckets.as_path())
        } else {
            None
        };
        let roots = RootKeys::open(&home.join("sse"), stored)
            .map_err(|_| GlacierError::internal("the SSE-S3 root keys cannot be opened"))?;
        Ok(Self {
            dir,
            region: region.to_owned(),
            clock: Arc::new(SystemClock),
            roots: Mutex::new(roots),
        })
    }

    /// The same vaults on `clock` (tests move it to expire lock IDs and age archives).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The region vault ARNs name.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// CreateVault: creates `name` in `account` (again: nothing changes, as in Glacier). Returns the
    /// `Location`, `/ACCOUNT/vaults/NAME`.
    ///
    /// # Errors
    /// `InvalidParameterValueException` for a bad name or account; `AccessDeniedException`;
    /// `LimitExceededException` past 1000 vaults; `ServiceUnavailableException` on I/O failure.
    pub fn create_vault(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
    ) -> Result<String, GlacierError> {
        check_account(account)?;
        check_vault_name(name)?;
        self.authorize(ctx, "glacier:CreateVault", account, name, None, None)?;
        let _guard = self.lock_account(account)?;
        if self.load(account, name)?.is_none() {
            if self.vault_names(account)?.len() >= MAX_VAULTS {
                return Err(GlacierError::new(
                    GlacierErrorCode::LimitExceeded,
                    "The number of vaults in the account has reached its limit",
                ));
            }
            let state = VaultState {
                name: name.to_owned(),
                created_ms: self.now_ms(),
                archives: BTreeMap::new(),
                access_policy: None,
                lock: None,
            };
            self.save(account, &state)?;
        }
        Ok(format!("/{account}/vaults/{name}"))
    }

    /// DescribeVault.
    ///
    /// # Errors
    /// `ResourceNotFoundException`; `AccessDeniedException`; `InvalidParameterValueException`.
    pub fn describe_vault(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
    ) -> Result<VaultDescription, GlacierError> {
        let state = self.existing(ctx, account, name)?;
        self.authorize(
            ctx,
            "glacier:DescribeVault",
            account,
            name,
            Some(&state),
            None,
        )?;
        Ok(self.describe(account, &state))
    }

    /// ListVaults: up to `limit` (1–1000, default 10) vaults by name, from the vault whose ARN is
    /// `marker`.
    ///
    /// # Errors
    /// `InvalidParameterValueException` for a bad limit or marker; `AccessDeniedException`.
    pub fn list_vaults(
        &self,
        ctx: &RequestContext,
        account: &str,
        marker: Option<&str>,
        limit: Option<usize>,
    ) -> Result<VaultPage, GlacierError> {
        check_account(account)?;
        self.authorize(ctx, "glacier:ListVaults", account, "*", None, None)?;
        let limit = limit.unwrap_or(10);
        if !(1..=1000).contains(&limit) {
            return Err(GlacierError::new(
                GlacierErrorCode::InvalidParameterValue,
                "The limit must be between 1 and 1000",
            ));
        }
        let names = self.vault_names(account)?;
        let start = match marker {
            None => 0,
            Some(m) => names
                .iter()
                .position(|n| vault_arn(&self.region, account, n) == m)
                .ok_or_else(|| {
                    GlacierError::new(
                        GlacierErrorCode::InvalidParameterValue,
                        "The marker is not valid",
                    )
                })?,
        };
        let mut vault_list = Vec::new();
        let mut next = None;
        for name in names.iter().skip(start) {
            if vault_list.len() == limit {
                next = Some(vault_arn(&self.region, account, name));
                break;
            }
            // A vault deleted meanwhile is skipped.
            if let Some(state) = self.load(account, name)? {
                vault_list.push(self.describe(account, &state));
            }
        }
        Ok(VaultPage {
            vault_list,
            marker: next,
        })
    }

    /// DeleteVault: only an empty vault.
    ///
    /// # Errors
    /// `InvalidParameterValueException` "Vault not empty" while it holds archives;
    /// `ResourceNotFoundException`; `AccessDeniedException`.
    pub fn delete_vault(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
    ) -> Result<(), GlacierError> {
        let state = self.existing(ctx, account, name)?;
        self.authorize(
            ctx,
            "glacier:DeleteVault",
            account,
            name,
            Some(&state),
            None,
        )?;
        let _guard = self.lock_account(account)?;
        let state = self.existing(ctx, account, name)?;
        if !state.archives.is_empty() {
            return Err(GlacierError::new(
                GlacierErrorCode::InvalidParameterValue,
                format!(
                    "Vault not empty or recently written to: {}",
                    vault_arn(&self.region, account, name)
                ),
            ));
        }
        let dir = self.vault_dir(account, name);
        std::fs::remove_file(dir.join("vault.json"))
            .map_err(|_| GlacierError::internal("the vault cannot be deleted"))?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    /// UploadArchive: checks `tree_hash` (the client's `x-amz-sha256-tree-hash`) against the body, seals
    /// the body and records it.
    ///
    /// # Errors
    /// `MissingParameterValueException` without a tree hash; `InvalidParameterValueException` for a
    /// mismatching tree hash, a bad description or an archive over [`MAX_ARCHIVE_BYTES`];
    /// `ResourceNotFoundException`; `AccessDeniedException`.
    pub fn upload_archive(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
        body: &[u8],
        tree_hash: Option<&str>,
        description: Option<&str>,
    ) -> Result<ArchiveCreated, GlacierError> {
        let state = self.existing(ctx, account, name)?;
        self.authorize(
            ctx,
            "glacier:UploadArchive",
            account,
            name,
            Some(&state),
            None,
        )?;
        let Some(sent) = tree_hash else {
            return Err(GlacierError::new(
                GlacierErrorCode::MissingParameterValue,
                "Missing x-amz-sha256-tree-hash",
            ));
        };
        if body.len() > MAX_ARCHIVE_BYTES {
            return Err(GlacierError::new(
                GlacierErrorCode::InvalidParameterValue,
                format!("The archive is larger than {MAX_ARCHIVE_BYTES} bytes"),
            ));
        }
        let computed = tree_hash_hex(body);
        if !computed.eq_ignore_ascii_case(sent.trim()) {
            return Err(GlacierError::new(
                GlacierErrorCode::InvalidParameterValue,
                format!(
                    "Checksum mismatch: expected {computed} (calculated), got {}",
                    printable(sent)
                ),
            ));
        }
        let description = description.unwrap_or_default();
        if description.len() > MAX_DESCRIPTION
            || !description.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(GlacierError::new(
                GlacierErrorCode::InvalidParameterValue,
                "The archive description must be at most 1024 printable ASCII characters",
            ));
        }
        let id = crate::primitives::random_id::<63>()
            .map_err(|_| GlacierError::internal("RNG failure"))?;
        let sealed = {
            let mut roots = self.roots.lock().unwrap_or_else(PoisonError::into_inner);
            roots
                .refresh()
                .map_err(|_| GlacierError::internal("the SSE-S3 root keys cannot be read"))?;
            let version = roots.current();
            let root = roots
                .get(version)
                .ok_or_else(|| GlacierError::internal("no SSE-S3 root key"))?;
            archive::seal(root, version, &format!("{account}/{name}/{id}"), body)?
        };
        let path = self.archive_path(account, name, &id);
        crate::fsutil::create_private_dir(crate::fsutil::parent_dir(&path))
            .map_err(|_| GlacierError::internal("the archive cannot be stored"))?;
        crate::fsutil::write_atomic(&path, &sealed)
            .map_err(|_| GlacierError::internal("the archive cannot be stored"))?;
        let _guard = self.lock_account(account)?;
        let Some(mut state) = self.load(account, name)? else {
            let _ = std::fs::remove_file(&path);
            return Err(not_found_vault(&self.region, account, name));
        };
        state.archives.insert(
            id.clone(),
            ArchiveMeta {
                size: body.len() as u64,
                tree_hash: computed.clone(),
                created_ms: self.now_ms(),
                description: description.to_owned(),
            },
        );
        self.save(account, &state)?;
        Ok(ArchiveCreated {
            location: format!("/{account}/vaults/{name}/archives/{id}"),
            archive_id: id,
            checksum: computed,
        })
    }

    /// DeleteArchive, authorized with `glacier:ArchiveAgeInDays` (whole days since the upload).
    ///
    /// # Errors
    /// `AccessDeniedException` (a lock policy denying young archives' deletion, for instance);
    /// `ResourceNotFoundException` for an unknown vault or archive.
    pub fn delete_archive(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
        archive_id: &str,
    ) -> Result<(), GlacierError> {
        let state = self.existing(ctx, account, name)?;
        if !valid_archive_id(archive_id) {
            return Err(GlacierError::new(
                GlacierErrorCode::InvalidParameterValue,
                "Invalid archive ID",
            ));
        }
        let keys = state
            .archives
            .get(archive_id)
            .map(|a| age_keys(a.created_ms, self.now_ms()));
        self.authorize(
            ctx,
            "glacier:DeleteArchive",
            account,
            name,
            Some(&state),
            keys.as_ref(),
        )?;
        let _guard = self.lock_account(account)?;
        let mut state = self.existing(ctx, account, name)?;
        if state.archives.remove(archive_id).is_none() {
            return Err(GlacierError::new(
                GlacierErrorCode::ResourceNotFound,
                "Archive not found",
            ));
        }
        self.save(account, &state)?;
        let _ = std::fs::remove_file(self.archive_path(account, name, archive_id));
        Ok(())
    }

    /// The plaintext of an archive (what a retrieval job would return; for tools and tests, there are
    /// no jobs), authorized as `glacier:GetJobOutput`.
    ///
    /// # Errors
    /// `ResourceNotFoundException`; `AccessDeniedException`; `ServiceUnavailableException` when the
    /// stored archive does not authenticate.
    pub fn read_archive(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
        archive_id: &str,
    ) -> Result<Vec<u8>, GlacierError> {
        let state = self.existing(ctx, account, name)?;
        self.authorize(
            ctx,
            "glacier:GetJobOutput",
            account,
            name,
            Some(&state),
            None,
        )?;
        if !state.archives.contains_key(archive_id) {
            return Err(GlacierError::new(
                GlacierErrorCode::ResourceNotFound,
                "Archive not found",
            ));
        }
        let stored = std::fs::read(self.archive_path(account, name, archive_id))
            .map_err(|_| GlacierError::internal("the archive cannot be read"))?;
        let mut roots = self.roots.lock().unwrap_or_else(PoisonError::into_inner);
        archive::open(
            &mut roots,
            &format!("{account}/{name}/{archive_id}"),
            &stored,
        )
    }

    /// SetVaultAccessPolicy.
    ///
    /// # Errors
    /// `InvalidParameterValueException` for a policy that does not parse (the message says why);
    /// `ResourceNotFoundException`; `AccessDeniedException`.
    pub fn set_access_policy(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
        policy: &str,
    ) -> Result<(), GlacierError> {
        parse_policy(policy)?;
        self.change(
            ctx,
            "glacier:SetVaultAccessPolicy",
            account,
            name,
            |s, _| {
                s.access_policy = Some(policy.to_owned());
                Ok(())
            },
        )
    }

    /// GetVaultAccessPolicy.
    ///
    /// # Errors
    /// `ResourceNotFoundException` when the vault has no access policy; `AccessDeniedException`.
    pub fn access_policy(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
    ) -> Result<String, GlacierError> {
        let state = self.existing(ctx, account, name)?;
        self.authorize(
            ctx,
            "glacier:GetVaultAccessPolicy",
            account,
            name,
            Some(&state),
            None,
        )?;
        state.access_policy.ok_or_else(|| {
            GlacierError::new(
                GlacierErrorCode::ResourceNotFound,
                format!(
                    "No vault access policy is set for: {}",
                    vault_arn(&self.region, account, name)
                ),
            )
        })
    }

    /// DeleteVaultAccessPolicy (idempotent).
    ///
    /// # Errors
    /// `ResourceNotFoundException` for an unknown vault; `AccessDeniedException`.
    pub fn delete_access_policy(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
    ) -> Result<(), GlacierError> {
        self.change(
            ctx,
            "glacier:DeleteVaultAccessPolicy",
            account,
            name,
            |s, _| {
                s.access_policy = None;
                Ok(())
            },
        )
    }

    /// InitiateVaultLock: installs `policy` `InProgress`; returns the lock ID.
    ///
    /// # Errors
    /// `AccessDeniedException` while a lock is in progress or once locked ([`lock::initiate`]);
    /// `InvalidParameterValueException` for a policy that does not parse.
    pub fn initiate_lock(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
        policy: &str,
    ) -> Result<String, GlacierError> {
        parse_policy(policy)?;
        let lock_id = crate::primitives::random_id::<18>()
            .map_err(|_| GlacierError::internal("RNG failure"))?;
        self.change(ctx, "glacier:InitiateVaultLock", account, name, |s, now| {
            s.lock = Some(lock::initiate(
                s.lock.as_ref(),
                policy.to_owned(),
                lock_id.clone(),
                now,
            )?);
            Ok(())
        })?;
        Ok(lock_id)
    }

    /// CompleteVaultLock.
    ///
    /// # Errors
    /// As [`lock::complete`]; `ResourceNotFoundException`; `AccessDeniedException`.
    pub fn complete_lock(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
        lock_id: &str,
    ) -> Result<(), GlacierError> {
        self.change(ctx, "glacier:CompleteVaultLock", account, name, |s, now| {
            s.lock = Some(lock::complete(s.lock.as_ref(), lock_id, now)?);
            Ok(())
        })
    }

    /// AbortVaultLock (idempotent while nothing is locked).
    ///
    /// # Errors
    /// `AccessDeniedException` once locked; `ResourceNotFoundException` for an unknown vault.
    pub fn abort_lock(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
    ) -> Result<(), GlacierError> {
        self.change(ctx, "glacier:AbortVaultLock", account, name, |s, now| {
            lock::abort(s.lock.as_ref(), now)?;
            s.lock = None;
            Ok(())
        })
    }

    /// GetVaultLock.
    ///
    /// # Errors
    /// `ResourceNotFoundException` when no lock policy is in force; `AccessDeniedException`.
    pub fn lock(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
    ) -> Result<LockDescription, GlacierError> {
        let state = self.existing(ctx, account, name)?;
        self.authorize(
            ctx,
            "glacier:GetVaultLock",
            account,
            name,
            Some(&state),
            None,
        )?;
        let Some(l) = lock::in_force(state.lock.as_ref(), self.now_ms()) else {
            return Err(GlacierError::new(
                GlacierErrorCode::ResourceNotFound,
                format!(
                    "No vault lock policy is set for: {}",
                    vault_arn(&self.region, account, name)
                ),
            ));
        };
        Ok(LockDescription {
            policy: l.policy.clone(),
            state: l.state.as_str().to_owned(),
            expiration_date: (l.state == LockState::InProgress)
                .then(|| rfc3339(Duration::from_millis(l.expires_ms()))),
            creation_date: rfc3339(Duration::from_millis(l.created_ms)),
        })
    }
}

impl Glacier {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.now().as_millis()).unwrap_or(u64::MAX)
    }

    /// Authorizes `action` on vault `name` (`*` for account-wide actions) with the caller's identity
    /// policies and, for an existing vault, its access policy and the lock policy in force.
    fn authorize(
        &self,
        ctx: &RequestContext,
        action: &str,
        account: &str,
        name: &str,
        state: Option<&VaultState>,
        keys: Option<&ConditionKeys>,
    ) -> Result<(), GlacierError> {
        let resource = vault_arn(&self.region, account, name);
        let empty = ConditionKeys::new();
        let keys = keys.unwrap_or(&empty);
        let stored = |text: Option<&str>| {
            text.map(|t| Policy::parse(t, &POLICY_OPTIONS))
                .transpose()
                .map_err(|_| GlacierError::internal("a stored vault policy is damaged"))
        };
        let access = stored(state.and_then(|s| s.access_policy.as_deref()))?;
        let lock = stored(
            state
                .and_then(|s| lock::in_force(s.lock.as_ref(), self.now_ms()))
                .map(|l| l.policy.as_str()),
        )?;
        let verdict = authorize(
            &Authorization::new(
                action,
                &resource,
                account,
                ctx,
                keys,
                ResourceModel::Glacier,
            )
            .with_identity_policies(&ctx.identity_policies)
            .with_resource_policy(access.as_ref())
            .with_lock_policy(lock.as_ref()),
        );
        let who = ctx
            .caller
            .principal()
            .map_or_else(|| "anonymous".to_owned(), |p| p.arn.clone());
        match verdict {
            Verdict::Allow => Ok(()),
            Verdict::ExplicitDeny { .. } => Err(GlacierError::new(
                GlacierErrorCode::AccessDenied,
                format!(
                    "User: {who} is not authorized to perform: {action} on resource: {resource} with an explicit deny"
                ),
            )),
            Verdict::ImplicitDeny => Err(GlacierError::new(
                GlacierErrorCode::AccessDenied,
                format!(
                    "User: {who} is not authorized to perform: {action} on resource: {resource}"
                ),
            )),
        }
    }

    /// An authorized read-modify-write of an existing vault under the account lock; `f` gets the state
    /// and the time.
    fn change(
        &self,
        ctx: &RequestContext,
        action: &str,
        account: &str,
        name: &str,
        f: impl FnOnce(&mut VaultState, u64) -> Result<(), GlacierError>,
    ) -> Result<(), GlacierError> {
        let state = self.existing(ctx, account, name)?;
        self.authorize(ctx, action, account, name, Some(&state), None)?;
        let _guard = self.lock_account(account)?;
        let mut state = self.existing(ctx, account, name)?;
        f(&mut state, self.now_ms())?;
        self.save(account, &state)
    }

    fn describe(&self, account: &str, state: &VaultState) -> VaultDescription {
        VaultDescription {
            vault_arn: vault_arn(&self.region, account, &state.name),
            vault_name: state.name.clone(),
            creation_date: rfc3339(Duration::from_millis(state.created_ms)),
            last_inventory_date: None,
            number_of_archives: state.archives.len() as u64,
            size_in_bytes: state.archives.values().map(|a| a.size).sum(),
        }
    }

    fn vault_dir(&self, account: &str, name: &str) -> PathBuf {
        self.dir.join(account).join(name)
    }

    fn archive_path(&self, account: &str, name: &str, id: &str) -> PathBuf {
        self.vault_dir(account, name).join("archives").join(id)
    }

    fn lock_account(&self, account: &str) -> Result<crate::fsutil::LockGuard, GlacierError> {
        let dir = self.dir.join(account);
        crate::fsutil::create_private_dir(&dir)
            .map_err(|_| GlacierError::internal("the vault store cannot be created"))?;
        crate::fsutil::lock_exclusive(&dir.join(".lock"), LOCK_WAIT)
            .map_err(|_| GlacierError::internal("the vault store is busy"))
    }

    /// The vault's state, `None` if it does not exist.
    fn load(&self, account: &str, name: &str) -> Result<Option<VaultState>, GlacierError> {
        check_account(account)?;
        check_vault_name(name)?;
        match std::fs::read(self.vault_dir(account, name).join("vault.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| GlacierError::internal("a vault's state is damaged")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(_) => Err(GlacierError::internal("a vault's state cannot be read")),
        }
    }

    /// The state of an existing vault. A missing vault of another account than the caller's is
    /// `AccessDeniedException`, as when it exists without a policy letting the caller in: which vaults
    /// exist is not revealed across accounts.
    fn existing(
        &self,
        ctx: &RequestContext,
        account: &str,
        name: &str,
    ) -> Result<VaultState, GlacierError> {
        if let Some(state) = self.load(account, name)? {
            return Ok(state);
        }
        match ctx.caller.principal() {
            Some(p) if p.account == account => Err(not_found_vault(&self.region, account, name)),
            _ => self
                .authorize(ctx, "glacier:DescribeVault", account, name, None, None)
                .and_then(|()| Err(not_found_vault(&self.region, account, name))),
        }
    }

    fn save(&self, account: &str, state: &VaultState) -> Result<(), GlacierError> {
        let dir = self.vault_dir(account, &state.name);
        crate::fsutil::create_private_dir(&dir)
            .map_err(|_| GlacierError::internal("the vault cannot be stored"))?;
        let json = serde_json::to_vec(state)
            .map_err(|_| GlacierError::internal("the vault cannot be stored"))?;
        crate::fsutil::write_atomic(&dir.join("vault.json"), &json)
            .map_err(|_| GlacierError::internal("the vault cannot be stored"))
    }

    fn vault_names(&self, account: &str) -> Result<Vec<String>, GlacierError> {
        let entries = match std::fs::read_dir(self.dir.join(account)) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(_) => return Err(GlacierError::internal("the vaults cannot be listed")),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| check_vault_name(n).is_ok())
            .filter(|n| self.vault_dir(account, n).join("vault.json").is_file())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// `glacier:ArchiveAgeInDays`: whole days since the upload.
fn age_keys(created_ms: u64, now_ms: u64) -> ConditionKeys {
    let days = now_ms.saturating_sub(created_ms) / (24 * 60 * 60 * 1000);
    ConditionKeys::new().with("glacier:ArchiveAgeInDays", days.to_string())
}

fn parse_policy(text: &str) -> Result<Policy, GlacierError> {
    Policy::parse(text, &POLICY_OPTIONS).map_err(|e| {
        GlacierError::new(
            GlacierErrorCode::InvalidParameterValue,
            format!("Invalid vault policy: {e}"),
        )
    })
}

fn not_found_vault(region: &str, account: &str, name: &str) -> GlacierError {
    GlacierError::new(
        GlacierErrorCode::ResourceNotFound,
        format!(
            "Vault not found for ARN: {}",
            vault_arn(region, account, name)
        ),
    )
}

/// A client's value for a message: at most 100 printable ASCII characters.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(100)
        .collect()
}

/// An account ID: 12 digits.
fn check_account(account: &str) -> Result<(), GlacierError> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(GlacierError::new(
            GlacierErrorCode::InvalidParameterValue,
            "The account ID must be 12 digits or '-'",
        ))
    }
}

/// A vault name: 1–255 of `a-z A-Z 0-9 _ - .` (not `.` or `..`, which would be directories here).
fn check_vault_name(name: &str) -> Result<(), GlacierError> {
    let ok = (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(GlacierError::new(
            GlacierErrorCode::InvalidParameterValue,
            "Vault name must be 1 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.'",
        ))
    }
}

/// An archive ID from a path: base64url characters, at most 200.
pub(crate) fn valid_archive_id(id: &str) -> bool {
    (1..=200).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::clock::ManualClock;
    use crate::iam::Principal;

    const ACCOUNT: &str = "111122223333";
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    fn setup() -> (tempfile::TempDir, Glacier, ManualClock, RequestContext) {
        let home = tempfile::tempdir().expect("tmp");
        let clock = ManualClock::new(Duration::from_secs(1_800_000_000));
        let g = Glacier::open(home.path(), "us-east-1")
            .expect("open")
            .with_clock(Arc::new(clock.clone()));
        let root = RequestContext::signed_by(Principal::root(ACCOUNT, "AKROOT"));
        (home, g, clock, root)
    }

    fn code<T: std::fmt::Debug>(r: Result<T, GlacierError>) -> GlacierErrorCode {
        r.expect_err("refused").code()
    }

    fn deny_young_deletes(days: u32) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"glacier:DeleteArchive","Resource":"arn:aws:glacier:us-east-1:{ACCOUNT}:vaults/v","Condition":{{"NumericLessThan":{{"glacier:ArchiveAgeInDays":"{days}"}}}}}}]}}"#
        )
    }

    #[test]
    fn glacier_lock_id_expires_after_24_hours() {
        let (_home, g, clock, root) = setup();
        g.create_vault(&root, ACCOUNT, "v").expect("create");
        let id = g
            .initiate_lock(&root, ACCOUNT, "v", &deny_young_deletes(1))
            .expect("initiate");
        let l = g.lock(&root, ACCOUNT, "v").expect("lock");
        assert_eq!(l.state, "InProgress");
        assert!(l.expiration_date.is_some());
        clock.advance(DAY - Duration::from_secs(1));
        assert_eq!(
            g.lock(&root, ACCOUNT, "v").expect("lock").state,
            "InProgress"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            code(g.lock(&root, ACCOUNT, "v")),
            GlacierErrorCode::ResourceNotFound
        );
        assert_eq!(
            code(g.complete_lock(&root, ACCOUNT, "v", &id)),
            GlacierErrorCode::InvalidParameterValue
        );
        // The expired policy is no longer enforced, and a new lock may start.
        let a = g
            .upload_archive(&root, ACCOUNT, "v", b"x", Some(&tree_hash_hex(b"x")), None)
            .expect("upload");
        g.delete_archive(&root, ACCOUNT, "v", &a.archive_id)
            .expect("delete: no lock in force");
        let id2 = g
            .initiate_lock(&root, ACCOUNT, "v", &deny_young_deletes(1))
            .expect("initiate again");
        g.complete_lock(&root, ACCOUNT, "v", &id2)
            .expect("complete");
        clock.advance(DAY * 1000);
        let l = g.lock(&root, ACCOUNT, "v").expect("locked forever");
        assert_eq!((l.state.as_str(), l.expiration_date), ("Locked", None));
        assert_eq!(
            code(g.abort_lock(&root, ACCOUNT, "v")),
            GlacierErrorCode::AccessDenied
        );
    }

    #[test]
    fn glacier_archive_age_in_days_gates_deletion() {
        let (home, g, clock, root) = setup();
        g.create_vault(&root, ACCOUNT, "v").expect("create");
        let id = g
            .initiate_lock(&root, ACCOUNT, "v", &deny_young_deletes(365))
            .expect("initiate");
        g.complete_lock(&root, ACCOUNT, "v", &id).expect("complete");
        let secret = b"glacier plaintext that must never be stored as is";
        let a = g
            .upload_archive(
                &root,
                ACCOUNT,
                "v",
                secret,
                Some(&tree_hash_hex(secret)),
                Some("d"),
            )
            .expect("upload");
        assert_eq!(
            g.read_archive(&root, ACCOUNT, "v", &a.archive_id)
                .expect("read"),
            secret
        );
        for file in walk(home.path()) {
            let bytes = std::fs::read(&file).expect("read file");
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "plaintext in {}",
                file.display()
            );
        }
        let e = g
            .delete_archive(&root, ACCOUNT, "v", &a.archive_id)
            .expect_err("young");
        assert_eq!(e.code(), GlacierErrorCode::AccessDenied);
        assert!(e.message().contains("explicit deny"), "{e}");
        clock.advance(DAY * 364);
        assert_eq!(
            code(g.delete_archive(&root, ACCOUNT, "v", &a.archive_id)),
            GlacierErrorCode::AccessDenied
        );
        clock.advance(DAY);
        g.delete_archive(&root, ACCOUNT, "v", &a.archive_id)
            .expect("a year old");
        assert_eq!(
            code(g.delete_archive(&root, ACCOUNT, "v", &a.archive_id)),
            GlacierErrorCode::ResourceNotFound
        );
        assert_eq!(
            g.describe_vault(&root, ACCOUNT, "v")
                .expect("describe")
                .number_of_archives,
            0
        );
    }

    #[test]
    fn glacier_vault_rules() {
        let (_home, g, _clock, root) = setup();
        assert_eq!(
            code(g.create_vault(&root, ACCOUNT, "..")),
            GlacierErrorCode::InvalidParameterValue
        );
        assert_eq!(
            code(g.create_vault(&root, ACCOUNT, "a/b")),
            GlacierErrorCode::InvalidParameterValue
        );
        g.create_vault(&root, ACCOUNT, "v").expect("create");
        g.create_vault(&root, ACCOUNT, "v").expect("create again");
        let a = g
            .upload_archive(&root, ACCOUNT, "v", b"", Some(&tree_hash_hex(b"")), None)
            .expect("empty archive");
        assert_eq!(
            code(g.upload_archive(&root, ACCOUNT, "v", b"x", Some(&tree_hash_hex(b"y")), None)),
            GlacierErrorCode::InvalidParameterValue
        );
        assert_eq!(
            code(g.upload_archive(&root, ACCOUNT, "v", b"x", None, None)),
            GlacierErrorCode::MissingParameterValue
        );
        assert_eq!(
            code(g.delete_vault(&root, ACCOUNT, "v")),
            GlacierErrorCode::InvalidParameterValue
        );
        assert_eq!(
            code(g.delete_archive(&root, ACCOUNT, "v", "../../x")),
            GlacierErrorCode::InvalidParameterValue
        );
        g.delete_archive(&root, ACCOUNT, "v", &a.archive_id)
            .expect("delete archive");
        g.delete_vault(&root, ACCOUNT, "v").expect("delete vault");
        assert_eq!(
            code(g.describe_vault(&root, ACCOUNT, "v")),
            GlacierErrorCode::ResourceNotFound
        );
        // Another account's caller needs the vault access policy (and its own identity policy).
        g.create_vault(&root, ACCOUNT, "v").expect("create");
        let bob = RequestContext::signed_by(Principal::root("444455556666", "AKBOB"));
        assert_eq!(
            code(g.describe_vault(&bob, ACCOUNT, "v")),
            GlacierErrorCode::AccessDenied
        );
        g.set_access_policy(
            &root,
            ACCOUNT,
            "v",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"glacier:DescribeVault","Resource":"*"}}"#,
        )
        .expect("policy");
        g.describe_vault(&bob, ACCOUNT, "v").expect("allowed");
        assert_eq!(
            code(g.set_access_policy(&root, ACCOUNT, "v", "{nope")),
            GlacierErrorCode::InvalidParameterValue
        );
        // Pages of vaults.
        for n in ["a", "b", "c"] {
            g.create_vault(&root, ACCOUNT, n).expect("create");
        }
        let page = g.list_vaults(&root, ACCOUNT, None, Some(2)).expect("list");
        assert_eq!(page.vault_list.len(), 2);
        let next = g
            .list_vaults(&root, ACCOUNT, page.marker.as_deref(), Some(2))
            .expect("list");
        let names: Vec<_> = page
            .vault_list
            .iter()
            .chain(&next.vault_list)
            .map(|v| v.vault_name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c", "v"]);
        assert_eq!(next.marker, None);
    }

    fn walk(p: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    out.extend(walk(&path));
                } else {
                    out.push(path);
                }
            }
        }
        out
    }
}
