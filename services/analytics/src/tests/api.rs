use axum::http::StatusCode;
use serde_json::Value;
use tributary_contracts::events::CancellationReason;
use tributary_service::testing::{content_type, get_json};
use uuid::Uuid;

use super::{Harness, MINUTE, cancelled, confirmed, placed, received};
use crate::api;

/// 2023-11-14T22:14:00Z.
const BASE: i64 = 1_700_000_040_000;

async fn get(h: &Harness, uri: &str) -> (StatusCode, Option<String>, Value) {
    let routes = api::router(h.base.context.clone(), h.rules);
    let (status, headers, body) = get_json(routes, uri).await;
    (status, content_type(&headers).map(str::to_owned), body)
}

fn near(value: &Value, truth: f64) -> bool {
    value
        .as_f64()
        .is_some_and(|v| (v - truth).abs() <= truth * crate::domain::RELATIVE_ERROR + 0.5)
}

/// Two sagas in the first window, one in the third; the watermark closes
/// the first two windows.
async fn populated() -> Harness {
    let h = Harness::new(BASE + 3 * MINUTE).await;
    let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
    for (offset, event) in [
        placed(a, BASE + 1_000),
        confirmed(a, BASE + 1_250, 4_200),
        placed(b, BASE + 2_000),
        cancelled(b, BASE + 2_500, CancellationReason::StockRejected),
        placed(c, BASE + 2 * MINUTE + 10_000),
    ]
    .into_iter()
    .enumerate()
    {
        let offset = i64::try_from(offset).expect("small");
        h.deliver(&received(event, 0, offset)).await;
    }
    h
}

#[tokio::test]
async fn lists_windows_of_a_range_with_finality() {
    let h = populated().await;
    let uri = format!("/analytics/windows?from={BASE}&to={}", BASE + 3 * MINUTE);
    let (status, _, body) = get(&h, &uri).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["window_ms"], 60_000);
    assert_eq!(body["watermark_ms"], BASE + 2 * MINUTE + 5_000);
    let windows = body["windows"].as_array().expect("array");
    assert_eq!(windows.len(), 3, "empty windows are listed too");

    let first = &windows[0];
    assert_eq!(first["start"], "2023-11-14T22:14:00Z");
    assert_eq!(first["start_ms"], BASE);
    assert_eq!(first["end_ms"], BASE + MINUTE);
    assert_eq!(first["final"], true);
    assert_eq!(first["orders_placed"], 2);
    assert_eq!(first["orders_confirmed"], 1);
    assert_eq!(first["orders_cancelled"], 1);
    assert_eq!(first["revenue_cents"], 4_200);
    assert_eq!(first["cancellation_reasons"]["STOCK_REJECTED"], 1);
    assert_eq!(first["cancellation_reasons"]["TIMEOUT"], 0);
    assert_eq!(first["events_by_topic"]["orders"], 4);
    assert_eq!(first["events_by_topic"]["payments"], 0);
    assert_eq!(first["saga_duration_ms"]["count"], 2);
    // Within the sketch's 1 % (plus rounding) of the exact 250 and 500 ms.
    assert!(near(&first["saga_duration_ms"]["p50"], 250.0), "{first}");
    assert!(near(&first["saga_duration_ms"]["p99"], 500.0), "{first}");
    assert_eq!(first["saga_duration_ms"]["min"], 250);
    assert_eq!(first["saga_duration_ms"]["max"], 500);
    assert_eq!(first["late_events"], 0);

    assert_eq!(windows[1]["final"], true);
    assert_eq!(windows[1]["orders_placed"], 0);
    assert_eq!(windows[1]["saga_duration_ms"]["p50"], Value::Null);
    assert_eq!(windows[2]["final"], false);
    assert_eq!(windows[2]["orders_placed"], 1);
}

#[tokio::test]
async fn accepts_rfc3339_and_defaults_to_the_last_hour() {
    let h = populated().await;
    let (status, _, body) = get(
        &h,
        "/analytics/windows?from=2023-11-14T22:14:30Z&to=2023-11-14T23:14:59%2B01:00",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let windows = body["windows"].as_array().expect("array");
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0]["start_ms"], BASE);

    let (status, _, body) = get(&h, "/analytics/windows").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["to_ms"], BASE + 3 * MINUTE);
    assert_eq!(body["from_ms"], BASE + 3 * MINUTE - 60 * MINUTE);
    let windows = body["windows"].as_array().expect("array");
    assert_eq!(windows.len(), 60);
    let placed: u64 = windows
        .iter()
        .map(|w| w["orders_placed"].as_u64().expect("count"))
        .sum();
    assert_eq!(placed, 3);
}

#[tokio::test]
async fn bad_ranges_are_problem_json_400s() {
    let h = populated().await;
    for uri in [
        "/analytics/windows?from=yesterday",
        "/analytics/windows?to=-5",
        "/analytics/windows?from=2000&to=1000",
        "/analytics/windows?from=0&to=86400001",
        "/analytics/windows?form=0",
    ] {
        let (status, content_type, body) = get(&h, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{uri}"
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{uri}: {body}"
        );
    }
}

#[tokio::test]
async fn summary_has_totals_watermark_and_the_latest_final_window() {
    let h = populated().await;
    let (status, _, body) = get(&h, "/analytics/summary").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totals"]["orders_placed"], 3);
    assert_eq!(body["totals"]["orders_confirmed"], 1);
    assert_eq!(body["totals"]["revenue_cents"], 4_200);
    assert_eq!(body["totals"]["saga_duration_ms"]["count"], 2);
    assert_eq!(body["refused_events"], 0);
    assert_eq!(body["watermark_ms"], BASE + 2 * MINUTE + 5_000);
    assert_eq!(body["watermark_lag_ms"], MINUTE - 5_000);
    assert_eq!(body["allowed_lateness_ms"], 5_000);
    assert_eq!(body["latest_final_window"]["start_ms"], BASE + MINUTE);
    assert_eq!(body["latest_final_window"]["final"], true);
    let partitions = body["partitions"].as_array().expect("array");
    assert_eq!(partitions.len(), 1);
    assert_eq!(partitions[0]["topic"], "orders");
    assert_eq!(partitions[0]["idle"], false);
}

#[tokio::test]
async fn empty_view_answers_without_a_watermark() {
    let h = Harness::new(BASE).await;
    let (status, _, body) = get(&h, "/analytics/summary").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["watermark_ms"], Value::Null);
    assert_eq!(body["latest_final_window"], Value::Null);
    assert_eq!(body["totals"]["orders_placed"], 0);
    let (status, _, body) = get(&h, "/analytics/windows").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["windows"]
            .as_array()
            .expect("array")
            .iter()
            .all(|w| w["final"] == false)
    );
}

#[tokio::test]
async fn gauges_show_the_latest_final_window() {
    let h = populated().await;
    let values = crate::metrics::read_gauge_values(h.queries(), BASE + 3 * MINUTE)
        .await
        .expect("readable");
    // The latest final window is the empty second one.
    assert_eq!(values.orders_placed, 0);
    assert_eq!(values.watermark_lag_seconds, Some(55.0));
    let metrics = tributary_telemetry::Metrics::new();
    crate::metrics::publish(&metrics, &values);
    let text = metrics.render();
    assert!(
        text.contains(r#"tributary_analytics_watermark_lag_seconds{service="analytics"} 55"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"tributary_analytics_window_orders{service="analytics",status="placed"} 0"#
        ),
        "{text}"
    );

    // Everything idle 40 s after the last event: the watermark follows the
    // wall clock (now - 30 s - 5 s) to 185 s, closing the third window.
    let now = BASE + 220_000;
    let values = crate::metrics::read_gauge_values(h.queries(), now)
        .await
        .expect("readable");
    assert_eq!(values.orders_placed, 1);
    assert_eq!(values.watermark_lag_seconds, Some(35.0));
    crate::metrics::publish(&metrics, &values);
    assert!(
        metrics.render().contains(
            r#"tributary_analytics_window_orders{service="analytics",status="placed"} 1"#
        )
    );
}
