# syntax=docker/dockerfile:1.7
# The one `tributary` binary in a small non-root image; the role is chosen
# by arguments, e.g. `docker run IMAGE run orders`.
#
#   docker build -t tributary:local .
#
# Builder and runtime are both Debian trixie, so the OpenSSL the binary links
# against at build time (native-tls) is the one the runtime image ships.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
# librdkafka and SQLite are compiled from source by their -sys crates (make
# and a C compiler come with the rust image); no cmake, no protoc.
ENV CARGO_TERM_COLOR=never \
    CARGO_TARGET_DIR=/src/target
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tributary \
 && install -D -m 0755 /src/target/release/tributary /out/tributary

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="tributary" \
      org.opencontainers.image.description="Event-streaming microservices on Kafka: services, schema registry and operator CLI in one binary" \
      org.opencontainers.image.source="https://github.com/tributary-rs/tributary" \
      org.opencontainers.image.url="https://github.com/tributary-rs/tributary" \
      org.opencontainers.image.documentation="https://github.com/tributary-rs/tributary#readme" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Tributary" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/debian:${DEBIAN_RELEASE}-slim"
# tini is PID 1: it forwards SIGTERM to tributary (which drains its consumer
# group and flushes its outbox before exiting) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3t64 zlib1g tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tributary \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tributary --shell /usr/sbin/nologin tributary \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/tributary /etc/tributary
COPY --from=builder /out/tributary /usr/local/bin/tributary
COPY deploy/docker/healthcheck.sh /usr/local/bin/tributary-healthcheck
USER 10001:10001
WORKDIR /var/lib/tributary
ENV TRIBUTARY_LOG_JSON=true \
    RUST_LOG=info,librdkafka=warn
EXPOSE 8080 8081
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=4s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/tributary-healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/tributary"]
CMD ["--help"]
