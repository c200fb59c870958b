#include "plugins/arch/retinanet/retinanet_inference.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/ops/ops.h"

namespace d2x::retinanet {

at::Tensor PermuteToNHWAK(const at::Tensor& tensor, int64_t k) {
  TORCH_CHECK(tensor.dim() == 4, "permute_to_N_HWA_K: expected a 4-D tensor, got ",
              tensor.sizes());
  const int64_t n = tensor.size(0), h = tensor.size(2), w = tensor.size(3);
  return tensor.view({n, -1, k, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, k});
}

DenseDetections DecodePerLevel(const at::Tensor& anchors, const at::Tensor& scores,
                               const at::Tensor& deltas, double score_thresh,
                               int64_t topk_candidates,
                               const modeling::Box2BoxTransform& transform) {
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
  const at::Tensor& class_idxs = unbound[1];
  at::Tensor boxes =
      transform.ApplyDeltas(deltas.index({anchor_idxs}), anchors.index({anchor_idxs}));
  return {boxes, top_scores, class_idxs};
}

std::vector<DenseDetections> RetinaNetInference(
    const std::vector<at::Tensor>& cls_logits, const std::vector<at::Tensor>& box_deltas,
    const std::vector<at::Tensor>& anchors, int64_t num_classes,
    const modeling::Box2BoxTransform& transform, const RetinaNetInferenceOptions& options) {
  TORCH_CHECK(cls_logits.size() == box_deltas.size() && cls_logits.size() == anchors.size(),
              "RetinaNet inference: ", cls_logits.size(), " class-logit levels, ",
              box_deltas.size(), " box-delta levels, ", anchors.size(), " anchor levels");
  TORCH_CHECK(!cls_logits.empty(), "RetinaNet inference: no feature levels");
  // _transpose_dense_predictions
  std::vector<at::Tensor> pred_logits, pred_deltas;
  for (size_t l = 0; l < cls_logits.size(); ++l) {
    pred_logits.push_back(PermuteToNHWAK(cls_logits[l], num_classes));
    pred_deltas.push_back(PermuteToNHWAK(box_deltas[l], 4));
  }
  const int64_t num_images = cls_logits[0].size(0);
  std::vector<DenseDetections> results;
  results.reserve(num_images);
  for (int64_t i = 0; i < num_images; ++i) {
    std::vector<at::Tensor> boxes, scores, classes;
    for (size_t l = 0; l < pred_logits.size(); ++l) {
      // x[img_idx].sigmoid_(): in place on the (copied) permuted logits.
      at::Tensor level_scores = pred_logits[l].select(0, i).sigmoid();
      DenseDetections d =
          DecodePerLevel(anchors[l], level_scores, pred_deltas[l].select(0, i),
                         options.score_thresh, options.topk_candidates, transform);
      boxes.push_back(d.boxes);
      scores.push_back(d.scores);
      classes.push_back(d.classes);
    }
    // Instances.cat, then per-class NMS (detectron2's batched_nms casts the boxes to float).
    at::Tensor all_boxes = at::cat(boxes, 0);
    at::Tensor all_scores = at::cat(scores, 0);
    at::Tensor all_classes = at::cat(classes, 0);
    at::Tensor keep =
        ops::BatchedNms(all_boxes.to(at::kFloat), all_scores, all_classes, options.nms_thresh);
    keep = keep.slice(0, 0, std::min<int64_t>(keep.size(0), options.max_detections));
    results.push_back(
        {all_boxes.index({keep}), all_scores.index({keep}), all_classes.index({keep})});
  }
  return results;
}

}  // namespace d2x::retinanet
