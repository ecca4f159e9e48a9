"""Probes two properties of a Kafka-protocol broker with confluent-kafka
(librdkafka), a client this project did not write:

1. one-hop latency (produce -> a consumer already waiting) for several
   `fetch.wait.max.ms` values: a Kafka broker answers a waiting fetch as soon
   as data arrives, so the latency should not grow with the wait;
2. whether a consumer starting from an offset inside a producer's record
   batch reads from exactly that offset.

Usage: scripts/broker-probe BOOTSTRAP   (e.g. 127.0.0.1:9092)
"""

import statistics
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def new_topic(bootstrap, prefix):
    name = f"probe-{prefix}-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 1, 1)])[name].result()
    return name


def first_message(consumer, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            return message
    return None


def hop_latency(bootstrap, wait_ms, samples=20):
    topic = new_topic(bootstrap, f"hop{wait_ms}")
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 0})
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic,
                         "fetch.wait.max.ms": wait_ms, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    latencies = []
    for i in range(samples + 1):
        started = time.monotonic()
        producer.produce(topic, value=b"x")
        producer.flush()
        if first_message(consumer, 10) is None:
            raise SystemExit(f"no message within 10 s (fetch.wait.max.ms={wait_ms})")
        if i > 0:  # the first one includes starting the fetch loop
            latencies.append((time.monotonic() - started) * 1000)
        time.sleep(0.037)  # off the fetch cycle's phase
    consumer.close()
    latencies.sort()
    return statistics.median(latencies), latencies[-1]


def mid_batch(bootstrap, count=50, start=25):
    topic = new_topic(bootstrap, "midbatch")
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 200})
    for i in range(count):
        producer.produce(topic, value=f"m{i}".encode())
    producer.flush()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic,
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, start)])
    message = first_message(consumer, 10)
    consumer.close()
    return None if message is None else message.offset()


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    bootstrap = sys.argv[1]
    print("| fetch.wait.max.ms | one hop p50 ms | max ms |")
    print("|---|---|---|")
    for wait_ms in (5, 25, 100, 400):
        p50, worst = hop_latency(bootstrap, wait_ms)
        print(f"| {wait_ms} | {p50:.1f} | {worst:.1f} |")
    got = mid_batch(bootstrap)
    print()
    print(f"consumer assigned at offset 25 of a 50-message batch first read: "
          f"{'nothing within 10 s' if got is None else f'offset {got}'}")


if __name__ == "__main__":
    main()
