// The mask branch of StandardROIHeads: MaskRCNNConvUpsampleHead, mask_rcnn_inference and
// paste_masks_in_image (layers/mask_ops.py), with detectron2's semantics and parameter names.
#ifndef D2X_PLUGINS_ARCH_RCNN_MASK_HEAD_H_
#define D2X_PLUGINS_ARCH_RCNN_MASK_HEAD_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plugins/arch/rcnn/layers.h"

namespace d2x::rcnn {

// MODEL.ROI_MASK_HEAD.{NUM_CONV, CONV_DIM, NORM, CLS_AGNOSTIC_MASK}, MODEL.ROI_HEADS.NUM_CLASSES.
struct MaskHeadOptions {
  int64_t in_channels = 256;
  int64_t num_conv = 4;
  int64_t conv_dim = 256;
  std::string norm;
  int64_t num_classes = 80;
  bool cls_agnostic_mask = false;
};

// MaskRCNNConvUpsampleHead: `mask_fcn{k}` (3x3 conv [+norm] + ReLU), `deconv` (2x2 stride-2
// ConvTranspose2d + ReLU), `predictor` (1x1 conv).
class MaskRcnnConvUpsampleHead {
 public:
  static absl::StatusOr<MaskRcnnConvUpsampleHead> Create(const MaskHeadOptions& options);
  MaskRcnnConvUpsampleHead() = default;

  // [R, C, P, P] pooled features -> [R, num_classes (or 1), 2P, 2P] mask logits.
  at::Tensor Forward(const at::Tensor& x) const;
  void CollectState(const std::string& prefix, NamedTensors* out) const;

 private:
  std::vector<std::shared_ptr<modeling::Conv2d>> convs_;
  ConvTranspose2d deconv_;
  std::shared_ptr<modeling::Conv2d> predictor_;
};

// mask_rcnn_inference: sigmoid of the logits of each ROI's predicted class (or of the single
// class-agnostic channel). logits [R, C, M, M], classes [R] int64 -> [R, 1, M, M] probabilities.
at::Tensor MaskRcnnInference(const at::Tensor& logits, const at::Tensor& classes);

// paste_masks_in_image as detectron2 runs it on CPU: one mask at a time, each sampled with
// grid_sample (bilinear, zero padding, align_corners=False) over the image region that bounds its
// box (skip_empty), then thresholded with `>= threshold`. Runs the d2x::paste_masks op
// (core/ops/paste_masks.cc), the code exported graphs run.
// masks [N, M, M] in [0, 1], boxes [N, 4] in output-image coordinates -> bool [N, height, width].
at::Tensor PasteMasksInImage(const at::Tensor& masks, const at::Tensor& boxes, int64_t height,
                             int64_t width, double threshold = 0.5);

}  // namespace d2x::rcnn

#endif  // D2X_PLUGINS_ARCH_RCNN_MASK_HEAD_H_
