// Adds an entry, then reports failure: nothing may be registered.
#include "core/plugin/plugin_api.h"

namespace {
absl::Status Register(d2x::plugin::Registrar& r) {
  r.AddExporter("failing_format", [] { return std::unique_ptr<d2x::Exporter>(); });
  return absl::InternalError("cannot initialise the failing backend");
}
}  // namespace

D2X_DEFINE_PLUGIN("failing", "0.0.1", Register)
