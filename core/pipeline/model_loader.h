// Config + checkpoint → a ready eager Model, through the plugin registry. Shared by every d2x
// command that needs a model (run, export, verify, bench).
#ifndef D2X_CORE_PIPELINE_MODEL_LOADER_H_
#define D2X_CORE_PIPELINE_MODEL_LOADER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/checkpoint/state_dict_loader.h"
#include "core/config/config.h"
#include "core/model.h"
#include "core/plugin/registry.h"

namespace d2x::pipeline {

// Pass as `weights` to build a model with its random initial weights (for timing only).
inline constexpr char kRandomWeights[] = "random";

struct ModelSpec {
  std::string config_path;
  std::vector<std::string> opts;  // KEY VALUE ... overrides
  // A .pth / .pkl path; empty = the config's MODEL.WEIGHTS; kRandomWeights = no checkpoint.
  std::string weights;
};

struct LoadedModel {
  config::Config config;
  std::unique_ptr<Model> model;
  std::string weights_path;                             // empty for random weights
  std::optional<checkpoint::LoadReport> load_report;    // what the checkpoint filled
};

// Resolves the config, finds the model builder for MODEL.META_ARCHITECTURE (an error lists the
// registered architectures), builds the model and loads the checkpoint into it (missing weights
// are an error; unexpected / shape-mismatched keys are logged).
absl::StatusOr<LoadedModel> LoadModel(const plugin::Registry& registry, const ModelSpec& spec);

}  // namespace d2x::pipeline

#endif  // D2X_CORE_PIPELINE_MODEL_LOADER_H_
