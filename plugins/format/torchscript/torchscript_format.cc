#include "plugins/format/torchscript/torchscript_format.h"

#include <torch/script.h>

#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/export/detector_io.h"
#include "core/export/manifest.h"
#include "core/trace/module_io.h"
#include "core/trace/trace.h"
#include "nlohmann/json.hpp"
#include "plugins/format/torchscript/scripted_wrapper.h"

namespace d2x::torchscript {
namespace fs = std::filesystem;
namespace {

absl::Status CopyLibrary(const std::string& from, const std::string& dir, std::string* name) {
  std::error_code ec;
  if (from.empty() || !fs::is_regular_file(from, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "torchscript: the d2x ops library (libd2x_ops.so) is not available to ship with the "
        "artifact (looked for '", from, "')"));
  }
  *name = "libd2x_ops.so";
  fs::copy_file(from, fs::path(dir) / *name, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("torchscript: copying ", from, " into ", dir, ": ", ec.message()));
  }
  return absl::OkStatus();
}

// Loads the artifact's module; the d2x ops must already be registered in this process (they are
// in the d2x binary and its tests).
class TorchScriptSession : public Session {
 public:
  TorchScriptSession(torch::jit::Module module, std::string method,
                     std::vector<std::string> output_names)
      : module_(std::move(module)),
        method_(std::move(method)),
        output_names_(std::move(output_names)) {}

  absl::StatusOr<std::vector<at::Tensor>> Run(const std::vector<at::Tensor>& inputs) override {
    if (method_ != kScripting) return trace::RunModule(module_, inputs);
    return RunScripted(inputs);
  }

 private:
  // The flat contract through the scripted module's List[Tensor] interface.
  absl::StatusOr<std::vector<at::Tensor>> RunScripted(const std::vector<at::Tensor>& inputs) {
    if (inputs.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          "torchscript (scripting): expected 3 inputs (images, image_sizes, output_sizes), got ",
          inputs.size()));
    }
    std::vector<ImageResult> results;
    try {
      c10::NoGradGuard no_grad;
      const at::Tensor sizes = inputs[1].to(at::kLong).contiguous();
      const at::Tensor out_sizes = inputs[2].to(at::kLong).contiguous();
      c10::List<at::Tensor> images;
      c10::List<c10::List<int64_t>> output_sizes;
      for (int64_t i = 0; i < inputs[0].size(0); ++i) {
        const int64_t h = sizes[i][0].item<int64_t>(), w = sizes[i][1].item<int64_t>();
        images.push_back(inputs[0][i].slice(1, 0, h).slice(2, 0, w));
        output_sizes.push_back(
            c10::List<int64_t>({out_sizes[i][0].item<int64_t>(), out_sizes[i][1].item<int64_t>()}));
      }
      c10::IValue out = module_.get_method("inference")({images, output_sizes});
      int64_t i = 0;
      for (const c10::IValue& entry : out.toListRef()) {
        std::map<std::string, at::Tensor> fields;
        for (const auto& item : entry.toGenericDict()) {
          fields[item.key().toStringRef()] = item.value().toTensor();
        }
        absl::StatusOr<ImageResult> r = exporting::ImageResultFromFields(
            fields, out_sizes[i][0].item<int64_t>(), out_sizes[i][1].item<int64_t>());
        if (!r.ok()) return r.status();
        results.push_back(*std::move(r));
        ++i;
      }
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("running the scripted module failed: ", e.what_without_backtrace()));
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("running the scripted module failed: ", e.what()));
    }
    return exporting::ResultsToDetectorOutputs(results, output_names_);
  }

  torch::jit::Module module_;
  std::string method_;
  std::vector<std::string> output_names_;
};

}  // namespace

absl::StatusOr<ArtifactInfo> TorchScriptExporter::Export(const ExportRequest& request) {
  if (request.traceable == nullptr || request.traced == nullptr) {
    return absl::InvalidArgumentError("torchscript: the request has no traced model");
  }
  const std::string method = request.method.empty() ? kTracing : request.method;
  if (method != kTracing && method != kScripting) {
    return absl::InvalidArgumentError(absl::StrCat("torchscript: unknown method '", method,
                                                   "' (available: tracing, scripting)"));
  }
  for (const auto& [key, value] : request.options) {
    return absl::InvalidArgumentError(
        absl::StrCat("torchscript: unknown option '", key, "' (the format has no options)"));
  }
  const std::vector<std::string> output_names = request.traceable->output_names();
  const std::map<std::string, std::string> extra_files = {
      {kOutputSchemaExtraFile, request.traceable->output_schema_json()},
      {kOutputNamesExtraFile, nlohmann::json(output_names).dump()}};
  const std::string model_path = (fs::path(request.output_dir) / kModelFile).string();

  ArtifactInfo info;
  info.model_file = kModelFile;
  info.properties["method"] = method;
  if (method == kTracing) {
    if (absl::Status s = trace::SaveModule(*request.traced, model_path, extra_files); !s.ok()) {
      return s;
    }
    info.properties["entry_point"] =
        absl::StrCat("forward(", absl::StrJoin(request.traceable->input_names(), ", "),
                     ") -> Tuple[", absl::StrJoin(output_names, ", "), "]");
  } else {
    const InputPadding padding = request.traceable->input_padding();
    absl::StatusOr<torch::jit::Module> wrapper = BuildScriptedWrapper(
        *request.traced, output_names, padding.size_divisibility, padding.square_size);
    if (!wrapper.ok()) return wrapper.status();
    if (absl::Status s = trace::SaveModule(*wrapper, model_path, extra_files); !s.ok()) return s;
    info.properties["entry_point"] =
        "forward(images: List[Tensor]) -> List[Dict[str, Tensor]]; "
        "inference(images: List[Tensor], output_sizes: List[List[int]]) -> "
        "List[Dict[str, Tensor]]";
  }
  info.files.push_back(kModelFile);

  // The graph calls d2x:: ops: ship the library that registers them.
  auto ops = request.runtime_libraries.find(kD2xOpsLibrary);
  std::string library;
  if (absl::Status s = CopyLibrary(ops == request.runtime_libraries.end() ? "" : ops->second,
                                   request.output_dir, &library);
      !s.ok()) {
    return s;
  }
  info.files.push_back(library);
  info.required_libraries.push_back(library);
  return info;
}

absl::StatusOr<std::unique_ptr<Session>> TorchScriptRunner::Load(const std::string& artifact_dir) {
  absl::StatusOr<exporting::Manifest> manifest = exporting::ReadManifest(artifact_dir);
  if (!manifest.ok()) return manifest.status();
  if (manifest->format != kFormatName) {
    return absl::InvalidArgumentError(absl::StrCat("artifact ", artifact_dir, " is in format '",
                                                   manifest->format, "', not torchscript"));
  }
  const std::string path = (fs::path(artifact_dir) / manifest->model_file).string();
  absl::StatusOr<torch::jit::Module> module = trace::LoadModule(path);
  if (!module.ok()) return module.status();
  if (manifest->method == kScripting && module->find_method("inference") == c10::nullopt) {
    return absl::DataLossError(absl::StrCat(
        path, ": the manifest says method 'scripting' but the module has no inference method"));
  }
  module->eval();
  return std::unique_ptr<Session>(
      new TorchScriptSession(*std::move(module), manifest->method, manifest->output_names()));
}

}  // namespace d2x::torchscript
