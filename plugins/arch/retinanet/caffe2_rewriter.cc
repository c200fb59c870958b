#include "plugins/arch/retinanet/caffe2_rewriter.h"

#include <ATen/ATen.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "core/caffe2_ops/c2_detections.h"
#include "core/caffe2_ops/c2_ops.h"
#include "core/export/detector_io.h"
#include "core/ops/detection_ops.h"
#include "plugins/arch/retinanet/retinanet.h"
#include "plugins/arch/retinanet/rewriter.h"

namespace d2x::retinanet {
namespace {

at::Tensor MeanStd(const std::vector<double>& v) {
  return at::tensor(v, at::kFloat).view({1, -1, 1, 1});
}

class RetinaNetCaffe2TraceableModel : public TraceableModel {
 public:
  explicit RetinaNetCaffe2TraceableModel(RetinaNet& model)
      : model_(model),
        pixel_mean_(MeanStd(model.options().pixel_mean)),
        pixel_std_(MeanStd(model.options().pixel_std)),
        output_names_(exporting::DetectorOutputNames(kFields)) {}

  std::vector<std::string> input_names() const override {
    return exporting::DetectorInputNames();
  }
  std::vector<std::string> output_names() const override { return output_names_; }
  std::string output_schema_json() const override {
    return exporting::DetectorOutputSchemaJson(kFields);
  }
  absl::StatusOr<std::vector<at::Tensor>> MakeInputs(
      const std::vector<ImageInput>& batch) const override {
    return exporting::MakeDetectorInputs(batch, model_.backbone().size_divisibility(),
                                         model_.backbone().square_pad());
  }
  InputPadding input_padding() const override {
    return {model_.backbone().size_divisibility(), model_.backbone().square_pad()};
  }

  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& inputs) override {
    TORCH_CHECK(inputs.size() == 3, "RetinaNet (caffe2 flavor): expected 3 inputs, got ",
                inputs.size());
    at::NoGradGuard no_grad;
    const at::Tensor& image_sizes = inputs[1];
    const at::Tensor& output_sizes = inputs[2];
    const RetinaNetOptions& o = model_.options();
    // The net: Caffe2RetinaNet.forward.
    const at::Tensor data = c2ops::AliasWithName(inputs[0], c2ops::kDataBlob);
    c2ops::AliasWithName(c2ops::MakeImInfo(image_sizes, output_sizes), c2ops::kImInfoBlob);
    const at::Tensor normalized = (data - pixel_mean_) / pixel_std_;
    modeling::FeatureMap features = model_.backbone().Forward(normalized);
    std::vector<at::Tensor> head_features;
    for (const std::string& f : o.in_features) head_features.push_back(features.at(f));
    auto [cls_logits, box_deltas] = model_.head().Forward(head_features);
    std::vector<at::Tensor> cls, deltas;
    for (size_t i = 0; i < cls_logits.size(); ++i) {
      cls.push_back(c2ops::AliasWithName(cls_logits[i], absl::StrCat("box_cls_", i)));
    }
    for (size_t i = 0; i < box_deltas.size(); ++i) {
      deltas.push_back(c2ops::AliasWithName(box_deltas[i], absl::StrCat("box_delta_", i)));
    }
    // After the net: RetinaNet.forward_inference + detector_postprocess.
    const modeling::DefaultAnchorGenerator& anchors = model_.anchor_generator();
    const modeling::Box2BoxTransform& transform = model_.box2box_transform();
    auto [boxes, scores, classes, batch_index] = ops::DenseDetections(
        cls, deltas, anchors.cell_anchors(), anchors.strides(), anchors.offset(), image_sizes,
        o.num_classes, transform.weights(), transform.scale_clamp(), o.inference.score_thresh,
        o.inference.topk_candidates, o.inference.nms_thresh, o.inference.max_detections);
    auto [out_boxes, scales, keep, num_instances] =
        ops::DetectorPostprocess(boxes, batch_index, image_sizes, output_sizes);
    std::map<std::string, at::Tensor> fields = {
        {"pred_boxes", out_boxes.index_select(0, keep)},
        {"pred_classes", classes.index_select(0, keep)},
        {"scores", scores.index_select(0, keep)},
        {exporting::kImageSizeOutput, output_sizes},
        {exporting::kNumInstancesOutput, num_instances}};
    std::vector<at::Tensor> outputs;
    for (const std::string& name : output_names_) outputs.push_back(fields.at(name));
    return outputs;
  }

 private:
  inline static const std::vector<std::string> kFields = {"pred_boxes", "pred_classes",
                                                          "scores"};
  RetinaNet& model_;
  at::Tensor pixel_mean_, pixel_std_;
  std::vector<std::string> output_names_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TraceableModel>> RetinaNetRewriterWithCaffe2::Rewrite(
    Model& model, const RewriteOptions& options) {
  if (options.flavor != "caffe2") return RetinaNetRewriter().Rewrite(model, options);
  auto* retinanet = dynamic_cast<RetinaNet*>(&model);
  if (retinanet == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the retinanet rewriter got a ", model.meta_architecture(),
        " model that the retinanet plugin did not build (RetinaNet expected)"));
  }
  return std::unique_ptr<TraceableModel>(new RetinaNetCaffe2TraceableModel(*retinanet));
}

}  // namespace d2x::retinanet
