//! TLS for the S3 endpoint: a local certificate authority created on first start, or the operator's
//! own certificate.
//!
//! ```text
//! HOME/tls/ca.pem        the local CA certificate (give it to clients: AWS_CA_BUNDLE, --ca-bundle)
//! HOME/tls/ca.key        its private key (0600)
//! HOME/tls/server.pem    the server certificate for localhost, *.localhost (virtual-hosted buckets),
//!                        127.0.0.1 and ::1 (and the addresses of VPC endpoint listeners), signed by
//!                        the CA
//! HOME/tls/server.key    its private key (0600)
//! ```
//!
//! The CA is made once (ECDSA P-256, valid ten years) and kept, so a client that trusts `ca.pem` keeps
//! trusting the server across restarts. The server certificate is valid 397 days (the longest
//! browsers accept for a TLS server certificate) and is re-issued under the same CA when it is missing,
//! expires within 30 days, was issued by another CA, or does not cover a name this start needs (an
//! address of a `--vpc-endpoint` listener; it then covers every name it covered before as well, so
//! servers sharing a home do not take turns re-issuing it). Creation takes a lock in `HOME/tls`, so
//! several processes starting at once agree on one CA.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::fsutil::{create_private_dir, write_atomic};

/// The names the generated server certificate covers.
/// (`*.s3-object-lambda.localhost`: Object Lambda access points by virtual host
/// `NAME-ACCOUNT.s3-object-lambda.localhost`, which `*.localhost` does not cover.)
pub const SERVER_NAMES: [&str; 5] = [
    "localhost",
    "*.localhost",
    "*.s3-object-lambda.localhost",
    "127.0.0.1",
    "::1",
];

/// How long the generated server certificate is valid.
const SERVER_VALIDITY: Duration = Duration::from_secs(397 * 86_400);
/// Re-issue the server certificate when it expires sooner than this.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);
/// How long the local CA is valid.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 86_400);
/// How long a process waits for another one creating the certificates.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key file does not hold what it should.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(String),
    /// rustls refused the certificate and key.
    #[error("the TLS certificate and key cannot be used: {0}")]
    Config(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The certificate and key the HTTPS listener uses, and where they came from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server certificate chain (PEM).
    pub cert: PathBuf,
    /// The server private key (PEM).
    pub key: PathBuf,
    /// The local CA certificate clients should trust, when the certificate is the generated one.
    pub ca: Option<PathBuf>,
}

/// Makes sure `HOME/tls` holds a local CA and a current server certificate signed by it, creating
/// or renewing them as needed, and returns their paths.
///
/// # Errors
/// [`TlsError`] when the files cannot be read, written or generated, or when an existing CA is
/// unreadable (it is never replaced silently: clients trust it).
pub fn ensure_local_ca(home: &Path, extra_names: &[String]) -> Result<TlsFiles, TlsError> {
    let dir = home.join("tls");
    create_private_dir(&dir).map_err(io(&dir))?;
    let files = TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        ca: Some(dir.join("ca.pem")),
    };
    let lock_path = dir.join("lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    lock_bounded(&lock).map_err(io(&lock_path))?;
    let ca_pem = dir.join("ca.pem");
    let ca_key = dir.join("ca.key");
    let (ca_cert_text, ca_key_pair) =
        match (fs::read_to_string(&ca_pem), fs::read_to_string(&ca_key)) {
            (Ok(cert), Ok(key)) => {
                let pair = KeyPair::from_pem(&key).map_err(|e| TlsError::Invalid {
                    path: ca_key.clone(),
                    reason: e.to_string(),
                })?;
                (cert, pair)
            }
            (Err(c), Err(k))
                if c.kind() == std::io::ErrorKind::NotFound
                    && k.kind() == std::io::ErrorKind::NotFound =>
            {
                let (cert, pair) = new_ca()?;
                write_atomic(&ca_key, pair.serialize_pem().as_bytes())
                    .map_err(|e| into_tls(e.into_parts()))?;
                write_public(&ca_pem, cert.as_bytes())?;
                (cert, pair)
            }
            (Err(e), _) => return Err(io(&ca_pem)(e)),
            (_, Err(e)) => return Err(io(&ca_key)(e)),
        };
    let current = server_cert_current(&files.cert, &ca_cert_text);
    let mut names: Vec<String> = SERVER_NAMES.iter().map(|s| (*s).to_owned()).collect();
    for n in current.iter().flatten().chain(extra_names) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let covered = current
        .as_ref()
        .is_some_and(|had| names.iter().all(|n| had.contains(n)));
    if !covered {
        // The issuer is the CA's subject and key: the same distinguished name and key give the same
        // issuer name and key identifier as the stored CA certificate.
        let issuer = Issuer::new(ca_params()?, ca_key_pair);
        let (cert, key, not_after) = new_server_cert(&issuer, &names)?;
        write_atomic(&files.key, key.as_bytes()).map_err(|e| into_tls(e.into_parts()))?;
        write_public(&files.cert, cert.as_bytes())?;
        write_atomic(
            &files.cert.with_extension("issuer"),
            issuer_stamp(&ca_cert_text, &cert, not_after, &names).as_bytes(),
        )
        .map_err(|e| into_tls(e.into_parts()))?;
    }
    drop(lock);
    Ok(files)
}

/// A rustls server configuration (HTTP/1.1 by ALPN) for the certificate chain and key in `files`.
///
/// # Errors
/// [`TlsError`] when the files cannot be read, hold no certificate or key, or do not match.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| TlsError::Invalid {
            path: files.cert.clone(),
            reason: e.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Invalid {
            path: files.cert.clone(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Invalid {
            path: files.cert.clone(),
            reason: "no CERTIFICATE in the file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Invalid {
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn into_tls((path, source): (PathBuf, std::io::Error)) -> TlsError {
    TlsError::Io { path, source }
}

/// Writes a certificate (public) atomically, readable by everyone.
fn write_public(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    write_atomic(path, bytes).map_err(|e| into_tls(e.into_parts()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o644)).map_err(io(path))?;
    }
    Ok(())
}

fn lock_bounded(lock: &fs::File) -> std::io::Result<()> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "another s3crypt process holds the TLS lock",
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Sets the validity to [now − 1 day, now + `lifetime`] and returns the end in Unix seconds.
fn validity(params: &mut CertificateParams, lifetime: Duration) -> i64 {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + lifetime;
    params.not_after.unix_timestamp()
}

fn gen_err(e: rcgen::Error) -> TlsError {
    TlsError::Generate(e.to_string())
}

/// The local CA's subject and extensions (without validity).
fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params
        .distinguished_name
        .push(DnType::CommonName, "s3crypt local CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "s3crypt");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn new_ca() -> Result<(String, KeyPair), TlsError> {
    let key = KeyPair::generate().map_err(gen_err)?;
    let mut params = ca_params()?;
    let _ = validity(&mut params, CA_VALIDITY);
    let cert = params.self_signed(&key).map_err(gen_err)?;
    Ok((cert.pem(), key))
}

fn new_server_cert(
    issuer: &Issuer<'_, KeyPair>,
    names: &[String],
) -> Result<(String, String, i64), TlsError> {
    let key = KeyPair::generate().map_err(gen_err)?;
    let mut params = CertificateParams::new(names.to_vec()).map_err(gen_err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "s3crypt server");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let not_after = validity(&mut params, SERVER_VALIDITY);
    let cert = params.signed_by(&key, issuer).map_err(gen_err)?;
    Ok((cert.pem(), key.serialize_pem(), not_after))
}

/// The names the server certificate covers, if it exists, was issued by the CA in `ca_pem` (as
/// recorded when it was made), and is valid for more than [`RENEW_BEFORE`]. Any doubt means `None`
/// ("re-issue").
fn server_cert_current(cert: &Path, ca_pem: &str) -> Option<Vec<String>> {
    let text = fs::read_to_string(cert).ok()?;
    let stamp = fs::read_to_string(cert.with_extension("issuer")).ok()?;
    let mut fields = stamp.split(' ');
    let (_, _, not_after, names) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let not_after = not_after.parse::<i64>().ok()?;
    let names: Vec<String> = names.trim().split(',').map(str::to_owned).collect();
    let renew_at = time::OffsetDateTime::now_utc() + RENEW_BEFORE;
    (stamp == issuer_stamp(ca_pem, &text, not_after, &names)
        && renew_at.unix_timestamp() < not_after)
        .then_some(names)
}

/// A record of which CA issued which server certificate, until when and for which names:
/// `sha256(ca) sha256(cert) not_after_unix name,name,…`, kept beside the certificate (no X.509 parser
/// needed to check it).
fn issuer_stamp(ca_pem: &str, cert_pem: &str, not_after: i64, names: &[String]) -> String {
    use crate::primitives::hash::sha256;
    format!(
        "{} {} {not_after} {}",
        hex::encode(sha256(ca_pem.as_bytes())),
        hex::encode(sha256(cert_pem.as_bytes())),
        names.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_and_keeps_the_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = ensure_local_ca(dir.path(), &[]).expect("first");
        let ca1 = fs::read(a.ca.as_ref().expect("ca")).expect("read ca");
        let cert1 = fs::read(&a.cert).expect("read cert");
        server_config(&a).expect("rustls accepts it");
        let b = ensure_local_ca(dir.path(), &[]).expect("second");
        assert_eq!(ca1, fs::read(b.ca.as_ref().expect("ca")).expect("read ca"));
        assert_eq!(cert1, fs::read(&b.cert).expect("read cert"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for f in ["ca.key", "server.key"] {
                let mode = fs::metadata(dir.path().join("tls").join(f))
                    .expect("stat")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "{f} must be private");
            }
        }
    }

    #[test]
    fn a_damaged_server_cert_is_reissued_under_the_same_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = ensure_local_ca(dir.path(), &[]).expect("first");
        let ca1 = fs::read(a.ca.as_ref().expect("ca")).expect("read ca");
        fs::write(&a.cert, b"garbage").expect("damage");
        let b = ensure_local_ca(dir.path(), &[]).expect("second");
        assert_eq!(ca1, fs::read(b.ca.as_ref().expect("ca")).expect("read ca"));
        server_config(&b).expect("rustls accepts the re-issued certificate");
    }

    #[test]
    fn extra_names_are_added_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = ensure_local_ca(dir.path(), &[]).expect("first");
        let cert1 = fs::read(&a.cert).expect("read cert");
        let ca = fs::read_to_string(a.ca.as_ref().expect("ca")).expect("read ca");
        let two = ["127.0.0.2".to_owned()];
        ensure_local_ca(dir.path(), &two).expect("with 127.0.0.2");
        let cert2 = fs::read(&a.cert).expect("read cert");
        assert_ne!(cert1, cert2, "a missing name re-issues the certificate");
        let names = server_cert_current(&a.cert, &ca).expect("current");
        assert!(names.contains(&"127.0.0.2".to_owned()) && names.contains(&"localhost".to_owned()));
        // A start without the extra name keeps the certificate; one with another name keeps both.
        ensure_local_ca(dir.path(), &[]).expect("plain");
        assert_eq!(cert2, fs::read(&a.cert).expect("read cert"));
        ensure_local_ca(dir.path(), &["127.0.0.3".to_owned()]).expect("with 127.0.0.3");
        let names = server_cert_current(&a.cert, &ca).expect("current");
        assert!(names.contains(&"127.0.0.2".to_owned()) && names.contains(&"127.0.0.3".to_owned()));
        server_config(&a).expect("rustls accepts it");
        // A stamp in the old three-field form is doubt: re-issued.
        let stamp = a.cert.with_extension("issuer");
        let old = fs::read_to_string(&stamp).expect("stamp");
        let three: Vec<&str> = old.split(' ').take(3).collect();
        fs::write(&stamp, three.join(" ")).expect("write");
        assert!(server_cert_current(&a.cert, &ca).is_none());
    }

    #[test]
    fn a_garbage_ca_key_is_an_error_not_a_new_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        ensure_local_ca(dir.path(), &[]).expect("first");
        fs::write(dir.path().join("tls/ca.key"), b"not a key").expect("damage");
        assert!(matches!(
            ensure_local_ca(dir.path(), &[]),
            Err(TlsError::Invalid { .. })
        ));
    }
}
