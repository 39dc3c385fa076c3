#!/usr/bin/env bash
# Starts a real uvicorn on loopback (fresh SQLite database) and runs the graphql-http audit
# against it; exits non-zero on any failing MUST.
set -euo pipefail
cd "$(dirname "$0")"
BIN=../.venv/bin
DB_DIR=$(mktemp -d)
PORT=${CONFORMANCE_PORT:-8799}
export LEADGRAPH_DATABASE_URL="sqlite://$DB_DIR/audit.sqlite3"
export LEADGRAPH_RESCORE_INTERVAL_SECONDS=0
npm ci --no-audit --no-fund --silent
$BIN/leadgraph migrate > /dev/null
slug=$($BIN/leadgraph create-workspace "Conformance" | tail -n 1)
key=$($BIN/leadgraph create-api-key --workspace "$slug" --role ADMIN | tail -n 1)
$BIN/leadgraph serve --port "$PORT" > "$DB_DIR/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$DB_DIR"' EXIT
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break
  sleep 0.2
done
LEADGRAPH_URL="http://127.0.0.1:$PORT/graphql" LEADGRAPH_KEY="$key" node audit.mjs
LEADGRAPH_URL="http://127.0.0.1:$PORT/graphql" LEADGRAPH_KEY="$key" node subscribe.mjs
