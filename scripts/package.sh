#!/usr/bin/env bash
# Builds the Debian package (binary, example configuration, hardened systemd unit; see
# packaging/ and README "Install as a service") with cargo-deb, installing the pinned
# cargo-deb first when it is missing. Prints the .deb's path as the last line of stdout.
#
#   scripts/package.sh                 release build -> target/debian/mistgate_<version>-1_<arch>.deb
#   scripts/package.sh --output DIR    write the .deb into DIR
#   scripts/package.sh --fast          package the debug binary (`cargo build`, no release
#                                      build), stripped, lightly compressed: for the test
#                                      suite (scripts/test_package.sh), not for installing
set -euo pipefail
cd "$(dirname "$0")/.."

# The cargo-deb the packaging is written and tested against (the unit's install path,
# the maintainer-script snippets). Builds with Rust 1.85 and later.
CARGO_DEB_VERSION=3.8.0

fast=0
output=target/debian
while [ $# -gt 0 ]; do
    case "$1" in
        --fast) fast=1 ;;
        --output)
            [ $# -ge 2 ] || { echo "error: --output needs a directory" >&2; exit 2; }
            output=$2
            shift
            ;;
        -h | --help)
            sed -n '2,10s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        *)
            echo "error: unknown option $1 (see $0 --help)" >&2
            exit 2
            ;;
    esac
    shift
done

installed=$(cargo deb --version 2>/dev/null || true)
if [ "$installed" != "cargo-deb $CARGO_DEB_VERSION" ]; then
    echo "installing cargo-deb $CARGO_DEB_VERSION from crates.io (found: ${installed:-none})" >&2
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet >&2
fi
for tool in dpkg-deb strip; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool is missing (apt-get install dpkg binutils)" >&2
        exit 1
    fi
done

mkdir -p "$output"
if [ "$fast" = 1 ]; then
    # The debug binary the tests already built (a no-op build then); cargo-deb warns that
    # dev profiles are for testing only, which is what this is.
    cargo build --locked --bin mistgate >&2
    args=(--no-build --profile dev --strip --fast --quiet)
else
    args=()
fi
deb=$(cargo deb --locked "${args[@]}" --output "$output" | tail -n 1)
if [ ! -f "$deb" ]; then
    echo "error: cargo deb did not report the package it built (got: ${deb:-nothing})" >&2
    exit 1
fi
echo "$deb"
