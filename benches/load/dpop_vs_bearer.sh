#!/usr/bin/env bash
# req/s of an ES256 token sent as Bearer against the same kind of token bound to an
# ES256 DPoP key, each request with its own proof (see BENCHMARKS.md, "DPoP").
# load_target runs on CPU 0 with one worker, wrk on CPU 1 (1 thread, 8 connections,
# 8 s), the two alternated ROUNDS times (default 3). Needs wrk and taskset.
#
#   benches/load/dpop_vs_bearer.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
cargo build --release --example load_target --quiet
bin=${CARGO_TARGET_DIR:-target}/release/examples/load_target
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

one() { # LOAD_AUTH WRK_SCRIPT
  BIND=127.0.0.1:0 LOAD_AUTH=$1 LOAD_THREADS=1 LOAD_DPOP_PROOFS=150000 \
    LOAD_DPOP_PROOFS_FILE="$work/proofs" taskset -c 0 "$bin" >"$work/out" 2>/dev/null &
  local pid=$!
  for _ in $(seq 300); do grep -q '^token ' "$work/out" 2>/dev/null && break; sleep 0.1; done
  local addr token
  addr=$(sed -n 's/^listening on //p' "$work/out")
  token=$(sed -n 's/^token //p' "$work/out")
  TOKEN=$token PROOFS=$work/proofs taskset -c 1 wrk -t1 -c8 -d8s -s "$2" "http://$addr/me" |
    awk -v config="$1" '/Requests\/sec/ {print config, $2} /Non-2xx/ {print config, "refused:", $0}'
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

for _ in $(seq "$rounds"); do
  one ES256 benches/load/wrk_bearer.lua
  one dpop-ES256 benches/load/wrk_dpop.lua
done
