// Test helper: load one part of a detectron2 checkpoint (e.g. "backbone.",
// "proposal_generator.") into a d2x module with the C++ checkpoint loader.
#ifndef D2X_CORE_MODELING_CHECKPOINT_TEST_UTIL_H_
#define D2X_CORE_MODELING_CHECKPOINT_TEST_UTIL_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/checkpoint/checkpoint.h"
#include "core/checkpoint/state_dict_loader.h"

namespace d2x::modeling::testing {

// The checkpoint's tensors (and module versions) whose names start with `prefix`, with the prefix
// removed.
checkpoint::Checkpoint FilterCheckpointByPrefix(const checkpoint::Checkpoint& ckpt,
                                                const std::string& prefix);

// Every parameter and buffer of `module` by its (detectron2) name.
std::vector<std::pair<std::string, at::Tensor>> NamedState(torch::nn::Module& module);

// LoadIntoModel(FilterCheckpointByPrefix(ckpt, prefix), NamedState(module)).
absl::StatusOr<checkpoint::LoadReport> LoadModuleFromCheckpoint(
    torch::nn::Module& module, const checkpoint::Checkpoint& ckpt, const std::string& prefix);

}  // namespace d2x::modeling::testing

#endif  // D2X_CORE_MODELING_CHECKPOINT_TEST_UTIL_H_
