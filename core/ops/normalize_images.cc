// d2x::normalize_images: GeneralizedRCNN.preprocess_image on an already padded batch.
//
// detectron2 normalizes each image, (x - pixel_mean) / pixel_std, and then pads the batch with
// zeros (ImageList.from_tensors). An exported graph receives the raw images already padded, so
// this op normalizes the whole batch and then zeroes everything outside each image's true size:
// the result equals detectron2's padded, normalized batch exactly (same float32 mean/std tensors,
// same elementwise operations), whatever values the caller put into the padding.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <vector>

#include "core/ops/box_math.h"

namespace d2x::ops {
namespace {

at::Tensor NormalizeImagesKernel(const at::Tensor& images, const at::Tensor& image_sizes,
                                 c10::ArrayRef<double> pixel_mean,
                                 c10::ArrayRef<double> pixel_std) {
  constexpr const char* kOp = "d2x::normalize_images";
  TORCH_CHECK(images.device().is_cpu(), kOp, ": images must be a CPU tensor");
  TORCH_CHECK(images.dim() == 4, kOp, ": images must be [N, C, H, W], got ", images.sizes());
  TORCH_CHECK(!pixel_mean.empty() && pixel_mean.size() == pixel_std.size(), kOp,
              ": pixel_mean and pixel_std must be non-empty and of equal length, got ",
              pixel_mean.size(), " and ", pixel_std.size());
  TORCH_CHECK(images.size(1) == static_cast<int64_t>(pixel_mean.size()), kOp, ": images have ",
              images.size(1), " channels but pixel_mean has ", pixel_mean.size(), " values");
  TORCH_CHECK(!images.is_complex() && images.scalar_type() != at::kBool, kOp,
              ": unsupported image dtype ", images.scalar_type());
  const at::Tensor sizes = internal::CheckImageSizes(image_sizes, kOp, "image_sizes");
  TORCH_CHECK(sizes.size(0) == images.size(0), kOp, ": image_sizes has ", sizes.size(0),
              " rows for ", images.size(0), " images");
  // torch.tensor(cfg.MODEL.PIXEL_MEAN).view(-1, 1, 1): float32, as preprocess_image.
  const at::Tensor mean =
      at::tensor(std::vector<double>(pixel_mean.begin(), pixel_mean.end()), at::kDouble)
          .to(at::kFloat)
          .view({-1, 1, 1});
  const at::Tensor std =
      at::tensor(std::vector<double>(pixel_std.begin(), pixel_std.end()), at::kDouble)
          .to(at::kFloat)
          .view({-1, 1, 1});
  at::Tensor out = ((images - mean) / std).contiguous();
  const int64_t* s = sizes.data_ptr<int64_t>();
  const int64_t hp = images.size(2), wp = images.size(3);
  for (int64_t n = 0; n < images.size(0); ++n) {
    const int64_t h = s[2 * n], w = s[2 * n + 1];
    TORCH_CHECK(h > 0 && w > 0 && h <= hp && w <= wp, kOp, ": image ", n, " has size ", h, "x", w,
                ", which does not fit the padded batch of ", hp, "x", wp);
    at::Tensor image = out.select(0, n);
    if (h < hp) image.slice(1, h, hp).zero_();
    if (w < wp) image.slice(1, 0, h).slice(2, w, wp).zero_();
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) { m.impl("normalize_images", TORCH_FN(NormalizeImagesKernel)); }

}  // namespace d2x::ops
