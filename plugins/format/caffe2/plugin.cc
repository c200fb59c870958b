// The caffe2 format plugin's entry point: registers the Caffe2 and ONNX-Caffe2 exporters and
// runners.
#include "core/plugin/plugin_api.h"
#include "plugins/format/caffe2/caffe2_format.h"

namespace {

absl::Status RegisterCaffe2(d2x::plugin::Registrar& registrar) {
  registrar.AddExporter(d2x::caffe2_format::kFormatName,
                        [] { return std::make_unique<d2x::caffe2_format::Caffe2Exporter>(); });
  registrar.AddRunner(d2x::caffe2_format::kFormatName,
                      [] { return std::make_unique<d2x::caffe2_format::Caffe2Runner>(); });
  registrar.AddExporter(d2x::caffe2_format::kOnnxFormatName,
                        [] { return std::make_unique<d2x::caffe2_format::OnnxCaffe2Exporter>(); });
  registrar.AddRunner(d2x::caffe2_format::kOnnxFormatName,
                      [] { return std::make_unique<d2x::caffe2_format::OnnxCaffe2Runner>(); });
  return absl::OkStatus();
}

}  // namespace

D2X_DEFINE_PLUGIN("caffe2", "0.1.0", RegisterCaffe2)
