//! How a run finds each table's backups. ListBackups is limited to five calls a second per
//! account, and each page is a call: one listing per table costs a run over N tables at least
//! N calls (2,000 s of listing for 10,000 tables), while the account's backups listed once
//! (ListBackups without `TableName`, 100 a page) cost one call per 100 backups. A run over
//! several tables lists the account once and groups the backups by table, unless that would
//! take more pages than one listing per table at least: it gives up after as many pages as
//! there are tables and lists per table instead, so a run never spends more than N calls over
//! what per-table listing costs it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use tokio::sync::OnceCell;
use tracing::{info, warn};

use crate::error::AwsError;
use crate::naming::TableName;
use crate::pace::Pacer;
use crate::retention::Backup;
use crate::store::BackupStore;

/// How a run lists backups, and what its account listing found.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    account: Option<AccountListing>,
}

/// The account's backups, listed once on first need and shared by every table of the run.
#[derive(Debug)]
struct AccountListing {
    /// Pages taken at most; past them, per-table listing is no dearer.
    budget: usize,
    /// The backups by table name; `None` when the listing was given up.
    listed: OnceCell<Option<HashMap<String, Vec<Backup>>>>,
    pages: AtomicUsize,
}

/// How a run listed backups, for its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum ListingReport {
    /// One listing per table.
    PerTable,
    /// The account's backups listed once, in `pages` calls.
    Account {
        /// ListBackups calls made.
        pages: usize,
    },
    /// The account listing was given up after `pages` calls (more backups than one listing per
    /// table would page through, or an error), and each table was listed on its own.
    AccountAbandoned {
        /// ListBackups calls made before giving up.
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
                listed: OnceCell::new(),
                pages: AtomicUsize::new(0),
            }),
        }
    }

    /// Every `USER` backup of `table`: from the account listing (made now if no table needed it
    /// before), else by listing the table, each page at `pacer`'s next turn.
    pub(crate) async fn backups<S: BackupStore>(
        &self,
        store: &S,
        pacer: &Pacer,
        table: &TableName,
    ) -> Result<Vec<Backup>, AwsError> {
        if let Some(account) = &self.account {
            let listed = account
                .listed
                .get_or_init(|| account.list(store, pacer))
                .await;
            if let Some(by_table) = listed {
                return Ok(by_table.get(table.as_str()).cloned().unwrap_or_default());
            }
        }
        store.list_backups_paced(table, || pacer.wait()).await
    }

    /// How the run listed.
    pub(crate) fn report(&self) -> ListingReport {
        match &self.account {
            None => ListingReport::PerTable,
            Some(account) => {
                let pages = account.pages.load(Ordering::Relaxed);
                match account.listed.get() {
                    Some(Some(_)) => ListingReport::Account { pages },
                    Some(None) => ListingReport::AccountAbandoned { pages },
                    // No table got as far as listing.
                    None => ListingReport::PerTable,
                }
            }
        }
    }
}

impl AccountListing {
    /// Lists the account's backups, grouped by table; `None` once the budget is spent, or on
    /// an error (each table is then listed on its own, and fails on its own if it must).
    async fn list<S: BackupStore>(
        &self,
        store: &S,
        pacer: &Pacer,
    ) -> Option<HashMap<String, Vec<Backup>>> {
        let before_page = || {
            self.pages.fetch_add(1, Ordering::Relaxed);
            pacer.wait()
        };
        let listed = match store
            .list_account_backups_paced(before_page, Some(self.budget))
            .await
        {
            Ok(Some(listed)) => listed,
            Ok(None) => {
                warn!(
                    pages = self.budget,
                    "the account holds more backups than one listing per table would page through; listing per table"
                );
                return None;
            }
            Err(e) => {
                warn!(error = %e, "could not list the account's backups; listing per table");
                return None;
            }
        };
        let mut by_table: HashMap<String, Vec<Backup>> = HashMap::new();
        for (table, backup) in listed {
            by_table.entry(table).or_default().push(backup);
        }
        info!(
            pages = self.pages.load(Ordering::Relaxed),
            tables = by_table.len(),
            backups = by_table.values().map(Vec::len).sum::<usize>(),
            "listed the account's backups once for every table"
        );
        Some(by_table)
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
        let pacer = Pacer::new(Duration::from_millis(220));
        for t in 0..40 {
            let table = TableName::parse(&format!("T{t:03}")).unwrap();
            let backups = listing.backups(&store, &pacer, &table).await.unwrap();
            assert_eq!(backups.len(), 6, "{table}");
            assert!(
                backups
                    .iter()
                    .all(|b| b.name.starts_with(&format!("{table}-"))),
                "{table}: {backups:?}"
            );
        }
        assert_eq!(calls(&store, "list account"), 3);
        assert_eq!(calls(&store, "list"), 0);
        assert_eq!(listing.report(), ListingReport::Account { pages: 3 });
        // A table with no backups at all has none, without another call.
        let none = TableName::parse("Empty").unwrap();
        assert!(
            listing
                .backups(&store, &pacer, &none)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(calls(&store, "list account"), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_of_mostly_other_backups_is_listed_per_table_after_as_many_pages() {
        // 3 tables of 2 backups, and 500 backups of another table: per-table listing costs 3
        // calls, the account 6; the account listing stops at 3 pages.
        let store = MemoryStore {
            page_size: Some(100),
            ..account(3, 2, 500)
        };
        let listing = Listing::for_tables(3);
        let pacer = Pacer::new(Duration::from_millis(220));
        for t in 0..3 {
            let table = TableName::parse(&format!("T{t:03}")).unwrap();
            assert_eq!(
                listing.backups(&store, &pacer, &table).await.unwrap().len(),
                2
            );
        }
        assert_eq!(calls(&store, "list account"), 3);
        assert_eq!(calls(&store, "list"), 3);
        assert_eq!(
            listing.report(),
            ListingReport::AccountAbandoned { pages: 3 }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_account_listing_keeps_to_five_pages_a_second() {
        let store = account(30, 20, 0);
        let listing = Listing::for_tables(30);
        let pacer = Pacer::new(Duration::from_millis(220));
        let started = tokio::time::Instant::now();
        let table = TableName::parse("T000").unwrap();
        listing.backups(&store, &pacer, &table).await.unwrap();
        // 600 backups: 6 pages, the last starting 5 × 220 ms after the first.
        assert_eq!(calls(&store, "list account"), 6);
        assert!(started.elapsed() >= Duration::from_millis(1_100));
    }

    #[tokio::test(start_paused = true)]
    async fn one_table_is_listed_on_its_own() {
        let store = account(2, 3, 0);
        let listing = Listing::for_tables(1);
        let pacer = Pacer::new(Duration::from_millis(220));
        let table = TableName::parse("T001").unwrap();
        assert_eq!(
            listing.backups(&store, &pacer, &table).await.unwrap().len(),
            3
        );
        assert_eq!(calls(&store, "list"), 1);
        assert_eq!(listing.report(), ListingReport::PerTable);
    }
}
