//! Golden tests of the command line: help texts, error messages and exit codes, `--json` error shapes,
//! where the home is and what `s3crypt home` prints.
//!
//! Each `tests/cmd/NAME.trycmd` is a transcript in trycmd's format: `$ s3crypt ARGS` (shell-style quoting),
//! an optional `? CODE` line (default 0), then the expected stdout followed by the expected stderr. In
//! expected text `[..]` matches anything within a line, a line `...` any number of lines, and `[TMP]`
//! stands for the case's temporary directory. Each file runs in its own temporary directory (a copy of
//! `NAME.in/` when there is one, the working directory of every step) with its own home, so cases are
//! hermetic and deterministic.
//!
//! To update the snapshots after an intended change: `GOLDEN=overwrite cargo test --test cli_golden`
//! rewrites the files from what the binary printed (wildcards are not kept: re-add them); review the
//! diff.

// Not on aarch64: CI runs that leg under qemu-user, where the test cannot exec the emulated binary (as
// tests/cli_bench.rs).
#![cfg(not(target_arch = "aarch64"))]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How a case file's environment is set up.
#[derive(Clone, Copy)]
enum Setup {
    /// `S3CRYPT_HOME=[TMP]/home`.
    Explicit,
    /// `S3CRYPT_HOME` and `XDG_STATE_HOME` empty (so ignored), `HOME=[TMP]`.
    UserHome,
    /// `S3CRYPT_HOME` empty, `XDG_STATE_HOME=[TMP]/xdg`.
    XdgStateHome,
}

fn cmd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Splits a command line as a POSIX shell would for words, single and double quotes (no expansions).
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unbalanced quote in {line:?}");
    if in_word {
        words.push(cur);
    }
    words
}

/// One step of a transcript.
struct Step {
    command: String,
    code: i32,
    expected: Vec<String>,
}

fn parse(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: cmd.to_owned(),
                code: 0,
                expected: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            match line.strip_prefix("? ") {
                Some(code) if step.expected.is_empty() => {
                    step.code = code.trim().parse().expect("exit code");
                }
                _ => step.expected.push(line.to_owned()),
            }
        }
    }
    for s in &mut steps {
        while s.expected.last().is_some_and(String::is_empty) {
            s.expected.pop();
        }
    }
    steps
}

fn render(steps: &[Step], actual: &[(i32, Vec<String>)]) -> String {
    let mut out = String::from("```console\n");
    for (s, (code, lines)) in steps.iter().zip(actual) {
        out.push_str(&format!("$ {}\n", s.command));
        if *code != 0 {
            out.push_str(&format!("? {code}\n"));
        }
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str("```\n");
    out
}

/// Whether `actual` matches `pattern`, where `[..]` matches any run of characters.
fn line_matches(pattern: &str, actual: &str) -> bool {
    let mut parts = pattern.split("[..]");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Whether the lines match the expected lines, where a line `...` matches any number of lines.
fn lines_match(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "..." => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, arest)| line_matches(e, a) && lines_match(rest, arest)),
    }
}

/// Runs `tests/cmd/NAME.trycmd` in a fresh temporary directory with the home set up as `home` says.
fn run_case(name: &str, home: Setup) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("canonical tmp");
    let src = cmd_dir();
    let file = src.join(format!("{name}.trycmd"));
    let text = std::fs::read_to_string(&file).expect("case file");
    let cwd = root.join(format!("{name}.in"));
    let input = src.join(format!("{name}.in"));
    if input.is_dir() {
        copy_dir(&input, &cwd);
    } else {
        std::fs::create_dir(&cwd).expect("mkdir");
    }
    let (s3crypt_home, xdg) = match home {
        Setup::Explicit => (root.join("home").display().to_string(), String::new()),
        Setup::UserHome => (String::new(), String::new()),
        Setup::XdgStateHome => (String::new(), root.join("xdg").display().to_string()),
    };
    let tmp_text = root.display().to_string();
    let steps = parse(&text);
    assert!(!steps.is_empty(), "{name}: no steps");
    let mut actual = Vec::new();
    let mut failures = Vec::new();
    for step in &steps {
        let words = split_words(&step.command);
        assert_eq!(words.first().map(String::as_str), Some("s3crypt"));
        let out = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
            .args(&words[1..])
            .current_dir(&cwd)
            .env("HOME", &root)
            .env("S3CRYPT_HOME", &s3crypt_home)
            .env("XDG_STATE_HOME", &xdg)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run s3crypt");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let lines: Vec<String> = text
            .replace(&tmp_text, "[TMP]")
            .lines()
            .map(|l| l.trim_end().to_owned())
            .collect();
        let code = out.status.code().unwrap_or(-1);
        if code != step.code || !lines_match(&step.expected, &lines) {
            failures.push(format!(
                "$ {}\nexpected exit {}, got {code}; output:\n{}\n",
                step.command,
                step.code,
                lines.join("\n")
            ));
        }
        actual.push((code, lines));
    }
    if std::env::var_os("GOLDEN").is_some_and(|v| v == "overwrite") {
        std::fs::write(&file, render(&steps, &actual)).expect("overwrite");
        return;
    }
    assert!(
        failures.is_empty(),
        "{name}.trycmd: {} step(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_matcher_is_strict() {
    assert!(line_matches("a[..]c", "abbbc"));
    assert!(!line_matches("a[..]c", "abbbd"));
    assert!(!line_matches("abc", "abcd"));
    let l = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(lines_match(
        &l(&["x", "...", "z"]),
        &l(&["x", "1", "2", "z"])
    ));
    assert!(!lines_match(&l(&["x", "z"]), &l(&["x", "1", "z"])));
    assert_eq!(
        split_words("s3crypt -H 'a: b' \"c d\" e"),
        l(&["s3crypt", "-H", "a: b", "c d", "e"])
    );
}

#[test]
fn help() {
    run_case("help", Setup::Explicit);
}

#[test]
fn usage_errors() {
    run_case("usage", Setup::Explicit);
}

#[test]
fn errors_and_exit_codes() {
    run_case("errors", Setup::Explicit);
}

#[test]
fn json_errors() {
    run_case("json_errors", Setup::Explicit);
}

#[test]
fn explicit_home() {
    run_case("home", Setup::Explicit);
}

#[test]
fn default_home_is_per_user() {
    run_case("default_home", Setup::UserHome);
}

#[test]
fn xdg_state_home() {
    run_case("xdg_home", Setup::XdgStateHome);
}

/// `put BUCKET/KEY -` reads stdin and `get BUCKET/KEY -` writes stdout (not a terminal here), byte for
/// byte, with nothing else on stdout; `--json` puts the response on stderr.
#[test]
fn stdin_and_stdout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let s3crypt = |args: &[&str], stdin: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
            .arg("--home")
            .arg(&home)
            .args(args)
            .env_remove("S3CRYPT_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin)
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    };
    let out = s3crypt(&["-q", "bucket", "create", "bkt"], b"");
    assert!(out.status.success(), "{out:?}");
    // Several chunks and a partial one, with every byte value.
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let out = s3crypt(&["put", "bkt/k", "-"], &data);
    assert!(out.status.success(), "{out:?}");
    let out = s3crypt(&["get", "bkt/k", "-"], b"");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout == data, "stdout differs from what put read");
    let out = s3crypt(
        &["--json", "get", "bkt/k", "-", "--range", "bytes=10-19"],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, &data[10..20]);
    let resp: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON on stderr");
    assert_eq!(resp["status"], 206);
    // A missing object writes nothing to stdout and exits 4.
    let out = s3crypt(&["get", "bkt/missing", "-"], b"");
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty());
}

/// A tampered client-side encrypted file: `decrypt` exits 6 (decryption refused), writes nothing, and
/// with `--json` names the failure `AuthenticationFailed`.
#[test]
fn tampered_ciphertext_exits_6() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_s3crypt"))
            .current_dir(dir)
            .arg("--home")
            .arg(dir.join("home"))
            .args(args)
            .env_remove("S3CRYPT_HOME")
            .stdin(Stdio::null())
            .output()
            .expect("run s3crypt")
    };
    std::fs::write(dir.join("f"), vec![7u8; 100_000]).expect("write");
    assert!(run(&["gen-key", "wrap.key"]).status.success());
    let out = run(&["encrypt", "f", "f.enc", "--wrapping-key", "wrap.key"]);
    assert!(out.status.success(), "{out:?}");
    let mut body = std::fs::read(dir.join("f.enc")).expect("read");
    body[500] ^= 1;
    std::fs::write(dir.join("f.enc"), &body).expect("write");
    let out = run(&[
        "--json",
        "decrypt",
        "f.enc",
        "out",
        "--wrapping-key",
        "wrap.key",
    ]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let e: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(e["error"]["code"], "AuthenticationFailed");
    assert_eq!(e["error"]["exit_code"], 6);
    assert!(!dir.join("out").exists(), "plaintext written");
}
