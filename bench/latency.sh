#!/usr/bin/env bash
# bench/latency.sh: how long does an alarm take to come out of mistgate, beside one plain
# HTTP hop measured in the same run?
#
# Run from anywhere:   bench/latency.sh
#
# Builds (release) mistgate and `latency` (bench/baseline/src/bin/latency.rs), then runs
# `latency`, which holds the client and the receiver in one process (one clock):
#   1. it binds a receiver on port 0 and starts `mistgate serve` (fresh data dir, port 0)
#      with a Standard Webhooks target at the receiver behind a `flow = "incident"`
#      route, and creates a Mist-format webhook subscription for `alarms` with
#      `single_event_per_message` through /api/v1/orgs/{org}/webhooks, also to the
#      receiver;
#   2. it posts ALARMS `device_down` alarms one at a time, each for a new AP (a down
#      alarm opens a device-down incident at once: no flap hold-down is configured), and
#      for each waits until the receiver holds the incident's `opened` message and the
#      Mist delivery of the alarm; WARMUP alarms before them are not counted;
#   3. after each alarm, the same client posts the same body straight to the receiver:
#      the baseline;
#   4. it reads mistgate's CPU time over IDLE_SECONDS with nothing to do.
# Printed (Markdown): p50, p99 and max in ms of send → 200 (ingest), 200 → `opened` at the
# receiver (incident route), 200 → alarm at the receiver (Mist subscription), and send →
# arrival for the baseline; then the idle CPU.
#
# Knobs (environment):
#   ALARMS=200 WARMUP=10 IDLE_SECONDS=5
#   SKIP_BUILD=1              use the binaries already in target/release
#   BENCH_MISTGATE=PATH       another mistgate binary (to measure an older build)
# Any MISTGATE_* variable in the caller's environment is cleared by `latency` before it
# starts mistgate.
#
# Exit status: 0; 1 when the build failed; 2 when a delivery did not arrive within 10 s
# or mistgate did not start.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ALARMS=${ALARMS:-200}
WARMUP=${WARMUP:-10}
IDLE_SECONDS=${IDLE_SECONDS:-5}

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "latency.sh: building (release)" >&2
    cargo build --release --locked -p mistgate --bin mistgate >&2 || exit 1
    cargo build --release --locked -p mistgate-bench-baseline --bin latency >&2 || exit 1
fi
MISTGATE=${BENCH_MISTGATE:-target/release/mistgate}

echo "### bench/latency.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)'), $(nproc) cores"
echo
echo "mistgate: \`$MISTGATE\`"
echo
target/release/latency --mistgate "$MISTGATE" --alarms "$ALARMS" --warmup "$WARMUP" \
    --idle-seconds "$IDLE_SECONDS"
