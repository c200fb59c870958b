// The keypoint branch of StandardROIHeads: KRCNNConvDeconvUpsampleHead and
// keypoint_rcnn_inference / heatmaps_to_keypoints, with detectron2's semantics and names.
#ifndef D2X_PLUGINS_ARCH_RCNN_KEYPOINT_HEAD_H_
#define D2X_PLUGINS_ARCH_RCNN_KEYPOINT_HEAD_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plugins/arch/rcnn/layers.h"

namespace d2x::rcnn {

// MODEL.ROI_KEYPOINT_HEAD.{CONV_DIMS, NUM_KEYPOINTS}.
struct KeypointHeadOptions {
  int64_t in_channels = 256;
  std::vector<int64_t> conv_dims = std::vector<int64_t>(8, 512);
  int64_t num_keypoints = 17;
};

// KRCNNConvDeconvUpsampleHead: `conv_fcn{k}` (3x3 conv + ReLU), `score_lowres` (4x4 stride-2
// ConvTranspose2d, padding 1), then bilinear upsampling x2 (align_corners=False).
class KrcnnConvDeconvUpsampleHead {
 public:
  static absl::StatusOr<KrcnnConvDeconvUpsampleHead> Create(const KeypointHeadOptions& options);
  KrcnnConvDeconvUpsampleHead() = default;

  // [R, C, P, P] pooled features -> [R, K, 4P, 4P] heatmap logits.
  at::Tensor Forward(const at::Tensor& x) const;
  void CollectState(const std::string& prefix, NamedTensors* out) const;

 private:
  std::vector<std::shared_ptr<modeling::Conv2d>> convs_;
  ConvTranspose2d score_lowres_;
};

// keypoint_rcnn_inference for one set of ROIs: [R, K, 3] (x, y, score), score being column 3 of
// heatmaps_to_keypoints (the d2x op, core/ops/heatmaps_to_keypoints.cc: the spatially normalized
// probability of the argmax).
at::Tensor KeypointRcnnInference(const at::Tensor& maps, const at::Tensor& rois);

}  // namespace d2x::rcnn

#endif  // D2X_PLUGINS_ARCH_RCNN_KEYPOINT_HEAD_H_
