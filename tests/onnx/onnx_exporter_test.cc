// The ONNX format's exporter and runner (plugins/format/onnx/onnx_format.h) on small traced
// models: export -> manifest -> OnnxRunner::Load (the persistent ort_run.js server) -> run at
// other sizes and batches than the trace, compared with LibTorch; options; the unlowered-op
// error writes nothing. Whole detectors: tests/onnx/onnx_detector_export_test.cc.
#include <ATen/ATen.h>
#include <onnx/onnx_pb.h>
#include <torch/script.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/export/manifest.h"
#include "core/exporter.h"
#include "core/rewriter.h"
#include "core/trace/module_io.h"
#include "core/trace/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/format/onnx/onnx_format.h"
#include "plugins/format/onnx/ort_node_runner.h"

namespace d2x::onnx_format {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A small model with the detector input names: normalize-like arithmetic, conv, relu, pooling;
// `unlowerable` adds an aten::cumsum (no ONNX lowering).
class ToyTraceable : public TraceableModel {
 public:
  explicit ToyTraceable(bool unlowerable) : unlowerable_(unlowerable) {
    torch::manual_seed(3);
    w_ = at::randn({4, 3, 3, 3});
    b_ = at::randn({4});
  }
  std::vector<std::string> input_names() const override {
    return {"images", "image_sizes", "output_sizes"};
  }
  std::vector<std::string> output_names() const override { return {"features", "pooled"}; }
  std::string output_schema_json() const override { return "{}"; }
  absl::StatusOr<std::vector<at::Tensor>> MakeInputs(
      const std::vector<ImageInput>&) const override {
    return absl::UnimplementedError("toy");
  }
  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& in) override {
    at::Tensor x = at::div(at::sub(in[0], 100.0), 50.0);
    x = at::relu(at::conv2d(x, w_, b_, {1, 1}, {1, 1}));
    if (unlowerable_) x = at::cumsum(x, 3);
    at::Tensor p = at::max_pool2d(x, {2, 2}, {2, 2});
    return {x, p};
  }

 private:
  bool unlowerable_;
  at::Tensor w_, b_;
};

std::vector<at::Tensor> Inputs(int64_t n, int64_t h, int64_t w) {
  at::Tensor sizes = at::tensor({h, w}, at::kLong).repeat({n, 1});
  return {at::rand({n, 3, h, w}) * 255, sizes, sizes.clone()};
}

std::string FreshDir(const std::string& name) {
  const fs::path dir = fs::path(testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

struct Exported {
  torch::jit::Module traced;
  absl::StatusOr<ArtifactInfo> info;
};

Exported ExportToy(ToyTraceable& toy, const std::string& dir,
                   std::map<std::string, std::string> options = {}) {
  const std::vector<at::Tensor> sample = Inputs(1, 32, 48);
  absl::StatusOr<torch::jit::Module> module = trace::TraceToModule(
      [&](const std::vector<at::Tensor>& in) { return toy.Forward(in); }, sample,
      toy.input_names(), "__torch__.d2x.Toy");
  EXPECT_TRUE(module.ok()) << module.status();
  Exported out{*module, absl::UnknownError("not exported")};
  ExportRequest request;
  request.traceable = &toy;
  request.traced = &out.traced;
  request.sample_inputs = sample;
  request.options = std::move(options);
  request.output_dir = dir;
  out.info = OnnxExporter().Export(request);
  return out;
}

// What the export driver adds: manifest.json (the parts the runner reads).
void WriteManifest(const std::string& dir, const ArtifactInfo& info) {
  exporting::Manifest m;
  m.format = kFormatName;
  m.meta_architecture = "Toy";
  m.model_file = info.model_file;
  m.files = info.files;
  m.inputs = {{"images", "float32", {std::string("N"), 3, std::string("H"), std::string("W")}},
              {"image_sizes", "int64", {std::string("N"), 2}},
              {"output_sizes", "int64", {std::string("N"), 2}}};
  m.outputs = {{"features", "float32", {}}, {"pooled", "float32", {}}};
  m.properties = info.properties;
  std::ofstream(fs::path(dir) / exporting::kManifestFile) << m.ToJson();
}

// The runtime as a user of the checkout has it: node_modules above the source tree (found from
// the ort_run.js runfile, a symlink into the tree), passed as $D2X_ORT_NODE_DIR.
class OrtEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    absl::StatusOr<std::string> dir =
        FindOnnxRuntimeNode(fs::canonical("plugins/format/onnx/ort_run.js").string());
    ASSERT_TRUE(dir.ok()) << dir.status();
    setenv("D2X_ORT_NODE_DIR", dir->c_str(), 1);
  }
};
const ::testing::Environment* const kOrtEnvironment =
    ::testing::AddGlobalTestEnvironment(new OrtEnvironment());

TEST(OnnxExporterTest, ExportsLoadsAndRunsAtOtherSizesAndBatches) {
  ToyTraceable toy(false);
  const std::string dir = FreshDir("toy");
  Exported exported = ExportToy(toy, dir);
  ASSERT_TRUE(exported.info.ok()) << exported.info.status();
  EXPECT_EQ(exported.info->model_file, kModelFile);
  EXPECT_THAT(exported.info->files, ::testing::ElementsAre("model.onnx", "ort_run.js"));
  EXPECT_EQ(exported.info->properties.at("opset"), "17");
  EXPECT_EQ(exported.info->properties.at("onnxruntime_version"), "1.30.0");
  EXPECT_TRUE(fs::is_regular_file(fs::path(dir) / "ort_run.js"));

  // Graph I/O names and dynamic dims.
  onnx::ModelProto model;
  std::ifstream in(fs::path(dir) / kModelFile, std::ios::binary);
  ASSERT_TRUE(model.ParseFromIstream(&in));
  ASSERT_EQ(model.graph().input_size(), 3);
  EXPECT_EQ(model.graph().input(0).name(), "images");
  EXPECT_EQ(model.graph().input(2).name(), "output_sizes");
  const auto& dims = model.graph().input(0).type().tensor_type().shape();
  EXPECT_EQ(dims.dim(0).dim_param(), "N");
  EXPECT_EQ(dims.dim(1).dim_value(), 3);
  EXPECT_EQ(dims.dim(2).dim_param(), "H");
  EXPECT_EQ(dims.dim(3).dim_param(), "W");
  EXPECT_EQ(model.graph().input(1).type().tensor_type().shape().dim(0).dim_param(), "N");
  ASSERT_EQ(model.graph().output_size(), 2);
  EXPECT_EQ(model.graph().output(0).name(), "features");
  EXPECT_EQ(model.graph().output(1).name(), "pooled");

  WriteManifest(dir, *exported.info);
  absl::StatusOr<std::unique_ptr<Session>> session = OnnxRunner().Load(dir);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->last_runtime_seconds(), std::nullopt) << "before the first Run";
  torch::manual_seed(1);
  // The sample size, another size, batch 2: several runs through one server process.
  for (const std::vector<at::Tensor>& inputs :
       {Inputs(1, 32, 48), Inputs(1, 40, 26), Inputs(2, 18, 64)}) {
    absl::StatusOr<std::vector<at::Tensor>> expected = trace::RunModule(exported.traced, inputs);
    ASSERT_TRUE(expected.ok()) << expected.status();
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<at::Tensor>> got = (*session)->Run(inputs);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(got.ok()) << got.status();
    // ONNX Runtime's own session.run time: reported, positive, and part of Run's wall time.
    const std::optional<double> runtime = (*session)->last_runtime_seconds();
    ASSERT_TRUE(runtime.has_value());
    EXPECT_GT(*runtime, 0.0);
    EXPECT_LE(*runtime, wall);
    ASSERT_EQ(got->size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      ASSERT_EQ((*got)[i].sizes(), (*expected)[i].sizes()) << "output " << i;
      EXPECT_LE(((*got)[i] - (*expected)[i]).abs().max().item<double>(), 1e-4) << "output " << i;
    }
  }
  // Wrong input count: an error, and the server still works afterwards.
  EXPECT_FALSE((*session)->Run({at::zeros({1, 3, 8, 8})}).ok());
  EXPECT_EQ((*session)->last_runtime_seconds(), std::nullopt) << "after a failed Run";
  absl::StatusOr<std::vector<at::Tensor>> again = (*session)->Run(Inputs(1, 16, 16));
  EXPECT_TRUE(again.ok()) << again.status();
  // An ORT error (wrong channel count) is reported, not fatal.
  std::vector<at::Tensor> bad = Inputs(1, 16, 16);
  bad[0] = at::zeros({1, 5, 16, 16});
  absl::StatusOr<std::vector<at::Tensor>> failed = (*session)->Run(bad);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("images"));
  EXPECT_EQ((*session)->last_runtime_seconds(), std::nullopt) << "after an ORT error";
  EXPECT_TRUE((*session)->Run(Inputs(1, 16, 16)).ok());
}

TEST(OnnxExporterTest, OpsetOption) {
  ToyTraceable toy(false);
  const std::string dir = FreshDir("toy16");
  Exported exported = ExportToy(toy, dir, {{"opset", "16"}});
  ASSERT_TRUE(exported.info.ok()) << exported.info.status();
  EXPECT_EQ(exported.info->properties.at("opset"), "16");
  onnx::ModelProto model;
  std::ifstream in(fs::path(dir) / kModelFile, std::ios::binary);
  ASSERT_TRUE(model.ParseFromIstream(&in));
  EXPECT_EQ(model.opset_import(0).version(), 16);

  Exported bad = ExportToy(toy, FreshDir("toy15"), {{"opset", "15"}});
  ASSERT_FALSE(bad.info.ok());
  EXPECT_THAT(bad.info.status().message(), HasSubstr("opset 15 is not supported"));
  Exported unknown = ExportToy(toy, FreshDir("toyx"), {{"fold", "1"}});
  ASSERT_FALSE(unknown.info.ok());
  EXPECT_THAT(unknown.info.status().message(), HasSubstr("unknown option 'fold'"));
}

TEST(OnnxExporterTest, UnloweredOpFailsWithItsNameAndWritesNothing) {
  ToyTraceable toy(true);
  const std::string dir = FreshDir("toy_cumsum");
  Exported exported = ExportToy(toy, dir);
  ASSERT_FALSE(exported.info.ok());
  EXPECT_EQ(exported.info.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(exported.info.status().message(),
              HasSubstr("op aten::cumsum has no ONNX lowering"));
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(OnnxExporterTest, RunnerRejectsOtherFormatsAndMissingFiles) {
  ToyTraceable toy(false);
  const std::string dir = FreshDir("toy_missing");
  Exported exported = ExportToy(toy, dir);
  ASSERT_TRUE(exported.info.ok()) << exported.info.status();
  WriteManifest(dir, *exported.info);
  fs::remove(fs::path(dir) / "ort_run.js");
  absl::StatusOr<std::unique_ptr<Session>> session = OnnxRunner().Load(dir);
  ASSERT_FALSE(session.ok());
  EXPECT_THAT(session.status().message(), HasSubstr("ort_run.js is missing"));
}

}  // namespace
}  // namespace d2x::onnx_format
