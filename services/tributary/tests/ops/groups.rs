//! `groups reset`: plans change nothing, executed resets move a group
//! exactly, bad targets and active groups are refused.

use std::time::Duration;

use tributary::ops::{
    OpsError,
    groups::{ResetTarget, describe_group, execute_reset, plan_reset},
    time::format_ms,
};
use tributary_testkit::{unique_name, wait_until};

use crate::helpers::{Seen, TestApp, now_ms};

/// Ten records, alternating between two partitions, one second apart,
/// starting a minute ago; returns the first timestamp.
async fn ten_records(app: &TestApp, topic: &str) -> i64 {
    let base = now_ms() - 60_000;
    for i in 0..10 {
        app.produce(
            topic,
            i % 2,
            &format!("k{i}"),
            b"x",
            &[],
            Some(base + i64::from(i) * 1000),
        )
        .await;
    }
    base
}

/// Commits `group` at the end of every partition of `topic`, as if it had
/// consumed everything.
async fn commit_latest(app: &TestApp, group: &str, topic: &str) {
    let latest = plan_reset(&app.cluster, group, topic, ResetTarget::Latest, None, true)
        .await
        .expect("plan latest");
    execute_reset(&app.cluster, &latest)
        .await
        .expect("commit latest");
}

#[tokio::test]
async fn dry_run_changes_nothing_and_a_datetime_reset_reconsumes_exactly_the_tail() {
    let app = TestApp::start().await;
    let topic = app.topic(&unique_name("reset"), 2).await;
    let group = unique_name("g");
    let base = ten_records(&app, &topic).await;

    // The group has consumed everything.
    commit_latest(&app, &group, &topic).await;
    let before = app.committed(&group, &topic).await;
    assert_eq!(
        before.values().copied().collect::<Vec<_>>(),
        vec![Some(5), Some(5)]
    );

    // Dry run: a plan, nothing committed.
    let cut = base + 5_000;
    let plan = plan_reset(
        &app.cluster,
        &group,
        &topic,
        ResetTarget::Datetime(cut),
        None,
        false,
    )
    .await
    .expect("plan by time");
    let targets: Vec<(i32, Option<i64>, i64)> = plan
        .rows
        .iter()
        .map(|r| (r.partition, r.current, r.target))
        .collect();
    // Records 5..9 are at or after the cut: p1 has 5,7,9 (offsets 2..4), p0 has 6,8 (offsets 3..4).
    assert_eq!(targets, vec![(0, Some(5), 3), (1, Some(5), 2)]);
    assert_eq!(
        app.committed(&group, &topic).await,
        before,
        "a dry run changed offsets"
    );
    let (ok, stdout, stderr) = app
        .cli(&[
            "groups",
            "reset",
            &group,
            "--topic",
            &topic,
            "--to-earliest",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("dry run"), "{stdout}");
    assert_eq!(
        app.committed(&group, &topic).await,
        before,
        "the CLI dry run changed offsets"
    );

    // Executed: the group re-consumes exactly the events at or after the cut.
    execute_reset(&app.cluster, &plan).await.expect("execute");
    let seen = app
        .consume_as_group(&group, &topic, |seen: &[Seen]| {
            [0, 1]
                .iter()
                .all(|p| seen.iter().any(|s| s.partition == *p && s.offset == 4))
        })
        .await;
    let mut times: Vec<i64> = seen.iter().map(|s| s.timestamp_ms - base).collect();
    times.sort_unstable();
    assert_eq!(times, vec![5_000, 6_000, 7_000, 8_000, 9_000]);

    // The member read but did not commit: the lag is what the reset left.
    let described = describe_group(&app.cluster, &group, std::slice::from_ref(&topic))
        .await
        .expect("describe");
    assert_eq!(described.partitions.len(), 2);
    assert_eq!(described.total_lag, 5);
    let (ok, stdout, stderr) = app
        .cli(&["groups", "describe", &group, "--topic", &topic, "--json"])
        .await;
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["total_lag"], 5);
    let (ok, _, stderr) = app.cli(&["groups", "list", "--json"]).await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = app
        .cli(&["groups", "describe", &unique_name("nobody")])
        .await;
    assert!(!ok && stderr.contains("unknown consumer group"), "{stderr}");

    // Replay by time selects the same events: [base+5s, base+8s).
    let from = format_ms(base + 5_000);
    let to = format_ms(base + 8_000);
    let (ok, stdout, stderr) = app
        .cli(&[
            "replay",
            "--topic",
            &topic,
            "--print",
            "--from-time",
            &from,
            "--to-time",
            &to,
        ])
        .await;
    assert!(ok, "{stderr}");
    let mut replayed: Vec<i64> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            v["timestamp_ms"].as_i64().expect("timestamp") - base
        })
        .collect();
    replayed.sort_unstable();
    assert_eq!(replayed, vec![5_000, 6_000, 7_000]);
}

#[tokio::test]
async fn bad_targets_unknown_names_and_active_groups_are_refused() {
    let app = TestApp::start().await;
    let topic = app.topic(&unique_name("bad"), 2).await;
    let group = unique_name("g");
    let base = ten_records(&app, &topic).await;
    let plan = plan_reset(
        &app.cluster,
        &group,
        &topic,
        ResetTarget::Earliest,
        None,
        true,
    )
    .await
    .expect("plan");
    execute_reset(&app.cluster, &plan).await.expect("commit");
    let before = app.committed(&group, &topic).await;

    let err = |r: Result<_, OpsError>| r.expect_err("must be refused");
    assert!(matches!(
        err(plan_reset(
            &app.cluster,
            &group,
            &topic,
            ResetTarget::Offset(99),
            None,
            false
        )
        .await),
        OpsError::OutOfRange { target: 99, .. }
    ));
    assert!(matches!(
        err(plan_reset(
            &app.cluster,
            &group,
            &topic,
            ResetTarget::ShiftBy(-1),
            None,
            false
        )
        .await),
        OpsError::OutOfRange { .. }
    ));
    let before_first = err(plan_reset(
        &app.cluster,
        &group,
        &topic,
        ResetTarget::Datetime(base - 3_600_000),
        None,
        false,
    )
    .await);
    assert!(
        before_first.to_string().contains("before the first event"),
        "{before_first}"
    );
    assert!(matches!(
        err(plan_reset(
            &app.cluster,
            &group,
            "no-such-topic",
            ResetTarget::Earliest,
            None,
            false
        )
        .await),
        OpsError::UnknownTopic(_)
    ));
    assert!(matches!(
        err(plan_reset(
            &app.cluster,
            &unique_name("nobody"),
            &topic,
            ResetTarget::Earliest,
            None,
            false
        )
        .await),
        OpsError::UnknownGroup(_)
    ));

    // The CLI: one line, non-zero exit, nothing changed.
    let (ok, _, stderr) = app
        .cli(&[
            "groups",
            "reset",
            &group,
            "--topic",
            &topic,
            "--to-offset",
            "99",
            "--execute",
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("outside the log"), "{stderr}");
    assert_eq!(app.committed(&group, &topic).await, before);

    // An active member blocks --execute.
    let stop = app.spawn_member(&group, &topic);
    let cluster = app.cluster.clone();
    let g = group.clone();
    wait_until(Duration::from_secs(30), "the member to join", || {
        let cluster = cluster.clone();
        let g = g.clone();
        async move {
            cluster
                .groups(Some(&g))
                .await
                .is_ok_and(|gs| gs.iter().any(|x| !x.members.is_empty()))
        }
    })
    .await;
    // `groups describe` says which member reads which partitions (tansu
    // fix 7: the broker used to describe members with empty assignments).
    let owns_both = |m: &tributary::ops::MemberInfo| {
        m.assignment
            .iter()
            .any(|(t, partitions)| *t == topic && *partitions == [0, 1])
    };
    wait_until(
        Duration::from_secs(30),
        "describe to show the member's assignment",
        || async {
            describe_group(&app.cluster, &group, &[])
                .await
                .is_ok_and(|d| d.members.iter().any(owns_both))
        },
    )
    .await;
    let refused = execute_reset(&app.cluster, &plan)
        .await
        .expect_err("refused");
    assert!(
        matches!(refused, OpsError::ActiveMembers { .. }),
        "{refused}"
    );
    let (ok, _, stderr) = app
        .cli(&[
            "groups",
            "reset",
            &group,
            "--topic",
            &topic,
            "--to-latest",
            "--execute",
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("active member"), "{stderr}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// `--by-duration D` resets to the first event at or after now − D, and
/// `replay --to-group` points the group at a range's start. The
/// records are ten seconds apart, so the cut falls mid-gap however long the
/// test takes to get from producing to planning (up to five seconds).
#[tokio::test]
async fn a_reset_by_duration_and_a_replay_into_the_group_move_it_exactly() {
    let app = TestApp::start().await;
    let topic = app.topic(&unique_name("reset-by-duration"), 2).await;
    let group = unique_name("g");
    let base = now_ms() - 100_000;
    for i in 0..10 {
        app.produce(
            &topic,
            i % 2,
            &format!("k{i}"),
            b"x",
            &[],
            Some(base + i64::from(i) * 10_000),
        )
        .await;
    }

    // The group has consumed everything.
    commit_latest(&app, &group, &topic).await;

    // Now − 55 s is between the records at base + 40 s and base + 50 s:
    // records 5..9 remain, p1 has 5, 7, 9 (offsets 2..4), p0 has 6, 8 (3..4).
    let (ok, stdout, stderr) = app
        .cli(&[
            "groups",
            "reset",
            &group,
            "--topic",
            &topic,
            "--by-duration",
            "55s",
            "--execute",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("dry run"), "{stdout}");
    assert_eq!(
        app.committed(&group, &topic)
            .await
            .into_values()
            .collect::<Vec<_>>(),
        vec![Some(3), Some(2)],
        "{stdout}"
    );

    // `replay --to-group` re-drives a time range through the same group:
    // from base + 70 s, p0 has record 8 (offset 4), p1 has 7 and 9 (3..4).
    let from = format_ms(base + 70_000);
    let (ok, stdout, stderr) = app
        .cli(&[
            "replay",
            "--topic",
            &topic,
            "--from-time",
            &from,
            "--to-group",
            &group,
        ])
        .await;
    assert!(ok, "{stderr}");
    assert_eq!(
        app.committed(&group, &topic)
            .await
            .into_values()
            .collect::<Vec<_>>(),
        vec![Some(3), Some(2)],
        "without --execute the plan is only printed: {stdout}"
    );
    let (ok, stdout, stderr) = app
        .cli(&[
            "replay",
            "--topic",
            &topic,
            "--from-time",
            &from,
            "--to-group",
            &group,
            "--execute",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert_eq!(
        app.committed(&group, &topic)
            .await
            .into_values()
            .collect::<Vec<_>>(),
        vec![Some(4), Some(3)],
        "{stdout}"
    );
    let seen = app
        .consume_as_group(&group, &topic, |seen: &[Seen]| {
            [0, 1]
                .iter()
                .all(|p| seen.iter().any(|s| s.partition == *p && s.offset == 4))
        })
        .await;
    let mut times: Vec<i64> = seen.iter().map(|s| s.timestamp_ms - base).collect();
    times.sort_unstable();
    assert_eq!(times, vec![70_000, 80_000, 90_000]);
}
