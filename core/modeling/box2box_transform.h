// Box2BoxTransform, as detectron2/modeling/box_regression.py (the R-CNN (dx, dy, dw, dh)
// parameterization).
#ifndef D2X_CORE_MODELING_BOX2BOX_TRANSFORM_H_
#define D2X_CORE_MODELING_BOX2BOX_TRANSFORM_H_

#include <ATen/core/Tensor.h>

#include <array>
#include <cmath>

namespace d2x::modeling {

// log(1000 / 16): dw, dh are clamped to this before exp().
inline const double kDefaultScaleClamp = std::log(1000.0 / 16);

class Box2BoxTransform {
 public:
  explicit Box2BoxTransform(std::array<double, 4> weights,
                            double scale_clamp = kDefaultScaleClamp)
      : weights_(weights), scale_clamp_(scale_clamp) {}

  // get_deltas: deltas [N, 4] that transform src_boxes [N, 4] into target_boxes [N, 4].
  at::Tensor GetDeltas(const at::Tensor& src_boxes, const at::Tensor& target_boxes) const;

  // apply_deltas: deltas [N, k*4] applied to boxes [N, 4] -> [N, k*4]. Like detectron2, the deltas
  // are cast to float32 and the boxes to the deltas' dtype first.
  at::Tensor ApplyDeltas(const at::Tensor& deltas, const at::Tensor& boxes) const;

  const std::array<double, 4>& weights() const { return weights_; }
  double scale_clamp() const { return scale_clamp_; }

 private:
  std::array<double, 4> weights_;
  double scale_clamp_;
};

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_BOX2BOX_TRANSFORM_H_
