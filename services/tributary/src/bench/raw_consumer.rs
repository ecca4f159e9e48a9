//! The librdkafka configuration of the benchmarks' raw readers.

use rdkafka::ClientConfig;
use tributary_bus::BusConfig;

/// The runtime's prefetch bounds apply to each partition's own queue, which
/// the runtime splits off; a raw consumer reads every partition from one
/// shared queue, to which librdkafka would apply them as a whole, and
/// whenever that queue holds more it postpones every partition's next fetch
/// (measured: the raw side then spends nearly all its time waiting). So
/// raw readers get librdkafka's own defaults back for these two keys.
const SHARED_QUEUE_DEFAULTS: [(&str, &str); 2] = [
    ("queued.min.messages", "100000"),
    ("queued.max.messages.kbytes", "65536"),
];

/// The runtime's consumer configuration for a member of `group`, but for
/// the per-queue prefetch bounds (unless the run overrode them with
/// `--librdkafka`, which then applies to every side alike).
pub(crate) fn raw_consumer_config(bus: &BusConfig, group: &str) -> ClientConfig {
    let mut config = bus.consumer_client_config(group);
    for (key, value) in SHARED_QUEUE_DEFAULTS {
        if !bus.librdkafka.contains_key(key) {
            config.set(key, value);
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_readers_get_the_shared_queue_defaults_unless_overridden() {
        let mut bus = BusConfig::new("127.0.0.1:9092", "http://127.0.0.1:8081");
        let config = raw_consumer_config(&bus, "g");
        assert_eq!(config.get("queued.min.messages"), Some("100000"));
        assert_eq!(config.get("queued.max.messages.kbytes"), Some("65536"));

        bus.librdkafka
            .insert("queued.min.messages".into(), "1000".into());
        let config = raw_consumer_config(&bus, "g");
        assert_eq!(config.get("queued.min.messages"), Some("1000"));
        assert_eq!(config.get("group.id"), Some("g"));
    }
}
