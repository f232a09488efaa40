#!/usr/bin/env bash
# bench/search.sh: event search and retention with EVENTS stored events (10 million by
# default), on SQLite and on PostgreSQL, in one run: search latency through the API, the
# query plans of the statements the store issues, and the prune of one day of receipt.
#
# Run from the repository root:   bench/search.sh
#
# What it does, in order:
#   1. loads EVENTS events into one `mistgate serve` on SQLite (a fresh data dir), through
#      POST /ingest like any webhook: signed 100-event envelopes of one topic and site
#      each (bench/search.py: 200 sites, 20,000 client MACs and 2,000 APs, six topics),
#      DAYS days of event time (the events of each day spread over it), one day after
#      the other; /api/v1/stats must then show exactly EVENTS events and EVENTS/100
#      requests (else exit 2);
#   2. moves each day's requests and events back to that day's own day of receipt,
#      with SQL on the stopped database (the product's own SQLite, see
#      bench/sqlite_exec.c): received_at of day k's rows becomes 23:59 of day k less how
#      long before the day's last request each arrived, and the per-minute counts are
#      made again from the rows. So the history looks received over DAYS days, the
#      oldest DAYS days ago, yesterday the newest;
#   3. copies that data dir into PostgreSQL with `mistgate migrate` (ids and received_at
#      kept; day partitions made for each day of receipt); the row counts of the copy
#      must match (else exit 2). Both backends now hold the same rows with the same ids;
#   4. on each backend, one `mistgate serve` with retention off (`retention_days = 0`,
#      correlation and delivery off: only the log is read), started and left until its
#      pruner's first pass (expiring duplicate-detection fingerprints older than the
#      24 h window) has reported; on PostgreSQL then `VACUUM (ANALYZE)` (what autovacuum
#      would have done by then, done before measuring so that it does not run during
#      it); WARMUP_QUERIES queries of each kind, then QUERIES of each kind, one at a time
#      on one keep-alive connection, timed by the client (bench/search.py run):
#        site-1h  topic + site_id + a 1-hour window of event time (since/until)
#        site-1d  topic + site_id + a 1-day window
#        mac      mac alone
#      with the API's default page (limit 100). Both backends get the same queries and
#      must give the same answers (the ids of every page; else exit 2). Query plans:
#      SQLite `EXPLAIN QUERY PLAN` of the statements crates/store/src/sqlite/read.rs
#      builds for these filters (with the product's SQLite version, bench/sqlite_exec.c);
#      PostgreSQL `EXPLAIN (ANALYZE, BUFFERS)` of the statements mistgate sent during the
#      warm-up (taken from PostgreSQL's log, with their parameters; prepared and executed
#      five times first, as mistgate's cached statements are);
#   5. on each backend, one `mistgate serve` with `retention_days` set so that the
#      oldest day of receipt, and only it, is older than the retention: its pruner's
#      first pass (at start) is timed from its log (from the line saying it runs the
#      pruner to the line reporting what went) and must remove exactly that day's
#      requests and events (else exit 2). On PostgreSQL that is dropping the day's
#      partitions; on SQLite deleting the rows. PostgreSQL's log gives the pass's
#      statements with their durations.
# The ratios are PostgreSQL / SQLite. The cluster is the script's own (initdb + postgres
# from /usr/lib/postgresql/<v>/bin in a temporary directory on a free loopback port, as
# `postgres` via runuser when root), with PostgreSQL's durable defaults (fsync and
# synchronous_commit on); everything runs under `nice -n 10`.
#
# Knobs (environment):
#   EVENTS=10000000    events loaded (a multiple of 100)
#   DAYS=7             days of receipt (and of event time) they are spread over
#   QUERIES=500        measured queries per kind and backend
#   WARMUP_QUERIES=50  queries per kind before those (not measured)
#   CONNS=8            connections of the load
#   SEED=1             the queries' seed
#   SKIP_BUILD=1       use the binary already in target/ without building
#   PROFILE=release    `debug` builds and runs the debug binary (only to check the script)
#   KEEP=1             keep the temporary directories (data dirs, logs, cluster)
#   BENCH_MISTGATE=PATH  binary to run instead of target/'s
#   PG_BIN=DIR         PostgreSQL's binaries [default: newest /usr/lib/postgresql/<v>/bin]
# Any MISTGATE_* variable in the caller's environment is cleared.
#
# Needs: cargo, python3, curl, gcc (for bench/sqlite_exec.c, against the SQLite source
# rusqlite bundles, from cargo's registry), PostgreSQL's server packages.
# Exit status: 0; 1 when something could not be set up or a server did not start; 2 when
# a count did not match (load, copy, prune) or the backends answered differently.
# Progress goes to stderr; the report (Markdown) goes to stdout.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ORIG_CMD="bench/search.sh${*:+ $*}"

EVENTS=${EVENTS:-10000000}
DAYS=${DAYS:-7}
QUERIES=${QUERIES:-500}
WARMUP_QUERIES=${WARMUP_QUERIES:-50}
CONNS=${CONNS:-8}
SEED=${SEED:-1}
PROFILE=${PROFILE:-release}
SECRET=${SECRET:-mistgate-bench-secret-7f3a9c}
TOKEN=${TOKEN:-mistgate-bench-token-5d81e6b2a4c0}

START_TIMEOUT_S=600 # a server must print its `listening on` line within this
STOP_TIMEOUT_S=120  # SIGTERM, then SIGKILL after this (closing checkpoints SQLite's WAL)
HTTP_TIMEOUT_S=60   # any single curl request
PG_READY_S=60       # postgres must accept connections within this
PRUNE_TIMEOUT_S=3600 # a pruner's first pass must report within this

TARGET_DIR="$ROOT/target/$PROFILE"
MISTGATE=${BENCH_MISTGATE:-$TARGET_DIR/mistgate}
PY="$ROOT/bench/search.py"
NICE=(nice -n 10)
DAY_S=86400

SCRIPT=search.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
# shellcheck source=bench/pg.sh
source "$ROOT/bench/pg.sh"
bench_args "$@"
bench_clean_env

bench_build_flags
for v in EVENTS DAYS QUERIES CONNS SEED; do positive "$v" "${!v}"; done
[[ $WARMUP_QUERIES =~ ^[0-9]+$ ]] || die "WARMUP_QUERIES must be a number"
((WARMUP_QUERIES >= 7)) || die "WARMUP_QUERIES must be at least 7 (PostgreSQL's plans are taken from them)"
((EVENTS % 100 == 0)) || die "EVENTS must be a multiple of 100 (the load's envelopes hold 100 events)"
((DAYS >= 2)) || die "DAYS must be at least 2 (one day is pruned, the others stay)"
((EVENTS >= DAYS * 1000)) || die "EVENTS must be at least 1000 per day"

# ---------------------------------------------------------------------------------------
# Temporary files, child processes and their cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mistgate-search.XXXXXX")
SERVER_PIDS=()
LOAD_PID=

cleanup() {
    servers_stop # before the database they use
    pg_cleanup
    servers_cleanup # removes WORK (kept with KEEP=1)
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
# Tools and build.

for tool in cargo python3 curl gcc timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
pg_find_bin

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    note "building mistgate ($PROFILE)"
    "${NICE[@]}" cargo build "${BUILD_FLAGS[@]}" --locked --bin mistgate || die "cargo build of mistgate failed"
fi
[[ -x $MISTGATE ]] || die "no $MISTGATE (build it, or drop SKIP_BUILD)"
timeout 30 "$MISTGATE" migrate --help >/dev/null 2>&1 ||
    die "$MISTGATE has no working 'migrate' subcommand"

# The SQLite mistgate is built with: the amalgamation of the libsqlite3-sys in Cargo.lock
# (rusqlite's `bundled`), compiled with the flags of its build script that touch SQL.
SQLITE_SYS=$(awk '/^name = "libsqlite3-sys"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
[[ -n $SQLITE_SYS ]] || die "no libsqlite3-sys in Cargo.lock"
AMALGAMATION=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 3 -path "*/libsqlite3-sys-$SQLITE_SYS/sqlite3" 2>/dev/null | head -n 1)
[[ -f $AMALGAMATION/sqlite3.c ]] ||
    die "no SQLite source of libsqlite3-sys $SQLITE_SYS in cargo's registry (a cargo build fetches it)"
note "compiling bench/sqlite_exec.c against libsqlite3-sys $SQLITE_SYS's SQLite"
SQLITE_EXEC="$WORK/sqlite_exec"
"${NICE[@]}" gcc -O1 -DSQLITE_CORE -DSQLITE_DEFAULT_FOREIGN_KEYS=1 -DSQLITE_ENABLE_STAT4 \
    -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_FTS3 \
    -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_JSON1 -DSQLITE_THREADSAFE=1 \
    -DSQLITE_USE_URI -DHAVE_USLEEP=1 -I"$AMALGAMATION" "$ROOT/bench/sqlite_exec.c" \
    "$AMALGAMATION/sqlite3.c" -o "$SQLITE_EXEC" -lpthread -ldl -lm || die "could not compile bench/sqlite_exec.c"

# ---------------------------------------------------------------------------------------
# The PostgreSQL cluster (as bench/scaleout.sh makes it; statements are logged with their
# duration only while log_min_duration_statement is set below).

PGLOG="$WORK/postgres.log"
pg_start mistgate-search-pg "$PGLOG" -c log_timezone=UTC -c "log_line_prefix=%m [%p] "

# psql_on DB SQL...: each SQL its own command (-c), unaligned, tuples only.
psql_on() {
    local db=$1 args=()
    shift
    for s in "$@"; do args+=(-c "$s"); done
    "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" "${args[@]}"
}
# log_statements on|off: every statement's duration in PostgreSQL's log, or none.
log_statements() {
    if [[ $1 == on ]]; then
        psql_on postgres "ALTER SYSTEM SET log_min_duration_statement = 0" "SELECT pg_reload_conf()" >/dev/null
    else
        psql_on postgres "ALTER SYSTEM RESET log_min_duration_statement" "SELECT pg_reload_conf()" >/dev/null
    fi
    sleep 1 # every backend takes the reload before its next command
}
PG_VERSION=$(psql_on postgres "SHOW server_version")
PG_SETTINGS=$(psql_on postgres "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'work_mem', 'effective_cache_size', 'random_page_cost', 'autovacuum')")
note "PostgreSQL $PG_VERSION: $PG_SETTINGS"
psql_on postgres "CREATE DATABASE search" >/dev/null
PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/search"

# ---------------------------------------------------------------------------------------
# mistgate.

# write_config FILE RETENTION_DAYS: one signed source; only the log (no correlation, no
# delivery); the pruner at start, then hourly; duplicate detection as by default (24 h).
write_config() {
    cat >"$1" <<EOF
[[sources]]
name = "bench"
secrets = ["$SECRET"]
accept_v1_signature = false

[storage]
synchronous = "full"
retention_days = $2
prune_interval = "1h"

[correlation]
enabled = false

[delivery]
enabled = false
EOF
}

# start_mistgate NAME DATA_DIR CONFIG [DATABASE_URL SECRET_KEY]: sets SERVER_PID, SERVER_ADDR.
start_mistgate() {
    local name=$1 data=$2 config=$3 env=(MISTGATE_API_TOKEN="$TOKEN")
    [[ -z ${4:-} ]] || env+=(MISTGATE_DATABASE_URL="$4" MISTGATE_SECRET_KEY="$5")
    start_server "$name" "$WORK/$name.log" "${NICE[@]}" env "${env[@]}" \
        "$MISTGATE" serve --listen 127.0.0.1:0 --data-dir "$data" --config "$config" --log-format json
    note "$name: listening on $SERVER_ADDR (pid $SERVER_PID)"
}

# stats ADDR: prints `requests events duplicates` of GET /api/v1/stats.
stats() {
    curl -sS --fail --max-time "$HTTP_TIMEOUT_S" -H "Authorization: Token $TOKEN" "http://$1/api/v1/stats" |
        python3 -c 'import json, sys; t = json.load(sys.stdin)["totals"]; print(t["requests"], t["events"], t["duplicates"])'
}

# wait_pruned NAME ADDR: waits (bounded) for the first pass of NAME's pruner to end;
# prints what its log says it removed (JSON, with the pass's seconds), or `{}` when it
# removed nothing (the pass ended, as /readyz says, and logged nothing). /readyz is asked
# only every 15 s, so as not to disturb the pass it waits for.
wait_pruned() {
    local name=$1 addr=$2 out="" polls=0 done_at
    while :; do
        out=$(python3 "$PY" pruned "$WORK/$name.log")
        [[ -z $out ]] || break
        ((polls < PRUNE_TIMEOUT_S * 2)) || die "$name's pruner did not end a pass within ${PRUNE_TIMEOUT_S}s"
        kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited: $(tail -n 5 "$WORK/$name.log")"
        if ((polls % 30 == 29)); then
            done_at=$(curl -sS --max-time 5 "http://$addr/readyz" 2>/dev/null | python3 -c '
import json, sys
try:
    print(next(s for s in json.load(sys.stdin)["stages"] if s["name"] == "pruner")["progressed_at"] or "")
except Exception:
    print("")') || done_at=""
            if [[ -n $done_at ]]; then
                out=$(python3 "$PY" pruned "$WORK/$name.log")
                [[ -n $out ]] || out="{}"
                break
            fi
        fi
        sleep 0.5
        polls=$((polls + 1))
    done
    echo "$out"
}

# check_log NAME: warns about errors in NAME's log.
check_log() {
    if grep -q '"level":"\(ERROR\|WARN\)"' "$WORK/$1.log"; then
        warn "$1 logged warnings or errors; first ones:"
        grep '"level":"\(ERROR\|WARN\)"' "$WORK/$1.log" | head -n 5 >&2
    fi
}

# busy: what else ran on the machine (the other processes' CPU shows in these figures).
busy() {
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg); $(pgrep -c -x rustc || true) rustc and $(pgrep -c -x cargo || true) cargo processes"
}

BAD=0
SQLITE_DATA="$WORK/data-sqlite"
PG_DATA="$WORK/data-postgres"
mkdir "$SQLITE_DATA" "$PG_DATA"
write_config "$WORK/keep.toml" 0

# ---------------------------------------------------------------------------------------
# 1. The load, through the API, into SQLite.

TODAY=$(($(date -u +%s) / DAY_S))
FIRST_DAY=$((TODAY - DAYS))
start_mistgate load "$SQLITE_DATA" "$WORK/keep.toml"
LOAD_ADDR=$SERVER_ADDR
note "load: $EVENTS events over $DAYS days of event time (days $FIRST_DAY..$((TODAY - 1)) since the epoch), $CONNS connections; $(busy)"
"${NICE[@]}" python3 "$PY" load "$LOAD_ADDR" "$SECRET" "$EVENTS" "$DAYS" "$FIRST_DAY" "$CONNS" "$SEED" >"$WORK/load.json" &
LOAD_PID=$!
wait "$LOAD_PID" || die "the load failed"
LOAD_PID=
LOAD_S=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["seconds"])' "$WORK/load.json")
read -r s_req s_ev s_dup <<<"$(stats "$LOAD_ADDR")"
note "load: $EVENTS events in ${LOAD_S}s; stored: $s_req requests, $s_ev events, $s_dup duplicates"
if ((s_ev != EVENTS || s_req != EVENTS / 100 || s_dup != 0)); then
    warn "!!!!!!!! stored $s_req requests, $s_ev events, $s_dup duplicates: not the $((EVENTS / 100)) requests and $EVENTS events loaded"
    exit 2
fi
stop_server "$SERVER_PID"
check_log load

# ---------------------------------------------------------------------------------------
# 2. Each day's rows back to their day of receipt (SQLite, the server stopped).

DB="$SQLITE_DATA/mistgate.db"
note "shift: received_at of each day's rows to that day (sqlite_exec on $DB)"
t0=$(now_us)
"${NICE[@]}" "$SQLITE_EXEC" "$DB" \
    "CREATE TEMP TABLE shift AS SELECT time / 86400000000 AS day,
        (time / 86400000000 + 1) * 86400000000 - 60000000 - max(received_at) AS off
        FROM events GROUP BY 1" \
    "BEGIN" \
    "UPDATE events SET received_at = received_at +
        (SELECT off FROM shift WHERE shift.day = events.time / 86400000000)" \
    "UPDATE requests SET received_at = received_at + (SELECT s.off FROM events e
        JOIN shift s ON s.day = e.time / 86400000000 WHERE e.id = requests.first_event_id)" \
    "DELETE FROM event_minutes" \
    "INSERT INTO event_minutes (minute, topic, source, events)
        SELECT received_at / 60000000, topic, source, count(*) FROM events GROUP BY 1, 2, 3" \
    "COMMIT" \
    "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null || die "the shift failed"
SHIFT_S=$(python3 -c "print(round(($(now_us) - $t0) / 1e6, 1))")
# Per day of receipt: requests, events, and the span of receipt times; every day's rows
# within that day, and as many as the load sent that day.
"$SQLITE_EXEC" "$DB" \
    "SELECT r.day, r.n, e.n, r.first, r.last FROM
        (SELECT received_at / 86400000000 AS day, count(*) AS n,
            strftime('%H:%M:%S', min(received_at) / 1e6, 'unixepoch') AS first,
            strftime('%H:%M:%S', max(received_at) / 1e6, 'unixepoch') AS last
         FROM requests GROUP BY 1) r
     JOIN (SELECT received_at / 86400000000 AS day, count(*) AS n FROM events GROUP BY 1) e USING (day)
     ORDER BY 1" >"$WORK/days.txt"
python3 - "$WORK/load.json" "$WORK/days.txt" <<'PY' || exit 2
import json, sys
want = {d["day"]: (d["requests"], d["events"]) for d in json.load(open(sys.argv[1]))["days"]}
got = {}
for line in open(sys.argv[2]):
    day, req, ev, first, last = line.strip().split("|")
    got[int(day)] = (int(req), int(ev))
    print(f"  day {day}: {int(req):,} requests, {int(ev):,} events, received {first}-{last} UTC", file=sys.stderr)
if got != want:
    print(f"search.sh: !!!!!!!! rows per day of receipt {got} are not those loaded {want}", file=sys.stderr)
    sys.exit(1)
PY
SPAN_S=$(python3 -c "
import sys
t = [l.strip().split('|')[3] for l in open(sys.argv[1])]
h, m, s = map(int, min(t).split(':')); print(86400 - (h * 3600 + m * 60 + s))" "$WORK/days.txt")
note "shift: done in ${SHIFT_S}s; the rows of each day were received in its last ${SPAN_S}s"
DAY0_REQ=$(head -n 1 "$WORK/days.txt" | cut -d'|' -f2)
DAY0_EV=$(head -n 1 "$WORK/days.txt" | cut -d'|' -f3)
SQLITE_MB=$(du -sm "$SQLITE_DATA" | cut -f1)

# ---------------------------------------------------------------------------------------
# 3. The same rows into PostgreSQL.

note "migrate: copying the data dir into PostgreSQL; $(busy)"
t0=$(now_us)
"${NICE[@]}" "$MISTGATE" migrate --from "$SQLITE_DATA" --to "$PG_URL" >"$WORK/migrate.out" 2>"$WORK/migrate.err" || {
    cat "$WORK/migrate.out" "$WORK/migrate.err" >&2
    warn "!!!!!!!! mistgate migrate failed or its counts differ"
    exit 2
}
MIGRATE_S=$(python3 -c "print(round(($(now_us) - $t0) / 1e6, 1))")
cat "$WORK/migrate.out" >&2
pg_events=$(psql_on search "SELECT count(*) FROM events")
pg_requests=$(psql_on search "SELECT count(*) FROM requests")
if ((pg_events != EVENTS || pg_requests != EVENTS / 100)); then
    warn "!!!!!!!! PostgreSQL holds $pg_requests requests and $pg_events events after the copy"
    exit 2
fi
PG_PARTITIONS=$(psql_on search "SELECT string_agg(c.relname || ' ' || c.reltuples::bigint, ', ' ORDER BY c.relname)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'")
note "migrate: done in ${MIGRATE_S}s; events partitions: $PG_PARTITIONS"
SECRET_KEY=$(cat "$SQLITE_DATA/secret.key")

# ---------------------------------------------------------------------------------------
# 4. Search.

KINDS=(site-1h site-1d mac)
for kind in "${KINDS[@]}"; do
    python3 "$PY" queries "$EVENTS" "$DAYS" "$FIRST_DAY" "$kind" "$WARMUP_QUERIES" "warmup-$SEED" >"$WORK/warmup.$kind.q"
    python3 "$PY" queries "$EVENTS" "$DAYS" "$FIRST_DAY" "$kind" "$QUERIES" "$SEED" >"$WORK/$kind.q"
done

# search BACKEND ADDR: the warm-up, then the measured queries of every kind.
search() {
    local backend=$1 addr=$2 kind
    for kind in "${KINDS[@]}"; do
        "${NICE[@]}" python3 "$PY" run "$addr" "$TOKEN" "$WORK/warmup.$kind.q" >"$WORK/$backend.warmup.$kind.out"
    done
    [[ $backend != postgres ]] || log_statements off
    note "$backend: measuring $QUERIES queries per kind; $(busy)"
    for kind in "${KINDS[@]}"; do
        "${NICE[@]}" python3 "$PY" run "$addr" "$TOKEN" "$WORK/$kind.q" >"$WORK/$backend.$kind.out"
        note "$backend / $kind: $(python3 -c "
import sys
l = sorted(int(x.split()[0]) for x in open(sys.argv[1]))
print(f'p50 {l[len(l) // 2] / 1000:.1f} ms, max {l[-1] / 1000:.1f} ms')" "$WORK/$backend.$kind.out")"
    done
    echo "$(busy)" >"$WORK/$backend.busy"
}

# SQLite.
start_mistgate sqlite-search "$SQLITE_DATA" "$WORK/keep.toml"
ADDR=$SERVER_ADDR
SQLITE_FIRST_PASS=$(wait_pruned sqlite-search "$ADDR")
note "sqlite-search: the pruner's first pass (fingerprints past the duplicate window): $SQLITE_FIRST_PASS"
read -r s_req s_ev s_dup <<<"$(stats "$ADDR")"
((s_ev == EVENTS)) || { warn "!!!!!!!! SQLite's stats say $s_ev events"; exit 2; }
search sqlite "$ADDR"
stop_server "$SERVER_PID"
check_log sqlite-search

# The statements crates/store/src/sqlite/read.rs builds for these filters (`events`:
# EVENT_COLUMNS, event_clause's terms in its order, Clause::finish_with's keyset, order
# and limit; a MAC query is two: the MAC index up to its watermark, then the rows after it).
SQLITE_COLUMNS="e.id, e.request_id, e.topic, e.org_id, e.site_id, e.type, e.mac, e.severity, e.time, e.time_source, e.received_at, e.source, substr(r.body, e.raw_offset + 1, e.raw_len)"
SQLITE_SITE="SELECT $SQLITE_COLUMNS FROM events e LEFT JOIN requests r ON r.id = e.request_id WHERE e.topic = ? AND e.site_id = ? AND e.time >= ? AND e.time <= ? ORDER BY e.id DESC LIMIT ?"
SQLITE_MAC_RECENT="SELECT $SQLITE_COLUMNS FROM events e LEFT JOIN requests r ON r.id = e.request_id WHERE e.mac = ? AND e.id > ? ORDER BY e.id DESC LIMIT ?"
SQLITE_MAC_INDEXED="SELECT $SQLITE_COLUMNS FROM mac_index mi JOIN events e ON e.id = mi.event_id LEFT JOIN requests r ON r.id = e.request_id WHERE mi.mac = ? AND mi.event_id <= ? ORDER BY mi.event_id DESC LIMIT ?"
SQLITE_VERSION=$("$SQLITE_EXEC" "$DB" "SELECT sqlite_version()")
for q in SQLITE_SITE SQLITE_MAC_RECENT SQLITE_MAC_INDEXED; do
    "$SQLITE_EXEC" "$DB" "EXPLAIN QUERY PLAN ${!q}" | python3 "$PY" eqp >"$WORK/eqp.$q" || die "EXPLAIN QUERY PLAN failed"
done
SQLITE_STAT=$("$SQLITE_EXEC" "$DB" "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'")
MAC_UPTO=$("$SQLITE_EXEC" "$DB" "SELECT upto FROM index_state WHERE name = 'mac'")
MAX_ID=$("$SQLITE_EXEC" "$DB" "SELECT max(id) FROM events")

# PostgreSQL.
start_mistgate postgres-search "$PG_DATA" "$WORK/keep.toml" "$PG_URL" "$SECRET_KEY"
ADDR=$SERVER_ADDR
PG_FIRST_PASS=$(wait_pruned postgres-search "$ADDR")
note "postgres-search: the pruner's first pass (fingerprints past the duplicate window): $PG_FIRST_PASS"
read -r s_req s_ev s_dup <<<"$(stats "$ADDR")"
((s_ev == EVENTS)) || { warn "!!!!!!!! PostgreSQL's stats say $s_ev events"; exit 2; }
note "postgres-search: VACUUM (ANALYZE)"
t0=$(now_us)
psql_on search "VACUUM (ANALYZE)" >/dev/null
VACUUM_S=$(python3 -c "print(round(($(now_us) - $t0) / 1e6, 1))")
PG_MB=$(psql_on search "SELECT pg_database_size('search') / 1048576")
LOG_OFFSET=$(stat -c %s "$PGLOG")
log_statements on
search postgres "$ADDR" # turns the statement log off after the warm-up
for kind in "${KINDS[@]}"; do
    case $kind in
    site-1h) args=("e.site_id = \$" 3600) ;;
    site-1d) args=("e.site_id = \$" "$DAY_S") ;;
    mac) args=("e.mac = \$") ;;
    esac
    python3 "$PY" pg-explain "$PGLOG" "$LOG_OFFSET" "${args[@]}" >"$WORK/explain.$kind.sql" || die "no logged statement to explain"
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d search \
        -f "$WORK/explain.$kind.sql" >"$WORK/explain.$kind.out" 2>&1 || {
        cat "$WORK/explain.$kind.out" >&2
        die "EXPLAIN failed"
    }
done
stop_server "$SERVER_PID"
check_log postgres-search

# Both backends must have answered every query alike.
for kind in "${KINDS[@]}"; do
    if ! cmp -s <(cut -d' ' -f2- "$WORK/sqlite.$kind.out") <(cut -d' ' -f2- "$WORK/postgres.$kind.out"); then
        warn "!!!!!!!! SQLite and PostgreSQL answered $kind queries differently (status, items, ids): see $WORK/{sqlite,postgres}.$kind.out"
        BAD=1
    fi
done

# ---------------------------------------------------------------------------------------
# 5. Retention: the oldest day of receipt, and only it, is past retention_days.

# The other days' rows were received from 23:59 less SPAN_S; a pass after that time of
# day would reach into the next one: wait for midnight then.
while (($(date -u +%s) % DAY_S > DAY_S - 60 - SPAN_S - 1800)); do
    note "prune: too close to midnight UTC for the day's cut; waiting"
    sleep 30
done
RETENTION=$(($(date -u +%s) / DAY_S - FIRST_DAY - 1))
write_config "$WORK/prune.toml" "$RETENTION"
note "prune: retention_days = $RETENTION: day $FIRST_DAY ($DAY0_REQ requests, $DAY0_EV events) is past it"

# prune BACKEND: one serve with prune.toml; its first pass, checked; sets PRUNED.
prune() {
    local backend=$1 name="$1-prune" out
    if [[ $backend == sqlite ]]; then
        start_mistgate "$name" "$SQLITE_DATA" "$WORK/prune.toml"
    else
        start_mistgate "$name" "$PG_DATA" "$WORK/prune.toml" "$PG_URL" "$SECRET_KEY"
    fi
    out=$(wait_pruned "$name" "$SERVER_ADDR")
    note "$name: $out; $(busy)"
    echo "$(busy)" >"$WORK/$name.busy"
    stop_server "$SERVER_PID"
    check_log "$name"
    PRUNED=$out
    python3 - "$out" "$DAY0_REQ" "$DAY0_EV" <<'PY' || {
import json, sys
p = json.loads(sys.argv[1])
sys.exit(0 if (p["requests"], p["events"]) == (int(sys.argv[2]), int(sys.argv[3])) else 1)
PY
        warn "!!!!!!!! $backend's pass removed $out, not day $FIRST_DAY's $DAY0_REQ requests and $DAY0_EV events"
        BAD=1
    }
}
prune sqlite
SQLITE_PRUNED=$PRUNED
left=$("$SQLITE_EXEC" "$DB" "SELECT count(*) FROM events")
((left == EVENTS - DAY0_EV)) || { warn "!!!!!!!! SQLite holds $left events after the prune"; BAD=1; }

LOG_OFFSET=$(stat -c %s "$PGLOG")
log_statements on
prune postgres
log_statements off
PG_PRUNED=$PRUNED
python3 "$PY" pg-prune "$PGLOG" "$LOG_OFFSET" >"$WORK/pg-prune.md"
left=$(psql_on search "SELECT count(*) FROM events")
((left == EVENTS - DAY0_EV)) || { warn "!!!!!!!! PostgreSQL holds $left events after the prune"; BAD=1; }
PG_PARTITIONS_AFTER=$(psql_on search "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'")

# ---------------------------------------------------------------------------------------
# Report.

summary_args=()
for backend in sqlite postgres; do
    for kind in "${KINDS[@]}"; do
        summary_args+=("$backend/$kind=$WORK/$backend.$kind.out")
    done
done
python3 "$PY" summary "${summary_args[@]}" >"$WORK/summary.json"

cpu=$(host_cpu)
rev=$(git_rev)
echo
echo "## mistgate search and prune at $(printf "%'d" "$EVENTS") events (SQLite and PostgreSQL)"
echo
echo "- command: EVENTS=$EVENTS DAYS=$DAYS QUERIES=$QUERIES WARMUP_QUERIES=$WARMUP_QUERIES CONNS=$CONNS SEED=$SEED PROFILE=$PROFILE $ORIG_CMD"
echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ'); git (this tree): $rev; binary: $MISTGATE"
echo "- host: $(nproc) cores ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GiB, $(uname -srm); **everything (the load, the query client, mistgate, PostgreSQL) on this one machine**, under nice -n 10"
echo "- PostgreSQL $PG_VERSION, the script's own cluster ($PG_SETTINGS); SQLite $SQLITE_VERSION (rusqlite's bundled, libsqlite3-sys $SQLITE_SYS), synchronous=full"
echo "- data: $(printf "%'d" "$EVENTS") events in $(printf "%'d" $((EVENTS / 100))) signed 100-event requests, 200 sites, 20,000 client MACs + 2,000 APs, 6 topics; loaded through POST /ingest on SQLite in ${LOAD_S} s ($(python3 -c "print(f'{$EVENTS / $LOAD_S:,.0f}')") events/s, $CONNS connections), then received_at moved to $DAYS days of receipt (SQL, ${SHIFT_S} s), then \`mistgate migrate\` into PostgreSQL (${MIGRATE_S} s); on disk: SQLite data dir $SQLITE_MB MB, PostgreSQL database $PG_MB MB (after VACUUM (ANALYZE), ${VACUUM_S} s)"
python3 - "$SQLITE_FIRST_PASS" "$PG_FIRST_PASS" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
f = lambda p: f"{p.get('fingerprints', 0):,} fingerprints in {p.get('seconds', 0):.2f} s" if p else "nothing"
print(f"- before any query, each search server's pruner pass at start expired the duplicate-detection"
      f" fingerprints older than the 24 h window (retention off): SQLite {f(a)} (its index is in memory),"
      f" PostgreSQL {f(b)} (DELETE from the fingerprints table, under the append lock)")
PY
echo "- during the measurement: SQLite $(cat "$WORK/sqlite.busy"); PostgreSQL $(cat "$WORK/postgres.busy")"
echo
echo "Search through \`GET /api/v1/events\` (limit 100, newest first), $QUERIES queries per kind after $WARMUP_QUERIES of warm-up, one at a time, latency measured by the client:"
echo
python3 - "$WORK/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
what = {"site-1h": "topic + site + 1 h window", "site-1d": "topic + site + 1 day window", "mac": "mac"}
print("| query | items per answer (pages of 100) | SQLite p50 ms | SQLite p99 ms | PostgreSQL p50 ms | PostgreSQL p99 ms | PostgreSQL / SQLite p50 | PostgreSQL / SQLite p99 | non-200 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for kind in ("site-1h", "site-1d", "mac"):
    a, b = s[f"sqlite/{kind}"], s[f"postgres/{kind}"]
    print(f"| {kind}: {what[kind]} | {a['items']:.1f} ({a['full']}) | {a['p50']:.1f} | {a['p99']:.1f} | "
          f"{b['p50']:.1f} | {b['p99']:.1f} | {b['p50'] / a['p50']:.2f} | {b['p99'] / a['p99']:.2f} | {a['non200'] + b['non200']} |")
PY
echo
echo "Retention: one day of receipt (day $FIRST_DAY: $(printf "%'d" "$DAY0_REQ") requests, $(printf "%'d" "$DAY0_EV") events) past \`retention_days = $RETENTION\`, the pruner's first pass at start timed from the log:"
echo
python3 - "$SQLITE_PRUNED" "$PG_PRUNED" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("| backend | how | requests | events | fingerprints | seconds | ratio to SQLite |")
print("|---|---|---:|---:|---:|---:|---:|")
print(f"| SQLite | DELETE in chunks of 5,000 rows | {a['requests']:,} | {a['events']:,} | {a['fingerprints']:,} | {a['seconds']:.2f} | 1.00 |")
print(f"| PostgreSQL | DROP of the day's partitions | {b['requests']:,} | {b['events']:,} | {b['fingerprints']:,} | {b['seconds']:.2f} | {b['seconds'] / a['seconds']:.3f} |")
PY
echo
echo "(fingerprints: SQLite's duplicate index is in memory, rebuilt at every start from the newest events, so each start's first pass expires those past the 24 h window again, in memory; PostgreSQL's table had lost them at the search server's first pass.)"
echo
echo "PostgreSQL: the pass's transaction, statement by statement (from PostgreSQL's log; partitions of events left: $PG_PARTITIONS_AFTER):"
echo
echo "| ms | statement |"
echo "|---:|---|"
cat "$WORK/pg-prune.md"
echo
echo "### Query plans"
echo
echo "SQLite \`EXPLAIN QUERY PLAN\` ($SQLITE_VERSION; $SQLITE_STAT sqlite_stat tables: mistgate never runs ANALYZE). topic + site + time range:"
echo
echo '```'
echo "$SQLITE_SITE"
cat "$WORK/eqp.SQLITE_SITE"
echo '```'
echo
echo "mac (first the $(printf "%'d" $((MAX_ID - MAC_UPTO))) events after the MAC index's watermark, event id $(printf "%'d" "$MAC_UPTO") of $(printf "%'d" "$MAX_ID"), by a scan of that id range; then the index):"
echo
echo '```'
echo "$SQLITE_MAC_RECENT"
cat "$WORK/eqp.SQLITE_MAC_RECENT"
echo "$SQLITE_MAC_INDEXED"
cat "$WORK/eqp.SQLITE_MAC_INDEXED"
echo '```'
echo
for kind in "${KINDS[@]}"; do
    echo "PostgreSQL \`EXPLAIN (ANALYZE, BUFFERS)\`, $kind:"
    echo
    echo '```'
    head -n 1 "$WORK/explain.$kind.sql"
    cat "$WORK/explain.$kind.out"
    echo '```'
    echo
done

if ((BAD)); then
    echo "!!!!!!!! WARNING: counts or answers did not match; see the warnings above." >&2
    exit 2
fi
