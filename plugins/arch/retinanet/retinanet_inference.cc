#include "plugins/arch/retinanet/retinanet_inference.h"

#include <ATen/ATen.h>

#include "core/ops/box_math.h"

namespace d2x::retinanet {

at::Tensor PermuteToNHWAK(const at::Tensor& tensor, int64_t k) {
  return ops::internal::PermuteToNHWAK(tensor, k);
}

DenseDetections DecodePerLevel(const at::Tensor& anchors, const at::Tensor& scores,
                               const at::Tensor& deltas, double score_thresh,
                               int64_t topk_candidates,
                               const modeling::Box2BoxTransform& transform) {
  auto [boxes, top_scores, classes] =
      ops::internal::DecodePerLevel(anchors, scores, deltas, score_thresh, topk_candidates,
                                    transform.weights(), transform.scale_clamp());
  return {boxes, top_scores, classes};
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
    std::vector<at::Tensor> scores, deltas;
    for (size_t l = 0; l < pred_logits.size(); ++l) {
      // x[img_idx].sigmoid_(): in place on the (copied) permuted logits.
      scores.push_back(pred_logits[l].select(0, i).sigmoid());
      deltas.push_back(pred_deltas[l].select(0, i));
    }
    auto [boxes, image_scores, classes] = ops::internal::DenseInferenceSingleImage(
        anchors, scores, deltas, transform.weights(), transform.scale_clamp(),
        options.score_thresh, options.topk_candidates, options.nms_thresh,
        options.max_detections);
    results.push_back({boxes, image_scores, classes});
  }
  return results;
}

}  // namespace d2x::retinanet
