//! Live progress on a terminal (spec §2: long work shows progress on a terminal and stays
//! quiet when stdout is not one, or with `--json`). Drawn on stderr so stdout stays the
//! command's output.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::GlobalArgs;

/// A spinner with a message, or nothing when progress must stay quiet.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts a spinner showing `message` and the elapsed time, on a terminal only.
    pub fn start(g: &GlobalArgs, message: impl Into<String>) -> Progress {
        let shown = !g.json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let bar = shown.then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
                bar.set_style(style);
            }
            bar.set_message(message.into());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar }
    }

    /// Replaces the message.
    pub fn set(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.into());
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
