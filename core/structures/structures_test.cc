#include <ATen/ATen.h>

#include "core/structures/boxes.h"
#include "core/structures/image_list.h"
#include "core/structures/postprocess.h"
#include "gtest/gtest.h"

namespace d2x::structures {
namespace {

at::Tensor B(std::vector<int> v) { return at::tensor(v, at::kInt).to(at::kBool); }

at::Tensor T(std::vector<float> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::kFloat).reshape(shape);
}

TEST(BoxesTest, AreaClipNonempty) {
  at::Tensor b = T({0, 0, 10, 20, -5, -5, 5, 5, 3, 3, 3, 9}, {3, 4});
  EXPECT_TRUE(at::equal(BoxArea(b), T({200, 100, 0}, {3})));
  at::Tensor c = ClipBoxes(b, /*height=*/8, /*width=*/6);
  EXPECT_TRUE(at::equal(c, T({0, 0, 6, 8, 0, 0, 5, 5, 3, 3, 3, 8}, {3, 4})));
  EXPECT_TRUE(at::equal(NonemptyBoxes(c), B({1, 1, 0})));
  EXPECT_TRUE(at::equal(NonemptyBoxes(c, 5.0), B({1, 0, 0})));
  EXPECT_TRUE(ValidateBoxes(b).ok());
  EXPECT_FALSE(ValidateBoxes(b.reshape({4, 3})).ok());
}

TEST(BoxesTest, PairwiseIou) {
  at::Tensor a = T({0, 0, 10, 10, 0, 0, 5, 5}, {2, 4});
  at::Tensor b = T({5, 5, 15, 15, 0, 0, 10, 10, 20, 20, 30, 30}, {3, 4});
  at::Tensor iou = PairwiseIou(a, b);
  ASSERT_EQ(iou.sizes(), (at::IntArrayRef{2, 3}));
  EXPECT_FLOAT_EQ(iou[0][0].item<float>(), 25.f / 175.f);
  EXPECT_FLOAT_EQ(iou[0][1].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(iou[0][2].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(iou[1][0].item<float>(), 0.f);  // touching corner: no intersection
  EXPECT_FLOAT_EQ(iou[1][1].item<float>(), 0.25f);
  at::Tensor m = MatchedPairwiseIou(a, b.slice(0, 0, 2));
  EXPECT_FLOAT_EQ(m[0].item<float>(), 25.f / 175.f);
  EXPECT_FLOAT_EQ(m[1].item<float>(), 0.25f);
  EXPECT_FLOAT_EQ(PairwiseIoa(a, b)[1][1].item<float>(), 0.25f);
}

TEST(ImageListTest, PadsToDivisibilityWithZeros) {
  at::Tensor a = at::ones({3, 200, 296});
  auto list = ImageList::FromTensors({a}, 32);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->tensor.sizes(), (at::IntArrayRef{1, 3, 224, 320}));
  EXPECT_EQ(list->image_sizes[0], (ImageSize{200, 296}));
  EXPECT_EQ(list->tensor.sum().item<double>(), 3.0 * 200 * 296);
  EXPECT_TRUE(at::equal(list->Get(0), a));
}

TEST(ImageListTest, BatchOfDifferentSizes) {
  at::Tensor a = at::full({3, 256, 320}, 2.0);
  at::Tensor b = at::full({3, 200, 296}, 3.0);
  auto list = ImageList::FromTensors({a, b}, 32, /*pad_value=*/-1.0);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->tensor.sizes(), (at::IntArrayRef{2, 3, 256, 320}));
  EXPECT_TRUE(list->tensor.is_contiguous());
  EXPECT_TRUE(at::equal(list->Get(1), b));
  EXPECT_EQ(list->tensor[1][0][255][319].item<float>(), -1.f);
  EXPECT_EQ(list->tensor[1][0][199][295].item<float>(), 3.f);
  // No divisibility: exact max size.
  auto plain = ImageList::FromTensors({a.slice(1, 0, 201), b}, 0);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->tensor.sizes(), (at::IntArrayRef{2, 3, 201, 320}));
}

TEST(ImageListTest, Errors) {
  EXPECT_FALSE(ImageList::FromTensors({}, 32).ok());
  EXPECT_FALSE(ImageList::FromTensors({at::zeros({3, 4, 4}), at::zeros({1, 4, 4})}).ok());
  EXPECT_FALSE(ImageList::FromTensors({at::zeros({3, 40, 4})}, 0, 0.0, 32).ok());
  auto sq = ImageList::FromTensors({at::zeros({3, 20, 4})}, 0, 0.0, 32);
  ASSERT_TRUE(sq.ok());
  EXPECT_EQ(sq->tensor.sizes(), (at::IntArrayRef{1, 3, 32, 32}));
}

TEST(PostprocessTest, RescaleClipAndDropEmpty) {
  Instances in;
  in.image_height = 100;
  in.image_width = 200;
  in.fields["pred_boxes"] = T({10, 10, 50, 50, 150, 90, 250, 150, 210, 0, 220, 10}, {3, 4});
  in.fields["scores"] = T({0.9f, 0.8f, 0.7f}, {3});
  in.fields["pred_keypoints"] = at::ones({3, 17, 3});
  auto out = DetectorPostprocess(in, /*output_height=*/50, /*output_width=*/400);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->image_height, 50);
  EXPECT_EQ(out->image_width, 400);
  // Box 2 lies beyond x = 200 -> after scaling x2 > 400 clipped, x1 = 420 -> clipped to 400: empty.
  ASSERT_EQ(out->size(), 2);
  EXPECT_TRUE(at::equal(out->fields["pred_boxes"], T({20, 5, 100, 25, 300, 45, 400, 50}, {2, 4})));
  EXPECT_TRUE(at::equal(out->fields["scores"], T({0.9f, 0.8f}, {2})));
  EXPECT_FLOAT_EQ(out->fields["pred_keypoints"][0][0][0].item<float>(), 2.f);
  EXPECT_FLOAT_EQ(out->fields["pred_keypoints"][0][0][1].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(out->fields["pred_keypoints"][0][0][2].item<float>(), 1.f);
  // The input was not modified.
  EXPECT_FLOAT_EQ(in.fields["pred_boxes"][0][0].item<float>(), 10.f);
  EXPECT_FLOAT_EQ(in.fields["pred_keypoints"][0][0][0].item<float>(), 1.f);

  Instances bad = in;
  bad.fields.erase("pred_boxes");
  EXPECT_FALSE(DetectorPostprocess(bad, 50, 400).ok());
}

}  // namespace
}  // namespace d2x::structures
