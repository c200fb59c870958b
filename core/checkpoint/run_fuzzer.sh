#!/usr/bin/env bash
# Builds the unpickler fuzzer (clang, libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer)
# directly against Debian's absl shared libraries and runs it on the seed corpus.
#
#   core/checkpoint/run_fuzzer.sh [seconds]     (default 60)
#
# Only the torch-free unpickler core is fuzzed (pickle_vm, pickle_globals, pickle_numpy,
# pickle_object, pickle_opcodes, pickle_text): tensor materialization is a separate layer. Work files go to $TEST_TMPDIR (under
# bazel: //core/checkpoint:unpickler_fuzz_test) or /tmp/d2x_unpickler_fuzzer; crashes are saved
# there as crash-* files and make the script fail.
set -euo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
work="${TEST_TMPDIR:-/tmp/d2x_unpickler_fuzzer}"
mkdir -p "${work}/corpus"
cp "${here}"/testdata/fuzz_seeds/* "${work}/corpus/"

absl_libs=()
for lib in /usr/lib/x86_64-linux-gnu/libabsl_*.so; do
  absl_libs+=("${lib}")
done

echo "compiling the fuzzer into ${work} ..."
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I"${root}")
objects=()
pids=()
for src in pickle_globals pickle_numpy pickle_object pickle_opcodes pickle_text pickle_vm \
           unpickler_fuzzer; do
  clang++ "${flags[@]}" -c "${here}/${src}.cc" -o "${work}/${src}.o" &
  pids+=("$!")
  objects+=("${work}/${src}.o")
done
for pid in "${pids[@]}"; do wait "${pid}"; done
clang++ "${flags[@]}" "${objects[@]}" -o "${work}/unpickler_fuzzer" "${absl_libs[@]}"

echo "fuzzing for ${seconds} s ..."
cd "${work}"
ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "${work}/unpickler_fuzzer" -max_total_time="${seconds}" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2560 -print_final_stats=1 "${work}/corpus"
