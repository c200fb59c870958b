#!/bin/bash
# Exported TorchScript artifacts load and run in Python (/usr/bin/python3 with torch, without d2x
# or detectron2) with the same results as in C++, and agree with detectron2's fixtures.
# Usage: python_interop_test.sh <write_python_reference> <python_interop_check.py>
set -euo pipefail
: "${D2X_FIXTURES_DIR:?D2X_FIXTURES_DIR must point at ../shared/fixtures}"
out="${TEST_TMPDIR:-$(mktemp -d)}/python_interop"
rm -rf "${out}"
mkdir -p "${out}"
archs=(mask_rcnn keypoint_rcnn)
"$1" "${out}" "${archs[@]}"
/usr/bin/python3 "$2" "${out}" "${D2X_FIXTURES_DIR}" "${archs[@]}"
