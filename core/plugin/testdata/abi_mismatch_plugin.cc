// Claims a future ABI major version.
#include "core/plugin/plugin_api.h"

namespace {
const char* Register(d2x::plugin::Registrar*) { return nullptr; }
}  // namespace

extern "C" __attribute__((visibility("default"))) const D2xPluginInfo* d2x_plugin_info(void) {
  static const D2xPluginInfo info = {sizeof(D2xPluginInfo), D2X_PLUGIN_ABI_MAJOR + 1, 0,
                                     "abi_mismatch", "0.0.1", D2X_BUILD_FINGERPRINT, &Register};
  return &info;
}
