// The ONNX format: exporter and runner (issue 7, docs/ONNX.md).
//
// Exporter: lowers the traced graph of the "generic" rewrite (core/trace) to a standard-op ONNX
// model (lowering.h; opset 17 by default, option `opset` 16..17), graph inputs and outputs named
// as the TraceableModel names them (the detector I/O contract, core/export/detector_io.h), the
// batch (N) and image (H, W) dimensions dynamic. An op with no lowering fails the export with the
// op's name and where it comes from; the host then removes the staging directory.
// Artifact files: model.onnx, ort_run.js (the Node program that runs it in ONNX Runtime).
// Manifest properties: opset, onnxruntime_version (the onnxruntime-node package the artifact was
// verified with), onnxruntime_node_dir (where it was found), entry_point.
//
// Runner: starts `node ort_run.js <onnxruntime-node> model.onnx --serve <threads>` once per
// loaded artifact (the session is created once) and exchanges raw tensors with it for every Run;
// intra-op threads = at::get_num_threads() at load time (d2x's --threads). onnxruntime-node is
// looked up in $D2X_ORT_NODE_DIR, the manifest's onnxruntime_node_dir, then node_modules above
// $BUILD_WORKING_DIRECTORY, the current directory and the artifact directory.
#ifndef D2X_PLUGINS_FORMAT_ONNX_ONNX_FORMAT_H_
#define D2X_PLUGINS_FORMAT_ONNX_ONNX_FORMAT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/exporter.h"

namespace d2x::onnx_format {

inline constexpr char kFormatName[] = "onnx";
inline constexpr char kModelFile[] = "model.onnx";
inline constexpr char kRunScriptFile[] = "ort_run.js";
inline constexpr char kOpsetOption[] = "opset";

class OnnxExporter : public Exporter {
 public:
  std::string rewrite_flavor() const override { return "generic"; }
  absl::StatusOr<ArtifactInfo> Export(const ExportRequest& request) override;
};

class OnnxRunner : public Runner {
 public:
  absl::StatusOr<std::unique_ptr<Session>> Load(const std::string& artifact_dir) override;
  // onnxruntime-node found as for an artifact (without one) and loaded in node.
  absl::StatusOr<std::string> CheckRuntime() const override;
};

// Finds node_modules/onnxruntime-node for an artifact (see above); `recorded` is the manifest's
// onnxruntime_node_dir ("" if none).
absl::StatusOr<std::string> LocateOnnxRuntimeNode(const std::string& artifact_dir,
                                                  const std::string& recorded);

}  // namespace d2x::onnx_format

#endif  // D2X_PLUGINS_FORMAT_ONNX_ONNX_FORMAT_H_
