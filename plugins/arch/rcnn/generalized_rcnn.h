// GeneralizedRCNN (detectron2/modeling/meta_arch/rcnn.py) in inference, as a d2x::Model:
// preprocess -> backbone (ResNet+FPN) -> RPN -> StandardROIHeads -> detector_postprocess
// (rescale boxes, clip, drop empty, paste masks, scale keypoints). All images of a batch go
// through one forward.
#ifndef D2X_PLUGINS_ARCH_RCNN_GENERALIZED_RCNN_H_
#define D2X_PLUGINS_ARCH_RCNN_GENERALIZED_RCNN_H_

#include <ATen/core/Tensor.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"
#include "core/modeling/backbone.h"
#include "core/modeling/fpn.h"
#include "core/modeling/poolers.h"
#include "core/modeling/rpn.h"
#include "core/structures/image_list.h"
#include "plugins/arch/rcnn/roi_heads.h"

namespace d2x {
namespace config {
class Config;
}  // namespace config

namespace rcnn {

// Everything GeneralizedRCNN reads from the config (see rcnn_config.h), pooler scales excepted:
// those come from the backbone's strides.
struct GeneralizedRcnnOptions {
  modeling::ResNetConfig resnet;
  modeling::FpnConfig fpn;
  modeling::RpnOptions rpn;
  RoiHeadsOptions roi_heads;
  modeling::RoiPoolerOptions box_pooler;       // MODEL.ROI_BOX_HEAD.POOLER_*
  modeling::RoiPoolerOptions mask_pooler;      // MODEL.ROI_MASK_HEAD.POOLER_*
  modeling::RoiPoolerOptions keypoint_pooler;  // MODEL.ROI_KEYPOINT_HEAD.POOLER_*
  std::vector<double> pixel_mean = {103.530, 116.280, 123.675};
  std::vector<double> pixel_std = {1.0, 1.0, 1.0};
  double mask_threshold = 0.5;  // detector_postprocess default
};

// Intermediate tensors of one Inference call, for stage-wise parity checks.
struct RcnnStages {
  structures::ImageList images;                   // normalized, padded batch
  modeling::FeatureMap features;                  // backbone outputs
  std::vector<modeling::Proposals> proposals;     // RPN outputs per image
  FastRcnnOutputLayers::Predictions predictions;  // box predictor outputs (all proposals)
  std::vector<RoiHeadsResult> raw;                // ROI-head outputs before postprocessing
};

class GeneralizedRcnn : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<GeneralizedRcnn>> Create(
      const GeneralizedRcnnOptions& options);

  std::string meta_architecture() const override { return "GeneralizedRCNN"; }
  std::vector<std::pair<std::string, at::Tensor>> StateDict() override;
  absl::StatusOr<std::vector<ImageResult>> Inference(const std::vector<ImageInput>& batch) override;

  // Inference that also records the intermediate tensors (when `stages` is not null).
  absl::StatusOr<std::vector<ImageResult>> InferenceWithStages(
      const std::vector<ImageInput>& batch, RcnnStages* stages);

  // GeneralizedRCNN.preprocess_image: (x - pixel_mean) / pixel_std, padded to the backbone's
  // size divisibility. (pixel_mean / pixel_std are non-persistent buffers in detectron2: they are
  // not part of StateDict().)
  absl::StatusOr<structures::ImageList> Preprocess(const std::vector<ImageInput>& batch) const;

  const GeneralizedRcnnOptions& options() const { return options_; }
  modeling::Backbone& backbone() { return *backbone_; }
  modeling::Rpn& proposal_generator() { return *rpn_; }
  const StandardRoiHeads& roi_heads() const { return roi_heads_; }

 private:
  GeneralizedRcnn() = default;

  GeneralizedRcnnOptions options_;
  std::shared_ptr<modeling::Backbone> backbone_;
  std::shared_ptr<modeling::Rpn> rpn_;
  std::vector<modeling::RoiPooler> poolers_;  // kept alive for the PoolFns
  StandardRoiHeads roi_heads_;
};

// The model builder registered for "GeneralizedRCNN": reads the config (rcnn_config.h) and builds
// the model with zero-initialized weights.
absl::StatusOr<std::unique_ptr<Model>> BuildGeneralizedRcnn(const config::Config& config);

}  // namespace rcnn
}  // namespace d2x

#endif  // D2X_PLUGINS_ARCH_RCNN_GENERALIZED_RCNN_H_
