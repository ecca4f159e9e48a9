//! Assertions and names shared by the tests.

use tributary::load::LoadReport;

/// Every consuming service's consumer group (`tributary.<service>`).
pub const SERVICE_GROUPS: [&str; 5] = [
    "tributary.inventory",
    "tributary.payments",
    "tributary.orders",
    "tributary.notifications",
    "tributary.analytics",
];

/// Every scheduled order was accepted, every saga ended, every invariant
/// holds, and the mix produced all three outcomes.
pub fn assert_clean_run(report: &LoadReport) {
    let text = report.render();
    assert!(report.passed, "the run failed:\n{text}");
    assert_eq!(report.send.accepted, report.send.planned, "{text}");
    assert_eq!(report.outcomes.pending, 0, "{text}");
    assert!(report.outcomes.confirmed > 0, "{text}");
    for reason in ["STOCK_REJECTED", "PAYMENT_DECLINED"] {
        assert!(
            report.outcomes.cancelled.get(reason).copied().unwrap_or(0) > 0,
            "no order cancelled with {reason}:\n{text}"
        );
    }
}

/// Sum of the samples of `metric` (a counter's exported name, e.g.
/// `tributary_events_consumed_total`) in a Prometheus text page.
pub fn metric_sum(page: &str, metric: &str) -> f64 {
    page.lines()
        .filter(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn metric_sums_add_every_label_set() {
    let page = "# TYPE tributary_events_consumed counter\n\
                tributary_events_consumed_total{topic=\"orders\",group=\"g\"} 3\n\
                tributary_events_consumed_total{topic=\"payments\",group=\"g\"} 4\n\
                tributary_events_consumed_totally 100\n";
    assert!((metric_sum(page, "tributary_events_consumed_total") - 7.0).abs() < f64::EPSILON);
}
