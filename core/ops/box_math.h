// Box arithmetic shared by the coarse detection kernels (internal to core/ops; not in ops_hdrs).
//
// Each function repeats, ATen call for ATen call and scalar type for scalar type, the eager code
// it is named after (core/modeling/box2box_transform.cc, anchor_generator.cc,
// core/structures/boxes.cc), so the
// kernels give bit-identical results to the eager models. The op kernels must be compilable into
// libd2x_ops.so, which depends on LibTorch only: they cannot link core/modeling or
// core/structures (absl, config, ...), hence this small torch-only copy. The end-to-end tests
// (tests/export) compare eager and exported models bit for bit and catch any drift.
#ifndef D2X_CORE_OPS_BOX_MATH_H_
#define D2X_CORE_OPS_BOX_MATH_H_

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <vector>

namespace d2x::ops::internal {

// Box2BoxTransform::ApplyDeltas: deltas [R, k*4] applied to boxes [R, 4] -> [R, k*4].
inline at::Tensor ApplyDeltas(const at::Tensor& deltas_in, const at::Tensor& boxes_in,
                              const std::array<double, 4>& weights, double scale_clamp) {
  at::Tensor deltas = deltas_in.to(at::kFloat);
  at::Tensor boxes = boxes_in.to(deltas.scalar_type());

  at::Tensor widths = boxes.select(1, 2) - boxes.select(1, 0);
  at::Tensor heights = boxes.select(1, 3) - boxes.select(1, 1);
  at::Tensor ctr_x = boxes.select(1, 0) + 0.5 * widths;
  at::Tensor ctr_y = boxes.select(1, 1) + 0.5 * heights;

  const auto [wx, wy, ww, wh] = weights;
  const int64_t k4 = deltas.size(1);
  at::Tensor dx = deltas.slice(1, 0, k4, 4) / wx;
  at::Tensor dy = deltas.slice(1, 1, k4, 4) / wy;
  at::Tensor dw = deltas.slice(1, 2, k4, 4) / ww;
  at::Tensor dh = deltas.slice(1, 3, k4, 4) / wh;

  dw = at::clamp_max(dw, scale_clamp);
  dh = at::clamp_max(dh, scale_clamp);

  at::Tensor pred_ctr_x = dx * widths.unsqueeze(1) + ctr_x.unsqueeze(1);
  at::Tensor pred_ctr_y = dy * heights.unsqueeze(1) + ctr_y.unsqueeze(1);
  at::Tensor pred_w = at::exp(dw) * widths.unsqueeze(1);
  at::Tensor pred_h = at::exp(dh) * heights.unsqueeze(1);

  at::Tensor x1 = pred_ctr_x - 0.5 * pred_w;
  at::Tensor y1 = pred_ctr_y - 0.5 * pred_h;
  at::Tensor x2 = pred_ctr_x + 0.5 * pred_w;
  at::Tensor y2 = pred_ctr_y + 0.5 * pred_h;
  return at::stack({x1, y1, x2, y2}, -1).reshape(deltas.sizes());
}

// structures::ClipBoxes (Boxes.clip): x into [0, width], y into [0, height]; int bounds as
// detectron2's Python ints.
inline at::Tensor ClipBoxes(const at::Tensor& boxes, int64_t height, int64_t width) {
  at::Tensor x1 = boxes.select(1, 0).clamp(0, width);
  at::Tensor y1 = boxes.select(1, 1).clamp(0, height);
  at::Tensor x2 = boxes.select(1, 2).clamp(0, width);
  at::Tensor y2 = boxes.select(1, 3).clamp(0, height);
  return at::stack({x1, y1, x2, y2}, /*dim=*/-1);
}

// structures::NonemptyBoxes (Boxes.nonempty): width > threshold and height > threshold.
inline at::Tensor NonemptyBoxes(const at::Tensor& boxes, double threshold) {
  at::Tensor widths = boxes.select(1, 2) - boxes.select(1, 0);
  at::Tensor heights = boxes.select(1, 3) - boxes.select(1, 1);
  return (widths > threshold).logical_and_(heights > threshold);
}

// DefaultAnchorGenerator._grid_anchors for one level (core/modeling/anchor_generator.cc):
// [H * W * A, 4], location-major (y, then x, then cell anchor).
inline at::Tensor GridAnchors(const at::Tensor& base, int64_t grid_height, int64_t grid_width,
                              int64_t stride, double offset) {
  at::Tensor shifts_x = at::arange(offset * static_cast<double>(stride), grid_width * stride,
                                   stride, base.options());
  at::Tensor shifts_y = at::arange(offset * static_cast<double>(stride), grid_height * stride,
                                   stride, base.options());
  std::vector<at::Tensor> mesh = at::meshgrid({shifts_y, shifts_x}, "ij");
  at::Tensor shift_y = mesh[0].reshape(-1);
  at::Tensor shift_x = mesh[1].reshape(-1);
  at::Tensor shifts = at::stack({shift_x, shift_y, shift_x, shift_y}, 1);
  return (shifts.view({-1, 1, 4}) + base.view({1, -1, 4})).reshape({-1, 4});
}

// [N, 2] int64 (height, width) per image, checked; returns a contiguous CPU int64 copy.
inline at::Tensor CheckImageSizes(const at::Tensor& sizes, const char* op, const char* what) {
  TORCH_CHECK(sizes.defined() && sizes.dim() == 2 && sizes.size(1) == 2, op, ": ", what,
              " must be an [N, 2] (height, width) tensor, got ",
              sizes.defined() ? c10::str(sizes.sizes()) : std::string("undefined"));
  TORCH_CHECK(at::isIntegralType(sizes.scalar_type(), /*includeBool=*/false), op, ": ", what,
              " must be an integer tensor, got ", sizes.scalar_type());
  return sizes.to(at::kCPU, at::kLong).contiguous();
}

// Rows of each image in a batch-index column, which must be sorted (images in order, as the
// d2x ops produce them). Returns the per-image row counts (N entries).
std::vector<int64_t> CountRowsPerImage(const at::Tensor& batch_index, int64_t num_images,
                                       const char* op);

}  // namespace d2x::ops::internal

#endif  // D2X_CORE_OPS_BOX_MATH_H_
