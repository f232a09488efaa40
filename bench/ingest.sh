#!/usr/bin/env bash
# bench/ingest.sh: how fast does mistgate take signed webhooks, next to a bare HTTP server?
#
# Run from the repository root:   bench/ingest.sh
#
# For each body (a 1-event alarms envelope and a 100-event location envelope) it loads,
# one after the other in this one run:
#   1. bench/baseline (`baseline-server`): same stack as mistgate (tokio + axum), reads
#      the body and answers 200 without doing anything else. This is the floor.
#   2. `mistgate serve` with one signed source, duplicate detection off and
#      synchronous=full storage, in a fresh data dir.
# Both get the same signed body, the same load generator and the same connection count,
# and the table at the end gives mistgate's figures as a ratio of the baseline's. The
# absolute numbers say as much about the host as about mistgate (the load generator
# shares the cores with the server); the ratios are the point.
#
# Knobs (environment):
#   CONNS=64  DURATION=10s  THREADS=2   wrk -t$THREADS -c$CONNS -d$DURATION
#   WARMUP=2s          load applied to each server before it is measured (0 skips it)
#   SYNCHRONOUS=full   mistgate [storage] synchronous (full, normal, off)
#   DEDUP_WINDOW=0s    mistgate [ingest] dedup_window
#   POOL_ALARM=100000 POOL_LOCATION=3000   distinct signed bodies per pool (cycled)
#   CORRELATION=on     mistgate [correlation] enabled (off: ingest and the log alone)
#   DELIVERY=on        mistgate [delivery] enabled (the webhook and routing stages; with no
#                      webhook or route they only keep their cursors near the log's end)
#   LOADGEN=wrk,simulate  load generators, comma-separated, each run against both servers:
#                      wrk (the pools below) and `mistgate simulate --flood` (the simulated
#                      org's own messages of the same kind: 1 alarm, or 100 location fixes)
#   SKIP_BUILD=1       use the binaries already in target/ without building
#   PROFILE=release    `debug` builds and runs debug binaries (only to check the script)
#   SAMPLES=DIR        Mist sample events [default: <repo>/../shared/mist/samples]
#   KEEP=1             keep the temporary directory (bodies, logs, wrk outputs)
#   BENCH_MISTGATE=PATH, BENCH_BASELINE=PATH   binaries to run instead of target/'s
# Any MISTGATE_* variable in the caller's environment is cleared so that it cannot
# change the configuration under test.
#
# Needs: cargo, python3, curl, wrk (installed with apt-get when missing).
# Exit status: 0; 1 when something could not be set up or a server did not start; 2 when
# a run had non-2xx answers or mistgate stored fewer events than it acknowledged.
# Progress and raw wrk output go to stderr; the report (Markdown) goes to stdout.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ORIG_CMD="bench/ingest.sh${*:+ $*}"

CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
SYNCHRONOUS=${SYNCHRONOUS:-full}
DEDUP_WINDOW=${DEDUP_WINDOW:-0s}
CORRELATION=${CORRELATION:-on}
DELIVERY=${DELIVERY:-on}
LOADGEN=${LOADGEN:-wrk,simulate}
IFS=, read -r -a LOADGENS <<<"$LOADGEN"
for g in "${LOADGENS[@]}"; do
    case $g in wrk | simulate) ;; *) echo "ingest.sh: error: unknown load generator '$g' in LOADGEN (wrk, simulate)" >&2; exit 1 ;; esac
done
LOAD=${LOADGENS[0]} # the generator of the current run
PROFILE=${PROFILE:-release}
SAMPLES=${SAMPLES:-$ROOT/../shared/mist/samples}
SECRET=${SECRET:-mistgate-bench-secret-7f3a9c}
POOL_ALARM=${POOL_ALARM:-100000}
POOL_LOCATION=${POOL_LOCATION:-3000}
TOKEN=${TOKEN:-mistgate-bench-token-5d81e6b2a4c0}

START_TIMEOUT_S=30 # a server must print its `listening on` line within this
STOP_TIMEOUT_S=10  # SIGTERM, then SIGKILL after this
HTTP_TIMEOUT_S=10  # any single curl request

LUA="$ROOT/bench/wrk_ingest.lua"
TARGET_DIR="$ROOT/target/$PROFILE"
MISTGATE=${BENCH_MISTGATE:-$TARGET_DIR/mistgate}
BASELINE=${BENCH_BASELINE:-$TARGET_DIR/baseline-server}

SCRIPT=ingest.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_args "$@"
bench_clean_env

bench_build_flags
positive CONNS "$CONNS"
positive THREADS "$THREADS"
((CONNS >= THREADS)) || die "CONNS ($CONNS) must be at least THREADS ($THREADS) for wrk"

DURATION_S=$(seconds_of "$DURATION")
WARMUP_S=$(seconds_of "$WARMUP")
((DURATION_S > 0)) || die "DURATION must be longer than 0"

# ---------------------------------------------------------------------------------------
# Temporary files, child servers and their cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mistgate-bench.XXXXXX")
SERVER_PIDS=()
LOAD_PID=

trap servers_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# ---------------------------------------------------------------------------------------
# Load generation. run_load URL POOL_FILE [DURATION] applies load to URL with the pool's
# signed bodies and prints the generator's output on stdout, which must contain one line
#   RESULT requests=N duration_us=N errors_status=N errors_other=N p50_us=N p99_us=N
# (errors_status: non-2xx answers; errors_other: socket errors) and may contain a line
#   STATUS <code>=<count> ...            (or `STATUS none`)
# POOL_FILE holds one request per line: `<X-Mist-Signature-v2 hex> <body>`.
# `simulate` runs `mistgate simulate --flood` with $CONNS connections instead; it builds
# its own messages of the pool's kind (alarm-1: one alarm each; location-100: a hundred
# `location` events each), every one new, signed with the same secret, and its JSON
# summary is turned into the same RESULT and STATUS lines.

run_load() {
    local url=$1 pool=$2 dur=${3:-$DURATION}
    local limit=$(($(seconds_of "$dur") + 30))
    case $LOAD in
    wrk)
        # In the background so that a signal to this script is handled at once (bash
        # runs traps only between foreground commands, but `wait` is interruptible).
        timeout --kill-after=5 "$limit" \
            wrk "-t$THREADS" "-c$CONNS" "-d$dur" --latency -s "$LUA" "$url" -- "$pool" "$THREADS" &
        ;;
    simulate)
        local kind flags summary="$WORK/simulate.$$.json"
        kind=$(basename "$pool" .pool)
        case $kind in
        alarm-1) flags=(--topics alarms --batch 1) ;;
        location-100) flags=(--topics location --batch 100) ;;
        *) die "no simulate flags for the $kind pool" ;;
        esac
        timeout --kill-after=5 "$limit" \
            "$MISTGATE" simulate --target "$url" --secret "$SECRET" --flood \
            --connections "$CONNS" --duration "$dur" --seed 7 "${flags[@]}" --json \
            >"$summary" 2>"$WORK/simulate.err" </dev/null &
        LOAD_PID=$!
        local status=0
        wait "$LOAD_PID" || status=$?
        LOAD_PID=
        # Exit status 1 only says that some answers were not 2xx: the summary tells.
        ((status <= 1)) || {
            cat "$WORK/simulate.err" >&2
            return "$status"
        }
        python3 - "$summary" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
non2xx = sum(n for code, n in s["statuses"].items() if not 200 <= int(code) <= 299)
print(f"RESULT requests={s['attempts']} duration_us={s['elapsed_us']} errors_status={non2xx} "
      f"errors_other={s['transport_errors']} p50_us={s['p50_us']} p99_us={s['p99_us']}")
bad = [f"{code}={n}" for code, n in sorted(s["statuses"].items()) if not 200 <= int(code) <= 299]
print("STATUS " + (" ".join(bad) if bad else "none"))
print(f"simulate: {s['messages']} messages, {s['events']} events, {s['acknowledged']} acknowledged")
PY
        return 0
        ;;
    esac
    LOAD_PID=$!
    local status=0
    wait "$LOAD_PID" || status=$?
    LOAD_PID=
    return "$status"
}

# result_field FILE KEY: the value of KEY=... on the RESULT line of FILE.
result_field() {
    local v
    v=$(grep -m1 '^RESULT ' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p")
    [[ -n $v ]] || die "no $2 in the RESULT line of $1"
    echo "$v"
}

# One POST with curl before the load, to see the status and the answer in clear.
# Prints the status code.
probe() {
    local url=$1 body=$2 sig=$3 answer=$4
    local code
    code=$(curl -sS --max-time "$HTTP_TIMEOUT_S" -o "$answer" -w '%{http_code}' \
        -H 'Content-Type: application/json' \
        -H "X-Mist-Signature-v2: $(sed -n 's/^X-Mist-Signature-v2:[[:space:]]*//p' "$sig")" \
        --data-binary "@$body" "$url") || code=000
    echo "$code"
}

# ---------------------------------------------------------------------------------------
# Tools and build.

need_wrk
for tool in cargo python3 curl timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
[[ -f $LUA ]] || die "missing $LUA"
[[ -d $SAMPLES ]] || die "no Mist samples at $SAMPLES (set SAMPLES=DIR)"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    note "building baseline-server ($PROFILE)"
    cargo build "${BUILD_FLAGS[@]}" -p mistgate-bench-baseline --bin baseline-server ||
        die "cargo build of baseline-server failed"
    note "building mistgate ($PROFILE)"
    cargo build "${BUILD_FLAGS[@]}" -p mistgate --bin mistgate ||
        die "cargo build of mistgate failed"
fi
[[ -x $BASELINE ]] || die "no $BASELINE (build it, or drop SKIP_BUILD)"
[[ -x $MISTGATE ]] || die "no $MISTGATE (build it, or drop SKIP_BUILD)"
timeout 30 "$MISTGATE" serve --help >/dev/null 2>&1 ||
    die "$MISTGATE has no working 'serve' subcommand: nothing to benchmark"

# ---------------------------------------------------------------------------------------
# Bodies and their signatures.

# Each body kind is a pool of distinct signed requests, one per line (`<sig> <body>`):
# the same pool goes to both servers. Distinct events matter: a server that stores them
# must index each one, which a repeated body would let it skip.
python3 "$ROOT/bench/pools.py" "$SAMPLES" "$WORK" "$SECRET" "$POOL_ALARM" "$POOL_LOCATION"

BODIES=(alarm-1 location-100)

# mistgate's own signer must agree with python's HMAC on the first body of each pool.
for b in "${BODIES[@]}"; do
    want=$(head -c 64 "$WORK/$b.pool")
    printf 'X-Mist-Signature-v2: %s\n' "$want" >"$WORK/$b.sig"
    if timeout 30 "$MISTGATE" sign --help >/dev/null 2>&1; then
        got=$(timeout 30 "$MISTGATE" sign --secret "$SECRET" "$WORK/$b.json" | sed -n 's/^X-Mist-Signature-v2: //p')
        [[ $got == "$want" ]] || die "mistgate sign ($got) and python3 ($want) disagree on $b"
    else
        warn "'mistgate sign' is not available; using python3's signatures unchecked"
    fi
done

CONFIG="$WORK/mistgate.toml"
cat >"$CONFIG" <<EOF
[[sources]]
name = "bench"
secrets = ["$SECRET"]
accept_v1_signature = false

[ingest]
# The pools are cycled when a run outlasts them: with duplicate detection off, a body
# seen before is stored again like fresh traffic instead of being skipped.
dedup_window = "$DEDUP_WINDOW"

[storage]
# fsync on every group commit: the durable default.
synchronous = "$SYNCHRONOUS"

[correlation]
enabled = $([[ $CORRELATION == off ]] && echo false || echo true)

[delivery]
enabled = $([[ $DELIVERY == off ]] && echo false || echo true)
EOF

# ---------------------------------------------------------------------------------------
# The runs.

RESULTS="$WORK/results.tsv" # body server events requests duration_us non2xx other p50 p99 load
STORED="$WORK/stored.txt"   # one line per body: what mistgate's stats say it stored
: >"$RESULTS"
: >"$STORED"
BAD=0

# measure NAME BODY URL: probe, warm-up, measured run; appends to RESULTS. Sets
# ACKED to the number of 2xx answers (probe + warm-up + run).
measure() {
    local name=$1 b=$2 url=$3
    local body="$WORK/$b.json" sig="$WORK/$b.sig" out="$WORK/$b.$name.$LOAD.out"
    local code
    ACKED=0
    code=$(probe "$url" "$body" "$sig" "$WORK/$b.$name.probe")
    if [[ $code != 2?? ]]; then
        BAD=1
        warn "!!!!!!!! $name answered $code to a single $b POST (not 2xx): $(head -c 300 "$WORK/$b.$name.probe")"
    else
        ACKED=1
    fi
    if ((WARMUP_S > 0)); then
        note "$name / $b / $LOAD: warm-up $WARMUP"
        local warm="$WORK/$b.$name.$LOAD.warmup"
        run_load "$url" "$WORK/$b.pool" "$WARMUP" >"$warm" ||
            die "warm-up load against $name failed: $(tail -n 5 "$warm")"
        grep -q '^RESULT ' "$warm" ||
            die "no RESULT line from the warm-up: $(cat "$warm")"
        ACKED=$((ACKED + $(result_field "$warm" requests) -
            $(result_field "$warm" errors_status)))
    fi
    note "$name / $b / $LOAD: measuring $DURATION, $CONNS connections, $THREADS threads"
    run_load "$url" "$WORK/$b.pool" >"$out" ||
        die "load against $name failed: $(tail -n 5 "$out")"
    grep -q '^RESULT ' "$out" || die "no RESULT line from the load generator: $(cat "$out")"
    sed 's/^/    /' "$out" >&2
    local requests non2xx other
    requests=$(result_field "$out" requests)
    non2xx=$(result_field "$out" errors_status)
    other=$(result_field "$out" errors_other)
    ACKED=$((ACKED + requests - non2xx))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$name" "$(events_in "$body")" \
        "$requests" "$(result_field "$out" duration_us)" "$non2xx" "$other" \
        "$(result_field "$out" p50_us)" "$(result_field "$out" p99_us)" "$LOAD" >>"$RESULTS"
    if ((non2xx > 0)); then
        BAD=1
        warn "!!!!!!!! $name answered non-2xx $non2xx times out of $requests ($(grep -m1 '^STATUS' "$out")): its figures are MEANINGLESS"
    fi
    if ((other > 0)); then
        warn "$name: $other socket errors (connect/read/write/timeout) during the run"
    fi
}

# check_stored ADDR BODY: asks mistgate what it stored and compares with what was acked.
check_stored() {
    local addr=$1 b=$2
    local stats="$WORK/$b.stats.json" code
    code=$(curl -sS --max-time "$HTTP_TIMEOUT_S" -o "$stats" -w '%{http_code}' \
        -H "Authorization: Token $TOKEN" "http://$addr/api/v1/stats") || code=000
    if [[ $code != 200 ]]; then
        warn "GET /api/v1/stats answered $code; cannot check what mistgate stored"
        return 0
    fi
    {
        echo "mistgate /api/v1/stats after $b:"
        cat "$stats"
        echo
    } >&2
    echo -n "- $b ($LOAD): " >>"$STORED"
    python3 - "$stats" "$ACKED" "$(events_in "$WORK/$b.json")" "$DEDUP_WINDOW" \
        <<'PY' >>"$STORED" || BAD=1
import json, sys
stats, acked, per_body = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
dedup_off = sys.argv[4] in ("0", "0s", "0ms", "0us")
totals = stats.get("totals") if isinstance(stats, dict) else None
if not isinstance(totals, dict) or not {"requests", "events", "duplicates"} <= totals.keys():
    print("stored: no totals.requests/events/duplicates in the stats; not checked")
    sys.exit(0)
req, ev, dup = totals["requests"], totals["events"], totals["duplicates"]
want = acked * per_body
# Requests still in flight when the load stopped may be stored without being counted
# as acknowledged by the load generator: stored >= acknowledged is the invariant.
ok = req >= acked and ev + dup >= want
print(f"stored: {req} requests, {ev} events + {dup} duplicates; acknowledged: {acked} "
      f"requests, {want} events: " + ("OK" if ok else "!!!!!!!! FEWER STORED THAN ACKNOWLEDGED"))
if dedup_off and dup > 0:
    print(f"  !!!!!!!! dedup_window is {sys.argv[4]} yet {dup} events ({100 * dup / (ev + dup):.1f}%) "
          "were taken as duplicates: those did not take the full insert path")
sys.exit(0 if ok else 1)
PY
}

for b in "${BODIES[@]}"; do
    for LOAD in "${LOADGENS[@]}"; do
        note "$b / $LOAD: baseline-server"
        start_server "baseline-$b-$LOAD" "$WORK/baseline-$b-$LOAD.log" "$BASELINE" --listen 127.0.0.1:0
        measure baseline "$b" "http://$SERVER_ADDR/ingest/bench"
        stop_server "$SERVER_PID"

        note "$b / $LOAD: mistgate serve"
        data="$WORK/data-$b-$LOAD"
        mkdir "$data"
        log="$WORK/mistgate-$b-$LOAD.log"
        start_server "mistgate-$b-$LOAD" "$log" \
            env MISTGATE_API_TOKEN="$TOKEN" \
            "$MISTGATE" serve --listen 127.0.0.1:0 --data-dir "$data" --config "$CONFIG"
        addr=$SERVER_ADDR
        measure mistgate "$b" "http://$addr/ingest/bench"
        check_stored "$addr" "$b"
        stop_server "$SERVER_PID"
        if grep -qiE '\b(ERROR|panicked)\b' "$log"; then
            warn "mistgate logged errors during $b ($LOAD); first ones:"
            grep -iE '\b(ERROR|panicked)\b' "$log" | head -n 5 >&2
        fi
    done
done

# ---------------------------------------------------------------------------------------
# Report.

cpu=$(host_cpu)
rev=$(git_rev)
echo
echo "## mistgate ingest benchmark"
echo
echo "- command: CONNS=$CONNS DURATION=$DURATION THREADS=$THREADS WARMUP=$WARMUP" \
    "SYNCHRONOUS=$SYNCHRONOUS DEDUP_WINDOW=$DEDUP_WINDOW CORRELATION=$CORRELATION DELIVERY=$DELIVERY LOADGEN=$LOADGEN PROFILE=$PROFILE $ORIG_CMD"
echo "- load: wrk -t$THREADS -c$CONNS -d$DURATION --latency -s bench/wrk_ingest.lua URL -- POOL $THREADS" \
    "($(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}'));" \
    "mistgate simulate --flood --connections $CONNS --duration $DURATION" \
    "(--topics alarms --batch 1 | --topics location --batch 100)"
echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "- git: $rev"
echo "- host: nproc=$(nproc), cpu: ${cpu:-unknown}, kernel: $(uname -srm)"
echo "- bodies: alarm-1 ~$(wc -c <"$WORK/alarm-1.json") bytes (1 event, pool of $POOL_ALARM distinct)," \
    "location-100 ~$(wc -c <"$WORK/location-100.json") bytes (100 events, pool of $POOL_LOCATION distinct)"
echo "- mistgate: source with one secret (X-Mist-Signature-v2), dedup_window=$DEDUP_WINDOW," \
    "synchronous=$SYNCHRONOUS, fresh data dir per body"
echo
python3 - "$RESULTS" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print("| body | load | server | req/s | p50 ms | p99 ms | events/s | non-2xx |")
print("|---|---|---|---:|---:|---:|---:|---:|")
by = {}
for body, server, events, req, dur, non2xx, other, p50, p99, load in rows:
    rps = int(req) / (int(dur) / 1e6)
    by[(body, load, server)] = (rps, int(p99))
    note = "" if int(other) == 0 else f" (+{other} socket errors)"
    print(f"| {body} | {load} | {server} | {rps:,.0f} | {int(p50)/1000:.2f} | {int(p99)/1000:.2f} "
          f"| {rps*int(events):,.0f} | {non2xx}{note} |")
print()
for body, load in dict.fromkeys((r[0], r[9]) for r in rows):
    m, b = by.get((body, load, "mistgate")), by.get((body, load, "baseline"))
    if m and b:
        print(f"- {body} ({load}): mistgate/baseline req/s = {m[0]/b[0]:.2f}, "
              f"p99 = {m[1]/max(b[1],1):.2f}x")
PY
if [[ -s $STORED ]]; then
    echo
    echo "What mistgate stored (GET /api/v1/stats, after warm-up and run):"
    echo
    cat "$STORED"
fi

if ((BAD)); then
    echo
    echo "!!!!!!!! WARNING: some runs had non-2xx answers or lost events; see the warnings" \
        "above. Those figures are meaningless." >&2
    exit 2
fi
