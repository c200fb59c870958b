// RetinaNet (detectron2/modeling/meta_arch/retinanet.py) in inference, as a d2x::Model:
// preprocess -> backbone (ResNet + FPN + P6/P7) -> RetinaNetHead on MODEL.RETINANET.IN_FEATURES
// -> anchors -> per-level sigmoid / threshold / top-k / decode -> per-class NMS -> keep
// TEST.DETECTIONS_PER_IMAGE -> detector_postprocess. All images of a batch go through one forward.
//
// Parameter names follow detectron2: backbone.*, head.cls_subnet.*, head.bbox_subnet.*,
// head.cls_score.*, head.bbox_pred.*.
#ifndef D2X_PLUGINS_ARCH_RETINANET_RETINANET_H_
#define D2X_PLUGINS_ARCH_RETINANET_RETINANET_H_

#include <ATen/core/Tensor.h>

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"
#include "core/modeling/anchor_generator.h"
#include "core/modeling/box2box_transform.h"
#include "core/modeling/fpn.h"
#include "core/structures/image_list.h"
#include "plugins/arch/retinanet/retinanet_head.h"
#include "plugins/arch/retinanet/retinanet_inference.h"

namespace d2x {
namespace config {
class Config;
}  // namespace config

namespace retinanet {

// Everything RetinaNet reads from the config (see retinanet_config.h).
struct RetinaNetOptions {
  std::string backbone_name = "build_retinanet_resnet_fpn_backbone";  // MODEL.BACKBONE.NAME
  modeling::ResNetConfig resnet;
  modeling::FpnConfig fpn;
  std::vector<std::string> in_features = {"p3", "p4", "p5", "p6", "p7"};
  int64_t num_classes = 80;
  int64_t num_convs = 4;
  std::string norm;
  // MODEL.ANCHOR_GENERATOR.*; strides come from the backbone.
  modeling::AnchorGeneratorOptions anchors;
  std::array<double, 4> bbox_reg_weights = {1.0, 1.0, 1.0, 1.0};
  RetinaNetInferenceOptions inference;
  std::vector<double> pixel_mean = {103.530, 116.280, 123.675};
  std::vector<double> pixel_std = {1.0, 1.0, 1.0};
};

// Intermediate tensors of one Inference call, for stage-wise parity checks.
struct RetinaNetStages {
  structures::ImageList images;         // normalized, padded batch
  modeling::FeatureMap features;        // backbone outputs
  std::vector<at::Tensor> cls_logits;   // per head level [N, A*K, Hi, Wi]
  std::vector<at::Tensor> box_deltas;   // per head level [N, A*4, Hi, Wi]
  std::vector<at::Tensor> anchors;      // per head level [Hi*Wi*A, 4]
  std::vector<DenseDetections> raw;     // per image, before detector_postprocess
};

class RetinaNet : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<RetinaNet>> Create(const RetinaNetOptions& options);

  std::string meta_architecture() const override { return "RetinaNet"; }
  std::vector<std::pair<std::string, at::Tensor>> StateDict() override;
  absl::StatusOr<std::vector<ImageResult>> Inference(const std::vector<ImageInput>& batch) override;

  // Inference that also records the intermediate tensors (when `stages` is not null).
  absl::StatusOr<std::vector<ImageResult>> InferenceWithStages(
      const std::vector<ImageInput>& batch, RetinaNetStages* stages);

  // DenseDetector.preprocess_image: (x - pixel_mean) / pixel_std, padded to the backbone's size
  // divisibility.
  absl::StatusOr<structures::ImageList> Preprocess(const std::vector<ImageInput>& batch) const;

  const RetinaNetOptions& options() const { return options_; }
  modeling::Fpn& backbone() { return *backbone_; }
  const RetinaNetHead& head() const { return *head_; }
  const modeling::DefaultAnchorGenerator& anchor_generator() const { return anchor_generator_; }
  const modeling::Box2BoxTransform& box2box_transform() const { return box2box_transform_; }

 private:
  explicit RetinaNet(const RetinaNetOptions& options)
      : options_(options), box2box_transform_(options.bbox_reg_weights) {}

  RetinaNetOptions options_;
  std::shared_ptr<modeling::Fpn> backbone_;
  std::shared_ptr<RetinaNetHead> head_;
  modeling::DefaultAnchorGenerator anchor_generator_;
  modeling::Box2BoxTransform box2box_transform_;
};

// The model builder registered for "RetinaNet": reads the config (retinanet_config.h) and builds
// the model with zero-initialized weights.
absl::StatusOr<std::unique_ptr<Model>> BuildRetinaNet(const config::Config& config);

}  // namespace retinanet
}  // namespace d2x

#endif  // D2X_PLUGINS_ARCH_RETINANET_RETINANET_H_
