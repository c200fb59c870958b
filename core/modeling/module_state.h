// A torch::nn::Module's state as detectron2 state_dict keys.
#ifndef D2X_CORE_MODELING_MODULE_STATE_H_
#define D2X_CORE_MODELING_MODULE_STATE_H_

#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

namespace d2x::modeling {

// Appends a module's parameters, then its buffers, recursively, as `prefix` + dotted name.
inline void CollectModuleState(const std::string& prefix, const torch::nn::Module& module,
                               std::vector<std::pair<std::string, at::Tensor>>* out) {
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    out->emplace_back(prefix + item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    out->emplace_back(prefix + item.key(), item.value());
  }
}

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_MODULE_STATE_H_
