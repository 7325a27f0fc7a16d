#!/usr/bin/env bash
# Instructions per `GET /me`, user space, counted by callgrind: deterministic, so it
# compares configurations on a busy machine where req/s cannot.
#
#   benches/load/instructions.sh [CONFIG...]
#
# CONFIG is one of
#   AUTH or AUTH+cache   benches/load/load_target.rs with LOAD_AUTH=AUTH (none, HS256,
#                        RS256, ES256, EdDSA, floor-HS256, empty-layer, ...), the verified-
#                        token cache off or on; dpop-ALG (dpop-ES256): DPoP required, each
#                        request `Authorization: DPoP` with its own ES256 proof;
#                        introspect: an opaque token, answered from the introspection
#                        cache (an endpoint inside load_target answers it active once)
#   resource_server      the `resource_server` example as shipped (HS256, JWT_ISSUER,
#                        JWT_AUDIENCE, no Redis, no cache), claims answered as JSON;
#                        resource_server:RS256 the same with an RSA public key
#   PEER:ALG             a peer of benches/peers (jwt-authorizer or axum-jwt-auth) with ALG
#                        (HS256, RS256, ES256, EdDSA), sent a token minted as load_target's
# The default is a set of load_target's configurations. Every row is also given as a
# ratio to `none`, load_target without authentication.
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
((${#configs[@]})) || configs=(HS256 HS256+cache RS256 RS256+cache ES256+cache EdDSA+cache floor-HS256 empty-layer)
target=${CARGO_TARGET_DIR:-target}
cargo build --release --example load_target --example resource_server --quiet
if [[ " ${configs[*]} " == *:* ]]; then
  cargo build --release --locked --quiet --manifest-path benches/peers/Cargo.toml \
    --target-dir "$target/peers"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The resource_server example's configuration; the token is minted here, as by run.py.
RS_SECRET=resource-server-load-secret-0123456789abcdef0123456789abcdef
RS_ISSUER=https://auth.load.test
RS_AUDIENCE=load-api

minted() { # ALG -> a token from load_target, what jwt-tower's rows are sent
  LOAD_AUTH=$1 LOAD_THREADS=1 "$target/release/examples/load_target" >"$work/mint" &
  local pid=$!
  for _ in $(seq 100); do grep -q '^token ' "$work/mint" 2>/dev/null && break; sleep 0.1; done
  # SIGTERM: it may not have installed its Ctrl-C handler yet, and a background job
  # ignores SIGINT until it does.
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  sed -n 's/^token //p' "$work/mint"
}

resource_server_token() {
  python3 - "$RS_SECRET" "$RS_ISSUER" "$RS_AUDIENCE" <<'PY'
import base64, hashlib, hmac, json, sys, time
secret, iss, aud = sys.argv[1:4]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
claims = {"iss": iss, "aud": aud, "sub": "load-user-7f3a9c2e", "iat": now, "nbf": now,
          "exp": now + 3600, "scope": "orders:read profile"}
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps(claims, separators=(",", ":")).encode())
sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
print(f"{head}.{body}.{b64(sig)}")
PY
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

total() { # CONFIG REQUESTS -> instructions
  local config=$1 requests=$2 addr="" token="" proofs="" pid
  rm -f "$work"/cg.* "$work"/stdout
  local callgrind=(valgrind --tool=callgrind "--callgrind-out-file=$work/cg.%p")
  case $config in
    resource_server | resource_server:RS256)
      addr=127.0.0.1:$(free_port)
      local keys=(JWT_HS256_SECRET="$RS_SECRET" JWT_ALGORITHMS=HS256)
      if [[ $config == *:RS256 ]]; then
        # load_target's RS256 token: the same issuer, audience and subject, its key.
        token=$(minted RS256)
        keys=(JWT_PUBLIC_KEY_PEM_FILE=jwt-tower/tests/keys/rsa2048-public.pem JWT_KID=load-key
          JWT_ALGORITHMS=RS256)
      else
        token=$(resource_server_token)
      fi
      env -u REDIS_URL BIND="$addr" "${keys[@]}" JWT_ISSUER="$RS_ISSUER" JWT_AUDIENCE="$RS_AUDIENCE" \
        TOKIO_WORKER_THREADS=1 RUST_LOG=warn \
        "${callgrind[@]}" "$target/release/examples/resource_server" >"$work/stdout" 2>/dev/null &
      pid=$!
      ;;
    *:*)
      local peer=${config%%:*} alg=${config#*:}
      token=$(minted "$alg")
      LOAD_AUTH=$alg LOAD_THREADS=1 "${callgrind[@]}" "$target/peers/release/${peer//-/_}" \
        >"$work/stdout" 2>/dev/null &
      pid=$!
      ;;
    *)
      local cache=0
      [[ $config == *+cache ]] && cache=1
      # dpop-ALG: a proof file, one fresh proof per request (see load_target's docs).
      [[ $config == dpop-* ]] && proofs=$work/proofs
      LOAD_AUTH=${config%+cache} LOAD_CACHE=$cache LOAD_THREADS=1 LOAD_DPOP_PROOFS_FILE=$work/proofs \
        "${callgrind[@]}" "$target/release/examples/load_target" >"$work/stdout" 2>/dev/null &
      pid=$!
      ;;
  esac
  for _ in $(seq 600); do
    if [[ -z $addr ]]; then
      # load_target prints its token after its address: wait for the line needed last.
      grep -q "^$([[ -n $token ]] && echo 'listening on' || echo token) " "$work/stdout" 2>/dev/null && break
    elif python3 -c "import socket, sys; socket.create_connection(('${addr%:*}', ${addr##*:}), 1)" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  [[ -n $addr ]] || addr=$(sed -n 's/^listening on //p' "$work/stdout")
  [[ -n $token ]] || token=$(sed -n 's/^token //p' "$work/stdout")
  python3 - "$addr" "$token" "$requests" "$proofs" <<'PY'
import http.client, sys
addr, token, n, proofs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
host, port = addr.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
proofs = open(proofs).read().split() if proofs else None
for i in range(n):
    if proofs:
        headers = {"Authorization": "DPoP " + token, "DPoP": proofs[i]}
    else:
        headers = {"Authorization": "Bearer " + token}
    conn.request("GET", "/me", headers=headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
PY
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
  sed -n 's/^totals: //p' "$work"/cg.* | awk '{s += $1} END {printf "%.0f\n", s}'
}

per_request() { # CONFIG -> instructions per request
  local a b
  a=$(total "$1" "$N1")
  b=$(total "$1" "$N2")
  echo $(((b - a) / (N2 - N1)))
}

printf '%-22s %12s %12s\n' configuration "instr/req" "/ none"
base=$(per_request none)
printf '%-22s %12d %12s\n' "none (baseline)" "$base" 1.00
for config in "${configs[@]}"; do
  [[ $config == none ]] && continue
  per=$(per_request "$config")
  printf '%-22s %12d %12s\n' "$config" "$per" "$(awk "BEGIN {printf \"%.2f\", $per / $base}")"
done
