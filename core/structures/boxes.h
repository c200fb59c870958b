// Axis-aligned box helpers, as detectron2's structures/boxes.py (class Boxes and the pairwise
// functions). A box tensor is [N, 4] float XYXY in absolute pixel coordinates, exactly
// detectron2's `Boxes.tensor`. The functions call the same ATen ops in the same order as
// detectron2, so results are bit-identical for identical inputs.
//
// These are eager helpers: they throw c10::Error (like the ATen ops they call) when given a tensor
// that is not [N, 4]. Call ValidateBoxes() first where a Status is needed.
#ifndef D2X_CORE_STRUCTURES_BOXES_H_
#define D2X_CORE_STRUCTURES_BOXES_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace d2x::structures {

// OK when `boxes` is a defined [N, 4] floating-point tensor; otherwise InvalidArgument naming `what`.
absl::Status ValidateBoxes(const at::Tensor& boxes, const std::string& what = "boxes");

// Boxes.area(): (x1 - x0) * (y1 - y0), [N].
at::Tensor BoxArea(const at::Tensor& boxes);

// Boxes.clip((height, width)): x clamped to [0, width], y to [0, height]. Returns a new [N, 4]
// tensor (detectron2 replaces Boxes.tensor the same way). Does not check finiteness (detectron2
// asserts it); use AllFinite() if needed.
at::Tensor ClipBoxes(const at::Tensor& boxes, int64_t height, int64_t width);

// Boxes.nonempty(threshold): bool [N], true where width > threshold and height > threshold.
at::Tensor NonemptyBoxes(const at::Tensor& boxes, double threshold = 0.0);

// Boxes.scale(sx, sy) in place: x coordinates *= sx, y coordinates *= sy.
void ScaleBoxesInPlace(at::Tensor& boxes, double scale_x, double scale_y);

// Boxes.get_centers(): [N, 2] (x, y).
at::Tensor BoxCenters(const at::Tensor& boxes);

// Boxes.inside_box((height, width), boundary_threshold): bool [N].
at::Tensor BoxesInside(const at::Tensor& boxes, int64_t height, int64_t width,
                       int64_t boundary_threshold = 0);

// True when every coordinate is finite.
bool AllFinite(const at::Tensor& boxes);

// pairwise_intersection: [N, M] intersection areas.
at::Tensor PairwiseIntersection(const at::Tensor& boxes1, const at::Tensor& boxes2);

// pairwise_iou: [N, M] IoU (0 where the boxes do not intersect).
at::Tensor PairwiseIou(const at::Tensor& boxes1, const at::Tensor& boxes2);

// pairwise_ioa: [N, M] intersection over the area of boxes2.
at::Tensor PairwiseIoa(const at::Tensor& boxes1, const at::Tensor& boxes2);

// matched_pairwise_iou: [N] IoU of boxes1[i] with boxes2[i].
at::Tensor MatchedPairwiseIou(const at::Tensor& boxes1, const at::Tensor& boxes2);

}  // namespace d2x::structures

#endif  // D2X_CORE_STRUCTURES_BOXES_H_
