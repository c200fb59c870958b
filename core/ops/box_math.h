// Box arithmetic and proposal selection: the one implementation, shared by the coarse detection
// kernels and the eager models (core/modeling/box2box_transform.cc, anchor_generator.cc,
// proposal_utils.cc and core/structures/boxes.cc call these), so exported and eager models give
// bit-identical results. Torch-only, because the op kernels are also compiled into
// libd2x_ops.so, which depends on LibTorch alone. Each function repeats detectron2's code ATen
// call for ATen call and scalar type for scalar type.
#ifndef D2X_CORE_OPS_BOX_MATH_H_
#define D2X_CORE_OPS_BOX_MATH_H_

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <tuple>
#include <utility>
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

// find_top_rpn_proposals (detectron2/modeling/proposal_generator/proposal_utils.py, inference):
// proposals[l] [N, Hi*Wi*A, 4], pred_objectness_logits[l] [N, Hi*Wi*A], image_sizes (height,
// width) per image. Per level: top min(Hi*Wi*A, pre_nms_topk) by logit. Per image: drop
// non-finite boxes/scores, clip to the image, drop boxes with a side <= min_box_size, batched NMS
// with the level as the category (d2x::batched_nms), keep the first post_nms_topk. Returns per
// image (boxes [R, 4], logits [R]) sorted by decreasing logit. Defined in rpn_proposals.cc.
std::vector<std::pair<at::Tensor, at::Tensor>> FindTopRpnProposals(
    const std::vector<at::Tensor>& proposals, const std::vector<at::Tensor>& pred_objectness_logits,
    const std::vector<std::pair<int64_t, int64_t>>& image_sizes, double nms_thresh,
    int64_t pre_nms_topk, int64_t post_nms_topk, double min_box_size);

// fast_rcnn_inference_single_image (detectron2/modeling/roi_heads/fast_rcnn.py): boxes [R, C*4]
// (C = 1 or K) already decoded, scores [R, K+1] probabilities, for an image of (height, width):
// drop non-finite rows, clip, keep scores > score_thresh, class-wise NMS, the first
// topk_per_image (all if < 0). Defined in box_postprocess.cc.
struct FastRcnnDetections {
  at::Tensor boxes;    // [D, 4] float XYXY
  at::Tensor scores;   // [D] float
  at::Tensor classes;  // [D] int64
  at::Tensor kept;     // [D] int64: the input row (proposal) each detection comes from
};
FastRcnnDetections FastRcnnInferenceSingleImage(at::Tensor boxes, at::Tensor scores,
                                                int64_t height, int64_t width,
                                                double score_thresh, double nms_thresh,
                                                int64_t topk_per_image);

// permute_to_N_HWA_K: (N, A*K, H, W) -> (N, H*W*A, K).
inline at::Tensor PermuteToNHWAK(const at::Tensor& tensor, int64_t k) {
  TORCH_CHECK(tensor.dim() == 4, "permute_to_N_HWA_K: expected a 4-D tensor, got ",
              tensor.sizes());
  const int64_t n = tensor.size(0), h = tensor.size(2), w = tensor.size(3);
  return tensor.view({n, -1, k, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, k});
}

// DenseDetector._decode_per_level_predictions for one image and level: scores [HWA, K] (after
// sigmoid), deltas [HWA, 4], anchors [HWA, 4]. Keeps scores > score_thresh, then the top
// min(#kept, topk_candidates) of them, and decodes their boxes. Returns (boxes, scores, classes).
// Defined in dense_detections.cc.
std::tuple<at::Tensor, at::Tensor, at::Tensor> DecodePerLevel(
    const at::Tensor& anchors, const at::Tensor& scores, const at::Tensor& deltas,
    double score_thresh, int64_t topk_candidates, const std::array<double, 4>& weights,
    double scale_clamp);

// RetinaNet.inference_single_image: per level DecodePerLevel on scores[l] [HWA, K] (after
// sigmoid), deltas[l] [HWA, 4], anchors[l] [HWA, 4]; the levels concatenated, per-class batched
// NMS, the first max_detections. Returns (boxes, scores, classes). Defined in
// dense_detections.cc.
std::tuple<at::Tensor, at::Tensor, at::Tensor> DenseInferenceSingleImage(
    const std::vector<at::Tensor>& anchors, const std::vector<at::Tensor>& scores,
    const std::vector<at::Tensor>& deltas, const std::array<double, 4>& weights,
    double scale_clamp, double score_thresh, int64_t topk_candidates, double nms_thresh,
    int64_t max_detections);

// Rows of each image in a batch-index column, which must be sorted (images in order, as the
// d2x ops produce them). Returns the per-image row counts (N entries).
std::vector<int64_t> CountRowsPerImage(const at::Tensor& batch_index, int64_t num_images,
                                       const char* op);

}  // namespace d2x::ops::internal

#endif  // D2X_CORE_OPS_BOX_MATH_H_
