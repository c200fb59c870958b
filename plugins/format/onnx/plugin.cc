// The onnx format plugin's entry point: registers the ONNX exporter and the ONNX Runtime runner.
#include "core/plugin/plugin_api.h"
#include "plugins/format/onnx/onnx_format.h"

namespace {

absl::Status RegisterOnnx(d2x::plugin::Registrar& registrar) {
  registrar.AddExporter(d2x::onnx_format::kFormatName,
                        [] { return std::make_unique<d2x::onnx_format::OnnxExporter>(); });
  registrar.AddRunner(d2x::onnx_format::kFormatName,
                      [] { return std::make_unique<d2x::onnx_format::OnnxRunner>(); });
  return absl::OkStatus();
}

}  // namespace

D2X_DEFINE_PLUGIN("onnx", "0.1.0", RegisterOnnx)
