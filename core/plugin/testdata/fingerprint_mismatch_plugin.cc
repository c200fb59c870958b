// Claims to be built by another compiler / LibTorch.
#include "core/plugin/plugin_api.h"

namespace {
const char* Register(d2x::plugin::Registrar*) { return nullptr; }
}  // namespace

extern "C" __attribute__((visibility("default"))) const D2xPluginInfo* d2x_plugin_info(void) {
  static const D2xPluginInfo info = {sizeof(D2xPluginInfo), D2X_PLUGIN_ABI_MAJOR,
                                     D2X_PLUGIN_ABI_MINOR,   "fingerprint_mismatch",
                                     "0.0.1",                "compiler=other;torch=0.0.0",
                                     &Register};
  return &info;
}
