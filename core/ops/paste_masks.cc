// d2x::paste_masks: detectron2's paste_masks_in_image (layers/mask_ops.py, CPU path) for the
// detections of a whole batch.
//
// masks [D, M, M] are per-ROI mask probabilities, boxes [D, 4] the detections in output-image
// coordinates, batch_index [D] the image of each detection and output_sizes [N, 2] each image's
// (height, width). Each mask is pasted into its own image's size exactly as detectron2 does on
// CPU (one mask per chunk: grid_sample, bilinear, zero padding, align_corners=False, over the
// region bounding its box, then `>= threshold`), and placed at the top-left of a canvas of the
// batch's largest output size: the result is bool [D, max height, max width]; rows of smaller
// images are False outside their own size. The eager models paste through this op too
// (plugins/arch/rcnn/mask_head.cc, PasteMasksInImage).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "core/ops/box_math.h"

namespace d2x::ops {
namespace {

constexpr const char* kOp = "d2x::paste_masks";

// _do_paste_mask over `region` (x0, y0, x1, y1) for one mask [1, 1, M, M], box [1, 4].
at::Tensor DoPasteMask(const at::Tensor& mask, const at::Tensor& box, const int32_t region[4]) {
  std::vector<at::Tensor> corners = at::split(box, 1, 1);
  const at::Tensor& x0 = corners[0];
  const at::Tensor& y0 = corners[1];
  const at::Tensor& x1 = corners[2];
  const at::Tensor& y1 = corners[3];

  at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor img_y = at::arange(region[1], region[3], f32) + 0.5;
  at::Tensor img_x = at::arange(region[0], region[2], f32) + 0.5;
  img_y = (img_y - y0) / (y1 - y0) * 2 - 1;
  img_x = (img_x - x0) / (x1 - x0) * 2 - 1;

  const int64_t n = mask.size(0);
  at::Tensor gx = img_x.unsqueeze(1).expand({n, img_y.size(1), img_x.size(1)});
  at::Tensor gy = img_y.unsqueeze(2).expand({n, img_y.size(1), img_x.size(1)});
  at::Tensor grid = at::stack({gx, gy}, 3);

  at::Tensor m = mask.is_floating_point() ? mask : mask.to(at::kFloat);
  return at::grid_sampler(m, grid.to(m.scalar_type()), 0, 0, false).select(1, 0)[0];
}

at::Tensor PasteMasksKernel(const at::Tensor& masks, const at::Tensor& boxes,
                            const at::Tensor& batch_index, const at::Tensor& output_sizes,
                            double threshold) {
  TORCH_CHECK(masks.dim() == 3, kOp, ": masks must be [D, M, M], got ", masks.sizes());
  const int64_t d = masks.size(0);
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(0) == d && boxes.size(1) == 4, kOp,
              ": boxes must be [", d, ", 4], got ", boxes.sizes());
  TORCH_CHECK(batch_index.dim() == 1 && batch_index.size(0) == d, kOp,
              ": batch_index must be [", d, "], got ", batch_index.sizes());
  const at::Tensor sizes = internal::CheckImageSizes(output_sizes, kOp, "output_sizes");
  const int64_t n = sizes.size(0);
  const int64_t* s = sizes.data_ptr<int64_t>();
  int64_t max_h = 0, max_w = 0;
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(s[2 * i] > 0 && s[2 * i + 1] > 0, kOp, ": output size of image ", i,
                " must be positive, got ", s[2 * i], "x", s[2 * i + 1]);
    max_h = std::max(max_h, s[2 * i]);
    max_w = std::max(max_w, s[2 * i + 1]);
  }
  at::Tensor img_masks = at::zeros({d, max_h, max_w}, masks.options().dtype(at::kBool));
  if (d == 0) return img_masks;
  const at::Tensor index = batch_index.to(at::kCPU, at::kLong).contiguous();
  const int64_t* b = index.data_ptr<int64_t>();
  for (int64_t i = 0; i < d; ++i) {
    TORCH_CHECK(b[i] >= 0 && b[i] < n, kOp, ": detection ", i, " has batch index ", b[i],
                ", expected an index into the ", n, " images");
    const int64_t img_h = s[2 * b[i]], img_w = s[2 * b[i] + 1];
    const at::Tensor box = boxes.slice(0, i, i + 1);
    // _do_paste_mask's skip_empty region: x0 = clamp(floor(x0) - 1, min=0), y0 likewise,
    // x1 = clamp(ceil(x1) + 1, max=img_w), y1 = clamp(ceil(y1) + 1, max=img_h), as int32.
    at::Tensor lo = at::clamp_min(box.slice(1, 0, 2).floor() - 1, 0).to(at::kInt);
    at::Tensor x1 = at::clamp_max(box.select(1, 2).ceil() + 1, static_cast<double>(img_w));
    at::Tensor y1 = at::clamp_max(box.select(1, 3).ceil() + 1, static_cast<double>(img_h));
    const at::Tensor region_t =
        at::cat({lo, at::stack({x1, y1}, 1).to(at::kInt)}, 1).contiguous();
    const int32_t* r = region_t.data_ptr<int32_t>();
    if (r[2] <= r[0] || r[3] <= r[1]) continue;
    at::Tensor values = DoPasteMask(masks.slice(0, i, i + 1).unsqueeze(1), box, r);
    img_masks[i].slice(0, r[1], r[3]).slice(1, r[0], r[2]).copy_(values >= threshold);
  }
  return img_masks;
}

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) { m.impl("paste_masks", TORCH_FN(PasteMasksKernel)); }

}  // namespace d2x::ops
