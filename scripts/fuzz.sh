#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/Targets.swift with the Core sources (AddressSanitizer on) and
# runs each for a while: scripts/fuzz.sh [SECONDS per target, default 20] [TARGET ...].
# Findings are written to .build/fuzz/findings; the seed corpus is Fuzz/corpus/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(csv ndjson json-array diagnoses query)
out=.build/fuzz
mkdir -p "$out/findings"
sources=$(find Sources/VibrationCore -name '*.swift' | sort)
if [ ! -x "$out/himmes-fuzz" ] || [ -n "$(find Fuzz/Targets.swift $sources -newer "$out/himmes-fuzz" | head -1)" ]; then
    echo "building the fuzz targets"
    # shellcheck disable=SC2086
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name HimmesFuzz $sources Fuzz/Targets.swift -o "$out/himmes-fuzz" 2>&1 \
        | { grep -v "Cannot export local symbol" || true; }
fi
for target in "${targets[@]}"; do
    corpus="$out/corpus/$target"
    mkdir -p "$corpus"
    [ -d "Fuzz/corpus/$target" ] && cp -n "Fuzz/corpus/$target"/* "$corpus"/ 2>/dev/null || true
    echo "fuzzing $target for $seconds s"
    SWIFT_BACKTRACE=enable=no HIMMES_FUZZ_TARGET=$target "$out/himmes-fuzz" "$corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 \
        -artifact_prefix="$out/findings/$target-" -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|Done|finding:|.*Fatal error)" || true
    if ls "$out/findings/$target-"* >/dev/null 2>&1; then
        echo "fuzzing $target found inputs that fail: $(ls "$out/findings/$target-"*)"
        exit 1
    fi
done
echo "fuzzing: no findings"
