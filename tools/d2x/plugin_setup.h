// Finding and loading the plugins the d2x tool uses.
//
// Sources, in order:
//   1. the plugins built with the tool (Bazel runfiles of the binary, or <dir of binary>/plugins);
//   2. every directory or file in --plugin_path and in $D2X_PLUGIN_PATH (colon-separated);
//   3. every file named with --plugin.
// A plugin from 1 or 2 that fails to load is a warning; a file named with --plugin that fails is an
// error.
#ifndef D2X_TOOLS_D2X_PLUGIN_SETUP_H_
#define D2X_TOOLS_D2X_PLUGIN_SETUP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/plugin/loader.h"

namespace d2x::tool {

struct PluginProblem {
  std::string path;
  absl::Status status;
  bool named_explicitly = false;  // given with --plugin: a failure is an error
};

struct PluginLoadReport {
  std::vector<std::string> searched;  // directories and files looked at
  std::vector<PluginProblem> problems;

  bool HasExplicitFailure() const;
};

PluginLoadReport LoadAllPlugins(const std::string& argv0, plugin::PluginLoader& loader);

// Generated from //plugins:all (see plugin_list.bzl).
const std::vector<std::string>& DefaultPluginRunfiles();

}  // namespace d2x::tool

#endif  // D2X_TOOLS_D2X_PLUGIN_SETUP_H_
