// `d2x bench`: latency and peak memory of eager inference, or of an exported artifact next to
// the eager model it was exported from.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/export/artifact.h"
#include "core/pipeline/inputs.h"
#include "core/pipeline/model_loader.h"
#include "core/util/process_memory.h"
#include "glog/logging.h"
#include "tools/d2x/command.h"
#include "tools/d2x/flags.h"
#include "tools/d2x/table.h"

ABSL_FLAG(std::string, size, "800x1088", "Input size HxW of the random benchmark image.");
ABSL_FLAG(int, iters, 3, "Timed iterations (after one warm-up run).");
ABSL_FLAG(int, batch, 1, "Images per forward.");

namespace d2x::tool {
namespace {

absl::StatusOr<std::pair<int64_t, int64_t>> ParseSize(const std::string& text) {
  std::vector<std::string> hw = absl::StrSplit(text, 'x');
  int64_t h = 0, w = 0;
  if (hw.size() != 2 || !absl::SimpleAtoi(hw[0], &h) || !absl::SimpleAtoi(hw[1], &w) || h <= 0 ||
      w <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("--size '", text, "': expected HxW, e.g. 800x1088"));
  }
  return std::make_pair(h, w);
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", s);
  return buf;
}

struct Timing {
  double median = 0.0;
  double p90 = 0.0;
  // Median of the time spent inside the runtime itself (Session::last_runtime_seconds) over the
  // same timed runs; nullopt unless every timed run reported it.
  std::optional<double> runtime_median;
  int64_t detections = 0;
};

// The q-quantile of non-empty `values` as the element at index min(n - 1, floor(q * n)) of the
// sorted values (q = 0.5: the median, values[n / 2]).
double Quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(q * values.size()))];
}

// One warm-up run, then `iters` timed runs of `infer`. `runtime_seconds` (optional) reports the
// runtime's own time for the run that just finished.
absl::StatusOr<Timing> TimeRuns(
    const std::string& label, int iters,
    const std::function<absl::StatusOr<std::vector<ImageResult>>()>& infer,
    const std::function<std::optional<double>()>& runtime_seconds = nullptr) {
  std::vector<double> times;
  std::vector<double> runtime_times;
  Timing timing;
  c10::InferenceMode guard;
  for (int i = 0; i <= iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<ImageResult>> results = infer();
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!results.ok()) return results.status();
    timing.detections = (*results)[0].instances.size();
    const std::optional<double> runtime_t =
        runtime_seconds ? runtime_seconds() : std::optional<double>();
    LOG(INFO) << label << " " << (i == 0 ? "warm-up" : absl::StrCat("iteration ", i)) << ": "
              << t << " s"
              << (runtime_t ? absl::StrCat(" (", *runtime_t, " s in the runtime)") : "");
    if (i > 0) {
      times.push_back(t);
      if (runtime_t) runtime_times.push_back(*runtime_t);
    }
  }
  timing.median = Quantile(times, 0.5);
  timing.p90 = Quantile(times, 0.9);
  if (!runtime_times.empty() && runtime_times.size() == times.size()) {
    timing.runtime_median = Quantile(runtime_times, 0.5);
  }
  return timing;
}

absl::Status Bench(CommandContext& context) {
  const std::string artifact_dir = absl::GetFlag(FLAGS_artifact);
  if (absl::GetFlag(FLAGS_config).empty() && artifact_dir.empty()) {
    return absl::InvalidArgumentError("--config or --artifact is required");
  }
  if (!absl::GetFlag(FLAGS_config).empty() && !artifact_dir.empty()) {
    return absl::InvalidArgumentError(
        "give --config or --artifact, not both (the artifact's eager model is built from its "
        "config.yaml)");
  }
  absl::StatusOr<std::pair<int64_t, int64_t>> size = ParseSize(absl::GetFlag(FLAGS_size));
  if (!size.ok()) return size.status();
  const int iters = std::max(1, absl::GetFlag(FLAGS_iters));
  const int batch = std::max(1, absl::GetFlag(FLAGS_batch));

  std::unique_ptr<exporting::LoadedArtifact> artifact;
  pipeline::ModelSpec spec{absl::GetFlag(FLAGS_config), context.opts, absl::GetFlag(FLAGS_weights)};
  if (!artifact_dir.empty()) {
    absl::StatusOr<std::unique_ptr<exporting::LoadedArtifact>> a =
        exporting::LoadedArtifact::Load(*context.registry, artifact_dir);
    if (!a.ok()) return a.status();
    artifact = *std::move(a);
    spec.config_path =
        (std::filesystem::path(artifact_dir) / artifact->manifest().config_file).string();
    if (spec.weights.empty()) spec.weights = artifact->manifest().weights;
  }
  absl::StatusOr<pipeline::LoadedModel> loaded = pipeline::LoadModel(*context.registry, spec);
  if (!loaded.ok()) return loaded.status();

  at::manual_seed(0);
  std::vector<ImageInput> inputs;
  for (int b = 0; b < batch; ++b) {
    at::Tensor image = at::randint(0, 256, {3, size->first, size->second}, at::kByte);
    absl::StatusOr<ImageInput> input = pipeline::PrepareImage(loaded->config, image);
    if (!input.ok()) return input.status();
    inputs.push_back(*input);
  }
  // RUNTIME_MEDIAN_S: the median time inside the runtime itself (e.g. ONNX Runtime's
  // session.run, without the I/O marshalling) for sessions that report it, "-" otherwise.
  Table table({"MODEL", "RUNTIME", "SIZE", "BATCH", "THREADS", "ITERS", "MEDIAN_S", "P90_S",
               "RUNTIME_MEDIAN_S", "DETECTIONS", "PEAK_RSS_MIB"});
  auto add_row = [&](const std::string& runtime, const Timing& t) {
    table.AddRow({loaded->model->meta_architecture(), runtime, absl::GetFlag(FLAGS_size),
                  std::to_string(batch), std::to_string(at::get_num_threads()),
                  std::to_string(iters), Seconds(t.median), Seconds(t.p90),
                  t.runtime_median ? Seconds(*t.runtime_median) : "-",
                  std::to_string(t.detections),
                  std::to_string(static_cast<int64_t>(util::PeakRssMiB()))});
  };
  // The artifact first: the peak RSS column is cumulative.
  if (artifact) {
    const exporting::Manifest& m = artifact->manifest();
    const std::string runtime =
        m.method.empty() ? m.format : absl::StrCat(m.format, " (", m.method, ")");
    absl::StatusOr<Timing> t =
        TimeRuns(runtime, iters, [&] { return artifact->Predict(inputs); },
                 [&] { return artifact->session().last_runtime_seconds(); });
    if (!t.ok()) return t.status();
    add_row(runtime, *t);
  }
  absl::StatusOr<Timing> eager =
      TimeRuns("eager", iters, [&] { return loaded->model->Inference(inputs); });
  if (!eager.ok()) return eager.status();
  add_row("eager", *eager);
  std::fputs(table.ToString().c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace

int RunBench(CommandContext& context) {
  absl::Status status = Bench(context);
  if (!status.ok()) {
    std::fprintf(stderr, "d2x bench: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace d2x::tool
