// `d2x doctor`: load every plugin and report problems (exit 1 if there are any).
#include <cstdio>
#include <string>

#include "absl/strings/str_join.h"
#include "core/plugin/loader.h"
#include "core/version.h"
#include "tools/d2x/command.h"
#include "torch/version.h"

namespace d2x::tool {

int RunDoctor(CommandContext& context) {
  std::printf("d2x %s\n", kD2xVersion);
  std::printf("  plugin ABI         %s\n", plugin::HostAbiVersion().c_str());
  std::printf("  build fingerprint  %s\n", plugin::HostBuildFingerprint().c_str());
  std::printf("  LibTorch           %s\n", TORCH_VERSION);
  std::printf("  plugin search      %s\n",
              context.plugin_report.searched.empty()
                  ? "(nothing found)"
                  : absl::StrJoin(context.plugin_report.searched, ", ").c_str());
  std::printf("\nplugins:\n");
  for (const plugin::PluginRecord& p : context.loader->loaded()) {
    std::printf("  ok       %-14s %-8s ABI %u.%u, %d entries, %s\n", p.name.c_str(),
                p.version.c_str(), p.abi_major, p.abi_minor, p.num_entries, p.path.c_str());
  }
  int problems = 0;
  for (const PluginProblem& p : context.plugin_report.problems) {
    std::printf("  PROBLEM  %s\n", std::string(p.status.message()).c_str());
    ++problems;
  }
  if (context.loader->loaded().empty() && problems == 0) {
    std::printf("  (none found)\n");
  }
  std::printf("\n%s\n", problems == 0 ? "no problems found"
                                      : (std::to_string(problems) + " problem(s) found").c_str());
  return problems == 0 ? 0 : 1;
}

}  // namespace d2x::tool
