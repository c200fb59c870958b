// PanopticFPN (detectron2/modeling/meta_arch/panoptic_fpn.py) in inference, as a d2x::Model.
//
// detectron2's PanopticFPN is a GeneralizedRCNN subclass with a sem_seg_head; here it is composed of
// the R-CNN plugin's GeneralizedRcnn (preprocess, ResNet+FPN backbone, RPN, StandardROIHeads with
// the mask head, detector_postprocess with mask pasting — all reused, not copied) and a
// SemSegFpnHead on the same backbone features, then sem_seg_postprocess and
// combine_semantic_and_instance_outputs. Parameter names follow detectron2: backbone.*,
// proposal_generator.*, roi_heads.*, sem_seg_head.*.
#ifndef D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_FPN_H_
#define D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_FPN_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"
#include "plugins/arch/panoptic_fpn/panoptic_combine.h"
#include "plugins/arch/panoptic_fpn/sem_seg_head.h"
#include "plugins/arch/rcnn/generalized_rcnn.h"

namespace d2x {
namespace config {
class Config;
}  // namespace config

namespace panoptic_fpn {

struct PanopticFpnOptions {
  rcnn::GeneralizedRcnnOptions rcnn;
  SemSegHeadOptions sem_seg_head;
  CombineOptions combine;
};

// Intermediate tensors of one Inference call, for stage-wise parity checks.
struct PanopticStages {
  rcnn::RcnnStages rcnn;             // images, features, proposals, box predictions, raw ROI outputs
  at::Tensor sem_seg_logits;         // sem_seg_head output [N, C, Hp, Wp] (before postprocess)
};

class PanopticFpn : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<PanopticFpn>> Create(const PanopticFpnOptions& options);

  std::string meta_architecture() const override { return "PanopticFPN"; }
  std::vector<std::pair<std::string, at::Tensor>> StateDict() override;
  // Per image: instances (detector_postprocess, pasted masks), sem_seg [C, H, W] logits,
  // panoptic_seg int32 [H, W] and segments_info.
  absl::StatusOr<std::vector<ImageResult>> Inference(const std::vector<ImageInput>& batch) override;

  absl::StatusOr<std::vector<ImageResult>> InferenceWithStages(
      const std::vector<ImageInput>& batch, PanopticStages* stages);

  const PanopticFpnOptions& options() const { return options_; }
  rcnn::GeneralizedRcnn& rcnn() { return *rcnn_; }
  const SemSegFpnHead& sem_seg_head() const { return *sem_seg_head_; }

 private:
  PanopticFpn() = default;

  PanopticFpnOptions options_;
  std::unique_ptr<rcnn::GeneralizedRcnn> rcnn_;
  std::shared_ptr<SemSegFpnHead> sem_seg_head_;
};

// The model builder registered for "PanopticFPN" (see panoptic_config.h); zero-initialized weights.
absl::StatusOr<std::unique_ptr<Model>> BuildPanopticFpn(const config::Config& config);

}  // namespace panoptic_fpn
}  // namespace d2x

#endif  // D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_FPN_H_
