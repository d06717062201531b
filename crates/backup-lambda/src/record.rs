//! Where run records live in the log bucket: one home for the layout that the function writes,
//! the bucket's lifecycle rule expires, the role's policy allows and `status` reads.

use time::OffsetDateTime;
use time::macros::format_description;

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

/// The folder of a table's drills, under its prefix.
const DRILLS: &str = "drills/";

/// Whether `key` (under a table's prefix) is a drill's, not a run's.
pub fn is_drill_key(key: &str) -> bool {
    key.contains(&format!("/{DRILLS}"))
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
    }
}
