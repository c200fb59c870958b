// Parity of the post-network stages of the ROI heads, fed with detectron2's own intermediate
// tensors from the fixtures (no backbone, RPN or pooler involved):
//   box_head.scores / box_head.deltas + proposals  --FastRCNNOutputLayers.inference-->  final
//   raw.pred_masks + pred_boxes                    --paste_masks_in_image-->            pred_masks
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "plugins/arch/rcnn/box_head.h"
#include "plugins/arch/rcnn/mask_head.h"
#include "tests/parity/detection_match.h"
#include "tests/parity/parity_util.h"

namespace d2x::parity {
namespace {

struct Case {
  std::string arch;
  int64_t num_classes;
};

class BoxInferenceTest : public ::testing::TestWithParam<std::tuple<Case, std::string>> {};

TEST_P(BoxInferenceTest, FixturePredictionsGiveFixtureDetections) {
  const Case& c = std::get<0>(GetParam());
  const std::string& key = std::get<1>(GetParam());
  rcnn::BoxPredictorOptions options;
  options.num_classes = c.num_classes;
  options.input_size = 8;  // unused: the predictions come from the fixture
  rcnn::FastRcnnOutputLayers predictor = rcnn::FastRcnnOutputLayers::Create(options);

  at::Tensor scores = Fixture(c.arch, key + ".box_head.scores");
  at::Tensor deltas = Fixture(c.arch, key + ".box_head.deltas");
  at::Tensor proposals = Fixture(c.arch, key + ".proposals.boxes");
  ASSERT_TRUE(scores.defined() && deltas.defined() && proposals.defined());
  const auto size = ImageSizeOf(key);
  std::vector<rcnn::BoxDetections> det =
      predictor.Inference({scores, deltas}, {proposals}, {size});
  ASSERT_EQ(det.size(), 1u);

  verify::DetectionSet expected = FixtureDetections(c.arch, key);
  verify::DetectionSet actual;
  actual.boxes = det[0].boxes;
  actual.scores = det[0].scores;
  actual.classes = det[0].classes;
  verify::MatchReport report = verify::MatchDetections(expected, actual);
  std::cout << c.arch << " " << key << " box inference from fixture predictions: "
            << report.Summary() << "\n";
  EXPECT_TRUE(report.ok) << report.Summary();
  // Same inputs, same op sequence: the outputs are bit-identical, in order.
  ASSERT_EQ(actual.size(), expected.size());
  Closeness boxes = CompareTensors(actual.boxes, expected.boxes, 0, 0);
  EXPECT_TRUE(boxes.ok) << boxes.message;
  Closeness s = CompareTensors(actual.scores, expected.scores, 0, 0);
  EXPECT_TRUE(s.ok) << s.message;
  EXPECT_TRUE(at::equal(actual.classes, expected.classes));
  std::cout << "  boxes max |diff| " << boxes.max_abs << ", scores max |diff| " << s.max_abs
            << "\n";
}

INSTANTIATE_TEST_SUITE_P(
    All, BoxInferenceTest,
    ::testing::Combine(::testing::Values(Case{"faster_rcnn", 80}, Case{"mask_rcnn", 80},
                                         Case{"keypoint_rcnn", 1}),
                       ::testing::Values("256x320", "200x296")),
    [](const auto& info) {
      return std::get<0>(info.param).arch + "_" + std::get<1>(info.param);
    });

class PasteMasksTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PasteMasksTest, FixtureRawMasksPasteToFixtureMasks) {
  const std::string key = GetParam();
  at::Tensor raw = Fixture("mask_rcnn", key + ".raw.pred_masks");
  at::Tensor boxes = Fixture("mask_rcnn", key + ".pred_boxes");
  at::Tensor expected = Fixture("mask_rcnn", key + ".pred_masks");
  ASSERT_TRUE(raw.defined() && boxes.defined() && expected.defined());
  const auto size = ImageSizeOf(key);
  at::Tensor pasted = rcnn::PasteMasksInImage(raw.select(1, 0), boxes, size[0], size[1]);
  ASSERT_EQ(pasted.scalar_type(), at::kBool);
  ASSERT_EQ(pasted.sizes(), expected.sizes());
  const int64_t differing = (pasted.to(at::kByte) != expected).sum().item<int64_t>();
  std::cout << "mask_rcnn " << key << " pasted masks: " << differing << " of "
            << expected.numel() << " pixels differ\n";
  EXPECT_EQ(differing, 0);
}

INSTANTIATE_TEST_SUITE_P(All, PasteMasksTest, ::testing::Values("256x320", "200x296"));

}  // namespace
}  // namespace d2x::parity
