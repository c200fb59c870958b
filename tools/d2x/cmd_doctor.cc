// `d2x doctor`: load every plugin and report problems (exit 1 if there are any).
#include <ATen/Parallel.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_join.h"
#include "core/plugin/loader.h"
#include "core/version.h"
#include "tools/d2x/command.h"
#include "torch/version.h"

namespace d2x::tool {
namespace {

// The BLAS library actually mapped into this process (LibTorch links libblas.so.3, which Debian's
// alternatives resolve to OpenBLAS or to the ~50x slower reference BLAS).
std::string LoadedBlas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("libblas.so") != std::string::npos ||
        path.find("libopenblas") != std::string::npos) {
      return path;
    }
  }
  return "";
}

}  // namespace

int RunDoctor(CommandContext& context) {
  std::printf("d2x %s\n", kD2xVersion);
  std::printf("  plugin ABI         %s\n", plugin::HostAbiVersion().c_str());
  std::printf("  build fingerprint  %s\n", plugin::HostBuildFingerprint().c_str());
  std::printf("  LibTorch           %s\n", TORCH_VERSION);
  std::printf("  intra-op threads   %d\n", at::get_num_threads());
  const std::string blas = LoadedBlas();
  const bool slow_blas = blas.find("openblas") == std::string::npos;
  std::printf("  BLAS               %s%s\n", blas.empty() ? "(none mapped)" : blas.c_str(),
              slow_blas ? "  <- PROBLEM: not OpenBLAS; install libopenblas0-pthread" : "");
  std::printf("  plugin search      %s\n",
              context.plugin_report.searched.empty()
                  ? "(nothing found)"
                  : absl::StrJoin(context.plugin_report.searched, ", ").c_str());
  std::printf("\nplugins:\n");
  for (const plugin::PluginRecord& p : context.loader->loaded()) {
    std::printf("  ok       %-14s %-8s ABI %u.%u, %d entries, %s\n", p.name.c_str(),
                p.version.c_str(), p.abi_major, p.abi_minor, p.num_entries, p.path.c_str());
  }
  int problems = slow_blas ? 1 : 0;
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
