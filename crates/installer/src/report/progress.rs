//! Progress for `up` and `down`: a spinner per resource at work on a terminal, and when each
//! finishes one line with its action and elapsed time (plain lines when stderr is not a
//! terminal, as in CI logs). Colour only on a terminal, and never with `NO_COLOR`.

use std::fmt::Display;
use std::future::Future;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shows the resources being worked on.
#[derive(Debug, Clone)]
pub struct Progress {
    bars: MultiProgress,
    terminal: bool,
    color: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// Spinners if stderr is a terminal (and `-q` is off), plain lines otherwise.
    pub fn new() -> Self {
        let terminal = std::io::stderr().is_terminal() && !crate::report::is_quiet();
        let bars = MultiProgress::with_draw_target(if terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Self {
            bars,
            terminal,
            color: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    /// Runs `work` for one resource, showing `action kind name` while it runs and once done.
    pub async fn step<T, E, F>(&self, action: &str, kind: &str, name: &str, work: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let spinner = self.bars.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("  {spinner} {msg} {elapsed}") {
            spinner.set_style(style);
        }
        spinner.set_message(format!("{action:<10} {kind:<14} {name}"));
        if self.terminal {
            spinner.enable_steady_tick(Duration::from_millis(100));
        }
        let started = Instant::now();
        let result = work.await;
        spinner.finish_and_clear();
        self.bars.remove(&spinner);
        let mark = if result.is_ok() {
            self.paint("done", 32)
        } else {
            self.paint("failed", 31)
        };
        let line = format!(
            "  {mark:<6} {:<10} {kind:<14} {name:<44} {:.1}s",
            self.paint(action, 36),
            started.elapsed().as_secs_f64()
        );
        match self.bars.println(&line) {
            Ok(()) if self.terminal => {}
            _ => crate::report!("{line}"),
        }
        result
    }

    fn paint(&self, text: impl Display, code: u8) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }
}
