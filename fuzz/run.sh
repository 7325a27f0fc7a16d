#!/usr/bin/env bash
# Builds the fuzz targets and runs each one for a bounded time, one after the other.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default: $FUZZ_SECONDS or 20 s, all)
#
# FUZZ_CODEGEN_UNITS (default 1, cargo-fuzz's own default): 16 builds about twice as
# fast from scratch and runs somewhat slower, the better trade for brief runs (CI).
#
# Prints, per target, libFuzzer's executions and coverage; exits non-zero when a target
# crashed (a panic, a failed assertion, a timeout, running out of memory), after running
# the others. A crashing input is kept in fuzz/artifacts/<target>/; replay it with
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none <target> artifacts/<target>/<file>
#
# Toolchain: cargo-fuzz needs nightly flags; the only toolchain here is stable, so
# RUSTC_BOOTSTRAP=1 unlocks them. The targets are built without a sanitizer
# (FUZZ_SANITIZER, default `none`): AddressSanitizer does work this way (`address`), but
# runs `verify` 4-5 times slower (about 4,000 executions per second instead of 20,000),
# and finds little here: jwt-tower is `#![forbid(unsafe_code)]`, bounds and overflow
# checks are on anyway (cargo-fuzz builds with debug assertions), and the C code beneath
# (aws-lc) is not instrumented by cargo-fuzz.
#
# The corpus grows in fuzz/corpus/<target>/ (not committed), started from the seeds in
# fuzz/seeds/<target>/ (committed).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-${FUZZ_SECONDS:-20}}"
shift $(($# > 0 ? 1 : 0))
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: installing it"
  cargo install cargo-fuzz --locked
fi
cargo fuzz --version

fuzz=(cargo fuzz)
opts=(--sanitizer "${FUZZ_SANITIZER:-none}" --codegen-units "${FUZZ_CODEGEN_UNITS:-1}")
if (($# > 0)); then
  targets=("$@")
else
  mapfile -t targets < <("${fuzz[@]}" list)
fi

echo "building ${targets[*]}"
"${fuzz[@]}" build "${opts[@]}"

failed=()
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  seeds=()
  [[ -d "seeds/$target" ]] && seeds=("seeds/$target")
  log="artifacts/$target/last-run.log"
  echo
  echo "-- $target: ${seconds} s"
  status=0
  "${fuzz[@]}" run "${opts[@]}" "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -timeout=25 -print_final_stats=1 >"$log" 2>&1 || status=$?
  # The last status line and the final stats (absent when the target did not start).
  status_line=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$status_line" || true)
  corpus=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$status_line" || true)
  line="$target: ${execs:-?} executions, ${cov:-cov: ?}, ${corpus:-corp: ?}"
  if ((status != 0)); then
    line="$line, CRASHED (exit $status)"
    failed+=("$target")
    # The panic message and the input that caused it.
    if grep -q -E 'panicked at|ERROR: libFuzzer|SUMMARY:' "$log"; then
      grep -E -A 12 'panicked at|ERROR: libFuzzer|SUMMARY:' "$log" | head -n 60
      grep -E 'Test unit written to' "$log" || true
    else
      tail -n 20 "$log"
    fi
  fi
  [[ -n "$status_line" ]] && echo "$status_line"
  echo "$line"
  summary+=("$line")
done

echo
echo "fuzz summary (${seconds} s per target):"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
  echo "crashed: ${failed[*]}" >&2
  exit 1
fi
