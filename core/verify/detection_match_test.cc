#include "core/verify/detection_match.h"

#include <ATen/ATen.h>

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

// Exact ties at the lowest expected score are counted and named in the summary; they do not
// change whether the sets agree.
TEST(MatchDetectionsTest, ReportsExactTiesAtTheLowestScore) {
  const DetectionSet e = Set({0, 0, 10, 10, 20, 20, 40, 30, 50, 50, 60, 60},
                             {0.9f, 1.0f, 1.0f}, {1, 1, 1});
  EXPECT_EQ(MatchDetections(e, e).num_tied_at_lowest_score, 0);  // 0.9 is the lowest, once
  const DetectionSet tied = Set({20, 20, 40, 30, 50, 50, 60, 60}, {1.0f, 1.0f}, {1, 1});
  MatchReport r =
      MatchDetections(tied, Set({20, 20, 40, 30, 70, 70, 80, 80}, {1.0f, 1.0f}, {1, 1}));
  EXPECT_EQ(r.num_tied_at_lowest_score, 2);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.Summary().find("2 expected detections tie exactly"), std::string::npos)
      << r.Summary();
  // The disagreeing detections name their ties (the agreeing one has none listed).
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_NE(r.problems[0].find("has no actual detection of its class overlapping it; score tied "
                               "exactly with 1 other expected detection"),
            std::string::npos)
      << r.problems[0];
  EXPECT_NE(r.problems[1].find("is unmatched; score tied exactly with 1 other actual detection"),
            std::string::npos)
      << r.problems[1];
}

}  // namespace
}  // namespace d2x::verify
