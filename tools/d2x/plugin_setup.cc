#include "tools/d2x/plugin_setup.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"
#include "tools/cpp/runfiles/runfiles.h"

ABSL_FLAG(std::string, plugin_path, "",
          "Extra plugin directories or files, colon-separated (also read from $D2X_PLUGIN_PATH). "
          "Plugins found there that fail to load are warnings.");
ABSL_FLAG(std::vector<std::string>, plugin, {},
          "Plugin files to load, comma-separated. A failure to load one of these is an error.");

namespace d2x::tool {
namespace fs = std::filesystem;
using bazel::tools::cpp::runfiles::Runfiles;

bool PluginLoadReport::HasExplicitFailure() const {
  for (const PluginProblem& p : problems) {
    if (p.named_explicitly) return true;
  }
  return false;
}

namespace {

std::string ExecutablePath(const std::string& argv0) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? argv0 : self.string();
}

// The plugins built with the tool: from Bazel runfiles, else <binary dir>/plugins.
std::vector<std::string> BundledPluginFiles(const std::string& argv0,
                                            PluginLoadReport& report) {
  std::vector<std::string> files;
  std::string error;
  std::unique_ptr<Runfiles> runfiles(Runfiles::Create(argv0, &error));
  if (runfiles != nullptr) {
    for (const std::string& rpath : DefaultPluginRunfiles()) {
      std::string path = runfiles->Rlocation(rpath);
      std::error_code ec;
      if (!path.empty() && fs::exists(path, ec)) files.push_back(path);
    }
  }
  if (!files.empty()) {
    report.searched.push_back("runfiles of " + argv0);
    return files;
  }
  const std::string dir = (fs::path(ExecutablePath(argv0)).parent_path() / "plugins").string();
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    report.searched.push_back(dir);
    absl::StatusOr<std::vector<std::string>> listed = plugin::ListPluginFiles(dir);
    if (listed.ok()) return *listed;
    report.problems.push_back({dir, listed.status(), false});
  }
  return files;
}

void LoadOne(const std::string& path, bool named_explicitly, plugin::PluginLoader& loader,
             PluginLoadReport& report) {
  // The same file named again (e.g. --plugin bazel-bin/.../libd2x_onnx.so, which the tool also
  // loads by default) is already there; a different file providing the same plugin is an error.
  if (loader.IsLoaded(path)) {
    VLOG(1) << "plugin " << path << " is already loaded";
    return;
  }
  absl::StatusOr<plugin::PluginRecord> record = loader.Load(path);
  if (record.ok()) {
    VLOG(1) << "loaded plugin " << record->name << " from " << path;
    return;
  }
  report.problems.push_back({path, record.status(), named_explicitly});
}

}  // namespace

PluginLoadReport LoadAllPlugins(const std::string& argv0, plugin::PluginLoader& loader) {
  PluginLoadReport report;
  for (const std::string& path : BundledPluginFiles(argv0, report)) {
    LoadOne(path, false, loader, report);
  }

  std::vector<std::string> elements;
  if (const char* env = std::getenv("D2X_PLUGIN_PATH"); env != nullptr) {
    for (absl::string_view e : absl::StrSplit(env, ':', absl::SkipEmpty())) {
      elements.emplace_back(e);
    }
  }
  for (absl::string_view e : absl::StrSplit(absl::GetFlag(FLAGS_plugin_path), ':',
                                            absl::SkipEmpty())) {
    elements.emplace_back(e);
  }
  for (const std::string& element : elements) {
    report.searched.push_back(element);
    absl::StatusOr<std::vector<std::string>> files = plugin::ListPluginFiles(element);
    if (!files.ok()) {
      report.problems.push_back({element, files.status(), false});
      continue;
    }
    for (const std::string& path : *files) LoadOne(path, false, loader, report);
  }
  for (const std::string& path : absl::GetFlag(FLAGS_plugin)) {
    report.searched.push_back(path);
    LoadOne(path, true, loader, report);
  }
  return report;
}

}  // namespace d2x::tool
