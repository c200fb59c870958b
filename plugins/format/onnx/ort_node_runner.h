// Runs ONNX models in ONNX Runtime through Node (npm onnxruntime-node 1.30.0, pinned in
// package-lock.json): the tensors go to `node ort_run.js` as raw .bin files and come back the
// same way. See docs/ONNX.md for why this and not a C++ link of libonnxruntime.so.1.
#ifndef D2X_PLUGINS_FORMAT_ONNX_ORT_NODE_RUNNER_H_
#define D2X_PLUGINS_FORMAT_ONNX_ORT_NODE_RUNNER_H_

#include <ATen/core/Tensor.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::onnx_format {

struct OrtNodeConfig {
  std::string node = "node";         // the node executable ($D2X_NODE overrides)
  std::string script;                // ort_run.js
  std::string onnxruntime_node_dir;  // .../node_modules/onnxruntime-node
  int threads = 2;                   // ONNX Runtime intra-op threads
};

// Finds node_modules/onnxruntime-node: $D2X_ORT_NODE_DIR if set, else in `start` or one of its
// parent directories (e.g. the canonical path of ort_run.js inside the source tree).
absl::StatusOr<std::string> FindOnnxRuntimeNode(const std::string& start);

// The onnxruntime-node package version (its package.json "version"), e.g. "1.30.0".
absl::StatusOr<std::string> OnnxRuntimeNodeVersion(const std::string& onnxruntime_node_dir);

// Loads the onnxruntime-node binding in node (`node -e "require(dir)"`), the way ort_run.js does:
// "ONNX Runtime <version> (onnxruntime-node at <dir>, node <version>)", or an error with node's
// message (node missing, the native binding not loadable).
absl::StatusOr<std::string> CheckOnnxRuntimeNode(const std::string& onnxruntime_node_dir,
                                                 const std::string& node = "node");

// Runs model_path on the named inputs; returns the outputs in the model's output order.
// One node process per call (session creation included).
absl::StatusOr<std::vector<at::Tensor>> RunInOnnxRuntime(
    const OrtNodeConfig& config, const std::string& model_path,
    const std::vector<std::pair<std::string, at::Tensor>>& inputs);

// A node process that holds one ONNX Runtime session (`ort_run.js ... --serve`): the model is
// loaded once, every Run costs session.run plus the tensor files. Not thread-safe.
class OrtNodeServer {
 public:
  static absl::StatusOr<std::unique_ptr<OrtNodeServer>> Start(const OrtNodeConfig& config,
                                                              const std::string& model_path);
  ~OrtNodeServer();
  OrtNodeServer(const OrtNodeServer&) = delete;
  OrtNodeServer& operator=(const OrtNodeServer&) = delete;

  absl::StatusOr<std::vector<at::Tensor>> Run(
      const std::vector<std::pair<std::string, at::Tensor>>& inputs);
  // Seconds the last Run spent inside session.run (as timed by node).
  double last_run_seconds() const { return last_run_seconds_; }
  // ONNX Runtime's version as the session reports it.
  const std::string& ort_version() const { return ort_version_; }

 private:
  OrtNodeServer() = default;
  absl::StatusOr<std::string> ReadLine();

  int pid_ = -1;
  int to_child_ = -1;
  FILE* from_child_ = nullptr;
  std::string stderr_path_;
  std::string model_path_;
  std::string ort_version_;
  double last_run_seconds_ = 0;
};

}  // namespace d2x::onnx_format

#endif  // D2X_PLUGINS_FORMAT_ONNX_ORT_NODE_RUNNER_H_
