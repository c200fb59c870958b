#!/bin/bash
# Modules written by d2x's C++ code load and run in Python's torch (/usr/bin/python3).
# Usage: python_interop_test.sh <write_test_module> <load_check> <python_interop_check.py> <libd2x_ops.so>
set -euo pipefail

out="${TEST_TMPDIR:-$(mktemp -d)}/interop"
rm -rf "${out}"
mkdir -p "${out}"

"$1" "${out}"
"$2" "${out}" "$4"
/usr/bin/python3 "$3" "${out}" "$4"
