#include "plugins/arch/retinanet/caffe2_rewriter.h"

#include <ATen/ATen.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "core/caffe2_ops/c2_detections.h"
#include "core/caffe2_ops/c2_ops.h"
#include "core/export/detector_io.h"
#include "core/export/detector_traceable.h"
#include "core/ops/detection_ops.h"
#include "plugins/arch/retinanet/retinanet.h"
#include "plugins/arch/retinanet/rewriter.h"

namespace d2x::retinanet {
namespace {

at::Tensor MeanStd(const std::vector<double>& v) {
  return at::tensor(v, at::kFloat).view({1, -1, 1, 1});
}

class RetinaNetCaffe2TraceableModel : public exporting::DetectorTraceableModel {
 public:
  explicit RetinaNetCaffe2TraceableModel(RetinaNet& model)
      : DetectorTraceableModel(RetinaNetFields(), /*panoptic=*/false,
                               {model.backbone().size_divisibility(),
                                model.backbone().square_pad()}),
        model_(model),
        pixel_mean_(MeanStd(model.options().pixel_mean)),
        pixel_std_(MeanStd(model.options().pixel_std)) {}

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
    return InOutputOrder(
        DetectionsFromHeadOutputs(model_, cls, deltas, image_sizes, output_sizes));
  }

 private:
  RetinaNet& model_;
  at::Tensor pixel_mean_, pixel_std_;
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
