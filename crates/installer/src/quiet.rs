//! `-q`: whether the human report on stderr is silenced (errors always show).

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
