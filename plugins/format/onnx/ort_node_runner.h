// Runs ONNX models in ONNX Runtime through Node (npm onnxruntime-node 1.30.0, pinned in
// package-lock.json): the tensors go to `node ort_run.js` as raw .bin files and come back the
// same way. See docs/ONNX.md for why this and not a C++ link of libonnxruntime.so.1.
#ifndef D2X_PLUGINS_FORMAT_ONNX_ORT_NODE_RUNNER_H_
#define D2X_PLUGINS_FORMAT_ONNX_ORT_NODE_RUNNER_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::onnx_format {

struct OrtNodeConfig {
  std::string node = "node";         // the node executable ($D2X_NODE overrides)
  std::string script;                // ort_run.js
  std::string onnxruntime_node_dir;  // .../node_modules/onnxruntime-node
};

// Finds node_modules/onnxruntime-node: $D2X_ORT_NODE_DIR if set, else in `start` or one of its
// parent directories (e.g. the canonical path of ort_run.js inside the source tree).
absl::StatusOr<std::string> FindOnnxRuntimeNode(const std::string& start);

// Runs model_path on the named inputs; returns the outputs in the model's output order.
absl::StatusOr<std::vector<at::Tensor>> RunInOnnxRuntime(
    const OrtNodeConfig& config, const std::string& model_path,
    const std::vector<std::pair<std::string, at::Tensor>>& inputs);

}  // namespace d2x::onnx_format

#endif  // D2X_PLUGINS_FORMAT_ONNX_ORT_NODE_RUNNER_H_
