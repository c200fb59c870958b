// Registers a new exporter and one that the good plugin already provides: the whole registration
// must be rolled back.
#include "core/plugin/plugin_api.h"

namespace {
absl::Status Register(d2x::plugin::Registrar& r) {
  r.AddExporter("fresh_format", [] { return std::unique_ptr<d2x::Exporter>(); });
  r.AddExporter("test_format", [] { return std::unique_ptr<d2x::Exporter>(); });
  return absl::OkStatus();
}
}  // namespace

D2X_DEFINE_PLUGIN("duplicate", "0.0.1", Register)
