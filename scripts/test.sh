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

cargo test --workspace --locked "$@"
