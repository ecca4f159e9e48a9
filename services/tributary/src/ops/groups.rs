//! Consumer groups: list, describe with lag, and offset resets with a
//! dry-run plan, in the manner of `kafka-consumer-groups --reset-offsets`.
//!
//! A reset is always computed as a [`ResetPlan`] first and validated in full
//! (every target inside the log); only [`execute_reset`] changes anything,
//! and it refuses while the group has members, because a live member would
//! overwrite the new offsets with its own next commit.

use std::{collections::BTreeMap, time::Duration};

use serde::Serialize;

use super::{
    Cluster, OpsError,
    cluster::{GroupInfo, MemberInfo},
    seek,
    time::{format_ms, now_ms},
};

/// One group in `groups list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    pub name: String,
    pub state: String,
    pub protocol_type: String,
    pub members: usize,
}

/// Lag of a group on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    /// `None` when the group never committed on this partition.
    pub committed: Option<i64>,
    pub log_end: i64,
    /// `log_end - committed`; `None` without a committed offset.
    pub lag: Option<i64>,
}

/// `groups describe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupDescription {
    pub name: String,
    /// `None` when the broker's group list does not know the group (it may
    /// still have committed offsets).
    pub state: Option<String>,
    pub members: Vec<MemberInfo>,
    pub partitions: Vec<PartitionLag>,
    pub total_lag: i64,
}

/// Where `groups reset` moves a group, as in `kafka-consumer-groups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTarget {
    Earliest,
    Latest,
    Offset(i64),
    /// Unix ms: the first event at or after this time.
    Datetime(i64),
    /// Now minus this.
    ByDuration(Duration),
    /// Current committed offset plus this (may be negative).
    ShiftBy(i64),
}

/// One partition of a reset plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResetRow {
    pub partition: i32,
    pub current: Option<i64>,
    pub target: i64,
    pub low: i64,
    pub high: i64,
}

/// What `groups reset` would do (or did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResetPlan {
    pub group: String,
    pub topic: String,
    pub rows: Vec<ResetRow>,
}

/// Every group the broker knows.
pub async fn list_groups(cluster: &Cluster) -> Result<Vec<GroupSummary>, OpsError> {
    Ok(cluster
        .groups(None)
        .await?
        .into_iter()
        .map(|g| GroupSummary {
            members: g.members.len(),
            name: g.name,
            state: g.state,
            protocol_type: g.protocol_type,
        })
        .collect())
}

/// Members, assignment, committed offsets and lag of `group`. The topics
/// looked at are `topics`, else the ones its members are assigned, else
/// every topic (keeping partitions with a committed offset).
pub async fn describe_group(
    cluster: &Cluster,
    group: &str,
    topics: &[String],
) -> Result<GroupDescription, OpsError> {
    let info = find_group(cluster, group).await?;
    let members = info.as_ref().map(|g| g.members.clone()).unwrap_or_default();
    let mut wanted: Vec<String> = topics.to_vec();
    let explicit = !wanted.is_empty();
    if wanted.is_empty() {
        wanted = members
            .iter()
            .flat_map(|m| m.assignment.iter().map(|(t, _)| t.clone()))
            .collect();
        wanted.sort();
        wanted.dedup();
    }
    let scan_all = wanted.is_empty();
    if scan_all {
        wanted = cluster
            .topics()
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
    }
    let mut partitions = Vec::new();
    for topic in &wanted {
        let ids = cluster.partitions(topic).await?;
        let committed = cluster.committed(group, topic, &ids).await?;
        let marks = cluster.watermarks(topic, &ids).await?;
        for p in ids {
            let committed = committed.get(&p).copied().flatten();
            if scan_all && committed.is_none() {
                continue;
            }
            let log_end = marks.get(&p).map_or(0, |w| w.1);
            partitions.push(PartitionLag {
                topic: topic.clone(),
                partition: p,
                committed,
                log_end,
                lag: committed.map(|c| (log_end - c).max(0)),
            });
        }
    }
    let has_offsets = partitions.iter().any(|p| p.committed.is_some());
    if info.is_none() && !has_offsets && !explicit {
        return Err(OpsError::UnknownGroup(group.to_owned()));
    }
    let total_lag = partitions.iter().filter_map(|p| p.lag).sum();
    Ok(GroupDescription {
        name: group.to_owned(),
        state: info.map(|g| g.state),
        members,
        partitions,
        total_lag,
    })
}

/// Computes and validates where a reset would move `group` on `topic`.
/// Changes nothing. `allow_new` accepts a group with no committed offsets
/// on the topic (a fresh group for a replay); otherwise that is
/// [`OpsError::UnknownGroup`].
pub async fn plan_reset(
    cluster: &Cluster,
    group: &str,
    topic: &str,
    target: ResetTarget,
    partition: Option<i32>,
    allow_new: bool,
) -> Result<ResetPlan, OpsError> {
    let mut ids = cluster.partitions(topic).await?;
    if let Some(p) = partition {
        if !ids.contains(&p) {
            return Err(OpsError::UnknownPartition {
                topic: topic.to_owned(),
                partition: p,
            });
        }
        ids = vec![p];
    }
    let committed = cluster.committed(group, topic, &ids).await?;
    if !allow_new && committed.values().all(Option::is_none) {
        let known = find_group(cluster, group).await?.is_some();
        if !known {
            return Err(OpsError::UnknownGroup(group.to_owned()));
        }
    }
    let marks = cluster.watermarks(topic, &ids).await?;
    let by_time = match target {
        ResetTarget::Datetime(ms) => Some(ms),
        ResetTarget::ByDuration(d) => {
            Some(now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        }
        _ => None,
    };
    let times = match by_time {
        Some(ms) => {
            check_not_before_first_event(cluster, topic, &marks, ms).await?;
            Some(seek::offsets_for_time(cluster, topic, &marks, ms).await?)
        }
        None => None,
    };
    let mut rows = Vec::with_capacity(ids.len());
    for p in ids {
        let (low, high) = marks.get(&p).copied().unwrap_or((0, 0));
        let current = committed.get(&p).copied().flatten();
        let target = match target {
            ResetTarget::Earliest => low,
            ResetTarget::Latest => high,
            ResetTarget::Offset(o) => o,
            ResetTarget::Datetime(_) | ResetTarget::ByDuration(_) => times
                .as_ref()
                .and_then(|t| t.get(&p).copied().flatten())
                .unwrap_or(high),
            ResetTarget::ShiftBy(n) => {
                let Some(c) = current else {
                    return Err(OpsError::NoCommittedOffset {
                        group: group.to_owned(),
                        topic: topic.to_owned(),
                        partition: p,
                    });
                };
                c.saturating_add(n)
            }
        };
        if target < low || target > high {
            return Err(OpsError::OutOfRange {
                topic: topic.to_owned(),
                partition: p,
                target,
                low,
                high,
            });
        }
        rows.push(ResetRow {
            partition: p,
            current,
            target,
            low,
            high,
        });
    }
    Ok(ResetPlan {
        group: group.to_owned(),
        topic: topic.to_owned(),
        rows,
    })
}

/// Commits `plan`'s targets, refusing while the group has members.
pub async fn execute_reset(cluster: &Cluster, plan: &ResetPlan) -> Result<(), OpsError> {
    ensure_inactive(cluster, &plan.group, "resetting its offsets").await?;
    let offsets: BTreeMap<i32, i64> = plan.rows.iter().map(|r| (r.partition, r.target)).collect();
    cluster.commit(&plan.group, &plan.topic, &offsets).await
}

/// [`OpsError::ActiveMembers`] when `group` has members; `action` names
/// what is refused ("resetting its offsets").
pub async fn ensure_inactive(
    cluster: &Cluster,
    group: &str,
    action: &'static str,
) -> Result<(), OpsError> {
    if let Some(info) = find_group(cluster, group).await?
        && !info.members.is_empty()
    {
        return Err(OpsError::ActiveMembers {
            group: group.to_owned(),
            members: info.members.len(),
            action,
        });
    }
    Ok(())
}

async fn find_group(cluster: &Cluster, group: &str) -> Result<Option<GroupInfo>, OpsError> {
    Ok(cluster
        .groups(Some(group))
        .await?
        .into_iter()
        .find(|g| g.name == group))
}

/// A time earlier than the first event of every non-empty partition is an
/// operator mistake (a wrong date), not "from the beginning": refuse it.
async fn check_not_before_first_event(
    cluster: &Cluster,
    topic: &str,
    marks: &BTreeMap<i32, (i64, i64)>,
    time_ms: i64,
) -> Result<(), OpsError> {
    let mut first: Option<i64> = None;
    for (&p, &(low, high)) in marks {
        if high > low
            && let Some(ts) = cluster.timestamp_at(topic, p, low).await?
        {
            first = Some(first.map_or(ts, |f| f.min(ts)));
        }
    }
    match first {
        Some(first) if time_ms < first => Err(OpsError::BeforeFirstEvent {
            topic: topic.to_owned(),
            time: format_ms(time_ms),
            first: format_ms(first),
        }),
        _ => Ok(()),
    }
}
