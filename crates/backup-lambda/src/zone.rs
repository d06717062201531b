//! The time zone a stack's calendar is read in: its schedule's (`SCHEDULE_TIMEZONE`, UTC when
//! unset), which is also where generations' days, weeks, months and years begin and end.
//!
//! The IANA database is compiled in (jiff's bundled copy), so the function, whose runtime image
//! has no `/usr/share/zoneinfo`, and the installer on any machine read the same rules.

use jiff::tz::TimeZone;
use thiserror::Error;
use time::OffsetDateTime;

/// The environment variable that names the zone.
pub const ZONE_VAR: &str = "SCHEDULE_TIMEZONE";

/// A name that is not a time zone.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "{0:?} is not a time zone of the IANA database: give a name such as Europe/Berlin, America/New_York or UTC"
)]
pub struct UnknownZone(pub String);

/// A time zone of the IANA database, by name.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    zone: TimeZone,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl Zone {
    /// UTC, the zone of a stack that names none.
    pub fn utc() -> Self {
        Self {
            name: "UTC".to_owned(),
            zone: TimeZone::UTC,
        }
    }

    /// The zone of this IANA name (`Europe/Berlin`), as the database spells it. Offsets such as
    /// `+02:00` and POSIX rules are refused: EventBridge Scheduler takes names only.
    pub fn parse(name: &str) -> Result<Self, UnknownZone> {
        let name = name.trim();
        if name.is_empty() || name.starts_with(['+', '-']) || name.contains(',') {
            return Err(UnknownZone(name.to_owned()));
        }
        let zone = TimeZone::get(name).map_err(|_| UnknownZone(name.to_owned()))?;
        let name = zone.iana_name().unwrap_or(name).to_owned();
        Ok(Self { name, zone })
    }

    /// The IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is UTC (or a name the database makes UTC, such as `Etc/UTC`).
    pub fn is_utc(&self) -> bool {
        matches!(
            self.name.as_str(),
            "UTC"
                | "Etc/UTC"
                | "Etc/UCT"
                | "UCT"
                | "Zulu"
                | "Etc/Zulu"
                | "Universal"
                | "Etc/Universal"
        )
    }

    /// The wall-clock date and time at `at` in this zone.
    pub fn local(&self, at: OffsetDateTime) -> jiff::civil::DateTime {
        let stamp = jiff::Timestamp::from_second(at.unix_timestamp()).unwrap_or_else(|_| {
            if at.unix_timestamp() < 0 {
                jiff::Timestamp::MIN
            } else {
                jiff::Timestamp::MAX
            }
        });
        self.zone.to_datetime(stamp)
    }

    /// The instant the wall clock of this zone shows `hour:minute` on `date`, as EventBridge
    /// Scheduler reads it: `None` when the clocks skip that time that day, the first of the two
    /// when they repeat it.
    pub fn wall_clock(&self, date: time::Date, hour: u8, minute: u8) -> Option<OffsetDateTime> {
        use jiff::tz::AmbiguousOffset;
        let local = jiff::civil::date(
            i16::try_from(date.year()).ok()?,
            i8::try_from(u8::from(date.month())).ok()?,
            i8::try_from(date.day()).ok()?,
        )
        .at(i8::try_from(hour).ok()?, i8::try_from(minute).ok()?, 0, 0);
        let ambiguous = self.zone.to_ambiguous_timestamp(local);
        if matches!(ambiguous.offset(), AmbiguousOffset::Gap { .. }) {
            return None;
        }
        let stamp = ambiguous.earlier().ok()?;
        OffsetDateTime::from_unix_timestamp(stamp.as_second()).ok()
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_are_read_from_the_compiled_in_database() {
        let berlin = Zone::parse("Europe/Berlin").expect("a zone");
        assert_eq!(berlin.name(), "Europe/Berlin");
        // Summer: UTC+2; winter: UTC+1.
        assert_eq!(
            berlin.local(datetime!(2026-07-01 00:30 UTC)).to_string(),
            "2026-07-01T02:30:00"
        );
        assert_eq!(
            berlin.local(datetime!(2026-12-31 23:30 UTC)).to_string(),
            "2027-01-01T00:30:00"
        );
        assert!(Zone::parse("Etc/UTC").expect("a zone").is_utc());
        assert!(!berlin.is_utc());
    }

    #[test]
    fn a_skipped_time_is_none_and_a_repeated_one_is_the_first() {
        let berlin = Zone::parse("Europe/Berlin").expect("a zone");
        assert_eq!(
            berlin.wall_clock(time::macros::date!(2027 - 03 - 28), 2, 30),
            None
        );
        assert_eq!(
            berlin.wall_clock(time::macros::date!(2027 - 10 - 31), 2, 30),
            Some(datetime!(2027-10-31 00:30 UTC))
        );
        assert_eq!(
            Zone::utc().wall_clock(time::macros::date!(2027 - 03 - 28), 2, 30),
            Some(datetime!(2027-03-28 02:30 UTC))
        );
    }

    #[test]
    fn what_is_not_a_zone_name_is_refused_with_examples() {
        for bad in [
            "Europe/Berln",
            "",
            "+02:00",
            "CET-1CEST,M3.5.0,M10.5.0/3",
            "Mars/Olympus",
        ] {
            let error = Zone::parse(bad).expect_err(bad).to_string();
            assert!(error.contains("Europe/Berlin"), "{error}");
        }
    }
}
