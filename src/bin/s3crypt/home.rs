//! Where s3crypt keeps its state (the home): how it is chosen, `s3crypt home`, and the warnings about
//! key material that exists only there.
//!
//! The home is, first match wins:
//! 1. `--home DIR`;
//! 2. `$S3CRYPT_HOME` (when not empty);
//! 3. `$XDG_STATE_HOME/s3crypt` (when `XDG_STATE_HOME` is an absolute path, as the XDG spec asks);
//! 4. `$HOME/.local/state/s3crypt` (when `HOME` is set and not empty).
//!
//! The current directory is never used implicitly: a `./.s3crypt` there (the default before 0.x) is
//! named in a warning, with how to keep using it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use s3crypt::kms::{Kms as _, ListAliasesRequest, ListKeysRequest};
use serde_json::json;

/// The directory name of the home before it moved to a per-user location.
const LEGACY_DIR: &str = ".s3crypt";

/// Files that hold key material which exists nowhere else: losing them makes every object encrypted
/// under them unreadable.
pub(crate) const KEY_FILES: [&str; 3] = ["kms/root.key", "kms/state.json", "sse/roots.json"];

/// How the home was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// `--home`.
    Flag,
    /// `S3CRYPT_HOME`.
    Env,
    /// `XDG_STATE_HOME`.
    XdgStateHome,
    /// `HOME`.
    UserHome,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "--home",
            Self::Env => "S3CRYPT_HOME",
            Self::XdgStateHome => "XDG_STATE_HOME",
            Self::UserHome => "HOME",
        }
    }
}

/// Resolves the home. `given` is the value of `--home`/`S3CRYPT_HOME` (clap reads both) and
/// `from_env` whether it came from the environment; the other variables come from `var`.
///
/// # Errors
/// None of the four sources is usable.
pub(crate) fn resolve(
    given: Option<&Path>,
    from_env: bool,
    var: impl Fn(&str) -> Option<OsString>,
) -> anyhow::Result<(PathBuf, Source)> {
    if let Some(p) = given.filter(|p| !p.as_os_str().is_empty()) {
        let source = if from_env { Source::Env } else { Source::Flag };
        return Ok((p.to_owned(), source));
    }
    if let Some(x) = var("XDG_STATE_HOME").map(PathBuf::from)
        && x.is_absolute()
    {
        return Ok((x.join("s3crypt"), Source::XdgStateHome));
    }
    if let Some(h) = var("HOME").filter(|h| !h.is_empty()) {
        return Ok((
            PathBuf::from(h).join(".local/state/s3crypt"),
            Source::UserHome,
        ));
    }
    Err(crate::exit::Usage(
        "no home directory: HOME is not set; pass --home DIR or set S3CRYPT_HOME".into(),
    )
    .into())
}

/// The warning for a `./.s3crypt` in the current directory that the default home no longer uses, if
/// there is one.
pub(crate) fn legacy_warning(home: &Path, source: Source) -> Option<String> {
    if matches!(source, Source::Flag | Source::Env) {
        return None;
    }
    let legacy = Path::new(LEGACY_DIR);
    if !legacy.is_dir() || same_dir(legacy, home) {
        return None;
    }
    Some(format!(
        "s3crypt: warning: ./{LEGACY_DIR} here is not used: the home is {} (to keep using ./{LEGACY_DIR}, \
         pass --home {LEGACY_DIR} or set S3CRYPT_HOME={LEGACY_DIR})",
        home.display()
    ))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The key files of `KEY_FILES` present in `home`.
pub(crate) fn key_files(home: &Path) -> Vec<&'static str> {
    KEY_FILES
        .into_iter()
        .filter(|f| home.join(f).is_file())
        .collect()
}

/// The one-time notice after a command created the first key material in `home` (`before` is
/// [`key_files`] before the command ran).
pub(crate) fn first_keys_notice(home: &Path, before: &[&str]) -> Option<String> {
    if !before.is_empty() {
        return None;
    }
    let now = key_files(home);
    if now.is_empty() {
        return None;
    }
    Some(format!(
        "s3crypt: note: created key material in {home} ({files}); it exists nowhere else. Back up the \
         whole directory (e.g. tar -C {home} -czf s3crypt-home.tgz .); without it, objects encrypted \
         under these keys cannot be decrypted.",
        home = home.display(),
        files = now.join(", "),
    ))
}

/// `s3crypt home`: the home in use and what it holds. Reads only; creates nothing.
pub(crate) fn show(home: &Path, source: Source, json: bool) -> anyhow::Result<ExitCode> {
    let exists = home.is_dir();
    let files = key_files(home);
    let (keys, aliases) = if home.join("kms/state.json").is_file() {
        let kms = crate::kms::open(home)?;
        let keys: Vec<String> = kms
            .list_keys(&ListKeysRequest::default())?
            .keys
            .into_iter()
            .map(|k| k.key_id)
            .collect();
        let aliases: Vec<String> = kms
            .list_aliases(&ListAliasesRequest::default())?
            .aliases
            .into_iter()
            .map(|a| a.alias_name)
            .collect();
        (keys, aliases)
    } else {
        (Vec::new(), Vec::new())
    };
    let buckets = buckets(home)?;
    let backup = !files.is_empty();
    if json {
        outln!(
            "{}",
            json!({
                "home": home.display().to_string(),
                "source": source.as_str(),
                "exists": exists,
                "kms_keys": keys,
                "kms_aliases": aliases,
                "key_files": files,
                "buckets": buckets,
                "needs_backup": backup,
            })
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("home: {} (from {})", home.display(), source.as_str())?;
    if !exists {
        outln!("not created yet: the first command that stores state creates it")?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("kms keys: {}", keys.len())?;
    for a in &aliases {
        outln!("  {a}")?;
    }
    outln!("buckets: {}", buckets.len())?;
    for b in &buckets {
        outln!("  {b}")?;
    }
    outln!(
        "key files: {}",
        if files.is_empty() {
            "none".to_owned()
        } else {
            files.join(", ")
        }
    )?;
    if backup {
        outln!(
            "warning: these keys exist only in this directory; back it up (e.g. tar -C {} -czf s3crypt-home.tgz .)",
            home.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Bucket names of the local store, sorted.
fn buckets(home: &Path) -> anyhow::Result<Vec<String>> {
    let dir = home.join("buckets");
    let mut names = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("listing {}", dir.display()))),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir()
            && let Some(name) = entry.file_name().to_str()
            && !name.starts_with('.')
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn resolution_order() {
        let all = [("XDG_STATE_HOME", "/x"), ("HOME", "/h")];
        let (p, s) = resolve(Some(Path::new("/flag")), false, env(&all)).expect("flag");
        assert_eq!((p.as_path(), s), (Path::new("/flag"), Source::Flag));
        let (_, s) = resolve(Some(Path::new("/e")), true, env(&all)).expect("env");
        assert_eq!(s, Source::Env);
        let (p, s) = resolve(Some(Path::new("")), true, env(&all)).expect("empty env");
        assert_eq!(
            (p.as_path(), s),
            (Path::new("/x/s3crypt"), Source::XdgStateHome)
        );
        let rel = [("XDG_STATE_HOME", "rel"), ("HOME", "/h")];
        let (p, s) = resolve(None, false, env(&rel)).expect("relative xdg ignored");
        assert_eq!(
            (p.as_path(), s),
            (Path::new("/h/.local/state/s3crypt"), Source::UserHome)
        );
        let e = resolve(None, false, env(&[("HOME", "")])).expect_err("no home");
        assert!(e.to_string().contains("--home"));
    }
}
