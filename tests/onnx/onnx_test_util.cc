#include "tests/onnx/onnx_test_util.h"

#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace d2x::onnx_test {

namespace {
constexpr char kScript[] = "plugins/format/onnx/ort_run.js";
}  // namespace

onnx_format::OrtNodeConfig OrtTestConfig() {
  onnx_format::OrtNodeConfig config;
  config.script = std::filesystem::canonical(kScript).string();  // runfile -> the source tree
  absl::StatusOr<std::string> dir = onnx_format::FindOnnxRuntimeNode(config.script);
  EXPECT_TRUE(dir.ok()) << dir.status();  // fail, never skip
  if (dir.ok()) config.onnxruntime_node_dir = *dir;
  return config;
}

absl::StatusOr<Lowered> TraceLowerAndWrite(const trace::TraceFunction& fn,
                                           const std::vector<at::Tensor>& sample,
                                           const std::vector<std::string>& input_names,
                                           const std::string& module_name,
                                           const onnx_format::LoweringOptions& options,
                                           const std::string& name) {
  absl::StatusOr<torch::jit::Module> module =
      trace::TraceToModule(fn, sample, input_names, module_name);
  if (!module.ok()) return module.status();
  std::shared_ptr<torch::jit::Graph> graph = module->get_method("forward").graph();
  absl::StatusOr<onnx::ModelProto> model = onnx_format::LowerGraph(*graph, options);
  if (!model.ok()) return model.status();
  const std::string path = (std::filesystem::path(::testing::TempDir()) /
                            (name + "_" + std::to_string(options.opset) + ".onnx"))
                               .string();
  std::ofstream(path, std::ios::binary) << model->SerializeAsString();
  return Lowered{*module, *model, path};
}

void ExpectFloatResolutionBounded(const verify::MatchReport& report, bool ties_allowed) {
  EXPECT_LE(report.num_agreeing_at_resolution, kMaxPairsAtFloatResolution) << report.Summary();
  if (!ties_allowed) {
    EXPECT_EQ(report.num_tie_excused_expected + report.num_tie_excused_actual, 0)
        << report.Summary();
  }
}

}  // namespace d2x::onnx_test
