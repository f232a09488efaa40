#!/usr/bin/env bash
# bench/pg.sh: a throwaway PostgreSQL cluster for the benchmarks that need one
# (scaleout.sh, search.sh). Sourced after bench/lib.sh, by a script that has set WORK (its
# temporary directory) and PG_READY_S (how long postgres may take to accept connections),
# and may set NICE (an array: the command prefix postgres runs under) and PG_BIN.
#
#   pg_find_bin              PG_BIN: the newest /usr/lib/postgresql/<v>/bin, unless set
#   pg_start PREFIX LOG ...  initdb in a new temporary directory PGDIR (named PREFIX.XXXXXX)
#                            and postgres on a free loopback port PG_PORT, with PostgreSQL's
#                            durable defaults (fsync and synchronous_commit on), as the
#                            `postgres` user via runuser when root; its output to LOG; the
#                            rest of the arguments are more postgres options (-c name=value);
#                            returns once it accepts connections (PG_PID: the postmaster)
#   pg_cleanup               stops it (fast shutdown) and removes PGDIR (kept with KEEP=1)

PGDIR=       # the cluster's own directory (owned by `postgres` when root)
PG_PORT=
PG_RUN_PID=  # the process started for the cluster (runuser, or postgres itself)
PG_PID=      # the postmaster (from postmaster.pid)

pg_find_bin() {
    if [[ -z ${PG_BIN:-} ]]; then
        PG_BIN=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
            sort -V | tail -n 1 | xargs -r dirname)
        [[ -n $PG_BIN ]] || PG_BIN=$(pg_config --bindir 2>/dev/null) ||
            die "PostgreSQL's server packages (initdb, postgres) are needed: none found"
    fi
    local tool
    for tool in initdb postgres psql pg_isready; do
        [[ -x $PG_BIN/$tool ]] || die "no $PG_BIN/$tool (set PG_BIN=DIR)"
    done
}

pg_start() {
    local prefix=$1 log=$2 as_postgres=() polls=0
    shift 2
    if [[ $(id -u) == 0 ]]; then
        getent passwd postgres >/dev/null || die "running as root, and there is no 'postgres' user to run PostgreSQL as"
        as_postgres=(runuser -u postgres --)
    fi
    PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/$prefix.XXXXXX")
    if ((${#as_postgres[@]})); then
        chown -R postgres:postgres "$PGDIR"
    fi
    PG_PORT=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
    note "PostgreSQL: initdb in $PGDIR"
    # From the cluster's directory: the postgres user may not be allowed into the caller's.
    (cd "$PGDIR" && exec "${as_postgres[@]}" "$PG_BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8) \
        >"$WORK/initdb.log" 2>&1 || {
        cat "$WORK/initdb.log" >&2
        die "initdb failed"
    }
    note "PostgreSQL: starting on 127.0.0.1:$PG_PORT (fsync and synchronous_commit at their defaults: on)"
    # The redirection is made by this shell (root), before runuser drops to postgres.
    (cd "$PGDIR" && exec ${NICE[@]+"${NICE[@]}"} "${as_postgres[@]}" "$PG_BIN/postgres" -D "$PGDIR/data" \
        -p "$PG_PORT" -k "$PGDIR" -c listen_addresses=127.0.0.1 -c max_connections=200 "$@") \
        </dev/null >"$log" 2>&1 &
    PG_RUN_PID=$!
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres; do
        if ! kill -0 "$PG_RUN_PID" 2>/dev/null; then
            tail -n 20 "$log" >&2
            die "postgres exited before accepting connections"
        fi
        ((polls < PG_READY_S * 10)) || die "postgres did not accept connections within ${PG_READY_S}s"
        sleep 0.1
        polls=$((polls + 1))
    done
    PG_PID=$(head -n 1 "$PGDIR/data/postmaster.pid")
    [[ $PG_PID =~ ^[0-9]+$ ]] || die "no postmaster pid in $PGDIR/data/postmaster.pid"
}

pg_cleanup() {
    if [[ -n $PG_RUN_PID ]]; then
        # SIGINT is PostgreSQL's fast shutdown. It goes to the postmaster itself: runuser
        # would not pass it on.
        if [[ -n $PG_PID ]]; then
            stop_pid "$PG_PID" INT
        fi
        stop_pid "$PG_RUN_PID" INT
        PG_RUN_PID=
        PG_PID=
    fi
    if [[ -n $PGDIR ]]; then
        if [[ ${KEEP:-0} == 1 ]]; then
            echo "$SCRIPT: kept the cluster's directory $PGDIR" >&2
        else
            rm -rf "$PGDIR"
        fi
        PGDIR=
    fi
}
