// The export driver behind `d2x export`:
//
//   1. load      config + checkpoint -> eager Model (core/pipeline), sample images prepared as
//                detectron2's DefaultPredictor does
//   2. rewrite   the architecture plugin's Rewriter, flavor from the format's Exporter
//   3. trace     core/trace at the sample image: one run of the rewritten function under the
//                tracer (its outputs describe the manifest's outputs); with trace_check, the
//                trace is also run against the function on the second image and on the batch
//                of both before any exporter runs
//   4. export    the format's Exporter writes into a staging directory next to the output;
//                the driver adds config.yaml and manifest.json
//   5. verify    the eager model's results on the sample, the second image and both as a batch
//                of 2 are computed (once per session); the artifact is loaded through the
//                format's Runner and run on the same batches; results are compared (core/verify,
//                the fixture tolerances; a trace that baked a size fails here); report.json
//                records everything
//   6. install   the staging directory is renamed to the output (replacing an existing one only
//                with overwrite); on any failure the staging directory is removed, so a failed
//                export leaves nothing behind (unless keep_failed, which installs the failed
//                artifact with its report for debugging)
//
// Each step logs a progress line with its duration (glog INFO). The model is loaded and traced
// once for several targets (`--format all`).
#ifndef D2X_CORE_EXPORT_EXPORT_PIPELINE_H_
#define D2X_CORE_EXPORT_EXPORT_PIPELINE_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/export/manifest.h"
#include "core/exporter.h"
#include "core/model.h"
#include "core/pipeline/model_loader.h"
#include "core/plugin/registry.h"
#include "core/rewriter.h"
#include "core/verify/compare.h"
#include "nlohmann/json.hpp"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace d2x::exporting {

struct ExportInputs {
  pipeline::ModelSpec model;
  std::string sample_image;  // required: the trace is made at this image
  // Optional: another image for the checks; by default the sample cropped to a size that is not
  // a multiple of 32 (and differs from the sample's).
  std::string second_image;
  // Files shipped with artifacts (kD2xOpsLibrary -> path of libd2x_ops.so).
  std::map<std::string, std::string> runtime_libraries;
  verify::MatchOptions tolerances;  // the fixtures' tolerances by default
  // Step 3 also compares the trace with the rewritten function on the second image and the
  // batch (3 more forward passes each; verification covers the same inputs end to end).
  bool trace_check = false;
};

struct ExportTarget {
  std::string format;
  std::string method;  // "" = the format's default
  std::map<std::string, std::string> options;
  std::string output_dir;
  bool overwrite = false;
  bool keep_failed = false;
};

struct ExportOutcome {
  std::string format;
  std::string method;
  std::string output_dir;
  absl::Status status;             // OK when exported, verified and installed
  bool exported = false;           // the exporter succeeded
  bool verified = false;           // every check passed
  bool installed = false;          // the directory is at output_dir
  std::vector<verify::BatchComparison> checks;
  nlohmann::json report;           // what report.json holds
  std::string Summary() const;     // one line
};

class ExportSession {
 public:
  // Step 1. Errors: config/weights/images that cannot be loaded, no rewriter for the model.
  static absl::StatusOr<std::unique_ptr<ExportSession>> Create(const plugin::Registry& registry,
                                                               const ExportInputs& inputs);
  ~ExportSession();

  // Steps 2-6 for one target. The returned outcome carries the error of a failed step (the
  // StatusOr itself fails only for invalid targets: unknown format or method, existing output).
  absl::StatusOr<ExportOutcome> Export(const ExportTarget& target);

  const pipeline::LoadedModel& model() const { return *loaded_; }

  // The methods of a registered format ({""} when it has none).
  static absl::StatusOr<std::vector<std::string>> FormatMethods(const plugin::Registry& registry,
                                                                const std::string& format);

 private:
  struct Traced;  // a rewrite + trace of one flavor

  ExportSession() = default;
  absl::StatusOr<Traced*> RewriteAndTrace(const std::string& flavor, nlohmann::json& report);
  absl::Status WriteArtifactFiles(const ExportTarget& target, const std::string& method,
                                  const Traced& traced, const ArtifactInfo& info,
                                  const std::string& dir);
  void Verify(const std::string& dir, ExportOutcome& outcome);
  absl::Status ComputeEagerReferences();  // fills checks_[*].eager once

  const plugin::Registry* registry_ = nullptr;
  ExportInputs inputs_;
  std::unique_ptr<pipeline::LoadedModel> loaded_;
  // The three checks: name, batch, eager results.
  struct Check {
    std::string name;
    std::vector<ImageInput> batch;
    std::vector<ImageResult> eager;
  };
  std::vector<Check> checks_;
  bool eager_done_ = false;
  std::vector<int64_t> sample_size_;  // (height, width) the model saw for the sample
  std::map<std::string, std::unique_ptr<Traced>> traced_;  // by flavor
  nlohmann::json load_report_;
};

}  // namespace d2x::exporting

#endif  // D2X_CORE_EXPORT_EXPORT_PIPELINE_H_
