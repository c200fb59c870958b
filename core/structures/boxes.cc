#include "core/structures/boxes.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "core/ops/box_math.h"

namespace d2x::structures {

absl::Status ValidateBoxes(const at::Tensor& boxes, const std::string& what) {
  if (!boxes.defined()) return absl::InvalidArgumentError(absl::StrCat(what, " is undefined"));
  if (boxes.dim() != 2 || boxes.size(1) != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected an [N, 4] XYXY tensor, got shape ",
                     c10::str(boxes.sizes())));
  }
  if (!at::isFloatingType(boxes.scalar_type())) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected a floating-point tensor, got ",
                     c10::toString(boxes.scalar_type())));
  }
  return absl::OkStatus();
}

at::Tensor BoxArea(const at::Tensor& boxes) {
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

at::Tensor ClipBoxes(const at::Tensor& boxes, int64_t height, int64_t width) {
  return ops::internal::ClipBoxes(boxes, height, width);
}

at::Tensor NonemptyBoxes(const at::Tensor& boxes, double threshold) {
  return ops::internal::NonemptyBoxes(boxes, threshold);
}

void ScaleBoxesInPlace(at::Tensor& boxes, double scale_x, double scale_y) {
  boxes.slice(1, 0, 4, 2).mul_(scale_x);
  boxes.slice(1, 1, 4, 2).mul_(scale_y);
}

at::Tensor BoxCenters(const at::Tensor& boxes) {
  return (boxes.slice(1, 0, 2) + boxes.slice(1, 2, 4)) / 2;
}

at::Tensor BoxesInside(const at::Tensor& boxes, int64_t height, int64_t width,
                       int64_t boundary_threshold) {
  return (boxes.select(-1, 0) >= -boundary_threshold)
      .logical_and_(boxes.select(-1, 1) >= -boundary_threshold)
      .logical_and_(boxes.select(-1, 2) < width + boundary_threshold)
      .logical_and_(boxes.select(-1, 3) < height + boundary_threshold);
}

bool AllFinite(const at::Tensor& boxes) { return at::isfinite(boxes).all().item<bool>(); }

at::Tensor PairwiseIntersection(const at::Tensor& boxes1, const at::Tensor& boxes2) {
  using at::indexing::None;
  using at::indexing::Slice;
  at::Tensor width_height =
      at::min(boxes1.index({Slice(), None, Slice(2, None)}), boxes2.slice(1, 2, 4)) -
      at::max(boxes1.index({Slice(), None, Slice(None, 2)}), boxes2.slice(1, 0, 2));
  width_height.clamp_min_(0);
  return width_height.prod(/*dim=*/2);
}

at::Tensor PairwiseIou(const at::Tensor& boxes1, const at::Tensor& boxes2) {
  at::Tensor area1 = BoxArea(boxes1);
  at::Tensor area2 = BoxArea(boxes2);
  at::Tensor inter = PairwiseIntersection(boxes1, boxes2);
  return at::where(inter > 0, inter / (area1.unsqueeze(1) + area2 - inter),
                   at::zeros({1}, inter.options()));
}

at::Tensor PairwiseIoa(const at::Tensor& boxes1, const at::Tensor& boxes2) {
  at::Tensor area2 = BoxArea(boxes2);
  at::Tensor inter = PairwiseIntersection(boxes1, boxes2);
  return at::where(inter > 0, inter / area2, at::zeros({1}, inter.options()));
}

at::Tensor MatchedPairwiseIou(const at::Tensor& boxes1, const at::Tensor& boxes2) {
  at::Tensor area1 = BoxArea(boxes1);
  at::Tensor area2 = BoxArea(boxes2);
  at::Tensor lt = at::max(boxes1.slice(1, 0, 2), boxes2.slice(1, 0, 2));
  at::Tensor rb = at::min(boxes1.slice(1, 2, 4), boxes2.slice(1, 2, 4));
  at::Tensor wh = (rb - lt).clamp_min(0);
  at::Tensor inter = wh.select(1, 0) * wh.select(1, 1);
  return inter / (area1 + area2 - inter);
}

}  // namespace d2x::structures
