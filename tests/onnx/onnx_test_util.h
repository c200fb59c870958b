// Shared setup of the ONNX tests: the ONNX Runtime (node + onnxruntime-node) configuration that
// runs the lowered models through ort_run.js from the runfiles, and a traced function lowered to
// an ONNX file in the test's temporary directory.
#ifndef D2X_TESTS_ONNX_ONNX_TEST_UTIL_H_
#define D2X_TESTS_ONNX_ONNX_TEST_UTIL_H_

#include <ATen/core/Tensor.h>
#include <onnx/onnx_pb.h>
#include <torch/csrc/jit/api/module.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/trace/trace.h"
#include "core/verify/detection_match.h"
#include "plugins/format/onnx/lowering.h"
#include "plugins/format/onnx/ort_node_runner.h"

namespace d2x::onnx_test {

// ort_run.js (runfile -> the source tree) and the onnxruntime-node directory found from it. A
// missing onnxruntime-node is an EXPECT failure (fail, never skip).
onnx_format::OrtNodeConfig OrtTestConfig();

// A traced function, its ONNX lowering and the file the lowering was written to.
struct Lowered {
  torch::jit::Module module;
  onnx::ModelProto model;
  std::string path;
};

// Traces `fn` at `sample` (inputs named `input_names`, module name `module_name`), lowers the
// forward graph with `options` and writes the model to $TEST_TMPDIR/<name>_<options.opset>.onnx.
absl::StatusOr<Lowered> TraceLowerAndWrite(const trace::TraceFunction& fn,
                                           const std::vector<at::Tensor>& sample,
                                           const std::vector<std::string>& input_names,
                                           const std::string& module_name,
                                           const onnx_format::LoweringOptions& options,
                                           const std::string& name);

// The bound the ONNX tests put on core/verify's float-resolution rules (docs/EXPORT.md
// "Verification"): at most kMaxPairsAtFloatResolution pairs of one image agree only at float
// resolution, and detections of an exact tie are left out only where `ties_allowed`.
inline constexpr int64_t kMaxPairsAtFloatResolution = 2;
void ExpectFloatResolutionBounded(const verify::MatchReport& report, bool ties_allowed = false);

}  // namespace d2x::onnx_test

#endif  // D2X_TESTS_ONNX_ONNX_TEST_UTIL_H_
