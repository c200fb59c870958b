// d2x::roi_align against torchvision::roi_align (torchvision's own CPU kernel, dlopen'ed):
// bit-for-bit equality on random inputs.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "core/ops/ops.h"
#include "core/ops/roi_align_layout.h"
#include "core/ops/torchvision_reference.h"

namespace d2x::ops {
namespace {

class RoiAlignTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const absl::Status loaded = reference::LoadTorchvision();
    ASSERT_TRUE(loaded.ok()) << loaded;
  }
  void SetUp() override { ASSERT_TRUE(reference::LoadTorchvision().ok()); }
  void TearDown() override { SetRoiAlignLayoutForTesting(RoiAlignLayout::kAuto); }
};

// Random ROIs in feature-map pixels / spatial_scale (image coordinates): some inside, some partly
// or entirely outside the map, some degenerate (zero or negative extent), several images.
at::Tensor RandomRois(int64_t num_rois, int64_t batch, int64_t height, int64_t width,
                      double spatial_scale, at::ScalarType dtype, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const double img_h = height / spatial_scale;
  const double img_w = width / spatial_scale;
  at::Tensor batch_index = at::randint(0, batch, {num_rois, 1}, gen, at::kDouble);
  // Corners from 20% outside on each side of the image.
  at::Tensor x1 = at::rand({num_rois, 1}, gen, at::kDouble) * 1.4 * img_w - 0.2 * img_w;
  at::Tensor y1 = at::rand({num_rois, 1}, gen, at::kDouble) * 1.4 * img_h - 0.2 * img_h;
  at::Tensor w = at::rand({num_rois, 1}, gen, at::kDouble) * 0.6 * img_w;
  at::Tensor h = at::rand({num_rois, 1}, gen, at::kDouble) * 0.6 * img_h;
  at::Tensor rois = at::cat({batch_index, x1, y1, x1 + w, y1 + h}, 1);
  // Degenerate ROIs: zero width, zero height, a point, inverted corners, tiny.
  if (num_rois >= 8) {
    rois[0][3] = rois[0][1];
    rois[1][4] = rois[1][2];
    rois[2][3] = rois[2][1];
    rois[2][4] = rois[2][2];
    rois[3][3] = rois[3][1] - 5.0;
    rois[3][4] = rois[3][2] - 3.0;
    rois[4][3] = rois[4][1] + 0.01;
    rois[4][4] = rois[4][2] + 0.02;
    rois[5].slice(0, 1, 5).fill_(-1000.0);  // far outside
  }
  return rois.to(dtype);
}

using Case = std::tuple<bool /*aligned*/, int64_t /*sampling_ratio*/, double /*spatial_scale*/,
                        at::ScalarType, RoiAlignLayout>;

class RoiAlignParityTest : public RoiAlignTest, public ::testing::WithParamInterface<Case> {};

TEST_P(RoiAlignParityTest, MatchesTorchvisionBitForBit) {
  const auto [aligned, sampling_ratio, spatial_scale, dtype, layout] = GetParam();
  SetRoiAlignLayoutForTesting(layout);
  const uint64_t seed = 1000 + static_cast<uint64_t>(sampling_ratio * 10 + aligned) +
                        static_cast<uint64_t>(1.0 / spatial_scale);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  // Channel counts around the vector widths (4 and 8 floats, 2 and 4 doubles).
  for (const auto& [ph, pw, channels] :
       {std::tuple<int64_t, int64_t, int64_t>{7, 7, 5}, {14, 14, 16}, {3, 5, 19}, {1, 1, 1}}) {
    const int64_t batch = 3, height = 23, width = 31;
    const at::Tensor input = at::randn({batch, channels, height, width}, gen, dtype);
    const at::Tensor rois =
        RandomRois(64, batch, height, width, spatial_scale, dtype, seed * 31 + ph);
    const at::Tensor ours = RoiAlign(input, rois, spatial_scale, ph, pw, sampling_ratio, aligned);
    const at::Tensor theirs =
        reference::RoiAlign(input, rois, spatial_scale, ph, pw, sampling_ratio, aligned);
    ASSERT_EQ(ours.sizes(), theirs.sizes());
    ASSERT_GT(theirs.abs().sum().item<double>(), 0.0);  // not a vacuous comparison
    EXPECT_TRUE(reference::BitwiseEqual(ours, theirs))
        << "pooled " << ph << "x" << pw << ", " << channels << " channels, max |diff| "
        << (ours - theirs).abs().max();
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  const auto [aligned, sampling_ratio, scale, dtype, layout] = info.param;
  return std::string(aligned ? "aligned" : "legacy") + "_sr" +
         (sampling_ratio < 0 ? "m1" : std::to_string(sampling_ratio)) + "_inv_scale" +
         std::to_string(static_cast<int>(1000 / scale)) + "_" +
         (dtype == at::kFloat ? "f32" : "f64") +
         (layout == RoiAlignLayout::kPlanar ? "_nchw" : "_nhwc");
}

INSTANTIATE_TEST_SUITE_P(
    Grid, RoiAlignParityTest,
    ::testing::Combine(::testing::Bool(), ::testing::Values<int64_t>(0, 2, 1, -1),
                       ::testing::Values(1.0, 0.5, 0.25, 0.125, 1.0 / 32, 0.3),
                       ::testing::Values(at::kFloat, at::kDouble),
                       ::testing::Values(RoiAlignLayout::kPlanar, RoiAlignLayout::kChannelsLast)),
    CaseName);

TEST_F(RoiAlignTest, DetectronSizedFeatureMapAndParallelThreads) {
  // A P2-like level of detectron2, with 64 instead of 256 channels.
  at::Generator gen = at::detail::createCPUGenerator(7);
  const at::Tensor input = at::randn({2, 64, 50, 68}, gen, at::kFloat);
  const at::Tensor rois = RandomRois(300, 2, 50, 68, 0.25, at::kFloat, 8);
  const at::Tensor theirs = reference::RoiAlign(input, rois, 0.25, 7, 7, 0, true);
  const int previous_threads = at::get_num_threads();
  for (RoiAlignLayout layout :
       {RoiAlignLayout::kAuto, RoiAlignLayout::kPlanar, RoiAlignLayout::kChannelsLast}) {
    SetRoiAlignLayoutForTesting(layout);
    for (int threads : {1, 2, 4}) {
      at::set_num_threads(threads);
      EXPECT_TRUE(reference::BitwiseEqual(RoiAlign(input, rois, 0.25, 7, 7, 0, true), theirs))
          << threads << " threads, layout " << static_cast<int>(layout);
    }
  }
  at::set_num_threads(previous_threads);
}

TEST_F(RoiAlignTest, EmptyRois) {
  const at::Tensor input = at::randn({2, 4, 10, 12});
  const at::Tensor rois = at::zeros({0, 5});
  const at::Tensor ours = RoiAlign(input, rois, 0.5, 7, 7, 0, true);
  const at::Tensor theirs = reference::RoiAlign(input, rois, 0.5, 7, 7, 0, true);
  EXPECT_EQ(ours.sizes(), (std::vector<int64_t>{0, 4, 7, 7}));
  EXPECT_EQ(ours.sizes(), theirs.sizes());
  EXPECT_EQ(ours.scalar_type(), theirs.scalar_type());
}

TEST_F(RoiAlignTest, NonContiguousInputs) {
  at::Generator gen = at::detail::createCPUGenerator(11);
  const at::Tensor nchw = at::randn({2, 6, 20, 24}, gen, at::kFloat);
  const at::Tensor wide =
      at::cat({RandomRois(40, 2, 20, 24, 0.5, at::kFloat, 12), at::zeros({40, 3}, at::kFloat)}, 1);
  const at::Tensor rois = wide.slice(1, 0, 5);  // row stride 8
  ASSERT_FALSE(rois.is_contiguous());
  const at::Tensor channels_last = nchw.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor strided = at::randn({2, 12, 20, 24}, gen, at::kFloat).slice(1, 0, 12, 2);
  for (const at::Tensor& input : {channels_last, strided}) {
    ASSERT_FALSE(input.is_contiguous());
    const at::Tensor theirs = reference::RoiAlign(input, rois, 0.5, 7, 7, 2, false);
    for (RoiAlignLayout layout :
         {RoiAlignLayout::kAuto, RoiAlignLayout::kPlanar, RoiAlignLayout::kChannelsLast}) {
      SetRoiAlignLayoutForTesting(layout);
      EXPECT_TRUE(reference::BitwiseEqual(RoiAlign(input, rois, 0.5, 7, 7, 2, false), theirs))
          << "layout " << static_cast<int>(layout) << ", strides " << input.strides();
    }
  }
}

TEST_F(RoiAlignTest, FractionalBatchIndexTruncates) {
  at::Generator gen = at::detail::createCPUGenerator(13);
  const at::Tensor input = at::randn({2, 3, 16, 16}, gen, at::kFloat);
  const at::Tensor rois =
      at::tensor({0.7f, 1.f, 2.f, 9.f, 12.f, 1.9f, 0.f, 0.f, 15.f, 15.f, -0.5f, 3.f, 3.f, 4.f, 4.f})
          .reshape({3, 5});
  EXPECT_TRUE(reference::BitwiseEqual(RoiAlign(input, rois, 1.0, 2, 2, 0, true),
                                      reference::RoiAlign(input, rois, 1.0, 2, 2, 0, true)));
}

TEST_F(RoiAlignTest, RejectsBadInputs) {
  const at::Tensor input = at::randn({2, 3, 8, 8});
  const at::Tensor roi = at::tensor({2.f, 0.f, 0.f, 4.f, 4.f}).reshape({1, 5});  // image 2 of 2
  EXPECT_THROW(RoiAlign(input, roi, 1.0, 2, 2, 0, true), c10::Error);
  EXPECT_THROW(RoiAlign(input, roi.to(at::kDouble), 1.0, 2, 2, 0, true), c10::Error);
  EXPECT_THROW(RoiAlign(input, at::zeros({1, 4}), 1.0, 2, 2, 0, true), c10::Error);
  EXPECT_THROW(RoiAlign(input[0], at::zeros({1, 5}), 1.0, 2, 2, 0, true), c10::Error);
  EXPECT_THROW(RoiAlign(input, at::zeros({1, 5}), 1.0, 0, 2, 0, true), c10::Error);
  EXPECT_THROW(RoiAlign(input.to(at::kInt), at::zeros({1, 5}, at::kInt), 1.0, 2, 2, 0, true),
               c10::Error);
}

}  // namespace
}  // namespace d2x::ops
