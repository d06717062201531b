//! The window a rollback undoes, checked against what DynamoDB can export, and cut into the
//! incremental exports that cover it.
//!
//! Developer guide, "Requesting a table export in DynamoDB": "The export period duration must be
//! at least 15 minutes and be no longer than 24 hours. The export period's start time is
//! inclusive and the end time is exclusive", within the point-in-time window. "In-place
//! rollback" (bp-pitr-recovery-inplace-rollback): "If the time period exceeds 24 hours, do
//! multiple incremental export jobs that together cover the full time period exactly."

use std::time::Duration;

use time::OffsetDateTime;

/// The shortest period one incremental export covers.
pub const SHORTEST: Duration = Duration::from_secs(15 * 60);
/// The longest.
pub const LONGEST: Duration = Duration::from_secs(24 * 3600);

/// Why a window cannot be rolled back (found before any write).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// `--to` is not after `--from`.
    #[error("--to ({to}) must be after --from ({from})")]
    Reversed {
        /// `--from`.
        from: String,
        /// `--to`.
        to: String,
    },
    /// Shorter than an incremental export can be.
    #[error(
        "the window is {minutes} minute(s) long, and DynamoDB's incremental exports cover at least 15 minutes: move --from earlier or --to later (the writes in the whole window are undone), or wait until {ready}"
    )]
    TooShort {
        /// Its length.
        minutes: i64,
        /// When a window from `--from` to now is long enough (and inside the point-in-time
        /// window, 5 minutes behind now).
        ready: String,
    },
    /// Outside the table's point-in-time window.
    #[error(
        "the window {from} to {to} is outside table {table}'s point-in-time recovery window ({earliest} to {latest}); choose times inside it"
    )]
    OutsidePitr {
        /// The table.
        table: String,
        /// `--from`.
        from: String,
        /// `--to`.
        to: String,
        /// The earliest restorable moment.
        earliest: String,
        /// The latest.
        latest: String,
    },
}

/// Checks `[from, to)` against itself and the table's point-in-time window `(earliest, latest)`.
pub fn check(
    table: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    (earliest, latest): (OffsetDateTime, OffsetDateTime),
) -> Result<(), WindowError> {
    let text = backup_lambda::record::rfc3339;
    if to > from && (from < earliest || to > latest) {
        return Err(WindowError::OutsidePitr {
            table: table.to_owned(),
            from: text(from),
            to: text(to),
            earliest: text(earliest),
            latest: text(latest),
        });
    }
    span(from, to)
}

/// Checks `[from, to)` against itself alone (what the flags say, before any call): forward, and
/// at least as long as one incremental export.
pub fn span(from: OffsetDateTime, to: OffsetDateTime) -> Result<(), WindowError> {
    let text = backup_lambda::record::rfc3339;
    if to <= from {
        return Err(WindowError::Reversed {
            from: text(from),
            to: text(to),
        });
    }
    if to - from < SHORTEST {
        return Err(WindowError::TooShort {
            minutes: (to - from).whole_minutes(),
            // The latest restorable moment lags about five minutes behind now.
            ready: text(from + SHORTEST + Duration::from_secs(5 * 60)),
        });
    }
    Ok(())
}

/// `[from, to)` cut into back-to-back periods of at most 24 hours, as even as whole seconds
/// allow: no gap, no overlap, each at least 12 hours when there are several (so never under 15
/// minutes when the whole is not).
pub fn pieces(from: OffsetDateTime, to: OffsetDateTime) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    let total = (to - from).whole_seconds().max(0);
    let longest = LONGEST.as_secs() as i64;
    let n = ((total + longest - 1) / longest).max(1);
    let at = |i: i64| from + time::Duration::seconds(total * i / n);
    (0..n)
        .map(|i| (at(i), if i + 1 == n { to } else { at(i + 1) }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const PITR: (OffsetDateTime, OffsetDateTime) = (
        datetime!(2026-12-01 00:00 UTC),
        datetime!(2026-12-05 00:00 UTC),
    );

    #[test]
    fn a_window_must_be_forward_inside_pitr_and_at_least_15_minutes() {
        let at = |h: u8, m: u8| {
            datetime!(2026-12-03 00:00 UTC)
                + time::Duration::minutes(i64::from(h) * 60 + i64::from(m))
        };
        assert!(check("T", at(1, 0), at(1, 15), PITR).is_ok());
        assert!(matches!(
            check("T", at(2, 0), at(1, 0), PITR),
            Err(WindowError::Reversed { .. })
        ));
        assert!(matches!(
            check("T", at(1, 0), at(1, 14), PITR),
            Err(WindowError::TooShort { minutes: 14, .. })
        ));
        assert!(matches!(
            check("T", datetime!(2026-11-30 23:00 UTC), at(1, 0), PITR),
            Err(WindowError::OutsidePitr { .. })
        ));
        assert!(matches!(
            check("T", at(1, 0), datetime!(2026-12-05 00:01 UTC), PITR),
            Err(WindowError::OutsidePitr { .. })
        ));
    }

    #[test]
    fn long_windows_are_cut_back_to_back_into_days_or_less() {
        let from = datetime!(2026-12-01 00:00 UTC);
        assert_eq!(
            pieces(from, from + time::Duration::hours(3)),
            vec![(from, from + time::Duration::hours(3))]
        );
        for hours in [24, 25, 48, 49, 71, 24 * 35] {
            let to = from + time::Duration::hours(hours) + time::Duration::seconds(7);
            let cut = pieces(from, to);
            assert_eq!(cut.first().map(|p| p.0), Some(from));
            assert_eq!(cut.last().map(|p| p.1), Some(to));
            for pair in cut.windows(2) {
                assert_eq!(pair[0].1, pair[1].0, "no gap, no overlap");
            }
            for (a, b) in &cut {
                let span = *b - *a;
                assert!(span <= time::Duration::hours(24), "{hours}h: {span}");
                assert!(
                    cut.len() == 1 || span >= time::Duration::hours(12),
                    "{hours}h: {span}"
                );
            }
            assert_eq!(cut.len() as i64, (hours * 3600 + 7 + 86_399) / 86_400);
        }
    }
}
