#!/usr/bin/env bash
# bench/soak.sh: does mistgate keep its promises for half an hour of a real org's traffic,
# with receivers failing and mistgate itself SIGKILLed every few minutes?
#
# Run from the repository root:   bench/soak.sh          (DURATION=3m KILL_EVERY=1m ... to try it)
#
# What runs, all on 127.0.0.1, in a temporary directory:
#   - `mistgate serve` (release) with two signed sources (`sim`, `burst`), two org+site
#     webhook subscriptions (every topic: the org webhook takes the org-level topics, one
#     site webhook per site the site-only ones) to receivers `hook-a` and `hook-b`, and
#     routing: `flow = "event"` (the org-level topics) to target `events`, `flow =
#     "incident"` to target `incidents` (Standard Webhooks targets). Receivers are
#     bench/soak_recv.py sinks, each its own process and port, appending every request they
#     acknowledge to a file before answering (so their counts survive their own restarts).
#   - traffic, through bench/soak_recv.py's proxy, which records every request mistgate
#     acknowledged (so what was acknowledged is known apart from mistgate's own records):
#     `mistgate simulate` at RATE events/s on every topic for DURATION (retrying each
#     message until acknowledged, like Mist); the built-in scenarios one after another at
#     SCENARIO_SPEED, on a loop (incidents open and resolve); every BURST_EVERY a burst of
#     BURST_EVENTS events (`simulate --flood`, BURST_BATCH per message, no retries) to the
#     second source.
#   - faults: mistgate SIGKILLed about every KILL_EVERY (+-25 %, from SEED) and restarted
#     at once on the same data dir (the simulators keep retrying meanwhile); every
#     OUTAGE_EVERY one receiver in turn goes away for OUTAGE_FOR: killed (connection
#     refused) and restarted on its port, or answering 503, alternately.
#   - every SAMPLE_EVERY seconds: mistgate's VmRSS and VmHWM (/proc, across restarts), the
#     data dir's size and WAL, events stored (/api/v1/stats).
# After DURATION: faults stop, receivers come back, the simulators finish their retries
# (at most SIM_WAIT_S), mistgate drains (no pending batch on any webhook or target and
# every stage's lag 0, at most DRAIN_S), then bench/soak_report.py checks, by event
# identity: every acknowledged event stored; every stored event each webhook subscribes
# to delivered to it, every routed event and incident change delivered to its target;
# duplicate deliveries and whether each is a re-send of a batch in flight at a kill (same
# X-Mistgate-Delivery-Id / webhook-id, a kill between the two copies); peak RSS; RSS and
# disk growth (last third of the run against the middle third, per event stored). It
# prints a Markdown report and a PASS/FAIL line against the promise: 0 acknowledged
# events lost, 0 deliveries lost, duplicates only of batches in flight at a kill.
#
# Knobs (environment):
#   DURATION=30m  KILL_EVERY=5m  OUTAGE_EVERY=3m  OUTAGE_FOR=45s  BURST_EVERY=4m
#                                 (s, m or h; KILL_EVERY=0 / OUTAGE_EVERY=0 / BURST_EVERY=0: none)
#   RATE=20                       background events/s (every topic at its everyday share)
#   BURST_EVENTS=3000 BURST_BATCH=10 BURST_CONNS=4
#   SCENARIO_SPEED=20             time compression of the scenarios (the demo's)
#   SEED=7                        the simulated org, the kill jitter
#   RETRY_DELAYS="1s 5s 15s 30s"  mistgate [delivery] retry_delays (short, so the drain
#   BREAKER_PAUSE=5s BREAKER_MAX_PAUSE=30s   at the end is bounded)
#   SAMPLE_EVERY=5  SIM_WAIT_S=900  DRAIN_S=600
#   SOAK_REV=                     build this git revision (e.g. HEAD) from a snapshot instead
#                                 of the working tree (edits in progress neither soaked nor
#                                 able to break the build)
#   SKIP_BUILD=1                  use the binary already built
#   KEEP=1                        keep the temporary directory (logs, receivers' files)
# Any MISTGATE_* variable in the caller's environment is cleared.
#
# Needs: cargo, python3, curl. Exit status: 0 PASS; 1 set-up failed; 2 FAIL (something
# lost, an unexplained duplicate, or the drain did not finish); 3 the promise held but
# RSS or disk grew without bound.
# Progress goes to stderr; the report (Markdown) to stdout.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ORIG_CMD="bench/soak.sh${*:+ $*}"

DURATION=${DURATION:-30m}
KILL_EVERY=${KILL_EVERY:-5m}
OUTAGE_EVERY=${OUTAGE_EVERY:-3m}
OUTAGE_FOR=${OUTAGE_FOR:-45s}
BURST_EVERY=${BURST_EVERY:-4m}
RATE=${RATE:-20}
BURST_EVENTS=${BURST_EVENTS:-3000}
BURST_BATCH=${BURST_BATCH:-10}
BURST_CONNS=${BURST_CONNS:-4}
SCENARIO_SPEED=${SCENARIO_SPEED:-20}
SEED=${SEED:-7}
RETRY_DELAYS=${RETRY_DELAYS:-1s 5s 15s 30s}
BREAKER_PAUSE=${BREAKER_PAUSE:-5s}
BREAKER_MAX_PAUSE=${BREAKER_MAX_PAUSE:-30s}
SAMPLE_EVERY=${SAMPLE_EVERY:-5}
SIM_WAIT_S=${SIM_WAIT_S:-900}
DRAIN_S=${DRAIN_S:-600}
SOAK_REV=${SOAK_REV:-}

TOKEN=soak-token-3c9e1f0a7b2d
SECRET_SIM=soak-sim-secret-81d2
SECRET_BURST=soak-burst-secret-47ae
HOOK_SECRET=soak-hook-secret-5f10
WHSEC=whsec_c29hay10YXJnZXQtc2VjcmV0LWtleS0wMQ==
ORG=5ca1ab1e-0000-4000-8000-00000000050a
RECEIVERS=(hook-a hook-b events incidents)
# mist::Topic's canonical names; the site-only ones need a site webhook (as in Mist).
ORG_TOPICS=(alarms audits client-info client-join client-latency client-sessions device-events
    device-updowns guest-authorizations minis-application minis-reachability mxedge-events
    nac-accounting nac-events occupancy-alerts ping site-sle)
SITE_TOPICS=(asset-raw asset-raw-rssi discovered-raw-rssi location location-asset
    location-centrak location-client location-sdk location-unclient rssizone
    sdkclient-scan-data vbeacon wifi-conn-raw wifi-unconn-raw zone)

START_TIMEOUT_S=30
STOP_TIMEOUT_S=10

SCRIPT=soak.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_args "$@"
bench_clean_env

# "90s", "5m", "1h" -> seconds.
secs_of() {
    [[ $2 =~ ^([0-9]+)(s|m|h)$ ]] || die "$1 must be a duration like 90s, 5m or 1h, not '$2'"
    local n=${BASH_REMATCH[1]}
    case ${BASH_REMATCH[2]} in
    s) echo "$n" ;;
    m) echo $((n * 60)) ;;
    h) echo $((n * 3600)) ;;
    esac
}
DUR_S=$(secs_of DURATION "$DURATION")
KILL_S=$(secs_of KILL_EVERY "$KILL_EVERY")
OUTAGE_S=$(secs_of OUTAGE_EVERY "$OUTAGE_EVERY")
OUTAGE_LEN_S=$(secs_of OUTAGE_FOR "$OUTAGE_FOR")
BURST_S=$(secs_of BURST_EVERY "$BURST_EVERY")
((DUR_S >= 30)) || die "DURATION must be at least 30s"
((OUTAGE_S == 0 || OUTAGE_LEN_S < OUTAGE_S)) || die "OUTAGE_FOR must be shorter than OUTAGE_EVERY"
[[ $RATE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "RATE must be a number, not '$RATE'"
for k in BURST_EVENTS BURST_BATCH BURST_CONNS SEED SAMPLE_EVERY SIM_WAIT_S DRAIN_S SCENARIO_SPEED; do
    positive "$k" "${!k}"
done
for d in $RETRY_DELAYS $BREAKER_PAUSE $BREAKER_MAX_PAUSE; do
    [[ $d =~ ^[0-9]+(ms|s|m|h)$ ]] || die "bad delay '$d' in RETRY_DELAYS/BREAKER_*"
done
for tool in cargo python3 curl git date du; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
[[ $(date +%6N) =~ ^[0-9]{6}$ ]] || die "date does not support %N (GNU date is required)"

# ---------------------------------------------------------------------------------------
# Build (once), from the working tree or from a snapshot of SOAK_REV.

SRC=$ROOT
if [[ -n $SOAK_REV ]]; then
    rev=$(git -C "$ROOT" rev-parse --verify "$SOAK_REV^{commit}") || die "SOAK_REV '$SOAK_REV' is not a commit"
    SRC=$ROOT/target/soak-src
    # Re-extracted only when the revision changes: new mtimes would rebuild everything.
    if [[ ! -f $SRC/.soak-rev || $(cat "$SRC/.soak-rev") != "$rev" ]]; then
        rm -rf "$SRC"
        mkdir -p "$SRC"
        git -C "$ROOT" archive "$rev" | tar -x -C "$SRC"
        echo "$rev" >"$SRC/.soak-rev"
    fi
    GIT_REV="$(git -C "$ROOT" rev-parse --short=12 "$rev") (SOAK_REV=$SOAK_REV)"
else
    GIT_REV=$(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
fi
MISTGATE=$ROOT/target/release/mistgate
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    note "building mistgate (release) from ${SOAK_REV:+commit }$GIT_REV"
    (cd "$SRC" && cargo build --release --locked --bin mistgate --target-dir "$ROOT/target") ||
        die "cargo build failed"
fi
[[ -x $MISTGATE ]] || die "no $MISTGATE (build it, or drop SKIP_BUILD)"
RECV=$ROOT/bench/soak_recv.py
REPORT=$ROOT/bench/soak_report.py
[[ -f $RECV && -f $REPORT ]] || die "missing $RECV or $REPORT"

# ---------------------------------------------------------------------------------------
# Work dir, children, cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mistgate-soak.XXXXXX")
DATA=$WORK/data
mkdir -p "$DATA" "$WORK/recv" "$WORK/sims"
# A copy: a build elsewhere during the run must not change the binary the restarts run.
cp "$MISTGATE" "$WORK/mistgate"
MISTGATE=$WORK/mistgate
MG_PID=
PROXY_PID=
BG_PID=
SCEN_PID=
declare -A SINK_PID=() SINK_PORT=()
BURST_PIDS=()

cleanup() {
    local pid
    trap - EXIT INT TERM
    if [[ -n $SCEN_PID ]]; then
        kill -TERM "$SCEN_PID" 2>/dev/null || true
        wait "$SCEN_PID" 2>/dev/null || true
        [[ -f $WORK/scenario.pid ]] && stop_pid "$(cat "$WORK/scenario.pid")" INT
    fi
    stop_pid "$BG_PID" INT
    for pid in "${BURST_PIDS[@]}"; do
        stop_pid "$pid" INT
    done
    stop_pid "$PROXY_PID"
    stop_pid "$MG_PID"
    for pid in "${SINK_PID[@]}"; do
        stop_pid "$pid"
    done
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "soak.sh: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T0_US=$(now_us)
elapsed_s() { echo $((($(now_us) - T0_US) / 1000000)); }

# start_sink NAME [PORT]: a receiver; a restart gets the port it had.
start_sink() {
    local name=$1 port=${2:-0} addr tries=0
    local out="$WORK/recv/$name.stdout"
    while true; do
        : >"$out"
        python3 "$RECV" sink --port "$port" --log "$WORK/recv/$name.jsonl" \
            --fail-flag "$WORK/recv/$name.fail" >"$out" 2>>"$WORK/$name.log" </dev/null &
        SINK_PID[$name]=$!
        if addr=$(wait_listening "$name" "${SINK_PID[$name]}" "$out" "$WORK/$name.log" 2>/dev/null); then
            break
        fi
        # The port may still be held for a moment after a kill: try again, bounded.
        tries=$((tries + 1))
        ((tries < 50)) || die "receiver $name could not listen on port $port again"
        sleep 0.2
    done
    SINK_PORT[$name]=${addr##*:}
}

# start_mistgate: on the data dir, a new free port; the proxy is told the new address.
start_mistgate() {
    local out="$WORK/mistgate.stdout"
    : >"$out"
    MISTGATE_API_TOKEN=$TOKEN "$MISTGATE" serve --listen 127.0.0.1:0 --data-dir "$DATA" \
        --config "$WORK/mistgate.toml" >"$out" 2>>"$WORK/mistgate.log" </dev/null &
    MG_PID=$!
    MG_ADDR=$(wait_listening mistgate "$MG_PID" "$out" "$WORK/mistgate.log")
    echo "$MG_ADDR" >"$WORK/upstream.tmp"
    mv "$WORK/upstream.tmp" "$WORK/upstream"
    echo "$MG_PID" >>"$WORK/mistgate.pids"
}

# ---------------------------------------------------------------------------------------
# Receivers, and the simulated org's sites (for the site webhooks).

note "work dir $WORK; receivers ${RECEIVERS[*]}"
for r in "${RECEIVERS[@]}"; do
    start_sink "$r"
done

# The org's site ids: a few events of the same seed to a throwaway sink.
start_sink probe
timeout 60 "$MISTGATE" simulate --target "http://127.0.0.1:${SINK_PORT[probe]}/probe" \
    --org "$ORG" --seed "$SEED" --rate 1000 --count 500 --no-wait --json \
    >"$WORK/sims/probe.json" 2>"$WORK/sims/probe.log" || die "the site probe failed: $(tail -n 3 "$WORK/sims/probe.log")"
stop_pid "${SINK_PID[probe]}"
unset 'SINK_PID[probe]'
mapfile -t SITES < <(python3 "$REPORT" sites --work "$WORK")
((${#SITES[@]} > 0)) || die "the probe saw no site ids"
note "simulated org $ORG, sites: ${SITES[*]}"

# ---------------------------------------------------------------------------------------
# mistgate.

toml_list() {
    local out="" x
    for x in "$@"; do out+="${out:+, }\"$x\""; done
    echo "[$out]"
}
cat >"$WORK/mistgate.toml" <<EOF
[[sources]]
name = "sim"
secrets = ["$SECRET_SIM"]

[[sources]]
name = "burst"
secrets = ["$SECRET_BURST"]

[storage]
synchronous = "full"

[delivery]
allow_private_targets = true
aggregation_window = "1s"
retry_delays = $(toml_list $RETRY_DELAYS)
retry_min_delay = "1s"
breaker_pause = "$BREAKER_PAUSE"
breaker_max_pause = "$BREAKER_MAX_PAUSE"

[targets.events]
type = "webhook"
url = "http://127.0.0.1:${SINK_PORT[events]}/events"
secrets = ["$WHSEC"]

[targets.incidents]
type = "webhook"
url = "http://127.0.0.1:${SINK_PORT[incidents]}/incidents"
secrets = ["$WHSEC"]

[[routes]]
name = "every incident change"
flow = "incident"
targets = ["incidents"]

[[routes]]
name = "org-level events"
flow = "event"
topics = $(toml_list "${ORG_TOPICS[@]}")
targets = ["events"]
EOF
"$MISTGATE" check-config "$WORK/mistgate.toml" >&2 || die "mistgate check-config refused the soak's config"
note "starting mistgate"
start_mistgate

# Webhooks: per receiver one org webhook (org-level topics) and one per site (site-only).
python3 "$REPORT" hooks --work "$WORK" --addr "$MG_ADDR" --token "$TOKEN" --org "$ORG" \
    --secret "$HOOK_SECRET" --sites "${SITES[*]}" --org-topics "${ORG_TOPICS[*]}" \
    --site-topics "${SITE_TOPICS[*]}" --receiver "hook-a=${SINK_PORT[hook-a]}" \
    --receiver "hook-b=${SINK_PORT[hook-b]}" || die "creating the webhooks failed"
# A webhook gets what arrives from its creation on (a second of slack): start after it.
sleep 2

note "starting the proxy"
: >"$WORK/proxy.stdout"
python3 "$RECV" proxy --port 0 --log "$WORK/acked.jsonl" --upstream-file "$WORK/upstream" \
    >"$WORK/proxy.stdout" 2>"$WORK/proxy.log" </dev/null &
PROXY_PID=$!
PROXY=$(wait_listening proxy "$PROXY_PID" "$WORK/proxy.stdout" "$WORK/proxy.log")

# ---------------------------------------------------------------------------------------
# Traffic.

mapfile -t SCENARIOS < <("$MISTGATE" simulate --list-scenarios | sed -n 's/^\([a-z0-9][a-z0-9-]*\)$/\1/p')
((${#SCENARIOS[@]} > 0)) || die "simulate --list-scenarios listed nothing"
END_US=$((T0_US + 0)) # set below, once traffic starts

# The scenarios one after another, until the end of DURATION (each run bounded).
scenario_loop() {
    trap - EXIT INT TERM
    local k=0 name
    while (($(now_us) < END_US)); do
        name=${SCENARIOS[$((k % ${#SCENARIOS[@]}))]}
        timeout -s INT -k 10 "$SIM_WAIT_S" "$MISTGATE" simulate --target "http://$PROXY/ingest/sim" \
            --secret "$SECRET_SIM" --org "$ORG" --seed "$SEED" --scenario "$name" \
            --speed "$SCENARIO_SPEED" --json >"$WORK/sims/scenario-$k-$name.json" \
            2>"$WORK/sims/scenario-$k-$name.log" </dev/null &
        echo $! >"$WORK/scenario.pid"
        wait $! || true
        k=$((k + 1))
        sleep 1
    done
}

# Fault and burst schedules, in seconds from the start (kill times jittered by SEED).
RANDOM=$SEED
KILLS=()
if ((KILL_S > 0)); then
    for ((t = KILL_S; t < DUR_S - 5; t += KILL_S)); do
        j=$((KILL_S / 4))
        KILLS+=($((t + (j > 0 ? RANDOM % (2 * j + 1) - j : 0))))
    done
fi
OUTAGES=()
if ((OUTAGE_S > 0)); then
    for ((t = OUTAGE_S / 2; t + OUTAGE_LEN_S < DUR_S; t += OUTAGE_S)); do OUTAGES+=("$t"); done
fi
BURSTS=()
if ((BURST_S > 0)); then
    for ((t = BURST_S / 3; t < DUR_S - 10; t += BURST_S)); do BURSTS+=("$t"); done
fi

T0_US=$(now_us)
END_US=$((T0_US + DUR_S * 1000000))
echo "$T0_US" >"$WORK/t0"
: >"$WORK/kills.tsv"
: >"$WORK/outages.tsv"
printf 't_us\tpid\trss_kb\thwm_kb\tdata_bytes\twal_bytes\tevents\n' >"$WORK/samples.tsv"
note "traffic for $DURATION: background $RATE events/s, ${#SCENARIOS[@]} scenarios looping," \
    "${#BURSTS[@]} bursts of $BURST_EVENTS, ${#KILLS[@]} kills, ${#OUTAGES[@]} receiver outages"
"$MISTGATE" simulate --target "http://$PROXY/ingest/sim" --secret "$SECRET_SIM" --org "$ORG" \
    --seed "$SEED" --rate "$RATE" --duration "${DUR_S}s" --json \
    >"$WORK/sims/background.json" 2>"$WORK/sims/background.log" </dev/null &
BG_PID=$!
scenario_loop &
SCEN_PID=$!

# One sample of mistgate's memory, disk and events stored.
sample() {
    local rss=0 hwm=0 data wal events
    if [[ -r /proc/$MG_PID/status ]]; then
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$MG_PID/status" 2>/dev/null || echo 0)
        hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$MG_PID/status" 2>/dev/null || echo 0)
    fi
    data=$(du -sb "$DATA" 2>/dev/null | cut -f1)
    wal=$(find "$DATA" -maxdepth 1 -name '*-wal' -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}')
    events=$(curl -sS --max-time 2 -H "Authorization: Token $TOKEN" "http://$MG_ADDR/api/v1/stats" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["events"])' 2>/dev/null || echo "")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(now_us)" "$MG_PID" "${rss:-0}" "${hwm:-0}" \
        "${data:-0}" "${wal:-0}" "$events" >>"$WORK/samples.tsv"
}

ki=0 oi=0 bi=0 outage_end=-1 outage_recv="" outage_mode="" next_sample=0
while (($(now_us) < END_US)); do
    t=$(elapsed_s)
    if ((t >= next_sample)); then
        sample
        next_sample=$((t + SAMPLE_EVERY))
    fi
    if ((ki < ${#KILLS[@]} && t >= KILLS[ki])); then
        sample # the last look at this incarnation's peak
        kill_us=$(now_us)
        kill -KILL "$MG_PID" 2>/dev/null || warn "mistgate $MG_PID was not running at kill $ki"
        wait "$MG_PID" 2>/dev/null || true
        old=$MG_PID
        start_mistgate
        printf '%s\t%s\t%s\t%s\n' "$kill_us" "$(now_us)" "$old" "$MG_PID" >>"$WORK/kills.tsv"
        note "kill $((ki + 1))/${#KILLS[@]}: SIGKILLed mistgate $old at ${t}s, restarted as $MG_PID"
        ki=$((ki + 1))
    fi
    if ((outage_end >= 0 && t >= outage_end)); then
        if [[ $outage_mode == down ]]; then
            start_sink "$outage_recv" "${SINK_PORT[$outage_recv]}"
        else
            rm -f "$WORK/recv/$outage_recv.fail"
        fi
        printf '\t%s\n' "$(now_us)" >>"$WORK/outages.tsv"
        note "receiver $outage_recv is back"
        outage_end=-1
    fi
    if ((outage_end < 0 && oi < ${#OUTAGES[@]} && t >= OUTAGES[oi])); then
        outage_recv=${RECEIVERS[$((oi % ${#RECEIVERS[@]}))]}
        outage_mode=$( (((oi + oi / ${#RECEIVERS[@]}) % 2 == 0)) && echo down || echo 5xx)
        printf '%s\t%s\t%s' "$outage_recv" "$outage_mode" "$(now_us)" >>"$WORK/outages.tsv"
        if [[ $outage_mode == down ]]; then
            stop_pid "${SINK_PID[$outage_recv]}" KILL
        else
            touch "$WORK/recv/$outage_recv.fail"
        fi
        note "receiver $outage_recv: $outage_mode for ${OUTAGE_LEN_S}s"
        outage_end=$((t + OUTAGE_LEN_S))
        oi=$((oi + 1))
    fi
    if ((bi < ${#BURSTS[@]} && t >= BURSTS[bi])); then
        "$MISTGATE" simulate --flood --target "http://$PROXY/ingest/burst" --secret "$SECRET_BURST" \
            --org "$ORG" --seed "$SEED" --count $((BURST_EVENTS / BURST_BATCH)) --batch "$BURST_BATCH" \
            --connections "$BURST_CONNS" --json >"$WORK/sims/burst-$bi.json" \
            2>"$WORK/sims/burst-$bi.log" </dev/null &
        BURST_PIDS+=($!)
        note "burst $((bi + 1))/${#BURSTS[@]}: $BURST_EVENTS events"
        bi=$((bi + 1))
    fi
    sleep 1
done
if ((outage_end >= 0)); then
    [[ $outage_mode == down ]] && start_sink "$outage_recv" "${SINK_PORT[$outage_recv]}"
    rm -f "$WORK/recv/$outage_recv.fail"
    printf '\t%s\n' "$(now_us)" >>"$WORK/outages.tsv"
fi
note "traffic time is over; waiting for the simulators to settle (at most ${SIM_WAIT_S}s)"
echo "$(now_us)" >"$WORK/t_end"

# ---------------------------------------------------------------------------------------
# Settle: simulators finish their retries, then mistgate drains.

wait_pid_bounded() { # PID DEADLINE_US NAME
    while kill -0 "$1" 2>/dev/null && (($(now_us) < $2)); do
        (($(elapsed_s) % SAMPLE_EVERY == 0)) && sample
        sleep 1
    done
    if kill -0 "$1" 2>/dev/null; then
        warn "$3 still running after ${SIM_WAIT_S}s; interrupting it"
        stop_pid "$1" INT
        return 1
    fi
    wait "$1" 2>/dev/null || true
}
SETTLED=1
deadline=$(($(now_us) + SIM_WAIT_S * 1000000))
wait_pid_bounded "$BG_PID" "$deadline" "the background simulator" || SETTLED=0
BG_PID=
wait_pid_bounded "$SCEN_PID" "$deadline" "the scenario loop" || {
    SETTLED=0
    [[ -f $WORK/scenario.pid ]] && stop_pid "$(cat "$WORK/scenario.pid")" INT
}
SCEN_PID=
for pid in "${BURST_PIDS[@]}"; do
    wait_pid_bounded "$pid" "$deadline" "a burst" || SETTLED=0
done
BURST_PIDS=()
echo "$(now_us)" >"$WORK/t_settled"

note "draining: waiting for no pending batch and every stage's lag at 0 (at most ${DRAIN_S}s)"
DRAINED=0
deadline=$(($(now_us) + DRAIN_S * 1000000))
while (($(now_us) < deadline)); do
    if python3 "$REPORT" drained --work "$WORK" --addr "$MG_ADDR" --token "$TOKEN" 2>"$WORK/drain.last"; then
        DRAINED=1
        break
    fi
    (($(elapsed_s) % SAMPLE_EVERY == 0)) && sample
    sleep 2
done
((DRAINED)) || warn "not drained after ${DRAIN_S}s: $(cat "$WORK/drain.last")"
sample
echo "$(now_us)" >"$WORK/t_drained"

note "collecting what mistgate stored and delivered"
python3 "$REPORT" collect --work "$WORK" --addr "$MG_ADDR" --token "$TOKEN" ||
    die "collecting from mistgate failed"
note "stopping mistgate (SIGTERM) and the receivers"
stop_pid "$MG_PID"
MG_PID=
stop_pid "$PROXY_PID"
PROXY_PID=
for r in "${!SINK_PID[@]}"; do
    stop_pid "${SINK_PID[$r]}"
done
SINK_PID=()

cpu=$(host_cpu)
cat >"$WORK/run.env" <<EOF
command=DURATION=$DURATION KILL_EVERY=$KILL_EVERY OUTAGE_EVERY=$OUTAGE_EVERY OUTAGE_FOR=$OUTAGE_FOR BURST_EVERY=$BURST_EVERY RATE=$RATE BURST_EVENTS=$BURST_EVENTS BURST_BATCH=$BURST_BATCH SCENARIO_SPEED=$SCENARIO_SPEED SEED=$SEED${SOAK_REV:+ SOAK_REV=$SOAK_REV} $ORIG_CMD
date=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
git=$GIT_REV
host=nproc=$(nproc), cpu: ${cpu:-unknown}, kernel: $(uname -srm), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)
settled=$SETTLED
drained=$DRAINED
event_topics=${ORG_TOPICS[*]}
EOF
status=0
python3 "$REPORT" report --work "$WORK" || status=$?
exit "$status"
