#include "plugins/arch/retinanet/rewriter.h"

#include <ATen/ATen.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "core/export/detector_io.h"
#include "core/export/detector_traceable.h"
#include "core/ops/detection_ops.h"
#include "plugins/arch/retinanet/retinanet.h"

namespace d2x::retinanet {

std::map<std::string, at::Tensor> DetectionsFromHeadOutputs(const RetinaNet& model,
                                                            at::TensorList cls_logits,
                                                            at::TensorList box_deltas,
                                                            const at::Tensor& image_sizes,
                                                            const at::Tensor& output_sizes) {
  const RetinaNetOptions& o = model.options();
  const modeling::DefaultAnchorGenerator& anchors = model.anchor_generator();
  const modeling::Box2BoxTransform& transform = model.box2box_transform();
  auto [boxes, scores, classes, batch_index] = ops::DenseDetections(
      cls_logits, box_deltas, anchors.cell_anchors(), anchors.strides(), anchors.offset(),
      image_sizes, o.num_classes, transform.weights(), transform.scale_clamp(),
      o.inference.score_thresh, o.inference.topk_candidates, o.inference.nms_thresh,
      o.inference.max_detections);
  auto [out_boxes, scales, keep, num_instances] =
      ops::DetectorPostprocess(boxes, batch_index, image_sizes, output_sizes);
  return {{"pred_boxes", out_boxes.index_select(0, keep)},
          {"pred_classes", classes.index_select(0, keep)},
          {"scores", scores.index_select(0, keep)},
          {exporting::kImageSizeOutput, output_sizes},
          {exporting::kNumInstancesOutput, num_instances}};
}

namespace {

class RetinaNetTraceableModel : public exporting::DetectorTraceableModel {
 public:
  explicit RetinaNetTraceableModel(RetinaNet& model)
      : DetectorTraceableModel(RetinaNetFields(), /*panoptic=*/false,
                               {model.backbone().size_divisibility(),
                                model.backbone().square_pad()}),
        model_(model) {}

  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& inputs) override {
    TORCH_CHECK(inputs.size() == 3, "RetinaNet traceable model: expected 3 inputs, got ",
                inputs.size());
    at::NoGradGuard no_grad;
    const at::Tensor& image_sizes = inputs[1];
    const at::Tensor& output_sizes = inputs[2];
    const RetinaNetOptions& o = model_.options();
    at::Tensor x = ops::NormalizeImages(inputs[0], image_sizes, o.pixel_mean, o.pixel_std);
    modeling::FeatureMap features = model_.backbone().Forward(x);
    std::vector<at::Tensor> head_features;
    for (const std::string& f : o.in_features) head_features.push_back(features.at(f));
    auto [cls_logits, box_deltas] = model_.head().Forward(head_features);
    std::map<std::string, at::Tensor> fields =
        DetectionsFromHeadOutputs(model_, cls_logits, box_deltas, image_sizes, output_sizes);
    return InOutputOrder(fields);
  }

 private:
  RetinaNet& model_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TraceableModel>> RetinaNetRewriter::Rewrite(
    Model& model, const RewriteOptions& options) {
  if (options.flavor != "generic") {
    return absl::UnimplementedError(absl::StrCat(
        "RetinaNet: rewrite flavor '", options.flavor,
        "' is not implemented (the retinanet plugin supports: generic)"));
  }
  auto* retinanet = dynamic_cast<RetinaNet*>(&model);
  if (retinanet == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the retinanet rewriter got a ", model.meta_architecture(),
        " model that the retinanet plugin did not build (RetinaNet expected)"));
  }
  return std::unique_ptr<TraceableModel>(new RetinaNetTraceableModel(*retinanet));
}

}  // namespace d2x::retinanet
