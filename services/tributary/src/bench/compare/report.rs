//! The Markdown document: how the run was made, then one table per
//! scenario, the plot, and what the run did not measure. Sentences that
//! interpret figures are built from the figures, so a rerun cannot leave a
//! stale claim behind.

use std::fmt::Write as _;

use super::{CompareReport, PointResult, Series, Topology};
use crate::bench::{Table, report::thousands};

fn ms(value: Option<f64>) -> String {
    match value {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "-".to_owned(),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "**no**" }
}

fn delivered(p: &PointResult) -> String {
    format!("{} / {}", p.delivered, p.expected)
}

/// Renders the whole document; the plot is linked as `svg_name`.
pub fn markdown(r: &CompareReport, svg_name: &str) -> String {
    let mut out = String::new();
    header(&mut out, r);
    throughput(&mut out, r);
    latency(&mut out, r, svg_name);
    behaviour(&mut out, r);
    not_measured(&mut out);
    out
}

fn header(out: &mut String, r: &CompareReport) {
    let _ = writeln!(out, "# Kafka (tansu) and RabbitMQ, side by side\n");
    let _ = writeln!(
        out,
        "Written by `tributary bench compare`: rerun the command to refresh it. \
         Both brokers get the same contract and the same payloads (Confluent-framed \
         Avro `OrderPlaced`, {} bytes each, cycling over {} order keys; the Kafka \
         message key is the order id), on the same machine, in one run. Every \
         figure is from that one run.\n",
        r.framed_bytes, r.keys
    );
    let _ = writeln!(out, "## The run\n");
    let _ = writeln!(out, "- Command: `{}`", r.command);
    let _ = writeln!(out, "- Date: {} (the run took {:.0} s)", r.date, r.run_secs);
    let _ = writeln!(out, "- Machine: {}", r.machine);
    let _ = writeln!(
        out,
        "- Versions: tansu {} (Kafka protocol), RabbitMQ {} (from the server properties, one node), \
         librdkafka {} through rdkafka, lapin 4",
        r.tansu_version,
        r.rabbitmq_version,
        rdkafka::util::get_rdkafka_version().1
    );
    let _ = writeln!(out, "- Kafka side: {}", r.environment);
    let _ = writeln!(out, "- RabbitMQ side: {}", r.amqp_url);
    let _ = writeln!(
        out,
        "- Durability, both sides: a publish counts once the broker confirmed it. Kafka: \
         idempotent producer, `acks=all`, the runtime's producer settings (`linger.ms` 5). \
         RabbitMQ: durable queues, persistent messages (`delivery_mode` 2), publisher \
         confirms on one channel. **Not equal underneath:** tansu here keeps its log in \
         memory (a confirmed event is in one process's memory), while RabbitMQ writes \
         persistent messages to disk before confirming.\n"
    );
    let _ = writeln!(out, "## Settings\n");
    let mut table = Table::new(["scenario", "settings"]);
    table.row([
        "consumers".to_owned(),
        format!(
            "{} per group or queue; Kafka topics with {} partitions and the runtime's consumer \
             settings (offsets stored after processing, auto-committed); \
             RabbitMQ prefetch {} per consumer, one ack per message",
            r.consumers, r.partitions, r.prefetch
        ),
    ]);
    table.row([
        "latency points".to_owned(),
        format!(
            "each offered rate for {:.0} s, open loop (event *i* due at *i*/rate, whatever \
             happened to earlier ones); latency = processed by a consumer − scheduled send \
             time; drain timeout {:.0} s after the last send",
            r.point_duration_secs, r.drain_timeout_secs
        ),
    ]);
    table.row([
        "saturation".to_owned(),
        format!(
            "{} events as fast as confirms allow, {} unconfirmed publishes in flight; \
             deliveries/s from the first send to the last delivery",
            r.saturation_events, r.in_flight
        ),
    ]);
    table.row([
        "warm-up".to_owned(),
        "200 events per rig before its first point, not reported".to_owned(),
    ]);
    let b = &r.behaviour;
    table.row([
        "behaviour".to_owned(),
        format!(
            "{} events per run, RabbitMQ with classic v2 queues, readers wait {:.1} s for one \
             more message before concluding there is none; ordering runs publish all events at \
             once and both sides' handlers take 0-3 ms by sequence number; the crashing consumer \
             acknowledges every {} messages and dies after processing {}",
            b.events, b.settle_secs, b.ack_every, b.die_after
        ),
    ]);
    let _ = writeln!(out, "{table}");
}

fn topologies(r: &CompareReport) -> impl Iterator<Item = (Topology, Vec<&Series>)> {
    [Topology::Competing, Topology::Fanout]
        .into_iter()
        .map(|t| {
            (
                t,
                r.series
                    .iter()
                    .filter(|s| s.topology == t)
                    .collect::<Vec<_>>(),
            )
        })
}

fn throughput(out: &mut String, r: &CompareReport) {
    let _ = writeln!(out, "## Throughput at saturation\n");
    let mut table = Table::new([
        "topology",
        "broker",
        "shape",
        "confirmed publishes/s",
        "deliveries/s",
        "delivered",
        "p50 ms",
        "p99 ms",
    ]);
    for s in &r.series {
        let p = &s.saturation;
        table.row([
            s.topology.label().to_owned(),
            s.broker.clone(),
            s.shape.clone(),
            thousands(p.sent_per_sec),
            thousands(p.delivered_per_sec),
            delivered(p),
            ms(p.p50_ms),
            ms(p.p99_ms),
        ]);
    }
    let _ = writeln!(out, "{table}");
    for (topology, series) in topologies(r) {
        if let Some(best) = series.iter().max_by(|a, b| {
            a.saturation
                .delivered_per_sec
                .total_cmp(&b.saturation.delivered_per_sec)
        }) {
            let others: Vec<String> = series
                .iter()
                .filter(|s| s.broker != best.broker)
                .map(|s| format!("{} {}", s.broker, thousands(s.saturation.delivered_per_sec)))
                .collect();
            let _ = writeln!(
                out,
                "- {}: {} delivered the most, {} deliveries/s (others: {}).",
                topology.label(),
                best.broker,
                thousands(best.saturation.delivered_per_sec),
                if others.is_empty() {
                    "none".to_owned()
                } else {
                    others.join(", ")
                }
            );
        }
    }
    let _ = writeln!(
        out,
        "\nLatencies at saturation are mostly queueing behind the {} publishes in flight; \
         the fixed-rate points below are the latency figures.\n",
        r.in_flight
    );
}

fn latency(out: &mut String, r: &CompareReport, svg_name: &str) {
    let _ = writeln!(out, "## Latency at fixed offered rates\n");
    let _ = writeln!(
        out,
        "![p50 and p99 end-to-end latency against offered rate, both brokers]({svg_name})\n"
    );
    let mut table = Table::new([
        "topology",
        "broker",
        "offered/s",
        "delivered",
        "p50 ms",
        "p99 ms",
        "max ms",
        "sender behind ms",
        "kept up",
    ]);
    for s in &r.series {
        for p in &s.points {
            table.row([
                s.topology.label().to_owned(),
                s.broker.clone(),
                thousands(p.offered_per_sec.unwrap_or(0.0)),
                delivered(p),
                ms(p.p50_ms),
                ms(p.p99_ms),
                ms(p.max_ms),
                format!("{:.0}", p.sender_behind_ms),
                yes_no(p.kept_up()).to_owned(),
            ]);
        }
    }
    let _ = writeln!(out, "{table}");
    let _ = writeln!(
        out,
        "\"Kept up\" means every event was delivered within the drain timeout, the sender \
         handed its last event over at most 1 s late, and p99 ≤ 1 s. Highest offered rate \
         kept up in this run (only the rates listed were tried):\n"
    );
    for s in &r.series {
        let _ = writeln!(
            out,
            "- {}, {}: {}",
            s.topology.label(),
            s.broker,
            s.highest_kept_up().map_or_else(
                || "none of the rates tried".to_owned(),
                |rate| format!("{}/s", thousands(rate))
            )
        );
    }
    let _ = writeln!(out);
}

fn behaviour(out: &mut String, r: &CompareReport) {
    let b = &r.behaviour;
    let _ = writeln!(out, "## Behaviour\n");
    let _ = writeln!(out, "### Replay of already-consumed events\n");
    let mut table = Table::new([
        "broker",
        "published",
        "consumed and acknowledged",
        "left in queue",
        "second reader",
        "read again",
    ]);
    for x in &b.replay {
        table.row([
            x.broker.clone(),
            x.published.to_string(),
            x.consumed_first.to_string(),
            x.left_in_queue
                .map_or_else(|| "-".to_owned(), |n| n.to_string()),
            x.how.clone(),
            x.read_again.to_string(),
        ]);
    }
    let _ = writeln!(out, "{table}");
    let _ = writeln!(
        out,
        "Kafka keeps consumed events in the log (until retention removes them), so any new \
         group or a seek reads them again; a classic RabbitMQ queue deletes a message once it \
         is acknowledged. (RabbitMQ streams do keep messages; they were not measured.)\n"
    );
    let _ = writeln!(
        out,
        "### Per-key ordering with {} consumers\n",
        b.ordering.first().map_or(0, |o| o.consumers)
    );
    let mut table = Table::new([
        "broker",
        "messages",
        "keys",
        "out-of-order pairs",
        "keys affected",
    ]);
    for x in &b.ordering {
        table.row([
            x.broker.clone(),
            x.count.messages.to_string(),
            x.count.keys.to_string(),
            x.count.out_of_order_pairs.to_string(),
            x.count.keys_affected.to_string(),
        ]);
    }
    let _ = writeln!(out, "{table}");
    let _ = writeln!(
        out,
        "An out-of-order pair is two messages of one key, next to each other in the order the \
         consumers finished them, where the later-sent one finished first. Kafka sends a key to \
         one partition and a partition to one consumer of the group, which handles it in order; \
         a RabbitMQ queue hands consecutive messages to whichever consumer has room, so with \
         handlers of different speed a key's messages can finish out of order (single active \
         consumer or consistent-hash exchanges avoid that; not measured).\n"
    );
    for x in &b.ordering {
        if x.broker.starts_with("RabbitMQ") && x.count.out_of_order_pairs == 0 {
            let _ = writeln!(
                out,
                "In this run RabbitMQ showed no out-of-order pair either, so the run does not \
                 demonstrate the difference.\n"
            );
        }
    }
    let _ = writeln!(out, "### A consumer that dies without acknowledging\n");
    let mut table = Table::new([
        "broker",
        "published",
        "processed before dying",
        "of which handed to it twice",
        "acknowledged/committed",
        "delivered to the replacement",
        "processed twice",
        "flagged redelivered",
        "never processed",
    ]);
    let mut notes = Vec::new();
    for x in &b.crash {
        let unacknowledged = x
            .processed_before_crash
            .saturating_sub(x.acknowledged_before_crash);
        if x.delivered_twice_before_crash > 0 {
            notes.push(format!(
                "- {}: the consumer that died was itself handed {} events a second time before \
                 it died (on Kafka: its group rebalanced after it started and it resumed from the \
                 last committed offsets); they are counted once above.",
                x.broker, x.delivered_twice_before_crash
            ));
        }
        if x.processed_twice != unacknowledged {
            notes.push(format!(
                "- {}: of the {} events processed but not acknowledged before the crash, {} were \
                 delivered again.",
                x.broker, unacknowledged, x.processed_twice
            ));
        }
        if x.never_processed > 0 {
            notes.push(format!(
                "- **{}: {} published events were processed by neither consumer** within the \
                 settle time.",
                x.broker, x.never_processed
            ));
        }
        if x.processed_twice != unacknowledged || x.never_processed > 0 {
            notes.push("  This run does not tell why.".to_owned());
        }
        table.row([
            x.broker.clone(),
            x.published.to_string(),
            x.processed_before_crash.to_string(),
            x.delivered_twice_before_crash.to_string(),
            x.acknowledged_before_crash.to_string(),
            x.delivered_after.to_string(),
            x.processed_twice.to_string(),
            x.flagged_redelivered
                .map_or_else(|| "- (no such flag)".to_owned(), |n| n.to_string()),
            x.never_processed.to_string(),
        ]);
    }
    let _ = writeln!(out, "{table}");
    for note in &notes {
        let _ = writeln!(out, "{note}");
    }
    if !notes.is_empty() {
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Both consumers acknowledge in batches (RabbitMQ: one `multiple` ack every {} messages; \
         Kafka: a synchronous commit of the consumer's positions every {}) and die after {} \
         messages, closing their connection without acknowledging the rest. Kafka restarts the \
         group from the last committed offset of each partition; RabbitMQ requeues every \
         unacknowledged delivery, including those prefetched but never processed, and marks \
         them redelivered. A process that is killed rather than closed behaves the same on \
         RabbitMQ (the connection drops) but on Kafka the group waits for the session timeout \
         first; that delay was not measured.\n",
        b.ack_every, b.ack_every, b.die_after
    );
}

fn not_measured(out: &mut String) {
    let _ = writeln!(out, "## Not measured yet\n");
    for line in [
        "tansu with durable storage (SQLite, S3) or a real Kafka cluster: the Kafka side here is one tansu process with memory storage, which flatters its durability cost.",
        "Replicated setups: one tansu broker, one RabbitMQ node (the quorum queue has a single member).",
        "RabbitMQ streams, single active consumer, consistent-hash exchanges, lazy queues.",
        "Several publishers or publishing channels, batching of RabbitMQ confirms, larger payloads.",
        "Repeated runs: one run each, no confidence intervals; neighbours' load on the shared machine moves the figures between runs.",
        "Broker CPU and memory use, and recovery after a broker restart.",
    ] {
        let _ = writeln!(out, "- {line}");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::{
        Payload,
        compare::{BehaviourReport, CrashResult, OrderingCount, OrderingResult, ReplayResult},
    };

    pub(crate) fn point(rate: Option<f64>, p99: f64) -> PointResult {
        PointResult {
            offered_per_sec: rate,
            sent: 100,
            expected: 100,
            delivered: 100,
            sent_per_sec: 1_000.0,
            delivered_per_sec: 990.0,
            p50_ms: Some(p99 / 4.0),
            p99_ms: Some(p99),
            max_ms: Some(p99 * 2.0),
            sender_behind_ms: 1.0,
        }
    }

    pub(crate) fn series(broker: &str, topology: Topology, p99s: [f64; 2]) -> Series {
        Series {
            broker: broker.to_owned(),
            topology,
            shape: "shape".to_owned(),
            saturation: point(None, 400.0),
            points: vec![point(Some(500.0), p99s[0]), point(Some(2_000.0), p99s[1])],
        }
    }

    pub(crate) fn report() -> CompareReport {
        CompareReport {
            command: "tributary bench compare".to_owned(),
            date: "2026-11-21T22:00:00Z".to_owned(),
            machine: "2 vCPUs".to_owned(),
            tansu_version: "0.6.0".to_owned(),
            rabbitmq_version: "3.10.8".to_owned(),
            environment: "tansu".to_owned(),
            amqp_url: "amqp://guest:***@127.0.0.1:5672".to_owned(),
            framed_bytes: 120,
            keys: 64,
            consumers: 2,
            partitions: 12,
            prefetch: 100,
            in_flight: 1000,
            point_duration_secs: 10.0,
            drain_timeout_secs: 20.0,
            saturation_events: 20_000,
            payload: Payload::Realistic,
            series: vec![
                series("Kafka (tansu)", Topology::Competing, [30.0, 2_500.0]),
                series("RabbitMQ (classic v2)", Topology::Competing, [3.0, 9.0]),
                series("Kafka (tansu)", Topology::Fanout, [40.0, 60.0]),
            ],
            behaviour: BehaviourReport {
                replay: vec![ReplayResult {
                    broker: "Kafka (tansu)".to_owned(),
                    published: 10,
                    consumed_first: 10,
                    left_in_queue: None,
                    read_again: 10,
                    how: "new group".to_owned(),
                }],
                ordering: vec![OrderingResult {
                    broker: "RabbitMQ (classic v2)".to_owned(),
                    consumers: 2,
                    count: OrderingCount {
                        messages: 10,
                        keys: 2,
                        out_of_order_pairs: 3,
                        keys_affected: 2,
                    },
                }],
                crash: vec![CrashResult {
                    broker: "RabbitMQ (classic v2)".to_owned(),
                    published: 10,
                    processed_before_crash: 5,
                    delivered_twice_before_crash: 0,
                    acknowledged_before_crash: 4,
                    delivered_after: 6,
                    processed_twice: 1,
                    flagged_redelivered: Some(6),
                    never_processed: 0,
                }],
                events: 10,
                ack_every: 4,
                die_after: 5,
                settle_secs: 2.0,
            },
            run_secs: 200.0,
        }
    }

    #[test]
    fn the_document_has_every_section_and_the_plot() {
        let text = markdown(&report(), "comparison.svg");
        for section in [
            "## The run",
            "## Settings",
            "## Throughput at saturation",
            "## Latency at fixed offered rates",
            "![p50 and p99",
            "(comparison.svg)",
            "### Replay of already-consumed events",
            "### Per-key ordering with 2 consumers",
            "### A consumer that dies without acknowledging",
            "## Not measured yet",
            "RabbitMQ 3.10.8",
        ] {
            assert!(text.contains(section), "missing {section:?}");
        }
    }

    #[test]
    fn interpretations_follow_the_figures() {
        let text = markdown(&report(), "x.svg");
        // Kafka's 2,000/s point has p99 2.5 s: only 500/s kept up.
        assert!(text.contains("- competing consumers, Kafka (tansu): 500/s"));
        assert!(text.contains("- competing consumers, RabbitMQ (classic v2): 2,000/s"));
        assert!(text.contains("| 3 "), "out-of-order pairs in the table");
        assert!(text.contains("- (no such flag)") || text.contains("| 6 "));
    }
}
