#include "core/modeling/box2box_transform.h"

#include <ATen/ATen.h>

#include "core/ops/box_math.h"

namespace d2x::modeling {

at::Tensor Box2BoxTransform::GetDeltas(const at::Tensor& src_boxes,
                                       const at::Tensor& target_boxes) const {
  at::Tensor src_widths = src_boxes.select(1, 2) - src_boxes.select(1, 0);
  at::Tensor src_heights = src_boxes.select(1, 3) - src_boxes.select(1, 1);
  at::Tensor src_ctr_x = src_boxes.select(1, 0) + 0.5 * src_widths;
  at::Tensor src_ctr_y = src_boxes.select(1, 1) + 0.5 * src_heights;

  at::Tensor target_widths = target_boxes.select(1, 2) - target_boxes.select(1, 0);
  at::Tensor target_heights = target_boxes.select(1, 3) - target_boxes.select(1, 1);
  at::Tensor target_ctr_x = target_boxes.select(1, 0) + 0.5 * target_widths;
  at::Tensor target_ctr_y = target_boxes.select(1, 1) + 0.5 * target_heights;

  const auto [wx, wy, ww, wh] = weights_;
  at::Tensor dx = wx * (target_ctr_x - src_ctr_x) / src_widths;
  at::Tensor dy = wy * (target_ctr_y - src_ctr_y) / src_heights;
  at::Tensor dw = ww * at::log(target_widths / src_widths);
  at::Tensor dh = wh * at::log(target_heights / src_heights);
  return at::stack({dx, dy, dw, dh}, 1);
}

at::Tensor Box2BoxTransform::ApplyDeltas(const at::Tensor& deltas,
                                         const at::Tensor& boxes) const {
  return ops::internal::ApplyDeltas(deltas, boxes, weights_, scale_clamp_);
}

}  // namespace d2x::modeling
