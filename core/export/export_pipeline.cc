#include "core/export/export_pipeline.h"

#include <ATen/ATen.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/export/artifact.h"
#include "core/export/detector_io.h"
#include "core/io/files.h"
#include "core/io/image.h"
#include "core/modeling/build.h"
#include "core/pipeline/inputs.h"
#include "core/trace/trace.h"
#include "core/util/process_memory.h"
#include "core/util/status_macros.h"
#include "core/version.h"
#include "glog/logging.h"

namespace d2x::exporting {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// For progress lines: the process's peak memory so far.
std::string PeakRssText() {
  return absl::StrCat("peak RSS ", static_cast<int64_t>(util::PeakRssMiB()), " MiB");
}

std::string SizeText(const ImageInput& input) {
  return absl::StrCat(input.image.size(1), "x", input.image.size(2));
}

// A size near 3/4 of `size` that is not a multiple of 32 (nor of 8) and differs from `size`.
int64_t OtherSize(int64_t size) {
  int64_t s = std::max<int64_t>(1, size * 3 / 4);
  while (s > 1 && (s % 8 == 0 || s == size)) --s;
  return s;
}

// Symbolic shapes of the detector contract; other contracts get their observed shapes.
std::vector<TensorSpec> DescribeInputs(const std::vector<std::string>& names,
                                       const std::vector<at::Tensor>& sample) {
  std::vector<TensorSpec> specs;
  const bool detector = names == DetectorInputNames();
  for (size_t i = 0; i < names.size(); ++i) {
    TensorSpec spec{names[i], DtypeName(static_cast<int8_t>(sample[i].scalar_type())), {}};
    if (detector && i == 0) {
      spec.shape = {std::string("N"), sample[i].size(1), std::string("H"), std::string("W")};
    } else if (detector) {
      spec.shape = {std::string("N"), int64_t{2}};
    } else {
      for (int64_t d : sample[i].sizes()) spec.shape.emplace_back(d);
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::vector<TensorSpec> DescribeOutputs(const std::vector<std::string>& names,
                                        const std::vector<at::Tensor>& sample) {
  std::vector<TensorSpec> specs;
  const bool detector =
      std::find(names.begin(), names.end(), kNumInstancesOutput) != names.end();
  for (size_t i = 0; i < names.size(); ++i) {
    const at::Tensor& t = sample[i];
    const std::string& name = names[i];
    TensorSpec spec{name, DtypeName(static_cast<int8_t>(t.scalar_type())), {}};
    for (int64_t d = 0; d < t.dim(); ++d) spec.shape.emplace_back(t.size(d));
    if (detector && t.dim() > 0) {
      if (name == kImageSizeOutput || name == kNumInstancesOutput || name == kNumSegmentsOutput ||
          name == kSemSegOutput || name == kPanopticSegOutput) {
        spec.shape[0] = std::string("N");
      } else if (name == kSegmentsInfoOutput || name == kSegmentsScoreOutput) {
        spec.shape[0] = std::string("S");
      } else {
        spec.shape[0] = std::string("D");
      }
      if ((name == "pred_masks" || name == kPanopticSegOutput || name == kSemSegOutput) &&
          t.dim() >= 3) {
        spec.shape[t.dim() - 2] = std::string("max_output_height");
        spec.shape[t.dim() - 1] = std::string("max_output_width");
      }
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

nlohmann::json TraceCheckJson(const trace::TraceCheckResult& r,
                              const std::vector<std::string>& names) {
  nlohmann::json per_output = nlohmann::json::object();
  for (size_t i = 0; i < r.max_abs_diff.size() && i < names.size(); ++i) {
    per_output[names[i]] = r.max_abs_diff[i];
  }
  return {{"max_abs_diff", r.overall_max_abs_diff}, {"per_output", per_output}};
}

}  // namespace

struct ExportSession::Traced {
  std::string flavor;
  std::unique_ptr<TraceableModel> traceable;
  std::unique_ptr<torch::jit::Module> module;
  std::vector<at::Tensor> sample_inputs;
  std::vector<at::Tensor> sample_outputs;
  nlohmann::json report;
};

ExportSession::~ExportSession() = default;

std::string ExportOutcome::Summary() const {
  const std::string what = method.empty() ? format : absl::StrCat(format, " (", method, ")");
  if (status.ok()) return absl::StrCat(what, ": OK -> ", output_dir);
  return absl::StrCat(what, ": FAILED: ", status.message());
}

absl::StatusOr<std::vector<std::string>> ExportSession::FormatMethods(
    const plugin::Registry& registry, const std::string& format) {
  const auto* entry = registry.FindExporter(format);
  if (entry == nullptr) {
    const std::vector<std::string> known = registry.Names(plugin::EntryKind::kExporter);
    return absl::NotFoundError(absl::StrCat(
        "no plugin provides the export format '", format, "' (available: ",
        known.empty() ? "none — are the plugins loaded? see `d2x doctor`"
                      : absl::StrJoin(known, ", "),
        ")"));
  }
  std::vector<std::string> methods = entry->value()->methods();
  if (methods.empty()) methods.push_back("");
  return methods;
}

absl::StatusOr<std::unique_ptr<ExportSession>> ExportSession::Create(
    const plugin::Registry& registry, const ExportInputs& inputs) {
  std::unique_ptr<ExportSession> session(new ExportSession());
  session->registry_ = &registry;
  session->inputs_ = inputs;
  if (inputs.sample_image.empty()) {
    return absl::InvalidArgumentError(
        "a sample image is needed to trace the model (--sample_image IMG); it should contain "
        "detections, so that every branch of the model is exercised and verified");
  }
  auto start = Clock::now();
  LOG(INFO) << "[1/6] load: " << inputs.model.config_path;
  D2X_ASSIGN_OR_RETURN(pipeline::LoadedModel loaded, pipeline::LoadModel(registry, inputs.model));
  session->loaded_ = std::make_unique<pipeline::LoadedModel>(std::move(loaded));
  const config::Config& config = session->loaded_->config;
  D2X_ASSIGN_OR_RETURN(const std::string arch, config.GetString("MODEL.META_ARCHITECTURE"));
  if (registry.FindRewriter(arch) == nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        "MODEL.META_ARCHITECTURE '", arch, "' has no export rewriter (the plugin that builds it, ",
        registry.FindModelBuilder(arch) ? registry.FindModelBuilder(arch)->provenance.plugin_name
                                        : std::string("?"),
        ", registers none)"));
  }

  // The images, as DefaultPredictor prepares them.
  D2X_ASSIGN_OR_RETURN(const std::string format, config.GetString("INPUT.FORMAT"));
  D2X_ASSIGN_OR_RETURN(pipeline::PreparedImages sample,
                       pipeline::PrepareImages(config, {inputs.sample_image}));
  ImageInput second;
  std::string second_name;
  if (!inputs.second_image.empty()) {
    D2X_ASSIGN_OR_RETURN(pipeline::PreparedImages p,
                         pipeline::PrepareImages(config, {inputs.second_image}));
    second = p.inputs[0];
    second_name = fs::path(inputs.second_image).filename().string();
  } else {
    D2X_ASSIGN_OR_RETURN(at::Tensor image, io::ReadImage(inputs.sample_image, format));
    const int64_t h = OtherSize(image.size(1)), w = OtherSize(image.size(2));
    D2X_ASSIGN_OR_RETURN(second, pipeline::PrepareImage(config, image.slice(1, 0, h)
                                                                    .slice(2, 0, w)
                                                                    .contiguous()));
    second_name = absl::StrCat("sample cropped to ", h, "x", w);
  }
  const ImageInput& first = sample.inputs[0];
  session->sample_size_ = {first.image.size(1), first.image.size(2)};
  if (first.image.size(1) == second.image.size(1) && first.image.size(2) == second.image.size(2)) {
    LOG(WARNING) << "the second image has the sample's size: the checks will not show whether "
                    "the export generalizes to other sizes";
  }
  session->checks_ = {
      {absl::StrCat("sample ", SizeText(first)), {first}, {}},
      {absl::StrCat("second ", SizeText(second), " (", second_name, ")"), {second}, {}},
      {absl::StrCat("batch [", SizeText(first), ", ", SizeText(second), "]"), {first, second}, {}},
  };
  session->load_report_ = {{"config", inputs.model.config_path},
                           {"opts", inputs.model.opts},
                           {"weights", session->loaded_->weights_path},
                           {"sample_image", inputs.sample_image},
                           {"second_image", inputs.second_image.empty()
                                                ? second_name
                                                : inputs.second_image},
                           {"seconds", SecondsSince(start)}};
  LOG(INFO) << "[1/6] load: " << arch << " in " << SecondsSince(start) << " s ("
            << PeakRssText() << ")";
  return session;
}

absl::StatusOr<ExportSession::Traced*> ExportSession::RewriteAndTrace(const std::string& flavor,
                                                                      nlohmann::json& report) {
  if (auto it = traced_.find(flavor); it != traced_.end()) {
    LOG(INFO) << "[2/6] rewrite, [3/6] trace: reusing the flavor-" << flavor << " trace";
    report["rewrite_and_trace"] = it->second->report;
    report["rewrite_and_trace"]["reused"] = true;
    return it->second.get();
  }
  auto traced = std::make_unique<Traced>();
  traced->flavor = flavor;
  Model& model = *loaded_->model;
  const std::string arch = model.meta_architecture();

  auto start = Clock::now();
  std::unique_ptr<Rewriter> rewriter = registry_->FindRewriter(arch)->value();
  RewriteOptions rewrite_options;
  rewrite_options.flavor = flavor;
  D2X_ASSIGN_OR_RETURN(traced->traceable, rewriter->Rewrite(model, rewrite_options));
  const double rewrite_s = SecondsSince(start);
  LOG(INFO) << "[2/6] rewrite: " << arch << " (flavor " << flavor << ") in " << rewrite_s << " s";

  start = Clock::now();
  TraceableModel& t = *traced->traceable;
  D2X_ASSIGN_OR_RETURN(traced->sample_inputs, t.MakeInputs(checks_[0].batch));
  trace::TraceOptions options;
  options.input_names = t.input_names();
  options.output_names = t.output_names();
  options.module_name = absl::StrCat("__torch__.d2x.", arch);
  options.outputs = &traced->sample_outputs;
  // Optional: the trace against the rewritten function on the other checks' inputs, before any
  // exporter runs (verification checks the artifact on the same inputs against the eager model,
  // so this only localizes a failure to the trace).
  if (inputs_.trace_check) {
    for (size_t k = 1; k < checks_.size(); ++k) {
      D2X_ASSIGN_OR_RETURN(std::vector<at::Tensor> check_inputs, t.MakeInputs(checks_[k].batch));
      options.check_inputs.push_back(std::move(check_inputs));
    }
  }
  // The trace must reproduce the rewritten function; any difference means a recorded constant.
  options.check_atol = 1e-4;
  trace::TraceCheckResult last_check;
  options.check_result = &last_check;
  trace::TraceFunction fn = [&t](const std::vector<at::Tensor>& in) { return t.Forward(in); };
  D2X_ASSIGN_OR_RETURN(torch::jit::Module module,
                       trace::TraceToModule(fn, traced->sample_inputs, options));
  traced->module = std::make_unique<torch::jit::Module>(std::move(module));
  const double trace_s = SecondsSince(start);
  int64_t nodes = 0;
  for (auto* node : traced->module->get_method("forward").graph()->nodes()) {
    (void)node;
    ++nodes;
  }
  LOG(INFO) << "[3/6] trace: at " << checks_[0].name << ", " << nodes << " graph nodes"
            << (inputs_.trace_check
                    ? absl::StrCat(", checked against the function on ",
                                   options.check_inputs.size(), " other inputs (max |trace - ",
                                   "function| ", last_check.overall_max_abs_diff, ")")
                    : std::string())
            << " in " << trace_s << " s (" << PeakRssText() << ")";
  traced->report = {{"flavor", flavor},
                    {"rewrite_seconds", rewrite_s},
                    {"trace_seconds", trace_s},
                    {"graph_nodes", nodes},
                    {"peak_rss_mib", util::PeakRssMiB()}};
  if (inputs_.trace_check) {
    traced->report["trace_vs_function_at_batch"] = TraceCheckJson(last_check, t.output_names());
  }
  report["rewrite_and_trace"] = traced->report;
  Traced* raw = traced.get();
  traced_[flavor] = std::move(traced);
  return raw;
}

absl::Status ExportSession::WriteArtifactFiles(const ExportTarget& target,
                                               const std::string& method, const Traced& traced,
                                               const ArtifactInfo& info, const std::string& dir) {
  const config::Config& config = loaded_->config;
  D2X_ASSIGN_OR_RETURN(modeling::InputOptions input, modeling::InputOptionsFromConfig(config));
  Manifest m;
  m.format = target.format;
  m.method = method;
  m.flavor = traced.flavor;
  m.meta_architecture = loaded_->model->meta_architecture();
  m.model_file = info.model_file;
  m.files = info.files;
  m.files.push_back(kConfigFile);
  m.required_libraries = info.required_libraries;
  m.inputs = DescribeInputs(traced.traceable->input_names(), traced.sample_inputs);
  m.outputs = DescribeOutputs(traced.traceable->output_names(), traced.sample_outputs);
  m.output_schema_json = traced.traceable->output_schema_json();
  m.preprocessing.pixel_mean = input.pixel_mean;
  m.preprocessing.pixel_std = input.pixel_std;
  m.preprocessing.input_format = input.format;
  m.preprocessing.size_divisibility = traced.traceable->input_padding().size_divisibility;
  m.preprocessing.square_size = traced.traceable->input_padding().square_size;
  m.preprocessing.min_size_test = input.min_size_test;
  m.preprocessing.max_size_test = input.max_size_test;
  m.config_file = kConfigFile;
  m.config_hash = config.Hash();
  m.weights = loaded_->weights_path;
  m.versions = {{"d2x", kD2xVersion}, {"torch", TORCH_VERSION}};
  const std::string arch = m.meta_architecture;
  if (const auto* e = registry_->FindRewriter(arch)) {
    m.plugin_versions[e->provenance.plugin_name] = e->provenance.plugin_version;
  }
  if (const auto* e = registry_->FindExporter(target.format)) {
    m.plugin_versions[e->provenance.plugin_name] = e->provenance.plugin_version;
  }
  m.sample_image_size = sample_size_;
  m.properties = info.properties;
  D2X_RETURN_IF_ERROR(io::WriteFileAtomically((fs::path(dir) / kConfigFile).string(),
                                              config.ToYaml()));
  return io::WriteFileAtomically((fs::path(dir) / kManifestFile).string(), m.ToJson());
}

absl::Status ExportSession::ComputeEagerReferences() {
  if (eager_done_) return absl::OkStatus();
  const auto start = Clock::now();
  for (Check& check : checks_) {
    c10::InferenceMode guard;
    D2X_ASSIGN_OR_RETURN(check.eager, loaded_->model->Inference(check.batch));
  }
  eager_done_ = true;
  LOG(INFO) << "[5/6] verify: eager references for " << checks_.size() << " checks in "
            << SecondsSince(start) << " s (" << PeakRssText() << ")";
  return absl::OkStatus();
}

void ExportSession::Verify(const std::string& dir, ExportOutcome& outcome) {
  auto start = Clock::now();
  if (absl::Status eager = ComputeEagerReferences(); !eager.ok()) {
    outcome.status = eager;
    return;
  }
  absl::StatusOr<std::unique_ptr<LoadedArtifact>> artifact = LoadedArtifact::Load(*registry_, dir);
  if (!artifact.ok()) {
    outcome.status = artifact.status();
    return;
  }
  outcome.verified = true;
  for (const Check& check : checks_) {
    absl::StatusOr<std::vector<ImageResult>> results = [&] {
      c10::InferenceMode guard;
      return (*artifact)->Predict(check.batch);
    }();
    verify::BatchComparison comparison;
    if (!results.ok()) {
      comparison.name = check.name;
      comparison.error = std::string(results.status().message());
    } else {
      comparison = verify::CompareResults(check.name, check.eager, *results, inputs_.tolerances);
    }
    LOG(INFO) << "[5/6] verify: " << comparison.Summary() << " (" << PeakRssText() << ")";
    outcome.verified = outcome.verified && comparison.ok;
    outcome.checks.push_back(std::move(comparison));
  }
  outcome.report["verify_seconds"] = SecondsSince(start);
  if (!outcome.verified && outcome.status.ok()) {
    outcome.status = absl::DataLossError(
        "the artifact's results differ from the eager model's beyond the tolerances (see "
        "report.json)");
  }
}

absl::StatusOr<ExportOutcome> ExportSession::Export(const ExportTarget& target) {
  D2X_ASSIGN_OR_RETURN(std::vector<std::string> methods, FormatMethods(*registry_, target.format));
  std::string method = target.method.empty() ? methods.front() : target.method;
  if (std::find(methods.begin(), methods.end(), method) == methods.end()) {
    return absl::InvalidArgumentError(absl::StrCat("format '", target.format,
                                                   "' has no method '", method, "' (available: ",
                                                   absl::StrJoin(methods, ", "), ")"));
  }
  D2X_RETURN_IF_ERROR(CheckOutputDir(target.output_dir, target.overwrite));

  ExportOutcome outcome;
  outcome.format = target.format;
  outcome.method = method;
  outcome.output_dir = target.output_dir;
  nlohmann::json& report = outcome.report;
  report = {{"format", target.format},
            {"method", method},
            {"meta_architecture", loaded_->model->meta_architecture()},
            {"load", load_report_},
            {"tolerances", verify::MatchOptionsToJson(inputs_.tolerances)}};
  const auto total_start = Clock::now();

  std::unique_ptr<Exporter> exporter = registry_->FindExporter(target.format)->value();
  absl::StatusOr<Traced*> traced = RewriteAndTrace(exporter->rewrite_flavor(), report);
  if (!traced.ok()) {
    outcome.status = traced.status();
    return outcome;
  }

  absl::StatusOr<std::string> staging = CreateStagingDir(target.output_dir);
  if (!staging.ok()) {
    outcome.status = staging.status();
    return outcome;
  }
  auto start = Clock::now();
  ExportRequest request;
  request.traceable = (*traced)->traceable.get();
  request.traced = (*traced)->module.get();
  request.sample_inputs = (*traced)->sample_inputs;
  request.method = method;
  request.options = target.options;
  request.output_dir = *staging;
  request.runtime_libraries = inputs_.runtime_libraries;
  absl::StatusOr<ArtifactInfo> info = exporter->Export(request);
  if (info.ok()) {
    outcome.status = WriteArtifactFiles(target, method, **traced, *info, *staging);
    outcome.exported = outcome.status.ok();
  } else {
    outcome.status = info.status();
  }
  report["export_seconds"] = SecondsSince(start);
  report["export_peak_rss_mib"] = util::PeakRssMiB();
  if (!outcome.exported) {
    LOG(ERROR) << "[4/6] export: " << target.format << " failed: " << outcome.status;
    RemoveTree(*staging);
    return outcome;
  }
  LOG(INFO) << "[4/6] export: " << target.format << " (" << method << ") wrote "
            << absl::StrJoin(info->files, ", ") << " in " << SecondsSince(start) << " s ("
            << PeakRssText() << ")";

  Verify(*staging, outcome);
  nlohmann::json checks = nlohmann::json::array();
  for (const verify::BatchComparison& c : outcome.checks) checks.push_back(c.ToJson());
  report["checks"] = checks;
  report["ok"] = outcome.status.ok();
  if (!outcome.status.ok()) report["error"] = std::string(outcome.status.message());
  report["total_seconds"] = SecondsSince(total_start);
  absl::Status written = io::WriteFileAtomically((fs::path(*staging) / kReportFile).string(),
                                                 report.dump(2));
  if (!written.ok() && outcome.status.ok()) outcome.status = written;

  if (!outcome.status.ok() && !target.keep_failed) {
    LOG(ERROR) << "[6/6] install: not installing " << target.output_dir << ": " << outcome.status;
    RemoveTree(*staging);
    return outcome;
  }
  start = Clock::now();
  absl::Status installed = InstallArtifact(*staging, target.output_dir, target.overwrite);
  if (!installed.ok()) {
    RemoveTree(*staging);
    if (outcome.status.ok()) outcome.status = installed;
    return outcome;
  }
  outcome.installed = true;
  LOG(INFO) << "[6/6] install: " << target.output_dir
            << (outcome.status.ok() ? "" : " (FAILED artifact kept for debugging)") << " in "
            << SecondsSince(start) << " s";
  return outcome;
}

}  // namespace d2x::exporting
