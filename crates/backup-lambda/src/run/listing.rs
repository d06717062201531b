//! How a run finds each table's backups. ListBackups is limited to five calls a second per
//! account, and each page is a call: one listing per table costs a run over N tables at least
//! N calls (2,000 s of listing for 10,000 tables), while the account's backups listed once
//! (ListBackups without `TableName`, 100 a page) cost one call per 100 backups. A run over
//! several tables lists the account once, from its start and alongside its tables
//! ([`Listing::alongside`]), and groups the backups by table, unless that would take more pages
//! than one listing per table at least: it gives up after as many pages as there are tables
//! and lists per table instead, so a run never spends more than N calls over what per-table
//! listing costs it.
//!
//! The account's listing takes its pages at the pacer's turns, P pages P / 5 s (120 s for
//! 60,000 backups), and DeleteBackup would stand idle that long if every table waited for it. A
//! table that needs its backups before the account's listing is done lists itself instead (one
//! call, in the same pacer's turns, one table at a time) while DeleteBackup has less than
//! [`DELETIONS_QUEUED`] of calls waiting, and waits for the account's pages otherwise: the run's
//! deletions start with its first tables, the account's pages are not held back behind every
//! table's own call, and the few tables that list themselves cost a call each on top of the
//! pages.

use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::{self, Either};
use serde::Serialize;
use tracing::{info, warn};

use crate::error::AwsError;
use crate::naming::TableName;
use crate::pace::{Pacer, Pacers};
use crate::retention::Backup;
use crate::store::BackupStore;

/// A table lists itself rather than wait for the account's pages only while DeleteBackup has
/// less than this much of calls waiting: past it, deletions have work, and the table's own call
/// would only take a turn from the account's pages.
const DELETIONS_QUEUED: Duration = Duration::from_secs(1);

/// How often a table waiting for the account's pages looks again.
const LOOK_AGAIN: Duration = Duration::from_millis(100);

/// How a run lists backups, and what its account listing found.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    account: Option<AccountListing>,
}

/// The account's backups, listed once alongside the run's tables and shared by every table
/// that needs its backups after the listing is done.
#[derive(Debug)]
struct AccountListing {
    /// Pages taken at most; past them, per-table listing is no dearer.
    budget: usize,
    /// The backups by table name once listed; `None` when the listing was given up.
    listed: OnceLock<Option<HashMap<String, Vec<Backup>>>>,
    pages: AtomicUsize,
    /// Tables listed on their own while the account's listing was not done.
    alone: AtomicUsize,
    /// Whether the listing is under way ([`Listing::alongside`] is running it): a table waits
    /// for it only then.
    running: AtomicBool,
    /// Whether a table is listing itself: one at a time, so that the tables of a run's first
    /// moments, which all find DeleteBackup idle, do not all list themselves at once.
    one_alone: AtomicBool,
}

/// A flag held for as long as this lives.
struct Claim<'a>(&'a AtomicBool);

impl<'a> Claim<'a> {
    /// Raises the flag, whether or not it was up.
    fn raise(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::Relaxed);
        Self(flag)
    }

    /// Raises the flag if it is down.
    fn take(flag: &'a AtomicBool) -> Option<Self> {
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .ok()
            .map(|_| Self(flag))
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// How a run listed backups, for its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum ListingReport {
    /// One listing per table.
    PerTable,
    /// The account's backups listed once, in `pages` calls.
    Account {
        /// ListBackups calls the account's listing made.
        pages: usize,
        /// Tables that needed their backups before the account's listing was done, and listed
        /// themselves (a call each).
        alone: usize,
    },
    /// The account listing was given up after `pages` calls (more backups than one listing per
    /// table would page through, or an error), and each table was listed on its own.
    AccountAbandoned {
        /// ListBackups calls made before giving up.
        pages: usize,
    },
    /// The run's tables were done before the account's listing (after `pages` calls), each
    /// listed on its own.
    AccountUnfinished {
        /// ListBackups calls the account's listing made.
        pages: usize,
    },
}

impl Listing {
    /// One listing per table (a run over one table).
    pub(crate) fn per_table() -> Self {
        Self::default()
    }

    /// For a run over `tables` tables: the account listed once, when there are two or more.
    pub(crate) fn for_tables(tables: usize) -> Self {
        Self {
            account: (tables >= 2).then(|| AccountListing {
                budget: tables,
                listed: OnceLock::new(),
                pages: AtomicUsize::new(0),
                alone: AtomicUsize::new(0),
                running: AtomicBool::new(false),
                one_alone: AtomicBool::new(false),
            }),
        }
    }

    /// Runs `work` (the run's tables) while the account's backups are listed, each page at
    /// the ListBackups pacer's next turn; the listing stops with `work` if it is not done by then.
    pub(crate) async fn alongside<S: BackupStore, T>(
        &self,
        store: &S,
        pacers: &Pacers,
        work: impl Future<Output = T>,
    ) -> T {
        let Some(account) = &self.account else {
            return work.await;
        };
        let _running = Claim::raise(&account.running);
        let listing = account.list(store, &pacers.list);
        match future::select(std::pin::pin!(work), std::pin::pin!(listing)).await {
            Either::Left((done, _)) => done,
            Either::Right(((), work)) => work.await,
        }
    }

    /// Every `USER` backup of `table`: from the account listing once it is done; before, by
    /// listing the table while deletions are short of work (else waiting for the account's
    /// pages); each page at the ListBackups pacer's next turn.
    pub(crate) async fn backups<S: BackupStore>(
        &self,
        store: &S,
        pacers: &Pacers,
        table: &TableName,
    ) -> Result<Vec<Backup>, AwsError> {
        if let Some(account) = &self.account {
            loop {
                match account.listed.get() {
                    Some(Some(by_table)) => {
                        return Ok(by_table.get(table.as_str()).cloned().unwrap_or_default());
                    }
                    Some(None) => break,
                    None if !account.running.load(Ordering::Relaxed) => break,
                    None if pacers.delete.backlog() < DELETIONS_QUEUED => {
                        if let Some(_alone) = Claim::take(&account.one_alone) {
                            account.alone.fetch_add(1, Ordering::Relaxed);
                            return store.list_backups_paced(table, || pacers.list.wait()).await;
                        }
                        tokio::time::sleep(LOOK_AGAIN).await;
                    }
                    None => tokio::time::sleep(LOOK_AGAIN).await,
                }
            }
        }
        store.list_backups_paced(table, || pacers.list.wait()).await
    }

    /// How the run listed.
    pub(crate) fn report(&self) -> ListingReport {
        match &self.account {
            None => ListingReport::PerTable,
            Some(account) => {
                let pages = account.pages.load(Ordering::Relaxed);
                match account.listed.get() {
                    Some(Some(_)) => ListingReport::Account {
                        pages,
                        alone: account.alone.load(Ordering::Relaxed),
                    },
                    Some(None) => ListingReport::AccountAbandoned { pages },
                    None => ListingReport::AccountUnfinished { pages },
                }
            }
        }
    }
}

impl AccountListing {
    /// Lists the account's backups, grouped by table; given up (`None`) once the budget is
    /// spent, or on an error (each table is then listed on its own, and fails on its own if it
    /// must).
    async fn list<S: BackupStore>(&self, store: &S, pacer: &Pacer) {
        let before_page = || {
            self.pages.fetch_add(1, Ordering::Relaxed);
            pacer.wait()
        };
        let listed = match store
            .list_account_backups_paced(before_page, Some(self.budget))
            .await
        {
            Ok(Some(listed)) => {
                let mut by_table: HashMap<String, Vec<Backup>> = HashMap::new();
                for (table, backup) in listed {
                    by_table.entry(table).or_default().push(backup);
                }
                info!(
                    pages = self.pages.load(Ordering::Relaxed),
                    tables = by_table.len(),
                    backups = by_table.values().map(Vec::len).sum::<usize>(),
                    listed_alone = self.alone.load(Ordering::Relaxed),
                    "listed the account's backups once for every table"
                );
                Some(by_table)
            }
            Ok(None) => {
                warn!(
                    pages = self.budget,
                    "the account holds more backups than one listing per table would page through; listing per table"
                );
                None
            }
            Err(e) => {
                warn!(error = %e, "could not list the account's backups; listing per table");
                None
            }
        };
        // Only this listing sets it, once.
        let _ = self.listed.set(listed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::fake::{MemoryStore, NOW};
    use crate::naming::TableName;
    use crate::retention::{BackupKind, BackupState};

    /// `per_table` backups of each of `tables` tables, and `others` of a table not in the run.
    fn account(tables: usize, per_table: usize, others: usize) -> MemoryStore {
        let mut backups = Vec::new();
        let mut add = |table: &str, i: usize| {
            backups.push(Backup {
                arn: format!("arn:aws:dynamodb:us-east-1:1:table/{table}/backup/{i:05}"),
                name: format!("{table}-prod-{i:05}"),
                created: NOW - time::Duration::hours(i64::try_from(i).unwrap()),
                state: BackupState::Available,
                kind: BackupKind::User,
            });
        };
        for t in 0..tables {
            for i in 0..per_table {
                add(&format!("T{t:03}"), i);
            }
        }
        for i in 0..others {
            add("Elsewhere", i);
        }
        MemoryStore::with(backups)
    }

    fn calls(store: &MemoryStore, kind: &str) -> usize {
        store.calls().iter().filter(|c| *c == kind).count()
    }

    #[tokio::test(start_paused = true)]
    async fn many_tables_share_one_paced_listing_of_the_account() {
        // 40 tables of 6 backups and 10 of another table: 250 backups, 3 pages of 100.
        let store = account(40, 6, 10);
        let listing = Listing::for_tables(40);
        let pacers = Pacers::default();
        let tables = async {
            for t in 0..40 {
                let table = TableName::parse(&format!("T{t:03}")).unwrap();
                let backups = listing.backups(&store, &pacers, &table).await.unwrap();
                assert_eq!(backups.len(), 6, "{table}");
                assert!(
                    backups
                        .iter()
                        .all(|b| b.name.starts_with(&format!("{table}-"))),
                    "{table}: {backups:?}"
                );
            }
        };
        listing.alongside(&store, &pacers, tables).await;
        assert_eq!(calls(&store, "list account"), 3);
        // With no deletions waiting, the tables reached while the 3 pages were taken (a turn
        // each, between them) listed themselves; every later one used the account's listing.
        let alone = calls(&store, "list");
        assert!((1..=6).contains(&alone), "{alone} tables listed alone");
        assert_eq!(listing.report(), ListingReport::Account { pages: 3, alone });
        // A table with no backups at all has none, without another call.
        let none = TableName::parse("Empty").unwrap();
        assert!(
            listing
                .backups(&store, &pacers, &none)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(calls(&store, "list account"), 3);
        assert_eq!(calls(&store, "list"), alone);
    }

    /// One table of 30 (600 backups, 6 pages of the account) needing its 20 backups at once,
    /// alongside the account's listing: the store, the listing, and how long the table waited.
    async fn one_table_of_thirty(pacers: &Pacers) -> (MemoryStore, Listing, Duration) {
        let store = account(30, 20, 0);
        let listing = Listing::for_tables(30);
        let started = tokio::time::Instant::now();
        let table = TableName::parse("T007").unwrap();
        let first = async {
            let backups = listing.backups(&store, pacers, &table).await.unwrap();
            assert_eq!(backups.len(), 20);
            started.elapsed()
        };
        let took = listing.alongside(&store, pacers, first).await;
        (store, listing, took)
    }

    #[tokio::test(start_paused = true)]
    async fn a_table_need_not_wait_for_the_accounts_listing() {
        // 600 backups: the account's listing takes 6 pages, 1.1 s at five a second; the first
        // table has its backups at the first turn.
        let (store, listing, took) = one_table_of_thirty(&Pacers::default()).await;
        assert!(took < Duration::from_millis(220), "{took:?}");
        // The run's tables were done first: the listing stopped with them.
        assert_eq!(calls(&store, "list"), 1);
        let pages = calls(&store, "list account");
        assert!(pages < 6, "{pages}");
        assert_eq!(listing.report(), ListingReport::AccountUnfinished { pages });
    }

    #[tokio::test(start_paused = true)]
    async fn tables_wait_for_the_accounts_pages_while_deletions_have_work() {
        let pacers = Pacers::default();
        // Two seconds of deletions already queued.
        for _ in 0..20 {
            pacers.delete.reserve();
        }
        let (store, listing, took) = one_table_of_thirty(&pacers).await;
        // The account's 6 pages (the last 1.1 s after the first), no call of its own.
        assert_eq!(calls(&store, "list"), 0);
        assert_eq!(calls(&store, "list account"), 6);
        assert!(took >= Duration::from_millis(1_100), "{took:?}");
        assert_eq!(
            listing.report(),
            ListingReport::Account { pages: 6, alone: 0 }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_of_mostly_other_backups_is_listed_per_table_after_as_many_pages() {
        // 3 tables of 2 backups, and 500 backups of another table: per-table listing costs 3
        // calls, the account 6; the account listing stops at 3 pages (by 440 ms), and the
        // tables, reached after it, list themselves.
        let store = MemoryStore {
            page_size: Some(100),
            ..account(3, 2, 500)
        };
        let listing = Listing::for_tables(3);
        let pacers = Pacers::default();
        let tables = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for t in 0..3 {
                let table = TableName::parse(&format!("T{t:03}")).unwrap();
                assert_eq!(
                    listing
                        .backups(&store, &pacers, &table)
                        .await
                        .unwrap()
                        .len(),
                    2
                );
            }
        };
        listing.alongside(&store, &pacers, tables).await;
        assert_eq!(calls(&store, "list account"), 3);
        assert_eq!(calls(&store, "list"), 3);
        assert_eq!(
            listing.report(),
            ListingReport::AccountAbandoned { pages: 3 }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_account_listing_keeps_to_five_pages_a_second() {
        // 600 backups: 6 pages, the last starting 5 × 220 ms after the first.
        let store = account(30, 20, 0);
        let listing = Listing::for_tables(30);
        let pacers = Pacers::default();
        let tables = async {
            tokio::time::sleep(Duration::from_millis(1_050)).await;
            let by_then = calls(&store, "list account");
            tokio::time::sleep(Duration::from_secs(1)).await;
            by_then
        };
        let by_then = listing.alongside(&store, &pacers, tables).await;
        assert_eq!(by_then, 5);
        assert_eq!(calls(&store, "list account"), 6);
        assert_eq!(
            listing.report(),
            ListingReport::Account { pages: 6, alone: 0 }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_table_is_listed_on_its_own() {
        let store = account(2, 3, 0);
        let listing = Listing::for_tables(1);
        let pacers = Pacers::default();
        let table = TableName::parse("T001").unwrap();
        assert_eq!(
            listing
                .backups(&store, &pacers, &table)
                .await
                .unwrap()
                .len(),
            3
        );
        assert_eq!(calls(&store, "list"), 1);
        assert_eq!(listing.report(), ListingReport::PerTable);
    }
}
