#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: the one command the README gives.
#
# The suite needs nothing but the Rust toolchain and ../shared (the Mist samples beside
# the repository): the end-to-end tests start the real `mistgate` binary themselves on
# free loopback ports. Services that later suites need (PostgreSQL, nats-server,
# Chromium) are installed and started here on free ports when they join.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/mist/samples ]; then
    echo "error: ../shared/mist/samples is missing: the tests read the Mist samples beside the repository" >&2
    exit 1
fi

# Tests check what mistgate sends with implementations nobody here wrote: Python's `hmac`
# (standard library) for Mist signatures, and the `standardwebhooks` package from PyPI
# for Standard Webhooks signatures.
if ! python3 -c 'import standardwebhooks' 2>/dev/null; then
    echo "installing the standardwebhooks Python package (tests verify signatures with it)" >&2
    python3 -m pip install --quiet standardwebhooks 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages standardwebhooks
fi
# tests/mistapi.rs drives Juniper's own Python SDK for Mist's API against mistgate, at the
# version it was written against.
if ! python3 -c 'import mistapi' 2>/dev/null; then
    echo "installing the mistapi Python package (Mist's SDK, tests/mistapi.rs)" >&2
    python3 -m pip install --quiet mistapi==0.64.1 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages mistapi==0.64.1
fi

# The nats target's tests start their own nats-server (with JetStream) on a free port;
# TLS tests make their certificates with the openssl command; the console's browser tests
# (tests/console_browser.rs) drive Debian's Chromium through its chromedriver; the
# package test traces the service with strace (its system calls against the unit's filter)
# and talks to it with curl.
missing=()
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
    missing+=(nats-server)
fi
command -v openssl >/dev/null || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v strace >/dev/null || missing+=(strace)
command -v curl >/dev/null || missing+=(curl)
# The PostgreSQL backend's tests make their own clusters (initdb + postgres on a free
# port, crates/pgtest) from the server packages' binaries.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (the tests need them)" >&2
    apt-get update && apt-get install -y "${missing[@]}"
fi

# Formatting, clippy (warnings are errors) and the purity of the cores.
scripts/lint.sh

cargo test --workspace --locked "$@"

# The Debian package from the debug binary just built (no release build): its control
# data, contents and maintainer scripts, the packaged config, the systemd unit, and the
# service run as the packaged user (the script installs cargo-deb when it is missing).
scripts/test_package.sh

# The API against its own OpenAPI document: schemathesis with every check, on the debug
# binary just built (the script installs schemathesis when it is missing).
scripts/schemathesis.sh
