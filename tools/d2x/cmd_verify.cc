// `d2x verify`: run an exported artifact and the eager model it came from on the same images and
// compare them detection-aware (core/verify), as `d2x export` does after exporting.
#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/export/artifact.h"
#include "core/io/files.h"
#include "core/pipeline/inputs.h"
#include "core/pipeline/model_loader.h"
#include "core/verify/compare.h"
#include "glog/logging.h"
#include "nlohmann/json.hpp"
#include "tools/d2x/command.h"
#include "tools/d2x/flags.h"

namespace d2x::tool {
namespace {
namespace fs = std::filesystem;

// The images `d2x export` verified with, from report.json (when they still exist).
std::vector<std::string> ReportImages(const std::string& dir) {
  std::ifstream in(fs::path(dir) / exporting::kReportFile);
  nlohmann::json report = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  std::vector<std::string> images;
  if (report.is_discarded() || !report.contains("load")) return images;
  for (const char* key : {"sample_image", "second_image"}) {
    const nlohmann::json& v = report["load"].value(key, nlohmann::json());
    std::error_code ec;
    if (v.is_string() && fs::is_regular_file(v.get<std::string>(), ec)) {
      images.push_back(v.get<std::string>());
    }
  }
  return images;
}

absl::Status Verify(CommandContext& context, bool* ok) {
  const std::string dir = absl::GetFlag(FLAGS_artifact);
  if (dir.empty()) return absl::InvalidArgumentError("--artifact DIR is required");
  absl::StatusOr<std::unique_ptr<exporting::LoadedArtifact>> artifact =
      exporting::LoadedArtifact::Load(*context.registry, dir);
  if (!artifact.ok()) return artifact.status();
  const exporting::Manifest& manifest = (*artifact)->manifest();

  pipeline::ModelSpec spec;
  spec.config_path = (fs::path(dir) / manifest.config_file).string();
  spec.weights = absl::GetFlag(FLAGS_weights).empty() ? manifest.weights
                                                      : absl::GetFlag(FLAGS_weights);
  if (spec.weights.empty()) {
    return absl::InvalidArgumentError(
        "the manifest records no weights file; pass --weights FILE (the checkpoint exported)");
  }
  absl::StatusOr<pipeline::LoadedModel> loaded = pipeline::LoadModel(*context.registry, spec);
  if (!loaded.ok()) return loaded.status();
  if (loaded->config.Hash() != manifest.config_hash) {
    LOG(WARNING) << "the artifact's config hash " << manifest.config_hash
                 << " differs from its config.yaml's " << loaded->config.Hash();
  }

  std::vector<std::string> paths = context.inputs;
  if (paths.empty()) paths = ReportImages(dir);
  if (paths.empty()) {
    return absl::InvalidArgumentError(
        "no images: pass --input IMG (the images of the export's report.json are not available)");
  }
  absl::StatusOr<pipeline::PreparedImages> images = pipeline::PrepareImages(loaded->config, paths);
  if (!images.ok()) return images.status();

  // Each image alone, then all of them as one batch.
  std::vector<std::pair<std::string, std::vector<ImageInput>>> checks;
  for (size_t i = 0; i < paths.size(); ++i) {
    checks.push_back({fs::path(paths[i]).filename().string(), {images->inputs[i]}});
  }
  if (paths.size() > 1) checks.push_back({absl::StrCat("batch of ", paths.size()), images->inputs});

  *ok = true;
  nlohmann::json results = nlohmann::json::array();
  for (const auto& [name, batch] : checks) {
    c10::InferenceMode guard;
    absl::StatusOr<std::vector<ImageResult>> eager = loaded->model->Inference(batch);
    if (!eager.ok()) return eager.status();
    absl::StatusOr<std::vector<ImageResult>> exported = (*artifact)->Predict(batch);
    verify::BatchComparison c;
    if (exported.ok()) {
      c = verify::CompareResults(name, *eager, *exported);
    } else {
      c.name = name;
      c.error = std::string(exported.status().message());
    }
    std::printf("%s\n", c.Summary().c_str());
    *ok = *ok && c.ok;
    results.push_back(c.ToJson());
  }
  const nlohmann::json report = {{"artifact", dir},
                                 {"weights", spec.weights},
                                 {"ok", *ok},
                                 {"tolerances", verify::MatchOptionsToJson({})},
                                 {"checks", results}};
  if (const std::string out = absl::GetFlag(FLAGS_output); !out.empty()) {
    if (absl::Status s = io::WriteFileAtomically(out, report.dump(2)); !s.ok()) return s;
    std::printf("wrote %s\n", out.c_str());
  }
  std::printf("%s\n", *ok ? "verified: the artifact agrees with the eager model"
                          : "MISMATCH: the artifact differs from the eager model");
  return absl::OkStatus();
}

}  // namespace

int RunVerify(CommandContext& context) {
  bool ok = false;
  absl::Status status = Verify(context, &ok);
  if (!status.ok()) {
    std::fprintf(stderr, "d2x verify: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return ok ? 0 : 1;
}

}  // namespace d2x::tool
