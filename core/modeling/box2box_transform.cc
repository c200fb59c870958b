#include "core/modeling/box2box_transform.h"

#include <ATen/ATen.h>

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

at::Tensor Box2BoxTransform::ApplyDeltas(const at::Tensor& deltas_in,
                                         const at::Tensor& boxes_in) const {
  at::Tensor deltas = deltas_in.to(at::kFloat);
  at::Tensor boxes = boxes_in.to(deltas.scalar_type());

  at::Tensor widths = boxes.select(1, 2) - boxes.select(1, 0);
  at::Tensor heights = boxes.select(1, 3) - boxes.select(1, 1);
  at::Tensor ctr_x = boxes.select(1, 0) + 0.5 * widths;
  at::Tensor ctr_y = boxes.select(1, 1) + 0.5 * heights;

  const auto [wx, wy, ww, wh] = weights_;
  const int64_t k4 = deltas.size(1);
  at::Tensor dx = deltas.slice(1, 0, k4, 4) / wx;
  at::Tensor dy = deltas.slice(1, 1, k4, 4) / wy;
  at::Tensor dw = deltas.slice(1, 2, k4, 4) / ww;
  at::Tensor dh = deltas.slice(1, 3, k4, 4) / wh;

  // Prevent sending too large values into exp().
  dw = at::clamp_max(dw, scale_clamp_);
  dh = at::clamp_max(dh, scale_clamp_);

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

}  // namespace d2x::modeling
