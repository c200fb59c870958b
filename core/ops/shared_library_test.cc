// A process that does not link //core/ops:ops (like a plugin host or a TorchScript runner) gets the
// ops by loading libd2x_ops.so, and calls them through ops.h.
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "core/ops/ops.h"
#include "core/ops/torchvision_reference.h"

namespace d2x::ops {
namespace {

TEST(SharedLibraryTest, LoadedLibraryServesOpsH) {
  EXPECT_FALSE(c10::Dispatcher::singleton().findSchema({kNmsOp, ""}).has_value())
      << "this test must not link //core/ops:ops";
  const std::string path = std::string(std::getenv("TEST_SRCDIR")) + "/" +
                           std::getenv("TEST_WORKSPACE") + "/core/ops/libd2x_ops.so";
  ASSERT_NE(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL), nullptr) << dlerror();
  ASSERT_TRUE(reference::LoadTorchvision().ok());

  at::Generator gen = at::detail::createCPUGenerator(21);
  const at::Tensor xy = at::rand({300, 2}, gen, at::kFloat) * 100;
  const at::Tensor boxes = at::cat({xy, xy + at::rand({300, 2}, gen, at::kFloat) * 40 + 1}, 1);
  const at::Tensor scores = at::randint(0, 4, {300}, gen, at::kFloat) / 3;
  const at::Tensor idxs = at::randint(0, 4, {300}, gen, at::kLong);
  EXPECT_TRUE(at::equal(Nms(boxes, scores, 0.5), reference::Nms(boxes, scores, 0.5)));
  EXPECT_TRUE(at::equal(BatchedNms(boxes, scores, idxs, 0.5),
                        reference::BatchedNms(boxes, scores, idxs, 0.5)));

  const at::Tensor features = at::randn({1, 32, 30, 40}, gen, at::kFloat);
  const at::Tensor rois = at::cat({at::zeros({50, 1}), boxes.slice(0, 0, 50)}, 1);
  EXPECT_TRUE(reference::BitwiseEqual(RoiAlign(features, rois, 0.25, 7, 7, 0, true),
                                      reference::RoiAlign(features, rois, 0.25, 7, 7, 0, true)));
}

}  // namespace
}  // namespace d2x::ops
