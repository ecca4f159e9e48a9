//! The rebuild side of `bench views`, and the live view it rebuilds against.
//!
//! `ops::rebuild` reads each topic up to the positions the live view
//! recorded for the service's group and compares its shadow copy with that
//! live view, so it needs one. The benchmark builds it once, before the
//! rounds, by applying every record in production order with the same
//! `ops::rebuild::apply` the rebuild uses: that is the view a service that
//! consumed the events as they were produced would hold, with its
//! positions at the end of every partition. Every round then rebuilds into
//! a fresh shadow namespace of that store.

use std::sync::Arc;

use tributary_bus::EventCodec;
use tributary_views::{CompareOptions, ViewStore, ViewsConfig, compare_tables, open_store};

use crate::{
    bench::BenchError,
    ops::{
        Cluster,
        reader::RawRecord,
        rebuild::{self, RebuildOptions, RebuildReport, RebuildTarget},
    },
};

/// Applies `records` in order to the live store of `target` under `views`.
pub(crate) async fn live_reference(
    codec: &EventCodec,
    views: &ViewsConfig,
    target: &RebuildTarget,
    records: &[RawRecord],
) -> Result<Arc<dyn ViewStore>, BenchError> {
    let store = open_store(views, target.service, &target.tables).await?;
    for record in records {
        rebuild::apply(codec, store.as_ref(), target, record)
            .await
            .map_err(|detail| BenchError::Projection {
                what: "building the live view",
                detail: format!(
                    "{}/{}@{}: {detail}",
                    record.topic, record.partition, record.offset
                ),
            })?;
    }
    Ok(store)
}

/// One rebuild into a fresh shadow namespace, verified against the live
/// view (the comparison is not in the rebuild's rate).
pub(crate) async fn rebuild_once(
    cluster: &Cluster,
    codec: &EventCodec,
    views: &ViewsConfig,
    target: &RebuildTarget,
) -> Result<RebuildReport, BenchError> {
    let options = RebuildOptions {
        shadow: rebuild::fresh_shadow_name(),
        switch: false,
        quiet: true,
    };
    Ok(rebuild::rebuild(cluster, codec, views, target, &options).await?)
}

/// Whether `copy` holds exactly the rows of `reference` in every table.
pub(crate) async fn same_rows(
    reference: &dyn ViewStore,
    copy: &dyn ViewStore,
    target: &RebuildTarget,
) -> Result<bool, BenchError> {
    for table in &target.tables {
        let comparison =
            compare_tables(reference, copy, table.name, CompareOptions::default()).await?;
        if !comparison.matches() {
            tracing::warn!(
                table = table.name,
                differences = ?comparison.differences.iter().take(3).collect::<Vec<_>>(),
                "the copy differs from the reference view"
            );
            return Ok(false);
        }
    }
    Ok(true)
}
