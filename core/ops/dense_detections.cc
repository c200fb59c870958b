// d2x::dense_detections: RetinaNet's inference on the head outputs as one shape-generic op
// (detectron2's RetinaNet.forward_inference / inference_single_image with DenseDetector's
// _decode_per_level_predictions): the anchor grid of every level (read from the feature sizes at
// run time), permute_to_N_HWA_K, then per image and level sigmoid, score threshold, top-k
// candidates and box decoding, and per image class-wise NMS and the first max_detections.
// Returns (boxes [D, 4], scores [D], classes [D] int64, batch_index [D] int64), grouped by image
// in order, in the coordinates of the image the model saw (before detector_postprocess).
// The per-image part (DenseInferenceSingleImage, box_math.h) is what the eager model
// (plugins/arch/retinanet/retinanet_inference.cc) runs too, so the detections are bit-identical.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <vector>

#include "core/ops/box_math.h"
#include "core/ops/ops.h"

namespace d2x::ops {
namespace internal {

std::tuple<at::Tensor, at::Tensor, at::Tensor> DecodePerLevel(
    const at::Tensor& anchors, const at::Tensor& scores, const at::Tensor& deltas,
    double score_thresh, int64_t topk_candidates, const std::array<double, 4>& weights,
    double scale_clamp) {
  // 1. Keep scores above the threshold.
  at::Tensor keep_idxs = scores > score_thresh;
  at::Tensor pred_scores = scores.index({keep_idxs});
  at::Tensor topk_idxs = at::nonzero(keep_idxs);  // [K, 2] (anchor, class)
  // 2. The top-k of those.
  const int64_t num_topk = std::min<int64_t>(topk_idxs.size(0), topk_candidates);
  auto [top_scores, idxs] = pred_scores.topk(num_topk);
  topk_idxs = topk_idxs.index({idxs});
  std::vector<at::Tensor> unbound = topk_idxs.unbind(1);
  const at::Tensor& anchor_idxs = unbound[0];
  at::Tensor boxes = ApplyDeltas(deltas.index({anchor_idxs}), anchors.index({anchor_idxs}),
                                 weights, scale_clamp);
  return {boxes, top_scores, unbound[1]};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> DenseInferenceSingleImage(
    const std::vector<at::Tensor>& anchors, const std::vector<at::Tensor>& scores,
    const std::vector<at::Tensor>& deltas, const std::array<double, 4>& weights,
    double scale_clamp, double score_thresh, int64_t topk_candidates, double nms_thresh,
    int64_t max_detections) {
  TORCH_CHECK(!scores.empty() && anchors.size() == scores.size() &&
                  deltas.size() == scores.size(),
              "RetinaNet inference: ", scores.size(), " score levels, ", deltas.size(),
              " delta levels, ", anchors.size(), " anchor levels");
  std::vector<at::Tensor> boxes, level_scores, classes;
  for (size_t l = 0; l < scores.size(); ++l) {
    auto [b, s, c] = DecodePerLevel(anchors[l], scores[l], deltas[l], score_thresh,
                                    topk_candidates, weights, scale_clamp);
    boxes.push_back(b);
    level_scores.push_back(s);
    classes.push_back(c);
  }
  // Instances.cat, then per-class NMS (detectron2's batched_nms casts the boxes to float).
  at::Tensor all_boxes = at::cat(boxes, 0);
  at::Tensor all_scores = at::cat(level_scores, 0);
  at::Tensor all_classes = at::cat(classes, 0);
  at::Tensor keep = BatchedNms(all_boxes.to(at::kFloat), all_scores, all_classes, nms_thresh);
  keep = keep.slice(0, 0, std::min<int64_t>(keep.size(0), max_detections));
  return {all_boxes.index({keep}), all_scores.index({keep}), all_classes.index({keep})};
}

}  // namespace internal

namespace {

constexpr const char* kOp = "d2x::dense_detections";

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> DenseDetectionsKernel(
    at::TensorList cls_logits, at::TensorList box_deltas, at::TensorList cell_anchors,
    c10::IntArrayRef strides, double offset, const at::Tensor& image_sizes, int64_t num_classes,
    c10::ArrayRef<double> bbox_reg_weights, double scale_clamp, double score_thresh,
    int64_t topk_candidates, double nms_thresh, int64_t max_detections) {
  const size_t num_levels = cls_logits.size();
  TORCH_CHECK(num_levels > 0, kOp, ": no feature levels");
  TORCH_CHECK(box_deltas.size() == num_levels && cell_anchors.size() == num_levels &&
                  strides.size() == num_levels,
              kOp, ": got ", num_levels, " class-logit levels, ", box_deltas.size(),
              " box-delta levels, ", cell_anchors.size(), " cell-anchor sets and ", strides.size(),
              " strides");
  TORCH_CHECK(bbox_reg_weights.size() == 4, kOp, ": bbox_reg_weights must have 4 values");
  TORCH_CHECK(num_classes > 0, kOp, ": num_classes must be positive");
  const at::Tensor sizes = internal::CheckImageSizes(image_sizes, kOp, "image_sizes");
  const int64_t n = cls_logits[0].size(0);
  TORCH_CHECK(sizes.size(0) == n, kOp, ": image_sizes has ", sizes.size(0),
              " rows for a batch of ", n);
  for (size_t l = 0; l < num_levels; ++l) {
    const at::Tensor& c = cls_logits[l];
    const at::Tensor& d = box_deltas[l];
    const int64_t a = cell_anchors[l].size(0);
    TORCH_CHECK(c.dim() == 4 && c.size(0) == n && c.size(1) == a * num_classes, kOp,
                ": cls_logits[", l, "] must be [", n, ", ", a * num_classes, ", H, W], got ",
                c.sizes());
    TORCH_CHECK(d.dim() == 4 && d.size(0) == n && d.size(1) == 4 * a && d.size(2) == c.size(2) &&
                    d.size(3) == c.size(3),
                kOp, ": box_deltas[", l, "] must be [", n, ", ", 4 * a, ", ", c.size(2), ", ",
                c.size(3), "], got ", d.sizes());
  }
  const std::array<double, 4> weights = {bbox_reg_weights[0], bbox_reg_weights[1],
                                         bbox_reg_weights[2], bbox_reg_weights[3]};
  std::vector<at::Tensor> anchors, pred_logits, pred_deltas;
  for (size_t l = 0; l < num_levels; ++l) {
    at::Tensor level_anchors =
        internal::GridAnchors(cell_anchors[l].to(at::kFloat), cls_logits[l].size(2),
                              cls_logits[l].size(3), strides[l], offset);
    if (level_anchors.device() != cls_logits[l].device()) {
      level_anchors = level_anchors.to(cls_logits[l].device());
    }
    anchors.push_back(level_anchors);
    pred_logits.push_back(internal::PermuteToNHWAK(cls_logits[l], num_classes));
    pred_deltas.push_back(internal::PermuteToNHWAK(box_deltas[l], 4));
  }
  std::vector<at::Tensor> out_boxes, out_scores, out_classes, out_index;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<at::Tensor> scores, deltas;
    for (size_t l = 0; l < num_levels; ++l) {
      // x[img_idx].sigmoid_(): in place on the (copied) permuted logits.
      scores.push_back(pred_logits[l].select(0, i).sigmoid());
      deltas.push_back(pred_deltas[l].select(0, i));
    }
    auto [boxes, image_scores, classes] = internal::DenseInferenceSingleImage(
        anchors, scores, deltas, weights, scale_clamp, score_thresh, topk_candidates,
        nms_thresh, max_detections);
    out_index.push_back(at::full({boxes.size(0)}, i, at::TensorOptions().dtype(at::kLong)));
    out_boxes.push_back(std::move(boxes));
    out_scores.push_back(std::move(image_scores));
    out_classes.push_back(std::move(classes));
  }
  if (n == 0) {
    return {at::zeros({0, 4}, at::kFloat), at::zeros({0}, at::kFloat), at::zeros({0}, at::kLong),
            at::zeros({0}, at::kLong)};
  }
  return {at::cat(out_boxes, 0), at::cat(out_scores, 0), at::cat(out_classes, 0),
          at::cat(out_index, 0)};
}

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) { m.impl("dense_detections", TORCH_FN(DenseDetectionsKernel)); }

}  // namespace d2x::ops
