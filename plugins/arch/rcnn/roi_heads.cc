#include "plugins/arch/rcnn/roi_heads.h"

#include <ATen/ATen.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace d2x::rcnn {

absl::StatusOr<StandardRoiHeads> StandardRoiHeads::Create(const RoiHeadsOptions& options,
                                                          PoolFn box_pooler, PoolFn mask_pooler,
                                                          PoolFn keypoint_pooler) {
  if (options.in_features.empty()) {
    return absl::InvalidArgumentError("MODEL.ROI_HEADS.IN_FEATURES is empty");
  }
  StandardRoiHeads heads;
  heads.options_ = options;
  heads.box_pooler_ = std::move(box_pooler);
  heads.mask_pooler_ = std::move(mask_pooler);
  heads.keypoint_pooler_ = std::move(keypoint_pooler);
  if (!heads.box_pooler_) return absl::InvalidArgumentError("ROI heads: no box pooler");

  absl::StatusOr<FastRcnnConvFcHead> box_head = FastRcnnConvFcHead::Create(options.box_head);
  if (!box_head.ok()) return box_head.status();
  heads.box_head_ = *std::move(box_head);
  BoxPredictorOptions predictor = options.box_predictor;
  predictor.input_size = heads.box_head_.output_size();
  heads.options_.box_predictor = predictor;
  heads.box_predictor_ = FastRcnnOutputLayers::Create(predictor);

  if (options.mask_on) {
    if (!heads.mask_pooler_) return absl::InvalidArgumentError("ROI heads: no mask pooler");
    absl::StatusOr<MaskRcnnConvUpsampleHead> mask = MaskRcnnConvUpsampleHead::Create(options.mask_head);
    if (!mask.ok()) return mask.status();
    heads.mask_head_ = *std::move(mask);
  }
  if (options.keypoint_on) {
    if (!heads.keypoint_pooler_) {
      return absl::InvalidArgumentError("ROI heads: no keypoint pooler");
    }
    absl::StatusOr<KrcnnConvDeconvUpsampleHead> kp =
        KrcnnConvDeconvUpsampleHead::Create(options.keypoint_head);
    if (!kp.ok()) return kp.status();
    heads.keypoint_head_ = *std::move(kp);
  }
  return heads;
}

std::vector<at::Tensor> StandardRoiHeads::InFeatures(
    const std::map<std::string, at::Tensor>& features) const {
  std::vector<at::Tensor> out;
  out.reserve(options_.in_features.size());
  for (const std::string& name : options_.in_features) out.push_back(features.at(name));
  return out;
}

FastRcnnOutputLayers::Predictions StandardRoiHeads::ForwardBoxPredictions(
    const std::map<std::string, at::Tensor>& features,
    const std::vector<at::Tensor>& proposals) const {
  at::Tensor box_features = box_pooler_(InFeatures(features), proposals);
  box_features = box_head_.Forward(box_features);
  return box_predictor_.Forward(box_features);
}

std::vector<RoiHeadsResult> StandardRoiHeads::Inference(
    const std::map<std::string, at::Tensor>& features, const std::vector<at::Tensor>& proposals,
    const std::vector<std::array<int64_t, 2>>& image_sizes) const {
  return InferenceFromPredictions(features, ForwardBoxPredictions(features, proposals), proposals,
                                  image_sizes);
}

std::vector<RoiHeadsResult> StandardRoiHeads::InferenceFromPredictions(
    const std::map<std::string, at::Tensor>& features,
    const FastRcnnOutputLayers::Predictions& predictions,
    const std::vector<at::Tensor>& proposals,
    const std::vector<std::array<int64_t, 2>>& image_sizes) const {
  std::vector<BoxDetections> detections =
      box_predictor_.Inference(predictions, proposals, image_sizes);
  std::vector<RoiHeadsResult> results(detections.size());
  for (size_t i = 0; i < detections.size(); ++i) {
    results[i].boxes = detections[i].boxes;
    results[i].scores = detections[i].scores;
    results[i].classes = detections[i].classes;
  }
  ForwardWithGivenBoxes(features, results);
  return results;
}

void StandardRoiHeads::ForwardWithGivenBoxes(const std::map<std::string, at::Tensor>& features,
                                             std::vector<RoiHeadsResult>& results) const {
  if (!options_.mask_on && !options_.keypoint_on) return;
  std::vector<at::Tensor> boxes;
  std::vector<int64_t> counts;
  for (const RoiHeadsResult& r : results) {
    boxes.push_back(r.boxes);
    counts.push_back(r.boxes.size(0));
  }
  const std::vector<at::Tensor> in = InFeatures(features);
  if (options_.mask_on) {
    at::Tensor classes = at::cat(
        [&] {
          std::vector<at::Tensor> c;
          for (const RoiHeadsResult& r : results) c.push_back(r.classes);
          return c;
        }(),
        0);
    at::Tensor logits = mask_head_.Forward(mask_pooler_(in, boxes));
    std::vector<at::Tensor> probs =
        MaskRcnnInference(logits, classes).split_with_sizes(counts, 0);
    for (size_t i = 0; i < results.size(); ++i) results[i].mask_probs = probs[i];
  }
  if (options_.keypoint_on) {
    at::Tensor heatmaps = keypoint_head_.Forward(keypoint_pooler_(in, boxes));
    std::vector<at::Tensor> keypoints =
        KeypointRcnnInference(heatmaps, at::cat(boxes, 0)).split_with_sizes(counts, 0);
    std::vector<at::Tensor> maps = heatmaps.split_with_sizes(counts, 0);
    for (size_t i = 0; i < results.size(); ++i) {
      results[i].keypoints = keypoints[i];
      results[i].keypoint_heatmaps = maps[i];
    }
  }
}

void StandardRoiHeads::CollectState(const std::string& prefix, NamedTensors* out) const {
  box_head_.CollectState(prefix + "box_head.", out);
  box_predictor_.CollectState(prefix + "box_predictor.", out);
  if (options_.mask_on) mask_head_.CollectState(prefix + "mask_head.", out);
  if (options_.keypoint_on) keypoint_head_.CollectState(prefix + "keypoint_head.", out);
}

}  // namespace d2x::rcnn
