// StandardROIHeads (detectron2/modeling/roi_heads/roi_heads.py) in inference: the box branch on the
// proposals, then the mask and keypoint branches on the predicted boxes.
#ifndef D2X_PLUGINS_ARCH_RCNN_ROI_HEADS_H_
#define D2X_PLUGINS_ARCH_RCNN_ROI_HEADS_H_

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plugins/arch/rcnn/box_head.h"
#include "plugins/arch/rcnn/keypoint_head.h"
#include "plugins/arch/rcnn/layers.h"
#include "plugins/arch/rcnn/mask_head.h"

namespace d2x::rcnn {

// ROIPooler.forward: the per-level feature maps (ROI_HEADS.IN_FEATURES order) and the boxes of
// each image -> [sum R_i, C, P, P].
using PoolFn = std::function<at::Tensor(const std::vector<at::Tensor>& features,
                                        const std::vector<at::Tensor>& boxes_per_image)>;

// One image's ROI-head outputs, in the coordinates of the (unpadded) image the model saw.
struct RoiHeadsResult {
  at::Tensor boxes;              // [N, 4]
  at::Tensor scores;             // [N]
  at::Tensor classes;            // [N] int64
  at::Tensor mask_probs;         // [N, 1, M, M] (mask_on) — detectron2's unpasted pred_masks
  at::Tensor keypoints;          // [N, K, 3] (keypoint_on)
  at::Tensor keypoint_heatmaps;  // [N, K, S, S] (keypoint_on)
};

struct RoiHeadsOptions {
  std::vector<std::string> in_features;  // MODEL.ROI_HEADS.IN_FEATURES
  BoxHeadOptions box_head;
  BoxPredictorOptions box_predictor;
  bool mask_on = false;
  MaskHeadOptions mask_head;
  bool keypoint_on = false;
  KeypointHeadOptions keypoint_head;
};

class StandardRoiHeads {
 public:
  // Pool functions for the box, mask and keypoint branches (mask/keypoint only when on).
  static absl::StatusOr<StandardRoiHeads> Create(const RoiHeadsOptions& options, PoolFn box_pooler,
                                                 PoolFn mask_pooler, PoolFn keypoint_pooler);
  StandardRoiHeads() = default;

  // The box branch up to the predictor: raw scores/deltas for the concatenated proposals.
  FastRcnnOutputLayers::Predictions ForwardBoxPredictions(
      const std::map<std::string, at::Tensor>& features,
      const std::vector<at::Tensor>& proposals) const;

  // StandardROIHeads.forward in inference. `proposals[i]` [R_i, 4] are image i's proposal boxes,
  // `image_sizes[i]` its (height, width) before padding.
  std::vector<RoiHeadsResult> Inference(const std::map<std::string, at::Tensor>& features,
                                        const std::vector<at::Tensor>& proposals,
                                        const std::vector<std::array<int64_t, 2>>& image_sizes)
      const;

  // The rest of Inference for predictions from ForwardBoxPredictions(features, proposals).
  std::vector<RoiHeadsResult> InferenceFromPredictions(
      const std::map<std::string, at::Tensor>& features,
      const FastRcnnOutputLayers::Predictions& predictions,
      const std::vector<at::Tensor>& proposals,
      const std::vector<std::array<int64_t, 2>>& image_sizes) const;

  // forward_with_given_boxes: the mask/keypoint branches for known boxes and classes (fills
  // mask_probs / keypoints of `results` in place).
  void ForwardWithGivenBoxes(const std::map<std::string, at::Tensor>& features,
                             std::vector<RoiHeadsResult>& results) const;

  // Parameters under "box_head.", "box_predictor.", "mask_head.", "keypoint_head." + prefix.
  void CollectState(const std::string& prefix, NamedTensors* out) const;

  const RoiHeadsOptions& options() const { return options_; }

  // The heads, for rewriters (plugins/arch/rcnn/rewriter.cc) that run them on exported graphs.
  const FastRcnnConvFcHead& box_head() const { return box_head_; }
  const FastRcnnOutputLayers& box_predictor() const { return box_predictor_; }
  const MaskRcnnConvUpsampleHead& mask_head() const { return mask_head_; }
  const KrcnnConvDeconvUpsampleHead& keypoint_head() const { return keypoint_head_; }

 private:
  std::vector<at::Tensor> InFeatures(const std::map<std::string, at::Tensor>& features) const;

  RoiHeadsOptions options_;
  PoolFn box_pooler_, mask_pooler_, keypoint_pooler_;
  FastRcnnConvFcHead box_head_;
  FastRcnnOutputLayers box_predictor_;
  MaskRcnnConvUpsampleHead mask_head_;
  KrcnnConvDeconvUpsampleHead keypoint_head_;
};

}  // namespace d2x::rcnn

#endif  // D2X_PLUGINS_ARCH_RCNN_ROI_HEADS_H_
