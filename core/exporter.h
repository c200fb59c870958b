// Exporter and Runner: one deployment format each (TorchScript, ONNX, Caffe2).
//
// An Exporter writes an artifact directory from the traced graph of a TraceableModel (one IR for
// every format: the torch::jit::Module that core/trace produces). A Runner loads such a directory
// and runs it in the format's own runtime, so `d2x export` can verify every artifact against the
// eager model.
//
// Division of work with the host (core/export, `d2x export`): the host loads the model, rewrites
// and traces it, creates the (empty, temporary) output directory, and after Export writes
// manifest.json (I/O contract, preprocessing, versions, required libraries as the exporter
// reports them) and report.json, verifies the artifact through the format's Runner, and moves the
// directory into place. The exporter writes only its own files.
#ifndef D2X_CORE_EXPORTER_H_
#define D2X_CORE_EXPORTER_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/rewriter.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace d2x {

// Runtime library names the host can ship with artifacts (ExportRequest::runtime_libraries).
inline constexpr char kD2xOpsLibrary[] = "d2x_ops";  // libd2x_ops.so: the d2x:: custom ops

struct ExportRequest {
  TraceableModel* traceable = nullptr;          // the rewritten model
  torch::jit::Module* traced = nullptr;         // its trace
  std::vector<at::Tensor> sample_inputs;        // the inputs the trace was made with
  std::string method;                           // one of Exporter::methods() ("" if none)
  std::map<std::string, std::string> options;   // format options, e.g. {"opset", "17"}
  std::string output_dir;                       // an empty, writable temporary directory
  // Files the host can provide for the artifact, by name, e.g. {kD2xOpsLibrary: "/.../libd2x_ops.so"}.
  std::map<std::string, std::string> runtime_libraries;
};

// What an exporter wrote, for the manifest.
struct ArtifactInfo {
  std::string model_file;                       // the main file, relative to the artifact dir
  std::vector<std::string> files;               // every file written, relative
  // Shared libraries (relative paths inside the artifact) that must be loaded, in order, before
  // the model (e.g. "libd2x_ops.so" for graphs with d2x:: ops).
  std::vector<std::string> required_libraries;
  std::map<std::string, std::string> properties;  // format-specific manifest entries
};

class Exporter {
 public:
  virtual ~Exporter() = default;

  // The rewrite flavor this format needs ("generic" or "caffe2").
  virtual std::string rewrite_flavor() const = 0;

  // The export methods this format offers, the default first (e.g. {"tracing", "scripting"});
  // {} when there is only one way.
  virtual std::vector<std::string> methods() const { return {}; }

  // Writes the artifact files into request.output_dir. The caller moves the directory into place
  // only if this (and verification) succeeds, so a failed export leaves nothing behind.
  virtual absl::StatusOr<ArtifactInfo> Export(const ExportRequest& request) = 0;
};

// A loaded artifact, ready to run.
class Session {
 public:
  virtual ~Session() = default;
  // Runs the artifact on the flat inputs of its I/O contract (manifest.json "inputs"; for
  // detectors core/export/detector_io.h) and returns the flat outputs ("outputs"). A runtime
  // with another native interface (e.g. a scripted module taking a list of images) adapts it,
  // so verification exercises that interface.
  virtual absl::StatusOr<std::vector<at::Tensor>> Run(const std::vector<at::Tensor>& inputs) = 0;
  // Seconds the last Run spent inside the runtime itself when the runtime reports it (e.g. ONNX
  // Runtime's session.run), excluding I/O marshalling; nullopt for runtimes that do not report
  // it, before the first Run and after a failed one.
  virtual std::optional<double> last_runtime_seconds() const { return std::nullopt; }
};

class Runner {
 public:
  virtual ~Runner() = default;
  // Loads the artifact directory written by the format's Exporter (with its manifest.json).
  virtual absl::StatusOr<std::unique_ptr<Session>> Load(const std::string& artifact_dir) = 0;
  // Checks, without an artifact, what the runtime needs outside d2x (e.g. ONNX Runtime from
  // npm and node): a one-line description of the runtime found, or an error saying what is
  // missing and how to install it. `d2x doctor` prints it for every format.
  virtual absl::StatusOr<std::string> CheckRuntime() const {
    return std::string("built into d2x (LibTorch)");
  }
};

}  // namespace d2x

#endif  // D2X_CORE_EXPORTER_H_
