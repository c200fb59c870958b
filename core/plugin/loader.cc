#include "core/plugin/loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "core/plugin/abi.h"

namespace d2x::plugin {
namespace fs = std::filesystem;

std::string HostAbiVersion() {
  return absl::StrCat(D2X_PLUGIN_ABI_MAJOR, ".", D2X_PLUGIN_ABI_MINOR);
}

std::string HostBuildFingerprint() { return D2X_BUILD_FINGERPRINT; }

absl::StatusOr<PluginRecord> PluginLoader::Load(const std::string& path) {
  absl::StatusOr<PluginRecord> record = LoadImpl(path);
  if (!record.ok()) {
    return absl::Status(record.status().code(),
                        absl::StrCat("plugin ", path, ": ", record.status().message()));
  }
  loaded_.push_back(*record);
  return record;
}

namespace {

std::string CanonicalOrAsIs(const std::string& path) {
  std::error_code ec;
  std::string canonical = fs::canonical(path, ec).string();
  return ec ? path : canonical;
}

}  // namespace

bool PluginLoader::IsLoaded(const std::string& path) const {
  return loaded_paths_.count(CanonicalOrAsIs(path)) > 0;
}

absl::StatusOr<PluginRecord> PluginLoader::LoadImpl(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::NotFoundError("no such file");
  if (!fs::is_regular_file(path, ec)) return absl::InvalidArgumentError("not a regular file");
  const std::string canonical = CanonicalOrAsIs(path);
  if (loaded_paths_.count(canonical)) return absl::AlreadyExistsError("already loaded");

  {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {0, 0, 0, 0};
    if (!in.read(magic, 4) || std::memcmp(magic, "\x7f" "ELF", 4) != 0) {
      return absl::InvalidArgumentError("not an ELF shared library (bad magic bytes)");
    }
  }

  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("dlopen failed: ", err ? err : "unknown error"));
  }
  // From here on the library stays loaded, even on error: its static initializers may already
  // have registered things (e.g. torch ops) that must not dangle.
  dlerror();
  auto info_fn = reinterpret_cast<D2xPluginInfoFn>(dlsym(handle, D2X_PLUGIN_ENTRY_SYMBOL));
  if (info_fn == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no entry point '", D2X_PLUGIN_ENTRY_SYMBOL, "' (not a d2x plugin?)"));
  }
  const D2xPluginInfo* info = info_fn();
  if (info == nullptr) return absl::InvalidArgumentError("d2x_plugin_info() returned NULL");
  if (info->struct_size < sizeof(D2xPluginInfo)) {
    return absl::InvalidArgumentError(
        absl::StrCat("plugin descriptor is ", info->struct_size, " bytes, host expects at least ",
                     sizeof(D2xPluginInfo)));
  }
  PluginRecord record;
  record.path = path;
  record.name = info->name ? info->name : "";
  record.version = info->version ? info->version : "";
  record.build_fingerprint = info->build_fingerprint ? info->build_fingerprint : "";
  record.abi_major = info->abi_major;
  record.abi_minor = info->abi_minor;
  if (info->abi_major != D2X_PLUGIN_ABI_MAJOR) {
    return absl::FailedPreconditionError(
        absl::StrCat("ABI mismatch: plugin '", record.name, "' has ABI ", info->abi_major, ".",
                     info->abi_minor, ", host has ABI ", HostAbiVersion()));
  }
  if (record.build_fingerprint != HostBuildFingerprint()) {
    return absl::FailedPreconditionError(
        absl::StrCat("build fingerprint mismatch: plugin '", record.name, "' was built with [",
                     record.build_fingerprint, "], host with [", HostBuildFingerprint(), "]"));
  }
  if (record.name.empty()) return absl::InvalidArgumentError("plugin has an empty name");
  for (const PluginRecord& other : loaded_) {
    if (other.name == record.name) {
      return absl::AlreadyExistsError(absl::StrCat("a plugin named '", record.name,
                                                   "' is already loaded from ", other.path));
    }
  }
  if (info->register_entries == nullptr) {
    return absl::InvalidArgumentError("plugin has no register function");
  }

  Registrar staged;
  if (const char* error = info->register_entries(&staged); error != nullptr) {
    return absl::InternalError(
        absl::StrCat("registration of plugin '", record.name, "' failed: ", error));
  }
  Provenance provenance{record.name, record.version, path};
  if (absl::Status status = registry_.Commit(staged, provenance); !status.ok()) {
    return status;
  }
  record.num_entries = staged.size();
  loaded_paths_.insert(canonical);
  return record;
}

absl::StatusOr<std::vector<std::string>> ListPluginFiles(const std::string& file_or_dir) {
  std::error_code ec;
  if (!fs::exists(file_or_dir, ec)) {
    return absl::NotFoundError(absl::StrCat("plugin path ", file_or_dir, ": no such file or directory"));
  }
  if (!fs::is_directory(file_or_dir, ec)) return std::vector<std::string>{file_or_dir};
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(file_or_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".so") && !entry.is_directory()) files.push_back(entry.path().string());
  }
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("plugin path ", file_or_dir, ": cannot list directory: ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace d2x::plugin
