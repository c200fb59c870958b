// What a plugin author includes: the ABI, the Registrar, and D2X_DEFINE_PLUGIN.
//
//   absl::Status RegisterRcnn(d2x::plugin::Registrar& r) {
//     r.AddModelBuilder("GeneralizedRCNN", &BuildGeneralizedRcnn);
//     return absl::OkStatus();
//   }
//   D2X_DEFINE_PLUGIN("rcnn", "0.1.0", RegisterRcnn)
#ifndef D2X_CORE_PLUGIN_PLUGIN_API_H_
#define D2X_CORE_PLUGIN_PLUGIN_API_H_

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "core/plugin/abi.h"
#include "core/exporter.h"
#include "core/model.h"
#include "core/plugin/registry.h"
#include "core/rewriter.h"

// Defines the plugin's extern "C" entry point. `register_fn` is
// `absl::Status (*)(d2x::plugin::Registrar&)`; exceptions it throws are caught here and turned into
// an error message, so none crosses the plugin boundary.
#define D2X_DEFINE_PLUGIN(plugin_name, plugin_version, register_fn)                   \
  namespace {                                                                        \
  const char* D2xRegisterEntriesTrampoline(::d2x::plugin::Registrar* registrar) {    \
    static std::string error;                                                        \
    try {                                                                            \
      ::absl::Status status = register_fn(*registrar);                               \
      if (status.ok()) return nullptr;                                               \
      error = status.ToString();                                                     \
    } catch (const std::exception& e) {                                              \
      error = std::string("exception during registration: ") + e.what();            \
    } catch (...) {                                                                  \
      error = "unknown exception during registration";                               \
    }                                                                                \
    return error.c_str();                                                            \
  }                                                                                  \
  }                                                                                  \
  extern "C" __attribute__((visibility("default"))) const D2xPluginInfo*            \
  d2x_plugin_info(void) {                                                            \
    static const D2xPluginInfo info = {                                              \
        sizeof(D2xPluginInfo), D2X_PLUGIN_ABI_MAJOR,  D2X_PLUGIN_ABI_MINOR,          \
        plugin_name,           plugin_version,        D2X_BUILD_FINGERPRINT,         \
        &D2xRegisterEntriesTrampoline};                                              \
    return &info;                                                                    \
  }

#endif  // D2X_CORE_PLUGIN_PLUGIN_API_H_
