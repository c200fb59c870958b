// d2x::nms and d2x::batched_nms against torchvision: torchvision::nms (its own CPU kernel,
// dlopen'ed) and torchvision.ops.batched_nms transliterated op for op on top of it. Results must be
// identical, including the order of tied scores.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "core/ops/ops.h"
#include "core/ops/torchvision_reference.h"

namespace d2x::ops {
namespace {

class NmsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const absl::Status loaded = reference::LoadTorchvision();
    ASSERT_TRUE(loaded.ok()) << loaded;
  }
  void SetUp() override { ASSERT_TRUE(reference::LoadTorchvision().ok()); }
};

enum class Scenario { kDistinctScores, kTiedScores, kDuplicates };

struct Detections {
  at::Tensor boxes;   // [N, 4]
  at::Tensor scores;  // [N]
};

// Heavily overlapping boxes in a 200x200 image.
Detections RandomDetections(int64_t n, Scenario scenario, at::ScalarType dtype, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const int64_t unique = scenario == Scenario::kDuplicates ? (n + 3) / 4 : n;
  const at::Tensor xy = at::rand({unique, 2}, gen, at::kDouble) * 200;
  const at::Tensor wh = at::rand({unique, 2}, gen, at::kDouble) * 60 + 1;
  at::Tensor boxes = at::cat({xy, xy + wh}, 1);
  at::Tensor scores;
  switch (scenario) {
    case Scenario::kDistinctScores:
      scores = at::rand({n}, gen, at::kDouble);
      break;
    case Scenario::kTiedScores:  // five score levels
      scores = at::randint(0, 5, {n}, gen, at::kDouble) / 4;
      break;
    case Scenario::kDuplicates:  // every box four times (some with the same score)
      boxes = boxes.repeat({4, 1}).slice(0, 0, n);
      scores = at::randint(0, 3, {n}, gen, at::kDouble) / 2;
      break;
  }
  return {boxes.to(dtype), scores.to(dtype)};
}

std::string ScenarioName(Scenario s) {
  switch (s) {
    case Scenario::kDistinctScores:
      return "distinct";
    case Scenario::kTiedScores:
      return "ties";
    case Scenario::kDuplicates:
      return "duplicates";
  }
  return "?";
}

void ExpectSameKeep(const at::Tensor& ours, const at::Tensor& theirs, const std::string& what) {
  ASSERT_EQ(ours.scalar_type(), at::kLong) << what;
  ASSERT_EQ(ours.dim(), 1) << what;
  EXPECT_TRUE(at::equal(ours, theirs)) << what << "\nours:   " << ours << "\ntheirs: " << theirs;
}

// ---------------------------------------------------------------------------------------- nms

using NmsCase = std::tuple<double /*iou_threshold*/, Scenario, at::ScalarType>;

class NmsParityTest : public NmsTest, public ::testing::WithParamInterface<NmsCase> {};

TEST_P(NmsParityTest, MatchesTorchvision) {
  const auto [threshold, scenario, dtype] = GetParam();
  uint64_t seed = 17 + static_cast<uint64_t>(threshold * 100) + static_cast<int>(scenario) * 1000;
  for (int64_t n : {1, 2, 3, 10, 100, 1000, 3000}) {
    const Detections d = RandomDetections(n, scenario, dtype, seed++);
    const at::Tensor ours = Nms(d.boxes, d.scores, threshold);
    const at::Tensor theirs = reference::Nms(d.boxes, d.scores, threshold);
    ExpectSameKeep(ours, theirs, "n=" + std::to_string(n));
    if (n >= 1000) {
      EXPECT_LT(ours.numel(), n);  // something was suppressed
    }
  }
}

std::string NmsCaseName(const ::testing::TestParamInfo<NmsCase>& info) {
  const auto [threshold, scenario, dtype] = info.param;
  return "iou" + std::to_string(static_cast<int>(threshold * 100)) + "_" + ScenarioName(scenario) +
         (dtype == at::kFloat ? "_f32" : "_f64");
}

INSTANTIATE_TEST_SUITE_P(Grid, NmsParityTest,
                         ::testing::Combine(::testing::Values(0.3, 0.5, 0.7),
                                            ::testing::Values(Scenario::kDistinctScores,
                                                              Scenario::kTiedScores,
                                                              Scenario::kDuplicates),
                                            ::testing::Values(at::kFloat, at::kDouble)),
                         NmsCaseName);

TEST_F(NmsTest, ExtremeThresholds) {
  const Detections d = RandomDetections(500, Scenario::kTiedScores, at::kFloat, 3);
  for (double threshold : {0.0, 1.0, -0.5, 1.5, 0.1 + 0.2}) {
    ExpectSameKeep(Nms(d.boxes, d.scores, threshold), reference::Nms(d.boxes, d.scores, threshold),
                   "threshold " + std::to_string(threshold));
  }
}

TEST_F(NmsTest, AllTiedAndIdentical) {
  // 5000 copies of one box with one score: only the sort's tie order decides which is kept.
  const at::Tensor boxes = at::tensor({10.f, 10.f, 50.f, 60.f}).repeat({5000, 1});
  const at::Tensor scores = at::full({5000}, 0.5f);
  const at::Tensor ours = Nms(boxes, scores, 0.5);
  ExpectSameKeep(ours, reference::Nms(boxes, scores, 0.5), "identical");
  EXPECT_EQ(ours.numel(), 1);
  // Large tied input with distinct boxes: the whole order matters.
  const Detections d = RandomDetections(5000, Scenario::kTiedScores, at::kFloat, 5);
  ExpectSameKeep(Nms(d.boxes, d.scores, 0.7), reference::Nms(d.boxes, d.scores, 0.7), "5000 ties");
}

TEST_F(NmsTest, DegenerateBoxes) {
  // Zero-area, inverted and NaN-IoU (0/0) boxes go through the same arithmetic.
  const at::Tensor boxes =
      at::tensor({0.f, 0.f, 0.f,  0.f,  0.f, 0.f, 0.f, 0.f, 5.f, 5.f, 1.f, 1.f,
                  0.f, 0.f, 10.f, 10.f, 1.f, 1.f, 9.f, 9.f, 3.f, 3.f, 3.f, 8.f})
          .reshape({6, 4});
  const at::Tensor scores = at::tensor({0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f});
  for (double threshold : {0.0, 0.5}) {
    ExpectSameKeep(Nms(boxes, scores, threshold), reference::Nms(boxes, scores, threshold),
                   "degenerate");
  }
}

TEST_F(NmsTest, FloatIouIsComparedWithTheDoubleThreshold) {
  // IoU = 3 / 10 evaluates to float(0.3) = 0.300000011920929, which is > 0.3 (double) but not
  // > float(0.3): the second box is suppressed at 0.3 and kept at 0.300000011920929.
  const at::Tensor boxes = at::tensor({0.f, 0.f, 10.f, 1.f, 0.f, 0.f, 3.f, 1.f}).reshape({2, 4});
  const at::Tensor scores = at::tensor({0.9f, 0.8f});
  for (const auto& [threshold, kept] :
       {std::pair<double, int64_t>{0.3, 1}, {static_cast<double>(0.3f), 2}}) {
    const at::Tensor ours = Nms(boxes, scores, threshold);
    ExpectSameKeep(ours, reference::Nms(boxes, scores, threshold), std::to_string(threshold));
    EXPECT_EQ(ours.numel(), kept);
  }
}

TEST_F(NmsTest, EmptyInput) {
  const at::Tensor ours = Nms(at::zeros({0, 4}), at::zeros({0}), 0.5);
  ExpectSameKeep(ours, reference::Nms(at::zeros({0, 4}), at::zeros({0}), 0.5), "empty");
  EXPECT_EQ(ours.numel(), 0);
  const at::Tensor batched =
      BatchedNms(at::zeros({0, 4}), at::zeros({0}), at::zeros({0}, at::kLong), 0.5);
  EXPECT_EQ(batched.numel(), 0);
  EXPECT_EQ(batched.scalar_type(), at::kLong);
}

TEST_F(NmsTest, NonContiguousInputs) {
  const Detections d = RandomDetections(400, Scenario::kTiedScores, at::kFloat, 9);
  const at::Tensor boxes = d.boxes.t().contiguous().t();                      // column-major
  const at::Tensor scores = at::stack({d.scores, d.scores}, 1).select(1, 0);  // stride 2
  ASSERT_FALSE(boxes.is_contiguous());
  ASSERT_FALSE(scores.is_contiguous());
  ExpectSameKeep(Nms(boxes, scores, 0.5), reference::Nms(boxes, scores, 0.5), "strided");
}

TEST_F(NmsTest, RejectsBadInputs) {
  const at::Tensor boxes = at::rand({4, 4});
  EXPECT_THROW(Nms(boxes, at::rand({3}), 0.5), c10::Error);
  EXPECT_THROW(Nms(boxes, at::rand({4}, at::kDouble), 0.5), c10::Error);
  EXPECT_THROW(Nms(at::rand({4, 5}), at::rand({4}), 0.5), c10::Error);
  EXPECT_THROW(Nms(boxes.to(at::kInt), at::rand({4}).to(at::kInt), 0.5), c10::Error);
  EXPECT_THROW(BatchedNms(boxes, at::rand({4}), at::zeros({4}), 0.5), c10::Error);  // float idxs
  EXPECT_THROW(BatchedNms(boxes, at::rand({4}), at::zeros({3}, at::kLong), 0.5), c10::Error);
}

// -------------------------------------------------------------------------------- batched_nms

at::Tensor RandomClasses(int64_t n, int64_t num_classes, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::randint(0, num_classes, {n}, gen, at::kLong);
}

using BatchedCase = std::tuple<int64_t /*n*/, Scenario>;

class BatchedNmsParityTest : public NmsTest, public ::testing::WithParamInterface<BatchedCase> {};

// torchvision.ops.batched_nms uses the offset trick up to 4000 coordinates (1000 boxes) and one
// NMS per class above; both regimes are compared with their own transliteration.
TEST_P(BatchedNmsParityTest, MatchesTorchvisionInItsRegime) {
  const auto [n, scenario] = GetParam();
  uint64_t seed = 100 + static_cast<uint64_t>(n) * 7 + static_cast<int>(scenario);
  for (int64_t num_classes : {1, 3, 80}) {
    for (double threshold : {0.3, 0.5, 0.7}) {
      const Detections d = RandomDetections(n, scenario, at::kFloat, seed++);
      const at::Tensor idxs = RandomClasses(n, num_classes, seed++);
      const at::Tensor ours = BatchedNms(d.boxes, d.scores, idxs, threshold);
      const at::Tensor theirs = reference::BatchedNms(d.boxes, d.scores, idxs, threshold);
      ExpectSameKeep(
          ours, theirs,
          "classes=" + std::to_string(num_classes) + " iou=" + std::to_string(threshold));
      // The regime-specific reference is what torchvision.ops.batched_nms would run.
      const at::Tensor regime =
          d.boxes.numel() > 4000
              ? reference::BatchedNmsVanilla(d.boxes, d.scores, idxs, threshold)
              : reference::BatchedNmsCoordinateTrick(d.boxes, d.scores, idxs, threshold);
      EXPECT_TRUE(at::equal(ours, regime));
    }
  }
}

std::string BatchedCaseName(const ::testing::TestParamInfo<BatchedCase>& info) {
  const auto [n, scenario] = info.param;
  return "n" + std::to_string(n) + "_" + ScenarioName(scenario);
}

INSTANTIATE_TEST_SUITE_P(
    Grid, BatchedNmsParityTest,
    ::testing::Combine(::testing::Values<int64_t>(1, 7, 200, 1000, 1001, 2500, 6000),
                       ::testing::Values(Scenario::kDistinctScores, Scenario::kTiedScores,
                                         Scenario::kDuplicates)),
    BatchedCaseName);

// With distinct scores and moderate class ids both regimes agree with plain per-class NMS merged by
// score: d2x::batched_nms is per-class NMS in both regimes.
TEST_F(NmsTest, BatchedNmsEqualsPerClassNmsMergedByScore) {
  for (int64_t n : {300, 1000, 1001, 4000}) {
    const Detections d = RandomDetections(n, Scenario::kDistinctScores, at::kFloat, 40 + n);
    const at::Tensor idxs = RandomClasses(n, 5, 50 + n);
    // Reference: NMS per class, kept indices of all classes, by decreasing score.
    std::vector<at::Tensor> kept;
    for (int64_t c = 0; c < 5; ++c) {
      const at::Tensor members = at::nonzero(idxs == c).squeeze(1);
      kept.push_back(
          members.index_select(0, reference::Nms(d.boxes.index_select(0, members),
                                                 d.scores.index_select(0, members), 0.5)));
    }
    const at::Tensor all = at::cat(kept);
    const at::Tensor expected =
        all.index_select(0, std::get<1>(d.scores.index_select(0, all).sort(0, true)));
    ExpectSameKeep(BatchedNms(d.boxes, d.scores, idxs, 0.5), expected, "n=" + std::to_string(n));
  }
}

// Large class ids make the offsets so big that the shifted boxes lose precision: torchvision's
// trick regime then differs from per-class NMS, and d2x::batched_nms must follow the trick.
TEST_F(NmsTest, BatchedNmsFollowsTheTricksRounding) {
  int found = 0;
  for (uint64_t seed = 0; seed < 400 && found < 3; ++seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    const int64_t n = 20;
    const at::Tensor xy = at::rand({n, 2}, gen, at::kFloat) * 100;
    const at::Tensor boxes = at::cat({xy, xy + at::rand({n, 2}, gen, at::kFloat) * 50 + 1}, 1);
    const at::Tensor scores = at::rand({n}, gen, at::kFloat);
    const int64_t scale = at::randint(1, 200000, {1}, gen, at::kLong).item<int64_t>();
    const at::Tensor idxs = at::randint(0, 3, {n}, gen, at::kLong) * scale;
    const at::Tensor trick = reference::BatchedNmsCoordinateTrick(boxes, scores, idxs, 0.5);
    const at::Tensor vanilla = reference::BatchedNmsVanilla(boxes, scores, idxs, 0.5);
    if (at::equal(trick, vanilla)) continue;
    ++found;
    ExpectSameKeep(BatchedNms(boxes, scores, idxs, 0.5), trick, "seed " + std::to_string(seed));
  }
  EXPECT_EQ(found, 3) << "expected inputs on which the two regimes differ";
}

}  // namespace
}  // namespace d2x::ops
