# bench/lib.sh: what every benchmark script shares. Sourced, after the script has set
#   SCRIPT           its name, for messages ("ingest.sh")
#   START_TIMEOUT_S  how long a server may take to print its `listening on` line
#   STOP_TIMEOUT_S   how long a process may take to exit after a signal
# and `set -euo pipefail`. It defines no traps: each script cleans up what it started.

die() {
    echo "$SCRIPT: error: $*" >&2
    exit 1
}
warn() { echo "$SCRIPT: warning: $*" >&2; }
note() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

# bench_args "$@": `-h`/`--help` prints the script's header comment; nothing else is taken
# (settings are environment variables).
bench_args() {
    [[ $# -gt 0 ]] || return 0
    case $1 in
    -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *) die "no arguments expected (settings are environment variables; see --help)" ;;
    esac
}

# bench_clean_env: any MISTGATE_* variable of the caller would change the configuration
# under test, so none is kept.
bench_clean_env() {
    local v
    for v in $(compgen -e | grep '^MISTGATE_' || true); do
        warn "ignoring $v from the environment"
        unset "$v"
    done
}

# positive NAME VALUE: dies unless VALUE is a positive integer.
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, not '$2'"; }

now_us() { date +%s%6N; }

# stop_pid PID [SIGNAL]: sends SIGNAL (TERM), waits up to STOP_TIMEOUT_S, then SIGKILL.
stop_pid() {
    local pid=$1 sig=${2:-TERM} waited=0
    [[ -n $pid ]] || return 0
    kill -"$sig" "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= STOP_TIMEOUT_S * 20)); then
            warn "process $pid ignored SIG$sig for ${STOP_TIMEOUT_S}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.05
        waited=$((waited + 1))
    done
    wait "$pid" 2>/dev/null || true
}

# wait_listening NAME PID OUT LOG: waits (bounded by START_TIMEOUT_S) for the first line
# of OUT, which must be `listening on http://ADDR`; prints ADDR. Dies (showing the end of
# LOG) when PID exits first or never says where it listens.
wait_listening() {
    local name=$1 pid=$2 out=$3 log=$4 line="" polls=0
    # `read` succeeds only once a whole line (newline included) is there.
    until IFS= read -r line <"$out"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "---- last lines of $name's log ($log):" >&2
            tail -n 20 "$log" >&2 2>/dev/null || true
            die "$name exited before it was listening"
        fi
        ((polls < START_TIMEOUT_S * 20)) ||
            die "$name printed no 'listening on' line within ${START_TIMEOUT_S}s"
        sleep 0.05
        polls=$((polls + 1))
    done
    [[ $line =~ ^listening\ on\ http://([^[:space:]/]+)$ ]] ||
        die "$name's first stdout line is not 'listening on http://ADDR': '$line'"
    echo "${BASH_REMATCH[1]}"
}

# start_server NAME LOG CMD...: starts CMD in the background with stdout to a file in
# WORK and stderr to LOG, waits (bounded) for its `listening on http://ADDR` line. Sets
# SERVER_PID and SERVER_ADDR (host:port) and adds the pid to the SERVER_PIDS array.
start_server() {
    local name=$1 log=$2
    shift 2
    local out="$WORK/$name.stdout"
    : >"$out"
    "$@" >"$out" 2>"$log" </dev/null &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    SERVER_ADDR=$(wait_listening "$name" "$SERVER_PID" "$out" "$log")
}

# stop_server PID: stops it and takes it out of SERVER_PIDS.
stop_server() {
    local pid=$1 keep=() p
    stop_pid "$pid"
    for p in "${SERVER_PIDS[@]}"; do
        [[ $p == "$pid" ]] || keep+=("$p")
    done
    SERVER_PIDS=(${keep[@]+"${keep[@]}"})
}

# servers_stop: stops the load generator LOAD_PID and the servers start_server started
# (for scripts that must stop something else, a database, before removing WORK).
servers_stop() {
    local pid
    if [[ -n ${LOAD_PID:-} ]]; then
        kill -TERM "$LOAD_PID" 2>/dev/null || true
        wait "$LOAD_PID" 2>/dev/null || true
    fi
    for pid in ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do
        stop_pid "$pid"
    done
    SERVER_PIDS=()
    LOAD_PID=
}

# servers_cleanup: the EXIT trap of scripts that start servers with start_server and a
# load generator as LOAD_PID: stops them, then removes WORK (kept with KEEP=1).
servers_cleanup() {
    servers_stop
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "$SCRIPT: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}

# Installs wrk (Debian's package) when it is missing, or dies saying why it cannot.
need_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    note "wrk is missing; installing it (apt-get, Debian package 'wrk')"
    local sudo=()
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "wrk is missing and this is not root: install wrk"
        sudo=(sudo)
    fi
    { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y wrk; } >&2 || die "could not install wrk"
}

# wrk's duration syntax (a number, optionally followed by s, m or h) -> seconds.
seconds_of() {
    local d=$1
    [[ $d =~ ^([0-9]+)([smh]?)$ ]] || die "bad duration '$d' (expected e.g. 10s, 1m)"
    case ${BASH_REMATCH[2]} in
    '' | s) echo "${BASH_REMATCH[1]}" ;;
    m) echo $((BASH_REMATCH[1] * 60)) ;;
    h) echo $((BASH_REMATCH[1] * 3600)) ;;
    esac
}

# The number of events in the Mist envelope in file $1.
events_in() {
    python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["events"]))' "$1"
}

# BUILD_FLAGS for cargo from PROFILE (release or debug).
bench_build_flags() {
    case $PROFILE in
    release) BUILD_FLAGS=(--release) ;;
    debug) BUILD_FLAGS=() ;;
    *) die "PROFILE must be release or debug, not '$PROFILE'" ;;
    esac
}

# The machine's CPU model, and the tree's revision, for the reports.
host_cpu() { sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1; }
git_rev() { git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown; }
