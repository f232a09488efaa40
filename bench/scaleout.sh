#!/usr/bin/env bash
# bench/scaleout.sh: ingest on PostgreSQL with 1, 2 and 3 `mistgate serve` instances on one
# database, next to 1 instance on SQLite, in one run.
#
# Run from the repository root:   bench/scaleout.sh
#
# The script starts its own PostgreSQL cluster (initdb + postgres from
# /usr/lib/postgresql/<v>/bin, as the `postgres` user via runuser when root) in a temporary
# directory on a free loopback port, with PostgreSQL's durable defaults (fsync = on,
# synchronous_commit = on; unlike crates/pgtest, which turns fsync off for tests), and
# stops it at the end. For each body (a 1-event alarms envelope and a 100-event location
# envelope, the same signed pools as bench/ingest.sh) it loads, one after the other:
#   1. sqlite-1: one `mistgate serve` with a fresh data dir (SQLite, synchronous=full):
#      the baseline every other figure is a ratio of;
#   2. postgres-N for each N of INSTANCES: N `mistgate serve` on one fresh database
#      (MISTGATE_DATABASE_URL, one MISTGATE_SECRET_KEY for all), each with its own data dir
#      and port, every one with every stage on: each stage runs on the instance holding
#      its lease, the others stand by (see README.md, "Running several instances").
# Every instance has one signed source and duplicate detection off. The load is one wrk
# process per instance, all at the same time for the same duration (wrk -t1, CONNS split
# between them), each with its own share of the pool; requests/s and events/s are summed.
# After each run GET /api/v1/stats must show every acknowledged event stored, every stored
# request with all its events, and no more requests than acknowledged plus those wrk left
# in flight at its deadline (one per connection, after the warm-up and after the run);
# else exit 2.
# CPU time of the mistgate processes, of PostgreSQL (postmaster, background processes and
# backends, from /proc deltas over the measured run) and of the whole machine is reported
# beside the throughput: everything (wrk, every instance, PostgreSQL) shares one machine,
# so more instances cannot add cores; the host's busy % says how CPU-bound a run was. For
# PostgreSQL runs, mistgate's connections are sampled from pg_stat_activity every 100 ms
# (state and wait event: the append lock, commit flushes, round trips).
#
# Knobs (environment):
#   CONNS=64           connections in all, split between the instances' wrk processes
#   DURATION=10s       measured run (each wrk -d$DURATION, all at once)
#   WARMUP=2s          load applied to every instance before it is measured (0 skips it)
#   INSTANCES=1,2,3    PostgreSQL configurations: how many instances on one database
#   POOL_ALARM=100000 POOL_LOCATION=3000   distinct signed bodies per pool (cycled)
#   SKIP_BUILD=1       use the binary already in target/ without building
#   PROFILE=release    `debug` builds and runs the debug binary (only to check the script)
#   SAMPLES=DIR        Mist sample events [default: <repo>/../shared/mist/samples]
#   KEEP=1             keep the temporary directories (bodies, logs, wrk outputs, cluster)
#   BENCH_MISTGATE=PATH  binary to run instead of target/'s
#   PG_BIN=DIR         PostgreSQL's binaries [default: newest /usr/lib/postgresql/<v>/bin]
# Any MISTGATE_* variable in the caller's environment is cleared so that it cannot
# change the configuration under test.
#
# Needs: cargo, python3, curl, wrk (installed with apt-get when missing), PostgreSQL's
# server packages (initdb, postgres, psql).
# Exit status: 0; 1 when something could not be set up or a server did not start; 2 when
# a run had non-2xx answers or fewer events were stored than acknowledged.
# Progress and raw wrk output go to stderr; the report (Markdown) goes to stdout.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ORIG_CMD="bench/scaleout.sh${*:+ $*}"

CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
INSTANCES=${INSTANCES:-1,2,3}
PROFILE=${PROFILE:-release}
SAMPLES=${SAMPLES:-$ROOT/../shared/mist/samples}
SECRET=${SECRET:-mistgate-bench-secret-7f3a9c}
POOL_ALARM=${POOL_ALARM:-100000}
POOL_LOCATION=${POOL_LOCATION:-3000}
TOKEN=${TOKEN:-mistgate-bench-token-5d81e6b2a4c0}
# The key every PostgreSQL instance shares (32 bytes as hex; a bench-only value).
SECRET_KEY=${SECRET_KEY:-6d697374676174652d62656e63682d6b65792d7363616c656f75742d30303031}

START_TIMEOUT_S=30 # a server must print its `listening on` line within this
STOP_TIMEOUT_S=10  # SIGTERM, then SIGKILL after this
HTTP_TIMEOUT_S=10  # any single curl request
PG_READY_S=60      # postgres must accept connections within this

LUA="$ROOT/bench/wrk_ingest.lua"
TARGET_DIR="$ROOT/target/$PROFILE"
MISTGATE=${BENCH_MISTGATE:-$TARGET_DIR/mistgate}

SCRIPT=scaleout.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
# shellcheck source=bench/pg.sh
source "$ROOT/bench/pg.sh"
bench_args "$@"
bench_clean_env

bench_build_flags
positive CONNS "$CONNS"
IFS=, read -r -a PG_COUNTS <<<"$INSTANCES"
for n in ${PG_COUNTS[@]+"${PG_COUNTS[@]}"}; do
    positive "each of INSTANCES" "$n"
    ((CONNS >= n)) || die "CONNS ($CONNS) must be at least the number of instances ($n)"
done

DURATION_S=$(seconds_of "$DURATION")
WARMUP_S=$(seconds_of "$WARMUP")
((DURATION_S > 0)) || die "DURATION must be longer than 0"

# ---------------------------------------------------------------------------------------
# Temporary files, child processes and their cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mistgate-scaleout.XXXXXX")
SERVER_PIDS=()
LOAD_PIDS=()
LOAD_PID= # lib.sh's servers_cleanup knows one load generator; ours are in LOAD_PIDS
SAMPLER_PID= # psql sampling pg_stat_activity during a run

cleanup() {
    local pid
    if [[ -n $SAMPLER_PID ]]; then
        kill -INT "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
    fi
    for pid in ${LOAD_PIDS[@]+"${LOAD_PIDS[@]}"}; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    LOAD_PIDS=()
    servers_stop # before the database they use
    pg_cleanup
    servers_cleanup # removes WORK (kept with KEEP=1)
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
# Tools and build.

need_wrk
for tool in cargo python3 curl timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
[[ -f $LUA ]] || die "missing $LUA"
[[ -d $SAMPLES ]] || die "no Mist samples at $SAMPLES (set SAMPLES=DIR)"

pg_find_bin

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    note "building mistgate ($PROFILE)"
    cargo build "${BUILD_FLAGS[@]}" --locked --bin mistgate || die "cargo build of mistgate failed"
fi
[[ -x $MISTGATE ]] || die "no $MISTGATE (build it, or drop SKIP_BUILD)"
timeout 30 "$MISTGATE" serve --help >/dev/null 2>&1 ||
    die "$MISTGATE has no working 'serve' subcommand: nothing to benchmark"

# ---------------------------------------------------------------------------------------
# The PostgreSQL cluster.

pg_start mistgate-scaleout-pg "$WORK/postgres.log"

psql_do() {
    "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$1"
}
PG_VERSION=$(psql_do "SHOW server_version")
PG_SETTINGS=$(psql_do "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'max_connections', 'full_page_writes')")
note "PostgreSQL $PG_VERSION: $PG_SETTINGS"

# ---------------------------------------------------------------------------------------
# Bodies and their signatures: the pools of bench/ingest.sh, made the same way (same
# samples, same seed).

python3 "$ROOT/bench/pools.py" "$SAMPLES" "$WORK" "$SECRET" "$POOL_ALARM" "$POOL_LOCATION"

BODIES=(alarm-1 location-100)

# mistgate's own signer must agree with python's HMAC on the first body of each pool.
for b in "${BODIES[@]}"; do
    want=$(head -c 64 "$WORK/$b.pool")
    if timeout 30 "$MISTGATE" sign --help >/dev/null 2>&1; then
        got=$(timeout 30 "$MISTGATE" sign --secret "$SECRET" "$WORK/$b.json" | sed -n 's/^X-Mist-Signature-v2: //p')
        [[ $got == "$want" ]] || die "mistgate sign ($got) and python3 ($want) disagree on $b"
    else
        warn "'mistgate sign' is not available; using python3's signatures unchecked"
    fi
done

declare -A EVENTS_PER_BODY
for b in "${BODIES[@]}"; do
    EVENTS_PER_BODY[$b]=$(events_in "$WORK/$b.json")
done

# Each instance of an N-instance run sends its own share of the pool (line k goes to
# instance k mod N), so that no two instances get the same body at the same time.
# split_pool BODY N: makes $WORK/BODY.N.I.pool for I in 0..N-1.
split_pool() {
    local b=$1 n=$2
    [[ -f $WORK/$b.$n.0.pool ]] && return 0
    awk -v n="$n" -v prefix="$WORK/$b.$n." '{ print > (prefix ((NR - 1) % n) ".pool") }' "$WORK/$b.pool"
}

# The configuration: every instance has the same one (the stages run where their lease
# is held).
write_config() {
    local file=$1
    cat >"$file" <<EOF
[[sources]]
name = "bench"
secrets = ["$SECRET"]
accept_v1_signature = false

[ingest]
# The pools are cycled when a run outlasts them: with duplicate detection off, a body
# seen before is stored again like fresh traffic instead of being skipped.
dedup_window = "0s"

[storage]
# SQLite: fsync on every group commit (the durable default). PostgreSQL: the server's
# own fsync and synchronous_commit (both on here).
synchronous = "full"

EOF
}
write_config "$WORK/first.toml"
cp "$WORK/first.toml" "$WORK/other.toml"

# ---------------------------------------------------------------------------------------
# CPU accounting: /proc deltas over the measured run.

CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)

# cpu_snap FILE MISTGATE_PID...: one JSON snapshot of the CPU ticks (utime+stime) and RSS
# of the mistgate processes, of the postmaster and every process whose parent it is
# (background processes and backends; plus the ticks of its children already reaped),
# and of the whole machine (/proc/stat).
cpu_snap() {
    local file=$1
    shift
    python3 - "$file" "${PG_PID:-0}" "$@" <<'PY'
import json, os, sys, time
out, postmaster, mistgate = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]

def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        with open(f"/proc/{pid}/status") as f:
            rss = next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is the state (field 3); utime, stime, cutime, cstime are fields 14-17.
    return {"ppid": int(fields[1]), "ticks": int(fields[11]) + int(fields[12]),
            "reaped": int(fields[13]) + int(fields[14]), "rss_kb": rss, "comm": comm}

snap = {"t": time.monotonic(), "mistgate": {}, "postgres": {}, "reaped": 0}
with open("/proc/stat") as f:
    snap["cpu"] = [int(x) for x in f.readline().split()[1:]]
for pid in mistgate:
    s = stat(pid)
    if s:
        snap["mistgate"][pid] = s
if postmaster:
    s = stat(postmaster)
    if s:
        snap["postgres"][postmaster] = s
        snap["reaped"] = s["reaped"]
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = stat(int(name))
            if s and s["ppid"] == postmaster:
                snap["postgres"][int(name)] = s
with open(out, "w") as f:
    json.dump(snap, f)
PY
}

# cpu_delta START END: prints `mistgate_pct postgres_pct host_busy_pct host_iowait_pct
# mistgate_rss_mb postgres_processes seconds` (percent of one core, so NPROC cores make NPROC x 100 %).
cpu_delta() {
    python3 - "$1" "$2" "$CLK_TCK" "$NPROC" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
tck, nproc = int(sys.argv[3]), int(sys.argv[4])
dt = b["t"] - a["t"]
def pct(ticks):
    return 100.0 * ticks / tck / dt
mg = sum(s["ticks"] - a["mistgate"].get(p, {"ticks": 0})["ticks"] for p, s in b["mistgate"].items())
pg = sum(s["ticks"] - a["postgres"].get(p, {"ticks": 0})["ticks"] for p, s in b["postgres"].items())
pg += b["reaped"] - a["reaped"]
# /proc/stat: user nice system idle iowait irq softirq steal ...
busy = lambda c: sum(c[:8]) - c[3] - c[4]
total = lambda c: sum(c[:8])
span = max(1, total(b["cpu"]) - total(a["cpu"]))
host = 100.0 * nproc * (busy(b["cpu"]) - busy(a["cpu"])) / span
iowait = 100.0 * nproc * (b["cpu"][4] - a["cpu"][4]) / span
rss = sum(s["rss_kb"] for s in b["mistgate"].values()) / 1024
print(f"{pct(mg):.0f} {pct(pg):.0f} {host:.0f} {iowait:.0f} {rss:.0f} {len(b['postgres'])} {dt:.2f}")
PY
}

# ---------------------------------------------------------------------------------------
# Load: one wrk per instance, all at once.

# load_all DURATION TAG: runs wrk against every address of ADDRS at the same time, for
# DURATION, instance i with CONN_SPLIT[i] connections and its own share of the pool
# (POOLS[i]); each one's output in $WORK/TAG.i.out. Dies when a wrk fails.
load_all() {
    local dur=$1 tag=$2 i status
    local limit=$(($(seconds_of "$dur") + 60))
    LOAD_PIDS=()
    for i in "${!ADDRS[@]}"; do
        # In the background so that a signal to this script is handled at once (bash
        # runs traps only between foreground commands, but `wait` is interruptible).
        timeout --kill-after=5 "$limit" \
            wrk -t1 "-c${CONN_SPLIT[$i]}" "-d$dur" --latency -s "$LUA" \
            "http://${ADDRS[$i]}/ingest/bench" -- "${POOLS[$i]}" 1 \
            >"$WORK/$tag.$i.out" 2>&1 &
        LOAD_PIDS+=($!)
    done
    local failed=()
    for i in "${!LOAD_PIDS[@]}"; do
        status=0
        wait "${LOAD_PIDS[$i]}" || status=$?
        ((status == 0)) || failed+=("$i:$status")
    done
    LOAD_PIDS=()
    ((${#failed[@]} == 0)) || die "wrk failed (instance:status ${failed[*]}): $(tail -n 5 "$WORK/$tag.${failed[0]%%:*}.out")"
    for i in "${!ADDRS[@]}"; do
        grep -q '^RESULT ' "$WORK/$tag.$i.out" ||
            die "no RESULT line from wrk against instance $i: $(cat "$WORK/$tag.$i.out")"
    done
}

# result_field FILE KEY: the value of KEY=... on the RESULT line of FILE.
result_field() {
    local v
    v=$(grep -m1 '^RESULT ' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p")
    [[ -n $v ]] || die "no $2 in the RESULT line of $1"
    echo "$v"
}

# probe ADDR POOL: one POST of the pool's first body with curl before the load, to see
# the status and the answer in clear. Prints the status code.
probe() {
    local addr=$1 pool=$2 body="$WORK/probe.body" answer="$WORK/probe.answer" sig code
    sig=$(head -n 1 "$pool" | cut -d' ' -f1)
    head -n 1 "$pool" | cut -d' ' -f2- | tr -d '\n' >"$body"
    code=$(curl -sS --max-time "$HTTP_TIMEOUT_S" -o "$answer" -w '%{http_code}' \
        -H 'Content-Type: application/json' -H "X-Mist-Signature-v2: $sig" \
        --data-binary "@$body" "http://$addr/ingest/bench") || code=000
    [[ $code == 2?? ]] || warn "$addr answered $code to a single POST: $(head -c 300 "$answer")"
    echo "$code"
}

# stored_totals ADDR FILE: GET /api/v1/stats into FILE; prints `requests events duplicates`.
stored_totals() {
    local addr=$1 file=$2 code
    code=$(curl -sS --max-time "$HTTP_TIMEOUT_S" -o "$file" -w '%{http_code}' \
        -H "Authorization: Token $TOKEN" "http://$addr/api/v1/stats") || code=000
    [[ $code == 200 ]] || {
        warn "GET /api/v1/stats on $addr answered $code: $(head -c 300 "$file")"
        return 1
    }
    python3 - "$file" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
print(t["requests"], t["events"], t["duplicates"])
PY
}

# ---------------------------------------------------------------------------------------
# The runs.

RESULTS="$WORK/results.tsv"
STORED="$WORK/stored.txt"
WAITS="$WORK/waits.txt" # per PostgreSQL run: mistgate's connections by state and wait event
: >"$WAITS"
: >"$RESULTS"
: >"$STORED"
BAD=0

# run_config BODY NAME N BACKEND: starts N instances (BACKEND sqlite or postgres), loads
# them, checks what was stored, stops them; appends one line to RESULTS.
run_config() {
    local b=$1 name=$2 n=$3 backend=$4
    local per=${EVENTS_PER_BODY[$b]} i url="" db=""
    note "$b / $name: starting $n instance(s)"
    if [[ $backend == postgres ]]; then
        db="bench_${b//-/_}_$n"
        psql_do "CREATE DATABASE $db" || die "cannot create database $db"
        url="postgres://postgres@127.0.0.1:$PG_PORT/$db"
    fi
    split_pool "$b" "$n"
    ADDRS=()
    POOLS=()
    CONN_SPLIT=()
    local pids=()
    for ((i = 0; i < n; i++)); do
        local data="$WORK/data-$b-$name-$i" log="$WORK/mistgate-$b-$name-$i.log"
        local config="$WORK/other.toml"
        ((i > 0)) || config="$WORK/first.toml"
        mkdir "$data"
        local env=(MISTGATE_API_TOKEN="$TOKEN")
        [[ $backend != postgres ]] || env+=(MISTGATE_DATABASE_URL="$url" MISTGATE_SECRET_KEY="$SECRET_KEY")
        start_server "mistgate-$b-$name-$i" "$log" \
            env "${env[@]}" "$MISTGATE" serve --listen 127.0.0.1:0 --data-dir "$data" --config "$config"
        ADDRS+=("$SERVER_ADDR")
        pids+=("$SERVER_PID")
        POOLS+=("$WORK/$b.$n.$i.pool")
        CONN_SPLIT+=($((CONNS / n + (i < CONNS % n ? 1 : 0))))
    done
    note "$b / $name: instances at ${ADDRS[*]} (pids ${pids[*]}), connections ${CONN_SPLIT[*]}"

    local acked=0 code
    for i in "${!ADDRS[@]}"; do
        code=$(probe "${ADDRS[$i]}" "${POOLS[$i]}")
        if [[ $code == 2?? ]]; then acked=$((acked + 1)); else BAD=1; fi
    done
    if ((WARMUP_S > 0)); then
        note "$b / $name: warm-up $WARMUP"
        load_all "$WARMUP" "$b.$name.warmup"
        for i in "${!ADDRS[@]}"; do
            local w="$WORK/$b.$name.warmup.$i.out"
            acked=$((acked + $(result_field "$w" requests) - $(result_field "$w" errors_status)))
        done
    fi

    note "$b / $name: measuring $DURATION, $CONNS connections over $n wrk process(es)"
    local lsn0="" wal_mb="-" waits="$WORK/$b.$name.waits"
    if [[ $backend == postgres ]]; then
        lsn0=$(psql_do "SELECT pg_current_wal_lsn()")
        # What mistgate's connections are doing, every 100 ms of the run: one psql
        # session (its own backend is left out).
        printf '%s\n' "SELECT state || ' / ' || coalesce(wait_event_type || ':' || wait_event, 'on CPU')
            FROM pg_stat_activity WHERE datname = '$db' AND backend_type = 'client backend'
            AND pid <> pg_backend_pid() UNION ALL SELECT 'sample';" '\watch 0.1' |
            "$PG_BIN/psql" -X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" \
                >"$waits" 2>"$waits.err" &
        SAMPLER_PID=$!
    fi
    cpu_snap "$WORK/$b.$name.cpu0" "${pids[@]}"
    load_all "$DURATION" "$b.$name.run"
    cpu_snap "$WORK/$b.$name.cpu1" "${pids[@]}"
    if [[ -n $SAMPLER_PID ]]; then
        kill -INT "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=
        python3 - "$waits" "$b / $name" <<'PY' >>"$WAITS"
import collections, sys
lines = [l.strip() for l in open(sys.argv[1])]
samples = max(1, lines.count("sample"))
n = collections.Counter(l for l in lines if " / " in l)
parts = [f"{k} {v / samples:.1f}" for k, v in n.most_common(6)]
print(f"- {sys.argv[2]} ({samples} samples): " + "; ".join(parts))
PY
    fi
    # PostgreSQL's WAL written over the run (every instance's appends, and the stages').
    [[ -z $lsn0 ]] || wal_mb=$(psql_do "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / 1048576.0)")
    local cpu
    cpu=$(cpu_delta "$WORK/$b.$name.cpu0" "$WORK/$b.$name.cpu1")
    {
        echo "    per process over the run (CPU % of one core, RSS MB):"
        python3 - "$WORK/$b.$name.cpu0" "$WORK/$b.$name.cpu1" "$CLK_TCK" <<'PY'
import json, sys
a, b, tck = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
dt = b["t"] - a["t"]
for kind in ("mistgate", "postgres"):
    for pid, s in sorted(b[kind].items(), key=lambda kv: -kv[1]["ticks"]):
        d = s["ticks"] - a[kind].get(pid, {"ticks": 0})["ticks"]
        if kind == "mistgate" or d > 0:
            print(f"      {kind:8} {pid:>7} {s['comm'][:15]:15} {100 * d / tck / dt:6.1f} % {s['rss_kb'] / 1024:8.1f} MB")
print(f"      postgres children reaped during the run: {100 * (b['reaped'] - a['reaped']) / tck / dt:.1f} %")
PY
    } >&2

    local requests=0 non2xx=0 other=0 rps_list=() p99_max=0
    local rps_sum
    for i in "${!ADDRS[@]}"; do
        local out="$WORK/$b.$name.run.$i.out"
        sed "s/^/    [$i] /" "$out" >&2
        local r e o d p99
        r=$(result_field "$out" requests)
        e=$(result_field "$out" errors_status)
        o=$(result_field "$out" errors_other)
        d=$(result_field "$out" duration_us)
        p99=$(result_field "$out" p99_us)
        requests=$((requests + r))
        non2xx=$((non2xx + e))
        other=$((other + o))
        acked=$((acked + r - e))
        if ((p99 > p99_max)); then p99_max=$p99; fi
        rps_list+=("$(python3 -c "print(f'{$r / ($d / 1e6):.1f}')")")
        ((e == 0)) || warn "!!!!!!!! instance $i answered non-2xx $e times out of $r ($(grep -m1 '^STATUS' "$out")): the figures are MEANINGLESS"
        ((o == 0)) || warn "instance $i: $o socket errors (connect/read/write/timeout) during the run"
    done
    ((non2xx == 0)) || BAD=1
    rps_sum=$(python3 -c "import sys; print(f'{sum(map(float, sys.argv[1:])):.1f}')" "${rps_list[@]}")

    # What was stored: the totals (on PostgreSQL, of the shared database) once they stop
    # moving (requests still in flight when wrk stopped may be committed after).
    local totals prev="" polls=0 stats="$WORK/$b.$name.stats.json"
    while :; do
        totals=$(stored_totals "${ADDRS[0]}" "$stats") || {
            BAD=1
            totals="? ? ?"
            break
        }
        [[ $totals != "$prev" ]] || break
        ((polls < 20)) || break
        prev=$totals
        sleep 0.5
        polls=$((polls + 1))
    done
    local s_req s_ev s_dup
    read -r s_req s_ev s_dup <<<"$totals"
    # wrk stops at its deadline without waiting for the answers still due: the requests
    # then in flight (at most one per connection, at the end of the warm-up and of the
    # run) are stored without being counted as acknowledged. So: every acknowledged
    # request stored, at most that many more, and every stored request with all its events.
    local want=$((acked * per)) verdict phases=1
    ((WARMUP_S == 0)) || phases=2
    local slack=$((phases * CONNS))
    if [[ $s_ev == "?" ]]; then
        verdict="!!!!!!!! NOT CHECKED (no stats)"
    elif ((s_req < acked || s_ev + s_dup < want)); then
        BAD=1
        verdict="!!!!!!!! FEWER STORED THAN ACKNOWLEDGED"
    elif ((s_ev + s_dup != s_req * per)); then
        BAD=1
        verdict="!!!!!!!! $s_req requests stored with $((s_ev + s_dup)) events, not $((s_req * per))"
    elif ((s_req - acked > slack)); then
        BAD=1
        verdict="!!!!!!!! $((s_req - acked)) requests more stored than acknowledged (at most $slack were in flight when wrk stopped)"
    else
        verdict="OK (+$((s_req - acked)) requests in flight when wrk stopped, at most $slack)"
        ((s_dup == 0)) || verdict="$verdict, but $s_dup events taken as duplicates with dedup_window = 0s"
    fi
    echo "- $b / $name: stored $s_req requests, $s_ev events + $s_dup duplicates; acknowledged $acked requests, $want events: $verdict" >>"$STORED"
    note "$b / $name: $(tail -n 1 "$STORED" | cut -c3-)"

    for i in "${!pids[@]}"; do
        stop_server "${pids[$i]}"
        local log="$WORK/mistgate-$b-$name-$i.log"
        if grep -qiE '\b(ERROR|panicked)\b' "$log"; then
            warn "instance $i of $name logged errors during $b; first ones:"
            grep -iE '\b(ERROR|panicked)\b' "$log" | head -n 5 >&2
        fi
    done
    # body name instances events_per_body requests rps_sum rps_list non2xx other p99_max_us cpu...
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$name" "$n" "$per" "$requests" \
        "$rps_sum" "${rps_list[*]}" "$non2xx" "$other" "$p99_max" "$cpu" "$wal_mb" >>"$RESULTS"
}

for b in "${BODIES[@]}"; do
    run_config "$b" sqlite-1 1 sqlite
    for n in ${PG_COUNTS[@]+"${PG_COUNTS[@]}"}; do
        run_config "$b" "postgres-$n" "$n" postgres
    done
done

# ---------------------------------------------------------------------------------------
# Report.

cpu=$(host_cpu)
rev=$(git_rev)
echo
echo "## mistgate scale-out benchmark (PostgreSQL, several instances)"
echo
echo "- command: CONNS=$CONNS DURATION=$DURATION WARMUP=$WARMUP INSTANCES=$INSTANCES" \
    "PROFILE=$PROFILE $ORIG_CMD"
echo "- load: per instance, at the same time: wrk -t1 -c<CONNS/N> -d$DURATION --latency" \
    "-s bench/wrk_ingest.lua URL -- POOL_SHARE 1 ($(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}'))"
echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "- git: $rev"
echo "- host: **everything (wrk, every mistgate instance, PostgreSQL) runs on one machine with" \
    "$NPROC cores**: the instances share those cores, so more instances cannot add CPU here" \
    "(host busy % below says how close each run came to CPU-bound). cpu: ${cpu:-unknown}," \
    "kernel: $(uname -srm)"
echo "- PostgreSQL $PG_VERSION, a fresh cluster, one fresh database per configuration and body;" \
    "durable defaults ($PG_SETTINGS)"
echo "- SQLite: synchronous=full (fsync per group commit), fresh data dir per body"
echo "- mistgate: one source with one secret (X-Mist-Signature-v2), dedup_window=0s; every" \
    "instance has every stage on (each runs on the instance holding its lease, the others stand by)"
echo "- bodies: alarm-1 ~$(wc -c <"$WORK/alarm-1.json") bytes (1 event, pool of $POOL_ALARM distinct)," \
    "location-100 ~$(wc -c <"$WORK/location-100.json") bytes (100 events, pool of $POOL_LOCATION distinct)," \
    "the pool split between the instances"
echo "- CPU: percent of one core (the machine has $((NPROC * 100)) %) over the measured run, from" \
    "/proc deltas: mistgate = every instance; postgres = postmaster, background processes and" \
    "backends; host busy = the whole machine (wrk, mistgate, postgres and the rest); host iowait =" \
    "idle time with I/O outstanding (fsync); WAL MB = PostgreSQL WAL written during the run"
echo
python3 - "$RESULTS" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
base = {r[0]: float(r[5]) for r in rows if r[1] == "sqlite-1"}
print("| configuration | body | req/s | events/s | ratio to SQLite 1 instance | req/s per instance "
      "| mistgate CPU % | postgres CPU % | host busy % | host iowait % | mistgate RSS MB | WAL MB | worst p99 ms | non-2xx |")
print("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for body, name, n, per, req, rps, rps_list, non2xx, other, p99, cpu, wal in rows:
    mg, pg, host, iowait, rss, pgprocs, dt = cpu.split()
    rps = float(rps)
    ratio = f"{rps / base[body]:.2f}" if body in base and base[body] > 0 else ""
    split = " + ".join(f"{float(x):,.0f}" for x in rps_list.split())
    pgcpu = pg if name != "sqlite-1" else "–"
    note = "" if int(other) == 0 else f" (+{other} socket errors)"
    print(f"| {name} | {body} | {rps:,.0f} | {rps * int(per):,.0f} | {ratio} | {split} "
          f"| {mg} | {pgcpu} | {host} | {iowait} | {rss} | {wal} | {int(p99) / 1000:.1f} | {non2xx}{note} |")
PY
echo "- PostgreSQL's log over the whole invocation: $(grep -c 'checkpoint starting: wal' "$WORK/postgres.log" || true)" \
    "checkpoint(s) started by WAL volume (max_wal_size), $(grep -c 'checkpoint starting: time' "$WORK/postgres.log" || true) by time"
if [[ -s $WAITS ]]; then
    echo
    echo "What mistgate's PostgreSQL connections were doing during each run (pg_stat_activity every" \
        "100 ms: state / wait event, average number of connections; \`idle\` = in the pool," \
        "\`idle in transaction\` = waiting for mistgate inside a transaction, \`Lock:advisory\` =" \
        "waiting for the append lock, \`IO:WALSync\` / \`LWLock:WALWrite\` = commit flush):"
    echo
    cat "$WAITS"
fi
echo
echo "What was stored (GET /api/v1/stats, after probe, warm-up and run; on PostgreSQL the" \
    "shared database's totals):"
echo
cat "$STORED"

if ((BAD)); then
    echo
    echo "!!!!!!!! WARNING: some runs had non-2xx answers or lost events; see the warnings" \
        "above. Those figures are meaningless." >&2
    exit 2
fi
