#!/usr/bin/env bash
# bench/memory.sh: how much memory does mistgate hold while a flood fills its duplicate
# index, and how much once restarted over that data and idle?
#
# Run from the repository root:   bench/memory.sh
#
# What runs, on 127.0.0.1, in a temporary directory:
#   1. `mistgate serve` (release) on a free port with a fresh data dir, one signed source,
#      the default duplicate window (24 h) and index capacity, every stage on.
#   2. Two `mistgate simulate --flood` side by side: LOCATION_EVENTS `location` events
#      (LOCATION_BATCH per message) and ALARM_EVENTS `alarms` (ALARM_BATCH per message),
#      every event new, so the duplicate index fills to its capacity.
#      Meanwhile the server's VmRSS is sampled every SAMPLE_MS from /proc/PID/status; its
#      VmHWM (the kernel's own high-water mark) is read at the end of the flood.
#   3. SIGTERM, then `mistgate serve` again over the same data dir: it rebuilds the index
#      from the stored fingerprints. Once /readyz answers 200 with every stage's lag at 0,
#      RSS is sampled for IDLE_S more seconds; the last sample is the idle figure.
# It prints a Markdown table with the figures beside the goals (peak <= PEAK_GOAL_MB
# during the flood, idle <= IDLE_GOAL_MB after the restart).
#
# Knobs (environment):
#   LOCATION_EVENTS=2000000 LOCATION_BATCH=100  ALARM_EVENTS=200000 ALARM_BATCH=10
#   CONNS=16              connections of each simulator
#   SYNCHRONOUS=full      mistgate [storage] synchronous
#   DEDUP_WINDOW=24h      mistgate [ingest] dedup_window
#   SAMPLE_MS=200  IDLE_S=10  READY_S=300 (most seconds the restart may take to be idle)
#   PEAK_GOAL_MB=150 IDLE_GOAL_MB=60
#   MEMORY_REV=           build this git revision (e.g. HEAD) from a snapshot instead of
#                         the working tree (into target/memory-rev)
#   SKIP_BUILD=1          use the binary already built
#   BENCH_MISTGATE=PATH   run this binary instead (no build)
#   KEEP=1                keep the temporary directory (logs, samples, data)
# Any MISTGATE_* variable in the caller's environment is cleared.
#
# Needs: cargo, python3, curl. Exit status: 0 both goals met; 1 set-up failed; 2 a goal
# missed or the flood was not stored whole.
# Progress goes to stderr; the report (Markdown) to stdout.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ORIG_CMD="bench/memory.sh${*:+ $*}"

LOCATION_EVENTS=${LOCATION_EVENTS:-2000000}
LOCATION_BATCH=${LOCATION_BATCH:-100}
ALARM_EVENTS=${ALARM_EVENTS:-200000}
ALARM_BATCH=${ALARM_BATCH:-10}
CONNS=${CONNS:-16}
SYNCHRONOUS=${SYNCHRONOUS:-full}
DEDUP_WINDOW=${DEDUP_WINDOW:-24h}
SAMPLE_MS=${SAMPLE_MS:-200}
IDLE_S=${IDLE_S:-10}
READY_S=${READY_S:-300}
PEAK_GOAL_MB=${PEAK_GOAL_MB:-150}
IDLE_GOAL_MB=${IDLE_GOAL_MB:-60}
MEMORY_REV=${MEMORY_REV:-}

SECRET=memory-bench-secret-2b7e
TOKEN=memory-bench-token-9c41d0e6
START_TIMEOUT_S=120 # the restart rebuilds the index before it listens
STOP_TIMEOUT_S=30

SCRIPT=memory.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_args "$@"
bench_clean_env
for k in LOCATION_EVENTS LOCATION_BATCH ALARM_EVENTS ALARM_BATCH CONNS SAMPLE_MS IDLE_S READY_S \
    PEAK_GOAL_MB IDLE_GOAL_MB; do
    positive "$k" "${!k}"
done
for tool in cargo python3 curl git; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

# ---------------------------------------------------------------------------------------
# Build, from the working tree or from a snapshot of MEMORY_REV.

if [[ -n ${BENCH_MISTGATE:-} ]]; then
    MISTGATE=$BENCH_MISTGATE
    GIT_REV="(BENCH_MISTGATE=$BENCH_MISTGATE)"
else
    SRC=$ROOT
    if [[ -n $MEMORY_REV ]]; then
        rev=$(git -C "$ROOT" rev-parse --verify "$MEMORY_REV^{commit}") ||
            die "MEMORY_REV '$MEMORY_REV' is not a commit"
        SRC=$ROOT/target/memory-src
        # Only the files that differ are replaced (rsync by checksum): new mtimes on
        # every file would rebuild the whole workspace.
        if [[ ! -f $SRC/.memory-rev || $(cat "$SRC/.memory-rev") != "$rev" ]]; then
            command -v rsync >/dev/null 2>&1 || die "rsync is required for MEMORY_REV"
            snap=$(mktemp -d "${TMPDIR:-/tmp}/mistgate-memory-src.XXXXXX")
            git -C "$ROOT" archive "$rev" | tar -x -C "$snap"
            echo "$rev" >"$snap/.memory-rev"
            mkdir -p "$SRC"
            rsync -rlc --delete "$snap/" "$SRC/"
            rm -rf "$snap"
        fi
        GIT_REV="$(git -C "$ROOT" rev-parse --short=12 "$rev") (MEMORY_REV=$MEMORY_REV)"
    else
        GIT_REV=$(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
    fi
    # A snapshot builds into its own target dir: it neither rebuilds nor replaces the
    # working tree's target/release/mistgate.
    TARGET=$ROOT/target
    [[ -n $MEMORY_REV ]] && TARGET=$ROOT/target/memory-rev
    MISTGATE=$TARGET/release/mistgate
    if [[ ${SKIP_BUILD:-0} != 1 ]]; then
        note "building mistgate (release) from ${MEMORY_REV:+commit }$GIT_REV"
        (cd "$SRC" && cargo build --release --locked --bin mistgate --target-dir "$TARGET") ||
            die "cargo build failed"
    fi
fi
[[ -x $MISTGATE ]] || die "no $MISTGATE (build it, or drop SKIP_BUILD)"

# ---------------------------------------------------------------------------------------
# Work dir, children, cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mistgate-memory.XXXXXX")
DATA=$WORK/data
# A copy: a build elsewhere during the run must not change the binary the restart runs.
cp "$MISTGATE" "$WORK/mistgate"
MISTGATE=$WORK/mistgate
MG_PID=
SAMPLER_PID=
SIM_PIDS=()

cleanup() {
    local p
    for p in "${SIM_PIDS[@]}" $SAMPLER_PID $MG_PID; do
        [[ -n $p ]] && stop_pid "$p"
    done
    if [[ ${KEEP:-0} == 1 ]]; then
        note "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$WORK/mistgate.toml" <<EOF
[[sources]]
name = "flood"
secrets = ["$SECRET"]
accept_v1_signature = false

[ingest]
dedup_window = "$DEDUP_WINDOW"

[storage]
synchronous = "$SYNCHRONOUS"
EOF

# start_server NAME: starts mistgate over $DATA, waits (bounded) for `listening on
# http://ADDR`. Sets MG_PID, MG_ADDR and START_MS (how long it took to listen).
start_server() {
    local name=$1 out="$WORK/$1.stdout" t0
    : >"$out"
    t0=$(date +%s%3N)
    MISTGATE_API_TOKEN=$TOKEN "$MISTGATE" serve --listen 127.0.0.1:0 --data-dir "$DATA" \
        --config "$WORK/mistgate.toml" >"$out" 2>"$WORK/$name.log" </dev/null &
    MG_PID=$!
    MG_ADDR=$(wait_listening "mistgate ($name)" "$MG_PID" "$out" "$WORK/$name.log")
    START_MS=$(($(date +%s%3N) - t0))
}

# sample PID FILE: appends `ms_since_start rss_kb` every SAMPLE_MS while PID lives.
sample() {
    local pid=$1 file=$2 t0 rss
    t0=$(date +%s%3N)
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n $rss ]] && echo "$(($(date +%s%3N) - t0)) $rss" >>"$file"
        sleep "$(awk -v ms="$SAMPLE_MS" 'BEGIN {print ms / 1000}')"
    done
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
max_of() { awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' "$1"; }
mb() { awk -v kb="$1" 'BEGIN {printf "%.0f", kb / 1024}'; }

# events and duplicates stored so far (from /api/v1/stats), as `EVENTS DUPLICATES`.
stored() {
    curl -sS --max-time 10 -H "Authorization: Token $TOKEN" "http://$MG_ADDR/api/v1/stats" |
        python3 -c 'import json,sys; t = json.load(sys.stdin)["totals"]; print(t["events"], t.get("duplicates", 0))'
}

# ---------------------------------------------------------------------------------------
# 1-2. Flood.

start_server flood
FRESH_KB=$(status_kb "$MG_PID" VmRSS)
note "mistgate listening on $MG_ADDR ($(mb "$FRESH_KB") MB at a fresh start); flooding $LOCATION_EVENTS location events and $ALARM_EVENTS alarms"
sample "$MG_PID" "$WORK/flood.samples" &
SAMPLER_PID=$!
flood() {
    local name=$1 topic=$2 events=$3 batch=$4 seed=$5
    "$MISTGATE" simulate --target "http://$MG_ADDR/ingest/flood" --secret "$SECRET" --flood \
        --topics "$topic" --batch "$batch" --count $(((events + batch - 1) / batch)) \
        --connections "$CONNS" --seed "$seed" --json >"$WORK/$name.json" 2>"$WORK/$name.err" </dev/null &
    SIM_PIDS+=($!)
}
T0=$(date +%s%3N)
flood sim-location location "$LOCATION_EVENTS" "$LOCATION_BATCH" 7
flood sim-alarms alarms "$ALARM_EVENTS" "$ALARM_BATCH" 8
for p in "${SIM_PIDS[@]}"; do
    status=0
    wait "$p" || status=$?
    # 1 only says that some answers were not 2xx: the summary tells.
    ((status <= 1)) || die "a simulator failed: $(cat "$WORK"/sim-*.err)"
done
SIM_PIDS=()
FLOOD_S=$(awk -v ms="$(($(date +%s%3N) - T0))" 'BEGIN {printf "%.1f", ms / 1000}')
ACKED=$(python3 -c '
import json, sys
print(sum(json.load(open(f))["acknowledged"] for f in sys.argv[1:]))' "$WORK"/sim-location.json "$WORK"/sim-alarms.json)
SENT=$(python3 -c '
import json, sys
print(sum(json.load(open(f))["events"] for f in sys.argv[1:]))' "$WORK"/sim-location.json "$WORK"/sim-alarms.json)
PEAK_HWM_KB=$(status_kb "$MG_PID" VmHWM)
END_RSS_KB=$(status_kb "$MG_PID" VmRSS)
read -r EVENTS DUPS <<<"$(stored)"
note "flood done in ${FLOOD_S}s: $SENT events sent in messages, $ACKED messages acknowledged, $EVENTS events stored ($DUPS duplicates); VmHWM $(mb "$PEAK_HWM_KB") MB"
stop_pid "$SAMPLER_PID"
SAMPLER_PID=
PEAK_SAMPLED_KB=$(max_of "$WORK/flood.samples")

# ---------------------------------------------------------------------------------------
# 3. Restart over the same data, wait until ready and idle.

note "stopping mistgate (SIGTERM) and starting it again over the same data"
stop_pid "$MG_PID"
MG_PID=
start_server restart
note "listening again after ${START_MS} ms; waiting for /readyz and every stage's lag at 0"
deadline=$(($(date +%s) + READY_S))
until curl -sf --max-time 10 "http://$MG_ADDR/readyz" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if r["status"] == "ready" and all(s["lag_events"] == 0 for s in r["stages"]) else 1)'; do
    (($(date +%s) < deadline)) || die "not ready and idle within ${READY_S}s after the restart"
    sleep 0.5
done
note "ready and idle; sampling RSS for ${IDLE_S}s"
sample "$MG_PID" "$WORK/idle.samples" &
SAMPLER_PID=$!
sleep "$IDLE_S"
stop_pid "$SAMPLER_PID"
SAMPLER_PID=
IDLE_KB=$(tail -n 1 "$WORK/idle.samples" | awk '{print $2}')
RESTART_HWM_KB=$(status_kb "$MG_PID" VmHWM)
read -r EVENTS2 _ <<<"$(stored)"

# ---------------------------------------------------------------------------------------
# Report.

BAD=0
PEAK_MB=$(mb "$PEAK_HWM_KB")
IDLE_MB=$(mb "$IDLE_KB")
verdict() { if (($1 <= $2)); then echo "met"; else echo "MISSED"; fi; }
PEAK_V=$(verdict "$PEAK_MB" "$PEAK_GOAL_MB")
IDLE_V=$(verdict "$IDLE_MB" "$IDLE_GOAL_MB")
[[ $PEAK_V == met && $IDLE_V == met ]] || BAD=2
[[ $EVENTS == "$SENT" && $EVENTS2 == "$EVENTS" ]] || {
    warn "stored $EVENTS events (after the restart $EVENTS2), sent $SENT"
    BAD=2
}

cat <<EOF
## bench/memory.sh

- command: \`LOCATION_EVENTS=$LOCATION_EVENTS LOCATION_BATCH=$LOCATION_BATCH ALARM_EVENTS=$ALARM_EVENTS ALARM_BATCH=$ALARM_BATCH CONNS=$CONNS SYNCHRONOUS=$SYNCHRONOUS DEDUP_WINDOW=$DEDUP_WINDOW $ORIG_CMD\`
- mistgate: $GIT_REV; $(date -u +%Y-%m-%d); $(nproc) cores, $(awk '/^MemTotal:/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) RAM
- flood: $SENT events in ${FLOOD_S}s, $EVENTS stored, $DUPS counted as duplicates
- restart: listening after ${START_MS} ms (the duplicate index rebuilt), $EVENTS2 events

| | RSS | goal | |
|---|---:|---:|---|
| fresh start | $(mb "$FRESH_KB") MB | | |
| peak during the flood (VmHWM) | $PEAK_MB MB | <= $PEAK_GOAL_MB MB | $PEAK_V |
| peak during the flood (sampled every ${SAMPLE_MS} ms) | $(mb "$PEAK_SAMPLED_KB") MB | | |
| at the end of the flood | $(mb "$END_RSS_KB") MB | | |
| peak of the restart (VmHWM) | $(mb "$RESTART_HWM_KB") MB | | |
| idle after the restart (${IDLE_S}s after ready, lag 0) | $IDLE_MB MB | <= $IDLE_GOAL_MB MB | $IDLE_V |
EOF
exit $BAD
