#include "plugins/arch/rcnn/box_head.h"

#include <ATen/ATen.h>

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/modeling/box2box_transform.h"
#include "core/modeling/module_state.h"
#include "core/ops/box_math.h"

namespace d2x::rcnn {

absl::StatusOr<FastRcnnConvFcHead> FastRcnnConvFcHead::Create(const BoxHeadOptions& options) {
  if (options.num_conv + options.num_fc <= 0) {
    return absl::InvalidArgumentError(
        "MODEL.ROI_BOX_HEAD: NUM_CONV + NUM_FC must be > 0 for FastRCNNConvFCHead");
  }
  FastRcnnConvFcHead head;
  int64_t channels = options.in_channels;
  for (int64_t k = 0; k < options.num_conv; ++k) {
    absl::StatusOr<std::shared_ptr<modeling::Conv2d>> conv =
        MakeConv2d(channels, options.conv_dim, 3, 1, options.norm, /*relu=*/true);
    if (!conv.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("MODEL.ROI_BOX_HEAD.NORM: ", conv.status().message()));
    }
    head.convs_.push_back(*std::move(conv));
    channels = options.conv_dim;
  }
  int64_t size = channels * options.pooler_resolution * options.pooler_resolution;
  for (int64_t k = 0; k < options.num_fc; ++k) {
    head.fcs_.push_back(Linear::Create(size, options.fc_dim));
    size = options.fc_dim;
  }
  head.output_size_ = size;
  return head;
}

at::Tensor FastRcnnConvFcHead::Forward(const at::Tensor& input) const {
  at::Tensor x = input;
  for (const auto& conv : convs_) x = conv->Forward(x);
  if (!fcs_.empty()) x = x.flatten(1);
  for (const Linear& fc : fcs_) x = at::relu(fc.Forward(x));
  return x;
}

void FastRcnnConvFcHead::CollectState(const std::string& prefix, NamedTensors* out) const {
  for (size_t k = 0; k < convs_.size(); ++k) {
    modeling::CollectModuleState(absl::StrCat(prefix, "conv", k + 1, "."), *convs_[k], out);
  }
  for (size_t k = 0; k < fcs_.size(); ++k) {
    fcs_[k].CollectState(absl::StrCat(prefix, "fc", k + 1, "."), out);
  }
}

FastRcnnOutputLayers FastRcnnOutputLayers::Create(const BoxPredictorOptions& options) {
  FastRcnnOutputLayers layers;
  layers.options_ = options;
  layers.cls_score_ = Linear::Create(options.input_size, options.num_classes + 1);
  const int64_t num_bbox_reg_classes = options.cls_agnostic_bbox_reg ? 1 : options.num_classes;
  layers.bbox_pred_ = Linear::Create(options.input_size, num_bbox_reg_classes * 4);
  return layers;
}

FastRcnnOutputLayers::Predictions FastRcnnOutputLayers::Forward(const at::Tensor& input) const {
  at::Tensor x = input.dim() > 2 ? input.flatten(1) : input;
  return {cls_score_.Forward(x), bbox_pred_.Forward(x)};
}

std::vector<BoxDetections> FastRcnnOutputLayers::Inference(
    const Predictions& predictions, const std::vector<at::Tensor>& proposals,
    const std::vector<std::array<int64_t, 2>>& image_sizes) const {
  std::vector<BoxDetections> results;
  if (proposals.empty()) return results;
  std::vector<int64_t> counts;
  for (const at::Tensor& p : proposals) counts.push_back(p.size(0));
  // predict_boxes: decode all images at once, then split.
  at::Tensor boxes = modeling::Box2BoxTransform(options_.bbox_reg_weights)
                         .ApplyDeltas(predictions.deltas, at::cat(proposals, 0));
  // predict_probs.
  at::Tensor probs = options_.use_sigmoid_ce ? predictions.scores.sigmoid()
                                             : at::softmax(predictions.scores, -1);
  std::vector<at::Tensor> boxes_per_image = boxes.split_with_sizes(counts, 0);
  std::vector<at::Tensor> probs_per_image = probs.split_with_sizes(counts, 0);
  for (size_t i = 0; i < proposals.size(); ++i) {
    results.push_back(FastRcnnInferenceSingleImage(
        boxes_per_image[i], probs_per_image[i], image_sizes[i], options_.score_thresh,
        options_.nms_thresh, options_.detections_per_image));
  }
  return results;
}

void FastRcnnOutputLayers::CollectState(const std::string& prefix, NamedTensors* out) const {
  cls_score_.CollectState(prefix + "cls_score.", out);
  bbox_pred_.CollectState(prefix + "bbox_pred.", out);
}

BoxDetections FastRcnnInferenceSingleImage(at::Tensor boxes, at::Tensor scores,
                                           std::array<int64_t, 2> image_size,
                                           double score_thresh, double nms_thresh,
                                           int64_t topk_per_image) {
  ops::internal::FastRcnnDetections d = ops::internal::FastRcnnInferenceSingleImage(
      std::move(boxes), std::move(scores), image_size[0], image_size[1], score_thresh,
      nms_thresh, topk_per_image);
  return {d.boxes, d.scores, d.classes, d.kept};
}

}  // namespace d2x::rcnn
