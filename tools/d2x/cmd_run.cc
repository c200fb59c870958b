// `d2x run`: inference of the eager model (--config) or of an exported artifact (--artifact) on
// image files → COCO results JSON (+ drawings).
#include <torch/csrc/autograd/grad_mode.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/config/config.h"
#include "core/export/artifact.h"
#include "core/io/coco_results.h"
#include "core/io/draw.h"
#include "core/io/image.h"
#include "core/pipeline/inputs.h"
#include "core/pipeline/model_loader.h"
#include "glog/logging.h"
#include "tools/d2x/command.h"
#include "tools/d2x/flags.h"
#include "tools/d2x/output_files.h"

ABSL_FLAG(std::string, draw, "",
          "Write the image(s) with results drawn: PATH for one input; PATH's stem + .<index> + "
          "extension for several.");
ABSL_FLAG(double, draw_min_score, 0.5, "Draw only instances scoring at least this much.");
ABSL_FLAG(bool, coco_category_ids, false,
          "Map contiguous class ids 0..79 to COCO category ids in results.json.");

namespace d2x::tool {
namespace {

std::string DrawPath(const std::string& path, size_t index, size_t count) {
  if (count == 1) return path;
  std::filesystem::path p(path);
  return (p.parent_path() / (p.stem().string() + "." + std::to_string(index) +
                             p.extension().string()))
      .string();
}

absl::Status Run(CommandContext& context) {
  if (context.inputs.empty()) return absl::InvalidArgumentError("no --input images given");
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output.empty()) return absl::InvalidArgumentError("--output results.json is required");
  if (const auto dir = std::filesystem::path(output).parent_path(); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }
  const std::string artifact_dir = absl::GetFlag(FLAGS_artifact);
  if (absl::GetFlag(FLAGS_config).empty() && artifact_dir.empty()) {
    return absl::InvalidArgumentError("--config (eager model) or --artifact (exported) is required");
  }
  if (!absl::GetFlag(FLAGS_config).empty() && !artifact_dir.empty()) {
    return absl::InvalidArgumentError(
        "give --config (eager model) or --artifact (exported model), not both: an artifact "
        "carries its own config.yaml");
  }
  // Either the eager model or an exported artifact (same inputs, same outputs).
  std::optional<pipeline::LoadedModel> loaded;
  std::unique_ptr<exporting::LoadedArtifact> artifact;
  config::Config config;
  std::string what;
  if (artifact_dir.empty()) {
    pipeline::ModelSpec spec{absl::GetFlag(FLAGS_config), context.opts,
                             absl::GetFlag(FLAGS_weights)};
    absl::StatusOr<pipeline::LoadedModel> model = pipeline::LoadModel(*context.registry, spec);
    if (!model.ok()) return model.status();
    loaded = *std::move(model);
    config = loaded->config;
    what = loaded->model->meta_architecture();
  } else {
    if (!context.opts.empty() || !absl::GetFlag(FLAGS_weights).empty()) {
      return absl::InvalidArgumentError("--opts and --weights do not apply to --artifact");
    }
    absl::StatusOr<std::unique_ptr<exporting::LoadedArtifact>> a =
        exporting::LoadedArtifact::Load(*context.registry, artifact_dir);
    if (!a.ok()) return a.status();
    artifact = *std::move(a);
    const std::string config_path =
        (std::filesystem::path(artifact_dir) / artifact->manifest().config_file).string();
    absl::StatusOr<config::Config> c = config::Config::FromFile(config_path);
    if (!c.ok()) return c.status();
    config = *std::move(c);
    what = absl::StrCat(artifact->manifest().meta_architecture, " exported to ",
                        artifact->manifest().format,
                        artifact->manifest().method.empty()
                            ? ""
                            : absl::StrCat(" (", artifact->manifest().method, ")"));
  }
  absl::StatusOr<pipeline::PreparedImages> images =
      pipeline::PrepareImages(config, context.inputs);
  if (!images.ok()) return images.status();

  LOG(INFO) << "running " << what << " on " << images->inputs.size()
            << " image(s) in one batch";
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<ImageResult>> results = [&] {
    c10::InferenceMode guard;
    return artifact ? artifact->Predict(images->inputs) : loaded->model->Inference(images->inputs);
  }();
  if (!results.ok()) return results.status();
  LOG(INFO) << "inference took "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s";

  nlohmann::json json = nlohmann::json::array();
  io::CocoResultsOptions options{absl::GetFlag(FLAGS_coco_category_ids)};
  for (size_t i = 0; i < results->size(); ++i) {
    io::AppendCocoResults((*results)[i].instances, static_cast<int64_t>(i), options, json);
  }
  if (absl::Status s = WriteFileAtomically(output, json.dump()); !s.ok()) return s;
  for (size_t i = 0; i < results->size(); ++i) {
    if (absl::Status s = WriteExtraOutputs(output, i, (*results)[i]); !s.ok()) {
      return s;
    }
  }
  std::printf("wrote %zu detections for %zu image(s) to %s\n", json.size(), results->size(),
              output.c_str());

  if (const std::string draw = absl::GetFlag(FLAGS_draw); !draw.empty()) {
    for (size_t i = 0; i < results->size(); ++i) {
      absl::StatusOr<at::Tensor> drawn = io::DrawResult(images->originals[i], (*results)[i],
                                                      absl::GetFlag(FLAGS_draw_min_score));
      if (!drawn.ok()) return drawn.status();
      const std::string path = DrawPath(draw, i, results->size());
      if (absl::Status s = io::WriteImage(path, *drawn); !s.ok()) return s;
      std::printf("drew %s\n", path.c_str());
    }
  }
  return absl::OkStatus();
}

}  // namespace

int RunRun(CommandContext& context) {
  absl::Status status = Run(context);
  if (!status.ok()) {
    std::fprintf(stderr, "d2x run: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace d2x::tool
