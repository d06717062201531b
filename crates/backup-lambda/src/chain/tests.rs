use super::*;
use proptest::prelude::*;
use time::macros::datetime;

const SETTINGS: ChainSettings = ChainSettings {
    full_every_days: 7,
    view: ExportView::NewAndOld,
};

fn minutes(m: i64) -> time::Duration {
    time::Duration::minutes(m)
}

use crate::fake::chain_link as link;

/// A chain from `t0` whose incrementals, all completed, end at `ends`.
fn chain(t0: OffsetDateTime, ends: &[OffsetDateTime]) -> Chain {
    let windows: Vec<_> = ends.iter().map(|&e| (e, ExportState::Completed)).collect();
    crate::fake::chain_of(t0, &windows)
}

fn window(earliest: OffsetDateTime, latest: OffsetDateTime) -> RecoveryWindow {
    RecoveryWindow { earliest, latest }
}

#[test]
fn windows_are_15_minutes_to_24_hours_back_to_back() {
    let t = datetime!(2026-12-01 02:00 UTC);
    assert!(windows(t, t + minutes(14)).is_empty());
    assert_eq!(windows(t, t + minutes(15)), vec![(t, t + minutes(15))]);
    assert_eq!(
        windows(t, t + time::Duration::hours(24)),
        vec![(t, t + time::Duration::hours(24))]
    );
    // A day and a few minutes (a daily run a little late): one day, the rest waits.
    let day = time::Duration::hours(24);
    assert_eq!(windows(t, t + day + minutes(3)), vec![(t, t + day)]);
    assert_eq!(
        windows(t, t + 2 * day + minutes(15)),
        vec![
            (t, t + day),
            (t + day, t + 2 * day),
            (t + 2 * day, t + 2 * day + minutes(15))
        ]
    );
}

#[test]
fn the_first_run_begins_a_chain_at_the_latest_restorable_moment() {
    let latest = datetime!(2026-12-01 02:00:00.7 UTC);
    let actions = plan(
        &[],
        window(latest - time::Duration::days(35), latest),
        SETTINGS,
        "b",
    );
    assert_eq!(
        actions,
        vec![Action::Full {
            at: datetime!(2026-12-01 02:00 UTC)
        }]
    );
}

#[test]
fn a_run_exports_from_where_the_chain_ends_to_the_latest_moment() {
    let t0 = datetime!(2026-12-01 02:00 UTC);
    let c = chain(t0, &[t0 + time::Duration::hours(24)]);
    let latest = t0 + time::Duration::hours(48) + minutes(3);
    let actions = plan(std::slice::from_ref(&c), window(t0, latest), SETTINGS, "b");
    // A daily run three minutes late: one window of a day, the three minutes wait.
    assert_eq!(
        actions,
        vec![Action::Incremental {
            from: t0 + time::Duration::hours(24),
            to: t0 + time::Duration::hours(48)
        }]
    );
    // Runs closer than 15 minutes apart export nothing until the window is long enough.
    let soon = c.end() + minutes(10);
    assert!(plan(&[c], window(t0, soon), SETTINGS, "b").is_empty());
}

#[test]
fn missed_runs_are_caught_up_a_day_at_a_time_and_at_most_8_starts_a_run() {
    let t0 = datetime!(2026-12-01 02:00 UTC);
    let c = chain(t0, &[]);
    let latest = t0 + time::Duration::days(3);
    let actions = plan(std::slice::from_ref(&c), window(t0, latest), SETTINGS, "b");
    assert_eq!(actions.len(), 3);
    assert!(actions.iter().all(
        |a| matches!(a, Action::Incremental { from, to } if *to - *from == time::Duration::days(1))
    ));
    // Stopped for 20 days (full every 30): 8 windows now, the rest next run; no full yet.
    let monthly = ChainSettings {
        full_every_days: 30,
        ..SETTINGS
    };
    let far = t0 + time::Duration::days(20);
    let actions = plan(&[c], window(t0, far), monthly, "b");
    assert_eq!(actions.len(), STARTS_PER_RUN);
    assert_eq!(
        actions.last(),
        Some(&Action::Incremental {
            from: t0 + time::Duration::days(7),
            to: t0 + time::Duration::days(8)
        })
    );
}

#[test]
fn a_new_chain_begins_where_the_old_one_ends_once_it_is_old_enough() {
    let t0 = datetime!(2026-12-01 02:00 UTC);
    let ends: Vec<OffsetDateTime> = (1..7).map(|d| t0 + time::Duration::days(d)).collect();
    let c = chain(t0, &ends);
    let latest = t0 + time::Duration::days(7) + minutes(2);
    let actions = plan(&[c], window(t0, latest), SETTINGS, "b");
    assert_eq!(
        actions,
        vec![
            Action::Incremental {
                from: t0 + time::Duration::days(6),
                to: t0 + time::Duration::days(7)
            },
            Action::Full {
                at: t0 + time::Duration::days(7)
            }
        ]
    );
}

#[test]
fn a_failed_export_is_retried_while_recovery_covers_it_then_lost_and_a_new_chain_begun() {
    let t0 = datetime!(2026-12-01 02:00 UTC);
    let day = time::Duration::days(1);
    let mut c = chain(t0, &[t0 + day, t0 + 2 * day]);
    c.incrementals[0].export.status = ExportState::Failed;
    let latest = t0 + 2 * day + time::Duration::hours(1);
    let retried = plan(&[c.clone()], window(t0, latest), SETTINGS, "b");
    assert_eq!(
        retried,
        vec![
            Action::Retry {
                chain: 0,
                slot: Slot::Incremental(0)
            },
            Action::Incremental {
                from: t0 + 2 * day,
                to: latest
            }
        ]
    );
    // Recovery no longer reaches the failed window: lost, and a new chain begins at the latest
    // moment (the broken chain offers no point past its gap: it is not extended).
    let lost = plan(&[c], window(t0 + minutes(1), latest), SETTINGS, "b");
    assert_eq!(
        lost,
        vec![
            Action::Lose {
                chain: 0,
                slot: Slot::Incremental(0)
            },
            Action::Full { at: latest }
        ]
    );
}

#[test]
fn a_chain_of_another_bucket_or_view_is_not_extended_a_new_one_begins_where_it_ends() {
    let t0 = datetime!(2026-12-01 02:00 UTC);
    let c = chain(t0, &[t0 + time::Duration::days(1)]);
    let latest = t0 + time::Duration::days(2);
    let w = window(t0, latest);
    let full_here = vec![Action::Full {
        at: t0 + time::Duration::days(1),
    }];
    assert_eq!(
        plan(std::slice::from_ref(&c), w, SETTINGS, "vault"),
        full_here
    );
    let new_view = ChainSettings {
        view: ExportView::New,
        ..SETTINGS
    };
    assert_eq!(plan(std::slice::from_ref(&c), w, new_view, "b"), full_here);
}

#[test]
fn points_stop_where_a_window_is_missing() {
    let t0 = datetime!(2026-12-01 02:00 UTC);
    let day = time::Duration::days(1);
    let mut c = chain(t0, &[t0 + day, t0 + 2 * day, t0 + 3 * day]);
    // The second window was never started: the third begins a day after the first ends.
    c.incrementals.remove(1);
    assert_eq!(c.points(), vec![t0, t0 + day]);
}

/// A run whose first window cannot be started starts no later one and no new chain: the chain
/// stays back to back, and the next run begins where it ends.
#[tokio::test]
async fn a_window_that_cannot_start_holds_back_the_later_ones() {
    use crate::fake::{MemoryBucket, MemoryStore};
    use crate::store::RecordSink;
    let t0 = datetime!(2026-12-01 02:00 UTC);
    let store = MemoryStore {
        fail_export: true,
        ..MemoryStore::default()
    };
    *store.recovery_window.lock().unwrap() =
        Some(window(t0, t0 + time::Duration::days(8) + minutes(30)));
    let records = MemoryBucket::default();
    let c = chain(t0, &[]);
    let (chain_key, head_key) = (
        crate::record::chain_key("Movies", &c.id),
        crate::record::chain_head_key("Movies"),
    );
    let head = Head {
        open: vec![c.id.clone()],
    };
    records
        .put_record("logs", &chain_key, serde_json::to_vec(&c).unwrap())
        .await
        .unwrap();
    records
        .put_record("logs", &head_key, serde_json::to_vec(&head).unwrap())
        .await
        .unwrap();
    let settings = ExportSettings {
        every: crate::export::ExportEvery::Daily,
        mode: crate::export::ExportMode::Incremental(SETTINGS),
        bucket: "b".to_owned(),
        bucket_owner: None,
        bucket_region: None,
        prefix: crate::export::DEFAULT_PREFIX.to_owned(),
    };
    let run = advance(
        &store,
        &records,
        "logs",
        &settings,
        SETTINGS,
        "Movies",
        "arn:aws:dynamodb:us-east-1:1:table/Movies",
        t0 + time::Duration::days(8),
    )
    .await;
    let errors = run
        .steps
        .iter()
        .filter(|s| matches!(s, ChainStep::Error { .. }))
        .count();
    assert_eq!(
        errors, 1,
        "one window tried, not eight and a full export: {run:?}"
    );
    assert_eq!(run.exported_to, Some(t0));
    let kept: Chain = serde_json::from_value(records.json("logs", &chain_key).unwrap()).unwrap();
    assert!(kept.incrementals.is_empty() && kept.closed_at.is_none());
}

#[test]
fn a_chain_that_ends_before_the_recovery_window_is_recorded_as_a_gap() {
    let t0 = datetime!(2026-11-01 02:00 UTC);
    let c = chain(t0, &[t0 + time::Duration::days(1)]);
    let latest = datetime!(2026-12-20 02:00 UTC);
    let earliest = latest - time::Duration::days(35);
    assert_eq!(
        plan(&[c], window(earliest, latest), SETTINGS, "b"),
        vec![
            Action::Unreachable {
                from: t0 + time::Duration::days(1),
                to: latest
            },
            Action::Full { at: latest }
        ]
    );
}

#[test]
fn an_unreachable_stretch_is_recorded_once_while_the_new_chain_waits_to_start() {
    let t0 = datetime!(2026-11-01 02:00 UTC);
    let mut c = chain(t0, &[]);
    let latest = datetime!(2026-12-20 02:00 UTC);
    let w = window(latest - time::Duration::days(35), latest);
    c.unreachable(t0, latest);
    assert_eq!(
        plan(&[c], w, SETTINGS, "b"),
        vec![Action::Full { at: latest }]
    );
}

#[test]
fn a_restore_goes_to_the_latest_point_at_or_before_the_moment() {
    let t0 = datetime!(2026-12-01 02:00 UTC);
    let day = time::Duration::days(1);
    let old = chain(t0, &[t0 + day, t0 + 2 * day]);
    let new = chain(t0 + 2 * day, &[t0 + 3 * day]);
    let chains = [new.clone(), old.clone()];
    let at = |t| restore_path(&chains, t);
    assert_eq!(at(t0 - minutes(1)), None);
    assert_eq!(
        at(t0 + day + minutes(5)),
        Some(RestorePath {
            chain: 1,
            incrementals: 1,
            at: t0 + day
        })
    );
    // The boundary both chains hold: the newer chain's full export, no incremental to apply.
    assert_eq!(
        at(t0 + 2 * day),
        Some(RestorePath {
            chain: 0,
            incrementals: 0,
            at: t0 + 2 * day
        })
    );
    assert_eq!(
        at(t0 + 30 * day),
        Some(RestorePath {
            chain: 0,
            incrementals: 1,
            at: t0 + 3 * day
        })
    );
    // A failed incremental stops the chain's points there.
    let mut broken = old;
    broken.incrementals[1].export.status = ExportState::Failed;
    assert_eq!(broken.points(), vec![t0, t0 + day]);
    assert_eq!(
        coverage(&[new, broken]),
        vec![
            Span {
                from: t0,
                to: t0 + day
            },
            Span {
                from: t0 + 2 * day,
                to: t0 + 3 * day
            }
        ]
    );
}

/// A simulated DynamoDB: each export started completes or fails by `fates` (true: fails).
struct World {
    chains: Vec<Chain>,
    archived: Vec<Chain>,
    fates: Vec<bool>,
    started: usize,
}

impl World {
    fn fate(&mut self) -> ExportState {
        let fails = self.fates.get(self.started).copied().unwrap_or(false);
        self.started += 1;
        if fails {
            ExportState::Failed
        } else {
            ExportState::Completed
        }
    }

    /// One run: the plan applied as `advance` applies it, exports ending at once.
    fn run(&mut self, window: RecoveryWindow) -> Vec<Action> {
        let actions = plan(&self.chains, window, SETTINGS, "b");
        for action in &actions {
            match *action {
                Action::Retry { chain, slot } => {
                    let state = self.fate();
                    let link = self.chains[chain].link_mut(slot).unwrap();
                    link.export.status = state;
                }
                Action::Lose { chain, slot } => {
                    self.chains[chain].lose(slot).unwrap();
                }
                Action::Unreachable { from, to } => {
                    self.chains.last_mut().unwrap().unreachable(from, to);
                }
                Action::Incremental { from, to } => {
                    let state = self.fate();
                    let c = self.chains.last_mut().unwrap();
                    c.incrementals.push(link(Some(from), to, state));
                }
                Action::Full { at } => {
                    let state = self.fate();
                    if let Some(c) = self.chains.last_mut() {
                        c.closed_at = Some(at);
                    }
                    let mut c = chain(at, &[]);
                    c.full.export.status = state;
                    self.chains.push(c);
                }
            }
        }
        let (open, done): (Vec<Chain>, Vec<Chain>) = self.chains.drain(..).partition(Chain::open);
        self.archived.extend(done);
        self.chains = open;
        actions
    }

    fn all(&self) -> Vec<Chain> {
        self.archived.iter().chain(&self.chains).cloned().collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Over runs at random intervals (some further apart than the recovery window lasts) with
    /// random export failures: every window is one DynamoDB accepts and inside the recovery
    /// window; each chain's exports are back to back from its full export; each chain starts
    /// where the one before ends, or after a recorded gap; a chain's restore points reach its
    /// end or stop where a recorded gap or failed export begins; no run starts more than 8
    /// exports (and one full export).
    #[test]
    fn chains_cover_every_moment_or_record_why_not(
        gaps_minutes in prop::collection::vec(1i64..(40 * 24 * 60), 1..40),
        fates in prop::collection::vec(prop::bool::weighted(0.15), 0..400),
        pitr_days in 1i64..36,
    ) {
        let mut world = World { chains: Vec::new(), archived: Vec::new(), fates, started: 0 };
        let mut latest = datetime!(2026-01-01 00:00 UTC);
        for step in gaps_minutes {
            latest += minutes(step);
            let w = window(latest - time::Duration::days(pitr_days), latest);
            let actions = world.run(w);
            let starts = actions.iter().filter(|a| matches!(a, Action::Retry { .. } | Action::Incremental { .. } | Action::Full { .. })).count();
            prop_assert!(starts <= STARTS_PER_RUN + 1, "{starts} starts");
            for action in &actions {
                match *action {
                    Action::Incremental { from, to } => {
                        prop_assert!(to - from >= minutes(15) && to - from <= time::Duration::hours(24));
                        prop_assert!(from >= w.earliest && to <= w.latest);
                    }
                    Action::Full { at } => prop_assert!(at >= w.earliest && at <= w.latest),
                    _ => {}
                }
            }
        }
        let mut all = world.all();
        all.sort_by_key(|c| c.full.to);
        for c in &all {
            let mut end = c.full.to;
            for l in &c.incrementals {
                prop_assert_eq!(l.from, Some(end), "back to back in {}", c.id);
                end = l.to;
            }
        }
        for pair in all.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            prop_assert_eq!(a.closed_at, Some(b.full.to));
            let reached = a.end() == b.full.to;
            let recorded = a.gaps.iter().any(|g| g.to == b.full.to);
            // A chain that lost coverage offers no point past its gap: the next begins at the
            // latest moment, wherever the broken one's exports ended.
            let broken = !a.gaps.is_empty() || a.full.lost;
            prop_assert!(reached || recorded || broken, "chain {} ends at {} and the next starts at {}", a.id, a.end(), b.full.to);
        }
        // Within each chain, the restore points reach its end, or stop where a recorded gap or
        // a failed export (being retried, or lost with its full export) begins.
        for c in &all {
            let points = c.points();
            let last = points.last().copied().unwrap_or(c.full.to);
            let explained = last == c.end()
                || c.full.export.status == ExportState::Failed
                || c.gaps.iter().any(|g| g.from == last)
                || c.incrementals.iter().any(|l| l.export.status == ExportState::Failed && l.start() == last);
            prop_assert!(explained, "chain {} stops at {last} before its end {} without a record", c.id, c.end());
        }
    }
}

#[test]
fn a_moment_two_started_exports_end_at_is_one_point() {
    let t = datetime!(2026-12-01 02:00 UTC);
    let day = time::Duration::days(1);
    let started =
        |chain: &str, from: Option<OffsetDateTime>, to: OffsetDateTime| ChainStep::Started {
            chain: chain.to_owned(),
            link: link(from, to, ExportState::InProgress),
        };
    let run = ChainRun {
        steps: vec![
            started("a", Some(t - day), t),
            // The next chain's full export, of the moment the last incremental ends.
            started("b", None, t),
            ChainStep::Error {
                error: "x".to_owned(),
            },
            started("b", Some(t), t + day),
        ],
        chain: Some("b".to_owned()),
        exported_to: Some(t + day),
        fingerprinted: Vec::new(),
    };
    assert_eq!(
        run.started_points(),
        vec![("a".to_owned(), t), ("b".to_owned(), t + day)]
    );
}
