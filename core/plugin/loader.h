// Finding and loading plugin shared libraries.
#ifndef D2X_CORE_PLUGIN_LOADER_H_
#define D2X_CORE_PLUGIN_LOADER_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/plugin/registry.h"

namespace d2x::plugin {

// What is known about a successfully loaded plugin.
struct PluginRecord {
  std::string path;
  std::string name;
  std::string version;
  std::string build_fingerprint;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  int num_entries = 0;
};

// The host's ABI version and fingerprint, for `d2x doctor`.
std::string HostAbiVersion();
std::string HostBuildFingerprint();

// Loads plugins into one Registry. Libraries are opened with dlopen(RTLD_NOW | RTLD_LOCAL) and
// never closed. Not thread-safe.
class PluginLoader {
 public:
  explicit PluginLoader(Registry& registry) : registry_(registry) {}

  // Loads the plugin at `path` and commits its entries. Every error names `path` and what was
  // wrong (missing file, not an ELF file, dlopen error, missing entry point, ABI or fingerprint
  // mismatch, duplicate plugin or entry name, failed registration); on error nothing of the plugin
  // is registered.
  absl::StatusOr<PluginRecord> Load(const std::string& path);

  const std::vector<PluginRecord>& loaded() const { return loaded_; }

  // Whether the file at `path` (compared by canonical path) was loaded by this loader.
  bool IsLoaded(const std::string& path) const;

 private:
  absl::StatusOr<PluginRecord> LoadImpl(const std::string& path);

  Registry& registry_;
  std::vector<PluginRecord> loaded_;
  std::set<std::string> loaded_paths_;
};

// Expands one plugin-path element: a file is returned as is; a directory gives the `*.so` files
// directly inside it, sorted. A missing path is an error.
absl::StatusOr<std::vector<std::string>> ListPluginFiles(const std::string& file_or_dir);

}  // namespace d2x::plugin

#endif  // D2X_CORE_PLUGIN_LOADER_H_
