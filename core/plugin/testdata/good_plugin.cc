// A well-formed plugin: one entry of every kind.
#include "core/plugin/plugin_api.h"

namespace {
absl::Status Register(d2x::plugin::Registrar& r) {
  r.AddModelBuilder("TestArch", [](const d2x::config::Config&) {
    return absl::StatusOr<std::unique_ptr<d2x::Model>>(absl::UnimplementedError("test only"));
  });
  r.AddRewriter("TestArch", [] { return std::unique_ptr<d2x::Rewriter>(); });
  r.AddExporter("test_format", [] { return std::unique_ptr<d2x::Exporter>(); });
  r.AddRunner("test_format", [] { return std::unique_ptr<d2x::Runner>(); });
  return absl::OkStatus();
}
}  // namespace

D2X_DEFINE_PLUGIN("good", "1.2.3", Register)
