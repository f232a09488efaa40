#!/usr/bin/env bash
# Checks the API against its own OpenAPI document with schemathesis, every check on:
# starts `mistgate serve` on a free loopback port with a temporary data dir, seeds it (the
# Mist samples, an incident, a silence, org and site webhooks and asset filters, dead messages of both and
# of a routing target) so that the operations reach their handlers, runs `st run`
# against /api/v1/openapi.json with the API token and scripts/schemathesis.toml, and fails
# on any failure. The server is always stopped.
#
# Deliveries are made through a proxy that refuses every connection (HTTP(S)_PROXY on
# 127.0.0.1:9), so that the webhooks schemathesis invents never reach a real host.
#
# Uses MISTGATE_BIN, else the debug binary that `cargo test` built (building it when it is
# missing or older than the sources). Knobs: ST_MAX_EXAMPLES (per operation, default 50),
# ST_SEED (default: a fixed seed, so that the suite's run is reproducible; `random` lets
# schemathesis pick one, to explore), ST_WORKERS (default 1), ST_TIMEOUT (seconds for the
# whole run, default 600), ST_ARGS (more `st run` arguments). A failure found with another
# seed is reproduced with `ST_SEED=<the seed it printed>`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

max_examples=${ST_MAX_EXAMPLES:-50}
seed=${ST_SEED:-91411291045899125408223889738379297915}
[[ $seed == random ]] && seed=
# One worker: with several threads, Hypothesis parsing its lambdas' source concurrently
# meets a CPython bug ("AST constructor recursion depth mismatch", python/cpython#106905)
# that aborts an operation at random.
workers=${ST_WORKERS:-1}
run_timeout=${ST_TIMEOUT:-600}
samples=$repo/../shared/mist/samples

# The version this script was written against; an installed one is used as it is.
if ! python3 -c 'import schemathesis' 2>/dev/null; then
    echo "installing the schemathesis Python package (it checks the API against its document)" >&2
    python3 -m pip install --quiet schemathesis==4.32.5 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages schemathesis==4.32.5
fi

bin=${MISTGATE_BIN:-$repo/target/debug/mistgate}
if [ -z "${MISTGATE_BIN:-}" ]; then
    if [ ! -x "$bin" ] || [ -n "$(find crates src Cargo.toml Cargo.lock -newer "$bin" \
        \( -name '*.rs' -o -name 'Cargo.*' \) -print -quit)" ]; then
        cargo build --locked --bin mistgate
    fi
fi

# Everything this script and schemathesis send goes to the loopback server directly,
# whatever proxy the environment names.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$work/mistgate.toml" <<'EOF'
[[sources]]
name = "default"

# Failed messages go to the dead letters within a second or two, so that replays have
# something to replay; no circuit breaker pauses a lane meanwhile.
[delivery]
retry_delays = ["100ms"]
retry_min_delay = "100ms"
retry_max_age = "1s"
breaker_failures = 1000000
breaker_pause = "1s"
breaker_max_pause = "1s"

[targets.noc]
type = "webhook"
url = "https://noc.example.net/mistgate"

[[routes]]
name = "alarms to the NOC"
flow = "event"
topics = ["alarms"]
targets = ["noc"]
EOF

token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
refuse=http://127.0.0.1:9
HTTP_PROXY=$refuse HTTPS_PROXY=$refuse ALL_PROXY=$refuse NO_PROXY= \
    http_proxy=$refuse https_proxy=$refuse all_proxy=$refuse no_proxy= \
    MISTGATE_API_TOKEN=$token "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    --config "$work/mistgate.toml" >"$work/stdout" 2>"$work/stderr" &
server_pid=$!

addr=
for _ in $(seq 1 300); do
    addr=$(sed -n 's|^listening on http://||p' "$work/stdout" | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$addr" ]; then
    echo "error: mistgate did not start:" >&2
    cat "$work/stderr" >&2
    exit 1
fi
base=http://$addr
echo "mistgate is serving at $base" >&2

# `api METHOD PATH [BODY] [FIELD]`: calls the API (python3, which schemathesis needs
# anyway, rather than curl), fails on an error status, and prints the field of the answer
# (a `.`-separated path) when one is named.
api() {
    MISTGATE_ST_BASE=$base MISTGATE_ST_TOKEN=$token python3 - "$@" <<'PY'
import json, os, sys, urllib.error, urllib.request
method, path = sys.argv[1], sys.argv[2]
body = sys.argv[3].encode() if len(sys.argv) > 3 and sys.argv[3] else None
request = urllib.request.Request(
    os.environ["MISTGATE_ST_BASE"] + path, data=body, method=method,
    headers={"Authorization": "Token " + os.environ["MISTGATE_ST_TOKEN"],
             "Content-Type": "application/json"})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(request, timeout=30) as response:
        answer = response.read()
except urllib.error.HTTPError as e:
    sys.exit(f"{method} {path} answered {e.code}: {e.read().decode(errors='replace')}")
if len(sys.argv) > 4:
    value = json.loads(answer)
    for key in sys.argv[4].split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    print(value)
PY
}

# Waits until `api GET PATH '' FIELD` answers something.
wait_for() {
    local value
    for _ in $(seq 1 300); do
        if value=$(api GET "$1" '' "$2" 2>/dev/null); then
            echo "$value"
            return 0
        fi
        sleep 0.1
    done
    echo "error: nothing at $1 ($2) after 30 s" >&2
    return 1
}

seeding=$(date +%s)
"$bin" send --to "$base/ingest/default" "$samples"/*__*.json >"$work/send.log" 2>&1 || {
    cat "$work/send.log" >&2
    exit 1
}
api POST /ingest/default '{"topic": "alarms", "events": [{"type": "device_down",
    "org_id": "o", "site_id": "s", "aps": ["5c5b350e0001"], "hostnames": ["ap-1"],
    "severity": "warn", "timestamp": 1749998000}]}'
api POST /api/v1/silences '{"site_id": "s", "ends_at": "2100-01-01T00:00:00Z", "comment": "seeded"}'
hook='{"url": "https://example.com/hook", "topics": ["alarms"], "secret": "s3", "enabled": false}'
org_hook=$(api POST /api/v1/orgs/o/webhooks "$hook" id)
site_hook=$(api POST /api/v1/sites/s/webhooks "$hook" id)
org_filter=$(api POST /api/v1/orgs/o/assetfilters '{"name": "seeded", "ibeacon_major": 2}' id)
site_filter=$(api POST /api/v1/sites/s/assetfilters '{"name": "seeded", "rssi": -70}' id)
# Spares that only DELETE is pointed at (scripts/schemathesis.toml).
org_hook_spare=$(api POST /api/v1/orgs/o/webhooks "$hook" id)
site_hook_spare=$(api POST /api/v1/sites/s/webhooks "$hook" id)
org_filter_spare=$(api POST /api/v1/orgs/o/assetfilters '{"name": "spare"}' id)
site_filter_spare=$(api POST /api/v1/sites/s/assetfilters '{"name": "spare"}' id)
api POST "/api/v1/orgs/o/webhooks/$org_hook/ping"
api POST "/api/v1/sites/s/webhooks/$site_hook/ping"

# The background stages' work, so that the answers have it: an incident, and dead
# messages (the proxy refuses every attempt) of both webhooks and of the routing target.
wait_for /api/v1/incidents items.0.id >/dev/null
wait_for "/api/v1/orgs/o/webhooks/$org_hook/deliveries?state=dead" items.0.id >/dev/null
wait_for "/api/v1/sites/s/webhooks/$site_hook/deliveries?state=dead" items.0.id >/dev/null
wait_for "/api/v1/targets/noc/deliveries?state=dead" items.0.id >/dev/null
export MISTGATE_ST_ORG_HOOK=$org_hook MISTGATE_ST_SITE_HOOK=$site_hook
export MISTGATE_ST_ORG_FILTER=$org_filter MISTGATE_ST_SITE_FILTER=$site_filter
export MISTGATE_ST_ORG_HOOK_SPARE=$org_hook_spare MISTGATE_ST_SITE_HOOK_SPARE=$site_hook_spare
export MISTGATE_ST_ORG_FILTER_SPARE=$org_filter_spare MISTGATE_ST_SITE_FILTER_SPARE=$site_filter_spare
echo "seeded in $(($(date +%s) - seeding)) s" >&2

# More `st run` arguments, e.g. ST_ARGS='--include-path-regex /silences --report har'.
read -r -a extra <<<"${ST_ARGS:-}"
started=$(date +%s)
status=0
# From the temporary dir: schemathesis keeps a cache in its working directory.
(
    cd "$work"
    timeout --signal=INT "$run_timeout" \
        python3 -m schemathesis.cli --config-file "$repo/scripts/schemathesis.toml" \
        run "$base/api/v1/openapi.json" \
        --checks all \
        --header "Authorization: Token $token" \
        --max-examples "$max_examples" \
        --workers "$workers" \
        ${seed:+--seed "$seed"} \
        --generation-database none \
        --no-color \
        "${extra[@]}"
) || status=$?
echo "schemathesis finished in $(($(date +%s) - started)) s with exit code $status" >&2
if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "error: mistgate exited during the run:" >&2
    tail -n 50 "$work/stderr" >&2
    status=1
elif grep -q 'panicked' "$work/stderr"; then
    echo "error: mistgate panicked during the run:" >&2
    grep -A5 'panicked' "$work/stderr" >&2
    status=1
fi
exit "$status"
