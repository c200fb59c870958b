#!/bin/bash
# The lower_artifact development tool on artifacts of the bundled model: a tracing artifact lowers
# completely (checker + strict shape inference) and the ONNX file is written; a scripting
# artifact (forward(List[Tensor])) is refused with a message naming the contract.
# Usage: lower_artifact_test.sh <d2x> <lower_artifact>
set -uo pipefail
absolute() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
d2x="$(absolute "$1")"
lower="$(absolute "$2")"
source "$(dirname "$0")/../export/cli_test_lib.sh"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/lower_artifact"
rm -rf "${tmp}"
mkdir -p "${tmp}"
cd "${tmp}"

expect 0 "every export verified" "${d2x}" export --output ts --format torchscript --method all \
  --threads 2
expect 0 "lowered and checked: " "${lower}" ts/torchscript_tracing/model.ts lowered.onnx 16
[[ -s lowered.onnx ]] || fail "lowered.onnx not written"
expect 1 "is not the traced detector contract" "${lower}" ts/torchscript_scripting/model.ts
expect 1 "loading" "${lower}" does_not_exist.ts
finish
