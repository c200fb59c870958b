#!/bin/bash
# The d2x CLI with the ONNX plugin (loaded by default; naming the same file again with --plugin,
# as this test does, is a no-op), end to end on the fixture Faster R-CNN: export with --opset 16
# (verified in ONNX Runtime), run / verify / doctor / inspect / bench on the artifact, and the
# failure paths (unsupported opset, no ONNX Runtime, corrupted
# model.onnx) with their exit codes and messages.
# Usage: onnx_cli_test.sh <d2x> <libd2x_onnx.so> <ort_run.js>   ($D2X_FIXTURES_DIR is required)
set -uo pipefail
absolute() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
d2x="$(absolute "$1")"
plugin="$(absolute "$2")"
source "$(dirname "$0")/../export/cli_test_lib.sh"
# The checkout's node_modules: ort_run.js is a runfiles link into the source tree.
tree="$(cd "$(dirname "$(readlink -f "$3")")/../../.." && pwd)"
export D2X_ORT_NODE_DIR="${tree}/node_modules/onnxruntime-node"
if [[ ! -d "${D2X_ORT_NODE_DIR}" ]]; then
  echo "FAIL: ${D2X_ORT_NODE_DIR} is missing (tools/setup.sh installs it)"
  exit 1
fi
model="${D2X_FIXTURES_DIR:-}/faster_rcnn"
if [[ -z "${D2X_FIXTURES_DIR:-}" || ! -f "${model}/config.yaml" ]]; then
  echo "FAIL: \$D2X_FIXTURES_DIR (='${D2X_FIXTURES_DIR:-}') has no faster_rcnn/config.yaml"
  exit 1
fi
tmp="${TEST_TMPDIR:-$(mktemp -d)}/onnx_cli"
rm -rf "${tmp}"
mkdir -p "${tmp}"
cd "${tmp}"
with_onnx=(--plugin "${plugin}")
fixture=(--config "${model}/config.yaml" --weights "${model}/model_final.pth"
  --sample_image "${model}/input_256x320.png" --second_image "${model}/input_200x296.png")
img1="${model}/input_256x320.png"
img2="${model}/input_200x296.png"

expect 0 "onnx" "${d2x}" plugins "${with_onnx[@]}"
# Export at opset 16, verified at the sample size, the other size and as a batch of 2.
expect 0 "every export verified" "${d2x}" export "${with_onnx[@]}" "${fixture[@]}" --format onnx \
  --opset 16 --output out --threads 2
for f in model.onnx ort_run.js manifest.json report.json config.yaml; do
  [[ -f "out/${f}" ]] || fail "missing out/${f}"
done
grep -q '"opset": "16"' out/manifest.json || fail "manifest.json does not record opset 16"
grep -q '^  "ok": true' out/report.json || fail "report.json does not say ok"
# The 200x296 image has a box clipped to 0.0055 px at the border: it agrees only at float
# resolution, which the summary and report.json say (docs/EXPORT.md "Verification").
grep -qE "^onnx: [0-9]+ detection pair\\(s\\) agree only at float resolution" out.txt ||
  fail "export summary does not report the float-resolution pair"
grep -q '"num_agreeing_at_float_resolution": 1' out/report.json ||
  fail "report.json does not count the float-resolution pair"

# The artifact as a user runs it.
expect 0 "wrote 200 detections for 2 image(s)" "${d2x}" run "${with_onnx[@]}" --artifact out \
  --input "${img1}" --input "${img2}" --output art/results.json
[[ -s art/results.json ]] || fail "art/results.json missing"
expect 0 "verified: the artifact agrees" "${d2x}" verify "${with_onnx[@]}" --artifact out \
  --output verify.json
expect 0 "runs a blank 64x64 image" "${d2x}" doctor "${with_onnx[@]}" --artifact out
# Without an artifact, doctor checks every format's runtime: node loads onnxruntime-node.
expect 0 "ONNX Runtime 1.30.0 (onnxruntime-node at" "${d2x}" doctor
expect 0 "opset: 16" "${d2x}" inspect "${with_onnx[@]}" --artifact out
expect 0 "RUNTIME_MEDIAN_S" "${d2x}" bench "${with_onnx[@]}" --artifact out --size 200x296 \
  --iters 1
runtime_s="$(awk '$2 == "onnx" { print $9 }' out.txt)"
[[ "${runtime_s}" =~ ^[0-9]+\.[0-9]+$ ]] ||
  fail "bench reports no ONNX Runtime time (RUNTIME_MEDIAN_S '${runtime_s}')"

# Failures: clear messages, non-zero exits, nothing written.
expect 1 "opset 15 is not supported (16..17)" "${d2x}" export "${with_onnx[@]}" "${fixture[@]}" \
  --format onnx --opset 15 --output bad
[[ -e bad ]] && fail "a failed export left bad/"
expect 1 "is not a directory" env D2X_ORT_NODE_DIR=/nonexistent "${d2x}" run "${with_onnx[@]}" \
  --artifact out --input "${img1}" --output x.json
expect 1 "is not a directory" env D2X_ORT_NODE_DIR=/nonexistent "${d2x}" doctor
expect 1 "/nonexistent/node cannot load onnxruntime-node 1.30.0" env D2X_NODE=/nonexistent/node \
  "${d2x}" doctor
cp -r out broken
head -c 100000 out/model.onnx > broken/model.onnx
expect 1 "Protobuf parsing failed" "${d2x}" run "${with_onnx[@]}" --artifact broken \
  --input "${img1}" --output x.json
grep -qE '^\s+at ' out.txt && fail "the ONNX Runtime error still carries node's stack frames"
expect 1 "PROBLEM" "${d2x}" doctor "${with_onnx[@]}" --artifact broken
[[ -e x.json ]] && fail "a failed run wrote x.json"
finish
