// The box branch of StandardROIHeads: FastRCNNConvFCHead, FastRCNNOutputLayers and
// fast_rcnn_inference_single_image, with detectron2's semantics and parameter names.
#ifndef D2X_PLUGINS_ARCH_RCNN_BOX_HEAD_H_
#define D2X_PLUGINS_ARCH_RCNN_BOX_HEAD_H_

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plugins/arch/rcnn/layers.h"

namespace d2x::rcnn {

// MODEL.ROI_BOX_HEAD.{NUM_CONV, CONV_DIM, NUM_FC, FC_DIM, NORM}.
struct BoxHeadOptions {
  int64_t in_channels = 256;
  int64_t pooler_resolution = 7;
  int64_t num_conv = 0;
  int64_t conv_dim = 256;
  int64_t num_fc = 2;
  int64_t fc_dim = 1024;
  std::string norm;
};

// FastRCNNConvFCHead: `conv{k}` (3x3 conv [+norm] + ReLU), flatten, `fc{k}` (Linear + ReLU).
class FastRcnnConvFcHead {
 public:
  static absl::StatusOr<FastRcnnConvFcHead> Create(const BoxHeadOptions& options);
  FastRcnnConvFcHead() = default;

  // [R, C, P, P] pooled features -> [R, output_size()] (or [R, C', P, P] without fcs).
  at::Tensor Forward(const at::Tensor& x) const;
  // Flattened size of the output per ROI.
  int64_t output_size() const { return output_size_; }
  void CollectState(const std::string& prefix, NamedTensors* out) const;

 private:
  std::vector<std::shared_ptr<modeling::Conv2d>> convs_;
  std::vector<Linear> fcs_;
  int64_t output_size_ = 0;
};

// MODEL.ROI_HEADS.{NUM_CLASSES, SCORE_THRESH_TEST, NMS_THRESH_TEST}, TEST.DETECTIONS_PER_IMAGE,
// MODEL.ROI_BOX_HEAD.{BBOX_REG_WEIGHTS, CLS_AGNOSTIC_BBOX_REG, USE_SIGMOID_CE}.
struct BoxPredictorOptions {
  int64_t input_size = 1024;
  int64_t num_classes = 80;
  bool cls_agnostic_bbox_reg = false;
  bool use_sigmoid_ce = false;
  std::array<double, 4> bbox_reg_weights = {10.0, 10.0, 5.0, 5.0};
  double score_thresh = 0.05;
  double nms_thresh = 0.5;
  int64_t detections_per_image = 100;
};

// One image's detections, before detector_postprocess (boxes in the image the model saw).
struct BoxDetections {
  at::Tensor boxes;    // [N, 4] float XYXY
  at::Tensor scores;   // [N] float
  at::Tensor classes;  // [N] int64
  at::Tensor kept;     // [N] int64: index of the proposal each detection comes from
};

// FastRCNNOutputLayers: `cls_score` and `bbox_pred` linears plus inference.
class FastRcnnOutputLayers {
 public:
  static FastRcnnOutputLayers Create(const BoxPredictorOptions& options);
  FastRcnnOutputLayers() = default;

  struct Predictions {
    at::Tensor scores;  // [R, K+1] class logits (background last)
    at::Tensor deltas;  // [R, K*4] or [R, 4]
  };
  Predictions Forward(const at::Tensor& x) const;

  // FastRCNNOutputLayers.inference: predict_boxes + predict_probs, then
  // fast_rcnn_inference_single_image per image. `proposals[i]` are image i's proposal boxes
  // (the rows of `predictions`, in order); `image_sizes[i]` is (height, width) before padding.
  std::vector<BoxDetections> Inference(
      const Predictions& predictions, const std::vector<at::Tensor>& proposals,
      const std::vector<std::array<int64_t, 2>>& image_sizes) const;

  void CollectState(const std::string& prefix, NamedTensors* out) const;
  const BoxPredictorOptions& options() const { return options_; }

 private:
  BoxPredictorOptions options_;
  Linear cls_score_;
  Linear bbox_pred_;
};

// detectron2's fast_rcnn_inference_single_image: boxes [R, C*4] (C = 1 or K) already decoded,
// scores [R, K+1] probabilities; image_size (height, width).
BoxDetections FastRcnnInferenceSingleImage(at::Tensor boxes, at::Tensor scores,
                                           std::array<int64_t, 2> image_size,
                                           double score_thresh, double nms_thresh,
                                           int64_t topk_per_image);

}  // namespace d2x::rcnn

#endif  // D2X_PLUGINS_ARCH_RCNN_BOX_HEAD_H_
