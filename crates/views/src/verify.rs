//! Row-by-row comparison of two copies of a table — the verification step of a
//! view rebuild (live copy vs. the shadow rebuilt from the topics).
//!
//! Works through the [`ViewStore`] trait only, so it is the same for every
//! backend and for comparisons across backends: digests first (cheap, one
//! streaming pass per side); only when they differ, each side is paged with
//! [`ViewStore::scan`] and looked up on the other side with [`ViewStore::get`].

use crate::digest::TableDigest;
use crate::error::ViewError;
use crate::model::Row;
use crate::store::ViewStore;

/// Limits of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompareOptions {
    /// Rows per scan page.
    pub page_size: usize,
    /// Stop listing differences after this many.
    pub max_differences: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            page_size: 500,
            max_differences: 100,
        }
    }
}

/// One row that differs between the two copies. Versions are not compared
/// (see [`TableDigest`](crate::TableDigest)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowDifference {
    /// In the live copy, missing from the rebuilt one.
    MissingFromRebuilt { live: Row },
    /// In the rebuilt copy only.
    OnlyInRebuilt { rebuilt: Row },
    /// In both, with different values.
    ValueDiffers { live: Row, rebuilt: Row },
}

/// Result of [`compare_tables`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableComparison {
    pub table: String,
    pub live: TableDigest,
    pub rebuilt: TableDigest,
    /// Empty when the digests match.
    pub differences: Vec<RowDifference>,
    /// More differences exist than were listed.
    pub truncated: bool,
}

impl TableComparison {
    /// Whether both copies hold the same content.
    pub fn matches(&self) -> bool {
        self.live == self.rebuilt
    }
}

/// Compares `table` in two stores.
pub async fn compare_tables(
    live: &dyn ViewStore,
    rebuilt: &dyn ViewStore,
    table: &str,
    options: CompareOptions,
) -> Result<TableComparison, ViewError> {
    let live_digest = live.digest(table).await?;
    let rebuilt_digest = rebuilt.digest(table).await?;
    let mut comparison = TableComparison {
        table: table.to_owned(),
        live: live_digest,
        rebuilt: rebuilt_digest,
        differences: Vec::new(),
        truncated: false,
    };
    if comparison.matches() {
        return Ok(comparison);
    }
    let page_size = options.page_size.max(1);
    let mut sink = DifferenceSink {
        comparison: &mut comparison,
        max: options.max_differences,
    };

    // Live rows: missing or different in the rebuilt copy.
    let mut after = None;
    'live: loop {
        let page = live.scan(table, after.as_ref(), page_size).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.key());
        for row in page {
            let difference = match rebuilt.get(table, &row.partition, &row.clustering).await? {
                None => Some(RowDifference::MissingFromRebuilt { live: row }),
                Some(other) if other.value != row.value => Some(RowDifference::ValueDiffers {
                    live: row,
                    rebuilt: other,
                }),
                Some(_) => None,
            };
            if let Some(difference) = difference
                && !sink.push(difference)
            {
                break 'live;
            }
        }
    }

    // Rebuilt rows absent from the live copy.
    let mut after = None;
    'rebuilt: while !sink.comparison.truncated {
        let page = rebuilt.scan(table, after.as_ref(), page_size).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.key());
        for row in page {
            if live
                .get(table, &row.partition, &row.clustering)
                .await?
                .is_none()
                && !sink.push(RowDifference::OnlyInRebuilt { rebuilt: row })
            {
                break 'rebuilt;
            }
        }
    }
    Ok(comparison)
}

struct DifferenceSink<'a> {
    comparison: &'a mut TableComparison,
    max: usize,
}

impl DifferenceSink<'_> {
    /// Records a difference; false once the limit is exceeded.
    fn push(&mut self, difference: RowDifference) -> bool {
        if self.comparison.differences.len() >= self.max {
            self.comparison.truncated = true;
            return false;
        }
        self.comparison.differences.push(difference);
        true
    }
}
