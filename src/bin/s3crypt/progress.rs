//! Progress bars for long operations (`put`, `get`, `cp`, stdin): drawn on stderr only when it is a
//! terminal and neither `--json` nor `--quiet` is given; otherwise hidden (no output, no cost beyond a
//! counter).

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Whether bars are drawn: stderr is a terminal, and the output is for a person.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Progress {
    enabled: bool,
}

impl Progress {
    /// Bars for this run: on when stderr is a terminal and not `--json`/`--quiet`.
    pub(crate) fn new(json: bool, quiet: bool) -> Self {
        Self {
            enabled: !json && !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// A byte bar of `len` bytes (a byte counter when the length is unknown, e.g. stdin).
    pub(crate) fn bytes(self, what: &str, len: Option<u64>) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = match len {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::no_length().with_style(
                ProgressStyle::with_template("{msg} {spinner} {bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// A spinner for an operation that reports no progress of its own (a copy inside the engine).
    pub(crate) fn spinner(self, what: &str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{msg} {spinner} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}
