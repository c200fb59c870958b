// `d2x inspect`: the resolved config, or the tensors of a checkpoint.
#include <ATen/ATen.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/config.h"
#include "tools/d2x/command.h"
#include "tools/d2x/flags.h"
#include "tools/d2x/table.h"

namespace d2x::tool {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "d2x inspect: %s\n", std::string(status.message()).c_str());
  return 1;
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (bytes >= 1024 && u < 3) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", bytes, units[u]);
  return buf;
}

int InspectWeights(const std::string& path) {
  absl::StatusOr<checkpoint::Checkpoint> ckpt = checkpoint::LoadCheckpoint(path);
  if (!ckpt.ok()) return Fail(ckpt.status());
  Table table({"NAME", "DTYPE", "SHAPE", "NUMEL"});
  int64_t total = 0, bytes = 0;
  for (const auto& [name, t] : ckpt->tensors) {
    table.AddRow({name, std::string(c10::toString(t.scalar_type())),
                  "[" + absl::StrJoin(t.sizes(), ", ") + "]", std::to_string(t.numel())});
    total += t.numel();
    bytes += t.numel() * static_cast<int64_t>(t.element_size());
  }
  std::fputs(table.ToString().c_str(), stdout);
  std::printf("\n%s: format %s, %zu tensors, %lld values, %s\n", path.c_str(),
              ckpt->format.c_str(), ckpt->tensors.size(), static_cast<long long>(total),
              HumanBytes(static_cast<double>(bytes)).c_str());
  for (const auto& [key, value] : ckpt->metadata) {
    std::printf("  %s: %s\n", key.c_str(), value.c_str());
  }
  return 0;
}

}  // namespace

int RunInspect(CommandContext& context) {
  const std::string config_path = absl::GetFlag(FLAGS_config);
  const std::string weights = absl::GetFlag(FLAGS_weights);
  if (config_path.empty() && weights.empty()) {
    return Fail(absl::InvalidArgumentError("give --config FILE [--opts K V ...] or --weights FILE"));
  }
  if (!config_path.empty()) {
    absl::StatusOr<config::Config> config = config::Config::FromFile(config_path, context.opts);
    if (!config.ok()) return Fail(config.status());
    std::fputs(config->ToYaml().c_str(), stdout);
  }
  if (!weights.empty()) return InspectWeights(weights);
  return 0;
}

}  // namespace d2x::tool
