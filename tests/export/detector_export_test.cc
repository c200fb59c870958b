// Faster / Mask / Keypoint R-CNN and RetinaNet exported to TorchScript (tracing and scripting)
// through the export driver: traced at 256x320, the artifact is reloaded and run at 256x320, at 200x296 (not
// a multiple of 32) and as batches of 2 and 3, and must equal the eager model (bit for bit) and
// agree with detectron2's fixtures within the fixture tolerances (../shared/fixtures/README.md).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "core/export/artifact.h"
#include "core/export/detector_io.h"
#include "core/export/export_pipeline.h"
#include "core/pipeline/inputs.h"
#include "core/testing/fixtures.h"
#include "core/verify/compare.h"
#include "tests/export/export_test_util.h"
#include "tests/parity/parity_util.h"

namespace d2x::export_test {
namespace {
namespace fs = std::filesystem;

exporting::ExportSession& Session(const std::string& arch) {
  static auto* sessions = new std::map<std::string, std::unique_ptr<exporting::ExportSession>>();
  auto it = sessions->find(arch);
  if (it == sessions->end()) {
    absl::StatusOr<exporting::ExportInputs> inputs = TorchScriptFixtureExportInputs(arch);
    if (!inputs.ok()) {
      ADD_FAILURE() << inputs.status();
      std::abort();
    }
    absl::StatusOr<std::unique_ptr<exporting::ExportSession>> session =
        exporting::ExportSession::Create(TestRegistry(), *inputs);
    if (!session.ok()) {
      ADD_FAILURE() << arch << ": " << session.status();
      std::abort();
    }
    it = sessions->emplace(arch, *std::move(session)).first;
  }
  return *it->second;
}

class DetectorExportTest
    : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  std::string arch() const { return std::get<0>(GetParam()); }
  std::string method() const { return std::get<1>(GetParam()); }
};

TEST_P(DetectorExportTest, ExportVerifyReloadAndRun) {
  exporting::ExportSession& session = Session(arch());
  const std::string dir = TempDir(arch() + "_" + method()) + "/artifact";
  exporting::ExportTarget target;
  target.format = "torchscript";
  target.method = method();
  target.output_dir = dir;
  absl::StatusOr<exporting::ExportOutcome> outcome = ExportAndPrint(session, target);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(outcome->status.ok()) << outcome->status;
  EXPECT_TRUE(outcome->exported && outcome->verified && outcome->installed);
  ASSERT_EQ(outcome->checks.size(), 3u);
  for (const verify::BatchComparison& c : outcome->checks) {
    EXPECT_TRUE(c.ok) << c.Summary();
    // The exported graph runs the same kernels as the eager model.
    EXPECT_TRUE(c.identical()) << c.Summary();
  }
  for (const char* file : {"model.ts", "libd2x_ops.so", "manifest.json", "report.json",
                           "config.yaml"}) {
    EXPECT_TRUE(fs::is_regular_file(fs::path(dir) / file)) << file;
  }
  // Nothing but the artifact is left next to it (no staging directories).
  int entries = 0;
  for (const auto& e : fs::directory_iterator(fs::path(dir).parent_path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);

  // Reload, as `d2x run --artifact` does, and compare with detectron2's outputs directly.
  absl::StatusOr<std::unique_ptr<exporting::LoadedArtifact>> artifact =
      exporting::LoadedArtifact::Load(TestRegistry(), dir);
  ASSERT_TRUE(artifact.ok()) << artifact.status();
  EXPECT_EQ((*artifact)->manifest().method, method());
  EXPECT_EQ((*artifact)->manifest().meta_architecture,
            arch() == "retinanet"      ? "RetinaNet"
            : arch() == "panoptic_fpn" ? "PanopticFPN"
                                       : "GeneralizedRCNN");
  EXPECT_EQ((*artifact)->manifest().required_libraries, std::vector<std::string>{"libd2x_ops.so"});
  for (const std::string& key : parity::ImageKeys()) {
    absl::StatusOr<std::vector<ImageResult>> results =
        (*artifact)->Predict({parity::FixtureImageInput(arch(), key)});
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_EQ(results->size(), 1u);
    const auto size = parity::ImageSizeOf(key);
    EXPECT_EQ((*results)[0].instances.image_height, size[0]);
    EXPECT_EQ((*results)[0].instances.image_width, size[1]);
    verify::MatchReport report = verify::MatchDetections(
        parity::FixtureDetections(arch(), key), verify::FromInstances((*results)[0].instances));
    std::cout << arch() << " " << method() << " " << key << " vs detectron2: " << report.Summary()
              << "\n";
    EXPECT_TRUE(report.ok) << report.Summary();
  }

  // A batch of 3 in another order, one image with a requested output size (as when the input was
  // resized): equal to the eager model on the same batch.
  const std::vector<ImageInput> batch = MixedBatchOfThree(arch());
  absl::StatusOr<std::vector<ImageResult>> exported = (*artifact)->Predict(batch);
  ASSERT_TRUE(exported.ok()) << exported.status();
  absl::StatusOr<std::vector<ImageResult>> eager = session.model().model->Inference(batch);
  ASSERT_TRUE(eager.ok()) << eager.status();
  verify::BatchComparison c = verify::CompareResults("batch of 3", *eager, *exported);
  std::cout << c.Summary() << "\n";
  EXPECT_TRUE(c.ok && c.identical()) << c.Summary();
  EXPECT_EQ((*exported)[2].instances.image_height, 300);
  EXPECT_EQ((*exported)[2].instances.image_width, 444);

  // Edge cases: a tiny odd-sized crop and a constant image (few or no detections).
  ImageInput tiny;  // 33x47 of the 256x320 image
  tiny.image = batch[1].image.slice(1, 40, 73).slice(2, 100, 147).contiguous();
  ImageInput blank;
  blank.image = at::full({3, 64, 96}, 114.0f);
  for (const auto& [name, edge] : std::vector<std::pair<std::string, std::vector<ImageInput>>>{
           {"tiny 33x47", {tiny}}, {"blank 64x96", {blank}}, {"[tiny, blank]", {tiny, blank}}}) {
    absl::StatusOr<std::vector<ImageResult>> x = (*artifact)->Predict(edge);
    ASSERT_TRUE(x.ok()) << name << ": " << x.status();
    absl::StatusOr<std::vector<ImageResult>> e = session.model().model->Inference(edge);
    ASSERT_TRUE(e.ok()) << name << ": " << e.status();
    verify::BatchComparison edge_check = verify::CompareResults(name, *e, *x);
    std::cout << edge_check.Summary().substr(0, 300) << "\n";
    EXPECT_TRUE(edge_check.ok && edge_check.identical()) << edge_check.Summary();
  }
}

INSTANTIATE_TEST_SUITE_P(All, DetectorExportTest,
                         ::testing::Combine(::testing::Values("faster_rcnn", "mask_rcnn",
                                                              "keypoint_rcnn", "retinanet",
                                                              "panoptic_fpn"),
                                            ::testing::Values("tracing", "scripting")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

// The traced graph has the coarse d2x ops and reads no size at run time outside them.
TEST(RcnnTraceTest, GraphUsesCoarseOps) {
  exporting::ExportSession& session = Session("keypoint_rcnn");
  const std::string dir = TempDir("graph") + "/artifact";
  exporting::ExportTarget target{"torchscript", "tracing", {}, dir};
  absl::StatusOr<exporting::ExportOutcome> outcome = session.Export(target);
  ASSERT_TRUE(outcome.ok() && outcome->status.ok());
  absl::StatusOr<torch::jit::Module> module = [&]() -> absl::StatusOr<torch::jit::Module> {
    try {
      return torch::jit::load(dir + "/model.ts");
    } catch (const c10::Error& e) {
      return absl::InternalError(e.what());
    }
  }();
  ASSERT_TRUE(module.ok()) << module.status();
  std::map<std::string, int> counts;
  for (const torch::jit::Node* node : module->get_method("forward").graph()->nodes()) {
    ++counts[node->kind().toQualString()];
  }
  for (const char* op : {"d2x::normalize_images", "d2x::rpn_proposals", "d2x::box_postprocess",
                         "d2x::detector_postprocess", "d2x::heatmaps_to_keypoints"}) {
    EXPECT_EQ(counts[op], 1) << op;
  }
  EXPECT_EQ(counts["d2x::multilevel_roi_align"], 2);  // box and keypoint poolers
  EXPECT_EQ(counts["aten::size"], 0);
}

TEST(RetinaNetTraceTest, GraphUsesCoarseOps) {
  exporting::ExportSession& session = Session("retinanet");
  const std::string dir = TempDir("retinanet_graph") + "/artifact";
  absl::StatusOr<exporting::ExportOutcome> outcome =
      session.Export({"torchscript", "tracing", {}, dir});
  ASSERT_TRUE(outcome.ok() && outcome->status.ok());
  torch::jit::Module module = torch::jit::load(dir + "/model.ts");
  std::map<std::string, int> counts;
  for (const torch::jit::Node* node : module.get_method("forward").graph()->nodes()) {
    ++counts[node->kind().toQualString()];
  }
  for (const char* op : {"d2x::normalize_images", "d2x::dense_detections",
                         "d2x::detector_postprocess"}) {
    EXPECT_EQ(counts[op], 1) << op;
  }
  EXPECT_EQ(counts["aten::size"], 0);
}

// No detection at all (score threshold 1): the mask / keypoint heads run on empty sets, the
// artifact returns empty fields, equal to the eager model.
TEST(NoDetectionsTest, ExportsAndVerifies) {
  for (const std::string arch : {"mask_rcnn", "keypoint_rcnn"}) {
    absl::StatusOr<exporting::ExportInputs> inputs = TorchScriptFixtureExportInputs(arch);
    ASSERT_TRUE(inputs.ok());
    inputs->model.opts = {"MODEL.ROI_HEADS.SCORE_THRESH_TEST", "1.0"};
    auto session = exporting::ExportSession::Create(TestRegistry(), *inputs);
    ASSERT_TRUE(session.ok()) << session.status();
    for (const char* method : {"tracing", "scripting"}) {
      const std::string dir = TempDir(arch + "_none_" + method) + "/artifact";
      absl::StatusOr<exporting::ExportOutcome> outcome =
          (*session)->Export({"torchscript", method, {}, dir});
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      ASSERT_TRUE(outcome->status.ok()) << outcome->status;
      for (const verify::BatchComparison& c : outcome->checks) {
        EXPECT_TRUE(c.ok && c.identical()) << c.Summary();
        for (const verify::ImageComparison& image : c.images) {
          EXPECT_EQ(image.match.num_actual, 0) << arch << " " << method;
        }
      }
    }
  }
}

// --- errors ------------------------------------------------------------------------------------

TEST(RcnnExportErrorsTest, ExistingOutputNeedsOverwrite) {
  exporting::ExportSession& session = Session("faster_rcnn");
  const std::string dir = TempDir("existing") + "/artifact";
  fs::create_directories(dir);
  std::ofstream(dir + "/keep.txt") << "user data";
  exporting::ExportTarget target{"torchscript", "", {}, dir};
  absl::StatusOr<exporting::ExportOutcome> outcome = session.Export(target);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(std::string(outcome.status().message()).find("--overwrite"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir + "/keep.txt"));

  target.overwrite = true;
  outcome = session.Export(target);
  ASSERT_TRUE(outcome.ok() && outcome->status.ok());
  EXPECT_FALSE(fs::exists(dir + "/keep.txt"));
  EXPECT_TRUE(fs::exists(dir + "/model.ts"));
}

TEST(RcnnExportErrorsTest, UnknownFormatOrMethod) {
  exporting::ExportSession& session = Session("faster_rcnn");
  const std::string dir = TempDir("unknown") + "/artifact";
  absl::StatusOr<exporting::ExportOutcome> outcome =
      session.Export({"onnx-but-not-registered", "", {}, dir});
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(std::string(outcome.status().message()).find("torchscript"), std::string::npos)
      << outcome.status();
  outcome = session.Export({"torchscript", "freezing", {}, dir});
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(std::string(outcome.status().message()).find("tracing, scripting"), std::string::npos)
      << outcome.status();
  EXPECT_FALSE(fs::exists(dir));
}

TEST(RcnnExportErrorsTest, FailedExportLeavesNothing) {
  absl::StatusOr<exporting::ExportInputs> inputs = TorchScriptFixtureExportInputs("faster_rcnn");
  ASSERT_TRUE(inputs.ok());
  inputs->runtime_libraries[kD2xOpsLibrary] = "/nonexistent/libd2x_ops.so";
  absl::StatusOr<std::unique_ptr<exporting::ExportSession>> session =
      exporting::ExportSession::Create(TestRegistry(), *inputs);
  ASSERT_TRUE(session.ok()) << session.status();
  const std::string parent = TempDir("failed");
  absl::StatusOr<exporting::ExportOutcome> outcome =
      (*session)->Export({"torchscript", "tracing", {}, parent + "/artifact"});
  ASSERT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome->status.ok());
  EXPECT_NE(std::string(outcome->status.message()).find("libd2x_ops.so"), std::string::npos)
      << outcome->status;
  EXPECT_TRUE(fs::is_empty(parent)) << "a failed export left files in " << parent;
}

TEST(RcnnExportErrorsTest, NoSampleImage) {
  absl::StatusOr<exporting::ExportInputs> inputs = TorchScriptFixtureExportInputs("faster_rcnn");
  ASSERT_TRUE(inputs.ok());
  inputs->sample_image.clear();
  auto session = exporting::ExportSession::Create(TestRegistry(), *inputs);
  ASSERT_FALSE(session.ok());
  EXPECT_NE(std::string(session.status().message()).find("sample image"), std::string::npos);
}

class CorruptArtifactTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    exporting::ExportSession& session = Session("faster_rcnn");
    good_ = new std::string(TempDir("corrupt_source") + "/artifact");
    absl::StatusOr<exporting::ExportOutcome> outcome =
        session.Export({"torchscript", "tracing", {}, *good_});
    ASSERT_TRUE(outcome.ok() && outcome->status.ok());
  }
  // A copy of the good artifact to damage.
  std::string Copy(const std::string& name) {
    const std::string dir = TempDir(name) + "/artifact";
    fs::copy(*good_, dir, fs::copy_options::recursive);
    return dir;
  }
  static absl::Status LoadStatus(const std::string& dir) {
    auto artifact = exporting::LoadedArtifact::Load(TestRegistry(), dir);
    return artifact.ok() ? absl::OkStatus() : artifact.status();
  }
  static std::string* good_;
};
std::string* CorruptArtifactTest::good_ = nullptr;

TEST_F(CorruptArtifactTest, TruncatedModel) {
  const std::string dir = Copy("truncated");
  fs::resize_file(dir + "/model.ts", fs::file_size(dir + "/model.ts") / 2);
  absl::Status s = LoadStatus(dir);
  std::cout << s << "\n";
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("model.ts"), std::string::npos) << s;
}

TEST_F(CorruptArtifactTest, GarbageManifest) {
  const std::string dir = Copy("garbage_manifest");
  std::ofstream(dir + "/manifest.json") << "{\"format\": \"torchscript\", ";
  absl::Status s = LoadStatus(dir);
  std::cout << s << "\n";
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("manifest.json"), std::string::npos) << s;
}

TEST_F(CorruptArtifactTest, ManifestMissingKey) {
  const std::string dir = Copy("manifest_missing_key");
  std::ifstream in(dir + "/manifest.json");
  nlohmann::json j = nlohmann::json::parse(in);
  j.erase("outputs");
  std::ofstream(dir + "/manifest.json") << j.dump();
  absl::Status s = LoadStatus(dir);
  std::cout << s << "\n";
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("\"outputs\" is missing"), std::string::npos) << s;
}

TEST_F(CorruptArtifactTest, MissingManifestAndMissingFiles) {
  const std::string dir = Copy("missing_files");
  fs::remove(dir + "/libd2x_ops.so");
  absl::Status s = LoadStatus(dir);
  std::cout << s << "\n";
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("libd2x_ops.so"), std::string::npos) << s;
  fs::remove(dir + "/manifest.json");
  s = LoadStatus(dir);
  std::cout << s << "\n";
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(LoadStatus(dir + "/nope").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace d2x::export_test
