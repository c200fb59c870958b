#!/bin/bash
# The d2x CLI end to end on the bundled model: export (every format), run / verify / inspect /
# doctor / bench on the artifacts, and the failure paths (existing output, unknown method,
# corrupted artifacts) with their exit codes and messages.
# Usage: cli_test.sh <d2x>
set -uo pipefail
d2x="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
source "$(dirname "$0")/cli_test_lib.sh"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/cli"
rm -rf "${tmp}"
mkdir -p "${tmp}"
cd "${tmp}"
model="$(dirname "$(find -L "${TEST_SRCDIR}" -path '*models/mask_rcnn_small/config.yaml' | head -1)")"
[[ -f "${model}/config.yaml" ]] || { echo "bundled model not in runfiles"; exit 1; }

# The bundled model (the default when there is no --config) to every TorchScript method,
# verified. (`--format all`, the default, also exports whatever other format plugins are
# registered; their own tests cover them.)
expect 0 "every export verified" "${d2x}" export --output out --format torchscript --method all \
  --threads 2
for d in out/torchscript_tracing out/torchscript_scripting; do
  for f in model.ts libd2x_ops.so manifest.json report.json config.yaml; do
    [[ -f "${d}/${f}" ]] || fail "missing ${d}/${f}"
  done
  grep -q '"ok": true' "${d}/report.json" || fail "${d}/report.json does not say ok"
done
ls -a out | grep -q staging && fail "staging directory left behind"
# An existing output is not replaced without --overwrite.
expect 1 "already exists" "${d2x}" export --output out
expect 1 "already exists" "${d2x}" export --output out --format torchscript --method all
expect 0 "every export verified" "${d2x}" export --output out --overwrite --format torchscript --method all
# One format and method into the directory itself.
expect 0 "OK" "${d2x}" export --output single --format torchscript --method scripting \
  --config "${model}/config.yaml" --weights "${model}/model_final.pth" \
  --sample_image "${model}/input_256x320.png"
[[ -f single/model.ts ]] || fail "single/model.ts missing"
grep -q '"method": "scripting"' single/manifest.json || fail "single is not a scripting artifact"
# Failures leave nothing behind.
expect 1 "has no method 'freezing'" "${d2x}" export --output bad --format torchscript --method freezing
[[ -e bad ]] && fail "a failed export left bad/"
expect 1 "--sample_image IMG is required" "${d2x}" export --output bad2 --config "${model}/config.yaml"
expect 1 "no plugin provides the export format 'tensorrt'" "${d2x}" export --output bad3 --format tensorrt
# Format options go to their format, which rejects keys it does not know.
expect 1 "unknown option 'opset'" "${d2x}" export --output bad4 --format torchscript \
  --method tracing --format_options torchscript.opset=16
expect 1 "is not FORMAT.KEY=VALUE" "${d2x}" export --output bad5 --format torchscript \
  --format_options opset=16
expect 1 "names format 'onnx', which is not exported" "${d2x}" export --output bad6 \
  --format torchscript --format_options onnx.opset=16
# --opset is onnx.opset.
expect 1 "names format 'onnx', which is not exported" "${d2x}" export --output bad7 \
  --format torchscript --opset 16
expect 1 "--opset 16 contradicts --format_options onnx.opset=17" "${d2x}" export --output bad8 \
  --format onnx --opset 16 --format_options onnx.opset=17
[[ -e bad4 || -e bad5 || -e bad6 || -e bad7 || -e bad8 ]] &&
  fail "a failed export left a directory behind"

# run: the artifact gives the eager model's results.json, byte for byte.
img="${model}/input_256x320.png"
expect 0 "wrote 200 detections for 2 image(s)" "${d2x}" run --artifact out/torchscript_tracing \
  --input "${img}" --input "${model}/input_200x296.png" --output art/results.json --draw art/drawn.png
expect 0 "wrote 200 detections for 2 image(s)" "${d2x}" run --config "${model}/config.yaml" \
  --weights "${model}/model_final.pth" --input "${img}" --input "${model}/input_200x296.png" \
  --output eager/results.json
cmp -s art/results.json eager/results.json || fail "artifact and eager results.json differ"
[[ -f art/drawn.0.png && -f art/drawn.1.png ]] || fail "drawings missing"
expect 0 "wrote 100 detections" "${d2x}" run --artifact out/torchscript_scripting --input "${img}" \
  --output art2/results.json
expect 1 "not both" "${d2x}" run --artifact out/torchscript_tracing --config "${model}/config.yaml" \
  --input "${img}" --output x.json

# verify, inspect, doctor, bench.
expect 0 "verified: the artifact agrees" "${d2x}" verify --artifact out/torchscript_scripting \
  --output verify.json
expect 0 "num_instances" "${d2x}" inspect --artifact out/torchscript_tracing
expect 0 "ops.d2x.rpn_proposals" "${d2x}" inspect --artifact out/torchscript_tracing --ir
expect 0 "wrote" "${d2x}" inspect --artifact out/torchscript_scripting --ir --output ir
for f in model_ts_code.txt model_ts_IR.txt model_ts_IR_inlined.txt model.txt; do
  [[ -f "ir/${f}" ]] || fail "ir/${f} missing"
done
grep -q "def inference" ir/model_ts_code.txt || fail "scripted code lacks inference()"
expect 0 "required library libd2x_ops.so loads" "${d2x}" doctor --artifact out/torchscript_tracing
# Other formats: doctor loads and runs the artifact with the format's runner.
expect 0 "every export verified" "${d2x}" export --output c2 --format caffe2 --threads 2
expect 0 "runs a blank 64x64 image" "${d2x}" doctor --artifact c2
expect 0 "torchscript (tracing)" "${d2x}" bench --artifact out/torchscript_tracing --size 200x296 \
  --iters 1

# Corrupted artifacts: clear errors, non-zero exits.
cp -r out/torchscript_tracing broken_model
head -c 10000 out/torchscript_tracing/model.ts > broken_model/model.ts
expect 1 "not a valid TorchScript archive" "${d2x}" run --artifact broken_model --input "${img}" \
  --output x.json
expect 1 "PROBLEM" "${d2x}" doctor --artifact broken_model
cp -r out/torchscript_tracing broken_lib
head -c 1000 out/torchscript_tracing/libd2x_ops.so > broken_lib/libd2x_ops.so
expect 1 "libd2x_ops.so is broken: truncated" "${d2x}" doctor --artifact broken_lib
cp -r out/torchscript_tracing no_manifest
rm no_manifest/manifest.json
expect 1 "no manifest" "${d2x}" run --artifact no_manifest --input "${img}" --output x.json
cp -r out/torchscript_tracing bad_manifest
echo '{"d2x_manifest_version": 1, "format": "torchscript"' > bad_manifest/manifest.json
expect 1 "corrupt manifest" "${d2x}" inspect --artifact bad_manifest
expect 1 "no such directory" "${d2x}" doctor --artifact does_not_exist

finish
