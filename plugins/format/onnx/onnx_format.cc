#include "plugins/format/onnx/onnx_format.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/export/manifest.h"
#include "core/util/status_macros.h"
#include "glog/logging.h"
#include "plugins/format/onnx/lowering.h"
#include "plugins/format/onnx/ort_node_runner.h"
#include "plugins/format/onnx/ort_run_js.h"

namespace d2x::onnx_format {
namespace fs = std::filesystem;
namespace {

constexpr char kOrtVersionProperty[] = "onnxruntime_version";
constexpr char kOrtDirProperty[] = "onnxruntime_node_dir";

// Input i's symbolic dims: dim 0 is the batch (N) for every input; a 4-D input (images) has
// dynamic height and width too.
InputSpec SpecFor(const std::string& name, const at::Tensor& sample) {
  InputSpec spec;
  spec.name = name;
  spec.shape = sample.sizes().vec();
  spec.elem_type = sample.scalar_type() == at::kLong ? onnx::TensorProto::INT64
                   : sample.scalar_type() == at::kInt ? onnx::TensorProto::INT32
                                                      : onnx::TensorProto::FLOAT;
  spec.dim_names.assign(spec.shape.size(), "");
  if (!spec.shape.empty()) spec.dim_names[0] = "N";
  if (spec.shape.size() == 4) {
    spec.dim_names[2] = "H";
    spec.dim_names[3] = "W";
  }
  return spec;
}

absl::Status WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("onnx: writing ", path.string(), " failed"));
  return absl::OkStatus();
}

class OnnxSession : public Session {
 public:
  OnnxSession(std::unique_ptr<OrtNodeServer> server, std::vector<std::string> input_names)
      : server_(std::move(server)), input_names_(std::move(input_names)) {}

  absl::StatusOr<std::vector<at::Tensor>> Run(const std::vector<at::Tensor>& inputs) override {
    last_runtime_seconds_.reset();
    if (inputs.size() != input_names_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("onnx: expected ", input_names_.size(),
                                                     " inputs (", absl::StrJoin(input_names_, ", "),
                                                     "), got ", inputs.size()));
    }
    std::vector<std::pair<std::string, at::Tensor>> named;
    for (size_t i = 0; i < inputs.size(); ++i) named.emplace_back(input_names_[i], inputs[i]);
    absl::StatusOr<std::vector<at::Tensor>> outputs = server_->Run(named);
    if (outputs.ok()) {
      last_runtime_seconds_ = server_->last_run_seconds();
      LOG(INFO) << "onnx: ONNX Runtime session.run took " << *last_runtime_seconds_ << " s ("
                << server_->ort_version() << ", tensors passed as files)";
    }
    return outputs;
  }

  // ONNX Runtime's session.run as timed by the node server (without the tensor files).
  std::optional<double> last_runtime_seconds() const override { return last_runtime_seconds_; }

 private:
  std::unique_ptr<OrtNodeServer> server_;
  std::vector<std::string> input_names_;
  std::optional<double> last_runtime_seconds_;
};

}  // namespace

absl::StatusOr<std::string> LocateOnnxRuntimeNode(const std::string& artifact_dir,
                                                  const std::string& recorded) {
  if (const char* env = std::getenv("D2X_ORT_NODE_DIR"); env != nullptr && *env != '\0') {
    return FindOnnxRuntimeNode(env);  // checks the variable
  }
  std::error_code ec;
  if (!recorded.empty() && fs::is_regular_file(fs::path(recorded) / "package.json", ec)) {
    return recorded;
  }
  std::vector<std::string> starts;
  if (const char* wd = std::getenv("BUILD_WORKING_DIRECTORY"); wd != nullptr && *wd != '\0') {
    starts.push_back(wd);
  }
  starts.push_back(fs::current_path(ec).string());
  if (!artifact_dir.empty()) starts.push_back(artifact_dir);
  for (const std::string& start : starts) {
    absl::StatusOr<std::string> found = FindOnnxRuntimeNode(start);
    if (found.ok()) return found;
  }
  return absl::NotFoundError(absl::StrCat(
      "onnx: ONNX Runtime (node_modules/onnxruntime-node) not found: set $D2X_ORT_NODE_DIR or run "
      "from the d2x checkout after tools/setup.sh (looked in ",
      recorded.empty() ? "" : absl::StrCat(recorded, ", "), "above ", absl::StrJoin(starts, ", "),
      ")"));
}

absl::StatusOr<ArtifactInfo> OnnxExporter::Export(const ExportRequest& request) {
  if (request.traceable == nullptr || request.traced == nullptr) {
    return absl::InvalidArgumentError("onnx: the request has no traced model");
  }
  if (!request.method.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("onnx: unknown method '", request.method, "' (the format has one)"));
  }
  LoweringOptions options;
  for (const auto& [key, value] : request.options) {
    if (key != kOpsetOption) {
      return absl::InvalidArgumentError(
          absl::StrCat("onnx: unknown option '", key, "' (available: opset)"));
    }
    if (!absl::SimpleAtoi(value, &options.opset)) {
      return absl::InvalidArgumentError(
          absl::StrCat("onnx: option opset='", value, "' is not an integer"));
    }
  }
  const std::vector<std::string> input_names = request.traceable->input_names();
  if (input_names.size() != request.sample_inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "onnx: the model names ", input_names.size(), " inputs but the trace has ",
        request.sample_inputs.size()));
  }
  for (size_t i = 0; i < input_names.size(); ++i) {
    options.inputs.push_back(SpecFor(input_names[i], request.sample_inputs[i]));
  }
  options.output_names = request.traceable->output_names();

  absl::StatusOr<onnx::ModelProto> model = [&]() -> absl::StatusOr<onnx::ModelProto> {
    try {
      std::shared_ptr<torch::jit::Graph> graph = request.traced->get_method("forward").graph();
      return LowerGraph(*graph, options);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("onnx: lowering the traced graph: ", e.what()));
    }
  }();
  if (!model.ok()) return model.status();
  // The runtime the artifact is verified with (recorded in the manifest).
  D2X_ASSIGN_OR_RETURN(const std::string ort_dir,
                       LocateOnnxRuntimeNode(request.output_dir, ""));
  D2X_ASSIGN_OR_RETURN(const std::string ort_version, OnnxRuntimeNodeVersion(ort_dir));

  const fs::path dir(request.output_dir);
  std::string bytes;
  if (!model->SerializeToString(&bytes)) {
    return absl::InternalError("onnx: serializing the model failed (over 2 GiB?)");
  }
  D2X_RETURN_IF_ERROR(WriteFile(dir / kModelFile, bytes));
  D2X_RETURN_IF_ERROR(WriteFile(dir / kRunScriptFile, kOrtRunJs));

  ArtifactInfo info;
  info.model_file = kModelFile;
  info.files = {kModelFile, kRunScriptFile};
  info.properties[kOpsetOption] = std::to_string(options.opset);
  info.properties[kOrtVersionProperty] = ort_version;
  info.properties[kOrtDirProperty] = ort_dir;
  info.properties["onnx_nodes"] = std::to_string(model->graph().node_size());
  info.properties["entry_point"] = absl::StrCat(
      "node ort_run.js <node_modules/onnxruntime-node> model.onnx IO_DIR [THREADS]; graph (",
      absl::StrJoin(input_names, ", "), ") -> (", absl::StrJoin(options.output_names, ", "), ")");
  return info;
}

absl::StatusOr<std::string> OnnxRunner::CheckRuntime() const {
  D2X_ASSIGN_OR_RETURN(const std::string ort_dir, LocateOnnxRuntimeNode("", ""));
  return CheckOnnxRuntimeNode(ort_dir);
}

absl::StatusOr<std::unique_ptr<Session>> OnnxRunner::Load(const std::string& artifact_dir) {
  D2X_ASSIGN_OR_RETURN(exporting::Manifest manifest, exporting::ReadManifest(artifact_dir));
  if (manifest.format != kFormatName) {
    return absl::InvalidArgumentError(absl::StrCat("artifact ", artifact_dir, " is in format '",
                                                   manifest.format, "', not onnx"));
  }
  const fs::path model = fs::path(artifact_dir) / manifest.model_file;
  const fs::path script = fs::path(artifact_dir) / kRunScriptFile;
  std::error_code ec;
  for (const fs::path& p : {model, script}) {
    if (!fs::is_regular_file(p, ec)) {
      return absl::NotFoundError(absl::StrCat("onnx: ", p.string(), " is missing"));
    }
  }
  auto recorded = manifest.properties.find(kOrtDirProperty);
  OrtNodeConfig config;
  config.script = script.string();
  D2X_ASSIGN_OR_RETURN(
      config.onnxruntime_node_dir,
      LocateOnnxRuntimeNode(artifact_dir,
                            recorded == manifest.properties.end() ? "" : recorded->second));
  config.threads = std::max(1, at::get_num_threads());
  D2X_ASSIGN_OR_RETURN(std::unique_ptr<OrtNodeServer> server,
                       OrtNodeServer::Start(config, model.string()));
  auto wanted = manifest.properties.find(kOrtVersionProperty);
  if (wanted != manifest.properties.end() && wanted->second != server->ort_version()) {
    LOG(WARNING) << "onnx: " << artifact_dir << " was verified with ONNX Runtime "
                 << wanted->second << ", running it with " << server->ort_version();
  }
  return std::unique_ptr<Session>(new OnnxSession(std::move(server), manifest.input_names()));
}

}  // namespace d2x::onnx_format
