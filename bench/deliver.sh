#!/usr/bin/env bash
# bench/deliver.sh: how fast does mistgate fan webhooks out to its subscribers, next to a
# plain loop of the same HTTP client posting the same bodies?
#
# Run from the repository root:   bench/deliver.sh
#
# For each body kind (1-event alarms envelopes, 100-event location envelopes), in this
# one run:
#   1. `deliver-sink` (bench/baseline) starts: a fast receiver that counts requests,
#      bytes and events per path and answers 200 at once.
#   2. `mistgate serve` starts (one signed source, duplicate detection off,
#      synchronous=full, private targets allowed, a fresh data dir) and SUBS webhooks are
#      created for the body's topic, each to its own path of the sink (alarms: org
#      webhooks; location: site webhooks, as location events carry no org_id).
#   3. live: EVENTS events are ingested (wrk, every body of a distinct pool once) while
#      mistgate delivers them. Figures from the first ingest request to the arrival of the
#      last event at the sink: events delivered per second (SUBS x EVENTS / time),
#      deliveries (sink requests) per second, events per delivery, and the lag (last
#      arrival minus end of ingest). Ingest and delivery share the cores, and delivery
#      cannot run ahead of ingest, so this is the end-to-end figure.
#   4. backlog: mistgate is restarted with delivery off, another EVENTS distinct events
#      are ingested, and it is restarted with delivery on: the delivery stage catches up
#      from its cursor (reads the log, builds the batches, writes the outbox) while the
#      lanes send. Figures from the first arrival at the sink to the last (the restart
#      before it, store opening and in-memory indexes, is reported apart).
#      This is mistgate's delivery capacity without ingest competing for the cores
#      (catching up after downtime, or after a receiver came back).
#   5. baseline: `deliver-client` posts the very bodies mistgate delivered in the backlog
#      run (saved by the sink, with the headers of the first one: same sizes, same
#      signature headers), as many requests, to the same paths of the same sink, with
#      SUBS loops of one request at a time (mistgate's max_in_flight=1 per webhook), using
#      reqwest built like mistgate's delivery client; BASELINE_RUNS times, the median
#      counts. Ratio = mistgate deliveries/s (or events/s) / the baseline's.
# After each mistgate run the sink's bodies are checked against the ingested pool: each
# webhook must have received every event exactly once (VERIFY=0 counts only). The report
# also says where the CPU went during each measured interval (mistgate, the sink, wrk or
# deliver-client, and processes this script did not start, read from /proc) and flags a
# measurement that other processes disturbed (more than 5 % of the machine).
#
# Knobs (environment):
#   SUBS=4                        webhooks (= baseline loops)
#   EVENTS_ALARM=150000           events per run (alarm bodies carry 1 event each)
#   EVENTS_LOCATION=500000        events per run (location bodies carry 100 each)
#   BODIES="alarm-1 location-100" which body kinds to run
#   RUNS="live backlog"           which mistgate runs to do (the baseline needs backlog)
#   BASELINE_RUNS=3               baseline repetitions (the median is reported)
#   CONNS=64  THREADS=2           wrk connections and threads for ingest
#   AGGREGATION_WINDOW=1s MAX_BATCH_EVENTS=100 MAX_IN_FLIGHT=1   mistgate [delivery]
#   DELIVERY_TIMEOUT=10s          mistgate [delivery] timeout (and the baseline's)
#   RECORD_BODY_BYTES=            mistgate [delivery] record_body_bytes (empty: its default)
#   SUB_SECRET=...                the webhooks' secret (mistgate signs each delivery);
#                                 empty: unsigned webhooks
#   SYNCHRONOUS=full  DEDUP_WINDOW=0s  CORRELATION=on   as in bench/ingest.sh
#   WAIT_S=180                    longest wait for the sink to receive everything
#   VERIFY=1                      check every delivered event against the pool (0: counts)
#   QUIET_WAIT_S=0                before each measurement, wait up to this long for 2 s in
#                                 which the machine is at most 10% busy (a shared machine)
#   SKIP_BUILD=1                  use the binaries already in target/ without building
#   PROFILE=release               `debug` builds and runs debug binaries (only to check the script)
#   SAMPLES=DIR                   Mist sample events [default: <repo>/../shared/mist/samples]
#   KEEP=1                        keep the temporary directory (pools, logs, bodies)
#   BENCH_MISTGATE=PATH BENCH_SINK=PATH BENCH_CLIENT=PATH   binaries instead of target/'s
# Any MISTGATE_* variable in the caller's environment is cleared so that it cannot
# change the configuration under test.
#
# Needs: cargo, python3, curl, wrk (installed with apt-get when missing).
# Exit status: 0; 1 when something could not be set up or a server did not start; 2 when
# ingest had non-2xx answers or socket errors, a webhook did not receive every event
# exactly once (lost, duplicated, or still missing after WAIT_S), mistgate retried or
# gave up a delivery, or the baseline had failed requests.
# Progress goes to stderr; the report (Markdown) goes to stdout.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ORIG_CMD="bench/deliver.sh${*:+ $*}"

SUBS=${SUBS:-4}
EVENTS_ALARM=${EVENTS_ALARM:-150000}
EVENTS_LOCATION=${EVENTS_LOCATION:-500000}
BODIES=${BODIES:-alarm-1 location-100}
RUNS=${RUNS:-live backlog}
BASELINE_RUNS=${BASELINE_RUNS:-3}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
AGGREGATION_WINDOW=${AGGREGATION_WINDOW:-1s}
MAX_BATCH_EVENTS=${MAX_BATCH_EVENTS:-100}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-1}
DELIVERY_TIMEOUT=${DELIVERY_TIMEOUT:-10s}
SUB_SECRET=${SUB_SECRET-bench-webhook-secret-4e1b9d}
RECORD_BODY_BYTES=${RECORD_BODY_BYTES:-}
SYNCHRONOUS=${SYNCHRONOUS:-full}
DEDUP_WINDOW=${DEDUP_WINDOW:-0s}
CORRELATION=${CORRELATION:-on}
WAIT_S=${WAIT_S:-180}
VERIFY=${VERIFY:-1}
QUIET_WAIT_S=${QUIET_WAIT_S:-0}
PROFILE=${PROFILE:-release}
SAMPLES=${SAMPLES:-$ROOT/../shared/mist/samples}
SECRET=${SECRET:-mistgate-bench-secret-7f3a9c}
TOKEN=${TOKEN:-mistgate-bench-token-5d81e6b2a4c0}

# The org and site of the sample events (the samples are anonymised with x's).
ORG=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
SITE=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx

START_TIMEOUT_S=30 # a server must print its `listening on` line within this
STOP_TIMEOUT_S=10  # SIGTERM, then SIGKILL after this
HTTP_TIMEOUT_S=10  # any single curl request
INGEST_LIMIT_S=600 # wrk's -d: the longest an ingest may take

SCRIPT=deliver.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_args "$@"

LUA="$ROOT/bench/wrk_deliver.lua"
TARGET_DIR="$ROOT/target/$PROFILE"
MISTGATE=${BENCH_MISTGATE:-$TARGET_DIR/mistgate}
SINK=${BENCH_SINK:-$TARGET_DIR/deliver-sink}
CLIENT=${BENCH_CLIENT:-$TARGET_DIR/deliver-client}

bench_clean_env

bench_build_flags
positive SUBS "$SUBS"
positive EVENTS_ALARM "$EVENTS_ALARM"
positive EVENTS_LOCATION "$EVENTS_LOCATION"
positive CONNS "$CONNS"
positive THREADS "$THREADS"
positive MAX_BATCH_EVENTS "$MAX_BATCH_EVENTS"
positive MAX_IN_FLIGHT "$MAX_IN_FLIGHT"
positive WAIT_S "$WAIT_S"
positive BASELINE_RUNS "$BASELINE_RUNS"
[[ $QUIET_WAIT_S =~ ^[0-9]+$ ]] || die "QUIET_WAIT_S must be a number of seconds, not '$QUIET_WAIT_S'"
[[ -z $RECORD_BODY_BYTES || $RECORD_BODY_BYTES =~ ^[0-9]+$ ]] ||
    die "RECORD_BODY_BYTES must be a number of bytes, not '$RECORD_BODY_BYTES'"
((CONNS >= THREADS)) || die "CONNS ($CONNS) must be at least THREADS ($THREADS) for wrk"
((EVENTS_LOCATION % 100 == 0)) || die "EVENTS_LOCATION must be a multiple of 100 (events per body)"
((EVENTS_ALARM >= THREADS && EVENTS_LOCATION / 100 >= THREADS)) ||
    die "each run needs at least THREADS ($THREADS) ingest requests"
DO_LIVE=0
DO_BACKLOG=0
for r in $RUNS; do
    case $r in
    live) DO_LIVE=1 ;;
    backlog) DO_BACKLOG=1 ;;
    *) die "RUNS takes 'live' and/or 'backlog', not '$r'" ;;
    esac
done
((DO_LIVE + DO_BACKLOG > 0)) || die "RUNS is empty"
read -r -a BODY_LIST <<<"$BODIES"
((${#BODY_LIST[@]} > 0)) || die "BODIES is empty"
for b in "${BODY_LIST[@]}"; do
    [[ $b == alarm-1 || $b == location-100 ]] || die "BODIES takes 'alarm-1' and/or 'location-100', not '$b'"
done

# A humantime duration of whole seconds or milliseconds ("1s", "500ms") -> milliseconds.
millis_of() {
    local d=$1
    [[ $d =~ ^([0-9]+)(ms|s)$ ]] || die "bad duration '$d' (expected e.g. 1s or 500ms)"
    if [[ ${BASH_REMATCH[2]} == ms ]]; then
        echo "${BASH_REMATCH[1]}"
    else
        echo $((BASH_REMATCH[1] * 1000))
    fi
}
millis_of "$AGGREGATION_WINDOW" >/dev/null
TIMEOUT_MS=$(millis_of "$DELIVERY_TIMEOUT")

# ---------------------------------------------------------------------------------------
# Temporary files, child processes and their cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mistgate-deliver.XXXXXX")
SERVER_PIDS=()
LOAD_PID=

trap servers_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM



# http METHOD URL [BODY] -> the answer on stdout; dies unless 2xx.
http() {
    local method=$1 url=$2 body=${3-} out="$WORK/http.out" code
    local args=(-sS --max-time "$HTTP_TIMEOUT_S" -o "$out" -w '%{http_code}' -X "$method"
        -H "Authorization: Token $TOKEN")
    if [[ -n $body ]]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    code=$(curl "${args[@]}" "$url") || code=000
    [[ $code == 2?? ]] || die "$method $url answered $code: $(head -c 300 "$out" 2>/dev/null)"
    cat "$out"
}

# metric ADDR NAME_AND_LABELS: the value of one mistgate metric (0 when absent).
metric() {
    local v
    v=$(curl -sS --max-time "$HTTP_TIMEOUT_S" "http://$1/metrics" |
        awk -v m="$2" '$1 == m {print $2; exit}') || v=
    echo "${v:-0}"
}

# ---------------------------------------------------------------------------------------
# Tools and build.

need_wrk
for tool in cargo python3 curl date awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
[[ -f $LUA ]] || die "missing $LUA"
[[ -d $SAMPLES ]] || die "no Mist samples at $SAMPLES (set SAMPLES=DIR)"
[[ $(date +%6N) =~ ^[0-9]{6}$ ]] || die "date does not support %N (GNU date is required)"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    note "building mistgate, deliver-sink and deliver-client ($PROFILE)"
    cargo build "${BUILD_FLAGS[@]}" -p mistgate --bin mistgate \
        -p mistgate-bench-baseline --bin deliver-sink --bin deliver-client ||
        die "cargo build failed"
fi
for bin in "$MISTGATE" "$SINK" "$CLIENT"; do
    [[ -x $bin ]] || die "no $bin (build it, or drop SKIP_BUILD)"
done
timeout 30 "$MISTGATE" serve --help >/dev/null 2>&1 ||
    die "$MISTGATE has no working 'serve' subcommand: nothing to benchmark"

# ---------------------------------------------------------------------------------------
# Bodies and their signatures.

# Per body kind, one pool of distinct signed requests per run (`<sig> <body>` lines) and
# a probe body. Every event is distinct from every other (own id and MAC, or own random
# position), so duplicate detection could not drop any even if it were on.
note "generating the bodies"
python3 - "$SAMPLES" "$WORK" "$SECRET" "$EVENTS_ALARM" "$EVENTS_LOCATION" "$BODIES" <<'PY'
import hashlib, hmac, json, random, sys
samples, work, secret = sys.argv[1], sys.argv[2], sys.argv[3].encode()
n_alarm, n_location = int(sys.argv[4]), int(sys.argv[5])
wanted = sys.argv[6].split()
rng = random.Random(11)

def load(name):
    with open(f"{samples}/{name}", encoding="utf-8") as f:
        return json.load(f)

def write(path, envelopes):
    with open(path, "w", encoding="utf-8") as pool:
        for envelope in envelopes:
            raw = json.dumps(envelope, separators=(",", ":"))
            sig = hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()
            pool.write(f"{sig} {raw}\n")

alarm = load("alarms__device-restarted_lukeroberson.json")
seq = 0
def alarms(n):
    global seq
    for _ in range(n):
        seq += 1
        e = dict(alarm)
        e["id"] = f"{seq:08x}-5c5b-4e00-8000-{rng.getrandbits(48):012x}"
        e["aps"] = [f"5c5b{seq:08x}"]
        e["timestamp"] = alarm["timestamp"] + seq / 1000
        yield {"topic": "alarms", "events": [e]}

fix = load("location__wifi_lukeroberson.json")
def locations(n):
    global seq
    for _ in range(n):
        seq += 1
        events = []
        for k in range(100):
            e = dict(fix)
            e["mac"] = f"5c5b35{rng.randrange(5000):06x}"
            e["x"] = round(rng.uniform(0, 120), 5)
            e["y"] = round(rng.uniform(0, 80), 5)
            e["rssi"] = rng.randrange(-90, -40)
            e["timestamp"] = int(fix["timestamp"]) + seq
            events.append(e)
        yield {"topic": "location", "events": events}

for kind, gen, n in (("alarm-1", alarms, n_alarm), ("location-100", locations, n_location // 100)):
    if kind not in wanted:
        continue
    write(f"{work}/{kind}.probe.pool", gen(1))
    write(f"{work}/{kind}.live.pool", gen(n))
    write(f"{work}/{kind}.backlog.pool", gen(n))
PY

declare -A TOPIC=([alarm-1]=alarms [location-100]=location)
declare -A PER_BODY=([alarm-1]=1 [location-100]=100)
declare -A EVENTS=([alarm-1]=$EVENTS_ALARM [location-100]=$EVENTS_LOCATION)
declare -A SCOPE=([alarm-1]="orgs/$ORG" [location-100]="sites/$SITE")

CONFIG="$WORK/mistgate.toml"
cat >"$CONFIG" <<EOF
[[sources]]
name = "bench"
secrets = ["$SECRET"]
accept_v1_signature = false

[ingest]
dedup_window = "$DEDUP_WINDOW"

[storage]
synchronous = "$SYNCHRONOUS"

[correlation]
enabled = $([[ $CORRELATION == off ]] && echo false || echo true)

[delivery]
# The sink listens on loopback.
allow_private_targets = true
aggregation_window = "$AGGREGATION_WINDOW"
max_batch_events = $MAX_BATCH_EVENTS
max_in_flight = $MAX_IN_FLIGHT
timeout = "$DELIVERY_TIMEOUT"
$([[ -n $RECORD_BODY_BYTES ]] && echo "record_body_bytes = $RECORD_BODY_BYTES")
EOF

# The same with delivery off, for the backlog run's ingest.
CONFIG_OFF="$WORK/mistgate-delivery-off.toml"
sed 's/^\[delivery\]$/[delivery]\nenabled = false/' "$CONFIG" >"$CONFIG_OFF"
grep -q '^enabled = false$' "$CONFIG_OFF" || die "could not write $CONFIG_OFF"

# ---------------------------------------------------------------------------------------
# The runs.

RESULTS="$WORK/results.tsv" # body run key=value... (one line per measurement)
CHECKS="$WORK/checks.txt"   # what was verified, one line per run
: >"$RESULTS"
: >"$CHECKS"
BAD=0

# ingest ADDR POOL NAME [THREADS CONNS]: posts every body of POOL once (wrk, CONNS
# connections); sets INGEST_FIRST_US, INGEST_DONE_US (unix us of the first request and
# the last answer), INGEST_REQUESTS and INGEST_NON2XX.
ingest() {
    local addr=$1 pool=$2 name=$3 threads=${4:-$THREADS} conns=${5:-$CONNS}
    local out="$WORK/${3// /-}.wrk" polls=0 done_lines=0
    local limit=$((INGEST_LIMIT_S * 20))
    : >"$out"
    # --timeout: wrk's default (2 s) would count slow answers as socket errors; mistgate
    # gives a request 30 s ([ingest] request_timeout).
    wrk "-t$threads" "-c$conns" "-d${INGEST_LIMIT_S}s" --timeout 30s -s "$LUA" \
        "http://$addr/ingest/bench" -- "$pool" "$threads" >"$out" 2>&1 &
    LOAD_PID=$!
    while true; do
        done_lines=$(grep -c '^DONE ' "$out" || true)
        ((done_lines >= threads)) && break
        if ! kill -0 "$LOAD_PID" 2>/dev/null; then
            break
        fi
        if ((polls >= limit)); then
            break
        fi
        sleep 0.05
        polls=$((polls + 1))
    done
    kill -INT "$LOAD_PID" 2>/dev/null || true
    local status=0
    wait "$LOAD_PID" || status=$?
    LOAD_PID=
    sed 's/^/    /' "$out" >&2
    ((done_lines >= threads)) ||
        die "$name: wrk did not get an answer to every request (status $status): $(tail -n 5 "$out")"
    read -r INGEST_FIRST_US INGEST_DONE_US INGEST_REQUESTS INGEST_NON2XX < <(
        awk '/^DONE / {
                for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                if (first == "" || v["first_us"] < first) first = v["first_us"]
                if (v["done_us"] > last) last = v["done_us"]
                n += v["requests"]; bad += v["non2xx"]
             }
             END { print first, last, n, bad }' "$out")
    local other sent
    sent=$(wc -l <"$pool")
    if ((INGEST_REQUESTS != sent)); then
        BAD=1
        warn "!!!!!!!! $name: $INGEST_REQUESTS answers to the $sent requests of the pool"
    fi
    other=$(sed -n 's/^RESULT .*errors_other=\([0-9]*\).*/\1/p' "$out")
    if ((INGEST_NON2XX > 0)) || [[ ${other:-0} != 0 ]]; then
        BAD=1
        warn "!!!!!!!! $name: $INGEST_NON2XX non-2xx answers, ${other:-?} socket errors during ingest"
    fi
}

# wait_sink SINK WANT NAME: waits (bounded by WAIT_S) until the sink has WANT events;
# the sink answers /wait once it has them, so nothing polls meanwhile. Returns 1 on
# timeout.
wait_sink() {
    local sink=$1 want=$2 name=$3 got waited=0 step=30
    while true; do
        got=$(curl -sS --max-time $((step + 5)) \
            "http://$sink/wait?events=$want&timeout_ms=$((step * 1000))") || got=-1
        [[ $got =~ ^[0-9]+$ ]] || die "$name: the sink's /wait answered '$got'"
        ((got >= want)) && return 0
        waited=$((waited + step))
        if ((waited >= WAIT_S)); then
            warn "!!!!!!!! $name: the sink has $got events of $want after ${WAIT_S}s"
            return 1
        fi
        note "$name: the sink has $got events of $want after ${waited}s"
    done
}

# sink_count SINK FILE: saves GET /count.
sink_count() {
    curl -sS --max-time "$HTTP_TIMEOUT_S" -o "$2" "http://$1/count" || die "GET /count of the sink failed"
}

# json_field FILE KEY: a top-level number of a JSON file.
json_field() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# verify NAME DUMP POOL: every webhook's path got each event of POOL exactly once.
verify() {
    local name=$1 dump=$2 pool=$3
    echo -n "- $name: " >>"$CHECKS"
    python3 - "$dump" "$pool" "$SUBS" "$VERIFY" <<'PY' >>"$CHECKS" || BAD=1
import collections, json, sys
dump, pool, subs, full = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"

def canon(e):
    return json.dumps(e, separators=(",", ":"))

want = collections.Counter()
if full:
    with open(pool, encoding="utf-8") as f:
        for line in f:
            for e in json.loads(line.split(" ", 1)[1])["events"]:
                want[canon(e)] += 1
else:
    with open(pool, encoding="utf-8") as f:
        for line in f:
            want["n"] += len(json.loads(line.split(" ", 1)[1])["events"])
got = collections.defaultdict(collections.Counter)
requests = collections.Counter()
with open(dump, "rb") as f:
    f.readline()  # the headers
    while True:
        head = f.readline()
        if not head:
            break
        path, length = head.rsplit(b" ", 1)
        body = f.read(int(length))
        f.read(1)
        path = path.decode()
        requests[path] += 1
        for e in json.loads(body)["events"]:
            got[path][canon(e) if full else "n"] += 1
problems = []
if len(got) != subs:
    problems.append(f"{len(got)} webhooks received something, not {subs}")
for path in sorted(got):
    c = got[path]
    missing = sum((want - c).values())
    extra = sum((c - want).values())
    if missing or extra:
        problems.append(f"{path}: {missing} events missing, {extra} extra (duplicates or unknown)")
total = sum(want.values())
what = "each event exactly once" if full else "the right number of events (VERIFY=0)"
if problems:
    print(f"!!!!!!!! {total} events x {subs} webhooks: " + "; ".join(problems))
    sys.exit(1)
print(f"{total} events x {subs} webhooks in {sum(requests.values())} deliveries: "
      f"every webhook got {what}: OK")
PY
    tail -n 1 "$CHECKS" >&2
}

# check_mistgate ADDR NAME: no retried, failed or dead deliveries.
check_mistgate() {
    local addr=$1 name=$2 retry failure dead
    retry=$(metric "$addr" 'mistgate_delivery_attempts_total{result="retry"}')
    failure=$(metric "$addr" 'mistgate_delivery_attempts_total{result="failure"}')
    dead=$(metric "$addr" 'mistgate_delivery_batches_total{state="dead"}')
    if [[ $retry != 0 || $failure != 0 || $dead != 0 ]]; then
        BAD=1
        warn "!!!!!!!! $name: mistgate counted $retry retried and $failure failed attempts, $dead dead batches"
        echo "- $name: !!!!!!!! mistgate: $retry retried, $failure failed attempts, $dead dead batches" >>"$CHECKS"
    fi
}

# ticks PID [children]: CPU time of PID (all its threads) in clock ticks, with that of its
# waited-for children when asked; 0 once it is gone.
ticks() {
    local stat f
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || {
        echo 0
        return
    }
    # After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    read -r -a f <<<"${stat##*) }"
    if [[ ${2-} == children ]]; then
        echo $((f[11] + f[12] + f[13] + f[14]))
    else
        echo $((f[11] + f[12]))
    fi
}

# cpu_mark MISTGATE_PID SINK_PID: "busy total mistgate sink script" clock ticks: the whole
# machine's (all CPUs, from /proc/stat), then mistgate's, the sink's, and this script's
# with its children (wrk, deliver-client, curl, python3).
cpu_mark() {
    local u n s i w q sq st rest
    read -r _ u n s i w q sq st rest </proc/stat
    echo "$((u + n + s + q + sq + st)) $((u + n + s + i + w + q + sq + st))" \
        "$(ticks "$1") $(ticks "$2") $(ticks $$ children)"
}

# cpu_fields MARK0 MARK1: the differences as key=value fields for `record` (one argument,
# tab-separated).
cpu_fields() {
    local a b
    read -r -a a <<<"$1"
    read -r -a b <<<"$2"
    printf 'cpu_busy=%s\tcpu_total=%s\tcpu_mistgate=%s\tcpu_sink=%s\tcpu_script=%s\n' \
        $((b[0] - a[0])) $((b[1] - a[1])) $((b[2] - a[2])) $((b[3] - a[3])) $((b[4] - a[4]))
}

# wait_quiet NAME: with QUIET_WAIT_S, waits (bounded) for 2 s in which the whole machine
# was at most 10% busy (our idle servers included).
wait_quiet() {
    ((QUIET_WAIT_S > 0)) || return 0
    local start=$SECONDS a b busy tries=0
    while ((SECONDS - start < QUIET_WAIT_S)); do
        read -r -a a <<<"$(cpu_mark 0 0)"
        sleep 2
        read -r -a b <<<"$(cpu_mark 0 0)"
        busy=$((100 * (b[0] - a[0]) / (b[1] - a[1] > 0 ? b[1] - a[1] : 1)))
        ((busy <= 10)) && return 0
        if ((tries++ % 15 == 0)); then
            note "$1: the machine is $busy% busy; waiting (up to ${QUIET_WAIT_S}s) for it to calm down"
        fi
    done
    warn "$1: the machine was still busy after ${QUIET_WAIT_S}s; measuring anyway"
}

# record BODY RUN key=value...: one result line.
record() {
    local IFS=$'\t'
    echo "$*" >>"$RESULTS"
}

# start_mistgate NAME CONFIG: a mistgate on the body kind's data dir; sets MISTGATE_PID,
# MISTGATE_ADDR and STARTED_US/LISTENING_US (unix us before the start and at its
# `listening on` line).
start_mistgate() {
    STARTED_US=$(now_us)
    start_server "mistgate-$1" "$WORK/mistgate-$1.log" \
        env MISTGATE_API_TOKEN="$TOKEN" \
        "$MISTGATE" serve --listen 127.0.0.1:0 --data-dir "$data" --config "$2"
    LISTENING_US=$(now_us)
    MISTGATE_PID=$SERVER_PID
    MISTGATE_ADDR=$SERVER_ADDR
}

# stop_mistgate NAME: SIGTERM (bounded), then shows warnings and errors of its log.
stop_mistgate() {
    stop_server "$MISTGATE_PID"
    if grep -qE '\b(ERROR|WARN)\b|panicked' "$WORK/mistgate-$1.log"; then
        warn "mistgate logged warnings or errors ($1); first ones:"
        grep -E '\b(ERROR|WARN)\b|panicked' "$WORK/mistgate-$1.log" | head -n 5 >&2
    fi
}

# wait_recorded ADDR NAME SCOPE: waits (bounded by WAIT_S) until no webhook of SCOPE has
# a pending batch: every attempt is recorded, so a restart sends nothing again.
wait_recorded() {
    local addr=$1 name=$2 scope=$3 id polls=0
    for id in "${HOOKS[@]}"; do
        until curl -sS --max-time "$HTTP_TIMEOUT_S" -H "Authorization: Token $TOKEN" \
            "http://$addr/api/v1/$scope/webhooks/$id/deliveries?state=pending&limit=1" |
            grep -q '"items":\[\]'; do
            if ((polls >= WAIT_S * 10)); then
                warn "!!!!!!!! $name: webhook $id still has pending batches after ${WAIT_S}s"
                BAD=1
                return 0
            fi
            sleep 0.1
            polls=$((polls + 1))
        done
    done
}

# save_bodies NAME: the sink's kept bodies to $WORK/NAME.dump.
save_bodies() {
    http POST "http://$sink/_sink/dump" >/dev/null
    mv "$dump" "$WORK/$1.dump"
}

for b in "${BODY_LIST[@]}"; do
    topic=${TOPIC[$b]}
    events=${EVENTS[$b]}
    want=$((SUBS * events))

    note "$b: deliver-sink"
    dump="$WORK/$b.dump"
    start_server "sink-$b" "$WORK/sink-$b.log" "$SINK" --listen 127.0.0.1:0 --dump "$dump"
    sink_pid=$SERVER_PID
    sink=$SERVER_ADDR

    note "$b: mistgate serve, $SUBS webhooks for $topic at ${SCOPE[$b]%%/*} level"
    data="$WORK/data-$b"
    mkdir "$data"
    start_mistgate "$b" "$CONFIG"
    HOOKS=()
    for ((i = 0; i < SUBS; i++)); do
        hook=$(python3 -c '
import json, sys
h = {"name": f"bench-{sys.argv[1]}", "url": sys.argv[2], "topics": [sys.argv[3]]}
if sys.argv[4]:
    h["secret"] = sys.argv[4]
print(json.dumps(h))' "$i" "http://$sink/sink/$b/$i" "$topic" "$SUB_SECRET")
        HOOKS+=("$(http POST "http://$MISTGATE_ADDR/api/v1/${SCOPE[$b]}/webhooks" "$hook" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')")
    done

    # One request through the whole path first: opens the connections, shows at once
    # when deliveries do not arrive at all, and has the delivery stage write its cursor
    # (which the backlog run resumes from).
    note "$b: probe (one ingest request, waiting for its delivery)"
    ingest "$MISTGATE_ADDR" "$WORK/$b.probe.pool" "$b probe" 1 1
    wait_sink "$sink" $((SUBS * PER_BODY[$b])) "$b probe" ||
        die "$b: the probe's events never reached the sink; mistgate's log: $(tail -n 5 "$WORK/mistgate-$b.log")"
    wait_recorded "$MISTGATE_ADDR" "$b probe" "${SCOPE[$b]}"

    if ((DO_LIVE)); then
        wait_quiet "$b live"
        http POST "http://$sink/_sink/reset" >/dev/null
        created0=$(metric "$MISTGATE_ADDR" 'mistgate_delivery_batches_total{state="created"}')
        note "$b / live: ingesting $events events ($CONNS connections) while mistgate delivers"
        mark0=$(cpu_mark "$MISTGATE_PID" "$sink_pid")
        ingest "$MISTGATE_ADDR" "$WORK/$b.live.pool" "$b live"
        ok=1
        wait_sink "$sink" "$want" "$b live" || {
            ok=0
            BAD=1
        }
        mark1=$(cpu_mark "$MISTGATE_PID" "$sink_pid")
        sink_count "$sink" "$WORK/$b.live.count"
        wait_recorded "$MISTGATE_ADDR" "$b live" "${SCOPE[$b]}"
        created1=$(metric "$MISTGATE_ADDR" 'mistgate_delivery_batches_total{state="created"}')
        record "$b" live "subs=$SUBS" "events=$events" "first_us=$INGEST_FIRST_US" \
            "ingest_done_us=$INGEST_DONE_US" "last_us=$(json_field "$WORK/$b.live.count" last_at_us)" \
            "t10_us=$(json_field "$WORK/$b.live.count" t10_at_us)" \
            "t90_us=$(json_field "$WORK/$b.live.count" t90_at_us)" \
            "sink_events=$(json_field "$WORK/$b.live.count" events)" \
            "deliveries=$(json_field "$WORK/$b.live.count" requests)" \
            "bytes=$(json_field "$WORK/$b.live.count" bytes)" \
            "batches=$((created1 - created0))" "complete=$ok" \
            "$(cpu_fields "$mark0" "$mark1")"
        check_mistgate "$MISTGATE_ADDR" "$b live"
        save_bodies "$b.live"
        verify "$b live" "$WORK/$b.live.dump" "$WORK/$b.live.pool"
    fi

    if ((DO_BACKLOG)); then
        # Delivery off while the events come in, then a restart with delivery on: the
        # stage catches up from its cursor and the lanes send everything it builds.
        note "$b / backlog: restarting mistgate with delivery off"
        stop_mistgate "$b"
        start_mistgate "$b-ingest" "$CONFIG_OFF"
        wait_quiet "$b backlog ingest"
        note "$b / backlog: ingesting $events events with delivery off"
        ingest "$MISTGATE_ADDR" "$WORK/$b.backlog.pool" "$b backlog"
        stop_mistgate "$b-ingest"
        http POST "http://$sink/_sink/reset" >/dev/null
        wait_quiet "$b backlog"
        note "$b / backlog: restarting mistgate with delivery on; it catches up"
        mark0=$(cpu_mark 0 "$sink_pid")
        start_mistgate "$b-catch-up" "$CONFIG"
        ok=1
        wait_sink "$sink" "$want" "$b backlog" || {
            ok=0
            BAD=1
        }
        mark1=$(cpu_mark "$MISTGATE_PID" "$sink_pid")
        sink_count "$sink" "$WORK/$b.backlog.count"
        wait_recorded "$MISTGATE_ADDR" "$b backlog" "${SCOPE[$b]}"
        record "$b" backlog "subs=$SUBS" "events=$events" "first_us=$STARTED_US" \
            "listening_us=$LISTENING_US" "last_us=$(json_field "$WORK/$b.backlog.count" last_at_us)" \
            "first_arrival_us=$(json_field "$WORK/$b.backlog.count" first_at_us)" \
            "t10_us=$(json_field "$WORK/$b.backlog.count" t10_at_us)" \
            "t90_us=$(json_field "$WORK/$b.backlog.count" t90_at_us)" \
            "sink_events=$(json_field "$WORK/$b.backlog.count" events)" \
            "deliveries=$(json_field "$WORK/$b.backlog.count" requests)" \
            "bytes=$(json_field "$WORK/$b.backlog.count" bytes)" \
            "batches=$(metric "$MISTGATE_ADDR" 'mistgate_delivery_batches_total{state="created"}')" \
            "complete=$ok" "$(cpu_fields "$mark0" "$mark1")"
        check_mistgate "$MISTGATE_ADDR" "$b backlog"
        save_bodies "$b.backlog"
        verify "$b backlog" "$WORK/$b.backlog.dump" "$WORK/$b.backlog.pool"
    fi

    {
        echo "mistgate delivery metrics after $b:"
        curl -sS --max-time "$HTTP_TIMEOUT_S" "http://$MISTGATE_ADDR/metrics" |
            grep '^mistgate_delivery_[a-z_]*_total' || true
    } >&2
    stop_mistgate "$b$( ((DO_BACKLOG)) && echo -catch-up)"

    if ((DO_BACKLOG)); then
        # The same bodies, the same count, the same paths of the same sink, SUBS loops;
        # BASELINE_RUNS times (each is short), the report takes the median.
        n=$(json_field "$WORK/$b.backlog.count" requests)
        for ((k = 1; k <= BASELINE_RUNS; k++)); do
            http POST "http://$sink/_sink/reset" >/dev/null
            out="$WORK/$b.client-$k.json"
            status=0
            wait_quiet "$b baseline"
            note "$b / baseline $k/$BASELINE_RUNS: deliver-client posting the $n bodies mistgate delivered, $SUBS loops"
            mark0=$(cpu_mark 0 "$sink_pid")
            timeout --kill-after=5 "$WAIT_S" "$CLIENT" --url "http://$sink" \
                --bodies "$WORK/$b.backlog.dump" --concurrency "$SUBS" --requests "$n" \
                --timeout-ms "$TIMEOUT_MS" >"$out" 2>"$WORK/$b.client-$k.log" &
            LOAD_PID=$!
            wait "$LOAD_PID" || status=$?
            LOAD_PID=
            mark1=$(cpu_mark 0 "$sink_pid")
            cat "$WORK/$b.client-$k.log" >&2
            [[ -s $out ]] || die "deliver-client printed nothing (status $status)"
            cat "$out" >&2
            if ((status != 0)); then
                BAD=1
                warn "!!!!!!!! the baseline had failed requests (status $status)"
            fi
            sink_count "$sink" "$WORK/$b.baseline.count"
            record "$b" baseline "subs=$SUBS" "requests=$(json_field "$out" requests)" \
                "elapsed_us=$(json_field "$out" elapsed_us)" \
                "sink_events=$(json_field "$WORK/$b.baseline.count" events)" \
                "bytes=$(json_field "$WORK/$b.baseline.count" bytes)" \
                "$(cpu_fields "$mark0" "$mark1")"
        done
    fi
    stop_server "$sink_pid"
done

# ---------------------------------------------------------------------------------------
# Report.

cpu=$(host_cpu)
rev=$(git_rev)
echo
echo "## mistgate delivery benchmark"
echo
echo "- command: BODIES=\"$BODIES\" SUBS=$SUBS EVENTS_ALARM=$EVENTS_ALARM EVENTS_LOCATION=$EVENTS_LOCATION" \
    "RUNS=\"$RUNS\" CONNS=$CONNS THREADS=$THREADS AGGREGATION_WINDOW=$AGGREGATION_WINDOW" \
    "MAX_BATCH_EVENTS=$MAX_BATCH_EVENTS MAX_IN_FLIGHT=$MAX_IN_FLIGHT SYNCHRONOUS=$SYNCHRONOUS" \
    "DEDUP_WINDOW=$DEDUP_WINDOW CORRELATION=$CORRELATION SUB_SECRET=${SUB_SECRET:+set}" \
    "${RECORD_BODY_BYTES:+RECORD_BODY_BYTES=$RECORD_BODY_BYTES}" \
    "PROFILE=$PROFILE $ORIG_CMD"
echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "- git: $rev"
echo "- host: nproc=$(nproc), cpu: ${cpu:-unknown}, kernel: $(uname -srm)"
echo "- ingest: wrk -t$THREADS -c$CONNS --timeout 30s, each body of a distinct signed pool once" \
    "($(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}'))"
echo "- webhooks: $SUBS per body kind, each to its own path of deliver-sink," \
    "$([[ -n $SUB_SECRET ]] && echo "with a secret (mistgate signs every delivery)" || echo "without a secret")"
echo
python3 - "$RESULTS" <<'PY'
import os, statistics, sys
rows = []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if len(f) >= 2:
        rows.append((f[0], f[1], dict(kv.split("=", 1) for kv in f[2:])))
# The baseline's runs per body, and their median requests/s.
runs = {}
for b, run, r in rows:
    if run == "baseline":
        secs = int(r["elapsed_us"]) / 1e6
        runs.setdefault(b, []).append((int(r["requests"]) / secs, int(r["sink_events"]) / secs, r))
base = {b: statistics.median(x[0] for x in v) for b, v in runs.items()}
base_ev = {b: statistics.median(x[1] for x in v) for b, v in runs.items()}
print("| body | run | webhooks | events in | delivered | mistgate events/s | deliveries/s "
      "| events per delivery | lag s | baseline req/s (median) | ratio (deliveries/s) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
notes = []
for b, run, r in rows:
    if run == "baseline":
        continue
    # Backlog: from the first arrival at the sink, so that the restart (opening the store,
    # rebuilding in-memory indexes, the correlation state) does not count as delivery.
    begin = int(r["first_arrival_us"] if run == "backlog" else r["first_us"])
    secs = (int(r["last_us"]) - begin) / 1e6
    ev, deliveries = int(r["sink_events"]), int(r["deliveries"])
    eps, dps = ev / secs, deliveries / secs
    per = ev / max(deliveries, 1)
    lag = (int(r["last_us"]) - int(r["ingest_done_us"])) / 1e6 if run == "live" else None
    # Live deliveries cannot outrun ingest, which shares the cores: no ratio for them.
    bl = base.get(b) if run == "backlog" else None
    mark = "" if r["complete"] == "1" else " (INCOMPLETE)"
    print(f"| {b} | {run}{mark} | {r['subs']} | {int(r['events']):,} | {ev:,} | **{eps:,.0f}** | {dps:,.0f} "
          f"| {per:.1f} | {'' if lag is None else f'{lag:.2f}'} | {'' if bl is None else f'{bl:,.0f}'} "
          f"| {'' if bl is None else f'**{dps / bl:.2f}**'} |")
    steady = ""
    t10, t90 = int(r.get("t10_us", 0)), int(r.get("t90_us", 0))
    if t90 > t10 > 0:
        s_eps = 0.8 * ev / ((t90 - t10) / 1e6)
        steady = (f"; between 10 % and 90 % of the events: {s_eps:,.0f} events/s, "
                  f"{s_eps / per:,.0f} deliveries/s")
    if run == "live":
        ingest = (int(r["ingest_done_us"]) - int(r["first_us"])) / 1e6
        notes.append(f"- {b} live: ingest of {int(r['events']):,} events took {ingest:.2f} s "
                     f"({int(r['events']) / ingest:,.0f} events/s in, x{r['subs']} webhooks = "
                     f"{int(r['events']) * int(r['subs']) / ingest:,.0f} events/s to deliver); "
                     f"first ingest to last event at the sink {secs:.2f} s{steady}")
    else:
        start = int(r["first_us"])
        notes.append(f"- {b} backlog: from the restart with delivery on, `listening on` after "
                     f"{(int(r['listening_us']) - start) / 1e6:.2f} s, first arrival at the sink after "
                     f"{(int(r['first_arrival_us']) - start) / 1e6:.2f} s, last after "
                     f"{(int(r['last_us']) - start) / 1e6:.2f} s; {r['batches']} batches built{steady}")
for b, v in runs.items():
    r = v[0][2]
    each = ", ".join(f"{x[0]:,.0f}" for x in v)
    notes.append(f"- {b} baseline: deliver-client, {r['subs']} loops, {int(r['requests']):,} "
                 f"requests ({int(r['bytes']) / max(int(r['requests']), 1):,.0f} bytes each on "
                 f"average), {len(v)} runs: {each} req/s; median {base[b]:,.0f} req/s, "
                 f"{base_ev[b]:,.0f} events/s")
print()
print("\n".join(notes))
print()
print("Where the CPU went during each measured interval (cores; the machine has "
      f"{os.cpu_count()}; `others` are processes this script did not start):")
print()
print("| body | run | seconds | machine busy | mistgate | deliver-sink | wrk / deliver-client | others |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
ncpu = os.cpu_count()
disturbed = []
seen = {}
for b, run, r in rows:
    if run == "baseline":
        seen[b] = seen.get(b, 0) + 1
        run = f"baseline {seen[b]}"
    if "cpu_total" not in r:
        continue
    total = int(r["cpu_total"])
    if total <= 0:
        continue
    span = total / ncpu  # ticks per CPU
    mg, sk, sc = (int(r[k]) for k in ("cpu_mistgate", "cpu_sink", "cpu_script"))
    others = max(int(r["cpu_busy"]) - mg - sk - sc, 0)
    hz = os.sysconf("SC_CLK_TCK")
    print(f"| {b} | {run} | {span / hz:.2f} | {100 * int(r['cpu_busy']) / total:.0f}% "
          f"| {mg / span:.2f} | {sk / span:.2f} | {sc / span:.2f} | {others / span:.2f} |")
    # Below a second, 10 ms ticks are too coarse to blame anyone.
    if others / total > 0.05 and span / hz >= 1:
        disturbed.append(f"!!!!!!!! {b} {run}: other processes used {100 * others / total:.0f}% "
                         "of the machine during the measurement: its figures are disturbed")
for line in disturbed:
    print()
    print(line)
    print(line, file=sys.stderr)
print()
print("Times: live from the first ingest request to the last event's arrival at the sink; "
      "backlog from the first arrival to the last (the restart before it is in the notes). Lag: "
      "last arrival minus the last ingest answer. Ratio: mistgate deliveries/s / the "
      "baseline's requests/s with the same bodies, as many (so also the events/s ratio). "
      "Live runs get no ratio: they cannot outrun ingest, which shares the cores.")
PY
if [[ -s $CHECKS ]]; then
    echo
    echo "What the sink received (every body checked against the ingested pool):"
    echo
    cat "$CHECKS"
fi

if ((BAD)); then
    echo
    echo "!!!!!!!! WARNING: some runs lost, duplicated or failed deliveries, or ingest" \
        "failed; see the warnings above. Those figures are meaningless." >&2
    exit 2
fi
