#include "core/pipeline/model_loader.h"

#include <chrono>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint/checkpoint.h"
#include "core/util/status_macros.h"
#include "glog/logging.h"

namespace d2x::pipeline {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

absl::StatusOr<std::string> ResolveWeights(const config::Config& config, const ModelSpec& spec) {
  if (spec.weights == kRandomWeights) return std::string();
  std::string path = spec.weights;
  if (path.empty()) {
    D2X_ASSIGN_OR_RETURN(path, config.GetString("MODEL.WEIGHTS"));
    if (path.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "no weights: ", spec.config_path,
          " has an empty MODEL.WEIGHTS; pass --weights FILE (or --weights random for timing)"));
    }
    if (absl::StrContains(path, "://")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MODEL.WEIGHTS in ", spec.config_path, " is a URL (", path,
          "); d2x never downloads: fetch the file yourself and pass --weights FILE"));
    }
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("weights file ", path, ": no such file"));
  }
  return path;
}

}  // namespace

absl::StatusOr<LoadedModel> LoadModel(const plugin::Registry& registry, const ModelSpec& spec) {
  D2X_ASSIGN_OR_RETURN(config::Config config, config::Config::FromFile(spec.config_path, spec.opts));
  D2X_ASSIGN_OR_RETURN(const std::string arch, config.GetString("MODEL.META_ARCHITECTURE"));
  const auto* builder = registry.FindModelBuilder(arch);
  if (builder == nullptr) {
    const std::vector<std::string> known = registry.Names(plugin::EntryKind::kModelBuilder);
    return absl::NotFoundError(absl::StrCat(
        spec.config_path, ": no plugin provides MODEL.META_ARCHITECTURE '", arch,
        "' (available: ", known.empty() ? "none — are the plugins loaded? see `d2x doctor`"
                                       : absl::StrJoin(known, ", "),
        ")"));
  }
  D2X_ASSIGN_OR_RETURN(std::string weights_path, ResolveWeights(config, spec));

  auto start = std::chrono::steady_clock::now();
  D2X_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, builder->value(config));
  LOG(INFO) << "built " << arch << " (plugin " << builder->provenance.plugin_name << ") in "
            << SecondsSince(start) << " s";

  LoadedModel loaded{std::move(config), std::move(model), weights_path, std::nullopt};
  if (weights_path.empty()) {
    LOG(WARNING) << "using random weights (--weights random): outputs are meaningless";
    return loaded;
  }
  start = std::chrono::steady_clock::now();
  D2X_ASSIGN_OR_RETURN(checkpoint::Checkpoint ckpt, checkpoint::LoadCheckpoint(weights_path));
  D2X_ASSIGN_OR_RETURN(checkpoint::LoadReport report,
                       checkpoint::LoadIntoModel(ckpt, loaded.model->StateDict()));
  LOG(INFO) << "loaded " << report.loaded.size() << " tensors from " << weights_path << " ("
            << ckpt.format << ") in " << SecondsSince(start) << " s";
  if (!report.unexpected.empty() || !report.shape_mismatch.empty() ||
      !report.filled_default.empty()) {
    LOG(WARNING) << report.ToString();
  }
  loaded.load_report = std::move(report);
  return loaded;
}

}  // namespace d2x::pipeline
