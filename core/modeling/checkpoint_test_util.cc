#include "core/modeling/checkpoint_test_util.h"

#include <map>

namespace d2x::modeling::testing {

namespace {

bool StripPrefix(const std::string& name, const std::string& prefix, std::string* out) {
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  *out = name.substr(prefix.size());
  return true;
}

}  // namespace

checkpoint::Checkpoint FilterCheckpointByPrefix(const checkpoint::Checkpoint& ckpt,
                                                const std::string& prefix) {
  checkpoint::Checkpoint out;
  out.path = ckpt.path;
  out.format = ckpt.format;
  out.matching_heuristics = ckpt.matching_heuristics;
  out.metadata = ckpt.metadata;
  out.ignored_classes = ckpt.ignored_classes;
  std::string stripped;
  for (const auto& [name, tensor] : ckpt.tensors) {
    if (StripPrefix(name, prefix, &stripped)) out.tensors.emplace_back(stripped, tensor);
  }
  if (ckpt.module_versions) {
    // Module prefixes are stored without the trailing dot ("backbone.bottom_up").
    std::map<std::string, int64_t> versions;
    for (const auto& [module, version] : *ckpt.module_versions) {
      if (StripPrefix(module + ".", prefix, &stripped)) {
        if (!stripped.empty()) stripped.pop_back();
        versions[stripped] = version;
      }
    }
    out.module_versions = std::move(versions);
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> NamedState(torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> state;
  for (const auto& p : module.named_parameters()) state.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) state.emplace_back(b.key(), b.value());
  return state;
}

absl::StatusOr<checkpoint::LoadReport> LoadModuleFromCheckpoint(
    torch::nn::Module& module, const checkpoint::Checkpoint& ckpt, const std::string& prefix) {
  return checkpoint::LoadIntoModel(FilterCheckpointByPrefix(ckpt, prefix), NamedState(module));
}

}  // namespace d2x::modeling::testing
