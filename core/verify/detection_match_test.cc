#include "core/verify/detection_match.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace d2x::verify {
namespace {

DetectionSet Set(const std::vector<float>& boxes, const std::vector<float>& scores,
                 const std::vector<int64_t>& classes) {
  DetectionSet s;
  s.boxes = at::tensor(boxes).view({-1, 4});
  s.scores = at::tensor(scores);
  s.classes = at::tensor(classes, at::kLong);
  return s;
}

TEST(MatchDetectionsTest, AgreeingAndDisagreeingPairs) {
  const DetectionSet e = Set({0, 0, 10, 10, 20, 20, 40, 30}, {0.9f, 0.8f}, {1, 2});
  MatchReport same = MatchDetections(e, e);
  EXPECT_TRUE(same.ok) << same.Summary();
  EXPECT_EQ(same.num_agreeing, 2);
  // The second box moved by 1 px of 20: IoU 0.905 < 0.99; 1 of 2 agree.
  const DetectionSet a = Set({0, 0, 10, 10, 21, 20, 41, 30}, {0.9f, 0.8f}, {1, 2});
  MatchReport moved = MatchDetections(e, a);
  EXPECT_FALSE(moved.ok);
  EXPECT_EQ(moved.num_matched, 2);
  EXPECT_EQ(moved.num_agreeing, 1);
  ASSERT_EQ(moved.problems.size(), 1u);
  EXPECT_NE(moved.problems[0].find("box 20x10 px"), std::string::npos) << moved.problems[0];
  EXPECT_EQ(moved.problems[0].find("tied"), std::string::npos) << moved.problems[0];  // unique
  // Another class is unmatched on both sides.
  MatchReport other =
      MatchDetections(e, Set({0, 0, 10, 10, 20, 20, 40, 30}, {0.9f, 0.8f}, {1, 3}));
  EXPECT_EQ(other.num_matched, 1);
  EXPECT_EQ(other.problems.size(), 2u);
}

// Exact ties at the lowest score on both sides: the disagreeing tied detections are left out of
// the fraction (and named as ties); a tie on one side only is an ordinary difference.
TEST(MatchDetectionsTest, ExactTiesAtTheLowestScoreSharedByBothSidesAreLeftOut) {
  const DetectionSet e = Set({0, 0, 10, 10, 20, 20, 40, 30, 50, 50, 60, 60},
                             {0.9f, 1.0f, 1.0f}, {1, 1, 1});
  EXPECT_EQ(MatchDetections(e, e).num_tied_at_lowest_score, 0);  // 0.9 is the lowest, once
  const DetectionSet tied = Set({20, 20, 40, 30, 50, 50, 60, 60}, {1.0f, 1.0f}, {1, 1});
  MatchReport r =
      MatchDetections(tied, Set({20, 20, 40, 30, 70, 70, 80, 80}, {1.0f, 1.0f}, {1, 1}));
  EXPECT_EQ(r.num_tied_at_lowest_score, 2);
  EXPECT_EQ(r.num_agreeing, 1);
  EXPECT_EQ(r.num_tie_excused_expected, 1);
  EXPECT_EQ(r.num_tie_excused_actual, 1);
  EXPECT_DOUBLE_EQ(r.fraction, 1.0);
  EXPECT_TRUE(r.ok) << r.Summary();
  EXPECT_TRUE(r.problems.empty());
  EXPECT_NE(r.Summary().find("agreeing 1 of 1 compared"), std::string::npos) << r.Summary();
  EXPECT_NE(r.Summary().find("1 expected and 1 actual detections of an exact tie"),
            std::string::npos)
      << r.Summary();

  // The same detections with the actual tie one float step lower: not a shared tie, so the two
  // unmatched detections count, and their lines name the ties.
  const float below = std::nextafter(1.0f, 0.0f);
  MatchReport one_sided =
      MatchDetections(tied, Set({20, 20, 40, 30, 70, 70, 80, 80}, {below, below}, {1, 1}));
  EXPECT_EQ(one_sided.num_tie_excused_expected + one_sided.num_tie_excused_actual, 0);
  EXPECT_FALSE(one_sided.ok);
  ASSERT_EQ(one_sided.problems.size(), 2u);
  EXPECT_NE(one_sided.problems[0].find("has no actual detection of its class overlapping it; "
                                       "score tied exactly with 1 other expected detection"),
            std::string::npos)
      << one_sided.problems[0];
  EXPECT_NE(one_sided.problems[1].find("is unmatched; score tied exactly with 1 other actual "
                                       "detection"),
            std::string::npos)
      << one_sided.problems[1];

  // Excusing can be turned off.
  MatchOptions strict;
  strict.excuse_exact_ties = false;
  EXPECT_FALSE(
      MatchDetections(tied, Set({20, 20, 40, 30, 70, 70, 80, 80}, {1.0f, 1.0f}, {1, 1}), strict)
          .ok);
}

// A sliver box (0.0055 px high, clipped at the border) whose coordinates differ by 1e-4 px has
// IoU 0.98; it agrees at float resolution (coordinates within detectron2's 1e-3 px). 2e-3 px off
// it does not.
TEST(BoxAgreementTest, SliversAgreeByCoordinates) {
  const MatchOptions options;
  const at::Tensor e = at::tensor({10.0, 199.9945, 40.0, 200.0}, at::kDouble);
  const at::Tensor close = at::tensor({10.0, 199.9946, 40.0, 200.0}, at::kDouble);
  const at::Tensor far = at::tensor({10.0, 199.9965, 40.0, 200.0}, at::kDouble);
  auto iou = [](const at::Tensor& a, const at::Tensor& b) {
    return PairwiseBoxIou(a.view({1, 4}), b.view({1, 4})).item<double>();
  };
  EXPECT_LT(iou(e, close), 0.99);
  EXPECT_EQ(BoxAgreement(e, close, iou(e, close), options), Agreement::kAtFloatResolution);
  EXPECT_EQ(BoxAgreement(e, far, iou(e, far), options), Agreement::kNo);
  EXPECT_EQ(BoxAgreement(e, e, iou(e, e), options), Agreement::kByRatio);
}

// The coordinate rule decides nothing the IoU rule would not for boxes at least 0.4 px on each
// side: every such box with each coordinate moved by box_atol_px, in any of the 16 directions,
// keeps IoU > 0.99.
TEST(BoxAgreementTest, CoordinateRuleOnlyDecidesBoxesUnderHalfAPixel) {
  const MatchOptions options;
  at::manual_seed(0);
  const int64_t n = 4000;
  at::Tensor xy = at::rand({n, 2}, at::kDouble) * 500;
  at::Tensor wh = 0.4 + at::rand({n, 2}, at::kDouble).pow(4) * 100;
  wh.select(0, 0).fill_(0.4);  // the smallest box
  at::Tensor a = at::cat({xy, xy + wh}, 1);
  double worst = 1.0;
  for (int signs = 0; signs < 16; ++signs) {
    at::Tensor move = at::empty({4}, at::kDouble);
    for (int c = 0; c < 4; ++c) move[c] = ((signs >> c) & 1 ? 1.0 : -1.0) * options.box_atol_px;
    const at::Tensor b = a + move;
    for (int64_t start = 0; start < n; start += 500) {
      const at::Tensor iou =
          PairwiseBoxIou(a.slice(0, start, start + 500), b.slice(0, start, start + 500));
      worst = std::min(worst, iou.diagonal().min().item<double>());
    }
  }
  EXPECT_GT(worst, options.box_iou);
}

// Masks: one differing pixel in a 6-pixel mask agrees at float resolution; two do not; and the
// floor adds nothing for masks of over 100 pixels (2 of 150 differ: IoU 0.987, disagrees).
TEST(RegionAgreementTest, OnePixelFloor) {
  const MatchOptions options;
  EXPECT_EQ(RegionAgreement(5, 6, options), Agreement::kAtFloatResolution);
  EXPECT_EQ(RegionAgreement(4, 6, options), Agreement::kNo);
  EXPECT_EQ(RegionAgreement(148, 150, options), Agreement::kNo);
  EXPECT_EQ(RegionAgreement(100, 101, options), Agreement::kByRatio);
  EXPECT_EQ(RegionAgreement(0, 0, options), Agreement::kByRatio);
}

// A matched pair agreeing only at float resolution counts as agreeing, is counted apart, and is
// named in a note.
TEST(MatchDetectionsTest, CountsPairsAgreeingAtFloatResolution) {
  DetectionSet e = Set({10, 199.9945f, 40, 200, 0, 0, 10, 10}, {0.7f, 0.6f}, {1, 2});
  DetectionSet a = Set({10, 199.9946f, 40, 200, 0, 0, 10, 10}, {0.7f, 0.6f}, {1, 2});
  MatchReport r = MatchDetections(e, a);
  EXPECT_TRUE(r.ok) << r.Summary();
  EXPECT_EQ(r.num_agreeing, 2);
  EXPECT_EQ(r.num_agreeing_at_resolution, 1);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("agrees at float resolution"), std::string::npos) << r.notes[0];
  EXPECT_NE(r.Summary().find("1 of the agreeing pairs only at float resolution"),
            std::string::npos);
}

}  // namespace
}  // namespace d2x::verify
