//! The human report on stderr: per-resource progress ([`progress`]), whether `-q` silenced it
//! (errors always show), the function's log lines rendered for reading ([`log_line`]), and
//! times as people read them ([`when`]); and results on stdout ([`stdout`]), which a reader may
//! close early.

pub(crate) mod log_line;
pub(crate) mod progress;
pub(crate) mod stdout;

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

/// Whether stdout holds a JSON document, so results go to stderr.
static JSON_ON_STDOUT: AtomicBool = AtomicBool::new(false);

/// Sends results to stderr for the rest of the process: stdout is for the `--output json`
/// document.
pub fn set_json_on_stdout() {
    JSON_ON_STDOUT.store(true, Ordering::Relaxed);
}

/// Prints one line of a result (see [`crate::result!`]).
pub fn result_line(text: &str) {
    if JSON_ON_STDOUT.load(Ordering::Relaxed) {
        if !is_quiet() {
            eprintln!("{text}");
        }
    } else {
        let _ = stdout::line(text);
    }
}

/// `at` for people, to the second, with how long ago it was at `now`:
/// `2026-11-29 21:24:18 UTC (3 min ago)`.
pub fn when(at: time::OffsetDateTime, now: time::OffsetDateTime) -> String {
    let stamp = at
        .to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default();
    let age = (now - at).whole_seconds();
    if age < 0 {
        format!("{stamp} (in the future)")
    } else {
        let age = crate::compliance::assess::human(age.unsigned_abs());
        format!("{stamp} ({age} ago)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_read_to_the_second_with_their_age() {
        let at = datetime!(2026-11-29 21:24:18.171999931 UTC);
        let now = datetime!(2026-11-29 21:27:30 UTC);
        assert_eq!(when(at, now), "2026-11-29 21:24:18 UTC (3 min 11 s ago)");
    }
}
