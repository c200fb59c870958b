#!/bin/bash
# Builds core/config's libFuzzer target (config_fuzzer.cc) with clang outside Bazel's toolchain and
# fuzzes Config::FromYamlString for N seconds, seeded with the fixture configs.
#
#   core/config/run_fuzzer.sh [seconds]          # default 20; run from the workspace root
#   bazel test //core/config:config_fuzz_test --test_env=D2X_FIXTURES_DIR=/path/to/fixtures
#
# Needs clang++ and libclang-rt-14-dev (libFuzzer, ASan, UBSan runtimes), and Debian's yaml-cpp and
# abseil shared libraries. Fixture configs come from $D2X_FIXTURES_DIR (default ../shared/fixtures
# when run by hand); under Bazel the test fails if it is not set, like every fixture test.
# Crashing inputs are kept in the work directory (and in $TEST_UNDECLARED_OUTPUTS_DIR under Bazel).
set -euo pipefail

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [seconds]" >&2
  exit 2
fi

# Sources: the Bazel runfiles tree (the test's working directory) or this script's checkout.
if [[ -f core/config/config.cc ]]; then
  root="$(pwd)"
else
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi

if [[ -n "${D2X_FIXTURES_DIR:-}" ]]; then
  fixtures="$D2X_FIXTURES_DIR"
elif [[ -n "${TEST_SRCDIR:-}" ]]; then
  echo "FAIL: D2X_FIXTURES_DIR is not set (bazel test ... --test_env=D2X_FIXTURES_DIR=...)" >&2
  exit 1
else
  fixtures="$root/../shared/fixtures"
fi
shopt -s nullglob
seeds=("$fixtures"/*/config.yaml)
if [[ ${#seeds[@]} -eq 0 ]]; then
  echo "FAIL: no fixture configs in $fixtures/*/config.yaml" >&2
  exit 1
fi

work="${TEST_TMPDIR:-$(mktemp -d -t d2x-config-fuzz.XXXXXX)}/config_fuzzer"
rm -rf "$work"
mkdir -p "$work/obj" "$work/corpus" "$work/artifacts"
CXX="${CXX:-clang++}"
sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
cxxflags=(-std=c++17 -O1 -gline-tables-only -fno-omit-frame-pointer -I "$root" -w)

sources=(config defaults loader merge python_expr python_parser python_tokens value yaml_reader
         yaml_scalars yaml_writer)
start=$SECONDS
jobs_max="$(nproc 2>/dev/null || echo 2)"
pids=()
for s in "${sources[@]}" config_fuzzer; do
  while (( $(jobs -rp | wc -l) >= jobs_max )); do wait -n || true; done
  "$CXX" "${cxxflags[@]}" "${sanitize[@]}" -fsanitize=fuzzer-no-link \
    -c "$root/core/config/$s.cc" -o "$work/obj/$s.o" &
  pids+=($!)
done
for p in "${pids[@]}"; do
  wait "$p" 2>/dev/null || true
done
for s in "${sources[@]}" config_fuzzer; do
  if [[ ! -s "$work/obj/$s.o" ]]; then
    echo "FAIL: could not compile core/config/$s.cc with $CXX" >&2
    exit 1
  fi
done
"$CXX" "${sanitize[@]}" -fsanitize=fuzzer "$work"/obj/*.o -o "$work/config_fuzzer" \
  -lyaml-cpp -labsl_status -labsl_statusor -labsl_strings -labsl_str_format_internal \
  -labsl_int128 -labsl_raw_logging_internal -labsl_throw_delegate
echo "built $work/config_fuzzer in $((SECONDS - start)) s"

# Seeds: the fixture configs and a few small files with the features the loader supports.
i=0
for f in "${seeds[@]}"; do cp "$f" "$work/corpus/fixture_$((i++)).yaml"; done
cat > "$work/corpus/retinanet_eval.yaml" <<'EOF'
MODEL:
  META_ARCHITECTURE: "RetinaNet"
  ANCHOR_GENERATOR:
    SIZES: !!python/object/apply:eval ["[[x, x * 2**(1.0/3), x * 2**(2.0/3) ] for x in [32, 64, 128, 256, 512 ]]"]
  RETINANET: {IOU_THRESHOLDS: [0.4, 0.5], IOU_LABELS: [0, -1, 1]}
SOLVER:
  STEPS: (60000, 80000)
INPUT:
  MIN_SIZE_TRAIN: (640, 672, 704, 736, 768, 800)
VERSION: 2
EOF
cat > "$work/corpus/features.yaml" <<'EOF'
_BASE_: ["missing.yaml"]
common: &c {NUM_CLASSES: 3}
MODEL:
  ROI_HEADS:
    <<: *c
  RPN: {BBOX_REG_WEIGHTS: !!python/tuple [1.0, 1.0, 1.0, 1.0]}
  MASK_ON: yes
  WEIGHTS: 'a ''quoted'' path'
  PIXEL_STD: [0x1, 017, 1_0, 1:30, .5, 1.0e+3, .inf]
TEST: {DETECTIONS_PER_IMG: 50, AUG_ON: true}
EOF
cat > "$work/dict" <<'EOF'
"_BASE_"
"VERSION"
"MODEL"
"ANCHOR_GENERATOR"
"SIZES"
"!!python/tuple"
"!!python/object/apply:eval"
"!!python/list"
"!!str"
"!!int"
"!!float"
"!!bool"
"!!null"
"<<"
"&a"
"*a"
"---"
"..."
"? "
": "
"- "
"[["
"]]"
"for x in"
"range("
"**"
"//"
"1e400"
"0x"
"'''"
"\\x"
"\\u"
EOF

cd "$work"
status=0
./config_fuzzer -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -dict="$work/dict" -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
  "$work/corpus" || status=$?
if [[ $status -ne 0 ]]; then
  echo "FAIL: config_fuzzer found a problem (exit $status); inputs in $work/artifacts:" >&2
  for a in "$work"/artifacts/*; do
    echo "--- $a (base64):" >&2
    base64 "$a" >&2
    if [[ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ]]; then cp "$a" "$TEST_UNDECLARED_OUTPUTS_DIR/"; fi
  done
  exit 1
fi
echo "PASS: config_fuzzer ran ${seconds} s without findings (total $((SECONDS - start)) s)"
