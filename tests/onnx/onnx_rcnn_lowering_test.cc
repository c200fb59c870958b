// Whole R-CNN graphs in ONNX: the bundled Mask R-CNN (models/mask_rcnn_small) and detectron2's
// fixture Mask R-CNN and Faster R-CNN ($D2X_FIXTURES_DIR) are rewritten (flavor "generic"),
// traced at 256x320 on one image, lowered to standard-op ONNX (opset 16 and 17; strict shape
// inference + checker), and run in ONNX Runtime on a batch of 2 other images (200x296 and a
// mirrored 256x320 with a requested output size of 300x444). The results must agree with the
// eager model detection-aware (core/verify CompareResults: the fixture tolerances), and, image
// by image, with detectron2's own outputs (the fixtures).
#include <ATen/ATen.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "core/export/detector_io.h"
#include "core/pipeline/model_loader.h"
#include "core/plugin/registry.h"
#include "core/testing/fixtures.h"
#include "core/trace/trace.h"
#include "core/util/status_macros.h"
#include "core/verify/compare.h"
#include "core/verify/detection_match.h"
#include "gtest/gtest.h"
#include "plugins/arch/rcnn/generalized_rcnn.h"
#include "plugins/arch/rcnn/rewriter.h"
#include "plugins/format/onnx/lowering.h"
#include "plugins/format/onnx/ort_node_runner.h"
#include "tests/export/export_test_util.h"
#include "tests/onnx/onnx_test_util.h"
#include "tests/parity/parity_util.h"

namespace d2x::onnx_format {
namespace {
namespace fs = std::filesystem;

const char kBundled[] = "bundled";  // models/mask_rcnn_small

const plugin::Registry& Registry() {
  static const plugin::Registry* registry = [] {
    auto* r = new plugin::Registry();
    plugin::Registrar staged;
    staged.AddModelBuilder("GeneralizedRCNN", &rcnn::BuildGeneralizedRcnn);
    staged.AddRewriter("GeneralizedRCNN", [] { return std::make_unique<rcnn::RcnnRewriter>(); });
    absl::Status status = r->Commit(staged, {"onnx_rcnn_lowering_test", "0", "<linked in>"});
    if (!status.ok()) {
      ADD_FAILURE() << status;
      std::abort();
    }
    return r;
  }();
  return *registry;
}

absl::StatusOr<std::string> ModelFile(const std::string& arch, const std::string& file) {
  if (arch == kBundled) {
    const fs::path p = fs::path("models/mask_rcnn_small") / file;
    if (!fs::is_regular_file(p)) {
      return absl::NotFoundError("bundled model file " + p.string() + " is missing");
    }
    return p.string();
  }
  return testing::FixturePath(arch, file);
}

ImageInput Image(const std::string& arch, const std::string& key) {
  return parity::PngInput(ModelFile(arch, "input_" + key + ".png"));
}

// One architecture: the eager model, its generic rewrite, the trace and the lowered model.
struct Lowered {
  pipeline::LoadedModel model;
  std::unique_ptr<TraceableModel> traceable;
  std::vector<std::string> output_names;
  std::map<int, std::string> paths;  // opset -> model.onnx
};

// `opts` are config overrides (KEY VALUE ...).
absl::StatusOr<Lowered*> Lower(const std::string& arch, const std::vector<std::string>& opts = {}) {
  static auto* cache = new std::map<std::string, std::unique_ptr<Lowered>>();
  std::string key = arch;
  for (const std::string& o : opts) key += " " + o;
  if (auto it = cache->find(key); it != cache->end()) return it->second.get();
  auto lowered = std::make_unique<Lowered>();
  pipeline::ModelSpec spec;
  spec.opts = opts;
  D2X_ASSIGN_OR_RETURN(spec.config_path, ModelFile(arch, "config.yaml"));
  D2X_ASSIGN_OR_RETURN(spec.weights, ModelFile(arch, "model_final.pth"));
  D2X_ASSIGN_OR_RETURN(lowered->model, pipeline::LoadModel(Registry(), spec));
  rcnn::RcnnRewriter rewriter;
  RewriteOptions options;
  options.flavor = "generic";
  D2X_ASSIGN_OR_RETURN(lowered->traceable, rewriter.Rewrite(*lowered->model.model, options));
  TraceableModel& t = *lowered->traceable;
  D2X_ASSIGN_OR_RETURN(std::vector<at::Tensor> sample, t.MakeInputs({Image(arch, "256x320")}));
  D2X_ASSIGN_OR_RETURN(
      torch::jit::Module module,
      trace::TraceToModule([&t](const std::vector<at::Tensor>& in) { return t.Forward(in); },
                           sample, t.input_names(), "__torch__.d2x.GeneralizedRCNN"));
  lowered->output_names = t.output_names();
  for (int opset : {16, 17}) {
    LoweringOptions lo;
    lo.opset = opset;
    lo.inputs = {
        {exporting::kImagesInput, onnx::TensorProto::FLOAT, sample[0].sizes().vec(),
         {"N", "", "H", "W"}},
        {exporting::kImageSizesInput, onnx::TensorProto::INT64, {1, 2}, {"N", ""}},
        {exporting::kOutputSizesInput, onnx::TensorProto::INT64, {1, 2}, {"N", ""}}};
    lo.output_names = lowered->output_names;
    std::shared_ptr<torch::jit::Graph> graph = module.get_method("forward").graph();
    absl::StatusOr<onnx::ModelProto> model = LowerGraph(*graph, lo);
    if (!model.ok()) return model.status();
    for (const onnx::OperatorSetIdProto& o : model->opset_import()) {
      if (!o.domain().empty() && o.domain() != "ai.onnx") {
        return absl::InternalError("custom domain " + o.domain() + " in the lowered model");
      }
    }
    const std::string path =
        (fs::path(::testing::TempDir()) /
         (arch + "_" + std::to_string(cache->size()) + "_" + std::to_string(opset) + ".onnx"))
            .string();
    std::ofstream(path, std::ios::binary) << model->SerializeAsString();
    std::cout << arch << ": opset " << opset << ", " << model->graph().node_size()
              << " ONNX nodes\n";
    lowered->paths[opset] = path;
  }
  return cache->emplace(key, std::move(lowered)).first->second.get();
}

absl::StatusOr<std::vector<ImageResult>> RunOnnx(const Lowered& lowered, int opset,
                                                 const std::vector<ImageInput>& batch) {
  D2X_ASSIGN_OR_RETURN(std::vector<at::Tensor> inputs, lowered.traceable->MakeInputs(batch));
  const std::vector<std::string>& names = lowered.traceable->input_names();
  std::vector<std::pair<std::string, at::Tensor>> named;
  for (size_t i = 0; i < inputs.size(); ++i) named.emplace_back(names[i], inputs[i]);
  D2X_ASSIGN_OR_RETURN(
      std::vector<at::Tensor> outputs,
      RunInOnnxRuntime(onnx_test::OrtTestConfig(), lowered.paths.at(opset), named));
  return exporting::DetectorOutputsToResults(outputs, lowered.output_names);
}

class OnnxRcnnLoweringTest : public ::testing::TestWithParam<std::tuple<std::string, int>> {
 protected:
  std::string arch() const { return std::get<0>(GetParam()); }
  int opset() const { return std::get<1>(GetParam()); }
};

TEST_P(OnnxRcnnLoweringTest, BatchOfTwoAgreesWithEagerModel) {
  absl::StatusOr<Lowered*> lowered = Lower(arch());
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  ImageInput small = Image(arch(), "200x296");
  ImageInput mirrored = Image(arch(), "256x320");
  mirrored.image = mirrored.image.flip({2}).contiguous();
  mirrored.height = 300;
  mirrored.width = 444;
  const std::vector<ImageInput> batch = {small, mirrored};
  absl::StatusOr<std::vector<ImageResult>> onnx = RunOnnx(**lowered, opset(), batch);
  ASSERT_TRUE(onnx.ok()) << onnx.status();
  absl::StatusOr<std::vector<ImageResult>> eager = (*lowered)->model.model->Inference(batch);
  ASSERT_TRUE(eager.ok()) << eager.status();
  verify::BatchComparison c = verify::CompareResults("onnx batch of 2", *eager, *onnx);
  std::cout << arch() << " opset " << opset() << ": " << c.Summary() << "\n";
  EXPECT_TRUE(c.ok) << c.Summary();
  ASSERT_EQ(onnx->size(), 2u);
  EXPECT_EQ((*onnx)[1].instances.image_height, 300);
  EXPECT_EQ((*onnx)[1].instances.image_width, 444);
  EXPECT_GT((*onnx)[0].instances.size(), 0);
}

// Edge cases: a tiny odd-sized crop and a constant image (few or no detections, so the mask head
// and paste_masks run on empty tensors), alone and together.
TEST_P(OnnxRcnnLoweringTest, TinyAndBlankImagesAgreeWithEagerModel) {
  absl::StatusOr<Lowered*> lowered = Lower(arch());
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  ImageInput tiny;
  tiny.image = Image(arch(), "256x320").image.slice(1, 40, 73).slice(2, 100, 147).contiguous();
  ImageInput blank;
  blank.image = at::full({3, 64, 96}, 114.0f);
  for (const auto& [name, batch] : std::vector<std::pair<std::string, std::vector<ImageInput>>>{
           {"tiny 33x47", {tiny}}, {"blank 64x96", {blank}}, {"[tiny, blank]", {tiny, blank}}}) {
    absl::StatusOr<std::vector<ImageResult>> onnx = RunOnnx(**lowered, opset(), batch);
    ASSERT_TRUE(onnx.ok()) << name << ": " << onnx.status();
    absl::StatusOr<std::vector<ImageResult>> eager = (*lowered)->model.model->Inference(batch);
    ASSERT_TRUE(eager.ok()) << eager.status();
    verify::BatchComparison c = verify::CompareResults(name, *eager, *onnx);
    std::cout << arch() << " opset " << opset() << ": " << c.Summary() << "\n";
    EXPECT_TRUE(c.ok) << c.Summary();
  }
}

// No detections at all (SCORE_THRESH_TEST 1.0, traced that way too): the box head output, the
// mask head and paste_masks run on empty tensors; every output has the eager model's shape.
TEST(OnnxRcnnNoDetectionsTest, EmptyResultsAgreeWithEagerModel) {
  absl::StatusOr<Lowered*> lowered =
      Lower("mask_rcnn", {"MODEL.ROI_HEADS.SCORE_THRESH_TEST", "1.0"});
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  ImageInput small = Image("mask_rcnn", "200x296");
  ImageInput large = Image("mask_rcnn", "256x320");
  large.height = 300;
  large.width = 444;
  const std::vector<ImageInput> batch = {small, large};
  for (int opset : {16, 17}) {
    absl::StatusOr<std::vector<ImageResult>> onnx = RunOnnx(**lowered, opset, batch);
    ASSERT_TRUE(onnx.ok()) << onnx.status();
    absl::StatusOr<std::vector<ImageResult>> eager = (*lowered)->model.model->Inference(batch);
    ASSERT_TRUE(eager.ok()) << eager.status();
    verify::BatchComparison c = verify::CompareResults("no detections", *eager, *onnx);
    EXPECT_TRUE(c.ok) << c.Summary();
    ASSERT_EQ(onnx->size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ((*onnx)[i].instances.size(), 0);
      for (const auto& [field, tensor] : (*eager)[i].instances.fields) {
        ASSERT_TRUE((*onnx)[i].instances.fields.count(field)) << field;
        EXPECT_EQ((*onnx)[i].instances.fields.at(field).sizes(), tensor.sizes()) << field;
        EXPECT_EQ((*onnx)[i].instances.fields.at(field).scalar_type(), tensor.scalar_type())
            << field;
      }
    }
  }
}

// Fixture models only (the bundled model has no detectron2 outputs).
class OnnxRcnnFixtureTest : public OnnxRcnnLoweringTest {};

TEST_P(OnnxRcnnFixtureTest, AgreesWithDetectron2Fixtures) {
  absl::StatusOr<Lowered*> lowered = Lower(arch());
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  for (const std::string& key : parity::ImageKeys()) {
    absl::StatusOr<std::vector<ImageResult>> onnx =
        RunOnnx(**lowered, opset(), {Image(arch(), key)});
    ASSERT_TRUE(onnx.ok()) << onnx.status();
    ASSERT_EQ(onnx->size(), 1u);
    absl::StatusOr<std::vector<ImageResult>> eager =
        (*lowered)->model.model->Inference({Image(arch(), key)});
    ASSERT_TRUE(eager.ok()) << eager.status();
    std::cout << "  eager vs detectron2: "
              << verify::MatchDetections(parity::FixtureDetections(arch(), key),
                                         verify::FromInstances((*eager)[0].instances))
                     .Summary()
              << "\n  onnx vs eager: "
              << verify::CompareResults(key, *eager, *onnx).Summary() << "\n";
    verify::MatchReport report = verify::MatchDetections(
        parity::FixtureDetections(arch(), key), verify::FromInstances((*onnx)[0].instances));
    std::cout << arch() << " opset " << opset() << " " << key
              << " vs detectron2: " << report.Summary() << "\n";
    // The fixture Mask R-CNN at 200x296 has two pairs agreeing only at float resolution
    // (docs/ONNX.md "Numerical noise floor"): boxes clipped to less than a pixel high at the
    // border, decided by float rounding of ORT's convolutions (LibTorch itself with one thread
    // misses one of them by IoU). No more than that, and no exact ties left out.
    EXPECT_TRUE(report.ok) << report.Summary();
    onnx_test::ExpectFloatResolutionBounded(report);
  }
}

std::string ParamName(const ::testing::TestParamInfo<std::tuple<std::string, int>>& info) {
  return std::get<0>(info.param) + "_opset" + std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    Rcnn, OnnxRcnnLoweringTest,
    ::testing::Combine(::testing::Values(std::string(kBundled), std::string("mask_rcnn"),
                                         std::string("faster_rcnn")),
                         ::testing::Values(16, 17)),
    ParamName);
INSTANTIATE_TEST_SUITE_P(
    Rcnn, OnnxRcnnFixtureTest,
    ::testing::Combine(::testing::Values(std::string("mask_rcnn"), std::string("faster_rcnn")),
                       ::testing::Values(16, 17)),
    ParamName);

}  // namespace
}  // namespace d2x::onnx_format
