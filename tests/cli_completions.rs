//! `s3crypt completions SHELL` and `s3crypt man`: generated from the clap definition, so every
//! subcommand appears; the bash script parses (`bash -n`), the man pages are roff.

use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .args(args)
        .env_remove("S3CRYPT_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("run s3crypt")
}

const SUBCOMMANDS: [&str; 8] = [
    "put",
    "get",
    "serve",
    "access-point",
    "object-lambda",
    "object",
    "vault",
    "lambda",
];

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "CLI tests exec the host binary; they run on the x86_64 legs"
)]
fn completions_and_man_pages_cover_every_subcommand() {
    let bash = run(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = String::from_utf8(bash.stdout).expect("utf-8");
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "bash completion lacks {sub}");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("s3crypt.bash");
    std::fs::write(&file, &script).expect("write");
    let parsed = Command::new("bash")
        .arg("-n")
        .arg(&file)
        .status()
        .expect("bash");
    assert!(
        parsed.success(),
        "the bash completion script does not parse"
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    assert!(!run(&["completions", "tcsh"]).status.success());

    let man = run(&["man"]);
    assert!(man.status.success());
    let page = String::from_utf8(man.stdout).expect("utf-8");
    assert!(
        page.contains(".TH s3crypt 1"),
        "{}",
        &page[..page.len().min(200)]
    );
    for sub in SUBCOMMANDS {
        // roff escapes hyphens.
        let roff = sub.replace('-', "\\-");
        assert!(page.contains(&roff), "the man page lacks {sub}");
    }
    let pages = dir.path().join("man");
    assert!(
        run(&["man", "--out-dir", pages.to_str().expect("utf-8")])
            .status
            .success()
    );
    for name in ["s3crypt.1", "s3crypt-put.1", "s3crypt-object-retention.1"] {
        let text = std::fs::read_to_string(pages.join(name)).expect(name);
        assert!(text.contains(".TH"), "{name}");
    }
}
