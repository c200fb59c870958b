// Caffe2-semantics ops on small hand-checked inputs.
#include "core/caffe2_ops/c2_ops.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace d2x::c2ops {
namespace {

TEST(C2OpsTest, BBoxTransformZeroDeltasClipsAndSplits) {
  // Two images; image 1 is 20x30 (h, w) and its roi sticks out to the right.
  const at::Tensor rois = at::tensor({0.f, 1.f, 2.f, 5.f, 6.f, 1.f, 10.f, 4.f, 40.f, 8.f},
                                     at::kFloat)
                              .view({2, 5});
  const at::Tensor deltas = at::zeros({2, 8}, at::kFloat);
  const at::Tensor im_info = at::tensor({50.f, 50.f, 1.f, 20.f, 30.f, 1.f}, at::kFloat).view({2, 3});
  auto [boxes, splits] = BBoxTransform(rois, deltas, im_info, {10.0, 10.0, 5.0, 5.0}, true);
  ASSERT_EQ(boxes.sizes(), at::IntArrayRef({2, 8}));
  EXPECT_TRUE(at::equal(boxes[0].slice(0, 0, 4), at::tensor({1.f, 2.f, 5.f, 6.f})));
  EXPECT_TRUE(at::equal(boxes[1].slice(0, 4, 8), at::tensor({10.f, 4.f, 30.f, 8.f})));
  EXPECT_TRUE(at::equal(splits, at::tensor({1.f, 1.f})));
}

TEST(C2OpsTest, BBoxTransformDecodesLikeBox2BoxTransform) {
  const at::Tensor rois = at::tensor({0.f, 10.f, 10.f, 30.f, 50.f}).view({1, 5});
  const at::Tensor deltas = at::tensor({1.f, -1.f, 0.5f, -0.5f}).view({1, 4});
  const at::Tensor im_info = at::tensor({100.f, 100.f, 1.f}).view({1, 3});
  auto [boxes, splits] = BBoxTransform(rois, deltas, im_info, {10.0, 10.0, 5.0, 5.0}, true);
  // ctr (20, 30), size (20, 40); dx = 0.1, dy = -0.1, dw = 0.1, dh = -0.1.
  const float cx = 0.1f * 20.f + 20.f, cy = -0.1f * 40.f + 30.f;
  const float w = std::exp(0.1f) * 20.f, h = std::exp(-0.1f) * 40.f;
  EXPECT_FLOAT_EQ(boxes[0][0].item<float>(), cx - 0.5f * w);
  EXPECT_FLOAT_EQ(boxes[0][1].item<float>(), cy - 0.5f * h);
  EXPECT_FLOAT_EQ(boxes[0][2].item<float>(), cx + 0.5f * w);
  EXPECT_FLOAT_EQ(boxes[0][3].item<float>(), cy + 0.5f * h);
}

TEST(C2OpsTest, BoxWithNmsLimitPerClassNmsLimitAndOrder) {
  // 3 rows, 2 foreground classes + background (last column).
  const at::Tensor scores =
      at::tensor({0.9f, 0.2f, 0.0f, 0.8f, 0.7f, 0.0f, 0.01f, 0.95f, 0.0f}).view({3, 3});
  const at::Tensor box = at::tensor({0.f, 0.f, 10.f, 10.f});
  const at::Tensor far = at::tensor({50.f, 50.f, 60.f, 60.f});
  // Rows 0 and 1 overlap (same box) for both classes; row 2 is elsewhere.
  const at::Tensor boxes =
      at::stack({at::cat({box, box}), at::cat({box, box}), at::cat({far, far})});
  auto [s, b, c, splits, keeps, keeps_size] =
      BoxWithNmsLimit(scores, boxes, at::tensor({3.f}), 0.05, 0.5, 100, false);
  // Class 0: row 0 (row 1 suppressed; row 2 below threshold). Class 1: rows 2, 1.
  EXPECT_TRUE(at::equal(s, at::tensor({0.9f, 0.95f, 0.7f})));
  EXPECT_TRUE(at::equal(c, at::tensor({0.f, 1.f, 1.f})));
  EXPECT_TRUE(at::equal(b[1], far));
  EXPECT_TRUE(at::equal(splits, at::tensor({3.f})));
  EXPECT_TRUE(at::equal(keeps, at::tensor({0, 2, 1}, at::kInt)));
  EXPECT_TRUE(at::equal(keeps_size, at::tensor({0, 1, 2}, at::kInt).view({1, 3})));
  // detections_per_im = 2 keeps the two best over all classes, still written class by class.
  auto limited = BoxWithNmsLimit(scores, boxes, at::tensor({3.f}), 0.05, 0.5, 2, false);
  EXPECT_TRUE(at::equal(std::get<0>(limited), at::tensor({0.9f, 0.95f})));
}

TEST(C2OpsTest, DistributeAndBatchPermutationRestoreOrder) {
  // Sizes 16 (level 2 after clamping), 224 (level 4), 900 (level 5), 112 (level 3).
  const at::Tensor rois = at::tensor({0.f, 0.f, 0.f, 16.f, 16.f,      //
                                      0.f, 0.f, 0.f, 224.f, 224.f,    //
                                      0.f, 0.f, 0.f, 900.f, 900.f,    //
                                      0.f, 0.f, 0.f, 112.f, 112.f})
                              .view({4, 5});
  auto [l2, l3, l4, l5, restore] = DistributeFpnProposals(rois, 224, 4, 5, 2);
  EXPECT_EQ(l2.size(0), 1);
  EXPECT_EQ(l3.size(0), 1);
  EXPECT_EQ(l4.size(0), 1);
  EXPECT_EQ(l5.size(0), 1);
  EXPECT_EQ(restore.scalar_type(), at::kInt);
  const at::Tensor shuffled = at::cat({l2, l3, l4, l5});
  EXPECT_TRUE(at::equal(BatchPermutation(shuffled, restore), rois));
}

TEST(C2OpsTest, CollectKeepsTopPerImageAndGenerateProposalsShapes) {
  const at::Tensor scores = at::randn({2, 3, 4, 5});
  const at::Tensor deltas = at::zeros({2, 12, 4, 5});
  const at::Tensor im_info = at::tensor({32.f, 40.f, 1.f, 30.f, 40.f, 1.f}).view({2, 3});
  const at::Tensor anchors = at::tensor({-4.f, -4.f, 4.f, 4.f, -8.f, -8.f, 8.f, 8.f,
                                         -2.f, -6.f, 2.f, 6.f})
                                 .view({3, 4});
  auto [rois, probs] = GenerateProposals(scores, deltas, im_info, anchors, 0.125, 1000, 7, 0.7, 0);
  ASSERT_EQ(rois.size(1), 5);
  ASSERT_EQ(rois.size(0), probs.size(0));
  for (int b = 0; b < 2; ++b) {
    const at::Tensor mine = rois.select(1, 0).eq(b);
    EXPECT_LE(mine.sum().item<int64_t>(), 7);
    EXPECT_GT(mine.sum().item<int64_t>(), 0);
  }
  // Boxes are clipped to each image.
  EXPECT_GE(rois.slice(1, 1, 5).min().item<float>(), 0.f);
  EXPECT_LE(rois.select(1, 3).max().item<float>(), 40.f);
  const at::Tensor collected = CollectRpnProposals({rois, probs}, 2, 2, 3);
  ASSERT_EQ(collected.size(0), 6);
  EXPECT_TRUE(at::equal(collected.select(1, 0), at::tensor({0.f, 0.f, 0.f, 1.f, 1.f, 1.f})));
  EXPECT_TRUE(at::equal(LengthsToSegmentIds(at::tensor({2, 0, 1}, at::kInt)),
                        at::tensor({0, 0, 2}, at::kInt)));
}

}  // namespace
}  // namespace d2x::c2ops
