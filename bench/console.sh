#!/usr/bin/env bash
# bench/console.sh: with a million stored events and ten thousand incidents, is every
# console page (and the 24 h events series) served within 50 ms at the 99th percentile,
# beside GET /healthz of the same server measured in the same run?
#
# Run from the repository root:   bench/console.sh
#
# What runs, on 127.0.0.1, in a temporary directory:
#   1. `mistgate serve` (release) on port 0 with a fresh data dir: one signed source,
#      `flap_hold_down = "0s"` (a device_down alarm opens its incident at once), private
#      delivery targets allowed, SITES sites named in [routing] site_names.
#   2. Two Mist-format webhooks for `alarms` (POST /api/v1/orgs/{org}/webhooks): one to a
#      port nobody listens on (its batches stay pending, retried), one to mistgate's own
#      /ingest/ of an unknown source (404: its batches go to the dead letters at once).
#   3. The seed, over HTTP ingest, by SENDERS python threads (keep-alive, signed): EVENTS
#      events in bodies of BATCH, distinct (the default 24 h duplicate window stays on):
#      INCIDENTS `device_down` alarms, one AP each, over SITES sites, event times spread
#      over the last 2 h (each opens a device-down incident), spread among the other
#      bodies; the rest by body: 60 % `location`, 15 % `client-join`, 10 %
#      `client-sessions`, 10 % `client-info`, 5 % `device-events` (config changes of 2,000
#      other devices), event times spread over the last 24 h. Then two malformed bodies
#      for the quarantine (not JSON: 400; not an envelope: 422).
#      The series counts by receive time, which ingest sets to now: every stored event
#      falls in the few minutes the seed took, so the 24 h series reads a day's range of
#      the table with only those minutes in it.
#   4. Waits (at most CATCHUP_S) until /readyz shows the correlation, delivery and routing
#      stages at lag 0, then checks the totals (/api/v1/stats) and counts the open
#      incidents (/api/v1/incidents?state=open, pages of 1000).
#   5. Signs in (POST /ui/login, token=...) for the session cookie, and measures with wrk
#      (-t$THREADS -c$CONNS, WARMUP unmeasured then DURATION measured) one URL at a time:
#      GET /healthz (the baseline, first and again last), every console page (cookie),
#      and GET /api/v1/stats/series?step=1m&since=<24 h ago> (token). Each URL is also
#      fetched once with curl before and after its run: it must answer 200 (text/html
#      for the pages), or the row is marked invalid.
# It prints a Markdown table: per URL the page size, req/s, p50, p99, max, the p99 as a
# ratio of the first /healthz run's p99, and PASS/FAIL against BAR_MS at the p99.
#
# Knobs (environment):
#   EVENTS=1000000 BATCH=100 INCIDENTS=10000 SITES=50 SENDERS=24
#   CONNS=2 THREADS=1 DURATION=5s WARMUP=1s   wrk -t$THREADS -c$CONNS per URL
#   BAR_MS=50          the p99 each page and the series must stay within
#   CATCHUP_S=900      most seconds the stages may take to reach lag 0 after the seed
#   SYNCHRONOUS=full   mistgate [storage] synchronous
#   SKIP_BUILD=1       use the binary already in target/release
#   BENCH_MISTGATE=PATH   run this binary instead (no build)
#   KEEP=1             keep the temporary directory (data dir, logs, wrk outputs, pages)
# Any MISTGATE_* variable in the caller's environment is cleared.
#
# Needs: cargo, python3, curl, wrk (installed with apt-get when missing).
# Exit status: 0 every row within BAR_MS; 1 set-up failed; 2 the seed was not stored whole,
# a stage did not catch up, or a URL did not answer 200; 3 a row missed BAR_MS.
# Progress and raw wrk output go to stderr; the report (Markdown) goes to stdout.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ORIG_CMD="bench/console.sh${*:+ $*}"
T0=$(date +%s)
# The tree as the run starts (others may commit while it runs).
REV=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || REV="$REV (work tree dirty)"

EVENTS=${EVENTS:-1000000}
BATCH=${BATCH:-100}
INCIDENTS=${INCIDENTS:-10000}
SITES=${SITES:-50}
SENDERS=${SENDERS:-24}
CONNS=${CONNS:-2}
THREADS=${THREADS:-1}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
BAR_MS=${BAR_MS:-50}
CATCHUP_S=${CATCHUP_S:-900}
SYNCHRONOUS=${SYNCHRONOUS:-full}

SECRET=console-bench-secret-41c7
TOKEN=console-bench-token-8e2f5a90b3
ORG=0e9a7c11-2f3b-4c5d-8e6f-a1b2c3d4e5f6
START_TIMEOUT_S=60
STOP_TIMEOUT_S=30
HTTP_TIMEOUT_S=30

SCRIPT=console.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_args "$@"
bench_clean_env
for k in EVENTS BATCH INCIDENTS SITES SENDERS CONNS THREADS BAR_MS CATCHUP_S; do
    positive "$k" "${!k}"
done
((CONNS >= THREADS)) || die "CONNS ($CONNS) must be at least THREADS ($THREADS) for wrk"
((INCIDENTS < EVENTS)) || die "INCIDENTS ($INCIDENTS) must be fewer than EVENTS ($EVENTS)"
((BATCH <= 1000)) || die "BATCH must be at most 1000"
[[ $DURATION =~ ^[1-9][0-9]*[sm]$ ]] || die "DURATION must look like 5s or 1m, not '$DURATION'"
[[ $WARMUP =~ ^[0-9]+[sm]$ ]] || die "WARMUP must look like 1s or 0s, not '$WARMUP'"
case $SYNCHRONOUS in full | normal | off) ;; *) die "SYNCHRONOUS must be full, normal or off" ;; esac

# ---------------------------------------------------------------------------------------
# Tools and build.

need_wrk
for tool in python3 curl timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

if [[ -n ${BENCH_MISTGATE:-} ]]; then
    MISTGATE=$BENCH_MISTGATE
else
    MISTGATE=$ROOT/target/release/mistgate
    if [[ ${SKIP_BUILD:-0} != 1 ]]; then
        command -v cargo >/dev/null 2>&1 || die "cargo is required (or SKIP_BUILD=1)"
        note "building mistgate (release)"
        cargo build --release -p mistgate --bin mistgate >&2 || die "cargo build of mistgate failed"
    fi
fi
[[ -x $MISTGATE ]] || die "no $MISTGATE (build it, or drop SKIP_BUILD)"

# ---------------------------------------------------------------------------------------
# Temporary files, the server and their cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mistgate-console.XXXXXX")
SERVER_PIDS=()
LOAD_PID=
trap servers_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SITE_IDS=()
for ((s = 0; s < SITES; s++)); do
    SITE_IDS+=("$(printf '5ca1ab1e-0000-4000-8000-%012x' "$s")")
done

CONFIG=$WORK/mistgate.toml
{
    cat <<EOF
[[sources]]
name = "bench"
secrets = ["$SECRET"]

[storage]
synchronous = "$SYNCHRONOUS"

[correlation]
flap_hold_down = "0s"   # a device_down alarm opens its incident at once

[delivery]
allow_private_targets = true   # the two webhooks below point at 127.0.0.1

[routing]
EOF
    printf 'site_names = {'
    for ((s = 0; s < SITES; s++)); do
        ((s == 0)) || printf ','
        printf ' "%s" = "Site %02d"' "${SITE_IDS[$s]}" "$s"
    done
    printf ' }\n'
} >"$CONFIG"
"$MISTGATE" check-config "$CONFIG" >&2 || die "mistgate check-config refused $CONFIG"

mkdir "$WORK/data"
note "starting mistgate serve (fresh data dir)"
start_server mistgate "$WORK/mistgate.log" \
    env MISTGATE_API_TOKEN="$TOKEN" \
    "$MISTGATE" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --config "$CONFIG"
MG_PID=$SERVER_PID
ADDR=$SERVER_ADDR
BASE=http://$ADDR
note "mistgate (pid $MG_PID) at $BASE"

# api METHOD PATH [JSON]: the body of a token-authenticated API call; dies unless 2xx.
api() {
    local method=$1 path=$2 data=${3:-} out=$WORK/api.out code
    local args=(-sS --max-time "$HTTP_TIMEOUT_S" -o "$out" -w '%{http_code}' -X "$method"
        -H "Authorization: Token $TOKEN")
    [[ -z $data ]] || args+=(-H 'Content-Type: application/json' --data-binary "$data")
    code=$(curl "${args[@]}" "$BASE$path") || code=000
    [[ $code == 2?? ]] || die "$method $path answered $code: $(head -c 300 "$out" 2>/dev/null)"
    cat "$out"
}
json_get() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1:]: v=v[int(k)] if isinstance(v,list) else v[k]
print(v)' "$@"; }

# ---------------------------------------------------------------------------------------
# Webhooks, before the seed (a webhook gets the events received after its creation).

DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
WEBHOOK_PENDING=$(api POST "/api/v1/orgs/$ORG/webhooks" \
    "{\"name\":\"nobody-listens\",\"url\":\"http://127.0.0.1:$DEAD_PORT/mist\",\"topics\":[\"alarms\"]}" |
    json_get id)
WEBHOOK_DEAD=$(api POST "/api/v1/orgs/$ORG/webhooks" \
    "{\"name\":\"answers-404\",\"url\":\"$BASE/ingest/no-such-source\",\"topics\":[\"alarms\"]}" |
    json_get id)
note "webhooks: $WEBHOOK_PENDING (to a closed port), $WEBHOOK_DEAD (answers 404)"

# ---------------------------------------------------------------------------------------
# The seed.

note "seeding $EVENTS events ($INCIDENTS device_down alarms) in bodies of $BATCH, $SENDERS senders"
SEED_JSON=$WORK/seed.json
SEED_T0=$(date +%s%N)
python3 - "$ADDR" "$SECRET" "$EVENTS" "$BATCH" "$INCIDENTS" "$SITES" "$ORG" "$SENDERS" \
    "$(date +%s)" >"$SEED_JSON" <<'PY' || die "the seed failed"
import hashlib, hmac, http.client, json, random, sys, threading, time

addr, secret = sys.argv[1], sys.argv[2].encode()
events, batch, incidents, sites = (int(a) for a in sys.argv[3:7])
org, senders, now = sys.argv[7], int(sys.argv[8]), int(sys.argv[9])
host, port = addr.rsplit(":", 1)
site_ids = [f"5ca1ab1e-0000-4000-8000-{s:012x}" for s in range(sites)]
DAY, ALARM_SPAN = 86_400, 7_200

# The bodies: alarm bodies spread evenly among the others.
alarm_bodies = (incidents + batch - 1) // batch
other_events = events - incidents
other_bodies = (other_events + batch - 1) // batch
total = alarm_bodies + other_bodies
every = max(1, total // max(1, alarm_bodies))
plan = []  # (kind, index of its kind)
a = o = 0
for i in range(total):
    if a < alarm_bodies and (i % every == every - 1 or total - i <= alarm_bodies - a):
        plan.append(("alarm", a)); a += 1
    else:
        plan.append(("other", o)); o += 1
assert a == alarm_bodies and o == other_bodies

# Body i of the other kinds: its topic by a cycle of 20 (12 location, 3 client-join,
# 2 client-sessions, 2 client-info, 1 device-events).
CYCLE = ["location"] * 12 + ["client-join"] * 3 + ["client-sessions"] * 2 + ["client-info"] * 2 + ["device-events"]

def client_mac(rng):
    return f"02{rng.randrange(20_000) * 7919 % (1 << 40):010x}"

def ap_mac(rng):
    return f"d420b0{rng.randrange(2_000):06x}"

def other_body(o):
    rng = random.Random(o * 7 + 1)
    topic = CYCLE[o % len(CYCLE)]
    n = min(batch, other_events - o * batch)
    out = []
    for k in range(n):
        site = site_ids[rng.randrange(sites)]
        t = now - DAY + rng.random() * DAY
        if topic == "location":
            e = {"mac": client_mac(rng), "map_id": f"3a9c0000-0000-4000-8000-{rng.randrange(200):012x}",
                 "rssi": -rng.randrange(40, 90) - 0.00001, "site_id": site, "timestamp": int(t),
                 "type": "wifi", "x": round(rng.uniform(0, 120), 5), "y": round(rng.uniform(0, 80), 5)}
        elif topic in ("client-join", "client-sessions"):
            ap = ap_mac(rng)
            e = {"ap": ap, "ap_name": f"AP {ap[-4:]}", "band": rng.choice(["24", "5", "6"]),
                 "bssid": ap[:10] + f"{rng.randrange(256):02x}", "connect": int(t) - 600,
                 "connect_float": round(t - 600, 3), "mac": client_mac(rng), "org_id": org,
                 "random_mac": False, "rssi": -rng.randrange(30, 85), "site_id": site,
                 "site_name": "Site", "ssid": "Corp", "timestamp": int(t), "version": 2,
                 "wlan_id": "77ed81d2-4fab-4df7-807a-0b679900d8f7"}
            if topic == "client-sessions":
                e.update({"disconnect": int(t), "disconnect_float": round(t, 3),
                          "duration": round(rng.uniform(1, 20_000), 3), "next_ap": "000000000000",
                          "termination_reason": rng.choice([1, 3, 8]), "client_os": "Windows 10",
                          "client_manufacture": "Intel Corporate"})
        elif topic == "client-info":
            e = {"ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                 "mac": client_mac(rng), "org_id": org, "site_id": site, "timestamp": int(t)}
        else:  # device-events: configuration changes (no state change, no incident)
            mac = ap_mac(rng)
            kind = ("ap", "AP") if rng.random() < 0.8 else ("switch", "SW")
            e = {"ap": mac, "ap_name": f"{kind[1]} {mac[-4:]}",
                 "audit_id": f"a0d1700{o % 10}-0000-4000-8000-{rng.getrandbits(48):012x}",
                 "device_name": f"{kind[1]} {mac[-4:]}", "device_type": kind[0], "ev_type": "NOTICE",
                 "mac": mac, "org_id": org, "site_id": site, "site_name": "Site",
                 "timestamp": int(t), "type": f"{kind[1]}_CONFIG_CHANGED_BY_USER"}
        e["seq"] = o * batch + k  # distinct events whatever the random draws
        out.append(e)
    return topic, out

def alarm_body(a):
    out = []
    for k in range(a * batch, min(incidents, (a + 1) * batch)):
        mac = f"5c5b35{k:06x}"
        t = now - ALARM_SPAN + ALARM_SPAN * k / incidents
        site = site_ids[k % sites]
        out.append({"id": f"{k:08x}-d0d0-4000-8000-000000000000", "org_id": org, "site_id": site,
                    "site_name": "Site", "type": "device_down", "group": "infrastructure",
                    "severity": "warn", "aps": [mac], "hostnames": [f"ap-{mac}"], "count": 1,
                    "timestamp": round(t, 3), "last_seen": round(t, 3)})
    return "alarms", out

lock = threading.Lock()
state = {"next": 0, "events": 0, "requests": 0, "statuses": {}, "errors": [], "retries": 0}

def post(conn, body, path="/ingest/bench"):
    sig = hmac.new(secret, body, hashlib.sha256).hexdigest()
    conn.request("POST", path, body=body, headers={
        "Content-Type": "application/json", "X-Mist-Signature-v2": sig})
    r = conn.getresponse()
    answer = r.read()
    return r.status, answer

def worker():
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    while True:
        with lock:
            i = state["next"]
            if i >= total or state["errors"]:
                return
            state["next"] += 1
        kind, j = plan[i]
        topic, evs = alarm_body(j) if kind == "alarm" else other_body(j)
        body = json.dumps({"topic": topic, "events": evs}, separators=(",", ":")).encode()
        for attempt in range(3):
            try:
                status, answer = post(conn, body)
                break
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=120)
                with lock:
                    state["retries"] += 1
                if attempt == 2:
                    with lock:
                        state["errors"].append(f"body {i}: {e}")
                    return
        with lock:
            state["requests"] += 1
            state["statuses"][status] = state["statuses"].get(status, 0) + 1
            if status != 200:
                state["errors"].append(f"body {i}: {status} {answer[:200]!r}")
                return
            state["events"] += len(evs)
            if state["requests"] % max(1, total // 10) == 0:
                print(f"seed: {state['requests']}/{total} bodies", file=sys.stderr, flush=True)

t0 = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(senders)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - t0
if state["errors"]:
    print("seed failed: " + "; ".join(state["errors"][:5]), file=sys.stderr)
    sys.exit(1)

# The quarantine: one body that is not JSON, one that is JSON but not a Mist envelope.
conn = http.client.HTTPConnection(host, int(port), timeout=30)
quarantine = {}
for name, body, want in [("not-json", b'{"topic": "alarms", "events": [', 400),
                         ("not-envelope", b'{"hello": "world", "events": "none"}', 422)]:
    status, answer = post(conn, body)
    quarantine[name] = status
    if status != want:
        print(f"seed: the {name} body answered {status}, not {want}: {answer[:200]!r}", file=sys.stderr)
        sys.exit(1)
json.dump({"bodies": total, "events": state["events"], "seconds": round(elapsed, 2),
           "retries": state["retries"], "statuses": state["statuses"], "quarantine": quarantine},
          sys.stdout)
PY
SEED_S=$(python3 -c "print(round(($(date +%s%N) - $SEED_T0) / 1e9, 1))")
SEEDED=$(json_get events <"$SEED_JSON")
note "seed done in ${SEED_S}s: $(cat "$SEED_JSON")"

# ---------------------------------------------------------------------------------------
# Wait for the stages, check what was stored.

note "waiting (at most ${CATCHUP_S}s) for the correlation, delivery and routing stages to reach lag 0"
CATCHUP_T0=$(date +%s%N)
deadline=$(($(date +%s) + CATCHUP_S))
until curl -sf --max-time "$HTTP_TIMEOUT_S" "$BASE/readyz" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
want = {"correlation", "delivery", "routing"}
stages = [s for s in r["stages"] if s["name"] in want]
sys.exit(0 if r["status"] == "ready" and stages and all(s["lag_events"] == 0 for s in stages) else 1)'; do
    if (($(date +%s) >= deadline)); then
        curl -s --max-time 10 "$BASE/readyz" >&2 || true
        die "the stages did not reach lag 0 within ${CATCHUP_S}s of the seed's end"
    fi
    sleep 0.5
done
CATCHUP_S_TOOK=$(python3 -c "print(round(($(date +%s%N) - $CATCHUP_T0) / 1e9, 1))")
note "stages at lag 0 ${CATCHUP_S_TOOK}s after the seed"

BAD=0
api GET /api/v1/stats >"$WORK/stats.json"
read -r STORED DUPS QUARANTINED < <(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
print(t["events"], t["duplicates"], t.get("quarantined"))' "$WORK/stats.json") ||
    die "cannot read the totals of /api/v1/stats: $(head -c 400 "$WORK/stats.json")"
if [[ $STORED != "$EVENTS" || $SEEDED != "$EVENTS" ]]; then
    warn "!!!!!!!! sent $SEEDED events, $STORED stored ($DUPS duplicates); expected $EVENTS"
    BAD=2
fi

OPEN=0
cursor=
while :; do
    api GET "/api/v1/incidents?state=open&limit=1000${cursor:+&cursor=$cursor}" >"$WORK/incidents.json"
    read -r n cursor < <(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))
print(len(p["items"]), p["next_cursor"] or "")' "$WORK/incidents.json")
    OPEN=$((OPEN + n))
    [[ -n $cursor ]] || break
done
if ((OPEN != INCIDENTS)); then
    warn "!!!!!!!! $OPEN open incidents, expected $INCIDENTS"
    BAD=2
fi
note "stored $STORED events ($DUPS duplicates), $QUARANTINED quarantined, $OPEN open incidents"

# ---------------------------------------------------------------------------------------
# The session, and the ids the detail pages show.

code=$(curl -sS --max-time "$HTTP_TIMEOUT_S" -o /dev/null -D "$WORK/login.headers" -w '%{http_code}' \
    --data-urlencode "token=$TOKEN" "$BASE/ui/login") || code=000
[[ $code == 303 ]] || die "POST /ui/login answered $code, not 303"
COOKIE=$(sed -n 's/^[Ss]et-[Cc]ookie: *\(mistgate_session=[^;]*\).*/\1/p' "$WORK/login.headers" | tr -d '\r')
[[ -n $COOKIE ]] || die "POST /ui/login set no mistgate_session cookie: $(cat "$WORK/login.headers")"

EVENT_ID=$(api GET "/api/v1/events?topic=alarms&limit=1" | json_get items 0 id)
INCIDENT_ID=$(api GET "/api/v1/incidents?limit=1" | json_get items 0 id)
DOWN_MAC=$(python3 -c "print(f'5c5b35{$INCIDENTS // 2:06x}')")
NOW_S=$(date +%s)
AT=$(date -u -d "@$((NOW_S - 3600))" +%Y-%m-%dT%H:%M:%SZ) # half of the APs are down by then
SINCE=$(date -u -d "@$((NOW_S - 86400))" +%Y-%m-%dT%H:%M:%SZ)

# ---------------------------------------------------------------------------------------
# The measurements.

LUA=$WORK/report.lua
cat >"$LUA" <<'LUA'
-- done(): one machine-readable line for console.sh (latencies in microseconds).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d errors_status=%d errors_other=%d p50_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
LUA

result_field() { grep -m1 '^RESULT ' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# probe URL AUTH OUT: status, size and content type of one GET (curl).
probe() {
    local url=$1 auth=$2 out=$3
    local hdr=()
    case $auth in
    cookie) hdr=(-H "Cookie: $COOKIE") ;;
    token) hdr=(-H "Authorization: Token $TOKEN") ;;
    esac
    curl -sS --max-time "$HTTP_TIMEOUT_S" "${hdr[@]}" -o "$out" \
        -w '%{http_code} %{size_download} %{content_type} %{time_total}' "$url" || echo "000 0 - 0"
}

RESULTS=$WORK/results.tsv # name path bytes requests duration_us p50 p99 max errors valid
: >"$RESULTS"
# measure NAME PATH AUTH(cookie|token|none) KIND(page|json)
measure() {
    local name=$1 path=$2 auth=$3 kind=$4
    local url=$BASE$path slug hdr=() before after code bytes ctype valid=ok
    slug=$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_')
    case $auth in
    cookie) hdr=(-H "Cookie: $COOKIE") ;;
    token) hdr=(-H "Authorization: Token $TOKEN") ;;
    esac
    before=$(probe "$url" "$auth" "$WORK/$slug.body")
    read -r code bytes ctype _ <<<"$before"
    if [[ $code != 200 ]]; then
        valid="answered $code"
    elif [[ $kind == page && $ctype != text/html* ]]; then
        valid="content type $ctype"
    fi
    note "$name: GET $path -> $before"
    if [[ $valid == ok && $WARMUP != 0s && $WARMUP != 0m ]]; then
        timeout --kill-after=5 120 wrk "-t$THREADS" "-c$CONNS" "-d$WARMUP" --timeout 10s \
            "${hdr[@]}" "$url" >/dev/null 2>&1 || true
    fi
    local out=$WORK/$slug.wrk
    if [[ $valid == ok ]]; then
        timeout --kill-after=5 300 wrk "-t$THREADS" "-c$CONNS" "-d$DURATION" --timeout 10s \
            --latency -s "$LUA" "${hdr[@]}" "$url" >"$out" 2>&1 &
        LOAD_PID=$!
        wait "$LOAD_PID" || die "wrk failed on $path: $(tail -n 5 "$out")"
        LOAD_PID=
        sed 's/^/    /' "$out" >&2
        grep -q '^RESULT ' "$out" || die "no RESULT line from wrk on $path: $(cat "$out")"
        after=$(probe "$url" "$auth" /dev/null)
        [[ ${after%% *} == 200 ]] || valid="answered ${after%% *} after the run"
        local errs=$(($(result_field "$out" errors_status) + $(result_field "$out" errors_other)))
        ((errs == 0)) || valid="$errs errors in the run"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$path" "$bytes" \
            "$(result_field "$out" requests)" "$(result_field "$out" duration_us)" \
            "$(result_field "$out" p50_us)" "$(result_field "$out" p99_us)" \
            "$(result_field "$out" max_us)" "$valid" >>"$RESULTS"
    else
        printf '%s\t%s\t%s\t0\t1\t0\t0\t0\t%s\n' "$name" "$path" "$bytes" "$valid" >>"$RESULTS"
    fi
    [[ $valid == ok ]] || {
        warn "!!!!!!!! $name ($path): $valid: $(head -c 300 "$WORK/$slug.body" 2>/dev/null)"
        BAD=2
    }
}

note "measuring: wrk -t$THREADS -c$CONNS, ${WARMUP} warm-up then ${DURATION} per URL"
measure "baseline: /healthz" /healthz none json
measure "overview" /ui/ cookie page
measure "live tail" /ui/tail cookie page
measure "events" /ui/events cookie page
measure "event (an alarm)" "/ui/events/$EVENT_ID" cookie page
measure "devices (board)" /ui/devices cookie page
measure "device (a down AP)" "/ui/devices/$DOWN_MAC" cookie page
measure "devices at 1 h ago" "/ui/devices?at=$AT" cookie page
measure "incidents" /ui/incidents cookie page
measure "incident" "/ui/incidents/$INCIDENT_ID" cookie page
measure "silences" /ui/silences cookie page
measure "deliveries" /ui/deliveries cookie page
measure "webhook (404, dead letters)" "/ui/deliveries/webhooks/$WEBHOOK_DEAD" cookie page
measure "quarantine" /ui/quarantine cookie page
measure "series 24 h, step 1m" "/api/v1/stats/series?step=1m&since=$SINCE" token json
measure "baseline again: /healthz" /healthz none json

if grep -qiE '\b(ERROR|panicked)\b' "$WORK/mistgate.log"; then
    warn "mistgate logged errors; first ones:"
    grep -iE '\b(ERROR|panicked)\b' "$WORK/mistgate.log" | head -n 5 >&2
fi

# ---------------------------------------------------------------------------------------
# Report.

cpu=$(host_cpu)
echo
echo "## bench/console.sh"
echo
echo "- command: \`EVENTS=$EVENTS BATCH=$BATCH INCIDENTS=$INCIDENTS SITES=$SITES CONNS=$CONNS THREADS=$THREADS DURATION=$DURATION WARMUP=$WARMUP BAR_MS=$BAR_MS SYNCHRONOUS=$SYNCHRONOUS $ORIG_CMD\`"
echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ'); git at the start: $REV; mistgate: $MISTGATE"
echo "- host: nproc=$(nproc), cpu: ${cpu:-unknown}, load average before the report: $(cut -d' ' -f1-3 /proc/loadavg); client and server on the same cores"
echo "- client: $(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}') -t$THREADS -c$CONNS, $WARMUP warm-up (not counted), then $DURATION per URL, one URL at a time"
echo "- seed: $SEEDED events in $(json_get bodies <"$SEED_JSON") signed bodies over HTTP ingest in ${SEED_S}s" \
    "($(python3 -c "print(f'{$SEEDED / max($SEED_S, 0.1):,.0f}')") events/s, $SENDERS keep-alive senders), $STORED stored," \
    "$DUPS duplicates, $QUARANTINED quarantined; stages at lag 0 ${CATCHUP_S_TOOK}s later; $OPEN open incidents"
echo "- the series: receive times all fall within the seed's minutes (ingest stamps now), so the 24 h range holds only those"
echo
verdict=0
python3 - "$RESULTS" "$BAR_MS" <<'PY' || verdict=$?
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
bar = float(sys.argv[2])
base = next((int(r[6]) for r in rows if r[0].startswith("baseline") and r[8] == "ok"), 0)
print("| URL | path | bytes | req/s | p50 ms | p99 ms | max ms | p99 / baseline p99 | p99 ≤ %g ms |" % bar)
print("|---|---|---:|---:|---:|---:|---:|---:|---|")
failed = 0
for name, path, size, req, dur, p50, p99, mx, valid in rows:
    if len(path) > 48:
        path = path[:45] + "..."
    if valid != "ok":
        print(f"| {name} | `{path}` | {int(size):,} | | | | | | INVALID ({valid}) |")
        failed = 1
        continue
    rps = int(req) / (int(dur) / 1e6)
    ratio = f"{int(p99) / base:.1f}x" if base else ""
    if name.startswith("baseline"):
        verdict = "(floor)"
    elif int(p99) <= bar * 1000:
        verdict = "PASS"
    else:
        verdict = "**FAIL**"
        failed = max(failed, 1)
    print(f"| {name} | `{path}` | {int(size):,} | {rps:,.0f} | {int(p50)/1000:.2f} | "
          f"{int(p99)/1000:.2f} | {int(mx)/1000:.2f} | {ratio} | {verdict} |")
sys.exit(3 if failed else 0)
PY
echo
echo "Script run time: $(($(date +%s) - T0)) s."
((BAD == 0)) || exit "$BAD"
exit "$verdict"
