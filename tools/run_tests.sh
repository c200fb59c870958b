#!/usr/bin/env bash
# Runs every test with Bazel and ends with one summary line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bazel test --test_env=D2X_FIXTURES_DIR --test_env=CI "$@" //... 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|FLAKY|NO STATUS|FAILED TO BUILD)' "$log")
if [[ $rc -ne 0 && $failed -eq 0 ]]; then failed=1; fi  # a build error before any test ran
echo "tests: ${passed} passed, ${failed} failed"
exit "$rc"
