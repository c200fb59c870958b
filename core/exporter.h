// Exporter and Runner: one deployment format each (TorchScript, ONNX, Caffe2).
//
// An Exporter writes an artifact directory from the traced graph of a TraceableModel (one IR for
// every format: the torch::jit::Module that core/trace produces). A Runner loads such a directory
// and runs it in the format's own runtime, so `d2x export` can verify every artifact against the
// eager model.
#ifndef D2X_CORE_EXPORTER_H_
#define D2X_CORE_EXPORTER_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/rewriter.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace d2x {

struct ExportRequest {
  TraceableModel* traceable = nullptr;          // the rewritten model
  torch::jit::Module* traced = nullptr;         // its trace
  std::vector<at::Tensor> sample_inputs;        // the inputs the trace was made with
  std::map<std::string, std::string> options;   // format options, e.g. {"opset", "17"}
  std::string output_dir;                       // an empty, writable temporary directory
};

class Exporter {
 public:
  virtual ~Exporter() = default;

  // The rewrite flavor this format needs ("generic" or "caffe2").
  virtual std::string rewrite_flavor() const = 0;

  // Writes the artifact files into request.output_dir. The caller moves the directory into place
  // only if this succeeds, so a failed export leaves nothing behind.
  virtual absl::Status Export(const ExportRequest& request) = 0;
};

// A loaded artifact, ready to run.
class Session {
 public:
  virtual ~Session() = default;
  virtual absl::StatusOr<std::vector<at::Tensor>> Run(const std::vector<at::Tensor>& inputs) = 0;
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual absl::StatusOr<std::unique_ptr<Session>> Load(const std::string& artifact_dir) = 0;
};

}  // namespace d2x

#endif  // D2X_CORE_EXPORTER_H_
