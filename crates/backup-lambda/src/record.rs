//! Where run records live in the log bucket: one home for the layout that the function writes,
//! the bucket's lifecycle rule expires, the role's policy allows and `status` reads.

use time::OffsetDateTime;
use time::macros::format_description;

/// `at` as RFC 3339 (`2026-11-25T07:05:32Z`), as every record and ledger writes a time: the one
/// formatter, so that they all read back the same way.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("a time of years 0 to 9999 at a whole-minute offset formats as RFC 3339")
}

/// The prefix of every run record: the bucket's lifecycle rule and the role's `s3:PutObject`
/// permission cover exactly this.
pub const PREFIX: &str = "runs/";

/// The prefix of `table`'s run records: `runs/<table>/`.
pub fn table_prefix(table: &str) -> String {
    format!("{PREFIX}{table}/")
}

/// Where a table's drill under way is kept: `runs/<table>/drills/in-progress.json`.
pub fn drill_state_key(table: &str) -> String {
    format!("{}{DRILLS}in-progress.json", table_prefix(table))
}

/// Where a table's last finished drill is kept: `runs/<table>/drills/last.json`.
pub fn drill_last_key(table: &str) -> String {
    format!("{}{DRILLS}last.json", table_prefix(table))
}

/// Where a drill's record goes: `runs/<table>/drills/<id>.json`.
pub fn drill_record_key(table: &str, id: &str) -> String {
    format!("{}{DRILLS}{id}.json", table_prefix(table))
}

/// The folder of a table's drills, under its prefix (the drill role's `s3:GetObject` and
/// `s3:DeleteObject` cover exactly `runs/*/drills/*`).
pub const DRILLS: &str = "drills/";

/// The folder of a table's export records, under its prefix (the role's `s3:GetObject`
/// permission covers exactly `runs/*/exports/*`).
pub const EXPORTS_FOLDER: &str = "exports/";

/// Where the record of `table`'s export of `period` lives: `runs/<table>/exports/<period>.json`.
pub fn export_key(table: &str, period: &str) -> String {
    format!("{}{EXPORTS_FOLDER}{period}.json", table_prefix(table))
}

/// The prefix of every incremental export chain's record: outside [`PREFIX`], whose lifecycle
/// rule expires run records long before the exports a chain names (the stack's bucket expires
/// chain records by a rule of their own, after the exports).
pub const CHAINS_PREFIX: &str = "chains/";

/// Where the record of `table`'s export chain `id` lives: `chains/<table>/<id>.json`.
pub fn chain_key(table: &str, id: &str) -> String {
    format!("{}{id}.json", chains_prefix(table))
}

/// Where the list of `table`'s chains with work left lives: `chains/<table>/head.json` (a
/// chain's id is a time, never `head`).
pub fn chain_head_key(table: &str) -> String {
    format!("{}head.json", chains_prefix(table))
}

/// The prefix of `table`'s chain records: `chains/<table>/`.
pub fn chains_prefix(table: &str) -> String {
    format!("{CHAINS_PREFIX}{table}/")
}

/// The folder of a table's daily ledgers, under its prefix (the role's `s3:GetObject`
/// permission covers exactly `runs/*/daily/*`).
pub const LEDGER_FOLDER: &str = "daily/";

/// The folder of a table's fingerprints and the samples they are made from, under its prefix
/// (the role's `s3:GetObject` permission covers exactly `runs/*/fingerprints/*`).
pub const FINGERPRINTS_FOLDER: &str = "fingerprints/";

/// Where the fingerprint of `table`'s backup `backup` lives:
/// `runs/<table>/fingerprints/<backup>.json`.
pub fn fingerprint_key(table: &str, backup: &str) -> String {
    format!("{}{FINGERPRINTS_FOLDER}{backup}.json", table_prefix(table))
}

/// Where the fingerprint of `table`'s export chain restore point `at` lives:
/// `runs/<table>/fingerprints/points/<moment>.json` (the moment compact, `20261205T020000Z`).
pub fn point_fingerprint_key(table: &str, at: time::OffsetDateTime) -> String {
    format!(
        "{}{FINGERPRINTS_FOLDER}points/{}.json",
        table_prefix(table),
        crate::chain::compact(at)
    )
}

/// Where `table`'s recent samples and the backups awaiting a fingerprint are kept:
/// `runs/<table>/fingerprints/pending.json` (a backup name never ends in `pending`: it ends in
/// its stamp).
pub fn fingerprint_pending_key(table: &str) -> String {
    format!("{}{FINGERPRINTS_FOLDER}pending.json", table_prefix(table))
}

/// Whether `key` is a run's record (under a table's prefix), not a drill's, an export's, a
/// fingerprint's or a ledger, nor anything outside [`PREFIX`] (chains, logical runs' states).
pub fn is_run_record_key(key: &str) -> bool {
    key.starts_with(PREFIX)
        && [DRILLS, LEDGER_FOLDER, EXPORTS_FOLDER, FINGERPRINTS_FOLDER]
            .iter()
            .all(|folder| !key.contains(&format!("/{folder}")))
}

/// The prefix of `table`'s daily ledgers: `runs/<table>/daily/`. Keys under it sort by day.
pub fn ledger_prefix(table: &str) -> String {
    format!("{}{LEDGER_FOLDER}", table_prefix(table))
}

/// Where `table`'s ledger of the UTC day `day` lives: `runs/<table>/daily/<YYYY-MM-DD>.json`.
pub fn ledger_key(table: &str, day: time::Date) -> String {
    format!("{}{}.json", ledger_prefix(table), day_name(day))
}

/// The day a ledger key is for, if it is one.
pub fn ledger_day(key: &str) -> Option<time::Date> {
    let name = key.rsplit('/').next()?.strip_suffix(".json")?;
    time::Date::parse(name, format_description!("[year]-[month]-[day]")).ok()
}

/// `YYYY-MM-DD`.
pub fn day_name(day: time::Date) -> String {
    day.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// Where a run's record goes: `runs/<table>/<YYYY>/<MM>/<DD>/<HHMMSS>-<request id>.json`.
pub fn key(table: &str, at: OffsetDateTime, request_id: &str) -> String {
    let day_and_time = at
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]/[month]/[day]/[hour][minute][second]"
        ))
        .unwrap_or_default();
    let request_id: String = request_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}{day_and_time}-{request_id}.json", table_prefix(table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn record_keys_are_partitioned_by_table_and_day() {
        let key = key("Movies", datetime!(2026-11-25 07:05:32 UTC), "4e1f-ab/c");
        assert_eq!(key, "runs/Movies/2026/11/25/070532-4e1f-ab_c.json");
        assert!(is_run_record_key(&key));
    }

    #[test]
    fn ledgers_are_one_per_table_and_day_and_apart_from_run_records() {
        let key = ledger_key("Movies", time::macros::date!(2026 - 11 - 05));
        assert_eq!(key, "runs/Movies/daily/2026-11-05.json");
        assert_eq!(ledger_day(&key), Some(time::macros::date!(2026 - 11 - 05)));
        assert_eq!(ledger_day("runs/Movies/daily/notes.txt"), None);
        assert!(!is_run_record_key(&key));
        assert!(!is_run_record_key(&drill_last_key("Movies")));
        assert!(!is_run_record_key("continuations/0123abcd.json"));
        assert!(!is_run_record_key(&export_key("Movies", "2026-W49")));
        assert!(!is_run_record_key(&fingerprint_pending_key("Movies")));
        assert!(!is_run_record_key(&fingerprint_key(
            "Movies",
            "Movies-prod-20261125070532"
        )));
        assert_eq!(
            export_key("Movies", "2026-11-30"),
            "runs/Movies/exports/2026-11-30.json"
        );
    }
}
