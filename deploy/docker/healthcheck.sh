#!/bin/bash
# Container health probe: GET /health/ready on this container's own HTTP
# port with bash's /dev/tcp, because the runtime image carries no curl.
# The port comes from the same settings the process reads: the registry's
# TRIBUTARY__REGISTRY__LISTEN (default 8081) when PID 1 runs the registry,
# otherwise TRIBUTARY__SERVICE__HTTP_LISTEN (default 8080);
# TRIBUTARY_HEALTH_PORT overrides both.
set -u
path="${1:-/health/ready}"
if tr '\0' ' ' </proc/1/cmdline 2>/dev/null | grep -q ' run registry'; then
  listen="${TRIBUTARY__REGISTRY__LISTEN:-0.0.0.0:8081}"
else
  listen="${TRIBUTARY__SERVICE__HTTP_LISTEN:-0.0.0.0:8080}"
fi
port="${TRIBUTARY_HEALTH_PORT:-${listen##*:}}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 3 status <&3 || exit 1
case "$status" in
  "HTTP/1."?" 200"*) exit 0 ;;
  *) echo "unhealthy: ${status%$'\r'}" >&2; exit 1 ;;
esac
