#!/usr/bin/env bash
# Fuzzes the parsers users feed text to (--bbox strings, ground-truth files, model sidecars) with cargo-fuzz for
# SECONDS each (default 60), starting from fuzz/seeds. Inputs that break an invariant (see src/fuzzing.rs) are
# copied to tests/fuzz_regressions/<target>/, which `cargo test` replays. Needs `cargo install cargo-fuzz`; runs on
# the stable toolchain without sanitizers (RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags).
set -euo pipefail
cd "$(dirname "$0")/../../fuzz"
seconds=${1:-60}
status=0
for target in box_text ground_truth sidecar; do
    mkdir -p "corpus/$target"
    cp -n seeds/"$target"/* "corpus/$target/"
    if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -O --sanitizer none "$target" "corpus/$target" -- \
            -max_total_time="$seconds" -max_len=4096; then
        status=1
    fi
    if compgen -G "artifacts/$target/*" >/dev/null; then
        mkdir -p "../tests/fuzz_regressions/$target"
        cp artifacts/"$target"/* "../tests/fuzz_regressions/$target/"
        echo "$target: new failing inputs copied to tests/fuzz_regressions/$target" >&2
    fi
done
exit $status
