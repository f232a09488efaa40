#!/usr/bin/env bash
# The checks a change must pass besides the tests (scripts/test.sh runs this first):
# formatting, clippy with warnings as errors, and the crate-level purity of the cores
# (mist and correlate never depend on an async runtime, an HTTP client or SQLite; the
# module-level half is crates/deliver/tests/pure_cores.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

# rustfmt and clippy come with the toolchain's default profile; add them where a minimal
# profile left them out.
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        echo "installing the $component component (scripts/lint.sh needs it)" >&2
        rustup component add "$component"
    fi
done

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

failed=0
for crate in mistgate-mist mistgate-correlate; do
    io=$(cargo tree --locked -p "$crate" -e normal --prefix none --format '{p}' |
        awk '{print $1}' | grep -E '^(tokio|reqwest|rusqlite|hyper|mio)$' | sort -u || true)
    if [ -n "$io" ]; then
        echo "error: $crate is a pure core but depends on: $io" >&2
        failed=1
    fi
done
exit $failed
