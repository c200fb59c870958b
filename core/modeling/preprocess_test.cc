#include "core/modeling/preprocess.h"

#include <ATen/ATen.h>

#include <cstdint>

#include "gtest/gtest.h"

namespace d2x::modeling {
namespace {

// The deterministic test image the golden values below were computed from with Pillow 9.4:
// value(r, c, ch) = (7 r^2 + 31 c + 59 ch + 3 r c) mod 256.
at::Tensor TestImage(int64_t h, int64_t w, int64_t c) {
  at::Tensor r = at::arange(h, at::kLong).view({h, 1, 1});
  at::Tensor cc = at::arange(w, at::kLong).view({1, w, 1});
  at::Tensor ch = at::arange(c, at::kLong).view({1, 1, c});
  return ((r * r * 7 + cc * 31 + ch * 59 + r * cc * 3) % 256).to(at::kByte);
}

// (sum of value * (flat index + 1)) mod 2^32, and the plain sum.
std::pair<uint64_t, int64_t> Checksum(const at::Tensor& t) {
  at::Tensor a = t.contiguous().view(-1).to(at::kLong);
  at::Tensor idx = at::arange(1, a.numel() + 1, at::kLong);
  const int64_t weighted = (a * idx).sum().item<int64_t>();
  return {static_cast<uint64_t>(weighted) % (uint64_t{1} << 32), a.sum().item<int64_t>()};
}

TEST(ResizeShortestEdgeTest, OutputShapeLikeDetectron2) {
  // 480x640 -> short edge 800: 800x1067 (1066.67 rounds up); 800x1088 within 1333.
  EXPECT_EQ(ResizeShortestEdgeOutputShape(480, 640, 800, 1333), (structures::ImageSize{800, 1067}));
  EXPECT_EQ(ResizeShortestEdgeOutputShape(640, 480, 800, 1333), (structures::ImageSize{1067, 800}));
  // Long edge capped: 200x800 -> 800x3200 -> scaled to 333.25x1333 -> 333x1333.
  EXPECT_EQ(ResizeShortestEdgeOutputShape(200, 800, 800, 1333), (structures::ImageSize{333, 1333}));
  EXPECT_EQ(ResizeShortestEdgeOutputShape(256, 320, 800, 1333), (structures::ImageSize{800, 1000}));
  EXPECT_EQ(ResizeShortestEdgeOutputShape(200, 296, 800, 1333), (structures::ImageSize{800, 1184}));
}

TEST(ResizeImageTest, PilBilinearDownscaleExactValues) {
  auto out = ResizeImageHwc(TestImage(7, 9, 3), 4, 5);
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<int64_t> expected = {
      23,  82,  141, 74,  133, 188, 135, 191, 125, 193, 142, 58,  180, 59,  108,
      55,  114, 168, 113, 172, 131, 166, 155, 57,  156, 71,  114, 89,  113, 172,
      132, 159, 131, 160, 101, 77,  112, 102, 132, 106, 156, 148, 147, 117, 116,
      165, 108, 107, 90,  118, 133, 149, 174, 104, 143, 139, 107, 120, 126, 172};
  EXPECT_EQ(out->sizes(), (at::IntArrayRef{4, 5, 3}));
  EXPECT_TRUE(at::equal(out->view(-1).to(at::kLong), at::tensor(expected, at::kLong)));
}

TEST(ResizeImageTest, PilBilinearChecksums) {
  struct Case {
    int64_t h, w, c, nh, nw;
    uint64_t weighted;
    int64_t sum;
  };
  // From Pillow 9.4 Image.fromarray(img).resize((nw, nh), Image.BILINEAR).
  const Case cases[] = {
      {7, 9, 3, 11, 13, 11840370u, 54060},
      {37, 53, 3, 20, 29, 193395673u, 221141},
      {37, 53, 3, 30, 80, 3316167075u, 916003},
      {50, 40, 1, 13, 40, 17519874u, 66956},
      {200, 296, 3, 800, 1184, 756918162u, 361935536},
      {256, 320, 3, 480, 600, 450697605u, 109970371},
  };
  for (const Case& c : cases) {
    at::Tensor in = TestImage(c.h, c.w, c.c);
    if (c.c == 1) in = in.squeeze(2);
    auto out = ResizeImageHwc(in, c.nh, c.nw);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->size(0), c.nh);
    EXPECT_EQ(out->size(1), c.nw);
    auto [weighted, sum] = Checksum(*out);
    EXPECT_EQ(weighted, c.weighted) << c.h << "x" << c.w << " -> " << c.nh << "x" << c.nw;
    EXPECT_EQ(sum, c.sum) << c.h << "x" << c.w << " -> " << c.nh << "x" << c.nw;
  }
}

TEST(ResizeImageTest, FloatUsesInterpolateBilinear) {
  at::Tensor img = TestImage(7, 9, 3).to(at::kFloat);
  auto out = ResizeImageHwc(img, 14, 18);
  ASSERT_TRUE(out.ok());
  at::Tensor ref = at::upsample_bilinear2d(img.permute({2, 0, 1}).unsqueeze(0), {14, 18}, false)
                       .squeeze(0)
                       .permute({1, 2, 0});
  EXPECT_TRUE(at::equal(*out, ref));
  EXPECT_FALSE(ResizeImageHwc(img.to(at::kInt), 3, 3).ok());
}

TEST(ApplyTestResizeTest, ZeroMeansNoResize) {
  at::Tensor img = TestImage(20, 30, 3);
  auto same = ApplyTestResize(img, 0, 1333);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->is_same(img));
  auto resized = ApplyTestResize(img, 40, 1333);
  ASSERT_TRUE(resized.ok());
  EXPECT_EQ(resized->sizes(), (at::IntArrayRef{40, 60, 3}));
}

TEST(PreprocessTest, NormalizesAndPads) {
  at::Tensor img = at::full({3, 200, 296}, 120.0);
  auto list = PreprocessImages({img}, {103.53, 116.28, 123.675}, {1.0, 1.0, 2.0}, 32);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->tensor.sizes(), (at::IntArrayRef{1, 3, 224, 320}));
  EXPECT_EQ(list->image_sizes[0], (structures::ImageSize{200, 296}));
  EXPECT_FLOAT_EQ(list->tensor[0][0][0][0].item<float>(), 120.f - 103.53f);
  EXPECT_FLOAT_EQ(list->tensor[0][2][0][0].item<float>(), (120.f - 123.675f) / 2.f);
  EXPECT_EQ(list->tensor[0][0][223][319].item<float>(), 0.f);
  // uint8 input promotes to float like torch.
  auto from_u8 = PreprocessImages({img.to(at::kByte)}, {103.53, 116.28, 123.675},
                                  {1.0, 1.0, 2.0}, 32);
  ASSERT_TRUE(from_u8.ok());
  EXPECT_TRUE(at::equal(from_u8->tensor, list->tensor));
  EXPECT_FALSE(PreprocessImages({at::zeros({1, 4, 4})}, {1, 2, 3}, {1, 1, 1}, 32).ok());
  EXPECT_FALSE(PreprocessImages({img}, {1, 2}, {1, 1, 1}, 32).ok());
}

}  // namespace
}  // namespace d2x::modeling
