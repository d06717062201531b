//! The human report on stderr: per-resource progress ([`progress`]), and whether `-q` silenced it
//! (errors always show).

pub(crate) mod progress;

use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silences the report for the rest of the process.
pub fn set_quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

/// Whether the report is silenced.
pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}
