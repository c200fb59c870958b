// The torchscript format plugin's entry point: registers the TorchScript exporter and runner.
#include "core/plugin/plugin_api.h"
#include "plugins/format/torchscript/torchscript_format.h"

namespace {

absl::Status RegisterTorchScript(d2x::plugin::Registrar& registrar) {
  registrar.AddExporter(d2x::torchscript::kFormatName,
                        [] { return std::make_unique<d2x::torchscript::TorchScriptExporter>(); });
  registrar.AddRunner(d2x::torchscript::kFormatName,
                      [] { return std::make_unique<d2x::torchscript::TorchScriptRunner>(); });
  return absl::OkStatus();
}

}  // namespace

D2X_DEFINE_PLUGIN("torchscript", "0.1.0", RegisterTorchScript)
