#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 600), one after another,
# and prints, per target, the executions, the corpus size and the crashes.
#
#   scripts/fuzz.sh [SECONDS]
#
# It builds once (nightly, no sanitizer: the code is safe Rust, and debug assertions on, so
# an integer overflow is a crash too), seeds each corpus (fuzz/corpus/<target>) from the
# Mist samples in ../shared/mist/samples, the scenarios, the README's TOML and
# fuzz/seeds/, then runs each target with -max_total_time=SECONDS. Corpora persist between
# runs, so each run goes on where the last stopped; they and crash inputs
# (fuzz/artifacts/<target>/) are git-ignored. Logs go to fuzz/artifacts/logs/<target>.log.
# The runs use the binaries of that one build, so edits made meanwhile (by anyone) change
# nothing until the next run. Exits 1 if any target crashed; replay a crash with the
# command printed for it.
#
# Needs: the nightly toolchain, cargo-fuzz (`cargo install cargo-fuzz --locked`) and jq.
# Knobs: FUZZ_TARGETS="split config" runs only those targets; FUZZ_REV=HEAD (any git
# revision) builds the targets from that commit instead of the working tree, so that
# edits in progress are neither fuzzed nor able to break the build; MIST_SAMPLES=dir.
# What each target asserts, and the recorded results: RELIABILITY.md, "Fuzzing".
set -euo pipefail

seconds=${1:-600}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
    echo "usage: $0 [SECONDS]   (seconds per target, default 600)" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/fuzz"
samples=${MIST_SAMPLES:-$root/../shared/mist/samples}
all_targets=(split normalize fingerprint signature config webhook route scenario)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"
build_flags=(--sanitizer none --debug-assertions)

for tool in jq; do
    command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool is needed" >&2; exit 2; }
done
cargo +nightly fuzz --version >/dev/null 2>&1 || {
    echo "fuzz.sh: cargo-fuzz on the nightly toolchain is needed:" >&2
    echo "  rustup toolchain install nightly && cargo install cargo-fuzz --locked" >&2
    exit 2
}
[[ -d $samples ]] || { echo "fuzz.sh: no Mist samples at $samples" >&2; exit 2; }

src=$root
if [[ -n ${FUZZ_REV:-} ]]; then
    src="$fuzz/target/snapshot"
    rm -rf "$src"
    mkdir -p "$src"
    git -C "$root" archive "$FUZZ_REV" | tar -x -C "$src"
    echo "== fuzzing commit $(git -C "$root" rev-parse --short "$FUZZ_REV") (snapshot in $src)"
fi
cd "$fuzz"
echo "== building the fuzz targets (cargo +nightly fuzz build ${build_flags[*]})"
cargo +nightly fuzz build --fuzz-dir "$src/fuzz" --target-dir "$fuzz/target" "${build_flags[@]}"
bin_dir="$fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

# --- seeds -----------------------------------------------------------------------------

# Sample files are named <topic>__<what>_<source>.json; some are envelopes, some bare
# events. Writes each as found and as an envelope.
seed_bodies() {
    local dir=$1 file topic
    for file in "$samples"/*__*.json; do
        topic=$(basename "$file" | sed 's/__.*//')
        cp "$file" "$dir/sample-$(basename "$file")"
        jq -c --arg t "$topic" \
            'if type == "object" and has("topic") and has("events") then .
             else {topic: $t, events: (if type == "array" then . else [.] end)} end' \
            "$file" >"$dir/envelope-$(basename "$file")"
    done
}

# The README's ```toml blocks, with ${VAR} renamed ${SET_VAR} (set in the config target).
seed_readme_toml() {
    local dir=$1 filter=$2
    awk -v dir="$dir" -v filter="$filter" '
        /^```toml/ { n++; body = ""; inside = 1; next }
        /^```/ && inside { inside = 0
            if (body ~ filter) { f = dir "/readme-" n ".toml"; printf "%s", body > f; close(f) }
            next }
        inside { body = body $0 "\n" }' "$root/README.md"
    sed -i 's/\${\([A-Za-z0-9_]*\)}/${SET_\1}/g' "$dir"/readme-*.toml 2>/dev/null || true
}

seed() {
    local target=$1 dir="$fuzz/corpus/$1" file
    mkdir -p "$dir"
    case $target in
    split | normalize) seed_bodies "$dir" ;;
    fingerprint)
        # Two bytes pick the topics, the rest is the event text.
        for file in "$samples"/*__*.json; do
            { printf '\000\001'; cat "$file"; } >"$dir/sample-$(basename "$file")"
        done
        ;;
    signature)
        # Secret length 6, position 3, header length 0, the secret, then the body.
        for file in "$samples"/*__*.json; do
            { printf '\006\003\000secret'; cat "$file"; } >"$dir/sample-$(basename "$file")"
        done
        ;;
    config)
        cp "$fuzz"/seeds/config/*.toml "$dir/"
        seed_readme_toml "$dir" '.'
        ;;
    route)
        cp "$fuzz"/seeds/route/*.toml "$dir/"
        seed_readme_toml "$dir" 'routes|targets'
        ;;
    webhook) cp "$fuzz"/seeds/webhook/*.json "$dir/" ;;
    scenario) cp "$root"/scenarios/*.toml "$fuzz"/seeds/scenario/*.toml "$dir/" ;;
    *)
        echo "fuzz.sh: unknown target $target" >&2
        exit 2
        ;;
    esac
}

dict_of() {
    case $1 in
    split | normalize | fingerprint) echo "$fuzz/dicts/json.dict" ;;
    webhook) echo "$fuzz/dicts/webhook.dict" ;;
    config | route | scenario) echo "$fuzz/dicts/toml.dict" ;;
    *) echo "" ;;
    esac
}

# --- runs ------------------------------------------------------------------------------

logs="$fuzz/artifacts/logs"
mkdir -p "$logs"
summary=()
crashed=0
for target in "${targets[@]}"; do
    seed "$target"
    mkdir -p "$fuzz/artifacts/$target"
    before=$(find "$fuzz/artifacts/$target" -maxdepth 1 -type f | wc -l)
    dict=$(dict_of "$target")
    args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048)
    [[ -n $dict ]] && args+=(-dict="$dict")
    log="$logs/$target.log"
    echo "== $target: ${seconds}s (log: $log)"
    status=0
    "$bin_dir/$target" -artifact_prefix="$fuzz/artifacts/$target/" "${args[@]}" \
        "$fuzz/corpus/$target" >"$log" 2>&1 || status=$?

    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [[ -z $executions ]]; then
        # A crash skips the final stats; the last status line still counts the runs.
        executions=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    fi
    # libFuzzer's own count (the corpus it works with); the directory also keeps inputs
    # that later ones replaced.
    corpus=$(grep -oE 'corp: [0-9]+' "$log" | tail -n 1 | tr -dc '0-9')
    files=$(find "$fuzz/corpus/$target" -maxdepth 1 -type f | wc -l)
    after=$(find "$fuzz/artifacts/$target" -maxdepth 1 -type f | wc -l)
    crashes=$((after - before))
    if ((status != 0 && crashes == 0)); then
        crashes=1 # failed without writing an input (e.g. the build); see the log
    fi
    line=$(printf '%-12s executions %12s   corpus %6s (%s files)   crashes %s' \
        "$target" "${executions:-?}" "${corpus:-?}" "$files" "$crashes")
    summary+=("$line")
    echo "$line"
    if ((crashes > 0)); then
        crashed=1
        grep -m 1 -E 'panicked at|ERROR: libFuzzer' "$log" || true
        newest=$(ls -t "$fuzz/artifacts/$target" 2>/dev/null | grep -v '^logs$' | head -n 1 || true)
        if [[ -n $newest ]]; then
            echo "   replay: cd fuzz && cargo +nightly fuzz run ${build_flags[*]} $target artifacts/$target/$newest"
        fi
    fi
done

echo
echo "== summary ($(date -u +%Y-%m-%d), ${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$crashed"
