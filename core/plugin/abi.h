// The d2x plugin ABI: the one symbol a plugin shared library exports.
//
// A plugin is a shared library (`libd2x_<name>.so`) that exports
//
//   extern "C" const D2xPluginInfo* d2x_plugin_info(void);
//
// The host dlopen()s it with RTLD_NOW | RTLD_LOCAL, calls d2x_plugin_info(), refuses the plugin if
// `abi_major` or `build_fingerprint` differ from its own (the message names both sides), then calls
// `register_entries` with a staging Registrar. Registration is all-or-nothing: if it fails, or if any
// name it adds already exists, nothing it added is kept. Plugins are never unloaded.
//
// Plugins compile against core headers only; the core itself is linked once into the host binary
// (with -rdynamic) and its symbols resolve from there. Use D2X_DEFINE_PLUGIN (plugin_api.h) rather
// than writing the entry point by hand.
#ifndef D2X_CORE_PLUGIN_ABI_H_
#define D2X_CORE_PLUGIN_ABI_H_

#include <stdint.h>

#include "torch/version.h"

// Bump the major version for any change that breaks existing plugins (layout of D2xPluginInfo,
// Registrar or the interfaces in core/*.h); bump the minor version for compatible additions.
#define D2X_PLUGIN_ABI_MAJOR 2
#define D2X_PLUGIN_ABI_MINOR 0

#define D2X_PLUGIN_ENTRY_SYMBOL "d2x_plugin_info"

#define D2X_STRINGIFY_INNER_(x) #x
#define D2X_STRINGIFY_(x) D2X_STRINGIFY_INNER_(x)

// Everything that must agree between host and plugin for C++ objects (std::string, absl::Status,
// at::Tensor) to cross the boundary safely: compiler, C++ library ABI and LibTorch version.
#define D2X_BUILD_FINGERPRINT                                     \
  "compiler=" __VERSION__                                         \
  ";cxx11_abi=" D2X_STRINGIFY_(_GLIBCXX_USE_CXX11_ABI)            \
  ";torch=" TORCH_VERSION

namespace d2x::plugin {
class Registrar;
}  // namespace d2x::plugin

extern "C" {

typedef struct D2xPluginInfo {
  // sizeof(D2xPluginInfo) as the plugin was compiled; the host rejects smaller structs.
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  const char* name;               // e.g. "rcnn"; unique among loaded plugins
  const char* version;            // the plugin's own version, e.g. "0.1.0"
  const char* build_fingerprint;  // D2X_BUILD_FINGERPRINT as the plugin was compiled
  // Adds the plugin's entries to `registrar`. Returns NULL on success, otherwise a NUL-terminated
  // message owned by the plugin. Must not throw.
  const char* (*register_entries)(d2x::plugin::Registrar* registrar);
} D2xPluginInfo;

typedef const D2xPluginInfo* (*D2xPluginInfoFn)(void);

}  // extern "C"

#endif  // D2X_CORE_PLUGIN_ABI_H_
