// Unit tests of the box-level blocks: anchors, Box2BoxTransform, ROIPooler, proposal selection.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <set>

#include "core/modeling/anchor_generator.h"
#include "core/modeling/box2box_transform.h"
#include "core/modeling/poolers.h"
#include "core/modeling/proposal_utils.h"
#include "core/ops/ops.h"
#include "gtest/gtest.h"

namespace d2x::modeling {
namespace {

at::Tensor T(std::vector<float> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::kFloat).reshape(shape);
}

TEST(AnchorGeneratorTest, CellAnchorsAsDetectron2) {
  at::Tensor cell = DefaultAnchorGenerator::GenerateCellAnchors({32}, {0.5, 1.0, 2.0});
  ASSERT_EQ(cell.sizes(), (at::IntArrayRef{3, 4}));
  EXPECT_EQ(cell.scalar_type(), at::kFloat);
  // Python: w = sqrt(32**2.0 / 0.5) = 45.254833995939045, h = 0.5 * w.
  EXPECT_EQ(cell[0][0].item<float>(), static_cast<float>(-22.627416997969522));
  EXPECT_EQ(cell[0][1].item<float>(), static_cast<float>(-11.313708498984761));
  EXPECT_EQ(cell[1][2].item<float>(), 16.f);
  EXPECT_EQ(cell[2][3].item<float>(), static_cast<float>(22.627416997969522));
}

TEST(AnchorGeneratorTest, GridAnchorsLayoutAndBroadcast) {
  AnchorGeneratorOptions o;
  o.sizes = {{32}, {64}};
  o.aspect_ratios = {{0.5, 1.0, 2.0}};  // broadcast to both levels
  o.strides = {4, 8};
  o.offset = 0.0;
  auto gen = DefaultAnchorGenerator::Create(o);
  ASSERT_TRUE(gen.ok()) << gen.status();
  EXPECT_EQ(gen->num_anchors(), (std::vector<int64_t>{3, 3}));
  auto anchors = gen->Forward({at::zeros({1, 8, 2, 3}), at::zeros({1, 8, 1, 2})});
  ASSERT_EQ(anchors.size(), 2u);
  EXPECT_EQ(anchors[0].sizes(), (at::IntArrayRef{2 * 3 * 3, 4}));
  // Location-major: row (y=0, x=1), anchor 1 (ratio 1) = (4-16, 0-16, 4+16, 0+16).
  EXPECT_TRUE(at::equal(anchors[0][1 * 3 + 1], T({-12, -16, 20, 16}, {4})));
  // (y=1, x=2), anchor 1.
  EXPECT_TRUE(at::equal(anchors[0][5 * 3 + 1], T({-8, -12, 24, 20}, {4})));
  EXPECT_TRUE(at::equal(anchors[1][3 + 1], T({-24, -32, 40, 32}, {4})));

  o.offset = 0.5;
  auto half = DefaultAnchorGenerator::Create(o);
  ASSERT_TRUE(half.ok());
  auto a = half->GridAnchors({{1, 1}, {1, 1}});
  EXPECT_TRUE(at::equal(a[0][1], T({-14, -14, 18, 18}, {4})));

  o.sizes = {{32}, {64}, {128}};
  EXPECT_FALSE(DefaultAnchorGenerator::Create(o).ok());
  o.sizes = {{32}};
  o.offset = 1.0;
  EXPECT_FALSE(DefaultAnchorGenerator::Create(o).ok());
}

TEST(Box2BoxTransformTest, RoundTripAndClamp) {
  Box2BoxTransform t({10.0, 10.0, 5.0, 5.0});
  at::Tensor src = T({0, 0, 10, 20, 5, 5, 50, 30}, {2, 4});
  at::Tensor dst = T({1, 2, 12, 18, 0, 0, 60, 40}, {2, 4});
  at::Tensor deltas = t.GetDeltas(src, dst);
  EXPECT_TRUE(at::allclose(t.ApplyDeltas(deltas, src), dst, 1e-5, 1e-4));
  // k = 2 class-specific deltas per box.
  at::Tensor two = t.ApplyDeltas(at::cat({deltas, at::zeros({2, 4})}, 1), src);
  EXPECT_EQ(two.sizes(), (at::IntArrayRef{2, 8}));
  EXPECT_TRUE(at::allclose(two.slice(1, 4, 8), src, 1e-6, 1e-5));
  // Huge dw is clamped at log(1000/16): width 10 -> 625.
  at::Tensor big = t.ApplyDeltas(T({0, 0, 1000, 0}, {1, 4}), T({0, 0, 10, 10}, {1, 4}));
  EXPECT_NEAR((big[0][2] - big[0][0]).item<float>(), 625.f, 1e-3);
  // float64 deltas are decoded in float32, like detectron2.
  EXPECT_EQ(t.ApplyDeltas(deltas.to(at::kDouble), src).scalar_type(), at::kFloat);
}

TEST(PoolerTest, LevelAssignmentTable) {
  // sqrt(area) -> level for min 2 / max 5, canonical 224 @ 4: floor(4 + log2(s / 224 + 1e-8)).
  struct Case {
    float side;
    int64_t level;
  };
  const Case cases[] = {{1, 2},   {55, 2},   {56, 2},   {111, 2},  {112, 3}, {223, 3},
                        {224, 4}, {447, 4},  {448, 5},  {895, 5},  {896, 5}, {5000, 5}};
  std::vector<float> v;
  for (const Case& c : cases) v.insert(v.end(), {10, 10, 10 + c.side, 10 + c.side});
  at::Tensor boxes = T(v, {static_cast<int64_t>(v.size() / 4), 4});
  at::Tensor levels = AssignBoxesToLevels({boxes.slice(0, 0, 5), boxes.slice(0, 5)}, 2, 5, 224, 4);
  ASSERT_EQ(levels.scalar_type(), at::kLong);
  for (size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(levels[i].item<int64_t>() + 2, cases[i].level) << "side " << cases[i].side;
  }
}

TEST(PoolerTest, PoolerFormat) {
  at::Tensor fmt = ConvertBoxesToPoolerFormat({T({1, 2, 3, 4}, {1, 4}), at::zeros({0, 4}),
                                               T({5, 6, 7, 8, 9, 10, 11, 12}, {2, 4})});
  EXPECT_TRUE(at::equal(fmt, T({0, 1, 2, 3, 4, 2, 5, 6, 7, 8, 2, 9, 10, 11, 12}, {3, 5})));
}

TEST(PoolerTest, MultiLevelEqualsDirectRoiAlignPerLevel) {
  RoiPoolerOptions o;
  o.output_height = o.output_width = 7;
  o.scales = {1.0 / 4, 1.0 / 8, 1.0 / 16, 1.0 / 32};
  o.sampling_ratio = 0;
  o.pooler_type = "ROIAlignV2";
  auto pooler = RoiPooler::Create(o);
  ASSERT_TRUE(pooler.ok()) << pooler.status();
  EXPECT_EQ(pooler->min_level(), 2);
  EXPECT_EQ(pooler->max_level(), 5);
  at::manual_seed(7);
  std::vector<at::Tensor> features;
  for (int64_t s : {4, 8, 16, 32}) features.push_back(at::randn({2, 5, 256 / s, 320 / s}));
  // Boxes of all sizes for two images.
  at::Tensor xy = at::rand({30, 2}) * 200;
  at::Tensor wh = at::exp(at::rand({30, 2}) * 6.5) + 1;
  at::Tensor boxes = at::cat({xy, xy + wh}, 1);
  std::vector<at::Tensor> per_image = {boxes.slice(0, 0, 12), boxes.slice(0, 12)};
  at::Tensor out = pooler->Forward(features, per_image);
  ASSERT_EQ(out.sizes(), (at::IntArrayRef{30, 5, 7, 7}));
  at::Tensor levels = AssignBoxesToLevels(per_image, 2, 5, 224, 4);
  at::Tensor rois = ConvertBoxesToPoolerFormat(per_image);
  std::set<int64_t> used;
  for (int64_t i = 0; i < 30; ++i) {
    const int64_t l = levels[i].item<int64_t>();
    used.insert(l);
    at::Tensor ref = ops::RoiAlign(features[l], rois.slice(0, i, i + 1), o.scales[l], 7, 7, 0,
                                   /*aligned=*/true);
    EXPECT_TRUE(at::equal(out.slice(0, i, i + 1), ref)) << "box " << i << " level " << l;
  }
  EXPECT_GE(used.size(), 3u);

  // Single level: plain roi_align, aligned=false for "ROIAlign".
  o.scales = {1.0 / 16};
  o.pooler_type = "ROIAlign";
  o.sampling_ratio = 2;
  auto single = RoiPooler::Create(o);
  ASSERT_TRUE(single.ok());
  at::Tensor s = single->Forward({features[2]}, per_image);
  EXPECT_TRUE(at::equal(s, ops::RoiAlign(features[2], rois, 1.0 / 16, 7, 7, 2, false)));

  o.pooler_type = "ROIPool";
  EXPECT_EQ(RoiPooler::Create(o).status().code(), absl::StatusCode::kUnimplemented);
  o.pooler_type = "ROIAlignV2";
  o.scales = {1.0 / 4, 1.0 / 16};
  EXPECT_FALSE(RoiPooler::Create(o).ok());
  o.scales = {1.0 / 3};
  EXPECT_FALSE(RoiPooler::Create(o).ok());
}

TEST(PoolerTest, EmptyInputs) {
  RoiPoolerOptions o;
  o.scales = {1.0 / 4, 1.0 / 8};
  auto pooler = RoiPooler::Create(o);
  ASSERT_TRUE(pooler.ok());
  std::vector<at::Tensor> features = {at::randn({2, 3, 16, 16}), at::randn({2, 3, 8, 8})};
  at::Tensor out = pooler->Forward(features, {at::zeros({0, 4}), at::zeros({0, 4})});
  EXPECT_EQ(out.sizes(), (at::IntArrayRef{0, 3, 7, 7}));
  // One image without boxes next to one with.
  out = pooler->Forward(features, {at::zeros({0, 4}), T({0, 0, 20, 20}, {1, 4})});
  EXPECT_EQ(out.sizes(), (at::IntArrayRef{1, 3, 7, 7}));
  EXPECT_TRUE(at::equal(out, ops::RoiAlign(features[0], T({1, 0, 0, 20, 20}, {1, 5}), 0.25, 7, 7,
                                           0, true)));
}

TEST(FindTopRpnProposalsTest, TopkClipFilterNms) {
  // Level 0: 4 anchors, level 1: 2 anchors; one image of 50x60 (h x w).
  at::Tensor p0 = T({0, 0, 10, 10,     // score 0.9
                     1, 1, 11, 11,     // score 0.8, overlaps the first (IoU 0.68)
                     -5, -5, 20, 70,   // score 0.7, clipped to (0, 0, 20, 50)... w=60
                     30, 30, 30.5, 40  // score 0.95, width 0.5: removed by min size 1
                    },
                    {1, 4, 4});
  at::Tensor s0 = T({0.9f, 0.8f, 0.7f, 0.95f}, {1, 4});
  at::Tensor p1 = T({0, 0, 10, 10, 40, 40, 45, 45}, {1, 2, 4});
  at::Tensor s1 = T({0.85f, -1.f}, {1, 2});
  auto res = FindTopRpnProposals({p0, p1}, {s0, s1}, {{50, 60}}, /*nms=*/0.5,
                                 /*pre_nms_topk=*/3, /*post_nms_topk=*/10, /*min_size=*/1.0);
  ASSERT_EQ(res.size(), 1u);
  // Pre-NMS top-3 of level 0 drops the 0.7 box; the 0.95 box is too thin; 0.8 is suppressed by
  // 0.9 (same level); the level-1 copy of the 0.9 box survives (different level).
  EXPECT_TRUE(at::equal(res[0].objectness_logits, T({0.9f, 0.85f, -1.f}, {3})));
  EXPECT_TRUE(at::equal(res[0].boxes, T({0, 0, 10, 10, 0, 0, 10, 10, 40, 40, 45, 45}, {3, 4})));
  auto two = FindTopRpnProposals({p0, p1}, {s0, s1}, {{50, 60}}, 0.5, 4, 2, 0.0);
  EXPECT_TRUE(at::equal(two[0].objectness_logits, T({0.95f, 0.9f}, {2})));
  // Clipping uses (height, width).
  auto clip = FindTopRpnProposals({p0.slice(1, 2, 3)}, {s0.slice(1, 2, 3)}, {{50, 60}}, 0.5, 1,
                                  1, 0.0);
  EXPECT_TRUE(at::equal(clip[0].boxes, T({0, 0, 20, 50}, {1, 4})));
  // Everything filtered: empty proposals, not an error.
  auto none = FindTopRpnProposals({p0}, {s0}, {{50, 60}}, 0.5, 4, 10, /*min_size=*/100.0);
  EXPECT_EQ(none[0].boxes.sizes(), (at::IntArrayRef{0, 4}));
  EXPECT_EQ(none[0].objectness_logits.size(0), 0);
  // Non-finite scores are dropped (inference does not raise, unlike training).
  at::Tensor s_nan = s0.clone();
  s_nan[0][0] = std::numeric_limits<float>::quiet_NaN();
  auto finite = FindTopRpnProposals({p0}, {s_nan}, {{50, 60}}, 0.5, 4, 10, 0.0);
  EXPECT_TRUE(at::isfinite(finite[0].objectness_logits).all().item<bool>());
}

}  // namespace
}  // namespace d2x::modeling
