// Throws from its register function: the exception must not cross the plugin boundary.
#include <stdexcept>

#include "core/plugin/plugin_api.h"

namespace {
absl::Status Register(d2x::plugin::Registrar& r) {
  r.AddExporter("throwing_format", [] { return std::unique_ptr<d2x::Exporter>(); });
  throw std::runtime_error("boom");
}
}  // namespace

D2X_DEFINE_PLUGIN("throwing", "0.0.1", Register)
