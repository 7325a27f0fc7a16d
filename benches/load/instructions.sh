#!/usr/bin/env bash
# Instructions per request of benches/load/load_target.rs, user space, counted by callgrind:
# deterministic, so it compares configurations on a busy machine where req/s cannot.
#
#   benches/load/instructions.sh [CONFIG...]     CONFIG: AUTH or AUTH+cache (default: a set)
#
# Each configuration serves N1 and then, in a second process, N2 requests over one
# keep-alive connection; (total(N2) - total(N1)) / (N2 - N1) cancels start-up (key
# generation, entropy, the runtime) and leaves the cost of one request. Kernel time (TCP
# on loopback, about half of a real request's CPU) is not counted; valgrind also lacks
# SHA-NI, so HMAC and SHA-256 count more instructions here than they cost natively.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
N1=${N1:-500}
N2=${N2:-2500}
configs=("$@")
((${#configs[@]})) || configs=(none HS256 HS256+cache RS256 RS256+cache ES256+cache EdDSA+cache floor-HS256 empty-layer)
cargo build --release --example load_target --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

total() { # AUTH CACHE REQUESTS -> instructions
  rm -f "$work"/cg.* "$work"/stdout
  LOAD_AUTH=$1 LOAD_CACHE=$2 LOAD_THREADS=1 valgrind --tool=callgrind \
    --callgrind-out-file="$work/cg.%p" "${CARGO_TARGET_DIR:-target}/release/examples/load_target" \
    >"$work/stdout" 2>/dev/null &
  local pid=$!
  for _ in $(seq 300); do grep -q '^token ' "$work/stdout" 2>/dev/null && break; sleep 0.1; done
  python3 - "$(sed -n 's/^listening on //p' "$work/stdout")" \
    "$(sed -n 's/^token //p' "$work/stdout")" "$3" <<'PY'
import http.client, sys
addr, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = addr.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
for _ in range(n):
    conn.request("GET", "/me", headers={"Authorization": "Bearer " + token})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
PY
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
  sed -n 's/^totals: //p' "$work"/cg.* | awk '{s += $1} END {print s}'
}

printf '%-14s %12s %12s\n' configuration "instr/req" "/ baseline"
per_request() { # CONFIG -> instructions per request
  local auth=${1%+cache} cache=0
  [[ $1 == *+cache ]] && cache=1
  local a b
  a=$(total "$auth" "$cache" "$N1")
  b=$(total "$auth" "$cache" "$N2")
  echo $(((b - a) / (N2 - N1)))
}
base=$(per_request none)
printf '%-14s %12d %12s\n' "none (baseline)" "$base" 1.00
for config in "${configs[@]}"; do
  [[ $config == none ]] && continue
  per=$(per_request "$config")
  printf '%-14s %12d %12s\n' "$config" "$per" "$(awk "BEGIN {printf \"%.2f\", $per / $base}")"
done
