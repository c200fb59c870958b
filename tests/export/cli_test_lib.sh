#!/bin/bash
# Sourced by the CLI tests: `expect` runs a command and checks its exit code and output, `fail`
# counts a failed check, `finish` exits 1 when any failed. Paths under ${model} print as MODEL.
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect <exit code> <text that must appear in stdout+stderr | -> <command...>
expect() {
  local code="$1" text="$2"
  shift 2
  "$@" > out.txt 2>&1
  local got=$?
  local cmd
  cmd="$(basename "$1") ${*:2}"
  [[ -n "${model:-}" ]] && cmd="${cmd//${model}/MODEL}"
  if [[ "${got}" != "${code}" ]]; then
    fail "'${cmd}' exited ${got}, expected ${code}"; tail -20 out.txt
  elif [[ "${text}" != "-" ]] && ! grep -qF -- "${text}" out.txt; then
    fail "'${cmd}' output lacks '${text}'"; tail -20 out.txt
  else
    echo "ok (exit ${got}): ${cmd}"
  fi
}
finish() {
  if [[ "${failures}" != 0 ]]; then
    echo "${failures} check(s) failed"
    exit 1
  fi
  echo "all CLI checks passed"
}
