//! Shared harness of the interop tests: the Python venv (created by `scripts/venv.sh` from PyPI) and
//! servers spawned as child processes that print `listening on URL` and are killed on drop.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python, creating the venv once per test binary.
pub fn python() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let status = Command::new("bash")
            .arg(root().join("scripts/venv.sh"))
            .status()
            .expect("run scripts/venv.sh");
        assert!(
            status.success(),
            "scripts/venv.sh failed: the interop tests need Python packages from PyPI"
        );
        root().join(".venv/bin/python")
    })
    .clone()
}

/// A child process killed on drop, with the URL it printed.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `cmd` and waits for its `listening on URL` line.
pub fn spawn(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server { child, url }
}

/// moto's server (S3 and KMS) on a free loopback port.
pub fn moto() -> Server {
    let mut cmd = Command::new(python());
    cmd.arg(root().join("tests/interop/moto_server.py"));
    spawn(cmd)
}

/// `s3crypt kms serve` on a free loopback port with `extra` arguments.
pub fn s3crypt_kms(home: &Path, extra: &[&str]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3crypt"));
    cmd.arg("--home")
        .arg(home)
        .args(["kms", "serve", "--listen", "127.0.0.1:0"])
        .args(extra);
    spawn(cmd)
}
