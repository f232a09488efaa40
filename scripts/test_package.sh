#!/usr/bin/env bash
# Tests the Debian package (README "Install as a service"): builds it with
# scripts/package.sh --fast (the debug binary the tests built, no release build), then
#
#   1. control: Package, Version (the crate's), Architecture, Maintainer, Depends,
#      Section; the conffiles list; the maintainer scripts (sh -n, shellcheck when it is
#      installed, cargo-deb's systemd snippets after the user is created);
#   2. contents: exactly the expected files, with their modes, all owned by root;
#   3. the packaged configuration passes the packaged binary's check-config (with the
#      secret it names set; without it, it is refused), and so does every example
#      setting in it uncommented;
#   4. the unit: its hardening settings, `systemd-analyze verify` (no warning either) and
#      `security` (exposure at most 2.0) when systemd-analyze is installed;
#   5. as root, in a private mount namespace with /etc and /var overlaid (nothing on the
#      host changes): the maintainer scripts run as dpkg runs them (install, upgrade,
#      remove, purge) and leave the user, modes and secrets they promise; then the
#      service's command runs as the created user with the generated secret: signed
#      webhooks stored, a wrong signature refused, the API answering, SIGTERM ending it
#      with 0; traced with strace when installed, every system call it makes must be
#      allowed by the unit's SystemCallFilter, no socket family outside
#      RestrictAddressFamilies, no writable-and-executable memory
#      (MemoryDenyWriteExecute).
#
# A step whose tool is missing (systemd-analyze, strace, root) says it was skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

fail() {
    echo "test_package: FAIL: $*" >&2
    exit 1
}
ok() { echo "test_package: ok: $*"; }
skipped() { echo "test_package: skipped: $*"; }

# The hardening the unit must keep, one line each, exactly.
# shellcheck disable=SC2016 # $MAINPID is systemd's
UNIT_LINES=(
    'Type=exec'
    'ExecStart=/usr/bin/mistgate serve --config /etc/mistgate/mistgate.toml'
    'ExecReload=/bin/kill -HUP $MAINPID'
    'EnvironmentFile=-/etc/mistgate/mistgate.env'
    'User=mistgate'
    'Group=mistgate'
    'StateDirectory=mistgate'
    'StateDirectoryMode=0700'
    'UMask=0077'
    'Restart=on-failure'
    'TimeoutStopSec=20s'
    'LimitNOFILE=65536'
    'NoNewPrivileges=yes'
    'AmbientCapabilities=CAP_NET_BIND_SERVICE'
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE'
    'ProtectSystem=strict'
    'ReadWritePaths=/var/lib/mistgate'
    'PrivateTmp=yes'
    'PrivateDevices=yes'
    'ProtectHome=yes'
    'ProtectKernelTunables=yes'
    'ProtectKernelModules=yes'
    'ProtectKernelLogs=yes'
    'ProtectControlGroups=yes'
    'ProtectClock=yes'
    'ProtectHostname=yes'
    'LockPersonality=yes'
    'MemoryDenyWriteExecute=yes'
    'RestrictRealtime=yes'
    'RestrictSUIDSGID=yes'
    'RestrictNamespaces=yes'
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'
    'SystemCallArchitectures=native'
    'SystemCallFilter=@system-service'
    'SystemCallFilter=~@privileged @resources'
    'WantedBy=multi-user.target'
    'Documentation=file:///usr/share/doc/mistgate/README.md'
)

# Files in the package: mode, owner, path.
EXPECTED_CONTENTS='-rw-r----- 0/0 ./etc/mistgate/mistgate.toml
-rw-r--r-- 0/0 ./usr/lib/systemd/system/mistgate.service
-rw-r--r-- 0/0 ./usr/share/doc/mistgate/README.md
-rw-r--r-- 0/0 ./usr/share/doc/mistgate/copyright
-rwxr-xr-x 0/0 ./usr/bin/mistgate'

# Values for the secrets the example settings name.
EXAMPLE_ENV=(
    MIST_SECRET=example-mist-secret
    MIST_SECRET_BRANCH=example-branch-secret
    SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T000/B000/XXXX
    PAGERDUTY_ROUTING_KEY=0123456789abcdef0123456789abcdef
)

# Step 5, run by `unshare --mount` (below) as `$0 --in-namespace WORK`.
in_namespace() {
    local work=$1 root=$1/root log=$1/ns
    local bin=$root/usr/bin/mistgate ctl=$1/control
    mkdir -p "$log"

    # /etc and /var: the host's, with every write kept in memory.
    local d
    if ! mount -t tmpfs tmpfs "$work/overlay" 2>"$log/mount"; then
        skipped "running the maintainer scripts and the service as mistgate (no tmpfs here: $(cat "$log/mount"))"
        return
    fi
    for d in etc var; do
        mkdir -p "$work/overlay/$d.upper" "$work/overlay/$d.work"
        if ! mount -t overlay overlay -o \
            "lowerdir=/$d,upperdir=$work/overlay/$d.upper,workdir=$work/overlay/$d.work" "/$d" 2>"$log/mount"; then
            skipped "running the maintainer scripts and the service as mistgate (cannot overlay /$d: $(cat "$log/mount"))"
            return
        fi
    done

    # The systemd helpers the snippets call, recording how they were called.
    mkdir -p "$work/stubs"
    for d in deb-systemd-helper deb-systemd-invoke systemctl; do
        printf '#!/bin/sh\necho "%s $*" >>%s/systemd-calls\n' "$d" "$log" >"$work/stubs/$d"
        chmod 755 "$work/stubs/$d"
    done
    export PATH="$work/stubs:$PATH"

    # dpkg unpacks (the conffile as packaged), then configures.
    [ ! -e /etc/mistgate ] || rm -rf /etc/mistgate
    [ ! -e /var/lib/mistgate ] || rm -rf /var/lib/mistgate
    install -d -m 0755 /etc/mistgate
    install -m 0640 "$root/etc/mistgate/mistgate.toml" /etc/mistgate/mistgate.toml
    "$ctl/postinst" configure 2>"$log/postinst.err" ||
        fail "postinst configure (a first install) failed: $(cat "$log/postinst.err")"
    [ ! -s "$log/postinst.err" ] || fail "postinst configure complained: $(cat "$log/postinst.err")"

    getent passwd mistgate >"$log/passwd" || fail "postinst made no mistgate user"
    IFS=: read -r _ _ uid gid _ home shell <"$log/passwd"
    [ "$uid" -lt 1000 ] || fail "mistgate is not a system user (uid $uid)"
    [ "$(getent group mistgate | cut -d: -f3)" = "$gid" ] || fail "mistgate's group is not mistgate"
    [ "$home" = /var/lib/mistgate ] || fail "mistgate's home is $home"
    [ "$shell" = /usr/sbin/nologin ] || fail "mistgate's shell is $shell"
    expect_stat() {
        local got
        got=$(stat -c '%a %U:%G' "$1")
        [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
    }
    expect_stat /var/lib/mistgate '700 mistgate:mistgate'
    expect_stat /etc/mistgate '750 root:mistgate'
    expect_stat /etc/mistgate/mistgate.toml '640 root:mistgate'
    expect_stat /etc/mistgate/mistgate.env '600 root:root'
    local secret
    secret=$(sed -n 's/^MIST_SECRET=//p' /etc/mistgate/mistgate.env)
    [[ $secret =~ ^[0-9a-f]{64}$ ]] || fail "mistgate.env has no random MIST_SECRET"
    grep -qx 'deb-systemd-helper enable mistgate.service' "$log/systemd-calls" ||
        fail "postinst did not enable mistgate.service: $(cat "$log/systemd-calls")"
    ok "postinst (install): system user mistgate, /var/lib/mistgate 0700, /etc/mistgate 0750 and the config 0640 root:mistgate, mistgate.env 0600 with a random secret, unit enabled"

    # The service's view: the mistgate user reads the config, with the env file's secret
    # (systemd reads that file as root); other users cannot read the config.
    local env_file=/etc/mistgate/mistgate.env
    chmod 0755 "$work" "$root" "$root/usr" "$root/usr/bin" # the binary, for mistgate
    # Runs a command as USER the way the unit does: the env file's variables, UMask, the
    # state directory as working directory, no new privileges, no capabilities.
    as_user() {
        local user=$1
        shift
        (
            set -a
            # shellcheck disable=SC1090
            . "$env_file"
            set +a
            export NO_COLOR=1
            umask 0077
            cd /var/lib/mistgate
            exec "${prefix[@]}" setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
                --no-new-privs --inh-caps=-all --bounding-set=-all "$@"
        )
    }
    local prefix=()
    as_user mistgate "$bin" check-config /etc/mistgate/mistgate.toml >"$log/check" 2>&1 ||
        fail "the mistgate user cannot use its config: $(cat "$log/check")"
    if as_user nobody "$bin" check-config /etc/mistgate/mistgate.toml >"$log/check-nobody" 2>&1 ||
        ! grep -q 'Permission denied' "$log/check-nobody"; then
        fail "another user can read /etc/mistgate/mistgate.toml: $(cat "$log/check-nobody")"
    fi
    ok "the mistgate user reads the config and the secret; another user cannot read the config"

    # The service's command as the unit runs it (on a free port instead of the config's),
    # as mistgate, traced when strace is installed. Sets $url and $service.
    local url service traces=()
    start_service() {
        local name=$1
        prefix=()
        if command -v strace >/dev/null; then
            prefix=(strace -f -qq -o "$log/$name.strace")
            traces+=("$log/$name.strace")
        fi
        MISTGATE_LISTEN=127.0.0.1:0 as_user mistgate "$bin" serve --config /etc/mistgate/mistgate.toml \
            >"$log/$name.out" 2>"$log/$name.err" &
        service_root=$!
        url=""
        for _ in $(seq 150); do
            url=$(sed -n 's/^listening on //p' "$log/$name.out")
            [ -n "$url" ] && break
            kill -0 "$service_root" 2>/dev/null || break
            sleep 0.1
        done
        [ -n "$url" ] || fail "the service ($name) did not start: $(cat "$log/$name.err")"
        service=$(service_pids "$service_root")
        [ -n "$service" ] || fail "the service ($name) is not running"
    }
    stop_service() {
        local status=0
        kill -TERM "$service"
        wait "$service_root" || status=$?
        [ "$status" = 0 ] || fail "SIGTERM: the service ($1) exited $status: $(tail -5 "$log/$1.err")"
        prefix=()
    }
    # Never left running, whatever fails.
    service_root=0
    trap 'kill -TERM $(service_pids "$service_root") 2>/dev/null || true' EXIT

    # The operator's admin token, set in the env file as its comment says.
    local token samples=$repo/../shared/mist/samples
    token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    echo "MISTGATE_API_TOKEN=$token" >>"$env_file"

    start_service plain
    local files=("$samples"/alarms__*.json "$samples"/device-updowns__*.json "$samples"/nac-events__*.json)
    "$bin" send --secret "$secret" --to "$url/ingest/mist" "${files[@]}" >"$log/send" 2>&1 ||
        fail "signed webhooks were refused: $(cat "$log/send")"
    [ "$(grep -c -- '-> 200 ' "$log/send")" = "${#files[@]}" ] ||
        fail "not every signed webhook was stored: $(cat "$log/send")"
    if "$bin" send --secret wrong-secret --to "$url/ingest/mist" "${files[0]}" >"$log/send-wrong" 2>&1 ||
        ! grep -q -- '-> 401 ' "$log/send-wrong"; then
        fail "a wrong signature was not refused with 401: $(cat "$log/send-wrong")"
    fi
    curl -sf -H "Authorization: Token $token" "$url/api/v1/events?source=mist&limit=1" >"$log/events" ||
        fail "the API did not answer"
    grep -q '"topic"' "$log/events" || fail "no stored event in the API's answer: $(cat "$log/events")"
    curl -sf "$url/readyz" >/dev/null || fail "the service is not ready"
    stop_service plain
    local other
    other=$(find /var/lib/mistgate -mindepth 1 \( -not -user mistgate -o -perm /077 \) -print)
    [ -z "$other" ] || fail "files in /var/lib/mistgate not the service's alone: $other"
    ok "the service's command as mistgate: ${#files[@]} signed webhooks stored, a wrong signature 401, the API answers, SIGTERM exits 0, its files 0600"

    # HTTPS as the packaged config's notes show it, with the certificate where and how
    # README "Install as a service" puts it; `systemctl reload` (SIGHUP) after a renewal.
    local tls=/etc/mistgate/tls
    install -d -o root -g mistgate -m 0750 "$tls"
    new_certificate() {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=$1" -addext "subjectAltName=IP:127.0.0.1" \
            -keyout "$tls/privkey.pem" -out "$tls/fullchain.pem" 2>"$log/openssl" ||
            fail "openssl: $(cat "$log/openssl")"
        chgrp mistgate "$tls/privkey.pem" "$tls/fullchain.pem"
        chmod 0640 "$tls/privkey.pem" "$tls/fullchain.pem"
        cp "$tls/fullchain.pem" "$log/$1.pem"
    }
    new_certificate first
    sed -i -E 's/^# (\[server\]|tls_cert = |tls_key = )/\1/' /etc/mistgate/mistgate.toml
    [ "$(grep -cE '^(\[server\]|tls_cert = "/etc/mistgate/tls/fullchain.pem"|tls_key = "/etc/mistgate/tls/privkey.pem")$' \
        /etc/mistgate/mistgate.toml)" = 3 ] || fail "the packaged config's TLS lines are not the ones README gives"
    start_service tls
    [[ $url == https://* ]] || fail "with the TLS lines the service listens on $url"
    curl -sf --cacert "$log/first.pem" "$url/readyz" >/dev/null || fail "HTTPS with the first certificate"
    new_certificate second
    kill -HUP "$service"
    local served=""
    for _ in $(seq 30); do
        curl -sf --cacert "$log/second.pem" "$url/readyz" >/dev/null && served=yes && break
        sleep 0.1
    done
    [ -n "$served" ] || fail "after SIGHUP the renewed certificate is not served"
    kill -0 "$service" 2>/dev/null || fail "SIGHUP ended the service"
    stop_service tls
    ok "HTTPS with the config's TLS lines and a certificate in $tls (root:mistgate 0640); SIGHUP: the renewed one served, the service still running"

    if [ ${#traces[@]} -gt 0 ]; then
        check_trace "$log" "${traces[@]}"
    else
        skipped "the system call trace (strace is not installed)"
    fi

    # An upgrade keeps the secret; removing stops nothing here (no systemd), purge removes
    # the configuration and the secrets but keeps the data and the user.
    : >"$log/systemd-calls"
    "$ctl/postinst" configure 0.0.9-1 2>"$log/upgrade.err" ||
        fail "postinst configure (an upgrade) failed: $(cat "$log/upgrade.err")"
    [ ! -s "$log/upgrade.err" ] || fail "postinst configure (an upgrade) complained: $(cat "$log/upgrade.err")"
    [ "$(sed -n 's/^MIST_SECRET=//p' "$env_file")" = "$secret" ] || fail "an upgrade changed the secret"
    expect_stat /etc/mistgate/mistgate.toml '640 root:mistgate'
    "$ctl/prerm" remove || fail "prerm remove failed"
    "$ctl/postrm" remove || fail "postrm remove failed"
    [ -e "$env_file" ] || fail "postrm remove deleted the secrets (only purge may)"
    rm /etc/mistgate/mistgate.toml # dpkg's part of a purge: the conffile
    rm -r "$tls"                   # the administrator's
    "$ctl/postrm" purge 2>"$log/purge.err" || fail "postrm purge failed"
    [ ! -e /etc/mistgate ] || fail "purge left /etc/mistgate: $(ls -la /etc/mistgate)"
    [ -n "$(ls -A /var/lib/mistgate 2>/dev/null)" ] || fail "purge removed the event store"
    getent passwd mistgate >/dev/null || fail "purge removed the mistgate user (it owns the kept data)"
    if [ -x /usr/bin/deb-systemd-helper ]; then # postrm calls it only when it is there
        grep -qx 'deb-systemd-helper purge mistgate.service' "$log/systemd-calls" ||
            fail "postrm purge did not purge the unit's state: $(cat "$log/systemd-calls")"
    fi
    ok "maintainer scripts: an upgrade keeps the secret and fixes modes; purge removes /etc/mistgate, keeps /var/lib/mistgate and the user"
}

# The processes under PID (itself included) that run the packaged binary: the service,
# under the shell, strace and setpriv that started it.
service_pids() {
    local p
    for p in $1 $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        if [ "$p" != "$1" ]; then
            service_pids "$p"
        elif [ "$(readlink /proc/"$p"/exe 2>/dev/null)" = "$work_root/usr/bin/mistgate" ]; then
            echo "$p"
        fi
    done
}

# The traces of the service (LOG TRACE...) against the unit's sandbox.
check_trace() {
    local log=$1 unit=$work_root/usr/lib/systemd/system/mistgate.service trace from
    shift
    : >"$log/trace"
    for trace in "$@"; do
        # From the service's own exec on (setpriv before it sets the user up).
        from=$(grep -n 'execve(".*/usr/bin/mistgate"' "$trace" | head -1 | cut -d: -f1)
        [ -n "$from" ] || fail "$trace has no exec of mistgate"
        tail -n +"$from" "$trace" | sed -E 's/^[0-9]+ +//' >>"$log/trace"
    done

    if ! command -v systemd-analyze >/dev/null; then
        skipped "system calls against SystemCallFilter (systemd-analyze is not installed)"
    else
        expand_groups() {
            local item
            for item in "$@"; do
                case $item in
                    @*)
                        systemd-analyze syscall-filter "$item" | tail -n +2 | sed 's/#.*//' |
                            tr -s ' \t' '\n' | grep -v '^$' | while read -r x; do expand_groups "$x"; done
                        ;;
                    *) echo "$item" ;;
                esac
            done
        }
        local allow=() deny=() value
        while IFS= read -r value; do
            if [[ $value == ~* ]]; then
                read -ra items <<<"${value#\~}"
                deny+=("${items[@]}")
            else
                read -ra items <<<"$value"
                allow+=("${items[@]}")
            fi
        done < <(sed -n 's/^SystemCallFilter=//p' "$unit")
        expand_groups "${allow[@]}" | sort -u >"$log/allowed"
        expand_groups "${deny[@]}" | sort -u >"$log/denied"
        comm -23 "$log/allowed" "$log/denied" >"$log/permitted"
        grep -oE '^[a-z0-9_]+\(' "$log/trace" | tr -d '(' | sort -u >"$log/used"
        local outside
        outside=$(comm -23 "$log/used" "$log/permitted" | tr '\n' ' ')
        [ -z "$outside" ] || fail "the service made system calls the unit's SystemCallFilter refuses: $outside"
        ok "system calls: the service's $(wc -l <"$log/used") distinct calls are all within SystemCallFilter (${allow[*]} ~${deny[*]})"
    fi

    local families
    families=$(grep -oE '^socket\(AF_[A-Z0-9]+' "$log/trace" | cut -d'(' -f2 | sort -u | xargs)
    local allowed_families family
    allowed_families=$(sed -n 's/^RestrictAddressFamilies=//p' "$unit")
    for family in $families; do
        [[ " $allowed_families " == *" $family "* ]] ||
            fail "the service opened an $family socket; RestrictAddressFamilies=$allowed_families"
    done
    if grep -E '^(mmap|mprotect|pkey_mprotect)\(.*PROT_(WRITE\|PROT_EXEC|EXEC\|PROT_WRITE)' "$log/trace" >"$log/wx" ||
        grep -E '^(mprotect|pkey_mprotect)\(.*PROT_EXEC' "$log/trace" >>"$log/wx"; then
        fail "the service maps memory writable and executable, or makes it executable (MemoryDenyWriteExecute): $(head -3 "$log/wx")"
    fi
    ok "socket families ${families:-none}, within RestrictAddressFamilies; no writable-executable memory"
}

if [ "${1:-}" = --in-namespace ]; then
    work_root=$2/root
    in_namespace "$2"
    exit 0
fi

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/mistgate-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

deb=$(scripts/package.sh --fast --output "$work/out" | tail -n 1)
[ -f "$deb" ] || fail "scripts/package.sh made no package"
ok "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"

# 1. Control.
field() { dpkg-deb --field "$deb" "$1"; }
version=$(cargo metadata --locked --no-deps --format-version 1 |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "mistgate"))')
[ "$(field Package)" = mistgate ] || fail "Package is $(field Package)"
[ "$(field Version)" = "$version-1" ] || fail "Version is $(field Version), expected $version-1"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is $(field Architecture)"
maintainer_re='^[^<]+ <[^>]+@[^>]+>$'
[[ $(field Maintainer) =~ $maintainer_re ]] || fail "Maintainer is '$(field Maintainer)'"
[ "$(field Section)" = net ] || fail "Section is $(field Section)"
depends=$(field Depends)
for dep in libc6 adduser procps; do
    [[ ", $depends," == *", $dep"[\ ,]* ]] || fail "Depends ($depends) lacks $dep"
done
[ -n "$(field Description)" ] || fail "no Description"

ctl=$work/control
dpkg-deb --control "$deb" "$ctl"
members=$(cd "$ctl" && printf '%s ' *)
[ "$members" = "conffiles control postinst postrm prerm " ] || fail "control members: $members"
[ "$(cat "$ctl/conffiles")" = /etc/mistgate/mistgate.toml ] || fail "conffiles: $(cat "$ctl/conffiles")"
for script in postinst postrm prerm; do
    [ -x "$ctl/$script" ] || fail "$script is not executable"
    [ "$(head -1 "$ctl/$script")" = '#!/bin/sh' ] || fail "$script does not start with #!/bin/sh"
    sh -n "$ctl/$script" || fail "$script: sh -n"
    ! grep -q '#DEBHELPER#' "$ctl/$script" || fail "$script still has the debhelper token"
done
if command -v shellcheck >/dev/null; then
    shellcheck -s sh "$ctl/postinst" "$ctl/postrm" "$ctl/prerm" || fail "shellcheck"
    shellcheck_note=", shellcheck"
else
    shellcheck_note=" (shellcheck not installed)"
fi
line_of() { grep -n -m1 -- "$2" "$ctl/$1" | cut -d: -f1; }
[ -n "$(line_of postinst 'adduser --system --group')" ] || fail "postinst creates no system user"
[ "$(line_of postinst 'adduser --system')" -lt "$(line_of postinst 'deb-systemd-helper enable mistgate.service')" ] ||
    fail "postinst enables the unit before it creates the user"
# shellcheck disable=SC2016 # the snippet's own variable
[ "$(line_of postinst 'mistgate.env <<')" -lt "$(line_of postinst 'deb-systemd-invoke \$_dh_action mistgate.service')" ] ||
    fail "postinst starts the unit before it writes mistgate.env"
grep -q 'deb-systemd-invoke stop mistgate.service' "$ctl/prerm" || fail "prerm does not stop the unit"
grep -q 'deb-systemd-helper purge mistgate.service' "$ctl/postrm" || fail "postrm does not purge the unit"
! grep -v '^[[:space:]]*#' "$ctl/postrm" | grep -q 'rm .*/var/lib/mistgate' ||
    fail "postrm removes the event store"
ok "control: mistgate $version-1 $(field Architecture), Depends: $depends; conffiles; postinst, postrm, prerm sh -n$shellcheck_note"

# 2. Contents.
contents=$(dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ {print $1, $2, $6}' | sort -k3)
expected=$(sort -k3 <<<"$EXPECTED_CONTENTS")
[ "$contents" = "$expected" ] || fail "contents differ:
$(diff <(echo "$expected") <(echo "$contents") || true)"
dirs_not_root=$(dpkg-deb --contents "$deb" | awk '$1 ~ /^d/ && $2 != "0/0"')
[ -z "$dirs_not_root" ] || fail "directories not owned by root: $dirs_not_root"
ok "contents: exactly $(wc -l <<<"$contents") files, modes and owners as expected"

root=$work/root
dpkg-deb --extract "$deb" "$root"
bin=$root/usr/bin/mistgate
config=$root/etc/mistgate/mistgate.toml
unit=$root/usr/lib/systemd/system/mistgate.service

# 3. The configuration, checked by the packaged binary in a clean environment.
clean_env=(env -i "PATH=$PATH" "HOME=$work")
if "${clean_env[@]}" "$bin" check-config "$config" >"$work/check" 2>&1; then
    fail "the packaged config passed check-config without the secret it names"
fi
grep -q 'MIST_SECRET is not set' "$work/check" || fail "check-config without the secret: $(cat "$work/check")"
"${clean_env[@]}" MIST_SECRET=example-mist-secret "$bin" check-config "$config" >"$work/check" 2>&1 ||
    fail "the packaged config fails check-config: $(cat "$work/check")"
for want in 'listen 127.0.0.1:8080' 'data dir /var/lib/mistgate' 'sources: mist (1 secret)'; do
    grep -qF "$want" "$work/check" || fail "check-config of the packaged config lacks '$want': $(cat "$work/check")"
done
# Every example setting (`#key = value`, `#[table]`; notes are `# text`) uncommented.
sed -E 's/^#([^ #!])/\1/' "$config" >"$work/uncommented.toml"
settings=$(diff "$config" "$work/uncommented.toml" | grep -c '^>' || true)
[ "$settings" -ge 40 ] || fail "only $settings example settings in the packaged config"
"${clean_env[@]}" "${EXAMPLE_ENV[@]}" "$bin" check-config "$work/uncommented.toml" >"$work/check-all" 2>&1 ||
    fail "the packaged config's example settings, uncommented, fail check-config: $(cat "$work/check-all")"
ok "config: check-config passes with MIST_SECRET set (refused without it), and with all $settings example lines uncommented"

# 4. The unit.
for line in "${UNIT_LINES[@]}"; do
    grep -qxF -- "$line" "$unit" || fail "the unit lacks '$line'"
done
! grep -qE '^(User|Group)=root' "$unit" || fail "the unit runs as root"
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$work/unit"
    # The binary where it was extracted; everything else as packaged.
    sed "s#^ExecStart=/usr/bin/mistgate #ExecStart=$bin #" "$unit" >"$work/unit/mistgate.service"
    if [ ! -x /bin/kill ]; then
        skipped "systemd-analyze verify: /bin/kill (procps, a dependency of the package) is not installed"
    else
        verify=$(systemd-analyze verify "$work/unit/mistgate.service" 2>&1) ||
            fail "systemd-analyze verify: $verify"
        [ -z "$verify" ] || fail "systemd-analyze verify warns: $verify"
        ok "unit: ${#UNIT_LINES[@]} settings present; systemd-analyze verify without a warning"
    fi
    exposure=$(systemd-analyze security --offline=true "$work/unit/mistgate.service" 2>/dev/null |
        sed -n 's/.*Overall exposure level for mistgate.service: \([0-9.]*\).*/\1/p')
    [ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
    awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' ||
        fail "systemd-analyze security: exposure $exposure, above 2.0 (what weakened the sandbox?)"
    ok "unit: systemd-analyze security exposure $exposure (at most 2.0)"
else
    ok "unit: ${#UNIT_LINES[@]} settings present"
    skipped "systemd-analyze verify and security (systemd is not installed)"
fi

# 5. The maintainer scripts and the service, isolated.
if [ "$(id -u)" != 0 ]; then
    skipped "running the maintainer scripts and the service as mistgate (needs root)"
elif ! unshare --mount true 2>/dev/null; then
    skipped "running the maintainer scripts and the service as mistgate (no mount namespaces here)"
elif [[ $work == /etc/* || $work == /var/* ]]; then
    skipped "running the maintainer scripts and the service as mistgate (the temporary directory $work is under /etc or /var, which the step overlays)"
elif ! command -v setpriv >/dev/null; then
    skipped "running the maintainer scripts and the service as mistgate (setpriv is not installed)"
else
    for tool in curl openssl; do
        command -v "$tool" >/dev/null || fail "$tool is missing (scripts/test.sh installs it)"
    done
    mkdir -p "$work/overlay"
    unshare --mount --propagation private "$0" --in-namespace "$work"
fi

echo "test_package: passed in $((SECONDS - started)) s"
