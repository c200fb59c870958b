// `d2x export --format onnx` end to end through the export driver (core/export): the five fixture
// models traced at 256x320, lowered, verified by the driver at the sample, at 200x296 and as a
// batch of both (core/verify, the fixture tolerances), installed; the artifact reloaded through
// the OnnxRunner and compared per fixture image with detectron2's outputs.
//   bazel test //tests/onnx:onnx_detector_export_test --test_env=D2X_FIXTURES_DIR=/work/shared/fixtures
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "core/export/artifact.h"
#include "core/export/export_pipeline.h"
#include "core/verify/compare.h"
#include "core/verify/panoptic_match.h"
#include "glog/logging.h"
#include "plugins/format/onnx/onnx_format.h"
#include "plugins/format/onnx/ort_node_runner.h"
#include "tests/export/export_test_util.h"
#include "tests/onnx/onnx_test_util.h"
#include "tests/parity/parity_util.h"

namespace d2x::onnx_format {
namespace {
namespace fs = std::filesystem;
using export_test::TempDir;
using parity::FixtureImageInput;

const plugin::Registry& OnnxRegistry() {
  static const plugin::Registry* registry = [] {
    absl::StatusOr<std::string> ort =
        FindOnnxRuntimeNode(fs::canonical("plugins/format/onnx/ort_run.js").string());
    CHECK(ort.ok()) << ort.status();
    setenv("D2X_ORT_NODE_DIR", ort->c_str(), 1);
    auto* r = new plugin::Registry();
    plugin::Registrar staged;
    export_test::AddArchitectures(staged);
    staged.AddExporter(kFormatName, [] { return std::make_unique<OnnxExporter>(); });
    staged.AddRunner(kFormatName, [] { return std::make_unique<OnnxRunner>(); });
    absl::Status status = r->Commit(staged, {"onnx_export_test", "0", "<linked in>"});
    CHECK(status.ok()) << status;
    return r;
  }();
  return *registry;
}

struct Exported {
  exporting::ExportOutcome outcome;
  std::string dir;
};

Exported Export(const std::string& arch, bool keep_failed) {
  absl::StatusOr<exporting::ExportInputs> inputs = export_test::FixtureExportInputs(arch);
  CHECK(inputs.ok()) << inputs.status();
  absl::StatusOr<std::unique_ptr<exporting::ExportSession>> session =
      exporting::ExportSession::Create(OnnxRegistry(), *inputs);
  CHECK(session.ok()) << session.status();
  Exported e;
  e.dir = TempDir(arch) + "/artifact";
  exporting::ExportTarget target;
  target.format = kFormatName;
  target.output_dir = e.dir;
  target.keep_failed = keep_failed;
  std::cout << arch << ":\n";
  absl::StatusOr<exporting::ExportOutcome> outcome = export_test::ExportAndPrint(**session, target);
  CHECK(outcome.ok()) << outcome.status();
  e.outcome = *outcome;
  return e;
}

// PanopticFPN's dense outputs on one fixture image vs detectron2's.
void ExpectPanopticMatchesFixtures(const std::string& key, const ImageResult& result) {
  verify::SegmentMatchReport segments =
      verify::MatchSegments(parity::FixturePanopticResult("panoptic_fpn", key), result);
  std::cout << "panoptic_fpn onnx " << key << " panoptic vs detectron2: " << segments.Summary()
            << "\n";
  EXPECT_TRUE(segments.ok) << segments.Summary();
  if (key == "200x296") {
    const at::Tensor expected = parity::Fixture("panoptic_fpn", "200x296.sem_seg");
    ASSERT_TRUE(result.sem_seg.defined());
    ASSERT_EQ(result.sem_seg.sizes(), expected.sizes());
    const double agreement =
        result.sem_seg.argmax(0).eq(expected.argmax(0)).to(at::kDouble).mean().item<double>();
    std::cout << "panoptic_fpn onnx 200x296 semantic argmax agreement with detectron2 "
              << agreement << ", max |logit diff| "
              << (result.sem_seg - expected).abs().max().item<double>() << "\n";
    EXPECT_GE(agreement, verify::MatchOptions().min_fraction);
  }
}

// The artifact on fixture images (default: both) vs detectron2's outputs (fixture tolerances);
// for PanopticFPN also the panoptic map and segments, and the semantic argmax where the fixtures
// have sem_seg (200x296).
void ExpectMatchesFixtures(const std::string& arch, const std::string& dir,
                           const std::vector<std::string>& keys = parity::ImageKeys()) {
  absl::StatusOr<std::unique_ptr<exporting::LoadedArtifact>> artifact =
      exporting::LoadedArtifact::Load(OnnxRegistry(), dir);
  ASSERT_TRUE(artifact.ok()) << artifact.status();
  EXPECT_EQ((*artifact)->manifest().format, "onnx");
  EXPECT_EQ((*artifact)->manifest().properties.at("onnxruntime_version"), "1.30.0");
  for (const std::string& key : keys) {
    absl::StatusOr<std::vector<ImageResult>> results =
        (*artifact)->Predict({FixtureImageInput(arch, key)});
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_EQ(results->size(), 1u);
    verify::MatchReport report = verify::MatchDetections(
        parity::FixtureDetections(arch, key), verify::FromInstances((*results)[0].instances));
    std::cout << arch << " onnx " << key << " vs detectron2: " << report.Summary() << "\n";
    EXPECT_TRUE(report.ok) << report.Summary();
    onnx_test::ExpectFloatResolutionBounded(report);
    if (arch == "panoptic_fpn") ExpectPanopticMatchesFixtures(key, (*results)[0]);
  }
}

// Every architecture: exported, verified (all three checks), installed; vs detectron2 on both
// fixture images (PanopticFPN: also its panoptic map and segments at both sizes and its
// semantic argmax at 200x296). Some comparisons pass only through core/verify's float-resolution
// rules (detection_match.h, docs/EXPORT.md "Verification"); the test bounds them:
//  * at most 2 pairs per image agree only at float resolution. Mask R-CNN / PanopticFPN at
//    200x296 vs detectron2 have two: boxes clipped to slivers at the bottom border (0.0055 and
//    0.54 px high; the first's IoU 0.98 with coordinates within 1.1e-4 px, the second's 6-pixel
//    mask one pixel off);
//  * exact ties are left out only in RetinaNet's batch check, in the padded slot, where every
//    detection's score saturates to exactly 1.0f, and which of those tied candidates torch.topk
//    and ONNX TopK keep is implementation-defined.
class OnnxDetectorExportTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxDetectorExportTest, ExportsVerifiesAndMatchesDetectron2) {
  const Exported e = Export(GetParam(), /*keep_failed=*/false);
  ASSERT_TRUE(e.outcome.status.ok()) << e.outcome.status;
  EXPECT_TRUE(e.outcome.exported && e.outcome.verified && e.outcome.installed);
  ASSERT_EQ(e.outcome.checks.size(), 3u);
  for (const verify::BatchComparison& c : e.outcome.checks) EXPECT_TRUE(c.ok) << c.Summary();
  for (const char* file : {"model.onnx", "ort_run.js", "manifest.json", "report.json",
                           "config.yaml"}) {
    EXPECT_TRUE(fs::is_regular_file(fs::path(e.dir) / file)) << file;
  }
  for (size_t c = 0; c < e.outcome.checks.size(); ++c) {
    const std::vector<verify::ImageComparison>& images = e.outcome.checks[c].images;
    for (size_t i = 0; i < images.size(); ++i) {
      const bool padded_retinanet_slot = GetParam() == "retinanet" && c == 2 && i == 1;
      onnx_test::ExpectFloatResolutionBounded(images[i].match,
                                              /*ties_allowed=*/padded_retinanet_slot);
    }
  }
  ExpectMatchesFixtures(GetParam(), e.dir);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OnnxDetectorExportTest,
                         ::testing::Values("keypoint_rcnn", "faster_rcnn", "mask_rcnn",
                                           "panoptic_fpn", "retinanet"));

}  // namespace
}  // namespace d2x::onnx_format
