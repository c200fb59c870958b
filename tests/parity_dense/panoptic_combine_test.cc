// combine_semantic_and_instance_outputs and SemSegFPNHead on hand-made inputs: every branch of
// detectron2's logic (score cut, empty mask, overlap skip, partial overlap, stuff area limit, the
// "things" label 0), and the head's structure / names.
#include "plugins/arch/panoptic_fpn/panoptic_combine.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "plugins/arch/panoptic_fpn/sem_seg_head.h"

namespace d2x::panoptic_fpn {
namespace {

at::Tensor Mask(int64_t h, int64_t w, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  at::Tensor m = at::zeros({h, w}, at::kBool);
  m.slice(0, y0, y1).slice(1, x0, x1).fill_(true);
  return m;
}

TEST(PanopticCombineTest, AllBranches) {
  const int64_t h = 10, w = 10;
  // Scores out of order: sorted by score first.
  at::Tensor scores = at::tensor({0.6f, 0.9f, 0.8f, 0.7f, 0.4f, 0.95f});
  at::Tensor classes = at::tensor({3, 1, 2, 4, 5, 6}, at::kLong);
  at::Tensor masks = at::stack({
      Mask(h, w, 0, 4, 6, 10),  // 0: score 0.6, partially overlaps 3 (2 of 16 pixels) -> kept
      Mask(h, w, 0, 4, 0, 4),   // 1: score 0.9 -> id 2 (after 5)
      Mask(h, w, 0, 4, 0, 3),   // 2: score 0.8, 12/12 inside 1 -> skipped (overlap > 0.5)
      Mask(h, w, 4, 6, 4, 10),  // 3: score 0.7 -> id 3
      Mask(h, w, 6, 10, 0, 10), // 4: score 0.4 < 0.5 -> loop stops
      Mask(h, w, 0, 0, 0, 0),   // 5: score 0.95, empty -> skipped
  });
  // Overlap of 0 with 3: rows 4..5 are not in 0 (rows 0..3), so make 3 overlap 0 explicitly.
  masks[3] = Mask(h, w, 3, 6, 8, 10) | Mask(h, w, 4, 6, 4, 10);  // overlaps 0 at row 3, x 8..9
  // Semantic labels: 0 (things) on the left half, 7 bottom right (20 px), 9 top right rest
  // (30 px, of which only column 5 of rows 0..3 stays free of instances).
  at::Tensor sem = at::zeros({h, w}, at::kLong);
  sem.slice(1, 5, 10).fill_(9);
  sem.slice(0, 6, 10).slice(1, 5, 10).fill_(7);
  CombineOptions options;
  options.stuff_area_thresh = 4;  // label 9 keeps exactly 4 free pixels: area == limit is kept
  PanopticOutput out = CombineSemanticAndInstanceOutputs(scores, classes, masks, sem, options);
  ASSERT_EQ(out.segments_info.size(), 5u);
  // Things: instance 1 (id 1), instance 3 (id 2), instance 0 minus overlap (id 3).
  EXPECT_EQ(out.segments_info[0].instance_id, 1);
  EXPECT_EQ(out.segments_info[0].category_id, 1);
  EXPECT_FLOAT_EQ(out.segments_info[0].score, 0.9f);
  EXPECT_EQ(out.segments_info[0].area, 16);
  EXPECT_EQ(out.segments_info[1].instance_id, 3);
  EXPECT_EQ(out.segments_info[1].area, 2 + 12);
  EXPECT_EQ(out.segments_info[2].instance_id, 0);
  EXPECT_EQ(out.segments_info[2].area, 16 - 2);
  EXPECT_EQ(out.panoptic_seg[3][9].item<int32_t>(), 2);  // the overlap stays with instance 3
  EXPECT_EQ(out.panoptic_seg[0][9].item<int32_t>(), 3);
  // Stuff in increasing label order, only unassigned pixels, label 0 ignored.
  EXPECT_FALSE(out.segments_info[3].isthing);
  EXPECT_EQ(out.segments_info[3].category_id, 7);
  EXPECT_EQ(out.segments_info[3].area, 20);
  EXPECT_EQ(out.segments_info[4].category_id, 9);
  EXPECT_EQ(out.segments_info[4].area, 4);
  for (size_t i = 0; i < out.segments_info.size(); ++i) {
    EXPECT_EQ(out.segments_info[i].id, static_cast<int32_t>(i + 1));
    EXPECT_EQ(out.panoptic_seg.eq(out.segments_info[i].id).sum().item<int64_t>(),
              out.segments_info[i].area);
  }
  EXPECT_EQ(out.panoptic_seg.scalar_type(), at::kInt);
  // Pixels of label 0 not covered by an instance stay 0.
  EXPECT_EQ(out.panoptic_seg[9][0].item<int32_t>(), 0);

  // Stuff below the area limit is dropped.
  options.stuff_area_thresh = 5;
  PanopticOutput out2 = CombineSemanticAndInstanceOutputs(scores, classes, masks, sem, options);
  ASSERT_EQ(out2.segments_info.size(), 4u);
  EXPECT_EQ(out2.segments_info[3].category_id, 7);
}

TEST(PanopticCombineTest, NoInstances) {
  at::Tensor sem = at::full({4, 5}, 3, at::kLong);
  PanopticOutput out = CombineSemanticAndInstanceOutputs(
      at::zeros({0}), at::zeros({0}, at::kLong), at::zeros({0, 4, 5}, at::kBool), sem,
      CombineOptions{0.5, 1, 0.5});
  ASSERT_EQ(out.segments_info.size(), 1u);
  EXPECT_EQ(out.segments_info[0].category_id, 3);
  EXPECT_EQ(out.segments_info[0].area, 20);
  EXPECT_TRUE(out.panoptic_seg.eq(1).all().item<bool>());
}

TEST(SemSegFpnHeadTest, NamesAndShapes) {
  std::map<std::string, modeling::ShapeSpec> shapes = {
      {"p2", {16, 4}}, {"p3", {16, 8}}, {"p4", {16, 16}}, {"p5", {16, 32}}, {"p6", {16, 64}}};
  SemSegHeadOptions o;
  o.conv_dims = 32;
  o.num_classes = 5;
  auto head = SemSegFpnHead::Create(o, shapes);
  ASSERT_TRUE(head.ok()) << head.status();
  std::set<std::string> names;
  for (const auto& p : (*head)->named_parameters()) names.insert(p.key());
  EXPECT_EQ(names, (std::set<std::string>{
                       "p2.0.weight", "p2.0.norm.weight", "p2.0.norm.bias", "p3.0.weight",
                       "p3.0.norm.weight", "p3.0.norm.bias", "p4.0.weight", "p4.0.norm.weight",
                       "p4.0.norm.bias", "p4.2.weight", "p4.2.norm.weight", "p4.2.norm.bias",
                       "p5.0.weight", "p5.0.norm.weight", "p5.0.norm.bias", "p5.2.weight",
                       "p5.2.norm.weight", "p5.2.norm.bias", "p5.4.weight", "p5.4.norm.weight",
                       "p5.4.norm.bias", "predictor.weight", "predictor.bias"}));
  at::NoGradGuard no_grad;
  // Padded input 64x96: strides 4..32 give 16x24 .. 2x3 (all upsample to 16x24).
  modeling::FeatureMap f = {{"p2", at::randn({2, 16, 16, 24})},
                            {"p3", at::randn({2, 16, 8, 12})},
                            {"p4", at::randn({2, 16, 4, 6})},
                            {"p5", at::randn({2, 16, 2, 3})}};
  at::Tensor y = (*head)->Forward(f);
  EXPECT_EQ(y.sizes(), at::IntArrayRef({2, 5, 64, 96}));
  at::Tensor post = SemSegPostprocess(y[1], 60, 90, 120, 180);
  EXPECT_EQ(post.sizes(), at::IntArrayRef({5, 120, 180}));
}

TEST(SemSegFpnHeadTest, Errors) {
  std::map<std::string, modeling::ShapeSpec> shapes = {{"p2", {16, 4}}};
  SemSegHeadOptions o;
  o.conv_dims = 32;
  EXPECT_FALSE(SemSegFpnHead::Create(o, shapes).ok());  // p3..p5 missing
  o.in_features = {"p2"};
  o.conv_dims = 20;  // GN(32, 20)
  EXPECT_FALSE(SemSegFpnHead::Create(o, shapes).ok());
}

}  // namespace
}  // namespace d2x::panoptic_fpn
