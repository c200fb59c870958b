// The TorchScript format: exporter and runner.
//
// Methods:
//   tracing    model.ts is the traced graph itself: forward(images, image_sizes, output_sizes)
//              returns the flat tuple of the detector I/O contract (core/export/detector_io.h).
//              Any image size and batch size (the graph's shape-dependent work is in d2x ops).
//   scripting  model.ts is a scripted wrapper, compiled in C++ from TorchScript source, around
//              the traced graph (submodule `model`):
//                forward(images: List[Tensor]) -> List[Dict[str, Tensor]]
//                inference(images: List[Tensor], output_sizes: List[List[int]])
//                    -> List[Dict[str, Tensor]]
//              Images are [C, H, W] raw pixels (INPUT.FORMAT order) of any sizes; the wrapper
//              pads and batches them and returns one dict of Instances fields per image (masks
//              cropped to the image), like detectron2's ScriptableAdapter.
//
// Both store the output schema and names in the archive (extra files d2x/output_schema.json,
// d2x/output_names.json) and need the d2x:: ops at load time: the artifact ships libd2x_ops.so
// (Python: torch.ops.load_library("libd2x_ops.so"); C++: dlopen(RTLD_NOW | RTLD_GLOBAL), or link
// the ops in). Inside the d2x process the ops are already registered.
#ifndef D2X_PLUGINS_FORMAT_TORCHSCRIPT_TORCHSCRIPT_FORMAT_H_
#define D2X_PLUGINS_FORMAT_TORCHSCRIPT_TORCHSCRIPT_FORMAT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/exporter.h"

namespace d2x::torchscript {

inline constexpr char kFormatName[] = "torchscript";
inline constexpr char kModelFile[] = "model.ts";
inline constexpr char kTracing[] = "tracing";
inline constexpr char kScripting[] = "scripting";
inline constexpr char kOutputSchemaExtraFile[] = "d2x/output_schema.json";
inline constexpr char kOutputNamesExtraFile[] = "d2x/output_names.json";

class TorchScriptExporter : public Exporter {
 public:
  std::string rewrite_flavor() const override { return "generic"; }
  std::vector<std::string> methods() const override { return {kTracing, kScripting}; }
  absl::StatusOr<ArtifactInfo> Export(const ExportRequest& request) override;
};

class TorchScriptRunner : public Runner {
 public:
  absl::StatusOr<std::unique_ptr<Session>> Load(const std::string& artifact_dir) override;
};

}  // namespace d2x::torchscript

#endif  // D2X_PLUGINS_FORMAT_TORCHSCRIPT_TORCHSCRIPT_FORMAT_H_
