#!/usr/bin/env python3
"""Consumes bridged events from RabbitMQ with clients nobody here wrote
(pika, and confluent-kafka's Avro deserializer against our schema registry)
and prints one JSON line per decoded event. Exits non-zero if fewer than
--count messages decode within --timeout seconds.

Used by the bridge's interop test through scripts/python-interop.
"""
import argparse
import json
import sys
import time

import pika
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--amqp-url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--registry-url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    registry = SchemaRegistryClient({"url": args.registry_url})
    deserializer = AvroDeserializer(registry)
    connection = pika.BlockingConnection(pika.URLParameters(args.amqp_url))
    channel = connection.channel()
    decoded = 0
    deadline = time.monotonic() + args.timeout
    try:
        while decoded < args.count and time.monotonic() < deadline:
            method, properties, body = channel.basic_get(args.queue, auto_ack=False)
            if method is None:
                time.sleep(0.1)
                continue
            # The topic only names the subject strategy's context; the writer
            # schema comes from the id in the Confluent frame.
            topic = method.exchange.rsplit(".", 1)[-1]
            event = deserializer(body, SerializationContext(topic, MessageField.VALUE))
            headers = {
                k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
                for k, v in (properties.headers or {}).items()
            }
            print(
                json.dumps(
                    {
                        "routing_key": method.routing_key,
                        "message_id": properties.message_id,
                        "correlation_id": properties.correlation_id,
                        "ce_type": headers.get("ce_type"),
                        "event": event,
                    },
                    default=str,
                ),
                flush=True,
            )
            channel.basic_ack(method.delivery_tag)
            decoded += 1
    finally:
        connection.close()
    if decoded < args.count:
        print(f"decoded {decoded} of {args.count} messages", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
